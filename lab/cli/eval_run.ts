/**
 * `lab eval run <suite>`: runs a promptfoo suite of `evals/` through promptfoo's library (`evaluate()`) under Deno,
 * in process (the suite's provider, `evals/provider.mjs`, takes its Deno route). The run is saved where
 * `promptfoo view` shows it (promptfoo's local database, `PROMPTFOO_CONFIG_DIR`), and written as an
 * {@linkcode EvalRun} (`data/evals/<suite>/latest.json`, atomically) for the outcome table, the gate and shard merging.
 * `--split` runs the suite's selection on another catalog split (its run goes to `data/evals/<suite>/<split>.json`).
 * `--then-gate` runs `lab eval gate` on it afterwards (`deno task eval:gate <suite> --baseline …`).
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { existsSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { UsageError } from "./_args.ts";
import { runContext } from "./_endpoint.ts";
import { EvalService, type EpisodeResult, type SuiteTest } from "../serve/mod.ts";
import { SPLITS } from "../challenges/mod.ts";
import { type EvalRun, parseShard, type Shard, shardOf, type SuiteEpisode } from "../evals/mod.ts";
import { ConfigError, displayPath, repoPath, writeTextAtomic } from "../util/mod.ts";
import { useEvalService } from "./_eval_service.ts";

/** Where the suites live. */
export const EVALS_DIR: string = repoPath("evals");

/** A suite file as far as the lab reads it (promptfoo reads the rest). */
const SuiteFile = z.looseObject({
  description: z.string().optional(),
  prompts: z.array(z.string()).min(1),
  providers: z.array(z.looseObject({ id: z.string(), label: z.string().optional(), config: z.looseObject({ arm: z.unknown() }) })).min(1),
  tests: z.strictObject({ path: z.string(), config: z.unknown().optional() }),
  defaultTest: z.looseObject({}).optional(),
  evaluateOptions: z.looseObject({ maxConcurrency: z.number().int().positive().optional() }).optional(),
});

/** The suites of `evals/` (their names). */
export function listSuites(dir = EVALS_DIR): string[] {
  return existsSync(dir) ? [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".yaml")).map((e) => e.name.slice(0, -5)).sort() : [];
}

/** A `file://` path of a suite, made absolute (relative to the suite's folder, as promptfoo reads it). */
const absFile = (ref: string, dir: string) => (ref.startsWith("file://") && !ref.startsWith("file:///") ? `file://${resolve(dir, ref.slice(7))}` : ref);

/** `defaultTest` with its `file://` assertion values made absolute. */
function absDefaultTest(t: Record<string, unknown> | undefined, dir: string): Record<string, unknown> | undefined {
  if (!t) return t;
  const assert = Array.isArray(t.assert)
    ? t.assert.map((a: Record<string, unknown>) => (typeof a.value === "string" ? { ...a, value: absFile(a.value, dir) } : a))
    : t.assert;
  return { ...t, ...(assert ? { assert } : {}) };
}

async function gitCommit(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", { args: ["rev-parse", "HEAD"], cwd: repoPath(), stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** What {@linkcode runEvalSuite} gave: the stored run, promptfoo's eval id and where the run was written. */
export interface EvalSuiteRun {
  run: EvalRun;
  /** promptfoo's id of the eval (`promptfoo view` lists it). */
  evalId: string;
  /** The EvalRun JSON. */
  out: string;
  /** promptfoo's output file of the run (the format of `promptfoo eval -o x.json`): `promptfoo/<name>` beside the EvalRun. */
  promptfooOut: string;
  /** promptfoo's own summary stats. */
  stats: { successes: number; failures: number; errors: number };
}

/** Options for {@linkcode runEvalSuite}. */
export interface RunEvalSuiteOptions {
  /** The slice of the suite's challenges to run. @default the whole suite */
  shard?: Shard;
  /** External challenge files or folders replacing the suite's selection source. */
  challenges?: string[];
  /**
   * The catalog split to run the suite's selection on (its levels, families, instances per family and seeds kept),
   * replacing `tests.config.split`. Not with `challenges` (an external set has no catalog split).
   * @default the suite's split
   */
  split?: typeof SPLITS[number];
  /** Where the EvalRun JSON goes. @default data/evals/<suite>/latest.json; with `split`, data/evals/<suite>/<split>.json */
  out?: string;
  /** Folder of the suites. @default evals/ */
  dir?: string;
  /** Override the suite's episode concurrency. */
  maxConcurrency?: number;
  /**
   * Import the run into promptfoo's database (`PROMPTFOO_CONFIG_DIR`, where `promptfoo view` reads) with the promptfoo
   * CLI on Node (`promptfoo import`). @default true
   */
  view?: boolean;
}

/**
 * Imports a promptfoo output file into promptfoo's local database with the CLI on Node: promptfoo's database driver
 * (better-sqlite3, a V8 addon) does not load under Deno, so `evaluate()` there cannot save the run itself.
 */
async function importToViewer(file: string): Promise<void> {
  const cli = repoPath("node_modules", "promptfoo", "dist", "src", "main.js");
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command("node", { args: [cli, "import", file, "--force"], stdout: "piped", stderr: "piped" }).output();
  } catch (e) {
    throw new Error(`cannot run node to import the run into promptfoo's viewer (${(e as Error).message}); install Node ≥ 20, or pass --no-view`);
  }
  if (!out.success) {
    const text = new TextDecoder().decode(out.stderr).trim() || new TextDecoder().decode(out.stdout).trim();
    throw new Error(`promptfoo import ${displayPath(file)} failed: ${text.split("\n").pop()}`);
  }
}

/**
 * Runs suite `name` of `evals/` through promptfoo's `evaluate()` with the lab in process, saves it to promptfoo's
 * database and writes its {@linkcode EvalRun}. A bad suite, arm or selection throws before anything runs or is
 * written; a case that errored (not a failed verdict: an error) fails the run and writes nothing.
 */
export async function runEvalSuite(service: EvalService, name: string, options: RunEvalSuiteOptions = {}): Promise<EvalSuiteRun> {
  const dir = options.dir ?? EVALS_DIR;
  const file = join(dir, `${name}.yaml`);
  if (!/^[A-Za-z0-9_-]+$/.test(name) || !existsSync(file)) {
    throw new UsageError(`no suite '${name}' in ${displayPath(dir)}: known suites are ${listSuites(dir).join(", ") || "none"}`);
  }
  const parsed = SuiteFile.safeParse(parseYaml(await Deno.readTextFile(file)));
  if (!parsed.success) throw new ConfigError(`${displayPath(file)}: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`);
  const suite = parsed.data;
  const arms = suite.providers.map((p) => p.config.arm);
  const ids = arms.map((a) => (a as { id?: string })?.id);
  const dup = ids.find((id, i) => ids.indexOf(id) !== i);
  if (dup !== undefined) throw new ConfigError(`${displayPath(file)}: arm id '${dup}' is used twice`);
  if (options.split !== undefined) {
    if (!(SPLITS as readonly string[]).includes(options.split)) throw new UsageError(`--split must be one of ${SPLITS.join(", ")}, found '${options.split}'`);
    if (options.challenges?.length) throw new UsageError("--split picks a catalog split and --challenges replaces the catalog: give one of them");
  }
  // Resolve every arm and generate the tests before anything runs: a bad arm or selection stops here.
  for (const [i, arm] of arms.entries()) {
    await service.arm(arm).catch((e) => {
      throw new ConfigError(`${displayPath(file)}: providers[${i}]: ${(e as Error).message}`);
    });
  }
  const selection = {
    ...(suite.tests.config as Record<string, unknown> ?? {}),
    ...(options.split ? { split: options.split } : {}),
    ...(options.challenges?.length ? { challenges: options.challenges } : {}),
  };
  const { tests: all, catalogHash } = await service.tests(selection, `${displayPath(file)}: tests.config`);
  const shard = options.shard;
  const tests: SuiteTest[] = shard ? all.filter((t) => shardOf(t.vars.challenge, shard.count) === shard.index) : all;
  if (!tests.length) throw new UsageError(`--shard ${shard!.index}/${shard!.count}: no challenge of suite '${name}' falls in this shard; use fewer shards`);
  const pins = await service.pins(arms, catalogHash);

  for (const [k, v] of Object.entries({ PROMPTFOO_DISABLE_TELEMETRY: "1", PROMPTFOO_DISABLE_UPDATE: "1", PROMPTFOO_DISABLE_SHARING: "1" })) {
    if (!Deno.env.get(k)) Deno.env.set(k, v);
  }
  const { default: promptfoo } = await import("promptfoo");
  useEvalService(service);
  let summary;
  try {
    const evalRecord = await promptfoo.evaluate(
      {
        description: `${name}${options.split ? ` on ${options.split}` : ""}${shard ? ` (shard ${shard.index}/${shard.count})` : ""}: ${suite.description ?? ""}`,
        prompts: suite.prompts,
        providers: suite.providers.map((p) => ({ ...p, id: absFile(p.id, dir) })),
        tests,
        ...(suite.defaultTest ? { defaultTest: absDefaultTest(suite.defaultTest, dir) } : {}),
        // promptfoo's database driver (better-sqlite3) does not load under Deno: the run is imported with Node below.
        writeLatestResults: false,
        sharing: false,
      } as Parameters<typeof promptfoo.evaluate>[0],
      { maxConcurrency: options.maxConcurrency ?? suite.evaluateOptions?.maxConcurrency ?? 4, showProgressBar: false, cache: false },
    );
    summary = { id: evalRecord.id as string, config: evalRecord.config, ...(await evalRecord.toEvaluateSummary()) };
  } finally {
    useEvalService(undefined);
  }
  // A failed verdict is a result; a case without an episode (the provider errored) makes the run incomplete.
  const errors = summary.results.filter((r) => !(r.response?.metadata as EpisodeResult["metadata"] | undefined)?.episode);
  if (errors.length) {
    throw new Error(`suite '${name}': ${errors.length} of ${summary.results.length} cases errored (nothing written); first: ${errors[0].error ?? errors[0].response?.error ?? "no episode in the response"}`);
  }
  const armOrder = new Map(ids.map((id, i) => [id, i]));
  const episodes: SuiteEpisode[] = summary.results
    .map((r) => (r.response!.metadata as EpisodeResult["metadata"]).episode)
    .sort((a, b) => armOrder.get(a.arm)! - armOrder.get(b.arm)! || (a.challengeId < b.challengeId ? -1 : a.challengeId > b.challengeId ? 1 : a.attempt - b.attempt));
  const run: EvalRun = { suite: name, createdAt: new Date().toISOString(), commit: await gitCommit(), pins, shard: shard ?? null, episodes };
  const out = options.out ?? repoPath("data", "evals", name, options.split ? `${options.split}.json` : "latest.json");
  await Deno.mkdir(resolve(out, ".."), { recursive: true });
  await writeTextAtomic(out, JSON.stringify(run, null, 2) + "\n");
  const { id: evalId, config, ...results } = summary;
  // In a subfolder, so a glob over the runs (shard-*.json) never picks it up.
  const promptfooOut = join(dirname(out), "promptfoo", basename(out));
  await Deno.mkdir(dirname(promptfooOut), { recursive: true });
  await writeTextAtomic(promptfooOut, JSON.stringify({ evalId, results, config }) + "\n");
  if (options.view ?? true) await importToViewer(promptfooOut);
  const s = summary.stats;
  return { run, evalId, out, promptfooOut, stats: { successes: s.successes, failures: s.failures, errors: s.errors } };
}

/** One line per arm: passes, mean tokens and latency. */
export function formatEvalRun(r: EvalSuiteRun): string {
  const arms = [...new Set(r.run.episodes.map((e) => e.arm))];
  const lines = [`suite ${r.run.suite}${r.run.shard ? ` shard ${r.run.shard.index}/${r.run.shard.count}` : ""}: ${r.run.episodes.length} episodes (promptfoo eval ${r.evalId})`];
  for (const a of arms) {
    const es = r.run.episodes.filter((e) => e.arm === a);
    const pass = es.filter((e) => e.pass).length;
    const mean = (f: (e: SuiteEpisode) => number) => es.reduce((s, e) => s + f(e), 0) / es.length;
    lines.push(`  ${a.padEnd(18)} ${pass}/${es.length} passed (${(100 * pass / es.length).toFixed(1)}%), ${mean((e) => e.tokens).toFixed(0)} tokens, ${mean((e) => e.latencyMs).toFixed(1)} ms mean — ${r.run.pins.models[a]}`);
  }
  lines.push(`wrote ${displayPath(r.out)} and ${displayPath(r.promptfooOut)}; \`npx promptfoo view\` shows the run`);
  return lines.join("\n");
}

async function runCommand(args: ParsedArgs): Promise<number> {
  const name = args.positionals[0];
  if (!name) throw new UsageError(`give a suite: lab eval run <suite> (known: ${listSuites().join(", ")})`);
  if (args.positionals.length > 1) throw new UsageError(`one suite at a time, found ${args.positionals.join(" ")}`);
  const shard = typeof args.values.shard === "string" ? parseShard(args.values.shard) : undefined;
  const challenges = typeof args.values.challenges === "string" ? [args.values.challenges] : undefined;
  const split = args.values.split as RunEvalSuiteOptions["split"];
  const maxConcurrency = args.values.concurrency === undefined ? undefined : Number(args.values.concurrency);
  if (maxConcurrency !== undefined && !(Number.isInteger(maxConcurrency) && maxConcurrency >= 1)) throw new UsageError(`--concurrency must be an integer ≥ 1, found '${args.values.concurrency}'`);
  const gate = Boolean(args.values["then-gate"]);
  const baseline = args.values.baseline as string | undefined;
  if (gate && !baseline) throw new UsageError("--then-gate needs --baseline evals/baselines/<suite>.json");
  if (!gate && baseline) throw new UsageError("--baseline goes with --then-gate (or use lab eval gate)");
  await using ctx = await runContext(args);
  await using service = await EvalService.open(ctx, { concurrency: maxConcurrency ?? 4 });
  const r = await runEvalSuite(service, name, {
    ...(shard ? { shard } : {}),
    ...(challenges ? { challenges } : {}),
    ...(split ? { split } : {}),
    ...(typeof args.values.out === "string" ? { out: resolve(args.values.out) } : {}),
    ...(maxConcurrency ? { maxConcurrency } : {}),
    view: !args.values["no-view"],
  });
  console.log(formatEvalRun(r));
  if (!gate) return 0;
  const { main } = await import("./main.ts");
  return await main(["eval", "gate", name, "--run", r.out, "--baseline", baseline!]);
}

/** `lab eval run`. */
export const EVAL_RUN_COMMANDS: CommandSpec[] = [
  {
    name: "eval run",
    summary: "Run a promptfoo suite of evals/ through promptfoo's library; EvalRun → data/evals/<suite>/latest.json",
    positionals: ["suite"],
    options: {
      shard: { type: "string", description: "Run the deterministic slice i/n of the suite's challenges (every arm and seed of each)" },
      split: {
        type: "string",
        description: "Run the suite's selection (levels, families, instances, seeds) on this catalog split instead of its own; the run goes to data/evals/<suite>/<split>.json",
        choices: SPLITS,
      },
      out: { type: "string", description: "Where the EvalRun JSON goes (default data/evals/<suite>/latest.json, or <split>.json with --split)" },
      challenges: { type: "string", description: "An external challenge file or folder replacing the suite's catalog selection (its levels and families still apply)" },
      concurrency: { type: "string", description: "Episodes in flight (default the suite's evaluateOptions.maxConcurrency, else 4)" },
      config: { type: "string", description: "Tournament config (the context arms' learning tournament and the sandbox)", default: "configs/tournament.yaml" },
      db: { type: "string", description: "The tournament store", default: "data/lab.duckdb" },
      patterns: { type: "string", description: "The default pattern store of context arms without their own", default: "data/patterns.duckdb" },
      "no-view": { type: "boolean", description: "Do not import the run into promptfoo's database (the viewer; needs Node)" },
      "then-gate": { type: "boolean", description: "After the run, run `lab eval gate` on it against --baseline" },
      baseline: { type: "string", description: "The committed baseline of --then-gate (evals/baselines/<suite>.json)" },
    },
    examples: [
      "deno task eval labmini",
      "deno task eval gate --shard 2/4 --out data/evals/gate/shard-2.json",
      "deno task eval labmini --split test_id",
      "deno task eval labmini --challenges ../my-challenges",
      "deno task eval:gate gate --baseline evals/baselines/gate.json",
    ],
    run: runCommand,
  },
];
