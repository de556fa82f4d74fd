/**
 * Suites on the tournament itself:
 *
 * - Selection flatters the winner: {@linkcode reevaluateWinners} runs the first- and last-generation winners again on
 *   another split with fresh seeds and reports both the tournament's figure and the fresh one.
 * - Does competition help? {@linkcode competitionVsSingle} runs the tournament (with selection) and a single strategy
 *   on the same episode budget, then both final strategies on `dev` with identical instances and seeds, and reports
 *   the lift with a paired 95% interval clustered by family, a family sign-flip p-value and McNemar.
 *
 * The seed's "Learning Acceleration" claim (five instances learn 10× faster than one) is the hypothesis here, not an
 * assumption: at equal budget, the single arm has no way to use its episodes (no selection, no pattern memory in this
 * experiment), so the comparison measures exactly what the budget spent on selection buys on held-out instances.
 * @module
 */
import type { Challenge, Split } from "../challenges/mod.ts";
import type { BootstrapResult } from "../stats/mod.ts";
import {
  parseTournamentConfig,
  readEpisodeRows,
  rootId,
  runTournament,
  type RunSummary,
  selectChallenges,
  type Standing,
  type StrategyStats,
  type TournamentConfig,
  type TournamentProgress,
} from "../tournament/mod.ts";
import { compare, formatEstimate } from "./compare.ts";
import { runSuite, type SuiteEpisode } from "./suite.ts";
import {
  armFigure,
  type ArmFigure,
  type EvalEnv,
  externalChallenges,
  freshSeeds,
  type Lift,
  liftOf,
  splitChallenges,
  storedConfig,
  storedStrategy,
} from "./env.ts";
import { modelLabel } from "./label.ts";
import type { Strategy } from "../agents/mod.ts";

/** Runs strategies as arms (arm id = strategy id) on challenges × seeds and compares them with the first. */
async function strategySuite(
  name: string,
  arms: { id: string; strategy: Strategy }[],
  challenges: readonly Challenge[],
  seeds: readonly number[],
  env: EvalEnv,
  options: { concurrency?: number; onEpisode?: (done: number, total: number) => void },
) {
  const r = await runSuite(
    { name, challenges, seeds, arms: arms.map((a) => ({ id: a.id, model: "env", strategy: a.strategy })) },
    {
      models: () => env.model,
      pool: env.pool,
      fitness: env.strategies.fitness,
      concurrency: options.concurrency,
      signal: env.signal,
      onEpisode: options.onEpisode,
    },
  );
  const control = arms[0].id;
  return {
    episodes: r.episodes,
    success: compare(r.episodes, { control, permutations: env.stats }),
    fitness: compare(r.episodes, { control, metric: "composite", permutations: env.stats }),
  };
}

/**
 * Options for {@linkcode reevaluateWinners}.
 * @internal
 */
export interface ReevaluateOptions {
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
  reevaluated: ArmFigure;
  /** tournament − reevaluated: how much selection (and the split) flattered it. */
  optimism: { success: number; fitness: number };
}

/**
 * What {@linkcode reevaluateWinners} found.
 * @internal
 */
export interface WinnerReevaluation {
  runId: string;
  split: Split;
  seeds: number[];
  challenges: string[];
  /** Distinct episode seeds of the tournament (none of them reused). */
  tournamentSeeds: number;
  winners: WinnerFigures[];
  /** Last-generation winner − first-generation winner on the fresh episodes; null when it is the same strategy. */
  lastVsFirst: Lift | null;
  episodes: SuiteEpisode[];
}

/**
 * Selection flatters the winner: the strategy that ranked first was measured on the episodes it was picked by, so its
 * tournament figure is biased upwards. Runs the first- and last-generation winners again on `split` (default dev) with
 * fresh seeds, paired, and reports both figures side by side. On another split the gap also holds the split shift;
 * pass `split: "train"` for the selection bias alone.
 *
 * @example
 * ```ts
 * const run = await runTournament(config, { db, model, strategies, pool });
 * const re = await reevaluateWinners(run, { db, model, strategies, pool }, { split: "dev" });
 * re.winners.map((w) => [w.strategyId, w.tournament.standing.successRate, w.reevaluated.success.estimate]);
 * ```
 */
export async function reevaluateWinners(run: RunSummary, env: EvalEnv, options: ReevaluateOptions = {}): Promise<WinnerReevaluation> {
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

  const first = run.generations[0];
  const last = run.generations.at(-1)!;
  const picks = [
    { role: "first" as const, g: first },
    { role: "last" as const, g: last },
  ];
  const ids = [...new Set(picks.map((p) => p.g.ranking[0].strategyId))];
  const arms = await Promise.all(ids.map(async (id) => ({ id, strategy: await storedStrategy(db, run.runId, id, env.strategies) })));
  const suite = await strategySuite(`reevaluate ${run.runId}`, arms, challenges, seeds, env, { concurrency: config.concurrency });
  const winners = picks.map(({ role, g }): WinnerFigures => {
    const standing = g.ranking[0];
    const stats: StrategyStats | undefined = g.stats.find((s) => s.strategyId === standing.strategyId);
    const reevaluated = armFigure(suite.success, suite.fitness, standing.strategyId);
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
    lastVsFirst: ids.length === 2 ? liftOf(suite.success, suite.fitness, ids[1]) : null,
    episodes: suite.episodes,
  };
}

/** Progress of {@linkcode competitionVsSingle}: the two training arms' tournament events, then the dev episodes. */
export type CompetitionProgress =
  | { arm: "tournament" | "single"; event: TournamentProgress }
  | { arm: "dev"; done: number; total: number };

/**
 * Options for {@linkcode competitionVsSingle}.
 * @internal
 */
export interface CompetitionOptions {
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

/**
 * What {@linkcode competitionVsSingle} found.
 * @internal
 */
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
    tournament: ArmFigure;
    single: ArmFigure;
  };
  /** Tournament winner − single strategy on dev, paired by (instance, seed), clustered by family. */
  lift: Lift;
  /** The tournament winner's train figure minus its dev figure. */
  optimism: { success: number; fitness: number };
  /** Both arms ended with the same strategy (their episodes still both run, on the same seeds). */
  sameStrategy: boolean;
  /** Dev episodes: arm `tournament` (the winner) and arm `single`. */
  episodes: SuiteEpisode[];
  elapsedMs: number;
}

/**
 * Does competition help? The tournament (selection over the config's population) and a single strategy get the same
 * training budget in episodes; then the tournament's final winner and the single strategy run on the same dev
 * instances with the same fresh seeds, and the lift (winner − single) is reported with a paired 95% interval and a
 * sign-flip p-value, both over families, and McNemar. Nothing asserts that competition wins.
 *
 * @example
 * ```ts
 * const r = await competitionVsSingle({ db, model, strategies, pool }, { config: await loadTournamentConfig(), budget: 240 });
 * console.log(formatCompetition(r));
 * ```
 */
export async function competitionVsSingle(env: EvalEnv, options: CompetitionOptions): Promise<CompetitionResult> {
  const t0 = performance.now();
  const { config } = options;
  const db = env.db;
  {
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
      signal: env.signal,
      stats: env.stats,
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
    const suite = await strategySuite(
      "competition vs single",
      [{ id: "single", strategy: env.strategies.strategies[single] }, { id: "tournament", strategy: winner }],
      dev,
      seeds,
      env,
      { concurrency: config.concurrency, onEpisode: (done, total) => options.onProgress?.({ arm: "dev", done, total }) },
    );
    const tDev = armFigure(suite.success, suite.fitness, "tournament");
    const sDev = armFigure(suite.success, suite.fitness, "single");
    return {
      model: tRun.model,
      label: modelLabel(tRun.model),
      budget: { requested, perArm: perInstance * train.length, perInstance, trainInstances: train.length },
      trainChallenges: train.map((c) => c.id),
      tournament: { ...tArm, generations: config.generations, population: population.length },
      single: sArm,
      dev: { split: devSet, challenges: dev.map((c) => c.id), seeds, tournament: tDev, single: sDev },
      lift: liftOf(suite.success, suite.fitness, "tournament"),
      optimism: {
        success: tArm.train.successRate - tDev.success.estimate,
        fitness: tArm.train.meanFitness - tDev.fitness.estimate,
      },
      sameStrategy: tArm.final === single,
      episodes: suite.episodes,
      elapsedMs: performance.now() - t0,
    };
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
    `  tournament winner  success ${formatEstimate(r.dev.tournament.success)} %  fitness ${f3(r.dev.tournament.fitness.estimate)}`,
    `  single strategy    success ${formatEstimate(r.dev.single.success)} %  fitness ${f3(r.dev.single.fitness.estimate)}`,
    `  lift (winner − single): success ${formatEstimate(r.lift.success, { signed: true })} points, fitness ` +
    `${formatEstimate(r.lift.fitness, { signed: true })} hundredths (95% CI over ${r.lift.clusters} families; ` +
    `family sign-flip p = ${r.lift.success.pValue === null ? "–" : r.lift.success.pValue.toFixed(3)})`,
    `  McNemar: winner-only passes ${r.lift.mcnemar.c}, single-only passes ${r.lift.mcnemar.b}, p = ` +
    `${r.lift.mcnemar.pValue.toFixed(3)} (${r.lift.mcnemar.method})`,
    `  selection optimism of the winner (train − ${set}): success ${pp(r.optimism.success)}, fitness ${f3(r.optimism.fitness)}`,
  ];
  if (r.sameStrategy) lines.push("  (the tournament ended with the single strategy itself: both arms run the same strategy)");
  const rates = [r.dev.tournament.success.estimate, r.dev.single.success.estimate];
  if (rates.every((x) => x === 0) || rates.every((x) => x === 1)) {
    lines.push(
      `  (both arms ${rates[0] === 0 ? "pass nothing" : "pass everything"} on ${set}: success cannot tell them apart, and ` +
        "selection on train ranked by the fitness terms other than success)",
    );
  }
  return lines.join("\n");
}
