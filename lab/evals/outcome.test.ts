/**
 * Seed 000's outcome table on a planted four-arm run whose every figure is known: rates, changes over base, the
 * 2×2 interaction, seed 000's ratios and its rule judged on the lower bound of the interval.
 *
 * 12 families × 4 instances on dev and test_id, 3 families on test_ood. Instance i passes under base iff i < 1,
 * context iff i < 2, fine-tuned + context iff i < 2, fine-tuned iff i < 3 — except on dev's odd families, where
 * fine-tuned passes only i < 2. Tokens, latency and queries are fixed per arm; nothing costs anything.
 */
import { describe, expect, it } from "vitest";
import { type EvalRun, formatOutcomeMarkdown, outcomeTable, type SuiteEpisode } from "./mod.ts";
import { shardOf } from "./mod.ts";
import { plantedEpisode } from "./testing.ts";

const ARMS = {
  base: { passes: 1, tokens: 100, latencyMs: 1000, queries: 4, queriesOk: 2 },
  context: { passes: 2, tokens: 300, latencyMs: 1500, queries: 4, queriesOk: 3 },
  finetuned: { passes: 3, tokens: 60, latencyMs: 400, queries: 2, queriesOk: 2 },
  finetuned_context: { passes: 2, tokens: 250, latencyMs: 1300, queries: 3, queriesOk: 3 },
} as const;

function episodes(split: string, families: number): SuiteEpisode[] {
  const out: SuiteEpisode[] = [];
  for (const [arm, a] of Object.entries(ARMS)) {
    for (let f = 0; f < families; f++) {
      const passes = arm === "finetuned" && split === "dev" && f % 2 === 1 ? 2 : a.passes;
      for (let i = 0; i < 4; i++) {
        out.push(plantedEpisode(arm, `${split}${f}/t0/v${i}`, i < passes, {
          split,
          tokens: a.tokens,
          latencyMs: a.latencyMs,
          queries: a.queries,
          queriesOk: a.queriesOk,
        }));
      }
    }
  }
  return out;
}

const PINS = { catalogHash: "c", models: {}, patternSnapshot: null, strategies: {} };
const run: EvalRun = {
  suite: "four-arms",
  createdAt: "2026-01-01T00:00:00.000Z",
  commit: null,
  pins: PINS,
  shard: null,
  episodes: [...episodes("dev", 12), ...episodes("test_id", 12), ...episodes("test_ood", 3)],
};

describe("outcomeTable", () => {
  const t = outcomeTable([run], { resamples: 500 });

  it("gives every arm's accuracy, tokens, response time, query success and cost per split", () => {
    expect(t).toMatchObject({
      suites: ["four-arms"],
      arms: ["base", "context", "finetuned", "finetuned_context"],
      splits: ["dev", "test_id", "test_ood"],
    });
    expect(
      t.rows.map((
        r,
      ) => [
        r.split,
        r.arm,
        r.episodes,
        r.families,
        r.accuracy.estimate,
        r.tokens,
        r.latencyMs,
        r.querySuccess,
        r.costUsd,
      ]),
    ).toEqual([
      ["dev", "base", 48, 12, 0.25, 100, 1000, 0.5, 0],
      ["dev", "context", 48, 12, 0.5, 300, 1500, 0.75, 0],
      ["dev", "finetuned", 48, 12, 0.625, 60, 400, 1, 0],
      ["dev", "finetuned_context", 48, 12, 0.5, 250, 1300, 1, 0],
      ["test_id", "base", 48, 12, 0.25, 100, 1000, 0.5, 0],
      ["test_id", "context", 48, 12, 0.5, 300, 1500, 0.75, 0],
      ["test_id", "finetuned", 48, 12, 0.75, 60, 400, 1, 0],
      ["test_id", "finetuned_context", 48, 12, 0.5, 250, 1300, 1, 0],
      ["test_ood", "base", 12, 3, 0.25, 100, 1000, 0.5, 0],
      ["test_ood", "context", 12, 3, 0.5, 300, 1500, 0.75, 0],
      ["test_ood", "finetuned", 12, 3, 0.75, 60, 400, 1, 0],
      ["test_ood", "finetuned_context", 12, 3, 0.5, 250, 1300, 1, 0],
    ]);
    expect(t.rows[0].vsBase).toBeNull();
  });

  it("gives each arm's change over base: points with a family sign-flip p-value, and paired relative changes with intervals", () => {
    const ft = t.rows.find((r) => r.split === "dev" && r.arm === "finetuned")!.vsBase!;
    expect(ft).toMatchObject({ pairs: 48, families: 12 });
    expect(ft.accuracyPoints.estimate).toBeCloseTo(0.375, 12);
    expect(ft.accuracyPoints.lo!).toBeGreaterThan(0.2);
    expect(ft.accuracyPoints.hi!).toBeLessThan(0.55);
    expect(ft.pValue).toBeLessThan(0.01); // every family improves
    expect(ft.change.accuracy.estimate).toBeCloseTo(1.5, 12); // 0.625 / 0.25 − 1
    expect(ft.change.accuracy.lo!).toBeLessThan(1.5);
    expect(ft.change.accuracy.hi!).toBeGreaterThan(1.5);
    expect(ft.change.tokens).toMatchObject({
      lo: expect.closeTo(-0.4, 12),
      hi: expect.closeTo(-0.4, 12),
      pairs: 48,
      families: 12,
    });
    expect(ft.change.tokens.estimate).toBeCloseTo(-0.4, 12); // 60 / 100 − 1, the same in every family
    expect(ft.change.latencyMs.estimate).toBeCloseTo(-0.6, 12);
    expect(ft.change.querySuccess.estimate).toBeCloseTo(1, 12); // 100 % / 50 % − 1
    expect(ft.change.costUsd).toEqual({
      estimate: null,
      lo: null,
      hi: null,
      note: "undefined: the base's total is 0",
      pairs: 48,
      families: 12,
    });
    const ood = t.rows.find((r) => r.split === "test_ood" && r.arm === "context")!;
    expect(ood.accuracy).toEqual({ estimate: 0.5, lo: null, hi: null, note: "3 families: an interval needs ≥ 10" });
    expect(ood.vsBase!.change.tokens).toEqual({
      estimate: 2,
      lo: null,
      hi: null,
      note: "3 families: an interval needs ≥ 10",
      pairs: 12,
      families: 3,
    });
  });

  it("gives the fine-tuning × context interaction per split, with its interval", () => {
    expect(t.interaction.map((i) => [i.split, i.cases, i.families, i.means])).toEqual([
      ["dev", 48, 12, { base: 0.25, context: 0.5, finetuned: 0.625, finetunedContext: 0.5 }],
      ["test_id", 48, 12, { base: 0.25, context: 0.5, finetuned: 0.75, finetunedContext: 0.5 }],
      ["test_ood", 12, 3, { base: 0.25, context: 0.5, finetuned: 0.75, finetunedContext: 0.5 }],
    ]);
    const [dev, testId, ood] = t.interaction;
    expect(dev.estimate).toBeCloseTo(-0.375, 12); // (0.5 − 0.625) − (0.5 − 0.25)
    expect(dev.lo!).toBeLessThan(-0.375);
    expect(dev.hi!).toBeGreaterThan(-0.375);
    expect(dev.hi!).toBeLessThan(0);
    expect(dev.pValue).toBeLessThan(0.01);
    expect(testId).toMatchObject({ estimate: -0.5, lo: -0.5, hi: -0.5 }); // every family alike
    expect(ood).toMatchObject({ estimate: -0.5, lo: null, hi: null, note: "3 families: an interval needs ≥ 10" });
  });

  it("computes seed 000's ratios as seed 000 does and judges its rule on the lower bound of the accuracy improvement", () => {
    const [dev, testId, ood] = t.seed000;
    expect(dev.split).toBe("dev");
    expect(dev.accuracyImprovement.estimate).toBeCloseTo(0.25, 12); // 0.625 / 0.5 − 1: above 20 %…
    expect(dev.accuracyImprovement.lo!).toBeLessThan(0.2); // …but not its lower bound
    expect(dev.verdict).toBe("do not deploy");
    expect(dev.reason).toMatch(/^lower bound \d+\.\d % ≤ 20\.0 % \(estimate 25\.0 %\)$/);
    expect(dev.speedImprovement.estimate).toBeCloseTo(2.75, 12); // 1500 / 400 − 1
    expect(dev.tokenReduction.estimate).toBeCloseTo(0.8, 12); // 1 − 60 / 300
    expect(testId).toMatchObject({ split: "test_id", verdict: "deploy", reason: "lower bound 50.0 % > 20.0 %" });
    expect(ood).toMatchObject({ split: "test_ood", verdict: "undetermined" });
    expect(t.rule).toMatchObject({ split: "test_id", verdict: "deploy", threshold: 0.2 });
    expect(outcomeTable([run], { resamples: 200, ruleSplit: "dev" }).rule).toMatchObject({
      split: "dev",
      verdict: "do not deploy",
    });
  });

  it("writes Markdown with a table per split, the interaction and the rule's verdict", () => {
    const md = formatOutcomeMarkdown(t);
    expect(md).toMatch(/^## Outcome table \(seed 000\): four-arms\n\n### dev\n/);
    expect(md).toContain("| base | 48 | 25.0 % [");
    expect(md).toContain("| finetuned | 48 | 62.5 % [");
    expect(md).toContain(
      "| 60.0 | -40.0 % [-40.0 %, -40.0 %] | 400.0 | -60.0 % [-60.0 %, -60.0 %] | 100.0 % | +100.0 % [",
    );
    expect(md).toContain("| test_id | 25.0 % | 50.0 % | 75.0 % | 50.0 % | -50.0 pts [-50.0, -50.0] |");
    expect(md).toContain("**Verdict: deploy** — lower bound 50.0 % > 20.0 %.");
    expect(md).toContain(
      "| test_id | +50.0 % [+50.0 %, +50.0 %] | +275.0 % [+275.0 %, +275.0 %] | +80.0 % [+80.0 %, +80.0 %] | 48 | 12 | deploy |",
    );
  });

  it("merges the shards of a run, concatenates whole runs, and refuses a case given twice or a missing base arm", () => {
    const shards = [1, 2].map((index) => ({
      ...run,
      shard: { index, count: 2 },
      episodes: run.episodes.filter((e) => shardOf(e.challengeId, 2) === index),
    }));
    expect(outcomeTable(shards, { resamples: 200 }).rows).toEqual(outcomeTable([run], { resamples: 200 }).rows);
    const dev = { ...run, episodes: run.episodes.filter((e) => e.split === "dev") };
    const test = { ...run, suite: "other", episodes: run.episodes.filter((e) => e.split !== "dev") };
    expect(outcomeTable([dev, test], { resamples: 200 })).toMatchObject({
      suites: ["four-arms", "other"],
      splits: ["dev", "test_id", "test_ood"],
    });
    expect(() => outcomeTable([run, dev])).toThrow(
      "outcome: case base/dev0/t0/v0/seed 1 appears in two runs; pass each run once",
    );
    expect(() => outcomeTable([shards[0], run])).toThrow(/some runs are shards and some are not/);
    expect(() => outcomeTable([run], { roles: { base: "nope" } })).toThrow(
      /no episode of the base arm 'nope'; arms: base, context/,
    );
  });
});
