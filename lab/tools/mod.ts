/**
 * Tools: what agents use to work on an episode's ERP database — dbRead, dbWrite, schemaInfo, viewsList,
 * todoList, submitAnswer — defined once and exposed to LangChain and as OpenAI tool schemas.
 *
 * @example
 * ```ts
 * import { callTool, createToolContext } from "./lab/tools/mod.ts";
 * await using ep = await pool.acquire(1, { role: "accountant" });
 * const ctx = createToolContext(ep);
 * const r = await callTool(ctx, "dbRead", { sql: "SELECT count(*) AS n FROM customers" });
 * if (r.ok) console.log(r.rows);
 * ```
 * @module
 */
export * from "./tools.ts";
export { defaultRoles, loadRoles, mayWrite, RolesConfig, ROLES_PATH, WriteActionName } from "./roles.ts";
export { CLOCK_DENYLIST, FUNCTION_DENY_PREFIXES, FUNCTION_DENYLIST, TABLE_FUNCTION_ALLOWLIST } from "./_guard.ts";
