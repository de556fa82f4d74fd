import { describe, expect, it } from "vitest";
import { mcnemar, pairedPermutationTest, type PairedValue, seededRandom } from "./mod.ts";

const repeat = (n: number, pair: { a: boolean; b: boolean }) => Array.from({ length: n }, () => pair);

describe("mcnemar", () => {
  it("uses the exact binomial p-value below 25 discordant pairs", () => {
    // scipy.stats.binomtest(2, 12, 0.5).pvalue = 158 / 4096
    const pairs = [
      ...repeat(10, { a: true, b: false }),
      ...repeat(2, { a: false, b: true }),
      ...repeat(7, { a: true, b: true }),
      ...repeat(4, { a: false, b: false }),
    ];
    expect(mcnemar(pairs)).toEqual({ b: 10, c: 2, statistic: 2, pValue: 158 / 4096, method: "exact" });
  });
  it("uses chi-square with continuity correction from 25 discordant pairs", () => {
    // (|30 − 10| − 1)² / 40 = 9.025; scipy.stats.chi2.sf(9.025, 1) = 0.002663119259
    const r = mcnemar([...repeat(30, { a: true, b: false }), ...repeat(10, { a: false, b: true })]);
    expect(r).toMatchObject({ b: 30, c: 10, statistic: 9.025, method: "chi-square" });
    expect(r.pValue).toBeCloseTo(0.002663119259, 8);
    // scipy.stats.chi2.sf(196 / 25, 1) = 0.005110260661
    expect(mcnemar([...repeat(5, { a: true, b: false }), ...repeat(20, { a: false, b: true })]).pValue)
      .toBeCloseTo(0.005110260661, 8);
  });
  it("gives p = 1 with no or balanced discordant pairs", () => {
    expect(mcnemar(repeat(5, { a: true, b: true }))).toEqual({ b: 0, c: 0, statistic: 0, pValue: 1, method: "exact" });
    expect(mcnemar([...repeat(3, { a: true, b: false }), ...repeat(3, { a: false, b: true })]).pValue).toBe(1);
  });
  it("gives p = 1 for balanced discordant pairs in the chi-square branch too, as the exact test does", () => {
    // Exact two-sided p at b = c = 13: min(1, 2·P(X ≤ 13)) for X ~ Binomial(26, 1/2), summed below from the
    // binomial coefficients; P(X ≤ 13) = 1/2 + P(X = 13)/2 > 1/2, so p = 1. The corrected statistic
    // max(0, |13 − 13| − 1)² / 26 = 0 and P(χ²₁ ≥ 0) = 1 agree; without the max it was (0 − 1)² / 26 = 1/26, p = 0.8445.
    let coef = 1; // C(26, k), exact in doubles
    let atMost13 = 0;
    for (let k = 0; k <= 13; k++) {
      atMost13 += coef;
      coef = (coef * (26 - k)) / (k + 1);
    }
    const exact = Math.min(1, (2 * atMost13) / 2 ** 26);
    expect(exact).toBe(1);
    const balanced = (n: number) => [...repeat(n, { a: true, b: false }), ...repeat(n, { a: false, b: true })];
    expect(mcnemar(balanced(13))).toEqual({ b: 13, c: 13, statistic: 0, pValue: exact, method: "chi-square" });
    // b = c = 30: the old statistic 1/60 gave p = 0.897.
    expect(mcnemar(balanced(30))).toEqual({ b: 30, c: 30, statistic: 0, pValue: 1, method: "chi-square" });
    // |b − c| = 1 is corrected to 0 as before: (1 − 1)² / 25 = 0.
    expect(mcnemar([...repeat(13, { a: true, b: false }), ...repeat(12, { a: false, b: true })]))
      .toEqual({ b: 13, c: 12, statistic: 0, pValue: 1, method: "chi-square" });
  });
  it("refuses non-boolean outcomes", () => {
    expect(() => mcnemar([{ a: 1 as unknown as boolean, b: true }])).toThrow(/pairs\[0\] must have boolean a and b/);
  });
});

describe("pairedPermutationTest", () => {
  it("approximates the exact sign-flip p-value", () => {
    // Three clusters, all positive: 2 of the 8 sign patterns are as extreme, so p = 0.25.
    const pairs = [{ cluster: "c1", a: 0.2, b: 0.9 }, { cluster: "c2", a: 0.4, b: 0.8 }, {
      cluster: "c3",
      a: 0.1,
      b: 0.7,
    }];
    const r = pairedPermutationTest(pairs, { resamples: 4000, seed: 3 });
    expect(r.estimate).toBeCloseTo(17 / 30, 12);
    expect(r.pValue).toBeGreaterThan(0.22);
    expect(r.pValue).toBeLessThan(0.28);
    expect(pairedPermutationTest(pairs, { resamples: 4000, seed: 3 })).toEqual(r);
  });
  it("finds a planted lift and not a null one", () => {
    const rand = seededRandom(5);
    const lift: PairedValue[] = [];
    const none: PairedValue[] = [];
    for (let c = 0; c < 40; c++) {
      const base = rand();
      lift.push({ cluster: `c${c}`, a: base, b: base + 0.2 + 0.2 * (rand() - 0.5) });
      none.push({ cluster: `c${c}`, a: base, b: base + 0.2 * (rand() - 0.5) });
    }
    expect(pairedPermutationTest(lift, { resamples: 1000 }).pValue).toBeLessThan(0.01);
    expect(pairedPermutationTest(none, { resamples: 1000 }).pValue).toBeGreaterThan(0.05);
  });
});
