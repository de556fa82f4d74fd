import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PatternStore } from "../patterns/mod.ts";
import { buildDataset, LeakageGuard, loadDatasetsConfig } from "../datasets/mod.ts";
import { challenge, record } from "../datasets/testing.ts";
import { acceptanceRates, askOutcomes, confirmCorrection, correctAsk, correctionExamples, listCorrections, recordAsk, simulateCorrection } from "./mod.ts";

const episode = (sql: string[], answer: unknown) => ({
  strategyId: "gamma",
  model: { name: "lab-mini", id: "lab-mini@1" },
  costUsd: 0,
  latencyMs: 12,
  queries: sql.map((s, call) => ({ call, tool: "dbRead" as const, sql: s, ok: true, ms: 1, rowCount: 1 })),
  answer: { answer, summary: "" },
});

describe("corrections", () => {
  let store: PatternStore;
  let out: string;
  beforeAll(async () => {
    store = await PatternStore.open(":memory:");
    out = await Deno.makeTempDir();
  });
  afterAll(async () => {
    await store.close();
    await Deno.remove(out, { recursive: true });
  });

  it("stores a correction, diffs it, and once confirmed builds it as a gold human-validated example; a held-out question stays out", async () => {
    const q = "Which customers owe us the most?";
    const a = await recordAsk(store, { question: q, role: "analyst", orgId: 1, answer: 120, record: episode(["SELECT count(*) FROM invoices"], 120) });
    expect(a.id).toMatch(/^ask-[0-9a-f]{16}$/);
    const c = await correctAsk(store, a.id, { sql: "SELECT customer_id, sum(total) AS owed FROM invoices WHERE status = 'open' GROUP BY 1", note: "open only" });
    expect(c).toMatchObject({ askId: a.id, status: "unverified", simulated: false, originalSql: "SELECT count(*) FROM invoices", originalAnswer: 120, note: "open only" });
    expect(c.diff.modifications).toEqual([
      { kind: "column", change: "added", value: "customer_id" },
      { kind: "column", change: "added", value: "status" },
      { kind: "column", change: "added", value: "total" },
      { kind: "filter", change: "added", value: "status = 'open'" },
      { kind: "aggregation", change: "added", value: "sum" },
      { kind: "aggregation", change: "removed", value: "count" },
      { kind: "group_by", change: "added", value: "1" },
    ]);
    // Unverified: not an example yet.
    expect(await correctionExamples(store)).toEqual({ examples: [], unverified: 1, answerOnly: 0 });
    expect((await confirmCorrection(store, a.id)).status).toBe("confirmed");

    // A second person's question matches a held-out (dev) template's intent: excluded by the leakage guard.
    const held = challenge({ id: "revenue/t0/march/o1", task: "Total revenue in March 2025", split: "dev" });
    const b = await recordAsk(store, { question: "Total revenue in April 2024", role: "analyst", answer: 5, record: episode(["SELECT 5"], 5) });
    await correctAsk(store, b.id, { sql: "SELECT sum(total) FROM invoices WHERE month = 4" }, { confirm: true });
    // An answer-only correction has no SQL that produces the answer: no example.
    const d = await recordAsk(store, { question: "How many vendors?", role: "analyst", answer: 3, record: episode(["SELECT 3"], 3) });
    await correctAsk(store, d.id, { answer: 4 }, { confirm: true });

    const { examples, unverified, answerOnly } = await correctionExamples(store);
    expect({ ids: examples.map((e) => e.id), unverified, answerOnly }).toEqual({ ids: [`correction:${a.id}`, `correction:${b.id}`], unverified: 0, answerOnly: 1 });
    const config = await loadDatasetsConfig();
    const r = await buildDataset({ patterns: store, extra: [examples] }, { out, config, guard: LeakageGuard.fromCatalog([held]), stages: false, dpo: false });
    expect(r.curation.excluded.leakage.held_out_intent).toBe(1);
    expect(r.curation.examples.map((e) => ({ id: e.id, tier: e.tier, humanValidated: e.humanValidated, synthetic: e.synthetic }))).toEqual([
      { id: `correction:${a.id}`, tier: "gold", humanValidated: true, synthetic: false },
    ]);
    const [file] = r.files;
    expect(file.manifest.lineage).toMatchObject([{ id: `correction:${a.id}`, tier: "gold", humanValidated: true, source: "ask" }]);
    const line = JSON.parse((await Deno.readTextFile(file.path)).trim());
    expect(line.messages.slice(1)).toEqual([
      { role: "user", content: q },
      { role: "assistant", content: null, tool_calls: [{ id: "call_0", type: "function", function: { name: "dbRead", arguments: JSON.stringify({ sql: "SELECT customer_id, sum(total) AS owed FROM invoices WHERE status = 'open' GROUP BY 1" }) } }] },
      { role: "tool", tool_call_id: "call_0", content: JSON.stringify({ ok: true, summary: "answer: 120" }) },
    ]);
  });

  it("refuses bad input in one line and writes nothing", async () => {
    const before = await listCorrections(store, { simulated: "all" });
    await expect(correctAsk(store, "ask-nope", { answer: 1 })).rejects.toThrow(/^no ask or asked pattern with id 'ask-nope' in :memory:; 'lab ask' prints the id of each answer$/);
    const a = (await listCorrections(store))[0].askId;
    await expect(correctAsk(store, a, {})).rejects.toThrow(/give the correct answer \(--answer <json>\), the corrected SQL \(--sql <file>\), or both/);
    await expect(correctAsk(store, a, { sql: "SELECT 'open" })).rejects.toThrow("correction: the corrected SQL cannot be read: unterminated string at offset 7 of the SQL; close it");
    await expect(correctAsk(store, a, { sql: "SELECT 1; DELETE FROM invoices" })).rejects.toThrow(/more than one statement/);
    await expect(confirmCorrection(store, "ask-nope")).rejects.toThrow(/^no correction of 'ask-nope'/);
    expect(await listCorrections(store, { simulated: "all" })).toEqual(before);
  });

  it("simulates from train tasks only, labels them, keeps them apart, and counts acceptance", async () => {
    const sim = await PatternStore.open(":memory:");
    try {
      const train = challenge({ id: "ar/t1/x/o1", task: "How many open invoices?", split: "train", category: "finance" });
      const dev = challenge({ id: "ar/t2/x/o1", task: "How many paid invoices?", split: "dev" });
      const rec = (i: number) => ({ ...record(train, { strategy: i % 2 ? "beta" : "alpha" }), id: `ep-${i}` });
      await expect(simulateCorrection(sim, { challenge: dev, record: rec(0), answer: 1 })).rejects.toThrow(
        "simulateCorrection: 'ar/t2/x/o1' is a dev task; simulated corrections come from train tasks only",
      );
      await simulateCorrection(sim, { challenge: train, record: rec(1), verdict: "accepted" });
      await simulateCorrection(sim, { challenge: train, record: rec(2), verdict: "rejected" });
      await simulateCorrection(sim, { challenge: train, record: rec(3), sql: "SELECT count(*) AS n FROM invoices WHERE status = 'open'", confirm: true });
      await simulateCorrection(sim, { challenge: train, record: rec(4), sql: "SELECT count(*) AS n FROM invoices" }); // unchanged: accepted
      await expect(simulateCorrection(sim, { challenge: train, record: rec(4), answer: 2 })).rejects.toThrow(/was simulated before/);
      const real = await recordAsk(sim, { question: "Anything?", role: "analyst", answer: null, record: episode([], null) });

      expect(acceptanceRates(await askOutcomes(sim))).toEqual({ asks: 1, accepted: 0, edited: 0, rejected: 0, pending: 1, rates: { accepted: 0, edited: 0, rejected: 0 } });
      const rows = await askOutcomes(sim, { simulated: "simulated" });
      expect(rows.map((r) => [r.strategyId, r.category, r.outcome])).toEqual([
        ["beta", "finance", "accepted"],
        ["alpha", "finance", "rejected"],
        ["beta", "finance", "edited"],
        ["alpha", "finance", "accepted"],
      ]);
      expect(acceptanceRates(rows)).toEqual({ asks: 4, accepted: 2, edited: 1, rejected: 1, pending: 0, rates: { accepted: 0.5, edited: 0.25, rejected: 0.25 } });
      expect(await listCorrections(sim)).toEqual([]);
      expect((await correctionExamples(sim)).examples).toEqual([]);
      const simulated = (await correctionExamples(sim, { simulated: "simulated" })).examples;
      expect(simulated.map((e) => ({ synthetic: e.synthetic, split: e.split, challengeId: e.challengeId, humanValidated: e.humanValidated }))).toEqual([
        { synthetic: true, split: "train", challengeId: "ar/t1/x/o1", humanValidated: true },
      ]);
      expect(real.simulated).toBe(false);
    } finally {
      await sim.close();
    }
  });
});
