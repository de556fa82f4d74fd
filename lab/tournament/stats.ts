/**
 * Tournament statistics from stored episodes (via `lab/stats`): per strategy and generation the mean composite
 * fitness and success rate with 95% intervals that resample challenges (not episodes), unbiased pass@k and pass^k,
 * tokens and cost; Bradley–Terry ratings (Elo scale, bootstrap intervals) from per-challenge games; and learning
 * metrics (fitness per generation and its change).
 * @module
 */
import {
  bootstrapCI,
  type BootstrapResult,
  bradleyTerry,
  countTrials,
  mean,
  meanPassAtK,
  meanPassHatK,
  type PairwiseOutcome,
} from "../stats/mod.ts";
import type { EpisodeRow } from "./store.ts";

/** One strategy's numbers over a set of episodes. */
export interface StrategyStats {
  strategyId: string;
  episodes: number;
  challenges: number;
  /** Mean composite fitness with a challenge-bootstrap 95% interval. */
  fitness: BootstrapResult;
  /** Share of passed episodes with a challenge-bootstrap 95% interval. */
  success: BootstrapResult;
  /** Unbiased pass@k and pass^k averaged over challenges (k = attempts per challenge). */
  passAtK: number;
  passHatK: number;
  k: number;
  tokens: { total: number; perEpisode: number };
  costUsd: number;
}

/** A leaderboard row: a strategy's stats with its Bradley–Terry rating. */
export interface LeaderboardRow extends StrategyStats {
  rating: { rating: number; lo: number; hi: number; wins: number; losses: number; ties: number } | null;
  /** Generation it was born in and the last it competed in. */
  generations: number[];
}

/** How the population's fitness changed over generations. */
export interface LearningMetrics {
  /** Per generation: the population's mean fitness and the best strategy's mean fitness. */
  perGeneration: { generation: number; meanFitness: number; bestFitness: number; successRate: number }[];
  /** Change of the population mean fitness from one generation to the next (length = generations − 1). */
  improvement: number[];
  /** Last generation's population mean minus the first's. */
  totalImprovement: number;
}

/** Options for the statistics. */
export interface StatsOptions {
  /** Bootstrap resamples. @default 1000 */
  resamples?: number;
  /** Seed of the bootstrap streams. @default 0 */
  seed?: number;
  /**
   * k of pass@k and pass^k (a strategy that lived several generations has more trials per challenge than the
   * attempts of one; the estimators are unbiased for any k ≤ n). @default the fewest trials of any challenge
   */
  k?: number;
}

/** Stats of one strategy's episodes (`rows` must all be that strategy's). */
export function strategyStats(strategyId: string, rows: readonly EpisodeRow[], options: StatsOptions = {}): StrategyStats {
  const opts = { resamples: options.resamples ?? 1000, seed: options.seed ?? 0 };
  const trials = countTrials(rows.map((r) => ({ cluster: r.challengeId, pass: r.pass })));
  const k = Math.min(options.k ?? Infinity, ...trials.map((t) => t.n));
  const tokens = rows.reduce((a, r) => a + r.tokensTotal, 0);
  return {
    strategyId,
    episodes: rows.length,
    challenges: trials.length,
    fitness: bootstrapCI(rows.map((r) => ({ cluster: r.challengeId, value: r.composite })), mean, opts),
    success: bootstrapCI(rows.map((r) => ({ cluster: r.challengeId, value: r.pass ? 1 : 0 })), mean, opts),
    passAtK: meanPassAtK(trials, k),
    passHatK: meanPassHatK(trials, k),
    k,
    tokens: { total: tokens, perEpisode: tokens / rows.length },
    costUsd: rows.reduce((a, r) => a + r.costUsd, 0),
  };
}

function groupRows(rows: readonly EpisodeRow[], key: (r: EpisodeRow) => string): Map<string, EpisodeRow[]> {
  const out = new Map<string, EpisodeRow[]>();
  for (const r of rows) out.set(key(r), [...(out.get(key(r)) ?? []), r]);
  return out;
}

/**
 * Pairwise games: within each generation, for each challenge, every two strategies compare their mean verdict
 * score on it — higher wins, equal (within 1e-9) ties. The challenge is the resampling cluster.
 */
export function pairwiseGames(rows: readonly EpisodeRow[]): PairwiseOutcome[] {
  const games: PairwiseOutcome[] = [];
  for (const [, genRows] of [...groupRows(rows, (r) => String(r.generation))].sort((a, b) => +a[0] - +b[0])) {
    for (const [challenge, chRows] of [...groupRows(genRows, (r) => r.challengeId)].sort()) {
      const scores = [...groupRows(chRows, (r) => r.strategyId)]
        .map(([s, rs]) => [s, mean(rs.map((r) => r.score))] as const)
        .sort((a, b) => (a[0] < b[0] ? -1 : 1));
      for (let i = 0; i < scores.length; i++) {
        for (let j = i + 1; j < scores.length; j++) {
          const d = scores[i][1] - scores[j][1];
          games.push({ challenge, a: scores[i][0], b: scores[j][0], result: Math.abs(d) <= 1e-9 ? 0.5 : d > 0 ? 1 : 0 });
        }
      }
    }
  }
  return games;
}

/**
 * The leaderboard over all generations: every strategy that competed, strongest rating first (then mean
 * fitness). Ratings come from {@linkcode pairwiseGames}; a strategy with no games has `rating: null`.
 *
 * @example
 * ```ts
 * const board = leaderboard(await readEpisodeRows(db, runId));
 * board[0].strategyId, board[0].rating?.rating, board[0].success.estimate;
 * ```
 */
export function leaderboard(rows: readonly EpisodeRow[], options: StatsOptions = {}): LeaderboardRow[] {
  const games = pairwiseGames(rows);
  const ratings = games.length
    ? new Map(bradleyTerry(games, { resamples: options.resamples ?? 1000, seed: options.seed ?? 0 }).map((r) => [r.player, r]))
    : new Map();
  const out: LeaderboardRow[] = [...groupRows(rows, (r) => r.strategyId)].map(([id, rs]) => {
    const r = ratings.get(id);
    return {
      ...strategyStats(id, rs, options),
      rating: r ? { rating: r.rating, lo: r.lo, hi: r.hi, wins: r.wins, losses: r.losses, ties: r.ties } : null,
      generations: [...new Set(rs.map((x) => x.generation))].sort((a, b) => a - b),
    };
  });
  return out.sort((a, b) =>
    (b.rating?.rating ?? -Infinity) - (a.rating?.rating ?? -Infinity) || b.fitness.estimate - a.fitness.estimate ||
    (a.strategyId < b.strategyId ? -1 : 1)
  );
}

/** Per-generation stats of every strategy, generation by generation. */
export function generationStats(rows: readonly EpisodeRow[], options: StatsOptions = {}): Map<number, StrategyStats[]> {
  const out = new Map<number, StrategyStats[]>();
  for (const [g, gr] of [...groupRows(rows, (r) => String(r.generation))].sort((a, b) => +a[0] - +b[0])) {
    out.set(+g, [...groupRows(gr, (r) => r.strategyId)].sort().map(([id, rs]) => strategyStats(id, rs, options)));
  }
  return out;
}

/** Learning metrics: how the population's fitness moved over generations. */
export function learningMetrics(rows: readonly EpisodeRow[]): LearningMetrics {
  const perGeneration = [...groupRows(rows, (r) => String(r.generation))].sort((a, b) => +a[0] - +b[0]).map(
    ([g, gr]) => ({
      generation: +g,
      meanFitness: mean(gr.map((r) => r.composite)),
      bestFitness: Math.max(...[...groupRows(gr, (r) => r.strategyId).values()].map((rs) => mean(rs.map((r) => r.composite)))),
      successRate: mean(gr.map((r) => (r.pass ? 1 : 0))),
    }),
  );
  const improvement = perGeneration.slice(1).map((p, i) => p.meanFitness - perGeneration[i].meanFitness);
  return {
    perGeneration,
    improvement,
    totalImprovement: perGeneration.length ? perGeneration.at(-1)!.meanFitness - perGeneration[0].meanFitness : 0,
  };
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

/** The leaderboard as a text table (strategy, rating with CI, success with CI, mean fitness, tokens). */
export function formatLeaderboard(rows: readonly LeaderboardRow[]): string {
  const table = [
    ["strategy", "rating [95% CI]", "success [95% CI]", "fitness", "pass@k", "tokens/ep", "gens"],
    ...rows.map((r) => [
      r.strategyId,
      r.rating ? `${r.rating.rating.toFixed(0)} [${r.rating.lo.toFixed(0)}, ${r.rating.hi.toFixed(0)}]` : "—",
      `${pct(r.success.estimate)} [${pct(r.success.lo)}, ${pct(r.success.hi)}]`,
      r.fitness.estimate.toFixed(3),
      r.passAtK.toFixed(2),
      r.tokens.perEpisode.toFixed(0),
      r.generations.join(","),
    ]),
  ];
  const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
  return table.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n");
}
