/**
 * Test support for comparing tournament runs: the options of a test run (run id {@linkcode TEST_RUN_ID}, a
 * small bootstrap) and the state such a run leaves in its store, without timings.
 * @module
 */
import { queryStore } from "./store.ts";
import type { RunTournamentOptions } from "./tournament.ts";

/** The run id of {@linkcode testRunOptions}, which {@linkcode storedState} reads. */
export const TEST_RUN_ID = "test-run";

/** Options of a test run on `db`: run id {@linkcode TEST_RUN_ID}, 200 bootstrap resamples, then `options`. */
export function testRunOptions(db: string, options: RunTournamentOptions): RunTournamentOptions {
  return { db, runId: TEST_RUN_ID, stats: { resamples: 200 }, ...options };
}

/** Stored state of the test run without timings: episodes (key fields + verdict + fitness), strategies, generations. */
export async function storedState(db: string) {
  const read = (sql: string) => queryStore(db, sql, [TEST_RUN_ID]);
  const episodes = await read(
    `SELECT id, generation, strategy_id, challenge_id, attempt, seed, pass, score, composite, tokens_total,
            stop_reason, contaminated, trace->'$.verdict' AS verdict, trace->'$.toolCalls' AS calls
     FROM episodes WHERE run_id = $1 ORDER BY id`,
  );
  const strategies = await read(
    "SELECT id, generation, operation, parents, changed, strategy FROM strategies WHERE run_id = $1 ORDER BY id",
  );
  const generations = await read(
    "SELECT generation, population, ranking, replaced, children, stats FROM generations WHERE run_id = $1 ORDER BY generation",
  );
  const calls = episodes.map((e) => ({ ...e, calls: JSON.parse(String(e.calls)).map((c: { ms: number }) => ({ ...c, ms: 0 })) }));
  return { episodes: calls, strategies, generations };
}
