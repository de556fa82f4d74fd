import { describe, expect, it } from "vitest";
import { mean, quantile, seededRandom, wilsonInterval } from "./mod.ts";
import { mulberry32 } from "../util/mod.ts";

describe("seededRandom", () => {
  it("is the lab's mulberry32 stream, so the same seed repeats", () => {
    const a = seededRandom(42);
    const b = mulberry32(42);
    const draws = Array.from({ length: 5 }, () => a());
    expect(draws).toEqual(Array.from({ length: 5 }, () => b()));
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
  });
  it("refuses a non-finite seed", () => {
    expect(() => seededRandom(NaN)).toThrow(RangeError);
  });
});

describe("mean", () => {
  it("averages and refuses an empty list", () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(() => mean([])).toThrow(/values is empty/);
  });
});

describe("quantile", () => {
  it("matches R/NumPy type 7 on unsorted input", () => {
    // numpy.quantile([7, 1, 3, 10, 2], p) with the default (linear) method.
    const x = [7, 1, 3, 10, 2];
    const ps = [0, 0.1, 0.25, 0.5, 0.9, 1];
    const got = ps.map((p) => quantile(x, p));
    [1, 1.4, 2, 3, 8.8, 10].forEach((want, i) => expect(got[i]).toBeCloseTo(want, 12));
    expect(x).toEqual([7, 1, 3, 10, 2]); // input untouched
  });
  it("interpolates next to infinite values by the limit, never NaN from 0·∞ or ∞ − ∞", () => {
    // By hand, type 7 with h = (n − 1)p and weight w = h − ⌊h⌋:
    // [0, 1, ∞] at p = 0, ¼, ½, ¾, 1: h = 0 (x[0]), 0.5 (0 + ½·1), 1 (x[1], weight 0 on ∞), 1.5 (1 → ∞: ∞), 2 (x[2]).
    expect([0, 0.25, 0.5, 0.75, 1].map((p) => quantile([0, 1, Infinity], p))).toEqual([0, 0.5, 1, Infinity, Infinity]);
    // Equal infinite neighbours: [1, ∞, ∞] at ¾ (h = 1.5) and [−∞, −∞, 2] at ¼ (h = 0.5).
    expect(quantile([1, Infinity, Infinity], 0.75)).toBe(Infinity);
    expect(quantile([-Infinity, -Infinity, 2], 0.25)).toBe(-Infinity);
    // −∞ → 1 at w = ½ is lim (1 − w)·x + w·1 as x → −∞ = −∞; [1, ∞] at p = 0 puts weight 0 on ∞.
    expect([0, 0.5, 1].map((p) => quantile([-Infinity, 1], p))).toEqual([-Infinity, -Infinity, 1]);
    expect([0, 0.5, 1].map((p) => quantile([1, Infinity], p))).toEqual([1, Infinity, Infinity]);
    // −∞ → +∞ has no interpolated value: the nearer order statistic, NaN exactly at the midpoint (documented).
    expect([0, 0.25, 0.5, 0.75, 1].map((p) => quantile([Infinity, -Infinity], p)))
      .toEqual([-Infinity, -Infinity, NaN, Infinity, Infinity]);
    // Finite neighbours of an infinite value interpolate as usual: [−∞, 2, 4, ∞] at ½ (h = 1.5) is 3.
    expect(quantile([4, Infinity, -Infinity, 2], 0.5)).toBe(3);
  });
  it("returns the only value of a singleton and refuses p outside [0, 1]", () => {
    expect(quantile([5], 0.3)).toBe(5);
    expect(() => quantile([1, 2], 1.5)).toThrow(/p must be in \[0, 1\]/);
    expect(() => quantile([], 0.5)).toThrow(RangeError);
  });
});

describe("wilsonInterval", () => {
  it("matches the published Wilson interval for 8 of 10", () => {
    // statsmodels proportion_confint(8, 10, method="wilson") = (0.490157, 0.943319)
    const w = wilsonInterval(8, 10);
    expect(w.estimate).toBe(0.8);
    expect(w.lo).toBeCloseTo(0.4901568467, 9);
    expect(w.hi).toBeCloseTo(0.9433190520, 9);
  });
  it("stays inside [0, 1] at the extremes and narrows with n", () => {
    const none = wilsonInterval(0, 20);
    expect(none.lo).toBe(0);
    expect(none.hi).toBeGreaterThan(0);
    const all = wilsonInterval(20, 20);
    expect(all.hi).toBe(1);
    expect(all.lo).toBeLessThan(1);
    const small = wilsonInterval(5, 10);
    const big = wilsonInterval(500, 1000);
    expect(big.hi - big.lo).toBeLessThan(small.hi - small.lo);
  });
  it("refuses impossible counts", () => {
    expect(() => wilsonInterval(3, 0)).toThrow(/n must be a positive integer/);
    expect(() => wilsonInterval(11, 10)).toThrow(/successes must be an integer in \[0, 10\]/);
  });
});
