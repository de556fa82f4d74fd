/**
 * Bradley–Terry ratings from pairwise outcomes, fitted by maximum likelihood (Newton's method), with a bootstrap over
 * challenges for confidence intervals. P(i beats j) = p_i / (p_i + p_j); ratings are 400·log10(p_i), the Elo scale.
 */

import { adjustedLevel, groupBy, type IntervalMethod, percentileInterval, resampleIndices, resolveBootstrapOptions } from "./_bootstrap.ts";
import { seededRandom } from "./_describe.ts";

/** One game on one challenge: `result` is a's score, 1 (a won), 0.5 (tie) or 0 (b won). */
export interface PairwiseOutcome {
  /** Challenge id: games on one challenge are resampled together. */
  challenge: string;
  /** First player (strategy or model). */
  a: string;
  /** Second player; must differ from `a`. */
  b: string;
  /** a's score: 1 win, 0.5 tie, 0 loss. */
  result: 1 | 0.5 | 0;
}

/** Options for {@linkcode bradleyTerry}. */
export interface BradleyTerryOptions {
  /**
   * Weight of the prior: every player plays this many virtual tied games against a fixed reference player. It keeps
   * an undefeated (or winless) player's rating finite and pulls thinly-observed players toward the middle; one
   * game is weak next to a few dozen real ones. Must be positive. @default 1
   */
  prior?: number;
  /** Number of bootstrap resamples of challenges. @default 1000 */
  resamples?: number;
  /** Confidence level of the intervals. @default 0.95 */
  level?: number;
  /** Seed of the resampling stream. @default 0 */
  seed?: number;
  /** Expanded (small-sample corrected over the challenges) or plain percentile intervals. @default "expanded" */
  interval?: IntervalMethod;
}

/** One player's fitted rating, interval and record. */
export interface BradleyTerryRating {
  /** Player name. */
  player: string;
  /** Elo-scale rating, 400·log10(strength), shifted so the players' mean is 1500. */
  rating: number;
  /** Lower bound of the bootstrap interval. */
  lo: number;
  /** Upper bound of the bootstrap interval. */
  hi: number;
  /** Games won. */
  wins: number;
  /** Games lost. */
  losses: number;
  /** Games tied. */
  ties: number;
}

/** Per challenge, the games reduced to (i, j, score of i) with player indices. */
type Game = [i: number, j: number, score: number];

/** Sufficient statistics of a set of games: scores W_i and game counts N_ij (row-major P × P). */
function tally(players: number, challenges: readonly Game[][], pick: readonly number[]) {
  const wins = new Float64Array(players);
  const games = new Float64Array(players * players);
  for (const ci of pick) {
    for (const [i, j, s] of challenges[ci]) {
      wins[i] += s;
      wins[j] += 1 - s;
      games[i * players + j]++;
      games[j * players + i]++;
    }
  }
  return { wins, games };
}

/**
 * Maximises the log-likelihood over log-strengths θ by Newton's method, with a reference player (θ = 0, fixed)
 * among the opponents. The reference anchors the scale, and its `prior` virtual ties make the likelihood strictly
 * concave with a finite maximum, so Newton with step halving always converges, in a handful of steps.
 *
 * Why Newton and not Hunter's MM: MM crawls along the overall-scale direction when the anchor is weak (about a
 * thousand sweeps for two evenly matched players), which made bootstrapping slow; Newton needs ~5 solves of a
 * P × P system, cheap for the tens of strategies the lab compares.
 */
function fitLogStrengths(
  players: number,
  wins: Float64Array,
  games: Float64Array,
  prior: number,
  start?: Float64Array,
): Float64Array {
  let theta = start ? Float64Array.from(start) : new Float64Array(players);
  let current = logLikelihood(theta, wins, games, prior);
  for (let iter = 0; iter < 100; iter++) {
    const { gradient, information } = derivatives(theta, wins, games, prior);
    const step = solveSymmetric(information, gradient, players);
    let scale = 1;
    let next = theta.map((t, i) => t + step[i]);
    let value = logLikelihood(next, wins, games, prior);
    while (value < current - 1e-12 && scale > 1e-6) {
      scale /= 2;
      next = theta.map((t, i) => t + scale * step[i]);
      value = logLikelihood(next, wins, games, prior);
    }
    const moved = Math.max(...step.map((d) => Math.abs(scale * d)));
    theta = next;
    current = value;
    if (moved < 1e-10) break;
  }
  return theta;
}

/** log(e^x + e^y) without overflow. */
function logAddExp(x: number, y: number): number {
  const m = Math.max(x, y);
  return m + Math.log(Math.exp(x - m) + Math.exp(y - m));
}

/** Log-likelihood of scores W_i, games N_ij and `prior` virtual ties against the reference (θ = 0). */
function logLikelihood(theta: Float64Array, wins: Float64Array, games: Float64Array, prior: number): number {
  const p = theta.length;
  let ll = 0;
  for (let i = 0; i < p; i++) {
    ll += (wins[i] + prior / 2) * theta[i] - prior * logAddExp(theta[i], 0);
    for (let j = i + 1; j < p; j++) {
      const n = games[i * p + j];
      if (n > 0) ll -= n * logAddExp(theta[i], theta[j]);
    }
  }
  return ll;
}

/** Gradient and Fisher information (minus the Hessian, positive definite) of {@linkcode logLikelihood}. */
function derivatives(theta: Float64Array, wins: Float64Array, games: Float64Array, prior: number) {
  const p = theta.length;
  const gradient = new Float64Array(p);
  const information = new Float64Array(p * p);
  for (let i = 0; i < p; i++) {
    const vsRef = 1 / (1 + Math.exp(-theta[i]));
    gradient[i] += wins[i] + prior / 2 - prior * vsRef;
    information[i * p + i] += prior * vsRef * (1 - vsRef);
    for (let j = i + 1; j < p; j++) {
      const n = games[i * p + j];
      if (n === 0) continue;
      const pij = 1 / (1 + Math.exp(theta[j] - theta[i]));
      const v = n * pij * (1 - pij);
      gradient[i] -= n * pij;
      gradient[j] -= n * (1 - pij);
      information[i * p + i] += v;
      information[j * p + j] += v;
      information[i * p + j] -= v;
      information[j * p + i] -= v;
    }
  }
  return { gradient, information };
}

/** Solves A x = b for a symmetric positive-definite A (row-major n × n) by Cholesky decomposition. */
function solveSymmetric(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * n + j];
      for (let k = 0; k < j; k++) sum -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = i === j ? Math.sqrt(Math.max(sum, 1e-300)) : sum / l[j * n + j];
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[i * n + k] * y[k];
    y[i] = sum / l[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = y[i];
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i] * x[k];
    x[i] = sum / l[i * n + i];
  }
  return x;
}

/** Elo-scale ratings from log-strengths, mean-centred to 1500. */
function toElo(logStrengths: Float64Array): number[] {
  const elo = [...logStrengths].map((l) => (400 * l) / Math.LN10);
  const shift = 1500 - elo.reduce((s, x) => s + x, 0) / elo.length;
  return elo.map((x) => x + shift);
}

/**
 * Bradley–Terry ratings on the Elo scale with bootstrap-by-challenge 95% intervals, sorted best first. A tie counts
 * half a win to each side. A weak prior (see {@linkcode BradleyTerryOptions.prior}) keeps every rating finite, even
 * for a player that never lost. Ratings are comparable only within one fit: 1500 is the mean player of this field.
 *
 * A resample that happens to leave out all of a player's challenges gives it the prior-only rating; with that many
 * challenges missing, its interval is wide anyway.
 *
 * @example
 * ```ts
 * import { bradleyTerry } from "../lab/stats/mod.ts";
 * const outcomes = [
 *   { challenge: "inv-01", a: "react", b: "plan-first", result: 0 },
 *   { challenge: "inv-02", a: "react", b: "plan-first", result: 0.5 },
 *   { challenge: "inv-03", a: "react", b: "plan-first", result: 0 },
 * ] as const;
 * bradleyTerry([...outcomes], { resamples: 500, seed: 1 });
 * // [{ player: "plan-first", rating: 1610.9, lo, hi, wins: 2, losses: 0, ties: 1 }, { player: "react", ... }]
 * ```
 */
export function bradleyTerry(
  outcomes: readonly PairwiseOutcome[],
  options: BradleyTerryOptions = {},
): BradleyTerryRating[] {
  const { level, interval } = resolveBootstrapOptions("bradleyTerry", options, 1000);
  const fit = bradleyTerryFit(outcomes, options);
  const coverage = adjustedLevel(level, fit.clusters, interval);
  return fit.players
    .map((player, i) => ({ player, rating: fit.ratings[i], ...percentileInterval(fit.samples[i], coverage), ...fit.record[i] }))
    .sort((x, y) => y.rating - x.rating || x.player.localeCompare(y.player));
}

/** A Bradley–Terry fit with its bootstrap replicates (see {@linkcode bradleyTerryFit}). */
export interface BradleyTerryFit {
  /** Players in order of first appearance. */
  players: string[];
  /** Elo-scale ratings, by player index. */
  ratings: number[];
  /** Bootstrap ratings: `samples[player][resample]` (prior-only when the player had no game in the resample). */
  samples: number[][];
  /** Whether the player had a game in the resample: `played[player][resample]`. */
  played: boolean[][];
  /** Challenges (the resampled clusters). */
  clusters: number;
  /** Wins, losses and ties, by player index. */
  record: { wins: number; losses: number; ties: number }[];
}

/**
 * The fit behind {@linkcode bradleyTerry} with every bootstrap replicate kept, for intervals of functions of the
 * ratings — e.g. the difference of two players, whose interval is not the difference of their intervals.
 *
 * @example
 * ```ts
 * import { bradleyTerryFit } from "../lab/stats/mod.ts";
 * const fit = bradleyTerryFit([{ challenge: "inv-01", a: "x", b: "y", result: 1 }], { resamples: 200 });
 * const diffs = fit.samples[0].map((r, k) => r - fit.samples[1][k]);
 * ```
 */
export function bradleyTerryFit(outcomes: readonly PairwiseOutcome[], options: BradleyTerryOptions = {}): BradleyTerryFit {
  const { resamples, seed } = resolveBootstrapOptions("bradleyTerry", options, 1000);
  const prior = options.prior ?? 1;
  if (!(prior > 0 && Number.isFinite(prior))) {
    throw new RangeError(`bradleyTerry: options.prior must be a positive number, found ${prior}`);
  }
  if (outcomes.length === 0) throw new RangeError("bradleyTerry: outcomes is empty; pass at least one game");

  const index = new Map<string, number>();
  const record: { wins: number; losses: number; ties: number }[] = [];
  const id = (name: string) => {
    let i = index.get(name);
    if (i === undefined) {
      i = index.size;
      index.set(name, i);
      record.push({ wins: 0, losses: 0, ties: 0 });
    }
    return i;
  };
  const byChallenge = groupBy(outcomes.map((o, k) => ({ o, k })), ({ o }) => String(o.challenge)).map((group) =>
    group.map(({ o, k }): Game => {
      if (o.result !== 1 && o.result !== 0.5 && o.result !== 0) {
        throw new RangeError(`bradleyTerry: outcomes[${k}].result must be 1, 0.5 or 0, found ${o.result}`);
      }
      if (typeof o.a !== "string" || typeof o.b !== "string" || o.a === o.b) {
        throw new RangeError(`bradleyTerry: outcomes[${k}] must pit two different players, found a=${o.a}, b=${o.b}`);
      }
      const i = id(o.a);
      const j = id(o.b);
      if (o.result === 0.5) {
        record[i].ties++;
        record[j].ties++;
      } else {
        const [winner, loser] = o.result === 1 ? [i, j] : [j, i];
        record[winner].wins++;
        record[loser].losses++;
      }
      return [i, j, o.result];
    })
  );

  const players = index.size;
  const all = byChallenge.map((_, k) => k);
  const full = tally(players, byChallenge, all);
  const fitted = fitLogStrengths(players, full.wins, full.games, prior);
  const ratings = toElo(fitted);

  const rand = seededRandom(seed);
  const samples: number[][] = Array.from({ length: players }, () => new Array<number>(resamples));
  const played: boolean[][] = Array.from({ length: players }, () => new Array<boolean>(resamples));
  for (let r = 0; r < resamples; r++) {
    const { wins, games } = tally(players, byChallenge, resampleIndices(byChallenge.length, rand));
    const elo = toElo(fitLogStrengths(players, wins, games, prior, fitted));
    for (let i = 0; i < players; i++) {
      samples[i][r] = elo[i];
      let n = 0;
      for (let j = 0; j < players; j++) n += games[i * players + j];
      played[i][r] = n > 0;
    }
  }
  return { players: [...index.keys()], ratings, samples, played, clusters: byChallenge.length, record };
}
