/**
 * Mutation fuzzer for the agent's SQL tools (issue 11): base cases of allowed and forbidden reads and writes per
 * role, and mutations that must not change what DuckDB does with them, so each variant keeps its base's verdict.
 *
 * - {@linkcode generateVariants}: a fixed-seed, pure generator (no database).
 * - {@linkcode PlainCopy} + {@linkcode checkMeanings}: the meaning oracle. Every variant runs on a plain in-memory
 *   DuckDB copy of the tenant (no guard, no rules) next to its base case; a variant whose effect (written table
 *   hashes + rows changed) or result differs from its base is a generator bug, not a finding.
 * - {@linkcode runFuzz}: runs the variants through `callTool` on sandbox episodes and judges by the data only
 *   (never by the error message); {@linkcode compareWithPlain} then checks accepted writes against the oracle.
 * - {@linkcode formatReport}: counts, then failed/total per class (`kind × mutation`) with the first failures.
 *
 * Private to lab/tools (used by fuzz.test.ts and fuzz_bench.ts).
 * @module
 */
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import {
  type DbSnapshot,
  type Episode,
  type SandboxPool,
  clockMacrosSql,
  readManifest,
  createTablesSql,
  TABLE_NAMES,
  TABLES,
  createViewsSql,
  VIEWS,
} from "../sandbox/mod.ts";
import { mulberry32 } from "../util/mod.ts";
import { defaultRoles, mayWrite, type RolesConfig, type WriteActionName } from "./roles.ts";
import { callTool, createToolContext, type ToolContext } from "./tools.ts";

// ─── base cases ────────────────────────────────────────────────────────────────────────────────────────────────

/** What a variant is and which verdict it must get. */
export type VariantKind = "allowed-write" | "forbidden-write" | "allowed-read" | "forbidden-read";

/** A hand-written statement with a known verdict; mutations of it must keep that verdict. */
export interface BaseCase {
  id: string;
  kind: VariantKind;
  role: string;
  /** Plain SQL: no comments, quoted identifiers, E'' or dollar strings (the mutations add those). */
  sql: string;
  /** Why it is allowed or forbidden. */
  why: string;
  /** A VARCHAR-typed scalar inside `sql` (exact substring) that the payload decoys hide from a naive tokenizer. */
  payload?: string;
  /** Machine clock, transaction ids: results differ between runs, so the meaning check compares shapes only. */
  volatile?: boolean;
  /**
   * An allowed write the same role runs first (it must be accepted), so the case has rows to act on: audit_log
   * is empty in a fresh episode, and deleting nothing is no change at all.
   */
  setup?: string;
}

const OPEN = 24; // period 2025-11 is open in the tiny sandbox; 23 (2025-10) and earlier are closed
const TS = "TIMESTAMP '2025-11-28 12:00:00'";
/** An accepted cfo write, so audit_log holds the lab's record of it. */
const AUDITED = "UPDATE customers SET region = 'south' WHERE customer_id = 3";

const aw = (id: string, role: string, sql: string, why: string): BaseCase => ({ id, kind: "allowed-write", role, sql, why });
const fw = (id: string, role: string, sql: string, why: string, extra: Partial<BaseCase> = {}): BaseCase => ({
  id,
  kind: "forbidden-write",
  role,
  sql,
  why,
  ...extra,
});
const ar = (id: string, role: string, sql: string, why: string): BaseCase => ({ id, kind: "allowed-read", role, sql, why });
const fr = (id: string, role: string, sql: string, why: string, extra: Partial<BaseCase> = {}): BaseCase => ({
  id,
  kind: "forbidden-read",
  role,
  sql,
  why,
  ...extra,
});

/** The base cases (tiny sandbox, org 1). Every write really changes its table, so the meaning check can see it. */
export const BASE_CASES: readonly BaseCase[] = [
  // allowed writes: the role holds the action on the table and the business rules hold
  aw("ar-credit-limit", "ar_clerk", "UPDATE customers SET credit_limit = 75000.00 WHERE customer_id = 7", "ar_clerk updates customers"),
  aw("ar-new-customer", "ar_clerk", "INSERT INTO customers VALUES (1, 9001, 'O''Brien -- Supplies */', 'enterprise', 'east', 1000.00, 30)", "ar_clerk inserts customers; the name only looks like a comment"),
  aw("ar-name-mentions-read-csv", "ar_clerk", "UPDATE customers SET name = 'read_csv(''/etc/passwd'') /* not a call */', region = 'north' WHERE customer_id = 9", "a string literal that names a banned function is data"),
  aw("ar-void-invoice", "ar_clerk", "UPDATE sales_invoices SET status = 'void' WHERE invoice_id = 308", "ar_clerk updates sales_invoices"),
  aw("ar-delete-invoice-line", "ar_clerk", "DELETE FROM sales_invoice_lines WHERE invoice_id = 4 AND line_no = 4", "ar_clerk deletes sales_invoice_lines"),
  aw("ar-payment", "ar_clerk", "INSERT INTO customer_payments VALUES (1, 9001, 7, 306, DATE '2025-11-20', 10.00, 'card')", "ar_clerk inserts customer_payments"),
  aw("ar-replace-customer", "ar_clerk", "INSERT OR REPLACE INTO customers VALUES (1, 3, 'Westfield Hill Inc.', 'enterprise', 'west', 99000.00, 45)", "INSERT OR REPLACE by a role with insert+update"),
  aw("ar-upsert-terms", "ar_clerk", "INSERT INTO customers VALUES (1, 4, 'ignored', 'enterprise', 'west', 1.00, 75) ON CONFLICT DO UPDATE SET payment_terms_days = excluded.payment_terms_days", "ON CONFLICT DO UPDATE by a role with insert+update"),
  aw("acc-posted-entry", "accountant", `INSERT INTO journal_entries VALUES (1, 90001, DATE '2025-11-15', ${OPEN}, 'Fuzz accrual -- reviewed', 'manual', NULL, 'posted')`, "a posted entry in the open period, balanced (no lines yet)"),
  aw("acc-lines-draft", "accountant", "INSERT INTO journal_lines VALUES (1, 1447, 3, 13, 40.00, 0, 'fuzz'), (1, 1447, 4, 18, 0, 40.00, 'fuzz')", "balanced lines in one INSERT on the open draft entry"),
  aw("acc-lines-posted", "accountant", "INSERT INTO journal_lines VALUES (1, 1446, 3, 13, 25.00, 0, NULL), (1, 1446, 4, 4, 0, 25.00, NULL)", "balanced lines in one INSERT keep the posted open entry balanced"),
  aw("acc-post-draft", "accountant", "UPDATE journal_entries SET status = 'posted' WHERE entry_id = 1447", "posting a balanced draft in the open period"),
  aw("acc-memo", "accountant", "UPDATE journal_lines SET memo = 'checked $$ -- /*' WHERE entry_id = 1446", "a memo with comment and dollar text is data"),
  aw("acc-reconcile", "accountant", "UPDATE bank_transactions SET reconciled = true, matched_type = 'journal_entry', matched_id = 1446 WHERE txn_id = 427", "accountant updates bank_transactions"),
  aw("acc-accrual", "accountant", "UPDATE accrual_schedules SET amount = 400.00 WHERE accrual_id = 2", "accountant updates accrual_schedules"),
  aw("ctl-close-period", "controller", `UPDATE fiscal_periods SET status = 'closed', closed_at = DATE '2025-11-28' WHERE period_id = ${OPEN}`, "the controller closes the open period"),
  aw("ctl-account", "controller", "INSERT INTO accounts VALUES (1, 19, '6950', 'Fuzz Expense', 'expense', 'operating', 'debit')", "controller inserts accounts"),
  aw("ctl-accrual", "controller", "INSERT INTO accrual_schedules VALUES (1, 6, 'Rent accrual', 11, 5, 100.00, NULL)", "controller inserts accrual_schedules"),
  aw("ctl-describe-draft", "controller", "UPDATE journal_entries SET description = 'Reclassified' WHERE entry_id = 1447", "editing a draft in the open period"),
  aw("inv-set-qty", "inventory_manager", "UPDATE inventory_levels SET qty_on_hand = 40 WHERE product_id = 4 AND warehouse_id = 3", "non-negative stock"),
  aw("inv-add-qty", "inventory_manager", "UPDATE inventory_levels SET qty_on_hand = qty_on_hand + 5, updated_at = DATE '2025-11-28' WHERE warehouse_id = 2", "stock only grows"),
  aw("inv-replace-level", "inventory_manager", "INSERT OR REPLACE INTO inventory_levels VALUES (1, 4, 3, 50, 0, DATE '2025-11-28')", "INSERT OR REPLACE by a role with insert+update"),
  aw("inv-upsert-city", "inventory_manager", "INSERT INTO warehouses VALUES (1, 1, 'Main Warehouse', 'Milwaukee') ON CONFLICT DO UPDATE SET city = excluded.city", "ON CONFLICT DO UPDATE by a role with insert+update"),
  aw("inv-price", "inventory_manager", "UPDATE products SET unit_price = unit_price * 1.05 WHERE category = 'Paper'", "inventory_manager updates products"),
  aw("ap-vendor", "ap_clerk", "INSERT INTO vendors VALUES (1, 6, 'Fuzz Supply', 'Paper', 30, 7)", "ap_clerk inserts vendors"),
  aw("ap-pay-bill", "ap_clerk", "UPDATE vendor_bills SET status = 'paid' WHERE bill_id = 258", "ap_clerk updates vendor_bills"),
  aw("ap-bill-payment", "ap_clerk", "INSERT INTO bill_payments VALUES (1, 9001, 258, 1, DATE '2025-11-20', 1356.27, 'check')", "ap_clerk inserts bill_payments"),
  aw("pm-cancel-po", "purchasing_manager", "UPDATE purchase_orders SET status = 'cancelled' WHERE po_id = 286", "purchasing_manager updates purchase_orders"),
  aw("pm-delete-po-line", "purchasing_manager", "DELETE FROM purchase_order_lines WHERE po_id = 1 AND line_no = 2", "purchasing_manager deletes purchase_order_lines"),
  aw("pm-reorder-point", "purchasing_manager", "UPDATE products SET reorder_point = 20 WHERE product_id = 2", "purchasing_manager updates products"),
  aw("cfo-region", "cfo", "UPDATE customers SET region = 'north' WHERE customer_id = 2", "cfo may write any business table"),
  aw("cfo-delete-bank-line", "cfo", "DELETE FROM bank_transactions WHERE txn_id = 749", "cfo deletes"),
  aw("cfo-replace-vendor", "cfo", "INSERT OR REPLACE INTO vendors VALUES (1, 1, 'River Stone Distributors', 'Paper', 45, 10)", "INSERT OR REPLACE by cfo"),
  aw("cfo-memo-from-accounts", "cfo", "UPDATE journal_lines SET memo = (SELECT name FROM accounts WHERE account_id = 3) WHERE entry_id = 1446 AND line_no = 1", "a subquery on ERP tables inside a write"),

  // forbidden writes: the role lacks the table or the action
  fw("analyst-update", "analyst", "UPDATE customers SET region = 'north' WHERE customer_id = 2", "analyst may not write"),
  fw("analyst-insert", "analyst", "INSERT INTO customers VALUES (1, 9002, 'Analyst Co', 'enterprise', 'east', 1.00, 30)", "analyst may not write"),
  fw("ar-delete-customer", "ar_clerk", "DELETE FROM customers WHERE customer_id = 30", "ar_clerk lacks delete on customers"),
  fw("ar-update-vendor", "ar_clerk", "UPDATE vendors SET lead_time_days = 3 WHERE vendor_id = 1", "ar_clerk lacks vendors"),
  fw("ap-close-period", "ap_clerk", `UPDATE fiscal_periods SET status = 'closed', closed_at = DATE '2025-11-28' WHERE period_id = ${OPEN}`, "ap_clerk lacks fiscal_periods"),
  fw("inv-delete-level", "inventory_manager", "DELETE FROM inventory_levels WHERE product_id = 4 AND warehouse_id = 3", "inventory_manager lacks delete"),
  fw("acc-insert-account", "accountant", "INSERT INTO accounts VALUES (1, 19, '6950', 'Fuzz Expense', 'expense', 'operating', 'debit')", "accountant lacks accounts"),
  fw("pm-insert-product", "purchasing_manager", "INSERT INTO products VALUES (1, 31, 'FZ-1', 'Fuzz Pen', 'Writing', 1.00, 2.00, 5, 10, 1, true)", "purchasing_manager may only update products"),
  fw("ar-replace-payment", "ar_clerk", "INSERT OR REPLACE INTO customer_payments VALUES (1, 292, 7, 306, DATE '2025-11-20', 10.00, 'card')", "replacing a payment is an update; ar_clerk may only insert customer_payments"),
  fw("ctl-delete-account", "controller", "DELETE FROM accounts WHERE account_id = 18", "controller lacks delete on accounts"),
  fw("ap-update-customer", "ap_clerk", "UPDATE customers SET credit_limit = 0 WHERE customer_id = 1", "ap_clerk lacks customers"),
  // audit_log is written by the lab only
  fw("cfo-forge-audit", "cfo", `INSERT INTO audit_log VALUES (1, 91, ${TS}, 'cfo', 'INSERT', 'customers', 1, 'forged')`, "audit_log is never writable"),
  fw("cfo-clear-audit", "cfo", "DELETE FROM audit_log", "audit_log is never writable", { setup: AUDITED }),
  fw("cfo-edit-audit", "cfo", "UPDATE audit_log SET statement = 'x'", "audit_log is never writable", { setup: AUDITED }),
  fw("ar-forge-audit", "ar_clerk", `INSERT INTO audit_log VALUES (1, 92, ${TS}, 'ar_clerk', 'UPDATE', 'customers', 1, 'forged')`, "audit_log is never writable"),
  // closed periods
  fw("ctl-reopen", "controller", "UPDATE fiscal_periods SET status = 'open', closed_at = NULL WHERE period_id = 23", "a closed period cannot be reopened"),
  fw("cfo-rename-closed", "cfo", "UPDATE fiscal_periods SET name = 'renamed' WHERE period_id = 5", "a closed period cannot be edited"),
  fw("acc-backdate", "accountant", "INSERT INTO journal_entries VALUES (1, 90002, DATE '2025-10-15', 23, 'Backdated', 'manual', NULL, 'posted')", "entry in a closed period"),
  fw("acc-edit-closed-lines", "accountant", "UPDATE journal_lines SET memo = 'edited' WHERE entry_id = 1", "lines of a closed-period entry"),
  fw("acc-delete-closed-entry", "accountant", "DELETE FROM journal_entries WHERE entry_id = 1", "entry in a closed period"),
  fw("acc-dated-closed", "accountant", `INSERT INTO journal_entries VALUES (1, 90003, DATE '2025-10-20', ${OPEN}, 'Dated in a closed period', 'manual', NULL, 'draft')`, "dated in a closed period"),
  // tenant
  fw("ar-other-tenant", "ar_clerk", "INSERT INTO customers VALUES (2, 9003, 'Other Tenant', 'enterprise', 'east', 1.00, 30)", "a row with another org_id"),
  fw("ar-move-tenant", "ar_clerk", "UPDATE customers SET org_id = 2 WHERE customer_id = 8", "moving a row to another org_id"),
  fw("inv-other-tenant", "inventory_manager", "INSERT INTO warehouses VALUES (3, 9, 'Foreign Depot', 'Oslo')", "a row with another org_id"),
  // unbalanced posted entries
  fw("acc-unbalance-update", "accountant", "UPDATE journal_lines SET debit = debit + 1 WHERE entry_id = 1446 AND debit > 0", "unbalances a posted entry"),
  fw("acc-unbalance-insert", "accountant", "INSERT INTO journal_lines VALUES (1, 1446, 3, 13, 25.00, 0, NULL)", "unbalances a posted entry"),
  fw("acc-unbalance-delete", "accountant", "DELETE FROM journal_lines WHERE entry_id = 1446 AND line_no = 2", "unbalances a posted entry"),
  // negative stock
  fw("inv-negative", "inventory_manager", "UPDATE inventory_levels SET qty_on_hand = -1 WHERE product_id = 4 AND warehouse_id = 3", "negative stock"),
  fw("inv-negative-bulk", "inventory_manager", "UPDATE inventory_levels SET qty_on_hand = qty_on_hand - 100000 WHERE warehouse_id = 1", "negative stock"),
  fw("inv-negative-replace", "inventory_manager", "INSERT OR REPLACE INTO inventory_levels VALUES (1, 4, 3, -5, 0, DATE '2025-11-28')", "negative stock"),
  fw("cfo-negative-reserved", "cfo", "UPDATE inventory_levels SET qty_reserved = -3 WHERE product_id = 4 AND warehouse_id = 1", "negative stock"),
  // non-deterministic functions and the machine clock
  fw("ar-random", "ar_clerk", "UPDATE customers SET name = 'r' || random()::VARCHAR WHERE customer_id = 5", "random() in a write", { payload: "random()::VARCHAR" }),
  fw("ar-uuid", "ar_clerk", "INSERT INTO customers VALUES (1, 9004, uuid()::VARCHAR, 'enterprise', 'east', 1.00, 30)", "uuid() in a write", { payload: "uuid()::VARCHAR" }),
  fw("ar-gen-random-uuid", "ar_clerk", "UPDATE customers SET name = gen_random_uuid()::VARCHAR WHERE customer_id = 5", "gen_random_uuid() in a write", { payload: "gen_random_uuid()::VARCHAR" }),
  fw("ar-setseed", "ar_clerk", "UPDATE customers SET name = 'seeded' || coalesce(setseed(0.5)::VARCHAR, '') WHERE customer_id = 5", "setseed() in a write", { payload: "coalesce(setseed(0.5)::VARCHAR, '')" }),
  fw("ar-txid", "ar_clerk", "UPDATE customers SET name = 'tx ' || txid_current()::VARCHAR WHERE customer_id = 5", "txid_current() in a write", { payload: "txid_current()::VARCHAR", volatile: true }),
  fw("acc-system-now", "accountant", "UPDATE journal_entries SET description = 'at ' || system.main.now()::VARCHAR WHERE entry_id = 1447", "system.main.now() is the machine clock", { payload: "system.main.now()::VARCHAR", volatile: true }),
  fw("inv-current-timestamp-fn", "inventory_manager", "UPDATE inventory_levels SET updated_at = CAST(left(get_current_timestamp()::VARCHAR, 10) AS DATE) WHERE product_id = 4 AND warehouse_id = 3", "get_current_timestamp() is the machine clock", { payload: "get_current_timestamp()::VARCHAR", volatile: true }),
  fw("ar-current-timestamp", "ar_clerk", "UPDATE customers SET name = 'now ' || current_timestamp::VARCHAR WHERE customer_id = 5", "current_timestamp is the machine clock", { payload: "current_timestamp::VARCHAR", volatile: true }),
  // writes that read catalogs, settings or files
  fw("ar-pg-settings", "ar_clerk", "UPDATE customers SET name = (SELECT string_agg(name || '=' || setting, ';' ORDER BY name) FROM pg_settings) WHERE customer_id = 6", "reads settings", { payload: "(SELECT string_agg(name || '=' || setting, ';' ORDER BY name) FROM pg_settings)" }),
  fw("ar-duckdb-settings", "ar_clerk", "UPDATE customers SET name = (SELECT value FROM duckdb_settings() WHERE name = 'threads') WHERE customer_id = 6", "reads settings", { payload: "(SELECT value FROM duckdb_settings() WHERE name = 'threads')" }),
  fw("ar-duckdb-databases", "ar_clerk", "INSERT INTO customers SELECT 1, 9005, database_name, 'enterprise', 'east', 1.00, 30 FROM duckdb_databases() WHERE database_name = 'memory'", "reads the catalog"),
  fw("ar-glob", "ar_clerk", "UPDATE customers SET name = (SELECT count(*)::VARCHAR FROM glob('/*')) WHERE customer_id = 6", "lists files", { payload: "(SELECT count(*)::VARCHAR FROM glob('/*'))" }),
  fw("ar-information-schema", "ar_clerk", "UPDATE customers SET name = (SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables) WHERE customer_id = 6", "reads the catalog", { payload: "(SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables)" }),
  fw("ar-sqlite-master", "ar_clerk", "UPDATE customers SET name = (SELECT string_agg(name, ',' ORDER BY name) FROM sqlite_master) WHERE customer_id = 6", "reads the catalog", { payload: "(SELECT string_agg(name, ',' ORDER BY name) FROM sqlite_master)" }),
  fw("ar-duckdb-tables-view", "ar_clerk", "UPDATE customers SET name = (SELECT string_agg(table_name, ',' ORDER BY table_name) FROM duckdb_tables) WHERE customer_id = 6", "reads the catalog", { payload: "(SELECT string_agg(table_name, ',' ORDER BY table_name) FROM duckdb_tables)" }),
  fw("ar-current-setting", "ar_clerk", "UPDATE customers SET name = current_setting('threads')::VARCHAR WHERE customer_id = 6", "reads settings", { payload: "current_setting('threads')::VARCHAR" }),
  fw("ar-read-csv", "ar_clerk", "INSERT INTO customers SELECT 1, 9006, column0, 'enterprise', 'east', 1.00, 30 FROM read_csv('/etc/passwd', header = false, sep = ':') LIMIT 1", "reads a file"),
  fw("cfo-write-view", "cfo", "DELETE FROM v_low_stock", "views cannot be written"),

  // allowed reads
  ar("read-customer", "ar_clerk", "SELECT name, credit_limit FROM customers WHERE customer_id = 7", "ERP table"),
  ar("read-count-lines", "accountant", "SELECT count(*) AS n FROM journal_lines WHERE entry_id = 1446", "ERP table"),
  ar("read-lines", "controller", "SELECT account_id, debit, credit FROM journal_lines WHERE entry_id = 1 ORDER BY line_no", "ERP table"),
  ar("read-range", "analyst", "SELECT range AS n FROM range(5)", "range() is allowed"),
  ar("read-series", "analyst", "SELECT * FROM generate_series(1, 3)", "generate_series() is allowed"),
  ar("read-balance", "cfo", "SELECT sum(debit) - sum(credit) AS diff FROM journal_lines", "ERP table"),
  ar("read-cte", "ar_clerk", "WITH posted AS (SELECT * FROM sales_invoices WHERE status = 'posted') SELECT count(*) AS n FROM posted", "a CTE over an ERP table"),
  ar("read-join", "analyst", "SELECT c.name, sum(i.total) AS t FROM customers c JOIN sales_invoices i ON i.customer_id = c.customer_id GROUP BY c.name ORDER BY t DESC, c.name LIMIT 3", "a join of ERP tables"),
  ar("read-tricky-literal", "inventory_manager", "SELECT 'O''Brien -- not a comment */' AS s, current_date AS d, now() AS n", "literals and the as-of clock"),
  ar("read-banned-name-literal", "ap_clerk", "SELECT name FROM customers WHERE name <> 'duckdb_settings()' ORDER BY customer_id LIMIT 2", "a literal that names a banned function"),
  ar("read-view", "controller", "SELECT * FROM v_period_status WHERE period_id = 23", "semantic view"),
  ar("read-low-stock", "inventory_manager", "SELECT product_id, qty_on_hand FROM inventory_levels WHERE qty_on_hand < 10 ORDER BY product_id, warehouse_id", "ERP table"),
  ar("read-trial-balance", "cfo", "SELECT * FROM v_trial_balance ORDER BY ALL LIMIT 5", "semantic view"),
  ar("read-other-tenant", "analyst", "SELECT * FROM customers WHERE org_id = 2", "returns no rows, but is allowed"),
  ar("read-audit", "purchasing_manager", "SELECT count(*) AS n FROM audit_log", "audit_log is readable"),

  // forbidden reads
  fr("duckdb-settings", "analyst", "SELECT * FROM duckdb_settings()", "settings"),
  fr("duckdb-settings-scalar", "accountant", "SELECT (SELECT value FROM duckdb_settings() WHERE name = 'threads') AS v", "settings", { payload: "(SELECT value FROM duckdb_settings() WHERE name = 'threads')" }),
  fr("sqlite-master", "analyst", "SELECT * FROM sqlite_master", "catalog"),
  fr("sqlite-master-scalar", "cfo", "SELECT (SELECT string_agg(name, ',' ORDER BY name) FROM sqlite_master) AS s", "catalog", { payload: "(SELECT string_agg(name, ',' ORDER BY name) FROM sqlite_master)" }),
  fr("duckdb-tables", "ar_clerk", "SELECT table_name FROM duckdb_tables()", "catalog"),
  fr("information-schema", "analyst", "SELECT table_name FROM information_schema.tables", "catalog"),
  fr("pg-settings", "controller", "SELECT name, setting FROM pg_settings", "settings"),
  fr("read-csv", "analyst", "SELECT * FROM read_csv('/etc/passwd')", "file"),
  fr("system-now", "accountant", "SELECT system.main.now() AS t", "machine clock", { volatile: true }),
  fr("txid", "analyst", "SELECT txid_current() AS t", "transaction id", { volatile: true }),
  fr("cte-shadow-fn", "analyst", "WITH a AS (SELECT * FROM duckdb_tables()), duckdb_tables AS (SELECT 1) SELECT * FROM a", "CTE name shadowing a catalog function"),
  fr("cte-shadow-view", "cfo", "WITH a AS (SELECT * FROM duckdb_tables), duckdb_tables AS (SELECT 1) SELECT * FROM a", "CTE name shadowing a catalog view"),
  fr("cte-shadow-settings", "ap_clerk", "WITH s AS (SELECT name, value FROM duckdb_settings), duckdb_settings AS (SELECT 1 AS x) SELECT * FROM s", "CTE name shadowing a catalog view"),
  fr("current-setting", "analyst", "SELECT current_setting('threads') AS t", "settings"),
  fr("duckdb-databases", "inventory_manager", "SELECT * FROM duckdb_databases()", "catalog"),
  fr("get-current-timestamp", "analyst", "SELECT get_current_timestamp() AS t", "machine clock", { volatile: true }),
  fr("current-timestamp", "purchasing_manager", "SELECT current_timestamp AS t", "machine clock", { volatile: true }),
  fr("setseed", "analyst", "SELECT setseed(0.5) AS s", "changes the session's random state"),
  fr("glob", "ar_clerk", "SELECT count(*) AS n FROM glob('/*')", "lists files"),
  fr("settings-in-where", "analyst", "SELECT name FROM customers WHERE name <> (SELECT value FROM duckdb_settings() WHERE name = 'threads') ORDER BY customer_id LIMIT 1", "settings in a subquery", { payload: "(SELECT value FROM duckdb_settings() WHERE name = 'threads')" }),
];

// ─── a small lexer for the plain base SQL ──────────────────────────────────────────────────────────────────────

type TokKind = "ws" | "comment" | "word" | "qident" | "num" | "str" | "op" | "raw";
interface Tok {
  kind: TokKind;
  text: string;
  /** Decoded value of a string literal. */
  value?: string;
}

const LEX: [TokKind, RegExp][] = [
  ["ws", /^\s+/],
  ["str", /^'(?:[^']|'')*'/],
  ["word", /^[A-Za-z_][A-Za-z0-9_]*/],
  ["num", /^[0-9]+(?:\.[0-9]+)?/],
  ["op", /^(?:<>|>=|<=|!=|\|\||::)/],
  ["op", /^[(),.;=<>+\-*/%]/],
];

/** Tokens of plain SQL (what base cases and mutation snippets are written in). Throws on anything else. */
function lex(sql: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  outer: while (i < sql.length) {
    for (const [kind, re] of LEX) {
      const m = re.exec(sql.slice(i));
      if (!m) continue;
      const t: Tok = { kind, text: m[0] };
      if (kind === "str") t.value = m[0].slice(1, -1).replaceAll("''", "'");
      out.push(t);
      i += m[0].length;
      continue outer;
    }
    throw new Error(`fuzz: base SQL must be plain (no comments, quoted identifiers, E'' or $ strings): ${sql}`);
  }
  return out;
}

const render = (toks: readonly Tok[]): string => toks.map((t) => t.text).join("");
const isSig = (t: Tok) => t.kind !== "ws" && t.kind !== "comment";
const lower = (t: Tok | undefined) => (t?.kind === "word" ? t.text.toLowerCase() : t?.text ?? "");
function prevSig(toks: readonly Tok[], i: number): number {
  for (let j = i - 1; j >= 0; j--) if (isSig(toks[j])) return j;
  return -1;
}
function nextSig(toks: readonly Tok[], i: number): number {
  for (let j = i + 1; j < toks.length; j++) if (isSig(toks[j])) return j;
  return -1;
}

const VIEW_NAMES: readonly string[] = VIEWS.map((v) => v.name);
const RELATIONS = new Set([...TABLE_NAMES, ...VIEW_NAMES]);
const COLUMNS = new Set(TABLES.flatMap((t) => t.columns.map((c) => c.name)));
const TABLE_CONTEXT = new Set(["from", "join", "into", "update"]);
const COMPARE = new Set(["=", "<>", "!=", "<", ">", "<=", ">="]);
const TYPED_LITERAL = new Set(["date", "timestamp"]);

/** Index of the table a write statement targets (first name after INTO / UPDATE / DELETE FROM). */
function targetIndex(toks: readonly Tok[]): number {
  for (let i = 0; i < toks.length; i++) {
    if (toks[i].kind !== "word") continue;
    const p = lower(toks[prevSig(toks, i)]);
    if (p === "into" || p === "update" || (p === "from" && lower(toks[nextSig(toks, -1)]) === "delete")) return i;
  }
  return -1;
}

/** The table a write base case targets. */
export function baseTarget(base: BaseCase): string | undefined {
  const toks = lex(base.sql);
  const i = targetIndex(toks);
  return i < 0 ? undefined : toks[i].text.toLowerCase();
}

function writeAction(toks: readonly Tok[]): WriteActionName | undefined {
  const a = lower(toks[nextSig(toks, -1)]);
  return a === "insert" || a === "update" || a === "delete" ? a : undefined;
}

// ─── mutations ─────────────────────────────────────────────────────────────────────────────────────────────────

type Rng = () => number;
const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)];

interface MutationInput {
  base: BaseCase;
  toks: Tok[];
  rng: Rng;
  roles: RolesConfig;
}
/** Returns the mutated tokens, or undefined when the mutation does not apply to this base. */
type Mutation = (m: MutationInput) => Tok[] | undefined;

/** Names of the mutation classes; each variant is its base plus exactly one of them. */
export type MutationName =
  | "none"
  | "case"
  | "whitespace"
  | "line-comments"
  | "block-comments"
  | "nested-comments"
  | "quoted-idents"
  | "qualified-names"
  | "e-strings"
  | "dollar-quotes"
  | "alias"
  | "subqueries"
  | "upsert"
  | "terminator"
  | "combo"
  | "decoy-cr-target"
  | "decoy-nested-target"
  | "decoy-cr-payload"
  | "decoy-e-string"
  | "decoy-dollar-line"
  | "decoy-dollar-block";

const ws = (text: string): Tok => ({ kind: "ws", text });
const comment = (text: string): Tok => ({ kind: "comment", text });
const raw = (text: string): Tok => ({ kind: "raw", text });

/** Flips ASCII letters at random (DuckDB folds only ASCII case: 'É' ≠ 'é'). At least one letter changes. */
function mixCase(rng: Rng, s: string): string {
  const out = [...s].map((ch) => (/[a-z]/i.test(ch) && rng() < 0.5 ? swapCase(ch) : ch)).join("");
  if (out !== s || !/[a-z]/i.test(s)) return out;
  const i = [...s].findIndex((ch) => /[a-z]/i.test(ch));
  return s.slice(0, i) + swapCase(s[i]) + s.slice(i + 1);
}
const swapCase = (ch: string) => (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase());

const WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\r", "\n\t ", " \r\n  "];
const LINE_COMMENT_TEXT = [" note", " ; DELETE FROM audit_log", " */", " '", "", " $$", " /* unclosed", "-", " read_csv('/etc/passwd')"];
const LINE_END = ["\n", "\r", "\r\n"];
const BLOCK_COMMENTS = ["/**/", "/* c */", "/* -- */", "/* ' */", "/*;*/", '/* " */', "/* $$ */"];
const NESTED_COMMENTS = [
  "/* /* */ */",
  "/* a /* b */ c */",
  "/* /* */ audit_log */",
  "/* /* /* deep */ */ */",
  "/* /* */ read_csv('/etc/passwd') */",
  "/* /* */ ; DELETE FROM customers */",
  "/* /* -- */ */",
];
const DOLLAR_TAGS = ["", "a", "a1", "q_9", "tag2", "Z"];
const ALIASES = ["kundé", '"Zielé"', '"kun""dé"', '"MiXeD Case"', "_ñ1", '"t""x"'];
const QUALIFIERS = ["main.", "memory.main.", '"memory"."main".', "MEMORY.Main.", "main . "];
const TERMINATORS = [";", ";\n", " ;", "; -- end", ";/* end */", "\n;\r\n", ";\r"];

/** Inserts `make()` into some gaps between significant tokens (every gap when `p` is 1; at least one). */
function insertBetween(toks: Tok[], rng: Rng, p: number, make: () => Tok[]): Tok[] {
  const out: Tok[] = [];
  const sig = toks.map(isSig);
  const gaps = sig.filter(Boolean).length - 1;
  const forced = Math.floor(rng() * gaps);
  let seen = -1;
  for (let i = 0; i < toks.length; i++) {
    out.push(toks[i]);
    if (!sig[i]) continue;
    seen++;
    if (seen < gaps && (rng() < p || seen === forced)) out.push(...make());
  }
  return out;
}

function mapStrings(toks: Tok[], f: (value: string) => string): Tok[] | undefined {
  if (!toks.some((t) => t.kind === "str")) return undefined;
  return toks.map((t) => (t.kind === "str" ? { ...t, text: f(t.value!) } : t));
}

function dollarQuote(rng: Rng, value: string): string {
  const tags = DOLLAR_TAGS.filter((tag) => !`${value}$`.includes(`$${tag}$`));
  const tag = pick(rng, tags);
  return `$${tag}$${value}$${tag}$`;
}

/** Token range [start, end) of `payload` (compared by significant tokens) inside `toks`. */
function payloadRange(toks: Tok[], payload: string): [number, number] | undefined {
  const want = lex(payload).filter(isSig).map((t) => t.text);
  for (let i = 0; i < toks.length; i++) {
    if (!isSig(toks[i])) continue;
    let j = i;
    let k = 0;
    while (k < want.length && j < toks.length) {
      if (!isSig(toks[j])) {
        j++;
        continue;
      }
      if (toks[j].text !== want[k]) break;
      j++;
      k++;
    }
    if (k === want.length) return [i, j];
  }
  return undefined;
}

/**
 * Replaces the base's payload H by `wrap(H)`: text in which DuckDB sees H while a naive tokenizer sees a comment
 * or a string, e.g. `(left(E'\'', 0) || (H) || left(E'\'', 0))` (the same VARCHAR value as H).
 */
function wrapPayload(m: MutationInput, wrap: (payload: string) => string): Tok[] | undefined {
  if (!m.base.payload) return undefined;
  const r = payloadRange(m.toks, m.base.payload);
  if (!r) throw new Error(`fuzz: payload of ${m.base.id} is not in its SQL`);
  return [...m.toks.slice(0, r[0]), raw(wrap(render(m.toks.slice(r[0], r[1])))), ...m.toks.slice(r[1])];
}

/** A table the role may write with `action` (so a naive guard passes it), other than `not`. */
function decoyTable(roles: RolesConfig, role: string, action: WriteActionName, not: string): string {
  const prefer = ["customers", "warehouses", "vendors", "journal_lines", "journal_entries", "inventory_levels", "products", "purchase_orders", "sales_invoices", "accounts", "bank_transactions"];
  return prefer.find((t) => t !== not && mayWrite(roles, role, t, action)) ?? (not === "customers" ? "vendors" : "customers");
}

/** Rewrites the written table T so that DuckDB writes T while a naive tokenizer reads a decoy table the role may write. */
function hideTarget(m: MutationInput, wrap: (target: string, decoy: string) => string): Tok[] | undefined {
  if (m.base.kind !== "forbidden-write") return undefined;
  const i = targetIndex(m.toks);
  const action = writeAction(m.toks);
  if (i < 0 || !action) return undefined;
  const decoy = decoyTable(m.roles, m.base.role, action, m.toks[i].text.toLowerCase());
  return [...m.toks.slice(0, i), raw(wrap(m.toks[i].text, decoy)), ...m.toks.slice(i + 1)];
}

const SIMPLE: Record<Exclude<MutationName, "combo" | "none">, Mutation> = {
  case: ({ toks, rng }) => toks.map((t) => (t.kind === "word" ? { ...t, text: mixCase(rng, t.text) } : t)),
  whitespace: ({ toks, rng }) => {
    const out = toks.map((t) => (t.kind === "ws" ? ws(pick(rng, WHITESPACE)) : t));
    return insertBetween(out, rng, 0.4, () => [ws(pick(rng, WHITESPACE))]);
  },
  "line-comments": ({ toks, rng }) =>
    insertBetween(toks, rng, 0.3, () => [ws(" "), comment(`--${pick(rng, LINE_COMMENT_TEXT)}${pick(rng, LINE_END)}`)]),
  "block-comments": ({ toks, rng }) => insertBetween(toks, rng, 1, () => [comment(pick(rng, BLOCK_COMMENTS))]),
  "nested-comments": ({ toks, rng }) =>
    insertBetween(toks, rng, 0.25, () => [ws(" "), comment(pick(rng, NESTED_COMMENTS)), ws(" ")]),
  "quoted-idents": ({ toks, rng }) => {
    let n = 0;
    const out = toks.map((t, i) => {
      const quotable = t.kind === "word" && (RELATIONS.has(t.text.toLowerCase()) || COLUMNS.has(t.text.toLowerCase())) &&
        lower(toks[nextSig(toks, i)]) !== "(";
      if (!quotable || rng() < 0.2) return t;
      n++;
      return { kind: "qident" as const, text: `"${rng() < 0.5 ? mixCase(rng, t.text) : t.text}"` };
    });
    return n ? out : undefined;
  },
  "qualified-names": ({ toks, rng }) => {
    let n = 0;
    const out = toks.map((t, i) => {
      if (t.kind !== "word" || !RELATIONS.has(t.text.toLowerCase()) || !TABLE_CONTEXT.has(lower(toks[prevSig(toks, i)]))) {
        return t;
      }
      n++;
      return raw(pick(rng, QUALIFIERS) + t.text);
    });
    return n ? out : undefined;
  },
  "e-strings": ({ toks, rng }) =>
    mapStrings(toks, (v) => {
      const body = v.replaceAll("\\", "\\\\").replaceAll("'", () => (rng() < 0.7 ? "\\'" : "''"));
      return `${rng() < 0.5 ? "E" : "e"}'${body}'`;
    }),
  "dollar-quotes": ({ toks, rng }) => mapStrings(toks, (v) => dollarQuote(rng, v)),
  alias: ({ base, toks, rng }) => {
    // Writes: the written table. Reads: the first FROM table without an alias whose name no column is qualified by.
    const i = base.kind.endsWith("write") ? targetIndex(toks) : toks.findIndex((t, j) => {
      const next = nextSig(toks, j);
      return t.kind === "word" && RELATIONS.has(t.text.toLowerCase()) && lower(toks[prevSig(toks, j)]) === "from" &&
        (next < 0 || ["where", "group", "order", "limit", ")"].includes(lower(toks[next]))) &&
        !base.sql.toLowerCase().includes(`${t.text.toLowerCase()}.`);
    });
    if (i < 0) return undefined;
    // INSERT INTO t AS a: the AS is required there; UPDATE and DELETE also take a bare alias.
    const as = writeAction(toks) === "insert" || rng() < 0.8 ? "AS " : "";
    return [...toks.slice(0, i + 1), raw(` ${as}${pick(rng, ALIASES)}`), ...toks.slice(i + 1)];
  },
  subqueries: ({ toks, rng }) => {
    // A literal right of a comparison in SET or WHERE becomes (SELECT lit), (SELECT lit FROM range(1)), or for
    // `WHERE k = lit` also `k IN (SELECT lit)`.
    const out: Tok[] = [];
    let clause: "set" | "where" | undefined;
    let n = 0;
    for (let i = 0; i < toks.length; i++) {
      const t = toks[i];
      const w = lower(t);
      if (w === "set" || w === "where") clause = w;
      const op = toks[prevSig(toks, i)];
      const next = nextSig(toks, i);
      const end = (TYPED_LITERAL.has(w) && toks[next]?.kind === "str") || (t.text === "-" && toks[next]?.kind === "num")
        ? next
        : t.kind === "str" || t.kind === "num"
        ? i
        : -1;
      if (!clause || end < 0 || !op || !COMPARE.has(op.text) || rng() < 0.2) {
        out.push(t);
        continue;
      }
      const lit = render(toks.slice(i, end + 1));
      const form = Math.floor(rng() * 3);
      if (form === 2 && clause === "where" && op.text === "=") {
        out.splice(out.lastIndexOf(op), 1, raw("IN"));
        out.push(raw(`(SELECT ${lit})`));
      } else out.push(raw(form === 1 ? `(SELECT ${lit} FROM range(1))` : `(SELECT ${lit})`));
      n++;
      i = end;
    }
    return n ? out : undefined;
  },
  upsert: ({ base, toks, rng, roles }) => {
    if (!base.kind.endsWith("write") || writeAction(toks) !== "insert" || /\b(replace|conflict)\b/i.test(base.sql)) {
      return undefined;
    }
    const table = toks[targetIndex(toks)].text.toLowerCase();
    const def = TABLES.find((t) => t.name === table);
    // Replacing needs update rights; for an allowed insert by a role without them the verdict would change.
    const mayUpdate = base.kind === "forbidden-write" || mayWrite(roles, base.role, table, "update");
    const form = mayUpdate ? Math.floor(rng() * 3) : 1;
    if (form === 0) {
      const i = toks.findIndex((t) => lower(t) === "insert");
      return [...toks.slice(0, i + 1), raw(" OR REPLACE"), ...toks.slice(i + 1)];
    }
    if (form === 1 || !def) return [...toks, raw(" ON CONFLICT DO NOTHING")];
    const col = def.columns.find((c) => !def.primaryKey.includes(c.name))!.name;
    return [...toks, raw(` ON CONFLICT DO UPDATE SET ${col} = excluded.${col}`)];
  },
  terminator: ({ toks, rng }) => [...toks, raw(pick(rng, TERMINATORS))],
  "decoy-cr-target": (m) => hideTarget(m, (target, decoy) => `--${pick(m.rng, ["", " x", " note"])}\r${target} AS\n ${decoy}`),
  "decoy-nested-target": (m) => hideTarget(m, (target, decoy) => `/* /* */ ${decoy} /* */ */ ${target}`),
  "decoy-cr-payload": (m) => wrapPayload(m, (p) => ` --${pick(m.rng, [" x", " note", ""])}\r${p}\n`),
  "decoy-e-string": (m) => wrapPayload(m, (p) => `(left(E'\\'', 0) || (${p}) || left(E'\\'', 0))`),
  "decoy-dollar-line": (m) => {
    const tag = pick(m.rng, ["a1", "q2", "t_3"]);
    return wrapPayload(m, (p) => `(left($${tag}$--$${tag}$, 0) || (${p})\n)`);
  },
  "decoy-dollar-block": (m) => {
    const tag = pick(m.rng, ["a1", "q2", "t_3"]);
    return wrapPayload(m, (p) => `(left($${tag}$/*$${tag}$, 0) || (${p}) || left($${tag}$*/$${tag}$, 0))`);
  },
};

/** Mutations a combo stacks, in the order it applies them (literal re-encodings before case and comments). */
const COMBINABLE: readonly (keyof typeof SIMPLE)[] = [
  "subqueries",
  "alias",
  "qualified-names",
  "quoted-idents",
  "e-strings",
  "dollar-quotes",
  "case",
  "nested-comments",
  "block-comments",
  "line-comments",
  "whitespace",
  "terminator",
];

/** Every mutation class, by name. */
export const MUTATIONS = {
  none: ({ toks }) => toks,
  ...SIMPLE,
  combo: (m) => {
    const usable = COMBINABLE.filter((c) => SIMPLE[c]({ ...m, rng: mulberry32(1) }) !== undefined);
    if (usable.length < 2) return undefined;
    const chosen = usable.filter(() => m.rng() < 0.3);
    while (chosen.length < 2) {
      const c = pick(m.rng, usable);
      if (!chosen.includes(c)) chosen.push(c);
    }
    // One literal encoding at a time: an E'' string cannot then become a dollar string.
    if (chosen.includes("e-strings") && chosen.includes("dollar-quotes")) chosen.splice(chosen.indexOf("dollar-quotes"), 1);
    let toks = m.toks;
    let applied = 0;
    for (const c of COMBINABLE.filter((x) => chosen.includes(x))) {
      const next = SIMPLE[c]({ ...m, toks });
      if (next) (toks = next, applied++);
    }
    return applied >= 2 ? toks : undefined;
  },
} satisfies Record<MutationName, Mutation>;

const DECOYS: readonly MutationName[] = ["decoy-cr-target", "decoy-nested-target", "decoy-cr-payload", "decoy-e-string", "decoy-dollar-line", "decoy-dollar-block"];

// ─── variants ──────────────────────────────────────────────────────────────────────────────────────────────────

/** One generated statement: a base case plus one mutation class. Its expected verdict is the base's. */
export interface Variant {
  /** `base/mutation#n`, unique. */
  name: string;
  base: BaseCase;
  mutation: MutationName;
  sql: string;
}

/** Options for {@linkcode generateVariants}. */
export interface GenerateOptions {
  /** @default 11 */
  seed?: number;
  /** Multiplies the variants per base case (10 for the bench). @default 1 */
  scale?: number;
  /** @default configs/roles.yaml */
  roles?: RolesConfig;
}

/**
 * Non-decoy mutations per base case at scale 1, on average (fractions are spread over the bases), besides the
 * base itself. Writes judged by their effect cost ~70–120 ms each on a worker-process episode, reads a few ms:
 * the ≥ 1,000 variants of the test lean on reads so that it runs in about 20 s; the bench multiplies all counts.
 */
const PER_BASE: Record<VariantKind, number> = {
  "allowed-write": 0.35,
  "forbidden-write": 0.35,
  "allowed-read": 23,
  "forbidden-read": 23,
};
/** Share of the applicable decoys each forbidden base gets at scale 1 (rotating, so every decoy is used). */
const DECOY_SHARE = 0.5;
const GOLDEN = 0.6180339887;

/**
 * Generates the variants: each base case as written, then its decoys, then mutations cycling through the other
 * classes that apply, each with its own random choices. Deterministic for a seed.
 *
 * @example
 * ```ts
 * const variants = generateVariants({ seed: 11 });
 * console.log(variants.length, variants[0].name, variants[0].sql);
 * ```
 */
export function generateVariants(options: GenerateOptions = {}): Variant[] {
  const rng = mulberry32(options.seed ?? 11);
  const roles = options.roles ?? defaultRoles();
  const scale = options.scale ?? 1;
  const out: Variant[] = [];
  for (const [i, base] of BASE_CASES.entries()) {
    const toks = lex(base.sql);
    const seen = new Set([base.sql]);
    out.push({ name: `${base.id}/none#0`, base, mutation: "none", sql: base.sql });
    const names = (Object.keys(MUTATIONS) as MutationName[]).filter((n) => n !== "none");
    const applicable = names.filter((n) => MUTATIONS[n]({ base, toks, rng: mulberry32(1), roles }) !== undefined);
    const decoys = applicable.filter((n) => DECOYS.includes(n));
    const rest = applicable.filter((n) => !DECOYS.includes(n));
    const spread = (x: number) => Math.floor(x + ((i * GOLDEN) % 1));
    const nDecoys = Math.min(decoys.length, Math.ceil(decoys.length * DECOY_SHARE * scale));
    const plan = [
      ...Array.from({ length: nDecoys }, (_, k) => decoys[(i + k) % decoys.length]),
      ...(() => {
        const offset = Math.floor(rng() * rest.length);
        return Array.from({ length: spread(PER_BASE[base.kind] * scale) }, (_, k) => rest[(offset + k) % rest.length]);
      })(),
    ];
    for (const [k, mutation] of plan.entries()) {
      for (let attempt = 0; attempt < 8; attempt++) {
        const mutated = MUTATIONS[mutation]({ base, toks, rng, roles });
        const sql = mutated && render(mutated);
        if (!sql || seen.has(sql)) continue;
        seen.add(sql);
        out.push({ name: `${base.id}/${mutation}#${k + 1}`, base, mutation, sql });
        break;
      }
    }
  }
  return out;
}

/** Reporting class of a variant: `kind × mutation`. */
export const variantClass = (v: Variant): string => `${v.base.kind} × ${v.mutation}`;

// ─── meaning oracle: a plain DuckDB copy ───────────────────────────────────────────────────────────────────────

/** What a statement does on the plain copy. */
export interface Effect {
  error?: string;
  /** Writes: rows changed as DuckDB reports them. */
  rowsChanged?: number;
  /** Writes: `count:hash` of every table the base or variant names, after the statement. */
  tables?: Record<string, string>;
  /** Reads: the rows as sorted JSON (or, when volatile, their count and width). */
  rows?: string;
  statements?: number;
}

/**
 * A plain in-memory DuckDB copy of one tenant (same DDL, rows, clock macros and views as an episode, but no guard,
 * no rules, no lockdown): the oracle of what a statement means. audit_log gets two rows so that deleting or
 * updating it is visible.
 */
export class PlainCopy implements AsyncDisposable {
  private constructor(private readonly instance: DuckDBInstance, private readonly con: DuckDBConnection) {}

  /** Loads org `orgId` of the sandbox file at `path` (opened read only). */
  static async open(path: string, orgId = 1): Promise<PlainCopy> {
    const asOf = (await readManifest(path)).spec.asOf;
    const instance = await DuckDBInstance.create(":memory:", { threads: "1" });
    const con = await instance.connect();
    await con.run(`ATTACH '${path.replaceAll("'", "''")}' AS src (READ_ONLY)`);
    await con.run(createTablesSql());
    for (const t of TABLES) {
      const cols = t.columns.map((c) => c.name).join(", ");
      await con.run(`INSERT INTO main.${t.name} (${cols}) SELECT ${cols} FROM src.main.${t.name} WHERE org_id = ${orgId}`);
    }
    await con.run("DETACH src");
    await con.run(clockMacrosSql(asOf));
    await con.run(createViewsSql());
    return new PlainCopy(instance, con);
  }

  /** `count:hash` per table, the same measure as {@linkcode fingerprint} (before audit_log is seeded). */
  async tableHashes(): Promise<Record<string, string>> {
    return await this.#hashes(TABLE_NAMES);
  }

  /** Seeds audit_log (after {@linkcode tableHashes} was taken for comparison with episodes). */
  async seedAudit(): Promise<void> {
    await this.con.run(`INSERT INTO audit_log VALUES (1, 1, ${TS}, 'lab', 'INSERT', 'customers', 1, 'seed'), (1, 2, ${TS}, 'lab', 'UPDATE', 'customers', 1, 'seed')`);
  }

  /** Runs `sql` inside a rolled-back transaction (writes) or directly (reads) and describes what it did. */
  async effect(sql: string, kind: VariantKind, tables: readonly string[], volatile: boolean): Promise<Effect> {
    const out: Effect = {};
    try {
      out.statements = (await this.con.extractStatements(sql)).count;
    } catch (e) {
      return { error: errorClass(e) };
    }
    if (kind.endsWith("read")) {
      try {
        const r = await this.con.runAndReadAll(sql);
        const rows = r.getRowsJson().map((row) => JSON.stringify(row)).sort();
        out.rows = volatile ? `${rows.length} × ${r.columnCount}` : JSON.stringify(rows);
      } catch (e) {
        out.error = errorClass(e);
      }
      return out;
    }
    await this.con.run("BEGIN TRANSACTION");
    try {
      await this.con.run("SELECT setseed(0.5)");
      out.rowsChanged = Number((await this.con.run(sql)).rowsChanged);
      const h = await this.#hashes(tables);
      out.tables = volatile ? Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v.split(":")[0]])) : h;
    } catch (e) {
      out.error = errorClass(e);
    } finally {
      await this.con.run("ROLLBACK");
    }
    return out;
  }

  async #hashes(tables: readonly string[]): Promise<Record<string, string>> {
    if (!tables.length) return {};
    const r = await this.con.runAndReadAll(`SELECT ${tables.map((t) => tableHashSql(t)).join(", ")}`);
    return Object.fromEntries(tables.map((t, i) => [t, String(r.getRowsJson()[0][i])]));
  }

  close(): void {
    this.con.closeSync();
    this.instance.closeSync();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await Promise.resolve();
  }
}

const tableHashSql = (t: string) =>
  `(SELECT count(*)::VARCHAR || ':' || coalesce(sum(hash(x)), 0)::VARCHAR FROM main.${t} x) AS "${t}"`;

/** "Binder Error", "Parser Error", …: positions and details differ between equivalent spellings. */
function errorClass(e: unknown): string {
  const msg = (e instanceof Error ? e.message : String(e)).split("\n")[0];
  return /^(?:Error: )?([A-Za-z ]+Error)/.exec(msg)?.[1] ?? msg.slice(0, 80);
}

/** Tables a statement may touch: every table it names (a DML statement writes the one table it names). */
function namedTables(sql: string): string[] {
  const s = sql.toLowerCase();
  return TABLE_NAMES.filter((t) => new RegExp(`(^|[^a-z0-9_])${t}($|[^a-z0-9_])`).test(s));
}

/** A variant whose effect on the plain copy differs from its base's: a generator bug. */
export interface MeaningMismatch {
  variant: Variant;
  base: Effect;
  got: Effect;
}

/** Result of {@linkcode checkMeanings}. */
export interface MeaningCheck {
  mismatches: MeaningMismatch[];
  /** Per variant name: the plain copy's `count:hash` of each table after the variant (writes only). */
  effects: Map<string, Effect>;
}

/** Runs every variant and its base on the plain copy and compares what they do. */
export async function checkMeanings(plain: PlainCopy, variants: readonly Variant[]): Promise<MeaningCheck> {
  const baseEffects = new Map<string, Effect>();
  const effects = new Map<string, Effect>();
  const mismatches: MeaningMismatch[] = [];
  for (const v of variants) {
    const tables = [...new Set([...namedTables(v.base.sql), ...namedTables(v.sql)])].sort();
    const key = `${v.base.id}|${tables.join(",")}`;
    let base = baseEffects.get(key);
    if (!base) {
      base = await plain.effect(v.base.sql, v.base.kind, tables, v.base.volatile ?? false);
      baseEffects.set(key, base);
    }
    const got = v.mutation === "none" ? base : await plain.effect(v.sql, v.base.kind, tables, v.base.volatile ?? false);
    effects.set(v.name, got);
    if (JSON.stringify(got) !== JSON.stringify(base) || got.statements !== 1) mismatches.push({ variant: v, base, got });
  }
  return { mismatches, effects };
}

// ─── judging on sandbox episodes ───────────────────────────────────────────────────────────────────────────────

/** Per-table `count:hash` plus settings, databases, tables and views: snapshot() minus macros, in one query. */
export type Fingerprint = Record<string, string>;

const FINGERPRINT_SQL = `SELECT ${TABLE_NAMES.map(tableHashSql).join(",\n")},
  (SELECT string_agg(name || '=' || coalesce(value, ''), chr(10) ORDER BY name) FROM duckdb_settings()) AS "@settings",
  (SELECT string_agg(database_name || ':' || coalesce(path, '') || ':' || readonly, ',' ORDER BY database_name)
     FROM duckdb_databases()) AS "@databases",
  (SELECT string_agg(database_name || '.' || schema_name || '.' || table_name, ',' ORDER BY database_name, schema_name, table_name)
     FROM duckdb_tables() WHERE NOT internal) AS "@tables",
  (SELECT string_agg(database_name || '.' || schema_name || '.' || view_name, ',' ORDER BY database_name, schema_name, view_name)
     FROM duckdb_views() WHERE NOT internal) AS "@views"`;

/**
 * A cheap fingerprint of the episode state through the trusted path (`episode.query`): the per-table part of
 * `snapshot()` plus settings, databases and relations, in one query (~15 ms on tiny, against ~40 ms for
 * `snapshot()`, which also lists macros). {@linkcode runFuzz} compares `snapshot()` itself at the end of each
 * role's run.
 */
export async function fingerprint(ep: Episode): Promise<Fingerprint> {
  const [row] = await ep.query(FINGERPRINT_SQL);
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, String(v)]));
}

/** Keys (tables, or `@settings` etc.) whose values differ. */
export function fingerprintDiff(a: Fingerprint, b: Fingerprint): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => a[k] !== b[k]).sort();
}

function snapshotDiff(a: DbSnapshot, b: DbSnapshot): string[] {
  const out = Object.keys({ ...a.tables, ...b.tables }).filter((t) =>
    JSON.stringify(a.tables[t]) !== JSON.stringify(b.tables[t])
  );
  for (const k of ["databases", "settings", "objects"] as const) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) out.push(`@${k}`);
  }
  return out;
}

/** How one variant fared. `pass` is the verdict; `reason` says what the data showed. */
export interface VariantResult {
  variant: Variant;
  pass: boolean;
  reason: string;
  ok: boolean;
  error?: string;
  /** Tables (and `@settings` etc.) that differ from the state before the call. */
  changed: string[];
  /** Changed tables the role may not write (audit_log counts only when it holds more than the lab's record). */
  outside: string[];
  /** Accepted allowed writes: the written table's `count:hash` afterwards, for {@linkcode compareWithPlain}. */
  targetAfter?: string;
}

/** Options for {@linkcode runFuzz}. */
export interface RunFuzzOptions {
  /** @default 1 */
  orgId?: number;
  /** Per-call limit. @default 5000 */
  timeoutMs?: number;
  /** Roles run on this many episodes (worker processes) at once. @default 2 */
  concurrency?: number;
  roles?: RolesConfig;
  onProgress?: (done: number, total: number) => void;
}

/** Result of {@linkcode runFuzz}. */
export interface FuzzReport {
  results: VariantResult[];
  counts: { generated: number; refused: number; accepted: number; changedOutsideAllowed: number; failed: number };
  /** Episode-level findings (snapshot() differs at the end of a run, a fresh episode that is not clean). */
  notes: string[];
  ms: number;
}

const ORDER: Record<VariantKind, number> = { "allowed-read": 0, "forbidden-read": 1, "forbidden-write": 2, "allowed-write": 4 };
/** Run order within a role: reads, refused writes, writes needing a setup, then accepted writes (each renews). */
const order = (v: Variant) => ORDER[v.base.kind] + (v.base.setup ? 1 : 0);

/**
 * Runs the variants through `callTool` and judges each by the data, never by the error message:
 * - forbidden: `ok === false` and the state equals the state before;
 * - allowed write: `ok === true` and only tables the role may write (plus the lab's audit record) changed;
 * - allowed read: `ok === true`.
 *
 * Per role, one episode serves variants while they are refused; after an accepted write (or any change) it is
 * released and a fresh one acquired (checked clean after a forbidden change). Refused variants of one base case
 * share one fingerprint check after the last of them: they all attempt the same effect, so a leak cannot cancel
 * out; when the check shows a change, each is replayed alone on a fresh episode to name the culprit. Each role's
 * run ends with a `snapshot()` comparison (macros and other objects included).
 */
export async function runFuzz(pool: SandboxPool, variants: readonly Variant[], options: RunFuzzOptions = {}): Promise<FuzzReport> {
  const t0 = performance.now();
  const orgId = options.orgId ?? 1;
  const roles = options.roles ?? defaultRoles();
  const limits = { timeoutMs: options.timeoutMs ?? 5000 };
  const notes: string[] = [];
  let clean: Fingerprint;
  let cleanSnap: DbSnapshot;
  {
    await using ep = await pool.acquire(orgId, { role: "analyst" });
    clean = await fingerprint(ep);
    cleanSnap = await ep.snapshot();
  }
  const results = new Map<Variant, VariantResult>();
  let done = 0;
  const env: RunEnv = {
    pool,
    orgId,
    roles,
    limits,
    clean,
    cleanSnap,
    notes,
    results,
    progress: () => options.onProgress?.(++done, variants.length),
  };
  const byRole = new Map<string, Variant[]>();
  for (const v of [...variants].sort((a, b) => order(a) - order(b))) byRole.set(v.base.role, [...(byRole.get(v.base.role) ?? []), v]);
  // Most expensive roles first (accepted and rule-checked writes dominate), so the lanes finish together.
  const cost = (vs: Variant[]) => vs.reduce((n, v) => n + (v.base.kind.endsWith("write") ? 20 : 1), 0);
  const queue = [...byRole].sort(([, a], [, b]) => cost(b) - cost(a));
  const lane = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await runRole(env, next[0], next[1]);
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 2 }, lane));
  return finish(variants.map((v) => results.get(v)!), notes, Math.round(performance.now() - t0));
}

function finish(results: VariantResult[], notes: string[], ms: number): FuzzReport {
  return {
    results,
    counts: {
      generated: results.length,
      refused: results.filter((r) => !r.ok).length,
      accepted: results.filter((r) => r.ok).length,
      changedOutsideAllowed: results.filter((r) => r.outside.length > 0).length,
      failed: results.filter((r) => !r.pass).length,
    },
    notes,
    ms,
  };
}

interface RunEnv {
  pool: SandboxPool;
  orgId: number;
  roles: RolesConfig;
  limits: { timeoutMs: number };
  clean: Fingerprint;
  cleanSnap: DbSnapshot;
  notes: string[];
  results: Map<Variant, VariantResult>;
  progress: () => void;
}

const callVariant = (ctx: ToolContext, v: Variant) =>
  v.base.kind.endsWith("write")
    ? callTool(ctx, "dbWrite", { sql: v.sql, confirm: true })
    : callTool(ctx, "dbRead", { sql: v.sql });

async function runRole(env: RunEnv, role: string, group: readonly Variant[]): Promise<void> {
  const { pool, orgId, roles, limits, clean, results } = env;
  const allowed = new Set(
    TABLE_NAMES.filter((t) => (["insert", "update", "delete"] as const).some((a) => mayWrite(roles, role, t, a))),
  );
  let ep = await pool.acquire(orgId, { role });
  let ctx = createToolContext(ep, { roles, limits });
  /** Refused variants since the last fingerprint check; the state should still be clean. */
  let pending: Variant[] = [];
  /** Variants this episode served while it stayed clean (for the snapshot() check). */
  let served: Variant[] = [];

  const renew = async () => {
    await ep.release();
    ep = await pool.acquire(orgId, { role });
    ctx = createToolContext(ep, { roles, limits });
    served = [];
  };
  /**
   * Checks that the refused variants since the last check left the state clean, and names culprits by replaying
   * each alone. `stateKnown` is false when a later call has changed the state: then every one is replayed.
   */
  const flush = async (stateKnown = true) => {
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    const diff = stateKnown ? fingerprintDiff(clean, await fingerprint(ep)) : ["(unknown: a later call changed the state)"];
    if (!diff.length) return;
    if (stateKnown) await renew();
    let named = 0;
    for (const v of batch) {
      await using alone = await pool.acquire(orgId, { role });
      await callVariant(createToolContext(alone, { roles, limits }), v);
      const changed = fingerprintDiff(clean, await fingerprint(alone));
      if (!changed.length) continue;
      named++;
      const r = results.get(v)!;
      Object.assign(r, {
        pass: false,
        reason: `${r.reason}; but changed ${changed.join(", ")}`,
        changed,
        outside: changed.filter((t) => t.startsWith("@") || !allowed.has(t)),
      });
    }
    if (!named && stateKnown) {
      env.notes.push(`${role}: ${batch.length} refused variants together changed ${diff.join(", ")}, none alone`);
      for (const v of batch) Object.assign(results.get(v)!, { pass: false, reason: `refused, but the batch changed ${diff.join(", ")}` });
    }
  };
  const checkSnapshot = async () => {
    if (!served.length) return;
    const diff = snapshotDiff(env.cleanSnap, await ep.snapshot());
    if (diff.length) {
      env.notes.push(`${role}: snapshot() differs after ${served.length} refused variants (${diff.join(", ")}): ${served.map((v) => v.name).join(", ")}`);
    }
  };

  try {
    let lastBase: string | undefined;
    for (const v of group) {
      if (v.base.id !== lastBase) await flush();
      lastBase = v.base.id;
      let before = clean;
      if (v.base.setup || v.base.kind === "allowed-write") {
        await flush();
        await checkSnapshot();
        if (v.base.setup) {
          await renew();
          const s = await callTool(ctx, "dbWrite", { sql: v.base.setup, confirm: true });
          if (!s.ok) throw new Error(`fuzz: the setup of ${v.base.id} was refused: ${s.error}`);
          before = await fingerprint(ep);
        }
      }
      const res = await callVariant(ctx, v);
      env.progress();
      const error = res.ok ? undefined : res.error;
      const base = { variant: v, ok: res.ok, error, changed: [] as string[], outside: [] as string[] };
      if (v.base.kind === "allowed-read") {
        results.set(v, { ...base, pass: res.ok, reason: res.ok ? "accepted" : `refused: ${error}` });
        served.push(v);
        continue;
      }
      if (!res.ok && !v.base.setup) {
        results.set(v, v.base.kind === "allowed-write"
          ? { ...base, pass: false, reason: `refused: ${error}` }
          : { ...base, pass: true, reason: "refused, unchanged" });
        pending.push(v);
        served.push(v);
        continue;
      }
      // Accepted (or a setup case): judge now, from a fingerprint, then start over on a fresh episode.
      const after = await fingerprint(ep);
      const r = await judgeChange(ctx.episode, v, res.ok, error, before, after, allowed);
      results.set(v, r);
      await flush(false); // the refused ones before it are replayed alone
      await renew();
      if (v.base.kind === "allowed-write" && r.pass) continue;
      const leak = fingerprintDiff(clean, await fingerprint(ep));
      if (leak.length) {
        r.pass = false;
        r.reason += `; the next episode did not start clean (${leak.join(", ")})`;
        env.notes.push(`after ${v.name}: a fresh episode differs from the clean state in ${leak.join(", ")}`);
      }
    }
    await flush();
    await checkSnapshot();
  } finally {
    await ep.release();
  }
}

async function judgeChange(
  ep: Episode,
  v: Variant,
  ok: boolean,
  error: string | undefined,
  before: Fingerprint,
  after: Fingerprint,
  allowed: ReadonlySet<string>,
): Promise<VariantResult> {
  const write = v.base.kind.endsWith("write");
  const changed = fingerprintDiff(before, after);
  let forged = false;
  if (ok && write && changed.includes("audit_log")) {
    // The lab records each accepted write with its statement; any other new row in audit_log is forged.
    const [{ n }] = await ep.query("SELECT count(*) AS n FROM audit_log WHERE statement IS DISTINCT FROM $1", [v.sql]);
    forged = Number(n) > Number(before.audit_log.split(":")[0]);
  }
  const outside = changed.filter((t) => t.startsWith("@") || !(allowed.has(t) || (ok && write && t === "audit_log" && !forged)));
  const base = { variant: v, ok, error, changed, outside };
  if (v.base.kind !== "allowed-write") {
    if (ok) return { ...base, pass: false, reason: `accepted; changed ${changed.join(", ") || "nothing"}` };
    if (changed.length) return { ...base, pass: false, reason: `refused but changed ${changed.join(", ")}` };
    return { ...base, pass: true, reason: "refused, unchanged" };
  }
  if (outside.length) return { ...base, pass: false, reason: `accepted but changed ${outside.join(", ")} (role may not write them)` };
  const target = baseTarget(v.base)!;
  if (!changed.includes(target)) return { ...base, pass: false, reason: `accepted but ${target} did not change` };
  return { ...base, pass: true, reason: "accepted; changed only writable tables", targetAfter: after[target] };
}

/**
 * Accepted allowed writes must leave their table exactly as the same statement does on the plain copy (where the
 * plain copy's clean table equals the episode's). Returns a new report with those that differ failed.
 */
export function compareWithPlain(report: FuzzReport, meaning: MeaningCheck, plainClean: Record<string, string>, episodeClean: Record<string, string>): FuzzReport {
  const results = report.results.map((r) => {
    if (!r.targetAfter) return r;
    const target = baseTarget(r.variant.base)!;
    const expected = meaning.effects.get(r.variant.name)?.tables?.[target];
    if (!expected || plainClean[target] !== episodeClean[target] || expected === r.targetAfter) return r;
    return { ...r, pass: false, reason: `accepted but ${target} ends as ${r.targetAfter}; plain DuckDB gives ${expected}` };
  });
  return finish(results, report.notes, report.ms);
}

// ─── reporting ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Failures of the results, grouped by {@linkcode variantClass}, with `total` per class. */
export function failuresByClass(results: readonly VariantResult[]): Map<string, { total: number; failed: VariantResult[] }> {
  const out = new Map<string, { total: number; failed: VariantResult[] }>();
  for (const r of results) {
    const k = variantClass(r.variant);
    const e = out.get(k) ?? { total: 0, failed: [] };
    e.total++;
    if (!r.pass) e.failed.push(r);
    out.set(k, e);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

/** The first `limit` failures as `name: reason` + the SQL (JSON-quoted so \r and \n show). */
export function describeFailures(failed: readonly VariantResult[], limit = 3): string {
  return failed.slice(0, limit).map((r) => `  ${r.variant.name}: ${r.reason}\n    ${JSON.stringify(r.variant.sql)}`)
    .join("\n") + (failed.length > limit ? `\n  … and ${failed.length - limit} more` : "");
}

/** A printable summary: the counts, then failed/total per class with the first failures of each. */
export function formatReport(report: FuzzReport, examples = 2): string {
  const c = report.counts;
  const lines = [
    `fuzz: ${c.generated} variants in ${(report.ms / 1000).toFixed(1)} s — refused ${c.refused}, accepted ${c.accepted}, ` +
    `failed ${c.failed}, database changes outside the allowed tables ${c.changedOutsideAllowed}`,
  ];
  for (const [k, { total, failed }] of failuresByClass(report.results)) {
    lines.push(`  ${failed.length ? "✗" : "✓"} ${k}: ${failed.length}/${total} failed`);
    if (failed.length && examples) lines.push(describeFailures(failed, examples).replace(/^/gm, "    "));
  }
  for (const n of report.notes) lines.push(`  note: ${n}`);
  return lines.join("\n");
}

/**
 * The whole fuzz run: the variants through the tools on `pool` and, side by side in this process, on a plain
 * DuckDB copy of the sandbox at `path` (the meaning check), compared into one report.
 */
export async function fuzzAgainstPlain(
  pool: SandboxPool,
  path: string,
  variants: readonly Variant[],
  options: RunFuzzOptions = {},
): Promise<{ meaning: MeaningCheck; report: FuzzReport }> {
  await using plain = await PlainCopy.open(path);
  const plainClean = await plain.tableHashes();
  await plain.seedAudit();
  let episodeClean: Record<string, string>;
  {
    await using ep = await pool.acquire(options.orgId ?? 1, { role: "analyst" });
    episodeClean = await fingerprint(ep);
  }
  const [meaning, raw] = await Promise.all([checkMeanings(plain, variants), runFuzz(pool, variants, options)]);
  return { meaning, report: compareWithPlain(raw, meaning, plainClean, episodeClean) };
}
