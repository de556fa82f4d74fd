/**
 * The `Trainer` port: base model + dataset file → a new model version. `lab-mini` implements it
 * (`labMiniTrainer`); the fine-tuning jobs of `lab/finetune/` drive it. A job for a model without a trainer fails
 * with "no trainer for this model: <model>" — nothing pretends to train. A fine-tuned version `ft:<base>:…` is
 * trained by its base's trainer ({@linkcode trainerFor}), which continues from that version.
 *
 * @example A fake trainer for tests
 * ```ts
 * const fake: Trainer = async (base, datasetPath, { onEvent, suffix }) => {
 *   for (let step = 1; step <= 3; step++) onEvent({ level: "info", message: `step ${step}`, data: { step, train_loss: 1 / step } });
 *   return { model: `ft:${base}:${suffix ?? "lab"}`, backend: placeholderBackend({ id: `ft:${base}:${suffix ?? "lab"}` }) };
 * };
 * ```
 */
import type { ChatBackend } from "./backend.ts";

/** Hyperparameters a job may set; a trainer ignores what it does not support. */
export interface TrainerHyperparameters {
  n_epochs?: number;
  batch_size?: number;
  learning_rate_multiplier?: number;
}

/** A progress event of a training run; `data` carries metrics (OpenAI's `fine_tuning.job.event` shape). */
export interface TrainerEvent {
  level: "info" | "warn" | "error";
  message: string;
  data?: { step: number; train_loss: number; [metric: string]: number };
}

/** Options for a {@linkcode Trainer} run. */
export interface TrainerOptions {
  /** Appended to the new model's name. */
  suffix?: string;
  hyperparameters?: TrainerHyperparameters;
  seed?: number;
  /** Path of a JSONL validation file of chat examples, when given. */
  validationPath?: string;
  /** Aborted when the job is cancelled: the trainer must stop and reject. */
  signal?: AbortSignal;
  onEvent(event: TrainerEvent): void;
}

/** What a finished training run produced. */
export interface TrainerResult {
  /** The new model's id (e.g. `ft:lab-mini:lab:sql:abc123`). */
  model: string;
  /** A backend serving the new model; the job's owner (the local server) registers it, so the model answers chat at once. */
  backend?: ChatBackend;
}

/**
 * Trains `base` on the chat examples in `datasetPath` (a JSONL file of `{messages:[…]}` lines, already
 * validated) and returns the new model. `base` is unchanged (learners return new values).
 * @internal
 */
export type Trainer = (base: string, datasetPath: string, options: TrainerOptions) => Promise<TrainerResult>;

/**
 * The trainer of `model` among `trainers` (by base model id): its own, or for a fine-tuned version
 * `ft:<base>:<suffix>:<id>` (OpenAI's naming, which the lab follows) its base's — which then continues from the
 * version. Undefined when there is none.
 *
 * @example
 * ```ts
 * trainerFor(defaultTrainers(), "ft:lab-mini:core:0123456789ab"); // lab-mini's trainer
 * trainerFor(defaultTrainers(), "gpt-4o-mini");                   // undefined
 * ```
 */
export function trainerFor(trainers: Readonly<Record<string, Trainer>>, model: string): Trainer | undefined {
  if (Object.hasOwn(trainers, model)) return trainers[model];
  const root = /^ft:([^:]+):/.exec(model)?.[1];
  return root !== undefined && Object.hasOwn(trainers, root) ? trainers[root] : undefined;
}
