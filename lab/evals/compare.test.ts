/**
 * `compare`: whole results on a small fixture, and the A/A coverage of its family-clustered intervals.
 *
 * The A/A simulation draws suites shaped like the catalog's held-out splits (families of 2–4 templates, 2–5
 * instances each, 2 seeds) where the two arms are equally good on average but each is better on some families and
 * worse on others (a per-arm, per-family effect): what two fine-tuned versions or two prompts look like. The true lift
 * is 0; the family-clustered 95 % interval must cover it in 93–97 % of 2,000 suites. Clustering by instance,
 * which ignores the family effect, must cover clearly less: that is what the family rule fixes.
 */
import { describe, expect, it } from "vitest";
import { type ClusterBy, compare, formatEstimate, liftCell, rateCell, type SuiteEpisode } from "./mod.ts";
import { seededRandom } from "../stats/mod.ts";
import { plantedEpisode } from "./testing.ts";

function episode(arm: string, family: string, t: number, i: number, seed: number, pass: boolean, level = 1): SuiteEpisode {
  return plantedEpisode(arm, `${family}/t${t}/v${i}/o1`, pass, { level, seed, attempt: seed - 1 });
}

describe("compare", () => {
  // 12 families at level 1 (the treatment passes one more instance of every family) and 3 at level 2.
  const eps: SuiteEpisode[] = [];
  for (let f = 0; f < 15; f++) {
    const level = f < 12 ? 1 : 2;
    for (let i = 0; i < 2; i++) {
      eps.push(episode("base", `fam${f}`, 0, i, 1, i === 0 && f % 2 === 0, level));
      eps.push(episode("treated", `fam${f}`, 0, i, 1, i === 0 || f % 2 === 0, level));
    }
  }
  eps.push(episode("treated", "fam0", 0, 9, 1, true)); // no control episode: not paired

  it("gives rates and paired lifts per level, clustered by family, with p-values", () => {
    const c = compare(eps, { control: "base", permutations: { resamples: 500 } });
    expect(c).toMatchObject({ control: "base", metric: "pass", clusterBy: "family", minClusters: 10, levels: [1, 2] });
    expect(c.rates.map((r) => [r.arm, r.level, r.episodes, r.clusters, r.passes])).toEqual([
      ["base", 1, 24, 12, 6],
      ["base", 2, 6, 3, 2],
      ["base", "all", 30, 15, 8],
      ["treated", 1, 25, 12, 19],
      ["treated", 2, 6, 3, 5],
      ["treated", "all", 31, 15, 24],
    ]);
    const all = liftCell(c, "treated")!;
    expect(all).toMatchObject({ pairs: 30, clusters: 15, controlMean: 8 / 30, armMean: 23 / 30 });
    expect(all.estimate).toBeCloseTo(0.5, 12);
    expect(all.lo!).toBeGreaterThan(0.3);
    expect(all.hi!).toBeLessThanOrEqual(0.7);
    expect(all.pValue).toBe(1 / 501); // every family moved the same way: no flip of 500 is as extreme
    expect(all.mcnemar).toMatchObject({ b: 0, c: 15 });
  });

  it("shows a cell with fewer than 10 clusters without an interval, and says why", () => {
    const c = compare(eps, { control: "base", permutations: { resamples: 200 } });
    const l2 = liftCell(c, "treated", 2)!;
    expect(l2).toMatchObject({ estimate: 0.5, lo: null, hi: null, clusters: 3, note: "3 families: an interval needs ≥ 10" });
    expect(formatEstimate(l2, { signed: true })).toBe("+50.0 (no interval: 3 families: an interval needs ≥ 10)");
    expect(rateCell(c, "base", 2)).toMatchObject({ estimate: 2 / 6, lo: null, hi: null });
    expect(formatEstimate(rateCell(c, "base", 1)!)).toMatch(/^25\.0 \[\d+\.\d, \d+\.\d\]$/);
  });

  it("refuses an unknown control or arm", () => {
    expect(() => compare(eps, { control: "nope" })).toThrow(/no episode of the control arm 'nope'; arms: base, treated/);
    expect(() => compare(eps, { control: "base", arms: ["x"] })).toThrow(/no episode of arm 'x'/);
  });
});

/** One A/A suite: arms equal on average, each better on some families (logit effect ±). */
function aaSuite(families: number, rand: () => number): SuiteEpisode[] {
  const out: SuiteEpisode[] = [];
  const logistic = (x: number) => 1 / (1 + Math.exp(-x));
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  for (let f = 0; f < families; f++) {
    const base = normal() * 1.2 - 0.5;
    const effect = { a: normal() * 1.0, b: normal() * 1.0 };
    const templates = 2 + Math.floor(rand() * 3);
    for (let t = 0; t < templates; t++) {
      const instances = 2 + Math.floor(rand() * 4);
      for (let i = 0; i < instances; i++) {
        const inst = normal() * 0.5;
        for (const seed of [1, 2]) {
          for (const arm of ["a", "b"] as const) {
            out.push(episode(arm, `f${f}`, t, i, seed, rand() < logistic(base + inst + effect[arm])));
          }
        }
      }
    }
  }
  return out;
}

function coverage(clusterBy: ClusterBy, sims: number, seed: number): number {
  const rand = seededRandom(seed);
  let covered = 0;
  for (let s = 0; s < sims; s++) {
    const families = [10, 12, 16, 24, 30][s % 5];
    const c = compare(aaSuite(families, rand), { control: "a", clusterBy, permutations: { resamples: 1 } });
    const l = liftCell(c, "b")!;
    if (l.lo! <= 0 && 0 <= l.hi!) covered++;
  }
  return covered / sims;
}

describe("A/A coverage of the family-clustered lift interval", () => {
  it("covers the true lift (0) in 93–97 % of 2,000 simulated suites; clustering by instance covers clearly less", () => {
    const family = coverage("family", 2000, 20261205);
    const instance = coverage("challenge", 500, 1);
    console.log(`A/A coverage: family ${(100 * family).toFixed(1)} % (2,000 suites), instance ${(100 * instance).toFixed(1)} % (500)`);
    expect(family).toBeGreaterThanOrEqual(0.93);
    expect(family).toBeLessThanOrEqual(0.97);
    expect(instance).toBeLessThan(0.9);
  });
});
