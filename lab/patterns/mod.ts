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
 * - Retrieval: {@linkcode PatternRetriever} (the runner's `PatternSource`; exact or IVF search, optional hybrid
 *   ranking) and {@linkcode patternToExample} / {@linkcode toInjectedExamples} (patterns as injected examples).
 *
 * Files: `_schema.ts` (the tables), `_extract.ts` (episode → draft pattern), `_upsert.ts` (merging and the bulk
 * write), `_query.ts` (the Pattern shape, filters, listing), `store.ts` (PatternStore), `_config.ts`
 * (configs/patterns.yaml), `_search.ts` (eligibility and the exact scan), `_index.ts` (the IVF index over eligible
 * rows), `_hybrid.ts` (BM25 fusion), `retrieve.ts` (PatternRetriever), `_inject.ts` (examples, budget, reuse),
 * `_langchain.ts` (LangChain adapter), plus normalize, embed, prune, exchange, calibrate, ask, ingest and summaries.
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
export { EMBEDDING_DIMS, PATTERN_COLUMNS, type PatternColumn } from "./_schema.ts";
export { type Embedder, LOCAL_EMBEDDER_ID, localEmbed, localEmbedder } from "./embed.ts";
export {
  intentMessages,
  type IntentNormalizer,
  normalizeIntent,
  normalizeIntentWith,
  type NormalizeOptions,
  STOPWORDS,
} from "./normalize.ts";
export { canonicalSql } from "../util/mod.ts";
export { type AskInput, isVerificationQuery, patternId, summarizeResult } from "./_extract.ts";
export { type ListOptions, type Pattern, type PatternFilter, type StoredQuery } from "./_query.ts";
export {
  type AddEpisodesOptions,
  type AddReport,
  DEFAULT_PATTERNS_PATH,
  emptyAddReport,
  PatternStore,
  type PatternStoreOptions,
} from "./store.ts";
export * from "./prune.ts";
export * from "./exchange.ts";
export {
  CalibrationRecord,
  CutoffFigures,
  cutoffFor,
  HybridConfig,
  IndexConfig,
  loadPatternsConfig,
  mergeRetrievalConfig,
  PATTERNS_CONFIG_FILE,
  PatternsConfig,
  RankingFigures,
  RetrievalConfig,
  type RetrievalOverrides,
} from "./_config.ts";
export { type PatternQuery, type RetrievedPattern, searchExact } from "./_search.ts";
export { fuseLexical } from "./_hybrid.ts";
export {
  type OpenRetrieverOptions,
  PatternRetriever,
  type RetrievalSource,
  type RetrieverStats,
} from "./retrieve.ts";
export {
  budgetedRenderer,
  patternToExample,
  toInjectedExamples,
  usedPatterns,
  type UsedPatternsOptions,
} from "./_inject.ts";
export { PatternDocumentRetriever, type PatternDocumentRetrieverInput } from "./_langchain.ts";
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
export { ingestRun } from "./ingest.ts";
export {
  fitnessHistogram,
  type FitnessBin,
  type GenerationCount,
  learnedFamilyChallenge,
  type LevelCategoryCount,
  type PatternFacts,
  patternsByGeneration,
  patternsByLevelCategory,
} from "./summaries.ts";
