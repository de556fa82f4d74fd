/**
 * `lab finetune run | status | promote | rollback | list | orchestrate | ab | monitor`: progressive fine-tuning (seed
 * 000's stages) through an OpenAI-shaped fine-tuning API — the lab's own server by default, started in this process —
 * the model registry (`data/registry.duckdb`) with its promotion and rollback, seed 001's orchestrator (one call per
 * cron tick, its candidates evaluated by the A/B shadow test on `dev`), that A/B test on its own, and the rollback
 * monitor of a promoted version. The A/B and monitor defaults are configs/finetune.yaml's `ab:` and `monitor:`.
 */
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { intOption, UsageError } from "./_args.ts";
import { existsSync } from "node:fs";
import {
  type AbConfig,
  CycleStore,
  datasetFolderCollector,
  DEFAULT_REGISTRY_PATH,
  type Evaluate,
  FINETUNE_CONFIG_FILE,
  loadFinetuneConfig,
  orchestrateOnce,
  FINETUNE_ENDPOINTS,
  type FineTuneClient,
  fineTuneClient,
  type FineTuneProvider,
  type ModelVersion,
  Registry,
  runStages,
  seed000Stages,
  type StageProgress,
  VERSION_STATUSES,
  type VersionStatus,
} from "../finetune/mod.ts";
import { defaultBackends, defaultTrainers, fineTunedLoader, getModelConfig } from "../models/mod.ts";
import { getStrategy, type Strategy } from "../agents/mod.ts";
import { loadCatalog } from "../challenges/mod.ts";
import {
  type AbCriteria,
  type AbEvaluation,
  abEvaluator,
  type EvalRun,
  pickInstances,
  promotedVersionMonitor,
  readEvalRun,
  reestimateOnTestId,
  type RollbackOutcome,
  type RollingCheck,
  runSuite,
  type SuiteDeps,
  suiteEvaluator,
  TEST_ID_METRIC,
  type TestIdEstimate,
} from "../evals/mod.ts";
import { LabContext } from "../context.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { displayPath, isUserError, LabError, repoPath, writeTextAtomic } from "../util/mod.ts";
import { interruptOnCtrlC } from "./_endpoint.ts";

const REGISTRY_OPTION = {
  registry: { type: "string", description: "The model registry (DuckDB)", default: displayPath(DEFAULT_REGISTRY_PATH) },
} as const;

/** Where the in-process server keeps its files and jobs, so a resumed run finds them. */
const LOCAL_SERVE_DIR = repoPath("data/serve");

/** The registry at `--registry`; with `mustExist`, a missing file is a one-line error. */
async function registryOf(args: ParsedArgs, mustExist = true): Promise<Registry> {
  const path = String(args.values.registry);
  if (mustExist && !existsSync(path)) throw new LabError(`no model registry at ${path}: 'lab finetune run' creates it`);
  return await Registry.open(path);
}

/** The one positional argument naming a version. */
function versionArg(args: ParsedArgs, what: string): string {
  if (args.positionals.length !== 1) throw new UsageError(`give the version to ${what}, e.g. lab-mini-all-v2 ('lab finetune list' shows them)`);
  return args.positionals[0];
}

const change = (args: ParsedArgs) => ({
  ...(typeof args.values.actor === "string" ? { actor: args.values.actor } : {}),
  ...(typeof args.values.reason === "string" ? { reason: args.values.reason } : {}),
});

const CHANGE_OPTIONS = {
  reason: { type: "string", description: "Why (kept in the audit trail)" },
  actor: { type: "string", description: "Who (default: $USER)" },
} as const;

function versionsTable(vs: ModelVersion[]): string {
  if (!vs.length) return "(no versions)";
  const rows = [
    ["version", "status", "stage", "parent", "provider model", "train loss", "created"],
    ...vs.map((v) => [
      v.name,
      v.status,
      v.stage ?? "-",
      v.parent ?? "-",
      v.providerModel,
      typeof v.metrics.train_loss === "number" ? v.metrics.train_loss.toFixed(4) : "-",
      v.createdAt.slice(0, 19).replace("T", " "),
    ]),
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd()).join("\n");
}

function progressLine(e: StageProgress): string | undefined {
  switch (e.kind) {
    case "resumed":
      return `${e.stage}: resumed (${e.status})`;
    case "uploaded":
      return `${e.stage}: uploaded ${e.fileId}`;
    case "created":
      return `${e.stage}: job ${e.jobId}`;
    case "event":
      return e.event.data ? undefined : `${e.stage}: ${e.event.message}`;
    case "finished":
      return `${e.stage}: ${e.status}${e.version ? ` → ${e.version}` : ""}`;
  }
}

/** The A/B criteria of configs/finetune.yaml's `ab:` section. */
const abCriteriaOf = (ab: AbConfig): AbCriteria => ({ minNonTied: ab.min_non_tied, minWinRate: ab.min_win_rate, alpha: ab.alpha });

/** A share option in (0, 1], else `fallback` (the config's) when it is not given. */
function shareOption(args: ParsedArgs, name: string, fallback: number): number {
  const raw = args.values[name];
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (String(raw).trim() === "" || !(x > 0 && x <= 1)) throw new UsageError(`--${name} must be a share in (0, 1], found '${raw}'`);
  return x;
}

/** A number option in [min, max], else `fallback` when it is not given. */
function numberOption(args: ParsedArgs, name: string, fallback: number, min: number, max: number): number {
  const raw = args.values[name];
  if (raw === undefined) return fallback;
  const x = Number(raw);
  if (String(raw).trim() === "" || !(x >= min && x <= max)) throw new UsageError(`--${name} must be a number in [${min}, ${max}], found '${raw}'`);
  return x;
}

/** A deployed version's success re-estimated once on `test_id` and recorded on it (the rollback monitor's reference). */
async function reestimate(
  registry: Registry,
  version: ModelVersion,
  o: { strategy: Strategy; baseline: string; perLevel: number; seeds: number[]; deps: SuiteDeps },
): Promise<TestIdEstimate> {
  return await reestimateOnTestId(version, {
    challenges: pickInstances((await loadCatalog()).filter((c) => c.split === "test_id"), [1, 2, 3, 4, 5], o.perLevel, o.seeds[0]),
    seeds: o.seeds,
    strategy: o.strategy,
    baseline: o.baseline,
    record: (name, metrics) => registry.recordMetrics(name, metrics, { reason: "test_id re-estimate after promotion" }),
    deps: o.deps,
  });
}

const estimateLine = (name: string, e: TestIdEstimate) =>
  `${name}: test_id success ${(e.rate * 100).toFixed(1)}% over ${e.episodes} episodes (${e.families} families), recorded as ${TEST_ID_METRIC}`;

/** A model an A/B compares: a registry version (by name or provider id) or a model id as given. */
interface AbSide {
  model: string;
  version: ModelVersion | null;
}

/**
 * `ref` as a registry version (its name, or its provider model id), else as a model id; a name shaped like a version
 * (`…-v<n>`) that the registry lacks is an error.
 */
async function abSide(registry: Registry | undefined, registryPath: string, ref: string, option: string): Promise<AbSide> {
  if (registry) {
    const byName = await registry.get(ref).catch((e) => {
      if (e instanceof LabError && e.message.startsWith("no version")) return undefined;
      throw e;
    });
    if (byName) return { model: byName.providerModel, version: byName };
    const byModel = (await registry.list()).find((v) => v.providerModel === ref);
    if (byModel) return { model: byModel.providerModel, version: byModel };
  }
  if (/^lab-.+-v\d+$/.test(ref)) {
    throw new UsageError(
      `${option} ${ref} looks like a version name, but ${registry ? `the registry ${displayPath(registryPath)} has no such version ('lab finetune list' shows them)` : `there is no model registry at ${displayPath(registryPath)}`}; give a version or a served model id`,
    );
  }
  return { model: ref, version: null };
}

const sideName = (s: AbSide) => (s.version ? `${s.version.name} (${s.model})` : s.model);
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const pFmt = (p: number) => (p < 1e-4 ? p.toExponential(2) : p.toFixed(4));
const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(3)}`;

/** What `lab finetune ab` did in the registry after the test. */
interface AbAction {
  kind: "awaiting_promotion" | "promoted" | "none";
  /** One line. */
  message: string;
}

/** The whole result `lab finetune ab --json` prints. */
interface AbCommandResult {
  candidate: { model: string; version: string | null };
  champion: { model: string; version: string | null };
  stream: { seed: number; rate: number; length: number };
  strategy: string;
  evalModel: string;
  evaluation: AbEvaluation;
  action: AbAction;
  reestimate: TestIdEstimate | null;
}

/** The lift clustered by family, beside the A/B's own figures (not one of its criteria). */
function liftLine(e: AbEvaluation): string {
  const interval = e.lo === null || e.hi === null ? "(no interval)" : `[${e.lo.toFixed(3)}, ${e.hi.toFixed(3)}]`;
  return `${signed(e.lift)} ${interval}: champion ${pct(e.baselineRate)}, candidate ${pct(e.candidateRate)} over ${e.pairs} paired tasks in ${e.clusters} families${
    e.note ? ` (${e.note})` : ""
  }`;
}

function abText(r: AbCommandResult, candidate: AbSide, champion: AbSide): string {
  const e = r.evaluation, ab = e.ab;
  return [
    `A/B shadow test on dev: candidate ${sideName(candidate)} vs champion ${sideName(champion)}, strategy ${r.strategy}`,
    `stream: seed ${r.stream.seed}, rate ${r.stream.rate}, ${r.stream.length} tasks at most; ${e.streamTasks} served, ${e.shadowed} shadowed`,
    `wins ${ab.wins}, ties ${ab.ties}, losses ${ab.losses}: ${ab.nonTied} non-tied${ab.ignored ? ` (${ab.ignored} past the horizon ignored)` : ""}`,
    `win rate ${ab.winRate === null ? "- (no non-tied comparison)" : `${pct(ab.winRate)} [${pct(ab.interval!.lo)}, ${pct(ab.interval!.hi)}] (Wilson 95 %)`}`,
    `sign test p = ${pFmt(ab.pValue)} (exact, two-sided)`,
    `recommendation: ${ab.recommendation} (${ab.stage}; fixed horizon of ${ab.criteria.minNonTied} non-tied, win rate ≥ ${pct(ab.criteria.minWinRate)}, p < ${ab.criteria.alpha})`,
    ...ab.reasons.map((x) => `  - ${x}`),
    `pass lift clustered by family (beside the A/B, not one of its criteria): ${liftLine(e)}`,
    r.action.message,
    ...(r.reestimate ? [estimateLine(r.candidate.version!, r.reestimate)] : []),
  ].join("\n");
}

function abMarkdown(r: AbCommandResult, candidate: AbSide, champion: AbSide): string {
  const e = r.evaluation, ab = e.ab;
  const row = (k: string, v: string) => `| ${k} | ${v.replaceAll("|", "\\|")} |`;
  return [
    `# A/B shadow test: ${candidate.version?.name ?? candidate.model} vs ${champion.version?.name ?? champion.model}`,
    "",
    `Candidate \`${candidate.model}\`, champion \`${champion.model}\`, strategy ${r.strategy}, on \`dev\`: stream seed ${r.stream.seed}, rate ${r.stream.rate}, ${r.stream.length} tasks at most (${e.streamTasks} served, ${e.shadowed} shadowed).`,
    "",
    "| figure | value |",
    "|---|---|",
    row("wins", String(ab.wins)),
    row("ties", String(ab.ties)),
    row("losses", String(ab.losses)),
    row("non-tied", `${ab.nonTied} of the ${ab.criteria.minNonTied} the fixed horizon decides on`),
    row("win rate (Wilson 95 %)", ab.winRate === null ? "-" : `${pct(ab.winRate)} [${pct(ab.interval!.lo)}, ${pct(ab.interval!.hi)}]`),
    row("sign test p (exact, two-sided)", pFmt(ab.pValue)),
    row("recommendation", `**${ab.recommendation}** (${ab.stage})`),
    row("pass lift clustered by family", liftLine(e)),
    "",
    "Reasons:",
    "",
    ...ab.reasons.map((x) => `- ${x}`),
    "",
    r.action.message,
    ...(r.reestimate ? ["", estimateLine(r.candidate.version!, r.reestimate)] : []),
    "",
  ].join("\n");
}

/** The rolling check of `lab finetune monitor`, as printed. */
interface MonitorCommandResult {
  version: string;
  model: string;
  runs: number;
  /** Episodes of the version fed to the monitor, in run order. */
  episodes: number;
  /** Episodes of other models, left out. */
  skipped: number;
  reference: number;
  window: number;
  threshold: number;
  level: number;
  autoRollback: boolean;
  fired: boolean;
  /** The 1-based episode at which the check fired, or null. */
  firedAt: number | null;
  /** The check when it fired, else after the last episode. */
  check: RollingCheck;
  outcome: RollbackOutcome | null;
}

/** Input problems of `lab finetune monitor` exit 2 (1 means the check fired). */
async function asUsage<T>(f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isUserError(e) && !(e instanceof UsageError)) throw new UsageError(e.message.split("\n")[0]);
    throw e;
  }
}

export const FINETUNE_COMMANDS: CommandSpec[] = [
  {
    name: "finetune run",
    summary: "Fine-tune in seed 000's progressive stages (core → extended → comprehensive) and register each version",
    options: {
      core: { type: "string", description: "Training file of the core stage (5 epochs at lr 1e-5)" },
      extended: { type: "string", description: "Training file of the extended stage (3 epochs at 5e-6, from the core model)" },
      comprehensive: { type: "string", description: "Training file of the comprehensive stage (1 epoch at 1e-6, from the extended model)" },
      base: { type: "string", description: "Base model to fine-tune", default: "lab-mini" },
      category: { type: "string", description: "Category of the version line (lab-{base}-{category}-v{n})", default: "all" },
      parent: { type: "string", description: "A registered version the first stage continues from (default: the base model)" },
      endpoint: { type: "string", description: "Fine-tuning provider", choices: Object.keys(FINETUNE_ENDPOINTS), default: "lab" },
      "base-url": { type: "string", description: "The provider's base URL (default for lab: a server started in this process, files and jobs in data/serve)" },
      ...REGISTRY_OPTION,
      "run-id": { type: "string", description: "Run id; the same id resumes the run (default: a hash of the stages, datasets and options)" },
      seed: { type: "string", description: "Training seed", default: "42" },
      "poll-ms": { type: "string", description: "How often a running job is polled", default: "1000" },
      json: { type: "boolean", description: "Print the result as JSON" },
    },
    examples: [
      "deno task lab finetune run --core data/datasets/core.jsonl --extended data/datasets/extended.jsonl --comprehensive data/datasets/comprehensive.jsonl",
      "deno task lab finetune run --core core.jsonl --base-url http://127.0.0.1:8787/v1",
      "TOGETHER_API_KEY=… deno task lab finetune run --endpoint together --base meta-llama/Meta-Llama-3.1-8B-Instruct-Reference --core core.jsonl",
    ],
    async run(args) {
      const stages = seed000Stages({ core: args.values.core as string | undefined, extended: args.values.extended as string | undefined, comprehensive: args.values.comprehensive as string | undefined });
      if (!stages.length) throw new UsageError("give at least one stage's training file (--core, --extended, --comprehensive)");
      const seed = intOption(args, "seed", 0), pollMs = intOption(args, "poll-ms", 1);
      const endpoint = String(args.values.endpoint) as FineTuneProvider;
      const baseUrl = args.values["base-url"] as string | undefined;
      const registry = await registryOf(args, false);
      let server: LocalServer | undefined;
      try {
        let client: FineTuneClient;
        if (endpoint === "lab" && !baseUrl) {
          server = await startServer({ backends: await defaultBackends(), trainers: defaultTrainers(), dataDir: LOCAL_SERVE_DIR, loadModel: fineTunedLoader() });
          client = fineTuneClient(server.url);
        } else {
          client = fineTuneClient(baseUrl ? { ...FINETUNE_ENDPOINTS[endpoint], baseUrl } : endpoint, { provider: endpoint });
        }
        using ctrlC = interruptOnCtrlC();
        const json = Boolean(args.values.json);
        const run = runStages(client, stages, {
          base: String(args.values.base),
          category: String(args.values.category),
          registry,
          seed,
          pollMs,
          signal: ctrlC.signal,
          ...(typeof args.values.parent === "string" ? { parent: args.values.parent } : {}),
          ...(typeof args.values["run-id"] === "string" ? { runId: args.values["run-id"] } : {}),
          onProgress: (e) => {
            const line = json ? undefined : progressLine(e);
            if (line) console.log(line);
          },
        });
        const result = await run.catch((e) => {
          if (!ctrlC.signal.aborted) throw e;
          throw new LabError("interrupted: the jobs go on at the provider; the same command resumes the run");
        });
        if (json) console.log(JSON.stringify(result, null, 2));
        else {
          console.log(`run ${result.runId}: ${result.status}`);
          if (result.versions.length) console.log(versionsTable(result.versions));
          if (result.final) console.log(`${result.final.name} awaits promotion: lab finetune promote ${result.final.name}`);
        }
        return result.status === "succeeded" ? 0 : 1;
      } finally {
        await server?.close();
      }
    },
  },
  {
    name: "finetune status",
    summary: "The stage jobs of fine-tuning runs and the versions awaiting promotion",
    options: { ...REGISTRY_OPTION, "run-id": { type: "string", description: "Only this run" }, json: { type: "boolean", description: "Print JSON" } },
    async run(args) {
      const registry = await registryOf(args);
      const jobs = await registry.stageJobs(args.values["run-id"] as string | undefined);
      const awaiting = await registry.list({ status: "awaiting_promotion" });
      const promoted = await registry.list({ status: "promoted" });
      if (args.values.json) {
        console.log(JSON.stringify({ jobs, awaiting, promoted }, null, 2));
        return;
      }
      if (!jobs.length) console.log("(no fine-tuning runs)");
      for (const j of jobs) console.log([j.runId, j.category, j.stage, j.status, j.jobId ?? "-", j.version ?? "-", j.error ?? ""].join("  ").trimEnd());
      if (awaiting.length) console.log(`awaiting promotion: ${awaiting.map((v) => v.name).join(", ")}`);
      if (promoted.length) console.log(`promoted: ${promoted.map((v) => v.name).join(", ")}`);
    },
  },
  {
    name: "finetune promote",
    summary: "Promote a version: the one promoted before it for its base and category is retired",
    positionals: ["version"],
    options: { ...REGISTRY_OPTION, ...CHANGE_OPTIONS },
    examples: ["deno task lab finetune promote lab-mini-all-v3 --reason 'dev lift +12 points [8, 16]'"],
    async run(args) {
      const name = versionArg(args, "promote");
      const { promoted, retired } = await (await registryOf(args)).promote(name, change(args));
      console.log(`promoted ${promoted.name} (${promoted.base}/${promoted.category})${retired ? `; retired ${retired.name}` : ""}`);
    },
  },
  {
    name: "finetune rollback",
    summary: "Roll back a promoted version: the version promoted before it is promoted again",
    positionals: ["version"],
    options: { ...REGISTRY_OPTION, ...CHANGE_OPTIONS },
    examples: ["deno task lab finetune rollback lab-mini-all-v3 --reason 'regression on test_id'"],
    async run(args) {
      const name = versionArg(args, "roll back");
      const { rolledBack, restored } = await (await registryOf(args)).rollback(name, change(args));
      console.log(`rolled back ${rolledBack.name}; ${restored ? `${restored.name} is promoted again` : `no earlier version: ${rolledBack.base}/${rolledBack.category} has none promoted`}`);
    },
  },
  {
    name: "finetune orchestrate",
    summary: "Seed 001's orchestrator: advance the fine-tuning cycle (collecting → ready → training → evaluating → awaiting_promotion → deployed | failed) once",
    options: {
      once: { type: "boolean", description: "Advance the open cycle as far as it goes now and exit (for an hourly cron)" },
      status: { type: "boolean", description: "Show the cycles and their states instead" },
      config: { type: "string", description: "The fine-tuning config (thresholds and flags)", default: displayPath(FINETUNE_CONFIG_FILE) },
      dataset: { type: "string", description: "The folder 'lab dataset build' writes (train.jsonl with its manifest, the staged sets)", default: "data/datasets/curated" },
      demo: { type: "boolean", description: "Use the config's demo_thresholds (scaled for tiny tournaments)" },
      "fine-tune": { type: "boolean", description: "Train a ready cycle even with auto_fine_tune off" },
      endpoint: { type: "string", description: "Fine-tuning provider", choices: Object.keys(FINETUNE_ENDPOINTS), default: "lab" },
      "base-url": { type: "string", description: "The provider's base URL (default for lab: a server started in this process, files and jobs in data/serve)" },
      ...REGISTRY_OPTION,
      "eval-model": {
        type: "string",
        description: "The configs/models.yaml entry the candidate and the baseline are served under in the evaluation (at --base-url for endpoint lab, else by the entry's provider)",
        default: "lab-mini",
      },
      "eval-strategy": { type: "string", description: "The strategy both evaluated arms play", default: "alpha" },
      eval: {
        type: "string",
        description: "How a candidate is evaluated: ab = seed 001's A/B shadow test on a seeded dev stream (promote_B, keep_A or need_more_data; lab/evals/ab.ts); suite = a paired base-vs-candidate suite on --eval-per-level dev instances",
        choices: ["ab", "suite"],
        default: "ab",
      },
      "eval-rate": { type: "string", description: "A/B: the share of stream tasks the candidate shadows (default: the config's ab.rate, seed 001's 0.2)" },
      "eval-stream": {
        type: "string",
        description: "A/B: stream tasks at most; a stream that ends before the horizon (the config's ab.min_non_tied non-tied comparisons) says need_more_data (default: the config's ab.stream_length, 5000)",
      },
      "eval-per-level": { type: "string", description: "suite: dev instances per level (levels 1–5); also test_id instances per level of a deployed version's re-estimate", default: "6" },
      "eval-seeds": { type: "string", description: "Episode seeds of the evaluation, comma-separated", default: "1" },
      json: { type: "boolean", description: "Print the result as JSON" },
    },
    examples: [
      "deno task lab dataset build && deno task lab finetune orchestrate --once",
      "0 * * * * cd /path/to/lab && npx deno task lab dataset build && npx deno task lab finetune orchestrate --once   # crontab",
      "deno task lab finetune orchestrate --status",
    ],
    async run(args) {
      const registryPath = String(args.values.registry);
      if (args.values.status) {
        const store = new CycleStore((await registryOf(args)).path);
        const cycles = await store.cycles();
        if (args.values.json) console.log(JSON.stringify({ cycles, transitions: await store.transitions() }, null, 2));
        else if (!cycles.length) console.log("(no orchestration cycles)");
        else for (const c of cycles) console.log([c.id, c.state, c.version ?? "-", c.reason].join("  "));
        return;
      }
      if (!args.values.once) throw new UsageError("give --once: each call advances the open cycle and exits (run it from cron, e.g. hourly), or --status");
      const finetune = await loadFinetuneConfig(String(args.values.config));
      const config = finetune.orchestrator;
      const endpoint = String(args.values.endpoint) as FineTuneProvider;
      const baseUrl = args.values["base-url"] as string | undefined;
      const perLevel = intOption(args, "eval-per-level", 1);
      const seeds = String(args.values["eval-seeds"]).split(",").map((x) => {
        const n = Number(x.trim());
        if (!Number.isInteger(n)) throw new UsageError(`--eval-seeds must be a comma-separated list of integers, found '${args.values["eval-seeds"]}'`);
        return n;
      });
      // The lab's in-process server (endpoint lab without --base-url) keeps its files and jobs in data/serve, writes
      // fine-tuned lab-mini versions to data/models/ft and serves the registry's versions from its start.
      await using ctx = await LabContext.open({ serving: { dataDir: LOCAL_SERVE_DIR, registry: registryPath } });
      const evalModel = String(args.values["eval-model"]);
      getModelConfig(ctx.models, evalModel); // a bad --eval-model fails before anything trains
      const strategy = getStrategy(ctx.strategies, String(args.values["eval-strategy"]));
      const registry = await registryOf(args, false);
      const remoteLab = endpoint === "lab" && baseUrl !== undefined;
      const client = async (): Promise<FineTuneClient> =>
        endpoint === "lab" && !baseUrl ? fineTuneClient((await ctx.server()).url) : fineTuneClient(baseUrl ? { ...FINETUNE_ENDPOINTS[endpoint], baseUrl } : endpoint, { provider: endpoint });
      // The stand-in of the eval issue: a base-vs-candidate suite on dev instances, the models served where they were
      // trained (a lab server at --base-url, else the eval model's provider: lab-mini the in-process server).
      const rate = shareOption(args, "eval-rate", finetune.ab.rate);
      const streamLength = args.values["eval-stream"] === undefined ? finetune.ab.stream_length : intOption(args, "eval-stream", 1);
      const evalDeps = async () => ({ models: await ctx.servedModels(evalModel, remoteLab ? { baseUrl } : {}), pool: await ctx.catalogPool(4) });
      // One catalog read per call, whether the cycle evaluates once, twice (autoRollback) or also re-estimates.
      let catalog: ReturnType<typeof loadCatalog> | undefined;
      const split = async (name: string) => (await (catalog ??= loadCatalog())).filter((c) => c.split === name);
      const evaluate: Evaluate = async (req) => {
        if (args.values.eval === "ab") {
          return await abEvaluator({
            challenges: await split("dev"),
            strategy,
            stream: { seed: seeds[0], rate, length: streamLength },
            criteria: abCriteriaOf(finetune.ab),
            deps: await evalDeps(),
          })(req);
        }
        return await suiteEvaluator({ challenges: pickInstances(await split("dev"), [1, 2, 3, 4, 5], perLevel, seeds[0]), seeds, strategy, deps: await evalDeps() })(req);
      };
      using ctrlC = interruptOnCtrlC();
      const json = Boolean(args.values.json);
      const r = await orchestrateOnce({ registry, collect: datasetFolderCollector(String(args.values.dataset)), client, evaluate }, {
        config,
        demo: Boolean(args.values.demo),
        fineTune: Boolean(args.values["fine-tune"]),
        signal: ctrlC.signal,
        onTransition: (c, from) => {
          if (!json) console.error(`${c.id}: ${from === c.state ? "" : `${from} → `}${c.state} (${c.reason})`);
        },
        onProgress: (e) => {
          const line = json ? undefined : progressLine(e);
          if (line) console.error(line);
        },
      }).catch((e) => {
        if (!ctrlC.signal.aborted) throw e;
        throw new LabError("interrupted: the same command resumes the cycle");
      });
      // A deployed version (promoted by a person or by autoPromote) was selected on dev: its success is re-estimated
      // once on test_id and recorded on the version (the rollback monitor's reference).
      const reestimated = [];
      for (const c of [...r.settled, ...(r.cycle ? [r.cycle] : [])]) {
        if (c.state !== "deployed" || !c.version) continue;
        const v = await registry.get(c.version);
        if (v.metrics[TEST_ID_METRIC]) continue;
        const est = await reestimate(registry, v, { strategy, baseline: config.base, perLevel, seeds, deps: await evalDeps() });
        reestimated.push({ version: v.name, ...est });
        if (!json) console.error(estimateLine(v.name, est));
      }
      console.log(json ? JSON.stringify({ ...r, reestimated }, null, 2) : [...r.settled.map((c) => `cycle ${c.id} ${c.state}: ${c.reason}`), r.message].join("\n"));
      return r.cycle?.state === "failed" && !r.message.startsWith("no new data") ? 1 : 0;
    },
  },
  {
    name: "finetune ab",
    summary: "Seed 001's A/B shadow test of a candidate against the champion on a seeded dev stream; promote_B marks a version awaiting promotion",
    usage: "finetune ab --candidate <version|model id> [--champion <version|model id>] [options]",
    options: {
      candidate: { type: "string", description: "The candidate: a registry version (name or provider model id) or a served model id" },
      champion: {
        type: "string",
        description: "The champion (default: the promoted version of the candidate's base and category, else the base model)",
      },
      rate: { type: "string", description: "The share of stream tasks the candidate shadows (default: configs/finetune.yaml's ab.rate, seed 001's 0.2)" },
      stream: { type: "string", description: "Stream tasks at most (default: the config's ab.stream_length, 5000)" },
      seed: { type: "string", description: "The stream's seed (the orchestrator's is its first --eval-seeds)", default: "1" },
      strategy: { type: "string", description: "The strategy both models play", default: "alpha" },
      "eval-model": {
        type: "string",
        description: "The configs/models.yaml entry both models are served under (at --base-url when given; a local entry by a server started in this process)",
        default: "lab-mini",
      },
      "base-url": { type: "string", description: "A lab server (or other OpenAI-compatible URL) that serves both models" },
      ...REGISTRY_OPTION,
      config: { type: "string", description: "The fine-tuning config (ab criteria, auto_promote)", default: displayPath(FINETUNE_CONFIG_FILE) },
      "test-per-level": { type: "string", description: "auto_promote: test_id instances per level of the promoted version's re-estimate", default: "6" },
      actor: { type: "string", description: "Who the registry's audit names (default: $USER)" },
      markdown: { type: "string", description: "Also write the report as Markdown to this file" },
      json: { type: "boolean", description: "Print the result as JSON" },
    },
    examples: [
      "deno task lab finetune ab --candidate lab-mini-all-v3",
      "deno task lab finetune ab --candidate lab-mini-all-v3 --champion lab-mini --rate 1 --stream 500 --markdown ab.md",
      "deno task lab finetune ab --candidate ft:lab-mini:extended:0123456789ab --base-url http://127.0.0.1:8787/v1 --json",
    ],
    async run(args) {
      if (args.positionals.length) throw new UsageError(`takes no positional arguments, found '${args.positionals.join(" ")}'`);
      if (typeof args.values.candidate !== "string") throw new UsageError("give --candidate <version|model id>, e.g. --candidate lab-mini-all-v3 ('lab finetune list' shows the versions)");
      const finetune = await loadFinetuneConfig(String(args.values.config));
      const rate = shareOption(args, "rate", finetune.ab.rate);
      const length = args.values.stream === undefined ? finetune.ab.stream_length : intOption(args, "stream", 1);
      const seed = intOption(args, "seed");
      const perLevel = intOption(args, "test-per-level", 1);
      const baseUrl = args.values["base-url"] as string | undefined;
      const registryPath = String(args.values.registry);
      // No registry file: the candidate and champion are model ids, and nothing is created.
      const registry = existsSync(registryPath) ? await Registry.open(registryPath) : undefined;
      const candidate = await abSide(registry, registryPath, args.values.candidate, "--candidate");
      let champion: AbSide;
      if (typeof args.values.champion === "string") champion = await abSide(registry, registryPath, args.values.champion, "--champion");
      else {
        // The champion the orchestrator would compare with: the promoted version of the candidate's line, else its base.
        const base = candidate.version?.base ?? /^ft:([^:]+):/.exec(candidate.model)?.[1] ?? finetune.orchestrator.base;
        const promoted = await registry?.promoted(base, candidate.version?.category ?? finetune.orchestrator.category);
        champion = promoted && promoted.name !== candidate.version?.name ? { model: promoted.providerModel, version: promoted } : { model: base, version: null };
      }
      if (champion.model === candidate.model) throw new UsageError(`the candidate and the champion are the same model (${candidate.model}); give another --champion`);

      await using ctx = await LabContext.open({ serving: { dataDir: LOCAL_SERVE_DIR, ...(registry ? { registry: registryPath } : {}) } });
      const evalModel = String(args.values["eval-model"]);
      getModelConfig(ctx.models, evalModel);
      const strategy = getStrategy(ctx.strategies, String(args.values.strategy));
      const deps: SuiteDeps = { models: await ctx.servedModels(evalModel, baseUrl !== undefined ? { baseUrl } : {}), pool: await ctx.catalogPool(4) };
      const dev = (await loadCatalog()).filter((c) => c.split === "dev");
      const json = Boolean(args.values.json);
      const evaluation = await abEvaluator({
        challenges: dev,
        strategy,
        stream: { seed, rate, length },
        criteria: abCriteriaOf(finetune.ab),
        deps,
        // A model the server does not serve fails every episode at the model: that is a wrong id, not a lost A/B.
        run: async (suite, d) => {
          const r = await runSuite(suite, d);
          for (const arm of suite.arms) {
            const eps = r.episodes.filter((e) => e.arm === arm.id);
            if (eps.length && eps.every((e) => e.stopReason === "model_failed")) {
              throw new LabError(`every episode of ${arm.model} failed at the model: is it served${baseUrl ? ` at ${baseUrl}` : ` under '${evalModel}'`}? (--base-url, --eval-model)`);
            }
          }
          return r;
        },
        onBatch: (ab, done) => {
          if (!json) console.error(`${done.streamTasks} stream tasks, ${done.shadowed} shadowed: ${ab.wins} wins, ${ab.ties} ties, ${ab.losses} losses`);
        },
      })({ model: candidate.model, version: candidate.version?.name ?? null, baseline: champion.model });

      // promote_B: a version awaits a person's promotion, or with auto_promote is promoted and re-estimated on test_id.
      let action: AbAction;
      let estimate: TestIdEstimate | null = null;
      const v = candidate.version;
      const why = `A/B promote_B vs ${champion.version?.name ?? champion.model}: ${evaluation.reasons.join("; ")}`;
      const who = typeof args.values.actor === "string" ? { actor: args.values.actor } : {};
      if (evaluation.recommendation !== "promote_B") {
        action = { kind: "none", message: `registry unchanged: ${evaluation.recommendation === "keep_A" ? "the champion stays" : "lengthen the stream (--stream) or raise the rate (--rate)"}` };
      } else if (!v || !registry) {
        action = { kind: "none", message: `registry unchanged: the candidate ${candidate.model} is not a registry version` };
      } else if (v.status === "promoted") {
        action = { kind: "none", message: `registry unchanged: ${v.name} is promoted already` };
      } else if (finetune.orchestrator.auto_promote) {
        const { retired } = await registry.promote(v.name, { ...who, reason: `autoPromote: ${why}` });
        action = { kind: "promoted", message: `promoted ${v.name} (auto_promote)${retired ? `; retired ${retired.name}` : ""}` };
        estimate = await reestimate(registry, await registry.get(v.name), { strategy, baseline: champion.model, perLevel, seeds: [seed], deps });
      } else {
        await registry.mark(v.name, "awaiting_promotion", { ...who, reason: why });
        action = { kind: "awaiting_promotion", message: `${v.name} awaits promotion: lab finetune promote ${v.name}` };
      }
      const result: AbCommandResult = {
        candidate: { model: candidate.model, version: v?.name ?? null },
        champion: { model: champion.model, version: champion.version?.name ?? null },
        stream: { seed, rate, length },
        strategy: strategy.id,
        evalModel,
        evaluation,
        action,
        reestimate: estimate,
      };
      if (typeof args.values.markdown === "string") await writeTextAtomic(args.values.markdown, abMarkdown(result, candidate, champion));
      console.log(json ? JSON.stringify(result, null, 2) : abText(result, candidate, champion));
      return 0;
    },
  },
  {
    name: "finetune monitor",
    summary: "Seed 001's rollback monitor: a promoted version's rolling success on eval runs; rolled back when it drops (auto_rollback). Exit 1 when it fired",
    usage: "finetune monitor --version <name> --run <run.json> [more runs…] [options]",
    options: {
      version: { type: "string", description: "The promoted version to watch" },
      run: { type: "string", description: "An EvalRun JSON ('lab eval run'); more runs follow it as arguments, read in order. Their episodes of the version's provider model are the series" },
      window: { type: "string", description: "Episodes in the rolling window (default: configs/finetune.yaml's monitor.window, 50)" },
      threshold: { type: "string", description: "The drop below the reference that counts, in success-rate units (default: the config's monitor.threshold, 0.10)" },
      reference: { type: "string", description: "The success the version should keep (default: its recorded test_id re-estimate, metrics.test_id_success.rate)" },
      ...REGISTRY_OPTION,
      config: { type: "string", description: "The fine-tuning config (monitor section, orchestrator.auto_rollback)", default: displayPath(FINETUNE_CONFIG_FILE) },
      actor: { type: "string", description: "Who the audit entry of a rollback names", default: "monitor" },
      json: { type: "boolean", description: "Print the result as JSON" },
    },
    examples: [
      "deno task lab finetune monitor --version lab-mini-all-v3 --run data/evals/labmini/latest.json",
      "deno task lab finetune monitor --version lab-mini-all-v3 --run monday.json tuesday.json --window 100 --json || alert   # exit 1: fired",
    ],
    async run(args) {
      const name = args.values.version;
      if (typeof name !== "string") throw new UsageError("give --version <name>, the promoted version to watch ('lab finetune list --status promoted')");
      if (typeof args.values.run !== "string") throw new UsageError("give --run <run.json> [more runs…]: the EvalRun files whose episodes are watched");
      const files = [args.values.run, ...args.positionals];
      const finetune = await asUsage(() => loadFinetuneConfig(String(args.values.config)));
      const window = args.values.window === undefined ? finetune.monitor.window : intOption(args, "window", 2);
      const threshold = numberOption(args, "threshold", finetune.monitor.threshold, 0, 1);
      const reference = args.values.reference === undefined ? undefined : numberOption(args, "reference", 0, 0, 1);
      const registry = await asUsage(() => registryOf(args));
      const version = await asUsage(() => registry.get(name));
      if (version.status !== "promoted") throw new UsageError(`${name} is ${version.status}, not promoted: the monitor watches a promoted version ('lab finetune list --status promoted')`);
      const runs: EvalRun[] = [];
      for (const f of files) runs.push(await asUsage(() => readEvalRun(f)));
      const all = runs.flatMap((r) => r.episodes);
      const series = all.filter((e) => e.model === version.providerModel);
      if (!series.length) {
        throw new UsageError(`none of the ${all.length} episodes of ${files.length === 1 ? files[0] : `the ${files.length} runs`} ran ${version.providerModel} (${name}): give runs with an arm of the version`);
      }
      const autoRollback = finetune.orchestrator.auto_rollback;
      const monitor = await asUsage(() =>
        promotedVersionMonitor(registry, name, {
          window,
          threshold,
          level: finetune.monitor.level,
          autoRollback,
          actor: String(args.values.actor),
          ...(reference !== undefined ? { reference } : {}),
        })
      );
      let check: RollingCheck | undefined, firedAt: number | null = null;
      for (const [i, e] of series.entries()) {
        const r = await monitor.observe(e.pass);
        if (r.fired) [check, firedAt] = [r.check, i + 1];
        else if (firedAt === null) check = r.check;
      }
      const outcome = monitor.fired ?? null;
      const result: MonitorCommandResult = {
        version: name,
        model: version.providerModel,
        runs: runs.length,
        episodes: series.length,
        skipped: all.length - series.length,
        reference: check!.reference,
        window,
        threshold,
        level: finetune.monitor.level,
        autoRollback,
        fired: outcome !== null,
        firedAt,
        check: check!,
        outcome,
      };
      if (args.values.json) console.log(JSON.stringify(result, null, 2));
      else {
        console.log([
          `monitor ${name} (${version.providerModel}): ${series.length} episodes of ${runs.length} run${runs.length === 1 ? "" : "s"} (${result.skipped} of other models left out)`,
          `reference ${check!.reference.toFixed(3)}${reference === undefined ? ` (${TEST_ID_METRIC})` : ""}, window ${window}, threshold ${threshold.toFixed(3)}, level ${finetune.monitor.level}, auto_rollback ${autoRollback ? "on" : "off"}`,
          firedAt === null ? `not fired: rolling success ${check!.reason}` : `fired at episode ${firedAt}: rolling success ${check!.reason}`,
          ...(outcome
            ? [outcome.rolledBack ? `rolled back ${name}; ${outcome.restored ? `${outcome.restored} is promoted again` : "no earlier version is promoted"}` : `not rolled back: ${outcome.reason}`]
            : []),
        ].join("\n"));
      }
      return outcome ? 1 : 0;
    },
  },
  {
    name: "finetune list",
    summary: "List the registered versions (newest first per base and category)",
    options: {
      ...REGISTRY_OPTION,
      status: { type: "string", description: "Only versions with this status", choices: VERSION_STATUSES },
      base: { type: "string", description: "Only versions of this base model" },
      category: { type: "string", description: "Only versions of this category" },
      json: { type: "boolean", description: "Print JSON" },
    },
    async run(args) {
      const registry = await registryOf(args);
      const vs = await registry.list({
        ...(typeof args.values.status === "string" ? { status: args.values.status as VersionStatus } : {}),
        ...(typeof args.values.base === "string" ? { base: args.values.base } : {}),
        ...(typeof args.values.category === "string" ? { category: args.values.category } : {}),
      });
      console.log(args.values.json ? JSON.stringify(vs, null, 2) : versionsTable(vs));
    },
  },
];
