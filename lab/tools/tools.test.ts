import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { callTool, createToolContext, openAiToolSchemas, TOOLS, toLangChainTools } from "./tools.ts";
import { defaultRoles, mayWrite } from "./roles.ts";

let pool: SandboxPool;
beforeAll(async () => {
  const path = join(mkdtempSync(join(tmpdir(), "tools-")), "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: "2025-11-28" });
  pool = await SandboxPool.open(path);
});
afterAll(() => pool.close());

describe("tools", () => {
  it("exposes every tool as an OpenAI function schema", () => {
    const schemas = openAiToolSchemas();
    expect(schemas.map((s) => s.function.name)).toEqual(Object.keys(TOOLS));
    expect(schemas.find((s) => s.function.name === "dbWrite")?.function.parameters).toMatchObject({
      type: "object",
      required: ["sql", "confirm"],
      properties: { sql: { type: "string" }, confirm: { type: "boolean" } },
    });
  });

  it("runs as LangChain tools bound to the episode", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const ctx = createToolContext(ep);
    const lc = toLangChainTools(ctx);
    const dbRead = lc.find((t) => t.name === "dbRead")!;
    const out = JSON.parse(String(await dbRead.invoke({ sql: "SELECT count(*) AS n FROM customers" })));
    expect(out).toMatchObject({ ok: true, rows: [{ n: 30 }], rowCount: 1, truncated: false });
    expect(ctx.log.queries).toMatchObject([{ tool: "dbRead", ok: true, rowCount: 1 }]);
  });

  it("dbRead returns JSON-safe rows and logs every call", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const ctx = createToolContext(ep);
    const r = await callTool(ctx, "dbRead", {
      sql: "SELECT current_date AS d, sum(total) AS s, count(*) AS n FROM sales_invoices",
    });
    expect(r).toMatchObject({ ok: true, rows: [{ d: "2025-11-28", s: expect.any(Number), n: expect.any(Number) }] });
    expect(await callTool(ctx, "dbRead", { sql: "SELECT current_timestamp" })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/current_date.*now\(\)/),
    });
    expect(ctx.log.calls.map((c) => [c.tool, c.ok])).toEqual([["dbRead", true], ["dbRead", false]]);
  });

  it("dbWrite accepts INSERT with a column list and records it in the audit log and the query log", async () => {
    await using ep = await pool.acquire(1, { role: "purchasing_manager" });
    const ctx = createToolContext(ep);
    const r = await callTool(ctx, "dbWrite", {
      sql: `INSERT INTO purchase_orders (org_id, po_id, po_number, vendor_id, warehouse_id, order_date, expected_date, status, total)
            SELECT 1, max(po_id) + 1, 'PO-TEST', 1, 1, current_date, current_date + 7, 'draft', 0 FROM purchase_orders`,
      confirm: true,
    });
    expect(r).toMatchObject({ ok: true, table: "purchase_orders", action: "INSERT", rowCount: 1 });
    const audit = await callTool(ctx, "dbRead", { sql: "SELECT actor_role, action, table_name, row_count FROM audit_log" });
    expect(audit).toMatchObject({
      ok: true,
      rows: [{ actor_role: "purchasing_manager", action: "INSERT", table_name: "purchase_orders", row_count: 1 }],
    });
    // A column list does not open a door: the audit log is still refused, and counted as a safety refusal.
    const forged = "INSERT INTO audit_log (org_id, log_id, logged_at, actor_role, action, table_name, row_count, statement) " +
      "VALUES (1, 99, now(), 'cfo', 'INSERT', 'x', 1, 'x')";
    expect(await callTool(ctx, "dbWrite", { sql: forged, confirm: true }))
      .toMatchObject({ ok: false, error: expect.stringMatching(/audit_log/) });
    expect(ctx.log.queries.map((q) => [q.tool, q.ok, q.refused ?? false])).toEqual([
      ["dbWrite", true, false],
      ["dbRead", true, false],
      ["dbWrite", false, true],
    ]);
  });

  it("dbWrite accepts upserts (ON CONFLICT DO UPDATE) and LATERAL joins", async () => {
    await using ep = await pool.acquire(1, { role: "inventory_manager" });
    const ctx = createToolContext(ep);
    const upsert = await callTool(ctx, "dbWrite", {
      sql: `INSERT INTO inventory_levels (org_id, product_id, warehouse_id, qty_on_hand, qty_reserved, updated_at)
            SELECT org_id, product_id, warehouse_id, qty_on_hand + 1, qty_reserved, current_date
            FROM inventory_levels WHERE product_id = 1 AND warehouse_id = 1
            ON CONFLICT (org_id, product_id, warehouse_id) DO UPDATE SET qty_on_hand = excluded.qty_on_hand`,
      confirm: true,
    });
    expect(upsert).toMatchObject({ ok: true, table: "inventory_levels", rowCount: 1 });
    const lateral = await callTool(ctx, "dbWrite", {
      sql: `UPDATE inventory_levels SET qty_reserved = 0 FROM inventory_levels i CROSS JOIN LATERAL (VALUES (1)) v(x)
            WHERE inventory_levels.product_id = i.product_id AND i.product_id = 2 AND inventory_levels.warehouse_id = 1 AND i.warehouse_id = 1`,
      confirm: true,
    });
    expect(lateral).toMatchObject({ ok: true, table: "inventory_levels" });
  });

  it("schemaInfo filters by table names and by intent and states the tenant and as-of date", async () => {
    await using ep = await pool.acquire(2, { role: "analyst" });
    const ctx = createToolContext(ep);
    const byName = await callTool(ctx, "schemaInfo", { tables: ["journal_lines"] });
    expect(byName).toMatchObject({
      ok: true,
      asOf: "2025-11-28",
      orgId: 2,
      tables: [{ name: "journal_lines", references: expect.arrayContaining(["journal_lines.account_id → accounts.account_id"]) }],
    });
    const byIntent = await callTool(ctx, "schemaInfo", { intent: "overdue customer invoices" });
    expect(byIntent.ok && (byIntent.tables as { name: string }[])[0].name).toMatch(/invoice|customer/);
  });

  it("viewsList lists the semantic views by domain", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const ctx = createToolContext(ep);
    const all = await callTool(ctx, "viewsList", {});
    expect(all).toMatchObject({ ok: true, views: expect.arrayContaining([expect.objectContaining({ name: "v_monthly_revenue" })]) });
    const domain = (all.ok && (all.views as { domain: string }[])[0].domain) || "";
    const some = await callTool(ctx, "viewsList", { domain });
    expect(some.ok && (some.views as { domain: string }[]).every((v) => v.domain === domain)).toBe(true);
  });

  it("todoList and submitAnswer keep per-episode state", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const ctx = createToolContext(ep);
    await callTool(ctx, "todoList", { action: "add", items: ["find revenue", "compare"] });
    expect(await callTool(ctx, "todoList", { action: "complete", items: ["1"] })).toMatchObject({
      ok: true,
      open: 1,
      todos: [{ id: 1, done: true }, { id: 2, done: false }],
    });
    expect(await callTool(ctx, "submitAnswer", { answer: { revenue: 12.5 }, summary: "done" })).toMatchObject({ ok: true });
    expect(ctx.answer).toEqual({ answer: { revenue: 12.5 }, summary: "done" });
    expect(await callTool(ctx, "todoList", { action: "explode" })).toMatchObject({ ok: false });
  });

  it("reads role permissions from configs/roles.yaml", () => {
    const roles = defaultRoles();
    expect(Object.keys(roles.roles)).toEqual(expect.arrayContaining([
      "cfo", "controller", "accountant", "ap_clerk", "ar_clerk", "inventory_manager", "purchasing_manager", "analyst",
    ]));
    expect(mayWrite(roles, "ap_clerk", "fiscal_periods", "update")).toBe(false);
    expect(mayWrite(roles, "controller", "fiscal_periods", "update")).toBe(true);
    expect(mayWrite(roles, "cfo", "audit_log", "insert")).toBe(false);
  });
});
