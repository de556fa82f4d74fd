/**
 * Fine-tuning jobs behind `/v1/fine_tuning/jobs`: created from an uploaded training file, run in the
 * background by the {@linkcode Trainer} registered for the base model, persisted (job + events) under
 * `<dataDir>/jobs/`. Statuses: validating_files → queued → running → succeeded | failed | cancelled.
 * Without a trainer for the base model a job fails with "no trainer for this model: <model>".
 */
import { join } from "node:path";
import { z } from "zod";
import type { ChatBackend, Trainer, TrainerEvent } from "../models/mod.ts";
import { writeTextAtomic } from "../util/mod.ts";
import { HttpError } from "./_http.ts";
import type { FileStore } from "./_files.ts";

const Hyper = z.union([z.literal("auto"), z.number().positive()]);

export const JobBody = z.looseObject({
  model: z.string().min(1),
  training_file: z.string().min(1),
  validation_file: z.string().nullish(),
  suffix: z.string().max(64).nullish(),
  seed: z.number().int().nullish(),
  hyperparameters: z.looseObject({ batch_size: Hyper.optional(), learning_rate_multiplier: Hyper.optional(), n_epochs: Hyper.optional() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});
export type JobBody = z.infer<typeof JobBody>;

type Status = "validating_files" | "queued" | "running" | "succeeded" | "failed" | "cancelled";
const TERMINAL: Status[] = ["succeeded", "failed", "cancelled"];

/** OpenAI's fine-tuning job object. */
export interface JobObject {
  id: string;
  object: "fine_tuning.job";
  created_at: number;
  error: { code: string; message: string; param: string | null } | null;
  fine_tuned_model: string | null;
  finished_at: number | null;
  hyperparameters: { batch_size: "auto" | number; learning_rate_multiplier: "auto" | number; n_epochs: "auto" | number };
  model: string;
  organization_id: string;
  result_files: string[];
  seed: number;
  status: Status;
  trained_tokens: number | null;
  training_file: string;
  validation_file: string | null;
  estimated_finish: null;
  integrations: null;
  metadata: Record<string, string> | null;
  user_provided_suffix: string | null;
}

/** OpenAI's fine-tuning event object. */
export interface EventObject {
  id: string;
  object: "fine_tuning.job.event";
  created_at: number;
  level: "info" | "warn" | "error";
  message: string;
  type: "message" | "metrics";
  data?: Record<string, unknown>;
}

interface JobState {
  job: JobObject;
  events: EventObject[];
  abort: AbortController;
  done?: Promise<void>;
  writes: Promise<void>;
}

const now = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;

/** Runs and remembers fine-tuning jobs. */
export class JobRunner {
  #jobs = new Map<string, JobState>();
  #seq = 0;
  private constructor(
    readonly dir: string,
    private files: FileStore,
    private trainers: Record<string, Trainer>,
    private register: (backend: ChatBackend) => void,
  ) {}

  /** Opens the runner; jobs left unfinished by an earlier server are marked failed (their run is lost). */
  static async open(dir: string, files: FileStore, trainers: Record<string, Trainer>, register: (b: ChatBackend) => void): Promise<JobRunner> {
    const runner = new JobRunner(dir, files, trainers, register);
    await Deno.mkdir(dir, { recursive: true });
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      const { job, events } = JSON.parse(await Deno.readTextFile(join(dir, e.name))) as { job: JobObject; events: EventObject[] };
      const state: JobState = { job, events, abort: new AbortController(), writes: Promise.resolve() };
      runner.#jobs.set(job.id, state);
      if (!TERMINAL.includes(job.status)) runner.#finish(state, "failed", { code: "server_restarted", message: `the server restarted while the job was ${job.status}; create a new job`, param: null });
    }
    return runner;
  }

  create(body: JobBody): JobObject {
    const training = this.#fineTuneFile(body.training_file, "training_file");
    if (body.validation_file) this.#fineTuneFile(body.validation_file, "validation_file");
    const hp = body.hyperparameters ?? {};
    const job: JobObject = {
      id: newId("ftjob"),
      object: "fine_tuning.job",
      created_at: now(),
      error: null,
      fine_tuned_model: null,
      finished_at: null,
      hyperparameters: { batch_size: hp.batch_size ?? "auto", learning_rate_multiplier: hp.learning_rate_multiplier ?? "auto", n_epochs: hp.n_epochs ?? "auto" },
      model: body.model,
      organization_id: "org-lab",
      result_files: [],
      seed: body.seed ?? 42,
      status: "validating_files",
      trained_tokens: null,
      training_file: training.id,
      validation_file: body.validation_file ?? null,
      estimated_finish: null,
      integrations: null,
      metadata: body.metadata ?? null,
      user_provided_suffix: body.suffix ?? null,
    };
    const state: JobState = { job, events: [], abort: new AbortController(), writes: Promise.resolve() };
    this.#jobs.set(job.id, state);
    this.#event(state, { level: "info", message: `Validating training file: ${training.id}` });
    state.done = this.#run(state, body);
    return structuredClone(job);
  }

  list(after?: string, limit = 20): { data: JobObject[]; has_more: boolean } {
    let all = [...this.#jobs.values()].map((s) => s.job).sort((a, b) => b.created_at - a.created_at || (b.id < a.id ? -1 : 1));
    if (after) {
      const i = all.findIndex((j) => j.id === after);
      if (i >= 0) all = all.slice(i + 1);
    }
    return { data: all.slice(0, limit).map((j) => structuredClone(j)), has_more: all.length > limit };
  }

  get(id: string): JobObject {
    return structuredClone(this.#state(id).job);
  }

  /** Cancels a job that has not finished; a finished job is a 400. */
  cancel(id: string): JobObject {
    const state = this.#state(id);
    if (TERMINAL.includes(state.job.status)) {
      throw new HttpError(400, `Job ${id} has already ${state.job.status === "cancelled" ? "been cancelled" : state.job.status}; only a job that has not finished can be cancelled`, "invalid_request_error", "fine_tuning_job_id", "invalid_state");
    }
    this.#finish(state, "cancelled", null);
    state.abort.abort(new Error("cancelled"));
    return structuredClone(state.job);
  }

  /** Events newest first, paged by `after` (an event id). */
  events(id: string, after?: string, limit = 20): { data: EventObject[]; has_more: boolean } {
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
      f = this.files.get(id);
    } catch {
      throw new HttpError(400, `${param} '${id}' does not exist: upload it first with purpose "fine-tune"`, "invalid_request_error", param, "invalid_file");
    }
    if (f.purpose !== "fine-tune") throw new HttpError(400, `${param} '${id}' has purpose '${f.purpose}', expected 'fine-tune'`, "invalid_request_error", param, "invalid_file");
    return f;
  }

  #state(id: string): JobState {
    const s = this.#jobs.get(id);
    if (!s) throw new HttpError(404, `Could not find fine-tuning job ${id}`, "invalid_request_error", "fine_tuning_job_id", "fine_tuning_job_not_found");
    return s;
  }

  #event(state: JobState, e: TrainerEvent): void {
    const event: EventObject = {
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

  #setStatus(state: JobState, status: Status, message: string): void {
    state.job.status = status;
    this.#event(state, { level: "info", message });
  }

  #finish(state: JobState, status: "succeeded" | "failed" | "cancelled", error: JobObject["error"]): void {
    state.job.status = status;
    state.job.error = error;
    state.job.finished_at = now();
    this.#event(state, {
      level: status === "failed" ? "error" : "info",
      message: status === "succeeded" ? `The job has successfully completed: ${state.job.fine_tuned_model}` : status === "cancelled" ? "The job was cancelled" : `The job failed: ${error?.message}`,
    });
  }

  async #run(state: JobState, body: JobBody): Promise<void> {
    const { job } = state;
    const live = () => !TERMINAL.includes(job.status);
    await new Promise((r) => setTimeout(r, 0)); // answer the create request first
    if (!live()) return;
    this.#setStatus(state, "queued", "Files validated, the job is queued");
    const trainer = this.trainers[job.model];
    if (!trainer) {
      this.#finish(state, "failed", { code: "no_trainer", message: `no trainer for this model: ${job.model}`, param: "model" });
      return;
    }
    await new Promise((r) => setTimeout(r, 0));
    if (!live()) return;
    this.#setStatus(state, "running", `Fine-tuning ${job.model} on ${job.training_file}`);
    try {
      const result = await trainer(job.model, this.files.path(job.training_file), {
        suffix: body.suffix ?? undefined,
        seed: job.seed,
        hyperparameters: Object.fromEntries(Object.entries(job.hyperparameters).filter(([, v]) => v !== "auto")),
        validationPath: job.validation_file ? this.files.path(job.validation_file) : undefined,
        signal: state.abort.signal,
        onEvent: (e) => {
          if (live()) this.#event(state, e);
        },
      });
      if (!live()) return;
      if (result.backend) this.register(result.backend);
      job.fine_tuned_model = result.model;
      job.trained_tokens = (await Deno.stat(this.files.path(job.training_file))).size >> 2; // rough: ~4 bytes a token
      this.#finish(state, "succeeded", null);
    } catch (e) {
      if (live()) this.#finish(state, "failed", { code: "training_failed", message: `the trainer failed: ${(e as Error).message}`, param: null });
    }
  }
}
