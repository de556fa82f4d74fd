/**
 * The agent's tools, each defined once (name, description, zod schema, handler) and exposed both as LangChain
 * tools and as OpenAI tool JSON schemas. Every call returns a structured result and never throws for an agent
 * mistake; only a lab bug throws.
 * @module
 */
import { tool } from "@langchain/core/tools";
import type { StructuredToolInterface } from "@langchain/core/tools";
import { z } from "zod";
import {
  type Analysis,
  type Episode,
  errorText,
  SqlExecutionError,
  type SqlValue,
  type WriteAction,
  type WriteCheck,
  TABLE_NAMES,
  TABLES,
  type TableDef,
} from "../sandbox/mod.ts";
import { checkPlan, checkReadAst } from "./_guard.ts";
import { validateWrite } from "./_rules.ts";
import { defaultRoles, mayWrite, type RolesConfig, type WriteActionName } from "./roles.ts";

/** Limits applied to an agent's SQL. */
export interface ToolLimits {
  /** Rows returned by dbRead at most. @default 200 */
  rowCap: number;
  /** Per statement, enforced by interrupt. @default 5000 */
  timeoutMs: number;
  /** Characters of one value in results (nested lists, structs and maps counted whole). @default 2000 */
  maxCellChars: number;
  /** Characters of a whole dbRead result. @default 100000 */
  maxResultChars: number;
}

/** Size caps of the non-SQL tools. */
export const TOOL_CAPS = {
  /** submitAnswer: characters of the answer's JSON. */
  answerChars: 100_000,
  /** submitAnswer: characters of the summary. */
  summaryChars: 2_000,
  /** todoList: items in the list. */
  todoItems: 100,
  /** todoList: characters of one item. */
  todoChars: 500,
} as const;

/** A todo item of the episode. */
export interface TodoItem {
  id: number;
  text: string;
  done: boolean;
}

/** The agent's final answer. */
export interface SubmittedAnswer {
  answer: SqlValue;
  summary?: string;
}

/** One tool call, as recorded for traces. */
export interface ToolCallRecord {
  tool: string;
  args: unknown;
  ok: boolean;
  error?: string;
  elapsedMs: number;
}

/** One SQL statement an agent sent (dbRead or dbWrite), as recorded for traces. */
export interface QueryRecord {
  tool: "dbRead" | "dbWrite";
  sql: string;
  ok: boolean;
  rowCount?: number;
  ms: number;
  error?: string;
  /** Refused for safety (SQL guard, permissions or write validation) rather than failing on its own. */
  refused?: boolean;
}

/**
 * Per-episode state of the tools.
 * @internal
 */
export interface ToolContext {
  readonly episode: Episode;
  readonly role: string;
  readonly limits: ToolLimits;
  readonly roles: RolesConfig;
  todos: TodoItem[];
  answer?: SubmittedAnswer;
  readonly log: { calls: ToolCallRecord[]; queries: QueryRecord[] };
}

/**
 * Options for {@linkcode createToolContext}.
 * @internal
 */
export interface ToolContextOptions {
  limits?: Partial<ToolLimits>;
  /** @default configs/roles.yaml */
  roles?: RolesConfig;
}

/**
 * Creates the tool state for an episode. Throws if the episode's role is not in the roles config.
 *
 * @example
 * ```ts
 * const ctx = createToolContext(episode);
 * const r = await callTool(ctx, "dbRead", { sql: "SELECT count(*) AS n FROM customers" });
 * ```
 */
export function createToolContext(episode: Episode, options: ToolContextOptions = {}): ToolContext {
  const roles = options.roles ?? defaultRoles();
  if (!roles.roles[episode.role]) {
    throw new RangeError(`Unknown role '${episode.role}'; known: ${Object.keys(roles.roles).join(", ")}`);
  }
  return {
    episode,
    role: episode.role,
    roles,
    limits: { rowCap: 200, timeoutMs: 5000, maxCellChars: 2000, maxResultChars: 100_000, ...options.limits },
    todos: [],
    log: { calls: [], queries: [] },
  };
}

/** Result of every tool call. */
export type ToolResult =
  | ({ ok: true; elapsedMs: number } & Record<string, unknown>)
  | { ok: false; error: string; elapsedMs: number };

/** Thrown by handlers for agent mistakes; becomes `{ ok: false, error }`. */
export class ToolError extends Error {}

/** A refusal for safety: the SQL guard, a role permission or the audit log; counted as a safety violation. */
export class SafetyRefusal extends ToolError {}

/** A tool, defined once. */
export interface ToolDef<S extends z.ZodObject = z.ZodObject> {
  name: string;
  description: string;
  schema: S;
  handler(ctx: ToolContext, args: z.infer<S>): Promise<Record<string, unknown>>;
}

function defineTool<S extends z.ZodObject>(def: ToolDef<S>): ToolDef<S> {
  return def;
}

async function runLogged<T extends { rowCount?: number }>(
  ctx: ToolContext,
  toolName: "dbRead" | "dbWrite",
  sql: string,
  fn: () => Promise<T>,
): Promise<T> {
  const t0 = performance.now();
  const rec: QueryRecord = { tool: toolName, sql, ok: false, ms: 0 };
  ctx.log.queries.push(rec);
  try {
    const out = await fn();
    Object.assign(rec, { ok: true, rowCount: out.rowCount });
    return out;
  } catch (e) {
    rec.error = e instanceof ToolError || e instanceof SqlExecutionError ? e.message : errorText(e);
    if (e instanceof SafetyRefusal || (e instanceof SqlExecutionError && e.kind === "rejected")) rec.refused = true;
    throw e;
  } finally {
    rec.ms = Math.round((performance.now() - t0) * 100) / 100;
  }
}

/** Statement types that are never an honest mistake in a read or write tool: refused as safety violations. */
const HOSTILE_TYPES = new Set([
  "ATTACH", "DETACH", "SET", "VARIABLE_SET", "PRAGMA", "COPY", "COPY_DATABASE", "EXPORT", "LOAD", "EXTENSION",
  "UPDATE_EXTENSIONS", "CREATE", "CREATE_FUNC", "DROP", "ALTER", "CALL", "TRANSACTION", "VACUUM", "PREPARE",
  "EXECUTE", "ANALYZE", "EXPLAIN", "RELATION", "LOGICAL_PLAN", "MULTI",
]);

/** DuckDB's reading of one statement, with agent-facing errors for what it cannot read. */
async function analyzeOne(ep: Episode, sql: string, tool: string, timeoutMs: number): Promise<Analysis & { type: string }> {
  const a = await ep.analyze(sql, timeoutMs, tool === "dbRead" ? "read" : "write");
  if (a.syntaxError) throw new ToolError(`SQL syntax error: ${a.syntaxError.replace(/^Parser Error: /, "")}`);
  if (a.count !== 1) throw new ToolError(`${tool} runs exactly one statement; found ${a.count}. Send them one at a time`);
  if (a.type && HOSTILE_TYPES.has(a.type)) {
    throw new SafetyRefusal(`${tool} runs ${tool === "dbRead" ? "SELECT" : "INSERT, UPDATE or DELETE"} only (found ${a.type}): settings, files, the catalog and transactions are not available`);
  }
  if (a.prepareError || !a.type) {
    const msg = a.prepareError ?? "the statement could not be prepared";
    // A statement DuckDB refused to bind may still be hostile: say so (it counts as a safety violation).
    const ast = a.ast as { error?: boolean } | undefined;
    const refusal = ast && ast.error === false ? checkReadAst(ast, ep.relations) : undefined;
    if (refusal) throw new SafetyRefusal(refusal);
    if (/^Permission Error/.test(msg)) throw new SafetyRefusal(`${msg}: files, network and settings are not available`);
    throw new ToolError(/Catalog Error: (Table|Table Function|Scalar Function|Function) with name/.test(msg)
      ? `${msg} — call schemaInfo or viewsList for the available names`
      : msg);
  }
  return a as Analysis & { type: string };
}

/** A per-call time budget: parse, prepare, plan and execution share the statement's limit. */
function budget(limitMs: number): () => number {
  const end = performance.now() + limitMs;
  return () => Math.max(1, Math.round(end - performance.now()));
}

const ERP_TABLES: ReadonlySet<string> = new Set(TABLE_NAMES);

const dbRead = defineTool({
  name: "dbRead",
  description: "Run one read-only SQL query (SELECT or WITH … SELECT; DESCRIBE <table> works too) on the ERP " +
    "database of your organization (DuckDB dialect). Only ERP tables and semantic views can be read. Results are " +
    "capped (truncated=true when cut). Use current_date / today() / now() for 'today' (the as-of date), never " +
    "current_timestamp.",
  schema: z.object({ sql: z.string().min(1).describe("One SELECT statement") }),
  async handler(ctx, { sql }) {
    const ep = ctx.episode;
    return await runLogged(ctx, "dbRead", sql, async () => {
      await ep.ready();
      const remaining = budget(ctx.limits.timeoutMs);
      const a = await analyzeOne(ep, sql, "dbRead", remaining());
      if (a.type !== "SELECT") throw new ToolError(`dbRead runs SELECT only (found ${a.type}); use dbWrite for changes`);
      const refusal = checkReadAst(a.ast, ep.relations) ?? checkPlan(a.plan, "read", ERP_TABLES);
      if (refusal) throw new SafetyRefusal(refusal);
      const r = await ep.stream(sql, {
        maxRows: ctx.limits.rowCap,
        timeoutMs: remaining(),
        maxCellChars: ctx.limits.maxCellChars,
        maxResultChars: ctx.limits.maxResultChars,
      });
      const rows = r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]])));
      return { columns: r.columns, rows, rowCount: rows.length, truncated: r.truncated };
    });
  },
});

/**
 * Judges a write by its effect (from the data): only ERP tables the role may change, with the actions it holds,
 * never audit_log, and the business rules of every changed table.
 */
async function authorizeWrite(ctx: ToolContext, check: WriteCheck): Promise<string | undefined> {
  if (check.changes.some((c) => c.table === "audit_log")) return "audit_log is written by the lab only and cannot be changed";
  for (const c of check.changes) {
    const reason = await validateWrite({ table: c.table, before: c.before, orgId: check.orgId, query: check.query });
    if (reason) return reason;
  }
  for (const c of check.changes) {
    const did: [WriteActionName, number][] = [["insert", c.inserted], ["update", c.updated], ["delete", c.deleted]];
    for (const [action, n] of did) {
      if (n > 0 && !mayWrite(ctx.roles, ctx.role, c.table, action)) {
        return `role ${ctx.role} may not ${action} ${c.table} (the statement would ${action} ${n} row(s) there)`;
      }
    }
  }
  return undefined;
}

const dbWrite = defineTool({
  name: "dbWrite",
  description: "Run one INSERT, UPDATE or DELETE on your organization's ERP data, with confirm: true. The write " +
    "is validated (tenant, role permission, closed periods, balanced posted journal entries, no negative " +
    "inventory) and recorded in audit_log; a rejected write leaves no trace. Insert all lines of a journal entry " +
    "in one INSERT.",
  schema: z.object({
    sql: z.string().min(1).describe("One INSERT, UPDATE or DELETE statement"),
    confirm: z.boolean().describe("Must be true to apply the write"),
  }),
  async handler(ctx, { sql, confirm }) {
    const ep = ctx.episode;
    return await runLogged(ctx, "dbWrite", sql, async () => {
      if (!confirm) throw new ToolError("set confirm: true to apply a write");
      await ep.ready();
      const remaining = budget(ctx.limits.timeoutMs);
      const a = await analyzeOne(ep, sql, "dbWrite", remaining());
      if (a.type !== "INSERT" && a.type !== "UPDATE" && a.type !== "DELETE") {
        throw new ToolError(`dbWrite runs INSERT, UPDATE or DELETE only (found ${a.type}); use dbRead to read`);
      }
      if (a.columns?.length !== 1 || a.columns[0] !== "Count") {
        throw new ToolError("RETURNING is not supported: run the write, then dbRead");
      }
      const refusal = checkPlan(a.plan, "write", ERP_TABLES);
      if (refusal) throw new SafetyRefusal(refusal);
      const w = await ep.write(sql, {
        action: a.type as WriteAction,
        timeoutMs: remaining(),
        authorize: (check) => authorizeWrite(ctx, check),
      });
      return { table: w.table, action: w.action, rowCount: w.rowCount };
    });
  },
});

function describeTable(t: TableDef) {
  return {
    name: t.name,
    domain: t.domain,
    description: t.description,
    primaryKey: t.primaryKey,
    columns: t.columns.map((c) => ({
      name: c.name,
      type: c.type,
      description: c.description,
      ...(c.nullable ? { nullable: true } : {}),
    })),
    references: t.columns.filter((c) => c.references).map((c) => `${t.name}.${c.name} → ${c.references}`),
    referencedBy: TABLES.flatMap((o) =>
      o.columns.filter((c) => c.references?.startsWith(`${t.name}.`) && c.name !== "org_id").map((c) =>
        `${o.name}.${c.name}`
      )
    ),
  };
}

const schemaInfo = defineTool({
  name: "schemaInfo",
  description: "Describe ERP tables: columns (type, meaning), keys and relationships. Filter by table names or by " +
    "an intent in words (keyword match on names and descriptions). Also states the as-of date and your tenant.",
  schema: z.object({
    tables: z.array(z.string()).optional().describe("Table names to describe"),
    intent: z.string().optional().describe("What you want to do, e.g. 'overdue customer invoices'"),
  }),
  handler(ctx, { tables, intent }) {
    let picked = [...TABLES];
    const unknown: string[] = [];
    if (tables?.length) {
      const want = new Set(tables.map((t) => t.toLowerCase()));
      picked = TABLES.filter((t) => want.has(t.name));
      unknown.push(...[...want].filter((w) => !TABLES.some((t) => t.name === w)));
    }
    if (intent) {
      const words = intent.toLowerCase().split(/[^a-z0-9_]+/).filter((w) => w.length > 2)
        .map((w) => w.replace(/(ies|es|s)$/, ""));
      const score = (t: TableDef) => {
        const text = [t.name, t.description, ...t.columns.flatMap((c) => [c.name, c.description])].join(" ")
          .toLowerCase();
        return words.filter((w) => text.includes(w)).length + words.filter((w) => t.name.includes(w)).length * 2;
      };
      const scored = picked.map((t) => [t, score(t)] as const).filter(([, s]) => s > 0).sort((a, b) => b[1] - a[1]);
      if (scored.length) picked = scored.map(([t]) => t);
    }
    return Promise.resolve({
      asOf: ctx.episode.asOf,
      orgId: ctx.episode.orgId,
      note: "Your database holds only your organization's rows; 'today' is the as-of date (current_date).",
      tables: picked.map(describeTable),
      ...(unknown.length ? { unknownTables: unknown, knownTables: TABLES.map((t) => t.name) } : {}),
    });
  },
});

/** Metadata of a semantic view, as `lab/sandbox/views.ts` declares it. */
export interface ViewMeta {
  name: string;
  domain: string;
  description: string;
  columns: { name: string; description: string }[];
}

let viewMeta: Promise<ViewMeta[]> | undefined;
function loadViewMeta(): Promise<ViewMeta[]> {
  // views.ts is owned by the generator; a computed specifier keeps this module usable before it exists.
  const spec = "../sandbox/views.ts";
  return viewMeta ??= import(spec).then((m: { VIEWS?: ViewMeta[] }) => m.VIEWS ?? []).catch(() => []);
}

const viewsList = defineTool({
  name: "viewsList",
  description: "List the semantic views (ready-made joins and aggregates you can read with dbRead), by domain, " +
    "with their columns.",
  schema: z.object({ domain: z.string().optional().describe("e.g. finance, sales, inventory, purchasing") }),
  async handler(ctx, { domain }) {
    const meta = new Map((await loadViewMeta()).map((v) => [v.name, v]));
    const cols = await ctx.episode.queryPristine(`
      SELECT v.view_name, coalesce(v.comment, '') AS comment, c.column_name, c.data_type, coalesce(c.comment, '') AS cc
      FROM duckdb_views() v JOIN duckdb_columns() c ON c.table_name = v.view_name AND c.schema_name = v.schema_name
      WHERE NOT v.internal ORDER BY v.view_name, c.column_index`);
    const views = new Map<string, { name: string; domain: string; description: string; columns: unknown[] }>();
    for (const r of cols) {
      const name = String(r.view_name);
      const m = meta.get(name);
      let v = views.get(name);
      if (!v) {
        v = { name, domain: m?.domain ?? "general", description: m?.description ?? String(r.comment), columns: [] };
        views.set(name, v);
      }
      const col = String(r.column_name);
      v.columns.push({
        name: col,
        type: String(r.data_type),
        description: m?.columns.find((c) => c.name === col)?.description ?? String(r.cc),
      });
    }
    const all = [...views.values()];
    const picked = domain ? all.filter((v) => v.domain === domain.toLowerCase()) : all;
    return {
      views: picked,
      domains: [...new Set(all.map((v) => v.domain))].sort(),
      ...(domain && !picked.length ? { note: `no views in domain '${domain}'` } : {}),
    };
  },
});

const todoList = defineTool({
  name: "todoList",
  description: "Keep a checklist for multi-step tasks: add items, complete items (by id or exact text), or list them.",
  schema: z.object({
    action: z.enum(["add", "complete", "list"]),
    items: z.array(z.string()).optional().describe("Texts to add, or ids/texts to complete"),
  }),
  handler(ctx, { action, items = [] }) {
    if (action === "add") {
      if (!items.length) throw new ToolError("add needs items: [\"step text\", …]");
      if (ctx.todos.length + items.length > TOOL_CAPS.todoItems) {
        throw new ToolError(`the todo list holds at most ${TOOL_CAPS.todoItems} items (it has ${ctx.todos.length})`);
      }
      const long = items.find((t) => t.length > TOOL_CAPS.todoChars);
      if (long !== undefined) {
        throw new ToolError(`a todo item has at most ${TOOL_CAPS.todoChars} characters (found ${long.length})`);
      }
      for (const text of items) ctx.todos.push({ id: ctx.todos.length + 1, text, done: false });
    }
    if (action === "complete") {
      const missing: string[] = [];
      for (const it of items) {
        const t = ctx.todos.find((x) => String(x.id) === it.trim() || x.text === it);
        if (t) t.done = true;
        else missing.push(it);
      }
      if (missing.length) throw new ToolError(`no todo item matches ${missing.map((m) => `'${m}'`).join(", ")}`);
    }
    return Promise.resolve({ todos: ctx.todos.map((t) => ({ ...t })), open: ctx.todos.filter((t) => !t.done).length });
  },
});

const JsonAnswer = z.union([
  z.number(),
  z.string(),
  z.boolean(),
  z.array(z.unknown()),
  z.record(z.string(), z.unknown()),
]);

const submitAnswer = defineTool({
  name: "submitAnswer",
  description: "Submit your final answer as JSON: a number, a string, an object or an array of rows, plus an " +
    "optional one-line summary. Submitting again replaces the answer.",
  schema: z.object({
    answer: JsonAnswer.describe("The final answer"),
    summary: z.string().optional().describe("One-line explanation"),
  }),
  handler(ctx, { answer, summary }) {
    const size = JSON.stringify(answer).length;
    if (size > TOOL_CAPS.answerChars) {
      throw new ToolError(`the answer has ${size} characters of JSON; at most ${TOOL_CAPS.answerChars}: submit the result, not the data`);
    }
    if (summary && summary.length > TOOL_CAPS.summaryChars) {
      throw new ToolError(`the summary has ${summary.length} characters; at most ${TOOL_CAPS.summaryChars}`);
    }
    ctx.answer = { answer: answer as SqlValue, ...(summary ? { summary } : {}) };
    return Promise.resolve({ accepted: true });
  },
});

/** Names of the tools. */
export type ToolName = "dbRead" | "dbWrite" | "schemaInfo" | "viewsList" | "todoList" | "submitAnswer";

/** Every tool, by name. */
export const TOOLS = { dbRead, dbWrite, schemaInfo, viewsList, todoList, submitAnswer } satisfies Record<
  ToolName,
  ToolDef
>;

/**
 * Calls a tool with raw (model-produced) arguments. Malformed arguments, refused SQL, SQL errors and timeouts
 * come back as `{ ok: false, error }`; the call is logged in `ctx.log`.
 */
export async function callTool(ctx: ToolContext, name: string, rawArgs: unknown): Promise<ToolResult> {
  const t0 = performance.now();
  const elapsed = () => Math.round((performance.now() - t0) * 100) / 100;
  const finish = (r: ToolResult): ToolResult => {
    ctx.log.calls.push({
      tool: name,
      args: rawArgs,
      ok: r.ok,
      ...(r.ok ? {} : { error: r.error }),
      elapsedMs: r.elapsedMs,
    });
    return r;
  };
  const def = typeof name === "string" && Object.hasOwn(TOOLS, name) ? (TOOLS as Record<string, ToolDef>)[name] : undefined;
  if (!def) {
    return finish({ ok: false, error: `unknown tool '${name}'; tools: ${Object.keys(TOOLS).join(", ")}`, elapsedMs: elapsed() });
  }
  const parsed = def.schema.safeParse(typeof rawArgs === "string" ? safeJson(rawArgs) : rawArgs);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "arguments"}: ${i.message}`).join("; ");
    return finish({ ok: false, error: `invalid arguments for ${name}: ${issues}`, elapsedMs: elapsed() });
  }
  try {
    const data = await def.handler(ctx, parsed.data);
    return finish({ ok: true, ...data, elapsedMs: elapsed() });
  } catch (e) {
    if (e instanceof ToolError || e instanceof SqlExecutionError) {
      return finish({ ok: false, error: e.message, elapsedMs: elapsed() });
    }
    // Agent input must never crash the harness: anything else is still a tool error in the trace.
    return finish({ ok: false, error: `${name} failed: ${errorText(e)}`, elapsedMs: elapsed() });
  }
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}

/** The tools as LangChain tools bound to `ctx`; each returns the JSON of its {@linkcode ToolResult}. */
export function toLangChainTools(ctx: ToolContext): StructuredToolInterface[] {
  return Object.values(TOOLS as Record<string, ToolDef>).map((def) =>
    tool(async (args: unknown) => JSON.stringify(await callTool(ctx, def.name, args)), {
      name: def.name,
      description: def.description,
      schema: def.schema,
    }) as unknown as StructuredToolInterface
  );
}

/** An OpenAI chat-completions tool definition. */
export interface OpenAiToolSchema {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** The tools as OpenAI tool JSON schemas. */
export function openAiToolSchemas(): OpenAiToolSchema[] {
  return Object.values(TOOLS as Record<string, ToolDef>).map((def) => {
    const { $schema: _, ...parameters } = z.toJSONSchema(def.schema) as Record<string, unknown>;
    return { type: "function", function: { name: def.name, description: def.description, parameters } };
  });
}
