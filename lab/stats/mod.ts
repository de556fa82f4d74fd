/**
 * Statistics for comparing agent strategies and models: pure functions, seeded where random, so a report computed
 * twice gives the same numbers.
 *
 * The lab's rule for a claimed lift: compare **paired** runs (same challenges, same seeds) against a **control**, and
 * report a **95% interval** that resamples **challenges**, not episodes — episodes of one challenge are correlated,
 * and treating them as independent makes intervals too narrow.
 *
 * - Describe: {@linkcode mean}, {@linkcode quantile}, {@linkcode wilsonInterval}, {@linkcode seededRandom}.
 * - Intervals: {@linkcode bootstrapCI} (cluster bootstrap), {@linkcode pairedDiffCI} (treatment − control), both
 *   small-sample corrected by default ({@linkcode adjustedLevel}: Hesterberg's expanded percentile interval).
 * - Distributions: {@linkcode normalCdf}, {@linkcode normalQuantile}, {@linkcode studentTCdf}, {@linkcode studentTQuantile}.
 * - Tests: {@linkcode mcnemar} (paired pass/fail), {@linkcode pairedPermutationTest} (cluster sign flips).
 * - Sampling metrics: {@linkcode passAtK} / {@linkcode meanPassAtK} (any of k succeeds), {@linkcode passHatK} /
 *   {@linkcode meanPassHatK} (all k succeed), {@linkcode countTrials}.
 * - Ratings: {@linkcode bradleyTerry} (Elo scale, ties, bootstrap intervals).
 *
 * Each function's JSDoc, with an example, sits on its declaration in the private `_*.ts` file, so editors and
 * `deno doc` show it through these re-exports without a second copy to keep in sync.
 *
 * @example Is plan-first better than react on the same challenges?
 * ```ts
 * import { pairedDiffCI } from "../lab/stats/mod.ts";
 * const pairs = [
 *   { cluster: "inv-01", a: 0, b: 1 }, { cluster: "inv-02", a: 1, b: 1 },
 *   { cluster: "inv-03", a: 0, b: 1 }, { cluster: "inv-04", a: 1, b: 0 },
 * ];
 * const lift = pairedDiffCI(pairs, { seed: 1 }); // { estimate: 0.25, lo, hi, ... }
 * const credible = lift.lo > 0;
 * ```
 * @module
 */

export { type Interval, mean, quantile, type Random, seededRandom, wilsonInterval } from "./_describe.ts";
export {
  adjustedLevel,
  bootstrapCI,
  type BootstrapOptions,
  type BootstrapResult,
  type ClusteredValue,
  type IntervalMethod,
  pairedDiffCI,
  type PairedDiffResult,
  type PairedValue,
} from "./_bootstrap.ts";
export { clusteredMeanCI, type ClusteredMeanResult } from "./_clustered.ts";
export { normalCdf, normalQuantile, studentTCdf, studentTQuantile } from "./_distributions.ts";
export {
  mcnemar,
  type McNemarResult,
  pairedPermutationTest,
  type PermutationOptions,
  type PermutationResult,
} from "./_paired_tests.ts";
export { countTrials, meanPassAtK, meanPassHatK, passAtK, passHatK, type TaskTrials } from "./_pass_k.ts";
export {
  bradleyTerry,
  type BradleyTerryFit,
  bradleyTerryFit,
  type BradleyTerryOptions,
  type BradleyTerryRating,
  type PairwiseOutcome,
} from "./_bradley_terry.ts";
