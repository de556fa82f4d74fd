/**
 * Tournament statistics from stored episodes (via `lab/stats`): per strategy and generation the mean composite
 * fitness and success rate with 95% intervals that resample challenges (not episodes), unbiased pass@k and pass^k,
 * tokens and cost; Bradley–Terry ratings (Elo scale, bootstrap intervals) from per-challenge games; and the learning
 * metrics of seed 000's Appendix C: fitness improvement per generation, convergence speed (generations to stable
 * performance) and pattern discovery rate (new verified patterns per 100 attempts).
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
import { canonicalSql } from "../util/mod.ts";
import type { EpisodeRow, EpisodeSolution } from "./store.ts";

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

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

/**
 * A leaderboard row: a strategy's stats with its Bradley–Terry rating.
 * @internal
 */
export interface LeaderboardRow extends StrategyStats {
  rating: { rating: number; lo: number; hi: number; wins: number; losses: number; ties: number } | null;
  /** Generation it was born in and the last it competed in. */
  generations: number[];
}

/** One generation's learning numbers. */
export interface GenerationLearning {
  generation: number;
  episodes: number;
  /** The population's mean composite fitness. */
  meanFitness: number;
  /** The best strategy's mean composite fitness. */
  bestFitness: number;
  successRate: number;
  /** Patterns (see {@linkcode patternKey}) first seen in this generation; absent when solutions were not given. */
  newPatterns?: number;
  /** `newPatterns` per 100 episodes of the generation. */
  discoveryRate?: number;
}

/**
 * How the population learned over generations (seed 000, Appendix C "learning metrics").
 *
 * - Fitness improvement: the change of the population's mean fitness per generation.
 * - Convergence speed: the generation from which the population's mean fitness stays put (every later change
 *   within `tolerance`); `null` when it still moved in the last generation (or there was only one).
 * - Pattern discovery rate: new patterns per 100 episodes. A pattern is what a passing episode teaches — the
 *   challenge family (the task with its parameters taken out) with the canonical SQL of its successful queries,
 *   literals masked ({@linkcode patternKey}); a pattern is new in the first generation that produced it. Falling
 *   discovery with flat fitness is convergence; rising discovery is exploration paying off.
 * @internal
 */
export interface LearningMetrics {
  perGeneration: GenerationLearning[];
  /** Change of the population mean fitness from one generation to the next (length = generations − 1). */
  improvement: number[];
  /** Last generation's population mean minus the first's. */
  totalImprovement: number;
  /** The generation from which the mean fitness changed by at most `tolerance` per generation; null if never. */
  convergence: { generation: number | null; tolerance: number };
  /** Distinct patterns of the run per 100 episodes; absent when solutions were not given. */
  patternDiscoveryRate?: number;
  /** Distinct patterns of the run; absent when solutions were not given. */
  patterns?: number;
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
  for (const r of rows) {
    const k = key(r);
    const g = out.get(k);
    if (g) g.push(r);
    else out.set(k, [r]);
  }
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

/**
 * The key of a pattern: the family and the canonical SQL of a passing episode's successful queries, in order,
 * with literals masked ({@linkcode canonicalSql} with `literals: "mask"`: the pattern store's form of a statement,
 * with every string and number literal as `?`), so the same query for another period or customer is the same
 * pattern.
 */
export function patternKey(solution: Pick<EpisodeSolution, "family" | "sql">): string {
  return `${solution.family}\u0000${solution.sql.map((sql) => canonicalSql(sql, { literals: "mask" })).join(";\n")}`;
}

/** Options for {@linkcode learningMetrics}. */
export interface LearningOptions {
  /** The passing episodes' solutions (`readSolutions`); without them no discovery numbers are computed. */
  solutions?: readonly EpisodeSolution[];
  /** Largest change of mean fitness per generation that counts as stable. @default 0.02 */
  tolerance?: number;
}

/**
 * Learning metrics: how the population's fitness moved over generations, when it settled, and how many new
 * patterns each generation discovered (see {@linkcode LearningMetrics}).
 *
 * @example
 * ```ts
 * const m = learningMetrics(await readEpisodeRows(db, runId), { solutions: await readSolutions(db, runId) });
 * m.improvement, m.convergence.generation, m.perGeneration.map((g) => g.discoveryRate);
 * ```
 */
export function learningMetrics(rows: readonly EpisodeRow[], options: LearningOptions = {}): LearningMetrics {
  const tolerance = options.tolerance ?? 0.02;
  const byGeneration = [...groupRows(rows, (r) => String(r.generation))].sort((a, b) => +a[0] - +b[0]);
  // Patterns first seen per generation: solutions in generation order (then id), distinct keys.
  const seen = new Set<string>();
  const fresh = new Map<number, number>();
  if (options.solutions) {
    const solutions = options.solutions.filter((x) => x.sql.length)
      .sort((a, b) => a.generation - b.generation || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const x of solutions) {
      const key = patternKey(x);
      if (seen.has(key)) continue;
      seen.add(key);
      fresh.set(x.generation, (fresh.get(x.generation) ?? 0) + 1);
    }
  }
  const perGeneration = byGeneration.map(([g, gr]): GenerationLearning => ({
    generation: +g,
    episodes: gr.length,
    meanFitness: mean(gr.map((r) => r.composite)),
    bestFitness: Math.max(...[...groupRows(gr, (r) => r.strategyId).values()].map((rs) => mean(rs.map((r) => r.composite)))),
    successRate: mean(gr.map((r) => (r.pass ? 1 : 0))),
    ...(options.solutions
      ? { newPatterns: fresh.get(+g) ?? 0, discoveryRate: (100 * (fresh.get(+g) ?? 0)) / gr.length }
      : {}),
  }));
  const improvement = perGeneration.slice(1).map((p, i) => p.meanFitness - perGeneration[i].meanFitness);
  // The earliest generation after which every change stays within the tolerance (the last change included).
  let converged: number | null = null;
  for (let i = improvement.length - 1; i >= 0 && Math.abs(improvement[i]) <= tolerance; i--) {
    converged = perGeneration[i].generation;
  }
  return {
    perGeneration,
    improvement,
    totalImprovement: perGeneration.length ? perGeneration.at(-1)!.meanFitness - perGeneration[0].meanFitness : 0,
    convergence: { generation: converged, tolerance },
    ...(options.solutions
      ? { patterns: seen.size, patternDiscoveryRate: rows.length ? (100 * seen.size) / rows.length : 0 }
      : {}),
  };
}

/**
 * The learning metrics as table rows, one per generation: for notebooks (`htmlTable(learningRows(run.learning))`)
 * and the CLI ({@linkcode formatLearning}).
 */
export function learningRows(m: LearningMetrics): Record<string, string | number>[] {
  return m.perGeneration.map((g, i) => ({
    generation: g.generation,
    episodes: g.episodes,
    "mean fitness": g.meanFitness.toFixed(3),
    "Δ fitness": i === 0 ? "—" : `${m.improvement[i - 1] >= 0 ? "+" : ""}${m.improvement[i - 1].toFixed(3)}`,
    "best fitness": g.bestFitness.toFixed(3),
    success: pct(g.successRate),
    "new patterns": g.newPatterns ?? "—",
    "patterns/100 ep": g.discoveryRate === undefined ? "—" : g.discoveryRate.toFixed(1),
  }));
}

/** The learning metrics as text: a per-generation table, then convergence and the run's discovery rate. */
export function formatLearning(m: LearningMetrics): string {
  const rows = learningRows(m);
  if (!rows.length) return "learning: no episodes";
  const head = Object.keys(rows[0]);
  const table = [head, ...rows.map((r) => head.map((k) => String(r[k])))];
  const widths = head.map((_, i) => Math.max(...table.map((row) => row[i].length)));
  const lines = table.map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
  const conv = m.convergence.generation === null
    ? `not converged (the mean fitness moved more than ±${m.convergence.tolerance} in the last generation)`
    : `converged at generation ${m.convergence.generation} (mean fitness within ±${m.convergence.tolerance} per generation after it)`;
  lines.push(
    `fitness ${m.totalImprovement >= 0 ? "+" : ""}${m.totalImprovement.toFixed(3)} over the run; ${conv}` +
      (m.patternDiscoveryRate === undefined
        ? ""
        : `; ${m.patterns} distinct pattern${m.patterns === 1 ? "" : "s"}, ${m.patternDiscoveryRate.toFixed(1)} per 100 episodes`),
  );
  return lines.join("\n");
}

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
