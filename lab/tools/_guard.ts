/**
 * Checks on untrusted SQL from DuckDB's own reading of it, before it may run on an episode. Nothing here reads
 * SQL text: the inputs are what DuckDB produced — the statement type of the prepared statement, the
 * `json_serialize_sql` AST of a SELECT, and the unoptimised bound logical plan (`EXPLAIN (FORMAT JSON)` with
 * `explain_output = 'all'`), in which every relation is resolved (CTEs, views and system views included) and
 * every function is named as DuckDB bound it (before constant folding).
 *
 * - dbRead: the AST must be one SELECT whose table references are ERP tables, semantic views or CTEs, and whose
 *   functions are not denied (lambdas included); the plan may scan only ERP tables of `memory.main` and the
 *   allowed table functions, and may call no denied function.
 * - dbWrite: the plan check with the write denylist (also non-deterministic functions and lambdas, whose bodies
 *   the plan does not show). The final authority on a write is its effect, judged from the data afterwards
 *   (`lab/sandbox/_engine.ts`, `tools.ts`): which tables changed, how, and whether the business rules hold.
 *
 * All of this is defence in depth: the episode instance also has external access disabled, its configuration
 * locked, and runs in a worker process with time and memory limits.
 *
 * Legitimate SQL that is refused (by design, documented for agents in the tool descriptions):
 * - `current_timestamp`, `get_current_timestamp()`, `localtimestamp`, `current_time`, and any function qualified
 *   with a catalog (`system.main.now()`): machine clock, not the sandbox's as-of clock; use `current_date`,
 *   `today()` or `now()`.
 * - Catalog functions (`duckdb_tables()`, `information_schema.*`, `pragma_*`, `SHOW TABLES`): use schemaInfo.
 * - Table functions other than `range`, `generate_series`, `unnest`.
 * - In dbWrite: `random()`, `uuid()` and other non-deterministic functions, lambdas, and RETURNING.
 * @module
 */

/** Table functions dbRead and dbWrite accept. */
export const TABLE_FUNCTION_ALLOWLIST: ReadonlySet<string> = new Set(["range", "generate_series", "unnest"]);

/** Functions refused anywhere (exact names). */
export const FUNCTION_DENYLIST: ReadonlySet<string> = new Set([
  "glob",
  "sniff_csv",
  "query",
  "query_table",
  "setseed",
  "current_setting",
  "getenv",
  "getvariable",
  "current_query",
  "current_database",
  "current_catalog",
  "current_schema",
  "current_schemas",
  "version",
  "platform",
  "nextval",
  "currval",
  "which_secret",
  "test_all_types",
  "test_vector_types",
  "checkpoint",
  "force_checkpoint",
  "sql_auto_complete",
  "repeat_row",
  "summary",
  "enable_logging",
  "disable_logging",
  "truncate_duckdb_logs",
  "json_execute_serialized_sql",
  "txid_current",
  "current_transaction_id",
  "current_query_id",
  "current_connection_id",
  "write_log",
  "sleep_ms",
  "in_search_path",
  "export_database",
  "import_database",
]);

/** Function name prefixes refused anywhere (file readers, system catalogs, pragmas, foreign scanners). */
export const FUNCTION_DENY_PREFIXES: readonly string[] = [
  "read_",
  "parquet_",
  "duckdb_",
  "pragma_",
  "pg_",
  "sqlite_",
  "iceberg_",
  "delta_",
  "postgres_",
  "mysql_",
  "json_execute",
  "icu_calendar",
];

/** Machine-clock names; the sandbox's clock is `current_date` / `today()` / `now()`. */
export const CLOCK_DENYLIST: ReadonlySet<string> = new Set([
  "current_timestamp",
  "get_current_timestamp",
  "transaction_timestamp",
  "statement_timestamp",
  "localtimestamp",
  "current_localtimestamp",
  "current_time",
  "get_current_time",
  "localtime",
  "current_localtime",
]);

const CLOCK_HINT =
  "is the machine clock, not the sandbox's as-of clock: use current_date, today() or now() (they return the as-of date)";

/** Why a function name is refused, or undefined if it is allowed. */
export function functionRefusal(name: string): string | undefined {
  const n = name.toLowerCase();
  if (CLOCK_DENYLIST.has(n)) return `${n} ${CLOCK_HINT}`;
  if (FUNCTION_DENYLIST.has(n) || FUNCTION_DENY_PREFIXES.some((p) => n.startsWith(p))) {
    return `function ${n}() is not allowed: only the ERP tables and semantic views can be read (no files, settings, system catalogs or dynamic SQL); use schemaInfo to explore the schema`;
  }
  return undefined;
}

function tableRefusal(name: string, catalog: string, schema: string, known: ReadonlySet<string>, ctes: ReadonlySet<string>) {
  const n = name.toLowerCase();
  const c = catalog.toLowerCase();
  const s = schema.toLowerCase();
  if (/[/\\.:]/.test(n) || n.includes("://")) return `'${name}' looks like a file path: file access is not allowed`;
  if (!(c === "" || c === "memory") || !(s === "" || s === "main")) {
    return `'${[catalog, schema, name].filter(Boolean).join(".")}' is outside the ERP schema: use the unqualified table name (see schemaInfo)`;
  }
  if (!known.has(n) && !(c === "" && s === "" && ctes.has(n))) {
    return `unknown table or view '${name}': call schemaInfo or viewsList for the available names`;
  }
  return undefined;
}

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Checks the `json_serialize_sql` AST of a dbRead statement. Returns a refusal reason, or undefined if allowed.
 * `known` are lower-case names of tables and views the agent may read.
 */
export function checkReadAst(ast: unknown, known: ReadonlySet<string>): string | undefined {
  if (!isNode(ast) || ast.error !== false || !Array.isArray(ast.statements) || ast.statements.length !== 1) {
    const msg = isNode(ast) && typeof ast.error_message === "string" ? ast.error_message : "";
    return `dbRead runs a single SELECT (or WITH … SELECT) statement${msg ? `: ${msg.split("\n")[0]}` : ""}`;
  }
  let reason: string | undefined;
  const visit = (v: unknown, ctes: ReadonlySet<string>): void => {
    if (reason) return;
    if (Array.isArray(v)) {
      for (const x of v) visit(x, ctes);
      return;
    }
    if (!isNode(v)) return;
    let scope = ctes;
    const cteMap = isNode(v.cte_map) && Array.isArray(v.cte_map.map) ? v.cte_map.map : [];
    if (cteMap.length > 0) {
      // A CTE sees only the CTEs defined before it (its own name, when recursive, via RECURSIVE_CTE_NODE).
      const keys = cteMap.map((e) => String(isNode(e) ? e.key : "").toLowerCase());
      cteMap.forEach((e, i) => visit(isNode(e) ? e.value : e, new Set([...ctes, ...keys.slice(0, i)])));
      scope = new Set([...ctes, ...keys]);
    }
    if (v.type === "RECURSIVE_CTE_NODE" && typeof v.cte_name === "string") {
      scope = new Set([...scope, v.cte_name.toLowerCase()]);
    }
    switch (v.type) {
      case "BASE_TABLE":
        if (v.at_clause) reason = "time travel (AT …) is not supported";
        reason ??= tableRefusal(String(v.table_name), String(v.catalog_name ?? ""), String(v.schema_name ?? ""), known, scope);
        break;
      case "TABLE_FUNCTION": {
        const f = isNode(v.function) ? String(v.function.function_name).toLowerCase() : "";
        if (!TABLE_FUNCTION_ALLOWLIST.has(f)) {
          reason = functionRefusal(f) ??
            `table function ${f}() is not allowed (allowed: ${[...TABLE_FUNCTION_ALLOWLIST].join(", ")})`;
        }
        break;
      }
      case "SHOW_REF":
        if (!isNode(v.query)) reason = "SHOW/DESCRIBE of the catalog is not allowed: use schemaInfo";
        break;
    }
    if (v.class === "FUNCTION" && typeof v.function_name === "string") {
      const qualifier = [v.catalog, v.schema].map((x) => String(x ?? "").toLowerCase());
      if (!(qualifier[0] === "" || qualifier[0] === "memory") || !(qualifier[1] === "" || qualifier[1] === "main")) {
        reason ??= `${qualifier.filter(Boolean).join(".")}.${v.function_name}() is outside the ERP schema: call functions unqualified (${v.function_name.toLowerCase() === "now" ? `now() ${CLOCK_HINT}` : "see the DuckDB function list"})`;
      }
      reason ??= functionRefusal(v.function_name);
    }
    if (v.class === "COLUMN_REF" && Array.isArray(v.column_names) && v.column_names.length === 1) {
      const c = String(v.column_names[0]).toLowerCase();
      if (CLOCK_DENYLIST.has(c)) reason ??= `${c} ${CLOCK_HINT}`;
    }
    for (const [k, x] of Object.entries(v)) if (k !== "cte_map") visit(x, scope);
  };
  visit(ast.statements, new Set());
  return reason;
}


/** Functions that take lambdas: the plan renders them without the lambda's body, so writes may not use them. */
export const LAMBDA_FUNCTIONS: ReadonlySet<string> = new Set([
  "list_transform",
  "array_transform",
  "apply",
  "list_apply",
  "array_apply",
  "list_filter",
  "array_filter",
  "filter",
  "list_reduce",
  "array_reduce",
  "reduce",
  "map_filter",
  "map_transform",
  "list_sort",
]);

/** Non-deterministic functions: a write using them could not be replayed to the same state. */
export const NONDETERMINISTIC_FUNCTIONS: ReadonlySet<string> = new Set([
  "random",
  "uuid",
  "uuidv4",
  "uuidv7",
  "gen_random_uuid",
  "nextval",
  "currval",
  "setseed",
]);

/** Logical plan operators a statement may contain (anything else, e.g. a catalog or file table function, is refused). */
const PLAN_OPERATORS: ReadonlySet<string> = new Set([
  "PROJECTION",
  "FILTER",
  "AGGREGATE",
  "AGGREGATE_AND_GROUP_BY",
  "WINDOW",
  "UNNEST",
  "LIMIT",
  "ORDER_BY",
  "TOP_N",
  "DISTINCT",
  "SAMPLE",
  "PIVOT",
  "CHUNK_GET",
  "DELIM_GET",
  "EXPRESSION_GET",
  "DUMMY_SCAN",
  "EMPTY_RESULT",
  "CTE_SCAN",
  "CTE",
  "REC_CTE",
  "REC_KEY_CTE",
  "COMPARISON_JOIN",
  "DELIM_JOIN",
  "ANY_JOIN",
  "CROSS_PRODUCT",
  "POSITIONAL_JOIN",
  "ASOF_JOIN",
  "DEPENDENT_JOIN",
  "UNION",
  "EXCEPT",
  "INTERSECT",
  "INSERT",
  "DELETE",
  "UPDATE",
  "MERGE_INTO",
  "SEQ_SCAN",
  "RANGE",
  "GENERATE_SERIES",
]);

const FUNCTION_CALL = /([A-Za-z_][A-Za-z0-9_]*)\s*\(/g;

/**
 * DuckDB's rendering of an expression without its string literals ('…' with '' for a quote), so a literal that
 * looks like a call is not taken for one. Only when the rendering has no double quote (a quoted identifier could
 * hold a single quote and shift where literals seem to start) and its quotes pair up; otherwise unchanged, which
 * can only cause a needless refusal.
 */
function withoutLiterals(text: string): string {
  if (text.includes('"') || (text.match(/'/g)?.length ?? 0) % 2 !== 0) return text;
  return text.replace(/'(?:[^']|'')*'/g, "''");
}

/**
 * Checks the unoptimised logical plan of a statement (DuckDB's bound reading). Returns a refusal reason, or
 * undefined. `tables` are the ERP table names (views are expanded in the plan to the tables they read).
 */
export function checkPlan(plan: unknown, mode: "read" | "write", tables: ReadonlySet<string>): string | undefined {
  if (!Array.isArray(plan) || plan.length === 0) return "the statement could not be planned";
  let reason: string | undefined;
  const strings: string[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === "string") strings.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (isNode(v)) Object.values(v).forEach(collect);
  };
  const visit = (n: unknown): void => {
    if (reason || !isNode(n)) return;
    const name = String(n.name ?? "");
    const info = isNode(n.extra_info) ? n.extra_info : {};
    if (typeof info.Table === "string") {
      const m = /^memory\.main\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(info.Table);
      if (!m || !tables.has(m[1])) {
        reason = `'${info.Table}' is not an ERP table: only the ERP tables and semantic views can be used (see schemaInfo)`;
        return;
      }
    } else if (!PLAN_OPERATORS.has(name)) {
      const f = name.toLowerCase();
      reason = functionRefusal(f) ??
        `${f}() is not allowed here (allowed table functions: ${[...TABLE_FUNCTION_ALLOWLIST].join(", ")})`;
      return;
    }
    if (mode === "write") collect(info);
    if (Array.isArray(n.children)) n.children.forEach(visit);
  };
  plan.forEach(visit);
  if (reason) return reason;
  // Reads: their functions are checked on the AST (complete, lambdas included). Writes have no AST, so their
  // function names are read from DuckDB's rendering of the bound expressions (lambda bodies are not rendered,
  // hence the lambda ban; whatever this misses, the effect check and the double run still judge the data).
  for (const text of strings) {
    for (const [, fn] of withoutLiterals(text).matchAll(FUNCTION_CALL)) {
      const f = fn.toLowerCase();
      const r = functionRefusal(f);
      if (r) return r;
      if (NONDETERMINISTIC_FUNCTIONS.has(f)) {
        return `${f}() is not deterministic: a write must give the same result every time it runs (use fixed values)`;
      }
      if (LAMBDA_FUNCTIONS.has(f)) {
        return `${f}() with a lambda is not supported in dbWrite: compute the values with dbRead first, or use a subquery`;
      }
    }
  }
  return undefined;
}
