/**
 * A tiny planted tournament run in its own process, for the kill-and-resume test (tournament_kill.test.ts):
 *
 *   deno run -A lab/tournament/_kill_child.ts <db> <sandbox.duckdb>
 *
 * 3 strategies × 4 challenges × k=2 × 2 generations (48 episodes) with the deterministic planted model, run id
 * `kill-run`. Prints one line per stored episode (`stored <done>/<total>`) so the parent can kill it after N,
 * one per finished generation, and `done <status>` at the end. Running it again on the same store resumes.
 * @module
 */
import { SandboxPool } from "../sandbox/mod.ts";
import { runTournament } from "./tournament.ts";
import type { TournamentConfigInput } from "./config.ts";
import { plantedModel, plantedSetup } from "./_test_model.ts";

/** The child's config: small enough that five runs of it fit the test's time budget. */
export const KILL_CONFIG: TournamentConfigInput = {
  challenges: { families: ["invoice_count_for_period", "cash_book_balance_end_of_period"], max_instances: 4 },
  attempts: 2,
  generations: 2,
  concurrency: 4,
};
/** The run id the child uses. */
export const KILL_RUN_ID = "kill-run";

if (import.meta.main) {
  const [db, sandbox] = Deno.args;
  if (!db || !sandbox) {
    console.error("usage: deno run -A lab/tournament/_kill_child.ts <db> <sandbox.duckdb>");
    Deno.exit(2);
  }
  const { config, strategies, challenges, sqlByTask } = await plantedSetup(KILL_CONFIG);
  await using pool = await SandboxPool.open(sandbox, { size: config.concurrency });
  const run = await runTournament(config, {
    db,
    runId: KILL_RUN_ID,
    model: plantedModel(sqlByTask),
    strategies,
    challenges,
    pool,
    stats: { resamples: 100 },
    // Every episode is written as soon as the previous write is done (not batched for a second), so the
    // parent's kills land between and inside many small writes.
    flushMs: 0,
    onProgress: (e) => console.log(e.kind === "episode" ? `stored ${e.done}/${e.total}` : `generation ${e.generation}`),
  });
  console.log(`done ${run.status} ${run.episodes.ranNow} ran ${run.episodes.resumed} resumed`);
}
