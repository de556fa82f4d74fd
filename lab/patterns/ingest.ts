/**
 * Ingestion of a tournament run: its stored episodes become patterns.
 * @module
 */
import { readEpisodeRecords } from "../tournament/mod.ts";
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
  const total = emptyAddReport();
  const size = options.batch ?? 500;
  for (let offset = 0;; offset += size) {
    const records = await readEpisodeRecords(db, runId, { offset, limit: size });
    if (!records.length) break;
    const r = await store.addEpisodes(records, { runId });
    for (const k of Object.keys(total) as (keyof AddReport)[]) total[k] += r[k] ?? 0;
  }
  if (!total.episodes) throw new RangeError(`ingestRun: run '${runId}' has no episodes in ${db}; run the tournament first (lab tournament)`);
  return total;
}
