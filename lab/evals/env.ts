/**
 * What the tournament-based suites share: the ready objects they run with, fresh episode seeds, the held-out and
 * external selections, and a stored run's strategies and config.
 * @module
 */
import type { Challenge, Split } from "../challenges/mod.ts";
import type { StrategiesConfig, Strategy } from "../agents/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import {
  hashSeed,
  parseTournamentConfig,
  readRunSnapshot,
  readStoredStrategy,
  rootId,
  selectChallenges,
  type TournamentConfig,
} from "../tournament/mod.ts";
import type { Comparison } from "./compare.ts";
import { type Estimate, liftCell, type LiftCell, rateCell } from "./compare.ts";
import type { McNemarResult } from "../stats/mod.ts";

/**
 * Ready objects a suite runs with (built once by `lab/context.ts` or a test).
 * @internal
 */
export interface EvalEnv {
  /** The tournament store. */
  db: string;
  model: ChatModel;
  strategies: StrategiesConfig;
  pool: SandboxPool;
  signal?: AbortSignal;
  /** Bootstrap settings of the tournament's own statistics. */
  stats?: { resamples?: number; seed?: number };
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
export async function storedStrategy(db: string, runId: string, id: string, strategies: StrategiesConfig): Promise<Strategy> {
  const stored = await readStoredStrategy(db, runId, id);
  if (!stored) throw new Error(`Cannot re-evaluate '${id}': run '${runId}' in ${db} stored no strategy with that id`);
  // Stored without the shared prompt text, which every strategy of a file carries.
  const prompt = (strategies.strategies[rootId(id)] ?? Object.values(strategies.strategies)[0]).prompt;
  return { ...stored, id, prompt } as Strategy;
}

/** The config a run was stored with. */
export async function storedConfig(db: string, runId: string): Promise<TournamentConfig> {
  const snapshot = await readRunSnapshot(db, runId);
  if (!snapshot?.config) {
    throw new Error(`Cannot read the config of run '${runId}' from ${db}: pass options.config`);
  }
  return parseTournamentConfig(snapshot.config, `run ${runId} in ${db}`);
}

/** One arm's success and fitness on a suite's episodes (family-clustered intervals). */
export interface ArmFigure {
  episodes: number;
  clusters: number;
  success: Estimate;
  fitness: Estimate;
}

/** The lift of an arm over the control in success and fitness (family-clustered), with McNemar for reference. */
export interface Lift {
  /** Pairs (instance × seed). */
  pairs: number;
  clusters: number;
  success: LiftCell;
  fitness: LiftCell;
  mcnemar: McNemarResult;
}

/** An arm's figure from the pass and composite comparisons of one suite. */
export function armFigure(success: Comparison, fitness: Comparison, arm: string): ArmFigure {
  const s = rateCell(success, arm)!;
  return { episodes: s.episodes, clusters: s.clusters, success: s, fitness: rateCell(fitness, arm)! };
}

/** An arm's lift over the comparisons' control. */
export function liftOf(success: Comparison, fitness: Comparison, arm: string): Lift {
  const s = liftCell(success, arm)!;
  return { pairs: s.pairs, clusters: s.clusters, success: s, fitness: liftCell(fitness, arm)!, mcnemar: s.mcnemar };
}
