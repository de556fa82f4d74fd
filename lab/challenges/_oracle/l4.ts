/** TEST-ONLY oracles of level 4 families. */
import type { Oracle, OracleTools, Row } from "./mod.ts";
import { monthsBack, monthStartSql } from "./l1.ts";

const num = (v: unknown) => Number(v ?? 0);

export const ORACLES_L4: Record<string, Oracle> = {
  async pnl_with_variance(t) {
    await t.call("viewsList", { domain: "finance" });
    const n = monthsBack(t);
    // This month and the one before, as rows of the monthly P&L view (a month without postings reads as 0).
    const rows = await t.read(
      `SELECT m.k, coalesce(p.revenue, 0) AS revenue, coalesce(p.cogs, 0) AS cogs,
              coalesce(p.operating_expenses, 0) AS operating, coalesce(p.net_income, 0) AS net_income
       FROM (VALUES (0, ${monthStartSql(n)}), (1, ${monthStartSql(n + 1)})) m(k, month)
       LEFT JOIN v_pnl_monthly p ON p.month = m.month
       ORDER BY m.k`,
    );
    const [cur, prev] = rows;
    const expenses = (r: typeof cur) => num(r.cogs) + num(r.operating);
    const round = (x: number) => Math.round(x * 100) / 100;
    await t.submit({
      revenue: num(cur.revenue),
      expenses: { cogs: num(cur.cogs), operating: num(cur.operating), total: round(expenses(cur)) },
      net_income: num(cur.net_income),
      variance: {
        revenue_change: round(num(cur.revenue) - num(prev.revenue)),
        expenses_change: round(expenses(cur) - expenses(prev)),
        net_income_change: round(num(cur.net_income) - num(prev.net_income)),
      },
    });
  },
};

/** Quarters back from the as-of quarter for a `quarter` parameter value. */
function quartersBack(t: OracleTools): number {
  const table: Record<string, number> = {
    current_quarter: 0,
    previous_quarter: 1,
    two_quarters_ago: 2,
    same_quarter_last_year: 4,
  };
  const v = String(t.param("quarter"));
  if (!(v in table)) throw new Error(`oracle: unknown quarter ${v}`);
  return table[v];
}
/** `[start, end)` of the quarter `k` quarters back, as SQL dates. */
const quarterSql = (k: number) => {
  const start = `(date_trunc('quarter', current_date) - INTERVAL ${3 * k} MONTH)::DATE`;
  return { start, end: `(${start} + INTERVAL 3 MONTH)::DATE` };
};
const sqlText = (s: string) => `'${s.replaceAll("'", "''")}'`;
const BUCKETS = `coalesce(sum(open_amount), 0) AS total_open,
  coalesce(sum(open_amount) FILTER (WHERE bucket = 'current'), 0) AS current,
  coalesce(sum(open_amount) FILTER (WHERE bucket = '1-30'), 0) AS days_1_30,
  coalesce(sum(open_amount) FILTER (WHERE bucket = '31-60'), 0) AS days_31_60,
  coalesce(sum(open_amount) FILTER (WHERE bucket = '61-90'), 0) AS days_61_90,
  coalesce(sum(open_amount) FILTER (WHERE bucket = '90+'), 0) AS days_90_plus`;
const bucketsOf = (r: Row) => ({
  current: num(r.current),
  days_1_30: num(r.days_1_30),
  days_31_60: num(r.days_31_60),
  days_61_90: num(r.days_61_90),
  days_90_plus: num(r.days_90_plus),
});

Object.assign(
  ORACLES_L4,
  {
    async ar_aging_report(t) {
      await t.call("viewsList", { domain: "finance" });
      const [agg] = await t.read(`SELECT ${BUCKETS} FROM v_ar_aging`);
      const top = await t.read(
        `SELECT customer_id, any_value(customer_name) AS customer_name, sum(open_amount) AS overdue_amount
       FROM v_ar_aging WHERE days_overdue > 0
       GROUP BY customer_id ORDER BY overdue_amount DESC, customer_id LIMIT ${Number(t.param("n"))}`,
      );
      await t.submit({
        total_open: num(agg.total_open),
        buckets: bucketsOf(agg),
        top_overdue: top.map((r) => ({
          customer_id: r.customer_id,
          customer_name: r.customer_name,
          overdue_amount: num(r.overdue_amount),
        })),
      });
    },

    async inventory_status_report(t) {
      await t.call("viewsList", { domain: "inventory" });
      const wh = sqlText(String(t.param("warehouse")));
      const [tot] = await t.read(
        `SELECT coalesce(sum(units), 0) AS units, coalesce(sum(value), 0) AS value FROM v_inventory_value WHERE warehouse_name = ${wh}`,
      );
      const low = await t.read(
        `SELECT product_id, qty_on_hand, reorder_point FROM v_low_stock WHERE warehouse_name = ${wh} ORDER BY shortfall DESC`,
      );
      await t.submit({ total_units: num(tot.units), total_value: num(tot.value), low_stock: low });
    },

    async sales_by_region_report(t) {
      const q = quarterSql(quartersBack(t));
      await t.call("schemaInfo", { tables: ["sales_invoices", "customers"] });
      const rows = await t.read(
        `SELECT c.region, sum(si.subtotal) AS revenue, count(*) AS invoice_count
       FROM sales_invoices si JOIN customers c USING (customer_id)
       WHERE si.status IN ('posted', 'partial', 'paid') AND si.invoice_date >= ${q.start} AND si.invoice_date < ${q.end}
       GROUP BY c.region ORDER BY revenue DESC`,
      );
      const total = rows.reduce((a, r) => a + num(r.revenue), 0);
      await t.submit({
        total_revenue: Math.round(total * 100) / 100,
        invoice_count: rows.reduce((a, r) => a + num(r.invoice_count), 0),
        by_region: rows.map((r) => ({
          region: r.region,
          revenue: num(r.revenue),
          invoice_count: num(r.invoice_count),
        })),
      });
    },

    async cash_position_report(t) {
      await t.call("viewsList", { domain: "finance" });
      const monthEnd = `(${monthStartSql(monthsBack(t))} + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE`;
      const [r] = await t.read(
        `SELECT
         (SELECT coalesce(sum(jl.debit) - sum(jl.credit), 0)
          FROM journal_entries je JOIN journal_lines jl USING (entry_id) JOIN accounts ac USING (account_id)
          WHERE je.status = 'posted' AND ac.subtype = 'cash' AND je.entry_date <= ${monthEnd}) AS book,
         (SELECT coalesce(sum(amount), 0) FROM bank_transactions WHERE txn_date <= ${monthEnd}) AS bank,
         (SELECT count(*) FROM v_unreconciled_bank WHERE txn_date <= ${monthEnd}) AS n_open,
         (SELECT coalesce(sum(amount), 0) FROM v_unreconciled_bank WHERE txn_date <= ${monthEnd}) AS open_amount`,
      );
      await t.submit({
        book_balance: num(r.book),
        bank_balance: num(r.bank),
        difference: Math.round((num(r.bank) - num(r.book)) * 100) / 100,
        unreconciled: { count: num(r.n_open), amount: num(r.open_amount) },
      });
    },

    async ap_aging_report(t) {
      await t.call("viewsList", { domain: "purchasing" });
      const [agg] = await t.read(`SELECT ${BUCKETS} FROM v_ap_aging`);
      const soon = await t.read(
        `SELECT bill_id, open_amount FROM v_ap_aging
       WHERE due_date BETWEEN current_date AND current_date + ${Number(t.param("days"))} ORDER BY due_date, bill_id`,
      );
      await t.submit({
        total_open: num(agg.total_open),
        buckets: bucketsOf(agg),
        due_soon: soon.map((r) => ({ bill_id: r.bill_id, open_amount: num(r.open_amount) })),
      });
    },

    async customer_segment_report(t) {
      const q = quarterSql(quartersBack(t));
      await t.call("schemaInfo", { tables: ["sales_invoices", "customers"] });
      const rows = await t.read(
        `SELECT coalesce(c.segment, 'ALL') AS segment, sum(si.subtotal) AS revenue,
              count(DISTINCT si.customer_id) AS customers, count(*) AS invoice_count
       FROM sales_invoices si JOIN customers c USING (customer_id)
       WHERE si.status IN ('posted', 'partial', 'paid') AND si.invoice_date >= ${q.start} AND si.invoice_date < ${q.end}
       GROUP BY ROLLUP (c.segment) ORDER BY revenue DESC`,
      );
      const all = rows.find((r) => r.segment === "ALL");
      await t.submit({
        total_revenue: num(all?.revenue),
        active_customers: num(all?.customers),
        by_segment: rows.filter((r) => r !== all).map((r) => ({
          segment: r.segment,
          revenue: num(r.revenue),
          customers: num(r.customers),
          invoice_count: num(r.invoice_count),
        })),
      });
    },

    async quarterly_kpi_report(t) {
      const q = quarterSql(quartersBack(t));
      await t.call("viewsList", {});
      const [r] = await t.read(
        `SELECT
         (SELECT coalesce(sum(revenue), 0) FROM v_monthly_revenue WHERE month >= ${q.start} AND month < ${q.end}) AS revenue,
         (SELECT coalesce(sum(invoice_count), 0) FROM v_monthly_revenue WHERE month >= ${q.start} AND month < ${q.end}) AS n,
         (SELECT sum(gross_profit) / nullif(sum(revenue), 0) * 100 FROM v_pnl_monthly WHERE month >= ${q.start} AND month < ${q.end}) AS gm,
         (SELECT coalesce(sum(amount), 0) FROM customer_payments WHERE payment_date >= ${q.start} AND payment_date < ${q.end}) AS collected`,
      );
      const revenue = num(r.revenue), n = num(r.n);
      await t.submit({
        revenue,
        invoice_count: n,
        average_invoice_value: n ? Math.round((revenue / n) * 100) / 100 : 0,
        gross_margin_pct: Math.round(num(r.gm) * 100) / 100,
        collected: num(r.collected),
      });
    },
  } satisfies Record<string, Oracle>,
);
