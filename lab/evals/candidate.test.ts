/**
 * `suiteEvaluator`, the orchestrator's evaluation stand-in: the baseline and the candidate on the same suite
 * (same strategy, challenges and seeds), their paired lift clustered by family, on a scripted suite runner.
 */
import { describe, expect, it } from "vitest";
import type { Challenge } from "../challenges/mod.ts";
import type { Strategy } from "../agents/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import { type Suite, type SuiteEpisode, suiteEvaluator } from "./mod.ts";
import { plantedEpisode } from "./testing.ts";

const challenges = Array.from({ length: 24 }, (_, i) => ({ id: `fam${i % 12}/t0/v${i}`, family: `fam${i % 12}`, level: 1 + (i % 2), split: "dev", templateIndex: 0 })) as unknown as Challenge[];
const strategy = { id: "alpha" } as Strategy;

/** Runs a suite on a script: `better` passes every instance, any other model only the even families. */
function scripted(better: string, suites: Suite[]) {
  return (suite: Suite) => {
    suites.push(suite);
    const episodes: SuiteEpisode[] = suite.arms.flatMap((arm) =>
      suite.challenges.flatMap((c) =>
        suite.seeds.map((seed, attempt) => {
          const pass = arm.model === better || Number(c.family.slice(3)) % 2 === 0;
          return plantedEpisode(arm.id, c.id, pass, {
            template: `${c.family}/t0`, level: c.level, split: c.split, seed, attempt, model: String(arm.model), strategyId: arm.strategy.id, composite: pass ? 1 : 0, tokens: 1,
          });
        })
      )
    );
    return Promise.resolve({ suite: suite.name, arms: suite.arms.map((a) => a.id), challenges: suite.challenges.map((c) => c.id), seeds: [...suite.seeds], episodes });
  };
}

describe("suiteEvaluator", () => {
  const deps = { models: () => { throw new Error("not called"); }, pool: {} as SandboxPool };

  it("runs the baseline and the candidate on the same suite and returns the candidate's family-clustered lift", async () => {
    const suites: Suite[] = [];
    const evaluate = suiteEvaluator({ challenges, seeds: [1, 2], strategy, deps, run: scripted("ft:lab-mini:core:abc", suites), compare: { permutations: { resamples: 200 } } });
    const r = await evaluate({ model: "ft:lab-mini:core:abc", version: "lab-mini-all-v1", baseline: "lab-mini" });
    expect(suites[0].arms.map((a) => [a.id, a.model, a.strategy.id])).toEqual([["baseline", "lab-mini", "alpha"], ["candidate", "ft:lab-mini:core:abc", "alpha"]]);
    expect(suites[0].challenges).toBe(challenges);
    expect(r).toMatchObject({ lift: 0.5, baselineRate: 0.5, candidateRate: 1, pairs: 48, clusters: 12, note: null });
    expect(r.lo!).toBeGreaterThan(0);
    expect(r.hi!).toBeGreaterThanOrEqual(0.5);
  });

  it("gives no interval below the comparison's minimum of families, and a zero lift for equal models", async () => {
    const few = suiteEvaluator({ challenges: challenges.slice(0, 4), seeds: [1], strategy, deps, run: scripted("x", []) });
    expect(await few({ model: "x", version: null, baseline: "lab-mini" })).toMatchObject({ lo: null, hi: null, clusters: 4, note: expect.any(String) });
    const same = suiteEvaluator({ challenges, seeds: [1], strategy, deps, run: scripted("none", []) });
    expect(await same({ model: "a", version: null, baseline: "b" })).toMatchObject({ lift: 0, lo: 0, hi: 0 });
  });
});
