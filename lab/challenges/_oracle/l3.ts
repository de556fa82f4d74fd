/** TEST-ONLY oracles of level 3 families (multi-step operations with writes). */
import type { Oracle } from "./mod.ts";

/** A text parameter as a SQL string literal. */
const lit = (v: string | number) => `'${String(v).replaceAll("'", "''")}'`;
/** A numeric parameter, checked. */
const int = (v: string | number) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`oracle: expected an integer parameter, got ${v}`);
  return n;
};

// INSERTs are positional (columns in schema order): dbWrite's token guard reads `INTO t (…)` as a call of a
// table function t() and refuses it, so a column list after the table name cannot be used.
export const ORACLES_L3: Record<string, Oracle> = {
  async reorder_low_stock(t) {
    const wh = lit(t.param("warehouse"));
    await t.call("viewsList", { domain: "inventory" });
    const low = `(SELECT s.org_id, s.warehouse_id, s.product_id, s.preferred_vendor_id, s.reorder_qty, p.unit_cost
      FROM v_low_stock s JOIN products p ON p.product_id = s.product_id WHERE s.warehouse_name = ${wh})`;
    const [{ value }] = await t.read(`SELECT coalesce(sum(reorder_qty * unit_cost), 0) AS value FROM ${low} x`);
    await t.write(
      `INSERT INTO purchase_orders
       SELECT g.org_id, n.base + g.k, 'PO-' || lpad((n.base + g.k)::VARCHAR, 6, '0'), g.preferred_vendor_id, g.warehouse_id,
              current_date, current_date + v.lead_time_days, 'draft', g.total
       FROM (SELECT org_id, warehouse_id, preferred_vendor_id, sum(reorder_qty * unit_cost) AS total,
                    row_number() OVER (ORDER BY preferred_vendor_id) AS k
             FROM ${low} x GROUP BY org_id, warehouse_id, preferred_vendor_id) g
       JOIN vendors v ON v.vendor_id = g.preferred_vendor_id
       CROSS JOIN (SELECT coalesce(max(po_id), 0) AS base FROM purchase_orders) n`,
    );
    await t.write(
      `INSERT INTO purchase_order_lines
       SELECT x.org_id, po.po_id, row_number() OVER (PARTITION BY po.po_id ORDER BY x.product_id), x.product_id,
              x.reorder_qty, x.unit_cost, x.reorder_qty * x.unit_cost
       FROM ${low} x
       JOIN purchase_orders po ON po.vendor_id = x.preferred_vendor_id AND po.warehouse_id = x.warehouse_id
        AND po.status = 'draft' AND po.order_date = current_date
        AND po.po_id NOT IN (SELECT po_id FROM purchase_order_lines)`,
    );
    await t.submit(Number(value));
  },

  async record_full_payment_for_invoice(t) {
    await t.call("viewsList", { domain: "finance" });
    const [inv] = await t.read(
      `SELECT a.invoice_id, a.customer_id, a.open_amount FROM v_ar_aging a
       JOIN customers c ON c.customer_id = a.customer_id
       WHERE c.region = ${lit(t.param("region"))} ORDER BY a.open_amount DESC, a.invoice_id LIMIT 1`,
    );
    await t.write(
      `INSERT INTO customer_payments
       SELECT o.org_id, (SELECT coalesce(max(payment_id), 0) + 1 FROM customer_payments), ${
        int(inv.customer_id as number)
      },
              ${int(inv.invoice_id as number)}, current_date, ${Number(inv.open_amount)}, 'bank_transfer'
       FROM organizations o`,
    );
    await t.write(`UPDATE sales_invoices SET status = 'paid' WHERE invoice_id = ${int(inv.invoice_id as number)}`);
    await t.submit(Number(inv.open_amount));
  },

  async void_stale_drafts(t) {
    await t.call("schemaInfo", { tables: ["sales_invoices"] });
    const n = await t.write(
      `UPDATE sales_invoices SET status = 'void'
       WHERE status = 'draft' AND date_diff('day', invoice_date, current_date) > ${int(t.param("days"))}`,
    );
    await t.submit(n);
  },

  async credit_hold_overdue_customers(t) {
    await t.call("viewsList", { domain: "finance" });
    const n = await t.write(
      `UPDATE customers SET credit_limit = 0
       WHERE customer_id IN (SELECT customer_id FROM v_ar_aging WHERE days_overdue > ${int(t.param("days"))})`,
    );
    await t.submit(n);
  },

  async cancel_open_pos_for_warehouse(t) {
    await t.call("schemaInfo", { tables: ["purchase_orders", "warehouses"] });
    const pending = `status IN ('draft', 'open')
      AND warehouse_id = (SELECT warehouse_id FROM warehouses WHERE name = ${lit(t.param("warehouse"))})`;
    const [{ value }] = await t.read(`SELECT coalesce(sum(total), 0) AS value FROM purchase_orders WHERE ${pending}`);
    await t.write(`UPDATE purchase_orders SET status = 'cancelled' WHERE ${pending}`);
    await t.submit(Number(value));
  },

  async reconcile_matched_bank_lines(t) {
    await t.call("viewsList", { domain: "finance" });
    const n = await t.write(
      `UPDATE bank_transactions SET reconciled = true, matched_type = 'customer_payment', matched_id = m.payment_id
       FROM (SELECT u.txn_id, p.payment_id FROM v_unreconciled_bank u
             JOIN sales_invoices i ON i.invoice_number = u.reference
             JOIN customer_payments p ON p.invoice_id = i.invoice_id AND p.amount = u.amount
             WHERE u.amount > 0 AND u.days_outstanding <= ${int(t.param("days"))}) m
       WHERE bank_transactions.txn_id = m.txn_id`,
    );
    await t.submit(n);
  },

  async deactivate_dormant_products(t) {
    await t.call("schemaInfo", { tables: ["products", "sales_invoices", "sales_invoice_lines"] });
    const n = await t.write(
      `UPDATE products SET is_active = false
       WHERE is_active AND product_id NOT IN (
         SELECT l.product_id FROM sales_invoice_lines l JOIN sales_invoices i ON i.invoice_id = l.invoice_id
         WHERE i.status NOT IN ('draft', 'void')
           AND date_diff('day', i.invoice_date, current_date) <= ${int(t.param("days"))})`,
    );
    await t.submit(n);
  },

  async pay_due_bills(t) {
    await t.call("viewsList", { domain: "purchasing" });
    const due = `(SELECT org_id, bill_id, vendor_id, open_amount FROM v_ap_aging
      WHERE date_diff('day', current_date, due_date) <= ${int(t.param("days"))})`;
    const [{ value }] = await t.read(`SELECT coalesce(sum(open_amount), 0) AS value FROM ${due} d`);
    // Status first: the aging view still shows the open amounts until the payments exist.
    await t.write(`UPDATE vendor_bills SET status = 'paid' WHERE bill_id IN (SELECT bill_id FROM ${due} d)`);
    await t.write(
      `INSERT INTO bill_payments
       SELECT d.org_id, n.base + row_number() OVER (ORDER BY d.bill_id), d.bill_id, d.vendor_id, current_date,
              d.open_amount, 'bank_transfer'
       FROM ${due} d CROSS JOIN (SELECT coalesce(max(payment_id), 0) AS base FROM bill_payments) n`,
    );
    await t.submit(Number(value));
  },
};
