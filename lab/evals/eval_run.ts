/**
 * The stored result of one eval-suite run (`deno task eval <suite>`, the promptfoo suites of `evals/`): what it was
 * pinned to and its episodes in the one record shape ({@linkcode SuiteEpisode}). The outcome table, the regression
 * gate and shard merging read it.
 * @module
 */
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
