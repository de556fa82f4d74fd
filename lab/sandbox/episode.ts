/**
 * Episode isolation: every agent attempt works on its own copy of one tenant's data, starting pristine.
 *
 * Mechanism (measured in `episode_bench.ts`):
 * - A {@linkcode SandboxPool} keeps, per organization, a few *locked-down in-memory DuckDB instances*. Each is
 *   loaded once: the sandbox file is ATTACHed READ_ONLY, every table of {@linkcode TABLES} is created with its
 *   primary key and filled with `WHERE org_id = ?` (so the instance holds only that tenant's rows: tenant isolation
 *   is structural, not a view), the as-of clock macros and the semantic views are created, the file is DETACHed,
 *   and then `enable_external_access=false` + `lock_configuration=true` are set (after memory/thread caps,
 *   `temp_directory=''` and extension autoload/autoinstall off). Loading costs tens of milliseconds; it is paid
 *   once per instance, not per episode.
 * - An episode takes an idle instance and opens `BEGIN TRANSACTION` on its *agent connection*. All agent SQL runs
 *   inside that transaction; nothing is ever committed, so the source file and other episodes never see it.
 * - DuckDB has no SAVEPOINT, so a rejected write or an aborted transaction (execution error, timeout) is undone
 *   by `ROLLBACK; BEGIN` and replaying the accepted writes and their audit rows.
 * - `release()` rolls back and returns the instance to the pool (≈ 1–2 ms), ready for the next episode.
 * - A second *pristine connection* on the same instance never opens a transaction, so it sees the starting state:
 *   verifiers read the truth from it ({@linkcode Episode.queryPristine}).
 * - A third *inspect connection* (also without a transaction) parses and prepares untrusted SQL before it may
 *   touch the agent connection, so analysing a statement can never abort the episode's transaction.
 *
 * @example
 * ```ts
 * await using pool = await SandboxPool.open("data/sandbox/tiny-s1-2024-06-30.duckdb");
 * await using ep = await pool.acquire(1, { role: "accountant" });
 * const [{ n }] = await ep.query("SELECT count(*) AS n FROM customers");
 * ```
 * @module
 */
import { DuckDBConnection, DuckDBInstance, type DuckDBPreparedStatement, type DuckDBType, DuckDBTypeId, type Json } from "@duckdb/node-api";
import { JsonDuckDBValueConverter } from "@duckdb/node-api";
import { existsSync } from "node:fs";
import { createTablesSql, TABLES } from "./schema.ts";
import { clockMacrosSql, readManifest } from "./generate.ts";

/** A JSON-safe SQL value: bigints become numbers when safe (else strings), decimals numbers, dates 'YYYY-MM-DD'. */
export type SqlValue = Json;
/** A row keyed by column name. */
export type SqlRow = Record<string, SqlValue>;

/** A write the episode accepted; replayed after any rollback so the episode state survives agent mistakes. */
export interface AcceptedWrite {
  sql: string;
  table: string;
  action: WriteAction;
  rowCount: number;
}

/** What a write statement does. */
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
  constructor(message: string, readonly kind: "error" | "timeout" | "rejected") {
    super(message);
    this.name = "SqlExecutionError";
  }
}

/** Result of {@linkcode Episode.stream}. */
export interface StreamResult {
  columns: string[];
  rows: SqlValue[][];
  /** More rows existed than `maxRows`, or a cell was cut at `maxCellChars`. */
  truncated: boolean;
}

/** Options for {@linkcode Episode.stream}. */
export interface StreamOptions {
  /** @default 200 */
  maxRows?: number;
  /** @default 5000 */
  timeoutMs?: number;
  /** Longer strings are cut (and `truncated` set). @default 2000 */
  maxCellChars?: number;
}

/** Passed to a write validator: the table written, its state before the write, and a trusted query function. */
export interface WriteCheck {
  table: string;
  action: WriteAction;
  orgId: number;
  /** Name of a temp table holding the written table's rows before the write. */
  before: string;
  /** Rows changed by the statement, as reported by DuckDB. */
  rowCount: number;
  query(sql: string): Promise<SqlRow[]>;
}

/** Options for {@linkcode Episode.write}. */
export interface WriteOptions {
  table: string;
  action: WriteAction;
  /** @default 5000 */
  timeoutMs?: number;
  /** Returns a reason to reject the write (it is then rolled back without trace), or undefined to accept it. */
  validate?: (check: WriteCheck) => Promise<string | undefined>;
}

/** Parsing helpers on a connection that never holds a transaction (untrusted SQL is analysed here first). */
export interface SqlInspector {
  /** Number of statements in `sql` (throws on a syntax error). */
  statementCount(sql: string): Promise<number>;
  /** `json_serialize_sql(sql)` parsed: the AST of a SELECT, or `{ error: true, ... }`. */
  serialize(sql: string): Promise<unknown>;
  /** Statement type of the single statement, by preparing it (binds but does not execute). */
  statementType(sql: string): Promise<string>;
}

/**
 * One agent attempt on one tenant with an acting role. Starts pristine; its writes never leave it.
 * Everything here is lab-internal and trusted: agents reach the episode only through `lab/tools`.
 */
export interface Episode extends AsyncDisposable {
  readonly orgId: number;
  readonly role: string;
  /** The as-of date ('YYYY-MM-DD') that `current_date`, `today()` and `now()` return. */
  readonly asOf: string;
  /** Accepted writes, in order. */
  readonly writes: readonly AcceptedWrite[];
  /** Parser/preparer for untrusted SQL (no transaction, cannot disturb the episode). */
  readonly inspector: SqlInspector;
  /** Trusted query on the episode state (sees accepted writes). */
  query(sql: string, params?: unknown[]): Promise<SqlRow[]>;
  /** Trusted query on the untouched starting state (for verifiers). */
  queryPristine(sql: string, params?: unknown[]): Promise<SqlRow[]>;
  /**
   * Runs an already-vetted SELECT on the agent connection with a row cap (by streaming) and a timeout (by
   * interrupt). Throws {@linkcode SqlExecutionError} after restoring the episode state if it fails.
   */
  stream(sql: string, options?: StreamOptions): Promise<StreamResult>;
  /**
   * Runs an already-vetted INSERT/UPDATE/DELETE, validates it, records it in `audit_log` and `writes`.
   * A failing or rejected write leaves no trace. Throws {@linkcode SqlExecutionError}.
   */
  write(sql: string, options: WriteOptions): Promise<AcceptedWrite>;
  /** Fingerprint of the episode state (tables, databases, settings, catalog objects). */
  snapshot(): Promise<DbSnapshot>;
  /** Rolls back and returns the instance to the pool. Idempotent. */
  release(): Promise<void>;
}

/** Options for {@linkcode SandboxPool.open}. */
export interface SandboxPoolOptions {
  /** Idle instances kept per organization (more are created on demand when episodes overlap). @default 2 */
  size?: number;
  /** DuckDB `memory_limit` of each instance. @default "512MB" */
  memoryLimit?: string;
  /** DuckDB `threads` of each instance. @default 2 */
  threads?: number;
  /** As-of date; read from the sandbox manifest when omitted. */
  asOf?: string;
}

/** An organization in the sandbox. */
export interface OrgInfo {
  orgId: number;
  name: string;
}

interface Slot {
  orgId: number;
  instance: DuckDBInstance;
  agent: DuckDBConnection;
  pristine: DuckDBConnection;
  inspect: DuckDBConnection;
}

/**
 * A pool of per-tenant, locked-down in-memory copies of one sandbox file. Open with `await using`.
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
      const views = (await con.runAndReadAll(
        "SELECT sql FROM duckdb_views() WHERE NOT internal AND database_name = current_database() ORDER BY view_oid",
      )).getRows().map(([sql]) => String(sql));
      con.closeSync();
      return new SandboxPool(path, asOf, orgs, views, {
        size: options.size ?? 2,
        memoryLimit: options.memoryLimit ?? "512MB",
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

  /** Loads up to `count` idle instances for `orgId` ahead of time, so the first episodes start fast. */
  async warm(orgId: number, count = this.options.size): Promise<void> {
    this.#checkOrg(orgId);
    const idle = this.#idleOf(orgId);
    while (idle.length < count) idle.push(await this.#load(orgId));
  }

  /** Starts an episode for `orgId` acting as `role`. Release it (or `await using`) to return the instance. */
  async acquire(orgId: number, options: { role: string }): Promise<Episode> {
    if (this.#closed) throw new Error("SandboxPool is closed");
    this.#checkOrg(orgId);
    const slot = this.#idleOf(orgId).pop() ?? (await this.#load(orgId));
    this.#busy.add(slot);
    await slot.agent.run("BEGIN TRANSACTION");
    return new EpisodeImpl(slot, options.role, this.asOf, (s, healthy) => this.#giveBack(s, healthy));
  }

  /** Closes idle instances; instances still in use close when their episode is released. */
  close(): void {
    this.#closed = true;
    for (const slots of this.#idle.values()) for (const s of slots) closeSlot(s);
    this.#idle.clear();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.resolve();
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

  #giveBack(slot: Slot, healthy: boolean): void {
    this.#busy.delete(slot);
    const idle = this.#idleOf(slot.orgId);
    if (healthy && !this.#closed && idle.length < this.options.size) idle.push(slot);
    else closeSlot(slot);
  }

  async #load(orgId: number): Promise<Slot> {
    const instance = await DuckDBInstance.create(":memory:", {
      threads: String(this.options.threads),
      memory_limit: this.options.memoryLimit,
      temp_directory: "",
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
      allow_community_extensions: "false",
    });
    const con = await instance.connect();
    await con.run(`ATTACH ${sqlString(this.path)} AS src (READ_ONLY)`);
    await con.run(createTablesSql());
    for (const t of TABLES) {
      const cols = t.columns.map((c) => c.name).join(", ");
      await con.run(`INSERT INTO main.${t.name} (${cols}) SELECT ${cols} FROM src.main.${t.name} WHERE org_id = $1`, [
        orgId,
      ]);
    }
    await con.run("DETACH src");
    await con.run(clockMacrosSql(this.asOf));
    for (const v of this.viewsSql) await con.run(v);
    // Order matters: caps first, then no files/network/extensions, then freeze every setting.
    await con.run("SET enable_external_access = false");
    await con.run("SET lock_configuration = true");
    return { orgId, instance, agent: con, pristine: await instance.connect(), inspect: await instance.connect() };
  }
}

function closeSlot(s: Slot): void {
  for (const c of [s.agent, s.pristine, s.inspect]) c.closeSync();
  s.instance.closeSync();
}

async function manifestAsOf(path: string): Promise<string> {
  return (await readManifest(path)).spec.asOf;
}

/** Quotes a SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

class EpisodeImpl implements Episode {
  readonly orgId: number;
  readonly writes: AcceptedWrite[] = [];
  readonly inspector: SqlInspector;
  #released = false;
  #broken = false;
  #serializer?: Promise<DuckDBPreparedStatement>;
  /** Audit statements of accepted writes, replayed with them. */
  readonly #replay: { sql: string; params: (string | number)[] }[] = [];

  constructor(
    readonly slot: Slot,
    readonly role: string,
    readonly asOf: string,
    readonly giveBack: (slot: Slot, healthy: boolean) => void,
  ) {
    this.orgId = slot.orgId;
    const inspect = slot.inspect;
    this.inspector = {
      statementCount: async (sql) => (await inspect.extractStatements(sql)).count,
      serialize: async (sql) => {
        // Prepared once per episode: re-parsing the wrapper query on every call costs more than the AST itself.
        const p = await (this.#serializer ??= inspect.prepare("SELECT json_serialize_sql($1::VARCHAR)"));
        p.bindVarchar(1, sql);
        const r = await p.runAndReadAll();
        return JSON.parse(String(r.getRows()[0][0]));
      },
      statementType: async (sql) => {
        const p = await inspect.prepare(sql);
        try {
          return statementTypeName(p.statementType);
        } finally {
          p.destroySync();
        }
      },
    };
  }

  get #agent(): DuckDBConnection {
    if (this.#released) throw new Error("Episode already released");
    if (this.#broken) throw new Error("Episode is broken: its state could not be restored after an error");
    return this.slot.agent;
  }

  async query(sql: string, params?: unknown[]): Promise<SqlRow[]> {
    try {
      return await readObjects(this.#agent, sql, params);
    } catch (e) {
      await this.#recoverIfAborted();
      throw e;
    }
  }

  queryPristine(sql: string, params?: unknown[]): Promise<SqlRow[]> {
    if (this.#released) throw new Error("Episode already released");
    return readObjects(this.slot.pristine, sql, params);
  }

  async stream(sql: string, options: StreamOptions = {}): Promise<StreamResult> {
    const maxRows = options.maxRows ?? 200;
    const maxCell = options.maxCellChars ?? 2000;
    const con = this.#agent;
    const out = await this.#guarded(options.timeoutMs ?? 5000, async () => {
      const result = await con.stream(sql);
      const types = result.columnTypes();
      const rows: SqlValue[][] = [];
      let truncated = false;
      for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        for (const raw of chunk.convertRows(JsonDuckDBValueConverter)) {
          if (rows.length === maxRows) {
            truncated = true;
            break;
          }
          const row = raw.map((v, i) => toSafe(v, types[i], maxCell));
          if (row.some((v, i) => v !== raw[i] && typeof v === "string" && typeof raw[i] === "string")) {
            truncated = true;
          }
          rows.push(row);
        }
        if (truncated) break;
      }
      return { columns: result.deduplicatedColumnNames(), rows, truncated };
    });
    // A streaming result left open would pin the query; run a no-op to finish it.
    if (out.truncated) await con.run("SELECT 1");
    return out;
  }

  async write(sql: string, options: WriteOptions): Promise<AcceptedWrite> {
    const con = this.#agent;
    const before = "_episode_write_before";
    await con.run(`CREATE OR REPLACE TEMP TABLE ${before} AS SELECT * FROM main.${options.table}`);
    // On failure #guarded rolls back and replays; the temp table goes with the rollback.
    const rowCount = await this.#guarded(options.timeoutMs ?? 5000, async () => (await con.run(sql)).rowsChanged);
    const reason = await options.validate?.({
      table: options.table,
      action: options.action,
      orgId: this.orgId,
      before,
      rowCount,
      query: (q) => readObjects(con, q),
    }).catch((e: unknown) => `validation failed: ${errorText(e)}`);
    if (reason) {
      await this.#restore();
      throw new SqlExecutionError(reason, "rejected");
    }
    await con.run(`DROP TABLE ${before}`);
    const accepted: AcceptedWrite = { sql, table: options.table, action: options.action, rowCount };
    const audit = {
      sql: `INSERT INTO audit_log (org_id, log_id, logged_at, actor_role, action, table_name, row_count, statement)
            SELECT $1, coalesce(max(log_id), 0) + 1, now(), $2, $3, $4, $5, $6 FROM audit_log`,
      params: [this.orgId, this.role, options.action, options.table, rowCount, sql],
    };
    await con.run(audit.sql, audit.params);
    this.writes.push(accepted);
    this.#replay.push({ sql, params: [] }, audit);
    return accepted;
  }

  async snapshot(): Promise<DbSnapshot> {
    const tables: DbSnapshot["tables"] = {};
    for (const t of TABLES) {
      const [r] = await this.query(`SELECT count(*) AS n, coalesce(sum(hash(t)), 0)::VARCHAR AS h FROM main.${t.name} t`);
      tables[t.name] = { rows: Number(r.n), hash: String(r.h) };
    }
    const databases = (await this.query(
      "SELECT database_name || ':' || coalesce(path, '') || ':' || readonly AS d FROM duckdb_databases() ORDER BY 1",
    )).map((r) => String(r.d));
    const settings = Object.fromEntries(
      (await this.query("SELECT name, value FROM duckdb_settings() ORDER BY name")).map((r) => [
        String(r.name),
        String(r.value),
      ]),
    );
    const objects = (await this.query(`
      SELECT 'table:' || schema_name || '.' || table_name AS o FROM duckdb_tables() WHERE NOT internal
      UNION ALL SELECT 'view:' || schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal
      UNION ALL SELECT DISTINCT 'macro:' || schema_name || '.' || function_name FROM duckdb_functions()
        WHERE NOT internal AND function_type LIKE '%macro%'
      ORDER BY 1`)).map((r) => String(r.o));
    return { tables, databases, settings, objects };
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    (await this.#serializer?.catch(() => undefined))?.destroySync();
    let healthy = !this.#broken;
    try {
      await this.slot.agent.run("ROLLBACK");
    } catch {
      healthy = false;
    }
    this.giveBack(this.slot, healthy);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  /** Runs `fn` with an interrupt timer; on any failure restores the episode state and throws SqlExecutionError. */
  async #guarded<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.slot.agent.interrupt();
    }, timeoutMs);
    try {
      return await fn();
    } catch (e) {
      await this.#restore();
      if (timedOut) throw new SqlExecutionError(`query timed out after ${timeoutMs} ms and was cancelled`, "timeout");
      throw new SqlExecutionError(errorText(e), "error");
    } finally {
      clearTimeout(timer);
    }
  }

  async #recoverIfAborted(): Promise<void> {
    try {
      await this.slot.agent.run("SELECT 1");
    } catch {
      await this.#restore();
    }
  }

  /** ROLLBACK, BEGIN and replay the accepted writes (DuckDB has no SAVEPOINT). */
  async #restore(): Promise<void> {
    const con = this.slot.agent;
    try {
      await con.run("ROLLBACK");
    } catch {
      // no transaction to roll back
    }
    try {
      await con.run("BEGIN TRANSACTION");
      for (const r of this.#replay) await con.run(r.sql, r.params);
    } catch (e) {
      this.#broken = true;
      throw new Error(`Cannot restore episode state (org ${this.orgId}): ${errorText(e)}`);
    }
  }
}

async function readObjects(con: DuckDBConnection, sql: string, params?: unknown[]): Promise<SqlRow[]> {
  const reader = await con.runAndReadAll(sql, params as never);
  const types = reader.columnTypes();
  const names = reader.deduplicatedColumnNames();
  return reader.convertRows(JsonDuckDBValueConverter).map((row) =>
    Object.fromEntries(row.map((v, i) => [names[i], toSafe(v, types[i], Infinity)]))
  );
}

const INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.BIGNUM,
]);

/** JSON converter output → agent-friendly values (numbers where exact enough, cut long strings). */
function toSafe(v: Json | null, type: DuckDBType, maxChars: number): SqlValue {
  if (v === null) return null;
  if (typeof v === "string") {
    if (INTEGER_TYPES.has(type.typeId)) {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : v;
    }
    if (type.typeId === DuckDBTypeId.DECIMAL) return Number(v);
    if (v.length > maxChars) return `${v.slice(0, maxChars)}…`;
  }
  return v;
}

function statementTypeName(t: number): string {
  return STATEMENT_TYPES[t] ?? `UNKNOWN_${t}`;
}

// From DuckDB's StatementType enum (duckdb.h), kept by name so refusals can say what was sent.
const STATEMENT_TYPES: Record<number, string> = {
  0: "INVALID",
  1: "SELECT",
  2: "INSERT",
  3: "UPDATE",
  4: "EXPLAIN",
  5: "DELETE",
  6: "PREPARE",
  7: "CREATE",
  8: "EXECUTE",
  9: "ALTER",
  10: "TRANSACTION",
  11: "COPY",
  12: "ANALYZE",
  13: "VARIABLE_SET",
  14: "CREATE_FUNC",
  15: "DROP",
  16: "EXPORT",
  17: "PRAGMA",
  18: "VACUUM",
  19: "CALL",
  20: "SET",
  21: "LOAD",
  22: "RELATION",
  23: "EXTENSION",
  24: "LOGICAL_PLAN",
  25: "ATTACH",
  26: "DETACH",
  27: "MULTI",
  28: "COPY_DATABASE",
  29: "UPDATE_EXTENSIONS",
};

/** The message of an error without stack or DuckDB's verbose prefix lines. */
export function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].slice(0, 500);
}
