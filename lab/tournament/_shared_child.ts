/**
 * A small planted tournament in its own process, for the shared-store test (store_shared.test.ts):
 *
 *   deno run -A lab/tournament/_shared_child.ts <db> <sandbox.duckdb>
 *
 * 3 strategies × 6 challenges × k=2 × 3 generations (108 episodes) with the planted model slowed to ~20 ms a
 * call, so the run lasts a few seconds, writing every 100 ms. Prints `stored <done>/<total>` per stored
 * episode and `done <status> <stored>` at the end.
 * @module
 */
import { SandboxPool } from "../sandbox/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import { runTournament } from "./tournament.ts";
import type { TournamentConfigInput } from "./config.ts";
import { plantedModel, plantedSetup } from "./_test_model.ts";

/** The child's config. */
export const SHARED_CONFIG: TournamentConfigInput = {
  challenges: { families: ["invoice_count_for_period", "cash_book_balance_end_of_period"], max_instances: 6 },
  attempts: 2,
  generations: 3,
  concurrency: 4,
};
/** The run id the child uses. */
export const SHARED_RUN_ID = "shared-run";

if (import.meta.main) {
  const [db, sandbox] = Deno.args;
  const { config, strategies, challenges, sqlByTask } = await plantedSetup(SHARED_CONFIG);
  const planted = plantedModel(sqlByTask);
  const model: ChatModel = {
    ...planted,
    invoke: async (req) => {
      await new Promise((r) => setTimeout(r, 20));
      return await planted.invoke(req);
    },
  };
  await using pool = await SandboxPool.open(sandbox, { size: config.concurrency });
  const run = await runTournament(config, {
    db,
    runId: SHARED_RUN_ID,
    model,
    strategies,
    challenges,
    pool,
    stats: { resamples: 100 },
    flushMs: 100,
    onProgress: (e) => e.kind === "episode" && console.log(`stored ${e.done}/${e.total}`),
  });
  console.log(`done ${run.status} ${run.episodes.stored}`);
}
