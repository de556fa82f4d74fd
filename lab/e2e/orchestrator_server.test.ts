/**
 * The fine-tuning orchestrator against the lab's server with a fake trainer (instant, deterministic model ids):
 * thresholds, states and transitions, autoFineTune / autoPromote / autoRollback, a person's promotion, idempotent
 * calls, a SIGKILLed call resumed to the state of an uninterrupted one, its config and `lab finetune orchestrate`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { defaultBackends, defaultTrainers, fineTunedLoader, placeholderBackend, type Trainer } from "../models/mod.ts";
import { ORACLE_DISTILL_DATASET } from "../evals/mod.ts";
import {
  CycleStore,
  datasetFolderCollector,
  type Evaluate,
  finetuneConfig,
  fineTuneClient,
  formatLift,
  loadFinetuneConfig,
  orchestrateOnce,
  type OrchestratorConfig,
  Registry,
} from "../finetune/mod.ts";
import { MANIFEST_SCHEMA } from "../datasets/mod.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { runChild } from "../util/testing.ts";
import { lab } from "./testing.ts";

const CHILD = new URL("../finetune/_orchestrator_child.ts", import.meta.url).pathname;
let dir: string;
let server: LocalServer;

/** Trains nothing: a model id from the file's bytes and the job's settings, after a short wait. */
const fake: Trainer = async (base, path, { suffix, hyperparameters, onEvent }) => {
  await new Promise((r) => setTimeout(r, 20));
  onEvent({ level: "info", message: "step 1", data: { step: 1, train_loss: 0.5 } });
  const hash = createHash("sha256").update(await Deno.readFile(path)).update(`${base} ${JSON.stringify(hyperparameters)}`).digest("hex").slice(0, 12);
  const root = /^ft:([^:]+):/.exec(base)?.[1] ?? base;
  return { model: `ft:${root}:${suffix ?? "lab"}:${hash}` };
};

async function serve(name: string): Promise<LocalServer> {
  return await startServer({ backends: { "lab-fake": placeholderBackend({ id: "lab-fake" }) }, trainers: { "lab-fake": fake }, dataDir: join(dir, name) });
}

/**
 * A dataset folder as `lab dataset build` writes it: train.jsonl with its manifest, and the staged sets; line `i` is
 * `o.line(i)` when given, else a question and its answer.
 */
async function dataset(name: string, o: { gold: number; rows: number; quality: number; tag?: string; line?: (i: number) => string }): Promise<string> {
  const folder = join(dir, name);
  await Deno.mkdir(folder, { recursive: true });
  const line = o.line ?? ((i: number) => JSON.stringify({ messages: [{ role: "user", content: `question ${i} ${o.tag ?? ""}` }, { role: "assistant", content: `answer ${i}` }] }));
  const lines = (n: number) => Array.from({ length: n }, (_, i) => line(i)).join("\n") + "\n";
  await Deno.writeTextFile(join(folder, "train.jsonl"), lines(o.rows));
  await Deno.writeTextFile(
    join(folder, "train.manifest.json"),
    JSON.stringify({ schema: MANIFEST_SCHEMA, sha256: "-", rows: o.rows, counts: { byTier: { gold: o.gold } }, lineage: Array.from({ length: o.rows }, () => ({ quality: o.quality })) }),
  );
  await Deno.writeTextFile(join(folder, "core.jsonl"), lines(3));
  await Deno.writeTextFile(join(folder, "extended.jsonl"), lines(5));
  return folder;
}

const config = (o: Record<string, unknown> = {}): OrchestratorConfig =>
  finetuneConfig({ orchestrator: { base: "lab-fake", thresholds: { min_gold: 2, min_total: 5, min_avg_quality: 0.8 }, work_dir: join(dir, "work"), poll_ms: 10, ...o } }).orchestrator;

/** An evaluation by version name: `lifts[version]`, else +0.2 [0.1, 0.3]. */
function evaluator(lifts: Record<string, [number, number | null, number | null]> = {}): Evaluate & { calls: string[] } {
  const calls: string[] = [];
  const f = ((c) => {
    calls.push(`${c.model} vs ${c.baseline}`);
    const [lift, lo, hi] = lifts[c.version ?? ""] ?? [0.2, 0.1, 0.3];
    return Promise.resolve({ lift, lo, hi });
  }) as Evaluate & { calls: string[] };
  f.calls = calls;
  return f;
}

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-orchestrator-" });
  server = await serve("serve");
});
afterAll(async () => {
  await server?.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("the fine-tuning orchestrator", () => {
  it("collects until the thresholds are met, trains, evaluates, awaits a person's promotion, then is deployed", async () => {
    const registry = await Registry.open(join(dir, "manual.duckdb"));
    const store = new CycleStore(registry.path);
    const folder = await dataset("manual", { gold: 1, rows: 4, quality: 0.7 });
    const evaluate = evaluator();
    const deps = { registry, collect: datasetFolderCollector(folder), client: () => fineTuneClient(server.url), evaluate };
    let r = await orchestrateOnce(deps, { config: config() });
    expect(r.message).toBe("cycle lab-fake/all/1 collecting: thresholds not met: 1 gold < 2; 4 examples < 5; average quality 0.700 < 0.8");
    expect((await orchestrateOnce(deps, { config: config() })).cycle?.id).toBe("lab-fake/all/1");
    // the demo's scaled thresholds let it through
    await dataset("manual", { gold: 0, rows: 4, quality: 0.7 });
    expect((await orchestrateOnce(deps, { config: config({ auto_fine_tune: false, demo_thresholds: { min_gold: 0, min_total: 3, min_avg_quality: 0.6 } }), demo: true })).message)
      .toBe("cycle lab-fake/all/1 ready: auto_fine_tune is off ('lab finetune orchestrate --once --fine-tune' trains it)");
    r = await orchestrateOnce(deps, { config: config({ auto_fine_tune: false }), fineTune: true });
    expect(r.cycle).toMatchObject({ state: "awaiting_promotion", version: "lab-fake-all-v2", baseline: null, evaluation: { lift: 0.2, lo: 0.1, hi: 0.3 } });
    expect(r.message).toBe("cycle lab-fake/all/1 awaits promotion: lift over lab-fake +0.200 [0.100, 0.300]; auto_promote is off ('lab finetune promote lab-fake-all-v2')");
    expect(evaluate.calls).toEqual([`${(await registry.get("lab-fake-all-v2")).providerModel} vs lab-fake`]);
    expect((await registry.list()).map((v) => [v.name, v.stage, v.parent, v.status])).toEqual([
      ["lab-fake-all-v2", "extended", "lab-fake-all-v1", "awaiting_promotion"],
      ["lab-fake-all-v1", "core", null, "candidate"],
    ]);
    // training read the cycle's copies of the staged sets
    expect(r.cycle!.files).toEqual({ core: join(dir, "work", "lab-fake", "all", "1", "core.jsonl"), extended: join(dir, "work", "lab-fake", "all", "1", "extended.jsonl") });
    expect((await orchestrateOnce(deps, { config: config() })).message).toMatch(/^no new data since cycle lab-fake\/all\/1 \(awaiting_promotion\)/);
    await registry.promote("lab-fake-all-v2", { actor: "ana", reason: "looks good" });
    r = await orchestrateOnce(deps, { config: config() });
    expect(r.settled.map((c) => [c.id, c.state, c.reason])).toEqual([["lab-fake/all/1", "deployed", "lab-fake-all-v2 promoted"]]);
    expect((await store.transitions()).map((t) => [t.from, t.to])).toEqual([
      [null, "collecting"],
      ["collecting", "ready"],
      ["ready", "training"],
      ["training", "evaluating"],
      ["evaluating", "awaiting_promotion"],
      ["awaiting_promotion", "deployed"],
    ]);
    expect(await store.cycles()).toHaveLength(1);
  }, 15_000);

  it("promotes on a lift above 0 with autoPromote, waits otherwise, and rolls back a promoted version that lost its lift", async () => {
    const registry = await Registry.open(join(dir, "auto.duckdb"));
    const store = new CycleStore(registry.path);
    const lifts: Record<string, [number, number | null, number | null]> = {};
    const evaluate = evaluator(lifts);
    let folder = await dataset("auto1", { gold: 3, rows: 6, quality: 0.9, tag: "a" });
    const deps = (f: string) => ({ registry, collect: datasetFolderCollector(f), client: () => fineTuneClient(server.url), evaluate });
    let r = await orchestrateOnce(deps(folder), { config: config({ auto_promote: true }) });
    expect(r.cycle).toMatchObject({ state: "deployed", version: "lab-fake-all-v2", reason: "promoted lab-fake-all-v2 automatically: lift over lab-fake +0.200 [0.100, 0.300]" });
    expect((await registry.get("lab-fake-all-v2")).status).toBe("promoted");
    const v2 = (await registry.get("lab-fake-all-v2")).providerModel;

    // new data; the next candidate's interval crosses 0: it awaits a person even with autoPromote
    folder = await dataset("auto2", { gold: 3, rows: 6, quality: 0.9, tag: "b" });
    const v4model = () => registry.get("lab-fake-all-v4").then((v) => v.providerModel);
    lifts["lab-fake-all-v4"] = [0.05, -0.02, 0.12];
    evaluate.calls.length = 0;
    r = await orchestrateOnce(deps(folder), { config: config({ auto_promote: true, auto_rollback: false }) });
    expect(r.cycle).toMatchObject({ id: "lab-fake/all/2", state: "awaiting_promotion", baseline: "lab-fake-all-v2" });
    expect(evaluate.calls).toEqual([`${await v4model()} vs ${v2}`]);
    // the candidate is passed over when a newer version is promoted; autoRollback checks the promoted one first
    folder = await dataset("auto3", { gold: 3, rows: 6, quality: 0.9, tag: "c" });
    lifts["lab-fake-all-v2"] = [-0.2, -0.3, -0.1];
    evaluate.calls.length = 0;
    r = await orchestrateOnce(deps(folder), { config: config({ auto_promote: true }) });
    expect(evaluate.calls[0]).toBe(`${v2} vs lab-fake`);
    expect(r.cycle).toMatchObject({ id: "lab-fake/all/3", state: "deployed", version: "lab-fake-all-v6", regression: { version: "lab-fake-all-v2", rolledBack: true } });
    expect((await registry.get("lab-fake-all-v2")).status).toBe("rolled_back");
    expect((await registry.get("lab-fake-all-v6")).status).toBe("promoted");
    r = await orchestrateOnce(deps(folder), { config: config({ auto_promote: true }) });
    expect(r.settled.map((c) => [c.id, c.state, c.reason])).toEqual([["lab-fake/all/2", "failed", "passed over: the newer lab-fake-all-v6 is promoted"]]);
    expect((await store.cycles()).map((c) => c.state)).toEqual(["deployed", "failed", "deployed"]);
    expect((await registry.audit("lab-fake-all-v2")).map((a) => [a.to, a.actor]).slice(1)).toEqual([["promoted", "orchestrator"], ["rolled_back", "orchestrator"]]);
  }, 15_000);

  it("ends a cycle failed when its fine-tuning job fails", async () => {
    await using failing = await startServer({ backends: { "lab-fake": placeholderBackend({ id: "lab-fake" }) }, trainers: { "lab-fake": () => Promise.reject(new Error("out of memory")) }, dataDir: join(dir, "failing") });
    const registry = await Registry.open(join(dir, "failing.duckdb"));
    const folder = await dataset("failing", { gold: 3, rows: 6, quality: 0.9 });
    const r = await orchestrateOnce({ registry, collect: datasetFolderCollector(folder), client: () => fineTuneClient(failing.url), evaluate: evaluator() }, { config: config() });
    expect(r.cycle).toMatchObject({ state: "failed" });
    expect(r.cycle!.reason).toMatch(/^stage core failed: .*out of memory/);
    expect((await orchestrateOnce({ registry, collect: datasetFolderCollector(folder), client: () => fineTuneClient(failing.url), evaluate: evaluator() }, { config: config() })).message)
      .toMatch(/^no new data since cycle lab-fake\/all\/1 \(failed\)/);
  }, 15_000);

  it("resumes a call killed with SIGKILL to the state of an uninterrupted one", async () => {
    await using refServer = await serve("reference");
    await using killServer = await serve("killed");
    const folder = await dataset("killing", { gold: 3, rows: 6, quality: 0.9 });
    const child = (url: string, registry: string, work: string, killAt?: RegExp) =>
      runChild(CHILD, [url, registry, folder, work], { killAt: (line) => !!killAt?.test(line) });
    const ref = await child(refServer.url, join(dir, "ref.duckdb"), join(dir, "ref-work"));
    expect(ref.stdout, ref.stderr).toMatch(/^done deployed lab-fake-all-v2$/m);
    const killRegistry = join(dir, "kill.duckdb");
    // killed right after the cycle opened, while stage 1 trains, and while the candidate is evaluated
    for (const at of [/^state collecting$/, /^created core /, /^evaluate /]) {
      const k = await child(killServer.url, killRegistry, join(dir, "kill-work"), at);
      expect(k.killed, `kill at ${at}: ${k.stdout}${k.stderr}`).toBe(true);
    }
    const last = await child(killServer.url, killRegistry, join(dir, "kill-work"));
    expect(last.code, last.stderr).toBe(0);
    expect(last.stdout).toMatch(/^done deployed lab-fake-all-v2$/m);
    const state = async (path: string) => {
      const registry = await Registry.open(path);
      const store = new CycleStore(path);
      return {
        versions: (await registry.list()).map((v) => [v.name, v.providerModel, v.parent, v.status]),
        events: (await registry.events()).map((e) => [e.type, e.version]),
        cycles: (await store.cycles()).map(({ createdAt: _c, updatedAt: _u, files: _f, ...c }) => c),
        transitions: (await store.transitions()).map((t) => [t.from, t.to, t.reason]),
      };
    };
    expect(await state(killRegistry)).toEqual(await state(join(dir, "ref.duckdb")));
    // no duplicate jobs: one per stage
    const jobs = await (await fetch(`${killServer.url}/fine_tuning/jobs`)).json();
    expect(jobs.data).toHaveLength(2);
  }, 30_000);
});

describe("configs/finetune.yaml and lab finetune orchestrate", () => {
  it("loads the committed config and names the field of a bad one in one line", async () => {
    const committed = (await loadFinetuneConfig()).orchestrator;
    expect(committed).toMatchObject({ thresholds: { min_gold: 500, min_total: 2000, min_avg_quality: 0.85 }, auto_fine_tune: true, auto_promote: false, auto_rollback: true });
    const bad = join(dir, "bad.yaml");
    await Deno.writeTextFile(bad, "orchestrator:\n  thresholds: { min_gold: -1, min_total: 2, min_avg_quality: 0.5 }\n");
    await expect(loadFinetuneConfig(bad)).rejects.toThrow(/bad\.yaml: orchestrator\.thresholds\.min_gold: must be ≥ 0$/);
    await Deno.writeTextFile(bad, "orchestrator:\n  auto_promte: true\n");
    await expect(loadFinetuneConfig(bad)).rejects.toThrow(/bad\.yaml: orchestrator: .*auto_promte/);
  });

  it("runs one call from a cron line, prints its state, and fails in one line on bad input", async () => {
    const folder = await dataset("cli", { gold: 0, rows: 2, quality: 0.5 });
    const registry = join(dir, "cli.duckdb");
    const r = await lab("finetune", "orchestrate", "--once", "--dataset", folder, "--registry", registry, "--base-url", server.url);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe("cycle lab-mini/all/1 collecting: thresholds not met: 0 gold < 500; 2 examples < 2000; average quality 0.500 < 0.85");
    const json = await lab("finetune", "orchestrate", "--once", "--dataset", folder, "--registry", registry, "--base-url", server.url, "--demo", "--json");
    expect(JSON.parse(json.out)).toMatchObject({ cycle: { state: "collecting", stats: { gold: 0, total: 2, avgQuality: 0.5 } } });
    const status = await lab("finetune", "orchestrate", "--status", "--registry", registry);
    expect(status.out).toMatch(/^lab-mini\/all\/1\s+collecting\s+-\s+thresholds not met/m);
    expect((await lab("finetune", "orchestrate", "--help")).code).toBe(0);
    const bad = [
      [["finetune", "orchestrate", "--registry", registry], 2, /^lab finetune orchestrate: give --once/],
      [["finetune", "orchestrate", "--once", "--dataset", join(dir, "none"), "--registry", registry], 1, /^lab finetune orchestrate: .*none\/train\.manifest\.json: cannot read the dataset manifest/],
      [["finetune", "orchestrate", "--once", "--config", join(dir, "missing.yaml"), "--registry", registry], 1, /missing\.yaml: cannot read the fine-tuning config/],
    ] as const;
    for (const [argv, code, message] of bad) {
      const e = await lab(...argv);
      expect([e.code, e.err.split("\n").length], e.err).toEqual([code, 1]);
      expect(e.err).toMatch(message);
    }
  }, 15_000);

  it("drives a cycle from collecting through lab-mini's training to its evaluation on dev (the command's own evaluate)", async () => {
    // A lab server with lab-mini and its trainer (weights into the test's folder); the staged sets are lines of the
    // oracle distillation of train, which lab-mini's trainer learns from.
    const outDir = join(dir, "lab-ft");
    await using labServer = await startServer({ backends: await defaultBackends(), trainers: defaultTrainers(outDir), dataDir: join(dir, "lab-serve"), loadModel: fineTunedLoader(outDir) });
    const oracle = (await Deno.readTextFile(ORACLE_DISTILL_DATASET)).split("\n").slice(0, 5);
    const folder = await dataset("lab", { gold: 0, rows: 20, quality: 0.7, line: (i) => oracle[i % oracle.length] });
    const registryPath = join(dir, "lab.duckdb");
    const cfg = join(dir, "lab-finetune.yaml");
    await Deno.writeTextFile(cfg, `orchestrator:\n  work_dir: ${join(dir, "lab-work")}\n  poll_ms: 10\n`);
    const argv = ["finetune", "orchestrate", "--once", "--dataset", folder, "--registry", registryPath, "--config", cfg, "--base-url", labServer.url, "--eval", "suite", "--eval-per-level", "1"];
    // The committed thresholds hold it in collecting; the demo's (0 gold, 20 examples, average quality 0.6) let it train.
    const held = await lab(...argv, "--json");
    expect([held.code, JSON.parse(held.out).cycle.state], held.err).toEqual([0, "collecting"]);
    const r = await lab(...argv, "--demo", "--json");
    expect(r.code, r.err).toBe(0);
    const { cycle, settled, message } = JSON.parse(r.out);
    // 5 dev instances (one per level) × 1 seed, both arms with strategy alpha: a paired lift clustered by family, whose
    // 5 families are too few for an interval.
    const ev = cycle.evaluation;
    expect(ev).toEqual({
      lift: expect.any(Number),
      lo: null,
      hi: null,
      baselineRate: expect.any(Number),
      candidateRate: expect.any(Number),
      pairs: 5,
      clusters: 5,
      pValue: expect.any(Number),
      note: "5 families: an interval needs ≥ 10",
    });
    expect(ev.lift).toBeCloseTo(ev.candidateRate - ev.baselineRate, 10);
    expect([ev.baselineRate * 5, ev.candidateRate * 5].every((n) => Math.abs(n - Math.round(n)) < 1e-9)).toBe(true);
    const lift = `lift over lab-mini ${formatLift(ev)}`;
    expect(cycle).toMatchObject({ id: "lab-mini/all/1", state: "awaiting_promotion", version: "lab-mini-all-v2", baseline: null, reason: `${lift}; the interval does not lie above 0` });
    expect([settled, message]).toEqual([[], `cycle lab-mini/all/1 awaits promotion: ${lift}; the interval does not lie above 0 ('lab finetune promote lab-mini-all-v2')`]);
    // What the registry's file keeps: the cycle with its evaluation, every transition, the versions and their status.
    const store = new CycleStore(registryPath);
    expect((await store.cycles()).map((c) => [c.id, c.state, c.version, c.evaluation])).toEqual([["lab-mini/all/1", "awaiting_promotion", "lab-mini-all-v2", ev]]);
    expect((await store.transitions()).map((t) => [t.from, t.to])).toEqual([
      [null, "collecting"],
      ["collecting", "ready"],
      ["ready", "training"],
      ["training", "evaluating"],
      ["evaluating", "awaiting_promotion"],
    ]);
    const registry = await Registry.open(registryPath);
    const versions = await registry.list();
    expect(versions.map((v) => [v.name, v.stage, v.parent, v.status])).toEqual([
      ["lab-mini-all-v2", "extended", "lab-mini-all-v1", "awaiting_promotion"],
      ["lab-mini-all-v1", "core", null, "candidate"],
    ]);
    expect(versions.map((v) => v.providerModel)).toEqual([expect.stringMatching(/^ft:lab-mini:extended:[0-9a-f]{12}$/), expect.stringMatching(/^ft:lab-mini:core:[0-9a-f]{12}$/)]);
  }, 30_000);

  it("evaluates by seed 001's A/B shadow test by default: a stream too short for 100 non-tied comparisons fails the cycle as need_more_data", async () => {
    const outDir = join(dir, "ab-ft");
    await using labServer = await startServer({ backends: await defaultBackends(), trainers: defaultTrainers(outDir), dataDir: join(dir, "ab-serve"), loadModel: fineTunedLoader(outDir) });
    const oracle = (await Deno.readTextFile(ORACLE_DISTILL_DATASET)).split("\n").slice(0, 5);
    const folder = await dataset("ab", { gold: 0, rows: 20, quality: 0.7, line: (i) => oracle[i % oracle.length] });
    const registryPath = join(dir, "ab.duckdb");
    const cfg = join(dir, "ab-finetune.yaml");
    await Deno.writeTextFile(cfg, `orchestrator:\n  work_dir: ${join(dir, "ab-work")}\n  poll_ms: 10\n`);
    const r = await lab("finetune", "orchestrate", "--once", "--demo", "--json", "--dataset", folder, "--registry", registryPath, "--config", cfg, "--base-url", labServer.url, "--eval-rate", "1", "--eval-stream", "12");
    expect(r.code, r.err).toBe(1);
    const { cycle } = JSON.parse(r.out);
    const ev = cycle.evaluation;
    // Every one of the 12 stream tasks is shadowed (rate 1): champion and candidate each answer them once.
    expect([ev.recommendation, ev.streamTasks, ev.shadowed, ev.comparisons.length, ev.pairs]).toEqual(["need_more_data", 12, 12, 12, 12]);
    expect(ev.ab.wins + ev.ab.ties + ev.ab.losses).toBe(12);
    expect(ev.lift).toBeCloseTo(ev.candidateRate - ev.baselineRate, 10);
    expect(cycle).toMatchObject({ state: "failed", version: "lab-mini-all-v2", reason: expect.stringMatching(/; A\/B need_more_data: /) });
    const versions = await (await Registry.open(registryPath)).list();
    expect(versions.map((v) => [v.name, v.status])).toEqual([["lab-mini-all-v2", "shadow"], ["lab-mini-all-v1", "candidate"]]);
  }, 30_000);
});
