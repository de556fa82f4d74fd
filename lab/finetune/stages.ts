/**
 * Progressive fine-tuning (seed 000): stages run one after the other through a {@linkcode FineTuneClient}, each
 * starting from the previous stage's model — core 5 epochs at 1e-5, extended 3 epochs at 5e-6, comprehensive 1
 * epoch at 1e-6 — and each new model registered as the next version of (base, category), its parent the previous
 * stage's version. Per-category runs with seed 001's thresholds are {@linkcode runCategoryStages}.
 *
 * Resumable: every step's outcome (file uploaded, job created, job finished) is written to the registry before the
 * next, so the same call after a crash or SIGKILL finds its files and jobs again (by the ids it stored, or — for a
 * step that was under way when the process died — by the file name and training file it would have used) and ends
 * in the same registry state as an uninterrupted run. A job lost with its server (`server_restarted`,
 * `server_shutdown`: the lab's server when it stopped during the job) is trained again with a new job; a job that
 * failed on its merits or was cancelled ends the run. An aborted run leaves its provider jobs running.
 * @module
 */
import { STAGE_SCHEDULE, STAGES } from "../datasets/mod.ts";
import { createHash } from "node:crypto";
import { LabError, sleep } from "../util/mod.ts";
import { type FineTuneClient, isLostJob, type RemoteEvent, type RemoteJob } from "./client.ts";
import { categorySlug, type ModelVersion, type Registry, type StageJob } from "./registry.ts";

/** A stage's schedule: how many epochs at which (absolute) learning rate. */
export interface StageSpec {
  name: string;
  epochs: number;
  /** Absolute; sent as a multiplier of 1e-5 to OpenAI-shaped APIs (see `REFERENCE_LR`). */
  learningRate: number;
  batchSize?: number;
}

/**
 * A stage to run: its schedule and its training file (chat JSONL).
 * @internal
 */
export interface Stage extends StageSpec {
  file: string;
  validationFile?: string;
}

/** Seed 000's progressive schedule (the datasets' `STAGE_SCHEDULE`, in order). */
export const SEED_000_STAGES: readonly StageSpec[] = STAGES.map((name) => ({
  name,
  ...STAGE_SCHEDULE[name],
}));

/**
 * Seed 000's stages on the given training files, in order; a stage without a file is left out.
 *
 * @example
 * ```ts
 * const stages = seed000Stages({ core: "data/datasets/core.jsonl", extended: "data/datasets/extended.jsonl" });
 * ```
 */
export function seed000Stages(files: { core?: string; extended?: string; comprehensive?: string }): Stage[] {
  return SEED_000_STAGES.flatMap((s) => {
    const file = files[s.name as keyof typeof files];
    return file ? [{ ...s, file }] : [];
  });
}

/** What a run reports as it goes. */
export type StageProgress =
  | { kind: "resumed"; stage: string; status: StageJob["status"] }
  | { kind: "uploaded"; stage: string; fileId: string }
  | { kind: "created"; stage: string; jobId: string }
  | { kind: "event"; stage: string; jobId: string; event: RemoteEvent }
  | { kind: "finished"; stage: string; jobId: string; status: "succeeded" | "failed" | "cancelled"; version: string | null };

/**
 * Options for {@linkcode runStages}.
 * @internal
 */
export interface RunStagesOptions {
  /** The root base model (`lab-mini`, `gpt-4o-mini-2024-07-18`, …). */
  base: string;
  registry: Registry;
  /** The run's id; the same id resumes the run. @default a hash of the provider, base, category, parent, seed, stages and datasets */
  runId?: string;
  /** @default "all" */
  category?: string;
  /** A registered version the first stage continues from. @default none: the first stage starts from `base` */
  parent?: string;
  /** @default 42 */
  seed?: number;
  /** Prefix of the new models' suffixes (`<suffix>-<stage>`). @default the category, or none for "all" */
  suffix?: string;
  /** Marks the last stage's version `awaiting_promotion` (a person promotes it). @default true */
  ready?: boolean;
  /** How often a running job is polled. @default 1000 */
  pollMs?: number;
  /** Stops following (jobs keep running at the provider; the same call resumes). */
  signal?: AbortSignal;
  onProgress?: (e: StageProgress) => void;
}

/**
 * How a run ended.
 * @internal
 */
export interface StagesResult {
  runId: string;
  category: string;
  /** `succeeded` when every stage registered its version; else how the stage that stopped the run ended. */
  status: "succeeded" | "failed" | "cancelled";
  /** The stage jobs as stored, in order (stages after a failed one are absent). */
  stages: StageJob[];
  /** The versions this run registered, in stage order. */
  versions: ModelVersion[];
  /** The last stage's version, when the run succeeded. */
  final: ModelVersion | null;
}

const sha256 = (d: string | Uint8Array) => createHash("sha256").update(d).digest("hex");
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

/** The sha256 of a dataset file's bytes (the registry's dataset hash). */
export async function datasetHash(path: string): Promise<string> {
  try {
    return sha256(await Deno.readFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new LabError(`training file ${path} does not exist: build it first ('lab dataset build')`);
    throw e;
  }
}

/**
 * Follows a job until it ends, reporting each new event once; returns the finished job. Aborting `signal` stops
 * following (the job goes on at the provider).
 */
export async function followJob(
  client: FineTuneClient,
  jobId: string,
  options: { pollMs?: number; signal?: AbortSignal; onEvent?: (e: RemoteEvent) => void } = {},
): Promise<RemoteJob> {
  const seen = new Set<string>();
  for (;;) {
    options.signal?.throwIfAborted();
    const job = await client.retrieveJob(jobId);
    if (options.onEvent) {
      for (const e of await client.events(jobId)) {
        if (seen.has(e.id)) continue;
        seen.add(e.id);
        options.onEvent(e);
      }
    }
    if (TERMINAL.has(job.status)) return job;
    await sleep(options.pollMs ?? 1000, options.signal);
  }
}

/** A finished job's metrics: the last training and validation loss, steps, tokens and the stage's schedule. */
export function jobMetrics(job: RemoteJob, events: readonly RemoteEvent[], stage: StageSpec): Record<string, unknown> {
  const withData = events.filter((e) => e.data);
  const lastTrain = withData.findLast((e) => typeof e.data!.train_loss === "number")?.data;
  const lastValid = withData.findLast((e) => typeof e.data!.valid_loss === "number")?.data;
  return {
    n_epochs: stage.epochs,
    learning_rate: stage.learningRate,
    ...(stage.batchSize ? { batch_size: stage.batchSize } : {}),
    ...(lastTrain ? { train_loss: lastTrain.train_loss, steps: lastTrain.step } : {}),
    ...(lastValid ? { valid_loss: lastValid.valid_loss } : {}),
    ...(job.trainedTokens !== null ? { trained_tokens: job.trainedTokens } : {}),
  };
}

/** The default id of a run: a hash of what it trains, so the same command resumes the same run. */
export function defaultRunId(provider: string, stages: readonly (StageSpec & { datasetHash: string })[], o: Pick<RunStagesOptions, "base" | "category" | "parent" | "seed">): string {
  const key = JSON.stringify({ provider, base: o.base, category: categorySlug(o.category ?? "all"), parent: o.parent ?? null, seed: o.seed ?? 42, stages: stages.map((s) => [s.name, s.epochs, s.learningRate, s.batchSize ?? null, s.datasetHash]) });
  return `ft-${sha256(key).slice(0, 12)}`;
}

/**
 * Runs `stages` in order through `client`, each continuing from the previous stage's model, and registers each
 * new model in `options.registry` as the next version of (base, category); the last one is marked awaiting
 * promotion. Stops at the first stage whose job fails or is cancelled (recorded as a lifecycle event). Calling it
 * again with the same run resumes it (see the module doc).
 *
 * @example
 * ```ts
 * const registry = await Registry.open("data/registry.duckdb");
 * const r = await runStages(fineTuneClient(server.url), seed000Stages({ core, extended, comprehensive }), { base: "lab-mini", registry });
 * r.final?.name;   // "lab-mini-all-v3", parent "lab-mini-all-v2"
 * ```
 */
export async function runStages(client: FineTuneClient, stages: readonly Stage[], options: RunStagesOptions): Promise<StagesResult> {
  if (!stages.length) throw new RangeError("runStages needs at least one stage");
  const names = new Set(stages.map((s) => s.name));
  if (names.size !== stages.length) throw new RangeError(`stage names must be distinct, found ${stages.map((s) => s.name).join(", ")}`);
  const { registry } = options;
  const category = categorySlug(options.category ?? "all");
  const hashes = await Promise.all(stages.map((s) => datasetHash(s.file)));
  const runId = options.runId ?? defaultRunId(client.provider, stages.map((s, i) => ({ ...s, datasetHash: hashes[i] })), options);
  const suffixBase = options.suffix ?? (category === "all" ? "" : category);
  const progress = options.onProgress ?? (() => {});

  let prev: { version: ModelVersion; jobId: string | null } | undefined;
  if (options.parent) {
    const p = await registry.get(options.parent);
    prev = { version: p, jobId: p.jobId };
  }
  const done: StageJob[] = [];
  const versions: ModelVersion[] = [];
  const end = (status: StagesResult["status"]): StagesResult => ({ runId, category, status, stages: done, versions, final: status === "succeeded" ? versions.at(-1) ?? null : null });

  for (const [i, stage] of stages.entries()) {
    let job = await registry.stageJob(runId, category, stage.name);
    if (job && job.datasetHash !== hashes[i]) {
      throw new LabError(`run ${runId} stage ${stage.name} was started on another dataset (sha256 ${job.datasetHash.slice(0, 12)}) than ${stage.file} is now (${hashes[i].slice(0, 12)}): start a new run (another --run-id)`);
    }
    if (job) progress({ kind: "resumed", stage: stage.name, status: job.status });
    else {
      job = { runId, category, stage: stage.name, idx: i, provider: client.provider, datasetHash: hashes[i], fileId: null, jobId: null, status: "pending", providerModel: null, version: null, error: null };
      await registry.saveStageJob(job);
    }
    if (job.status === "registered") {
      const v = await registry.get(job.version!);
      done.push(job);
      versions.push(v);
      prev = { version: v, jobId: job.jobId };
      continue;
    }
    if (job.status === "failed" || job.status === "cancelled") {
      done.push(job);
      return end(job.status);
    }
    if (!job.fileId) {
      const filename = `${runId}-${category}-${stage.name}.jsonl`;
      const fileId = await client.findFile(filename) ?? await client.upload(stage.file, filename);
      job = { ...job, fileId, status: "uploaded" };
      await registry.saveStageJob(job);
      progress({ kind: "uploaded", stage: stage.name, fileId });
    }
    const create = async (): Promise<StageJob> => {
      const found = await client.findJob(job!.fileId!);
      const remote = found && !isLostJob(found) ? found : await client.createJob({
        model: options.base,
        ...(prev ? { from: { model: prev.version.providerModel, jobId: prev.jobId ?? "" } } : {}),
        trainingFile: job!.fileId!,
        suffix: [suffixBase, stage.name].filter(Boolean).join("-").slice(0, 40),
        seed: options.seed ?? 42,
        epochs: stage.epochs,
        learningRate: stage.learningRate,
        ...(stage.batchSize ? { batchSize: stage.batchSize } : {}),
      });
      const created: StageJob = { ...job!, jobId: remote.id, status: "created" };
      await registry.saveStageJob(created);
      progress({ kind: "created", stage: stage.name, jobId: remote.id });
      return created;
    };
    if (!job.jobId) job = await create();
    let remote: RemoteJob;
    for (let attempt = 0;; attempt++) {
      const id = job.jobId!;
      remote = await followJob(client, id, { pollMs: options.pollMs, signal: options.signal, onEvent: (event) => progress({ kind: "event", stage: stage.name, jobId: id, event }) });
      if (!isLostJob(remote) || attempt >= 2) break;
      job = await create();
    }
    const jobId = job.jobId!;
    if (remote.status === "succeeded") {
      if (!remote.fineTunedModel) throw new Error(`job ${jobId} succeeded without a fine-tuned model id`);
      const metrics = jobMetrics(remote, await client.events(jobId), stage);
      const r = await registry.finishStageJob(job, {
        version: {
          base: options.base,
          category,
          provider: client.provider,
          providerModel: remote.fineTunedModel,
          trainedFrom: prev?.version.providerModel ?? options.base,
          datasetHash: hashes[i],
          jobId,
          stage: stage.name,
          parent: prev?.version.name ?? null,
          metrics,
        },
        ready: i === stages.length - 1 && (options.ready ?? true),
      });
      done.push(r.job);
      versions.push(r.version!);
      prev = { version: r.version!, jobId };
      progress({ kind: "finished", stage: stage.name, jobId, status: "succeeded", version: r.version!.name });
    } else {
      const status = remote.status as "failed" | "cancelled";
      const r = await registry.finishStageJob(job, { failed: status, error: remote.error });
      done.push(r.job);
      progress({ kind: "finished", stage: stage.name, jobId, status, version: null });
      return end(status);
    }
  }
  return end("succeeded");
}

/** What a category's data must reach before it is fine-tuned (seed 001). */
export interface CategoryThresholds {
  /** @default 0 */
  minExamples?: number;
  /** @default 0 */
  minGold?: number;
  /** @default 0 */
  minAvgQuality?: number;
}

/** Seed 001's thresholds: 500 gold examples, 2,000 in all, average quality 0.85 (scale them down for demos). */
export const SEED_001_THRESHOLDS: Required<CategoryThresholds> = { minExamples: 2000, minGold: 500, minAvgQuality: 0.85 };

/** One category's stages and the counts its thresholds are checked on (from its dataset's manifest). */
export interface CategoryStages {
  category: string;
  stages: Stage[];
  stats: { examples: number; gold: number; avgQuality: number };
}

/** How one category's run went: skipped (why), or its result. */
export type CategoryOutcome = { category: string; skipped: string } | { category: string; result: StagesResult };

/**
 * Per-category jobs (seed 001): each category whose data reaches `thresholds` runs its stages as its own line of
 * versions (`lab-{base}-{category}-v{n}`); the others are skipped with the reason. Categories run one at a time.
 *
 * @example
 * ```ts
 * const out = await runCategoryStages(client, [{ category: "receivables", stages, stats: { examples: 2400, gold: 610, avgQuality: 0.88 } }],
 *   { base: "lab-mini", registry, thresholds: SEED_001_THRESHOLDS });
 * ```
 */
export async function runCategoryStages(
  client: FineTuneClient,
  categories: readonly CategoryStages[],
  options: Omit<RunStagesOptions, "category" | "runId"> & { thresholds?: CategoryThresholds },
): Promise<CategoryOutcome[]> {
  const t = { minExamples: 0, minGold: 0, minAvgQuality: 0, ...options.thresholds };
  const out: CategoryOutcome[] = [];
  for (const c of categories) {
    const short = [
      c.stats.examples < t.minExamples ? `${c.stats.examples} examples < ${t.minExamples}` : "",
      c.stats.gold < t.minGold ? `${c.stats.gold} gold < ${t.minGold}` : "",
      c.stats.avgQuality < t.minAvgQuality ? `average quality ${c.stats.avgQuality.toFixed(2)} < ${t.minAvgQuality}` : "",
    ].filter(Boolean);
    if (short.length) out.push({ category: c.category, skipped: short.join("; ") });
    else out.push({ category: c.category, result: await runStages(client, c.stages, { ...options, category: c.category }) });
  }
  return out;
}
