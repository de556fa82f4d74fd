/**
 * The table of `lab` commands. Each is thin: it parses options and calls the library.
 */
import type { CommandSpec } from "./_args.ts";
import { intOption, UsageError } from "./_args.ts";
import { ensureJupyter } from "./_jupyter.ts";
import { runDemo } from "./demo.ts";
import { buildSandbox, ensureSandbox, readManifest, SANDBOX_DIR, sandboxPath, type Scale, TABLES, VIEWS } from "../sandbox/mod.ts";
import { openAiToolSchemas, TOOLS } from "../tools/mod.ts";
import { progressBar, displayPath, repoPath } from "../util/mod.ts";
import { formatManifest } from "./_format.ts";
import { CHALLENGE_COMMANDS } from "./challenges.ts";
import { SERVE_COMMANDS } from "./serve.ts";
import { MODEL_COMMANDS } from "./model.ts";
import { TOURNAMENT_COMMANDS } from "./tournament.ts";
import { EXPORT_COMMANDS } from "./export.ts";
import { EXPERIMENT_COMMANDS } from "./experiment.ts";
import { COMPETE_COMMANDS } from "./compete.ts";
import { PATTERN_COMMANDS } from "./patterns.ts";
import { DATASET_COMMANDS } from "./dataset.ts";
import { FINETUNE_COMMANDS } from "./finetune.ts";
import { EVAL_COMMANDS } from "./eval.ts";
import { EVAL_RUN_COMMANDS } from "./eval_run.ts";
import { REPORT_COMMANDS } from "./report.ts";
import { RUNS_COMMANDS } from "./runs.ts";
import { REVIEW_COMMANDS } from "./review.ts";
import { MONITOR_COMMANDS } from "./monitor.ts";
import { USE_COMMANDS } from "./use.ts";

const SCALES = ["tiny", "small", "large"] as const;

const specOptions = {
  scale: { type: "string", description: "Sandbox size", choices: SCALES, default: "small" },
  seed: { type: "string", description: "Generator seed", default: "42" },
  "as-of": { type: "string", description: "The sandbox's as-of date (YYYY-MM-DD)", default: "2025-11-28" },
  dir: { type: "string", description: "Folder of built sandboxes", default: displayPath(SANDBOX_DIR) },
} as const;

function specFrom(values: Record<string, string | boolean | undefined>) {
  const asOf = String(values["as-of"]);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf) || Number.isNaN(Date.parse(asOf))) {
    throw new UsageError(`--as-of must be a date YYYY-MM-DD, found '${asOf}'`);
  }
  return {
    scale: values.scale as Scale,
    seed: intOption({ values, positionals: [] }, "seed", 0),
    asOf,
  };
}

export const COMMANDS: CommandSpec[] = [
  {
    name: "setup",
    summary: "Install the Deno Jupyter kernel (idempotent); check that Jupyter is present",
    options: {
      "check-jupyter": { type: "boolean", description: "Fail when Jupyter is missing (the test suite needs it)" },
      quiet: { type: "boolean", description: "Print only problems" },
    },
    async run(args) {
      const r = await ensureJupyter({ install: true });
      if (!r.ok) {
        console.error(r.message);
        return args.values["check-jupyter"] ? 1 : 0;
      }
      if (!args.values.quiet) console.log("Jupyter and the Deno kernel are ready.");
    },
  },
  {
    name: "demo",
    summary: "Build the sandbox, print its shape, list the tools and walk one scripted episode",
    options: {
      ...specOptions,
      org: { type: "string", description: "Tenant (org_id) of the scripted episode", default: "1" },
      challenges: {
        type: "string",
        description: "Measure the injection lift on your own challenge file or folder instead of dev (its instances of any split)",
      },
      json: { type: "boolean", description: "Print a JSON summary instead of text" },
    },
    examples: ["deno task demo", "deno task lab demo --scale tiny", "deno task lab demo --challenges ../my-challenges"],
    async run(args) {
      const spec = specFrom(args.values);
      const external = args.values.challenges as string | undefined;
      return await runDemo({
        spec,
        orgId: intOption(args, "org", 1),
        json: Boolean(args.values.json),
        dir: args.values.dir as string,
        ...(external ? { external: [external] } : {}),
      });
    },
  },
  {
    name: "sandbox build",
    summary: "Build (or rebuild) the ERP sandbox DuckDB file",
    options: {
      ...specOptions,
      out: { type: "string", description: "Output file (default: data/sandbox/<scale>-s<seed>-<as-of>.duckdb)" },
      force: { type: "boolean", description: "Rebuild even when the file exists" },
    },
    examples: ["deno task lab sandbox build --scale tiny", "deno task lab sandbox build --scale large --force"],
    async run(args) {
      const spec = specFrom(args.values);
      const bar = progressBar(`build ${spec.scale}`);
      const out = args.values.out as string | undefined;
      const dir = args.values.dir as string;
      const onProgress = (m: string, f: number) => bar.update(f, m);
      const r = out
        ? { path: out, manifest: await buildSandbox(out, spec, { onProgress }), built: true }
        : await ensureSandbox(spec, { dir, rebuild: Boolean(args.values.force), onProgress });
      bar.done(r.built ? `built ${r.path}` : `up to date: ${r.path}`);
      console.log(formatManifest(r.manifest));
    },
  },
  {
    name: "sandbox info",
    summary: "Print the shape of a built sandbox: tenants, rows per table, views",
    options: {
      ...specOptions,
      file: { type: "string", description: "A sandbox file (default: the one for --scale/--seed/--as-of)" },
      json: { type: "boolean", description: "Print JSON" },
    },
    async run(args) {
      const path = (args.values.file as string | undefined) ?? sandboxPath(specFrom(args.values), args.values.dir as string);
      let manifest;
      try {
        manifest = await readManifest(path);
      } catch {
        throw new UsageError(`no sandbox at ${path}: build it with 'deno task lab sandbox build'`);
      }
      if (args.values.json) console.log(JSON.stringify(manifest, null, 2));
      else console.log(`${path}\n${formatManifest(manifest)}\n\n${TABLES.length} tables, ${VIEWS.length} views`);
    },
  },
  {
    name: "tools list",
    summary: "List the agent tools (or print their OpenAI JSON schemas with --json)",
    options: { json: { type: "boolean", description: "Print the OpenAI tool schemas as JSON" } },
    run(args) {
      if (args.values.json) console.log(JSON.stringify(openAiToolSchemas(), null, 2));
      else for (const t of Object.values(TOOLS)) console.log(`${t.name.padEnd(13)} ${t.description.split("\n")[0]}`);
      return Promise.resolve();
    },
  },
  {
    name: "notebooks run",
    summary: "Execute notebooks headless (all of notebooks/ by default) and write their HTML",
    positionals: ["notebook…"],
    usage: "notebooks run [notebook.ipynb …] [options]",
    options: { out: { type: "string", description: "Folder for the rendered HTML", default: displayPath(repoPath("data/reports/notebooks")) } },
    async run(args) {
      // The report door is loaded when needed: its charting dependencies are heavy (and warn under Deno) for every other command.
      const { executeNotebook, formatNotebookFailure, listNotebooks } = await import("../report/mod.ts");
      const paths = args.positionals.length ? args.positionals : await listNotebooks(repoPath("notebooks"));
      let failed = 0;
      for (const p of paths) {
        if (!p.endsWith(".ipynb")) throw new UsageError(`${p} is not a notebook (.ipynb)`);
        const run = await executeNotebook(p, { outputDir: String(args.values.out) });
        console.log(run.ok ? `${p}: ok in ${run.seconds.toFixed(1)} s → ${run.outputPath}` : formatNotebookFailure(run));
        if (!run.ok) failed++;
      }
      return failed ? 1 : 0;
    },
  },
  ...CHALLENGE_COMMANDS,
  ...SERVE_COMMANDS,
  ...MODEL_COMMANDS,
  ...TOURNAMENT_COMMANDS,
  ...EXPORT_COMMANDS,
  ...EXPERIMENT_COMMANDS,
  ...COMPETE_COMMANDS,
  ...PATTERN_COMMANDS,
  ...FINETUNE_COMMANDS,
  ...DATASET_COMMANDS,
  ...EVAL_COMMANDS,
  ...EVAL_RUN_COMMANDS,
  ...REPORT_COMMANDS,
  ...RUNS_COMMANDS,
  ...REVIEW_COMMANDS,
  ...USE_COMMANDS,
  ...MONITOR_COMMANDS,
];
