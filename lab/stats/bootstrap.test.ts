import { describe, expect, it } from "vitest";
import {
  adjustedLevel,
  bootstrapCI,
  type ClusteredValue,
  mean,
  normalCdf,
  normalQuantile,
  pairedDiffCI,
  type PairedValue,
  quantile,
  seededRandom,
  studentTCdf,
  studentTQuantile,
} from "./mod.ts";

/** `clusters` challenges of differing difficulty, `perCluster` correlated values each. */
function clusteredData(clusters: number, perCluster: number, seed: number): ClusteredValue[] {
  const rand = seededRandom(seed);
  const out: ClusteredValue[] = [];
  for (let c = 0; c < clusters; c++) {
    const difficulty = rand();
    for (let j = 0; j < perCluster; j++) out.push({ cluster: `ch-${c}`, value: difficulty + 0.2 * rand() });
  }
  return out;
}

describe("bootstrapCI", () => {
  it("reports the statistic of all values and an interval containing it", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const data = clusteredData(20, 3, seed);
      const ci = bootstrapCI(data, mean, { resamples: 500, seed });
      expect(ci.estimate).toBeCloseTo(mean(data.map((d) => d.value)), 12);
      expect(ci.lo).toBeLessThanOrEqual(ci.estimate);
      expect(ci.hi).toBeGreaterThanOrEqual(ci.estimate);
      expect(ci).toMatchObject({ resamples: 500, clusters: 20 });
    }
  });
  it("is deterministic for a seed and varies with the seed", () => {
    const data = clusteredData(15, 2, 9);
    const a = bootstrapCI(data, mean, { resamples: 300, seed: 11 });
    expect(bootstrapCI(data, mean, { resamples: 300, seed: 11 })).toEqual(a);
    expect(bootstrapCI(data, mean, { resamples: 300, seed: 12 })).not.toEqual(a);
  });
  it("gives a wider interval for fewer clusters", () => {
    const data = clusteredData(80, 3, 21);
    const few = bootstrapCI(data.filter((d) => Number(d.cluster.slice(3)) < 8), mean, { resamples: 500 });
    const many = bootstrapCI(data, mean, { resamples: 500 });
    expect(few.hi - few.lo).toBeGreaterThan(1.5 * (many.hi - many.lo));
  });
  it("resamples clusters, not values: correlated values do not narrow the interval", () => {
    // Ten identical copies per cluster carry no more information than one value per cluster.
    const one = clusteredData(20, 1, 5);
    const tenCopies = one.flatMap((d) => Array.from({ length: 10 }, () => d));
    const a = bootstrapCI(one, mean, { resamples: 400, seed: 1 });
    const b = bootstrapCI(tenCopies, mean, { resamples: 400, seed: 1 });
    expect(b.lo).toBeCloseTo(a.lo, 12);
    expect(b.hi).toBeCloseTo(a.hi, 12);
  });
  it("accepts another statistic and level", () => {
    const data = clusteredData(30, 2, 3);
    const median = (v: number[]) => quantile(v, 0.5);
    const ci90 = bootstrapCI(data, median, { resamples: 400, level: 0.9, seed: 2 });
    const ci99 = bootstrapCI(data, median, { resamples: 400, level: 0.99, seed: 2 });
    expect(ci90.estimate).toBe(median(data.map((d) => d.value)));
    expect(ci99.hi - ci99.lo).toBeGreaterThan(ci90.hi - ci90.lo);
  });
  it("refuses empty input and bad options with the option named", () => {
    expect(() => bootstrapCI([])).toThrow(/values is empty/);
    expect(() => bootstrapCI([{ cluster: "a", value: 1 }], mean, { level: 95 })).toThrow(
      /options.level must be in \(0, 1\)/,
    );
    expect(() => bootstrapCI([{ cluster: "a", value: 1 }], mean, { resamples: 0 })).toThrow(/options.resamples/);
    expect(() => bootstrapCI([{ cluster: "a", value: 1 }], mean, { interval: "bca" as never })).toThrow(
      /options.interval must be "percentile" or "expanded"/,
    );
  });
  it("widens the percentile interval for few clusters by the expanded-percentile correction only", () => {
    const data = clusteredData(12, 2, 8);
    const plain = bootstrapCI(data, mean, { resamples: 2000, seed: 3, interval: "percentile" });
    const expanded = bootstrapCI(data, mean, { resamples: 2000, seed: 3 });
    // The same resamples read at the 1.08% / 98.92% percentiles instead of 2.5% / 97.5%.
    expect(expanded.estimate).toBe(plain.estimate);
    expect(expanded.lo).toBeLessThan(plain.lo);
    expect(expanded.hi).toBeGreaterThan(plain.hi);
    // For a mean of near-normal cluster values, it is about as wide as the t interval with the (n − 1) SE.
    const byCluster = [...Map.groupBy(data, (d) => d.cluster).values()].map((g) => mean(g.map((d) => d.value)));
    const m = mean(byCluster);
    const se = Math.sqrt(byCluster.reduce((a, x) => a + (x - m) ** 2, 0) / 11 / 12);
    const tHalf = studentTQuantile(0.975, 11) * se;
    expect((expanded.hi - expanded.lo) / 2).toBeGreaterThan(0.85 * tHalf);
    expect((expanded.hi - expanded.lo) / 2).toBeLessThan(1.15 * tHalf);
  });
});

describe("small-sample correction", () => {
  it("reads percentiles at 1 − 2Φ(−√(n/(n−1))·t(0.975; n−1)), which tends to the nominal level", () => {
    expect(adjustedLevel(0.95, 12)).toBeCloseTo(0.97849, 4);
    expect(adjustedLevel(0.95, 24)).toBeCloseTo(0.96538, 4);
    expect(adjustedLevel(0.95, 1000)).toBeCloseTo(0.9503, 3);
    expect(adjustedLevel(0.95, 12, "percentile")).toBe(0.95);
    expect(adjustedLevel(0.95, 1)).toBe(0.95); // one cluster: no correction is defined
  });
  it("computes normal and t quantiles to table accuracy", () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 6);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 6);
    expect(normalCdf(-1.644854)).toBeCloseTo(0.05, 7);
    const table: [number, number][] = [[1, 12.706205], [2, 4.302653], [5, 2.570582], [11, 2.200985], [23, 2.068658], [100, 1.983972]];
    for (const [df, t] of table) expect(studentTQuantile(0.975, df)).toBeCloseTo(t, 5);
    expect(studentTQuantile(0.025, 11)).toBeCloseTo(-2.200985, 5);
    expect(studentTCdf(2.200985, 11)).toBeCloseTo(0.975, 6);
    expect(() => studentTQuantile(1, 3)).toThrow(/p must be in \(0, 1\)/);
  });
});

describe("pairedDiffCI", () => {
  it("estimates b − a with the two means and a cluster interval", () => {
    const pairs: PairedValue[] = [
      { cluster: "c1", a: 0, b: 1 },
      { cluster: "c1", a: 1, b: 1 },
      { cluster: "c2", a: 0, b: 1 },
      { cluster: "c3", a: 1, b: 0 },
    ];
    const r = pairedDiffCI(pairs, { resamples: 500, seed: 4 });
    expect(r).toMatchObject({ estimate: 0.25, meanA: 0.5, meanB: 0.75, clusters: 3, resamples: 500 });
    expect(r.lo).toBeLessThanOrEqual(0.25);
    expect(r.hi).toBeGreaterThanOrEqual(0.25);
    expect(() => pairedDiffCI(pairs, { resamples: -1 })).toThrow(/^pairedDiffCI: options.resamples/);
  });
  it("detects a planted lift: the interval excludes 0", () => {
    const rand = seededRandom(77);
    const pairs: PairedValue[] = [];
    for (let c = 0; c < 40; c++) {
      const p = rand();
      for (let s = 0; s < 2; s++) {
        pairs.push({ cluster: `ch-${c}`, a: Number(rand() < p), b: Number(rand() < Math.min(1, p + 0.3)) });
      }
    }
    const r = pairedDiffCI(pairs, { resamples: 1000, seed: 1 });
    expect(r.lo).toBeGreaterThan(0);
  });
  it("is calibrated: in A/A simulations the 95% interval covers 0 about 95% of the time", () => {
    // 200 seeded experiments, identical control and treatment; 30 challenges of varying difficulty × 2 seeds.
    // (lab/tournament/calibration.test.ts checks coverage at the tournament's sizes with binomial tolerances.)
    let covered = 0;
    const runs = 200;
    for (let sim = 0; sim < runs; sim++) {
      const rand = seededRandom(1000 + sim);
      const pairs: PairedValue[] = [];
      for (let c = 0; c < 30; c++) {
        const p = rand();
        for (let s = 0; s < 2; s++) pairs.push({ cluster: `ch-${c}`, a: Number(rand() < p), b: Number(rand() < p) });
      }
      const r = pairedDiffCI(pairs, { resamples: 400, seed: sim });
      if (r.lo <= 0 && r.hi >= 0) covered++;
    }
    expect(covered / runs).toBeGreaterThanOrEqual(0.88);
    expect(covered / runs).toBeLessThanOrEqual(0.99);
  });
});
