/**
 * Fine-tuning jobs: created from an uploaded training file, run in the background by the {@linkcode Trainer}
 * registered for the base model, persisted (job + events) as one JSON file per job. Statuses: validating_files →
 * queued → running → succeeded | failed | cancelled. A job on a fine-tuned version `ft:<base>:…` runs on its base's
 * trainer, which continues from the version. Without a trainer a job fails with "no trainer for this model:
 * <model>". Jobs and events have OpenAI's `fine_tuning.job` shapes.
 * @module
 */
import { join } from "node:path";
import { type ChatBackend, type Trainer, type TrainerEvent, trainerFor } from "../models/mod.ts";
import { writeTextAtomic } from "../util/mod.ts";

/** A hyperparameter of a job: a value, or "auto" for the trainer's default. */
export type Hyperparameter = "auto" | number;

/** What a job is created from: OpenAI's fine-tuning job create parameters, already validated. */
export interface JobRequest {
  model: string;
  /** Id of an uploaded file of purpose "fine-tune". */
  training_file: string;
  validation_file?: string | null;
  suffix?: string | null;
  seed?: number | null;
  hyperparameters?: { batch_size?: Hyperparameter; learning_rate_multiplier?: Hyperparameter; n_epochs?: Hyperparameter } | null;
  metadata?: Record<string, string> | null;
}

/** Where a job is in its lifecycle. */
export type JobStatus = "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled";
const TERMINAL: JobStatus[] = ["succeeded", "failed", "cancelled"];

/** A fine-tuning job (OpenAI's `fine_tuning.job` object). */
export interface FineTuningJob {
  id: string;
  object: "fine_tuning.job";
  created_at: number;
  error: { code: string; message: string; param: string | null } | null;
  fine_tuned_model: string | null;
  finished_at: number | null;
  hyperparameters: { batch_size: Hyperparameter; learning_rate_multiplier: Hyperparameter; n_epochs: Hyperparameter };
  model: string;
  organization_id: string;
  result_files: string[];
  seed: number;
  status: JobStatus;
  trained_tokens: number | null;
  training_file: string;
  validation_file: string | null;
  estimated_finish: null;
  integrations: null;
  metadata: Record<string, string> | null;
  user_provided_suffix: string | null;
}

/** An event of a job (OpenAI's `fine_tuning.job.event` object); `data` carries a trainer's metrics. */
export interface FineTuningEvent {
  id: string;
  object: "fine_tuning.job.event";
  created_at: number;
  level: "info" | "warn" | "error";
  message: string;
  type: "message" | "metrics";
  data?: Record<string, unknown>;
}

/**
 * A request the jobs refuse: an unknown job or file (`not_found`), or a request that is not valid now (`invalid`).
 * `param` names the request field at fault and `code` is OpenAI's error code.
 */
export class JobError extends Error {
  override name = "JobError";
  constructor(
    readonly reason: "not_found" | "invalid",
    message: string,
    readonly param: string | null,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The uploaded files jobs train on: a file's purpose by id (throwing for an unknown id), and its bytes' path. */
export interface TrainingFiles {
  get(id: string): { id: string; purpose: string };
  path(id: string): string;
}

/** What {@linkcode JobRunner.open} needs besides its folder. */
export interface JobRunnerOptions {
  /** Where training and validation files are looked up. */
  files: TrainingFiles;
  /** Trainers by base model id (a fine-tuned version `ft:<base>:…` uses its base's); a job for a model without one fails. */
  trainers: Record<string, Trainer>;
  /** Called with the backend of each newly trained model (the local server serves it). */
  register: (backend: ChatBackend) => void;
}

interface JobState {
  job: FineTuningJob;
  events: FineTuningEvent[];
  abort: AbortController;
  done?: Promise<void>;
  writes: Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;

/**
 * Runs and remembers fine-tuning jobs, persisted under one folder.
 *
 * @example
 * ```ts
 * const jobs = await JobRunner.open("data/serve/jobs", { files, trainers: defaultTrainers(), register: (b) => backends.set(b.id, b) });
 * const job = jobs.create({ model: "lab-mini", training_file: "file-abc" });
 * jobs.get(job.id).status; // "validating_files", then "queued", "running", "succeeded"
 * await jobs.close();
 * ```
 */
export class JobRunner {
  #jobs = new Map<string, JobState>();
  #seq = 0;
  private constructor(readonly dir: string, private options: JobRunnerOptions) {}

  /** Opens the runner on `dir`; jobs left unfinished by an earlier runner are marked failed (their run is lost). */
  static async open(dir: string, options: JobRunnerOptions): Promise<JobRunner> {
    const runner = new JobRunner(dir, options);
    await Deno.mkdir(dir, { recursive: true });
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      const { job, events } = JSON.parse(await Deno.readTextFile(join(dir, e.name))) as { job: FineTuningJob; events: FineTuningEvent[] };
      const state: JobState = { job, events, abort: new AbortController(), writes: Promise.resolve() };
      runner.#jobs.set(job.id, state);
      if (!TERMINAL.includes(job.status)) runner.#finish(state, "failed", { code: "server_restarted", message: `the server restarted while the job was ${job.status}; create a new job`, param: null });
    }
    return runner;
  }

  /** Creates a job and starts it in the background; a missing file, or one not of purpose "fine-tune", is refused. */
  create(request: JobRequest): FineTuningJob {
    const training = this.#fineTuneFile(request.training_file, "training_file");
    if (request.validation_file) this.#fineTuneFile(request.validation_file, "validation_file");
    const hp = request.hyperparameters ?? {};
    const job: FineTuningJob = {
      id: newId("ftjob"),
      object: "fine_tuning.job",
      created_at: now(),
      error: null,
      fine_tuned_model: null,
      finished_at: null,
      hyperparameters: { batch_size: hp.batch_size ?? "auto", learning_rate_multiplier: hp.learning_rate_multiplier ?? "auto", n_epochs: hp.n_epochs ?? "auto" },
      model: request.model,
      organization_id: "org-lab",
      result_files: [],
      seed: request.seed ?? 42,
      status: "validating_files",
      trained_tokens: null,
      training_file: training.id,
      validation_file: request.validation_file ?? null,
      estimated_finish: null,
      integrations: null,
      metadata: request.metadata ?? null,
      user_provided_suffix: request.suffix ?? null,
    };
    const state: JobState = { job, events: [], abort: new AbortController(), writes: Promise.resolve() };
    this.#jobs.set(job.id, state);
    this.#event(state, { level: "info", message: `Validating training file: ${training.id}` });
    state.done = this.#run(state, request);
    return structuredClone(job);
  }

  /** Jobs newest first, paged by `after` (a job id). */
  list(after?: string, limit = 20): { data: FineTuningJob[]; has_more: boolean } {
    let all = [...this.#jobs.values()].map((s) => s.job).sort((a, b) => b.created_at - a.created_at || (b.id < a.id ? -1 : 1));
    if (after) {
      const i = all.findIndex((j) => j.id === after);
      if (i >= 0) all = all.slice(i + 1);
    }
    return { data: all.slice(0, limit).map((j) => structuredClone(j)), has_more: all.length > limit };
  }

  get(id: string): FineTuningJob {
    return structuredClone(this.#state(id).job);
  }

  /** Cancels a job that has not finished; cancelling a finished job is refused (`invalid`). */
  cancel(id: string): FineTuningJob {
    const state = this.#state(id);
    if (TERMINAL.includes(state.job.status)) {
      throw new JobError("invalid", `Job ${id} has already ${state.job.status === "cancelled" ? "been cancelled" : state.job.status}; only a job that has not finished can be cancelled`, "fine_tuning_job_id", "invalid_state");
    }
    this.#finish(state, "cancelled", null);
    state.abort.abort(new Error("cancelled"));
    return structuredClone(state.job);
  }

  /** Events newest first, paged by `after` (an event id). */
  events(id: string, after?: string, limit = 20): { data: FineTuningEvent[]; has_more: boolean } {
    let all = [...this.#state(id).events].reverse();
    if (after) {
      const i = all.findIndex((e) => e.id === after);
      if (i >= 0) all = all.slice(i + 1);
    }
    return { data: all.slice(0, limit), has_more: all.length > limit };
  }

  /** Stops running jobs (marked failed: the server shut down) and waits for pending writes. */
  async close(): Promise<void> {
    for (const s of this.#jobs.values()) {
      if (!TERMINAL.includes(s.job.status)) {
        this.#finish(s, "failed", { code: "server_shutdown", message: "the server shut down while the job was running; create a new job", param: null });
        s.abort.abort(new Error("server shutdown"));
      }
    }
    await Promise.all([...this.#jobs.values()].map(async (s) => {
      await s.done?.catch(() => {});
      await s.writes;
    }));
  }

  #fineTuneFile(id: string, param: string) {
    let f;
    try {
      f = this.options.files.get(id);
    } catch {
      throw new JobError("invalid", `${param} '${id}' does not exist: upload it first with purpose "fine-tune"`, param, "invalid_file");
    }
    if (f.purpose !== "fine-tune") throw new JobError("invalid", `${param} '${id}' has purpose '${f.purpose}', expected 'fine-tune'`, param, "invalid_file");
    return f;
  }

  #state(id: string): JobState {
    const s = this.#jobs.get(id);
    if (!s) throw new JobError("not_found", `Could not find fine-tuning job ${id}`, "fine_tuning_job_id", "fine_tuning_job_not_found");
    return s;
  }

  #event(state: JobState, e: TrainerEvent): void {
    const event: FineTuningEvent = {
      id: `ftevent-${String(++this.#seq).padStart(6, "0")}${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`,
      object: "fine_tuning.job.event",
      created_at: now(),
      level: e.level,
      message: e.message,
      type: e.data ? "metrics" : "message",
      ...(e.data ? { data: { ...e.data } } : {}),
    };
    state.events.push(event);
    this.#persist(state);
  }

  #persist(state: JobState): void {
    const text = JSON.stringify({ job: state.job, events: state.events });
    state.writes = state.writes.then(() => writeTextAtomic(join(this.dir, `${state.job.id}.json`), text)).catch(() => {});
  }

  #setStatus(state: JobState, status: JobStatus, message: string): void {
    state.job.status = status;
    this.#event(state, { level: "info", message });
  }

  #finish(state: JobState, status: "succeeded" | "failed" | "cancelled", error: FineTuningJob["error"]): void {
    state.job.status = status;
    state.job.error = error;
    state.job.finished_at = now();
    this.#event(state, {
      level: status === "failed" ? "error" : "info",
      message: status === "succeeded" ? `The job has successfully completed: ${state.job.fine_tuned_model}` : status === "cancelled" ? "The job was cancelled" : `The job failed: ${error?.message}`,
    });
  }

  async #run(state: JobState, request: JobRequest): Promise<void> {
    const { job } = state;
    const { files, trainers, register } = this.options;
    const live = () => !TERMINAL.includes(job.status);
    await new Promise((r) => setTimeout(r, 0)); // let the caller answer the create request first
    if (!live()) return;
    this.#setStatus(state, "queued", "Files validated, the job is queued");
    const trainer = trainerFor(trainers, job.model);
    if (!trainer) {
      this.#finish(state, "failed", { code: "no_trainer", message: `no trainer for this model: ${job.model}`, param: "model" });
      return;
    }
    await new Promise((r) => setTimeout(r, 0));
    if (!live()) return;
    this.#setStatus(state, "running", `Fine-tuning ${job.model} on ${job.training_file}`);
    try {
      const result = await trainer(job.model, files.path(job.training_file), {
        suffix: request.suffix ?? undefined,
        seed: job.seed,
        hyperparameters: Object.fromEntries(Object.entries(job.hyperparameters).filter(([, v]) => v !== "auto")),
        validationPath: job.validation_file ? files.path(job.validation_file) : undefined,
        signal: state.abort.signal,
        onEvent: (e) => {
          if (live()) this.#event(state, e);
        },
      });
      if (!live()) return;
      if (result.backend) register(result.backend);
      job.fine_tuned_model = result.model;
      job.trained_tokens = (await Deno.stat(files.path(job.training_file))).size >> 2; // rough: ~4 bytes a token
      this.#finish(state, "succeeded", null);
    } catch (e) {
      if (live()) this.#finish(state, "failed", { code: "training_failed", message: `the trainer failed: ${(e as Error).message}`, param: null });
    }
  }
}
