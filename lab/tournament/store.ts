/**
 * The tournament's store in the lab's DuckDB file (default `data/lab.duckdb`, gitignored): tables `runs`,
 * `strategies` (with lineage), `generations`, `episodes` (key fields + full trace JSON) and `queries`.
 *
 * Every function takes a path or an {@linkcode OpenStore}. With a path the file is opened for the call and
 * closed again, unlocked in between: that is how a tournament uses it — one short transaction per batch of
 * episodes — so a notebook kernel or another CLI command can read and write the same file during a run. (Closing
 * does not checkpoint: committed writes stay in the write-ahead log, which the next open replays, until DuckDB
 * folds it into the file at 4 MB or a run ends; see `STORE_FILE`.) DuckDB lets one process at a time open a
 * file; an open that finds it locked by another process is retried (with growing waits, for up to
 * `LAB_STORE_LOCK_TIMEOUT_MS`, default 30 s: the lab's DuckDB helper in `lab/util/duckdb.ts`) before it fails with a
 * message naming the file. An {@linkcode OpenStore} holds the file for as long as it is open (no other process can
 * use it meanwhile): for scripts and benches that want many small calls without paying ~10–20 ms per open.
 *
 * Crash safety: every write is one transaction — a batch of whole episodes with their queries, a generation's
 * row, a strategy list — and the run header is inserted once, so a process killed at any moment (SIGKILL
 * included) leaves only whole episodes behind; DuckDB replays its write-ahead log of committed transactions
 * when the file is next opened, and a resumed run re-runs what is missing.
 * @module
 */
import type { DuckDBAppender, DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import type { EpisodeRecord, Strategy } from "../agents/mod.ts";
import {
  type DuckDBFileOptions,
  type DuckDBSession,
  openDuckDBSession,
  repoPath,
  sqlString,
  withDuckDB,
  withTransaction,
} from "../util/mod.ts";
import type { Lineage } from "./evolve.ts";

/** The lab's default store. */
export const DEFAULT_DB_PATH: string = repoPath("data/lab.duckdb");

/** A column: name and SQL type. */
type Column = readonly [name: string, type: string];

/** The tables, each column once: the DDL, the inserts and the appenders derive from these lists. */
const RUNS = [
  ["id", "VARCHAR"],
  ["created_at", "TIMESTAMP"],
  ["updated_at", "TIMESTAMP"],
  ["status", "VARCHAR"],
  ["config", "JSON"],
  ["git_commit", "VARCHAR"],
  ["seed", "BIGINT"],
  ["model_name", "VARCHAR"],
  ["model_id", "VARCHAR"],
  ["sandbox", "JSON"],
] as const satisfies readonly Column[];
const STRATEGIES = [
  ["run_id", "VARCHAR"],
  ["id", "VARCHAR"],
  ["generation", "INTEGER"],
  ["operation", "VARCHAR"],
  ["parents", "JSON"],
  ["changed", "JSON"],
  ["strategy", "JSON"],
] as const satisfies readonly Column[];
const GENERATIONS = [
  ["run_id", "VARCHAR"],
  ["generation", "INTEGER"],
  ["population", "JSON"],
  ["ranking", "JSON"],
  ["replaced", "JSON"],
  ["children", "JSON"],
  ["stats", "JSON"],
] as const satisfies readonly Column[];
const EPISODES = [
  ["run_id", "VARCHAR"],
  ["id", "VARCHAR"],
  ["generation", "INTEGER"],
  ["strategy_id", "VARCHAR"],
  ["challenge_id", "VARCHAR"],
  ["family", "VARCHAR"],
  ["level", "INTEGER"],
  ["split", "VARCHAR"],
  ["contaminated", "BOOLEAN"],
  ["attempt", "INTEGER"],
  ["seed", "BIGINT"],
  ["model_name", "VARCHAR"],
  ["model_id", "VARCHAR"],
  ["pass", "BOOLEAN"],
  ["score", "DOUBLE"],
  ["reason", "VARCHAR"],
  ["composite", "DOUBLE"],
  ["fitness", "JSON"],
  ["tokens_input", "BIGINT"],
  ["tokens_output", "BIGINT"],
  ["tokens_total", "BIGINT"],
  ["cost_usd", "DOUBLE"],
  ["stop_reason", "VARCHAR"],
  ["stop_detail", "VARCHAR"],
  ["latency_ms", "DOUBLE"],
  ["started_at", "VARCHAR"],
  ["trace", "JSON"],
] as const satisfies readonly Column[];
const QUERIES = [
  ["run_id", "VARCHAR"],
  ["episode_id", "VARCHAR"],
  ["idx", "INTEGER"],
  ["call", "INTEGER"],
  ["tool", "VARCHAR"],
  ["sql", "VARCHAR"],
  ["ok", "BOOLEAN"],
  ["refused", "BOOLEAN"],
  ["row_count", "BIGINT"],
  ["error", "VARCHAR"],
  ["ms", "DOUBLE"],
] as const satisfies readonly Column[];

const createTable = (table: string, columns: readonly Column[], key: string) =>
  `CREATE TABLE IF NOT EXISTS ${table} (${columns.map(([c, t]) => `${c} ${t}`).join(", ")}, PRIMARY KEY (${key}))`;

const SCHEMA = [
  createTable("runs", RUNS, "id"),
  createTable("strategies", STRATEGIES, "run_id, id"),
  createTable("generations", GENERATIONS, "run_id, generation"),
  createTable("episodes", EPISODES, "run_id, id"),
  createTable("queries", QUERIES, "run_id, episode_id, idx"),
];

/** A value of a row to store. */
type Value = string | number | boolean | null | undefined;
/** A row of a table: a value for every column (or, in an INSERT, an SQL expression). */
type Row<C extends readonly Column[], V = Value> = { readonly [K in C[number][0]]: V };

/** An INSERT of one row: parameters for values (`::JSON` for JSON columns), SQL for `{ sql }` entries. */
function insertSql<C extends readonly Column[]>(
  table: string,
  columns: C,
  row: Row<C, Value | { sql: string }>,
): { sql: string; params: DuckDBValue[] } {
  const params: DuckDBValue[] = [];
  const values = columns.map(([c, t]) => {
    const v = (row as Record<string, Value | { sql: string }>)[c];
    if (v !== null && typeof v === "object") return v.sql;
    params.push(v ?? null);
    return `$${params.length}${t === "JSON" ? "::JSON" : ""}`;
  });
  return { sql: `INSERT INTO ${table} (${columns.map(([c]) => c).join(", ")}) VALUES (${values.join(", ")})`, params };
}

/** One stored episode's key fields (what selection and statistics read). */
export interface EpisodeRow {
  /** The episode's key. */
  id: string;
  /** The generation it ran in. */
  generation: number;
  /** The strategy that played it. */
  strategyId: string;
  /** The challenge it ran on. */
  challengeId: string;
  /** Which attempt of the strategy on the challenge, from 0. */
  attempt: number;
  /** The episode seed. */
  seed: number;
  /** Whether the verdict passed. */
  pass: boolean;
  /** The verdict's score in [0, 1]. */
  score: number;
  /** Composite fitness. */
  composite: number;
  /** Total tokens the episode used. */
  tokensTotal: number;
  /** What the episode cost, in US dollars. */
  costUsd: number;
  /** Why the episode stopped. */
  stopReason: string;
  /** True when the challenge is not on the train split. */
  contaminated: boolean;
}

/** An episode ready to store: the runner's record plus the tournament's keys. */
export interface StoredEpisode {
  id: string;
  generation: number;
  contaminated: boolean;
  record: EpisodeRecord;
}

/** A run's header row. */
export interface RunRow {
  id: string;
  status: string;
  config: unknown;
  gitCommit: string | null;
  seed: number;
  modelName: string;
  modelId: string;
  sandbox: unknown;
}

/**
 * How the store's file is opened (see the module doc): its tables, the lab's lock wait, and checkpoint settings.
 * Closing would otherwise checkpoint, and a checkpoint rewrites the table's open row group — every episode stored
 * so far, ~0.3 s per thousand — on each short write. Committed transactions are safe in the write-ahead log,
 * which the next open replays (its cost grows with the log): DuckDB checkpoints by itself when the log passes
 * `checkpoint_threshold`, here 4 MB (measured best of 1, 4, 16 and 64 MB for 25-episode batches of a 2,250-episode
 * run), and a finished run checkpoints explicitly.
 */
const STORE_FILE: DuckDBFileOptions = {
  name: "the lab store",
  lockHint: "close the connection that notebook kernel or command keeps open — open the store per call, not with " +
    "openStore — or pass --db",
  schema: SCHEMA,
  setup: ["PRAGMA disable_checkpoint_on_shutdown", "SET checkpoint_threshold = '4MB'"],
};

/**
 * The store held open: one DuckDB instance and connection, its calls serialized (a connection runs one
 * transaction at a time). Close it with `await using` (STYLE #8).
 *
 * @example
 * ```ts
 * await using store = await openStore("data/lab.duckdb");
 * const rows = await readEpisodeRows(store, "t-1234");
 * ```
 */
export type OpenStore = DuckDBSession;

/**
 * A store by path (opened per call) or held open.
 * @internal
 */
export type StoreRef = string | OpenStore;

/** Opens the store at `path` (creating its tables) and holds it until closed. */
export function openStore(path: string): Promise<OpenStore> {
  return openDuckDBSession(path, { ...STORE_FILE, mode: "held" });
}

/** The path of a store reference. */
export function storePath(ref: StoreRef): string {
  return typeof ref === "string" ? ref : ref.path;
}

/**
 * Runs `fn` on a connection to the store: a held store's, or one opened for the call at a path (and closed
 * after). Creates the tables on first use. With `{ write: true }`, `fn` runs inside one transaction.
 */
export async function withStore<T>(
  ref: StoreRef,
  fn: (con: DuckDBConnection) => Promise<T>,
  options: { write?: boolean } = {},
): Promise<T> {
  const body = (con: DuckDBConnection) => options.write ? withTransaction(con, fn) : fn(con);
  if (typeof ref !== "string") return await ref.exclusive(body);
  return await withDuckDB(ref, body, STORE_FILE);
}

const json = (v: unknown) => JSON.stringify(v ?? null);

/** Inserts the run's header, or returns the stored one when the id exists. */
export async function upsertRun(path: StoreRef, run: RunRow): Promise<RunRow> {
  return await withStore(path, async (con) => {
    const existing = await readRun(con, run.id);
    if (existing) {
      await con.run("UPDATE runs SET updated_at = now(), status = $2 WHERE id = $1", [run.id, "running"]);
      return existing;
    }
    const insert = insertSql("runs", RUNS, {
      id: run.id,
      created_at: { sql: "now()" },
      updated_at: { sql: "now()" },
      status: run.status,
      config: json(run.config),
      git_commit: run.gitCommit,
      seed: run.seed,
      model_name: run.modelName,
      model_id: run.modelId,
      sandbox: json(run.sandbox),
    });
    await con.run(insert.sql, insert.params);
    return run;
  }, { write: true });
}

async function readRun(con: DuckDBConnection, id: string): Promise<RunRow | undefined> {
  const rows = (await con.runAndReadAll(
    "SELECT id, status, config::VARCHAR AS config, git_commit, seed, model_name, model_id, sandbox::VARCHAR AS sandbox FROM runs WHERE id = $1",
    [id],
  )).getRowObjectsJson();
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: String(r.id),
    status: String(r.status),
    config: JSON.parse(String(r.config)),
    gitCommit: r.git_commit === null ? null : String(r.git_commit),
    seed: Number(r.seed),
    modelName: String(r.model_name),
    modelId: String(r.model_id),
    sandbox: JSON.parse(String(r.sandbox)),
  };
}

/** Sets a run's status (`running`, `completed`, `aborted`). */
export async function setRunStatus(path: StoreRef, id: string, status: string): Promise<void> {
  await withStore(path, async (con) => {
    await con.run("UPDATE runs SET updated_at = now(), status = $2 WHERE id = $1", [id, status]);
  }, { write: true });
  // The run's writes leave a write-ahead log (see STORE_FILE); fold it into the file once the run stops.
  if (status !== "running") await withStore(path, (con) => con.run("CHECKPOINT"));
}

/** Stores strategies with their lineage (already stored ids are left as they are). */
export async function insertStrategies(
  path: StoreRef,
  runId: string,
  generation: number,
  items: readonly { strategy: Strategy; lineage: Lineage }[],
): Promise<void> {
  if (!items.length) return;
  await withStore(path, async (con) => {
    for (const { strategy, lineage } of items) {
      const { prompt: _shared, ...data } = strategy;
      const insert = insertSql("strategies", STRATEGIES, {
        run_id: runId,
        id: strategy.id,
        generation,
        operation: lineage.operation,
        parents: json(lineage.parents),
        changed: json(lineage.changed),
        strategy: json(data),
      });
      await con.run(`${insert.sql} ON CONFLICT DO NOTHING`, insert.params);
    }
  }, { write: true });
}

/** Appends a row to a table's appender, each value by its column's type (JSON as text). */
function appendRow<C extends readonly Column[]>(app: DuckDBAppender, columns: C, row: Row<C>) {
  for (const [c, t] of columns) {
    const v = (row as Record<string, Value>)[c];
    if (v === null || v === undefined) app.appendNull();
    else if (t === "INTEGER") app.appendInteger(Number(v));
    else if (t === "BIGINT") app.appendBigInt(BigInt(Math.round(Number(v))));
    else if (t === "DOUBLE") app.appendDouble(Number(v));
    else if (t === "BOOLEAN") app.appendBoolean(Boolean(v));
    else app.appendVarchar(String(v));
  }
  app.endRow();
}

/**
 * Stores a batch of episodes (and their queries) in one transaction; ids already stored are skipped. Rows go in
 * through DuckDB's appender after one lookup of the batch's ids: `INSERT … ON CONFLICT DO NOTHING` costs ~5 ms
 * a statement, more than the rest of a fast episode.
 */
export async function insertEpisodes(path: StoreRef, runId: string, episodes: readonly StoredEpisode[]): Promise<void> {
  if (!episodes.length) return;
  await withStore(path, async (con) => {
    const ids = [...new Set(episodes.map((e) => e.id))];
    const stored = new Set(
      (await con.runAndReadAll(
        `SELECT id FROM episodes WHERE run_id = $1 AND id IN (${ids.map(sqlString).join(", ")})`,
        [runId],
      )).getRows().map(([id]) => String(id)),
    );
    const fresh = episodes.filter((e) => !stored.has(e.id) && (stored.add(e.id), true));
    if (!fresh.length) return;
    const eps = await con.createAppender("episodes");
    const qs = await con.createAppender("queries");
    try {
      if (eps.columnCount !== EPISODES.length || qs.columnCount !== QUERIES.length) {
        throw new Error(
          `the lab store ${storePath(path)} has tables of another layout (episodes: ${eps.columnCount} columns, queries: ` +
            `${qs.columnCount}; expected ${EPISODES.length} and ${QUERIES.length}); use a new --db file`,
        );
      }
      for (const { id, generation, contaminated, record: r } of fresh) {
        appendRow(eps, EPISODES, {
          run_id: runId,
          id,
          generation,
          strategy_id: r.strategyId,
          challenge_id: r.challengeId,
          family: r.challenge.family,
          level: r.challenge.level,
          split: r.challenge.split,
          contaminated,
          attempt: r.attempt,
          seed: r.seed,
          model_name: r.model.name,
          model_id: r.model.id,
          pass: r.verdict.pass,
          score: r.verdict.score,
          reason: r.verdict.reason,
          composite: r.fitness.composite,
          fitness: json(r.fitness),
          tokens_input: r.tokens.input,
          tokens_output: r.tokens.output,
          tokens_total: r.tokens.total,
          cost_usd: r.costUsd,
          stop_reason: r.stopReason,
          stop_detail: r.stopDetail,
          latency_ms: r.latencyMs,
          started_at: r.startedAt,
          trace: json(r),
        });
        for (const [idx, q] of r.queries.entries()) {
          appendRow(qs, QUERIES, {
            run_id: runId,
            episode_id: id,
            idx,
            call: q.call,
            tool: q.tool,
            sql: q.sql,
            ok: q.ok,
            refused: q.refused ?? false,
            row_count: q.rowCount ?? null,
            error: q.error ?? null,
            ms: q.ms,
          });
        }
      }
      eps.flushSync();
      qs.flushSync();
    } finally {
      // Closing an appender flushes it; after a failure the transaction is rolled back, so that error is moot.
      for (const a of [eps, qs]) {
        try {
          a.closeSync();
        } catch { /* the transaction is being rolled back */ }
      }
    }
  }, { write: true });
}

/** Stores a finished generation: its population, ranking, statistics and selection decisions. */
export async function upsertGeneration(
  path: StoreRef,
  runId: string,
  row: { generation: number; population: string[]; ranking: unknown; replaced: string[]; children: unknown; stats: unknown },
): Promise<void> {
  await withStore(path, async (con) => {
    await con.run("DELETE FROM generations WHERE run_id = $1 AND generation = $2", [runId, row.generation]);
    const insert = insertSql("generations", GENERATIONS, {
      run_id: runId,
      generation: row.generation,
      population: json(row.population),
      ranking: json(row.ranking),
      replaced: json(row.replaced),
      children: json(row.children),
      stats: json(row.stats),
    });
    await con.run(insert.sql, insert.params);
  }, { write: true });
}

/** Ids of the run's stored episodes. */
export async function storedEpisodeIds(path: StoreRef, runId: string): Promise<Set<string>> {
  return await withStore(path, async (con) => {
    const rows = (await con.runAndReadAll("SELECT id FROM episodes WHERE run_id = $1", [runId])).getRows();
    return new Set(rows.map(([id]) => String(id)));
  });
}

/** The key fields of a run's episodes (of one generation, or all), ordered by id. */
export async function readEpisodeRows(path: StoreRef, runId: string, generation?: number): Promise<EpisodeRow[]> {
  return await withStore(path, async (con) => {
    const rows = (await con.runAndReadAll(
      `SELECT id, generation, strategy_id, challenge_id, attempt, seed, pass, score, composite, tokens_total,
              cost_usd, stop_reason, contaminated
       FROM episodes WHERE run_id = $1 AND ($2::INTEGER IS NULL OR generation = $2::INTEGER) ORDER BY id`,
      [runId, generation ?? null],
    )).getRowObjectsJson();
    return rows.map((r) => ({
      id: String(r.id),
      generation: Number(r.generation),
      strategyId: String(r.strategy_id),
      challengeId: String(r.challenge_id),
      attempt: Number(r.attempt),
      seed: Number(r.seed),
      pass: Boolean(r.pass),
      score: Number(r.score),
      composite: Number(r.composite),
      tokensTotal: Number(r.tokens_total),
      costUsd: Number(r.cost_usd),
      stopReason: String(r.stop_reason),
      contaminated: Boolean(r.contaminated),
    }));
  });
}

/**
 * A run's stored episode records (the full traces the runner returned), in id order, `limit` at a time from
 * `offset`: how other folders read a run's episodes back (e.g. the pattern memory's ingestion).
 *
 * @example
 * ```ts
 * for (let at = 0;; at += 500) {
 *   const batch = await readEpisodeRecords(db, runId, { offset: at, limit: 500 });
 *   if (!batch.length) break;
 * }
 * ```
 */
export async function readEpisodeRecords(
  path: StoreRef,
  runId: string,
  page: { offset?: number; limit?: number } = {},
): Promise<EpisodeRecord[]> {
  return await withStore(path, async (con) => {
    const rows = (await con.runAndReadAll(
      "SELECT trace::VARCHAR AS t FROM episodes WHERE run_id = $1 ORDER BY id LIMIT $2 OFFSET $3",
      [runId, page.limit ?? 2 ** 31 - 1, page.offset ?? 0],
    )).getRowObjectsJson();
    return rows.map((r) => JSON.parse(String(r.t)) as EpisodeRecord);
  });
}

/** The strategy a run stored under `id` (without the shared prompt text, which it was stored without), or undefined. */
export async function readStoredStrategy(path: StoreRef, runId: string, id: string): Promise<Omit<Strategy, "prompt"> | undefined> {
  return await withStore(path, async (con) => {
    const [row] = (await con.runAndReadAll("SELECT strategy::VARCHAR AS s FROM strategies WHERE run_id = $1 AND id = $2", [runId, id]))
      .getRowObjectsJson();
    return row ? JSON.parse(String(row.s)) : undefined;
  });
}

/** The config snapshot a run was registered with (its `config` field is the tournament config), or undefined. */
export async function readRunSnapshot(path: StoreRef, runId: string): Promise<{ config?: unknown } | undefined> {
  return await withStore(path, async (con) => {
    const [row] = (await con.runAndReadAll("SELECT config::VARCHAR AS c FROM runs WHERE id = $1", [runId])).getRowObjectsJson();
    return row ? JSON.parse(String(row.c)) : undefined;
  });
}

/** A passing episode's solution: its challenge family and the SQL of its successful queries, in order. */
export interface EpisodeSolution {
  id: string;
  generation: number;
  family: string;
  /** Statements the agent ran that succeeded (dbRead and dbWrite, refused ones excluded). */
  sql: string[];
}

/** The solutions of a run's passing episodes (for the pattern discovery rate), ordered by id. */
export async function readSolutions(path: StoreRef, runId: string): Promise<EpisodeSolution[]> {
  return await withStore(path, async (con) => {
    const rows = (await con.runAndReadAll(
      `SELECT e.id, e.generation, e.family,
              coalesce(to_json(list(q.sql ORDER BY q.idx) FILTER (WHERE q.ok AND NOT q.refused)), '[]')::VARCHAR AS sql
       FROM episodes e LEFT JOIN queries q ON q.run_id = e.run_id AND q.episode_id = e.id
       WHERE e.run_id = $1 AND e.pass
       GROUP BY e.id, e.generation, e.family ORDER BY e.id`,
      [runId],
    )).getRowObjectsJson();
    return rows.map((r) => ({
      id: String(r.id),
      generation: Number(r.generation),
      family: String(r.family),
      sql: (JSON.parse(String(r.sql)) as string[] | null) ?? [],
    }));
  });
}

/** Runs a read-only query against the store and returns rows as JSON objects (for notebooks and tests). */
export async function queryStore(path: StoreRef, sql: string, params: DuckDBValue[] = []): Promise<Record<string, unknown>[]> {
  return await withStore(path, async (con) => (await con.runAndReadAll(sql, params)).getRowObjectsJson() as Record<string, unknown>[]);
}

/** A run as listed: id, status, when, and how many episodes are stored. */
export interface RunListing {
  id: string;
  status: string;
  createdAt: string;
  modelName: string;
  episodes: number;
}

/** The runs in the store, newest first. */
export async function listRuns(path: StoreRef): Promise<RunListing[]> {
  return await withStore(path, async (con) => {
    const rows = (await con.runAndReadAll(
      `SELECT r.id, r.status, r.created_at::VARCHAR AS created_at, r.model_name,
              (SELECT count(*) FROM episodes e WHERE e.run_id = r.id)::INTEGER AS episodes
       FROM runs r ORDER BY r.created_at DESC, r.id`,
    )).getRowObjectsJson();
    return rows.map((r) => ({
      id: String(r.id),
      status: String(r.status),
      createdAt: String(r.created_at),
      modelName: String(r.model_name),
      episodes: Number(r.episodes),
    }));
  });
}
