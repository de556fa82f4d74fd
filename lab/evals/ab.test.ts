/**
 * A/B shadow testing (seed 001): win/tie/loss scoring, the sign test and Wilson interval against scipy's values,
 * the fixed-horizon recommendation at its thresholds, its false-promotion rate when read after every comparison
 * (simulated), the seeded stream, the evaluator on a scripted suite runner driving a registry version through the
 * orchestrator to awaiting promotion, and the test_id re-estimate.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { Challenge } from "../challenges/mod.ts";
import type { Strategy } from "../agents/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import { CycleStore, finetuneConfig, orchestrateOnce, Registry } from "../finetune/mod.ts";
import { seededRandom } from "../stats/mod.ts";
import { fnv1a } from "../util/mod.ts";
import {
  abEvaluator,
  abOutcome,
  abReport,
  abTest,
  type AbOutcome,
  reestimateOnTestId,
  SEED_001_AB_CRITERIA,
  shadowStream,
  signTest,
  type Suite,
  type SuiteEpisode,
  TEST_ID_METRIC,
} from "./mod.ts";
import { plantedEpisode } from "./testing.ts";

const challenges = (split: string) =>
  Array.from({ length: 24 }, (_, i) => ({ id: `fam${i % 12}/t0/v${i}`, family: `fam${i % 12}`, level: 1 + (i % 2), split, templateIndex: 0 })) as unknown as Challenge[];
const dev = challenges("dev");
const strategy = { id: "alpha" } as Strategy;
const deps = { models: () => { throw new Error("not called"); }, pool: {} as SandboxPool };
const CANDIDATE = "ft:lab-mini:core:abc";

/**
 * The script: h = fnv1a(challenge:seed) % 100. The champion (any other model) passes h < 40; the candidate passes
 * 10 ≤ h < 80: wins on [40, 80), losses on [0, 10), ties elsewhere (a win rate of 0.8 among non-tied).
 */
const h = (challengeId: string, seed: number) => fnv1a(`${challengeId}:${seed}`) % 100;
const passes = (model: string, challengeId: string, seed: number) => {
  const x = h(challengeId, seed);
  return model === CANDIDATE ? x >= 10 && x < 80 : x < 40;
};
function scripted(suites: Suite[]) {
  return (suite: Suite) => {
    suites.push(suite);
    const episodes: SuiteEpisode[] = suite.arms.flatMap((arm) =>
      suite.challenges.flatMap((c) =>
        suite.seeds.map((seed, attempt) =>
          plantedEpisode(arm.id, c.id, passes(String(arm.model), c.id, seed), { level: c.level, split: c.split, seed, attempt, model: String(arm.model), strategyId: arm.strategy.id })
        )
      )
    );
    return Promise.resolve({ suite: suite.name, arms: suite.arms.map((a) => a.id), challenges: suite.challenges.map((c) => c.id), seeds: [...suite.seeds], episodes });
  };
}

const ep = (fields: Partial<SuiteEpisode>) => plantedEpisode("x", "fam/t0/v0", true, fields);
const times = (n: number, o: AbOutcome): AbOutcome[] => Array(n).fill(o);

describe("A/B scoring and statistics", () => {
  it("scores a shadowed task by verifier score, then cost; equal on both is a tie", () => {
    expect(abOutcome(ep({ score: 0.5 }), ep({ score: 1 }))).toBe("win");
    expect(abOutcome(ep({ score: 1, costUsd: 0 }), ep({ score: 0.5, costUsd: 0 }))).toBe("loss");
    expect(abOutcome(ep({ score: 1, costUsd: 0.02 }), ep({ score: 1, costUsd: 0.01 }))).toBe("win");
    expect(abOutcome(ep({ score: 0, costUsd: 0.01 }), ep({ score: 0, costUsd: 0.02 }))).toBe("loss");
    expect(abOutcome(ep({ score: 0.7, costUsd: 0.01 }), ep({ score: 0.7 + 1e-12, costUsd: 0.01 }))).toBe("tie");
    // a higher score wins even at a higher cost; a custom cost (tokens) breaks ties
    expect(abOutcome(ep({ score: 0.5, costUsd: 0 }), ep({ score: 0.6, costUsd: 9 }))).toBe("win");
    expect(abOutcome(ep({ score: 1, tokens: 900 }), ep({ score: 1, tokens: 400 }), { cost: (e) => e.tokens })).toBe("win");
  });

  it("gives scipy's exact two-sided sign test p-values and Wilson 95 % intervals", () => {
    // scipy.stats.binomtest(w, w + l, 0.5).pvalue and .proportion_ci(0.95, "wilson")
    const cases: [number, number, number, number, number][] = [
      [65, 35, 0.0035176417229701587, 0.5525444329688796, 0.7363575175690247],
      [60, 40, 0.05688793364098089, 0.5020025867910618, 0.6905987135675411],
      [61, 39, 0.035200200217704855, 0.5120301704584073, 0.6998312599360558],
      [10, 2, 0.03857421875, 0.5519691377470266, 0.953034857816146],
      [0, 5, 0.0625, 0, 0.43448246478317476],
      [500, 450, 0.11183864514157894, 0.49452288285052404, 0.5578967300082195],
    ];
    for (const [w, l, p, lo, hi] of cases) {
      expect(signTest(w, l).pValue, `${w}/${l}`).toBeCloseTo(p, 12);
      const r = abReport([...times(w, "win"), ...times(l, "loss")], { minNonTied: w + l });
      expect(r.interval!.lo, `${w}/${l} lo`).toBeCloseTo(lo, 6);
      expect(r.interval!.hi, `${w}/${l} hi`).toBeCloseTo(hi, 6);
      expect(r.pValue).toBe(signTest(w, l).pValue);
    }
    expect(signTest(50, 50)).toEqual({ wins: 50, losses: 50, n: 100, pValue: 1 });
    expect(signTest(0, 0)).toEqual({ wins: 0, losses: 0, n: 0, pValue: 1 });
    // n = 1100, where 0.5 ** n underflows to 0
    expect(signTest(500, 600).pValue).toBeCloseTo(0.0028195449914364284, 12);
    expect(signTest(580, 520).pValue).toBeCloseTo(0.0752055336026395, 12);
    expect(() => signTest(1.5, 2)).toThrow("signTest: wins must be a non-negative integer, found 1.5");
  });
});

describe("the A/B recommendation (fixed horizon)", () => {
  it("promotes at exactly 100 non-tied comparisons with a 65 % win rate, ties excluded", () => {
    const outcomes = [...times(30, "tie"), ...times(65, "win"), ...times(35, "loss")];
    expect(abReport(outcomes)).toEqual({
      procedure: "fixed-horizon",
      criteria: { ...SEED_001_AB_CRITERIA },
      stage: "final",
      wins: 65,
      ties: 30,
      losses: 35,
      nonTied: 100,
      winRate: 0.65,
      interval: { lo: expect.closeTo(0.5525444, 6), hi: expect.closeTo(0.7363575, 6) },
      pValue: expect.closeTo(0.0035176, 6),
      ignored: 0,
      recommendation: "promote_B",
      reasons: [
        "100 non-tied comparisons: the horizon (65 wins, 35 losses, 30 ties)",
        "win rate 65.0 % [55.3 %, 73.6 %] ≥ 65.0 %",
        "sign test p = 0.0035 < 0.05",
      ],
    });
  });

  it("keeps A below the win rate even when significant, and waits for the horizon whatever the interim figures", () => {
    const keep = abReport([...times(64, "win"), ...times(36, "loss")]);
    expect(keep).toMatchObject({ stage: "final", recommendation: "keep_A", winRate: 0.64, pValue: expect.closeTo(signTest(64, 36).pValue, 12) });
    expect(keep.reasons.slice(1)).toEqual(["win rate 64.0 % [54.2 %, 72.7 %] < 65.0 %", `sign test p = 0.0066 < 0.05`]);
    expect(abReport([...times(30, "win"), ...times(70, "loss")]).reasons.slice(1)).toEqual(["win rate 30.0 % [21.9 %, 39.6 %] < 65.0 %", "sign test p = 7.85e-5 < 0.05 (in the champion's favour)"]);
    // 99 non-tied comparisons, all wins: nothing is decided yet
    const early = abReport([...times(99, "win"), ...times(40, "tie")]);
    expect(early).toMatchObject({ stage: "interim", recommendation: "need_more_data", nonTied: 99, winRate: 1 });
    expect(early.reasons).toEqual([
      "99 of the 100 non-tied comparisons the fixed horizon decides on (99 wins, 0 losses, 40 ties); interim figures decide nothing (win rate 100.0 % [96.3 %, 100.0 %])",
    ]);
    expect(abReport([]).reasons).toEqual(["0 of the 100 non-tied comparisons the fixed horizon decides on (0 wins, 0 losses, 0 ties); interim figures decide nothing (no win rate yet)"]);
  });

  it("decides on p < alpha at the threshold when the win-rate criterion is relaxed, and ignores what follows the horizon", () => {
    const c = { minWinRate: 0.5 };
    expect(abReport([...times(61, "win"), ...times(39, "loss")], c)).toMatchObject({ recommendation: "promote_B", reasons: [expect.any(String), expect.any(String), "sign test p = 0.0352 < 0.05"] });
    expect(abReport([...times(60, "win"), ...times(40, "loss")], c)).toMatchObject({ recommendation: "keep_A", reasons: [expect.any(String), expect.any(String), "sign test p = 0.0569 ≥ 0.05"] });
    // the 50 losses after the horizon change nothing: they are counted as ignored
    const late = abReport([...times(65, "win"), ...times(35, "loss"), ...times(50, "loss"), "tie"]);
    expect(late).toMatchObject({ recommendation: "promote_B", wins: 65, losses: 35, ties: 0, ignored: 51 });
    expect(() => abReport([], { minWinRate: 0.4 })).toThrow("A/B criteria: minWinRate must be in [0.5, 1] (below 0.5 a losing candidate could pass), found 0.4");
    expect(() => abReport([], { minNonTied: 0 })).toThrow("A/B criteria: minNonTied must be a positive integer, found 0");
  });

  it("promotes ≤ 5 % of the time under no difference when read after every comparison; naive peeking would not hold", () => {
    const RUNS = 2000, LENGTH = 300, TIE = 0.3;
    const rand = seededRandom(2024);
    type Check = (w: number, l: number, t: ReturnType<typeof abTest>) => "promoted" | "final" | "open";
    /** The share of streams promoted: `check` reads after every comparison, until it promotes or its decision is final. */
    const simulate = (pWin: number, check: Check, criteria = {}, runs = RUNS) => {
      let count = 0;
      for (let r = 0; r < runs; r++) {
        const t = abTest(criteria);
        let w = 0, l = 0;
        for (let i = 0; i < LENGTH; i++) {
          const u = rand();
          const o: AbOutcome = u < TIE ? "tie" : u < TIE + (1 - TIE) * pWin ? "win" : "loss";
          if (o === "win") w++;
          if (o === "loss") l++;
          t.add(o);
          const state = check(w, l, t);
          if (state === "promoted") count++;
          if (state !== "open") break;
        }
      }
      return count / runs;
    };
    // a final report never changes (the horizon test above), so a stream can stop there
    const byProcedure: Check = (_w, _l, t) => {
      const r = t.report();
      return r.recommendation === "promote_B" ? "promoted" : r.stage === "final" ? "final" : "open";
    };
    const relaxed = { minNonTied: 20, minWinRate: 0.5 };
    const seed001 = simulate(0.5, byProcedure);
    const relaxedRate = simulate(0.5, byProcedure, relaxed);
    // the same p-value and win rate, re-tested on all comparisons so far after each one (what the procedure forbids)
    const crit = Array.from({ length: LENGTH + 1 }, (_, n) => {
      for (let w = Math.ceil(n / 2); w <= n; w++) if (signTest(w, n - w).pValue < 0.05) return w;
      return Infinity;
    });
    const naive = simulate(0.5, (w, l) => (w + l >= 20 && w >= crit[w + l] ? "promoted" : "open"));
    const power = simulate(0.75, byProcedure, {}, 500);
    console.log(`false promotions under no difference, read after every comparison (${RUNS} runs of ${LENGTH}): seed 001 ${seed001}, relaxed ${relaxedRate}, naive peeking ${naive}; promotions at a 75 % win rate (500 runs): ${power}`);
    expect(seed001).toBeLessThanOrEqual(0.05);
    expect(relaxedRate).toBeLessThanOrEqual(0.05);
    expect(naive).toBeGreaterThan(0.1);
    expect(power).toBeGreaterThanOrEqual(0.9);
  });
});

describe("the shadow stream", () => {
  it("is seeded: passes over the pool in seeded orders with the next episode seed, ≈ 20 % shadowed, a longer stream extending a shorter one", () => {
    const s = shadowStream(dev, { seed: 3, length: 5000 });
    expect(shadowStream(dev, { seed: 3, length: 5000 })).toEqual(s);
    expect(shadowStream(dev, { seed: 3, length: 100 })).toEqual(s.slice(0, 100));
    expect(s.map((t) => t.index)).toEqual([...Array(5000).keys()]);
    for (const pass of [0, 1, 7]) {
      const tasks = s.slice(pass * 24, pass * 24 + 24);
      expect(tasks.map((t) => t.challenge.id).sort()).toEqual(dev.map((c) => c.id).sort());
      expect(new Set(tasks.map((t) => t.seed))).toEqual(new Set([pass + 1]));
    }
    expect(s.slice(0, 24).map((t) => t.challenge.id)).not.toEqual(s.slice(24, 48).map((t) => t.challenge.id));
    const rate = s.filter((t) => t.shadowed).length / s.length;
    expect(rate).toBeGreaterThan(0.18);
    expect(rate).toBeLessThan(0.22);
    expect(shadowStream(dev, { seed: 4, length: 5000 }).map((t) => t.shadowed)).not.toEqual(s.map((t) => t.shadowed));
    expect(shadowStream(dev, { rate: 0.5, length: 4000 }).filter((t) => t.shadowed).length / 4000).toBeCloseTo(0.5, 1);
    expect(() => shadowStream([], {})).toThrow("shadowStream: the pool has no challenges");
    expect(() => shadowStream(dev, { rate: 0 })).toThrow("shadowStream: rate must be in (0, 1], found 0");
  });
});

describe("abEvaluator", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-ab-" });
  });
  afterAll(() => Deno.remove(dir, { recursive: true }));

  it("compares the shadowed tasks in stream order up to the horizon and recommends promote_B for a better candidate", async () => {
    const suites: Suite[] = [];
    const stream = { seed: 5, length: 1500 };
    const evaluate = abEvaluator({ challenges: dev, strategy, deps, stream, run: scripted(suites) });
    const r = await evaluate({ model: CANDIDATE, version: "lab-mini-all-v1", baseline: "lab-mini" });
    // the oracle: the script applied to the stream's shadowed tasks, up to the 100th non-tied one
    const expected: { index: number; challengeId: string; seed: number; outcome: AbOutcome }[] = [];
    let nonTied = 0;
    for (const t of shadowStream(dev, stream).filter((t) => t.shadowed)) {
      if (nonTied === 100) break;
      const a = passes("lab-mini", t.challenge.id, t.seed), b = passes(CANDIDATE, t.challenge.id, t.seed);
      const outcome: AbOutcome = a === b ? "tie" : b ? "win" : "loss";
      if (outcome !== "tie") nonTied++;
      expected.push({ index: t.index, challengeId: t.challenge.id, seed: t.seed, outcome });
    }
    const tally = (o: AbOutcome) => expected.filter((e) => e.outcome === o).length;
    // the last suite run may reach past the horizon: those comparisons are listed, and ignored
    const compared = r.comparisons.map(({ index, challengeId, seed, outcome }) => ({ index, challengeId, seed, outcome }));
    expect(compared.slice(0, expected.length)).toEqual(expected);
    expect(compared).toEqual(shadowStream(dev, stream).filter((t) => t.shadowed).slice(0, compared.length).map((t) => ({ index: t.index, challengeId: t.challenge.id, seed: t.seed, outcome: expect.any(String) })));
    expect(r.ab).toEqual(abReport(compared.map((e) => e.outcome)));
    expect(r).toMatchObject({
      recommendation: "promote_B",
      reasons: r.ab.reasons,
      ab: { stage: "final", nonTied: 100, wins: tally("win"), losses: tally("loss"), ties: tally("tie"), ignored: compared.length - expected.length },
      shadowed: compared.length,
      streamTasks: compared.at(-1)!.index + 1,
      pairs: expected.length,
      clusters: 12,
      note: null,
    });
    expect(r.ab.winRate!).toBeGreaterThanOrEqual(0.65);
    // the port's lift: the candidate's paired pass lift clustered by family, on the decision's tasks
    const rate = (m: string) => expected.filter((e) => passes(m, e.challengeId, e.seed)).length / expected.length;
    expect(r.baselineRate).toBeCloseTo(rate("lab-mini"), 12);
    expect(r.candidateRate).toBeCloseTo(rate(CANDIDATE), 12);
    expect(r.lift).toBeCloseTo(rate(CANDIDATE) - rate("lab-mini"), 12);
    expect(r.lo!).toBeGreaterThan(0);
    // every suite: the champion is the request's baseline, the candidate its model, one episode seed, the same strategy
    for (const s of suites) {
      expect(s.arms.map((a) => [a.id, a.model, a.strategy.id])).toEqual([["champion", "lab-mini", "alpha"], ["candidate", CANDIDATE, "alpha"]]);
      expect(s.seeds).toHaveLength(1);
    }
    expect(suites.flatMap((s) => s.challenges.map((c) => `${c.id}:${s.seeds[0]}`)).sort()).toEqual(compared.map((e) => `${e.challengeId}:${e.seed}`).sort());
    expect(compared.length - expected.length).toBeLessThan(50);
  });

  it("says need_more_data when the stream ends before the horizon (equal models only tie)", async () => {
    const r = await abEvaluator({ challenges: dev, strategy, deps, stream: { length: 200 }, run: scripted([]) })({ model: "lab-mini-copy", version: null, baseline: "lab-mini" });
    const shadowed = shadowStream(dev, { length: 200 }).filter((t) => t.shadowed).length;
    expect(r).toMatchObject({ recommendation: "need_more_data", lift: 0, lo: 0, hi: 0, shadowed, ab: { stage: "interim", wins: 0, losses: 0, ties: shadowed } });
    expect(r.reasons).toEqual([
      `0 of the 100 non-tied comparisons the fixed horizon decides on (0 wins, 0 losses, ${shadowed} ties); interim figures decide nothing (no win rate yet)`,
      `the 200-task stream ended (${shadowed} shadowed): lengthen it or raise the rate`,
    ]);
  });

  it("drives a registry version through the orchestrator's evaluating state to awaiting promotion", async () => {
    const registry = await Registry.open(join(dir, "registry.duckdb"));
    const v = await registry.register({
      base: "lab-mini", category: "all", provider: "lab", providerModel: CANDIDATE, trainedFrom: "lab-mini", datasetHash: "d".repeat(64), jobId: "ftjob-1", stage: "core", parent: null, metrics: {},
    });
    const store = new CycleStore(registry.path);
    const opened = await store.open("lab-mini", "all", { gold: 600, total: 2100, avgQuality: 0.9 }, "h".repeat(64), "new data");
    await store.update(opened, { state: "evaluating", version: v.name, baseline: null, reason: `trained ${v.name}` });
    const notCalled = () => Promise.reject(new Error("not called in evaluating"));
    const evaluate = abEvaluator({ challenges: dev, strategy, deps, stream: { seed: 5, length: 1500 }, run: scripted([]) });
    const r = await orchestrateOnce({ registry, collect: notCalled, client: notCalled, evaluate }, { config: finetuneConfig({}).orchestrator });
    expect(r.cycle).toMatchObject({ state: "awaiting_promotion", version: v.name, evaluation: { recommendation: "promote_B", ab: { stage: "final", nonTied: 100 } } });
    expect(r.message).toMatch(new RegExp(`^cycle lab-mini/all/1 awaits promotion: A/B promote_B: .+; lift over lab-mini \\+0\\.\\d{3} \\[0\\.\\d{3}, 0\\.\\d{3}\\]; auto_promote is off \\('lab finetune promote ${v.name}'\\)$`));
    expect((await registry.get(v.name)).status).toBe("awaiting_promotion");
    expect((await registry.audit(v.name)).map((a) => [a.from, a.to, a.actor])).toEqual([[null, "candidate", expect.any(String)], ["candidate", "awaiting_promotion", "orchestrator"]]);
    expect((await registry.events({ version: v.name })).map((e) => e.type)).toEqual(["fine_tuning.completed", "fine_tuning.ready_for_promotion"]);
  });
});

describe("reestimateOnTestId", () => {
  it("measures the promoted version on test_id, with its paired lift over a baseline, and records it on the version", async () => {
    const recorded: [string, Record<string, unknown>][] = [];
    const record = (name: string, m: Record<string, unknown>) => Promise.resolve(void recorded.push([name, m]));
    const testId = challenges("test_id");
    const r = await reestimateOnTestId({ name: "lab-mini-all-v1", providerModel: CANDIDATE }, { challenges: testId, seeds: [1, 2], strategy, deps, record, baseline: "lab-mini", run: scripted([]) });
    const rate = (m: string) => testId.flatMap((c) => [1, 2].map((s) => passes(m, c.id, s))).filter(Boolean).length / 48;
    expect(r).toEqual({
      split: "test_id",
      rate: rate(CANDIDATE),
      lo: expect.any(Number),
      hi: expect.any(Number),
      episodes: 48,
      families: 12,
      note: null,
      lift: { baseline: "lab-mini", estimate: expect.closeTo(rate(CANDIDATE) - rate("lab-mini"), 12), lo: expect.any(Number), hi: expect.any(Number), pValue: expect.any(Number) },
      at: expect.any(String),
    });
    expect(r.lo! < r.rate && r.rate < r.hi!).toBe(true);
    expect(recorded).toEqual([["lab-mini-all-v1", { [TEST_ID_METRIC]: r }]]);
    await expect(reestimateOnTestId({ name: "v", providerModel: CANDIDATE }, { challenges: dev, seeds: [1], strategy, deps, record, run: scripted([]) }))
      .rejects.toThrow("reestimateOnTestId: fam0/t0/v0 is in split 'dev'; pass test_id instances (the version was selected on dev)");
    expect(recorded).toHaveLength(1);
  });
});
