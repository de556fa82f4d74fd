/**
 * The tournament's store in the lab's DuckDB file (default `data/lab.duckdb`, gitignored): tables `runs`,
 * `strategies` (with lineage), `generations`, `episodes` (key fields + full trace JSON) and `queries`.
 *
 * Every function takes a path or an {@linkcode OpenStore}. With a path the file is opened for the call and
 * closed again, unlocked in between: that is how a tournament uses it — one short transaction per batch of
 * episodes — so a notebook kernel or another CLI command can read and write the same file during a run. (Closing
 * does not checkpoint: committed writes stay in the write-ahead log, which the next open replays, until DuckDB
 * folds it into the file at 4 MB or a run ends; see `openInstance`.) DuckDB lets one process at a time open a file; an open that finds it locked
 * by another process is retried (with growing waits, for up to `LAB_STORE_LOCK_TIMEOUT_MS`, default 30 s)
 * before it fails with a message naming the file. An {@linkcode OpenStore} holds the file for as long as it is
 * open (no other process can use it meanwhile): for scripts and benches that want many small calls without
 * paying ~10–20 ms per open.
 *
 * Crash safety: every write is one transaction — a batch of whole episodes with their queries, a generation's
 * row, a strategy list — and the run header is inserted once, so a process killed at any moment (SIGKILL
 * included) leaves only whole episodes behind; DuckDB replays its write-ahead log of committed transactions
 * when the file is next opened, and a resumed run re-runs what is missing.
 * @module
 */
import { type DuckDBAppender, type DuckDBConnection, DuckDBInstance, type DuckDBValue } from "@duckdb/node-api";
import { dirname } from "node:path";
import { existsSync } from "node:fs";
import type { EpisodeRecord, Strategy } from "../agents/mod.ts";
import { repoPath } from "../util/mod.ts";
import type { Lineage } from "./evolve.ts";

/** The lab's default store. */
export const DEFAULT_DB_PATH: string = repoPath("data/lab.duckdb");

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS runs (
    id VARCHAR PRIMARY KEY, created_at TIMESTAMP, updated_at TIMESTAMP, status VARCHAR,
    config JSON, git_commit VARCHAR, seed BIGINT, model_name VARCHAR, model_id VARCHAR, sandbox JSON)`,
  `CREATE TABLE IF NOT EXISTS strategies (
    run_id VARCHAR, id VARCHAR, generation INTEGER, operation VARCHAR, parents JSON, changed JSON, strategy JSON,
    PRIMARY KEY (run_id, id))`,
  `CREATE TABLE IF NOT EXISTS generations (
    run_id VARCHAR, generation INTEGER, population JSON, ranking JSON, replaced JSON, children JSON, stats JSON,
    PRIMARY KEY (run_id, generation))`,
  `CREATE TABLE IF NOT EXISTS episodes (
    run_id VARCHAR, id VARCHAR, generation INTEGER, strategy_id VARCHAR, challenge_id VARCHAR, family VARCHAR,
    level INTEGER, split VARCHAR, contaminated BOOLEAN, attempt INTEGER, seed BIGINT, model_name VARCHAR,
    model_id VARCHAR, pass BOOLEAN, score DOUBLE, reason VARCHAR, composite DOUBLE, fitness JSON,
    tokens_input BIGINT, tokens_output BIGINT, tokens_total BIGINT, cost_usd DOUBLE, stop_reason VARCHAR,
    stop_detail VARCHAR, latency_ms DOUBLE, started_at VARCHAR, trace JSON,
    PRIMARY KEY (run_id, id))`,
  `CREATE TABLE IF NOT EXISTS queries (
    run_id VARCHAR, episode_id VARCHAR, idx INTEGER, call INTEGER, tool VARCHAR, sql VARCHAR, ok BOOLEAN,
    refused BOOLEAN, row_count BIGINT, error VARCHAR, ms DOUBLE,
    PRIMARY KEY (run_id, episode_id, idx))`,
];

/** One stored episode's key fields (what selection and statistics read). */
export interface EpisodeRow {
  id: string;
  generation: number;
  strategyId: string;
  challengeId: string;
  attempt: number;
  seed: number;
  pass: boolean;
  score: number;
  composite: number;
  tokensTotal: number;
  costUsd: number;
  stopReason: string;
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

/** Stores whose tables this process has created (or seen), so later opens skip the DDL. */
const initialized = new Set<string>();

function isLockError(e: unknown): boolean {
  return /lock|Could not set lock|Conflicting/i.test(String((e as Error)?.message ?? e));
}

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
export interface OpenStore extends AsyncDisposable {
  readonly path: string;
  /** Runs `fn` on the connection after every earlier call has finished. */
  exclusive<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A store by path (opened per call) or held open. */
export type StoreRef = string | OpenStore;

/** How long an open waits for another process's lock on the store. @default 30 s, or `LAB_STORE_LOCK_TIMEOUT_MS` */
function lockTimeoutMs(): number {
  const v = Number(Deno.env.get("LAB_STORE_LOCK_TIMEOUT_MS"));
  return Number.isFinite(v) && v >= 0 ? v : 30_000;
}

async function openInstance(path: string): Promise<{ instance: DuckDBInstance; con: DuckDBConnection }> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const fresh = !existsSync(path);
  let instance: DuckDBInstance | undefined;
  const t0 = performance.now();
  const budget = lockTimeoutMs();
  for (let attempt = 0;; attempt++) {
    try {
      instance = await DuckDBInstance.create(path);
      break;
    } catch (e) {
      const waited = performance.now() - t0;
      if (!isLockError(e) || waited >= budget) {
        throw new Error(
          `Cannot open the lab store ${path}: ${(e as Error).message.split("\n")[0]}` +
            (isLockError(e)
              ? ` (another process has held it for ${(waited / 1000).toFixed(1)} s; close the connection that notebook ` +
                `kernel or command keeps open — open the store per call, not with openStore — or pass --db)`
              : ""),
        );
      }
      // A tournament holds the file for tens of milliseconds per write: start short, then back off (≤ 250 ms).
      await new Promise((r) => setTimeout(r, Math.min(250, 10 * 1.5 ** attempt, Math.max(1, budget - waited))));
    }
  }
  const con = await instance.connect();
  try {
    // Closing would otherwise checkpoint, and a checkpoint rewrites the table's open row group — every episode
    // stored so far, ~0.3 s per thousand — on each short write. Committed transactions are safe in the
    // write-ahead log, which the next open replays (its cost grows with the log): DuckDB checkpoints by itself
    // when the log passes `checkpoint_threshold`, here 4 MB (measured best of 1, 4, 16 and 64 MB for 25-episode
    // batches of a 2,250-episode run), and a finished run checkpoints explicitly.
    await con.run("PRAGMA disable_checkpoint_on_shutdown");
    await con.run("SET checkpoint_threshold = '4MB'");
    if (fresh || !initialized.has(path)) {
      for (const sql of SCHEMA) await con.run(sql);
      initialized.add(path);
    }
  } catch (e) {
    con.closeSync();
    instance.closeSync();
    throw e;
  }
  return { instance, con };
}

/** Opens the store at `path` (creating its tables) and holds it until closed. */
export async function openStore(path: string): Promise<OpenStore> {
  const { instance, con } = await openInstance(path);
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const exclusive = <T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> => {
    if (closed) return Promise.reject(new Error(`the store ${path} is closed`));
    const out = queue.then(() => fn(con));
    queue = out.catch(() => {});
    return out;
  };
  const close = async () => {
    if (closed) return;
    closed = true;
    await queue;
    con.closeSync();
    instance.closeSync();
  };
  return { path, exclusive, close, [Symbol.asyncDispose]: close };
}

/** The path of a store reference. */
export function storePath(ref: StoreRef): string {
  return typeof ref === "string" ? ref : ref.path;
}

async function inTransaction<T>(con: DuckDBConnection, fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
  await con.run("BEGIN TRANSACTION");
  try {
    const out = await fn(con);
    await con.run("COMMIT");
    return out;
  } catch (e) {
    await con.run("ROLLBACK").catch(() => {});
    throw e;
  }
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
  const body = (con: DuckDBConnection) => options.write ? inTransaction(con, fn) : fn(con);
  if (typeof ref !== "string") return await ref.exclusive(body);
  const { instance, con } = await openInstance(ref);
  try {
    return await body(con);
  } finally {
    con.closeSync();
    instance.closeSync();
  }
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
    await con.run(
      `INSERT INTO runs VALUES ($1, now(), now(), $2, $3::JSON, $4, $5, $6, $7, $8::JSON)`,
      [run.id, run.status, json(run.config), run.gitCommit, run.seed, run.modelName, run.modelId, json(run.sandbox)],
    );
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
  // The run's writes leave a write-ahead log (see openInstance); fold it into the file once the run stops.
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
      await con.run(
        `INSERT INTO strategies VALUES ($1, $2, $3, $4, $5::JSON, $6::JSON, $7::JSON) ON CONFLICT DO NOTHING`,
        [runId, strategy.id, generation, lineage.operation, json(lineage.parents), json(lineage.changed), json(data)],
      );
    }
  }, { write: true });
}

/** A column kind of the appender rows below. */
type Kind = "v" | "i" | "b" | "d" | "o";
const EPISODE_KINDS: Kind[] = [..."vvivvvivoibvvodvdvbbbdvvdvv"] as Kind[];
const QUERY_KINDS: Kind[] = [..."vviivvoobvd"] as Kind[];

function appendRow(app: DuckDBAppender, kinds: readonly Kind[], values: readonly (string | number | boolean | null | undefined)[]) {
  for (const [i, k] of kinds.entries()) {
    const v = values[i];
    if (v === null || v === undefined) app.appendNull();
    else if (k === "v") app.appendVarchar(String(v));
    else if (k === "i") app.appendInteger(Number(v));
    else if (k === "b") app.appendBigInt(BigInt(Math.round(Number(v))));
    else if (k === "d") app.appendDouble(Number(v));
    else app.appendBoolean(Boolean(v));
  }
  app.endRow();
}

const sqlText = (s: string) => `'${s.replaceAll("'", "''")}'`;

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
        `SELECT id FROM episodes WHERE run_id = $1 AND id IN (${ids.map(sqlText).join(", ")})`,
        [runId],
      )).getRows().map(([id]) => String(id)),
    );
    const fresh = episodes.filter((e) => !stored.has(e.id) && (stored.add(e.id), true));
    if (!fresh.length) return;
    const eps = await con.createAppender("episodes");
    const qs = await con.createAppender("queries");
    try {
      if (eps.columnCount !== EPISODE_KINDS.length || qs.columnCount !== QUERY_KINDS.length) {
        throw new Error(
          `the lab store ${storePath(path)} has tables of another layout (episodes: ${eps.columnCount} columns, queries: ` +
            `${qs.columnCount}; expected ${EPISODE_KINDS.length} and ${QUERY_KINDS.length}); use a new --db file`,
        );
      }
      for (const { id, generation, contaminated, record: r } of fresh) {
        appendRow(eps, EPISODE_KINDS, [
          runId, id, generation, r.strategyId, r.challengeId, r.challenge.family, r.challenge.level, r.challenge.split,
          contaminated, r.attempt, r.seed, r.model.name, r.model.id, r.verdict.pass, r.verdict.score, r.verdict.reason,
          r.fitness.composite, json(r.fitness), r.tokens.input, r.tokens.output, r.tokens.total, r.costUsd,
          r.stopReason, r.stopDetail, r.latencyMs, r.startedAt, json(r),
        ]);
        for (const [idx, q] of r.queries.entries()) {
          appendRow(qs, QUERY_KINDS, [
            runId, id, idx, q.call, q.tool, q.sql, q.ok, q.refused ?? false, q.rowCount ?? null, q.error ?? null, q.ms,
          ]);
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
    await con.run(
      "INSERT INTO generations VALUES ($1, $2, $3::JSON, $4::JSON, $5::JSON, $6::JSON, $7::JSON)",
      [runId, row.generation, json(row.population), json(row.ranking), json(row.replaced), json(row.children), json(row.stats)],
    );
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
