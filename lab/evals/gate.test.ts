/**
 * The regression gate: its calibration by simulation, and its decisions, errors and outputs on planted runs.
 *
 * Calibration. lab-mini is deterministic, so calibrating on agents would prove nothing; the gate is calibrated on
 * planted stochastic outcome vectors ({@linkcode simulateGate}): each family's success rate drawn from 30–70 % (a
 * family random effect), baseline and run outcomes drawn independently, at the default suite size
 * ({@linkcode GATE_DEFAULT_SUITE}). The gate is a 5 % one-sided test, so with no change its false-alarm rate is 5 %
 * in expectation: the check is that 20,000 simulated suites put it at ≤ 5 % up to their own Monte Carlo error
 * (2.58 standard errors, 0.4 points). A gate at one-sided 90 % (a two-sided 95 % bound misread) would fail ~10 %
 * and fail this check, as would a gate that ignored the t quantile's small-sample correction at 10 families.
 */
import { describe, expect, it } from "vitest";
import {
  type Baseline,
  baselineFromRun,
  cumulativeChange,
  type EvalRun,
  formatGateJUnit,
  formatGateMarkdown,
  gate,
  GATE_DEFAULT_SUITE,
  gateDecision,
  gateSuiteSize,
  parseBaseline,
  simulateGate,
  type SuiteEpisode,
} from "./mod.ts";
import { clusteredMeanCI, seededRandom, studentTQuantile } from "../stats/mod.ts";
import { plantedEpisode } from "./testing.ts";

const PINS = {
  catalogHash: "c0",
  models: { base: "lab-mini", ft: "ft:lab-mini:a" },
  patternSnapshot: null,
  strategies: { base: "s", ft: "s" },
};

/** A run over `families` × 3 instances × arms base and ft; `pass(f, i, arm)` plants the outcomes. */
function run(
  families: number,
  pass: (f: number, i: number, arm: string) => boolean,
  fields: Partial<EvalRun> = {},
): EvalRun {
  const episodes: SuiteEpisode[] = [];
  for (const arm of ["base", "ft"]) {
    for (let f = 0; f < families; f++) {
      for (let i = 0; i < 3; i++) {
        episodes.push(
          plantedEpisode(arm, `fam${String(f).padStart(2, "0")}/t0/v${i}`, pass(f, i, arm), { tokens: 10 + i }),
        );
      }
    }
  }
  return {
    suite: "s",
    createdAt: "2026-01-02T00:00:00.000Z",
    commit: "abc",
    pins: structuredClone(PINS),
    shard: null,
    episodes,
    ...fields,
  };
}

describe("the gate's calibration (planted stochastic outcome vectors)", () => {
  it("fails ≤ 5 % of suites with no change, and catches a 10-point drop ≥ 80 % spread evenly or in a fifth of the families", () => {
    const sims = 20_000;
    const none = simulateGate({ scenario: "none", simulations: sims, seed: 11 });
    const even = simulateGate({ scenario: "even", simulations: 2000, seed: 12 });
    const concentrated = simulateGate({ scenario: "concentrated", simulations: 2000, seed: 13 });
    const mc = 2.58 * Math.sqrt(0.05 * 0.95 / sims);
    console.log(
      `gate calibration at ${GATE_DEFAULT_SUITE.families} families × ${GATE_DEFAULT_SUITE.casesPerFamily} cases: ` +
        `false alarms ${(100 * none.failRate).toFixed(2)} % of ${sims}, ` +
        `10-point drop caught ${(100 * even.failRate).toFixed(1)} % (even), ${
          (100 * concentrated.failRate).toFixed(1)
        } % (a fifth of the families)`,
    );
    expect(none.simulations).toBe(sims);
    expect(none.failRate).toBeLessThanOrEqual(0.05 + mc);
    expect(none.failRate).toBeGreaterThan(0.03); // a gate that never fails would pass the line above
    expect(even.failRate).toBeGreaterThanOrEqual(0.8);
    expect(concentrated.failRate).toBeGreaterThanOrEqual(0.8);
  });

  it("finds the suite size the power needs, and the default suite has it", () => {
    const need = gateSuiteSize({
      casesPerFamily: GATE_DEFAULT_SUITE.casesPerFamily,
      simulations: 1000,
      maxFamilies: 64,
      seed: 5,
    })!;
    const per12 = gateSuiteSize({ casesPerFamily: 12, simulations: 1000, maxFamilies: 64, seed: 5 })!;
    for (const n of [need, per12]) {
      console.log(
        `gate power: a 10-point drop is caught ≥ 80 % from ${n.families} families × ${n.casesPerFamily} cases (${n.cases} cases): ` +
          `even ${(100 * n.even).toFixed(1)} %, concentrated ${(100 * n.concentrated).toFixed(1)} %`,
      );
    }
    expect(need.families).toBeLessThanOrEqual(GATE_DEFAULT_SUITE.families);
    expect(need.families).toBeGreaterThan(10); // the concentrated drop needs many families
    expect(per12.families).toBeGreaterThan(need.families); // fewer cases per family: more families
    expect(Math.min(need.even, need.concentrated, per12.even, per12.concentrated)).toBeGreaterThanOrEqual(0.8);
  });

  it("simulates on family means, which gives the gate's decision on the cases exactly (equal family sizes), and decides on clusteredMeanCI's interval", () => {
    const rand = seededRandom(3);
    const cases = Array.from(
      { length: 12 * 5 },
      (_, i) => ({ cluster: `f${Math.floor(i / 5)}`, value: (rand() < 0.4 ? 1 : 0) - (rand() < 0.5 ? 1 : 0) }),
    );
    const means = Array.from({ length: 12 }, (_, f) => ({
      cluster: `f${f}`,
      value: cases.filter((c) => c.cluster === `f${f}`).reduce((s, c) => s + c.value, 0) / 5,
    }));
    const a = gateDecision(cases), b = gateDecision(means);
    expect(b.estimate).toBeCloseTo(a.estimate, 12);
    expect(b.upper).toBeCloseTo(a.upper, 12);
    expect(b.fail).toBe(a.fail);
    // and it is the lab's cluster-robust t interval: the upper bound of clusteredMeanCI's two-sided 90 % interval
    const unequal = cases.slice(3);
    const ci = clusteredMeanCI(unequal, { level: 0.9 });
    expect(gateDecision(unequal)).toMatchObject({ families: 12 });
    expect(gateDecision(unequal).estimate).toBeCloseTo(ci.estimate, 12);
    expect(gateDecision(unequal).upper).toBeCloseTo(ci.hi, 12);
    expect(gateDecision(unequal).se).toBeCloseTo(ci.se, 12);
  });
});

describe("gate", () => {
  const baseline = baselineFromRun(run(12, (_f, i) => i < 2), { now: new Date("2026-01-01T00:00:00Z") });

  it("passes a run equal to its baseline, and reports every metric", () => {
    const r = gate(run(12, (_f, i) => i < 2), baseline);
    expect(r).toMatchObject({
      suite: "s",
      verdict: "pass",
      metric: "pass",
      tolerance: 0,
      primary: { baselineMean: 2 / 3, runMean: 2 / 3, estimate: 0, upper: 0, se: 0, cases: 72, families: 12 },
      worse: 0,
      better: 0,
      worstFamilies: [],
      worseCases: [],
    });
    expect(r.metrics.map((m) => [m.metric, m.gated])).toEqual([
      ["pass", true],
      ["score", false],
      ["composite", false],
      ["querySuccess", false],
      ["steps", false],
      ["tokens", false],
      ["costUsd", false],
      ["latencyMs", false],
    ]);
    expect(r.metrics.find((m) => m.metric === "tokens")).toMatchObject({
      baselineMean: 11,
      runMean: 11,
      estimate: 0,
      cases: 72,
    });
  });

  it("fails iff the one-sided 95 % family-clustered upper bound of run − baseline is below −tolerance", () => {
    // Arm ft loses instance 1 in families 0–7: 8 of 12 families drop by 1/6 (ft's 3 cases of 6 per family).
    const worse = run(12, (f, i, arm) => i < 2 && !(arm === "ft" && f < 8 && i === 1));
    const r = gate(worse, baseline);
    const familyMeans = Array.from({ length: 12 }, (_, f) => (f < 8 ? -1 / 6 : 0));
    const m = familyMeans.reduce((s, x) => s + x, 0) / 12;
    const sd = Math.sqrt(familyMeans.reduce((s, x) => s + (x - m) ** 2, 0) / 11);
    const upper = m + studentTQuantile(0.95, 11) * sd / Math.sqrt(12);
    expect(r.primary.estimate).toBeCloseTo(-8 / 72, 12);
    expect(r.primary.upper).toBeCloseTo(upper, 12);
    expect(r.verdict).toBe("regression");
    expect(r).toMatchObject({ worse: 8, better: 0 });
    expect(r.worstFamilies.map((f) => [f.family, f.cases])).toEqual([["fam00", 6], ["fam01", 6], ["fam02", 6], [
      "fam03",
      6,
    ], ["fam04", 6]]);
    expect(r.worseCases[0]).toEqual({
      arm: "ft",
      challengeId: "fam00/t0/v1",
      seed: 1,
      family: "fam00",
      baseline: 1,
      run: 0,
    });
    // The same drop passes with a tolerance the upper bound stays above, and fails with one it is below.
    expect(gate(worse, baseline, { tolerance: -upper + 0.001 }).verdict).toBe("pass");
    expect(gate(worse, baseline, { tolerance: -upper - 0.001 }).verdict).toBe("regression");
  });

  it("cannot fail on a drop confined to one family (the interval is over families)", () => {
    const r = gate(run(12, (f, i) => i < 2 && !(f === 0)), baseline);
    expect(r.primary.estimate).toBeCloseTo(-4 / 72, 12); // family 0 loses its 4 passes (2 arms × 2)
    expect(r.primary.upper).toBeGreaterThan(0);
    expect(r.verdict).toBe("pass");
  });

  it("refuses other pins, another suite, another metric, a shard, other cases or too few families, naming what differs", () => {
    const same = (_f: number, i: number) => i < 2;
    const pins = structuredClone(PINS);
    pins.models.ft = "ft:lab-mini:b";
    expect(() => gate(run(12, same, { pins }), baseline)).toThrow(
      "pins differ: models.ft is 'ft:lab-mini:b' in the run, 'ft:lab-mini:a' in the baseline; re-record the baseline with --update-baseline if the change is intended",
    );
    expect(() => gate(run(12, same, { pins: { ...PINS, patternSnapshot: "p1" } }), baseline)).toThrow(
      /^pins differ: patternSnapshot is 'p1' in the run, null in the baseline/,
    );
    expect(() => gate(run(12, same, { suite: "t" }), baseline)).toThrow(
      "the run is of suite 't', the baseline of suite 's'",
    );
    expect(() => gate(run(12, same), baseline, { metric: "score" })).toThrow(
      /the baseline declares primary metric 'pass', not 'score'/,
    );
    expect(() => gate(run(12, same, { shard: { index: 1, count: 2 } }), baseline)).toThrow(
      /shard 1\/2 .* merge every shard first/,
    );
    expect(() => gate(run(11, same), baseline)).toThrow(
      /the run lacks 6 of the baseline's 72 cases \(e\.g\. base\/fam11\/t0\/v0\/seed 1\)/,
    );
    expect(() => gate(run(13, same), baseline)).toThrow(/the run has 6 cases the baseline lacks/);
    const small = baselineFromRun(run(9, same));
    expect(() => gate(run(9, same), small)).toThrow(
      "suite 's' has 9 families; the gate's family-clustered interval needs ≥ 10: widen the suite",
    );
  });

  it("writes JUnit XML whose gated case fails only on a regression, and a Markdown summary", () => {
    const bad = gate(run(12, (f, i, arm) => i < 2 && !(arm === "ft" && f < 8 && i === 1)), baseline);
    const xml = formatGateJUnit(bad);
    expect(xml).toMatch(
      /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="eval gate" tests="8" failures="1">/,
    );
    expect(xml.match(/<testcase /g)).toHaveLength(8);
    expect(xml.match(/<failure /g)).toHaveLength(1);
    expect(xml).toMatch(
      /<testcase classname="eval.gate.s" name="pass \(gated\)"><failure message="regression: one-sided 95 % upper bound/,
    );
    expect(formatGateJUnit(gate(run(12, (_f, i) => i < 2), baseline))).not.toMatch(/<failure/);
    const md = formatGateMarkdown(bad);
    expect(md).toMatch(/^## Eval gate: s — REGRESSION\n/);
    expect(md).toContain("| pass | yes | 66.7% | 55.6% | -11.1 pts [");
    expect(md).toContain("- ft fam00/t0/v1 seed 1: 1 → 0");
  });
});

describe("baselines", () => {
  it("round-trip through JSON, keep the first baseline's record on update and give the change since it", () => {
    const first = baselineFromRun(run(12, (_f, i) => i < 1), { now: new Date("2026-01-01T00:00:00Z") });
    const next = baselineFromRun(run(12, (_f, i) => i < 2, { commit: "def" }), {
      previous: first,
      now: new Date("2026-02-01T00:00:00Z"),
    });
    const parsed: Baseline = parseBaseline(JSON.parse(JSON.stringify(next)), "b.json");
    expect(parsed).toEqual(next);
    expect(next).toMatchObject({
      suite: "s",
      metric: "pass",
      created: {
        at: "2026-02-01T00:00:00.000Z",
        commit: "def",
        run: { at: "2026-01-02T00:00:00.000Z", commit: "def" },
      },
      first: { at: "2026-01-01T00:00:00.000Z", commit: "abc", summary: { cases: 72, families: 12 } },
      summary: { cases: 72, families: 12 },
    });
    expect(next.cases[0]).toEqual({
      arm: "base",
      challengeId: "fam00/t0/v0",
      seed: 1,
      family: "fam00",
      split: "dev",
      level: 1,
      pass: true,
      score: 1,
      composite: 0.8,
      tokens: 10,
      costUsd: 0,
      latencyMs: 1,
      queries: 1,
      queriesOk: 1,
      steps: 2,
    });
    const pass = cumulativeChange(next).find((c) => c.metric === "pass")!;
    expect(pass.first).toBeCloseTo(1 / 3, 12);
    expect(pass.now).toBeCloseTo(2 / 3, 12);
    expect(pass.change).toBeCloseTo(1 / 3, 12);
  });

  it("are refused when malformed, with the file and the field", () => {
    expect(() => parseBaseline({ format: "lab-eval-baseline/1", suite: "s" }, "evals/baselines/s.json")).toThrow(
      /^evals\/baselines\/s\.json: not a gate baseline: metric: /,
    );
    expect(() => baselineFromRun(run(12, () => true, { shard: { index: 2, count: 3 } }))).toThrow(
      /shard 2\/3: a baseline needs the whole suite/,
    );
  });
});
