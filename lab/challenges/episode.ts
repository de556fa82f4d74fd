/**
 * Verifying a finished episode: adapts an episode's tool state (database, answer, tool log) to the verifier.
 */
import { callTool, createToolContext, type ToolContext, type ToolResult } from "../tools/mod.ts";
import type { Episode, SandboxPool, SqlRow } from "../sandbox/mod.ts";
import type { Challenge, Verdict } from "./types.ts";
import { type EpisodeOutcome, verify, type VerifyContext } from "./verify.ts";

/** Options for {@linkcode episodeVerifyContext}. */
export interface VerifyContextOptions {
  /**
   * Shares the results of the pristine state's queries among every episode of this pool, by (org, SQL): an
   * organization's starting state never changes, so the reference queries and table hashes one challenge needs
   * run once for all the strategies, attempts and generations that play it. The shared rows are frozen.
   * @default no sharing: every query runs
   */
  pool?: SandboxPool;
}

// The pristine results shared per pool (see VerifyContextOptions.pool), emptied when it reaches its cap.
const pristineCache = new WeakMap<SandboxPool, Map<string, Promise<readonly SqlRow[]>>>();
const PRISTINE_CACHE_MAX = 8192;

function cachedPristine(pool: SandboxPool, ep: Episode): (sql: string) => Promise<SqlRow[]> {
  let cache = pristineCache.get(pool);
  if (!cache) pristineCache.set(pool, cache = new Map());
  const c = cache;
  return (sql) => {
    const key = `${ep.orgId}\u0000${sql}`;
    let hit = c.get(key);
    if (!hit) {
      if (c.size >= PRISTINE_CACHE_MAX) c.clear();
      hit = ep.queryPristine(sql).then((rows) => Object.freeze(rows.map((r) => Object.freeze(r))));
      hit.catch(() => c.delete(key));
      c.set(key, hit);
    }
    return hit as Promise<SqlRow[]>;
  };
}

/**
 * The verifier's view of an episode (trusted lab code): its as-of date, its starting state and its current
 * state. The current state is the starting one while the episode has made no accepted write (reads cannot
 * change it, rejected writes leave no trace), so a read-only episode's table diff costs no query on it.
 *
 * @example
 * ```ts
 * const ctx = episodeVerifyContext(ep, { pool }); // pristine results shared by the pool's episodes
 * const verdict = await verify(challenge, outcome, ctx);
 * ```
 */
export function episodeVerifyContext(ep: Episode, options: VerifyContextOptions = {}): VerifyContext {
  const pristine = options.pool ? cachedPristine(options.pool, ep) : (sql: string) => ep.queryPristine(sql);
  return {
    asOf: ep.asOf,
    pristine,
    current: (sql) => ep.writes.length ? ep.query(sql) : pristine(sql),
  };
}

/** {@linkcode episodeVerifyContext} of the episode behind a tool context. */
export function verifyContextOf(ctx: ToolContext, options: VerifyContextOptions = {}): VerifyContext {
  return episodeVerifyContext(ctx.episode, options);
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
 * Judges the episode behind `ctx` on `challenge` by execution (`options`: see {@linkcode episodeVerifyContext}).
 *
 * @example
 * ```ts
 * await using ep = await pool.acquire(challenge.orgId, { role: challenge.role });
 * const ctx = createToolContext(ep);
 * // … the agent calls tools …
 * const verdict = await verifyEpisode(challenge, ctx);
 * ```
 */
export function verifyEpisode(
  challenge: Challenge,
  ctx: ToolContext,
  options: VerifyContextOptions = {},
): Promise<Verdict> {
  return verify(challenge, outcomeOf(ctx), verifyContextOf(ctx, options));
}

/**
 * A recorded solution: the writes an agent made (in order) and the answer it submitted.
 * @internal
 */
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
