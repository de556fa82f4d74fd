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

  async bank_reconciliation(t) {
    const days = Number(t.param("days"));
    // The statement window, seen through the unreconciled-lines view (days_outstanding counts from today).
    const window = `SELECT * FROM v_unreconciled_bank WHERE days_outstanding <= ${days}`;
    const matches = `
      SELECT u.txn_id, 'customer_payment' AS kind, cp.payment_id
      FROM (${window}) u
      JOIN sales_invoices si ON si.invoice_number = u.reference
      JOIN customer_payments cp ON cp.invoice_id = si.invoice_id AND cp.amount = u.amount
      UNION ALL
      SELECT u.txn_id, 'bill_payment', bp.payment_id
      FROM (${window}) u
      JOIN vendor_bills vb ON vb.bill_number = u.reference
      JOIN bill_payments bp ON bp.bill_id = vb.bill_id AND bp.amount = -u.amount`;
    const [{ open_lines }] = await t.read(
      `SELECT count(*) AS open_lines, (SELECT count(*) FROM (${matches})) AS matchable FROM (${window})`,
    );
    const matched = await t.write(
      `UPDATE bank_transactions AS b SET reconciled = true, matched_type = m.kind, matched_id = m.payment_id
       FROM (${matches}) AS m WHERE b.txn_id = m.txn_id`,
    );
    await t.submit({ matched, unmatched: Number(open_lines) - matched }, "bank lines of the window reconciled");
  },
  async post_draft_invoices(t) {
    const days = Number(t.param("days"));
    const due = `SELECT * FROM sales_invoices WHERE status = 'draft' AND date_diff('day', invoice_date, current_date) >= ${days}`;
    await t.read(
      `SELECT count(*) AS drafts, sum(total) AS total,
              (SELECT string_agg(DISTINCT fp.status, ',') FROM (${due}) d
               JOIN fiscal_periods fp ON d.invoice_date BETWEEN fp.start_date AND fp.end_date) AS period_status
       FROM (${due})`,
    );
    // Headers first (no lines yet: the posted entries balance trivially), then all five lines of every entry
    // in one INSERT, then the invoices' status (so the new entries can still be found by their draft invoice).
    await t.write(
      `INSERT INTO journal_entries
       SELECT d.org_id, (SELECT max(entry_id) FROM journal_entries) + row_number() OVER (ORDER BY d.invoice_id),
              d.invoice_date, fp.period_id, 'Invoice ' || d.invoice_number, 'invoice', d.invoice_id, 'posted'
       FROM (${due}) d JOIN fiscal_periods fp ON d.invoice_date BETWEEN fp.start_date AND fp.end_date`,
    );
    await t.write(
      `INSERT INTO journal_lines
       SELECT je.org_id, je.entry_id, x.line_no, acc.account_id,
              CASE x.line_no WHEN 1 THEN d.total WHEN 4 THEN c.cost ELSE 0 END,
              CASE x.line_no WHEN 2 THEN d.subtotal WHEN 3 THEN d.tax WHEN 5 THEN c.cost ELSE 0 END,
              d.invoice_number
       FROM (${due}) d
       JOIN journal_entries je ON je.source = 'invoice' AND je.source_id = d.invoice_id
       JOIN (SELECT sil.invoice_id, sum(sil.quantity * pr.unit_cost) AS cost
             FROM sales_invoice_lines sil JOIN products pr ON pr.product_id = sil.product_id GROUP BY sil.invoice_id) c
         ON c.invoice_id = d.invoice_id
       CROSS JOIN (VALUES (1, '1100'), (2, '4000'), (3, '2200'), (4, '5000'), (5, '1200')) x(line_no, code)
       JOIN accounts acc ON acc.code = x.code`,
    );
    const posted = await t.write(
      `UPDATE sales_invoices SET status = 'posted'
       WHERE status = 'draft' AND date_diff('day', invoice_date, current_date) >= ${days}`,
    );
    await t.submit({ invoices_posted: posted }, "aged draft invoices posted and booked");
  },
  async replenishment_with_budget(t) {
    const wh = `'${String(t.param("warehouse")).replaceAll("'", "''")}'`;
    const budget = Number(t.param("threshold"));
    // Candidates in urgency order with a running total; the budget keeps the prefix that fits.
    const picked = `(SELECT * FROM (
        SELECT il.org_id, il.warehouse_id, pr.product_id, pr.preferred_vendor_id, pr.reorder_qty, pr.unit_cost,
               pr.reorder_qty * pr.unit_cost AS amount,
               sum(pr.reorder_qty * pr.unit_cost) OVER (
                 ORDER BY pr.reorder_point - il.qty_on_hand + il.qty_reserved DESC, pr.product_id
                 ROWS UNBOUNDED PRECEDING) AS running
        FROM inventory_levels il
        JOIN products pr ON pr.product_id = il.product_id
        WHERE il.warehouse_id = (SELECT warehouse_id FROM warehouses WHERE name = ${wh}) AND pr.is_active
          AND il.qty_on_hand - il.qty_reserved < pr.reorder_point) s WHERE running <= ${budget})`;
    const [{ orders, total_amount }] = await t.read(
      `SELECT count(DISTINCT preferred_vendor_id) AS orders, coalesce(sum(amount), 0) AS total_amount FROM ${picked} x`,
    );
    await t.write(
      `INSERT INTO purchase_orders
       SELECT g.org_id, n.base + g.k, 'PO-' || lpad((n.base + g.k)::VARCHAR, 6, '0'), g.preferred_vendor_id,
              g.warehouse_id, current_date, current_date + v.lead_time_days, 'draft', g.total
       FROM (SELECT org_id, warehouse_id, preferred_vendor_id, sum(amount) AS total,
                    row_number() OVER (ORDER BY preferred_vendor_id) AS k
             FROM ${picked} x GROUP BY org_id, warehouse_id, preferred_vendor_id) g
       JOIN vendors v ON v.vendor_id = g.preferred_vendor_id
       CROSS JOIN (SELECT coalesce(max(po_id), 0) AS base FROM purchase_orders) n`,
    );
    await t.write(
      `INSERT INTO purchase_order_lines
       SELECT x.org_id, po.po_id, row_number() OVER (PARTITION BY po.po_id ORDER BY x.product_id), x.product_id,
              x.reorder_qty, x.unit_cost, x.amount
       FROM ${picked} x
       JOIN purchase_orders po ON po.vendor_id = x.preferred_vendor_id AND po.warehouse_id = x.warehouse_id
        AND po.status = 'draft' AND po.order_date = current_date
        AND po.po_id NOT IN (SELECT po_id FROM purchase_order_lines)`,
    );
    await t.submit({ orders: Number(orders), total_amount: Number(total_amount) }, "budget-capped replenishment raised");
  },
};
