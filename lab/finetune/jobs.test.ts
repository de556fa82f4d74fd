/** The fine-tuning job lifecycle with a fake trainer and fake files: no server, no model. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { type ChatBackend, placeholderBackend, type Trainer } from "../models/mod.ts";
import { type FineTuningJob, JobError, JobRunner, type TrainingFiles } from "./mod.ts";

let dir: string;
let files: TrainingFiles;
beforeEach(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-finetune-" });
  await Deno.writeTextFile(join(dir, "train.data"), '{"messages":[]}\n');
  const purposes: Record<string, string> = { "file-train": "fine-tune", "file-batch": "batch" };
  files = {
    get: (id) => {
      if (!purposes[id]) throw new Error(`no file ${id}`);
      return { id, purpose: purposes[id] };
    },
    path: () => join(dir, "train.data"),
  };
});
afterEach(() => Deno.remove(dir, { recursive: true }));

const fake: Trainer = (base, _path, { suffix, onEvent }) => {
  for (let step = 1; step <= 3; step++) onEvent({ level: "info", message: `step ${step}`, data: { step, train_loss: 1 / step } });
  const id = `ft:${base}:${suffix ?? "lab"}`;
  return Promise.resolve({ model: id, backend: placeholderBackend({ id }) });
};

async function settle(jobs: JobRunner, id: string): Promise<FineTuningJob> {
  let job = jobs.get(id);
  for (let i = 0; i < 100 && !["succeeded", "failed", "cancelled"].includes(job.status); i++) {
    await new Promise((r) => setTimeout(r, 5));
    job = jobs.get(id);
  }
  return job;
}

describe("JobRunner", () => {
  it("runs a job with the base model's trainer, records its events and hands over the new model's backend", async () => {
    const registered: ChatBackend[] = [];
    const jobs = await JobRunner.open(join(dir, "jobs"), { files, trainers: { base: fake }, register: (b) => registered.push(b) });
    const created = jobs.create({ model: "base", training_file: "file-train", suffix: "sql", hyperparameters: { n_epochs: 2 } });
    expect(created).toMatchObject({ object: "fine_tuning.job", status: "validating_files", hyperparameters: { n_epochs: 2, batch_size: "auto" } });
    const job = await settle(jobs, created.id);
    expect(job).toMatchObject({ status: "succeeded", fine_tuned_model: "ft:base:sql", error: null });
    expect(registered.map((b) => b.id)).toEqual(["ft:base:sql"]);
    const events = jobs.events(job.id, undefined, 100).data.reverse();
    expect(events.filter((e) => e.type === "metrics").map((e) => e.data?.step)).toEqual([1, 2, 3]);
    expect(events.at(-1)?.message).toBe("The job has successfully completed: ft:base:sql");
    expect(jobs.list().data.map((j) => j.id)).toEqual([job.id]);
    // a fine-tuned version trains on its base's trainer, which is handed the version to continue from
    const again = await settle(jobs, jobs.create({ model: "ft:base:sql", training_file: "file-train", suffix: "more" }).id);
    expect(again).toMatchObject({ status: "succeeded", model: "ft:base:sql", fine_tuned_model: "ft:ft:base:sql:more" });
    await jobs.close();
  });

  it("fails a job for a model without a trainer, and refuses unknown files, unknown jobs and cancelling a finished job", async () => {
    const jobs = await JobRunner.open(join(dir, "jobs"), { files, trainers: {}, register: () => {} });
    const job = await settle(jobs, jobs.create({ model: "other", training_file: "file-train" }).id);
    expect(job).toMatchObject({ status: "failed", error: { code: "no_trainer", message: "no trainer for this model: other", param: "model" } });
    expect(() => jobs.create({ model: "other", training_file: "file-nope" })).toThrow(
      expect.objectContaining({ reason: "invalid", param: "training_file", code: "invalid_file" }),
    );
    expect(() => jobs.create({ model: "other", training_file: "file-batch" })).toThrow(/has purpose 'batch', expected 'fine-tune'/);
    expect(() => jobs.cancel(job.id)).toThrow(expect.objectContaining({ reason: "invalid", code: "invalid_state" }));
    const unknown = (() => {
      try {
        jobs.get("ftjob-nope");
      } catch (e) {
        return e;
      }
    })();
    expect(unknown).toBeInstanceOf(JobError);
    expect(unknown).toMatchObject({ reason: "not_found", param: "fine_tuning_job_id", code: "fine_tuning_job_not_found" });
    await jobs.close();
  });

  it("cancels a running job; closing the runner fails the jobs still running, and a reopened runner keeps both", async () => {
    const slow: Trainer = (_base, _path, { signal }) => new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));
    const jobs = await JobRunner.open(join(dir, "jobs"), { files, trainers: { base: slow }, register: () => {} });
    const a = jobs.create({ model: "base", training_file: "file-train" });
    for (let i = 0; i < 100 && jobs.get(a.id).status !== "running"; i++) await new Promise((r) => setTimeout(r, 5));
    expect(jobs.cancel(a.id)).toMatchObject({ status: "cancelled" });
    const b = jobs.create({ model: "base", training_file: "file-train" });
    await jobs.close();
    expect(jobs.get(b.id)).toMatchObject({ status: "failed", error: { code: "server_shutdown" } });
    const again = await JobRunner.open(join(dir, "jobs"), { files, trainers: {}, register: () => {} });
    expect(again.get(a.id).status).toBe("cancelled");
    expect(again.get(b.id)).toMatchObject({ status: "failed", error: { code: "server_shutdown" } });
    await again.close();
  });
});
