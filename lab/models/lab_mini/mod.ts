/**
 * lab-mini: the lab's own small model — a log-linear semantic parser over SQL plan sketches, pretrained from a
 * generic corpus generated from schema metadata, served as a `ChatBackend`. See README.md.
 *
 * @example
 * ```ts
 * import { labMiniBackend, pretrain } from "./lab/models/lab_mini/mod.ts";
 * const model = await pretrain("some.duckdb", { seed: 1 });
 * const backend = labMiniBackend(model);
 * ```
 * @module
 */
export { ContextLengthExceededError, LAB_MINI, labMiniBackend, type LabMiniOptions, loadLabMini, readStrategy, type Strategy } from "./backend.ts";
export { type Example, generateCorpus } from "./corpus.ts";
export { decode, parseContext, type Plan, renderSql } from "./parser.ts";
export { type ColumnMeta, readSchemaMeta, type RelationMeta, SchemaMeta } from "./schema_meta.ts";
export { type LabMiniModel, parseModel, planAccuracy, pretrain, type PretrainOptions, readModel, saveModel, schemaHash, serializeModel } from "./weights.ts";
export { tunedBackend } from "./backend.ts";
export { type CopyOptions, copyFromExamples, type CopyPlan } from "./icl.ts";
export { type ChatExample, fineTune, type FineTuneOptions, isTuned, parseTuned, readChatJsonl, serializeTuned, type TunedHead, type TunedModel } from "./finetune.ts";
export { isTunedId, LAB_MINI_LR, labMiniTrainer, type LabMiniTrainerOptions, readTuned, tunedFile } from "./trainer.ts";
