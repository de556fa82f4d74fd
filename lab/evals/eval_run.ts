/**
 * The stored result of one eval-suite run (`deno task eval <suite>`, the promptfoo suites of `evals/`): what it was
 * pinned to and its episodes in the one record shape ({@linkcode SuiteEpisode}). The outcome table, the regression
 * gate and shard merging read it.
 * @module
 */
import { z } from "zod";
import type { SuiteEpisode } from "./suite.ts";

/** What a run or a baseline was made with; a gate refuses to compare runs whose pins differ. */
export interface EvalPins {
  /** sha256 of the challenge set the suite's tests came from (catalog or external folder). */
  catalogHash: string;
  /** The model ids of the arms, by arm id (e.g. a registry version's provider id). */
  models: Record<string, string>;
  /** sha256 of the pattern store snapshot the context arms retrieved from, or null when no arm retrieves. */
  patternSnapshot: string | null;
  /** The strategy id each arm plays, by arm id. */
  strategies: Record<string, string>;
}

/** One run of an eval suite (or one shard of it, or shards merged). */
export interface EvalRun {
  /** The suite's name (`evals/<suite>.yaml`). */
  suite: string;
  /** When the run finished (ISO 8601). */
  createdAt: string;
  /** The git commit the run was made at, or null outside a git checkout. */
  commit: string | null;
  pins: EvalPins;
  /** The shard this run covers, `{ index: i, count: n }` (1-based i), or null for a whole suite. */
  shard: { index: number; count: number } | null;
  /** Every episode: one per (arm, challenge, seed) the run covered. */
  episodes: SuiteEpisode[];
}

/** The schema of {@linkcode EvalPins}. @internal */
export const EvalPinsSchema = z.object({
  catalogHash: z.string(),
  models: z.record(z.string(), z.string()),
  patternSnapshot: z.string().nullable(),
  strategies: z.record(z.string(), z.string()),
});
const num = z.number().refine(Number.isFinite, "must be a finite number");
/** The schema of a stored {@linkcode SuiteEpisode}. @internal */
export const SuiteEpisodeSchema = z.object({
  arm: z.string(),
  challengeId: z.string(),
  family: z.string(),
  template: z.string(),
  level: z.number().int(),
  split: z.string(),
  seed: z.number().int(),
  attempt: z.number().int(),
  model: z.string(),
  strategyId: z.string(),
  pass: z.boolean(),
  score: num,
  composite: num,
  tokens: num,
  costUsd: num,
  latencyMs: num,
  queries: z.number().int().nonnegative(),
  queriesOk: z.number().int().nonnegative(),
  steps: z.number().int().nonnegative(),
  optimalSteps: z.number().int().nullable(),
  answer: z.string().nullable(),
  stopReason: z.string(),
  examples: z.number().int(),
  rendered: z.number().int(),
  injected: z.array(z.string()),
  used: z.array(z.string()),
});
