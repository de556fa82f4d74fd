/**
 * Sources, read in batches through their stores' public functions: stored tournament episodes (whole traces,
 * passing and failing: failing ones feed only DPO pairs) and the pattern store (tournament patterns and a person's
 * own questions).
 * @module
 */
import { listRuns, readEpisodeRecords, type StoreRef } from "../tournament/mod.ts";
import type { PatternStore } from "../patterns/mod.ts";
import { episodeExample, type Example, patternExample } from "./example.ts";

/** Options for {@linkcode episodeBatches}. */
export interface EpisodeBatchOptions {
  /** Only these runs. @default every run of the store ({@linkcode storedRuns}) */
  runs?: readonly string[];
  /** Episodes per batch. @default 500 */
  batch?: number;
}

/** The ids of the runs a tournament store holds, sorted. */
export async function storedRuns(db: StoreRef): Promise<string[]> {
  return (await listRuns(db)).map((r) => r.id).sort();
}

/**
 * The stored episodes of a tournament store as examples, a batch at a time (by run, then episode id). An example's
 * episode id is the record's (`<challenge>#<strategy>#<model>#s<seed>#a<attempt>`).
 *
 * @example
 * ```ts
 * for await (const batch of episodeBatches("data/lab.duckdb", { runs: ["t-1"] })) curator.add(batch);
 * ```
 */
export async function* episodeBatches(db: StoreRef, options: EpisodeBatchOptions = {}): AsyncGenerator<Example[]> {
  const size = options.batch ?? 500;
  for (const run of options.runs ?? await storedRuns(db)) {
    for (let offset = 0;; offset += size) {
      const records = await readEpisodeRecords(db, run, { offset, limit: size });
      if (!records.length) break;
      yield records.map((r) => episodeExample(r, { runId: run, episodeId: r.id }));
      if (records.length < size) break;
    }
  }
}

/**
 * Every pattern of a store as examples (a person's own questions as `ask` examples), a batch at a time.
 *
 * @example
 * ```ts
 * for await (const batch of patternBatches(store)) curator.add(batch);
 * ```
 */
export async function* patternBatches(store: PatternStore, options: { batch?: number } = {}): AsyncGenerator<Example[]> {
  const size = options.batch ?? 5000;
  for (let offset = 0;; offset += size) {
    const patterns = await store.list({}, { limit: size, offset });
    if (!patterns.length) break;
    yield patterns.map(patternExample);
    if (patterns.length < size) break;
  }
}
