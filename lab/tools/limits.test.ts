/**
 * Limits for the whole life of a statement (parse, prepare/optimise, execute, convert), proved on a corpus of
 * heavy statements run serially with a 250 ms limit: each call answers within the limit + 1 s, the worker
 * process's peak memory stays under its cap (its resident size after loading + the OS-enforced margin), the
 * episode keeps its accepted write (replayed onto a fresh worker after a kill), and whole values are capped.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { callTool, createToolContext } from "./tools.ts";

const LIMIT_MS = 250;
const MARGIN = 512 * 1024 * 1024;

/** Heavy constant expressions and statements; none may take the harness down. */
const CORPUS: { name: string; tool: "dbRead" | "dbWrite"; sql: string }[] = [
  {
    name: "quadratic string folding in a list lambda",
    tool: "dbRead",
    sql: "SELECT length(list_reduce([repeat('ab', i) for i in range(30000)], (a, b) -> a || b)) AS n",
  },
  {
    name: "quadratic folding through list_transform",
    tool: "dbRead",
    sql: "SELECT length(list_reduce(list_transform(range(20000), i -> repeat('x', i)), (a, b) -> a || b)) AS n",
  },
  { name: "long arithmetic chain (1+1+…)", tool: "dbRead", sql: `SELECT ${Array(900).fill("1").join("+")} AS x` },
  { name: "long string concatenation chain", tool: "dbRead", sql: `SELECT length(${Array(900).fill("'ab'").join("||")}) AS x` },
  { name: "huge constant string", tool: "dbRead", sql: "SELECT length(repeat('x', 2000000000)) AS n" },
  { name: "huge nested repeat", tool: "dbRead", sql: "SELECT length(repeat(repeat('x', 1000000), 3000)) AS n" },
  { name: "huge constant list", tool: "dbRead", sql: "SELECT len(range(100000000)) AS n" },
  { name: "deep nesting of parentheses", tool: "dbRead", sql: `SELECT ${"(".repeat(3000)}1${")".repeat(3000)} AS x` },
  { name: "deep CASE nesting", tool: "dbRead", sql: `SELECT ${"CASE WHEN 1=1 THEN ".repeat(500)}1${" END".repeat(500)} AS x` },
  { name: "runaway cross join", tool: "dbRead", sql: "SELECT count(*) AS n FROM range(100000000000) a, range(1000) b" },
  { name: "a million-element value", tool: "dbRead", sql: "SELECT range(1000000) AS r" },
  { name: "huge value in a write", tool: "dbWrite", sql: "UPDATE customers SET name = repeat('x', 2000000000) WHERE customer_id = 1" },
  {
    name: "quadratic folding in a write",
    tool: "dbWrite",
    sql: "UPDATE customers SET name = length(list_reduce([repeat('ab', i) for i in range(30000)], (a, b) -> a || b))::VARCHAR WHERE customer_id = 1",
  },
];

let pool: SandboxPool;
beforeAll(async () => {
  const path = join(mkdtempSync(join(tmpdir(), "limits-")), "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny" });
  pool = await SandboxPool.open(path, { size: 1, memoryLimit: "256MB", processMemoryBytes: MARGIN, graceMs: 500 });
});
afterAll(() => pool.close());

describe("limits hold for the whole life of a statement", () => {
  it("answers every heavy statement within the limit + 1 s, under the memory cap, and keeps the episode", async () => {
    await using ep = await pool.acquire(1, { role: "ar_clerk" });
    const ctx = createToolContext(ep, { limits: { timeoutMs: LIMIT_MS } });
    expect(await callTool(ctx, "dbWrite", { sql: "UPDATE customers SET credit_limit = 7 WHERE customer_id = 3", confirm: true }))
      .toMatchObject({ ok: true, rowCount: 1 });
    const baseline = ep.workerStats().memory.rss;
    const rows: { name: string; ms: number; peakMb: number; outcome: string }[] = [];
    for (const c of CORPUS) {
      await ep.ready();
      const t0 = performance.now();
      const r = await callTool(ctx, c.tool, c.tool === "dbWrite" ? { sql: c.sql, confirm: true } : { sql: c.sql });
      const ms = performance.now() - t0;
      const peak = ep.workerStats().memory.peak;
      rows.push({ name: c.name, ms: Math.round(ms), peakMb: Math.round(peak / 2 ** 20), outcome: r.ok ? "ok" : r.error.slice(0, 70) });
      expect(ms, c.name).toBeLessThanOrEqual(LIMIT_MS + 1000);
      expect(peak, c.name).toBeLessThanOrEqual(baseline + MARGIN);
      // The accepted write survives every kill and restore; the next statement works.
      expect(await callTool(ctx, "dbRead", { sql: "SELECT credit_limit FROM customers WHERE customer_id = 3" }))
        .toMatchObject({ ok: true, rows: [{ credit_limit: 7 }] });
    }
    console.table(rows);
    console.log(
      `heavy corpus: ${CORPUS.length} statements, limit ${LIMIT_MS} ms: worst ${Math.max(...rows.map((r) => r.ms))} ms ` +
        `(bound ${LIMIT_MS + 1000}); peak ${Math.max(...rows.map((r) => r.peakMb))} MiB (bound ${Math.round((baseline + MARGIN) / 2 ** 20)} MiB); ` +
        `workers replaced ${ep.workerStats().replaced}`,
    );
    // The write made before the corpus is the only one: nothing heavy was accepted.
    expect(ep.writes).toHaveLength(1);
    expect(ep.broken).toBe(false);
  });

  it("caps whole values: nested lists, structs and maps count toward the character budget", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const ctx = createToolContext(ep, { limits: { maxCellChars: 100, maxResultChars: 1000 } });
    const list = await callTool(ctx, "dbRead", { sql: "SELECT range(100000) AS r" });
    expect(list.ok).toBe(true);
    if (!list.ok) return;
    const r = (list.rows as { r: number[] }[])[0].r;
    expect(list.truncated).toBe(true);
    expect(JSON.stringify(r).length).toBeLessThanOrEqual(100);
    expect(r.slice(0, 5)).toEqual([0, 1, 2, 3, 4]);
    const struct = await callTool(ctx, "dbRead", { sql: "SELECT {'a': repeat('x', 500), 'b': 1} AS s" });
    expect(struct).toMatchObject({ ok: true, truncated: true });
    if (struct.ok) expect(JSON.stringify((struct.rows as unknown[])[0]).length).toBeLessThanOrEqual(120);
    const many = await callTool(ctx, "dbRead", { sql: "SELECT [i, i + 1] AS pair, repeat('y', 50) AS s FROM range(1000) t(i)" });
    expect(many).toMatchObject({ ok: true, truncated: true });
    if (many.ok) expect(JSON.stringify(many.rows).length).toBeLessThanOrEqual(1600);
    const small = await callTool(ctx, "dbRead", { sql: "SELECT [1, 2, 3] AS l, map([1], ['a']) AS m" });
    expect(small).toMatchObject({ ok: true, truncated: false });
  });
});
