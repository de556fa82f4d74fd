/**
 * The episode engine: one locked-down in-memory DuckDB instance holding one tenant's rows, and every operation an
 * episode needs on it. It runs inside a sandbox worker process (`_worker.ts`), never in the lab's own process:
 * untrusted SQL can make DuckDB spin or allocate while it parses, prepares or constant-folds (where neither
 * `interrupt()` nor `memory_limit` applies), so the parent kills and replaces the whole process on overrun, and
 * the process's address space is capped by the operating system (`setrlimit(RLIMIT_AS)`).
 *
 * Three connections:
 * - *agent*: holds the episode's transaction; all untrusted execution and trusted episode queries run here;
 * - *pristine*: never opens a transaction, so it sees the starting state (verifiers read the truth there);
 * - *inspect*: parses, prepares and explains untrusted SQL (inside a transaction that is always rolled back).
 *
 * Writes are judged by their effect, from the data: the statement runs, every table's hash is compared with its
 * hash after the last accepted write, and the changed tables are classified by primary key into inserted,
 * updated and deleted rows. The write then runs a second time from the restored state: a different result means
 * the write is not deterministic (and could not be replayed), so it is refused. Restoring (DuckDB has no
 * SAVEPOINT) is ROLLBACK + BEGIN + replay of the accepted writes, and must reproduce every table's hash exactly;
 * if it does not, the instance is declared broken and the parent discards it.
 * @module
 */
import {
  DuckDBArrayType,
  DuckDBConnection,
  DuckDBInstance,
  DuckDBListType,
  type DuckDBPreparedStatement,
  DuckDBStructType,
  type DuckDBType,
  DuckDBTypeId,
  type Json,
  JsonDuckDBValueConverter,
} from "@duckdb/node-api";
import { createTablesSql, TABLES } from "./schema.ts";
import { clockMacrosSql } from "./generate.ts";

/** A JSON-safe SQL value. */
export type SqlValue = Json;
/** A row keyed by column name. */
export type SqlRow = Record<string, SqlValue>;

/** How the instance is set up. */
export interface EngineInit {
  path: string;
  orgId: number;
  asOf: string;
  viewsSql: string[];
  memoryLimit: string;
  threads: number;
  /** Address space the process may grow by after loading, in bytes (0: no OS cap). */
  addressMarginBytes: number;
}

/** Per-table row count and hash. */
export type TableHashes = Record<string, { rows: number; hash: string }>;

/**
 * What DuckDB says about one untrusted statement (nothing of it is executed).
 * @internal
 */
export interface Analysis {
  /** Statements in the text. */
  count: number;
  /** Parse error, when the text does not parse. */
  syntaxError?: string;
  /** Statement type from the prepared statement (only when count is 1). */
  type?: string;
  /** Result column names of the prepared statement. */
  columns?: string[];
  /** Binder error from preparing. */
  prepareError?: string;
  /** `json_serialize_sql` of the statement (`{ error: true, … }` unless it is a SELECT). */
  ast?: unknown;
  /** The unoptimised bound logical plan (`EXPLAIN (FORMAT JSON)`, `logical_plan`). */
  plan?: unknown;
}

/** Result of a capped read. */
export interface StreamResult {
  columns: string[];
  rows: SqlValue[][];
  /** Rows, characters or nested elements were cut. */
  truncated: boolean;
}

/** Caps of a read. */
export interface StreamCaps {
  maxRows: number;
  /** Characters of one value, nested values counted whole. */
  maxCellChars: number;
  /** Characters of the whole result. */
  maxResultChars: number;
  timeoutMs: number;
}

/** Rows changed in one table by a write, by primary key. */
export interface TableChange {
  table: string;
  inserted: number;
  updated: number;
  deleted: number;
  /** Temp table with the table's rows before the write (exists until accept/reject). */
  before: string;
}

/** Result of running a write (pending until accepted or rejected). */
export interface WriteEffect {
  rowCount: number;
  changes: TableChange[];
}

/** A statement replayed to restore the episode state. */
export interface ReplayEntry {
  sql: string;
  params: (string | number)[];
}

/** An error that the engine has already recovered from (state restored). */
export class EngineError extends Error {
  constructor(message: string, readonly kind: "error" | "timeout" | "rejected" | "broken") {
    super(message);
    this.name = "EngineError";
  }
}

const hashSql = (tables: readonly string[]) =>
  tables.map((t) => `SELECT '${t}' AS t, count(*)::BIGINT AS n, coalesce(sum(hash(x)), 0)::VARCHAR AS h FROM main.${t} x`)
    .join("\nUNION ALL ");
const HASH_SQL = hashSql(TABLES.map((t) => t.name));

const INTEGER_TYPES = new Set<DuckDBTypeId>([
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.BIGNUM,
]);

/** The engine of one instance. */
export class Engine {
  #replay: ReplayEntry[] = [];
  #last: TableHashes = {};
  #pending?: WriteEffect;
  /** Every table's hashes after the pending write. */
  #pendingHashes?: TableHashes;
  #broken = false;
  #wrote = false;
  #serializer?: Promise<DuckDBPreparedStatement>;

  private constructor(
    readonly init: EngineInit,
    readonly instance: DuckDBInstance,
    readonly agent: DuckDBConnection,
    readonly pristine: DuckDBConnection,
    readonly inspect: DuckDBConnection,
    /** Hashes of the starting state. */
    readonly base: TableHashes,
  ) {}

  /** Loads the tenant's rows into a new locked-down instance. */
  static async create(init: EngineInit): Promise<Engine> {
    const instance = await DuckDBInstance.create(":memory:", {
      threads: String(init.threads),
      memory_limit: init.memoryLimit,
      temp_directory: "",
      autoinstall_known_extensions: "false",
      autoload_known_extensions: "false",
      allow_community_extensions: "false",
    });
    const con = await instance.connect();
    await con.run(`ATTACH ${sqlString(init.path)} AS src (READ_ONLY)`);
    await con.run(createTablesSql());
    for (const t of TABLES) {
      const cols = t.columns.map((c) => c.name).join(", ");
      await con.run(`INSERT INTO main.${t.name} (${cols}) SELECT ${cols} FROM src.main.${t.name} WHERE org_id = $1`, [
        init.orgId,
      ]);
    }
    await con.run("DETACH src");
    await con.run(clockMacrosSql(init.asOf));
    for (const v of init.viewsSql) await con.run(v);
    const pristine = await instance.connect();
    const inspect = await instance.connect();
    // Plans are read unoptimised (before constant folding hides which functions a statement calls).
    await inspect.run("SET explain_output = 'all'");
    // Order matters: caps first, then no files/network/extensions, then freeze every setting.
    await con.run("SET enable_external_access = false");
    await con.run("SET lock_configuration = true");
    const base = await hashes(pristine);
    const engine = new Engine(init, instance, con, pristine, inspect, base);
    await engine.begin();
    return engine;
  }

  /**
   * Readies the instance for the next episode: a fixed random seed and a fresh transaction (nothing carries over
   * from the last one). Done when the instance is created and when an episode ends, so acquiring costs nothing.
   */
  async begin(): Promise<void> {
    this.#check();
    await this.agent.run("SELECT setseed(0.5)");
    await this.agent.run("BEGIN TRANSACTION");
    this.#replay = [];
    this.#last = this.base;
    this.#pending = undefined;
    this.#wrote = false;
  }

  /** Ends an episode and readies the next; returns whether the instance is still pristine and usable. */
  async end(): Promise<boolean> {
    try {
      await this.agent.run("ROLLBACK");
    } catch {
      // no transaction open
    }
    if (this.#broken) return false;
    // Nothing can be committed (transaction statements are refused, writes run inside the episode's
    // transaction, EXPLAIN inside a rolled-back one); after an episode that ran writes, check it anyway: the
    // committed state must still be the starting state. (A read-only episode skips the ~10 ms of hashing.)
    if (this.#wrote && !sameHashes(await hashes(this.pristine), this.base)) return false;
    await this.begin();
    return true;
  }

  /** Trusted query on the episode state (agent connection) or on the starting state. */
  async query(sql: string, params: unknown[] | undefined, on: "agent" | "pristine"): Promise<SqlRow[]> {
    this.#check();
    const con = on === "agent" ? this.agent : this.pristine;
    try {
      return await readObjects(con, sql, params);
    } catch (e) {
      if (on === "agent") await this.#recoverIfAborted();
      throw e;
    }
  }

  /**
   * Parses, prepares and explains one untrusted statement without executing it. For a read whose AST is a
   * SELECT, the EXPLAIN is the only planning (it binds and reports binder errors too); anything else is prepared
   * first, for DuckDB's statement type and result columns.
   */
  async analyze(sql: string, purpose: "read" | "write"): Promise<Analysis> {
    this.#check();
    let extracted;
    try {
      extracted = await this.inspect.extractStatements(sql);
    } catch (e) {
      return { count: 0, syntaxError: errorText(e) };
    }
    const out: Analysis = { count: extracted.count };
    if (extracted.count !== 1) return out;
    // The AST needs no binding, so it exists even when binding fails (a hostile read is still recognised).
    const serializer = await (this.#serializer ??= this.inspect.prepare("SELECT json_serialize_sql($1::VARCHAR)"));
    serializer.bindVarchar(1, sql);
    out.ast = JSON.parse(String((await serializer.runAndReadAll()).getRows()[0][0]));
    if (purpose === "read" && (out.ast as { error?: boolean }).error === false) out.type = "SELECT";
    else {
      try {
        const p = await extracted.prepare(0);
        try {
          out.type = STATEMENT_TYPES[p.statementType] ?? `UNKNOWN_${p.statementType}`;
          out.columns = Array.from({ length: p.columnCount }, (_, i) => p.columnName(i));
        } finally {
          p.destroySync();
        }
      } catch (e) {
        out.prepareError = errorText(e);
        return out;
      }
    }
    if (out.type === "SELECT" || out.type === "INSERT" || out.type === "UPDATE" || out.type === "DELETE") {
      // EXPLAIN never executes (EXPLAIN ANALYZE would; the type check above excludes it). A write's EXPLAIN runs
      // in a transaction that is rolled back regardless, so nothing here can reach the committed starting state.
      const guard = out.type !== "SELECT";
      if (guard) await this.inspect.run("BEGIN TRANSACTION");
      try {
        const r = await this.inspect.runAndReadAll(`EXPLAIN (FORMAT JSON) ${sql}`);
        const logical = r.getRows().find(([kind]) => String(kind) === "logical_plan");
        if (logical) out.plan = JSON.parse(String(logical[1]));
      } catch (e) {
        out.prepareError = errorText(e);
      } finally {
        if (guard) await this.inspect.run("ROLLBACK");
      }
    }
    return out;
  }

  /** Runs a vetted SELECT on the episode state with caps on rows and on whole (nested) values. */
  async stream(sql: string, caps: StreamCaps): Promise<StreamResult> {
    this.#check();
    const con = this.agent;
    const out = await this.#guarded(caps.timeoutMs, async () => {
      const result = await con.stream(sql);
      const types = result.columnTypes();
      const rows: SqlValue[][] = [];
      const budget = { left: caps.maxResultChars };
      let truncated = false;
      outer: for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
        for (const raw of chunk.convertRows(JsonDuckDBValueConverter)) {
          if (rows.length === caps.maxRows || budget.left <= 0) {
            truncated = true;
            break outer;
          }
          const row: SqlValue[] = [];
          for (let i = 0; i < raw.length; i++) {
            const cell = { left: Math.min(caps.maxCellChars, Math.max(budget.left, 0)) };
            const start = cell.left;
            const [v, cut] = capValue(topLevel(raw[i], types[i]), cell);
            budget.left -= start - cell.left;
            if (cut) truncated = true;
            row.push(v);
          }
          rows.push(row);
        }
      }
      return { columns: result.deduplicatedColumnNames(), rows, truncated };
    });
    // A streaming result left open would pin the query; run a no-op to finish it.
    if (out.truncated) await con.run("SELECT 1");
    return out;
  }

  /**
   * Runs a vetted write twice (the second time from the restored state, with before-copies of the tables the
   * first run changed) and returns its effect. The write stays pending until {@linkcode accept} or
   * {@linkcode reject}.
   */
  async write(sql: string, timeoutMs: number): Promise<WriteEffect> {
    this.#check();
    if (this.#pending) await this.reject();
    this.#wrote = true;
    const con = this.agent;
    // Both runs share the limit.
    const end = performance.now() + timeoutMs;
    const first = await this.#guarded(timeoutMs, async () => (await con.run(sql)).rowsChanged);
    const h1 = await hashes(con);
    const changed = TABLES.map((t) => t.name).filter((t) => h1[t].hash !== this.#last[t].hash || h1[t].rows !== this.#last[t].rows);
    if (changed.length === 0) {
      this.#pending = { rowCount: Number(first), changes: [] };
      this.#pendingHashes = h1;
      return this.#pending;
    }
    // Back to the last accepted state for the second run. Its hashes are not checked here: a replay that diverged
    // shows up below as a second run that differs from the first, which restores again, with the check.
    await this.#restore(this.#last, false);
    const changes: TableChange[] = [];
    for (const table of changed) {
      const before = `_before_${table}`;
      await con.run(`CREATE OR REPLACE TEMP TABLE ${before} AS SELECT * FROM main.${table}`);
      changes.push({ table, inserted: 0, updated: 0, deleted: 0, before });
    }
    const second = await this.#guarded(Math.max(1, end - performance.now()), async () => (await con.run(sql)).rowsChanged);
    const h2 = await hashes(con);
    if (second !== first || !sameHashes(h1, h2)) {
      await this.#restore();
      throw new EngineError(
        "the write is not deterministic (two runs from the same state changed the data differently): do not use " +
          "random(), uuid(), sequences or the machine clock in writes; use fixed values or current_date",
        "rejected",
      );
    }
    for (const c of changes) {
      const def = TABLES.find((t) => t.name === c.table)!;
      const using = `USING (${def.primaryKey.join(", ")})`;
      const [r] = await readObjects(con, `SELECT
        (SELECT count(*) FROM main.${c.table} a ANTI JOIN ${c.before} b ${using}) AS inserted,
        (SELECT count(*) FROM ${c.before} b ANTI JOIN main.${c.table} a ${using}) AS deleted,
        (SELECT count(*) FROM (SELECT * FROM main.${c.table} EXCEPT ALL SELECT * FROM ${c.before}) a
           SEMI JOIN ${c.before} b ${using}) AS updated`);
      c.inserted = Number(r.inserted);
      c.deleted = Number(r.deleted);
      c.updated = Number(r.updated);
    }
    this.#pending = { rowCount: Number(first), changes };
    this.#pendingHashes = h2;
    return this.#pending;
  }

  /** Accepts the pending write: drops its before-copies, records the audit statement, remembers both for replay. */
  async accept(sql: string, audit: ReplayEntry): Promise<void> {
    this.#check();
    const pending = this.#pending;
    if (!pending) throw new Error("no pending write to accept");
    this.#pending = undefined;
    for (const c of pending.changes) await this.agent.run(`DROP TABLE ${c.before}`);
    await this.agent.run(audit.sql, audit.params);
    this.#replay.push({ sql, params: [] }, audit);
    // The written tables' hashes are those of the write's (checked) second run; only audit_log changed since.
    this.#last = { ...this.#pendingHashes!, ...(await hashes(this.agent, ["audit_log"])) };
    this.#pendingHashes = undefined;
  }

  /** Rejects the pending write (or undoes a failed statement): back to the state after the last accepted write. */
  async reject(): Promise<void> {
    this.#pending = undefined;
    await this.#restore();
  }

  /** Replays accepted writes onto a fresh instance; the result must match `expected` exactly. */
  async replay(entries: ReplayEntry[], expected: TableHashes | undefined): Promise<TableHashes> {
    this.#check();
    this.#replay = [...entries];
    // Replayed writes are writes: the end of this episode checks the committed state too.
    this.#wrote = entries.length > 0;
    await this.#restore(expected);
    return this.#last;
  }

  /** Hashes of the episode state after the last accepted write. */
  get lastHashes(): TableHashes {
    return this.#last;
  }

  /** Fingerprint of the episode state: tables, databases, settings and catalog objects. */
  async snapshot(): Promise<{ tables: TableHashes; databases: string[]; settings: Record<string, string>; objects: string[] }> {
    this.#check();
    const q = (sql: string) => this.query(sql, undefined, "agent");
    const tables = await hashes(this.agent);
    const databases = (await q(
      "SELECT database_name || ':' || coalesce(path, '') || ':' || readonly AS d FROM duckdb_databases() ORDER BY 1",
    )).map((r) => String(r.d));
    const settings = Object.fromEntries(
      (await q("SELECT name, value FROM duckdb_settings() ORDER BY name")).map((r) => [String(r.name), String(r.value)]),
    );
    const objects = (await q(`
      SELECT 'table:' || schema_name || '.' || table_name AS o FROM duckdb_tables() WHERE NOT internal
      UNION ALL SELECT 'view:' || schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal
      UNION ALL SELECT DISTINCT 'macro:' || schema_name || '.' || function_name FROM duckdb_functions()
        WHERE NOT internal AND function_type LIKE '%macro%'
      ORDER BY 1`)).map((r) => String(r.o));
    return { tables, databases, settings, objects };
  }

  close(): void {
    for (const c of [this.agent, this.pristine, this.inspect]) c.closeSync();
    this.instance.closeSync();
  }

  #check(): void {
    if (this.#broken) throw new EngineError("the episode's database could not be restored and was discarded", "broken");
  }

  /** Runs `fn` with an interrupt timer; on any failure restores the episode state and throws EngineError. */
  async #guarded<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.agent.interrupt();
    }, timeoutMs);
    try {
      const out = await fn();
      // An interrupt can end a statement early without an error (a streamed result just stops): never return it.
      if (timedOut) throw new Error("interrupted");
      return out;
    } catch (e) {
      clearTimeout(timer);
      await this.#restore();
      if (timedOut) throw new EngineError(`query timed out after ${timeoutMs} ms and was cancelled`, "timeout");
      throw new EngineError(errorText(e), "error");
    } finally {
      clearTimeout(timer);
    }
  }

  async #recoverIfAborted(): Promise<void> {
    try {
      await this.agent.run("SELECT 1");
    } catch {
      await this.#restore();
    }
  }

  /** ROLLBACK, BEGIN, replay; every table's hash must then equal its hash after the last accepted write. */
  async #restore(expected: TableHashes | undefined = this.#last, verify = true): Promise<void> {
    const con = this.agent;
    this.#pending = undefined;
    try {
      await con.run("ROLLBACK");
    } catch {
      // no transaction to roll back
    }
    try {
      await con.run("BEGIN TRANSACTION");
      for (const r of this.#replay) await con.run(r.sql, r.params);
      // With nothing to replay the state is the committed starting state itself (checked at the end of every
      // episode that wrote): no hashing needed.
      if (!verify || (this.#replay.length === 0 && expected === this.base)) return;
      const now = await hashes(con);
      if (expected && !sameHashes(now, expected)) {
        const diff = Object.keys(now).filter((t) => now[t].hash !== expected[t]?.hash || now[t].rows !== expected[t]?.rows);
        throw new Error(`replaying the accepted writes gave different data in ${diff.join(", ")}`);
      }
      this.#last = now;
    } catch (e) {
      this.#broken = true;
      throw new EngineError(`the episode's state could not be restored (org ${this.init.orgId}): ${errorText(e)}`, "broken");
    }
  }
}

/** Every ERP table's row count and hash (or only those of `tables`), as one query. */
export async function hashes(con: DuckDBConnection, tables?: readonly string[]): Promise<TableHashes> {
  const r = await con.runAndReadAll(tables ? hashSql(tables) : HASH_SQL);
  const out: TableHashes = {};
  for (const [t, n, h] of r.getRows()) out[String(t)] = { rows: Number(n), hash: String(h) };
  return out;
}

function sameHashes(a: TableHashes, b: TableHashes): boolean {
  return Object.keys(a).length === Object.keys(b).length &&
    Object.entries(a).every(([t, v]) => b[t]?.hash === v.hash && b[t]?.rows === v.rows);
}

async function readObjects(con: DuckDBConnection, sql: string, params?: unknown[]): Promise<SqlRow[]> {
  const reader = await con.runAndReadAll(sql, params as never);
  const types = reader.columnTypes();
  const names = reader.deduplicatedColumnNames();
  return reader.convertRows(JsonDuckDBValueConverter).map((row) =>
    Object.fromEntries(row.map((v, i) => [names[i], topLevel(v, types[i])]))
  );
}

/** JSON converter output → agent-friendly values (numbers where exact enough), nested values included. */
function topLevel(v: Json | null, type: DuckDBType): SqlValue {
  if (typeof v === "string") {
    if (INTEGER_TYPES.has(type.typeId)) {
      const n = Number(v);
      return Number.isSafeInteger(n) ? n : v;
    }
    if (type.typeId === DuckDBTypeId.DECIMAL) return Number(v);
  }
  if (Array.isArray(v) && (type instanceof DuckDBListType || type instanceof DuckDBArrayType)) {
    return v.map((x) => topLevel(x, type.valueType));
  }
  if (v && typeof v === "object" && !Array.isArray(v) && type instanceof DuckDBStructType) {
    return Object.fromEntries(type.entryNames.map((k, i) => [k, topLevel((v as Record<string, Json>)[k] ?? null, type.entryTypes[i])]));
  }
  return v;
}

/**
 * Caps a value to `budget.left` characters of JSON, counting nested lists, structs and maps whole. Returns the
 * capped value and whether anything was cut: strings keep their start (and end in "…"), lists and objects keep
 * their leading elements. A number or boolean that does not fit at the top level becomes null (and cut is set).
 */
export function capValue(v: SqlValue, budget: { left: number }): [SqlValue, boolean] {
  const out = capInner(v, budget);
  return out === SKIP ? [null, true] : out;
}

const SKIP = Symbol("skip");

function capInner(v: SqlValue, budget: { left: number }): [SqlValue, boolean] | typeof SKIP {
  if (v === null || typeof v === "number" || typeof v === "boolean") {
    const n = v === null ? 4 : String(v).length;
    if (n > budget.left) return (budget.left = 0, SKIP);
    budget.left -= n;
    return [v, false];
  }
  if (typeof v === "string") {
    const n = JSON.stringify(v).length;
    if (n <= budget.left) return (budget.left -= n, [v, false]);
    if (budget.left < 3) return (budget.left = 0, SKIP);
    const keep = v.slice(0, budget.left - 3);
    budget.left = 0;
    return [`${keep}…`, true];
  }
  if (budget.left < 2) return (budget.left = 0, SKIP);
  budget.left -= 2;
  const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
  const list: SqlValue[] = [];
  const obj: Record<string, SqlValue> = {};
  const result = (): SqlValue => (Array.isArray(v) ? list : obj);
  for (let i = 0; i < entries.length; i++) {
    const [k, x] = entries[i];
    const overhead = (i > 0 ? 1 : 0) + (Array.isArray(v) ? 0 : JSON.stringify(k).length + 1);
    if (overhead >= budget.left) return (budget.left = 0, [result(), true]);
    budget.left -= overhead;
    const y = capInner(x as SqlValue, budget);
    if (y === SKIP) return [result(), true];
    if (Array.isArray(v)) list.push(y[0]);
    else obj[k] = y[0];
    if (y[1]) return [result(), true];
  }
  return [result(), false];
}

/** Quotes a SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** The message of an error without stack or DuckDB's verbose prefix lines. */
export function errorText(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].slice(0, 500);
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
