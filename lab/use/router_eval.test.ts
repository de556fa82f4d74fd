/**
 * Evaluating the router: a full-information log from tournament rows, replay against the best fixed arm, the IPW
 * estimator on planted logs with known propensities, the cost/quality frontier, fallback counts, and the router arm
 * of the eval suites (scripted models on a tiny sandbox: routing decides the model and strategy per challenge).
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seededRandom } from "../stats/mod.ts";
import type { EpisodeRow } from "../tournament/mod.ts";
import type { Strategy } from "../agents/mod.ts";
import { loadStrategiesConfig } from "../agents/mod.ts";
import { scriptedModel } from "../agents/testing.ts";
import { loadCatalog } from "../challenges/mod.ts";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import {
  type ArmSummary,
  BanditRouter,
  cheapestAtEqualSuccess,
  fallbackTable,
  type FullInfoLog,
  ipwValue,
  type LoggedDecision,
  type LoggedInstance,
  paretoFrontier,
  replayLog,
  routerVsFixed,
  tournamentLog,
} from "./mod.ts";

const row = (challengeId: string, strategyId: string, seed: number, pass: boolean, tokens: number, id = `g1#${challengeId}#${strategyId}#s${seed}#a0`): EpisodeRow => ({
  id,
  generation: 1,
  strategyId,
  challengeId,
  attempt: 0,
  seed,
  pass,
  score: pass ? 1 : 0,
  composite: 0.5,
  tokensTotal: tokens,
  costUsd: 0,
  stopReason: "submitted",
  contaminated: false,
});

const CATALOG = new Map([
  ["fa/t0/o1", { family: "fa", category: "finance" as const, level: 1 as const }],
  ["sb/t0/o1", { family: "sb", category: "sales" as const, level: 2 as const }],
]);

/** A planted full-information log: instances of `contexts` with Bernoulli outcomes of rates `p[context][arm]`. */
function plantedLog(p: Record<string, Record<string, number>>, perContext: number, seed: number, costs: Record<string, number> = {}): FullInfoLog {
  const rand = seededRandom(seed);
  const armIds = Object.keys(Object.values(p)[0]);
  const instances: LoggedInstance[] = [];
  for (const [ctx, rates] of Object.entries(p)) {
    const [category, level] = ctx.split("/");
    for (let i = 0; i < perContext; i++) {
      const outcomes = Object.fromEntries(armIds.map((a) => [a, { pass: rand() < rates[a], cost: costs[a] ?? 1 }]));
      instances.push({ id: `${ctx}#${i}`, challengeId: `${ctx}#${i}`, family: `${category}${i % 5}`, context: { category, level: Number(level) }, outcomes });
    }
  }
  return { arms: armIds.map((id) => ({ id, model: "m", strategyId: id.split("×")[1], cost: costs[id] ?? 1 })), costUnit: "tokens", instances, dropped: [] };
}

describe("tournamentLog", () => {
  it("pairs arms on (challenge, seed), keeps the arms that played every instance and lists the others", () => {
    const rows = [
      row("fa/t0/o1", "alpha", 7, true, 100),
      row("fa/t0/o1", "beta", 7, false, 50),
      row("fa/t0/o1", "alpha", 7, false, 999, "g2#fa/t0/o1#alpha#s7#a0"), // a later duplicate: the first (by id) counts
      row("sb/t0/o1", "alpha", 9, false, 300),
      row("sb/t0/o1", "beta", 9, true, 150),
      row("sb/t0/o1", "gamma", 9, true, 10), // gamma was not in every generation
    ];
    expect(tournamentLog([{ model: "lab-mini", rows }], CATALOG)).toEqual({
      arms: [
        { id: "lab-mini×alpha", model: "lab-mini", strategyId: "alpha", cost: 200 },
        { id: "lab-mini×beta", model: "lab-mini", strategyId: "beta", cost: 100 },
      ],
      costUnit: "tokens",
      instances: [
        {
          id: "fa/t0/o1#s7",
          challengeId: "fa/t0/o1",
          family: "fa",
          context: { category: "finance", level: 1 },
          outcomes: { "lab-mini×alpha": { pass: true, cost: 100 }, "lab-mini×beta": { pass: false, cost: 50 } },
        },
        {
          id: "sb/t0/o1#s9",
          challengeId: "sb/t0/o1",
          family: "sb",
          context: { category: "sales", level: 2 },
          outcomes: { "lab-mini×alpha": { pass: false, cost: 300 }, "lab-mini×beta": { pass: true, cost: 150 } },
        },
      ],
      dropped: ["lab-mini×gamma (played 1 of 2 instances)"],
    });
    expect(() => tournamentLog([{ model: "m", rows: rows.filter((r) => r.strategyId === "alpha") }], CATALOG)).toThrow(/1 arm\(s\) played every one/);
    expect(() => tournamentLog([{ model: "m", rows: [row("zz/t0/o1", "a", 1, true, 1), row("zz/t0/o1", "b", 1, true, 1)] }], CATALOG))
      .toThrow(/challenge 'zz\/t0\/o1' is not in the catalog/);
  });
});

describe("replayLog", () => {
  it("replays a planted log: hindsight figures, pulls and every regret curve agree with the choices", () => {
    const log = plantedLog({ "finance/1": { "m×a": 0.9, "m×b": 0.1 }, "sales/2": { "m×a": 0.1, "m×b": 0.9 } }, 20, 3, { "m×a": 2, "m×b": 1 });
    const r = replayLog(log, { seed: 4 });
    expect(replayLog(log, { seed: 4 }).choices).toEqual(r.choices); // seeded
    expect(replayLog(log, { seed: 5 }).choices).not.toEqual(r.choices);
    const passes = (id: string) => log.instances.filter((i) => i.outcomes[id].pass).length;
    const hindsight = log.arms.map((a) => ({ id: a.id, success: passes(a.id) / 40, cost: a.cost, n: 40, pulls: r.choices.filter((c) => c === a.id).length }));
    const best = hindsight.reduce((b, a) => (a.success > b.success || (a.success === b.success && a.cost < b.cost) ? a : b));
    expect(r.rounds).toBe(40);
    expect(r.arms).toEqual(hindsight);
    expect(r.best).toEqual({ id: best.id, success: best.success, cost: best.cost, n: 40 });
    expect(r.bestShare).toBe(best.pulls / 40);
    const won = Math.round(r.routerSuccess * 40);
    expect(r.regret.at(-1)).toBe(passes(best.id) - won);
    const rate = new Map(hindsight.map((a) => [a.id, a.success]));
    let pr = 0;
    expect(r.pseudoRegret).toEqual(r.choices.map((c) => (pr += best.success - rate.get(c)!)));
    expect(r.contextRegret.at(-1)).toBe(
      passes("m×a") - log.instances.filter((i) => i.context.category === "sales" && i.outcomes["m×a"].pass).length +
        log.instances.filter((i) => i.context.category === "sales" && i.outcomes["m×b"].pass).length - won,
    );
    // The contextual router beats the best fixed arm here: each arm is best in one context.
    expect(r.router.best({ category: "finance", level: 1 })).toBe("m×a");
    expect(r.router.best({ category: "sales", level: 2 })).toBe("m×b");
  });

  it("converges on a planted log: the best arm gets > 80 % of pulls and regret grows sublinearly", () => {
    const log = plantedLog({ "finance/1": { "m×a": 0.35, "m×b": 0.75, "m×c": 0.5 } }, 1500, 8);
    const r = replayLog(log, { seed: 2 });
    expect(r.best.id).toBe("m×b");
    expect(r.bestShare).toBeGreaterThan(0.8);
    const half = r.pseudoRegret[749];
    expect(r.pseudoRegret[1499] - half).toBeLessThan(half / 2);
    expect(r.routerSuccess).toBeGreaterThan(r.best.success - 0.05);
  });
});

describe("ipwValue", () => {
  // Logging policy: arm probabilities per context, known; target: a deterministic arm per context.
  const P = { "finance/1": { a: 0.6, b: 0.3, c: 0.1 }, "sales/2": { a: 0.6, b: 0.2, c: 0.2 } } as Record<string, Record<string, number>>;
  const MU = { "finance/1": { a: 0.3, b: 0.5, c: 0.9 }, "sales/2": { a: 0.5, b: 0.4, c: 0.2 } } as Record<string, Record<string, number>>;
  const target = (ctx: { category: string }) => (ctx.category === "finance" ? "c" : "a");
  const TRUE = 0.5 * 0.9 + 0.5 * 0.5;
  function plantedDecisions(n: number, rand: () => number): LoggedDecision[] {
    return Array.from({ length: n }, () => {
      const key = rand() < 0.5 ? "finance/1" : "sales/2";
      const [category, level] = key.split("/");
      let u = rand();
      const arm = Object.entries(P[key]).find(([, p]) => (u -= p) < 0)?.[0] ?? "c";
      return { context: { category, level: Number(level) }, arm, reward: rand() < MU[key][arm] ? 1 : 0, propensity: P[key][arm] };
    });
  }

  it("is unbiased on planted logs with known propensities, with ~95 % interval coverage, where the naive mean is not", () => {
    const rand = seededRandom(21);
    const estimates: number[] = [];
    const naive: number[] = [];
    let covered = 0;
    for (let rep = 0; rep < 300; rep++) {
      const log = plantedDecisions(400, rand);
      const e = ipwValue(log, target);
      estimates.push(e.value);
      if (e.lo <= TRUE && TRUE <= e.hi) covered++;
      const matched = log.filter((d) => d.arm === target(d.context));
      naive.push(matched.reduce((s, d) => s + d.reward, 0) / matched.length);
    }
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(mean(estimates.map((x) => (x - mean(estimates)) ** 2)));
    expect(Math.abs(mean(estimates) - TRUE)).toBeLessThan(3 * sd / Math.sqrt(300));
    expect(covered / 300).toBeGreaterThan(0.9);
    expect(covered / 300).toBeLessThan(0.99);
    // Matching only, without weights, over-represents the context where the logger favours the target's arm.
    expect(Math.abs(mean(naive) - TRUE)).toBeGreaterThan(0.1);
  });

  it("takes a stochastic target policy, and refuses a log without propensities", () => {
    const log: LoggedDecision[] = [
      { context: { category: "finance", level: 1 }, arm: "a", reward: 1, propensity: 0.5 },
      { context: { category: "finance", level: 1 }, arm: "b", reward: 1, propensity: 0.25 },
      { context: { category: "finance", level: 1 }, arm: "a", reward: 0, propensity: 0.5 },
    ];
    const e = ipwValue(log, () => ({ a: 0.5, b: 0.5 }));
    expect(e.value).toBeCloseTo((1 + 2 + 0) / 3, 12);
    expect(e.selfNormalized).toBeCloseTo(3 / 4, 12);
    expect(e.n).toBe(3);
    expect(() => ipwValue([{ ...log[0], propensity: undefined }], () => "a")).toThrow(/decision 0 has no propensity .* replayLog/);
    expect(() => ipwValue([{ ...log[0], propensity: 0 }], () => "a")).toThrow(/propensity 0; it must be in \(0, 1\]/);
  });
});

describe("cost and quality", () => {
  const arms: ArmSummary[] = [
    { id: "big", success: 0.6, cost: 900, n: 10 },
    { id: "mid", success: 0.6, cost: 400, n: 10 },
    { id: "small", success: 0.4, cost: 100, n: 10 },
    { id: "waste", success: 0.3, cost: 500, n: 10 },
    { id: "near", success: 0.55, cost: 200, n: 10 },
  ];
  it("keeps the undominated arms, cheapest first", () => {
    expect(paretoFrontier(arms).map((a) => a.id)).toEqual(["small", "near", "mid"]);
  });
  it("picks the best arm and the cheapest at equal success, with an optional margin", () => {
    expect(cheapestAtEqualSuccess(arms)).toEqual({ best: arms[1], cheapest: arms[1] });
    expect(cheapestAtEqualSuccess(arms, { tolerance: 0.05 })).toEqual({ best: arms[1], cheapest: arms[4] });
    expect(cheapestAtEqualSuccess([arms[0], arms[4]])).toEqual({ best: arms[0], cheapest: arms[0] });
  });
});

describe("fallbackTable", () => {
  it("counts, for each arm, which other arm recovers the instances it failed", () => {
    const o = (a: boolean, b: boolean, c: boolean) => ({ "m×a": { pass: a, cost: 1 }, "m×b": { pass: b, cost: 2 }, "m×c": { pass: c, cost: 1 } });
    const ctx = { category: "finance", level: 1 };
    const log: FullInfoLog = {
      arms: ["a", "b", "c"].map((s) => ({ id: `m×${s}`, model: "m", strategyId: s, cost: s === "b" ? 2 : 1 })),
      costUnit: "tokens",
      dropped: [],
      instances: [o(false, true, true), o(false, true, false), o(true, false, false), o(false, false, false)].map((outcomes, i) => ({
        id: `i${i}`,
        challengeId: `i${i}`,
        family: "f",
        context: ctx,
        outcomes,
      })),
    };
    const t = fallbackTable(log);
    const r = (first: string, fallback: string, failed: number, recovered: number) => ({ context: "all", first, fallback, failed, recovered, rate: recovered / failed });
    expect(t.rows).toEqual([r("m×a", "m×b", 3, 2), r("m×a", "m×c", 3, 1), r("m×b", "m×a", 2, 1), r("m×b", "m×c", 2, 0), r("m×c", "m×a", 3, 1), r("m×c", "m×b", 3, 1)]);
    // m×c: a and b recover one each; the cheaper (a) wins the tie.
    expect(t.best).toEqual({ "m×a": r("m×a", "m×b", 3, 2), "m×b": r("m×b", "m×a", 2, 1), "m×c": r("m×c", "m×a", 3, 1) });
    expect(Object.keys(fallbackTable(log, { byContext: true }).best)).toEqual(["finance/L1 m×a", "finance/L1 m×b", "finance/L1 m×c"]);
  });
});

describe("routerVsFixed", () => {
  let dir = "";
  let pool: SandboxPool;
  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-router-suite-" });
    const path = join(dir, "tiny.duckdb");
    await buildSandbox(path, { scale: "tiny", asOf: "2025-11-28" });
    pool = await SandboxPool.open(path, { size: 2 });
  }, 60_000);
  afterAll(async () => {
    await pool?.close();
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  it("picks the best and cheapest arms on dev, and routes each test_id challenge to its context's arm", async () => {
    const strategies = (await loadStrategiesConfig()).strategies;
    const strategy = (id: string): Strategy => ({ ...strategies[id], id } as Strategy);
    // Two scripted models that never pass: "terse" submits at once, "wordy" lists the views first (more tokens).
    const terse = () => scriptedModel(() => ({ calls: [{ name: "submitAnswer", args: { answer: 0 } }] }), { name: "terse" });
    const wordy = () =>
      scriptedModel((_req, call) => (call % 2 === 0 ? { calls: [{ name: "viewsList", args: {} }] } : { calls: [{ name: "submitAnswer", args: { answer: 0 } }] }), { name: "wordy" });
    const catalog = await loadCatalog({ level: 1 });
    const dev = catalog.filter((c) => c.split === "dev").slice(0, 3);
    const held = catalog.filter((c) => c.split === "test_id");
    const test = [...held.filter((c) => c.category === held[0].category).slice(0, 2), ...held.filter((c) => c.category !== held[0].category).slice(0, 2)];
    const arms = [{ id: "terse×alpha", model: "terse", strategyId: "alpha" }, { id: "wordy×beta", model: "wordy", strategyId: "beta" }];
    const router = BanditRouter.create(arms, { seed: 1 });
    // Trained so the first test challenge's context goes to wordy×beta and every other to terse×alpha.
    const wordyCtx = { category: test[0].category, level: test[0].level };
    for (let i = 0; i < 5; i++) router.update(wordyCtx, "wordy×beta", { pass: true });
    for (const c of test.slice(1)) {
      if (c.category !== wordyCtx.category) for (let i = 0; i < 5; i++) router.update(c, "terse×alpha", { pass: true });
    }
    const r = await routerVsFixed(
      { router, strategy, dev, test, seeds: [3] },
      { models: (ref) => (ref === "terse" ? terse() : wordy()), pool, concurrency: 2 },
    );
    expect(r.dev.best).toBe("terse×alpha"); // equal success (none), fewer tokens
    expect(r.dev.cheapest).toBe("terse×alpha");
    expect(r.dev.arms.map((a) => [a.id, a.success, a.n])).toEqual([["terse×alpha", 0, 3], ["wordy×beta", 0, 3]]);
    expect(r.dev.arms[0].cost).toBeLessThan(r.dev.arms[1].cost);
    expect(r.dev.frontier.map((a) => a.id)).toEqual(["terse×alpha"]);
    expect(r.test.arms.map((a) => a.id)).toEqual(["best", "router"]);
    const routerEps = r.episodes.test.filter((e) => e.arm === "router");
    expect(routerEps.map((e) => [e.challengeId, e.model, e.strategyId])).toEqual(
      test.map((c) => [c.id, ...(c.category === wordyCtx.category && c.level === wordyCtx.level ? ["wordy", "beta"] : ["terse", "alpha"])]),
    );
    expect(r.routed).toEqual({ "terse×alpha": 2, "wordy×beta": 2 });
    expect(r.comparison.lifts.find((l) => l.arm === "router" && l.level === "all")?.pairs).toBe(test.length);
  }, 30_000);
});
