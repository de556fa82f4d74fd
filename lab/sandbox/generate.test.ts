import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSandbox, clockMacrosSql, readManifest, SANDBOX_FORMAT, type SandboxManifest } from "./generate.ts";
import { ensureSandbox } from "./mod.ts";
import { TABLES } from "./schema.ts";
import { VIEWS } from "./views.ts";

/** md5 of every table's full content, keyed by table name. */
async function tableHashes(path: string): Promise<Record<string, string>> {
  const inst = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
  const con = await inst.connect();
  try {
    const sql = TABLES.map((t) =>
      `SELECT '${t.name}' AS name, md5(coalesce(string_agg(x::VARCHAR, '|' ORDER BY x::VARCHAR), '')) AS h FROM ${t.name} x`
    ).join(" UNION ALL ");
    const rows = (await con.runAndReadAll(sql)).getRowObjectsJson();
    return Object.fromEntries(rows.map((r) => [String(r.name), String(r.h)]));
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

describe("buildSandbox", () => {
  let dir: string;
  let first: SandboxManifest;
  const buildMs: number[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "lab-sandbox-gen-"));
    first = await buildSandbox(join(dir, "a.duckdb"), { scale: "tiny" });
    const second = await buildSandbox(join(dir, "b.duckdb"), { scale: "tiny" });
    const third = await buildSandbox(join(dir, "c.duckdb"), { scale: "tiny", seed: 7 });
    buildMs.push(first.buildMs, second.buildMs, third.buildMs);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("builds the same content in every table for the same spec", async () => {
    expect(await tableHashes(join(dir, "b.duckdb"))).toEqual(await tableHashes(join(dir, "a.duckdb")));
  });

  it("builds different business data for a different seed", async () => {
    const a = await tableHashes(join(dir, "a.duckdb"));
    const c = await tableHashes(join(dir, "c.duckdb"));
    for (const t of ["customers", "products", "sales_invoices", "journal_lines", "bank_transactions"]) {
      expect(c[t], t).not.toBe(a[t]);
    }
  });

  it("documents every table, view and column with its description as a COMMENT", async () => {
    const inst = await DuckDBInstance.create(join(dir, "a.duckdb"), { access_mode: "READ_ONLY" });
    const con = await inst.connect();
    try {
      const rows = async (sql: string) =>
        (await con.runAndReadAll(sql)).getRows().map((r) => r.map(String).join("|")).sort();
      const expected = [...TABLES, ...VIEWS].flatMap((r) => [
        `${r.name}||${r.description}`,
        ...r.columns.map((c) => `${r.name}|${c.name}|${c.description}`),
      ]).sort();
      const actual = [
        ...await rows(`SELECT table_name, '', comment FROM duckdb_tables() WHERE NOT internal AND table_name <> '_lab_meta'`),
        ...await rows(`SELECT view_name, '', comment FROM duckdb_views() WHERE NOT internal`),
        ...await rows(`SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal AND table_name <> '_lab_meta'`),
      ].sort();
      expect(actual).toEqual(expected);
    } finally {
      con.closeSync();
      inst.closeSync();
    }
  });

  it("ensureSandbox rebuilds a cached file of an older format and reuses one of the current format", async () => {
    const cacheDir = join(dir, "cache");
    await Deno.mkdir(cacheDir);
    const cached = join(cacheDir, "tiny-s42-2025-11-28.duckdb");
    await copyFile(join(dir, "a.duckdb"), cached);
    const inst = await DuckDBInstance.create(cached);
    const con = await inst.connect();
    const { format: _format, ...old } = first;
    await con.run("UPDATE _lab_meta SET manifest = $1", [JSON.stringify(old)]);
    con.closeSync();
    inst.closeSync();
    const rebuilt = await ensureSandbox({ scale: "tiny" }, { dir: cacheDir });
    expect([rebuilt.built, rebuilt.manifest.format]).toEqual([true, SANDBOX_FORMAT]);
    const reused = await ensureSandbox({ scale: "tiny" }, { dir: cacheDir });
    expect([reused.built, reused.manifest]).toEqual([false, rebuilt.manifest]);
    await rm(cacheDir, { recursive: true, force: true });
  });

  it("leaves only the finished files in the target directory", async () => {
    expect((await readdir(dir)).sort()).toEqual(["a.duckdb", "b.duckdb", "c.duckdb"]);
  });

  it("stores a manifest whose counts match the tables and the returned manifest", async () => {
    const stored = await readManifest(join(dir, "a.duckdb"));
    expect(stored).toEqual(first);
    expect(stored.spec).toEqual({ seed: 42, scale: "tiny", asOf: "2025-11-28" });
    expect(stored.orgs.map((o) => o.org_id)).toEqual([1, 2, 3]);
    expect(Object.keys(stored.rowCounts).sort()).toEqual(TABLES.map((t) => t.name).sort());
    const total = Object.values(stored.rowCounts).reduce((a, b) => a + b, 0);
    expect(Object.values(stored.rowsPerTenant).reduce((a, b) => a + b, 0)).toBe(total);
    expect(stored.rowCounts.audit_log).toBe(0);
    expect(stored.rowCounts.sales_invoices).toBeGreaterThanOrEqual(3 * 200);
  });

  // The < 1 s target is measured by sandbox_bench.ts; here test files run in parallel forks on shared CPUs,
  // so only a generous bound on the fastest of three builds is asserted.
  it("builds the tiny scale quickly enough for tests to build it freely", () => {
    expect(Math.min(...buildMs)).toBeLessThan(2000);
  });

  it.each([
    [{ scale: "huge" as "tiny" }, /scale must be one of tiny, small, large, found 'huge'/],
    [{ asOf: "2025-02-30" }, /asOf must be a calendar date YYYY-MM-DD/],
    [{ asOf: "28/11/2025" }, /asOf must be a calendar date YYYY-MM-DD/],
    [{ seed: -1 }, /seed must be an integer/],
    [{ seed: 1.5 }, /seed must be an integer/],
  ])("rejects the bad spec %o with a RangeError and writes no file", async (spec, message) => {
    const path = join(dir, "bad.duckdb");
    const err = await buildSandbox(path, spec).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(String((err as Error).message)).toMatch(message);
    expect((await readdir(dir)).sort()).toEqual(["a.duckdb", "b.duckdb", "c.duckdb"]);
  });

  it("clockMacrosSql makes current_date, today() and now() return the as-of date", async () => {
    const inst = await DuckDBInstance.create(":memory:");
    const con = await inst.connect();
    await con.run(clockMacrosSql("2024-02-29"));
    const r = await con.runAndReadAll("SELECT current_date::VARCHAR, today()::VARCHAR, now()::VARCHAR");
    expect(r.getRows()).toEqual([["2024-02-29", "2024-02-29", "2024-02-29 12:00:00"]]);
    con.closeSync();
    inst.closeSync();
  });
});
