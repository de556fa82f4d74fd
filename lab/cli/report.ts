/**
 * `lab report <run|suite|experiment|dataset|model> <id or file>`: one self-contained HTML report (inline SVG charts
 * with their Vega-Lite specs, inline CSS, no external request), written atomically under `data/reports/` or to
 * `--out`. Bad input prints one line naming what and where and writes nothing.
 */
import type { CommandSpec } from "./_args.ts";
import { UsageError } from "./_args.ts";
import { displayPath } from "../util/mod.ts";

const KINDS = ["run", "suite", "experiment", "dataset", "model", "demo"] as const;

/** `lab report`. */
export const REPORT_COMMANDS: CommandSpec[] = [{
  name: "report",
  summary: "Write a self-contained HTML report of a run, suite, experiment, dataset, model version or demo run (data/reports/)",
  usage: "report <run|suite|experiment|dataset|model|demo> <id or file> [--out file.html]",
  positionals: ["kind", "id or file"],
  options: {
    out: { type: "string", description: "The HTML file to write (default data/reports/<kind>-<id>.html)" },
    db: { type: "string", description: "The tournament store of a run", default: "data/lab.duckdb" },
    registry: { type: "string", description: "The model registry of a version", default: "data/registry.duckdb" },
  },
  examples: [
    "deno task lab report suite labmini                      # data/evals/labmini/latest.json",
    "deno task lab report suite shard-1.json --out shard.html",
    "deno task lab report run t-0123456789ab --db data/lab.duckdb",
    "deno task lab report experiment lab/evals/self_improve_results.json",
    "deno task lab report dataset data/datasets/curated",
    "deno task lab report model lab-mini-all-v2",
    "deno task lab report demo demo.json                     # the document of 'lab demo --json > demo.json'",
  ],
  async run(args) {
    const [kind, id, ...rest] = args.positionals;
    if (!kind || !(KINDS as readonly string[]).includes(kind)) {
      throw new UsageError(`give the kind of report first: one of ${KINDS.join(", ")}${kind ? `, found '${kind}'` : ""}`);
    }
    if (!id) throw new UsageError(`give what to report on: lab report ${kind} <${kind === "suite" ? "suite or EvalRun .json" : kind === "run" ? "run id" : kind === "model" ? "version" : "file"}>`);
    if (rest.length) throw new UsageError(`one ${kind} at a time, found also ${rest.join(" ")}`);
    const out = args.values.out as string | undefined;
    if (out !== undefined && !out.endsWith(".html")) throw new UsageError(`--out must name an .html file, found '${out}'`);
    // The report door is loaded when needed: its charting dependencies are heavy for every other command.
    const { buildReport, writeReport } = await import("../report/mod.ts");
    const doc = await buildReport(kind as typeof KINDS[number], id, { db: String(args.values.db), registry: String(args.values.registry) });
    const r = await writeReport(doc, out ? { out } : {});
    console.log(`wrote ${displayPath(r.path)} (${(r.bytes / 1024).toFixed(0)} KiB): ${doc.title}`);
    console.log(`Reading: ${doc.reading.shows[0] ?? ""}`);
  },
}];
