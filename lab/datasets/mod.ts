/**
 * Datasets: curated training sets from what the lab learned — passed tournament episodes (whole traces with tool
 * calls and results), patterns, and answers a person marked right — with seed 001's quality tiers, seed 000's
 * staged sets, cleaning (exact and near-duplicates, balance, redaction), leakage control, validation and exports
 * with manifests.
 *
 * - Examples: {@linkcode episodeExample}, {@linkcode patternExample} (one {@linkcode Example} shape for every
 *   source); {@linkcode episodeBatches}, {@linkcode patternBatches} read the stores a batch at a time.
 * - Quality: {@linkcode qualityScore}, {@linkcode tierOf}, {@linkcode compareRanked} (weights and tiers in
 *   `configs/datasets.yaml`, {@linkcode loadDatasetsConfig}).
 * - Leakage: {@linkcode LeakageGuard} (held-out splits, instances, templates, intents, `test_ood` families).
 * - Cleaning: {@linkcode createCurator} / {@linkcode curate} (exact and near-duplicates with
 *   {@linkcode NearDuplicateIndex}, tiers, {@linkcode balance}); {@linkcode createRedactor} (PII and secrets,
 *   never SQL identifiers); {@linkcode stageSets} (core, extended, comprehensive) and DPO pairs.
 * - Files: {@linkcode renderExamples}, {@linkcode renderPairs}, {@linkcode formatRows} (openai, seed001,
 *   sharegpt, alpaca, dpo), {@linkcode parseRows}; {@linkcode prepareDataset}, {@linkcode writeDatasets},
 *   {@linkcode readManifest}; {@linkcode buildDataset} and {@linkcode exportDataset} (folders and conversions).
 * - External trainers: {@linkcode exportForTrainer} (Together and Fireworks JSONL, Axolotl and Unsloth configs with
 *   ShareGPT/Alpaca data, an Ollama Modelfile; not trainable offline here), {@linkcode STAGE_SCHEDULE}.
 * - Summaries: {@linkcode buildSummary}, {@linkcode formatBuildSummary}; rows for tables and charts
 *   ({@linkcode tierRows}, {@linkcode balanceRows}, {@linkcode redactionRows}, {@linkcode stageRows}).
 * - Validation: {@linkcode validateChatJsonl} (the OpenAI cookbook's checks extended to tool calls; tokens,
 *   epochs, cost).
 *
 * @example
 * ```ts
 * import { buildDataset, LeakageGuard, loadDatasetsConfig } from "./lab/datasets/mod.ts";
 * import { loadCatalog } from "./lab/challenges/mod.ts";
 * await using store = await PatternStore.open(DEFAULT_PATTERNS_PATH);
 * const r = await buildDataset({ db: "data/lab.duckdb", patterns: store }, {
 *   out: "data/datasets/curated",
 *   config: await loadDatasetsConfig(),
 *   guard: LeakageGuard.fromCatalog(await loadCatalog()),
 * });
 * console.log(r.curation.excluded, r.files.map((f) => f.manifest.rows));
 * ```
 * @module
 */
export {
  DATASETS_CONFIG_FILE,
  DatasetsConfig,
  datasetsConfig,
  loadDatasetsConfig,
  StageConfig,
} from "./config.ts";
export {
  episodeExample,
  type Example,
  type ExampleCall,
  exampleMessages,
  type ExampleProvenance,
  patternExample,
  type SourceKind,
  type WireMessage,
  type WireToolCall,
} from "./example.ts";
export { compareRanked, type QualityBreakdown, qualityScore, type Ranked, type Tier, TIERS, tierOf } from "./quality.ts";
export { type HeldOutSummary, LEAK_REASONS, LeakageGuard, type LeakReason } from "./leakage.ts";
export {
  jaccard,
  LSH_BANDS,
  LSH_ROWS,
  MINHASH_HASHES,
  minhash,
  NearDuplicateIndex,
  type NearDuplicateThresholds,
  type Shingles,
  shingles,
} from "./dedup.ts";
export {
  createRedactor,
  emptyRedactionCounts,
  REDACTION_KINDS,
  type RedactionCounts,
  type RedactionKind,
  type Redactor,
  type RedactorOptions,
} from "./redact.ts";
export {
  balance,
  type CuratedExample,
  type Curation,
  type CurateOptions,
  curate,
  type Curator,
  createCurator,
  emptyExclusions,
  type ExampleFilter,
  type ExclusionCounts,
  type PreferencePair,
  STAGES,
  type StageName,
  type StageSet,
  stageSets,
} from "./curate.ts";
export {
  type DatasetFormat,
  FORMATS,
  formatRows,
  type LineageEntry,
  lineageOf,
  type LineProblem,
  type PairRecord,
  parseRows,
  recordsFromChatRows,
  type RenderOptions,
  renderExamples,
  renderPairs,
  ROW_SCHEMAS,
  type TrainingRecord,
  transcript,
} from "./formats.ts";
export {
  type Counts,
  type DatasetManifest,
  jsonlText,
  lineageCounts,
  MANIFEST_SCHEMA,
  type ManifestInput,
  manifestPath,
  type PreparedDataset,
  prepareDataset,
  readManifest,
  sha256,
  type SourceSummary,
  type StageInfo,
  verifyHash,
  writeDatasets,
} from "./manifest.ts";
export {
  defaultEpochs,
  PROBLEM_CODES,
  type ProblemCode,
  type TokenStats,
  validateChatJsonl,
  type ValidateOptions,
  type ValidationReport,
} from "./validate.ts";
export { episodeBatches, type EpisodeBatchOptions, patternBatches, storedRuns } from "./sources.ts";
export {
  buildDataset,
  type BuildOptions,
  type BuildResult,
  datasetFileName,
  type DatasetSources,
  exportDataset,
  type ExportOptions,
} from "./build.ts";
export { balanceRows, type BuildSummary, buildSummary, formatBuildSummary, redactionRows, stageRows, tierRows } from "./summary.ts";
export {
  type BaseModel,
  DEFAULT_BASE,
  DEFAULT_LORA,
  exportForTrainer,
  fireworksRow,
  type LoraSettings,
  readTrainersManifest,
  type RenderedTrainerExport,
  renderTrainerExport,
  STAGE_SCHEDULE,
  type StageSchedule,
  togetherRow,
  type Trainer,
  type TrainerData,
  type TrainerExport,
  type TrainerExportEntry,
  type TrainerExportOptions,
  type TrainerFile,
  TRAINERS,
  TRAINERS_MANIFEST_FILE,
  TRAINERS_MANIFEST_SCHEMA,
  type TrainersManifest,
} from "./trainers.ts";
