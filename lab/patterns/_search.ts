/**
 * Candidate search in DuckDB: the eligibility rules as SQL (see retrieve.ts), the exact similarity scan, reading
 * rows back by id with the rules re-applied, and reading embeddings out of result chunks. Shapes: the query
 * ({@linkcode PatternQuery}) and what comes back ({@linkcode RetrievedPattern}).
 * @module
 */
import type { DuckDBConnection, DuckDBDataChunk, DuckDBValue } from "@duckdb/node-api";
import { FLOAT, LIST, listValue } from "@duckdb/node-api";
import type { InjectedCall } from "../models/mod.ts";
import { sqlString } from "../util/mod.ts";
import { cutoffFor, type RetrievalConfig } from "./_config.ts";
import { EMBEDDING_DIMS } from "./_schema.ts";

/**
 * What retrieval is asked: the runner's PatternSource query.
 * @internal
 */
export interface PatternQuery {
  task: string;
  role: string;
  /** The split being evaluated: its patterns are never returned (unless `allow_query_split`). */
  split?: string;
}

/**
 * A retrieved pattern.
 * @internal
 */
export interface RetrievedPattern {
  id: string;
  /** The task as asked (the injected example's task). */
  intent: string;
  normalizedIntent: string;
  role: string;
  category: string;
  level: number | null;
  /** The successful queries' tool and SQL, in order. */
  calls: InjectedCall[];
  answerShape: string | null;
  /** composite_fitness. */
  fitness: number;
  /** Cosine similarity of the embeddings. */
  similarity: number;
  /** BM25 score among the candidates (hybrid only). */
  lexical: number | null;
  /** What the order used: the similarity, or the RRF score when hybrid. */
  score: number;
  support: number;
  family: string | null;
  split: string | null;
}

const DETAIL_COLUMNS =
  "id, intent, normalized_intent, role, category, level, successful_queries, answer_shape, composite_fitness, support, family, split";

/**
 * The WHERE clause of the eligibility rules for one embedder (and, given a query, its split and role), with
 * the values written as literals: a query with parameters costs DuckDB a prepare/bind round trip (≈ 1.5 ms),
 * which is most of the ANN path's row lookup. Values are config numbers and quoted strings only.
 */
export function eligibilitySql(config: RetrievalConfig, embedderId: string, query?: PatternQuery): string {
  if (!Number.isFinite(config.min_fitness)) {
    throw new RangeError(`min_fitness must be a number, got ${config.min_fitness}`);
  }
  const splits = `[${config.allowed_splits.map(sqlString).join(", ")}]::VARCHAR[]`;
  const parts = [
    `embedder = ${sqlString(embedderId)}`,
    `composite_fitness > ${config.min_fitness}`,
    "json_array_length(successful_queries) > 0",
    config.include_unsplit ? `(list_contains(${splits}, split) OR split IS NULL)` : `list_contains(${splits}, split)`,
  ];
  if (config.require_turn_pass) parts.push("turn_pass");
  if (config.exclude_stale) parts.push("NOT stale");
  if (!config.allow_contaminated) parts.push("NOT contaminated");
  if (query?.split && !config.allow_query_split) parts.push(`split IS DISTINCT FROM ${sqlString(query.split)}`);
  if (query && config.same_role) parts.push(`role = ${sqlString(query.role)}`);
  return parts.join(" AND ");
}

const vectorSql = (v: Float32Array) => {
  if (v.length !== EMBEDDING_DIMS) {
    throw new RangeError(`query vector has ${v.length} dims; patterns have ${EMBEDDING_DIMS}`);
  }
  return listValue(Array.from(v));
};

function parseCalls(json: unknown): InjectedCall[] {
  let list: unknown;
  try {
    list = typeof json === "string" ? JSON.parse(json) : json;
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  return list.flatMap((q) =>
    q && typeof q === "object" && (q.tool === "dbRead" || q.tool === "dbWrite") && typeof q.sql === "string"
      ? [{ tool: q.tool, sql: q.sql } as InjectedCall]
      : []
  );
}

/** A row of the detail columns, found with `similarity`, as a {@linkcode RetrievedPattern}. */
function retrievedFromRow(r: Record<string, DuckDBValue>, similarity: number): RetrievedPattern {
  const s = (v: DuckDBValue) => (v === null ? null : String(v));
  return {
    id: String(r.id),
    intent: String(r.intent),
    normalizedIntent: String(r.normalized_intent),
    role: String(r.role),
    category: String(r.category),
    level: r.level === null ? null : Number(r.level),
    calls: parseCalls(r.successful_queries),
    answerShape: s(r.answer_shape),
    fitness: Number(r.composite_fitness),
    similarity,
    lexical: null,
    score: similarity,
    support: Number(r.support),
    family: s(r.family),
    split: s(r.split),
  };
}

/** Best first: score, then fitness, then id. */
export const byScore = (a: RetrievedPattern, b: RetrievedPattern): number =>
  b.score - a.score || b.fitness - a.fitness || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The exact search in DuckDB: eligible rows ({@linkcode eligibilitySql}) with `array_cosine_similarity ≥ cutoff`, best
 * `limit` by similarity, then fitness, then id. The reference the index is measured against.
 *
 * @example
 * ```ts
 * const hits = await store.withConnection((c) => searchExact(c, localEmbed(normalizeIntent(task)), { task, role }, config, LOCAL_EMBEDDER_ID));
 * ```
 */
export async function searchExact(
  c: DuckDBConnection,
  vector: Float32Array,
  query: PatternQuery,
  config: RetrievalConfig,
  embedderId: string,
  limit: number = config.limit,
): Promise<RetrievedPattern[]> {
  const where = eligibilitySql(config, embedderId, query);
  const reader = await c.runAndReadAll(
    `SELECT ${DETAIL_COLUMNS}, array_cosine_similarity(embedding, $q::FLOAT[${EMBEDDING_DIMS}]) AS similarity
     FROM turn_memories WHERE ${where} AND similarity >= $cut
     ORDER BY similarity DESC, composite_fitness DESC, id LIMIT $lim`,
    { q: vectorSql(vector), cut: cutoffFor(config, embedderId), lim: limit },
    { q: LIST(FLOAT) }, // inferred from the first entry, a list of floats could bind as integers
  );
  return reader.getRowObjects().map((r) => retrievedFromRow(r, Number(r.similarity)));
}

/** The eligible rows with these ids (rules re-applied), as patterns with the given similarities. */
export async function fetchRows(
  c: DuckDBConnection,
  hits: { id: string; similarity: number }[],
  query: PatternQuery,
  config: RetrievalConfig,
  embedderId: string,
): Promise<RetrievedPattern[]> {
  if (!hits.length) return [];
  const where = eligibilitySql(config, embedderId, query);
  const sim = new Map(hits.map((h) => [h.id, h.similarity]));
  // A literal IN list alone lets DuckDB probe the primary-key index; with the rules in the same WHERE it scans
  // the table (tens of ms at 100 K rows). So the rules are computed as a column of the rows found by id.
  const reader = await c.runAndReadAll(
    `SELECT ${DETAIL_COLUMNS}, (${where}) AS eligible FROM turn_memories WHERE id IN (${
      hits.map((h) => sqlString(h.id)).join(", ")
    })`,
  );
  return reader.getRowObjects().filter((r) => r.eligible === true).map((r) =>
    retrievedFromRow(r, sim.get(String(r.id)) ?? 0)
  );
}

/** SELECT list of the embedding's dims as FLOAT columns (read through the public vector API). */
export const EMBEDDING_COLUMNS: string = Array.from({ length: EMBEDDING_DIMS }, (_, d) => `embedding[${d + 1}]`)
  .join(", ");

/** Copies the FLOAT columns `first..first+dims` of a chunk into `out` (row-major) from row `at`. */
export function readVectorColumns(chunk: DuckDBDataChunk, first: number, dims: number, out: Float32Array, at: number) {
  const n = chunk.rowCount;
  for (let d = 0; d < dims; d++) {
    const col = chunk.getColumnVector(first + d);
    for (let r = 0; r < n; r++) out[(at + r) * dims + d] = (col.getItem(r) as number | null) ?? 0;
  }
}
