/**
 * Calibrated comparisons inside one tournament run: {@linkcode pairedStrategyDiff} (paired success or fitness
 * difference of two strategies that competed in the same generations, clustered by challenge) and
 * {@linkcode ratingDiffCI} (Bradley–Terry rating difference with a challenge bootstrap): the intervals whose A/A
 * coverage `calibration.test.ts` checks. Comparisons of arms on held-out instances live in `lab/evals`.
 * @module
 */
import {
  adjustedLevel,
  type BootstrapOptions,
  type BootstrapResult,
  bradleyTerryFit,
  pairedDiffCI,
  type PairedDiffResult,
  type PairedValue,
  quantile,
} from "../stats/mod.ts";
import { pairwiseGames } from "./stats.ts";
import type { EpisodeRow } from "./store.ts";

/** What a paired comparison measures per episode: pass (0/1) or composite fitness. */
export type PairedMetric = "success" | "fitness";

/** Options for {@linkcode pairedStrategyDiff}. */
export interface PairedStrategyDiffOptions extends BootstrapOptions {
  /** @default "success" */
  metric?: PairedMetric;
}

/** A paired difference with the number of pairs it was computed from. */
export interface PairedComparison extends PairedDiffResult {
  pairs: number;
}

const metricOf = (metric: PairedMetric) => (r: { pass: boolean; composite: number }) =>
  metric === "success" ? (r.pass ? 1 : 0) : r.composite;

/**
 * The paired difference `treatment − control` of two strategies that competed in the same generations: episodes are
 * paired by (generation, challenge, seed, attempt) — the tournament gives every strategy of a generation the same
 * ones — and resampled by challenge.
 *
 * @example
 * ```ts
 * const rows = await readEpisodeRows(run.db, run.runId);
 * const d = pairedStrategyDiff(rows, "alpha", "gamma", { metric: "fitness", seed: 1 });
 * d.estimate, d.lo, d.hi, d.pairs;
 * ```
 */
export function pairedStrategyDiff(
  rows: readonly EpisodeRow[],
  control: string,
  treatment: string,
  options: PairedStrategyDiffOptions = {},
): PairedComparison {
  const { metric = "success", ...boot } = options;
  const value = metricOf(metric);
  const key = (r: EpisodeRow) => `${r.generation}|${r.challengeId}|${r.seed}|${r.attempt}`;
  const controls = new Map(rows.filter((r) => r.strategyId === control).map((r) => [key(r), r]));
  const pairs: PairedValue[] = [];
  for (const r of rows) {
    if (r.strategyId !== treatment) continue;
    const c = controls.get(key(r));
    if (c) pairs.push({ cluster: r.challengeId, a: value(c), b: value(r) });
  }
  if (!pairs.length) {
    throw new RangeError(
      `pairedStrategyDiff: '${control}' and '${treatment}' share no (generation, challenge, seed, attempt); ` +
        `compare strategies that competed in the same generation`,
    );
  }
  return { ...pairedDiffCI(pairs, boot), pairs: pairs.length };
}

/** Options for {@linkcode ratingDiffCI}. */
export interface RatingDiffOptions extends BootstrapOptions {
  /** Bradley–Terry prior weight (see `bradleyTerry`). @default 1 */
  prior?: number;
}

/**
 * The Bradley–Terry rating difference `a − b` (Elo points) from the run's per-challenge games
 * ({@linkcode pairwiseGames}), with an interval from resampling challenges (expanded percentile, small-sample
 * corrected, unless `interval: "percentile"`). `bradleyTerry` gives each
 * player's interval, not the interval of a difference; with more than two players the two are not the same.
 *
 * @example
 * ```ts
 * const d = ratingDiffCI(await readEpisodeRows(run.db, run.runId), "strong", "weak", { resamples: 500 });
 * d.estimate > 0 && d.lo > 0; // a credible gap
 * ```
 */
export function ratingDiffCI(
  rows: readonly EpisodeRow[],
  a: string,
  b: string,
  options: RatingDiffOptions = {},
): BootstrapResult {
  const { resamples = 1000, level = 0.95, seed = 0, prior = 1, interval = "expanded" } = options;
  if (!Number.isInteger(resamples) || resamples < 1) {
    throw new RangeError(`ratingDiffCI: options.resamples must be a positive integer, found ${resamples}`);
  }
  const games = pairwiseGames(rows);
  const players = new Set(games.flatMap((g) => [g.a, g.b]));
  for (const p of [a, b]) {
    if (!players.has(p)) throw new RangeError(`ratingDiffCI: '${p}' played no game; players: ${[...players].join(", ")}`);
  }
  // One fit with its replicates (challenges resampled), differenced per replicate. A replicate where a or b
  // played no game says nothing about their difference: dropped.
  const fit = bradleyTerryFit(games, { resamples, seed, prior });
  const [i, j] = [fit.players.indexOf(a), fit.players.indexOf(b)];
  const stats: number[] = [];
  for (let r = 0; r < resamples; r++) {
    if (fit.played[i][r] && fit.played[j][r]) stats.push(fit.samples[i][r] - fit.samples[j][r]);
  }
  const alpha = (1 - adjustedLevel(level, fit.clusters, interval)) / 2;
  return {
    estimate: fit.ratings[i] - fit.ratings[j],
    lo: stats.length ? quantile(stats, alpha) : NaN,
    hi: stats.length ? quantile(stats, 1 - alpha) : NaN,
    // The replicates actually used (those where both played), as BootstrapResult.resamples means.
    resamples: stats.length,
    clusters: fit.clusters,
  };
}
