/**
 * Writing patterns in bulk: a batch of keyed drafts is merged in memory by pattern id, appended to temp tables
 * through DuckDB's appender in data chunks, and merged with the stored rows by two statements, in one
 * transaction.
 *
 * - **Merging**: patterns with the same (role, normalized intent, canonical SQL) share an id and merge: support
 *   and passes add up, the fields of the best-fitness observation win (ties keep the stored one), `turn_pass`
 *   is true once any merged episode passed (a person's mark overrides), `contaminated` once any came from a
 *   split other than `train`, and a fresh successful run clears `stale`.
 * - **Idempotent by episode**: `pattern_episodes` records every (run, episode id) merged in, so an episode sent
 *   again is skipped and counted as a duplicate, not as more support.
 * @module
 */
import {
  arrayValue,
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  type DuckDBValue,
} from "@duckdb/node-api";
import { withTransaction } from "../util/mod.ts";
import type { Draft } from "./_extract.ts";
import { EMBEDDING_DIMS, EPISODE_KEY_COLUMNS, PATTERN_COLUMN_TYPES, PATTERN_COLUMNS, type PatternColumn } from "./_schema.ts";

/** A draft with its pattern id, normalized intent, composite fitness and episode key (run, episode) if any. */
export interface KeyedDraft {
  d: Draft;
  id: string;
  normalizedIntent: string;
  composite: number;
  /** `run \0 episode`; undefined for a draft without an episode (a person's question). */
  key: string | undefined;
}

/** What a batch's upsert did. */
export interface UpsertCounts {
  /** Drafts of episodes stored before: skipped. */
  duplicates: number;
  /** New rows. */
  inserted: number;
  /** Drafts merged into a row (stored before, or earlier in the same batch). */
  merged: number;
}

/** Columns a batch does not bring: the store sets them on insert (the embedding comes from `_tm_emb`). */
type NotInBatch = "embedding" | "created_at" | "updated_at" | "stale" | "stale_reason" | "validated_at";
type BatchColumn = Exclude<PatternColumn, NotInBatch>;
const NOT_IN_BATCH: readonly NotInBatch[] = ["embedding", "created_at", "updated_at", "stale", "stale_reason", "validated_at"];

/** The batch's columns with their types (JSON travels as text), in table order. */
const BATCH_COLUMNS = PATTERN_COLUMNS.filter((c): c is BatchColumn => !(NOT_IN_BATCH as readonly string[]).includes(c))
  .map((c) => [c, PATTERN_COLUMN_TYPES[c] === "JSON" ? "VARCHAR" : PATTERN_COLUMN_TYPES[c]] as const);

/** Columns that come from the best-fitness observation when rows merge. */
const BEST_COLUMNS: readonly BatchColumn[] = [
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

const isJson = (c: PatternColumn) => PATTERN_COLUMN_TYPES[c] === "JSON";

/**
 * The upsert, as two statements: new ids are a plain INSERT (fast: DuckDB's ON CONFLICT path costs several
 * times more per row), ids already stored are merged by one UPDATE … FROM. Embeddings come from `_tm_emb`,
 * one row per distinct normalized intent, so a batch carries each vector once.
 */
const INSERT_NEW_SQL = (() => {
  const inserted: Record<NotInBatch, string> = {
    embedding: "e.embedding",
    created_at: "$1::TIMESTAMP",
    updated_at: "$1::TIMESTAMP",
    stale: "false",
    stale_reason: "NULL::VARCHAR",
    validated_at: "NULL::TIMESTAMP",
  };
  const select = PATTERN_COLUMNS.map((c) =>
    c in inserted ? inserted[c as NotInBatch] : isJson(c) ? `b.${c}::JSON` : `b.${c}`
  ).join(", ");
  return `INSERT INTO turn_memories (${PATTERN_COLUMNS.join(", ")})
    SELECT ${select} FROM _tm_batch b JOIN _tm_emb e USING (normalized_intent)
    WHERE NOT EXISTS (SELECT 1 FROM turn_memories t WHERE t.id = b.id)`;
})();

const MERGE_SQL = (() => {
  const better = "b.composite_fitness > t.composite_fitness";
  const sets = [
    ...BEST_COLUMNS.map((c) => `${c} = CASE WHEN ${better} THEN b.${c}${isJson(c) ? "::JSON" : ""} ELSE t.${c} END`),
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

/** A row's value of every batch column. */
function batchValues(r: Row, embedder: string): Record<BatchColumn, unknown> {
  const d = r.draft;
  return {
    id: r.id,
    normalized_intent: r.normalizedIntent,
    intent: d.task,
    role: d.role,
    category: d.category,
    level: d.level,
    tool_sequence: d.toolSequence,
    successful_queries: d.queries,
    sql_key: d.sqlKey,
    answer_shape: d.answerShape,
    turn_fitness: d.turnFitness,
    query_avg_fitness: d.queryAvgFitness,
    composite_fitness: r.composite,
    embedder,
    is_synthetic: r.isSynthetic,
    turn_pass: r.turnPass,
    marked_pass: r.markedPass,
    contaminated: r.contaminated,
    support: r.support,
    passes: r.passes,
    run_id: d.runId,
    episode_id: d.episodeId,
    strategy_id: d.strategyId,
    model_name: d.modelName,
    model_id: d.modelId,
    challenge_id: d.challengeId,
    family: d.family,
    split: d.split,
    org_id: d.orgId,
  };
}

const CHUNK = 2048;

/**
 * Number and boolean batch columns are appended as they are; every other batch column (strings, lists, JSON)
 * travels in one JSON text per row (`j`), unpacked by DuckDB's `json_transform` — the appender's string columns
 * cost one native call per value, so seventeen string columns are a dozen times slower than one JSON text
 * (measured on 100 K rows).
 */
const RAW_TYPED = BATCH_COLUMNS.filter(([, t]) => !t.startsWith("VARCHAR")).map(([c]) => c);
const RAW_JSON = BATCH_COLUMNS.filter(([c]) => !RAW_TYPED.includes(c));
const RAW_DDL = `CREATE TEMP TABLE IF NOT EXISTS _tm_raw (j VARCHAR, ${
  RAW_TYPED.map((c) => `${c} ${BATCH_COLUMNS.find(([n]) => n === c)![1]}`).join(", ")
})`;
const UNPACK_SQL = (() => {
  const spec = JSON.stringify(
    Object.fromEntries(
      RAW_JSON.map(([c, t]) => [c, isJson(c) ? "JSON" : t === "VARCHAR[]" ? ["VARCHAR"] : t]),
    ),
  );
  const cols = BATCH_COLUMNS.map(([c]) =>
    RAW_TYPED.includes(c) ? c : isJson(c) ? `s.${c}::VARCHAR AS ${c}` : `s.${c} AS ${c}`
  );
  return `CREATE OR REPLACE TEMP TABLE _tm_batch AS
    SELECT ${cols.join(", ")} FROM (SELECT * EXCLUDE (j), json_transform(j, '${spec}') AS s FROM _tm_raw)`;
})();

/** `(normalized_intent, embedding)` rows of a batch: each vector once. */
const EMB_DDL = `CREATE TEMP TABLE IF NOT EXISTS _tm_emb (normalized_intent VARCHAR, embedding FLOAT[${EMBEDDING_DIMS}])`;
/** The batch's episode keys (the `pattern_episodes` columns but `stored_at`). */
const KEYS_DDL = `CREATE TEMP TABLE IF NOT EXISTS _tm_keys (${EPISODE_KEY_COLUMNS.map(([c, t]) => `${c} ${t}`).join(", ")})`;

function appendRows(appender: DuckDBAppender, rows: readonly Row[], embedderId: string) {
  const types = ["j", ...RAW_TYPED].map((_, i) => appender.columnType(i));
  const jsonNames = RAW_JSON.map(([c]) => c);
  for (let start = 0; start < rows.length; start += CHUNK) {
    const part = rows.slice(start, start + CHUNK);
    const chunk = DuckDBDataChunk.create(types, part.length);
    const cols: DuckDBValue[][] = types.map(() => new Array(part.length));
    part.forEach((r, i) => {
      const v = batchValues(r, embedderId);
      const j: Record<string, unknown> = {};
      for (const c of jsonNames) j[c] = v[c];
      cols[0][i] = JSON.stringify(j);
      for (let c = 0; c < RAW_TYPED.length; c++) cols[c + 1][i] = v[RAW_TYPED[c]] as DuckDBValue;
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

/** Appends (text, vector) rows to `_tm_emb` in data chunks. */
async function appendEmbeddings(con: DuckDBConnection, vectors: ReadonlyMap<string, Float32Array>) {
  const app = await con.createAppender("_tm_emb", "main", "temp");
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

/**
 * Stores a batch in one transaction (see the module doc): skips episodes stored before, merges the rest by id,
 * inserts new rows and merges rows stored before. `embeddings` holds every draft's normalized intent; `now` is
 * the UTC timestamp of the batch.
 */
export async function upsertDrafts(
  con: DuckDBConnection,
  keyed: readonly KeyedDraft[],
  embeddings: ReadonlyMap<string, Float32Array>,
  embedderId: string,
  now: string,
): Promise<UpsertCounts> {
  const counts: UpsertCounts = { duplicates: 0, inserted: 0, merged: 0 };
  await con.run(RAW_DDL);
  await con.run(EMB_DDL);
  await con.run(KEYS_DDL);
  await withTransaction(con, async () => {
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
    counts.duplicates += stored.size;
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
      counts.merged++;
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
      appendRows(appender, list, embedderId);
    } finally {
      appender.closeSync();
    }
    await con.run(UNPACK_SQL);
    await appendEmbeddings(con, embeddings);
    const [[n]] = (await con.runAndReadAll("SELECT count(*) FROM _tm_batch JOIN turn_memories USING (id)"))
      .getRows();
    if (Number(n)) await con.run(MERGE_SQL, [now]);
    await con.run(INSERT_NEW_SQL, [now]);
    const keyColumns = EPISODE_KEY_COLUMNS.map(([c]) => c).join(", ");
    await con.run(
      `INSERT INTO pattern_episodes SELECT ${keyColumns}, $1::TIMESTAMP
       FROM _tm_keys k WHERE NOT EXISTS (SELECT 1 FROM pattern_episodes p WHERE p.run_id = k.run_id AND p.episode_id = k.episode_id)`,
      [now],
    );
    for (const t of ["_tm_raw", "_tm_emb", "_tm_keys"]) await con.run(`DELETE FROM ${t}`);
    await con.run("DROP TABLE temp.main._tm_batch");
    counts.inserted += list.length - Number(n);
    counts.merged += Number(n);
  });
  return counts;
}

/**
 * Replaces the embedding (and embedder id) of every row made by another embedder whose normalized intent is in
 * `vectors`, in one transaction. Returns the rows updated.
 */
export async function replaceEmbeddings(
  con: DuckDBConnection,
  vectors: ReadonlyMap<string, Float32Array>,
  embedderId: string,
): Promise<number> {
  await con.run(EMB_DDL);
  return await withTransaction(con, async () => {
    await con.run("DELETE FROM _tm_emb");
    await appendEmbeddings(con, vectors);
    const r = await con.run(
      `UPDATE turn_memories SET embedding = e.embedding, embedder = $1 FROM _tm_emb e
       WHERE turn_memories.normalized_intent = e.normalized_intent AND turn_memories.embedder <> $1`,
      [embedderId],
    );
    await con.run("DELETE FROM _tm_emb");
    return r.rowsChanged;
  });
}
