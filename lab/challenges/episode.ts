/**
 * Verifying a finished episode: adapts an episode's tool state (database, answer, tool log) to the verifier.
 */
import { callTool, createToolContext, type ToolContext, type ToolResult } from "../tools/mod.ts";
import type { Episode, SandboxPool } from "../sandbox/mod.ts";
import type { Challenge, Verdict } from "./types.ts";
import { type EpisodeOutcome, verify, type VerifyContext } from "./verify.ts";

/** The verifier's view of an episode: its starting state, its current state and its as-of date. */
export function verifyContextOf(ctx: ToolContext): VerifyContext {
  return episodeVerifyContext(ctx.episode);
}

/** {@linkcode verifyContextOf} for a bare episode (trusted lab code, no tools involved). */
export function episodeVerifyContext(ep: Episode): VerifyContext {
  return {
    asOf: ep.asOf,
    pristine: (sql) => ep.queryPristine(sql),
    current: (sql) => ep.query(sql),
  };
}

/** What the verifier needs to know of the agent's work, from the tool log. */
export function outcomeOf(ctx: ToolContext): EpisodeOutcome {
  const q = ctx.log.queries;
  return {
    answer: ctx.answer?.answer,
    steps: ctx.log.calls.length,
    queries: q.length,
    queriesOk: q.filter((x) => x.ok).length,
    safetyViolations: q.filter((x) => x.refused).length,
  };
}

/**
 * Judges the episode behind `ctx` on `challenge` by execution.
 *
 * @example
 * ```ts
 * await using ep = await pool.acquire(challenge.orgId, { role: challenge.role });
 * const ctx = createToolContext(ep);
 * // … the agent calls tools …
 * const verdict = await verifyEpisode(challenge, ctx);
 * ```
 */
export function verifyEpisode(challenge: Challenge, ctx: ToolContext): Promise<Verdict> {
  return verify(challenge, outcomeOf(ctx), verifyContextOf(ctx));
}

/** A recorded solution: the writes an agent made (in order) and the answer it submitted. */
export interface RecordedSolution {
  writes: string[];
  answer: unknown;
}

/**
 * Replays a recorded solution through the tools (each write via `dbWrite`, then `submitAnswer`), so a stored
 * episode or fixture can be judged again by execution. Returns the tool results of the writes.
 */
export async function replaySolution(ctx: ToolContext, solution: RecordedSolution): Promise<ToolResult[]> {
  const results: ToolResult[] = [];
  for (const sql of solution.writes) results.push(await callTool(ctx, "dbWrite", { sql, confirm: true }));
  if (solution.answer !== undefined && solution.answer !== null) {
    await callTool(ctx, "submitAnswer", { answer: solution.answer });
  }
  return results;
}

/**
 * Judges a recorded solution of `challenge` on a fresh episode from `pool`: replays it through the tools, then
 * verifies by execution.
 */
export async function judgeSolution(pool: SandboxPool, challenge: Challenge, solution: RecordedSolution): Promise<Verdict> {
  await using ep = await pool.acquire(challenge.orgId, { role: challenge.role });
  const ctx = createToolContext(ep);
  await replaySolution(ctx, solution);
  return await verifyEpisode(challenge, ctx);
}
