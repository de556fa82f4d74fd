/**
 * The tournament engine: strategies × challenges × attempts × generations, with natural selection between
 * generations, stored in DuckDB as it goes and resumable.
 *
 * Fairness: every strategy of a generation sees the same challenges with the same seeds — the episode seed is a
 * hash of (tournament seed, generation, challenge, attempt), never of the strategy. Determinism: selection reads
 * the generation's episodes back from the store and ranks them with fixed tie-breaks, and children are bred
 * from a stream seeded by (seed, generation), so a resumed run makes the same decisions an uninterrupted one
 * would. Episode ids are deterministic (`g<gen>#<challenge>#<strategy>#s<seed>#a<attempt>`), which is what lets
 * a re-run skip what is already stored.
 * @module
 */
import { type Challenge, loadCatalog } from "../challenges/mod.ts";
import { ensureSandbox, SandboxPool } from "../sandbox/mod.ts";
import {
  type EpisodeSink,
  loadStrategiesConfig,
  type PatternSource,
  type StrategiesConfig,
  type Strategy,
} from "../agents/mod.ts";
import {
  type ChatModel,
  getModelConfig,
  loadModelsConfig,
  type ModelConfig,
  canonicalJson,
} from "../models/mod.ts";
import { defaultRoles, ROLES_PATH, type RolesConfig, type ToolLimits } from "../tools/mod.ts";
import { ConfigError, displayPath, repoPath, ROOT } from "../util/mod.ts";
import type { TournamentConfig } from "./config.ts";
import { hashSeed, type Lineage, type Standing } from "./evolve.ts";
import {
  closeGeneration,
  EpisodeWriter,
  type GenerationPlay,
  generationTasks,
  playGeneration,
  storedOnlySink,
  tallyOf,
} from "./generation.ts";
import { DEFAULT_DB_PATH, insertStrategies, readEpisodeRows, readSolutions, setRunStatus, upsertRun } from "./store.ts";
import {
  leaderboard,
  type LeaderboardRow,
  learningMetrics,
  type LearningMetrics,
  type StatsOptions,
  type StrategyStats,
} from "./stats.ts";

/** Progress of a run: one event per stored episode and one per finished generation. */
export type TournamentProgress =
  | {
    kind: "episode";
    generation: number;
    /** Episodes stored so far in the whole run (resumed ones included) and the run's total. */
    done: number;
    total: number;
    /** Stored episodes that passed, and the share of `done`. */
    passed: number;
    successRate: number;
    tokens: number;
    costUsd: number;
    elapsedMs: number;
    /** Estimated time to the end from this session's pace. */
    etaMs: number;
    episodeId: string;
  }
  | { kind: "generation"; generation: number; ranking: Standing[]; replaced: string[]; children: string[] };

/**
 * Options for {@linkcode runTournament}.
 * @internal
 */
export interface RunTournamentOptions {
  /** The store, opened for each write and read, never held for the run. @default "data/lab.duckdb" */
  db?: string;
  /** Run id; an existing run with this id is resumed. @default a hash of the config, strategies and challenges */
  runId?: string;
  /** Stops starting new episodes; episodes cut short are not stored, so a re-run completes them. */
  signal?: AbortSignal;
  onProgress?: (event: TournamentProgress) => void;
  /** The model to run (resolved by name once, e.g. by `LabContext.model`). */
  model: ChatModel;
  /** The strategies to draw the population from (the config's `strategies_file`, as read). */
  strategies: StrategiesConfig;
  /** Run on these challenges instead of the config's selection (they are still the same for every strategy). */
  challenges?: Challenge[];
  /** An open sandbox pool on the config's sandbox (e.g. `LabContext.pool`, or {@linkcode openConfigPool}). */
  pool: SandboxPool;
  /** Limits of the agents' SQL (row cap, time limit, value caps). @default the tools' defaults */
  toolLimits?: Partial<ToolLimits>;
  /** Names the config in error messages. @default "configs/tournament.yaml" */
  source?: string;
  /** Bootstrap settings of the statistics (k of pass@k is the config's `attempts`). */
  stats?: Omit<StatsOptions, "k">;
  /**
   * Examples injected into the prompts of strategies that ask for them (`examples.k`), passed to every episode.
   * Implemented by `lab/patterns`. A resumed run is identical to an uninterrupted one only if the source answers
   * the same for the same query (e.g. a memory frozen for the run). @default none
   */
  patterns?: PatternSource;
  /**
   * Receives every episode the tournament stores (not the ones an abort cut short), as it finishes, before it is
   * committed to the run's store; a killed run's resume sends the episodes it had not committed again, so a sink
   * should be idempotent by `record.id`. Implemented by `lab/patterns`. @default none
   */
  sink?: EpisodeSink;
  /**
   * Finished episodes are written at most this often, in one short transaction each (the store file is opened
   * for the write and closed again, so another process — a notebook, another CLI command — can use it in
   * between). 0 writes as soon as the previous write is done. @default 1000
   */
  flushMs?: number;
}

/**
 * One generation's outcome.
 * @internal
 */
export interface GenerationSummary {
  generation: number;
  population: string[];
  /** Strongest first. */
  ranking: Standing[];
  /** Ids replaced after this generation (empty for the last). */
  replaced: string[];
  children: { id: string; lineage: Lineage }[];
  stats: StrategyStats[];
}

/**
 * Each generation's selection as one line: its ranking by mean fitness, and who was replaced by which child.
 *
 * @example
 * ```ts
 * console.log(formatGenerations(run.generations));
 * // generation 1: alpha 0.675 > gamma 0.650 > beta 0.627; replaced beta with alpha.g2.m1 ← mutation(alpha)
 * ```
 */
export function formatGenerations(generations: readonly GenerationSummary[]): string {
  return generations.map((g) => {
    const kids = g.children.map((c) => `${c.id} ← ${c.lineage.operation}(${c.lineage.parents.join(", ")})`);
    return `generation ${g.generation}: ${g.ranking.map((r) => `${r.strategyId} ${r.meanFitness.toFixed(3)}`).join(" > ")}` +
      (g.replaced.length ? `; replaced ${g.replaced.join(", ")} with ${kids.join("; ")}` : "");
  }).join("\n");
}

/** What a run reads besides the tournament config, loaded and validated by {@linkcode loadRunConfigs}. */
export interface RunConfigs {
  strategies: StrategiesConfig;
  /** The roles the episodes' tools act with (configs/roles.yaml, the same object the tools use). */
  roles: RolesConfig;
  /** The config's model entry in configs/models.yaml; undefined when `model: false` was asked. */
  model?: ModelConfig;
}

/** Options for {@linkcode loadRunConfigs}. */
export interface LoadRunConfigsOptions {
  /** Use these instead of reading the config's `strategies_file`. */
  strategies?: StrategiesConfig;
  /** Read the model's entry from configs/models.yaml; false when the caller runs a ready model. @default true */
  model?: boolean;
}

/**
 * Loads and validates every config a run reads besides the tournament config itself — the strategies file,
 * configs/models.yaml and configs/roles.yaml — so a malformed one is a one-line ConfigError naming the file before
 * a run is registered in the store or any file is written. {@linkcode runTournament} and the experiments call it
 * first; a command line calls it before it starts a model server.
 *
 * @example
 * ```ts
 * const config = await loadTournamentConfig();
 * const { strategies, roles, model } = await loadRunConfigs(config); // throws before anything is written
 * ```
 */
export async function loadRunConfigs(config: TournamentConfig, options: LoadRunConfigsOptions = {}): Promise<RunConfigs> {
  const strategies = options.strategies ??
    await loadStrategiesConfig(config.strategies_file.startsWith("/") ? config.strategies_file : repoPath(config.strategies_file));
  const roles = defaultRoles();
  const model = options.model === false ? undefined : getModelConfig(await loadModelsConfig(), config.model);
  return { strategies, roles, ...(model ? { model } : {}) };
}

/**
 * Throws a ConfigError naming the roles file when a challenge acts as a role it does not define.
 * @internal
 */
export function checkChallengeRoles(challenges: readonly Challenge[], roles: RolesConfig): void {
  const missing = challenges.find((c) => !roles.roles[c.role]);
  if (missing) {
    throw new ConfigError(
      `${displayPath(ROLES_PATH)}: roles: no role '${missing.role}', which challenge family '${missing.family}' ` +
        `(${displayPath(missing.source)}) acts as; add it or change the family's role (known: ${Object.keys(roles.roles).join(", ")})`,
    );
  }
}

/** Opens a sandbox pool on a tournament config's sandbox (built into `sandboxDir` on first use). */
export async function openConfigPool(config: TournamentConfig, sandboxDir?: string): Promise<SandboxPool> {
  const { path } = await ensureSandbox(
    { scale: config.sandbox.scale, seed: config.sandbox.seed, asOf: config.sandbox.as_of },
    sandboxDir ? { dir: sandboxDir } : {},
  );
  return await SandboxPool.open(path, { size: Math.min(config.concurrency, 8) });
}

/**
 * What a run produced.
 * @internal
 */
export interface RunSummary {
  runId: string;
  db: string;
  status: "completed" | "aborted";
  model: { name: string; id: string };
  challenges: string[];
  episodes: { total: number; stored: number; ranNow: number; resumed: number };
  generations: GenerationSummary[];
  leaderboard: LeaderboardRow[];
  learning: LearningMetrics;
  tokens: number;
  costUsd: number;
  elapsedMs: number;
}

async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", { args: ["rev-parse", "HEAD"], cwd: ROOT, stdout: "piped", stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

async function sha256(text: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Options for {@linkcode selectChallenges}. */
export interface SelectChallengesOptions {
  /**
   * Challenge files or folders (family YAMLs in the catalog's format) to select from instead of the committed
   * catalog: the instances of their families whatever split the loader gives them (an external set is the
   * researcher's own; the catalog's splits do not apply to it), so the config's `split` is ignored.
   * @default none: the catalog's instances on the config's split
   */
  external?: readonly string[];
}

/**
 * The challenges a config selects: its split, levels and families, sampled deterministically by the seed
 * (hash order) down to `max_instances`, returned in id order. With `external`, the same selection over the
 * external families' instances of every split.
 *
 * @example
 * ```ts
 * const mine = await selectChallenges(config, "configs/tournament.yaml", { external: ["../held-out"] });
 * ```
 */
export async function selectChallenges(
  config: TournamentConfig,
  source = "configs/tournament.yaml",
  options: SelectChallengesOptions = {},
): Promise<Challenge[]> {
  const external = options.external?.length ? options.external : undefined;
  const all = external ? await loadCatalog({ extra: external, origin: "extra" }) : await loadCatalog({ split: config.split });
  const set = external ? `external (${external.map(displayPath).join(", ")})` : config.split;
  const known = new Set(all.map((c) => c.family));
  config.challenges.families.forEach((f, i) => {
    if (!known.has(f)) {
      throw new ConfigError(`${source}: challenges.families[${i}]: no family '${f}' has ${set} instances`);
    }
  });
  const levels = new Set<number>(config.challenges.levels);
  const families = new Set(config.challenges.families);
  const pool = all.filter((c) => (!levels.size || levels.has(c.level)) && (!families.size || families.has(c.family)));
  if (!pool.length) throw new ConfigError(`${source}: challenges: the selection matches no ${set} instance`);
  const keyed = pool.map((c) => ({ c, h: hashSeed(`pick:${config.seed}:${c.id}`) }));
  keyed.sort((a, b) => a.h - b.h || (a.c.id < b.c.id ? -1 : 1));
  return keyed.slice(0, config.challenges.max_instances).map((k) => k.c).sort((a, b) => (a.id < b.id ? -1 : 1));
}

function initialPopulation(config: TournamentConfig, strategies: StrategiesConfig, source: string): Strategy[] {
  const ids = config.strategies.length ? config.strategies : Object.keys(strategies.strategies);
  const out = ids.map((id, i) => {
    const s = strategies.strategies[id];
    if (!s) {
      throw new ConfigError(
        `${source}: strategies[${i}]: no strategy named '${id}' in ${strategies.source}; known: ${Object.keys(strategies.strategies).join(", ")}`,
      );
    }
    return s;
  });
  if (config.selection.replace >= out.length) {
    throw new ConfigError(
      `${source}: selection.replace: must be smaller than the population (${out.length} strategies), found ${config.selection.replace}`,
    );
  }
  return out;
}

/**
 * Runs (or resumes) a tournament and returns its summary. Expected failures inside episodes are recorded in
 * them (STYLE #5); a bad config is a ConfigError before anything runs.
 *
 * @example
 * ```ts
 * import { formatLeaderboard, LabContext, runTournament } from "./lab/mod.ts";
 * await using ctx = await LabContext.open();
 * const summary = await runTournament(ctx.tournament, {
 *   db: ctx.db, model: await ctx.model(), strategies: ctx.strategies, pool: await ctx.pool(),
 *   onProgress: (e) => console.log(e.kind),
 * });
 * console.log(formatLeaderboard(summary.leaderboard));
 * ```
 */
export async function runTournament(config: TournamentConfig, options: RunTournamentOptions): Promise<RunSummary> {
  const startedMs = performance.now();
  const plan = await planRun(config, options);
  await registerRun(plan);
  const pool = options.pool;
  {
    const before = await readEpisodeRows(plan.db, plan.runId);
    const already = new Set(before.map((r) => r.id));
    const play: GenerationPlay = {
      model: plan.model,
      pool,
      concurrency: config.concurrency,
      fitness: plan.strategies.fitness,
      signal: options.signal,
      patterns: options.patterns,
      sink: storedOnlySink(options.sink, options.signal),
      toolLimits: options.toolLimits,
      onProgress: options.onProgress,
      writer: new EpisodeWriter(plan.db, plan.runId, options.flushMs ?? 1000),
      tally: tallyOf(before),
      total: plan.initial.length * plan.challenges.length * config.attempts * config.generations,
      startedMs,
    };
    const generations: GenerationSummary[] = [];
    let population = plan.initial;
    let newcomers: { strategy: Strategy; lineage: Lineage }[] = plan.initial.map((strategy) => ({
      strategy,
      lineage: { parents: [], operation: "seed", changed: [] },
    }));
    let aborted = false;
    for (let g = 1; g <= config.generations; g++) {
      await insertStrategies(plan.db, plan.runId, g, newcomers);
      await playGeneration(play, g, generationTasks(config, g, plan.challenges, population, already));
      if (options.signal?.aborted) {
        aborted = true;
        break;
      }
      const { summary, next } = await closeGeneration(
        plan.db,
        plan.runId,
        config,
        g,
        population,
        plan.statsOptions,
        options.onProgress,
      );
      generations.push(summary);
      population = next.population;
      newcomers = next.children;
    }
    const counts = { total: play.total, ranNow: play.tally.ranNow, resumed: already.size };
    return await finishRun(plan, aborted ? "aborted" : "completed", generations, counts, startedMs);
  }
}

/** What a run is: everything {@linkcode runTournament} resolves from its config and options before it starts. */
interface RunPlan {
  config: TournamentConfig;
  /** Names the config in error messages. */
  source: string;
  /** The store's path. */
  db: string;
  runId: string;
  model: ChatModel;
  strategies: StrategiesConfig;
  initial: Strategy[];
  challenges: Challenge[];
  /** What the run is, as stored with it: resuming it with anything else would mix two experiments under one id. */
  snapshot: Record<string, unknown>;
  statsOptions: StatsOptions;
}

/**
 * Reads and checks every config, the initial population, the challenges and the model, and names the run (its
 * id is a hash of its snapshot unless given). Nothing is written: a malformed config must not leave a `running`
 * row.
 */
async function planRun(config: TournamentConfig, options: RunTournamentOptions): Promise<RunPlan> {
  const source = options.source ?? "configs/tournament.yaml";
  const configs = await loadRunConfigs(config, { strategies: options.strategies, model: false });
  const strategies = configs.strategies;
  const initial = initialPopulation(config, strategies, source);
  const challenges = options.challenges ?? await selectChallenges(config, source);
  if (!challenges.length) throw new ConfigError(`${source}: challenges: no challenge to run`);
  checkChallengeRoles(challenges, configs.roles);
  const model = options.model;
  const snapshot = {
    config,
    model: { name: model.name, id: model.config.model },
    strategies: initial.map(({ prompt: _p, ...s }) => s),
    prompt: initial[0].prompt,
    fitness: strategies.fitness,
    challenges: challenges.map((c) => c.id),
  };
  const runId = options.runId ?? `t-${(await sha256(canonicalJson(snapshot))).slice(0, 12)}`;
  return {
    config,
    source,
    // The store is opened for each write or read and closed again (never held for the run), so a notebook kernel
    // or another CLI command can read and write it while the run goes on; writes are batched (`flushMs`) so the
    // opening and closing stay a small share of the run.
    db: options.db ?? DEFAULT_DB_PATH,
    runId,
    model,
    strategies,
    initial,
    challenges,
    snapshot,
    statsOptions: { ...options.stats, k: config.attempts },
  };
}

/**
 * Registers the run as `running` in the store (or finds it there, to resume); throws a ConfigError when the
 * stored run was started with another snapshot.
 */
async function registerRun(plan: RunPlan): Promise<void> {
  const { config, model, runId, snapshot } = plan;
  const stored = await upsertRun(plan.db, {
    id: runId,
    status: "running",
    config: snapshot,
    gitCommit: await gitCommit(),
    seed: config.seed,
    modelName: model.name,
    modelId: model.config.model,
    sandbox: { scale: config.sandbox.scale, seed: config.sandbox.seed, asOf: config.sandbox.as_of },
  });
  if (canonicalJson(stored.config) !== canonicalJson(snapshot)) {
    throw new ConfigError(
      `${plan.source}: run '${runId}' in ${plan.db} was started with a different config, strategies, model or challenges; ` +
        `resume it with the same ones or pass a new run id`,
    );
  }
}

/** Stores the run's final status and summarizes it from every episode it has stored. */
async function finishRun(
  plan: RunPlan,
  status: RunSummary["status"],
  generations: GenerationSummary[],
  counts: { total: number; ranNow: number; resumed: number },
  startedMs: number,
): Promise<RunSummary> {
  await setRunStatus(plan.db, plan.runId, status);
  const all = await readEpisodeRows(plan.db, plan.runId);
  return {
    runId: plan.runId,
    db: plan.db,
    status,
    model: { name: plan.model.name, id: plan.model.config.model },
    challenges: plan.challenges.map((c) => c.id),
    episodes: { total: counts.total, stored: all.length, ranNow: counts.ranNow, resumed: counts.resumed },
    generations,
    leaderboard: all.length ? leaderboard(all, plan.statsOptions) : [],
    learning: learningMetrics(all, { solutions: await readSolutions(plan.db, plan.runId) }),
    tokens: all.reduce((a, r) => a + r.tokensTotal, 0),
    costUsd: all.reduce((a, r) => a + r.costUsd, 0),
    elapsedMs: performance.now() - startedMs,
  };
}
