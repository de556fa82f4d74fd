/**
 * Progressive fine-tuning end to end against the lab's server, on the toy fleet schema (lab-mini's trainer):
 * seed 000's three stages, each continuing from the previous stage's model, registered with their parents; a failed
 * and a cancelled job; an orchestrator killed with SIGKILL and resumed, ending in the same registry state as an
 * uninterrupted run; a restarted server serving the registered versions again; and the `lab finetune` commands.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import type { DuckDBInstance } from "@duckdb/node-api";
import { join } from "node:path";
import { fineTunedLoader, labMiniBackend, type LabMiniModel, labMiniTrainer, readTuned, type Trainer } from "../models/mod.ts";
import { chatLine, familyTasks, SQL_TOOLS, sqlAccuracy, tempFleet, UNUSABLE_CHAT_LINES } from "../models/testing.ts";
import { fineTuneClient, Registry, runCategoryStages, runStages, seed000Stages } from "../finetune/mod.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { runChild } from "../util/testing.ts";
import { lab } from "./testing.ts";

const CHILD = new URL("../finetune/_stages_child.ts", import.meta.url).pathname;
let dir: string;
let model: LabMiniModel;
let db: DuckDBInstance;
let close: (() => Promise<void>) | undefined;
const files = { core: "", extended: "", comprehensive: "", bad: "" };
const held = familyTasks(77, 8);
const CORE_FAMILIES = ["multi", "joinsum", "joincount"];

/** A trainer that waits (until cancelled) before it would train: a job that is surely still running when cancelled. */
const waiting: Trainer = (_base, _path, { signal }) => new Promise((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)));

/** The lab's server with lab-mini's trainer on the fleet model, its files, jobs and new weights under `dir/<name>`. */
async function serve(name: string, registry?: string): Promise<LocalServer> {
  const outDir = join(dir, name, "ft");
  return await startServer({
    backends: { "lab-mini": labMiniBackend(model) },
    trainers: { "lab-mini": labMiniTrainer(model, { outDir }), "lab-mini-waiting": waiting },
    dataDir: join(dir, name, "serve"),
    loadModel: fineTunedLoader(outDir),
    registry,
  });
}

beforeAll(async () => {
  ({ dir, model, db, close } = await tempFleet("lab-ft-stages-"));
  const lines = (tasks: { task: string; sql: string }[]) => tasks.map((t, i) => chatLine(t, i)).join("\n");
  const train = familyTasks(21, 30);
  // seed 000's stages grow: core has three families, extended all five, comprehensive more of each
  files.core = join(dir, "core.jsonl");
  await Deno.writeTextFile(files.core, lines(train.filter((t) => CORE_FAMILIES.includes(t.family))));
  files.extended = join(dir, "extended.jsonl");
  await Deno.writeTextFile(files.extended, lines(train));
  files.comprehensive = join(dir, "comprehensive.jsonl");
  await Deno.writeTextFile(files.comprehensive, lines([...train, ...familyTasks(33, 20)]));
  // accepted at upload (valid chat lines), but nothing the trainer can learn from: its job fails
  files.bad = join(dir, "bad.jsonl");
  await Deno.writeTextFile(files.bad, UNUSABLE_CHAT_LINES.join("\n"));
}, 60_000);
afterAll(() => close?.());

/** A registry's state without what differs between two runs of the same work: times, sequence numbers, job and file ids. */
async function registryState(path: string) {
  const r = await Registry.open(path);
  const anonymous = (s: string) => s.replace(/ftjob-[0-9a-f]+/g, "ftjob-*");
  return {
    versions: (await r.list()).map(({ createdAt: _c, updatedAt: _u, jobId: _j, ...v }) => v),
    events: (await r.events()).map((e) => ({ type: e.type, version: e.version, data: e.data })),
    audit: (await r.audit()).map((a) => ({ version: a.version, from: a.from, to: a.to, reason: anonymous(a.reason) })),
    stages: (await r.stageJobs()).map(({ fileId: _f, jobId: _j, ...s }) => s),
  };
}

describe("progressive fine-tuning against the lab's server", () => {
  it("runs seed 000's stages, each from the previous stage's model; a restarted server serves the registered versions", async () => {
    const registryPath = join(dir, "stages.duckdb");
    const registry = await Registry.open(registryPath);
    let server = await serve("stages");
    const client = fineTuneClient(server.url);
    const stages = seed000Stages(files);
    const r = await runStages(client, stages, { base: "lab-mini", registry, pollMs: 20 });
    expect(r.status).toBe("succeeded");
    const [v1, v2, v3] = r.versions;
    expect(r.versions.map((v) => [v.name, v.stage, v.parent, v.status])).toEqual([
      ["lab-mini-all-v1", "core", null, "candidate"],
      ["lab-mini-all-v2", "extended", "lab-mini-all-v1", "candidate"],
      ["lab-mini-all-v3", "comprehensive", "lab-mini-all-v2", "awaiting_promotion"],
    ]);
    // each stage's parent hash is the previous stage's model hash, in the registry and in the weights files
    expect([v2.parentHash, v3.parentHash]).toEqual([v1.modelHash, v2.modelHash]);
    expect([v1.trainedFrom, v2.trainedFrom, v3.trainedFrom]).toEqual(["lab-mini", v1.providerModel, v2.providerModel]);
    const outDir = join(dir, "stages", "ft");
    const [m1, m2, m3] = await Promise.all(r.versions.map((v) => readTuned(outDir, v.providerModel)));
    expect(m1.parent).toBeUndefined();
    expect(m2.parent).toEqual({ id: v1.providerModel, hash: m1.hash });
    expect(m3.parent).toEqual({ id: v2.providerModel, hash: m2.hash });
    // the schedule reached lab-mini: epochs as given, learning rates × 10⁴ (multiplier lr / 1e-5 × step 0.1)
    expect([m1, m2, m3].map((m) => m.recipe.epochs)).toEqual([5, 3, 1]);
    expect(m1.recipe.lr).toBeCloseTo(0.1, 12);
    expect(m2.recipe.lr).toBeCloseTo(0.05, 12);
    expect(m3.recipe.lr).toBeCloseTo(0.01, 12);
    expect(r.versions.map((v) => v.metrics)).toEqual(stages.map((s) => expect.objectContaining({ n_epochs: s.epochs, learning_rate: s.learningRate, train_loss: expect.any(Number), trained_tokens: expect.any(Number) })));
    // stage 1 learned its three families; stage 2 kept them and added the other two
    const stage1 = await sqlAccuracy((await fineTunedLoader(outDir)(v1.providerModel))!, held.filter((t) => !CORE_FAMILIES.includes(t.family)), db);
    const final = await sqlAccuracy((await fineTunedLoader(outDir)(v3.providerModel))!, held, db);
    expect(stage1).toBeLessThan(0.2);
    expect(final).toBeGreaterThanOrEqual(0.6);
    expect((await registry.events()).map((e) => e.type)).toEqual(["fine_tuning.completed", "fine_tuning.completed", "fine_tuning.completed", "fine_tuning.ready_for_promotion"]);

    // the same call again finds its jobs: nothing new is created
    const again = await runStages(client, stages, { base: "lab-mini", registry, pollMs: 20 });
    expect(again.versions.map((v) => v.name)).toEqual(r.versions.map((v) => v.name));
    const openai = new OpenAI({ baseURL: server.url, apiKey: "local" });
    const jobs = (await openai.fineTuning.jobs.list()).data;
    expect(jobs.map((j) => j.model).sort()).toEqual(["lab-mini", v1.providerModel, v2.providerModel].sort());

    // a restarted server (fresh data folder: no jobs) serves the registry's versions, by provider id and by name
    await server.close();
    server = await startServer({ backends: { "lab-mini": labMiniBackend(model) }, dataDir: join(dir, "restarted"), loadModel: fineTunedLoader(outDir), registry: registryPath });
    try {
      const c = new OpenAI({ baseURL: server.url, apiKey: "local" });
      const ids = (await c.models.list()).data.map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining(["lab-mini", ...r.versions.flatMap((v) => [v.providerModel, v.name])]));
      const t = held.find((h) => h.family === "multi")!;
      for (const id of ["lab-mini-all-v3", v3.providerModel]) {
        const answer = await c.chat.completions.create({ model: id, messages: [{ role: "user", content: t.task }], tools: SQL_TOOLS, seed: 1 });
        const call = answer.choices[0].message.tool_calls?.[0];
        expect(call?.type === "function" && JSON.parse(call.function.arguments).sql).toBe(t.sql);
      }
    } finally {
      await server.close();
    }
    // the server that ran the jobs, reopened on its own data folder, serves its jobs' models again
    server = await serve("stages");
    try {
      const ids = (await new OpenAI({ baseURL: server.url, apiKey: "local" }).models.list()).data.map((m) => m.id);
      expect(ids).toEqual(expect.arrayContaining(r.versions.map((v) => v.providerModel)));
    } finally {
      await server.close();
    }
  }, 60_000);

  it("records a failed and a cancelled job as events, stops the run there and registers nothing for them", async () => {
    await using server = await serve("failing");
    const client = fineTuneClient(server.url);
    const registry = await Registry.open(join(dir, "failing.duckdb"));
    const failed = await runStages(client, seed000Stages({ core: files.core, extended: files.bad, comprehensive: files.comprehensive }), { base: "lab-mini", registry, pollMs: 20 });
    expect(failed).toMatchObject({ status: "failed", final: null });
    expect(failed.versions.map((v) => v.name)).toEqual(["lab-mini-all-v1"]);
    expect(failed.stages.map((s) => [s.stage, s.status])).toEqual([["core", "registered"], ["extended", "failed"]]);
    expect(failed.stages[1].error).toMatch(/^the trainer failed: no usable example in the training file \(2 lines: /);

    const cancelled = await runStages(client, seed000Stages({ core: files.core }), {
      base: "lab-mini-waiting",
      registry,
      pollMs: 20,
      onProgress: (e) => {
        if (e.kind === "created") void client.cancelJob(e.jobId);
      },
    });
    expect(cancelled).toMatchObject({ status: "cancelled", versions: [], final: null });
    expect((await client.retrieveJob(cancelled.stages[0].jobId!)).status).toBe("cancelled");
    expect((await registry.events()).map((e) => [e.type, e.version, e.data.stage ?? null, e.jobId])).toEqual([
      ["fine_tuning.completed", "lab-mini-all-v1", "core", failed.stages[0].jobId],
      ["fine_tuning.failed", null, "extended", failed.stages[1].jobId],
      ["fine_tuning.cancelled", null, "core", cancelled.stages[0].jobId],
    ]);
    expect((await registry.list()).map((v) => v.name)).toEqual(["lab-mini-all-v1"]);
    // a failed run stays failed when called again: a new attempt is a new run
    expect((await runStages(client, seed000Stages({ core: files.core, extended: files.bad, comprehensive: files.comprehensive }), { base: "lab-mini", registry, pollMs: 20 })).status).toBe("failed");
  }, 60_000);

  it("runs per-category jobs for the categories whose data reach the thresholds, each its own line of versions", async () => {
    await using server = await serve("categories");
    const registry = await Registry.open(join(dir, "categories.duckdb"));
    const stages = seed000Stages({ core: files.core });
    const out = await runCategoryStages(fineTuneClient(server.url), [
      { category: "receivables", stages, stats: { examples: 90, gold: 60, avgQuality: 0.93 } },
      { category: "payables", stages, stats: { examples: 90, gold: 12, avgQuality: 0.95 } },
      { category: "reports", stages, stats: { examples: 40, gold: 30, avgQuality: 0.7 } },
    ], { base: "lab-mini", registry, pollMs: 20, thresholds: { minExamples: 50, minGold: 20, minAvgQuality: 0.85 } });
    expect(out.map((o) => "skipped" in o ? [o.category, o.skipped] : [o.category, o.result.status, o.result.final?.name])).toEqual([
      ["receivables", "succeeded", "lab-mini-receivables-v1"],
      ["payables", "12 gold < 20"],
      ["reports", "40 examples < 50; average quality 0.70 < 0.85"],
    ]);
    expect((await registry.list()).map((v) => [v.name, v.category, v.stage, v.status])).toEqual([["lab-mini-receivables-v1", "receivables", "core", "awaiting_promotion"]]);
  }, 60_000);

  it("resumes an orchestrator killed with SIGKILL to the registry state of an uninterrupted run, without duplicate jobs", async () => {
    await using refServer = await serve("reference");
    await using killServer = await serve("killed");
    const child = (url: string, registry: string, killAt?: RegExp, delayMs = 0) =>
      runChild(CHILD, [url, registry, files.core, files.extended, files.comprehensive], {
        killAt: (line) => !!killAt?.test(line),
        delayMs,
      });
    const refRegistry = join(dir, "reference.duckdb"), killRegistry = join(dir, "killed.duckdb");
    const ref = await child(refServer.url, refRegistry);
    expect(ref.stdout, ref.stderr).toMatch(/^done succeeded lab-mini-all-v3$/m);
    // killed while stage 1's job trains, while stage 2 is being created, and right after stage 2 registered
    const kills = [[/^created core /, 0], [/^uploaded extended$/, 5], [/^finished extended /, 0]] as const;
    for (const [at, delay] of kills) {
      const k = await child(killServer.url, killRegistry, at, delay);
      expect(k.killed, `kill at ${at}: ${k.stdout}${k.stderr}`).toBe(true);
    }
    const last = await child(killServer.url, killRegistry);
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toMatch(/^resumed core registered$/m);
    expect(last.stdout).toMatch(/^done succeeded lab-mini-all-v3$/m);
    expect(await registryState(killRegistry)).toEqual(await registryState(refRegistry));
    const openai = new OpenAI({ baseURL: killServer.url, apiKey: "local" });
    expect((await openai.fineTuning.jobs.list()).data).toHaveLength(3);
    expect((await openai.files.list()).data).toHaveLength(3);
  }, 60_000);
});

describe("lab finetune", () => {
  it("runs stages, lists, promotes, rolls back and shows the status, with one-line errors and non-zero exits on bad input", async () => {
    await using server = await serve("cli");
    const registry = join(dir, "cli.duckdb");
    const run = await lab("finetune", "run", "--base-url", server.url, "--core", files.core, "--extended", files.extended, "--registry", registry, "--poll-ms", "20", "--json");
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ status: "succeeded", final: { name: "lab-mini-all-v2", status: "awaiting_promotion" } });

    const list = await lab("finetune", "list", "--registry", registry, "--json");
    expect(JSON.parse(list.out).map((v: { name: string; status: string }) => [v.name, v.status])).toEqual([["lab-mini-all-v2", "awaiting_promotion"], ["lab-mini-all-v1", "candidate"]]);
    expect((await lab("finetune", "promote", "lab-mini-all-v1", "--registry", registry, "--reason", "first")).code).toBe(0);
    const promote = await lab("finetune", "promote", "lab-mini-all-v2", "--registry", registry);
    expect(promote.out).toBe("promoted lab-mini-all-v2 (lab-mini/all); retired lab-mini-all-v1");
    const rollback = await lab("finetune", "rollback", "lab-mini-all-v2", "--registry", registry, "--reason", "regression");
    expect(rollback.out).toBe("rolled back lab-mini-all-v2; lab-mini-all-v1 is promoted again");
    const table = await lab("finetune", "list", "--registry", registry, "--status", "promoted");
    expect(table.out).toMatch(/^lab-mini-all-v1\s+promoted\s+core\s+-\s+ft:lab-mini:core:[0-9a-f]{12}/m);
    const status = await lab("finetune", "status", "--registry", registry);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/core\s+registered\s+ftjob-\w+\s+lab-mini-all-v1/);

    for (const cmd of ["run", "status", "promote", "rollback", "list"]) expect((await lab("finetune", cmd, "--help")).code).toBe(0);
    const bad = [
      [["finetune", "run", "--registry", registry], 2, /^lab finetune run: give at least one stage's training file \(--core, --extended, --comprehensive\)/],
      [["finetune", "promote", "--registry", registry], 2, /^lab finetune promote: give the version to promote/],
      [["finetune", "promote", "lab-mini-all-v9", "--registry", registry], 1, /^lab finetune promote: no version 'lab-mini-all-v9' in the registry/],
      [["finetune", "rollback", "lab-mini-all-v2", "--registry", registry], 1, /^lab finetune rollback: lab-mini-all-v2 is rolled_back, not promoted/],
      [["finetune", "list", "--status", "best", "--registry", registry], 2, /^lab finetune list: --status must be one of candidate, shadow/],
      [["finetune", "list", "--registry", join(dir, "none.duckdb")], 1, /^lab finetune list: no model registry at .*none\.duckdb: 'lab finetune run' creates it$/],
      [["finetune", "run", "--core", join(dir, "missing.jsonl"), "--base-url", server.url, "--registry", registry], 1, /^lab finetune run: training file .*missing\.jsonl does not exist/],
    ] as const;
    for (const [argv, code, message] of bad) {
      const r = await lab(...argv);
      expect([r.code, r.err.split("\n").length], r.err).toEqual([code, 1]);
      expect(r.err).toMatch(message);
    }
  }, 60_000);
});
