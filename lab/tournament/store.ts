/**
 * The tournament's store in the lab's DuckDB file (default `data/lab.duckdb`, gitignored): tables `runs`,
 * `strategies` (with lineage), `generations`, `episodes` (key fields + full trace JSON) and `queries`.
 *
 * Every function takes a path (the file is opened for the call and closed again, so a notebook kernel reading
 * it never holds a lock for long; a locked file is retried for a few seconds) or an {@linkcode OpenStore} that a
 * run holds for its whole length (opening the file costs tens of milliseconds and closing it checkpoints, which
 * would dominate a fast model's episodes).
 *
 * Crash safety: every write is one transaction — a batch of whole episodes with their queries, a generation's
 * row, a strategy list — and the run header is inserted once, so a process killed at any moment (SIGKILL
 * included) leaves only whole episodes behind; DuckDB replays its write-ahead log of committed transactions
 * when the file is next opened, and a resumed run re-runs what is missing.
 * @module
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from "@duckdb/node-api";
import { dirname } from "node:path";
import { existsSync } from "node:fs";
import type { EpisodeRecord } from "../agents/runner.ts";
import type { Strategy } from "../agents/strategies.ts";
import { repoPath } from "../util/paths.ts";
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

async function openInstance(path: string): Promise<{ instance: DuckDBInstance; con: DuckDBConnection }> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const fresh = !existsSync(path);
  let instance: DuckDBInstance | undefined;
  for (let attempt = 0;; attempt++) {
    try {
      instance = await DuckDBInstance.create(path);
      break;
    } catch (e) {
      if (!isLockError(e) || attempt >= 40) {
        throw new Error(`Cannot open the lab store ${path}: ${(e as Error).message.split("\n")[0]}` +
          (isLockError(e) ? " (another process holds it; close that notebook kernel or pass --db)" : ""));
      }
      await new Promise((r) => setTimeout(r, 100 + attempt * 25));
    }
  }
  const con = await instance.connect();
  try {
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

/** Stores a batch of episodes (and their queries) in one transaction; ids already stored are skipped. */
export async function insertEpisodes(path: StoreRef, runId: string, episodes: readonly StoredEpisode[]): Promise<void> {
  if (!episodes.length) return;
  await withStore(path, async (con) => {
    for (const { id, generation, contaminated, record: r } of episodes) {
      const values: DuckDBValue[] = [
        runId, id, generation, r.strategyId, r.challengeId, r.challenge.family, r.challenge.level, r.challenge.split,
        contaminated, r.attempt, r.seed, r.model.name, r.model.id, r.verdict.pass, r.verdict.score, r.verdict.reason,
        r.fitness.composite, json(r.fitness), r.tokens.input, r.tokens.output, r.tokens.total, r.costUsd,
        r.stopReason, r.stopDetail, r.latencyMs, r.startedAt, json(r),
      ];
      const marks = values.map((_, i) => `$${i + 1}${i === 17 || i === 26 ? "::JSON" : ""}`).join(", ");
      await con.run(`INSERT INTO episodes VALUES (${marks}) ON CONFLICT DO NOTHING`, values);
      for (const [idx, q] of r.queries.entries()) {
        await con.run(
          `INSERT INTO queries VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
          [runId, id, idx, q.call, q.tool, q.sql, q.ok, q.refused ?? false, q.rowCount ?? null, q.error ?? null, q.ms],
        );
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
