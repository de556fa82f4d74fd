import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { getStrategy, loadStrategiesConfig, scriptedModel, type Strategy } from "../agents/mod.ts";
import { askQuestion, PatternRetriever, PatternStore } from "./mod.ts";

let dir = "";
let pool: SandboxPool;
let strategy: Strategy;

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-ask-test-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: "2025-11-28" });
  pool = await SandboxPool.open(path, { size: 1 });
  strategy = getStrategy(await loadStrategiesConfig(), "beta");
});

afterAll(async () => {
  await pool?.close();
  if (dir) await Deno.remove(dir, { recursive: true });
});

const SQL = "SELECT count(*) AS customers FROM customers";
// A failed query first (it must never be stored), then the one that answers, then the answer.
const solver = () =>
  scriptedModel([
    { calls: [{ name: "dbRead", args: { sql: "SELECT count(*) FROM no_such_table" } }] },
    { calls: [{ name: "dbRead", args: { sql: SQL } }] },
    { calls: [{ name: "submitAnswer", args: { answer: 42, summary: "customers" } }] },
  ]);

describe("askQuestion", () => {
  it("answers a person's question, stores only the successful query, unverified until the person marks it right", async () => {
    await using store = await PatternStore.open(":memory:");
    const r = await askQuestion("How many customers do we have?", { model: solver(), pool, strategy, store, role: "analyst", orgId: 1 });
    expect(r.record.stopReason).toBe("submitted");
    expect(r.record.verdict).toEqual({
      pass: false,
      score: 0,
      reason: "unverified: a person's own question has no verifier; mark the answer right or wrong",
    });
    expect(r.answer).toBe(42);
    expect(r.report).toMatchObject({ episodes: 1, inserted: 1, failedQueriesSkipped: 1 });
    const [p] = await store.list();
    expect(p).toMatchObject({
      id: r.patternId,
      intent: "How many customers do we have?",
      role: "analyst",
      category: "ask",
      isSynthetic: false,
      turnPass: false,
      split: null,
    });
    expect(p.successfulQueries.map((q) => q.sql)).toEqual([SQL]);

    // Not judged yet: retrieval (which only uses passing patterns) does not return it, even with ask patterns allowed.
    await using retriever = await PatternRetriever.open(store, { configPath: null, config: { include_unsplit: true, index: { kind: "exact" } } });
    const query = { task: "How many customers do we have?", role: "analyst" };
    expect(await retriever.search(query)).toEqual([]);

    // The person marks it right: it becomes a passing, fit pattern and is retrieved.
    await store.mark(r.patternId!, { turnPass: true });
    const [marked] = await store.list();
    expect(marked).toMatchObject({ turnPass: true, markedPass: true, turnFitness: 1 });
    expect(marked.compositeFitness).toBeGreaterThan(0.7);
    const hits = await retriever.search(query);
    expect(hits.map((h) => h.id)).toEqual([r.patternId]);

    // Marked wrong again: out.
    await store.mark(r.patternId!, { turnPass: false });
    expect(await retriever.search(query)).toEqual([]);
  });

  it("does not store anything without a store, and refuses an empty question", async () => {
    const r = await askQuestion("How many customers do we have?", { model: solver(), pool, strategy });
    expect(r.patternId).toBeUndefined();
    expect(r.report).toBeUndefined();
    await expect(askQuestion("   ", { model: solver(), pool, strategy })).rejects.toThrow("the question is empty");
  });

  it("shows the model only the question, role and as-of date", async () => {
    const model = solver();
    await askQuestion("How many customers do we have?", { model, pool, strategy, role: "analyst" });
    const prompt = model.requests[0].messages.map((m) => m.content ?? "").join("\n");
    expect(prompt).toContain("How many customers do we have?");
    expect(prompt).not.toMatch(/\bask\/[0-9a-f]+/);
  });
});
