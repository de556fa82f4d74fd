/**
 * The lab's public surface: notebooks and external scripts import from here only.
 *
 * @example
 * ```ts
 * import { ensureSandbox, SandboxPool, createToolContext, callTool, loadCatalog, htmlTable } from "../lab/mod.ts";
 * const { path, manifest } = await ensureSandbox({ scale: "tiny" });
 * await using pool = await SandboxPool.open(path);
 * await using ep = await pool.acquire(1, { role: "analyst" });
 * const ctx = createToolContext(ep);
 * const r = await callTool(ctx, "dbRead", { sql: "SELECT * FROM v_monthly_revenue ORDER BY month" });
 * ```
 * @module
 */
export * from "./sandbox/mod.ts";
export * from "./tools/mod.ts";
export * from "./challenges/mod.ts";
export * from "./report/mod.ts";
export { LabError, ConfigError } from "./util/errors.ts";
export { progressBar, type ProgressBar } from "./util/progress.ts";
export { displayPath, repoPath, ROOT } from "./util/paths.ts";
export * from "./models/mod.ts";
export * from "./agents/mod.ts";
export * from "./tournament/mod.ts";
export * from "./patterns/mod.ts";
// The local OpenAI-compatible server is a face (no lab module imports it); notebooks, like the CLI, may start it.
export { type LocalServer, startServer } from "./serve/mod.ts";
export * from "./evals/mod.ts";
export { LabContext, type LabContextOptions } from "./context.ts";
