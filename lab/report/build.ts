/**
 * `lab report`: one self-contained HTML report of a tournament run, an eval-suite run, an experiment's results, a
 * dataset, a model version or a demo run (`lab demo --json`'s document; the demo writes its own report). {@linkcode buildReport} reads the source and computes the report's numbers (a
 * {@linkcode ReportDoc}); {@linkcode writeReport} renders it (inline SVG charts with their Vega-Lite specs, inline
 * CSS, no external request) and writes it atomically. Bad input is a one-line error naming what and where, before
 * anything is written.
 * @module
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { DEFAULT_REGISTRY_PATH } from "../finetune/mod.ts";
import { DEFAULT_DB_PATH } from "../tournament/mod.ts";
import { ConfigError, displayPath, repoPath, writeTextAtomic } from "../util/mod.ts";
import { gitHead } from "./_common.ts";
import { datasetReport } from "./_dataset.ts";
import { demoReport, readDemoRun } from "./_demo.ts";
import { experimentReport } from "./_experiment.ts";
import { modelReport } from "./_model.ts";
import { REPORT_KINDS, type ReportDoc, type ReportKind, renderReportHtml } from "./_page.ts";
import { runReport } from "./_run.ts";
import { suiteReport } from "./_suite.ts";

/** Where reports go by default. */
export const REPORTS_DIR: string = repoPath("data", "reports");

/** Options for {@linkcode buildReport}. */
export interface BuildReportOptions {
  /** The tournament store a run is read from. @default data/lab.duckdb */
  db?: string;
  /** The model registry a version is read from. @default data/registry.duckdb */
  registry?: string;
  /** Where suite names resolve (`<evalsDir>/<suite>/latest.json`). @default data/evals */
  evalsDir?: string;
  /** When and at which commit the report is built. @default now and the checkout's HEAD */
  built?: ReportDoc["built"];
}

/** The EvalRun file of a suite argument: a JSON file as given, else `<evalsDir>/<suite>/latest.json`. */
export function suiteRunPath(id: string, evalsDir: string = repoPath("data", "evals")): string {
  if (id.endsWith(".json") || existsSync(id) && Deno.statSync(id).isFile) return resolve(id);
  if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new ConfigError(`suite '${id}': not a suite name nor an EvalRun .json file`);
  return resolve(evalsDir, id, "latest.json");
}

/**
 * Reads the source of a report and computes its numbers.
 *
 * @example
 * ```ts
 * const doc = await buildReport("suite", "gate");          // data/evals/gate/latest.json
 * const { path } = await writeReport(doc);                  // data/reports/suite-gate.html
 * ```
 */
export async function buildReport(kind: ReportKind, id: string, options: BuildReportOptions = {}): Promise<ReportDoc> {
  if (!(REPORT_KINDS as readonly string[]).includes(kind)) throw new RangeError(`report kind '${kind}': use one of ${REPORT_KINDS.join(", ")}`);
  if (!id) throw new RangeError(`lab report ${kind}: give what to report on`);
  const built = options.built ?? { at: new Date().toISOString(), commit: await gitHead() };
  switch (kind) {
    case "suite": {
      const path = suiteRunPath(id, options.evalsDir);
      if (!existsSync(path)) throw new ConfigError(`${displayPath(path)}: no eval run there; run the suite with 'deno task eval ${id.replace(/\.json$/, "")}' or pass an EvalRun .json file`);
      return await suiteReport(path, built);
    }
    case "run": {
      const db = resolve(options.db ?? DEFAULT_DB_PATH);
      // Opening a missing store would create it: a report writes nothing but its file.
      if (!existsSync(db)) throw new ConfigError(`${displayPath(db)}: no tournament store there; run 'lab tournament' or pass --db <file>`);
      return await runReport(db, id, built);
    }
    case "experiment":
      return await experimentReport(resolve(id), built);
    case "dataset":
      return await datasetReport(resolve(id), built);
    case "model":
      return await modelReport(resolve(options.registry ?? DEFAULT_REGISTRY_PATH), id, built);
    case "demo":
      return await demoReport(await readDemoRun(resolve(id)), displayPath(resolve(id)), built);
  }
}

/** The default file of a report: `data/reports/<kind>-<id as a file name>.html`. */
export function defaultReportPath(doc: Pick<ReportDoc, "kind" | "id">): string {
  const slug = doc.id.replace(/\.(json|jsonl)$/, "").replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+|_+$/g, "").slice(-80) || "report";
  return resolve(REPORTS_DIR, `${doc.kind}-${slug}.html`);
}

/**
 * Renders a report to one self-contained HTML file and writes it atomically (temp file + rename).
 *
 * @example
 * ```ts
 * const { path, bytes } = await writeReport(await buildReport("run", "t-0123456789ab"), { out: "run.html" });
 * ```
 */
export async function writeReport(doc: ReportDoc, options: { out?: string } = {}): Promise<{ path: string; bytes: number; html: string }> {
  const html = await renderReportHtml(doc);
  const path = resolve(options.out ?? defaultReportPath(doc));
  await writeTextAtomic(path, html);
  return { path, bytes: new TextEncoder().encode(html).length, html };
}
