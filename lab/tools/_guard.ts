/**
 * Static checks on untrusted SQL, before it may run on an episode.
 *
 * dbRead checks the parsed AST (`json_serialize_sql`): every table reference must be an ERP table, a semantic
 * view or a CTE in scope; table functions come from a tiny allowlist; functions from a denylist (files, settings,
 * system catalogs, machine clock, dynamic SQL) are refused. dbWrite statements cannot be serialised by DuckDB, so
 * they get a token-level check with the same lists (comments and string literals skipped), then their prepared
 * statement type must match. Both are defence in depth: the episode instance also has external access disabled
 * and its configuration locked.
 *
 * Legitimate SQL that is refused (by design, documented for agents in the tool descriptions):
 * - `current_timestamp`, `get_current_timestamp()`, `localtimestamp`, `current_time`: machine clock, not the
 *   sandbox's as-of clock; use `current_date`, `today()` or `now()`.
 * - Catalog functions (`duckdb_tables()`, `information_schema.*`, `pragma_*`, `SHOW TABLES`): use schemaInfo.
 * - Table functions other than `range`, `generate_series`, `unnest`.
 * - `WITH … INSERT/UPDATE/DELETE` and `RETURNING` in dbWrite: use a subquery, then dbRead.
 * - Qualified names other than `main.<table>` (e.g. `memory.main.customers` is fine, `system.x` is not).
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
      scope = new Set([...ctes, ...cteMap.map((e) => String(isNode(e) ? e.key : "").toLowerCase())]);
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
    if (v.class === "FUNCTION" && typeof v.function_name === "string") reason ??= functionRefusal(v.function_name);
    if (v.class === "COLUMN_REF" && Array.isArray(v.column_names) && v.column_names.length === 1) {
      const c = String(v.column_names[0]).toLowerCase();
      if (CLOCK_DENYLIST.has(c)) reason ??= `${c} ${CLOCK_HINT}`;
    }
    for (const x of Object.values(v)) visit(x, scope);
  };
  visit(ast.statements, new Set());
  return reason;
}

/** A lexical token of SQL (comments dropped). */
interface Token {
  kind: "word" | "quoted" | "string" | "punct" | "other";
  text: string;
}

/** Splits SQL into tokens, skipping comments; string literals and quoted identifiers are single tokens. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    if (/\s/.test(c)) i++;
    else if (sql.startsWith("--", i)) {
      const nl = sql.indexOf("\n", i);
      i = nl < 0 ? sql.length : nl + 1;
    }
    else if (sql.startsWith("/*", i)) {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      let text = "";
      while (j < sql.length) {
        if (sql[j] === c && sql[j + 1] === c) (text += c, j += 2);
        else if (sql[j] === c) break;
        else text += sql[j++];
      }
      out.push({ kind: c === "'" ? "string" : "quoted", text });
      i = j + 1;
    } else if (c === "$" && /^\$[A-Za-z_]*\$/.test(sql.slice(i))) {
      const tag = /^\$[A-Za-z_]*\$/.exec(sql.slice(i))![0];
      const end = sql.indexOf(tag, i + tag.length);
      out.push({ kind: "string", text: sql.slice(i + tag.length, end < 0 ? sql.length : end) });
      i = end < 0 ? sql.length : end + tag.length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(sql.slice(i))![0];
      out.push({ kind: "word", text: m });
      i += m.length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9][0-9._eE]*/.exec(sql.slice(i))![0];
      out.push({ kind: "other", text: m });
      i += m.length;
    } else {
      out.push({ kind: "punct", text: c });
      i++;
    }
  }
  return out;
}

/** What a vetted write statement does. */
export interface WritePlan {
  action: "INSERT" | "UPDATE" | "DELETE";
  table: string;
  /** INSERT OR REPLACE / ON CONFLICT DO UPDATE also update existing rows. */
  alsoUpdates: boolean;
}

const TABLE_CONTEXT = new Set(["from", "join", "into", "update", "using"]);

/**
 * Token-level check of a dbWrite statement. Returns the plan, or a refusal reason.
 * `known` are lower-case names of tables and views.
 */
export function checkWriteSql(sql: string, known: ReadonlySet<string>): WritePlan | { error: string } {
  const tokens = tokenize(sql).filter((t) => !(t.kind === "punct" && t.text === ";"));
  const words = tokens.map((t) => (t.kind === "word" ? t.text.toLowerCase() : ""));
  const first = words[0];
  if (!["insert", "update", "delete"].includes(first)) {
    return {
      error: `dbWrite runs one INSERT, UPDATE or DELETE statement (found '${tokens[0]?.text ?? ""}'); WITH … is not supported, use a subquery`,
    };
  }
  if (words.includes("returning")) return { error: "RETURNING is not supported: run the write, then dbRead" };
  const ctes = new Set<string>();
  let target: string | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    const name = t.kind === "word" || t.kind === "quoted" ? t.text.toLowerCase() : undefined;
    const prev = words[i - 1] ?? "";
    const next = tokens[i + 1];
    if (t.kind === "word" && CLOCK_DENYLIST.has(name!)) return { error: `${name} ${CLOCK_HINT}` };
    // `INSERT INTO t (col, …)`: a table name followed by its column list, not a function call.
    const columnList = prev === "into" && t.kind !== "string";
    // `JOIN LATERAL (…)` and `FROM (VALUES …)`: keywords before a parenthesis, not table functions.
    const keyword = t.kind === "word" && (name === "lateral" || name === "values");
    if (name && next?.kind === "punct" && next.text === "(" && !columnList && !keyword) {
      const refusal = functionRefusal(name);
      if (refusal) return { error: refusal };
      if (TABLE_CONTEXT.has(prev) && !TABLE_FUNCTION_ALLOWLIST.has(name)) {
        return { error: `table function ${name}() is not allowed (allowed: ${[...TABLE_FUNCTION_ALLOWLIST].join(", ")})` };
      }
      continue;
    }
    if (name && words[i + 1] === "as" && tokens[i + 2]?.text === "(") ctes.add(name);
    // `ON CONFLICT … DO UPDATE SET`: the word after UPDATE is SET, not a table.
    if (prev === "update" && words[i - 2] === "do") continue;
    if (!TABLE_CONTEXT.has(prev) || !(t.kind === "word" || t.kind === "quoted" || t.kind === "string")) continue;
    if (t.kind === "string") return { error: `'${t.text}' looks like a file path: file access is not allowed` };
    // Qualified name: a.b or a.b.c
    const parts = [t.text];
    while (tokens[i + 1]?.text === "." && tokens[i + 2]) {
      parts.push(tokens[i + 2].text);
      i += 2;
    }
    const table = parts.at(-1)!;
    const qual = parts.slice(0, -1).map((p) => p.toLowerCase());
    const okQual = qual.length === 0 || (qual.length === 1 && ["main", "memory"].includes(qual[0])) ||
      (qual.length === 2 && qual[0] === "memory" && qual[1] === "main");
    if (t.kind === "word" && ["select", "values", "lateral"].includes(name ?? "")) continue;
    const refusal = okQual ? undefined : `'${parts.join(".")}' is outside the ERP schema: use the unqualified table name`;
    if (refusal) return { error: refusal };
    const tn = table.toLowerCase();
    if (!known.has(tn) && !ctes.has(tn)) {
      return { error: `unknown table '${table}': call schemaInfo for the available tables` };
    }
    if (target === undefined && (prev === "into" || prev === "update" || (prev === "from" && first === "delete"))) {
      target = tn;
    }
  }
  if (!target) return { error: "cannot find the table written; use INSERT INTO t …, UPDATE t … or DELETE FROM t …" };
  const action = first.toUpperCase() as WritePlan["action"];
  const joined = words.join(" ");
  const alsoUpdates = action === "INSERT" && (/^insert or replace\b/.test(joined) || /\bdo update\b/.test(joined.replace(/\s+/g, " ")));
  return { action, table: target, alsoUpdates };
}
