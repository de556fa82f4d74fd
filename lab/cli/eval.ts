/**
 * `lab eval gate | outcome | merge`: the regression gate of an eval suite against its committed baseline, seed
 * 000's outcome table from eval runs, and the merge of a sharded run.
 *
 * Exit codes of every `eval` command: 0 pass (or done), 1 regression (`gate` only), 2 usage or config error (bad
 * option, unreadable or invalid file, pins that differ, shards that do not fit together). Nothing is written on
 * an error; files are written whole (temp file + rename).
 */
import { existsSync } from "node:fs";
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { UsageError } from "./_args.ts";
import {
  type Baseline,
  baselineFromRun,
  type EvalRun,
  formatCumulativeChange,
  formatGateJUnit,
  formatGateMarkdown,
  formatOutcomeMarkdown,
  gate,
  GATE_METRICS,
  type GateMetric,
  mergeRuns,
  outcomeTable,
  parseBaseline,
  pinsDifference,
  readEvalRun,
} from "../evals/mod.ts";
import { ConfigError, displayPath, isUserError, repoPath, writeTextAtomic } from "../util/mod.ts";

/** Where `deno task eval <suite>` leaves a suite's latest run. */
export const latestRunPath = (suite: string) => repoPath("data", "evals", suite, "latest.json");
/** Where a suite's baseline is committed. */
export const baselinePath = (suite: string) => repoPath("evals", "baselines", `${suite}.json`);

/** Runs a command so that every user error exits 2 with one line (the gate keeps 1 for a regression). */
function exit2(name: string, run: (args: ParsedArgs) => Promise<number | void>) {
  return async (args: ParsedArgs) => {
    try {
      return await run(args);
    } catch (e) {
      if (e instanceof UsageError) throw e; // main prints it with the help hint, exit 2
      if (!isUserError(e)) throw e;
      console.error(`lab ${name}: ${e.message.split("\n")[0]}`);
      return 2;
    }
  };
}

async function readBaseline(path: string): Promise<Baseline> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`${displayPath(path)}: cannot read the baseline (${(e as Error).message.split("\n")[0]})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${displayPath(path)}: not valid JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  return parseBaseline(raw, displayPath(path));
}

function tolerance(args: ParsedArgs): number {
  const raw = String(args.values.tolerance);
  const t = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(t) || t < 0) {
    throw new UsageError(`--tolerance must be a number ≥ 0 (rate units: 0.02 = 2 points), found '${raw}'`);
  }
  return t;
}

/** Writes every (path, text) whole, after all texts are made: an error leaves no partial file. */
async function writeAll(files: [string | undefined, () => string][]): Promise<string[]> {
  const ready = files.flatMap(([path, text]) => (path ? [[path, text()] as const] : []));
  for (const [path, text] of ready) await writeTextAtomic(path, text);
  return ready.map(([p]) => p);
}

const OUTPUTS = {
  junit: { type: "string", description: "Write the gate's JUnit XML here" },
  json: { type: "string", description: "Write the result as JSON here" },
  markdown: { type: "string", description: "Write the Markdown summary here" },
} as const;

export const EVAL_COMMANDS: CommandSpec[] = [
  {
    name: "eval gate",
    summary: "Gate an eval suite's run against its baseline (exit 0 pass, 1 regression, 2 usage/config error)",
    positionals: ["suite"],
    usage: "eval gate <suite> [--baseline file] [--run run.json] [options]",
    options: {
      baseline: { type: "string", description: "The suite's baseline (default: evals/baselines/<suite>.json)" },
      run: {
        type: "string",
        description:
          "The run to gate, an EvalRun JSON (default: the suite's latest run, data/evals/<suite>/latest.json)",
      },
      metric: {
        type: "string",
        description:
          "The primary metric; must be the one the baseline declares (default: the baseline's; 'pass' for a new baseline)",
        choices: GATE_METRICS,
      },
      tolerance: {
        type: "string",
        description: "Fail only when the run is credibly worse by more than this (0.02 = 2 points)",
        default: "0",
      },
      "update-baseline": {
        type: "boolean",
        description:
          "Write the run as the new baseline (keeps the first baseline's record) and print the change since the first; does not gate",
      },
      ...OUTPUTS,
    },
    examples: [
      "deno task lab eval gate lab-mini",
      "deno task lab eval gate lab-mini --baseline evals/baselines/lab-mini.json --run data/evals/lab-mini/latest.json --junit gate.xml --markdown gate.md",
      "deno task lab eval gate lab-mini --update-baseline",
    ],
    run: exit2("eval gate", async (args) => {
      if (args.positionals.length !== 1) {
        throw new UsageError(
          `expects one suite name, found ${args.positionals.length ? `'${args.positionals.join(" ")}'` : "none"}`,
        );
      }
      const suite = args.positionals[0];
      const tol = tolerance(args);
      const baselineFile = (args.values.baseline as string | undefined) ?? baselinePath(suite);
      const runFile = (args.values.run as string | undefined) ?? latestRunPath(suite);
      const metric = args.values.metric as GateMetric | undefined;
      const run: EvalRun = await readEvalRun(runFile);
      if (run.suite !== suite) {
        throw new ConfigError(`${displayPath(runFile)} is a run of suite '${run.suite}', not '${suite}'`);
      }

      if (args.values["update-baseline"]) {
        const given = (["junit", "json", "markdown"] as const).filter((o) => args.values[o] !== undefined);
        if (given.length) {
          throw new UsageError(
            `--${given[0]} reports a gate; --update-baseline does not gate (run the gate without it)`,
          );
        }
        const previous = existsSync(baselineFile) ? await readBaseline(baselineFile) : undefined;
        if (previous && previous.suite !== suite) {
          throw new ConfigError(
            `${displayPath(baselineFile)} is the baseline of suite '${previous.suite}', not '${suite}'`,
          );
        }
        const next = baselineFromRun(run, { previous, metric });
        await writeTextAtomic(baselineFile, JSON.stringify(next, null, 2) + "\n");
        const pins = previous ? pinsDifference(next.pins, previous.pins, "the new baseline", "the old one") : null;
        console.log(
          `${previous ? "updated" : "created"} ${
            displayPath(baselineFile)
          }: ${next.cases.length} cases, ${next.summary.families} families, ` +
            `primary metric '${next.metric}'${pins ? `; pins changed: ${pins}` : ""}`,
        );
        console.log(formatCumulativeChange(next));
        return 0;
      }

      if (!existsSync(baselineFile)) {
        throw new ConfigError(
          `no baseline at ${
            displayPath(baselineFile)
          }: record one with 'deno task lab eval gate ${suite} --update-baseline'`,
        );
      }
      const baseline = await readBaseline(baselineFile);
      const r = gate(run, baseline, { metric, tolerance: tol });
      const written = await writeAll([
        [args.values.junit as string | undefined, () => formatGateJUnit(r)],
        [args.values.json as string | undefined, () => JSON.stringify(r, null, 2) + "\n"],
        [args.values.markdown as string | undefined, () => formatGateMarkdown(r)],
      ]);
      console.log(formatGateMarkdown(r).trimEnd());
      if (written.length) console.log(`\nwrote ${written.map(displayPath).join(", ")}`);
      return r.verdict === "regression" ? 1 : 0;
    }),
  },
  {
    name: "eval outcome",
    summary:
      "Seed 000's outcome table from eval runs: per arm and split, changes vs base, the 2×2 interaction, the deployment rule",
    positionals: ["run.json…"],
    usage: "eval outcome <run.json …> [options]",
    options: {
      "rule-split": {
        type: "string",
        description: "The split seed 000's deployment rule is judged on",
        default: "test_id",
      },
      base: { type: "string", description: "The base arm (the control)", default: "base" },
      context: { type: "string", description: "The base-with-context arm", default: "context" },
      finetuned: { type: "string", description: "The fine-tuned arm", default: "finetuned" },
      "finetuned-context": {
        type: "string",
        description: "The fine-tuned-with-context arm",
        default: "finetuned_context",
      },
      json: OUTPUTS.json,
      markdown: OUTPUTS.markdown,
    },
    examples: [
      "deno task lab eval outcome data/evals/lab-mini/latest.json",
      "deno task lab eval outcome shard-1.json shard-2.json --markdown outcome.md --json outcome.json",
    ],
    run: exit2("eval outcome", async (args) => {
      if (!args.positionals.length) {
        throw new UsageError("expects at least one eval run (JSON file); shards of one run are merged");
      }
      const runs = await Promise.all(args.positionals.map((p) => readEvalRun(p)));
      const t = outcomeTable(runs, {
        ruleSplit: String(args.values["rule-split"]),
        roles: {
          base: String(args.values.base),
          context: String(args.values.context),
          finetuned: String(args.values.finetuned),
          finetunedContext: String(args.values["finetuned-context"]),
        },
      });
      const written = await writeAll([
        [args.values.json as string | undefined, () => JSON.stringify(t, null, 2) + "\n"],
        [args.values.markdown as string | undefined, () => formatOutcomeMarkdown(t)],
      ]);
      console.log(formatOutcomeMarkdown(t).trimEnd());
      if (written.length) console.log(`\nwrote ${written.map(displayPath).join(", ")}`);
    }),
  },
  {
    name: "eval merge",
    summary: "Merge the runs of every shard of a suite (--shard i/n) into the whole run",
    positionals: ["shard.json…"],
    usage: "eval merge <shard.json …> --out <file>",
    options: { out: { type: "string", description: "Write the merged EvalRun JSON here (required)" } },
    examples: ["deno task lab eval merge data/evals/lab-mini/shard-*.json --out data/evals/lab-mini/latest.json"],
    run: exit2("eval merge", async (args) => {
      const out = args.values.out;
      if (typeof out !== "string") throw new UsageError("--out is required: where to write the merged run");
      if (!args.positionals.length) throw new UsageError("expects the shards' runs (JSON files)");
      const merged = mergeRuns(await Promise.all(args.positionals.map((p) => readEvalRun(p))));
      await writeTextAtomic(out, JSON.stringify(merged, null, 2) + "\n");
      const arms = new Set(merged.episodes.map((e) => e.arm)).size;
      console.log(
        `merged ${args.positionals.length} shards of suite '${merged.suite}' into ${
          displayPath(out)
        }: ${merged.episodes.length} episodes, ${arms} arms`,
      );
    }),
  },
];
