/**
 * `lab runs list | show | compare` and `lab review` through the in-process CLI, on tiny sources in a temp folder: a
 * planted tournament on the tiny sandbox, the dataset built from it, two planted eval-suite runs of the same cases
 * (and a gate result beside them, which is not a run), an experiment results file and a registry with a version
 * awaiting promotion.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { queryStore, readEpisodeRows, runTournament } from "../tournament/mod.ts";
import { AS_OF, plantedModel, plantedSetup, TEST_RUN_ID, testRunOptions } from "../tournament/testing.ts";
import { buildDataset, type DatasetManifest, datasetsConfig, LeakageGuard, STAGES } from "../datasets/mod.ts";
import { type ModelVersion, Registry } from "../finetune/mod.ts";
import { compare, type EvalRun, liftCell, type SuiteEpisode } from "../evals/mod.ts";
import { plantedEpisode } from "../evals/testing.ts";
import { lab } from "./testing.ts";

let dir: string;
let src: string[];
let registryPath: string;
let core: ModelVersion, ext: ModelVersion;
const rows: { strategyId: string; pass: boolean; composite: number; generation: number; challengeId: string; tokensTotal: number }[] = [];
let manifests: DatasetManifest[] = [];

const ISO = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
const HASH = expect.stringMatching(/^[0-9a-f]{64}$/);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A planted run of arms base and finetuned on 12 families × 2 challenges, seed 1; `better` families pass finetuned. */
function suiteRun(createdAt: string, better: number): EvalRun {
  const episodes: SuiteEpisode[] = [];
  for (const arm of ["base", "finetuned"]) {
    for (let f = 0; f < 12; f++) {
      for (let c = 0; c < 2; c++) {
        const pass = arm === "base" ? f < 3 && c === 0 : f < better;
        episodes.push(plantedEpisode(arm, `fam${String(f).padStart(2, "0")}/t${c}/v/o1`, pass, { model: arm === "base" ? "lab-mini" : "ft:lab-mini:core:0123456789ab", tokens: 10 }));
      }
    }
  }
  return {
    suite: "planted",
    createdAt,
    commit: "fedcba9876543210fedcba9876543210fedcba98",
    pins: { catalogHash: "c".repeat(64), models: { base: "lab-mini", finetuned: "ft:lab-mini:core:0123456789ab" }, patternSnapshot: null, strategies: { base: "beta", finetuned: "beta" } },
    shard: null,
    episodes,
  };
}
const runA = suiteRun("2026-01-01T00:00:00.000Z", 4);
const runB = suiteRun("2026-01-02T00:00:00.000Z", 9);

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-runs-" });
  const sandbox = join(dir, "tiny.duckdb");
  await buildSandbox(sandbox, { scale: "tiny", asOf: AS_OF });
  const pool = await SandboxPool.open(sandbox, { size: 2 });
  const { config, strategies, challenges, sqlByTask } = await plantedSetup({ attempts: 1, generations: 1, challenges: { families: ["invoice_count_for_period"], max_instances: 2 } });
  const db = join(dir, "lab.duckdb");
  try {
    await runTournament(config, testRunOptions(db, { model: plantedModel(sqlByTask), strategies, pool, challenges }));
  } finally {
    await pool.close();
  }
  rows.push(...await readEpisodeRows(db, TEST_RUN_ID));
  const datasets = join(dir, "datasets");
  await buildDataset({ db }, {
    out: join(datasets, "curated"),
    config: datasetsConfig({ tiers: { gold: 0.9, silver: 0.5, bronze: 0 }, stages: { core: { size: 1, min_fitness: 0.5, levels: [1, 2] } } }),
    guard: LeakageGuard.fromCatalog(challenges),
  });
  for await (const e of Deno.readDir(join(datasets, "curated"))) if (e.name.endsWith(".manifest.json")) manifests.push(JSON.parse(await Deno.readTextFile(join(datasets, "curated", e.name))));
  manifests = manifests.sort((a, b) => (a.file < b.file ? -1 : 1));

  await Deno.mkdir(join(dir, "evals", "planted"), { recursive: true });
  await Deno.writeTextFile(join(dir, "evals", "planted", "a.json"), JSON.stringify(runA));
  await Deno.writeTextFile(join(dir, "evals", "planted", "b.json"), JSON.stringify(runB));
  await Deno.writeTextFile(join(dir, "evals", "planted", "gate.json"), JSON.stringify({ suite: "planted", verdict: "pass" }));
  await Deno.writeTextFile(join(dir, "exp.json"), JSON.stringify({
    comparisons: { dev: { control: "base", rates: [{ arm: "base", level: "all", estimate: 0.25 }, { arm: "base", level: 1, estimate: 0.5 }, { arm: "r1", level: "all", estimate: 0.5 }], lifts: [{ arm: "r1", level: "all", estimate: 0.25 }] } },
    rounds: [],
    settings: { seed: 3, rounds: 1 },
    models: { base: "lab-mini", r1: "ft:lab-mini:r1:abc", unrelated: { "1": "ft:lab-mini:u1:def" } },
    commit: "abc1234",
    date: "2026-01-03",
    episodes: [],
  }));

  registryPath = join(dir, "registry.duckdb");
  const registry = await Registry.open(registryPath);
  const common = { base: "lab-mini", category: "all", provider: "lab", datasetHash: "d".repeat(64), parent: null };
  core = await registry.register({ ...common, providerModel: "ft:lab-mini:core:0123456789ab", trainedFrom: "lab-mini", jobId: "ftjob-1", stage: "core", metrics: { train_loss: 0.5 } }, { actor: "ci" });
  await registry.promote(core.name, { actor: "ci", reason: "first" });
  ext = await registry.register({ ...common, providerModel: "ft:lab-mini:extended:abcdef012345", trainedFrom: "lab-mini", jobId: "ftjob-2", stage: "extended", metrics: { train_loss: 0.25 } }, { actor: "ci" });
  src = ["--db", db, "--evals", join(dir, "evals"), "--experiments", join(dir, "exp.json"), "--datasets", datasets, "--registry", registryPath, "--reports", join(dir, "reports")];
}, 60_000);

afterAll(async () => {
  if (dir) await Deno.remove(dir, { recursive: true });
});

const json = (out: string) => JSON.parse(out);
const report = (kind: string, slug: string, arg: string, extra = "") => ({
  path: join(dir, "reports", `${kind}-${slug}.html`),
  exists: false,
  command: `deno task lab report ${kind} ${arg}${extra} --out ${join(dir, "reports", `${kind}-${slug}.html`)}`,
});

function suiteEntry(id: "a" | "b", run: EvalRun) {
  const rate = (arm: string) => mean(run.episodes.filter((e) => e.arm === arm).map((e) => (e.pass ? 1 : 0)));
  const file = join(dir, "evals", "planted", `${id}.json`);
  return {
    kind: "suite",
    id: `planted/${id}`,
    createdAt: run.createdAt,
    status: null,
    source: file,
    config: { hash: HASH, path: file },
    commit: run.commit,
    seeds: [1],
    models: ["ft:lab-mini:core:0123456789ab", "lab-mini"],
    metrics: { "dev.base.success": rate("base"), "dev.finetuned.success": rate("finetuned"), episodes: 48, families: 12, tokens: 480, costUsd: 0 },
    report: report("suite", `planted_${id}`, file),
  };
}

describe("lab runs", () => {
  it("list --json indexes every source kind by kind, newest first, with config hash, commit, seeds, models, metrics and report", async () => {
    const r = await lab("runs", "list", "--json", ...src);
    expect(r).toMatchObject({ code: 0, err: "" });
    const db = join(dir, "lab.duckdb");
    const [head] = await queryStore(db, "SELECT git_commit, seed, model_id FROM runs WHERE id = $1", [TEST_RUN_ID]);
    const strategies = [...new Set(rows.map((x) => x.strategyId))].sort();
    const train = manifests.find((m) => m.file === "train.jsonl")!;
    const { leakage, ...excluded } = train.excluded!;
    expect(json(r.out)).toEqual([
      {
        kind: "run",
        id: TEST_RUN_ID,
        createdAt: ISO,
        status: "completed",
        source: db,
        config: { hash: HASH, path: `${db}#runs/${TEST_RUN_ID}` },
        commit: head.git_commit,
        seeds: [Number(head.seed)],
        models: [String(head.model_id)],
        metrics: {
          success: mean(rows.map((x) => (x.pass ? 1 : 0))),
          meanFitness: expect.closeTo(mean(rows.map((x) => x.composite)), 12),
          episodes: rows.length,
          generations: new Set(rows.map((x) => x.generation)).size,
          strategies: strategies.length,
          challenges: new Set(rows.map((x) => x.challengeId)).size,
          tokens: rows.reduce((s, x) => s + x.tokensTotal, 0),
          costUsd: 0,
          ...Object.fromEntries(strategies.map((s) => [`${s}.success`, mean(rows.filter((x) => x.strategyId === s).map((x) => (x.pass ? 1 : 0)))])),
        },
        report: report("run", TEST_RUN_ID, TEST_RUN_ID, ` --db ${db}`),
      },
      suiteEntry("b", runB),
      suiteEntry("a", runA),
      {
        kind: "experiment",
        id: "exp",
        createdAt: "2026-01-03",
        status: null,
        source: join(dir, "exp.json"),
        config: { hash: HASH, path: join(dir, "exp.json") },
        commit: "abc1234",
        seeds: [3],
        models: ["ft:lab-mini:r1:abc", "ft:lab-mini:u1:def", "lab-mini"],
        metrics: { "dev.base.success": 0.25, "dev.r1.success": 0.5, "dev.r1.lift": 0.25 },
        report: report("experiment", "exp", join(dir, "exp.json")),
      },
      {
        kind: "dataset",
        id: "curated",
        createdAt: train.createdAt,
        status: null,
        source: join(dir, "datasets", "curated"),
        config: { hash: HASH, path: join(dir, "datasets", "curated", "train.manifest.json") },
        commit: null,
        seeds: [],
        models: [],
        metrics: {
          rows: train.rows,
          "tier.gold": train.counts.byTier.gold ?? 0,
          "tier.silver": train.counts.byTier.silver ?? 0,
          "tier.bronze": train.counts.byTier.bronze ?? 0,
          ...Object.fromEntries(manifests.filter((m) => m.stage).sort((a, b) => STAGES.indexOf(a.stage!.name as typeof STAGES[number]) - STAGES.indexOf(b.stage!.name as typeof STAGES[number])).map((m) => [`stage.${m.stage!.name}.selected`, m.stage!.selected])),
          ...(manifests.some((m) => m.format === "dpo") ? { "dpo.pairs": manifests.find((m) => m.format === "dpo")!.rows } : {}),
          "excluded.leakage": Object.values(leakage).reduce((a, b) => a + b, 0),
          ...Object.fromEntries(Object.entries(excluded).map(([k, v]) => [`excluded.${k}`, v])),
          files: manifests.length,
        },
        report: report("dataset", "curated", join(dir, "datasets", "curated")),
      },
      ...[ext, core].map((v) => ({
        kind: "model",
        id: v.name,
        createdAt: ISO,
        status: v === core ? "promoted" : "candidate",
        source: registryPath,
        config: { hash: HASH, path: `${registryPath}#versions/${v.name}` },
        commit: null,
        seeds: [],
        models: [v.providerModel],
        metrics: { train_loss: v.metrics.train_loss },
        report: report("model", v.name, v.name, ` --registry ${registryPath}`),
        reviews: [],
      })),
    ]);
    expect(train.rows).toBeGreaterThan(0);
  });

  it("list --kind keeps one kind, and the text listing names every entry and its report", async () => {
    const r = await lab("runs", "list", "--kind", "suite", "--json", ...src);
    expect(json(r.out).map((e: { id: string }) => e.id)).toEqual(["planted/b", "planted/a"]);
    const t = await lab("runs", "list", ...src);
    expect(t.code).toBe(0);
    for (const id of [TEST_RUN_ID, "planted/a", "planted/b", "exp", "curated", core.name, ext.name]) expect(t.out).toContain(id);
    expect(t.out).toContain(`suite-planted_a.html (not written)`);
    expect(t.out).toMatch(/7 entries/);
  });

  it("show --json gives the entry and its whole config, by id or kind:id", async () => {
    const r = await lab("runs", "show", "suite:planted/a", "--json", ...src);
    expect(r.code).toBe(0);
    const { config, ...entry } = suiteEntry("a", runA);
    expect(json(r.out)).toEqual({ ...entry, config: { ...config, value: { suite: "planted", pins: runA.pins, shard: null } } });
    const byId = await lab("runs", "show", "planted/a", "--json", ...src);
    expect(json(byId.out)).toEqual(json(r.out));
  });

  it("compare of two suite runs: config differences, metrics with their change, each arm's paired change clustered by family", async () => {
    const r = await lab("runs", "compare", "planted/a", "planted/b", "--json", ...src);
    expect(r).toMatchObject({ code: 0, err: "" });
    const a = suiteEntry("a", runA), b = suiteEntry("b", runB);
    const side = (e: typeof a) => ({ id: e.id, createdAt: e.createdAt, status: null, commit: e.commit, seeds: e.seeds, models: e.models, configHash: HASH, report: e.report.path });
    const out = json(r.out);
    expect(out.a.configHash).toBe(out.b.configHash); // same suite, pins and shard
    const ft = (run: EvalRun) => run.episodes.filter((e) => e.arm === "finetuned");
    const diffs = ft(runB).map((e, i) => (e.pass ? 1 : 0) - (ft(runA)[i].pass ? 1 : 0));
    const lift = liftCell(compare([...ft(runA).map((e) => ({ ...e, arm: "a" })), ...ft(runB).map((e) => ({ ...e, arm: "b" }))], { control: "a" }), "b")!;
    expect(out).toEqual({
      kind: "suite",
      a: side(a),
      b: side(b),
      config: [],
      results: Object.keys(a.metrics).map((k) => {
        const va = a.metrics[k as keyof typeof a.metrics], vb = b.metrics[k as keyof typeof b.metrics];
        return { metric: k, a: va, b: vb, change: vb - va };
      }),
      paired: [
        { split: "dev", arm: "base", pairs: 24, families: 12, a: 3 / 24, b: 3 / 24, change: 0, lo: 0, hi: 0, pValue: 1 },
        { split: "dev", arm: "finetuned", pairs: 24, families: 12, a: 8 / 24, b: 18 / 24, change: mean(diffs), lo: lift.lo, hi: lift.hi, pValue: lift.pValue },
      ],
      cases: { a: 48, b: 48, common: 48 },
    });
    expect(mean(diffs)).toBeCloseTo(10 / 24, 12);
    expect(lift.lo!).toBeGreaterThan(0); // 5 of 12 families moved: the interval excludes 0
    const t = await lab("runs", "compare", "planted/a", "planted/b", ...src);
    expect(t.out).toContain("dev    finetuned  24     12        33.3 %  75.0 %  +41.7 [");
  });

  it("compare of two model versions diffs their configs key by key", async () => {
    const r = await lab("runs", "compare", core.name, ext.name, "--json", ...src);
    expect(r.code).toBe(0);
    const out = json(r.out);
    expect(out.config).toEqual([
      { key: "jobId", a: "ftjob-1", b: "ftjob-2" },
      { key: "stage", a: "core", b: "extended" },
    ]);
    expect(out.results).toEqual([{ metric: "train_loss", a: 0.5, b: 0.25, change: -0.25 }]);
    expect(out.paired).toBeUndefined();
  });

  it("refuses unknown ids, ids of different kinds and missing sources in one line, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["runs", "show", "nope", ...src], /^lab runs show: no run, suite run, experiment, dataset or model version 'nope' in .*; 'lab runs list' shows the ids — see/],
      [["runs", "show", "model:planted/a", ...src], /^lab runs show: no model version 'planted\/a' in /],
      [["runs", "compare", "planted/a", core.name, ...src], new RegExp(`^lab runs compare: planted/a is a eval-suite run and ${core.name} a model version: compare two of the same kind — see`)],
      [["runs", "compare", "planted/a", ...src], /^lab runs compare: give two ids to compare \('lab runs list' shows them\), found 1 — see/],
      [["runs", "list", "--kind", "tournament", ...src], /^lab runs list: --kind must be one of run, suite, experiment, dataset, model, found 'tournament' — see/],
      [["runs", "list", ...src, "--db", join(dir, "missing.duckdb")], /^lab runs list: --db .*missing\.duckdb: no such tournament store — see/],
    ];
    for (const [argv, err] of cases) {
      const r = await lab(...argv);
      expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: "" });
      expect(r.err).toMatch(err);
      expect(r.err.split("\n")).toHaveLength(1);
    }
  });
});

describe("lab review", () => {
  it("reject records an audit row (status unchanged) and a review.rejected event, leaving a version awaiting promotion as it is", async () => {
    const registry = await Registry.open(registryPath);
    await registry.mark(ext.name, "awaiting_promotion", { actor: "ci", reason: "A/B: promote_B" });
    const before = (await registry.audit()).length;
    const r = await lab("review", ext.name, "--reject", "--note", "test_id lift crosses 0", "--reviewer", "ana", "--registry", registryPath);
    expect(r).toEqual({ code: 0, out: `rejected ${ext.name} (review #${(await registry.reviews(ext.name))[0].seq} by ana); status awaiting_promotion unchanged\nthe report shows it: deno task lab report model ${ext.name} --registry ${registryPath}`, err: "" });
    expect((await registry.audit()).slice(before)).toEqual([
      { seq: expect.any(Number), at: ISO, version: ext.name, from: "awaiting_promotion", to: "awaiting_promotion", actor: "ana", reason: "review rejected: test_id lift crosses 0" },
    ]);
    expect((await registry.events({ version: ext.name })).at(-1)).toEqual({
      seq: expect.any(Number),
      at: ISO,
      type: "review.rejected",
      version: ext.name,
      jobId: "ftjob-2",
      data: { reviewer: "ana", note: "test_id lift crosses 0", status: "awaiting_promotion", promoted: false },
    });
    expect((await registry.get(ext.name)).status).toBe("awaiting_promotion");
  });

  it("approve of a version awaiting promotion promotes it (retiring the promoted one), with the review in the audit trail, events, runs show and the model report", async () => {
    const registry = await Registry.open(registryPath);
    const before = (await registry.audit()).length;
    const r = await lab("review", ext.name, "--approve", "--note", "A/B lift +12 [4, 20]", "--reviewer", "bo", "--registry", registryPath, "--json");
    expect(r.code).toBe(0);
    const reviews = await registry.reviews(ext.name);
    expect(json(r.out)).toEqual({
      review: { seq: reviews[1].seq, at: ISO, version: ext.name, decision: "approve", reviewer: "bo", note: "A/B lift +12 [4, 20]", status: "awaiting_promotion", promoted: true },
      status: "promoted",
      retired: core.name,
    });
    expect((await registry.audit()).slice(before).map(({ version, from, to, actor, reason }) => ({ version, from, to, actor, reason }))).toEqual([
      { version: ext.name, from: "awaiting_promotion", to: "awaiting_promotion", actor: "bo", reason: "review approved: A/B lift +12 [4, 20]" },
      { version: core.name, from: "promoted", to: "retired", actor: "bo", reason: `replaced by ${ext.name}` },
      { version: ext.name, from: "awaiting_promotion", to: "promoted", actor: "bo", reason: "approved by bo: A/B lift +12 [4, 20]" },
    ]);
    expect((await registry.events({ version: ext.name })).slice(-2).map((e) => e.type)).toEqual(["review.approved", "fine_tuning.promoted"]);
    const show = json((await lab("runs", "show", ext.name, "--json", ...src)).out);
    expect(show).toMatchObject({ status: "promoted", reviews: [{ decision: "reject", reviewer: "ana", promoted: false }, { decision: "approve", reviewer: "bo", promoted: true }] });

    const { buildReport } = await import("../report/mod.ts");
    const doc = await buildReport("model", ext.name, { registry: registryPath, built: { at: "2026-01-01T00:00:00.000Z", commit: null } });
    const section = doc.sections.find((s) => s.title === "Reviews")!;
    expect(section.blocks[0]).toMatchObject({
      kind: "table",
      rows: [
        [String(reviews[0].seq), reviews[0].at, { text: "rejected" }, "ana", "test_id lift crosses 0", "awaiting_promotion", "no"],
        [String(reviews[1].seq), reviews[1].at, { text: "approved" }, "bo", "A/B lift +12 [4, 20]", "awaiting_promotion", "yes"],
      ],
    });
    expect(doc.reading.shows.join(" ")).toContain("Reviews: rejected by ana (test_id lift crosses 0); approved by bo (A/B lift +12 [4, 20]), which promoted it.");
  });

  it("approve of a version not awaiting promotion records the review and changes nothing else", async () => {
    const registry = await Registry.open(registryPath);
    const r = await lab("review", core.name, "--approve", "--note", "fine as a fallback", "--reviewer", "cy", "--registry", registryPath);
    expect(r.out.split("\n")[0]).toBe(`approved ${core.name} (review #${(await registry.reviews(core.name))[0].seq} by cy); status retired unchanged`);
    expect((await registry.get(core.name)).status).toBe("retired");
  });

  it("refuses bad input in one line, exit 2, and records nothing", async () => {
    const registry = await Registry.open(registryPath);
    const before = { audit: (await registry.audit()).length, events: (await registry.events()).length };
    const cases: [string[], RegExp][] = [
      [["review", ext.name, "--note", "x"], /^lab review: give the decision: --approve or --reject — see/],
      [["review", ext.name, "--approve", "--reject", "--note", "x"], /^lab review: give --approve or --reject, not both — see/],
      [["review", ext.name, "--approve"], /^lab review: give --note "…" saying why you approve .* — see/],
      [["review", "--approve", "--note", "x"], /^lab review: give the version to review/],
      [["review", "lab-mini-all-v9", "--reject", "--note", "x"], /^lab review: no version 'lab-mini-all-v9' in the registry .*: 'lab finetune list' shows the versions — see/],
    ];
    for (const [argv, err] of cases) {
      const r = await lab(...argv, "--registry", registryPath);
      expect({ code: r.code, out: r.out }).toEqual({ code: 2, out: "" });
      expect(r.err).toMatch(err);
      expect(r.err.split("\n")).toHaveLength(1);
    }
    const missing = await lab("review", ext.name, "--reject", "--note", "x", "--registry", join(dir, "none.duckdb"));
    expect(missing).toMatchObject({ code: 2, out: "" });
    expect(missing.err).toMatch(/^lab review: no model registry at .*none\.duckdb: pass --registry <file>/);
    expect(await Deno.stat(join(dir, "none.duckdb")).catch(() => null)).toBeNull();
    expect({ audit: (await registry.audit()).length, events: (await registry.events()).length }).toEqual(before);
  });
});
