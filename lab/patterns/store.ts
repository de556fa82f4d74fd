/**
 * The pattern store: what episodes teach, in the `turn_memories` table of a DuckDB file (by default
 * `data/patterns.duckdb`: its own file, because two DuckDB instances on one file in one process do not see each
 * other's writes, and a tournament writes its tables while the sink stores patterns).
 *
 * One pattern = the successful SQL an episode ran for an intent, in order, with a short result summary per
 * query, the names of its successful tool calls, its fitness, an embedding of the normalized intent and its
 * lineage (run, episode, strategy, model, challenge family, split, tenant).
 *
 * - **Never a failed query**: failed, refused and erroring queries are dropped (and counted); an episode
 *   without a successful query stores nothing. Successful queries of failed turns are kept with
 *   `turn_pass = false`, for analysis (retrieval uses only passing patterns).
 * - **Verification wrappers** are dropped too: `SELECT count(*) AS checked_rows FROM (…)` (the verify-steps
 *   habit), any `SELECT count(*) FROM (<an earlier query of the episode>)`, and a read repeated verbatim.
 * - **Merging**: patterns with the same (role, normalized intent, canonical SQL) share an id and merge: support
 *   and passes add up, the fields of the best-fitness observation win (ties keep the stored one), `turn_pass`
 *   is true once any merged episode passed (a person's mark overrides), `contaminated` once any came from a
 *   split other than `train`, and a fresh successful run clears `stale`. Role is part of the key because the
 *   same SQL may be allowed for one role and refused for another.
 * - **Fitness**: `query_avg_fitness` is the mean fitness of the stored queries (failed ones are not part of
 *   the pattern), `turn_fitness` the episode's, `composite = w.query·query_avg + w.turn·turn` with the weights
 *   of the fitness config (stored in `pattern_meta`; opening with other weights re-derives every composite).
 * - **Idempotent by episode**: `pattern_episodes` records every (run, episode id) merged in, so an episode sent
 *   again (a resumed tournament does) is skipped and counted as a duplicate, not as more support.
 * - **Speed**: a batch is normalized (cached per task text), embedded (once per distinct normalized intent),
 *   merged in memory, appended to a temp table through DuckDB's appender in data chunks and upserted with one
 *   `INSERT … ON CONFLICT DO UPDATE`, all in one transaction: bad input or a failure leaves the store unchanged.
 * - **Sharing the file**: `mode: "held"` (default) keeps the file open until `close()`; `mode: "per-call"`
 *   opens it for each call and closes it after (retrying a locked file), so a notebook and the CLI can take
 *   turns on the file.
 * @module
 */
import {
  arrayValue,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBValue,
  listValue,
} from "@duckdb/node-api";
import { dirname } from "node:path";
import { repoPath } from "../util/mod.ts";
import { z } from "zod";
import {
  DEFAULT_FITNESS,
  type EpisodeRecord,
  type EpisodeSink,
  type FitnessWeights,
  queryFitness,
} from "../agents/mod.ts";
import { type Embedder, localEmbedder } from "./embed.ts";
import { type IntentNormalizer, normalizeIntent, normalizeIntentWith } from "./normalize.ts";
import { EMBEDDING_DIMS, PATTERN_COLUMNS, PATTERN_SCHEMA } from "./_schema.ts";

// ---------------------------------------------------------------------------------------------------------
// Shapes

/** One stored query: a successful dbRead/dbWrite with a short summary of its result. */
export interface StoredQuery {
  tool: "dbRead" | "dbWrite";
  sql: string;
  /** e.g. `1 row: {"revenue":1234.5}`, `37 rows, first: {…}`, `UPDATE invoices: 4 rows` (see {@linkcode summarizeResult}). */
  summary: string;
  rows: number | null;
  ms: number;
}

/** A stored pattern (a `turn_memories` row). */
export interface Pattern {
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

/** What a batch did. */
export interface AddReport {
  /** Episodes (or asks) received. */
  episodes: number;
  /** New rows. */
  inserted: number;
  /** Observations merged into an existing row (stored before, or earlier in the same batch). */
  merged: number;
  /** Failed, refused or erroring queries left out. */
  failedQueriesSkipped: number;
  /** Verification wrappers and verbatim repeats left out. */
  verificationQueriesSkipped: number;
  /** Episodes with no successful query (nothing stored). */
  withoutPattern: number;
  /** Episodes stored before (same run and episode id; a resumed tournament sends them again): skipped. */
  duplicates: number;
}

/** A report of nothing done yet (to add batches' reports to). */
export function emptyAddReport(): AddReport {
  return { episodes: 0, inserted: 0, merged: 0, failedQueriesSkipped: 0, verificationQueriesSkipped: 0, withoutPattern: 0, duplicates: 0 };
}

/** Options for {@linkcode PatternStore.open}. */
export interface PatternStoreOptions {
  /** Embeds normalized intents. Its `dims` must be 256. @default localEmbedder() */
  embedder?: Embedder;
  /**
   * Fitness weights (only `composite` is used here). When given and different from the weights the store was
   * written with, every stored composite is re-derived. @default the store's weights, else DEFAULT_FITNESS
   */
  fitness?: FitnessWeights;
  /** A model that rewrites a task before the rules normalize it (called once per distinct task). @default none */
  normalizer?: IntentNormalizer;
  /**
   * `"held"`: one connection until `close()` (fast; the file stays locked). `"per-call"`: the file is opened for
   * each call and closed after, so other processes can use it in between (each call costs an open).
   * @default "held"
   */
  mode?: "held" | "per-call";
  /** How long to retry a file another process holds. @default 5000 */
  lockTimeoutMs?: number;
}

/** Options for {@linkcode PatternStore.addEpisodes} and {@linkcode PatternStore.sink}. */
export interface AddEpisodesOptions {
  /** The run the episodes belong to (lineage; Parquet export partitions by it). @default null */
  runId?: string;
}

/** A person's own question and the queries that answered it, for {@linkcode PatternStore.addAsk}. */
export interface AskInput {
  question: string;
  role: string;
  /** The queries run for it, in order; failed ones are dropped like an episode's. */
  queries: {
    tool: "dbRead" | "dbWrite";
    sql: string;
    ok?: boolean;
    refused?: boolean;
    error?: string;
    rowCount?: number;
    ms?: number;
    /** The tool's result (rows/columns or table/action), for the summary. */
    result?: Record<string, unknown>;
  }[];
  /** The person's judgement of the answer; unset = not judged yet (`turn_pass` false until marked). */
  pass?: boolean;
  answerShape?: string;
  /** Tenant the queries ran on (re-validation runs them there). @default null */
  orgId?: number;
  /** @default "ask" */
  runId?: string;
  model?: { name: string; id: string };
}

/** Filter of {@linkcode PatternStore.list} and {@linkcode PatternStore.count}; every field narrows. */
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

/** Options of {@linkcode PatternStore.list}. */
export interface ListOptions {
  /** @default 100 */
  limit?: number;
  /** @default 0 */
  offset?: number;
  /** Include the embedding. @default false */
  withEmbedding?: boolean;
}

// ---------------------------------------------------------------------------------------------------------
// Pure helpers (exported for pruning, curation and tests)

/**
 * Canonical SQL, for deciding that two queries are the same: comments dropped, whitespace collapsed (and
 * removed next to `(`, `)` and `,`), lower case, trailing `;` removed — all outside string literals and
 * quoted identifiers, which are kept exactly.
 *
 * @example
 * ```ts
 * canonicalSql("SELECT  Sum(total) FROM invoices\nWHERE status = 'Paid';"); // "select sum(total) from invoices where status = 'Paid'"
 * ```
 */
export function canonicalSql(sql: string): string {
  // A hot loop (two calls per episode, 100 K episodes per batch): runs of plain characters are copied and
  // lower-cased as one slice; only quotes, comments, whitespace, parentheses and commas are looked at singly.
  const SQ = 39, DQ = 34, DASH = 45, SLASH = 47, STAR = 42, LP = 40, RP = 41, COMMA = 44, NL = 10;
  const n = sql.length;
  let out = "";
  let i = 0;
  let space = false;
  let last = 0; // last char code written
  const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      space = true;
      i++;
      continue;
    }
    if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      while (i < n && sql.charCodeAt(i) !== NL) i++;
      space = true;
      continue;
    }
    if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
      space = true;
      continue;
    }
    if (c === RP || c === COMMA) space = false;
    else if (last === COMMA) space = true; // exactly one space after a comma
    if (space && out.length && last !== LP) out += " ";
    space = false;
    if (c === SQ || c === DQ) {
      let j = i + 1;
      while (j < n) {
        if (sql.charCodeAt(j) === c) {
          if (sql.charCodeAt(j + 1) === c) j += 2;
          else break;
        } else j++;
      }
      out += sql.slice(i, j + 1);
      last = c;
      i = j + 1;
      continue;
    }
    if (c === LP || c === RP || c === COMMA) {
      out += sql[i];
      last = c;
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n) {
      const d = sql.charCodeAt(j);
      if (isSpace(d) || d === SQ || d === DQ || d === LP || d === RP || d === COMMA || d === DASH || d === SLASH) break;
      j++;
    }
    out += sql.slice(i, j).toLowerCase();
    last = sql.charCodeAt(j - 1);
    i = j;
  }
  let e = out.length;
  while (e > 0 && (out.charCodeAt(e - 1) === 59 || out.charCodeAt(e - 1) === 32)) e--;
  return out.slice(0, e);
}

const CHECK_WRAPPER = /^select count\(\*\) as "?[a-z_]*check[a-z_]*"? from \(/;
const COUNT_WRAPPER = /^select count\(\*\)(?: as "?[a-z_0-9]+"?)? from \((.*)\)(?: as)?(?: "?[a-z_0-9]+"?)?$/s;

/**
 * True when a query only checks an earlier one: `SELECT count(*) AS checked_rows FROM (…)` (any alias with
 * "check"), or `SELECT count(*) FROM (<one of earlier>)`. Both take canonical SQL ({@linkcode canonicalSql}).
 */
export function isVerificationQuery(canonical: string, earlier: readonly string[] = []): boolean {
  if (CHECK_WRAPPER.test(canonical)) return true;
  const m = COUNT_WRAPPER.exec(canonical);
  return !!m && earlier.includes(m[1].trim());
}

const cut = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/**
 * The stored summary of a query's result: row count and the first row (JSON, cut to 160 characters) of a
 * read; action, table and row count of a write. Re-validation recomputes it and compares.
 */
export function summarizeResult(
  tool: "dbRead" | "dbWrite",
  result: Record<string, unknown> | undefined,
  rowCount?: number,
): string {
  if (tool === "dbWrite") {
    const n = typeof result?.rowCount === "number" ? result.rowCount : rowCount;
    return result?.action && result?.table
      ? `${result.action} ${result.table}: ${n ?? "?"} rows`
      : `${n ?? "?"} rows written`;
  }
  const rows = Array.isArray(result?.rows) ? result.rows as unknown[] : undefined;
  const n = typeof result?.rowCount === "number" ? result.rowCount : rows?.length ?? rowCount;
  const count = `${n ?? "?"}${result?.truncated ? "+" : ""} row${n === 1 ? "" : "s"}`;
  if (!rows?.length) return count;
  const first = cut(JSON.stringify(rows[0], (_k, v) => (typeof v === "bigint" ? v.toString() : v)), 160);
  return n === 1 ? `${count}: ${first}` : `${count}, first: ${first}`;
}

/** 128-bit-ish stable id (two 53-bit cyrb53 hashes, hex). */
export function patternId(role: string, normalizedIntent: string, sqlKey: string): string {
  const text = `${role}\u0000${normalizedIntent}\u0000${sqlKey}`;
  return cyrb53(text, 0x9e3779b9).toString(16).padStart(14, "0") +
    cyrb53(text, 0x85ebca6b).toString(16).padStart(14, "0");
}

function cyrb53(str: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed, h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

// ---------------------------------------------------------------------------------------------------------
// Input validation (the boundary: records may come from JSON files, other processes, notebooks)

const QueryIn = z.object({
  tool: z.string(),
  sql: z.string(),
  ok: z.boolean(),
  refused: z.boolean().optional(),
  error: z.string().optional(),
  rowCount: z.number().optional(),
  ms: z.number().optional(),
  call: z.number().int().optional(),
});

/** The fields of an {@linkcode EpisodeRecord} the store reads. */
const EpisodeIn = z.object({
  id: z.string().min(1),
  challengeId: z.string(),
  challenge: z.object({
    family: z.string(),
    level: z.number().int(),
    category: z.string().min(1),
    outcome: z.string(),
    split: z.string().min(1),
    orgId: z.number().int(),
  }),
  role: z.string().min(1),
  task: z.string(),
  strategyId: z.string(),
  model: z.object({ name: z.string(), id: z.string() }),
  toolCalls: z.array(z.object({
    name: z.string(),
    ok: z.boolean(),
    malformed: z.boolean().optional(),
    // checked by shape only: z.record would copy every result (rows included) of every episode
    result: z.custom<Record<string, unknown>>(
      (v) => v === undefined || (typeof v === "object" && v !== null && !Array.isArray(v)),
      {
        message: "expected an object",
      },
    ).optional(),
  })),
  queries: z.array(QueryIn),
  verdict: z.object({ pass: z.boolean(), score: z.number() }),
  fitness: z.object({
    turn: z.object({ fitness: z.number() }),
    queries: z.array(z.object({ fitness: z.number() })),
  }),
});
type EpisodeIn = z.infer<typeof EpisodeIn>;

const AskIn = z.object({
  question: z.string().min(1),
  role: z.string().min(1),
  queries: z.array(
    QueryIn.extend({ ok: z.boolean().optional(), result: z.record(z.string(), z.unknown()).optional() }),
  ),
  pass: z.boolean().optional(),
  answerShape: z.string().optional(),
  orgId: z.number().int().optional(),
  runId: z.string().optional(),
  model: z.object({ name: z.string(), id: z.string() }).optional(),
});

function issueLine(where: string, error: z.ZodError): string {
  const i = error.issues[0];
  const path = i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : "";
  return `${where}${path}: ${i.message}${more}`;
}

// ---------------------------------------------------------------------------------------------------------
// Extraction

/** A pattern before normalization and embedding (what one episode or ask contributes). */
interface Draft {
  task: string;
  role: string;
  category: string;
  level: number | null;
  toolSequence: string[];
  queries: StoredQuery[];
  sqlKey: string;
  answerShape: string | null;
  turnFitness: number;
  queryAvgFitness: number;
  isSynthetic: boolean;
  turnPass: boolean;
  markedPass: boolean | null;
  contaminated: boolean;
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

interface Extracted {
  tools: string[];
  queries: StoredQuery[];
  fitness: number[];
  keys: string[];
  failed: number;
  verification: number;
}

/** Keeps the successful queries of a trace (see the module doc) and the names of the successful tool calls. */
function extractQueries(
  calls: readonly { name: string; ok: boolean; malformed?: boolean; result?: Record<string, unknown> }[],
  queries: readonly z.infer<typeof QueryIn>[],
  queryFit: (i: number) => number,
): Extracted {
  const out: Extracted = { tools: [], queries: [], fitness: [], keys: [], failed: 0, verification: 0 };
  const byCall = new Map<number, number[]>();
  const orphan: number[] = [];
  queries.forEach((q, i) => {
    if (q.call === undefined || !calls[q.call]) orphan.push(i);
    else byCall.set(q.call, [...(byCall.get(q.call) ?? []), i]);
  });
  const keep = (qi: number): boolean => {
    const q = queries[qi];
    const call = q.call !== undefined ? calls[q.call] : undefined;
    if (
      !q.ok || q.refused || q.error !== undefined || (q.tool !== "dbRead" && q.tool !== "dbWrite") || call?.ok === false
    ) {
      out.failed++;
      return false;
    }
    const key = canonicalSql(q.sql);
    if (q.tool === "dbRead" && (isVerificationQuery(key, out.keys) || out.keys.includes(key))) {
      out.verification++;
      return false;
    }
    out.keys.push(key);
    out.queries.push({
      tool: q.tool,
      sql: q.sql,
      summary: summarizeResult(q.tool, call?.result, q.rowCount),
      rows: q.rowCount ?? null,
      ms: q.ms ?? 0,
    });
    out.fitness.push(queryFit(qi));
    return true;
  };
  calls.forEach((c, ci) => {
    const qs = byCall.get(ci);
    if (qs) {
      // a dbRead/dbWrite call: its name goes in the sequence only when its query is kept
      for (const qi of qs) if (keep(qi)) out.tools.push(c.name);
    } else if (c.ok && !c.malformed && c.name !== "dbRead" && c.name !== "dbWrite") out.tools.push(c.name);
  });
  for (const qi of orphan) if (keep(qi)) out.tools.push(queries[qi].tool);
  return out;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

function draftFromEpisode(r: EpisodeIn, runId: string | null): { draft?: Draft; ex: Extracted } {
  const aligned = r.fitness.queries.length === r.queries.length;
  const ex = extractQueries(
    r.toolCalls,
    r.queries,
    (i) =>
      aligned
        ? r.fitness.queries[i].fitness
        : queryFitness({ ...r.queries[i], tool: r.queries[i].tool as "dbRead" }).fitness,
  );
  if (!ex.queries.length) return { ex };
  return {
    ex,
    draft: {
      task: r.task,
      role: r.role,
      category: r.challenge.category,
      level: r.challenge.level,
      toolSequence: ex.tools,
      queries: ex.queries,
      sqlKey: ex.queries.map((q, i) => `${q.tool}: ${ex.keys[i]}`).join("\n"),
      answerShape: r.challenge.outcome || null,
      turnFitness: r.fitness.turn.fitness,
      queryAvgFitness: round6(mean(ex.fitness)),
      isSynthetic: true,
      turnPass: r.verdict.pass,
      markedPass: null,
      contaminated: r.challenge.split !== "train",
      runId,
      episodeId: r.id,
      strategyId: r.strategyId,
      modelName: r.model.name,
      modelId: r.model.id,
      challengeId: r.challengeId,
      family: r.challenge.family,
      split: r.challenge.split,
      orgId: r.challenge.orgId,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// DuckDB plumbing

function isLockError(e: unknown): boolean {
  return /lock|Conflicting/i.test(String((e as Error)?.message ?? e));
}

async function openInstance(path: string, lockTimeoutMs: number): Promise<DuckDBInstance> {
  if (path !== ":memory:") await Deno.mkdir(dirname(path), { recursive: true });
  const t0 = Date.now();
  for (let attempt = 0;; attempt++) {
    try {
      return await DuckDBInstance.create(path);
    } catch (e) {
      if (!isLockError(e) || Date.now() - t0 >= lockTimeoutMs) {
        throw new Error(
          `Cannot open the pattern store ${path}: ${String((e as Error).message).split("\n")[0]}` +
            (isLockError(e) ? " (another process holds it; close that notebook kernel or use mode: 'per-call')" : ""),
        );
      }
      await new Promise((r) => setTimeout(r, Math.min(50 + attempt * 25, 250)));
    }
  }
}

/** Runs `fn` in one transaction on `con`; rolls back and rethrows on failure. */
export async function inTransaction<T>(con: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  await con.run("BEGIN TRANSACTION");
  try {
    const out = await fn();
    await con.run("COMMIT");
    return out;
  } catch (e) {
    await con.run("ROLLBACK").catch(() => {});
    throw e;
  }
}

const BATCH_COLUMNS: readonly [string, string][] = [
  ["id", "VARCHAR"],
  ["normalized_intent", "VARCHAR"],
  ["intent", "VARCHAR"],
  ["role", "VARCHAR"],
  ["category", "VARCHAR"],
  ["level", "INTEGER"],
  ["tool_sequence", "VARCHAR[]"],
  ["successful_queries", "VARCHAR"],
  ["sql_key", "VARCHAR"],
  ["answer_shape", "VARCHAR"],
  ["turn_fitness", "DOUBLE"],
  ["query_avg_fitness", "DOUBLE"],
  ["composite_fitness", "DOUBLE"],
  ["embedder", "VARCHAR"],
  ["is_synthetic", "BOOLEAN"],
  ["turn_pass", "BOOLEAN"],
  ["marked_pass", "BOOLEAN"],
  ["contaminated", "BOOLEAN"],
  ["support", "INTEGER"],
  ["passes", "INTEGER"],
  ["run_id", "VARCHAR"],
  ["episode_id", "VARCHAR"],
  ["strategy_id", "VARCHAR"],
  ["model_name", "VARCHAR"],
  ["model_id", "VARCHAR"],
  ["challenge_id", "VARCHAR"],
  ["family", "VARCHAR"],
  ["split", "VARCHAR"],
  ["org_id", "INTEGER"],
];

/** Columns that come from the best-fitness observation when rows merge. */
const BEST_COLUMNS = [
  "intent",
  "category",
  "level",
  "tool_sequence",
  "successful_queries",
  "answer_shape",
  "turn_fitness",
  "query_avg_fitness",
  "composite_fitness",
  "run_id",
  "episode_id",
  "strategy_id",
  "model_name",
  "model_id",
  "challenge_id",
  "family",
  "split",
  "org_id",
];

/**
 * The upsert, as two statements: new ids are a plain INSERT (fast: DuckDB's ON CONFLICT path costs several
 * times more per row), ids already stored are merged by one UPDATE … FROM. Embeddings come from `_tm_emb`,
 * one row per distinct normalized intent, so a batch carries each vector once.
 */
const INSERT_NEW_SQL = (() => {
  const batchCols = BATCH_COLUMNS.map(([c]) => c);
  const select = PATTERN_COLUMNS.map((c) => {
    if (c === "successful_queries") return "b.successful_queries::JSON";
    if (c === "embedding") return "e.embedding";
    if (c === "created_at" || c === "updated_at") return "$1::TIMESTAMP";
    if (c === "stale") return "false";
    if (c === "stale_reason") return "NULL::VARCHAR";
    if (c === "validated_at") return "NULL::TIMESTAMP";
    if (!batchCols.includes(c)) throw new Error(`bulk insert: no batch column for ${c}`);
    return `b.${c}`;
  }).join(", ");
  return `INSERT INTO turn_memories (${PATTERN_COLUMNS.join(", ")})
    SELECT ${select} FROM _tm_batch b JOIN _tm_emb e USING (normalized_intent)
    WHERE NOT EXISTS (SELECT 1 FROM turn_memories t WHERE t.id = b.id)`;
})();

const MERGE_SQL = (() => {
  const better = "b.composite_fitness > t.composite_fitness";
  const sets = [
    ...BEST_COLUMNS.map((c) =>
      `${c} = CASE WHEN ${better} THEN b.${c}${c === "successful_queries" ? "::JSON" : ""} ELSE t.${c} END`
    ),
    "support = t.support + b.support",
    "passes = t.passes + b.passes",
    "marked_pass = coalesce(b.marked_pass, t.marked_pass)",
    "turn_pass = coalesce(b.marked_pass, t.marked_pass, t.turn_pass OR b.turn_pass)",
    "contaminated = t.contaminated OR b.contaminated",
    "is_synthetic = t.is_synthetic AND b.is_synthetic",
    "stale = false",
    "stale_reason = NULL",
    "updated_at = $1::TIMESTAMP",
  ];
  return `UPDATE turn_memories AS t SET ${sets.join(", ")} FROM _tm_batch b WHERE t.id = b.id`;
})();

/** A merged row ready to append. */
interface Row {
  id: string;
  normalizedIntent: string;
  draft: Draft;
  composite: number;
  support: number;
  passes: number;
  turnPass: boolean;
  contaminated: boolean;
  isSynthetic: boolean;
  markedPass: boolean | null;
}

const CHUNK = 2048;

/**
 * Typed batch columns appended as they are; every other batch column travels in one JSON text per row (`j`),
 * unpacked by DuckDB's `json_transform` — the appender's string columns cost one native call per value, so
 * seventeen string columns are a dozen times slower than one JSON text (measured on 100 K rows).
 */
const RAW_TYPED: readonly string[] = [
  "level",
  "turn_fitness",
  "query_avg_fitness",
  "composite_fitness",
  "is_synthetic",
  "turn_pass",
  "marked_pass",
  "contaminated",
  "support",
  "passes",
  "org_id",
];
const RAW_JSON = BATCH_COLUMNS.filter(([c]) => !RAW_TYPED.includes(c));
const RAW_DDL = `CREATE TEMP TABLE IF NOT EXISTS _tm_raw (j VARCHAR, ${
  RAW_TYPED.map((c) => `${c} ${BATCH_COLUMNS.find(([n]) => n === c)![1]}`).join(", ")
})`;
const UNPACK_SQL = (() => {
  const spec = JSON.stringify(
    Object.fromEntries(
      RAW_JSON.map(([c, t]) => [c, c === "successful_queries" ? "JSON" : t === "VARCHAR[]" ? ["VARCHAR"] : t]),
    ),
  );
  const cols = BATCH_COLUMNS.map(([c]) =>
    RAW_TYPED.includes(c)
      ? c
      : c === "successful_queries"
      ? "s.successful_queries::VARCHAR AS successful_queries"
      : `s.${c} AS ${c}`
  );
  return `CREATE OR REPLACE TEMP TABLE _tm_batch AS
    SELECT ${cols.join(", ")} FROM (SELECT * EXCLUDE (j), json_transform(j, '${spec}') AS s FROM _tm_raw)`;
})();

function appendRows(appender: DuckDBAppender, rows: readonly Row[], embedderId: string) {
  const types = ["j", ...RAW_TYPED].map((_, i) => appender.columnType(i));
  for (let start = 0; start < rows.length; start += CHUNK) {
    const part = rows.slice(start, start + CHUNK);
    const chunk = DuckDBDataChunk.create(types, part.length);
    const cols: DuckDBValue[][] = types.map(() => new Array(part.length));
    part.forEach((r, i) => {
      const d = r.draft;
      cols[0][i] = JSON.stringify({
        id: r.id,
        normalized_intent: r.normalizedIntent,
        intent: d.task,
        role: d.role,
        category: d.category,
        tool_sequence: d.toolSequence,
        successful_queries: d.queries,
        sql_key: d.sqlKey,
        answer_shape: d.answerShape,
        embedder: embedderId,
        run_id: d.runId,
        episode_id: d.episodeId,
        strategy_id: d.strategyId,
        model_name: d.modelName,
        model_id: d.modelId,
        challenge_id: d.challengeId,
        family: d.family,
        split: d.split,
      });
      const typed: DuckDBValue[] = [
        d.level,
        d.turnFitness,
        d.queryAvgFitness,
        r.composite,
        r.isSynthetic,
        r.turnPass,
        r.markedPass,
        r.contaminated,
        r.support,
        r.passes,
        d.orgId,
      ];
      for (let c = 0; c < typed.length; c++) cols[c + 1][i] = typed[c];
    });
    chunk.setColumns(cols);
    appender.appendDataChunk(chunk);
  }
  appender.flushSync();
}

/** Appends plain columns (strings, numbers, booleans, nulls) to a temp table, in data chunks. */
async function appendColumns(con: DuckDBConnection, table: string, columns: readonly (readonly DuckDBValue[])[]) {
  const app = await con.createAppender(table, "main", "temp");
  try {
    const types = columns.map((_, i) => app.columnType(i));
    const n = columns[0]?.length ?? 0;
    for (let s = 0; s < n; s += CHUNK) {
      const chunk = DuckDBDataChunk.create(types, Math.min(CHUNK, n - s));
      chunk.setColumns(columns.map((c) => c.slice(s, s + CHUNK)));
      app.appendDataChunk(chunk);
    }
    app.flushSync();
  } finally {
    app.closeSync();
  }
}

/** Appends (text, vector) rows to a temp table `(VARCHAR, FLOAT[256])` in data chunks. */
async function appendEmbeddings(con: DuckDBConnection, table: string, vectors: ReadonlyMap<string, Float32Array>) {
  const app = await con.createAppender(table, "main", "temp");
  try {
    const types = [app.columnType(0), app.columnType(1)];
    const keys = [...vectors.keys()];
    for (let s = 0; s < keys.length; s += CHUNK) {
      const part = keys.slice(s, s + CHUNK);
      const chunk = DuckDBDataChunk.create(types, part.length);
      // the array vector reads items by index, so a Float32Array does without a copy into a number[]
      chunk.setColumns([part, part.map((t) => arrayValue(vectors.get(t) as unknown as number[]))]);
      app.appendDataChunk(chunk);
    }
    app.flushSync();
  } finally {
    app.closeSync();
  }
}

const SELECT_COLUMNS = PATTERN_COLUMNS.filter((c) => c !== "embedding").map((c) =>
  c === "successful_queries" ? "successful_queries::VARCHAR AS successful_queries" : c
);

function toPattern(r: Record<string, unknown>, withEmbedding: boolean): Pattern {
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

interface CompositeWeights {
  query: number;
  turn: number;
}

/** The pattern store's default file (its own file, so a run writing the tournament tables never shares one). */
export const DEFAULT_PATTERNS_PATH: string = repoPath("data/patterns.duckdb");

const initialized = new Set<string>();

// ---------------------------------------------------------------------------------------------------------
// The store

/**
 * The pattern store. Open with `await using` (STYLE #8); every write is one transaction.
 *
 * @example
 * ```ts
 * await using store = await PatternStore.open(DEFAULT_PATTERNS_PATH);
 * const rec = await runEpisode(spec, { pool, sink: store.sink({ runId: "t-1" }) });
 * console.log(await store.count({ turnPass: true }), await store.list({ role: "cfo" }, { limit: 5 }));
 * ```
 */
export class PatternStore implements AsyncDisposable {
  readonly #instance?: DuckDBInstance;
  readonly #con?: DuckDBConnection;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  readonly #normalized = new Map<string, string>();
  readonly #embedded = new Map<string, Float32Array>();

  private constructor(
    /** The DuckDB file. */
    readonly path: string,
    /** Embeds normalized intents (retrieval must embed queries with the same one). */
    readonly embedder: Embedder,
    /** Composite weights the store derives `composite_fitness` with. */
    readonly weights: Readonly<CompositeWeights>,
    private readonly options: PatternStoreOptions,
    held?: { instance: DuckDBInstance; con: DuckDBConnection },
  ) {
    this.#instance = held?.instance;
    this.#con = held?.con;
  }

  /**
   * Opens (creating the tables of) the store at `path` (`":memory:"` for a throwaway one; it needs the
   * default `mode: "held"`).
   */
  static async open(path: string, options: PatternStoreOptions = {}): Promise<PatternStore> {
    if (typeof path !== "string" || !path) {
      throw new TypeError("PatternStore.open: path must be a file path or ':memory:'");
    }
    const embedder = options.embedder ?? localEmbedder();
    if (embedder.dims !== EMBEDDING_DIMS) {
      throw new RangeError(
        `PatternStore.open: embedder '${embedder.id}' makes ${embedder.dims}-d vectors; turn_memories stores ${EMBEDDING_DIMS}-d`,
      );
    }
    const mode = options.mode ?? "held";
    if (mode === "per-call" && path === ":memory:") {
      throw new RangeError("PatternStore.open: mode 'per-call' needs a file; ':memory:' would be empty on every call");
    }
    const lockMs = options.lockTimeoutMs ?? 5000;
    const instance = await openInstance(path, lockMs);
    let con: DuckDBConnection | undefined;
    try {
      con = await instance.connect();
      if (path === ":memory:" || !initialized.has(path)) {
        for (const sql of PATTERN_SCHEMA) await con.run(sql);
        if (path !== ":memory:") initialized.add(path);
      }
      const weights = await settleWeights(con, options.fitness);
      if (mode === "held") return new PatternStore(path, embedder, weights, options, { instance, con });
      con.closeSync();
      instance.closeSync();
      return new PatternStore(path, embedder, weights, options);
    } catch (e) {
      con?.closeSync();
      instance.closeSync();
      throw e;
    }
  }

  /**
   * Runs `fn` with a connection to the store: the held one (after every earlier call of this store has
   * finished), or one opened for the call. Do not call other methods of the store inside `fn` (they wait for
   * it). Retrieval runs its SQL through this.
   */
  withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error(`The pattern store ${this.path} is closed; open it again`));
    if (this.#con) {
      const con = this.#con;
      const out = this.#queue.then(() => fn(con));
      this.#queue = out.catch(() => {});
      return out;
    }
    const run = async () => {
      const instance = await openInstance(this.path, this.options.lockTimeoutMs ?? 5000);
      const con = await instance.connect();
      try {
        return await fn(con);
      } finally {
        con.closeSync();
        instance.closeSync();
      }
    };
    const out = this.#queue.then(run);
    this.#queue = out.catch(() => {});
    return out;
  }

  /** Closes the store (waits for running calls). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue;
    this.#con?.closeSync();
    this.#instance?.closeSync();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * The port the runner and the tournament write to: stores each finished episode.
   *
   * @example
   * ```ts
   * await runTournament(strategies, challenges, { sink: store.sink({ runId }) });
   * ```
   */
  sink(options: AddEpisodesOptions = {}): EpisodeSink {
    return async (episode: EpisodeRecord) => {
      await this.addEpisodes([episode], options);
    };
  }

  /**
   * Stores episodes (one transaction; on bad input a TypeError naming the record and field, and nothing is
   * stored). Returns what happened.
   *
   * @example
   * ```ts
   * const r = await store.addEpisodes(records, { runId: "t-1" });
   * // → { episodes: 40, inserted: 12, merged: 21, failedQueriesSkipped: 9, verificationQueriesSkipped: 3, withoutPattern: 7 }
   * ```
   */
  async addEpisodes(records: readonly EpisodeRecord[], options: AddEpisodesOptions = {}): Promise<AddReport> {
    if (!Array.isArray(records)) throw new TypeError("addEpisodes: records must be an array of EpisodeRecords");
    if (options.runId !== undefined && (typeof options.runId !== "string" || !options.runId)) {
      throw new TypeError(
        `addEpisodes: options.runId must be a non-empty string, found ${JSON.stringify(options.runId)}`,
      );
    }
    const drafts: Draft[] = [];
    const report: AddReport = { ...emptyAddReport(), episodes: records.length };
    for (let i = 0; i < records.length; i++) {
      const parsed = EpisodeIn.safeParse(records[i]);
      if (!parsed.success) {
        throw new TypeError(
          `Cannot store episodes: ${
            issueLine(`records[${i}]`, parsed.error)
          }; nothing was stored (pass EpisodeRecords from runEpisode)`,
        );
      }
      const { draft, ex } = draftFromEpisode(parsed.data, options.runId ?? null);
      report.failedQueriesSkipped += ex.failed;
      report.verificationQueriesSkipped += ex.verification;
      if (draft) drafts.push(draft);
      else report.withoutPattern++;
    }
    return await this.#store(drafts, report);
  }

  /**
   * Stores a person's own question and the queries that answered it (`is_synthetic = false`, category
   * `ask`). Returns the pattern's id (undefined when no query succeeded) and the report.
   */
  async addAsk(input: AskInput): Promise<{ id: string | undefined; report: AddReport }> {
    const parsed = AskIn.safeParse(input);
    if (!parsed.success) throw new TypeError(`Cannot store the question: ${issueLine("ask", parsed.error)}`);
    const a = parsed.data;
    const queries = a.queries.map((q) => ({ ...q, ok: q.ok ?? q.error === undefined }));
    const calls = queries.map((q) => ({ name: q.tool, ok: q.ok && !q.refused, result: q.result }));
    const ex = extractQueries(
      calls,
      queries.map((q, i) => ({ ...q, call: i })),
      (i) => queryFitness({ ...queries[i], tool: queries[i].tool as "dbRead" }, 200).fitness,
    );
    const report: AddReport = {
      episodes: 1,
      inserted: 0,
      merged: 0,
      failedQueriesSkipped: ex.failed,
      verificationQueriesSkipped: ex.verification,
      withoutPattern: ex.queries.length ? 0 : 1,
      duplicates: 0,
    };
    if (!ex.queries.length) return { id: undefined, report };
    const draft: Draft = {
      task: a.question,
      role: a.role,
      category: "ask",
      level: null,
      toolSequence: ex.tools,
      queries: ex.queries,
      sqlKey: ex.queries.map((q, i) => `${q.tool}: ${ex.keys[i]}`).join("\n"),
      answerShape: a.answerShape ?? null,
      turnFitness: a.pass ? 1 : 0,
      queryAvgFitness: round6(mean(ex.fitness)),
      isSynthetic: false,
      turnPass: a.pass === true,
      markedPass: a.pass ?? null,
      contaminated: false,
      runId: a.runId ?? "ask",
      episodeId: null,
      strategyId: null,
      modelName: a.model?.name ?? null,
      modelId: a.model?.id ?? null,
      challengeId: null,
      family: null,
      split: null,
      orgId: a.orgId ?? null,
    };
    await this.#store([draft], report);
    return { id: patternId(a.role, await this.#normalize(a.question), draft.sqlKey), report };
  }

  /**
   * The store's normal form of a task: {@linkcode normalizeIntent}, after the `normalizer` model when the store
   * was opened with one (cached per text). Retrieval should normalize queries with it, to match the stored keys.
   */
  normalize(task: string): Promise<string> {
    if (typeof task !== "string") return Promise.reject(new TypeError("normalize: task must be a string"));
    return this.#normalize(task);
  }

  async #normalize(task: string): Promise<string> {
    let n = this.#normalized.get(task);
    if (n === undefined) {
      n = this.options.normalizer
        ? await normalizeIntentWith(task, { model: this.options.normalizer })
        : normalizeIntent(task);
      if (this.#normalized.size > 200_000) this.#normalized.clear();
      this.#normalized.set(task, n);
    }
    return n;
  }

  async #embed(intents: Iterable<string>): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const missing: string[] = [];
    for (const t of intents) {
      const v = this.#embedded.get(t);
      if (v) out.set(t, v);
      else if (!out.has(t)) {
        missing.push(t);
        out.set(t, new Float32Array(0));
      }
    }
    if (missing.length) {
      const vs = await this.embedder.embed(missing);
      if (vs.length !== missing.length || vs.some((v) => v.length !== EMBEDDING_DIMS)) {
        throw new Error(
          `Embedder '${this.embedder.id}' returned ${vs.length} vectors for ${missing.length} texts (each must have ${EMBEDDING_DIMS} dims); nothing was stored`,
        );
      }
      if (this.#embedded.size > 100_000) this.#embedded.clear();
      missing.forEach((t, i) => {
        out.set(t, vs[i]);
        this.#embedded.set(t, vs[i]);
      });
    }
    return out;
  }

  async #store(drafts: readonly Draft[], report: AddReport): Promise<AddReport> {
    if (!drafts.length) return report;
    const w = this.weights;
    // Normalize and embed before the transaction (a model normalizer may be slow; the file stays free).
    const keyed: { d: Draft; id: string; normalizedIntent: string; composite: number; key: string | undefined }[] = [];
    const seen = new Set<string>();
    for (const d of drafts) {
      const key = d.episodeId === null ? undefined : `${d.runId ?? ""}\u0000${d.episodeId}`;
      if (key !== undefined) {
        if (seen.has(key)) {
          report.duplicates++;
          continue;
        }
        seen.add(key);
      }
      const normalizedIntent = await this.#normalize(d.task);
      keyed.push({
        d,
        id: patternId(d.role, normalizedIntent, d.sqlKey),
        normalizedIntent,
        composite: round6(w.query * d.queryAvgFitness + w.turn * d.turnFitness),
        key,
      });
    }
    const embeddings = await this.#embed(keyed.map((k) => k.normalizedIntent));
    const now = new Date().toISOString().replace("T", " ").replace("Z", "");
    await this.withConnection(async (con) => {
      await con.run(RAW_DDL);
      await con.run(
        `CREATE TEMP TABLE IF NOT EXISTS _tm_emb (normalized_intent VARCHAR, embedding FLOAT[${EMBEDDING_DIMS}])`,
      );
      await con.run(
        "CREATE TEMP TABLE IF NOT EXISTS _tm_keys (run_id VARCHAR, episode_id VARCHAR, pattern_id VARCHAR, turn_pass BOOLEAN, composite_fitness DOUBLE)",
      );
      await inTransaction(con, async () => {
        for (const t of ["_tm_raw", "_tm_emb", "_tm_keys"]) await con.run(`DELETE FROM ${t}`);
        // Idempotent by episode: a resumed tournament sends episodes again; the ones stored before are skipped.
        const withKey = keyed.filter((k) => k.key !== undefined);
        if (withKey.length) {
          await appendColumns(con, "_tm_keys", [
            withKey.map((k) => k.d.runId ?? ""),
            withKey.map((k) => k.d.episodeId),
            withKey.map((k) => k.id),
            withKey.map((k) => k.d.turnPass),
            withKey.map((k) => k.composite),
          ]);
        }
        const stored = new Set(
          (await con.runAndReadAll(
            "SELECT k.run_id || chr(0) || k.episode_id FROM _tm_keys k JOIN pattern_episodes USING (run_id, episode_id)",
          )).getRows().map(([k]) => String(k)),
        );
        report.duplicates += stored.size;
        const rows = new Map<string, Row>();
        for (const k of keyed) {
          if (k.key !== undefined && stored.has(k.key)) continue;
          const { d, id, composite } = k;
          const prev = rows.get(id);
          if (!prev) {
            rows.set(id, {
              id,
              normalizedIntent: k.normalizedIntent,
              draft: d,
              composite,
              support: 1,
              passes: d.turnPass ? 1 : 0,
              turnPass: d.markedPass ?? d.turnPass,
              contaminated: d.contaminated,
              isSynthetic: d.isSynthetic,
              markedPass: d.markedPass,
            });
            continue;
          }
          report.merged++;
          if (composite > prev.composite) {
            prev.draft = d;
            prev.composite = composite;
          }
          prev.support++;
          if (d.turnPass) prev.passes++;
          prev.markedPass = d.markedPass ?? prev.markedPass;
          prev.turnPass = prev.markedPass ?? (prev.turnPass || d.turnPass);
          prev.contaminated ||= d.contaminated;
          prev.isSynthetic &&= d.isSynthetic;
        }
        const list = [...rows.values()];
        if (!list.length) return;
        const appender = await con.createAppender("_tm_raw", "main", "temp");
        try {
          appendRows(appender, list, this.embedder.id);
        } finally {
          appender.closeSync();
        }
        await con.run(UNPACK_SQL);
        await appendEmbeddings(con, "_tm_emb", embeddings);
        const [[n]] = (await con.runAndReadAll("SELECT count(*) FROM _tm_batch JOIN turn_memories USING (id)"))
          .getRows();
        if (Number(n)) await con.run(MERGE_SQL, [now]);
        await con.run(INSERT_NEW_SQL, [now]);
        await con.run(
          `INSERT INTO pattern_episodes SELECT run_id, episode_id, pattern_id, turn_pass, composite_fitness, $1::TIMESTAMP
           FROM _tm_keys k WHERE NOT EXISTS (SELECT 1 FROM pattern_episodes p WHERE p.run_id = k.run_id AND p.episode_id = k.episode_id)`,
          [now],
        );
        for (const t of ["_tm_raw", "_tm_emb", "_tm_keys"]) await con.run(`DELETE FROM ${t}`);
        await con.run("DROP TABLE temp.main._tm_batch");
        report.inserted += list.length - Number(n);
        report.merged += Number(n);
      });
    });
    return report;
  }

  /** Number of patterns matching `filter`. */
  async count(filter: PatternFilter = {}): Promise<number> {
    const { where, params } = filterSql(filter);
    return await this.withConnection(async (con) => {
      const [[n]] = (await con.runAndReadAll(`SELECT count(*) FROM turn_memories ${where}`, params)).getRows();
      return Number(n);
    });
  }

  /** Patterns matching `filter`, best first (composite fitness, then support, then id). */
  async list(filter: PatternFilter = {}, options: ListOptions = {}): Promise<Pattern[]> {
    const limit = options.limit ?? 100;
    const offset = options.offset ?? 0;
    if (!Number.isInteger(limit) || limit < 0 || !Number.isInteger(offset) || offset < 0) {
      throw new RangeError(`list: limit and offset must be non-negative integers, found ${limit} and ${offset}`);
    }
    const { where, params } = filterSql(filter);
    const cols = [...SELECT_COLUMNS, ...(options.withEmbedding ? ["embedding"] : [])].join(", ");
    return await this.withConnection(async (con) => {
      const rows = (await con.runAndReadAll(
        `SELECT ${cols} FROM turn_memories ${where}
         ORDER BY composite_fitness DESC, support DESC, id LIMIT ${limit} OFFSET ${offset}`,
        params,
      )).getRowObjectsJson();
      return rows.map((r) => toPattern(r as Record<string, unknown>, !!options.withEmbedding));
    });
  }

  /** One pattern by id (undefined when there is none). */
  async get(id: string, options: { withEmbedding?: boolean } = {}): Promise<Pattern | undefined> {
    return (await this.list({ ids: [id] }, { limit: 1, withEmbedding: options.withEmbedding }))[0];
  }

  /**
   * A person marks a pattern's answer right (`turnPass: true`) or wrong: the mark overrides every episode's
   * verdict, now and when later episodes merge in. Throws a RangeError for an unknown id.
   */
  async mark(id: string, mark: { turnPass: boolean }): Promise<void> {
    if (typeof mark?.turnPass !== "boolean") throw new TypeError("mark: pass { turnPass: true | false }");
    const n = await this.withConnection((con) =>
      inTransaction(con, async () => {
        const r = await con.run(
          // A person's own question has no verifier: their mark is its correctness, so its turn fitness (and the
          // composite) follow the mark. A verified episode keeps the fitness its verifier gave.
          `UPDATE turn_memories SET marked_pass = $2, turn_pass = $2, updated_at = $3::TIMESTAMP,
             turn_fitness = CASE WHEN is_synthetic THEN turn_fitness ELSE (CASE WHEN $2 THEN 1.0 ELSE 0.0 END) END,
             composite_fitness = round($4 * query_avg_fitness + $5 *
               (CASE WHEN is_synthetic THEN turn_fitness ELSE (CASE WHEN $2 THEN 1.0 ELSE 0.0 END) END), 6)
           WHERE id = $1`,
          [id, mark.turnPass, new Date().toISOString().replace("T", " ").replace("Z", ""), this.weights.query, this.weights.turn],
        );
        return r.rowsChanged;
      })
    );
    if (!n) throw new RangeError(`mark: no pattern with id '${id}' in ${this.path}; list() shows the stored ids`);
  }

  /**
   * Re-embeds the patterns made by another embedder (after changing `options.embedder`). Returns the number
   * of rows updated.
   */
  async reembed(): Promise<number> {
    const intents = await this.withConnection(async (con) =>
      (await con.runAndReadAll("SELECT DISTINCT normalized_intent FROM turn_memories WHERE embedder <> $1", [
        this.embedder.id,
      ])).getRows().map(([t]) => String(t))
    );
    if (!intents.length) return 0;
    const vs = await this.#embed(intents);
    return await this.withConnection(async (con) => {
      await con.run(
        `CREATE TEMP TABLE IF NOT EXISTS _tm_emb (normalized_intent VARCHAR, embedding FLOAT[${EMBEDDING_DIMS}])`,
      );
      return await inTransaction(con, async () => {
        await con.run("DELETE FROM _tm_emb");
        await appendEmbeddings(con, "_tm_emb", vs);
        const r = await con.run(
          `UPDATE turn_memories SET embedding = e.embedding, embedder = $1 FROM _tm_emb e
           WHERE turn_memories.normalized_intent = e.normalized_intent AND turn_memories.embedder <> $1`,
          [this.embedder.id],
        );
        await con.run("DELETE FROM _tm_emb");
        return r.rowsChanged;
      });
    });
  }
}

/** Reads the stored composite weights; with `fitness` given and different, re-derives every composite. */
async function settleWeights(con: DuckDBConnection, fitness: FitnessWeights | undefined): Promise<CompositeWeights> {
  const rows = (await con.runAndReadAll("SELECT value::VARCHAR FROM pattern_meta WHERE key = 'composite_weights'"))
    .getRows();
  const stored = rows.length ? JSON.parse(String(rows[0][0])) as CompositeWeights : undefined;
  if (fitness !== undefined) {
    const c = fitness?.composite;
    if (!c || typeof c.query !== "number" || typeof c.turn !== "number" || c.query < 0 || c.turn < 0) {
      throw new TypeError(
        `PatternStore.open: options.fitness.composite must be { query: number ≥ 0, turn: number ≥ 0 }, found ${
          JSON.stringify(c)
        }`,
      );
    }
  }
  const want: CompositeWeights = fitness
    ? { query: fitness.composite.query, turn: fitness.composite.turn }
    : stored ?? { ...DEFAULT_FITNESS.composite };
  if (stored && stored.query === want.query && stored.turn === want.turn) return want;
  await inTransaction(con, async () => {
    await con.run(
      "INSERT OR REPLACE INTO pattern_meta VALUES ('composite_weights', $1::JSON)",
      [JSON.stringify(want)],
    );
    if (stored) {
      await con.run(
        "UPDATE turn_memories SET composite_fitness = round($1 * query_avg_fitness + $2 * turn_fitness, 6)",
        [want.query, want.turn],
      );
    }
  });
  return want;
}
