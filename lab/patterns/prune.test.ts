import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { EpisodeRecord } from "../agents/mod.ts";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { PatternStore } from "./store.ts";
import { prunePatterns, revalidatePatterns, sameSummary } from "./prune.ts";

interface Spec {
  task: string;
  sql: string | { tool: "dbRead" | "dbWrite"; sql: string; rows?: unknown[]; rowCount?: number }[];
  role?: string;
  category?: string;
  /** query fitness (composite = 0.6 q + 0.4 turn) */
  q?: number;
  pass?: boolean;
  split?: string;
  orgId?: number;
  rows?: unknown[];
}

let n = 0;
function episode(s: Spec): EpisodeRecord {
  const pass = s.pass ?? true;
  const qs = typeof s.sql === "string" ? [{ tool: "dbRead" as const, sql: s.sql, rows: s.rows }] : s.sql;
  const id = `e${++n}`;
  return {
    id,
    challengeId: `c-${id}`,
    challenge: {
      family: "fam",
      level: 1,
      category: s.category ?? "finance",
      outcome: "number",
      split: s.split ?? "train",
      orgId: s.orgId ?? 1,
      optimalSteps: 2,
    },
    role: s.role ?? "cfo",
    task: s.task,
    strategyId: "alpha",
    model: { name: "m", id: "m" },
    toolCalls: qs.map((q, i) => ({
      step: i,
      id: `c${i}`,
      name: q.tool,
      ok: true,
      result: q.tool === "dbWrite"
        ? { table: "customers", action: "UPDATE", rowCount: q.rowCount ?? 1 }
        : { rows: q.rows ?? [{ n: 1 }], rowCount: (q.rows ?? [{ n: 1 }]).length },
      ms: 1,
    })),
    queries: qs.map((q, i) => ({
      tool: q.tool,
      sql: q.sql,
      ok: true,
      rowCount: q.rowCount ?? (q.rows ?? [1]).length,
      ms: 1,
      call: i,
    })),
    verdict: { pass, score: pass ? 1 : 0, reason: "" },
    fitness: {
      composite: 0,
      turn: { fitness: pass ? 1 : 0 },
      queryAverage: 0,
      queries: qs.map(() => ({ fitness: s.q ?? 1 })),
    },
  } as unknown as EpisodeRecord;
}

/** Adds `times` identical episodes (support = times). Returns the pattern's id. */
async function add(store: PatternStore, s: Spec, times = 1): Promise<string> {
  await store.addEpisodes(Array.from({ length: times }, () => episode(s)));
  const sqls = typeof s.sql === "string" ? [s.sql] : s.sql.map((q) => q.sql);
  const p = (await store.list({ role: s.role ?? "cfo" }, { limit: 1000 })).find((p) =>
    p.intent === s.task && p.successfulQueries.map((q) => q.sql).join("|") === sqls.join("|")
  );
  return p!.id;
}

describe("prunePatterns", () => {
  it("removes dominated patterns of the same role and intent, and says by whom", async () => {
    await using store = await PatternStore.open(":memory:");
    const task = "Total revenue for March 2025";
    const a = await add(store, { task, sql: "SELECT 'a'", q: 0.9 }, 3); // composite 0.94, support 3
    const b = await add(store, { task: "Total revenue for Q3 2024", sql: "SELECT 'b'", q: 0.8 }); // 0.88, 1 → by a
    const c = await add(store, { task, sql: "SELECT 'c'", q: 1 }); // 1.0, 1: better fitness, stays
    const d = await add(store, { task, sql: "SELECT 'd'", q: 1, pass: false }, 5); // fails but support 5: stays
    const e = await add(store, { task, sql: "SELECT 'e'", q: 0.9, split: "dev" }); // contaminated, 0.94, 1 → by a
    const f = await add(store, { task, sql: "SELECT 'b'", q: 0.1, role: "analyst" }); // other role: no competitor
    const ask = await store.addAsk({ question: task, role: "cfo", queries: [{ tool: "dbRead", sql: "SELECT 'ask'" }] });
    const r = await prunePatterns(store);
    expect(r).toEqual({
      before: 7,
      after: 5,
      dryRun: false,
      byReason: { stale: 0, dominated: 2, category_cap: 0 },
      removed: [
        // c dominates both (better fitness, equal support); the report names the fittest dominator
        {
          id: b,
          reason: "dominated",
          detail: `dominated by ${c}: fitness 1 ≥ 0.88, support 1 ≥ 1`,
          category: "finance",
          normalizedIntent: "total revenue <period>",
        },
        {
          id: e,
          reason: "dominated",
          detail: `dominated by ${c}: fitness 1 ≥ 0.94, support 1 ≥ 1`,
          category: "finance",
          normalizedIntent: "total revenue <period>",
        },
      ].sort((x, y) => x.id.localeCompare(y.id)),
    });
    expect((await store.list({}, { limit: 10 })).map((p) => p.id).sort()).toEqual([a, c, d, f, ask.id!].sort());
  });

  it("caps each category at the best N by fitness then support, never removing a person's patterns", async () => {
    await using store = await PatternStore.open(":memory:");
    const ids = [];
    for (const [i, q] of [0.2, 0.9, 0.5, 0.9, 0.7].entries()) {
      ids.push(await add(store, { task: `Finance task ${"abcde"[i]}`, sql: `SELECT ${i}`, q }, i === 3 ? 2 : 1));
    }
    const sales = await add(store, { task: "Sales task", sql: "SELECT 9", category: "sales", q: 0.1 });
    const marked = ids[0];
    await store.mark(marked, { turnPass: true });
    const dry = await prunePatterns(store, { perCategory: { finance: 2 }, dryRun: true });
    expect(dry).toMatchObject({ before: 6, after: 6, dryRun: true, byReason: { category_cap: 2 } });
    expect(await store.count()).toBe(6);
    const r = await prunePatterns(store, { perCategory: { finance: 2 } });
    expect(r.removed.map((x) => [x.id, x.reason, x.detail])).toEqual([
      [ids[4], "category_cap", "rank 3 of 5 in finance (cap 2)"],
      [ids[2], "category_cap", "rank 4 of 5 in finance (cap 2)"],
    ]);
    expect((await store.list({}, { limit: 10 })).map((p) => p.id).sort()).toEqual(
      [ids[3], ids[1], marked, sales].sort(),
    );
    expect((await prunePatterns(store, { perCategory: 0 })).removed.map((x) => x.id).sort()).toEqual(
      [ids[3], ids[1], sales].sort(),
    );
    expect((await store.list()).map((p) => p.id)).toEqual([marked]);
  });

  it("removes stale patterns when asked, with their reason", async () => {
    await using store = await PatternStore.open(":memory:");
    const id = await add(store, { task: "Old task", sql: "SELECT 1" });
    await add(store, { task: "New task", sql: "SELECT 2" });
    await store.withConnection((c) =>
      c.run(`UPDATE turn_memories SET stale = true, stale_reason = 'query 1 no longer runs: gone' WHERE id = '${id}'`)
    );
    expect((await prunePatterns(store)).removed).toEqual([]);
    expect((await prunePatterns(store, { removeStale: true })).removed).toEqual([
      {
        id,
        reason: "stale",
        detail: "stale: query 1 no longer runs: gone",
        category: "finance",
        normalizedIntent: "old task",
      },
    ]);
  });

  it("rejects bad caps with one clear line", async () => {
    await using store = await PatternStore.open(":memory:");
    await expect(prunePatterns(store, { perCategory: -1 })).rejects.toThrow(
      "prunePatterns: perCategory must be an integer ≥ 0, found -1",
    );
    await expect(prunePatterns(store, { perCategory: { sales: 1.5 } })).rejects.toThrow(
      "prunePatterns: perCategory.sales must be an integer ≥ 0, found 1.5",
    );
  });
});

describe("sameSummary", () => {
  it("compares summaries with numbers equal to 1e-9 relative", () => {
    expect(sameSummary('1 row: {"x":0.30000000000000004}', '1 row: {"x":0.3}')).toBe(true);
    expect(sameSummary('1 row: {"x":0.31}', '1 row: {"x":0.3}')).toBe(false);
    expect(sameSummary('1 row: {"x":1}', '1 row: {"y":1}')).toBe(false);
  });
});

describe("revalidatePatterns", () => {
  let dir: string;
  let pool: SandboxPool;
  let customers: number;
  let limit: number;
  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-patterns-prune-" });
    const path = join(dir, "tiny.duckdb");
    await buildSandbox(path, { scale: "tiny", asOf: "2025-11-28" });
    pool = await SandboxPool.open(path, { size: 1 });
    await using ep = await pool.acquire(1, { role: "analyst" });
    customers = Number((await ep.query("SELECT count(*) AS n FROM customers"))[0].n);
    limit = Number((await ep.query("SELECT credit_limit FROM customers WHERE customer_id = 1"))[0].credit_limit);
  });
  afterAll(async () => {
    pool?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  });

  it("re-runs stored SQL through the safe tools and marks what no longer runs or matches as stale", async () => {
    await using store = await PatternStore.open(":memory:");
    const good = await add(store, {
      task: "How many customers",
      sql: "SELECT count(*) AS n FROM customers",
      rows: [{ n: customers }],
    });
    const changed = await add(store, {
      task: "Customer count",
      sql: "SELECT count(*) AS n FROM customers",
      rows: [{ n: 999 }],
    });
    const gone = await add(store, { task: "Legacy table", sql: "SELECT * FROM legacy_customers", rows: [] });
    const hostile = await add(store, { task: "Read a file", sql: "SELECT * FROM read_csv('/etc/passwd')", rows: [] });
    const write = await add(store, {
      task: "Put customer 1 on hold",
      role: "ar_clerk",
      sql: [
        { tool: "dbWrite", sql: "UPDATE customers SET credit_limit = 0 WHERE customer_id = 1", rowCount: 1 },
        {
          tool: "dbRead",
          sql: "SELECT credit_limit FROM customers WHERE customer_id = 1",
          rows: [{ credit_limit: 0 }],
        },
      ],
    });
    await store.withConnection((c) =>
      c.run(`UPDATE turn_memories SET stale = true, stale_reason = 'old' WHERE id = '${good}'`)
    );
    const progress: number[] = [];
    const r = await revalidatePatterns(store, { pool, onProgress: (done) => progress.push(done) });
    expect(r.checked).toBe(5);
    expect(r.fresh).toBe(2);
    expect(r.restored).toEqual([good]);
    expect(Object.fromEntries(r.stale.map((s) => [s.id, s.reason]))).toEqual({
      [changed]: `query 1 (dbRead) result changed: was 1 row: {"n":999}; now 1 row: {"n":${customers}}`,
      [gone]: expect.stringMatching(/^query 1 \(dbRead\) (no longer runs|is refused): .*legacy_customers/),
      [hostile]: expect.stringMatching(/^query 1 \(dbRead\) is refused: /),
    });
    expect(progress.sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5]);
    const rows = await store.list({}, { limit: 10 });
    expect(Object.fromEntries(rows.map((p) => [p.id, [p.stale, p.staleReason === null, p.validatedAt !== null]])))
      .toEqual({
        [good]: [false, true, true],
        [write]: [false, true, true],
        [changed]: [true, false, true],
        [gone]: [true, false, true],
        [hostile]: [true, false, true],
      });
    // the write ran in a throwaway episode: the sandbox is unchanged
    await using ep = await pool.acquire(1, { role: "analyst" });
    expect(Number((await ep.query("SELECT credit_limit FROM customers WHERE customer_id = 1"))[0].credit_limit)).toBe(
      limit,
    );
  });

  it("reports without changing anything in a dry run, and checks only the filtered patterns", async () => {
    await using store = await PatternStore.open(":memory:");
    await add(store, { task: "Customer count", sql: "SELECT count(*) AS n FROM customers", rows: [{ n: 999 }] });
    await add(store, {
      task: "Other",
      sql: "SELECT count(*) AS n FROM customers",
      rows: [{ n: 1 }],
      category: "sales",
    });
    const r = await revalidatePatterns(store, { pool, dryRun: true, filter: { category: "finance" } });
    expect(r).toMatchObject({ checked: 1, fresh: 0, dryRun: true });
    expect(await store.count({ stale: true })).toBe(0);
    await expect(revalidatePatterns(store, {} as never)).rejects.toThrow("revalidatePatterns: pass { pool }");
  });
});
