/**
 * A run's results reshaped for tables and charts: fitness and success per generation, success per challenge level,
 * the levels a run played and the generation of each stored episode. Numbers only; formatting is the caller's.
 * @module
 */
import type { LearningMetrics } from "./stats.ts";
import { type EpisodeRow, queryStore, type StoreRef } from "./store.ts";
import type { GenerationSummary } from "./tournament.ts";

/**
 * A challenge's id and level (every `Challenge` has them).
 * @internal
 */
export interface ChallengeLevel {
  id: string;
  level: number;
}

/**
 * One point of {@linkcode fitnessByGeneration}.
 * @internal
 */
export interface FitnessPoint {
  generation: number;
  series: "population mean" | "best strategy";
  fitness: number;
}

/**
 * The population's mean and the best strategy's mean composite fitness per generation, as one row per
 * (generation, series): the long form a line chart colours by `series`.
 *
 * @example
 * ```ts
 * await chart(lineChart(fitnessByGeneration(run.learning), { x: "generation", y: "fitness", color: "series" }));
 * ```
 */
export function fitnessByGeneration(learning: Pick<LearningMetrics, "perGeneration">): FitnessPoint[] {
  return learning.perGeneration.flatMap((g): FitnessPoint[] => [
    { generation: g.generation, series: "population mean", fitness: g.meanFitness },
    { generation: g.generation, series: "best strategy", fitness: g.bestFitness },
  ]);
}

/**
 * One row of {@linkcode successByGeneration}.
 * @internal
 */
export interface GenerationSuccess {
  generation: number;
  strategy: string;
  /** The strategy's success rate (point estimate) in that generation. */
  success: number;
}

/** Each strategy's success rate in each generation, generation by generation in the order of its statistics. */
export function successByGeneration(
  generations: readonly Pick<GenerationSummary, "generation" | "stats">[],
): GenerationSuccess[] {
  return generations.flatMap((g) =>
    g.stats.map((s) => ({ generation: g.generation, strategy: s.strategyId, success: s.success.estimate }))
  );
}

/**
 * The distinct levels of the challenges `ids`, in the order first met, looked up in `catalog`; an id the catalog
 * lacks gives `undefined` (once).
 */
export function challengeLevels(ids: readonly string[], catalog: readonly ChallengeLevel[]): (number | undefined)[] {
  const level = new Map(catalog.map((c) => [c.id, c.level]));
  return [...new Set(ids.map((id) => level.get(id)))];
}

/**
 * One row of {@linkcode successByLevel}.
 * @internal
 */
export interface LevelSuccess {
  strategy: string;
  /** The challenge level (`undefined` for a challenge the catalog lacks). */
  level: number | undefined;
  episodes: number;
  passed: number;
  /** passed / episodes. */
  successRate: number;
}

/**
 * Episodes and passes per (strategy, challenge level) over stored episodes, a challenge's level looked up in
 * `catalog`; rows in the order their first episode comes in `rows`.
 *
 * @example
 * ```ts
 * const rows = successByLevel(await readEpisodeRows(db, run.runId), await loadCatalog());
 * ```
 */
export function successByLevel(
  rows: readonly Pick<EpisodeRow, "strategyId" | "challengeId" | "pass">[],
  catalog: readonly ChallengeLevel[],
): LevelSuccess[] {
  const level = new Map(catalog.map((c) => [c.id, c.level]));
  const cells = new Map<string, LevelSuccess>();
  for (const r of rows) {
    const l = level.get(r.challengeId);
    const key = `${r.strategyId}|${l}`;
    const c = cells.get(key) ?? { strategy: r.strategyId, level: l, episodes: 0, passed: 0, successRate: 0 };
    c.episodes++;
    if (r.pass) c.passed++;
    c.successRate = c.passed / c.episodes;
    cells.set(key, c);
  }
  return [...cells.values()];
}

/**
 * The generation of each episode a run stored, by the record's own id
 * (`<challenge>#<strategy>#<model>#s<seed>#a<attempt>`: the id a pattern keeps as its `episodeId`), not by the
 * run's episode key.
 */
export async function episodeGenerations(store: StoreRef, runId: string): Promise<Map<string, number>> {
  const rows = await queryStore(store, "SELECT trace->>'$.id' AS id, generation FROM episodes WHERE run_id = $1", [
    runId,
  ]);
  return new Map(rows.map((e) => [e.id as string, e.generation as number]));
}
