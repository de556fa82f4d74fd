/** TEST-ONLY oracles of level 5 families. */
import type { Oracle } from "./mod.ts";

/** The open period that contains today, as a scalar subquery (the oracle's own reading of "current period"). */
const OPEN_PERIOD = `(SELECT min(period_id) FROM fiscal_periods WHERE status = 'open' AND end_date >= current_date)`;

export const ORACLES_L5: Record<string, Oracle> = {
  async month_end_close(t) {
    // Look at the state of the close: the open period and the accruals it still needs.
    await t.read(
      `SELECT s.period_id, s.name, s.end_date, s.draft_entries, s.accruals_expected, s.accrual_entries,
              (SELECT count(*) FROM v_unreconciled_bank WHERE reference IS NOT NULL) AS unreconciled_with_ref
       FROM v_period_status s WHERE s.status = 'open' ORDER BY s.period_id`,
    );
    // 1. Bank reconciliation: statement lines that match a recorded payment on reference and amount.
    const reconciled = await t.write(
      `UPDATE bank_transactions AS b SET reconciled = true, matched_type = m.kind, matched_id = m.payment_id
       FROM (
         SELECT u.txn_id, 'customer_payment' AS kind, cp.payment_id
         FROM v_unreconciled_bank u
         JOIN sales_invoices si ON si.invoice_number = u.reference
         JOIN customer_payments cp ON cp.invoice_id = si.invoice_id AND cp.amount = u.amount
         UNION ALL
         SELECT u.txn_id, 'bill_payment', bp.payment_id
         FROM v_unreconciled_bank u
         JOIN vendor_bills vb ON vb.bill_number = u.reference
         JOIN bill_payments bp ON bp.bill_id = vb.bill_id AND bp.amount + u.amount = 0
       ) AS m
       WHERE b.txn_id = m.txn_id`,
    );
    // 2. Accruals (columns in table order: the write guard reads `t (cols)` as a table function call): one posted entry per schedule (headers first — no lines yet, so they balance trivially),
    //    then every line of every entry in one INSERT.
    const entries = await t.write(
      `INSERT INTO journal_entries
       SELECT s.org_id, (SELECT max(entry_id) FROM journal_entries) + row_number() OVER (ORDER BY s.accrual_id),
              fp.end_date, fp.period_id, s.description || ' ' || fp.name, 'accrual', s.accrual_id, 'posted'
       FROM accrual_schedules s JOIN fiscal_periods fp ON fp.period_id = ${OPEN_PERIOD}`,
    );
    await t.write(
      `INSERT INTO journal_lines
       SELECT e.org_id, e.entry_id, x.line_no, x.account_id, x.debit, x.credit, x.memo
       FROM journal_entries e
       JOIN (SELECT accrual_id, 1 AS line_no, expense_account_id AS account_id, amount AS debit, 0 AS credit,
                    description AS memo FROM accrual_schedules
             UNION ALL
             SELECT accrual_id, 2, liability_account_id, 0, amount, description FROM accrual_schedules) x
         ON x.accrual_id = e.source_id
       WHERE e.source = 'accrual' AND e.period_id = ${OPEN_PERIOD}`,
    );
    await t.write(`UPDATE accrual_schedules SET last_posted_period_id = ${OPEN_PERIOD}`);
    // 3. Close last: nothing can be posted into a closed period.
    await t.write(`UPDATE fiscal_periods SET status = 'closed', closed_at = current_date WHERE period_id = ${OPEN_PERIOD}`);
    await t.submit(
      { reconciled_bank_lines: reconciled, accrual_entries_posted: entries, period_closed: true },
      "bank lines reconciled, accruals posted, period closed",
    );
  },
};
