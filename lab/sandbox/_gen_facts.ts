/**
 * Private: set-based SQL that generates the fact tables from the dimension tables.
 *
 * Every random value is `u(a, b, c, salt)`, a hash of the seed and row ids, never `random()` or row order:
 * DuckDB runs `INSERT ... SELECT` on several threads, so only values derived from ids are reproducible.
 * Dense ids come from `row_number()` over a total order of business keys, for the same reason.
 *
 * @module
 */
import { ACCT, PERIODS } from "./_gen_dims.ts";

/** Helper tables (TEMP, so they never reach the sandbox file) filled from TypeScript. */
export const HELPER_TABLES = {
  _org: {
    org_id: "INTEGER",
    n_customers: "INTEGER",
    n_products: "INTEGER",
    n_active: "INTEGER",
    n_warehouses: "INTEGER",
    tax_rate: "DECIMAL(6,4)",
  },
  _org_month: {
    org_id: "INTEGER",
    period_id: "INTEGER",
    first_invoice_id: "INTEGER",
    n_invoices: "INTEGER",
    start_date: "DATE",
    days_avail: "INTEGER",
  },
  _accrual_spec: {
    org_id: "INTEGER",
    accrual_id: "INTEGER",
    description: "VARCHAR",
    expense_account_id: "INTEGER",
    liability_account_id: "INTEGER",
    pct: "DOUBLE",
  },
} as const satisfies Record<string, Record<string, string>>;

/** One generation step: a label for progress reporting and the SQL to run. */
export interface Step {
  label: string;
  sql: string;
}

/** The SQL steps that fill every fact table, in order. */
export function factSteps(seed: number, asOf: string, start: string): Step[] {
  const ASOF = `DATE '${asOf}'`;
  const START = `DATE '${start}'`;
  const LAST = PERIODS;
  const A = ACCT;
  const posted = "i.pre_status IS NULL";
  return [
    {
      label: "helpers",
      sql: `
CREATE OR REPLACE TEMP MACRO u(a, b, c, salt) AS (hash(${seed}, a, b, c, salt) % 1000003)::DOUBLE / 1000003;
CREATE OR REPLACE TEMP MACRO pick_n(n, x) AS least(n, 1 + floor(n * x)::INTEGER);`,
    },
    {
      label: "sales invoices",
      sql: `
CREATE TEMP TABLE _inv0 AS
SELECT org_id, (first_invoice_id + k)::INTEGER AS invoice_id, period_id,
       start_date + (k * days_avail // n_invoices)::INTEGER AS invoice_date
FROM (SELECT *, unnest(range(n_invoices)) AS k FROM _org_month);

-- Random picks are computed first and joined on plain columns: a join on an expression spanning two inputs
-- defeats the hash join.
CREATE TEMP TABLE _inv1 AS
SELECT i.* EXCLUDE (pick_customer), c.customer_id, i.invoice_date + c.payment_terms_days AS due_date
FROM (
  SELECT i.org_id, i.invoice_id, i.period_id, i.invoice_date,
         pick_n(o.n_customers, pow(u(i.org_id, i.invoice_id, 0, 'cust'), 1.6)) AS pick_customer,
         CASE WHEN u(i.org_id, i.invoice_id, 0, 'void') < 0.006 THEN 'void'
              WHEN i.invoice_date > ${ASOF} - 10 AND u(i.org_id, i.invoice_id, 0, 'draft') < 0.25 THEN 'draft'
         END AS pre_status
  FROM _inv0 i JOIN _org o USING (org_id)
) i JOIN customers c ON c.org_id = i.org_id AND c.customer_id = i.pick_customer;

-- Discontinued products (ids above n_active) only sold in the first year.
CREATE TEMP TABLE _lines AS
SELECT l.org_id, l.invoice_id, l.line_no, l.product_id, l.warehouse_id, l.quantity,
       p.unit_price, p.unit_cost, p.preferred_vendor_id AS vendor_id
FROM (
  SELECT i.org_id, i.invoice_id, l.line_no,
         pick_n(CASE WHEN i.period_id <= ${LAST / 2} THEN o.n_products ELSE o.n_active END,
                pow(u(i.org_id, i.invoice_id, l.line_no, 'prod'), 1.5)) AS product_id,
         pick_n(o.n_warehouses, u(i.org_id, i.invoice_id, l.line_no, 'wh')) AS warehouse_id,
         (1 + floor(24 * pow(u(i.org_id, i.invoice_id, l.line_no, 'qty'), 2)))::INTEGER AS quantity
  FROM _inv1 i JOIN _org o USING (org_id)
  CROSS JOIN (SELECT unnest([1, 2, 3, 4]) AS line_no) l
  WHERE l.line_no <= 1 + floor(4 * u(i.org_id, i.invoice_id, 0, 'nlines'))
) l JOIN products p USING (org_id, product_id);

CREATE TEMP TABLE _inv AS
SELECT *, (subtotal + tax)::DECIMAL(14,2) AS total FROM (
  SELECT i.*, 'INV-' || lpad(i.invoice_id::VARCHAR, 6, '0') AS invoice_number, s.subtotal, s.cost,
         round(s.subtotal * o.tax_rate, 2)::DECIMAL(14,2) AS tax
  FROM _inv1 i JOIN _org o USING (org_id)
  JOIN (SELECT org_id, invoice_id, sum(quantity * unit_price)::DECIMAL(14,2) AS subtotal,
               sum(quantity * unit_cost)::DECIMAL(14,2) AS cost
        FROM _lines GROUP BY ALL) s USING (org_id, invoice_id));`,
    },
    {
      label: "customer payments",
      // Customers pay promptly, slowly or late; 12% pay in two parts (a few never pay the rest),
      // 1–4% never pay. Only payments dated up to as-of exist.
      sql: `
CREATE TEMP TABLE _cpay AS
WITH x AS (
  SELECT i.org_id, i.invoice_id, i.customer_id, i.invoice_date, i.due_date, i.total,
         u(i.org_id, i.customer_id, 0, 'class') AS uc, u(i.org_id, i.invoice_id, 0, 'split') AS us,
         u(i.org_id, i.invoice_id, 0, 'never') AS un, u(i.org_id, i.invoice_id, 0, 'delay') AS ud,
         u(i.org_id, i.invoice_id, 0, 'frac') AS uf, u(i.org_id, i.invoice_id, 0, 'delay2') AS ud2
  FROM _inv i WHERE ${posted}
), y AS (
  SELECT *,
         greatest(invoice_date + 1, due_date + (CASE WHEN uc < 0.5 THEN -5 + floor(12 * ud)
                                                     WHEN uc < 0.85 THEN floor(36 * ud)
                                                     ELSE 10 + floor(91 * ud) END)::INTEGER) AS d1,
         (CASE WHEN us < 0.12 THEN round(total * (0.3 + 0.4 * uf), 2) ELSE total END)::DECIMAL(14,2) AS a1
  FROM x WHERE un >= CASE WHEN uc >= 0.85 THEN 0.04 ELSE 0.01 END
), p AS (
  SELECT org_id, invoice_id, customer_id, 1 AS k, d1 AS payment_date, a1 AS amount FROM y
  UNION ALL
  SELECT org_id, invoice_id, customer_id, 2, d1 + 15 + floor(46 * ud2)::INTEGER, (total - a1)::DECIMAL(14,2)
  FROM y WHERE us >= 0.02 AND us < 0.12
)
SELECT p.*, row_number() OVER (PARTITION BY org_id ORDER BY payment_date, invoice_id, k)::INTEGER AS payment_id,
       CASE WHEN u(org_id, invoice_id, k, 'method') < 0.6 THEN 'bank_transfer'
            WHEN u(org_id, invoice_id, k, 'method') < 0.85 THEN 'check' ELSE 'card' END AS method
FROM p WHERE payment_date <= ${ASOF};

INSERT INTO sales_invoices
SELECT i.org_id, i.invoice_id, i.invoice_number, i.customer_id, i.invoice_date, i.due_date,
       coalesce(i.pre_status, CASE WHEN coalesce(p.paid, 0) >= i.total THEN 'paid'
                                   WHEN coalesce(p.paid, 0) > 0 THEN 'partial' ELSE 'posted' END),
       i.subtotal, i.tax, i.total
FROM _inv i LEFT JOIN (SELECT org_id, invoice_id, sum(amount) AS paid FROM _cpay GROUP BY ALL) p
  USING (org_id, invoice_id);

INSERT INTO sales_invoice_lines
SELECT org_id, invoice_id, line_no, product_id, warehouse_id, quantity, unit_price,
       (quantity * unit_price)::DECIMAL(14,2)
FROM _lines;

INSERT INTO customer_payments
SELECT org_id, payment_id, customer_id, invoice_id, payment_date, amount, method FROM _cpay;

CREATE TEMP TABLE _org_fin AS
SELECT org_id, sum(subtotal)::DOUBLE / ${LAST} AS avg_rev, sum(cost)::DOUBLE / ${LAST} AS avg_cost
FROM _inv i WHERE ${posted} GROUP BY org_id;

INSERT INTO accrual_schedules
SELECT s.org_id, s.accrual_id, s.description, s.expense_account_id, s.liability_account_id,
       (round(f.avg_rev * s.pct / 10) * 10)::DECIMAL(14,2), ${LAST - 1}
FROM _accrual_spec s JOIN _org_fin f USING (org_id);`,
    },
    {
      label: "inventory levels",
      // A forced minority of active product × warehouse pairs sits below its reorder point.
      sql: `
INSERT INTO inventory_levels
WITH pw AS (
  SELECT p.org_id, p.product_id, w.warehouse_id, p.reorder_point, p.reorder_qty, p.is_active,
         row_number() OVER (PARTITION BY p.org_id
                            ORDER BY p.is_active DESC, hash(${seed}, p.org_id, p.product_id, w.warehouse_id, 'low'),
                                     p.product_id, w.warehouse_id) AS rk,
         sum(p.is_active::INTEGER) OVER (PARTITION BY p.org_id) AS n_active_pw
  FROM products p JOIN warehouses w USING (org_id)
), q AS (
  SELECT *, (CASE WHEN NOT is_active THEN floor(10 * u(org_id, product_id, warehouse_id, 'qi'))
                  WHEN rk <= greatest(3, round(0.07 * n_active_pw))
                    THEN floor(reorder_point * 0.9 * u(org_id, product_id, warehouse_id, 'ql'))
                  ELSE reorder_point + floor(reorder_qty * 1.5 * u(org_id, product_id, warehouse_id, 'qh'))
             END)::INTEGER AS qty
  FROM pw
), last_sale AS (
  SELECT l.org_id, l.product_id, l.warehouse_id, max(i.invoice_date) AS d
  FROM _lines l JOIN _inv i USING (org_id, invoice_id) WHERE ${posted} GROUP BY ALL
)
SELECT q.org_id, q.product_id, q.warehouse_id, q.qty,
       floor(q.qty * 0.15 * u(q.org_id, q.product_id, q.warehouse_id, 'res'))::INTEGER,
       coalesce(s.d, ${START})
FROM q LEFT JOIN last_sale s USING (org_id, product_id, warehouse_id);`,
    },
    {
      label: "purchase orders",
      // Each month's sales are replenished during the first 20 days of the next month: one PO per vendor and
      // warehouse.
      sql: `
CREATE TEMP TABLE _sold AS
SELECT l.org_id, i.period_id, l.vendor_id, l.warehouse_id, l.product_id, l.unit_cost, sum(l.quantity) AS qty
FROM _lines l JOIN _inv i USING (org_id, invoice_id)
WHERE ${posted} AND i.period_id < ${LAST}
GROUP BY ALL;

CREATE TEMP TABLE _po AS
WITH h AS (
  SELECT DISTINCT s.org_id, s.period_id, s.vendor_id, s.warehouse_id,
         fp.start_date + floor(20 * u(s.org_id, s.period_id, s.vendor_id * 100 + s.warehouse_id, 'pod'))::INTEGER
           AS order_date
  FROM _sold s JOIN fiscal_periods fp ON fp.org_id = s.org_id AND fp.period_id = s.period_id + 1
)
SELECT h.*, v.lead_time_days, h.order_date + v.lead_time_days AS expected_date,
       row_number() OVER (PARTITION BY h.org_id ORDER BY h.order_date, h.vendor_id, h.warehouse_id)::INTEGER AS po_id,
       u(h.org_id, h.period_id, h.vendor_id * 100 + h.warehouse_id, 'postatus') AS us
FROM h JOIN vendors v USING (org_id, vendor_id)
WHERE h.order_date <= ${ASOF};

INSERT INTO purchase_order_lines
SELECT p.org_id, p.po_id, row_number() OVER (PARTITION BY p.org_id, p.po_id ORDER BY s.product_id)::INTEGER,
       s.product_id, s.qty, s.unit_cost, (s.qty * s.unit_cost)::DECIMAL(14,2)
FROM _po p JOIN _sold s USING (org_id, period_id, vendor_id, warehouse_id);

INSERT INTO purchase_orders
SELECT p.org_id, p.po_id, 'PO-' || lpad(p.po_id::VARCHAR, 6, '0'), p.vendor_id, p.warehouse_id, p.order_date,
       p.expected_date,
       CASE WHEN p.us < 0.03 THEN 'cancelled'
            WHEN p.order_date > ${ASOF} - 12 AND p.us < 0.3 THEN 'draft'
            WHEN p.expected_date > ${ASOF} THEN 'open'
            WHEN p.us < 0.08 AND p.expected_date > ${ASOF} - 20 THEN 'open'
            ELSE 'received' END,
       t.total
FROM _po p JOIN (SELECT org_id, po_id, sum(amount) AS total FROM purchase_order_lines GROUP BY ALL) t
  USING (org_id, po_id);`,
    },
    {
      label: "vendor bills",
      sql: `
CREATE TEMP TABLE _bill AS
WITH b AS (
  SELECT org_id, po_id, vendor_id, total,
         least(expected_date + floor(4 * u(org_id, po_id, 0, 'billdate'))::INTEGER, ${ASOF}) AS bill_date
  FROM purchase_orders WHERE status = 'received'
)
SELECT b.*, row_number() OVER (PARTITION BY b.org_id ORDER BY b.bill_date, b.po_id)::INTEGER AS bill_id,
       upper(left(v.name, 3)) || '-' || strftime(b.bill_date, '%y%m') || '-' || lpad(b.po_id::VARCHAR, 5, '0')
         AS bill_number,
       b.bill_date + v.payment_terms_days AS due_date
FROM b JOIN vendors v USING (org_id, vendor_id);

-- Bills are paid around the due date, 4% late, 10% in two halves a month apart.
CREATE TEMP TABLE _bpay AS
WITH x AS (
  SELECT *, u(org_id, bill_id, 0, 'bsplit') AS us, u(org_id, bill_id, 0, 'bdelay') AS ud FROM _bill
), y AS (
  SELECT *,
         greatest(bill_date, due_date + (CASE WHEN ud < 0.04 THEN 20 + floor(1000 * ud)
                                              ELSE -7 + floor(13 * ud) END)::INTEGER) AS d1,
         (CASE WHEN us < 0.1 THEN round(total * 0.5, 2) ELSE total END)::DECIMAL(14,2) AS a1
  FROM x
), p AS (
  SELECT org_id, bill_id, vendor_id, 1 AS k, d1 AS payment_date, a1 AS amount FROM y
  UNION ALL
  SELECT org_id, bill_id, vendor_id, 2, d1 + 30, (total - a1)::DECIMAL(14,2) FROM y WHERE us < 0.1
)
SELECT p.*, row_number() OVER (PARTITION BY org_id ORDER BY payment_date, bill_id, k)::INTEGER AS payment_id,
       CASE WHEN u(org_id, bill_id, k, 'bmethod') < 0.8 THEN 'bank_transfer' ELSE 'check' END AS method
FROM p WHERE payment_date <= ${ASOF};

INSERT INTO vendor_bills
SELECT b.org_id, b.bill_id, b.bill_number, b.vendor_id, b.po_id, b.bill_date, b.due_date,
       CASE WHEN coalesce(p.paid, 0) >= b.total THEN 'paid' WHEN coalesce(p.paid, 0) > 0 THEN 'partial' ELSE 'open' END,
       b.total
FROM _bill b LEFT JOIN (SELECT org_id, bill_id, sum(amount) AS paid FROM _bpay GROUP BY ALL) p
  USING (org_id, bill_id);

INSERT INTO bill_payments
SELECT org_id, payment_id, bill_id, vendor_id, payment_date, amount, method FROM _bpay;`,
    },
    {
      label: "journal",
      sql: `
-- Opening inventory is chosen so that the ledger's inventory balance at as-of equals the stock on hand
-- valued at unit cost (opening + bills - COGS = value on hand).
CREATE TEMP TABLE _open AS
SELECT f.org_id, (round(f.avg_rev * 2 / 1000) * 1000)::DECIMAL(14,2) AS cash,
       (v.value + c.cogs - coalesce(b.billed, 0))::DECIMAL(14,2) AS inventory
FROM _org_fin f
JOIN (SELECT l.org_id, sum(l.qty_on_hand * p.unit_cost) AS value
      FROM inventory_levels l JOIN products p USING (org_id, product_id) GROUP BY ALL) v USING (org_id)
JOIN (SELECT org_id, sum(cost) AS cogs FROM _inv i WHERE ${posted} GROUP BY ALL) c USING (org_id)
LEFT JOIN (SELECT org_id, sum(total) AS billed FROM vendor_bills GROUP BY ALL) b USING (org_id);

-- Monthly cash expenses: rent on the 1st, payroll on the 25th.
CREATE TEMP TABLE _opex AS
SELECT fp.org_id, fp.period_id, x.item, x.account_id, fp.name AS period_name,
       fp.start_date + x.day_offset AS d,
       (round(f.avg_rev * x.share / 100) * 100)::DECIMAL(14,2) AS amount, x.label
FROM fiscal_periods fp JOIN _org_fin f USING (org_id)
CROSS JOIN (VALUES (1, ${A.rent}, 0, 0.06, 'Rent'), (2, ${A.salaries}, 24, 0.16, 'Payroll'))
  x(item, account_id, day_offset, share, label)
WHERE fp.start_date + x.day_offset <= ${ASOF};

CREATE TEMP TABLE _accr AS
SELECT s.org_id, s.accrual_id, s.description, s.expense_account_id, s.liability_account_id, s.amount,
       fp.period_id, fp.name AS period_name, fp.end_date,
       fp.end_date + 10 AS pay_date
FROM accrual_schedules s JOIN fiscal_periods fp ON fp.org_id = s.org_id AND fp.period_id <= s.last_posted_period_id;

-- Entry headers (korder, ref) identify an entry until entry ids are assigned.
CREATE TEMP TABLE _jh (org_id INTEGER, korder INTEGER, ref BIGINT, entry_date DATE, description VARCHAR,
                       source VARCHAR, source_id INTEGER, status VARCHAR);
CREATE TEMP TABLE _jl (org_id INTEGER, korder INTEGER, ref BIGINT, line_no INTEGER, account_id INTEGER,
                       debit DECIMAL(14,2), credit DECIMAL(14,2), memo VARCHAR);

INSERT INTO _jh SELECT org_id, 0, 0, ${START}, 'Opening balances', 'manual', NULL, 'posted' FROM _open;
INSERT INTO _jl
SELECT org_id, 0, 0, 1, ${A.cash}, cash, 0, 'Opening cash' FROM _open
UNION ALL SELECT org_id, 0, 0, 2, ${A.inventory}, inventory, 0, 'Opening inventory' FROM _open
UNION ALL SELECT org_id, 0, 0, 3, ${A.equity}, 0, cash + inventory, 'Owner contribution' FROM _open;

INSERT INTO _jh
SELECT org_id, 1, invoice_id, invoice_date, 'Invoice ' || invoice_number, 'invoice', invoice_id, 'posted'
FROM _inv i WHERE ${posted};
INSERT INTO _jl
SELECT org_id, 1, invoice_id, 1, ${A.receivable}, total, 0, invoice_number FROM _inv i WHERE ${posted}
UNION ALL SELECT org_id, 1, invoice_id, 2, ${A.sales}, 0, subtotal, invoice_number FROM _inv i WHERE ${posted}
UNION ALL SELECT org_id, 1, invoice_id, 3, ${A.salesTax}, 0, tax, invoice_number FROM _inv i WHERE ${posted}
UNION ALL SELECT org_id, 1, invoice_id, 4, ${A.cogs}, cost, 0, invoice_number FROM _inv i WHERE ${posted}
UNION ALL SELECT org_id, 1, invoice_id, 5, ${A.inventory}, 0, cost, invoice_number FROM _inv i WHERE ${posted};

INSERT INTO _jh
SELECT p.org_id, 2, p.payment_id, p.payment_date, 'Payment received for ' || i.invoice_number,
       'customer_payment', p.payment_id, 'posted'
FROM customer_payments p JOIN sales_invoices i USING (org_id, invoice_id);
INSERT INTO _jl
SELECT org_id, 2, payment_id, 1, ${A.cash}, amount, 0, NULL FROM customer_payments
UNION ALL SELECT org_id, 2, payment_id, 2, ${A.receivable}, 0, amount, NULL FROM customer_payments;

INSERT INTO _jh
SELECT b.org_id, 3, b.bill_id, b.bill_date, 'Bill ' || b.bill_number || ' from ' || v.name, 'bill', b.bill_id, 'posted'
FROM vendor_bills b JOIN vendors v USING (org_id, vendor_id);
INSERT INTO _jl
SELECT org_id, 3, bill_id, 1, ${A.inventory}, total, 0, bill_number FROM vendor_bills
UNION ALL SELECT org_id, 3, bill_id, 2, ${A.payable}, 0, total, bill_number FROM vendor_bills;

INSERT INTO _jh
SELECT p.org_id, 4, p.payment_id, p.payment_date, 'Payment of bill ' || b.bill_number, 'bill_payment',
       p.payment_id, 'posted'
FROM bill_payments p JOIN vendor_bills b USING (org_id, bill_id);
INSERT INTO _jl
SELECT org_id, 4, payment_id, 1, ${A.payable}, amount, 0, NULL FROM bill_payments
UNION ALL SELECT org_id, 4, payment_id, 2, ${A.cash}, 0, amount, NULL FROM bill_payments;

INSERT INTO _jh SELECT org_id, 5, period_id * 10 + item, d, label || ' ' || period_name, 'manual', NULL, 'posted'
FROM _opex;
INSERT INTO _jl
SELECT org_id, 5, period_id * 10 + item, 1, account_id, amount, 0, NULL FROM _opex
UNION ALL SELECT org_id, 5, period_id * 10 + item, 2, ${A.cash}, 0, amount, NULL FROM _opex;

INSERT INTO _jh
SELECT org_id, 6, period_id * 100 + accrual_id, end_date, description || ' ' || period_name, 'accrual', accrual_id,
       'posted'
FROM _accr;
INSERT INTO _jl
SELECT org_id, 6, period_id * 100 + accrual_id, 1, expense_account_id, amount, 0, NULL FROM _accr
UNION ALL SELECT org_id, 6, period_id * 100 + accrual_id, 2, liability_account_id, 0, amount, NULL FROM _accr;

-- Accruals are settled in cash on the 10th of the following month.
INSERT INTO _jh
SELECT org_id, 7, period_id * 100 + accrual_id, pay_date, 'Payment: ' || description || ' ' || period_name,
       'manual', accrual_id, 'posted'
FROM _accr WHERE pay_date <= ${ASOF};
INSERT INTO _jl
SELECT org_id, 7, period_id * 100 + accrual_id, 1, liability_account_id, amount, 0, NULL FROM _accr
WHERE pay_date <= ${ASOF}
UNION ALL SELECT org_id, 7, period_id * 100 + accrual_id, 2, ${A.cash}, 0, amount, NULL FROM _accr
WHERE pay_date <= ${ASOF};

-- One draft entry per org, awaiting review (drafts never count in reports).
INSERT INTO _jh
SELECT org_id, 8, 1, greatest(${ASOF} - 2, date_trunc('month', ${ASOF})::DATE),
       'Reclassify office supplies from utilities (draft, pending review)', 'manual', NULL, 'draft'
FROM _open;
INSERT INTO _jl
SELECT org_id, 8, 1, 1, ${A.otherExpense}, 120, 0, NULL FROM _open
UNION ALL SELECT org_id, 8, 1, 2, ${A.utilities}, 0, 120, NULL FROM _open;

CREATE TEMP TABLE _je AS
SELECT *, row_number() OVER (PARTITION BY org_id ORDER BY entry_date, korder, ref)::INTEGER AS entry_id FROM _jh;

INSERT INTO journal_entries
SELECT org_id, entry_id, entry_date, (date_diff('month', ${START}, entry_date) + 1)::INTEGER, description, source,
       source_id, status
FROM _je;

INSERT INTO journal_lines
SELECT l.org_id, e.entry_id, l.line_no, l.account_id, l.debit, l.credit, l.memo
FROM _jl l JOIN _je e USING (org_id, korder, ref);`,
    },
    {
      label: "bank transactions",
      // Deposits clear 0–2 days after the payment; lines of the last 7 days and a few older ones are
      // unreconciled; bank-only lines (fees, interest) have no counterpart in the books.
      sql: `
CREATE TEMP TABLE _bt (org_id INTEGER, txn_date DATE, korder INTEGER, ref BIGINT, amount DECIMAL(14,2),
                       description VARCHAR, reference VARCHAR, matched_type VARCHAR, matched_id INTEGER,
                       bank_only BOOLEAN);

INSERT INTO _bt
SELECT o.org_id, ${START}, 0, 0, o.cash, 'OPENING BALANCE', NULL, 'journal_entry', e.entry_id, false
FROM _open o JOIN _je e ON e.org_id = o.org_id AND e.korder = 0;

INSERT INTO _bt
SELECT * FROM (
  SELECT p.org_id,
         p.payment_date + (CASE WHEN p.method = 'card' THEN 1 + floor(2 * u(p.org_id, p.payment_id, 0, 'clear'))
                                ELSE floor(3 * u(p.org_id, p.payment_id, 0, 'clear')) END)::INTEGER AS txn_date,
         2, p.payment_id, p.amount,
         CASE p.method WHEN 'bank_transfer' THEN 'ACH CREDIT ' || upper(c.name)
                       WHEN 'check' THEN 'CHECK DEPOSIT' ELSE 'CARD SETTLEMENT' END,
         CASE WHEN p.method = 'check' AND u(p.org_id, p.payment_id, 0, 'noref') < 0.25 THEN NULL
              ELSE i.invoice_number END,
         'customer_payment', p.payment_id, false
  FROM customer_payments p JOIN customers c USING (org_id, customer_id)
  JOIN sales_invoices i USING (org_id, invoice_id)
) WHERE txn_date <= ${ASOF};

INSERT INTO _bt
SELECT p.org_id, p.payment_date, 4, p.payment_id, -p.amount,
       CASE p.method WHEN 'bank_transfer' THEN 'ACH DEBIT ' || upper(v.name)
                     ELSE 'CHECK ' || (1000 + p.payment_id)::VARCHAR END,
       b.bill_number, 'bill_payment', p.payment_id, false
FROM bill_payments p JOIN vendors v USING (org_id, vendor_id) JOIN vendor_bills b USING (org_id, bill_id);

INSERT INTO _bt
SELECT e.org_id, e.entry_date, e.korder, e.ref, -l.debit, upper(e.description), NULL, 'journal_entry', e.entry_id, false
FROM _je e JOIN _jl l ON l.org_id = e.org_id AND l.korder = e.korder AND l.ref = e.ref AND l.line_no = 1
WHERE e.korder IN (5, 7);

INSERT INTO _bt
SELECT * FROM (
  SELECT fp.org_id, fp.end_date, 9, 1, -25.00, 'MONTHLY SERVICE FEE', NULL, NULL, NULL, true
  FROM fiscal_periods fp WHERE fp.period_id = ${LAST - 1}
  UNION ALL SELECT org_id, ${ASOF} - 3, 9, 2, -15.00, 'WIRE TRANSFER FEE', NULL, NULL, NULL, true FROM _open
  UNION ALL SELECT org_id, ${ASOF} - 12, 9, 3, round(2 + 20 * u(org_id, 0, 0, 'interest'), 2), 'INTEREST CREDIT',
                   NULL, NULL, NULL, true FROM _open
) WHERE end_date >= ${START};

INSERT INTO bank_transactions
SELECT org_id, row_number() OVER (PARTITION BY org_id ORDER BY txn_date, korder, ref)::INTEGER, txn_date, amount,
       description, reference, CASE WHEN rec THEN matched_type END, CASE WHEN rec THEN matched_id END, rec
FROM (
  SELECT *, korder = 0 OR (NOT bank_only AND txn_date <= ${ASOF} - 7 AND u(org_id, korder, ref, 'unrec') >= 0.004)
    AS rec
  FROM _bt
);`,
    },
  ];
}
