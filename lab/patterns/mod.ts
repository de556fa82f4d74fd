/**
 * Patterns: what episodes teach — normalized intent, tool sequence, verified SQL, fitness, embedding — stored
 * in DuckDB (`turn_memories`, seed 000), pruned by natural selection, exchanged as Parquet and Arrow.
 *
 * - Store: {@linkcode PatternStore} (implements the runner's `EpisodeSink` port with {@linkcode PatternStore.sink}).
 * - Intents: {@linkcode normalizeIntent} (rules) and {@linkcode normalizeIntentWith} (an optional model first).
 * - Pruning: {@linkcode prunePatterns} (per-category caps, dominated patterns) and {@linkcode revalidatePatterns}
 *   (re-runs stored SQL through the agents' safe tools; marks stale what no longer runs or matches).
 * - Exchange: {@linkcode exportParquet} / {@linkcode importParquet} (hive-partitioned by run and category, exact
 *   round trip) and {@linkcode toArrow} (an apache-arrow Table for notebooks).
 *
 * @example
 * ```ts
 * import { PatternStore, prunePatterns, exportParquet, toArrow } from "./lab/patterns/mod.ts";
 * await using store = await PatternStore.open(DEFAULT_PATTERNS_PATH);
 * await runEpisode(spec, { pool, sink: store.sink({ runId: "t-1" }) });
 * console.log(await prunePatterns(store, { perCategory: 500 }));
 * await exportParquet(store, "data/exports/patterns");
 * const table = await toArrow(store, { turnPass: true });
 * ```
 * @module
 */
export { EMBEDDING_DIMS, PATTERN_COLUMNS } from "./_schema.ts";
export { type Embedder, LOCAL_EMBEDDER_ID, localEmbed, localEmbedder } from "./embed.ts";
export {
  intentMessages,
  type IntentNormalizer,
  normalizeIntent,
  normalizeIntentWith,
  type NormalizeOptions,
  STOPWORDS,
} from "./normalize.ts";
export {
  type AddEpisodesOptions,
  type AddReport,
  type AskInput,
  canonicalSql,
  DEFAULT_PATTERNS_PATH,
  emptyAddReport,
  isVerificationQuery,
  type ListOptions,
  type Pattern,
  type PatternFilter,
  patternId,
  PatternStore,
  type PatternStoreOptions,
  type StoredQuery,
  summarizeResult,
} from "./store.ts";
export * from "./prune.ts";
export * from "./exchange.ts";
export * from "./retrieve.ts";
export {
  cachedEmbedder,
  type CachedEmbedder,
  type CachedEmbedderOptions,
  type ConnectionSource,
  EMBEDDING_CACHE_SCHEMA,
  type EmbeddingCacheStats,
  openAiEmbedder,
  type OpenAiEmbedderOptions,
} from "./embed.ts";
export {
  bestF1Cutoff,
  type CalibrateOptions,
  calibrateCutoff,
  figuresAt,
  rocAuc,
  SEED_CUTOFF,
  writeCalibration,
} from "./calibrate.ts";
export { askQuestion, type AskOptions, type AskResult } from "./ask.ts";
export {
  type ArmLift,
  formatPatternLift,
  ingestRun,
  patternLift,
  type PatternLiftOptions,
  type PatternLiftResult,
  type SplitLift,
} from "./lift.ts";
