/** Descriptive statistics: seeded randomness, mean, quantiles and the Wilson interval for a proportion. */

import { mulberry32 } from "../util/mod.ts";

/** A source of uniform numbers in [0, 1). */
export type Random = () => number;

/**
 * A seeded uniform random source in [0, 1): the same seed gives the same stream, so every resampling in this
 * module is reproducible. It is the lab's one PRNG ({@linkcode mulberry32}), not a second implementation.
 *
 * @example
 * ```ts
 * import { seededRandom } from "../lab/stats/mod.ts";
 * const rand = seededRandom(42);
 * rand(); // the same first number on every run with seed 42
 * ```
 */
export function seededRandom(seed: number): Random {
  if (!Number.isFinite(seed)) throw new RangeError(`seededRandom: seed must be a finite number, found ${seed}`);
  return mulberry32(seed);
}

/**
 * The arithmetic mean. Throws a RangeError for an empty list, since a mean of nothing is a bug upstream.
 *
 * @example
 * ```ts
 * import { mean } from "../lab/stats/mod.ts";
 * mean([1, 2, 3, 4]); // 2.5
 * ```
 */
export function mean(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError("mean: values is empty; pass at least one number");
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/**
 * The p-quantile by linear interpolation between order statistics (Hyndman & Fan type 7, the default of R and
 * NumPy): with the values sorted ascending as x[0..n-1] and h = (n − 1)·p, it is x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] − x[⌊h⌋]).
 *
 * Infinite values are order statistics like any other; the interpolation takes its limit instead of computing
 * 0·∞ or ∞ − ∞: an order statistic hit exactly (weight 0), or two equal ones, is returned as is; between a finite
 * value and ±∞ the result is the infinite one. Between −∞ and +∞ no interpolated value exists, so the result is
 * the nearer order statistic: −∞ below the midpoint, +∞ above it, and NaN exactly at the midpoint (so the median
 * of [−∞, +∞] is NaN rather than an invented 0). NaN values are not ordered, so the quantile of data holding NaN is
 * meaningless: filter them first.
 *
 * @example
 * ```ts
 * import { quantile } from "../lab/stats/mod.ts";
 * quantile([7, 1, 3, 10, 2], 0.5); // 3
 * quantile([7, 1, 3, 10, 2], 0.9); // 8.8
 * quantile([0, 1, Infinity], 0.5); // 1
 * quantile([1, Infinity], 0.5); // Infinity
 * ```
 */
export function quantile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError("quantile: values is empty; pass at least one number");
  if (!(p >= 0 && p <= 1)) throw new RangeError(`quantile: p must be in [0, 1], found ${p}`);
  return sortedQuantile([...values].sort((x, y) => x - y), p);
}

/**
 * Type-7 quantile of values already sorted ascending (no copy, no checks): for loops over many quantiles. Infinite
 * values as in {@linkcode quantile}.
 */
export function sortedQuantile(sorted: readonly number[], p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const w = h - lo;
  const a = sorted[lo];
  // w > 0 implies lo < n − 1, so sorted[lo + 1] exists. Equal endpoints and weight 0 return the endpoint, which
  // the formula below would turn into NaN for an infinite one (∞ − ∞, 0·∞).
  if (w === 0) return a;
  const b = sorted[lo + 1];
  if (a === b) return a;
  if (a === -Infinity) return b !== Infinity ? a : w < 0.5 ? a : w > 0.5 ? b : NaN;
  if (b === Infinity) return b;
  return a + w * (b - a);
}

/** A point estimate with a confidence interval [lo, hi]. */
export interface Interval {
  /** The point estimate. */
  estimate: number;
  /** Lower bound of the interval. */
  lo: number;
  /** Upper bound of the interval. */
  hi: number;
}

/**
 * The Wilson score interval for a binomial proportion: unlike the normal ("Wald") interval it stays inside [0, 1]
 * and keeps its coverage for small n and for rates near 0 or 1, which is where pass rates of agents often sit.
 *
 * @param successes number of successes, an integer in [0, n]
 * @param n number of trials, a positive integer
 * @param z the normal quantile for the level; 1.96 gives a 95% interval
 * @example
 * ```ts
 * import { wilsonInterval } from "../lab/stats/mod.ts";
 * wilsonInterval(8, 10); // { estimate: 0.8, lo: 0.4902, hi: 0.9433 } (rounded)
 * ```
 */
export function wilsonInterval(successes: number, n: number, z = 1.96): Interval {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`wilsonInterval: n must be a positive integer, found ${n}`);
  if (!Number.isInteger(successes) || successes < 0 || successes > n) {
    throw new RangeError(`wilsonInterval: successes must be an integer in [0, ${n}], found ${successes}`);
  }
  if (!(z > 0)) throw new RangeError(`wilsonInterval: z must be positive, found ${z}`);
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { estimate: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}
