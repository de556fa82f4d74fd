import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSandbox } from "./generate.ts";
import { createTablesSql, TABLES } from "./schema.ts";
import { createViewsSql, VIEWS } from "./views.ts";

const AS_OF = "2025-11-28";

describe("tiny sandbox data and views", () => {
  let dir: string;
  let inst: DuckDBInstance;
  let con: DuckDBConnection;
  const rows = async (sql: string) => (await con.runAndReadAll(sql)).getRowObjectsJson();
  const one = async (sql: string) => (await con.runAndReadAll(sql)).getRows()[0][0];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lab-sandbox-views-"));
    const path = join(dir, "tiny.duckdb");
    await buildSandbox(path, { scale: "tiny", asOf: AS_OF });
    inst = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
    con = await inst.connect();
  });
  afterAll(async () => {
    con?.closeSync();
    inst?.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers current_date, today() and now() with the as-of date in any connection", async () => {
    expect(await rows("SELECT current_date::VARCHAR AS a, today()::VARCHAR AS b, now()::VARCHAR AS c")).toEqual([
      { a: AS_OF, b: AS_OF, c: `${AS_OF} 12:00:00` },
    ]);
  });

  it("balances every posted journal entry", async () => {
    expect(
      await one(`SELECT count(*) FROM (
        SELECT l.org_id, l.entry_id FROM journal_lines l JOIN journal_entries e USING (org_id, entry_id)
        WHERE e.status = 'posted' GROUP BY ALL HAVING sum(l.debit) <> sum(l.credit))`),
    ).toBe(0n);
  });

  it("reports the same revenue from invoices and from the ledger for every month", async () => {
    const diff = await rows(
      `SELECT org_id, month FROM v_monthly_revenue r FULL JOIN v_pnl_monthly p USING (org_id, month)
      WHERE coalesce(r.revenue, 0) <> coalesce(p.revenue, 0)`,
    );
    expect(diff).toEqual([]);
    expect(await one("SELECT count(DISTINCT month) FROM v_monthly_revenue")).toBe(24n);
  });

  it("values the ledger's inventory at exactly the stock on hand", async () => {
    expect(
      await rows(`SELECT t.org_id FROM v_trial_balance t
        JOIN (SELECT org_id, sum(value) AS v FROM v_inventory_value GROUP BY ALL) i USING (org_id)
        WHERE t.code = '1200' AND t.balance <> i.v`),
    ).toEqual([]);
  });

  it("has no business date after the as-of date", async () => {
    // Due dates, expected deliveries and the current period's end may lie in the future.
    const later = ["due_date", "expected_date", "end_date"];
    const checks = TABLES.flatMap((t) =>
      t.columns.filter((c) => c.type.startsWith("DATE") || c.type === "TIMESTAMP").filter((c) =>
        !later.includes(c.name)
      ).map((c) => `SELECT '${t.name}.${c.name}' AS col FROM ${t.name} WHERE ${c.name} > DATE '${AS_OF}'`)
    );
    expect(await rows(`SELECT DISTINCT col FROM (${checks.join(" UNION ALL ")})`)).toEqual([]);
  });

  it("keeps only the period containing the as-of date open, all earlier ones closed", async () => {
    expect(await one(`SELECT count(*) FROM fiscal_periods WHERE end_date > DATE '${AS_OF}' AND status = 'closed'`))
      .toBe(0n);
    expect(
      await rows(`SELECT org_id, count(*) AS periods, count(*) FILTER (WHERE status = 'closed') AS closed,
                     string_agg(name, ',') FILTER (WHERE status = 'open') AS open
                  FROM fiscal_periods GROUP BY org_id ORDER BY org_id`),
    ).toEqual([1, 2, 3].map((org_id) => ({ org_id, periods: "24", closed: "23", open: "2025-11" })));
  });

  it("leaves the current period's accruals due and every closed period's posted", async () => {
    const status = await rows(`SELECT org_id, bool_and(accruals_posted) FILTER (WHERE status = 'closed') AS closed_ok,
        bool_or(accruals_posted) FILTER (WHERE status = 'open') AS open_done, min(accruals_expected) AS n
      FROM v_period_status GROUP BY org_id ORDER BY org_id`);
    for (const s of status) {
      expect(s).toMatchObject({ closed_ok: true, open_done: false });
      expect(Number(s.n)).toBeGreaterThanOrEqual(3);
      expect(Number(s.n)).toBeLessThanOrEqual(5);
    }
    expect(await one("SELECT count(*) FROM accrual_schedules WHERE last_posted_period_id <> 23")).toBe(0n);
  });

  it("carries an org_id from organizations on every business row", async () => {
    const orphans = TABLES.filter((t) => t.name !== "organizations").map((t) =>
      `SELECT '${t.name}' AS t FROM ${t.name} WHERE org_id NOT IN (SELECT org_id FROM organizations)`
    );
    expect(await rows(`SELECT DISTINCT t FROM (${orphans.join(" UNION ALL ")})`)).toEqual([]);
  });

  it("numbers ids densely from 1 within each org", async () => {
    const idTables = TABLES.filter((t) => t.primaryKey.length === 2 && t.primaryKey[0] === "org_id");
    const sql = idTables.map((t) =>
      `SELECT '${t.name}' AS t FROM ${t.name} GROUP BY org_id HAVING min(${t.primaryKey[1]}) <> 1
         OR max(${t.primaryKey[1]}) <> count(*)`
    );
    expect(await rows(`SELECT DISTINCT t FROM (${sql.join(" UNION ALL ")})`)).toEqual([]);
  });

  it("never lets payments exceed totals and keeps invoice and bill statuses in line with payments", async () => {
    const bad = await rows(`
      SELECT 'invoice' AS kind, i.invoice_id AS id FROM sales_invoices i
      LEFT JOIN (SELECT org_id, invoice_id, sum(amount) AS paid FROM customer_payments GROUP BY ALL) p
        USING (org_id, invoice_id)
      WHERE coalesce(p.paid, 0) > i.total
         OR (i.status = 'paid') <> (coalesce(p.paid, 0) = i.total)
         OR (i.status = 'partial') <> (coalesce(p.paid, 0) > 0 AND coalesce(p.paid, 0) < i.total)
         OR (i.status IN ('draft', 'void') AND p.paid IS NOT NULL)
         OR i.total <> i.subtotal + i.tax
      UNION ALL
      SELECT 'bill', b.bill_id FROM vendor_bills b
      LEFT JOIN (SELECT org_id, bill_id, sum(amount) AS paid FROM bill_payments GROUP BY ALL) p USING (org_id, bill_id)
      WHERE coalesce(p.paid, 0) > b.total
         OR b.status <> CASE WHEN coalesce(p.paid, 0) = b.total THEN 'paid'
                             WHEN coalesce(p.paid, 0) > 0 THEN 'partial' ELSE 'open' END`);
    expect(bad).toEqual([]);
  });

  it("posts no journal entry for draft or void invoices", async () => {
    expect(
      await one(`SELECT count(*) FROM journal_entries e JOIN sales_invoices i
        ON i.org_id = e.org_id AND i.invoice_id = e.source_id AND e.source = 'invoice'
        WHERE i.status IN ('draft', 'void')`),
    ).toBe(0n);
    expect(await one("SELECT count(*) FROM sales_invoices WHERE status IN ('draft', 'void')")).toBeGreaterThan(0n);
  });

  it("never holds negative stock, and keeps a minority of active stock rows below the reorder point in each org", async () => {
    expect(await one("SELECT count(*) FROM inventory_levels WHERE qty_on_hand < 0 OR qty_reserved > qty_on_hand"))
      .toBe(0n);
    const low = await rows(`SELECT s.org_id, s.n, a.n AS active FROM
        (SELECT org_id, count(*) AS n FROM v_low_stock GROUP BY ALL) s
        JOIN (SELECT l.org_id, count(*) AS n FROM inventory_levels l JOIN products p USING (org_id, product_id)
              WHERE p.is_active GROUP BY ALL) a USING (org_id) ORDER BY s.org_id`);
    expect(low.map((r) => r.org_id)).toEqual([1, 2, 3]);
    for (const r of low) {
      expect(Number(r.n)).toBeGreaterThanOrEqual(3);
      expect(Number(r.n)).toBeLessThan(Number(r.active) / 4);
    }
  });

  it("has partial and overdue invoices spread over the aging buckets", async () => {
    expect(await one("SELECT count(*) FROM sales_invoices WHERE status = 'partial'")).toBeGreaterThan(0n);
    const buckets = (await rows("SELECT DISTINCT bucket FROM v_ar_aging ORDER BY bucket")).map((r) => r.bucket);
    expect(buckets).toEqual(["1-30", "31-60", "61-90", "90+", "current"]);
    expect(await one("SELECT count(*) FROM v_ap_aging")).toBeGreaterThan(0n);
  });

  it("leaves recent, a few older and some bank-only lines unreconciled in every org", async () => {
    const u = await rows(`SELECT org_id, count(*) FILTER (WHERE days_outstanding <= 7) AS recent,
        count(*) FILTER (WHERE days_outstanding > 7) AS older,
        count(*) FILTER (WHERE description LIKE '%FEE%') AS fees
      FROM v_unreconciled_bank GROUP BY org_id ORDER BY org_id`);
    expect(u.map((r) => r.org_id)).toEqual([1, 2, 3]);
    for (const r of u) {
      expect(Number(r.recent)).toBeGreaterThan(0);
      expect(Number(r.older)).toBeGreaterThan(0);
      expect(Number(r.fees)).toBe(2);
    }
    expect(
      await one(`SELECT count(*) FROM bank_transactions
        WHERE reconciled <> (matched_type IS NOT NULL) OR (reconciled AND matched_id IS NULL)`),
    ).toBe(0n);
  });

  it("has purchase orders in every status, and bills only for received orders", async () => {
    const statuses = (await rows("SELECT DISTINCT status FROM purchase_orders ORDER BY 1")).map((r) => r.status);
    expect(statuses).toEqual(["cancelled", "draft", "open", "received"]);
    expect(
      await one(`SELECT count(*) FROM vendor_bills b JOIN purchase_orders p USING (org_id, po_id)
                 WHERE p.status <> 'received' OR b.total <> p.total`),
    ).toBe(0n);
  });

  it("defines every view with exactly its documented columns, org_id first", async () => {
    for (const v of VIEWS) {
      const cols = (await rows(`DESCRIBE ${v.name}`)).map((r) => r.column_name);
      expect(cols, v.name).toEqual(v.columns.map((c) => c.name));
      expect(cols[0]).toBe("org_id");
    }
  });

  it("creates the views idempotently from createViewsSql()", async () => {
    const mem = await DuckDBInstance.create(":memory:");
    const c = await mem.connect();
    await c.run(createTablesSql());
    await c.run(createViewsSql());
    await c.run(createViewsSql());
    const r = await c.runAndReadAll("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1");
    expect(r.getRows().map((x) => x[0])).toEqual(VIEWS.map((v) => v.name).sort());
    c.closeSync();
    mem.closeSync();
  });
});
