/**
 * Semantic views over the ERP sandbox: the reports a finance or operations team asks for.
 *
 * Every view keeps `org_id`, so it works unchanged on the multi-tenant sandbox and on a one-org episode
 * database. Views that depend on "today" use `current_date`, which resolves to the as-of clock macro
 * installed by {@linkcode clockMacrosSql} in `generate.ts`.
 *
 * @example
 * ```ts
 * import { createViewsSql, VIEWS } from "./views.ts";
 * await con.run(createViewsSql());
 * console.log(VIEWS.map((v) => v.name));
 * ```
 *
 * @module
 */

/**
 * A semantic view: its name, the business question it answers, its columns and its SELECT body.
 * @internal
 */
export interface ViewDef {
  name: string;
  domain: "finance" | "sales" | "inventory" | "purchasing";
  description: string;
  columns: { name: string; description: string }[];
  /** The SELECT body (no trailing semicolon). */
  sql: string;
}

type Cols = [string, string][];
const cols = (xs: Cols): ViewDef["columns"] => xs.map(([name, description]) => ({ name, description }));

/** Statuses of invoices that count as revenue. */
const REVENUE_STATUSES = "('posted', 'partial', 'paid')";

const agingBucket = (due: string) =>
  `CASE WHEN current_date <= ${due} THEN 'current'
       WHEN date_diff('day', ${due}, current_date) <= 30 THEN '1-30'
       WHEN date_diff('day', ${due}, current_date) <= 60 THEN '31-60'
       WHEN date_diff('day', ${due}, current_date) <= 90 THEN '61-90'
       ELSE '90+' END`;

const POSTED_LINES = `journal_lines l
  JOIN journal_entries e ON e.org_id = l.org_id AND e.entry_id = l.entry_id AND e.status = 'posted'
  JOIN accounts a ON a.org_id = l.org_id AND a.account_id = l.account_id`;

/** All semantic views, in creation order. */
export const VIEWS: readonly ViewDef[] = [
  {
    name: "v_monthly_revenue",
    domain: "sales",
    description: "Revenue per month: subtotal (before tax) of invoices with status posted, partial or paid.",
    columns: cols([
      ["org_id", "Tenant"],
      ["month", "First day of the month (DATE)"],
      ["invoice_count", "Revenue invoices dated in the month"],
      ["revenue", "Sum of invoice subtotals"],
    ]),
    sql: `SELECT org_id, date_trunc('month', invoice_date)::DATE AS month, count(*) AS invoice_count,
       sum(subtotal) AS revenue
FROM sales_invoices
WHERE status IN ${REVENUE_STATUSES}
GROUP BY org_id, month`,
  },
  {
    name: "v_ar_aging",
    domain: "finance",
    description:
      "Open customer invoices (not draft or void, amount still due) with days overdue relative to today and an aging bucket.",
    columns: cols([
      ["org_id", "Tenant"],
      ["customer_id", "Customer"],
      ["customer_name", "Customer name"],
      ["invoice_id", "Invoice"],
      ["invoice_number", "Invoice number"],
      ["invoice_date", "Invoice date"],
      ["due_date", "Due date"],
      ["total", "Invoice total"],
      ["paid", "Sum of payments"],
      ["open_amount", "total - paid"],
      ["days_overdue", "Days past due as of today (0 when not yet due)"],
      ["bucket", "'current' | '1-30' | '31-60' | '61-90' | '90+'"],
    ]),
    sql: `WITH paid AS (SELECT org_id, invoice_id, sum(amount) AS paid FROM customer_payments GROUP BY ALL)
SELECT i.org_id, i.customer_id, c.name AS customer_name, i.invoice_id, i.invoice_number, i.invoice_date,
       i.due_date, i.total, coalesce(p.paid, 0) AS paid, i.total - coalesce(p.paid, 0) AS open_amount,
       greatest(date_diff('day', i.due_date, current_date), 0) AS days_overdue,
       ${agingBucket("i.due_date")} AS bucket
FROM sales_invoices i
JOIN customers c ON c.org_id = i.org_id AND c.customer_id = i.customer_id
LEFT JOIN paid p ON p.org_id = i.org_id AND p.invoice_id = i.invoice_id
WHERE i.status NOT IN ('draft', 'void') AND i.total - coalesce(p.paid, 0) > 0`,
  },
  {
    name: "v_ap_aging",
    domain: "purchasing",
    description: "Open vendor bills (amount still due) with days overdue relative to today and an aging bucket.",
    columns: cols([
      ["org_id", "Tenant"],
      ["vendor_id", "Vendor"],
      ["vendor_name", "Vendor name"],
      ["bill_id", "Bill"],
      ["bill_number", "Vendor's bill number"],
      ["bill_date", "Bill date"],
      ["due_date", "Due date"],
      ["total", "Bill total"],
      ["paid", "Sum of payments"],
      ["open_amount", "total - paid"],
      ["days_overdue", "Days past due as of today (0 when not yet due)"],
      ["bucket", "'current' | '1-30' | '31-60' | '61-90' | '90+'"],
    ]),
    sql: `WITH paid AS (SELECT org_id, bill_id, sum(amount) AS paid FROM bill_payments GROUP BY ALL)
SELECT b.org_id, b.vendor_id, v.name AS vendor_name, b.bill_id, b.bill_number, b.bill_date, b.due_date, b.total,
       coalesce(p.paid, 0) AS paid, b.total - coalesce(p.paid, 0) AS open_amount,
       greatest(date_diff('day', b.due_date, current_date), 0) AS days_overdue,
       ${agingBucket("b.due_date")} AS bucket
FROM vendor_bills b
JOIN vendors v ON v.org_id = b.org_id AND v.vendor_id = b.vendor_id
LEFT JOIN paid p ON p.org_id = b.org_id AND p.bill_id = b.bill_id
WHERE b.total - coalesce(p.paid, 0) > 0`,
  },
  {
    name: "v_low_stock",
    domain: "inventory",
    description: "Active products whose on-hand quantity in a warehouse is below the reorder point.",
    columns: cols([
      ["org_id", "Tenant"],
      ["product_id", "Product"],
      ["sku", "SKU"],
      ["product_name", "Product name"],
      ["category", "Product category"],
      ["warehouse_id", "Warehouse"],
      ["warehouse_name", "Warehouse name"],
      ["qty_on_hand", "Units on hand"],
      ["reorder_point", "Reorder point"],
      ["reorder_qty", "Standard reorder quantity"],
      ["preferred_vendor_id", "Vendor to order from"],
      ["shortfall", "reorder_point - qty_on_hand"],
    ]),
    sql: `SELECT l.org_id, p.product_id, p.sku, p.name AS product_name, p.category, w.warehouse_id,
       w.name AS warehouse_name, l.qty_on_hand, p.reorder_point, p.reorder_qty, p.preferred_vendor_id,
       p.reorder_point - l.qty_on_hand AS shortfall
FROM inventory_levels l
JOIN products p ON p.org_id = l.org_id AND p.product_id = l.product_id
JOIN warehouses w ON w.org_id = l.org_id AND w.warehouse_id = l.warehouse_id
WHERE p.is_active AND l.qty_on_hand < p.reorder_point`,
  },
  {
    name: "v_pnl_monthly",
    domain: "finance",
    description:
      "Profit and loss per month from posted journal lines: revenue accounts, COGS, operating expenses and net income.",
    columns: cols([
      ["org_id", "Tenant"],
      ["month", "First day of the month (DATE)"],
      ["revenue", "Credits minus debits on revenue accounts"],
      ["cogs", "Debits minus credits on COGS accounts"],
      ["gross_profit", "revenue - cogs"],
      ["operating_expenses", "Debits minus credits on other expense accounts"],
      ["net_income", "gross_profit - operating_expenses"],
    ]),
    sql: `WITH m AS (
  SELECT l.org_id, date_trunc('month', e.entry_date)::DATE AS month,
         sum(CASE WHEN a.type = 'revenue' THEN l.credit - l.debit ELSE 0 END) AS revenue,
         sum(CASE WHEN a.type = 'expense' AND a.subtype = 'cogs' THEN l.debit - l.credit ELSE 0 END) AS cogs,
         sum(CASE WHEN a.type = 'expense' AND a.subtype <> 'cogs' THEN l.debit - l.credit ELSE 0 END)
           AS operating_expenses
  FROM ${POSTED_LINES}
  GROUP BY l.org_id, month
)
SELECT org_id, month, revenue, cogs, revenue - cogs AS gross_profit, operating_expenses,
       revenue - cogs - operating_expenses AS net_income
FROM m`,
  },
  {
    name: "v_trial_balance",
    domain: "finance",
    description:
      "Every account with its posted debits, credits and balance (positive in the account's normal direction).",
    columns: cols([
      ["org_id", "Tenant"],
      ["account_id", "Account"],
      ["code", "Account code"],
      ["name", "Account name"],
      ["type", "'asset' | 'liability' | 'equity' | 'revenue' | 'expense'"],
      ["total_debit", "Sum of posted debits"],
      ["total_credit", "Sum of posted credits"],
      ["balance", "Debits - credits for debit-normal accounts, credits - debits otherwise"],
    ]),
    sql: `WITH t AS (
  SELECT l.org_id, l.account_id, sum(l.debit) AS total_debit, sum(l.credit) AS total_credit
  FROM journal_lines l
  JOIN journal_entries e ON e.org_id = l.org_id AND e.entry_id = l.entry_id AND e.status = 'posted'
  GROUP BY ALL
)
SELECT a.org_id, a.account_id, a.code, a.name, a.type, coalesce(t.total_debit, 0) AS total_debit,
       coalesce(t.total_credit, 0) AS total_credit,
       CASE WHEN a.normal_balance = 'debit' THEN coalesce(t.total_debit, 0) - coalesce(t.total_credit, 0)
            ELSE coalesce(t.total_credit, 0) - coalesce(t.total_debit, 0) END AS balance
FROM accounts a LEFT JOIN t ON t.org_id = a.org_id AND t.account_id = a.account_id`,
  },
  {
    name: "v_cash_position",
    domain: "finance",
    description:
      "Per org: cash per the ledger (posted lines on cash accounts) versus per the bank statement, and what is unreconciled.",
    columns: cols([
      ["org_id", "Tenant"],
      ["book_balance", "Ledger balance of cash accounts (posted, dated up to today)"],
      ["bank_balance", "Sum of bank statement lines dated up to today"],
      ["unreconciled_count", "Bank lines not yet reconciled"],
      ["unreconciled_amount", "Sum of the unreconciled bank lines"],
    ]),
    sql: `WITH book AS (
  SELECT l.org_id, sum(l.debit - l.credit) AS book_balance
  FROM ${POSTED_LINES}
  WHERE a.subtype = 'cash' AND e.entry_date <= current_date
  GROUP BY ALL
), bank AS (
  SELECT org_id, sum(amount) FILTER (WHERE txn_date <= current_date) AS bank_balance,
         count(*) FILTER (WHERE NOT reconciled) AS unreconciled_count,
         sum(amount) FILTER (WHERE NOT reconciled) AS unreconciled_amount
  FROM bank_transactions GROUP BY ALL
)
SELECT o.org_id, coalesce(book.book_balance, 0) AS book_balance, coalesce(bank.bank_balance, 0) AS bank_balance,
       coalesce(bank.unreconciled_count, 0) AS unreconciled_count,
       coalesce(bank.unreconciled_amount, 0) AS unreconciled_amount
FROM organizations o
LEFT JOIN book ON book.org_id = o.org_id
LEFT JOIN bank ON bank.org_id = o.org_id`,
  },
  {
    name: "v_unreconciled_bank",
    domain: "finance",
    description: "Bank statement lines not yet reconciled against the books, oldest first.",
    columns: cols([
      ["org_id", "Tenant"],
      ["txn_id", "Bank transaction"],
      ["txn_date", "Value date"],
      ["amount", "Signed amount (deposit > 0)"],
      ["description", "Bank's description"],
      ["reference", "Payment reference, e.g. 'INV-000123' (may be NULL)"],
      ["days_outstanding", "Days since the value date"],
    ]),
    sql: `SELECT org_id, txn_id, txn_date, amount, description, reference,
       date_diff('day', txn_date, current_date) AS days_outstanding
FROM bank_transactions
WHERE NOT reconciled`,
  },
  {
    name: "v_product_sales",
    domain: "sales",
    description: "Units and revenue per product and month, from lines of revenue invoices.",
    columns: cols([
      ["org_id", "Tenant"],
      ["month", "First day of the month (DATE)"],
      ["product_id", "Product"],
      ["sku", "SKU"],
      ["product_name", "Product name"],
      ["category", "Product category"],
      ["units", "Units sold"],
      ["revenue", "Sum of line amounts"],
    ]),
    sql: `SELECT i.org_id, date_trunc('month', i.invoice_date)::DATE AS month, p.product_id, p.sku,
       p.name AS product_name, p.category, sum(l.quantity) AS units, sum(l.amount) AS revenue
FROM sales_invoice_lines l
JOIN sales_invoices i ON i.org_id = l.org_id AND i.invoice_id = l.invoice_id
JOIN products p ON p.org_id = l.org_id AND p.product_id = l.product_id
WHERE i.status IN ${REVENUE_STATUSES}
GROUP BY ALL`,
  },
  {
    name: "v_customer_revenue",
    domain: "sales",
    description: "Revenue (invoice subtotals of revenue invoices) per customer and month.",
    columns: cols([
      ["org_id", "Tenant"],
      ["customer_id", "Customer"],
      ["customer_name", "Customer name"],
      ["segment", "Customer segment"],
      ["region", "Customer region"],
      ["month", "First day of the month (DATE)"],
      ["revenue", "Sum of invoice subtotals"],
    ]),
    sql: `SELECT i.org_id, c.customer_id, c.name AS customer_name, c.segment, c.region,
       date_trunc('month', i.invoice_date)::DATE AS month, sum(i.subtotal) AS revenue
FROM sales_invoices i
JOIN customers c ON c.org_id = i.org_id AND c.customer_id = i.customer_id
WHERE i.status IN ${REVENUE_STATUSES}
GROUP BY ALL`,
  },
  {
    name: "v_inventory_value",
    domain: "inventory",
    description: "Units on hand and their value at unit cost, per warehouse and product category.",
    columns: cols([
      ["org_id", "Tenant"],
      ["warehouse_id", "Warehouse"],
      ["warehouse_name", "Warehouse name"],
      ["category", "Product category"],
      ["units", "Units on hand"],
      ["value", "Sum of qty_on_hand × unit_cost"],
    ]),
    sql: `SELECT l.org_id, w.warehouse_id, w.name AS warehouse_name, p.category, sum(l.qty_on_hand) AS units,
       sum(l.qty_on_hand * p.unit_cost) AS value
FROM inventory_levels l
JOIN products p ON p.org_id = l.org_id AND p.product_id = l.product_id
JOIN warehouses w ON w.org_id = l.org_id AND w.warehouse_id = l.warehouse_id
GROUP BY ALL`,
  },
  {
    name: "v_period_status",
    domain: "finance",
    description:
      "Fiscal periods with their posted and draft entry counts and whether every accrual schedule is posted in them.",
    columns: cols([
      ["org_id", "Tenant"],
      ["period_id", "Period"],
      ["name", "Period name 'YYYY-MM'"],
      ["start_date", "First day"],
      ["end_date", "Last day"],
      ["status", "'open' | 'closed'"],
      ["closed_at", "When closed"],
      ["posted_entries", "Posted journal entries in the period"],
      ["draft_entries", "Draft journal entries in the period"],
      ["accrual_entries", "Posted accrual entries (distinct schedules) in the period"],
      ["accruals_expected", "Number of accrual schedules"],
      ["accruals_posted", "Every accrual schedule has a posted entry in the period"],
    ]),
    sql: `WITH e AS (
  SELECT org_id, period_id, count(*) FILTER (WHERE status = 'posted') AS posted_entries,
         count(*) FILTER (WHERE status = 'draft') AS draft_entries,
         count(DISTINCT source_id) FILTER (WHERE status = 'posted' AND source = 'accrual') AS accrual_entries
  FROM journal_entries GROUP BY ALL
), s AS (SELECT org_id, count(*) AS n FROM accrual_schedules GROUP BY ALL)
SELECT p.org_id, p.period_id, p.name, p.start_date, p.end_date, p.status, p.closed_at,
       coalesce(e.posted_entries, 0) AS posted_entries, coalesce(e.draft_entries, 0) AS draft_entries,
       coalesce(e.accrual_entries, 0) AS accrual_entries, coalesce(s.n, 0) AS accruals_expected,
       coalesce(e.accrual_entries, 0) >= coalesce(s.n, 0) AS accruals_posted
FROM fiscal_periods p
LEFT JOIN e ON e.org_id = p.org_id AND e.period_id = p.period_id
LEFT JOIN s ON s.org_id = p.org_id`,
  },
  {
    name: "v_vendor_spend",
    domain: "purchasing",
    description: "Amount billed per vendor and month (by bill date).",
    columns: cols([
      ["org_id", "Tenant"],
      ["vendor_id", "Vendor"],
      ["vendor_name", "Vendor name"],
      ["month", "First day of the month (DATE)"],
      ["bill_count", "Bills dated in the month"],
      ["billed", "Sum of bill totals"],
    ]),
    sql: `SELECT b.org_id, v.vendor_id, v.name AS vendor_name, date_trunc('month', b.bill_date)::DATE AS month,
       count(*) AS bill_count, sum(b.total) AS billed
FROM vendor_bills b
JOIN vendors v ON v.org_id = b.org_id AND v.vendor_id = b.vendor_id
GROUP BY ALL`,
  },
];

/** `CREATE OR REPLACE VIEW` statements for all {@linkcode VIEWS}. */
export function createViewsSql(): string {
  return VIEWS.map((v) => `CREATE OR REPLACE VIEW ${v.name} AS\n${v.sql};`).join("\n\n");
}
