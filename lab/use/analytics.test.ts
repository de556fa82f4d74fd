/**
 * Performance analytics on planted records with known windows: success, cost, latency and acceptance by 7 days,
 * 30 days and all; the daily series; the trend's slope on a planted linear decline; scopes; and the readers of
 * suite runs (run time) with a copy of a run counted once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { PatternStore } from "../patterns/mod.ts";
import { analyzeUse, askRecords, correctAsk, dailySeries, recordAsk, successTrend, suiteRecords, summarizeWindow, type UseRecord } from "./mod.ts";

const ask = (at: string, outcome: "accepted" | "edited" | "rejected" | "pending", extra: Partial<UseRecord> = {}): UseRecord => ({
  source: "ask",
  ref: `ask-${at}`,
  at,
  model: "m1",
  strategy: "gamma",
  category: "ask",
  success: outcome === "pending" ? null : outcome === "accepted",
  outcome,
  costUsd: 0.01,
  latencyMs: 1000,
  ...extra,
});

// asOf 2025-03-31: the 7-day window is 03-25…03-31, the 30-day one 03-02…03-31.
const RECORDS: UseRecord[] = [
  ask("2025-03-31T09:00:00Z", "accepted", { latencyMs: 500 }),
  ask("2025-03-25T00:00:00Z", "edited", { latencyMs: 1500 }),
  ask("2025-03-24T23:59:59Z", "accepted"), // one second before the 7-day window
  ask("2025-03-02T10:00:00Z", "rejected", { costUsd: 0.03 }),
  ask("2025-03-01T10:00:00Z", "accepted"), // before the 30-day window
  ask("2025-01-05T10:00:00Z", "pending", { costUsd: null, latencyMs: null }),
  ask("2025-04-01T00:00:00Z", "rejected"), // after asOf: never counted
];

describe("summarizeWindow", () => {
  it("counts each record in the windows its real time falls in", () => {
    const w7 = summarizeWindow(RECORDS, 7, { asOf: "2025-03-31" });
    expect(w7).toEqual({
      window: "7d",
      from: "2025-03-25",
      to: "2025-03-31",
      records: 2,
      judged: 2,
      successes: 1,
      success: { rate: 0.5, lo: 0.0945, hi: 0.9055 },
      cost: { total: 0.02, mean: 0.01, n: 2 },
      latency: { mean: 1000, p50: 1000, p95: 1450, n: 2 },
      acceptance: { asks: 2, accepted: 1, edited: 1, rejected: 0, pending: 0, rates: { accepted: 0.5, edited: 0.5, rejected: 0 } },
    });
    expect(summarizeWindow(RECORDS, 30, { asOf: "2025-03-31" })).toMatchObject({
      from: "2025-03-02",
      records: 4,
      judged: 4,
      successes: 2,
      cost: { total: 0.06, mean: 0.015, n: 4 },
      acceptance: { accepted: 2, edited: 1, rejected: 1, pending: 0 },
    });
    expect(summarizeWindow(RECORDS, null, { asOf: "2025-03-31" })).toMatchObject({
      window: "all",
      from: "2025-01-05",
      records: 6,
      judged: 5,
      successes: 3,
      cost: { total: 0.07, n: 5 },
      latency: { n: 5 },
      acceptance: { asks: 6, accepted: 3, edited: 1, rejected: 1, pending: 1, rates: { accepted: 0.6, edited: 0.2, rejected: 0.2 } },
    });
    expect(summarizeWindow([], 7, { asOf: "2025-03-31" })).toMatchObject({ records: 0, success: null, latency: { mean: null, p50: null }, acceptance: null, from: "2025-03-25" });
  });
});

/** A suite (run time) losing one point a day: day i has 100 outcomes, 80 − i successes. */
const declining = (days: number, first = "2025-03-02"): UseRecord[] =>
  [...Array(days)].flatMap((_, i) => {
    const day = new Date(Date.parse(`${first}T00:00:00Z`) + i * 86_400_000).toISOString().slice(0, 10);
    return [...Array(100)].map((_, k) => ({
      source: "suite" as const,
      ref: `${day}/${k}`,
      at: `${day}T08:00:00.000Z`,
      model: k % 2 ? "m1" : "m2",
      strategy: "alpha",
      category: "sales",
      success: k < 80 - i,
      costUsd: 0,
      latencyMs: 10,
    }));
  });

describe("trends", () => {
  it("gives the daily series and the slope of a planted linear decline with its interval", () => {
    const recs = declining(30);
    const series = dailySeries(recs, "2025-03-30", "2025-04-01");
    expect(series).toEqual([
      { day: "2025-03-30", records: 100, judged: 100, successes: 52, rate: 0.52, costUsd: 0, latencyMs: 10 },
      { day: "2025-03-31", records: 100, judged: 100, successes: 51, rate: 0.51, costUsd: 0, latencyMs: 10 },
      { day: "2025-04-01", records: 0, judged: 0, successes: 0, rate: null, costUsd: 0, latencyMs: null },
    ]);
    // exactly linear: the slope is −1 point a day, and the residuals are 0 so the interval is the point
    expect(successTrend(recs, { asOf: "2025-03-31", days: 30 })).toEqual({
      from: "2025-03-02",
      to: "2025-03-31",
      days: 30,
      slopePerDay: -0.01,
      lo: -0.01,
      hi: -0.01,
      perWeek: { slope: -0.07, lo: -0.07, hi: -0.07 },
      direction: "down",
    });
    // with noise around a flat line, the interval holds 0
    const flat = recs.map((r, i) => ({ ...r, success: (i * 7919) % 100 < 50 }));
    expect(successTrend(flat, { asOf: "2025-03-31", days: 30 })?.direction).toBe("flat");
    expect(successTrend(recs.slice(0, 200), { asOf: "2025-03-31" })).toBeNull();
  });

  it("analyzes each source and scope on its own clock", () => {
    const all = [...RECORDS, ...declining(30)];
    const bySource = analyzeUse(all, { asOf: "2025-03-31" });
    expect(bySource.map((a) => [a.source, a.clock, a.scope, a.windows.map((w) => w.judged), a.trend?.direction ?? null])).toEqual([
      ["ask", "real", { kind: "all", value: "*" }, [2, 4, 5], "flat"],
      ["suite", "run", { kind: "all", value: "*" }, [700, 3000, 3000], "down"],
    ]);
    const byModel = analyzeUse(all, { asOf: "2025-03-31", by: "model" });
    expect(byModel.map((a) => [a.source, a.scope.value, a.windows[2].records])).toEqual([["ask", "m1", 6], ["suite", "m1", 1500], ["suite", "m2", 1500]]);
    expect(() => analyzeUse(all, { asOf: "31/03/2025" })).toThrow("analyzeUse: asOf must be a date YYYY-MM-DD, found '31/03/2025'");
  });
});

describe("suiteRecords", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-analytics-" });
  });
  afterAll(async () => {
    await Deno.remove(dir, { recursive: true });
  });

  it("reads EvalRun files at their run's time, a copy once, other JSON skipped, a broken run in one line", async () => {
    const ep = (pass: boolean) => ({
      arm: "base", challengeId: "ar_aging_report/t0/o1", family: "ar_aging_report", template: "ar_aging_report/t0", level: 4, split: "dev",
      seed: 1, attempt: 0, model: "lab-mini", strategyId: "gamma", pass, score: pass ? 1 : 0, composite: 0.5, tokens: 10, costUsd: 0.002,
      latencyMs: 40, queries: 1, queriesOk: 1, steps: 2, optimalSteps: null, answer: null, stopReason: "submitted", examples: 0, rendered: 0,
      injected: [], used: [],
    });
    const run = { suite: "s", createdAt: "2025-03-30T10:00:00.000Z", commit: null, pins: { catalogHash: "h", models: { base: "lab-mini" }, patternSnapshot: null, strategies: { base: "gamma" } }, shard: null, episodes: [ep(true), ep(false)] };
    await Deno.mkdir(join(dir, "s"));
    await Deno.writeTextFile(join(dir, "s", "dev.json"), JSON.stringify(run));
    await Deno.writeTextFile(join(dir, "s", "latest.json"), JSON.stringify(run)); // a copy
    await Deno.writeTextFile(join(dir, "s", "gate.json"), JSON.stringify({ pass: true }));
    const recs = await suiteRecords(dir, { categories: { ar_aging_report: "finance" } });
    expect(recs).toEqual([
      { source: "suite", ref: "s/dev/base/ar_aging_report/t0/o1/1", at: "2025-03-30T10:00:00.000Z", model: "lab-mini", strategy: "gamma", category: "finance", success: true, costUsd: 0.002, latencyMs: 40 },
      { source: "suite", ref: "s/dev/base/ar_aging_report/t0/o1/1", at: "2025-03-30T10:00:00.000Z", model: "lab-mini", strategy: "gamma", category: "finance", success: false, costUsd: 0.002, latencyMs: 40 },
    ]);
    await Deno.writeTextFile(join(dir, "s", "x.json"), JSON.stringify({ ...run, createdAt: "2025-03-31T00:00:00Z", episodes: [{ ...ep(true), pass: "yes" }] }));
    await expect(suiteRecords(dir)).rejects.toThrow(/x\.json: not an eval run: episodes\[0\]\.pass: /);
    expect(await suiteRecords(join(dir, "missing"))).toEqual([]);
  });
});

describe("askRecords", () => {
  it("reads logged asks on real time: pending is unjudged, an edit is a failure", async () => {
    await using store = await PatternStore.open(":memory:");
    const record = { strategyId: "gamma", model: { name: "lab-mini", id: "lab-mini@1" }, queries: [], costUsd: 0.004, latencyMs: 900 } as unknown as Parameters<typeof recordAsk>[1]["record"];
    const a = await recordAsk(store, { question: "How many invoices are open?", role: "analyst", answer: 3, record, askedAt: new Date("2025-03-30T09:15:00Z") });
    const b = await recordAsk(store, { question: "Revenue this month?", role: "cfo", answer: 10, record, askedAt: new Date("2025-03-31T17:00:00Z") });
    await correctAsk(store, b.id, { answer: 12 });
    expect(await askRecords(store)).toEqual([
      { source: "ask", ref: a.id, at: "2025-03-30T09:15:00.000Z", model: "lab-mini", strategy: "gamma", category: "ask", success: null, outcome: "pending", costUsd: 0.004, latencyMs: 900 },
      { source: "ask", ref: b.id, at: "2025-03-31T17:00:00.000Z", model: "lab-mini", strategy: "gamma", category: "ask", success: false, outcome: "edited", costUsd: 0.004, latencyMs: 900 },
    ]);
  });
});
