/**
 * What a pattern memory holds, counted for tables and charts: patterns per level and category, the distribution of
 * their fitness, how many each generation of a run contributed, and a task of a family the memory has learned.
 * Numbers only; formatting is the caller's.
 * @module
 */
import type { Challenge } from "../challenges/mod.ts";

/**
 * The fields of a stored pattern these summaries read (every `Pattern` has them).
 * @internal
 */
export interface PatternFacts {
  level: number | null;
  category: string;
  /** Episodes behind the pattern. */
  support: number;
  turnPass: boolean;
  compositeFitness: number;
  /** Its best episode's record id. */
  episodeId: string | null;
  family: string | null;
}

/**
 * One row of {@linkcode patternsByLevelCategory}.
 * @internal
 */
export interface LevelCategoryCount {
  level: number | null;
  category: string;
  patterns: number;
  /** Patterns whose turn passed (the only ones retrieved). */
  passing: number;
  /** Episodes behind the patterns. */
  support: number;
}

/**
 * Patterns, passing patterns and their support per (level, category), by level (patterns without one first),
 * then category.
 *
 * @example
 * ```ts
 * htmlTable(patternsByLevelCategory(await store.list({}, { limit: 100000 })));
 * ```
 */
export function patternsByLevelCategory(
  patterns: readonly Pick<PatternFacts, "level" | "category" | "support" | "turnPass">[],
): LevelCategoryCount[] {
  const cells = new Map<string, LevelCategoryCount>();
  for (const p of patterns) {
    const key = `${p.level}\u0000${p.category}`;
    const c = cells.get(key) ?? { level: p.level, category: p.category, patterns: 0, passing: 0, support: 0 };
    c.patterns++;
    c.support += p.support;
    if (p.turnPass) c.passing++;
    cells.set(key, c);
  }
  return [...cells.values()].sort((a, b) =>
    (a.level ?? -Infinity) - (b.level ?? -Infinity) || a.category.localeCompare(b.category)
  );
}

/**
 * One bar of {@linkcode fitnessHistogram}.
 * @internal
 */
export interface FitnessBin {
  /** The bin's lower edge, one decimal (`"0.7"` holds [0.7, 0.8)). */
  fitness: string;
  turn: "passed" | "failed turn";
  patterns: number;
}

/**
 * Patterns per composite-fitness bin of width 0.1 and turn outcome, by bin (within a bin, in the order first met).
 *
 * @example
 * ```ts
 * await chart(barChart(fitnessHistogram(patterns), { x: "fitness", y: "patterns", color: "turn" }));
 * ```
 */
export function fitnessHistogram(
  patterns: readonly Pick<PatternFacts, "compositeFitness" | "turnPass">[],
): FitnessBin[] {
  const bins = new Map<string, FitnessBin>();
  for (const p of patterns) {
    const fitness = (Math.floor(p.compositeFitness * 10) / 10).toFixed(1);
    const turn = p.turnPass ? "passed" : "failed turn";
    const key = `${fitness}|${turn}`;
    const bin = bins.get(key) ?? { fitness, turn, patterns: 0 };
    bin.patterns++;
    bins.set(key, bin);
  }
  return [...bins.values()].sort((a, b) => a.fitness.localeCompare(b.fitness));
}

/**
 * One row of {@linkcode patternsByGeneration}.
 * @internal
 */
export interface GenerationCount {
  /** 0 for patterns whose episode is not in `generationOf`. */
  generation: number;
  patterns: number;
}

/**
 * Patterns per generation of their (best) episode, `generationOf` mapping an episode id to its generation (the
 * tournament's `episodeGenerations`); by generation.
 *
 * @example
 * ```ts
 * const growth = patternsByGeneration(patterns, await episodeGenerations(db, runId));
 * ```
 */
export function patternsByGeneration(
  patterns: readonly Pick<PatternFacts, "episodeId">[],
  generationOf: ReadonlyMap<string, number>,
): GenerationCount[] {
  const counts = new Map<number, number>();
  for (const p of patterns) {
    const g = (p.episodeId === null ? undefined : generationOf.get(p.episodeId)) ?? 0;
    counts.set(g, (counts.get(g) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => a[0] - b[0]).map(([generation, patterns]) => ({ generation, patterns }));
}

/**
 * A challenge of a family the memory has learned: the first of `challenges` in the family of the first passing
 * pattern; the first challenge when none is (or there is no passing pattern).
 */
export function learnedFamilyChallenge<C extends Pick<Challenge, "family">>(
  challenges: readonly C[],
  patterns: readonly Pick<PatternFacts, "family" | "turnPass">[],
): C | undefined {
  const family = patterns.find((p) => p.turnPass)?.family;
  return challenges.find((c) => c.family === family) ?? challenges[0];
}
