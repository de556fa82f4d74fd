/** TEST-ONLY oracles of level 5 families. */
import type { Oracle, OracleTools } from "./mod.ts";

/** The open period that contains today, as a scalar subquery (the oracle's own reading of "current period"). */
const OPEN_PERIOD = `(SELECT min(period_id) FROM fiscal_periods WHERE status = 'open' AND end_date >= current_date)`;

/** Posts one entry per accrual schedule in the open period and advances the schedules; returns entries posted. */
async function postAccruals(t: OracleTools): Promise<number> {
  // Headers first (no lines yet, so the posted entries balance trivially), then every line in one INSERT.
  // Columns in table order: the write guard reads `t (cols)` as a table function call.
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
  return entries;
}

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
    // 2. Accruals.
    const entries = await postAccruals(t);
    // 3. Close last: nothing can be posted into a closed period.
    await t.write(
      `UPDATE fiscal_periods SET status = 'closed', closed_at = current_date WHERE period_id = ${OPEN_PERIOD}`,
    );
    await t.submit(
      { reconciled_bank_lines: reconciled, accrual_entries_posted: entries, period_closed: true },
      "bank lines reconciled, accruals posted, period closed",
    );
  },
  async accrual_run(t) {
    await t.read(
      `SELECT s.accrual_id, s.description, s.amount, s.last_posted_period_id, p.period_id AS open_period
       FROM accrual_schedules s CROSS JOIN (SELECT period_id FROM v_period_status WHERE status = 'open') p
       ORDER BY s.accrual_id`,
    );
    const entries = await postAccruals(t);
    await t.submit({ accrual_entries_posted: entries }, "accruals posted for the open period");
  },

  async ap_payment_run(t) {
    const days = Number(t.param("days"));
    await t.read(
      `SELECT count(*) AS bills, sum(open_amount) AS to_pay FROM v_ap_aging WHERE due_date <= current_date + ${days}`,
    );
    const paid = await t.write(
      `INSERT INTO bill_payments
       SELECT org_id, (SELECT max(payment_id) FROM bill_payments) + row_number() OVER (ORDER BY bill_id),
              bill_id, vendor_id, current_date, open_amount, 'bank_transfer'
       FROM v_ap_aging WHERE due_date <= current_date + ${days}`,
    );
    // The new payments: dated today and not yet in the ledger.
    const fresh = `FROM bill_payments bp JOIN vendor_bills vb USING (bill_id)
       WHERE bp.payment_date = current_date
         AND bp.payment_id NOT IN (SELECT source_id FROM journal_entries WHERE source = 'bill_payment')`;
    await t.write(
      `INSERT INTO journal_entries
       SELECT bp.org_id, (SELECT max(entry_id) FROM journal_entries) + row_number() OVER (ORDER BY bp.payment_id),
              current_date, ${OPEN_PERIOD}, 'Payment of bill ' || vb.bill_number, 'bill_payment', bp.payment_id, 'posted'
       ${fresh}`,
    );
    await t.write(
      `INSERT INTO journal_lines
       SELECT je.org_id, je.entry_id, x.line_no, acc.account_id, x.dr * bp.amount, x.cr * bp.amount, NULL
       FROM journal_entries je
       JOIN bill_payments bp ON bp.payment_id = je.source_id
       CROSS JOIN (SELECT 1 AS line_no, 'payable' AS kind, 1 AS dr, 0 AS cr UNION ALL SELECT 2, 'cash', 0, 1) x
       JOIN accounts acc ON acc.subtype = x.kind
       WHERE je.source = 'bill_payment' AND je.entry_date = current_date
         AND NOT EXISTS (SELECT 1 FROM journal_lines jl WHERE jl.entry_id = je.entry_id)`,
    );
    await t.write(
      `UPDATE vendor_bills SET status = 'paid'
       WHERE status <> 'paid' AND bill_id IN (SELECT bill_id FROM bill_payments WHERE payment_date = current_date)
         AND total <= (SELECT sum(amount) FROM bill_payments p WHERE p.bill_id = vendor_bills.bill_id)`,
    );
    await t.submit({ payments: paid }, "bills paid and booked");
  },
  async receive_purchase_orders(t) {
    const wh = `'${String(t.param("warehouse")).replaceAll("'", "''")}'`;
    const openPos = `SELECT po.po_id FROM purchase_orders po JOIN warehouses w USING (warehouse_id)
                     WHERE w.name = ${wh} AND po.status = 'open'`;
    await t.read(
      `SELECT pol.product_id, sum(pol.quantity) AS qty FROM purchase_order_lines pol
       WHERE pol.po_id IN (${openPos}) GROUP BY pol.product_id ORDER BY pol.product_id`,
    );
    // Stock first: add to existing rows, then insert rows for products without one there (usually none; the
    // write guard refuses INSERT … ON CONFLICT DO UPDATE SET, so no upsert), then the order status.
    const receipts = `SELECT po.org_id, pol.product_id, po.warehouse_id, sum(pol.quantity) AS qty
       FROM purchase_orders po JOIN purchase_order_lines pol USING (po_id)
       WHERE po.po_id IN (${openPos}) GROUP BY ALL`;
    await t.write(
      `UPDATE inventory_levels AS il SET qty_on_hand = il.qty_on_hand + r.qty, updated_at = current_date
       FROM (${receipts}) AS r WHERE il.product_id = r.product_id AND il.warehouse_id = r.warehouse_id`,
    );
    await t.write(
      `INSERT INTO inventory_levels
       SELECT r.org_id, r.product_id, r.warehouse_id, r.qty, 0, current_date FROM (${receipts}) AS r
       WHERE NOT EXISTS (SELECT 1 FROM inventory_levels x WHERE x.product_id = r.product_id AND x.warehouse_id = r.warehouse_id)`,
    );
    const n = await t.write(`UPDATE purchase_orders SET status = 'received' WHERE po_id IN (${openPos})`);
    await t.submit({ orders_received: n }, "open purchase orders received into stock");
  },
  async collections_hold(t) {
    const days = Number(t.param("days"));
    const late = `SELECT DISTINCT customer_id FROM v_ar_aging WHERE days_overdue > ${days}`;
    await t.read(
      `SELECT count(*) AS customers, (SELECT count(*) FROM sales_invoices WHERE status = 'draft' AND customer_id IN (${late})) AS drafts
       FROM (${late})`,
    );
    // Drafts first (so the hold itself, which always changes rows, is the last write).
    await t.write(`UPDATE sales_invoices SET status = 'void' WHERE status = 'draft' AND customer_id IN (${late})`);
    const held = await t.write(`UPDATE customers SET credit_limit = 0 WHERE customer_id IN (${late})`);
    await t.submit({ customers_on_hold: held }, "collections hold applied");
  },
};
