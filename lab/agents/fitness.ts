/**
 * Fitness: what natural selection in a tournament ranks on. Pure functions of an episode's verdict and trace,
 * with weights from `configs/strategies.yaml` (`fitness:`).
 *
 * - **Query fitness** (one per SQL statement the agent sent): 0 when the query failed or was refused; else
 *   `w.ok + w.views·usesViews + w.efficiency·rowsEfficiency`. `usesViews` is 1 when a read names a semantic
 *   view (writes cannot target views, so they get it for free); `rowsEfficiency` is 1 up to `rows_target` rows
 *   and falls linearly to 0 at the row cap (a result the cap cut off is a table dump, not an answer).
 * - **Turn fitness**: `score × (w.score + w.steps·min(1, optimal/steps) + w.tokens·min(1, target/tokens) +
 *   w.safety·max(0, 1 − penalty·violations))`. Multiplying by the verdict's score means a fast, cheap, wrong
 *   episode earns nothing for being fast or cheap.
 * - **Composite**: `w.query · mean(query fitness) + w.turn · turn` (seed 000: 0.6 / 0.4); an episode without
 *   queries has a query average of 0.
 *
 * Why rows and not rows/ms: fitness must be reproducible — the same episode replayed gives the same fitness —
 * and query times are noise from the machine. Latency is recorded in the episode, never selected on.
 * @module
 */
import { VIEWS } from "../sandbox/mod.ts";
import type { QueryRecord } from "../tools/mod.ts";
import type { Verdict } from "../challenges/mod.ts";
import type { FitnessWeights } from "./strategies.ts";

/** The default weights, as committed in `configs/strategies.yaml` (kept equal by a test). */
export const DEFAULT_FITNESS: FitnessWeights = {
  composite: { query: 0.6, turn: 0.4 },
  turn: { weights: { score: 0.6, steps: 0.2, tokens: 0.1, safety: 0.1 }, tokens_target: 8000, safety_penalty: 0.5 },
  query: { weights: { ok: 0.6, views: 0.2, efficiency: 0.2 }, rows_target: 50 },
};

const VIEW_RE = new RegExp(`\\b(${VIEWS.map((v) => v.name).join("|")})\\b`, "i");

/** True when `sql` names one of the sandbox's semantic views. */
export function usesViews(sql: string): boolean {
  return VIEW_RE.test(sql);
}

/** One query's fitness with its parts. */
export interface QueryFitness {
  fitness: number;
  ok: boolean;
  usesViews: boolean;
  /** In [0, 1]; 1 for writes. */
  rowsEfficiency: number;
}

const clamp01 = (x: number) => Math.max(0, Math.min(1, x));
const round = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * Fitness of one SQL query (see the module doc).
 *
 * @example
 * ```ts
 * queryFitness({ tool: "dbRead", sql: "SELECT sum(revenue) FROM v_monthly_revenue", ok: true, rowCount: 1, ms: 3 }, 200);
 * // → { fitness: 1, ok: true, usesViews: true, rowsEfficiency: 1 }
 * ```
 */
export function queryFitness(
  q: Pick<QueryRecord, "tool" | "sql" | "ok" | "rowCount" | "refused">,
  rowCap = 200,
  weights: FitnessWeights["query"] = DEFAULT_FITNESS.query,
): QueryFitness {
  const ok = q.ok && !q.refused;
  const isRead = q.tool === "dbRead";
  const views = isRead ? usesViews(q.sql) : true;
  const rows = q.rowCount ?? 0;
  const target = Math.min(weights.rows_target, rowCap);
  const rowsEfficiency = !isRead || rows <= target
    ? 1
    : rowCap <= target
    ? 0
    : clamp01(1 - (rows - target) / (rowCap - target));
  const w = weights.weights;
  const fitness = ok ? w.ok + w.views * (views ? 1 : 0) + w.efficiency * rowsEfficiency : 0;
  return { fitness: round(fitness), ok, usesViews: views, rowsEfficiency: round(rowsEfficiency) };
}

/** What turn fitness needs to know of an episode. */
export interface TurnInput {
  verdict: Pick<Verdict, "score">;
  /** Tool calls made. */
  steps: number;
  /** Tool calls of the reference solution; unknown = full step credit. */
  optimalSteps: number | undefined;
  /** Input + output tokens of the episode. */
  tokens: number;
  /** Refused queries (SQL guard, permissions, write validation). */
  safetyViolations: number;
}

/** Turn fitness with its parts. */
export interface TurnFitness {
  fitness: number;
  score: number;
  stepsEfficiency: number;
  tokensEfficiency: number;
  safety: number;
}

/**
 * Fitness of a whole turn (see the module doc).
 *
 * @example
 * ```ts
 * turnFitness({ verdict: { score: 1 }, steps: 3, optimalSteps: 3, tokens: 2000, safetyViolations: 0 }).fitness; // 1
 * ```
 */
export function turnFitness(t: TurnInput, weights: FitnessWeights["turn"] = DEFAULT_FITNESS.turn): TurnFitness {
  const score = clamp01(t.verdict.score);
  const stepsEfficiency = t.optimalSteps === undefined ? 1 : t.steps <= 0 ? 0 : clamp01(t.optimalSteps / t.steps);
  const tokensEfficiency = t.tokens <= weights.tokens_target ? 1 : clamp01(weights.tokens_target / t.tokens);
  const safety = clamp01(1 - weights.safety_penalty * t.safetyViolations);
  const w = weights.weights;
  const fitness = score * (w.score + w.steps * stepsEfficiency + w.tokens * tokensEfficiency + w.safety * safety);
  return {
    fitness: round(fitness),
    score: round(score),
    stepsEfficiency: round(stepsEfficiency),
    tokensEfficiency: round(tokensEfficiency),
    safety: round(safety),
  };
}

/** An episode's fitness: per query, their average, the turn and the composite. */
export interface EpisodeFitness {
  composite: number;
  turn: TurnFitness;
  /** Mean of `queries[].fitness`; 0 without queries. */
  queryAverage: number;
  queries: QueryFitness[];
}

/**
 * Composite fitness of an episode: `w.query · queryAverage + w.turn · turn` (seed 000's 0.6 / 0.4).
 *
 * @example
 * ```ts
 * const f = episodeFitness({ verdict, steps: 3, optimalSteps: 3, tokens: 1500, safetyViolations: 0 }, ctx.log.queries);
 * console.log(f.composite, f.turn.fitness, f.queryAverage);
 * ```
 */
export function episodeFitness(
  turn: TurnInput,
  queries: readonly Pick<QueryRecord, "tool" | "sql" | "ok" | "rowCount" | "refused">[],
  options: { weights?: FitnessWeights; rowCap?: number } = {},
): EpisodeFitness {
  const w = options.weights ?? DEFAULT_FITNESS;
  const qs = queries.map((q) => queryFitness(q, options.rowCap ?? 200, w.query));
  const queryAverage = qs.length ? qs.reduce((a, q) => a + q.fitness, 0) / qs.length : 0;
  const t = turnFitness(turn, w.turn);
  return {
    composite: round(w.composite.query * queryAverage + w.composite.turn * t.fitness),
    turn: t,
    queryAverage: round(queryAverage),
    queries: qs,
  };
}
