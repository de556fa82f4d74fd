/** TEST-ONLY oracles of level 1 families. */
import type { Oracle, OracleTools } from "./mod.ts";

/** Months back from the as-of month for a `period` parameter value (the oracle's own reading of the task). */
export function monthsBack(t: OracleTools, name = "period"): number {
  const v = String(t.param(name));
  const table: Record<string, number> = {
    current_month: 0,
    previous_month: 1,
    two_months_ago: 2,
    three_months_ago: 3,
    four_months_ago: 4,
    six_months_ago: 6,
    same_month_last_year: 12,
  };
  if (!(v in table)) throw new Error(`oracle: unknown period ${v}`);
  return table[v];
}

/** SQL for the first day of the month `n` months before the as-of month. */
export const monthStartSql = (n: number) => `(date_trunc('month', current_date) - INTERVAL ${n} MONTH)::DATE`;

/** A text parameter as a SQL string literal (the oracle's own quoting). */
const lit = (v: string | number) => `'${String(v).replaceAll("'", "''")}'`;

export const ORACLES_L1: Record<string, Oracle> = {
  async revenue_for_period(t) {
    await t.call("viewsList", { domain: "finance" });
    const rows = await t.read(
      `SELECT coalesce(sum(revenue), 0) AS revenue FROM v_monthly_revenue WHERE month = ${monthStartSql(monthsBack(t))}`,
    );
    await t.submit(Number(rows[0].revenue));
  },

  async invoice_count_for_period(t) {
    await t.call("viewsList", { domain: "sales" });
    const rows = await t.read(
      `SELECT coalesce(sum(invoice_count), 0)::INTEGER AS n FROM v_monthly_revenue WHERE month = ${monthStartSql(monthsBack(t))}`,
    );
    await t.submit(Number(rows[0].n));
  },

  async open_receivables_by_region(t) {
    await t.call("viewsList", { domain: "finance" });
    const rows = await t.read(
      `SELECT coalesce(sum(a.open_amount), 0)::DOUBLE AS open_ar
       FROM v_ar_aging a JOIN customers c ON c.customer_id = a.customer_id
       WHERE c.region = ${lit(t.param("region"))}`,
    );
    await t.submit(Number(rows[0].open_ar));
  },

  async stock_units_in_warehouse(t) {
    await t.call("viewsList", { domain: "inventory" });
    const rows = await t.read(
      `SELECT coalesce(sum(units), 0)::BIGINT AS units FROM v_inventory_value WHERE warehouse_name = ${lit(t.param("warehouse"))}`,
    );
    await t.submit(Number(rows[0].units));
  },

  async unpaid_bills_due_within_days(t) {
    await t.call("viewsList", { domain: "purchasing" });
    const days = Number(t.param("days"));
    const rows = await t.read(
      `SELECT coalesce(sum(open_amount), 0)::DOUBLE AS due
       FROM v_ap_aging
       WHERE due_date BETWEEN current_date AND (current_date + INTERVAL ${days} DAY)::DATE`,
    );
    await t.submit(Number(rows[0].due));
  },

  async high_credit_customers_in_region(t) {
    await t.call("schemaInfo", { tables: ["customers"] });
    const rows = await t.read(
      `SELECT customer_id, name, segment, credit_limit::DOUBLE AS credit_limit
       FROM customers
       WHERE region = ${lit(t.param("region"))} AND credit_limit >= 20000
       ORDER BY credit_limit DESC, customer_id`,
    );
    await t.submit(rows);
  },

  async cash_book_balance_end_of_period(t) {
    await t.call("viewsList", { domain: "finance" });
    // Everything posted up to the last day of the month = before the first day of the following month.
    const nextMonth = monthStartSql(monthsBack(t) - 1);
    const rows = await t.read(
      `SELECT coalesce(sum(jl.debit) - sum(jl.credit), 0)::DOUBLE AS cash
       FROM journal_entries je
       JOIN journal_lines jl USING (entry_id)
       WHERE je.status = 'posted' AND je.entry_date < ${nextMonth}
         AND jl.account_id IN (SELECT account_id FROM accounts WHERE subtype = 'cash')`,
    );
    await t.submit(Number(rows[0].cash));
  },

  async low_stock_items_in_warehouse(t) {
    await t.call("schemaInfo", { tables: ["inventory_levels", "products", "warehouses"] });
    const rows = await t.read(
      `SELECT p.product_id, p.sku, (il.qty_on_hand - il.qty_reserved)::INTEGER AS qty_available, p.reorder_point
       FROM warehouses w
       JOIN inventory_levels il ON il.warehouse_id = w.warehouse_id
       JOIN products p ON p.product_id = il.product_id
       WHERE w.name = ${lit(t.param("warehouse"))} AND p.is_active
         AND il.qty_on_hand - il.qty_reserved < p.reorder_point
       ORDER BY p.product_id`,
    );
    await t.submit(rows);
  },

  async top_vendors_by_billed_for_period(t) {
    await t.call("viewsList", { domain: "purchasing" });
    const rows = await t.read(
      `SELECT vendor_id, vendor_name, billed::DOUBLE AS billed
       FROM v_vendor_spend
       WHERE month = ${monthStartSql(monthsBack(t))}
       ORDER BY billed DESC, vendor_id
       LIMIT 3`,
    );
    await t.submit(rows);
  },
};
