/**
 * Episode isolation: every agent attempt works on its own copy of one tenant's data, starting pristine, in a
 * process of its own.
 *
 * Mechanism (measured in `episode_bench.ts`):
 * - A {@linkcode SandboxPool} keeps, per organization, a few *sandbox worker processes* (`_worker.ts`), each
 *   holding one locked-down in-memory DuckDB instance: the sandbox file is ATTACHed READ_ONLY, every table is
 *   created with its primary key and filled with `WHERE org_id = ?` (tenant isolation is structural, not a view),
 *   the as-of clock macros and the semantic views are created, the file is DETACHed, then memory/thread caps,
 *   `temp_directory=''`, extension autoload/autoinstall off, `enable_external_access=false` and
 *   `lock_configuration=true`. The process then caps its own address space (RLIMIT_AS). Loading costs a process
 *   start (~150 ms) plus tens of milliseconds; it is paid once per instance, not per episode.
 * - Untrusted SQL never runs in the lab's process. Every request that touches it (parse, prepare, explain,
 *   execute, convert) has a deadline: DuckDB's `interrupt()` stops execution inside the worker, and the parent
 *   kills the whole process when a request overruns (preparation and constant folding ignore `interrupt()`).
 *   The episode then continues on a fresh process: its accepted writes are replayed and must reproduce every
 *   table's hash exactly.
 * - An episode opens `BEGIN TRANSACTION` on the worker's agent connection; nothing is ever committed.
 * - DuckDB has no SAVEPOINT, so a rejected write or an aborted transaction is undone by `ROLLBACK; BEGIN` and
 *   replaying the accepted writes (and their audit rows), checked by hash; a mismatch discards the instance.
 * - Writes are judged by their effect, from the data (see `_engine.ts`); the caller authorises the effect.
 * - `release()` returns the worker at once; in the background it rolls back, checks (after an episode that wrote)
 *   that the committed state is still the starting state, and opens the next episode's transaction. The next
 *   `acquire()` of that worker waits for this and replaces a worker that failed it.
 *
 * @example
 * ```ts
 * await using pool = await SandboxPool.open("data/sandbox/tiny-s1-2024-06-30.duckdb");
 * await using ep = await pool.acquire(1, { role: "accountant" });
 * const [{ n }] = await ep.query("SELECT count(*) AS n FROM customers");
 * ```
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { existsSync } from "node:fs";
import { readManifest } from "./generate.ts";
import { TABLE_NAMES } from "./schema.ts";
import type { Analysis, ReplayEntry, SqlRow, SqlValue, StreamResult, TableChange, TableHashes, WriteEffect } from "./_engine.ts";
import { errorText, sqlString } from "./_engine.ts";
import { WorkerError, WorkerLost, type WorkerMemory, WorkerProcess } from "./_process.ts";

export type { Analysis, SqlRow, SqlValue, StreamResult, TableChange, WriteEffect };
export { capValue } from "./_engine.ts";
export { errorText, sqlString };

/** A write the episode accepted; replayed after any rollback so the episode state survives agent mistakes. */
export interface AcceptedWrite {
  sql: string;
  /** The table(s) the write changed, from the data (comma-separated if several; '' for a write that changed nothing). */
  table: string;
  action: WriteAction;
  rowCount: number;
}

/** What a write statement does (DuckDB's statement type). */
export type WriteAction = "INSERT" | "UPDATE" | "DELETE";

/** A fingerprint of a database: per-table row counts and hashes, databases, settings and catalog objects. */
export interface DbSnapshot {
  tables: Record<string, { rows: number; hash: string }>;
  /** `duckdb_databases()`: name, path, readonly. */
  databases: string[];
  /** `duckdb_settings()` as name → value. */
  settings: Record<string, string>;
  /** Non-internal tables, views and macros, as `kind:schema.name`. */
  objects: string[];
}

/** A SQL failure on the agent connection, already recovered from (the episode keeps its accepted writes). */
export class SqlExecutionError extends Error {
  constructor(message: string, readonly kind: "error" | "timeout" | "rejected" | "broken") {
    super(message);
    this.name = "SqlExecutionError";
  }
}

/** Options for {@linkcode Episode.stream}. */
export interface StreamOptions {
  /** @default 200 */
  maxRows?: number;
  /** @default 5000 */
  timeoutMs?: number;
  /** Characters of one value (nested lists, structs and maps counted whole). @default 2000 */
  maxCellChars?: number;
  /** Characters of the whole result. @default 100000 */
  maxResultChars?: number;
}

/** What an authoriser sees of a write: its effect, by table, and a trusted query on the written state. */
export interface WriteCheck {
  /** DuckDB's statement type. */
  action: WriteAction;
  orgId: number;
  /** Rows changed as DuckDB reports them. */
  rowCount: number;
  /** Tables whose data changed, with rows inserted/updated/deleted by primary key and a before-copy. */
  changes: TableChange[];
  query(sql: string): Promise<SqlRow[]>;
}

/** Options for {@linkcode Episode.write}. */
export interface WriteOptions {
  action: WriteAction;
  /** For the whole write (it runs twice: the second run checks it is deterministic). @default 5000 */
  timeoutMs?: number;
  /** Returns a reason to reject the write (it is then rolled back without trace), or undefined to accept it. */
  authorize?: (check: WriteCheck) => Promise<string | undefined>;
}

/**
 * One agent attempt on one tenant with an acting role. Starts pristine; its writes never leave it.
 * Everything here is lab-internal and trusted: agents reach the episode only through `lab/tools`.
 * @internal
 */
export interface Episode extends AsyncDisposable {
  readonly orgId: number;
  readonly role: string;
  /** The as-of date ('YYYY-MM-DD') that `current_date`, `today()` and `now()` return. */
  readonly asOf: string;
  /** Accepted writes, in order. */
  readonly writes: readonly AcceptedWrite[];
  /** Lower-case names of the ERP tables and semantic views the episode can read. */
  readonly relations: ReadonlySet<string>;
  /** The episode's database could not be restored; every further call fails. */
  readonly broken: boolean;
  /** Resolves when the episode's worker is ready (after a killed statement, a fresh one is being started). */
  ready(): Promise<void>;
  /** Trusted query on the episode state (sees accepted writes). */
  query(sql: string, params?: unknown[]): Promise<SqlRow[]>;
  /** Trusted query on the untouched starting state (for verifiers). */
  queryPristine(sql: string, params?: unknown[]): Promise<SqlRow[]>;
  /**
   * What DuckDB makes of one untrusted statement (count, type, AST of a SELECT, unoptimised logical plan),
   * without executing it; within `timeoutMs` (+ a grace period), or the worker is replaced. With purpose "read",
   * a statement whose AST is a SELECT is not prepared separately (its type is SELECT and it has no columns).
   */
  analyze(sql: string, timeoutMs?: number, purpose?: "read" | "write"): Promise<Analysis>;
  /**
   * Runs an already-vetted SELECT with a row cap, caps on whole values and a timeout.
   * Throws {@linkcode SqlExecutionError} after restoring the episode state if it fails.
   */
  stream(sql: string, options?: StreamOptions): Promise<StreamResult>;
  /**
   * Runs an INSERT/UPDATE/DELETE, lets `authorize` judge its effect, records it in `audit_log` and `writes`.
   * A failing or rejected write leaves no trace. Throws {@linkcode SqlExecutionError}.
   */
  write(sql: string, options: WriteOptions): Promise<AcceptedWrite>;
  /** Fingerprint of the episode state (tables, databases, settings, catalog objects). */
  snapshot(): Promise<DbSnapshot>;
  /** Memory of the episode's worker process, and how many times it was replaced. */
  workerStats(): { pid: number; memory: WorkerMemory; replaced: number };
  /** Rolls back and returns the instance to the pool. Idempotent. */
  release(): Promise<void>;
}

/** Options for {@linkcode SandboxPool.open}. */
export interface SandboxPoolOptions {
  /** Idle instances kept per organization (more are created on demand when episodes overlap). @default 2 */
  size?: number;
  /** DuckDB `memory_limit` of each instance. @default "512MB" */
  memoryLimit?: string;
  /** Address space a worker may grow by after loading (OS-enforced), in bytes. @default 768 MiB */
  processMemoryBytes?: number;
  /** Extra time the parent waits past a statement's limit before it kills the worker. @default 600 */
  graceMs?: number;
  /** DuckDB `threads` of each instance. @default 2 */
  threads?: number;
  /** As-of date; read from the sandbox manifest when omitted. */
  asOf?: string;
}

/**
 * An organization in the sandbox.
 * @internal
 */
export interface OrgInfo {
  orgId: number;
  name: string;
}

interface Slot {
  orgId: number;
  worker: WorkerProcess;
  base: TableHashes;
  /** The last episode's end (rollback, pristine check, next transaction): awaited by the next acquire. */
  ending?: Promise<boolean>;
}

/**
 * A pool of per-tenant, locked-down in-memory copies of one sandbox file, each in its own worker process.
 * Open with `await using`.
 *
 * @example
 * ```ts
 * await using pool = await SandboxPool.open(path, { size: 2 });
 * for (const { orgId } of pool.orgs()) {
 *   await using ep = await pool.acquire(orgId, { role: "analyst" });
 * }
 * ```
 */
export class SandboxPool implements AsyncDisposable {
  readonly #idle = new Map<number, Slot[]>();
  readonly #busy = new Set<Slot>();
  #closed = false;

  private constructor(
    readonly path: string,
    /** The as-of date of the sandbox. */
    readonly asOf: string,
    private readonly orgList: OrgInfo[],
    private readonly viewsSql: string[],
    /** Lower-case names of the ERP tables and semantic views every episode of this pool can read. */
    readonly relations: ReadonlySet<string>,
    private readonly options: Required<Omit<SandboxPoolOptions, "asOf">>,
  ) {}

  /** Opens a pool on a sandbox file (read only; the file is never written). */
  static async open(path: string, options: SandboxPoolOptions = {}): Promise<SandboxPool> {
    if (!existsSync(path)) throw new Error(`Cannot open sandbox ${path}: file not found (build it with buildSandbox)`);
    const asOf = options.asOf ?? (await manifestAsOf(path));
    const probe = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
    try {
      const con = await probe.connect();
      const orgs = (await con.runAndReadAll("SELECT org_id, name FROM organizations ORDER BY org_id")).getRows()
        .map(([id, name]) => ({ orgId: Number(id), name: String(name) }));
      const viewRows = (await con.runAndReadAll(
        "SELECT sql, view_name FROM duckdb_views() WHERE NOT internal AND database_name = current_database() ORDER BY view_oid",
      )).getRows();
      const views = viewRows.map(([sql]) => String(sql));
      const relations = new Set([...TABLE_NAMES, ...viewRows.map(([, name]) => String(name).toLowerCase())]);
      con.closeSync();
      return new SandboxPool(path, asOf, orgs, views, relations, {
        size: options.size ?? 2,
        memoryLimit: options.memoryLimit ?? "512MB",
        processMemoryBytes: options.processMemoryBytes ?? 768 * 1024 * 1024,
        graceMs: options.graceMs ?? 600,
        threads: options.threads ?? 2,
      });
    } finally {
      probe.closeSync();
    }
  }

  /** Organizations (tenants) in the sandbox. */
  orgs(): OrgInfo[] {
    return this.orgList.map((o) => ({ ...o }));
  }

  /**
   * DuckDB's analyses of statements, shared by the pool's episodes: an analysis depends only on the statement and
   * the catalog, which no episode can change (the same query recurs across strategies and attempts).
   */
  readonly analyses: LruCache<string, Analysis> = new LruCache(2000);

  /** Extra time past a statement's limit before a worker is killed. */
  get graceMs(): number {
    return this.options.graceMs;
  }

  /** Loads up to `count` idle instances for `orgId` ahead of time (in parallel), so the first episodes start fast. */
  async warm(orgId: number, count = this.options.size): Promise<void> {
    this.#checkOrg(orgId);
    const idle = this.#idleOf(orgId);
    const loaded = await Promise.all(Array.from({ length: Math.max(0, count - idle.length) }, () => this.#load(orgId)));
    idle.push(...loaded);
  }

  /** Starts an episode for `orgId` acting as `role`. Release it (or `await using`) to return the instance. */
  async acquire(orgId: number, options: { role: string }): Promise<Episode> {
    if (this.#closed) throw new Error("SandboxPool is closed");
    this.#checkOrg(orgId);
    let slot = this.#idleOf(orgId).pop();
    // The last episode's end runs while its runner moves on; a slot that did not end cleanly is replaced.
    if (slot && !(await (slot.ending ?? true))) {
      slot.worker.close();
      slot = undefined;
    }
    if (slot && !slot.worker.alive) slot = undefined;
    slot ??= await this.#load(orgId);
    slot.ending = undefined;
    this.#busy.add(slot);
    // The worker opened the episode's transaction when it was loaded or when its last episode ended.
    return new EpisodeImpl(this, slot, options.role, this.asOf);
  }

  /** Closes idle instances; instances still in use close when their episode is released. */
  close(): void {
    this.#closed = true;
    for (const slots of this.#idle.values()) for (const s of slots) s.worker.close();
    this.#idle.clear();
  }

  /** The same as {@linkcode SandboxPool.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.resolve();
  }

  /** @internal Replaces a lost worker for a running episode. */
  async replace(old: Slot): Promise<Slot> {
    this.#busy.delete(old);
    old.worker.kill();
    const slot = await this.#load(old.orgId);
    this.#busy.add(slot);
    return slot;
  }

  /** @internal Returns an episode's worker. */
  giveBack(slot: Slot, healthy: boolean): void {
    this.#busy.delete(slot);
    const idle = this.#idleOf(slot.orgId);
    if (healthy && slot.worker.alive && !this.#closed && idle.length < this.options.size) idle.push(slot);
    else slot.worker.close();
  }

  #checkOrg(orgId: number): void {
    if (!this.orgList.some((o) => o.orgId === orgId)) {
      throw new RangeError(
        `Unknown org_id ${orgId} in ${this.path}; known: ${this.orgList.map((o) => o.orgId).join(", ")}`,
      );
    }
  }

  #idleOf(orgId: number): Slot[] {
    let idle = this.#idle.get(orgId);
    if (!idle) this.#idle.set(orgId, idle = []);
    return idle;
  }

  async #load(orgId: number): Promise<Slot> {
    const worker = WorkerProcess.spawn();
    try {
      const r = await worker.request<{ base: TableHashes }>("init", {
        init: {
          path: this.path,
          orgId,
          asOf: this.asOf,
          viewsSql: this.viewsSql,
          memoryLimit: this.options.memoryLimit,
          threads: this.options.threads,
          addressMarginBytes: this.options.processMemoryBytes,
        },
      }, 120_000);
      return { orgId, worker, base: r.base };
    } catch (e) {
      worker.kill();
      throw new Error(`Cannot start a sandbox worker for org ${orgId} of ${this.path}: ${errorText(e)}`);
    }
  }
}

async function manifestAsOf(path: string): Promise<string> {
  return (await readManifest(path)).spec.asOf;
}

class EpisodeImpl implements Episode {
  readonly orgId: number;
  readonly relations: ReadonlySet<string>;
  readonly writes: AcceptedWrite[] = [];
  #slot: Slot;
  #released = false;
  #broken = false;
  #lost = false;
  #replaced = 0;
  #peak = 0;
  #brokenReason = "";
  #rebuilding?: Promise<void>;
  /** Accepted writes and their audit rows, for replay on a fresh worker. */
  readonly #replay: ReplayEntry[] = [];
  /** Table hashes after the last accepted write. */
  #expected: TableHashes;

  constructor(
    readonly pool: SandboxPool,
    slot: Slot,
    readonly role: string,
    readonly asOf: string,
  ) {
    this.orgId = slot.orgId;
    this.relations = pool.relations;
    this.#slot = slot;
    this.#expected = slot.base;
  }

  get broken(): boolean {
    return this.#broken;
  }

  /** The episode's worker; a lost one is being replaced (accepted writes replayed, checked by hash). */
  async #worker(): Promise<WorkerProcess> {
    if (this.#released) throw new Error("Episode already released");
    if (this.#lost || !this.#slot.worker.alive) await (this.#rebuilding ??= this.#rebuild());
    if (this.#broken) {
      throw new SqlExecutionError(
        `the episode's database was lost and could not be restored; the episode ends here${this.#brokenReason ? ` (${this.#brokenReason})` : ""}`,
        "broken",
      );
    }
    return this.#slot.worker;
  }

  /** Starts a fresh worker at once (not at the next call), so a killed statement costs its own time only. */
  async #rebuild(): Promise<void> {
    this.#peak = Math.max(this.#peak, this.#slot.worker.peakBytes);
    try {
      this.#slot = await this.pool.replace(this.#slot);
      this.#replaced++;
      this.#expected = await this.#slot.worker.request<TableHashes>(
        "replay",
        { entries: this.#replay, expected: this.#expected },
        120_000,
      );
    } catch (e) {
      this.#broken = true;
      this.#brokenReason = errorText(e);
    } finally {
      this.#lost = false;
      this.#rebuilding = undefined;
    }
  }

  /** One request; worker loss and engine errors become SqlExecutionError, trusted-query errors plain Errors. */
  async #call<T>(op: string, args: Record<string, unknown>, deadlineMs?: number): Promise<T> {
    const worker = await this.#worker();
    try {
      return await worker.request<T>(op, args, deadlineMs);
    } catch (e) {
      if (e instanceof WorkerLost) {
        this.#lost = true;
        this.#rebuilding ??= this.#rebuild();
        if (e.reason === "timeout") {
          throw new SqlExecutionError(
            `query did not finish within its time limit and was cancelled (the episode's state was kept)`,
            "timeout",
          );
        }
        throw new SqlExecutionError(`${e.message} (the episode's state was kept)`, "error");
      }
      if (e instanceof WorkerError) {
        if (e.kind === "broken") (this.#broken = true, this.#brokenReason = e.message);
        if (e.kind === "error" || e.kind === "timeout" || e.kind === "rejected" || e.kind === "broken") {
          throw new SqlExecutionError(e.message, e.kind);
        }
        throw new Error(e.message);
      }
      throw e;
    }
  }

  async ready(): Promise<void> {
    await this.#rebuilding;
  }

  query(sql: string, params?: unknown[]): Promise<SqlRow[]> {
    return this.#call("query", { sql, params, on: "agent" });
  }

  queryPristine(sql: string, params?: unknown[]): Promise<SqlRow[]> {
    return this.#call("query", { sql, params, on: "pristine" });
  }

  async analyze(sql: string, timeoutMs = 5000, purpose: "read" | "write" = "write"): Promise<Analysis> {
    const key = `${purpose}\0${sql}`;
    const hit = this.pool.analyses.get(key);
    if (hit) return hit;
    const a = await this.#call<Analysis>("analyze", { sql, purpose }, Math.max(timeoutMs, 1) + this.pool.graceMs);
    this.pool.analyses.set(key, a);
    return a;
  }

  stream(sql: string, options: StreamOptions = {}): Promise<StreamResult> {
    const timeoutMs = Math.max(options.timeoutMs ?? 5000, 1);
    const caps = {
      maxRows: options.maxRows ?? 200,
      maxCellChars: options.maxCellChars ?? 2000,
      maxResultChars: options.maxResultChars ?? 100_000,
      timeoutMs,
    };
    return this.#call("stream", { sql, caps }, timeoutMs + this.pool.graceMs);
  }

  async write(sql: string, options: WriteOptions): Promise<AcceptedWrite> {
    const timeoutMs = Math.max(options.timeoutMs ?? 5000, 1);
    const effect = await this.#call<WriteEffect>("write", { sql, timeoutMs }, timeoutMs + this.pool.graceMs);
    const reason = await (options.authorize?.({
      action: options.action,
      orgId: this.orgId,
      rowCount: effect.rowCount,
      changes: effect.changes,
      query: (q) => this.query(q),
    }) ?? Promise.resolve(undefined)).catch((e: unknown) => `validation failed: ${errorText(e)}`);
    if (reason) {
      await this.#call("reject", {});
      throw new SqlExecutionError(reason, "rejected");
    }
    const table = effect.changes.map((c) => c.table).join(",");
    const accepted: AcceptedWrite = { sql, table, action: options.action, rowCount: effect.rowCount };
    const audit: ReplayEntry = {
      sql: `INSERT INTO audit_log (org_id, log_id, logged_at, actor_role, action, table_name, row_count, statement)
            SELECT $1, coalesce(max(log_id), 0) + 1, now(), $2, $3, $4, $5, $6 FROM audit_log`,
      params: [this.orgId, this.role, options.action, table, effect.rowCount, sql],
    };
    this.#expected = await this.#call<TableHashes>("accept", { sql, audit });
    this.#replay.push({ sql, params: [] }, audit);
    this.writes.push(accepted);
    return accepted;
  }

  snapshot(): Promise<DbSnapshot> {
    return this.#call("snapshot", {});
  }

  workerStats(): { pid: number; memory: WorkerMemory; replaced: number } {
    const w = this.#slot.worker;
    let memory: WorkerMemory = { rss: 0, peak: w.peakBytes };
    try {
      memory = w.memory();
    } catch {
      // the worker is gone
    }
    return { pid: w.pid, memory: { rss: memory.rss, peak: Math.max(memory.peak, this.#peak) }, replaced: this.#replaced };
  }

  async release(): Promise<void> {
    if (this.#released) return;
    await this.#rebuilding;
    this.#released = true;
    const healthy = !this.#broken && !this.#lost;
    // Not awaited: the next acquire of this worker waits for it instead.
    if (healthy) this.#slot.ending = this.#slot.worker.request<boolean>("end", {}, 30_000).catch(() => false);
    this.pool.giveBack(this.#slot, healthy);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }
}

/**
 * A small least-recently-used map.
 * @internal
 */
export class LruCache<K, V> {
  readonly #map = new Map<K, V>();
  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  set(key: K, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value as K);
  }

  get size(): number {
    return this.#map.size;
  }
}
