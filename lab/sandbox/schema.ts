/**
 * The ERP sandbox schema: every table, column, key and relationship, described once.
 *
 * The DDL, `schemaInfo`, the documentation and the notebook tour are all generated from
 * {@linkcode TABLES}, so they cannot drift apart. Every business table carries `org_id`.
 *
 * @module
 */

/** A column of a sandbox table. */
export interface ColumnDef {
  name: string;
  /** DuckDB type, e.g. `INTEGER`, `DECIMAL(14,2)`, `DATE`, `VARCHAR`. */
  type: string;
  description: string;
  /** `table.column` this column references. */
  references?: string;
  nullable?: boolean;
}

/**
 * A sandbox table.
 * @internal
 */
export interface TableDef {
  name: string;
  domain: Domain;
  description: string;
  columns: ColumnDef[];
  /** Primary key columns (always starting with `org_id` for business tables). */
  primaryKey: string[];
}

/** Business domains, used to group tables and views. */
export type Domain = "core" | "finance" | "sales" | "inventory" | "purchasing" | "audit";

const org = (): ColumnDef => ({
  name: "org_id",
  type: "INTEGER",
  description: "Tenant (organization) that owns the row",
  references: "organizations.org_id",
});
const money = (name: string, description: string): ColumnDef => ({ name, type: "DECIMAL(14,2)", description });

/** All sandbox tables, in dependency order (a table only references tables before it). */
export const TABLES: readonly TableDef[] = [
  {
    name: "organizations",
    domain: "core",
    description: "Tenants. Each episode database holds exactly one organization.",
    primaryKey: ["org_id"],
    columns: [
      { name: "org_id", type: "INTEGER", description: "Tenant id" },
      { name: "name", type: "VARCHAR", description: "Company name" },
      { name: "industry", type: "VARCHAR", description: "Industry, e.g. 'wholesale'" },
      { name: "currency", type: "VARCHAR", description: "Reporting currency (ISO 4217)" },
      { name: "created_at", type: "DATE", description: "When the tenant started using the ERP" },
    ],
  },
  {
    name: "accounts",
    domain: "finance",
    description: "Chart of accounts.",
    primaryKey: ["org_id", "account_id"],
    columns: [
      org(),
      { name: "account_id", type: "INTEGER", description: "Account id" },
      { name: "code", type: "VARCHAR", description: "Account code, e.g. '1000' (cash), '4000' (sales revenue)" },
      { name: "name", type: "VARCHAR", description: "Account name" },
      {
        name: "type",
        type: "VARCHAR",
        description: "'asset' | 'liability' | 'equity' | 'revenue' | 'expense'",
      },
      {
        name: "subtype",
        type: "VARCHAR",
        description:
          "'cash' | 'receivable' | 'inventory' | 'payable' | 'accrued' | 'equity' | 'sales' | 'cogs' | 'operating' | 'other'",
      },
      { name: "normal_balance", type: "VARCHAR", description: "'debit' | 'credit'" },
    ],
  },
  {
    name: "fiscal_periods",
    domain: "finance",
    description: "Monthly fiscal periods. Past periods are closed; the current period is open.",
    primaryKey: ["org_id", "period_id"],
    columns: [
      org(),
      { name: "period_id", type: "INTEGER", description: "Period id (increasing with time)" },
      { name: "name", type: "VARCHAR", description: "Period name 'YYYY-MM'" },
      { name: "start_date", type: "DATE", description: "First day of the period" },
      { name: "end_date", type: "DATE", description: "Last day of the period" },
      { name: "status", type: "VARCHAR", description: "'open' | 'closed'" },
      { name: "closed_at", type: "DATE", description: "When the period was closed", nullable: true },
    ],
  },
  {
    name: "customers",
    domain: "sales",
    description: "Customers invoiced by the organization.",
    primaryKey: ["org_id", "customer_id"],
    columns: [
      org(),
      { name: "customer_id", type: "INTEGER", description: "Customer id" },
      { name: "name", type: "VARCHAR", description: "Customer name" },
      { name: "segment", type: "VARCHAR", description: "'enterprise' | 'mid-market' | 'small business'" },
      { name: "region", type: "VARCHAR", description: "'north' | 'south' | 'east' | 'west'" },
      money("credit_limit", "Credit limit"),
      { name: "payment_terms_days", type: "INTEGER", description: "Days until an invoice is due" },
    ],
  },
  {
    name: "vendors",
    domain: "purchasing",
    description: "Suppliers the organization buys from.",
    primaryKey: ["org_id", "vendor_id"],
    columns: [
      org(),
      { name: "vendor_id", type: "INTEGER", description: "Vendor id" },
      { name: "name", type: "VARCHAR", description: "Vendor name" },
      { name: "category", type: "VARCHAR", description: "Main product category supplied" },
      { name: "payment_terms_days", type: "INTEGER", description: "Days until a bill is due" },
      { name: "lead_time_days", type: "INTEGER", description: "Typical delivery time in days" },
    ],
  },
  {
    name: "products",
    domain: "inventory",
    description: "Products sold and stocked.",
    primaryKey: ["org_id", "product_id"],
    columns: [
      org(),
      { name: "product_id", type: "INTEGER", description: "Product id" },
      { name: "sku", type: "VARCHAR", description: "Stock keeping unit" },
      { name: "name", type: "VARCHAR", description: "Product name" },
      { name: "category", type: "VARCHAR", description: "Product category" },
      money("unit_cost", "Purchase cost per unit"),
      money("unit_price", "Sales price per unit"),
      { name: "reorder_point", type: "INTEGER", description: "Reorder when on-hand quantity falls below this" },
      { name: "reorder_qty", type: "INTEGER", description: "Quantity to order when reordering" },
      {
        name: "preferred_vendor_id",
        type: "INTEGER",
        description: "Vendor to order from",
        references: "vendors.vendor_id",
      },
      { name: "is_active", type: "BOOLEAN", description: "Discontinued products are inactive" },
    ],
  },
  {
    name: "warehouses",
    domain: "inventory",
    description: "Stock locations.",
    primaryKey: ["org_id", "warehouse_id"],
    columns: [
      org(),
      { name: "warehouse_id", type: "INTEGER", description: "Warehouse id" },
      { name: "name", type: "VARCHAR", description: "Warehouse name" },
      { name: "city", type: "VARCHAR", description: "City" },
    ],
  },
  {
    name: "inventory_levels",
    domain: "inventory",
    description: "Quantity on hand per product and warehouse (reorder points are per warehouse, from products).",
    primaryKey: ["org_id", "product_id", "warehouse_id"],
    columns: [
      org(),
      { name: "product_id", type: "INTEGER", description: "Product", references: "products.product_id" },
      { name: "warehouse_id", type: "INTEGER", description: "Warehouse", references: "warehouses.warehouse_id" },
      { name: "qty_on_hand", type: "INTEGER", description: "Units physically in stock (never negative)" },
      { name: "qty_reserved", type: "INTEGER", description: "Units reserved for open orders" },
      { name: "updated_at", type: "DATE", description: "Last stock movement" },
    ],
  },
  {
    name: "sales_invoices",
    domain: "sales",
    description: "Customer invoices. Revenue is recognised on posted invoices (status 'posted', 'partial' or 'paid').",
    primaryKey: ["org_id", "invoice_id"],
    columns: [
      org(),
      { name: "invoice_id", type: "INTEGER", description: "Invoice id" },
      { name: "invoice_number", type: "VARCHAR", description: "Human-readable number, e.g. 'INV-000123'" },
      { name: "customer_id", type: "INTEGER", description: "Customer", references: "customers.customer_id" },
      { name: "invoice_date", type: "DATE", description: "Invoice date" },
      { name: "due_date", type: "DATE", description: "Payment due date" },
      { name: "status", type: "VARCHAR", description: "'draft' | 'posted' | 'partial' | 'paid' | 'void'" },
      money("subtotal", "Sum of line amounts"),
      money("tax", "Sales tax"),
      money("total", "subtotal + tax"),
    ],
  },
  {
    name: "sales_invoice_lines",
    domain: "sales",
    description: "Lines of customer invoices.",
    primaryKey: ["org_id", "invoice_id", "line_no"],
    columns: [
      org(),
      { name: "invoice_id", type: "INTEGER", description: "Invoice", references: "sales_invoices.invoice_id" },
      { name: "line_no", type: "INTEGER", description: "Line number within the invoice" },
      { name: "product_id", type: "INTEGER", description: "Product", references: "products.product_id" },
      { name: "warehouse_id", type: "INTEGER", description: "Shipped from", references: "warehouses.warehouse_id" },
      { name: "quantity", type: "INTEGER", description: "Units" },
      money("unit_price", "Price per unit"),
      money("amount", "quantity × unit_price"),
    ],
  },
  {
    name: "customer_payments",
    domain: "sales",
    description: "Payments received from customers, each applied to one invoice (partial payments happen).",
    primaryKey: ["org_id", "payment_id"],
    columns: [
      org(),
      { name: "payment_id", type: "INTEGER", description: "Payment id" },
      { name: "customer_id", type: "INTEGER", description: "Customer", references: "customers.customer_id" },
      { name: "invoice_id", type: "INTEGER", description: "Invoice paid", references: "sales_invoices.invoice_id" },
      { name: "payment_date", type: "DATE", description: "Date received" },
      money("amount", "Amount received"),
      { name: "method", type: "VARCHAR", description: "'bank_transfer' | 'card' | 'check'" },
    ],
  },
  {
    name: "purchase_orders",
    domain: "purchasing",
    description: "Purchase orders to vendors.",
    primaryKey: ["org_id", "po_id"],
    columns: [
      org(),
      { name: "po_id", type: "INTEGER", description: "Purchase order id" },
      { name: "po_number", type: "VARCHAR", description: "Human-readable number, e.g. 'PO-000042'" },
      { name: "vendor_id", type: "INTEGER", description: "Vendor", references: "vendors.vendor_id" },
      { name: "warehouse_id", type: "INTEGER", description: "Deliver to", references: "warehouses.warehouse_id" },
      { name: "order_date", type: "DATE", description: "Order date" },
      { name: "expected_date", type: "DATE", description: "Expected delivery date" },
      { name: "status", type: "VARCHAR", description: "'draft' | 'open' | 'received' | 'cancelled'" },
      money("total", "Sum of line amounts"),
    ],
  },
  {
    name: "purchase_order_lines",
    domain: "purchasing",
    description: "Lines of purchase orders.",
    primaryKey: ["org_id", "po_id", "line_no"],
    columns: [
      org(),
      { name: "po_id", type: "INTEGER", description: "Purchase order", references: "purchase_orders.po_id" },
      { name: "line_no", type: "INTEGER", description: "Line number within the order" },
      { name: "product_id", type: "INTEGER", description: "Product", references: "products.product_id" },
      { name: "quantity", type: "INTEGER", description: "Units ordered" },
      money("unit_cost", "Cost per unit"),
      money("amount", "quantity × unit_cost"),
    ],
  },
  {
    name: "vendor_bills",
    domain: "purchasing",
    description: "Bills received from vendors (accounts payable).",
    primaryKey: ["org_id", "bill_id"],
    columns: [
      org(),
      { name: "bill_id", type: "INTEGER", description: "Bill id" },
      { name: "bill_number", type: "VARCHAR", description: "Vendor's bill number" },
      { name: "vendor_id", type: "INTEGER", description: "Vendor", references: "vendors.vendor_id" },
      {
        name: "po_id",
        type: "INTEGER",
        description: "Purchase order billed, if any",
        references: "purchase_orders.po_id",
        nullable: true,
      },
      { name: "bill_date", type: "DATE", description: "Bill date" },
      { name: "due_date", type: "DATE", description: "Payment due date" },
      { name: "status", type: "VARCHAR", description: "'open' | 'partial' | 'paid'" },
      money("total", "Amount billed"),
    ],
  },
  {
    name: "bill_payments",
    domain: "purchasing",
    description: "Payments made to vendors against bills.",
    primaryKey: ["org_id", "payment_id"],
    columns: [
      org(),
      { name: "payment_id", type: "INTEGER", description: "Payment id" },
      { name: "bill_id", type: "INTEGER", description: "Bill paid", references: "vendor_bills.bill_id" },
      { name: "vendor_id", type: "INTEGER", description: "Vendor", references: "vendors.vendor_id" },
      { name: "payment_date", type: "DATE", description: "Date paid" },
      money("amount", "Amount paid"),
      { name: "method", type: "VARCHAR", description: "'bank_transfer' | 'check'" },
    ],
  },
  {
    name: "journal_entries",
    domain: "finance",
    description:
      "General ledger entries (double entry). A posted entry's lines balance: sum(debit) = sum(credit). Nothing may be posted into a closed period.",
    primaryKey: ["org_id", "entry_id"],
    columns: [
      org(),
      { name: "entry_id", type: "INTEGER", description: "Entry id" },
      { name: "entry_date", type: "DATE", description: "Accounting date" },
      { name: "period_id", type: "INTEGER", description: "Fiscal period", references: "fiscal_periods.period_id" },
      { name: "description", type: "VARCHAR", description: "What the entry records" },
      {
        name: "source",
        type: "VARCHAR",
        description: "'invoice' | 'customer_payment' | 'bill' | 'bill_payment' | 'accrual' | 'adjustment' | 'manual'",
      },
      { name: "source_id", type: "INTEGER", description: "Id of the source document", nullable: true },
      { name: "status", type: "VARCHAR", description: "'draft' | 'posted'" },
    ],
  },
  {
    name: "journal_lines",
    domain: "finance",
    description: "Debit and credit lines of journal entries.",
    primaryKey: ["org_id", "entry_id", "line_no"],
    columns: [
      org(),
      { name: "entry_id", type: "INTEGER", description: "Entry", references: "journal_entries.entry_id" },
      { name: "line_no", type: "INTEGER", description: "Line number within the entry" },
      { name: "account_id", type: "INTEGER", description: "Account", references: "accounts.account_id" },
      money("debit", "Debit amount (0 when credit)"),
      money("credit", "Credit amount (0 when debit)"),
      { name: "memo", type: "VARCHAR", description: "Line memo", nullable: true },
    ],
  },
  {
    name: "accrual_schedules",
    domain: "finance",
    description:
      "Recurring month-end accruals (e.g. rent, utilities, salaries) that must be posted in every period before it is closed.",
    primaryKey: ["org_id", "accrual_id"],
    columns: [
      org(),
      { name: "accrual_id", type: "INTEGER", description: "Accrual id" },
      { name: "description", type: "VARCHAR", description: "What is accrued" },
      {
        name: "expense_account_id",
        type: "INTEGER",
        description: "Account debited",
        references: "accounts.account_id",
      },
      {
        name: "liability_account_id",
        type: "INTEGER",
        description: "Account credited",
        references: "accounts.account_id",
      },
      money("amount", "Amount accrued each month"),
      {
        name: "last_posted_period_id",
        type: "INTEGER",
        description: "Latest period this accrual was posted in",
        references: "fiscal_periods.period_id",
        nullable: true,
      },
    ],
  },
  {
    name: "bank_transactions",
    domain: "finance",
    description:
      "Lines of the bank statement of the operating account. Positive amounts are deposits. Reconciled lines are matched to a payment or journal entry.",
    primaryKey: ["org_id", "txn_id"],
    columns: [
      org(),
      { name: "txn_id", type: "INTEGER", description: "Bank transaction id" },
      { name: "txn_date", type: "DATE", description: "Value date" },
      money("amount", "Signed amount (deposit > 0, withdrawal < 0)"),
      { name: "description", type: "VARCHAR", description: "Bank's description" },
      { name: "reference", type: "VARCHAR", description: "Payment reference, e.g. 'INV-000123'", nullable: true },
      {
        name: "matched_type",
        type: "VARCHAR",
        description: "'customer_payment' | 'bill_payment' | 'journal_entry' (expenses paid directly) | NULL",
        nullable: true,
      },
      {
        name: "matched_id",
        type: "INTEGER",
        description: "payment_id of the matched payment (entry_id for 'journal_entry')",
        nullable: true,
      },
      { name: "reconciled", type: "BOOLEAN", description: "Matched and confirmed against the books" },
    ],
  },
  {
    name: "audit_log",
    domain: "audit",
    description: "Every accepted write, recorded by the lab. Agents can read it but never change it.",
    primaryKey: ["org_id", "log_id"],
    columns: [
      org(),
      { name: "log_id", type: "INTEGER", description: "Log id" },
      { name: "logged_at", type: "TIMESTAMP", description: "When (as-of clock)" },
      { name: "actor_role", type: "VARCHAR", description: "Role that wrote" },
      { name: "action", type: "VARCHAR", description: "'INSERT' | 'UPDATE' | 'DELETE'" },
      { name: "table_name", type: "VARCHAR", description: "Table written" },
      { name: "row_count", type: "INTEGER", description: "Rows affected" },
      { name: "statement", type: "VARCHAR", description: "The SQL that was run" },
    ],
  },
];

/** Names of all sandbox tables. */
export const TABLE_NAMES: readonly string[] = TABLES.map((t) => t.name);

/** Look up a table definition by name (case-insensitive). */
export function tableDef(name: string): TableDef | undefined {
  const n = name.toLowerCase();
  return TABLES.find((t) => t.name === n);
}

/** `CREATE TABLE` statements for the whole schema (primary keys declared). */
export function createTablesSql(): string {
  return TABLES.map((t) => {
    const cols = t.columns.map((c) => `  ${c.name} ${c.type}${c.nullable ? "" : " NOT NULL"}`);
    cols.push(`  PRIMARY KEY (${t.primaryKey.join(", ")})`);
    return `CREATE TABLE ${t.name} (\n${cols.join(",\n")}\n);`;
  }).join("\n");
}
