/**
 * Quality: seed 001's multi-factor score (weights in configs/datasets.yaml), its tiers, and seed 000's order
 * within a tier (a person's own examples first).
 * @module
 */
import type { DatasetsConfig } from "./config.ts";
import type { Example } from "./example.ts";

/** Tiers, best first. */
export const TIERS = ["gold", "silver", "bronze"] as const;
/**
 * A quality tier; below bronze an example is rejected.
 * @internal
 */
export type Tier = (typeof TIERS)[number];

/** What the score of one example is made of (each term as added). */
export interface QualityBreakdown {
  fitness: number;
  verified: number;
  human: number;
  patternUsed: number;
  support: number;
  hardLevel: number;
  /** The sum, capped at 1. */
  score: number;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * The quality score of an example, capped at 1.0: weight × composite fitness, plus each weight whose condition
 * holds (verifier score 1; marked right by a person; an injected pattern reused; support ≥ `support_min`; level
 * ≥ `hard_level_min`). `support` overrides the example's own (curation passes the exact-duplicate group's).
 *
 * @example
 * ```ts
 * qualityScore(example, cfg.quality).score; // e.g. 0.35 × 0.92 + 0.15 = 0.472
 * ```
 */
export function qualityScore(
  example: Pick<Example, "fitness" | "verifierScore" | "markedPass" | "patternUsed" | "support" | "level">,
  quality: DatasetsConfig["quality"],
  support: number = example.support,
): QualityBreakdown {
  const w = quality.weights;
  const fitness = Math.min(1, Math.max(0, example.fitness));
  const parts = {
    fitness: w.fitness * fitness,
    verified: example.verifierScore === 1 ? w.verified : 0,
    human: example.markedPass === true ? w.human : 0,
    patternUsed: example.patternUsed ? w.pattern_used : 0,
    support: support >= quality.support_min ? w.support : 0,
    hardLevel: example.level !== null && example.level >= quality.hard_level_min ? w.hard_level : 0,
  };
  const sum = parts.fitness + parts.verified + parts.human + parts.patternUsed + parts.support + parts.hardLevel;
  return {
    fitness: round4(parts.fitness),
    verified: parts.verified,
    human: parts.human,
    patternUsed: parts.patternUsed,
    support: parts.support,
    hardLevel: parts.hardLevel,
    score: round4(Math.min(1, sum)),
  };
}

/** The tier of a score, or undefined below bronze (rejected). */
export function tierOf(score: number, tiers: DatasetsConfig["tiers"]): Tier | undefined {
  return score >= tiers.gold ? "gold" : score >= tiers.silver ? "silver" : score >= tiers.bronze ? "bronze" : undefined;
}

/** What ranking needs of an example. */
export interface Ranked {
  id: string;
  tier: Tier;
  synthetic: boolean;
  quality: number;
  fitness: number;
}

/**
 * Seed 000's order: better tier first; within a tier a person's own examples (non-synthetic) first, then higher
 * quality, higher fitness, and the id (so the order is total and stable).
 */
export function compareRanked(a: Ranked, b: Ranked): number {
  return TIERS.indexOf(a.tier) - TIERS.indexOf(b.tier) ||
    Number(a.synthetic) - Number(b.synthetic) ||
    b.quality - a.quality ||
    b.fitness - a.fitness ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
