/**
 * The lab's DuckDB files, opened one way.
 *
 * - **Locks**: DuckDB lets one process at a time open a file. An open that finds it held by another process is
 *   retried with growing waits (10 ms up to 250 ms) for {@linkcode lockWaitMs} (`LAB_STORE_LOCK_TIMEOUT_MS`,
 *   default 30 s; a caller may pass its own), then fails with one line naming the file and what to do.
 * - **Tables**: a file's DDL (idempotent) runs when this process first opens the file, and whenever the file is
 *   new; `setup` statements (settings) run on every connection.
 * - **Per call or held**: {@linkcode withDuckDB} opens the file for one call and closes it after, so other
 *   processes can use it in between; a {@linkcode DuckDBSession} serializes its calls, either on a connection it
 *   holds until closed (`mode: "held"`: no open per call, the file stays locked) or on a connection opened for
 *   each call (`mode: "per-call"`).
 * - **Transactions**: {@linkcode withTransaction} commits what `fn` did, or rolls it back and rethrows.
 * @module
 */
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { existsSync } from "node:fs";
import { dirname } from "node:path";

/** How to open a DuckDB file. */
export interface DuckDBFileOptions {
  /** What the file is, in errors (e.g. "the lab store"). @default "the DuckDB file" */
  name?: string;
  /** How long to retry a file another process holds, in ms. @default lockWaitMs() */
  lockTimeoutMs?: number;
  /** What to do about a file another process holds (ends the error message). */
  lockHint?: string;
  /** Idempotent DDL, run when this process first opens the file and whenever the file is new. */
  schema?: readonly string[];
  /** Statements run on every connection before use (settings). */
  setup?: readonly string[];
}

/** How long an open waits for another process's lock: `LAB_STORE_LOCK_TIMEOUT_MS` (ms), else 30 s. */
export function lockWaitMs(): number {
  const v = Number(Deno.env.get("LAB_STORE_LOCK_TIMEOUT_MS"));
  return Number.isFinite(v) && v >= 0 ? v : 30_000;
}

/** True when DuckDB refused to open a file because another process holds its lock. */
export function isLockError(e: unknown): boolean {
  return /lock|Conflicting/i.test(String((e as Error)?.message ?? e));
}

/** Files whose DDL this process has run, per DDL list. */
const created = new WeakMap<readonly string[], Set<string>>();

/** A DuckDB instance with its connection; `close()` closes both. */
export interface DuckDBOpen {
  instance: DuckDBInstance;
  con: DuckDBConnection;
  close(): void;
}

/**
 * Opens `path` (`":memory:"` for a throwaway database; folders are created), retrying a lock another process
 * holds (see the module doc), runs `setup` and, on first use, `schema`. Close it with `close()`.
 *
 * @example
 * ```ts
 * const db = await openDuckDB("data/lab.duckdb", { name: "the lab store", schema: ["CREATE TABLE IF NOT EXISTS t (x INTEGER)"] });
 * try { await db.con.run("INSERT INTO t VALUES (1)"); } finally { db.close(); }
 * ```
 */
export async function openDuckDB(path: string, options: DuckDBFileOptions = {}): Promise<DuckDBOpen> {
  const memory = path === ":memory:";
  if (!memory) await Deno.mkdir(dirname(path), { recursive: true });
  const fresh = memory || !existsSync(path);
  const budget = options.lockTimeoutMs ?? lockWaitMs();
  const t0 = performance.now();
  let instance: DuckDBInstance;
  for (let attempt = 0;; attempt++) {
    try {
      instance = await DuckDBInstance.create(path);
      break;
    } catch (e) {
      const waited = performance.now() - t0;
      if (!isLockError(e) || waited >= budget) {
        throw new Error(
          `Cannot open ${options.name ?? "the DuckDB file"} ${path}: ${String((e as Error)?.message ?? e).split("\n")[0]}` +
            (isLockError(e)
              ? ` (another process has held it for ${(waited / 1000).toFixed(1)} s${options.lockHint ? `; ${options.lockHint}` : ""})`
              : ""),
        );
      }
      // A writer holds a file for tens of milliseconds: start short, then back off (≤ 250 ms).
      await new Promise((r) => setTimeout(r, Math.min(250, 10 * 1.5 ** attempt, Math.max(1, budget - waited))));
    }
  }
  let con: DuckDBConnection | undefined;
  try {
    con = await instance.connect();
    for (const sql of options.setup ?? []) await con.run(sql);
    if (options.schema) {
      let done = created.get(options.schema);
      if (!done) created.set(options.schema, done = new Set());
      if (fresh || !done.has(path)) {
        for (const sql of options.schema) await con.run(sql);
        if (!memory) done.add(path);
      }
    }
  } catch (e) {
    con?.closeSync();
    instance.closeSync();
    throw e;
  }
  const c = con;
  return {
    instance,
    con: c,
    close: () => {
      c.closeSync();
      instance.closeSync();
    },
  };
}

/** Runs `fn` on a connection to `path` opened for the call (see {@linkcode openDuckDB}), and closes it after. */
export async function withDuckDB<T>(
  path: string,
  fn: (con: DuckDBConnection) => Promise<T>,
  options: DuckDBFileOptions = {},
): Promise<T> {
  const db = await openDuckDB(path, options);
  try {
    return await fn(db.con);
  } finally {
    db.close();
  }
}

/**
 * Runs `fn` in one transaction on `con`: commits what it did, or rolls back and rethrows.
 *
 * @example
 * ```ts
 * await withTransaction(con, async (c) => { await c.run("DELETE FROM t"); await c.run("INSERT INTO t VALUES (1)"); });
 * ```
 */
export async function withTransaction<T>(
  con: DuckDBConnection,
  fn: (con: DuckDBConnection) => Promise<T>,
): Promise<T> {
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

/** Options for {@linkcode openDuckDBSession}. */
export interface DuckDBSessionOptions extends DuckDBFileOptions {
  /**
   * `"held"`: one connection until `close()` (no open per call; the file stays locked). `"per-call"`: the file is
   * opened for each call and closed after, so other processes can use it in between.
   * @default "held"
   */
  mode?: "held" | "per-call";
}

/** A DuckDB file whose calls run one at a time, held open or opened per call; close it with `await using`. */
export interface DuckDBSession extends AsyncDisposable {
  readonly path: string;
  /** Runs `fn` on a connection after every earlier call of the session has finished. */
  exclusive<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T>;
  /** Waits for running calls, then closes (idempotent); later calls are refused. */
  close(): Promise<void>;
}

/**
 * A session on `path` (see {@linkcode DuckDBSession}); with `mode: "held"` the file is opened (and its tables
 * created) now.
 *
 * @example
 * ```ts
 * await using db = await openDuckDBSession("data/lab.duckdb", { name: "the lab store" });
 * const n = await db.exclusive(async (con) => (await con.runAndReadAll("SELECT 42")).getRows()[0][0]);
 * ```
 */
export async function openDuckDBSession(path: string, options: DuckDBSessionOptions = {}): Promise<DuckDBSession> {
  const held = (options.mode ?? "held") === "held" ? await openDuckDB(path, options) : undefined;
  const name = options.name ?? "the DuckDB file";
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;
  const exclusive = <T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> => {
    if (closed) {
      return Promise.reject(new Error(`${name[0].toUpperCase()}${name.slice(1)} ${path} is closed; open it again`));
    }
    const out = queue.then(() => (held ? fn(held.con) : withDuckDB(path, fn, options)));
    queue = out.catch(() => {});
    return out;
  };
  const close = async () => {
    if (closed) return;
    closed = true;
    await queue;
    held?.close();
  };
  return { path, exclusive, close, [Symbol.asyncDispose]: close };
}
