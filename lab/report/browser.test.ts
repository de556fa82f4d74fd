/**
 * Every kind of report, opened in a real browser (Debian's chromium through playwright-core, one launch for all):
 * no console error, no network request at all, every chart drawn with a non-zero size and its Vega-Lite spec
 * beside it, the lab-mini label under every figure of a lab-mini report, and the headline numbers on the page equal
 * to the ones computed here from the source. A full-page screenshot of each goes to `data/reports/screenshots/`
 * (CI artefacts). Sources are tiny: a planted eval run, a planted tournament on the tiny sandbox, the dataset built
 * from it, the committed self-improvement results, a registry on a temp file.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { readEpisodeRows, runTournament } from "../tournament/mod.ts";
import { plantedModel, plantedSetup, TEST_RUN_ID, testRunOptions, AS_OF } from "../tournament/testing.ts";
import { buildDataset, datasetsConfig, type DatasetManifest, LeakageGuard } from "../datasets/mod.ts";
import { CycleStore, Registry } from "../finetune/mod.ts";
import { type EvalRun, LAB_MINI_LABEL, type SuiteEpisode } from "../evals/mod.ts";
import { plantedEpisode } from "../evals/testing.ts";
import { repoPath } from "../util/mod.ts";
import { buildReport, type ReportKind, writeReport } from "./mod.ts";

/** The chromium on PATH (Debian's package installs `chromium`); `.ci/run` installs it when missing. */
function findChromium(): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(delimiter)) {
    for (const name of ["chromium", "chromium-browser"]) if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  throw new Error("no chromium on PATH: install it with 'sudo apt-get install -y chromium' (.ci/run does)");
}

const SHOTS = repoPath("data", "reports", "screenshots");
const built = { at: "2026-01-01T00:00:00.000Z", commit: "0123456789abcdef0123456789abcdef01234567" };

/** How a headline number is shown: a rate in %, signed points, an integer, or a number with 3 or 4 decimals. */
type Format = "pct" | "pts" | "int" | "dec" | "dec4";
const shown = (v: number, f: Format) =>
  f === "pct" ? (100 * v).toFixed(1) : f === "pts" ? `${v >= 0 ? "+" : "−"}${(100 * Math.abs(v)).toFixed(1)}` : f === "int" ? String(v) : v.toFixed(f === "dec" ? 3 : 4);

interface Case {
  kind: ReportKind;
  file: string;
  /** Expected headline numbers: key → value and how the page shows it. */
  expected: Record<string, [number, Format]>;
  /** Expected headline texts: key → text. */
  texts?: Record<string, string>;
  labMini: boolean;
  minCharts: number;
}

let dir: string;
let pool: SandboxPool | undefined;
let browser: Browser | undefined;
const cases: Case[] = [];

/** A planted eval run: 4 arms × 12 families × 2 challenges, lab-mini models; fine-tuned best, + context below it. */
function plantedRun(): EvalRun {
  const rate: Record<string, number> = { base: 0.25, context: 0.25, finetuned: 1, finetuned_context: 0.5 };
  const episodes: SuiteEpisode[] = [];
  for (const arm of Object.keys(rate)) {
    for (let f = 0; f < 12; f++) {
      for (let c = 0; c < 2; c++) {
        const id = `fam${String(f).padStart(2, "0")}/t${c}/v/o1`;
        const pass = ((f * 2 + c) % 4) < rate[arm] * 4;
        episodes.push(plantedEpisode(arm, id, pass, { model: arm.startsWith("finetuned") ? "ft:lab-mini:core:0123456789ab" : "lab-mini", tokens: 100 + f, latencyMs: 5 + c }));
      }
    }
  }
  return {
    suite: "planted",
    createdAt: "2026-01-01T00:00:00.000Z",
    commit: "fedcba9876543210fedcba9876543210fedcba98",
    pins: {
      catalogHash: "c".repeat(64),
      models: { base: "lab-mini", context: "lab-mini", finetuned: "ft:lab-mini:core:0123456789ab", finetuned_context: "ft:lab-mini:core:0123456789ab" },
      patternSnapshot: "p".repeat(64),
      strategies: { base: "beta", context: "beta", finetuned: "beta", finetuned_context: "beta" },
    },
    shard: null,
    episodes,
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function suiteCase(): Promise<Case> {
  const run = plantedRun();
  const path = join(dir, "evals", "latest.json");
  await Deno.mkdir(join(dir, "evals", "promptfoo"), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(run));
  // promptfoo's output beside the run: the trace summaries of two cases.
  const traced = [run.episodes.find((e) => e.pass)!, run.episodes.find((e) => !e.pass)!].map((e) => ({
    vars: { task: `How many invoices for ${e.challengeId}?` },
    response: { metadata: { episode: e, verdict: { reason: e.pass ? "correct: 42" : "expected 42, found 7", score: e.score }, trace: { tools: ["dbRead", "submitAnswer"], queries: [{ sql: "SELECT count(*) FROM invoices WHERE x < 3", ok: true }], stopDetail: "the model submitted an answer" } } },
  }));
  await Deno.writeTextFile(join(dir, "evals", "promptfoo", "latest.json"), JSON.stringify({ evalId: "e", results: { results: traced }, config: {} }));
  const expected: Case["expected"] = {};
  for (const arm of ["base", "context", "finetuned", "finetuned_context"]) {
    const mine = run.episodes.filter((e) => e.arm === arm);
    expected[`dev.${arm}.accuracy`] = [mean(mine.map((e) => (e.pass ? 1 : 0))), "pct"];
    expected[`dev.${arm}.episodes`] = [mine.length, "int"];
    if (arm !== "base") {
      const base = new Map(run.episodes.filter((e) => e.arm === "base").map((e) => [e.challengeId, e.pass ? 1 : 0]));
      expected[`dev.${arm}.lift`] = [mean(mine.map((e) => (e.pass ? 1 : 0) - base.get(e.challengeId)!)), "pts"];
    }
  }
  const doc = await buildReport("suite", path, { built });
  // The planted negative result is read as such.
  expect(doc.reading.shows.join(" ")).toMatch(/fine-tuned \+ context is below fine-tuned alone on dev by 50\.0 points \[−\d+\.\d, −\d+\.\d\] \(95 % interval\)/);
  const { path: file } = await writeReport(doc, { out: join(dir, "suite.html") });
  return { kind: "suite", file, expected, labMini: true, minCharts: 1 };
}

async function runAndDatasetCases(): Promise<Case[]> {
  const sandbox = join(dir, "tiny.duckdb");
  await buildSandbox(sandbox, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(sandbox, { size: 4 });
  const { config, strategies, challenges, sqlByTask } = await plantedSetup({ attempts: 1, challenges: { families: ["invoice_count_for_period", "cash_book_balance_end_of_period"], max_instances: 4 } });
  const db = join(dir, "lab.duckdb");
  await runTournament(config, testRunOptions(db, { model: plantedModel(sqlByTask), strategies, pool, challenges }));
  const rows = await readEpisodeRows(db, TEST_RUN_ID);
  const expected: Case["expected"] = {};
  for (const s of new Set(rows.map((r) => r.strategyId))) {
    const mine = rows.filter((r) => r.strategyId === s);
    expected[`${s}.success`] = [mean(mine.map((r) => (r.pass ? 1 : 0))), "pct"];
    expected[`${s}.episodes`] = [mine.length, "int"];
  }
  for (const g of new Set(rows.map((r) => r.generation))) {
    const mine = rows.filter((r) => r.generation === g);
    expected[`generation.${g}.success`] = [mean(mine.map((r) => (r.pass ? 1 : 0))), "pct"];
    expected[`generation.${g}.meanFitness`] = [mean(mine.map((r) => r.composite)), "dec"];
  }
  const runDoc = await buildReport("run", TEST_RUN_ID, { db, built });
  const run: Case = { kind: "run", file: (await writeReport(runDoc, { out: join(dir, "run.html") })).path, expected, labMini: false, minCharts: 4 };

  const out = join(dir, "dataset");
  await buildDataset({ db }, {
    out,
    config: datasetsConfig({ tiers: { gold: 0.9, silver: 0.5, bronze: 0 }, stages: { core: { size: 3, min_fitness: 0.5, levels: [1, 2] } } }),
    guard: LeakageGuard.fromCatalog(challenges),
  });
  const manifests: DatasetManifest[] = [];
  for await (const e of Deno.readDir(out)) if (e.name.endsWith(".manifest.json")) manifests.push(JSON.parse(await Deno.readTextFile(join(out, e.name))));
  const train = manifests.find((m) => m.file === "train.jsonl")!;
  const dexp: Case["expected"] = {};
  for (const t of ["gold", "silver", "bronze"]) dexp[`train.jsonl.tier.${t}`] = [train.counts.byTier[t] ?? 0, "int"];
  for (const m of manifests) {
    dexp[`${m.file}.rows`] = [m.rows, "int"];
    if (m.stage) dexp[`stage.${m.stage.name}.selected`] = [m.stage.selected, "int"];
  }
  dexp["excluded.failedTurn"] = [train.excluded!.failedTurn, "int"];
  expect(train.rows).toBeGreaterThan(0);
  const dataset: Case = { kind: "dataset", file: (await writeReport(await buildReport("dataset", out, { built }), { out: join(dir, "dataset.html") })).path, expected: dexp, labMini: false, minCharts: 1 };
  return [run, dataset];
}

async function experimentCase(): Promise<Case> {
  const path = repoPath("lab", "evals", "self_improve_results.json");
  const r = JSON.parse(await Deno.readTextFile(path));
  const expected: Case["expected"] = {};
  for (const [split, c] of Object.entries(r.comparisons) as [string, { rates: { arm: string; level: unknown; estimate: number; episodes: number }[]; lifts: { arm: string; level: unknown; estimate: number }[] }][]) {
    for (const x of c.rates.filter((x) => x.level === "all")) {
      expected[`${split}.${x.arm}.success`] = [x.estimate, "pct"];
      expected[`${split}.${x.arm}.episodes`] = [x.episodes, "int"];
    }
    for (const x of c.lifts.filter((x) => x.level === "all")) expected[`${split}.${x.arm}.lift`] = [x.estimate, "pts"];
  }
  for (const x of r.rounds) expected[`round.${x.round}.passAt1`] = [x.tournament.passAt1, "pct"];
  const doc = await buildReport("experiment", path, { built });
  return { kind: "experiment", file: (await writeReport(doc, { out: join(dir, "experiment.html") })).path, expected, labMini: true, minCharts: 2 };
}

async function modelCase(): Promise<Case> {
  const path = join(dir, "registry.duckdb");
  const registry = await Registry.open(path);
  const common = { base: "lab-mini", category: "all", provider: "lab", datasetHash: "d".repeat(64) };
  const core = await registry.register({ ...common, providerModel: "ft:lab-mini:core:0123456789ab", trainedFrom: "lab-mini", jobId: "ftjob-1", stage: "core", parent: null, metrics: { train_loss: 0.4321, n_epochs: 3, learning_rate: 0.01 } });
  const ext = await registry.register({ ...common, providerModel: "ft:lab-mini:extended:abcdef012345", trainedFrom: core.providerModel, jobId: "ftjob-2", stage: "extended", parent: core.name, metrics: { train_loss: 0.2109, valid_loss: 0.25, n_epochs: 2, learning_rate: 0.005 } });
  await registry.mark(ext.name, "awaiting_promotion", { actor: "ci", reason: "the last stage of its run" });
  await registry.promote(ext.name, { actor: "reviewer", reason: "A/B: promote_B" });
  const cycles = new CycleStore(path);
  const cycle = await cycles.open("lab-mini", "all", { gold: 12, total: 40, avgQuality: 0.8 }, "h".repeat(64), "new data");
  const evaluation = { lift: 0.12, lo: 0.03, hi: 0.21, recommendation: "promote_B", reasons: ["win rate 70.0 % ≥ 65.0 %", "p 0.0001 < 0.05"], ab: { wins: 70, ties: 5, losses: 30, winRate: 0.7, interval: { lo: 0.6, hi: 0.78 }, pValue: 0.0001, stage: "final" }, baselineRate: 0.4, candidateRate: 0.52, pairs: 105, clusters: 12 };
  await cycles.update(cycle, { state: "deployed", version: ext.name, baseline: "lab-mini", evaluation, reason: "promoted" });
  const v = await registry.get(ext.name);
  const expected: Case["expected"] = {
    [`${core.name}.train_loss`]: [core.metrics.train_loss as number, "dec4"],
    [`${ext.name}.train_loss`]: [v.metrics.train_loss as number, "dec4"],
    "ab.lift": [evaluation.lift, "pts"],
  };
  const doc = await buildReport("model", ext.name, { registry: path, built });
  return { kind: "model", file: (await writeReport(doc, { out: join(dir, "model.html") })).path, expected, texts: { [`${ext.name}.status`]: v.status, "ab.recommendation": "promote_B" }, labMini: true, minCharts: 2 };
}

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-report-browser-" });
  const launch = chromium.launch({
    executablePath: findChromium(),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  cases.push(await suiteCase(), ...await runAndDatasetCases(), await experimentCase(), await modelCase());
  browser = await launch;
  await Deno.mkdir(SHOTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await pool?.close();
  if (dir) await Deno.remove(dir, { recursive: true });
});

describe("reports in a real browser", () => {
  for (const kind of ["suite", "run", "dataset", "experiment", "model"] as const) {
    it(`${kind}: no console error, no request, charts drawn, lab-mini labels, headline numbers equal the source's`, async () => {
      const c = cases.find((x) => x.kind === kind)!;
      const page = await browser!.newPage({ viewport: { width: 1200, height: 900 } });
      const url = new URL(`file://${c.file}`).href;
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("request", (r) => void requests.push(r.url()));
      await page.route("**/*", (route) => (route.request().url() === url ? route.continue() : route.abort()));
      await page.goto(url, { waitUntil: "load" });
      expect(errors).toEqual([]);
      expect(requests).toEqual([url]);

      const charts = await page.$$eval("figure.chart", (figs) =>
        figs.map((f) => {
          const box = f.querySelector("svg")?.getBoundingClientRect();
          const spec = f.querySelector("script.vega-lite-spec")?.textContent ?? "";
          return { w: box?.width ?? 0, h: box?.height ?? 0, spec, caption: f.querySelector("figcaption")?.textContent ?? "" };
        })
      );
      expect(charts.length).toBeGreaterThanOrEqual(c.minCharts);
      for (const ch of charts) {
        expect(ch.w).toBeGreaterThan(0);
        expect(ch.h).toBeGreaterThan(0);
        expect(JSON.parse(ch.spec).$schema).toMatch(/vega-lite/);
        if (c.labMini) expect(ch.caption).toContain(LAB_MINI_LABEL);
      }
      expect(await page.locator("#lab-mini-label").count()).toBe(c.labMini ? 1 : 0);

      const cells = Object.fromEntries(
        await page.$$eval("[data-key]", (els) => els.map((e) => [e.getAttribute("data-key")!, { value: e.getAttribute("data-value"), text: e.textContent ?? "" }])),
      ) as Record<string, { value: string; text: string }>;
      const found: Record<string, [number, string]> = {};
      const want: Record<string, [number, string]> = {};
      for (const [key, [value, format]] of Object.entries(c.expected)) {
        want[key] = [value, shown(value, format)];
        const cell = cells[key];
        found[key] = cell ? [Number(cell.value), cell.text.includes(shown(value, format)) ? shown(value, format) : cell.text] : [NaN, "missing"];
        if (cell) found[key][0] = Math.abs(found[key][0] - value) < 1e-9 ? value : found[key][0];
      }
      expect(found).toEqual(want);
      for (const [key, text] of Object.entries(c.texts ?? {})) expect(cells[key]?.text).toBe(text);
      expect(await page.locator("#reading").textContent()).toMatch(/What this shows\./);

      await page.emulateMedia({ media: "print" });
      expect(await page.locator("figure.chart svg").first().isVisible()).toBe(true);
      await page.emulateMedia({ media: "screen" });
      await page.screenshot({ path: join(SHOTS, `${kind}.png`), fullPage: true });
      expect((await Deno.stat(join(SHOTS, `${kind}.png`))).size).toBeGreaterThan(10_000);
      await page.close();
    });
  }
});

describe("lab report on bad input", () => {
  it("names the file and what is wrong, and writes nothing", async () => {
    const bad = join(dir, "bad.json");
    await Deno.writeTextFile(bad, JSON.stringify({ suite: "x", pins: {}, episodes: [{ arm: "base" }] }));
    await expect(buildReport("suite", bad)).rejects.toThrow(/bad\.json: not an EvalRun: episodes\[0\] needs arm, challengeId, family, split/);
    await expect(buildReport("experiment", bad)).rejects.toThrow(/bad\.json: not an experiment result/);
    await expect(buildReport("model", "lab-mini-all-v9", { registry: join(dir, "registry.duckdb") })).rejects.toThrow(/no version 'lab-mini-all-v9'/);
    await expect(buildReport("run", "nope", { db: join(dir, "lab.duckdb") })).rejects.toThrow(/no run 'nope' in .*lab\.duckdb: its runs include test-run/);
    await expect(buildReport("dataset", join(dir, "evals"))).rejects.toThrow(/no dataset manifest/);
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    expect(files.filter((f) => f.endsWith(".html"))).toEqual(["dataset.html", "experiment.html", "model.html", "run.html", "suite.html"]);
  });
});
