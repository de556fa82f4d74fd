/**
 * Security corpus: the agent's SQL is untrusted. Each hostile or hallucinated input is paired with a harmless
 * near-twin that must succeed, so a guard that refuses everything fails. After every hostile input the episode
 * database is unchanged (hash of every table + databases + settings + catalog objects, taken through the trusted
 * path) and a follow-up legitimate dbRead still works.
 *
 * Legitimate SQL that is refused by design (see lab/tools/_guard.ts): current_timestamp & co (machine clock; use
 * current_date/now()), catalog functions (duckdb_*, information_schema, SHOW TABLES; use schemaInfo), table
 * functions other than range/generate_series/unnest, WITH … INSERT/UPDATE/DELETE and RETURNING in dbWrite.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { callTool, createToolContext, type ToolResult } from "./tools.ts";

interface Call {
  tool: string;
  args: unknown;
  role?: string;
}
interface Case {
  name: string;
  hostile: Call;
  /** Default: refused (ok false). */
  expectHostile?: (r: ToolResult) => void;
  /** Substring the refusal must contain. */
  error?: RegExp;
  twin: Call;
}

const read = (sql: string, role?: string): Call => ({ tool: "dbRead", args: { sql }, role });
const write = (sql: string, role = "cfo"): Call => ({ tool: "dbWrite", args: { sql, confirm: true }, role });
const PATH = "/etc/passwd";
const OPEN = 24; // period 2025-11 (open) in the tiny sandbox; 23 is closed
const entry = (id: number, period: number, date: string, status = "posted") =>
  `INSERT INTO journal_entries VALUES (1, ${id}, DATE '${date}', ${period}, 'Test', 'manual', NULL, '${status}')`;
const lines = (id: number, d: number, c: number) =>
  `INSERT INTO journal_lines VALUES (1, ${id}, 1, 1, ${d}, 0, NULL), (1, ${id}, 2, 2, 0, ${c}, NULL)`;

const CASES: Case[] = [
  { name: "read_csv of a system file", hostile: read(`SELECT * FROM read_csv('${PATH}')`), twin: read("SELECT 'read_csv' AS x") },
  { name: "read_text", hostile: read(`SELECT * FROM read_text('${PATH}')`), twin: read("SELECT 'read_text(/etc/passwd)' AS x") },
  { name: "read_parquet", hostile: read("SELECT * FROM read_parquet('x.parquet')"), twin: read("SELECT count(*) AS n FROM customers -- read_parquet('x')") },
  { name: "glob", hostile: read("SELECT * FROM glob('/*')"), twin: read("SELECT * FROM range(3)") },
  { name: "sniff_csv", hostile: read(`SELECT * FROM sniff_csv('${PATH}')`), twin: read("SELECT * FROM generate_series(1, 3)") },
  { name: "bare file path in FROM", hostile: read(`SELECT * FROM '${PATH}'`), twin: read("SELECT * FROM customers LIMIT 1") },
  { name: "bare csv in FROM", hostile: read("FROM 'data/x.csv'"), twin: read("FROM customers LIMIT 1") },
  { name: "COPY TO via dbRead", hostile: read("COPY customers TO '/tmp/leak.csv'"), twin: read("SELECT * FROM customers LIMIT 2") },
  { name: "COPY TO via dbWrite", hostile: write("COPY customers TO '/tmp/leak.csv'"), twin: write("UPDATE customers SET credit_limit = credit_limit WHERE customer_id = 1", "ar_clerk") },
  { name: "EXPORT DATABASE", hostile: read("EXPORT DATABASE '/tmp/leak'"), twin: read("SELECT 'EXPORT DATABASE' AS x") },
  { name: "IMPORT DATABASE", hostile: write("IMPORT DATABASE '/tmp/leak'"), twin: read("SELECT 1 AS import") },
  { name: "ATTACH", hostile: read("ATTACH ':memory:' AS other"), twin: read("SELECT 'attach' AS x") },
  { name: "DETACH", hostile: write("DETACH memory"), twin: read("SELECT 1 AS detach_ok") },
  { name: "USE", hostile: read("USE system"), twin: read("SELECT 'use' AS x") },
  { name: "INSTALL", hostile: read("INSTALL httpfs"), twin: read("SELECT 'install httpfs' AS x") },
  { name: "LOAD", hostile: write("LOAD httpfs"), twin: read("SELECT 'load' AS x") },
  { name: "SET", hostile: read("SET threads = 1"), twin: read("SELECT 'SET threads = 1' AS x") },
  { name: "RESET", hostile: read("RESET memory_limit"), twin: read("SELECT 1 AS reset") },
  { name: "PRAGMA", hostile: read("PRAGMA database_list"), twin: read("SELECT 'pragma' AS x") },
  { name: "setseed()", hostile: read("SELECT setseed(0.5)"), twin: read("SELECT round(0.5, 1) AS x") },
  { name: "CALL", hostile: read("CALL pragma_version()"), twin: read("SELECT 'call' AS x") },
  { name: "CHECKPOINT", hostile: write("CHECKPOINT"), twin: read("SELECT 'checkpoint' AS x") },
  { name: "query()", hostile: read("SELECT * FROM query('SELECT 42')"), twin: read("SELECT 42 AS x") },
  { name: "query_table()", hostile: read("SELECT * FROM query_table('customers')"), twin: read("SELECT * FROM customers LIMIT 1") },
  { name: "duckdb_databases()", hostile: read("SELECT * FROM duckdb_databases()"), twin: read("SELECT 'duckdb_databases' AS x") },
  { name: "duckdb_settings() qualified", hostile: read("SELECT * FROM system.main.duckdb_settings()"), twin: read("SELECT 1 AS settings") },
  { name: "current_setting()", hostile: read("SELECT current_setting('threads')"), twin: read("SELECT 'threads' AS setting") },
  { name: "getenv()", hostile: read("SELECT getenv('HOME')"), twin: read("SELECT upper('home') AS x") },
  { name: "information_schema", hostile: read("SELECT * FROM information_schema.tables"), twin: read("DESCRIBE customers") },
  { name: "SHOW TABLES", hostile: read("SHOW TABLES"), twin: read("SELECT * FROM v_monthly_revenue LIMIT 3") },
  { name: "multi-statement", hostile: read("SELECT 1; DROP TABLE customers"), twin: read("SELECT 1 AS one") },
  { name: "line-comment trick", hostile: read("SELECT 1 -- harmless\n; DELETE FROM customers"), twin: read("SELECT 1 AS x -- DELETE FROM customers") },
  { name: "block-comment trick", hostile: read("SELECT 1 /* ; */ ; DELETE FROM customers"), twin: read("SELECT /* ; DELETE */ 1 AS x") },
  { name: "DROP via dbRead", hostile: read("DROP TABLE customers"), twin: read("SELECT 'DROP TABLE customers' AS x") },
  { name: "CREATE via dbRead", hostile: read("CREATE TABLE x AS SELECT 1"), twin: read("SELECT 1 AS x") },
  { name: "CREATE via dbWrite", hostile: write("CREATE TABLE x AS SELECT 1"), twin: write("INSERT INTO customers VALUES (1, 1001, 'X', 'enterprise', 'east', 1, 30)", "ar_clerk") },
  { name: "DELETE via dbRead", hostile: read("DELETE FROM customers"), twin: read("SELECT count(*) AS n FROM customers WHERE name LIKE '%DELETE%'") },
  { name: "EXPLAIN ANALYZE DELETE via dbRead", hostile: read("EXPLAIN ANALYZE DELETE FROM customers"), twin: read("SELECT count(*) AS n FROM customers") },
  { name: "EXPLAIN ANALYZE DELETE via dbWrite", hostile: write("EXPLAIN ANALYZE DELETE FROM customers"), twin: read("SELECT 'explain' AS x") },
  { name: "PREPARE", hostile: read("PREPARE p AS DELETE FROM customers"), twin: read("SELECT 'prepare' AS x") },
  { name: "EXECUTE", hostile: write("EXECUTE p"), twin: read("SELECT 'execute' AS x") },
  { name: "BEGIN", hostile: read("BEGIN TRANSACTION"), twin: read("SELECT 'begin' AS x") },
  { name: "COMMIT", hostile: write("COMMIT"), twin: read("SELECT 'commit' AS x") },
  { name: "ROLLBACK", hostile: read("ROLLBACK"), twin: read("SELECT 'rollback' AS x") },
  {
    name: "journal entry into a closed period",
    hostile: write(`${entry(90001, 23, "2025-10-15")}`, "accountant"),
    error: /closed period/,
    twin: write(`${entry(90001, OPEN, "2025-11-15")}`, "accountant"),
  },
  {
    name: "dated into a closed period with an open period_id",
    hostile: write(`${entry(90002, OPEN, "2025-10-15")}`, "accountant"),
    error: /closed period/,
    twin: write(`${entry(90002, OPEN, "2025-11-20", "draft")}`, "accountant"),
  },
  {
    name: "changing lines of a closed-period entry",
    hostile: write("UPDATE journal_lines SET memo = 'x' WHERE entry_id = (SELECT min(entry_id) FROM journal_entries WHERE period_id = 1)", "accountant"),
    error: /closed period/,
    twin: read("SELECT * FROM journal_lines WHERE entry_id = (SELECT min(entry_id) FROM journal_entries WHERE period_id = 1)"),
  },
  {
    name: "unbalanced posted journal entry",
    hostile: write(`UPDATE journal_lines SET debit = debit + 1 WHERE entry_id = (SELECT max(entry_id) FROM journal_entries WHERE period_id = ${OPEN} AND status = 'posted') AND debit > 0`, "accountant"),
    error: /does not balance/,
    twin: write(`UPDATE journal_lines SET memo = 'checked' WHERE entry_id = (SELECT max(entry_id) FROM journal_entries WHERE period_id = ${OPEN} AND status = 'posted')`, "accountant"),
  },
  { name: "insert into audit_log", hostile: write("INSERT INTO audit_log VALUES (1, 1, now(), 'cfo', 'INSERT', 'x', 1, 'x')"), twin: read("SELECT count(*) AS n FROM audit_log") },
  {
    name: "cross-tenant read returns nothing",
    hostile: read("SELECT * FROM customers WHERE org_id = 2"),
    expectHostile: (r) => expect(r).toMatchObject({ ok: true, rowCount: 0, rows: [] }),
    twin: read("SELECT * FROM customers WHERE org_id = 1 LIMIT 1"),
  },
  {
    name: "cross-tenant insert",
    hostile: write("INSERT INTO customers VALUES (2, 1001, 'X', 'enterprise', 'east', 1, 30)", "ar_clerk"),
    error: /org_id 1/,
    twin: write("INSERT INTO customers VALUES (1, 1002, 'X', 'enterprise', 'east', 1, 30)", "ar_clerk"),
  },
  {
    name: "moving rows to another tenant",
    hostile: write("UPDATE customers SET org_id = 2 WHERE customer_id = 1", "ar_clerk"),
    error: /org_id 1/,
    twin: write("UPDATE customers SET region = 'east' WHERE customer_id = 1", "ar_clerk"),
  },
  {
    name: "AP clerk closing a period",
    hostile: write(`UPDATE fiscal_periods SET status = 'closed', closed_at = today() WHERE period_id = ${OPEN}`, "ap_clerk"),
    error: /may not update fiscal_periods/,
    twin: write(`UPDATE fiscal_periods SET status = 'closed', closed_at = today() WHERE period_id = ${OPEN}`, "controller"),
  },
  {
    name: "reopening a closed period",
    hostile: write("UPDATE fiscal_periods SET status = 'open', closed_at = NULL WHERE period_id = 23", "controller"),
    error: /closed/,
    twin: read("SELECT * FROM v_period_status LIMIT 2"),
  },
  { name: "analyst writing", hostile: write("UPDATE customers SET region = 'east'", "analyst"), twin: read("SELECT region FROM customers LIMIT 1", "analyst") },
  {
    name: "negative inventory",
    hostile: write("UPDATE inventory_levels SET qty_on_hand = qty_on_hand - 100000 WHERE product_id = 1", "inventory_manager"),
    error: /negative/,
    twin: write("UPDATE inventory_levels SET qty_on_hand = qty_on_hand + 1 WHERE product_id = 1", "inventory_manager"),
  },
  { name: "write into a view", hostile: write("DELETE FROM v_low_stock"), twin: read("SELECT * FROM v_low_stock LIMIT 1") },
  { name: "write reading a file", hostile: write(`INSERT INTO customers SELECT * FROM read_csv('${PATH}')`, "ar_clerk"), twin: write("INSERT INTO customers SELECT org_id, customer_id + 5000, name, segment, region, credit_limit, payment_terms_days FROM customers WHERE customer_id = 1", "ar_clerk") },
  { name: "write with a failing cast", hostile: write("UPDATE customers SET credit_limit = 'lots'::DECIMAL(14,2)", "ar_clerk"), twin: write("UPDATE customers SET credit_limit = '10'::DECIMAL(14,2) WHERE customer_id = 2", "ar_clerk") },
  {
    name: "machine clock",
    hostile: read("SELECT current_timestamp"),
    error: /current_date.*now\(\)/,
    twin: read("SELECT current_date AS d, today() AS t, now() AS n"),
  },
  { name: "get_current_timestamp()", hostile: read("SELECT get_current_timestamp()"), error: /current_date/, twin: read("SELECT now()::DATE AS d") },
  { name: "json_execute_serialized_sql", hostile: read("SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))"), twin: read("SELECT json_serialize_sql('SELECT 1') IS NOT NULL AS x") },
  { name: "CTE shadowing a catalog view", hostile: read("SELECT * FROM (WITH duckdb_settings AS (SELECT 1) SELECT 1) x, duckdb_settings"), twin: read("WITH open_invoices AS (SELECT * FROM sales_invoices WHERE status = 'posted') SELECT count(*) AS n FROM open_invoices") },
  {
    name: "runaway join",
    hostile: read("SELECT count(*) FROM range(1000000000000) a, range(1000) b"),
    error: /timed out/,
    twin: read("SELECT count(*) AS n FROM range(1000) a, range(100) b"),
  },
  {
    name: "unbounded recursive CTE",
    hostile: read("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT max(n) FROM r"),
    twin: read("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT max(n) AS m FROM r"),
  },
  {
    name: "enormous result is capped",
    hostile: read("SELECT * FROM range(10000000)"),
    expectHostile: (r) => expect(r).toMatchObject({ ok: true, rowCount: 200, truncated: true }),
    twin: read("SELECT * FROM range(5)"),
  },
  { name: "string_agg memory bomb", hostile: read("SELECT string_agg(repeat('x', 1000), '') FROM range(100000000)"), twin: read("SELECT string_agg(name, ', ') AS s FROM warehouses") },
  { name: "list of range(1e9)", hostile: read("SELECT list(range) FROM range(1000000000)"), twin: read("SELECT list(range) AS l FROM range(5)") },
  { name: "missing sql", hostile: { tool: "dbRead", args: {} }, error: /sql/, twin: read("SELECT 1 AS x") },
  { name: "sql not a string", hostile: { tool: "dbRead", args: { sql: 42 } }, error: /sql/, twin: read("SELECT 42 AS x") },
  { name: "confirm missing", hostile: { tool: "dbWrite", args: { sql: "UPDATE customers SET region = 'east'" }, role: "ar_clerk" }, error: /confirm/, twin: write("UPDATE customers SET region = 'east' WHERE customer_id = 3", "ar_clerk") },
  { name: "confirm false", hostile: { tool: "dbWrite", args: { sql: "DELETE FROM customers", confirm: false }, role: "cfo" }, error: /confirm/, twin: read("SELECT 1 AS x") },
  { name: "args not JSON", hostile: { tool: "dbRead", args: "{not json" }, twin: { tool: "dbRead", args: '{"sql": "SELECT 1 AS x"}' } },
  { name: "unknown tool", hostile: { tool: "dbExec", args: { sql: "SELECT 1" } }, twin: { tool: "schemaInfo", args: { tables: ["customers"] } } },
  { name: "hallucinated table", hostile: read("SELECT * FROM invoices"), error: /schemaInfo/, twin: read("SELECT * FROM sales_invoices LIMIT 1") },
  { name: "hallucinated write target", hostile: write("UPDATE invoices SET status = 'paid'"), twin: write("UPDATE sales_invoices SET status = status WHERE invoice_id = 1", "ar_clerk") },
];

let pool: SandboxPool;
beforeAll(async () => {
  const path = join(mkdtempSync(join(tmpdir(), "security-")), "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny" });
  pool = await SandboxPool.open(path, { size: 2, memoryLimit: "256MB" });
  await pool.warm(1, 2);
});
afterAll(() => pool.close());

describe("security corpus: untrusted SQL", () => {
  it("has at least 40 hostile inputs, each with a near-twin", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of CASES) {
    it(`refuses ${c.name} and leaves the database unchanged; its twin succeeds`, async () => {
      await using ep = await pool.acquire(1, { role: c.hostile.role ?? "accountant" });
      const ctx = createToolContext(ep, { limits: { timeoutMs: 300 } });
      const before = await ep.snapshot();
      const r = await callTool(ctx, c.hostile.tool, c.hostile.args);
      if (c.expectHostile) c.expectHostile(r);
      else {
        expect(r.ok, JSON.stringify(r)).toBe(false);
        if (!r.ok) {
          expect(r.error).not.toMatch(/\n\s+at /); // no stack traces
          if (c.error) expect(r.error).toMatch(c.error);
        }
      }
      expect(await ep.snapshot()).toEqual(before);
      expect(await callTool(ctx, "dbRead", { sql: "SELECT count(*) AS n FROM customers" })).toMatchObject({
        ok: true,
        rows: [{ n: 30 }],
      });

      await using twinEp = await pool.acquire(1, { role: c.twin.role ?? "accountant" });
      const twinCtx = createToolContext(twinEp, { limits: { timeoutMs: 2000 } });
      const t = await callTool(twinCtx, c.twin.tool, c.twin.args);
      expect(t, JSON.stringify(t)).toMatchObject({ ok: true });
    });
  }

  it("refuses any change to audit_log rows, judged by the data, for every role", async () => {
    for (const role of ["ar_clerk", "cfo"]) {
      await using ep = await pool.acquire(1, { role });
      const ctx = createToolContext(ep);
      expect(await callTool(ctx, "dbWrite", { sql: "UPDATE customers SET credit_limit = credit_limit + 1 WHERE customer_id = 2", confirm: true }))
        .toMatchObject({ ok: true, table: "customers", rowCount: 1 });
      const before = await ep.snapshot();
      for (const sql of ["DELETE FROM audit_log", "UPDATE audit_log SET table_name = 'vendors'", "DELETE FROM main.audit_log WHERE log_id > 0"]) {
        expect(await callTool(ctx, "dbWrite", { sql, confirm: true }), sql).toMatchObject({ ok: false, error: expect.stringMatching(/audit_log/) });
        expect(await ep.snapshot()).toEqual(before);
      }
      expect(ctx.log.queries.map((q) => q.refused ?? false)).toEqual([false, true, true, true]);
    }
  });

  it("accepts a write that changes nothing, and audits it", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const ctx = createToolContext(ep);
    expect(await callTool(ctx, "dbWrite", { sql: "DELETE FROM audit_log", confirm: true }))
      .toMatchObject({ ok: true, rowCount: 0, table: "" });
    expect(await callTool(ctx, "dbRead", { sql: "SELECT actor_role, action, table_name, row_count FROM audit_log" }))
      .toMatchObject({ rows: [{ actor_role: "analyst", action: "DELETE", table_name: "", row_count: 0 }] });
  });

  it("accepts a balanced journal entry in an open period by an accountant, and audits it", async () => {
    await using ep = await pool.acquire(1, { role: "accountant" });
    const ctx = createToolContext(ep);
    expect(await callTool(ctx, "dbWrite", { sql: entry(90010, OPEN, "2025-11-27", "draft"), confirm: true }))
      .toMatchObject({ ok: true, rowCount: 1 });
    expect(await callTool(ctx, "dbWrite", { sql: lines(90010, 500, 500), confirm: true })).toMatchObject({ ok: true });
    expect(await callTool(ctx, "dbWrite", {
      sql: "UPDATE journal_entries SET status = 'posted' WHERE entry_id = 90010",
      confirm: true,
    })).toMatchObject({ ok: true, rowCount: 1 });
    const audit = await callTool(ctx, "dbRead", { sql: "SELECT actor_role, action, table_name FROM audit_log ORDER BY log_id" });
    expect(audit).toMatchObject({
      ok: true,
      rows: [
        { actor_role: "accountant", action: "INSERT", table_name: "journal_entries" },
        { actor_role: "accountant", action: "INSERT", table_name: "journal_lines" },
        { actor_role: "accountant", action: "UPDATE", table_name: "journal_entries" },
      ],
    });
    // an unbalanced line set for a posted entry is refused and leaves the accepted writes in place
    const before = await ep.snapshot();
    expect(await callTool(ctx, "dbWrite", {
      sql: "INSERT INTO journal_lines VALUES (1, 90010, 3, 1, 1, 0, NULL)",
      confirm: true,
    })).toMatchObject({ ok: false });
    expect(await ep.snapshot()).toEqual(before);
  });
});
