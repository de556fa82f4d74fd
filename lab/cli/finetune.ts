/**
 * `lab finetune run | status | promote | rollback | list | orchestrate`: progressive fine-tuning (seed 000's stages)
 * through an OpenAI-shaped fine-tuning API — the lab's own server by default, started in this process — the model
 * registry (`data/registry.duckdb`) with its promotion and rollback, and seed 001's orchestrator (one call per cron
 * tick, its candidates evaluated by the `lab/evals` stand-in on `dev`).
 */
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { intOption, UsageError } from "./_args.ts";
import { existsSync } from "node:fs";
import {
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
import { getStrategy } from "../agents/mod.ts";
import { loadCatalog } from "../challenges/mod.ts";
import { abEvaluator, DEFAULT_SHADOW_RATE, DEFAULT_STREAM_LENGTH, pickInstances, reestimateOnTestId, suiteEvaluator, TEST_ID_METRIC } from "../evals/mod.ts";
import { LabContext } from "../context.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { displayPath, LabError, repoPath } from "../util/mod.ts";
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
      "eval-rate": { type: "string", description: "A/B: the share of stream tasks the candidate shadows", default: String(DEFAULT_SHADOW_RATE) },
      "eval-stream": { type: "string", description: "A/B: stream tasks at most (a stream that ends before 100 non-tied comparisons says need_more_data)", default: String(DEFAULT_STREAM_LENGTH) },
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
      const config = (await loadFinetuneConfig(String(args.values.config))).orchestrator;
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
      const rate = Number(args.values["eval-rate"]);
      if (!(rate > 0 && rate <= 1)) throw new UsageError(`--eval-rate must be a share in (0, 1], found '${args.values["eval-rate"]}'`);
      const streamLength = intOption(args, "eval-stream", 1);
      const evalDeps = async () => ({ models: await ctx.servedModels(evalModel, remoteLab ? { baseUrl } : {}), pool: await ctx.catalogPool(4) });
      const split = async (name: string) => (await loadCatalog()).filter((c) => c.split === name);
      const evaluate: Evaluate = async (req) => {
        if (args.values.eval === "ab") {
          return await abEvaluator({ challenges: await split("dev"), strategy, stream: { seed: seeds[0], rate, length: streamLength }, deps: await evalDeps() })(req);
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
        const est = await reestimateOnTestId(v, {
          challenges: pickInstances(await split("test_id"), [1, 2, 3, 4, 5], perLevel, seeds[0]),
          seeds,
          strategy,
          baseline: config.base,
          record: (name, metrics) => registry.recordMetrics(name, metrics, { reason: "test_id re-estimate after promotion" }),
          deps: await evalDeps(),
        });
        reestimated.push({ version: v.name, ...est });
        if (!json) console.error(`${v.name}: test_id success ${(est.rate * 100).toFixed(1)}% over ${est.episodes} episodes (${est.families} families), recorded as ${TEST_ID_METRIC}`);
      }
      console.log(json ? JSON.stringify({ ...r, reestimated }, null, 2) : [...r.settled.map((c) => `cycle ${c.id} ${c.state}: ${c.reason}`), r.message].join("\n"));
      return r.cycle?.state === "failed" && !r.message.startsWith("no new data") ? 1 : 0;
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
