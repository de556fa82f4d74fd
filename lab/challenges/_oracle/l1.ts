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

export const ORACLES_L1: Record<string, Oracle> = {
  async revenue_for_period(t) {
    await t.call("viewsList", { domain: "finance" });
    const rows = await t.read(
      `SELECT coalesce(sum(revenue), 0) AS revenue FROM v_monthly_revenue WHERE month = ${monthStartSql(monthsBack(t))}`,
    );
    await t.submit(Number(rows[0].revenue));
  },
};
