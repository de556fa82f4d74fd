/**
 * Mutation fuzzer (issue 11): ≥ 1,000 fixed-seed variants of allowed and forbidden reads and writes across the
 * roles, each a base case of lab/tools/_fuzz.ts plus one mutation that must not change what DuckDB does (comments,
 * quoting, case, whitespace, qualified names, subqueries, upserts) or a decoy that a naive tokenizer reads
 * differently from DuckDB. A plain in-memory DuckDB copy checks first that every variant means what its base
 * means; then each variant runs through callTool and is judged by the data, never by the error message.
 *
 * Judgement: a forbidden variant must be refused and leave the state (per-table hashes, settings, databases,
 * relations) as it was — refused variants of one base case share one check, and are replayed alone when it shows
 * a change; an allowed write must be accepted, change only tables its role may write (plus the lab's audit row)
 * and leave its table exactly as on the plain copy; an allowed read must be accepted. Each role's run ends with an
 * `episode.snapshot()` comparison.
 *
 * One test per class (`kind × mutation`) lists its first failures by name and SQL; the counts print at the end.
 * Writes judged by their effect cost ~50–100 ms each, so the ≥ 1,000 variants lean on reads (~13–15 s here);
 * fuzz_bench.ts runs ~7× as many, writes included.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { callTool, createToolContext } from "./tools.ts";
import {
  describeFailures,
  failuresByClass,
  type FuzzReport,
  formatReport,
  fuzzAgainstPlain,
  generateVariants,
  type MeaningCheck,
  variantClass,
} from "./_fuzz.ts";

const SEED = 11;
const VARIANTS = generateVariants({ seed: SEED });
const CLASSES = [...new Set(VARIANTS.map(variantClass))].sort();

let path: string;
let pool: SandboxPool;
beforeAll(async () => {
  path = join(mkdtempSync(join(tmpdir(), "fuzz-")), "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny" });
  pool = await SandboxPool.open(path, { size: 2, memoryLimit: "256MB" });
  await pool.warm(1, 2);
});
afterAll(() => pool?.close());

describe("mutation fuzzer", () => {
  let meaning: MeaningCheck;
  let report: FuzzReport;
  let byClass: ReturnType<typeof failuresByClass>;
  beforeAll(async () => {
    // The plain copy runs in this process while the episodes run in worker processes: side by side.
    ({ meaning, report } = await fuzzAgainstPlain(pool, path, VARIANTS));
    byClass = failuresByClass(report.results);
  });
  afterAll(() => {
    if (report) console.log(formatReport(report));
  });

  it("generates at least 1,000 variants, the same for the same seed", () => {
    expect(VARIANTS.length).toBeGreaterThanOrEqual(1000);
    expect(new Set(VARIANTS.map((v) => v.name)).size).toBe(VARIANTS.length);
    expect(generateVariants({ seed: SEED }).map((v) => v.sql)).toEqual(VARIANTS.map((v) => v.sql));
  });

  it("every variant means to DuckDB what its base case means (plain in-memory copy)", () => {
    const shown = meaning.mismatches.slice(0, 5).map((m) =>
      `${m.variant.name}: base ${JSON.stringify(m.base)} vs ${JSON.stringify(m.got)}\n  ${JSON.stringify(m.variant.sql)}`
    );
    expect(meaning.mismatches.length, shown.join("\n")).toBe(0);
  });

  it("no variant changes a table outside what its role may write", () => {
    const outside = report.results.filter((r) => r.outside.length > 0);
    expect(outside.length, describeFailures(outside, 5)).toBe(0);
  });

  for (const cls of CLASSES) {
    it(`${cls}: every variant keeps its base case's verdict`, () => {
      const { total, failed } = byClass.get(cls)!;
      expect(failed.length, `${failed.length}/${total} failed:\n${describeFailures(failed, 4)}`).toBe(0);
    });
  }
});

interface Regression {
  name: string;
  role: string;
  tool: "dbRead" | "dbWrite";
  sql: string;
  /** A near-twin without the trick that must be accepted. */
  twin?: string;
  /** An accepted write run first (e.g. so audit_log has a row to lose). */
  setup?: string;
}

const W = (name: string, role: string, sql: string, twin?: string, setup?: string): Regression => ({
  name,
  role,
  tool: "dbWrite",
  sql,
  twin,
  setup,
});
const R = (name: string, role: string, sql: string, twin?: string): Regression => ({ name, role, tool: "dbRead", sql, twin });

const REGRESSIONS: Regression[] = [
  W(
    "a -- comment ended by \\r hiding audit_log behind customers",
    "ar_clerk",
    "INSERT INTO --\raudit_log AS\n customers VALUES (1, 9901, TIMESTAMP '2025-11-28 12:00:00', 'ar_clerk', 'INSERT', 'customers', 1, 'forged')",
    "INSERT INTO customers VALUES (1, 9901, 'Twin', 'enterprise', 'east', 1.00, 30)",
  ),
  W(
    "a -- comment ended by \\r hiding negative stock in inventory_levels behind warehouses",
    "inventory_manager",
    "UPDATE --\rinventory_levels AS\n warehouses SET qty_on_hand = -5 WHERE product_id = 4 AND warehouse_id = 3",
    "UPDATE inventory_levels SET qty_on_hand = 5 WHERE product_id = 4 AND warehouse_id = 3",
  ),
  W(
    "a -- comment ended by \\r hiding random() from a write",
    "ar_clerk",
    "UPDATE customers SET name = 'r' || --x\rrandom()::VARCHAR\n WHERE customer_id = 5",
    "UPDATE customers SET name = 'r' || 'x' WHERE customer_id = 5",
  ),
  W(
    "nested block comments naming journal_lines while DuckDB reopens a closed fiscal period",
    "accountant",
    "UPDATE /* /* */ journal_lines /* */ */ fiscal_periods SET status = 'open', closed_at = NULL WHERE period_id = 23",
    "UPDATE /* /* */ fiscal_periods /* */ */ journal_lines SET memo = 'checked' WHERE entry_id = 1446",
  ),
  W(
    "nested block comments naming customers while DuckDB deletes from audit_log",
    "cfo",
    "DELETE FROM /* /* */ customers /* */ */ audit_log",
    undefined,
    "UPDATE customers SET region = 'south' WHERE customer_id = 3",
  ),
  W(
    "an E'' backslash escape hiding a settings read in a write",
    "ar_clerk",
    "UPDATE customers SET name = (left(E'\\'', 0) || (SELECT max(value) FROM duckdb_settings()) || left(E'\\'', 0)) WHERE customer_id = 1",
    "UPDATE customers SET name = E'O\\'Brien' WHERE customer_id = 1",
  ),
  W(
    "a tagged dollar quote with -- hiding a catalog read in a write",
    "ar_clerk",
    "UPDATE customers SET name = (left($a1$--$a1$, 0) || (SELECT max(database_name) FROM duckdb_databases())\n) WHERE customer_id = 1",
    "UPDATE customers SET name = $a1$-- not a comment$a1$ WHERE customer_id = 1",
  ),
  W(
    "a tagged dollar quote with /* hiding a file listing in a write",
    "ar_clerk",
    "UPDATE customers SET name = (left($q2$/*$q2$, 0) || (SELECT count(*)::VARCHAR FROM glob('/*')) || left($q2$*/$q2$, 0)) WHERE customer_id = 1",
    "UPDATE customers SET name = $q2$/* data */$q2$ WHERE customer_id = 1",
  ),
  R(
    "a CTE named like a catalog view, defined after the CTE that reads the view",
    "analyst",
    "WITH a AS (SELECT * FROM duckdb_tables), duckdb_tables AS (SELECT 1) SELECT * FROM a",
    "WITH a AS (SELECT * FROM customers), customers AS (SELECT 1) SELECT count(*) AS n FROM a",
  ),
  R(
    "a CTE named duckdb_settings shadowing the settings view",
    "analyst",
    "WITH s AS (SELECT name, value FROM duckdb_settings), duckdb_settings AS (SELECT 1 AS x) SELECT * FROM s",
  ),
  R("system.main.now() (the machine clock behind the as-of now() macro)", "analyst", "SELECT system.main.now() AS t", "SELECT now() AS t"),
  ...[
    "random()::VARCHAR",
    "uuid()::VARCHAR",
    "gen_random_uuid()::VARCHAR",
    "coalesce(setseed(0.5)::VARCHAR, '')",
    "txid_current()::VARCHAR",
    "system.main.now()::VARCHAR",
    "get_current_timestamp()::VARCHAR",
    "current_timestamp::VARCHAR",
  ].map((f) => W(`${f.replace(/::VARCHAR.*|coalesce\(/g, "")} inside a write`, "ar_clerk", `UPDATE customers SET name = 'x' || ${f} WHERE customer_id = 5`)),
];

describe("regressions: one fixed case per bypass class", () => {
  for (const c of REGRESSIONS) {
    it(`${c.tool} refuses ${c.name} and leaves the database unchanged${c.twin ? "; its near-twin is accepted" : ""}`, async () => {
      {
        await using ep = await pool.acquire(1, { role: c.role });
        const ctx = createToolContext(ep);
        if (c.setup) expect(await callTool(ctx, "dbWrite", { sql: c.setup, confirm: true })).toMatchObject({ ok: true });
        const before = await ep.snapshot();
        const args = c.tool === "dbWrite" ? { sql: c.sql, confirm: true } : { sql: c.sql };
        const r = await callTool(ctx, c.tool, args);
        expect(r.ok, JSON.stringify(r)).toBe(false);
        expect(await ep.snapshot()).toEqual(before);
      }
      if (c.twin) {
        await using ep = await pool.acquire(1, { role: c.role });
        const ctx = createToolContext(ep);
        const args = c.tool === "dbWrite" ? { sql: c.twin, confirm: true } : { sql: c.twin };
        const r = await callTool(ctx, c.tool, args);
        expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
      }
    });
  }

  it("a hostile episode cannot change what the next episode on the same instance sees", async () => {
    // DuckDB's RNG is per connection, deterministic for a seed and not rolled back with a transaction: a write
    // that slips setseed() through would make the next episode's random() predictable.
    const HOSTILE_SEED = 0.123;
    const firstRandomAfter = async (seed: number) => {
      const inst = await DuckDBInstance.create(":memory:");
      try {
        const con = await inst.connect();
        await con.run(`SELECT setseed(${seed})`);
        return Number((await con.runAndReadAll("SELECT random()")).getRowsJson()[0][0]);
      } finally {
        inst.closeSync();
      }
    };
    await using single = await SandboxPool.open(path, { size: 1, memoryLimit: "256MB" });
    let start;
    let firstRandom;
    {
      await using ep = await single.acquire(1, { role: "cfo" });
      [{ r: firstRandom }] = await ep.query("SELECT random() AS r");
      start = await ep.snapshot();
      const ctx = createToolContext(ep);
      const write = (sql: string) => callTool(ctx, "dbWrite", { sql, confirm: true });
      const read = (sql: string) => callTool(ctx, "dbRead", { sql });
      await read("SET threads = 1");
      await write("SET memory_limit = '1GB'");
      await read(`SELECT setseed(${HOSTILE_SEED})`);
      await write("CREATE MACRO random() AS 0.5");
      await write(
        "INSERT INTO --\raudit_log AS\n customers VALUES (1, 9901, TIMESTAMP '2025-11-28 12:00:00', 'cfo', 'INSERT', 'customers', 1, 'forged')",
      );
      await write("UPDATE /* /* */ customers /* */ */ fiscal_periods SET status = 'open', closed_at = NULL WHERE period_id = 23");
      await write("UPDATE customers SET credit_limit = 1 WHERE customer_id = 1"); // legitimate, accepted
      await write(`UPDATE customers SET name = 'seeded' || --x\rcoalesce(setseed(${HOSTILE_SEED})::VARCHAR, '')\n WHERE customer_id = 5`);
      await write(`UPDATE customers SET credit_limit = 2 WHERE customer_id = 1 AND setseed(${HOSTILE_SEED}) IS NULL`);
    }
    await using next = await single.acquire(1, { role: "cfo" });
    // Before anything else draws from the RNG.
    const [{ r: nextRandom }] = await next.query("SELECT random() AS r");
    expect(nextRandom, "random() after a hostile setseed()").not.toBe(await firstRandomAfter(HOSTILE_SEED));
    expect(nextRandom, "the first random() of an episode is the same on a reused instance").toBe(firstRandom);
    expect(await next.snapshot()).toEqual(start);
  });
});
