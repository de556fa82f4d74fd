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
import { percentileInterval } from "./_bootstrap.ts";

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
  it("reports the number of resamples the interval came from, leaving out those whose statistic is NaN", () => {
    // Two clusters holding 0 and 1; the statistic is the mean, or NaN when the resample drew no 0. Each resample
    // draws two cluster indices floor(rand()·2) from the seeded stream, so replaying it counts the resamples that
    // drew cluster "one" twice: those are dropped. The others give 0 (zero, zero) or 0.5, about 1 : 2, so the
    // 2.5% and 97.5% percentiles of the plain interval fall among the 0s and the 0.5s.
    const values: ClusteredValue[] = [{ cluster: "zero", value: 0 }, { cluster: "one", value: 1 }];
    const stat = (v: number[]) => (v.includes(0) ? mean(v) : NaN);
    const rand = seededRandom(5);
    let dropped = 0;
    for (let r = 0; r < 400; r++) {
      const [i, j] = [Math.floor(rand() * 2), Math.floor(rand() * 2)];
      if (i === 1 && j === 1) dropped++;
    }
    expect(dropped).toBeGreaterThan(50); // about a quarter of 400
    expect(bootstrapCI(values, stat, { resamples: 400, seed: 5, interval: "percentile" }))
      .toEqual({ estimate: 0.5, lo: 0, hi: 0.5, resamples: 400 - dropped, clusters: 2 });
    // The mean never gives NaN: every requested resample is used.
    expect(bootstrapCI(values, mean, { resamples: 400, seed: 5 }).resamples).toBe(400);
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
    const groups = new Map<string, number[]>(); // a plain loop: Node 20 has no Map.groupBy
    for (const d of data) {
      const g = groups.get(d.cluster);
      if (g) g.push(d.value);
      else groups.set(d.cluster, [d.value]);
    }
    const byCluster = [...groups.values()].map((g) => mean(g));
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

describe("expanded percentile widening", () => {
  it("widens a normal-shaped bootstrap distribution by the module notes' 17.3%, 7.8%, 3.0% and 1.5%", () => {
    // By hand: the expanded interval reads the percentiles at ±√(n/(n−1))·t(0.975; n − 1) instead of ±z(0.975) =
    // ±1.959964, so for a normal bootstrap distribution its width grows by √(n/(n−1))·t(0.975; n − 1) / 1.959964:
    //   n = 12:  1.0444659 × 2.2009852 = 2.2988540 → 1.172906
    //   n = 24:  1.0215078 × 2.0686576 = 2.1131500 → 1.078158
    //   n = 60:  1.0084390 × 2.0009954 = 2.0178817 → 1.029550
    //   n = 120: 1.0041929 × 1.9800999 = 1.9884022 → 1.014510
    // (t quantiles from tables; √ and ratios by hand.) The implementation is run on an idealised bootstrap
    // distribution: the normal quantiles at i/(N − 1), i = 0..N − 1 (±∞ at the ends), whose type-7 percentiles
    // are the normal quantiles themselves up to a negligible interpolation error.
    const N = 100_001;
    const stats = [-Infinity, ...Array.from({ length: N - 2 }, (_, i) => normalQuantile((i + 1) / (N - 1))), Infinity];
    const width = (level: number) => {
      const { lo, hi } = percentileInterval(stats, level);
      return hi - lo;
    };
    const widening = [12, 24, 60, 120].map((n) => width(adjustedLevel(0.95, n)) / width(0.95));
    const reference = [1.172906, 1.078158, 1.02955, 1.01451];
    expect(widening.map((w, k) => Math.abs(w - reference[k]) < 2e-5)).toEqual([true, true, true, true]);
    // The figures quoted in _bootstrap.ts's module notes, in percent to one decimal.
    expect(widening.map((w) => Math.round((w - 1) * 1000) / 10)).toEqual([17.3, 7.8, 3.0, 1.5]);
  });
});

describe("normalQuantile", () => {
  it("is accurate to Acklam's 1.2e-9 relative error from the far tails to the centre", () => {
    // References: √2·erfinv(2p − 1) of the double p in mpmath at 420 digits, cross-checked against Python's
    // statistics.NormalDist().inv_cdf (Wichura's AS241) to 1e-15. (0.9 and 1 − 1e-10 as doubles are a little off
    // 0.9 and 1 − 1e-10, hence 1.2815515655446006 and 6.361340889697422.) The removed Halley step, against a CDF
    // accurate to 1.2e-7 only, was off by up to 1.0e-7, e.g. at p = 0.4775 and around p = 0.5.
    const table: [number, number][] = [
      [1e-300, -37.0470962993612],
      [1e-100, -21.273453560965326],
      [1e-10, -6.361340902404057],
      [1e-5, -4.264890793922825],
      [0.001, -3.0902323061678136],
      [0.02425, -1.972961051311885],
      [0.025, -1.9599639845400543],
      [0.1, -1.2815515655446004],
      [0.3, -0.5244005127080408],
      [0.4775, -0.05642906916247405],
      [0.5, 0],
      [0.5005, 0.0012533144654324165],
      [0.75, 0.6744897501960817],
      [0.9, 1.2815515655446006],
      [1 - 0.02425, 1.972961051311885],
      [0.975, 1.9599639845400538],
      [0.995, 2.5758293035489004],
      [0.999999, 4.753424308817087],
      [1 - 1e-10, 6.361340889697422],
    ];
    const outside = table.filter(([p, want]) => !(Math.abs(normalQuantile(p) - want) <= 1.2e-9 * Math.abs(want)));
    expect(outside).toEqual([]); // p = 0.5 must give exactly 0
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
