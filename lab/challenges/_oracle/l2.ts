/** TEST-ONLY oracles of level 2 families (comparative analysis). */
import type { Oracle, OracleTools, Row } from "./mod.ts";
import { monthsBack, monthStartSql } from "./l1.ts";

/** Quarters back from the as-of quarter for a `quarter` parameter value (the oracle's own reading). */
function quartersBack(t: OracleTools, name = "quarter"): number {
  const v = String(t.param(name));
  const table: Record<string, number> = {
    current_quarter: 0,
    previous_quarter: 1,
    two_quarters_ago: 2,
    same_quarter_last_year: 4,
  };
  if (!(v in table)) throw new Error(`oracle: unknown quarter ${v}`);
  return table[v];
}

/** SQL for the first day of the quarter `n` quarters before the as-of quarter. */
const quarterStartSql = (n: number) => `(date_trunc('quarter', current_date) - INTERVAL ${3 * n} MONTH)::DATE`;
/** SQL condition: `col` (a month DATE) lies in the quarter `n` quarters back. */
const inQuarter = (col: string, n: number) =>
  `(${col} >= ${quarterStartSql(n)} AND ${col} < ${quarterStartSql(n)} + INTERVAL 3 MONTH)`;

const num = (v: unknown) => Number(v ?? 0);
const r2 = (x: number) => Math.round(x * 100) / 100;
const r4 = (x: number) => Math.round(x * 10000) / 10000;

/** current / previous / change / change_pct of two amounts. */
function compare(cur: number, prev: number, pct = true): Record<string, number | null> {
  const out: Record<string, number | null> = { current: r2(cur), previous: r2(prev), change: r2(cur - prev) };
  if (pct) out.change_pct = prev === 0 ? null : r4((100 * (cur - prev)) / prev);
  return out;
}

const first = (rows: Row[]) => rows[0] ?? {};

export const ORACLES_L2: Record<string, Oracle> = {
  async revenue_month_over_month(t) {
    const k = monthsBack(t);
    await t.call("viewsList", { domain: "sales" });
    const r = first(
      await t.read(
        `SELECT coalesce(sum(revenue) FILTER (WHERE month = ${monthStartSql(k)}), 0) AS cur,
                coalesce(sum(revenue) FILTER (WHERE month = ${monthStartSql(k + 1)}), 0) AS prev
         FROM v_monthly_revenue`,
      ),
    );
    await t.submit(compare(num(r.cur), num(r.prev)));
  },

  async revenue_quarter_over_quarter(t) {
    const k = quartersBack(t);
    await t.call("viewsList", { domain: "sales" });
    const r = first(
      await t.read(
        `SELECT coalesce(sum(revenue) FILTER (WHERE ${inQuarter("month", k)}), 0) AS cur,
                coalesce(sum(revenue) FILTER (WHERE ${inQuarter("month", k + 1)}), 0) AS prev
         FROM v_monthly_revenue`,
      ),
    );
    await t.submit(compare(num(r.cur), num(r.prev)));
  },

  async net_income_month_over_month(t) {
    const k = monthsBack(t);
    await t.call("viewsList", { domain: "finance" });
    const r = first(
      await t.read(
        `SELECT coalesce(sum(net_income) FILTER (WHERE month = ${monthStartSql(k)}), 0) AS cur,
                coalesce(sum(net_income) FILTER (WHERE month = ${monthStartSql(k + 1)}), 0) AS prev
         FROM v_pnl_monthly`,
      ),
    );
    await t.submit(compare(num(r.cur), num(r.prev), false));
  },

  async gross_margin_vs_previous_quarter(t) {
    const k = quartersBack(t);
    await t.call("viewsList", { domain: "finance" });
    const r = first(
      await t.read(
        `WITH q AS (
           SELECT sum(gross_profit) FILTER (WHERE ${inQuarter("month", k)}) AS gp_c,
                  sum(revenue) FILTER (WHERE ${inQuarter("month", k)}) AS rev_c,
                  sum(gross_profit) FILTER (WHERE ${inQuarter("month", k + 1)}) AS gp_p,
                  sum(revenue) FILTER (WHERE ${inQuarter("month", k + 1)}) AS rev_p
           FROM v_pnl_monthly)
         SELECT round(100 * gp_c / rev_c, 4) AS cur, round(100 * gp_p / rev_p, 4) AS prev FROM q`,
      ),
    );
    const cur = num(r.cur), prev = num(r.prev);
    await t.submit({ current_margin_pct: cur, previous_margin_pct: prev, change_pp: r4(cur - prev) });
  },

  async top_customers_by_revenue(t) {
    const k = quartersBack(t);
    const n = Math.trunc(Number(t.param("n")));
    await t.call("viewsList", { domain: "sales" });
    const rows = await t.read(
      `SELECT customer_id, any_value(customer_name) AS customer_name, sum(revenue) AS revenue
       FROM v_customer_revenue
       WHERE ${inQuarter("month", k)}
       GROUP BY customer_id
       ORDER BY sum(revenue) DESC, customer_id
       LIMIT ${n}`,
    );
    await t.submit(
      rows.map((r) => ({ customer_id: num(r.customer_id), customer_name: r.customer_name, revenue: num(r.revenue) })),
    );
  },

  async region_revenue_ranking(t) {
    const k = monthsBack(t);
    await t.call("viewsList", { domain: "sales" });
    const rows = await t.read(
      `SELECT region, sum(revenue) AS revenue, round(100 * sum(revenue) / sum(sum(revenue)) OVER (), 4) AS share_pct
       FROM v_customer_revenue
       WHERE month = ${monthStartSql(k)}
       GROUP BY region
       ORDER BY revenue DESC, region`,
    );
    await t.submit(rows.map((r) => ({ region: r.region, revenue: num(r.revenue), share_pct: num(r.share_pct) })));
  },

  async vendor_spend_change(t) {
    const k = quartersBack(t);
    await t.call("viewsList", { domain: "purchasing" });
    const rows = await t.read(
      `SELECT vendor_id, any_value(vendor_name) AS vendor_name,
              coalesce(sum(billed) FILTER (WHERE ${inQuarter("month", k)}), 0) AS current_billed,
              coalesce(sum(billed) FILTER (WHERE ${inQuarter("month", k + 1)}), 0) AS previous_billed
       FROM v_vendor_spend
       WHERE ${inQuarter("month", k)} OR ${inQuarter("month", k + 1)}
       GROUP BY vendor_id
       ORDER BY vendor_id`,
    );
    await t.submit(rows.map((r) => {
      const cur = num(r.current_billed), prev = num(r.previous_billed);
      return {
        vendor_id: num(r.vendor_id),
        vendor_name: r.vendor_name,
        current_billed: cur,
        previous_billed: prev,
        change: r2(cur - prev),
      };
    }));
  },

  async warehouse_inventory_value_comparison(t) {
    const base = String(t.param("warehouse")).replaceAll("'", "''");
    await t.call("viewsList", { domain: "inventory" });
    const rows = await t.read(
      `WITH w AS (SELECT warehouse_name, sum(value) AS inventory_value FROM v_inventory_value GROUP BY warehouse_name)
       SELECT warehouse_name, inventory_value,
              inventory_value - max(inventory_value) FILTER (WHERE warehouse_name = '${base}') OVER () AS difference
       FROM w ORDER BY warehouse_name`,
    );
    await t.submit(rows.map((r) => ({
      warehouse_name: r.warehouse_name,
      inventory_value: num(r.inventory_value),
      difference: num(r.difference),
    })));
  },

  async segment_collection_rate(t) {
    const k = quartersBack(t);
    await t.call("viewsList", { domain: "finance" });
    // Collected = invoiced − what is still open (v_ar_aging lists the open remainder of every unpaid invoice).
    const rows = await t.read(
      `WITH inv AS (
         SELECT c.segment, i.invoice_id, i.total
         FROM sales_invoices i JOIN customers c USING (customer_id)
         WHERE i.status IN ('posted', 'partial', 'paid') AND ${inQuarter("i.invoice_date", k)})
       SELECT inv.segment, sum(inv.total) AS invoiced, sum(inv.total) - coalesce(sum(a.open_amount), 0) AS collected
       FROM inv LEFT JOIN v_ar_aging a USING (invoice_id)
       GROUP BY inv.segment ORDER BY inv.segment`,
    );
    await t.submit(rows.map((r) => {
      const invoiced = num(r.invoiced), collected = num(r.collected);
      return { segment: r.segment, invoiced, collected, collection_rate_pct: r4((100 * collected) / invoiced) };
    }));
  },
};
