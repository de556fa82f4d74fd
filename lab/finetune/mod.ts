/**
 * Fine-tuning: jobs, progressive stages and the model registry.
 *
 * - **Jobs** (`JobRunner`): the lifecycle of fine-tuning jobs behind the local server's `/v1/fine_tuning/jobs` —
 *   created from an uploaded training file, run in the background by the `Trainer` of their base model (see
 *   `lab/models/`: `lab-mini` has one, and trains from its fine-tuned versions too), persisted with their events,
 *   cancellable, marked failed when their runner stops before they end.
 * - **Client** (`fineTuneClient`): the OpenAI fine-tuning API's steps — upload, create, follow events, get the
 *   model — against the lab's server, OpenAI, Together or Fireworks (`FINETUNE_ENDPOINTS`, differences documented).
 * - **Stages** (`runStages`, `SEED_000_STAGES`, `runCategoryStages`): seed 000's progressive schedule, each stage
 *   starting from the previous stage's model, resumable after a crash; per-category runs with seed 001's thresholds.
 * - **Registry** (`Registry`, DuckDB, `data/registry.duckdb`): versions `lab-{base}-{category}-v{n}` with provider
 *   ids, dataset hash, job, stage, parent, metrics, status and an audit trail; lifecycle events as rows; one
 *   promoted version per (base, category); rollback restores the previous one.
 * - **Orchestrator** (`orchestrateOnce`, seed 001): cycles collecting → ready → training → evaluating →
 *   awaiting_promotion → deployed | failed on thresholds of the curated dataset, with autoFineTune, autoPromote and
 *   autoRollback; the evaluating state calls the `Evaluate` port; cycles and transitions are registry rows.
 *
 * @example
 * ```ts
 * import { fineTuneClient, Registry, runStages, seed000Stages } from "./lab/finetune/mod.ts";
 * const registry = await Registry.open();
 * const result = await runStages(fineTuneClient("http://127.0.0.1:8787/v1"), seed000Stages({ core: "core.jsonl", extended: "extended.jsonl" }), {
 *   base: "lab-mini",
 *   registry,
 * });
 * await registry.promote(result.final!.name, { reason: "dev lift with its interval above 0" });
 * ```
 * @module
 */
export {
  type FineTuningEvent,
  type FineTuningJob,
  type Hyperparameter,
  JobError,
  type JobRequest,
  JobRunner,
  type JobRunnerOptions,
  type JobStatus,
  type TrainingFiles,
} from "./jobs.ts";
export {
  type CreateJobParams,
  FINETUNE_ENDPOINTS,
  type FineTuneApiShape,
  type FineTuneClient,
  fineTuneClient,
  type FineTuneClientOptions,
  type FineTuneEndpoint,
  FineTuneHttpError,
  type FineTuneProvider,
  isLostJob,
  REFERENCE_LR,
  type RemoteEvent,
  type RemoteJob,
} from "./client.ts";
export {
  type AuditEntry,
  baseShortName,
  categorySlug,
  type ChangeOptions,
  DEFAULT_REGISTRY_PATH,
  type LifecycleEvent,
  type LifecycleEventType,
  modelHashOf,
  type ModelVersion,
  type NewVersion,
  Registry,
  type StageJob,
  VERSION_STATUSES,
  versionName,
  type VersionStatus,
} from "./registry.ts";
export {
  type CategoryOutcome,
  type CategoryStages,
  type CategoryThresholds,
  datasetHash,
  defaultRunId,
  followJob,
  jobMetrics,
  runCategoryStages,
  runStages,
  type RunStagesOptions,
  SEED_000_STAGES,
  SEED_001_THRESHOLDS,
  seed000Stages,
  type Stage,
  type StageProgress,
  type StageSpec,
  type StagesResult,
} from "./stages.ts";
export {
  AbConfig,
  type CollectedDataset,
  type Collect,
  curationStats,
  type Cycle,
  CycleStore,
  datasetFolderCollector,
  type DatasetStats,
  type Evaluate,
  type EvaluationRequest,
  type EvaluationResult,
  FINETUNE_CONFIG_FILE,
  FinetuneConfig,
  finetuneConfig,
  formatLift,
  liftSign,
  loadFinetuneConfig,
  MonitorConfig,
  type OrchestrateOptions,
  type OrchestrateResult,
  orchestrateOnce,
  OrchestratorConfig,
  type OrchestratorDeps,
  type OrchestratorState,
  ORCHESTRATOR_STATES,
  type Transition,
} from "./orchestrator.ts";
