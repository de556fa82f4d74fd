/**
 * Reading patterns: the {@linkcode Pattern} shape of a `turn_memories` row, filters as SQL, the count and list
 * queries.
 * @module
 */
import { type DuckDBValue, listValue } from "@duckdb/node-api";
import { PATTERN_COLUMNS, PATTERN_COLUMN_TYPES } from "./_schema.ts";

/** One stored query: a successful dbRead/dbWrite with a short summary of its result. */
export interface StoredQuery {
  tool: "dbRead" | "dbWrite";
  sql: string;
  /** e.g. `1 row: {"revenue":1234.5}`, `37 rows, first: {…}`, `UPDATE invoices: 4 rows` (see `summarizeResult`). */
  summary: string;
  rows: number | null;
  ms: number;
}

/**
 * Where a pattern comes from: its run, episode, strategy, model, and challenge (family, split, tenant); null where
 * the source has none (an ask has no episode, strategy or challenge).
 * @internal
 */
export interface PatternProvenance {
  runId: string | null;
  episodeId: string | null;
  strategyId: string | null;
  modelName: string | null;
  modelId: string | null;
  challengeId: string | null;
  family: string | null;
  split: string | null;
  orgId: number | null;
}

/**
 * A stored pattern (a `turn_memories` row).
 * @internal
 */
export interface Pattern extends PatternProvenance {
  id: string;
  normalizedIntent: string;
  intent: string;
  role: string;
  category: string;
  level: number | null;
  toolSequence: string[];
  successfulQueries: StoredQuery[];
  sqlKey: string;
  answerShape: string | null;
  turnFitness: number;
  queryAvgFitness: number;
  compositeFitness: number;
  /** Only when listed `withEmbedding`. */
  embedding?: Float32Array;
  embedder: string;
  /** `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC). */
  createdAt: string;
  updatedAt: string;
  isSynthetic: boolean;
  turnPass: boolean;
  markedPass: boolean | null;
  contaminated: boolean;
  stale: boolean;
  staleReason: string | null;
  validatedAt: string | null;
  support: number;
  passes: number;
}

/**
 * Filter of `PatternStore.list` and `PatternStore.count`; every field narrows.
 * @internal
 */
export interface PatternFilter {
  ids?: string[];
  role?: string;
  category?: string;
  family?: string;
  runId?: string;
  split?: string;
  normalizedIntent?: string;
  turnPass?: boolean;
  contaminated?: boolean;
  stale?: boolean;
  isSynthetic?: boolean;
  minFitness?: number;
}

/**
 * Options of `PatternStore.list`.
 * @internal
 */
export interface ListOptions {
  /** @default 100 */
  limit?: number;
  /** @default 0 */
  offset?: number;
  /** Include the embedding. @default false */
  withEmbedding?: boolean;
}

/** WHERE clause and parameters of a filter (parameters numbered from `first`). */
export function filterSql(filter: PatternFilter = {}, first = 1): { where: string; params: DuckDBValue[] } {
  const parts: string[] = [];
  const params: DuckDBValue[] = [];
  const eq = (col: string, v: DuckDBValue | undefined) => {
    if (v === undefined) return;
    params.push(v);
    parts.push(`${col} = $${first + params.length - 1}`);
  };
  if (filter.ids?.length === 0) parts.push("false"); // an empty id list matches nothing (and has no list type to bind)
  else if (filter.ids) {
    params.push(listValue(filter.ids));
    parts.push(`list_contains($${first + params.length - 1}::VARCHAR[], id)`);
  }
  eq("role", filter.role);
  eq("category", filter.category);
  eq("family", filter.family);
  eq("run_id", filter.runId);
  eq("split", filter.split);
  eq("normalized_intent", filter.normalizedIntent);
  eq("turn_pass", filter.turnPass);
  eq("contaminated", filter.contaminated);
  eq("stale", filter.stale);
  eq("is_synthetic", filter.isSynthetic);
  if (filter.minFitness !== undefined) {
    params.push(filter.minFitness);
    parts.push(`composite_fitness >= $${first + params.length - 1}`);
  }
  return { where: parts.length ? `WHERE ${parts.join(" AND ")}` : "", params };
}

/** The SELECT list of a pattern without its embedding (JSON columns read as text). */
const SELECT_COLUMNS = PATTERN_COLUMNS.filter((c) => c !== "embedding").map((c) =>
  PATTERN_COLUMN_TYPES[c] === "JSON" ? `${c}::VARCHAR AS ${c}` : c
);

/** A `turn_memories` row (read as JSON values) as a {@linkcode Pattern}. */
export function patternFromRow(r: Record<string, unknown>, withEmbedding: boolean): Pattern {
  const s = (v: unknown) => (v === null || v === undefined ? null : String(v));
  const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    id: String(r.id),
    normalizedIntent: String(r.normalized_intent),
    intent: String(r.intent),
    role: String(r.role),
    category: String(r.category),
    level: n(r.level),
    toolSequence: (r.tool_sequence as unknown[]).map(String),
    successfulQueries: JSON.parse(String(r.successful_queries)),
    sqlKey: String(r.sql_key),
    answerShape: s(r.answer_shape),
    turnFitness: Number(r.turn_fitness),
    queryAvgFitness: Number(r.query_avg_fitness),
    compositeFitness: Number(r.composite_fitness),
    ...(withEmbedding ? { embedding: Float32Array.from(r.embedding as number[]) } : {}),
    embedder: String(r.embedder),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    isSynthetic: Boolean(r.is_synthetic),
    turnPass: Boolean(r.turn_pass),
    markedPass: r.marked_pass === null ? null : Boolean(r.marked_pass),
    contaminated: Boolean(r.contaminated),
    stale: Boolean(r.stale),
    staleReason: s(r.stale_reason),
    validatedAt: s(r.validated_at),
    support: Number(r.support),
    passes: Number(r.passes),
    runId: s(r.run_id),
    episodeId: s(r.episode_id),
    strategyId: s(r.strategy_id),
    modelName: s(r.model_name),
    modelId: s(r.model_id),
    challengeId: s(r.challenge_id),
    family: s(r.family),
    split: s(r.split),
    orgId: n(r.org_id),
  };
}

/** The SQL (and parameters) counting the patterns matching `filter`. */
export function countQuery(filter: PatternFilter = {}): { sql: string; params: DuckDBValue[] } {
  const { where, params } = filterSql(filter);
  return { sql: `SELECT count(*) FROM turn_memories ${where}`, params };
}

/** The SQL (and parameters) listing the patterns matching `filter`, best first (composite fitness, support, id). */
export function listQuery(filter: PatternFilter = {}, options: ListOptions = {}): { sql: string; params: DuckDBValue[] } {
  const limit = options.limit ?? 100;
  const offset = options.offset ?? 0;
  if (!Number.isInteger(limit) || limit < 0 || !Number.isInteger(offset) || offset < 0) {
    throw new RangeError(`list: limit and offset must be non-negative integers, found ${limit} and ${offset}`);
  }
  const { where, params } = filterSql(filter);
  const cols = [...SELECT_COLUMNS, ...(options.withEmbedding ? ["embedding"] : [])].join(", ");
  return {
    sql: `SELECT ${cols} FROM turn_memories ${where}
     ORDER BY composite_fitness DESC, support DESC, id LIMIT ${limit} OFFSET ${offset}`,
    params,
  };
}
