/**
 * `lab finetune run | status | promote | rollback | list`: progressive fine-tuning (seed 000's stages) through an
 * OpenAI-shaped fine-tuning API — the lab's own server by default, started in this process — and the model
 * registry (`data/registry.duckdb`) with its promotion and rollback.
 */
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { intOption, UsageError } from "./_args.ts";
import { existsSync } from "node:fs";
import {
  DEFAULT_REGISTRY_PATH,
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
import { defaultBackends, defaultTrainers, fineTunedLoader } from "../models/mod.ts";
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
