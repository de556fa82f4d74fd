/**
 * Fine-tuning: the lifecycle of fine-tuning jobs. A job is created from an uploaded training file (chat examples,
 * OpenAI's fine-tuning JSONL), run in the background by the `Trainer` registered for its base model (see
 * `lab/models/`: `lab-mini` has one), persisted with its events, cancellable, and marked failed when its runner
 * stops before it ends. The new model's backend is handed to the caller, which serves it. The local server's
 * `/v1/fine_tuning/jobs` routes call into it.
 *
 * @example
 * ```ts
 * import { JobRunner } from "./lab/finetune/mod.ts";
 * import { defaultTrainers } from "./lab/models/mod.ts";
 * const jobs = await JobRunner.open("/tmp/jobs", { files, trainers: defaultTrainers(), register: (b) => console.log("new model", b.id) });
 * const job = jobs.create({ model: "lab-mini", training_file: "file-abc", suffix: "sql" });
 * console.log(jobs.events(job.id).data.map((e) => e.message));
 * await jobs.close();
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
