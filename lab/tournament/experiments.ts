/**
 * Experiments on the tournament itself (issue "Agent runtime and competitive tournaments"):
 *
 * - Calibration: {@linkcode pairedStrategyDiff} (paired success or fitness difference of two strategies in a run,
 *   clustered by challenge) and {@linkcode ratingDiffCI} (Bradley–Terry rating difference with a challenge
 *   bootstrap) — the intervals whose A/A coverage `calibration.test.ts` checks.
 * - Selection flatters the winner: {@linkcode reevaluateWinners} runs the first- and last-generation winners again on
 *   another split with fresh seeds and reports both the tournament's figure and the fresh one.
 * - Does competition help? {@linkcode competitionVsSingle} runs the tournament (with selection) and a single strategy
 *   on the same episode budget, then both final strategies on `dev` with identical instances and seeds, and reports
 *   the lift with a paired 95% interval (cluster = dev instance) and McNemar.
 *
 * The seed's "Learning Acceleration" claim (five instances learn 10× faster than one) is the hypothesis here, not an
 * assumption: at equal budget, the single arm has no way to use its episodes (no selection, no pattern memory in this
 * experiment), so the comparison measures exactly what the budget spent on selection buys on held-out instances.
 * @module
 */
import type { Challenge, Split } from "../challenges/mod.ts";
import {
  type EpisodeRecord,
  type PatternSource,
  runEpisode,
  type ExampleRenderer,
  type StrategiesConfig,
  type Strategy,
} from "../agents/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import { type ChatModel, createChatModel } from "../models/mod.ts";
import {
  adjustedLevel,
  bootstrapCI,
  type BootstrapOptions,
  type BootstrapResult,
  bradleyTerryFit,
  mcnemar,
  type McNemarResult,
  pairedDiffCI,
  type PairedDiffResult,
  type PairedValue,
  quantile,
} from "../stats/mod.ts";
import { parseTournamentConfig, type TournamentConfig } from "./config.ts";
import { hashSeed, rootId, type Standing } from "./evolve.ts";
import { pairwiseGames, type StrategyStats } from "./stats.ts";
import { DEFAULT_DB_PATH, type EpisodeRow, queryStore, readEpisodeRows } from "./store.ts";
import {
  loadRunConfigs,
  openConfigPool,
  runTournament,
  type RunSummary,
  selectChallenges,
  type TournamentProgress,
} from "./tournament.ts";

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

/**
 * `count` episode seeds derived from `salt`, none of them in `exclude` (e.g. a run's tournament seeds), so a
 * re-evaluation never replays an episode the tournament already saw.
 *
 * @example
 * ```ts
 * freshSeeds(2, { salt: "dev:t-1a2b", exclude: new Set(rows.map((r) => r.seed)) }); // two 31-bit seeds
 * ```
 */
export function freshSeeds(count: number, options: { salt?: string; exclude?: ReadonlySet<number> } = {}): number[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`freshSeeds: count must be a positive integer, found ${count}`);
  const out: number[] = [];
  for (let i = 0; out.length < count; i++) {
    const s = hashSeed(`fresh:${options.salt ?? ""}:${i}`);
    if (!options.exclude?.has(s) && !out.includes(s)) out.push(s);
  }
  return out;
}

/** One episode of an evaluation outside a tournament (nothing is stored). */
export interface EvalEpisode {
  strategyId: string;
  challengeId: string;
  split: string;
  seed: number;
  pass: boolean;
  score: number;
  composite: number;
  tokens: number;
  costUsd: number;
  stopReason: string;
}

/** What {@linkcode evaluateStrategies} runs with. */
export interface EvaluateOptions {
  /** Episode seeds: every strategy runs every challenge once per seed. */
  seeds: readonly number[];
  model: ChatModel;
  pool: SandboxPool;
  fitness?: StrategiesConfig["fitness"];
  /** Episodes at once. @default 4 */
  concurrency?: number;
  signal?: AbortSignal;
  onEpisode?: (done: number, total: number) => void;
  /** Examples injected into every episode (e.g. a pattern retriever's source). @default none */
  patterns?: PatternSource;
  /** Renders injected examples. @default the runner's (injection format v1) */
  renderExamples?: ExampleRenderer;
  /** Receives each episode's full record (in completion order). */
  onRecord?: (record: EpisodeRecord) => void;
}

/**
 * Runs every strategy on every challenge once per seed (strategies with the same id run once) and returns the
 * episodes in (strategy, challenge, seed) order. The same (challenge, seed) for every strategy, so the results pair.
 * Expected failures are recorded in the episodes (STYLE #5); an abort throws, since a partial evaluation would not pair.
 *
 * @example
 * ```ts
 * const dev = (await loadCatalog({ split: "dev", level: 1 })).slice(0, 6);
 * const eps = await evaluateStrategies([cfg.strategies.alpha, cfg.strategies.gamma], dev, { seeds: freshSeeds(2), model, pool });
 * eps.filter((e) => e.strategyId === "alpha" && e.pass).length;
 * ```
 */
export async function evaluateStrategies(
  strategies: readonly Strategy[],
  challenges: readonly Challenge[],
  options: EvaluateOptions,
): Promise<EvalEpisode[]> {
  const unique = [...new Map(strategies.map((s) => [s.id, s])).values()];
  const tasks = unique.flatMap((strategy) =>
    challenges.flatMap((challenge) => options.seeds.map((seed, attempt) => ({ strategy, challenge, seed, attempt })))
  );
  const out = new Array<EvalEpisode | undefined>(tasks.length);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < tasks.length && !options.signal?.aborted) {
      const i = next++;
      const t = tasks[i];
      const rec: EpisodeRecord = await runEpisode(
        { challenge: t.challenge, strategy: t.strategy, model: options.model, attempt: t.attempt, seed: t.seed },
        {
          pool: options.pool,
          fitness: options.fitness,
          signal: options.signal,
          ...(options.patterns ? { patterns: options.patterns } : {}),
          ...(options.renderExamples ? { renderExamples: options.renderExamples } : {}),
        },
      );
      out[i] = {
        strategyId: t.strategy.id,
        challengeId: t.challenge.id,
        split: t.challenge.split,
        seed: t.seed,
        pass: rec.verdict.pass,
        score: rec.verdict.score,
        composite: rec.fitness.composite,
        tokens: rec.tokens.total,
        costUsd: rec.costUsd,
        stopReason: rec.stopReason,
      };
      options.onRecord?.(rec);
      options.onEpisode?.(++done, tasks.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.concurrency ?? 4, tasks.length)) }, worker));
  if (options.signal?.aborted) throw new DOMException("evaluation aborted", "AbortError");
  return out as EvalEpisode[];
}

function pairEval(episodes: readonly EvalEpisode[], control: string, treatment: string) {
  const key = (e: EvalEpisode) => `${e.challengeId}|${e.seed}`;
  const controls = new Map(episodes.filter((e) => e.strategyId === control).map((e) => [key(e), e]));
  return episodes.filter((e) => e.strategyId === treatment).map((t) => ({ a: controls.get(key(t))!, b: t }));
}

/** A strategy's success and fitness over evaluation episodes, with challenge-bootstrap 95% intervals. */
export interface EvalFigure {
  episodes: number;
  success: BootstrapResult;
  fitness: BootstrapResult;
}

/** Success and fitness of evaluation episodes (one strategy's), with challenge-bootstrap 95% intervals. */
export function evalFigure(episodes: readonly EvalEpisode[], boot: BootstrapOptions): EvalFigure {
  return {
    episodes: episodes.length,
    success: bootstrapCI(episodes.map((e) => ({ cluster: e.challengeId, value: e.pass ? 1 : 0 })), undefined, boot),
    fitness: bootstrapCI(episodes.map((e) => ({ cluster: e.challengeId, value: e.composite })), undefined, boot),
  };
}

/** The lift `treatment − control` on paired evaluation episodes. */
export interface Lift {
  /** Pairs (instance × seed). */
  pairs: number;
  success: PairedDiffResult;
  fitness: PairedDiffResult;
  /** McNemar on pass/fail pairs (a = control, b = treatment); treats pairs as independent. */
  mcnemar: McNemarResult;
}

/** The lift `treatment − control` on evaluation episodes paired by (challenge, seed), clustered by challenge. */
export function liftOf(episodes: readonly EvalEpisode[], control: string, treatment: string, boot: BootstrapOptions): Lift {
  const pairs = pairEval(episodes, control, treatment);
  const p = (m: PairedMetric) => pairs.map(({ a, b }) => ({ cluster: a.challengeId, a: metricOf(m)(a), b: metricOf(m)(b) }));
  return {
    pairs: pairs.length,
    success: pairedDiffCI(p("success"), boot),
    fitness: pairedDiffCI(p("fitness"), boot),
    mcnemar: mcnemar(pairs.map(({ a, b }) => ({ a: a.pass, b: b.pass }))),
  };
}

/** What the experiments share: where the episodes run. */
export interface ExperimentEnv {
  /** The store. @default "data/lab.duckdb" */
  db?: string;
  /** @default `createChatModel(config.model)`, at `baseUrl` when given */
  model?: ChatModel;
  baseUrl?: string;
  /** @default the config's `strategies_file` */
  strategies?: StrategiesConfig;
  /** @default a pool on the config's sandbox */
  pool?: SandboxPool;
  /** Where sandboxes are built and cached. @default "data/sandbox" */
  sandboxDir?: string;
  /** Bootstrap settings of every interval. @default 2000 resamples, seed 0 */
  stats?: Omit<BootstrapOptions, "level">;
  signal?: AbortSignal;
}

/**
 * Resolves an experiment's environment: the strategies, the model and a sandbox pool (opened on the config's
 * sandbox unless given); `close()` closes the pool if it opened one.
 */
export async function openEnv(
  config: TournamentConfig,
  env: ExperimentEnv,
): Promise<{ strategies: StrategiesConfig; model: ChatModel; pool: SandboxPool; close: () => void }> {
  // Every config is read and checked before the pool opens (which may build a sandbox file).
  const configs = await loadRunConfigs(config, { strategies: env.strategies, model: !env.model });
  const strategies = configs.strategies;
  const model = env.model ?? createChatModel(configs.model!, env.baseUrl ? { baseUrl: env.baseUrl } : {});
  const ownPool = !env.pool;
  const pool = env.pool ?? await openConfigPool(config, env.sandboxDir);
  return {
    strategies,
    model,
    pool,
    close: () => {
      if (ownPool) pool.close();
    },
  };
}

/** Challenges of `split` with the same levels and families as the config's, at most `max` of them. */
export async function splitChallenges(config: TournamentConfig, split: Split, max: number): Promise<Challenge[]> {
  return await selectChallenges(
    parseTournamentConfig({ ...config, split, challenges: { ...config.challenges, max_instances: max } }),
    `${split} selection`,
  );
}

/**
 * The instances of the external families in `paths` (challenge files or folders, any split: the catalog's splits do
 * not apply to a researcher's own set) with the same levels and families as the config's, at most `max` of them
 * (default the config's `max_instances`).
 *
 * @example
 * ```ts
 * const mine = await externalChallenges(config, { paths: ["../held-out"], max: 24 });
 * ```
 */
export async function externalChallenges(
  config: TournamentConfig,
  options: { paths: readonly string[]; max?: number },
): Promise<Challenge[]> {
  const max = options.max ?? config.challenges.max_instances;
  return await selectChallenges(
    parseTournamentConfig({ ...config, challenges: { ...config.challenges, max_instances: max } }),
    "external selection",
    { external: options.paths },
  );
}

/** The strategy a run stored under `id`, with the shared prompt of `strategies`. */
async function storedStrategy(db: string, runId: string, id: string, strategies: StrategiesConfig): Promise<Strategy> {
  const [row] = await queryStore(db, "SELECT strategy::VARCHAR AS s FROM strategies WHERE run_id = $1 AND id = $2", [runId, id]);
  if (!row) throw new Error(`Cannot re-evaluate '${id}': run '${runId}' in ${db} stored no strategy with that id`);
  // Stored without the shared prompt text, which every strategy of a file carries.
  const prompt = (strategies.strategies[rootId(id)] ?? Object.values(strategies.strategies)[0]).prompt;
  return { ...JSON.parse(String(row.s)), id, prompt } as Strategy;
}

async function storedConfig(db: string, runId: string): Promise<TournamentConfig> {
  const [row] = await queryStore(db, "SELECT config::VARCHAR AS c FROM runs WHERE id = $1", [runId]);
  const snapshot = row ? JSON.parse(String(row.c)) : undefined;
  if (!snapshot?.config) {
    throw new Error(`Cannot read the config of run '${runId}' from ${db}: pass options.config to reevaluateWinners`);
  }
  return parseTournamentConfig(snapshot.config, `run ${runId} in ${db}`);
}

/** Options for {@linkcode reevaluateWinners}. */
export interface ReevaluateOptions extends ExperimentEnv {
  /** @default "dev" */
  split?: Split;
  /** Fresh episode seeds (none may be a seed of the tournament). @default 2 seeds from {@linkcode freshSeeds} */
  seeds?: readonly number[];
  /** Instances to evaluate on. @default the run's levels and families on `split`, up to its `max_instances` */
  challenges?: readonly Challenge[];
  /** The run's config. @default the one stored with the run */
  config?: TournamentConfig;
}

/** One winner: the tournament's figure (the one selection saw) next to a fresh one. */
export interface WinnerFigures {
  role: "first" | "last";
  generation: number;
  strategyId: string;
  /** In the generation it won, on the tournament's challenges and seeds. */
  tournament: { standing: Standing; success: BootstrapResult | null; fitness: BootstrapResult | null };
  /** On the re-evaluation split with fresh seeds. */
  reevaluated: EvalFigure;
  /** tournament − reevaluated: how much selection (and the split) flattered it. */
  optimism: { success: number; fitness: number };
}

/** What {@linkcode reevaluateWinners} found. */
export interface WinnerReevaluation {
  runId: string;
  split: Split;
  seeds: number[];
  challenges: string[];
  /** Distinct episode seeds of the tournament (none of them reused). */
  tournamentSeeds: number;
  winners: WinnerFigures[];
  /** Last-generation winner − first-generation winner on the fresh episodes (0 when it is the same strategy). */
  lastVsFirst: Lift;
  episodes: EvalEpisode[];
}

/**
 * Selection flatters the winner: the strategy that ranked first was measured on the episodes it was picked by, so its
 * tournament figure is biased upwards. Runs the first- and last-generation winners again on `split` (default dev) with
 * fresh seeds, paired, and reports both figures side by side. On another split the gap also holds the split shift;
 * pass `split: "train"` for the selection bias alone.
 *
 * @example
 * ```ts
 * const run = await runTournament(config, { db });
 * const re = await reevaluateWinners(run, { split: "dev", seeds: freshSeeds(2, { salt: run.runId }) });
 * re.winners.map((w) => [w.strategyId, w.tournament.standing.successRate, w.reevaluated.success.estimate]);
 * ```
 */
export async function reevaluateWinners(run: RunSummary, options: ReevaluateOptions = {}): Promise<WinnerReevaluation> {
  if (!run.generations.length) throw new RangeError(`reevaluateWinners: run '${run.runId}' finished no generation`);
  const db = run.db;
  const split = options.split ?? "dev";
  const config = options.config ?? await storedConfig(db, run.runId);
  const rows = await readEpisodeRows(db, run.runId);
  const used = new Set(rows.map((r) => r.seed));
  const seeds = [...(options.seeds ?? freshSeeds(2, { salt: `${split}:${run.runId}`, exclude: used }))];
  const reused = seeds.filter((s) => used.has(s));
  if (reused.length) {
    throw new RangeError(`reevaluateWinners: seeds ${reused.join(", ")} were used by the tournament; pass fresh ones (freshSeeds)`);
  }
  const challenges = options.challenges ? [...options.challenges] : await splitChallenges(config, split, config.challenges.max_instances);
  const wrong = challenges.filter((c) => c.split !== split);
  if (wrong.length) throw new RangeError(`reevaluateWinners: ${wrong[0].id} is on split ${wrong[0].split}, not ${split}`);

  const env = await openEnv(config, options);
  try {
    const first = run.generations[0];
    const last = run.generations.at(-1)!;
    const picks = [
      { role: "first" as const, g: first },
      { role: "last" as const, g: last },
    ];
    const strategies = await Promise.all(picks.map((p) => storedStrategy(db, run.runId, p.g.ranking[0].strategyId, env.strategies)));
    const episodes = await evaluateStrategies(strategies, challenges, {
      seeds,
      model: env.model,
      pool: env.pool,
      fitness: env.strategies.fitness,
      concurrency: config.concurrency,
      signal: options.signal,
    });
    const boot = options.stats ?? {};
    const winners = picks.map(({ role, g }): WinnerFigures => {
      const standing = g.ranking[0];
      const stats: StrategyStats | undefined = g.stats.find((s) => s.strategyId === standing.strategyId);
      const reevaluated = evalFigure(episodes.filter((e) => e.strategyId === standing.strategyId), boot);
      return {
        role,
        generation: g.generation,
        strategyId: standing.strategyId,
        tournament: { standing, success: stats?.success ?? null, fitness: stats?.fitness ?? null },
        reevaluated,
        optimism: {
          success: standing.successRate - reevaluated.success.estimate,
          fitness: standing.meanFitness - reevaluated.fitness.estimate,
        },
      };
    });
    return {
      runId: run.runId,
      split,
      seeds,
      challenges: challenges.map((c) => c.id),
      tournamentSeeds: used.size,
      winners,
      lastVsFirst: liftOf(episodes, winners[0].strategyId, winners[1].strategyId, boot),
      episodes,
    };
  } finally {
    env.close();
  }
}

/** Progress of {@linkcode competitionVsSingle}: the two training arms' tournament events, then the dev episodes. */
export type CompetitionProgress =
  | { arm: "tournament" | "single"; event: TournamentProgress }
  | { arm: "dev"; done: number; total: number };

/** Options for {@linkcode competitionVsSingle}. */
export interface CompetitionOptions extends ExperimentEnv {
  config: TournamentConfig;
  /**
   * Training episodes per arm. The tournament uses ⌊budget / (strategies × attempts × generations)⌋ train instances
   * (at most as many as the selection has); the single arm runs the same instances with strategies × attempts ×
   * generations attempts each, so both spend exactly the same number of episodes.
   * @default the config's own tournament size (strategies × max_instances × attempts × generations)
   */
  budget?: number;
  /** The single arm's strategy. @default "gamma" (the seed's balanced one) when in the population, else the first */
  single?: string;
  /** Train instances to draw from (both arms). @default the config's selection */
  challenges?: readonly Challenge[];
  /** Dev instances (both arms, identical). @default the config's levels and families on dev, up to `devInstances` */
  devChallenges?: readonly Challenge[];
  /**
   * Challenge files or folders (a researcher's own set): both arms train on, and are re-evaluated on, the instances
   * of their families whatever their split (selected as the config selects; the re-evaluation is reported as split
   * `external`). `challenges` and `devChallenges` still take precedence. @default none: train, then dev
   */
  external?: readonly string[];
  /** @default the config's `max_instances` */
  devInstances?: number;
  /** Dev episode seeds (fresh: none may be a seed of either training arm), or how many. @default 2 */
  devSeeds?: readonly number[] | number;
  /** Run ids of the two arms. @default hashes of their configs (so a re-run resumes) */
  runIds?: { tournament?: string; single?: string };
  onProgress?: (event: CompetitionProgress) => void;
}

/** One training arm. */
export interface ArmSummary {
  runId: string;
  /** Episodes it stored. */
  episodes: number;
  /** The strategy it ends with: the last generation's winner (the single strategy for the single arm). */
  final: string;
  /** Its figure in the last generation, on train (what selection saw). */
  train: Standing;
  /** The final strategy's lineage root (its seed ancestor). */
  root: string;
}

/** What {@linkcode competitionVsSingle} found. */
export interface CompetitionResult {
  model: { name: string; id: string };
  /** Set when the model is lab-mini: the figures describe it, not LLMs. */
  label: string | null;
  budget: {
    requested: number;
    /** Episodes each arm was allowed: strategies × attempts × generations × train instances. */
    perArm: number;
    /** Episodes per train instance in each arm. */
    perInstance: number;
    trainInstances: number;
  };
  trainChallenges: string[];
  tournament: ArmSummary & { generations: number; population: number };
  single: ArmSummary;
  dev: {
    /** The re-evaluation set: the catalog's `dev`, or `external` (the instances of `options.external`). */
    split: "dev" | "external";
    challenges: string[];
    seeds: number[];
    tournament: EvalFigure;
    single: EvalFigure;
  };
  /** Tournament winner − single strategy on dev, paired by (instance, seed), clustered by instance. */
  lift: Lift;
  /** The tournament winner's train figure minus its dev figure. */
  optimism: { success: number; fitness: number };
  /** Both arms ended with the same strategy: the lift is 0 by construction. */
  sameStrategy: boolean;
  episodes: EvalEpisode[];
  elapsedMs: number;
}

/**
 * Does competition help? The tournament (selection over the config's population) and a single strategy get the same
 * training budget in episodes; then the tournament's final winner and the single strategy run on the same dev
 * instances with the same fresh seeds, and the lift (winner − single) is reported with a paired 95% interval
 * (cluster = dev instance) and McNemar. Nothing asserts that competition wins.
 *
 * @example
 * ```ts
 * const r = await competitionVsSingle({ config: await loadTournamentConfig(), budget: 240, baseUrl });
 * console.log(formatCompetition(r));
 * ```
 */
export async function competitionVsSingle(options: CompetitionOptions): Promise<CompetitionResult> {
  const t0 = performance.now();
  const { config } = options;
  const db = options.db ?? DEFAULT_DB_PATH;
  const env = await openEnv(config, options);
  try {
    const population = config.strategies.length ? config.strategies : Object.keys(env.strategies.strategies);
    const single = options.single ?? (population.includes("gamma") ? "gamma" : population[0]);
    if (!env.strategies.strategies[single]) {
      throw new RangeError(`competitionVsSingle: no strategy named '${single}' in ${env.strategies.source}`);
    }
    const perInstance = population.length * config.attempts * config.generations;
    const requested = options.budget ?? perInstance * config.challenges.max_instances;
    const instances = Math.floor(requested / perInstance);
    if (!Number.isInteger(requested) || instances < 1) {
      throw new RangeError(
        `competitionVsSingle: budget ${requested} is below one train instance's worth: ${population.length} strategies × ` +
          `${config.attempts} attempts × ${config.generations} generations = ${perInstance} episodes`,
      );
    }
    const pool = options.challenges
      ? [...options.challenges].sort((a, b) => (a.id < b.id ? -1 : 1))
      : await selectChallenges(
        parseTournamentConfig({ ...config, challenges: { ...config.challenges, max_instances: instances } }),
        undefined,
        { external: options.external },
      );
    const train = pool.slice(0, instances);

    const common = {
      db,
      model: env.model,
      strategies: env.strategies,
      pool: env.pool,
      challenges: train,
      signal: options.signal,
      stats: options.stats,
    };
    const tournamentConfig = parseTournamentConfig({ ...config, strategies: population });
    const tRun = await runTournament(tournamentConfig, {
      ...common,
      runId: options.runIds?.tournament,
      onProgress: (event) => options.onProgress?.({ arm: "tournament", event }),
    });
    // The single arm: one strategy, no selection, the same instances, as many attempts per instance as the
    // tournament spent on each (strategies × attempts × generations).
    const singleConfig = parseTournamentConfig({
      ...config,
      strategies: [single],
      attempts: perInstance,
      generations: 1,
      selection: { ...config.selection, replace: 0 },
    });
    const sRun = await runTournament(singleConfig, {
      ...common,
      runId: options.runIds?.single,
      onProgress: (event) => options.onProgress?.({ arm: "single", event }),
    });
    if (tRun.status !== "completed" || sRun.status !== "completed") {
      throw new DOMException("competitionVsSingle aborted; re-run with the same options to resume", "AbortError");
    }

    const arm = (run: RunSummary): ArmSummary => {
      const last = run.generations.at(-1)!;
      return {
        runId: run.runId,
        episodes: run.episodes.stored,
        final: last.ranking[0].strategyId,
        train: last.ranking[0],
        root: rootId(last.ranking[0].strategyId),
      };
    };
    const tArm = arm(tRun);
    const sArm = arm(sRun);

    const used = new Set([
      ...(await readEpisodeRows(db, tRun.runId)).map((r) => r.seed),
      ...(await readEpisodeRows(db, sRun.runId)).map((r) => r.seed),
    ]);
    const seedsOpt = options.devSeeds ?? 2;
    const seeds = typeof seedsOpt === "number" ? freshSeeds(seedsOpt, { salt: `dev:${tRun.runId}`, exclude: used }) : [...seedsOpt];
    const reused = seeds.filter((s) => used.has(s));
    if (reused.length) throw new RangeError(`competitionVsSingle: dev seeds ${reused.join(", ")} were used in training; pass fresh ones`);
    const devSet = options.external?.length ? "external" : "dev";
    const devMax = options.devInstances ?? config.challenges.max_instances;
    const dev = options.devChallenges
      ? [...options.devChallenges]
      : devSet === "external"
      ? await externalChallenges(config, { paths: options.external!, max: devMax })
      : await splitChallenges(config, "dev", devMax);
    // An external set keeps whatever split its loader gave it; only the catalog's re-evaluation must be dev.
    const notDev = devSet === "dev" ? dev.find((c) => c.split !== "dev") : undefined;
    if (notDev) throw new RangeError(`competitionVsSingle: ${notDev.id} is on split ${notDev.split}, not dev`);

    const winner = await storedStrategy(db, tRun.runId, tArm.final, env.strategies);
    const episodes = await evaluateStrategies([winner, env.strategies.strategies[single]], dev, {
      seeds,
      model: env.model,
      pool: env.pool,
      fitness: env.strategies.fitness,
      concurrency: config.concurrency,
      signal: options.signal,
      onEpisode: (done, total) => options.onProgress?.({ arm: "dev", done, total }),
    });
    const boot = options.stats ?? {};
    const tDev = evalFigure(episodes.filter((e) => e.strategyId === tArm.final), boot);
    const sDev = evalFigure(episodes.filter((e) => e.strategyId === single), boot);
    return {
      model: tRun.model,
      label: /lab-mini/.test(`${tRun.model.name} ${tRun.model.id}`)
        ? "lab-mini results (a small model trained in the lab), not claims about LLMs"
        : null,
      budget: { requested, perArm: perInstance * train.length, perInstance, trainInstances: train.length },
      trainChallenges: train.map((c) => c.id),
      tournament: { ...tArm, generations: config.generations, population: population.length },
      single: sArm,
      dev: { split: devSet, challenges: dev.map((c) => c.id), seeds, tournament: tDev, single: sDev },
      lift: liftOf(episodes, single, tArm.final, boot),
      optimism: {
        success: tArm.train.successRate - tDev.success.estimate,
        fitness: tArm.train.meanFitness - tDev.fitness.estimate,
      },
      sameStrategy: tArm.final === single,
      episodes,
      elapsedMs: performance.now() - t0,
    };
  } finally {
    env.close();
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const pp = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} pp`;
const f3 = (x: number) => x.toFixed(3);

/**
 * The result of {@linkcode competitionVsSingle} as text, led by the lab-mini label when it applies.
 *
 * @example
 * ```ts
 * console.log(formatCompetition(await competitionVsSingle({ config, budget: 120, baseUrl })));
 * ```
 */
export function formatCompetition(r: CompetitionResult): string {
  const set = r.dev.split;
  const external = set === "external";
  const lines = [
    ...(r.label ? [r.label, ""] : []),
    `model ${r.model.name} (${r.model.id})`,
    ...(external ? ["challenges: the external set (its instances whatever their split), for training and re-evaluation"] : []),
    `budget: ${r.budget.perArm} train episodes per arm (requested ${r.budget.requested}) on ${r.budget.trainInstances} ` +
    `${external ? "external" : "train"} instances, ` +
    `${r.budget.perInstance} per instance`,
    `tournament ${r.tournament.runId}: ${r.tournament.population} strategies × ${r.tournament.generations} generations → winner ` +
    `${r.tournament.final} (train success ${pct(r.tournament.train.successRate)}, fitness ${f3(r.tournament.train.meanFitness)}; ` +
    `${r.tournament.episodes} episodes)`,
    `single     ${r.single.runId}: ${r.single.final} (train success ${pct(r.single.train.successRate)}, fitness ` +
    `${f3(r.single.train.meanFitness)}; ${r.single.episodes} episodes)`,
    "",
    `${set}: ${r.dev.challenges.length} instances × ${r.dev.seeds.length} fresh seeds [${r.dev.seeds.join(", ")}] = ${r.lift.pairs} pairs`,
    `  tournament winner  success ${pct(r.dev.tournament.success.estimate)} [${pct(r.dev.tournament.success.lo)}, ` +
    `${pct(r.dev.tournament.success.hi)}]  fitness ${f3(r.dev.tournament.fitness.estimate)}`,
    `  single strategy    success ${pct(r.dev.single.success.estimate)} [${pct(r.dev.single.success.lo)}, ` +
    `${pct(r.dev.single.success.hi)}]  fitness ${f3(r.dev.single.fitness.estimate)}`,
    `  lift (winner − single): success ${pp(r.lift.success.estimate)} [${pp(r.lift.success.lo)}, ${pp(r.lift.success.hi)}], ` +
    `fitness ${f3(r.lift.fitness.estimate)} [${f3(r.lift.fitness.lo)}, ${f3(r.lift.fitness.hi)}] (95% CI, cluster = ${set} instance)`,
    `  McNemar: winner-only passes ${r.lift.mcnemar.c}, single-only passes ${r.lift.mcnemar.b}, p = ` +
    `${r.lift.mcnemar.pValue.toFixed(3)} (${r.lift.mcnemar.method})`,
    `  selection optimism of the winner (train − ${set}): success ${pp(r.optimism.success)}, fitness ${f3(r.optimism.fitness)}`,
  ];
  if (r.sameStrategy) lines.push("  (the tournament ended with the single strategy itself: the lift is 0 by construction)");
  const rates = [r.dev.tournament.success.estimate, r.dev.single.success.estimate];
  if (rates.every((x) => x === 0) || rates.every((x) => x === 1)) {
    lines.push(
      `  (both arms ${rates[0] === 0 ? "pass nothing" : "pass everything"} on ${set}: success cannot tell them apart, and ` +
        "selection on train ranked by the fitness terms other than success)",
    );
  }
  return lines.join("\n");
}
