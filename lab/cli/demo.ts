/**
 * The main job, for now: build the sandbox, print its shape, list the tools, and walk one scripted episode
 * through the tools (schemaInfo → dbRead → submitAnswer), judged by the challenge's verifier; then lab-mini
 * attempts the same task; a small lab-mini tournament on train (3 strategies × 24 level-1/2 challenges × k=1 ×
 * 2 generations) runs into temporary stores, its episodes become patterns, and dev instances run with
 * injection off and on (same instances and seeds): the lift with its paired 95% CI. Then what the tournament taught
 * is curated (`buildDataset` from the demo's temporary stores): under configs/datasets.yaml as committed (printed:
 * an unmarked episode scores ≤ 0.65, so nothing reaches bronze), then with the self-improve experiment's lowered
 * tiers (`SELF_IMPROVE_CURATION`: every verified, leakage-checked, deduplicated pass kept). When that core set has
 * examples, lab-mini fine-tunes on it (core stage only) through the context's in-process server, the new version
 * is registered in a temporary registry, and it runs the lift's held-out instances and seeds (dev, or the external
 * set); its lift over the base model is printed with its interval clustered by family. When there is still nothing
 * to train on the demo says why and does not fine-tune. It ends with the loop's measured result — base vs context vs
 * fine-tuned on the same instances and seeds, as one table with intervals (or the note why there is none) — and
 * writes the report of what it ran (`lab/report`'s `demo` kind, `data/reports/demo-<scale>.html`), printing its
 * path as the last line (with `--json`, as the document's `report`).
 */
import { ensureSandbox, type SandboxSpec, SandboxPool } from "../sandbox/mod.ts";
import { LabContext } from "../context.ts";
import { callTool, createToolContext, type ToolResult, TOOLS } from "../tools/mod.ts";
import { type Challenge, loadCatalog, verifyEpisode } from "../challenges/mod.ts";
import { displayPath, LabError, progressBar } from "../util/mod.ts";
import { formatManifest } from "./_format.ts";
import { getStrategy, runEpisode } from "../agents/mod.ts";
import { formatGenerations, formatLeaderboard, parseTournamentConfig } from "../tournament/mod.ts";
import {
  compare,
  formatPatternLift,
  LAB_MINI_LABEL,
  liftCell,
  patternLift,
  rateCell,
  runSuite,
  SELF_IMPROVE_CURATION,
  type SplitLift,
  type SuiteEpisode,
} from "../evals/mod.ts";
import {
  buildDataset,
  type BuildSummary,
  buildSummary,
  datasetFileName,
  datasetsConfig,
  type DatasetsConfig,
  formatBuildSummary,
  LeakageGuard,
} from "../datasets/mod.ts";
import { fineTuneClient, formatLift, Registry, runStages, seed000Stages } from "../finetune/mod.ts";
import type { DemoArm, DemoRun } from "../report/mod.ts";

/** Options of {@linkcode runDemo}. */
export interface DemoOptions {
  spec: SandboxSpec;
  orgId: number;
  /** Print one JSON document instead of text. */
  json?: boolean;
  /** Where sandboxes are cached. @default "data/sandbox" */
  dir?: string;
  /** Challenge files or folders the injection lift is measured on instead of `dev` (split `external`). */
  external?: readonly string[];
}

/** The scripted episode's steps: what a competent agent does for "revenue this month". */
const SCRIPT: { tool: string; args: Record<string, unknown> }[] = [
  { tool: "schemaInfo", args: { intent: "monthly revenue from sales invoices" } },
  {
    tool: "dbRead",
    args: { sql: "SELECT month, invoice_count, revenue FROM v_monthly_revenue WHERE month = date_trunc('month', current_date)" },
  },
];

function summarize(r: ToolResult): string {
  if (!r.ok) return `error: ${r.error}`;
  if (Array.isArray(r.rows)) return `${r.rowCount} row(s): ${JSON.stringify(r.rows).slice(0, 160)}`;
  if (Array.isArray(r.tables)) return `${r.tables.length} table(s) described (as-of ${r.asOf}): ${(r.tables as { name: string }[]).map((t) => t.name).join(", ")}`;
  return "ok";
}

/** Runs the demo and returns the exit code (0 when the scripted episode passes its verifier). */
export async function runDemo(options: DemoOptions): Promise<number> {
  const log = options.json ? () => {} : (s = "") => console.log(s);
  // Every config the demo reads is read and checked here, before the sandbox is built or any store is written.
  const config = parseTournamentConfig({
    model: "lab-mini",
    strategies: ["alpha", "beta", "gamma"],
    challenges: { levels: [1, 2], max_instances: 24 },
    attempts: 1,
    generations: 2,
    concurrency: 2,
    sandbox: { scale: options.spec.scale, seed: options.spec.seed, as_of: options.spec.asOf },
  }, "the demo's tournament");
  // Temporary stores, so repeated demos are independent of data/lab.duckdb and data/patterns.duckdb.
  const tmp = await Deno.makeTempDir({ prefix: "lab-demo-tournament-" });
  await using _tmp = { [Symbol.asyncDispose]: () => Deno.remove(tmp, { recursive: true }).catch(() => {}) };
  await using lab = await LabContext.open({
    db: `${tmp}/demo.duckdb`,
    patternsDb: `${tmp}/patterns.duckdb`,
    sandboxDir: options.dir,
    serving: { modelsDir: `${tmp}/ft`, dataDir: `${tmp}/serve` },
  });
  const strategies = lab.strategies;
  const strategy = getStrategy(strategies, "gamma");
  const revenueFamily = await loadCatalog({ family: "revenue_for_period" });
  // A researcher's own set is read (and a bad file refused) before anything is built.
  if (options.external?.length) await loadCatalog({ extra: options.external, origin: "extra" });
  const heldOut = options.external?.length ? "the external set" : "dev";
  const bar = progressBar(`sandbox ${options.spec.scale}`, { quiet: options.json });
  const { path, manifest, built } = await ensureSandbox(options.spec, {
    dir: options.dir,
    onProgress: (m, f) => bar.update(f, m),
  });
  bar.done(built ? `built ${path}` : `cached ${path}`);
  if (!manifest.orgs.some((o) => o.org_id === options.orgId)) {
    throw new LabError(`--org ${options.orgId} is not a tenant of this sandbox; tenants: ${manifest.orgs.map((o) => o.org_id).join(", ")}`);
  }
  log(`\n== The ERP sandbox ==\n${formatManifest(manifest)}`);

  log(`\n== Agent tools ==`);
  for (const t of Object.values(TOOLS)) log(`  ${t.name.padEnd(13)} ${t.description.split(". ")[0]}`);

  const challenge = revenueFamily.find((c) => c.params.period === "current_month" && c.orgId === options.orgId);
  if (!challenge) throw new LabError(`no 'revenue for this month' challenge for org ${options.orgId} in data/challenges`);

  log(`\n== A scripted episode ==\nchallenge ${challenge.id} (level ${challenge.level}, ${challenge.category}, role ${challenge.role})\ntask: ${challenge.task}`);
  await using pool = await SandboxPool.open(path, { size: 1 });
  await using ep = await pool.acquire(challenge.orgId, { role: challenge.role });
  const ctx = createToolContext(ep);
  const steps: { tool: string; args: unknown; result: string; ms: number }[] = [];
  let revenue: unknown;
  for (const [i, step] of SCRIPT.entries()) {
    const r = await callTool(ctx, step.tool, step.args);
    if (step.tool === "dbRead" && r.ok) revenue = (r.rows as Record<string, unknown>[])[0]?.revenue ?? 0;
    steps.push({ tool: step.tool, args: step.args, result: summarize(r), ms: r.elapsedMs });
    log(`  ${i + 1}. ${step.tool}(${JSON.stringify(step.args)})\n     → ${summarize(r)} (${r.elapsedMs} ms)`);
  }
  const submit = await callTool(ctx, "submitAnswer", { answer: revenue ?? null, summary: "Revenue of the current month" });
  steps.push({ tool: "submitAnswer", args: { answer: revenue }, result: summarize(submit), ms: submit.elapsedMs });
  log(`  ${SCRIPT.length + 1}. submitAnswer(${JSON.stringify({ answer: revenue })})\n     → ${summarize(submit)}`);
  const verdict = await verifyEpisode(challenge, ctx);
  log(`\nverdict (by execution against the episode's starting state): ${verdict.pass ? "PASS" : "FAIL"} · score ${verdict.score.toFixed(2)}\n  ${verdict.reason}`);
  log(`  steps ${steps.length} vs optimal ${challenge.optimalSteps ?? "?"}; queries ${ctx.log.queries.length}, ok ${ctx.log.queries.filter((q) => q.ok).length}`);
  // The same task, attempted by the embedded lab-mini model through the lab's OpenAI-compatible server (the
  // path a hosted model takes): runner → LangChain client → HTTP → lab-mini.
  log(`\n== lab-mini attempts it (${LAB_MINI_LABEL}) ==`);
  const model = await lab.model("lab-mini", { http: true });
  const record = await runEpisode({ challenge, strategy, model, attempt: 1, seed: options.spec.seed }, { pool });
  for (const [i, t] of record.toolCalls.entries()) {
    log(`  ${i + 1}. ${t.name}(${JSON.stringify(t.args).slice(0, 140)}) → ${t.ok ? "ok" : `error: ${t.error}`}`);
  }
  log(`verdict: ${record.verdict.pass ? "PASS" : "FAIL"} · score ${record.verdict.score.toFixed(2)} · ${record.verdict.reason}`);
  log(`  strategy ${record.strategyId}, stop: ${record.stopReason}, tokens ${record.tokens.total}, fitness ${record.fitness.composite.toFixed(3)}`);

  log(`\n== Learning from a tournament: lab-mini, 3 strategies × 24 train challenges × k=1 × 2 generations → patterns → ${heldOut} ==`);
  const lift = await patternLift({ db: lab.db, model, strategies, pool, stats: { resamples: 500 } }, {
    config,
    store: await lab.patternStore(),
    patternsConfig: lab.patterns,
    runId: "demo",
    strategy: "gamma",
    ...(options.external?.length ? { external: options.external } : { splits: ["dev"] }),
    instances: 24,
    seeds: 1,
  });
  const run = lift.tournament;
  if (run.generations.length) log(formatGenerations(run.generations));
  log(`\n${formatLeaderboard(run.leaderboard)}`);
  const shown = run.challenges.slice(0, 3).join(", ");
  log(`(${run.episodes.stored} episodes in ${(run.elapsedMs / 1000).toFixed(1)} s on ${run.challenges.length} train challenges: ${shown}${run.challenges.length > 3 ? ", …" : ""})`);
  log(`\n== Does injecting what was learned help on ${heldOut}? (same instances and seeds, injection off vs on) ==`);
  log(formatPatternLift(lift));

  log(`\n== Curating what it learned, then fine-tuning on it (configs/datasets.yaml's weights; the tiers as committed, then lowered) ==`);
  const held = lift.splits[0];
  // The fine-tuned arm runs the lift's own held-out instances and seeds, so base, context and fine-tuned pair.
  const ids = new Set(held.episodes.map((e) => e.challengeId));
  const heldChallenges = (await loadCatalog(options.external?.length ? { extra: options.external } : {})).filter((c) => ids.has(c.id));
  const curated = await curateAndFineTune(lab, { tmp, pool, seed: options.spec.seed, held, challenges: heldChallenges, log });
  const headline = loopHeadline(held, curated, { strategy: lift.strategy, model: lift.model.name, families: new Set(heldChallenges.map((c) => c.family)).size });
  log(`\n== The loop's result on ${heldOut}: base vs context vs fine-tuned (same instances and seeds; 95% CI clustered by family) ==`);
  log(formatHeadline(headline));
  const doc = {
      sandbox: { path, ...manifest },
      tools: Object.keys(TOOLS),
      challenge: { id: challenge.id, task: challenge.task },
      steps,
      verdict,
      labMini: {
        model: record.model,
        strategy: record.strategyId,
        tools: record.toolCalls.map((t) => t.name),
        stopReason: record.stopReason,
        verdict: record.verdict,
      },
      tournament: {
        model: run.model,
        challenges: run.challenges,
        episodes: run.episodes.stored,
        generations: run.generations.map((g) => ({
          generation: g.generation,
          population: g.population,
          replaced: g.replaced,
          children: g.children,
        })),
        leaderboard: run.leaderboard,
      },
      patternLift: {
        patterns: lift.patterns,
        splits: lift.splits.map((sp) => ({
          split: sp.split,
          pairs: sp.lift.pairs,
          off: sp.off.success.estimate,
          on: sp.on.success.estimate,
          lift: sp.lift.success,
          reuseRate: sp.injection.reuseRate,
        })),
      },
      dataset: curated.dataset,
      fineTuneDataset: curated.fineTuneDataset,
      fineTune: curated.fineTune,
      headline,
      label: lift.label,
  };
  // The report door is loaded here only: its charting dependencies are heavy for the rest of the demo.
  const { demoReport, writeReport } = await import("../report/mod.ts");
  const report = await writeReport(await demoReport(doc, options.spec.scale));
  if (options.json) console.log(JSON.stringify({ ...doc, report: report.path }, null, 2));
  else log(`\n== The report of what ran ==\n${displayPath(report.path)}`);
  return verdict.pass ? 0 : 1;
}

/**
 * The loop's measured result on the held-out split: the lift's `off` (base) and `on` (context) episodes and the
 * fine-tuned arm's, on the same instances and seeds, compared with base (rates and paired lifts clustered by family;
 * no interval under 10 families, with the note saying so).
 */
function loopHeadline(held: SplitLift, curated: CuratedStep, o: { strategy: string; model: string; families: number }): DemoRun["headline"] {
  const relabel = (arm: string, as: string) => held.episodes.filter((e) => e.arm === arm).map((e) => ({ ...e, arm: as }));
  const episodes: SuiteEpisode[] = [...relabel("off", "base"), ...relabel("on", "context"), ...curated.episodes];
  const c = compare(episodes, { control: "base" });
  const arms = ["base", "context", ...(curated.episodes.length ? ["finetuned"] : [])];
  // The lift's arms name their model "env" (the environment's model): the headline names it.
  const model = (arm: string) => (arm === "finetuned" ? episodes.find((e) => e.arm === arm)!.model : o.model);
  return {
    split: held.split,
    instances: held.challenges,
    families: o.families,
    seeds: held.seeds,
    strategy: o.strategy,
    arms: arms.map((arm): DemoArm => {
      const r = rateCell(c, arm)!;
      const l = arm === "base" ? undefined : liftCell(c, arm)!;
      return {
        arm,
        model: model(arm),
        passes: r.passes,
        episodes: r.episodes,
        success: { estimate: r.estimate, lo: r.lo, hi: r.hi, note: r.note ?? null },
        lift: l ? { estimate: l.estimate, lo: l.lo, hi: l.hi, note: l.note ?? null, pairs: l.pairs, clusters: l.clusters, pValue: l.pValue } : null,
      };
    }),
    missing: "skipped" in curated.fineTune ? [`No fine-tuned arm: ${curated.fineTune.skipped}.`] : [],
  };
}

/** The headline as a text table. */
function formatHeadline(h: DemoRun["headline"]): string {
  const p = (x: number) => (100 * x).toFixed(1);
  const s = (x: number) => `${x >= 0 ? "+" : "−"}${p(Math.abs(x))}`;
  type E = { estimate: number; lo: number | null; hi: number | null; note?: string | null };
  const est = (e: E, f: (x: number) => string) => (e.lo === null || e.hi === null ? `${f(e.estimate)} (no interval)` : `${f(e.estimate)} [${f(e.lo)}, ${f(e.hi)}]`);
  const notes = [...new Set(h.arms.flatMap((a) => [a.success, ...(a.lift ? [a.lift] : [])]).filter((e) => e.lo === null && e.note).map((e) => e.note!))];
  return [
    `${h.split}: ${h.instances} instances (${h.families} families) × seed${h.seeds.length === 1 ? "" : "s"} ${h.seeds.join(", ")}, strategy ${h.strategy}`,
    `  ${"arm".padEnd(11)}${"model".padEnd(34)}${"passed".padEnd(9)}${"success %".padEnd(22)}vs base, points`,
    ...h.arms.map((a) =>
      `  ${a.arm.padEnd(11)}${a.model.padEnd(34)}${`${a.passes}/${a.episodes}`.padEnd(9)}${est(a.success, p).padEnd(22)}${a.lift ? est(a.lift, s) : "—"}`
    ),
    ...notes.map((n) => `  no interval: ${n}`),
    ...h.missing,
  ].join("\n");
}

/** What the demo's curation and fine-tuning step reports (`--json`), and the fine-tuned arm's episodes. */
interface CuratedStep {
  /** The fine-tuned arm's episodes on the held-out instances and seeds (none when it was skipped). */
  episodes: SuiteEpisode[];
  /** The curation under configs/datasets.yaml as committed. */
  dataset: BuildSummary;
  /** The curation the demo fine-tunes on: the committed config with {@linkcode SELF_IMPROVE_CURATION}'s lowered tiers. */
  fineTuneDataset: { tiers: DatasetsConfig["tiers"]; summary: BuildSummary };
  /** `skipped` says why when there is nothing to train on; otherwise the version, its stage and its dev lift over the base. */
  fineTune:
    | { skipped: string }
    | {
      version: string;
      model: string;
      stage: string;
      examples: number;
      status: string;
      lift: { estimate: number; lo: number | null; hi: number | null; base: number; fineTuned: number; pairs: number; clusters: number; note: string | null };
    };
}

const tiersText = (t: DatasetsConfig["tiers"]) => `gold ${t.gold}, silver ${t.silver}, bronze ${t.bronze}`;

/** Why a curation gave the core stage nothing to train on, from its counts and the stage's floor. */
function whyNoCore(s: BuildSummary, config: DatasetsConfig): string {
  if (!s.accepted) {
    const passes = s.read - s.excluded.failedTurn - s.excluded.markedWrong;
    return passes
      ? `none of the ${passes} verified passes survives curation (${formatBuildSummary(s)})`
      : `the tournament and the patterns hold no verified pass (${s.read} examples read, ${s.excluded.failedTurn} failed turns)`;
  }
  const core = config.stages.core;
  return `${s.accepted} accepted passes, but none reaches the core stage (composite fitness ≥ ${core.min_fitness}` +
    `${core.levels ? ` at levels ${core.levels.join(", ")}` : ""}: configs/datasets.yaml's stages)`;
}

/**
 * Curates the demo's temporary stores twice — under configs/datasets.yaml as committed (printed for reference) and
 * with the expert-iteration experiment's lowered tiers ({@linkcode SELF_IMPROVE_CURATION}: an unmarked episode scores
 * ≤ 0.65, so nothing reaches the committed bronze) into `<tmp>/dataset` —, and when the second's core set has examples
 * fine-tunes lab-mini's core stage through the context's in-process server (trained models in `tmp`), registers the
 * version in a temporary registry and runs it on the lift's held-out instances and seeds with the lift's strategy;
 * its lift over the lift's `off` arm (the base model on the same pairs) is clustered by family.
 */
async function curateAndFineTune(
  lab: LabContext,
  o: { tmp: string; pool: SandboxPool; seed: number; held: SplitLift; challenges: readonly Challenge[]; log: (s?: string) => void },
): Promise<CuratedStep> {
  const t0 = performance.now();
  const committed = await lab.datasets();
  const sources = { db: lab.db, patterns: await lab.patternStore() };
  const guard = LeakageGuard.fromCatalog(await loadCatalog());
  const dataset = buildSummary(await buildDataset(sources, { out: `${o.tmp}/dataset-committed`, config: committed, guard }));
  o.log(`configs/datasets.yaml's tiers (${tiersText(committed.tiers)}): ${formatBuildSummary(dataset)}`);
  const lowered = datasetsConfig({ ...committed, tiers: SELF_IMPROVE_CURATION.tiers }, "the demo's curation (configs/datasets.yaml, lowered tiers)");
  const summary = buildSummary(await buildDataset(sources, { out: `${o.tmp}/dataset`, config: lowered, guard }));
  o.log(`curated with lowered tiers: ${tiersText(lowered.tiers)} (the self-improve experiment's override: every verified, leakage-checked, ` +
    `deduplicated pass is kept; configs/datasets.yaml keeps its tiers): ${formatBuildSummary(summary)}`);
  const fineTuneDataset = { tiers: lowered.tiers, summary };
  const core = summary.stages.core ?? 0;
  if (!core) {
    const skipped = `nothing to fine-tune on: ${whyNoCore(summary, lowered)}, so the demo does not fine-tune`;
    o.log(skipped);
    return { episodes: [], dataset, fineTuneDataset, fineTune: { skipped } };
  }
  const registry = await Registry.open(`${o.tmp}/registry.duckdb`);
  const server = await lab.server();
  const stages = seed000Stages({ core: `${o.tmp}/dataset/${datasetFileName("core", "openai")}` });
  const run = await runStages(fineTuneClient(server.url), stages, { base: "lab-mini", registry, seed: o.seed, pollMs: 20 });
  const version = run.final ?? run.versions.at(-1);
  if (run.status !== "succeeded" || !version) {
    const skipped = `the core stage's job ${run.status} (${core} examples); no version to evaluate`;
    o.log(skipped);
    return { episodes: [], dataset, fineTuneDataset, fineTune: { skipped } };
  }
  o.log(`core stage: ${core} example${core === 1 ? "" : "s"}, ${stages[0].epochs} epochs at lr ${stages[0].learningRate} → ${version.name} (${version.providerModel}), ${version.status} in a temporary registry`);
  // The base arm is the lift's `off` arm: the same model, strategy, instances and seeds, run once.
  const base = o.held.episodes.filter((e) => e.arm === "off");
  const strategy = getStrategy(lab.strategies, base[0].strategyId);
  const ft = await runSuite({ name: "demo fine-tuned", challenges: o.challenges, seeds: o.held.seeds, arms: [{ id: "finetuned", model: version.providerModel, strategy }] }, {
    models: await lab.servedModels("lab-mini"),
    pool: o.pool,
    fitness: lab.strategies.fitness,
  });
  const c = compare([...base, ...ft.episodes], { control: "off", arms: ["finetuned"] });
  const l = liftCell(c, "finetuned")!;
  const r = { lift: l.estimate, lo: l.lo, hi: l.hi, baselineRate: rateCell(c, "off")!.estimate, candidateRate: rateCell(c, "finetuned")!.estimate, pairs: l.pairs, clusters: l.clusters, note: l.note ?? null };
  o.log(`${o.held.split} lift of ${version.name} over lab-mini (pass, ${r.pairs} pairs, 95% CI clustered by ${r.clusters} families): ${formatLift(r)}` +
    `${r.note ? ` — ${r.note}` : ""} [${((performance.now() - t0) / 1000).toFixed(1)} s]`);
  return {
    episodes: ft.episodes,
    dataset,
    fineTuneDataset,
    fineTune: {
      version: version.name,
      model: version.providerModel,
      stage: "core",
      examples: core,
      status: version.status,
      lift: { estimate: r.lift, lo: r.lo, hi: r.hi, base: r.baselineRate, fineTuned: r.candidateRate, pairs: r.pairs, clusters: r.clusters, note: r.note },
    },
  };
}
