/** Paired significance tests: McNemar for pass/fail pairs and a cluster sign-flip permutation test. */

import { groupBy, type PairedValue, resolveBootstrapOptions } from "./_bootstrap.ts";
import { seededRandom } from "./_describe.ts";

/** The result of {@linkcode mcnemar}. */
export interface McNemarResult {
  /** Discordant pairs where `a` passed and `b` failed. */
  b: number;
  /** Discordant pairs where `a` failed and `b` passed. */
  c: number;
  /**
   * The test statistic: min(b, c) for the exact test, max(0, |b − c| − 1)² / (b + c) for the chi-square test
   * (0 when there are no discordant pairs).
   */
  statistic: number;
  /** Two-sided p-value. */
  pValue: number;
  /** Which test produced the p-value. */
  method: "exact" | "chi-square";
}

/**
 * McNemar's test for paired pass/fail outcomes (control `a`, treatment `b` on the same units). Only the discordant
 * pairs carry information: under no difference each is equally likely to favour either side. With fewer than 25
 * discordant pairs the p-value is the exact two-sided binomial one (chi-square is poor there); otherwise the
 * chi-square statistic with continuity correction, max(0, |b − c| − 1)² / (b + c), on one degree of freedom.
 *
 * The test treats pairs as independent; with several seeds per challenge prefer {@linkcode pairedDiffCI}.
 *
 * @example
 * ```ts
 * import { mcnemar } from "../lab/stats/mod.ts";
 * const pairs = [...Array(10).fill({ a: true, b: false }), ...Array(2).fill({ a: false, b: true })];
 * mcnemar(pairs); // { b: 10, c: 2, statistic: 2, pValue: 0.0386, method: "exact" }
 * ```
 */
export function mcnemar(pairs: readonly { a: boolean; b: boolean }[]): McNemarResult {
  let b = 0;
  let c = 0;
  pairs.forEach((p, i) => {
    if (typeof p.a !== "boolean" || typeof p.b !== "boolean") {
      throw new RangeError(`mcnemar: pairs[${i}] must have boolean a and b, found a=${p.a}, b=${p.b}`);
    }
    if (p.a && !p.b) b++;
    else if (!p.a && p.b) c++;
  });
  const m = b + c;
  if (m < 25) {
    const k = Math.min(b, c);
    return { b, c, statistic: k, pValue: m === 0 ? 1 : Math.min(1, 2 * binomialCdfHalf(k, m)), method: "exact" };
  }
  // The continuity correction moves |b − c| one step towards 0 but never past it: without the max, b = c gave
  // (0 − 1)² / m > 0 and p < 1 (0.84 at b = c = 13) where the exact test gives 1.
  const statistic = Math.max(0, Math.abs(b - c) - 1) ** 2 / m;
  return { b, c, statistic, pValue: chiSquare1Sf(statistic), method: "chi-square" };
}

/** P(X ≤ k) for X ~ Binomial(m, 1/2), summed exactly term by term (m is small here). */
function binomialCdfHalf(k: number, m: number): number {
  let term = 0.5 ** m;
  let sum = term;
  for (let i = 0; i < k; i++) {
    term *= (m - i) / (i + 1);
    sum += term;
  }
  return sum;
}

/** Upper tail of the chi-square distribution with one degree of freedom: P(χ²₁ ≥ x) = erfc(√(x/2)). */
export function chiSquare1Sf(x: number): number {
  return x <= 0 ? 1 : erfc(Math.sqrt(x / 2));
}

/** Coefficients of the Numerical Recipes `erfcc` Chebyshev fit, lowest power first. */
const ERFC_COEFFS = [
  -1.26551223,
  1.00002368,
  0.37409196,
  0.09678418,
  -0.18628806,
  0.27886807,
  -1.13520398,
  1.48851587,
  -0.82215223,
  0.17087277,
];

/** Complementary error function with relative error below 1.2e-7, ample for p-values. */
function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  let poly = 0;
  for (let i = ERFC_COEFFS.length - 1; i >= 0; i--) poly = poly * t + ERFC_COEFFS[i];
  const r = t * Math.exp(-z * z + poly);
  return x >= 0 ? r : 2 - r;
}

/** Options for {@linkcode pairedPermutationTest}. */
export interface PermutationOptions {
  /** Number of random sign flips. @default 2000 */
  resamples?: number;
  /** Seed of the flip stream. @default 0 */
  seed?: number;
}

/** The result of {@linkcode pairedPermutationTest}. */
export interface PermutationResult {
  /** Observed mean paired difference b − a. */
  estimate: number;
  /** Two-sided Monte Carlo p-value, (1 + #{|flipped| ≥ |observed|}) / (1 + resamples), never 0. */
  pValue: number;
  /** Number of random sign flips. */
  resamples: number;
}

/**
 * A paired permutation (sign-flip) test of "b and a are exchangeable": under that null each cluster's summed
 * difference b − a is as likely negated, so flipping whole clusters at random gives the null distribution of the
 * mean difference. Flipping clusters rather than pairs respects correlation within a challenge.
 *
 * @example
 * ```ts
 * import { pairedPermutationTest } from "../lab/stats/mod.ts";
 * const pairs = [{ cluster: "c1", a: 0.2, b: 0.9 }, { cluster: "c2", a: 0.4, b: 0.8 }, { cluster: "c3", a: 0.1, b: 0.7 }];
 * pairedPermutationTest(pairs, { seed: 3 }); // { estimate: 0.567, pValue: 0.27 (exact: 2/8), resamples: 2000 }
 * ```
 */
export function pairedPermutationTest(
  pairs: readonly PairedValue[],
  options: PermutationOptions = {},
): PermutationResult {
  const { resamples, seed } = resolveBootstrapOptions("pairedPermutationTest", options);
  if (pairs.length === 0) throw new RangeError("pairedPermutationTest: pairs is empty; pass at least one pair");
  const sums = groupBy(pairs, (p) => String(p.cluster)).map((g) => g.reduce((s, p) => s + (p.b - p.a), 0));
  const n = pairs.length;
  const observed = sums.reduce((s, x) => s + x, 0) / n;
  // A tiny tolerance so flips that reproduce |observed| up to rounding count as "at least as extreme".
  const threshold = Math.abs(observed) * (1 - 1e-12);
  const rand = seededRandom(seed);
  let extreme = 0;
  for (let r = 0; r < resamples; r++) {
    let total = 0;
    for (const s of sums) total += rand() < 0.5 ? -s : s;
    if (Math.abs(total / n) >= threshold) extreme++;
  }
  return { estimate: observed, pValue: (1 + extreme) / (1 + resamples), resamples };
}
