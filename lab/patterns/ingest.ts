/**
 * Ingestion of a tournament run: its stored episodes become patterns.
 * @module
 */
import type { EpisodeRecord } from "../agents/mod.ts";
import { queryStore } from "../tournament/mod.ts";
import { type AddReport, emptyAddReport, type PatternStore } from "./store.ts";

/**
 * Stores the episodes of tournament run `runId` (read from the tournament store `db`) as patterns. Idempotent:
 * episodes already merged are skipped (the store remembers them).
 *
 * @example
 * ```ts
 * await using store = await PatternStore.open(DEFAULT_PATTERNS_PATH);
 * const report = await ingestRun(store, "data/lab.duckdb", run.runId);
 * ```
 */
export async function ingestRun(store: PatternStore, db: string, runId: string, options: { batch?: number } = {}): Promise<AddReport> {
  const rows = await queryStore(db, "SELECT trace::VARCHAR AS t FROM episodes WHERE run_id = $1 ORDER BY id", [runId]);
  if (!rows.length) throw new RangeError(`ingestRun: run '${runId}' has no episodes in ${db}; run the tournament first (lab tournament)`);
  const total = emptyAddReport();
  const size = options.batch ?? 500;
  for (let i = 0; i < rows.length; i += size) {
    const records = rows.slice(i, i + size).map((r) => JSON.parse(String(r.t)) as EpisodeRecord);
    const r = await store.addEpisodes(records, { runId });
    for (const k of Object.keys(total) as (keyof AddReport)[]) total[k] += r[k] ?? 0;
  }
  return total;
}
