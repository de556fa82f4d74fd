/**
 * Reports: tables and charts that display in Deno Jupyter notebooks and embed in static HTML, and the headless
 * notebook runner.
 *
 * A cell that ends with a value from {@linkcode htmlTable} or {@linkcode chart} shows it richly: these objects
 * implement the Deno kernel's display protocol (`[Symbol.for("Jupyter.display")]()` returning a mime bundle).
 * Charts carry both the Vega-Lite spec (interactive in JupyterLab) and a server-rendered SVG (what nbconvert's HTML
 * and reports show, since they cannot run Vega).
 *
 * **DuckDB in notebooks.** A notebook kernel stays alive while idle, and an open DuckDB file is locked by its
 * process for writing: a notebook holding `data/lab.duckdb` open would block the CLI and tournaments. Open DuckDB
 * files read-only (`{ access_mode: "READ_ONLY" }`), or open, query and close within one cell (`await using`).
 *
 * @example Show a table and a chart in a notebook cell
 * ```ts
 * import { barChart, chart, htmlTable } from "../lab/report/mod.ts";
 * const rows = [{ level: 1, passRate: 0.9 }, { level: 2, passRate: 0.6 }];
 * htmlTable(rows, { caption: "Pass rate by level" });
 * ```
 * ```ts
 * await chart(barChart(rows, { x: "level", y: "passRate", title: "Pass rate" }));
 * ```
 * @module
 */

export {
  /**
   * Escapes text for HTML content and quoted attributes.
   *
   * @example
   * ```ts
   * import { escapeHtml } from "../lab/report/mod.ts";
   * escapeHtml("<script>"); // "&lt;script&gt;"
   * ```
   */
  escapeHtml,
  /**
   * The symbol the Deno Jupyter kernel calls to display a value (`Symbol.for("Jupyter.display")`, the same as
   * `Deno.jupyter.$display`). Implement it to make your own objects display richly.
   *
   * @example
   * ```ts
   * import { JUPYTER_DISPLAY } from "../lab/report/mod.ts";
   * const note = { [JUPYTER_DISPLAY]: () => ({ "text/plain": "hi", "text/html": "<b>hi</b>" }) };
   * ```
   */
  JUPYTER_DISPLAY,
} from "./_display.ts";
export type {
  /**
   * Something a notebook cell displays richly when it ends with it.
   *
   * @example
   * ```ts
   * import { type Displayable, JUPYTER_DISPLAY } from "../lab/report/mod.ts";
   * const d: Displayable = { [JUPYTER_DISPLAY]: () => ({ "text/plain": "x" }) };
   * ```
   */
  Displayable,
  /**
   * Mime type → payload, as sent to Jupyter. `text/plain` is always present.
   *
   * @example
   * ```ts
   * import type { MediaBundle } from "../lab/report/mod.ts";
   * const b: MediaBundle = { "text/plain": "3 rows", "text/html": "<table>…</table>" };
   * ```
   */
  MediaBundle,
} from "./_display.ts";

export {
  /**
   * A rendered table; `html` embeds in reports, `text` prints in terminals; it displays itself in notebooks.
   *
   * @example
   * ```ts
   * import { htmlTable } from "../lab/report/mod.ts";
   * const t = htmlTable([{ a: 1 }]);
   * console.log(t.text);
   * ```
   */
  HtmlTable,
  /**
   * Renders rows — plain objects or an apache-arrow Table — as a table with `text/html` (escaped, numbers
   * right-aligned and formatted, nulls greyed) and `text/plain`. Shows `maxRows` (default 50) and counts the rest.
   * Numbers are formatted locale-independently: integers as-is, fractions to at most 4 decimals.
   *
   * @example
   * ```ts
   * import { htmlTable } from "../lab/report/mod.ts";
   * htmlTable([{ tenant: "acme", invoices: 12, total: 1042.5 }], { caption: "Invoices", maxRows: 20 });
   * ```
   * @example An Arrow table (e.g. from DuckDB or Parquet)
   * ```ts
   * import { tableFromArrays } from "apache-arrow";
   * import { htmlTable } from "../lab/report/mod.ts";
   * htmlTable(tableFromArrays({ level: Int32Array.from([1, 2]), score: Float64Array.from([0.9, 0.61]) }));
   * ```
   */
  htmlTable,
} from "./_table.ts";
export type {
  /**
   * Options for {@linkcode htmlTable}.
   *
   * @example
   * ```ts
   * import type { HtmlTableOptions } from "../lab/report/mod.ts";
   * const options: HtmlTableOptions = { caption: "Top strategies", maxRows: 10 };
   * ```
   */
  HtmlTableOptions,
} from "./_table.ts";
export type {
  /**
   * What the report helpers accept as data: plain row objects or an apache-arrow Table.
   *
   * @example
   * ```ts
   * import type { Rows } from "../lab/report/mod.ts";
   * const rows: Rows = [{ generation: 1, fitness: 0.4 }];
   * ```
   */
  Rows,
} from "./_rows.ts";

export {
  /**
   * A bar chart spec; x is a discrete axis kept in data order; with `color`, bars are grouped side by side.
   *
   * @example
   * ```ts
   * import { barChart, chart } from "../lab/report/mod.ts";
   * const rows = [{ level: 1, arm: "base", pass: 0.8 }, { level: 1, arm: "tuned", pass: 0.9 }];
   * await chart(barChart(rows, { x: "level", y: "pass", color: "arm", title: "Pass rate" }));
   * ```
   */
  barChart,
  /**
   * A chart with its spec and SVG; `svg` can be inlined into an HTML report.
   *
   * @example
   * ```ts
   * import { barChart, chart } from "../lab/report/mod.ts";
   * const c = await chart(barChart([{ arm: "base", pass: 0.4 }], { x: "arm", y: "pass" }));
   * await Deno.writeTextFile("chart.svg", c.svg);
   * ```
   */
  Chart,
  /**
   * Renders a Vega-Lite spec, server-side and headless, to a displayable {@linkcode Chart} with both
   * `application/vnd.vegalite.v5+json` and `image/svg+xml` (plus `text/plain`). Await it: a cell ending in a
   * Promise shows `Promise { … }`.
   *
   * @example
   * ```ts
   * import { chart, lineChart } from "../lab/report/mod.ts";
   * const rows = [{ generation: 1, fitness: 0.4 }, { generation: 2, fitness: 0.55 }];
   * await chart(lineChart(rows, { x: "generation", y: "fitness" }));
   * ```
   */
  chart,
  /**
   * A line chart spec (one line per `color` value, with points). The x type is inferred from the values:
   * numbers → quantitative, dates or ISO date strings → temporal, otherwise nominal. bigint and Date values are
   * converted so the spec is plain JSON.
   *
   * @example
   * ```ts
   * import { chart, lineChart } from "../lab/report/mod.ts";
   * const rows = [
   *   { generation: 1, fitness: 0.40, arm: "base" }, { generation: 2, fitness: 0.52, arm: "base" },
   *   { generation: 1, fitness: 0.45, arm: "patterns" }, { generation: 2, fitness: 0.66, arm: "patterns" },
   * ];
   * await chart(lineChart(rows, { x: "generation", y: "fitness", color: "arm", title: "Fitness by generation" }));
   * ```
   */
  lineChart,
  /**
   * Compiles Vega-Lite to Vega and renders it to an SVG string with `View.toSVG()` (renderer "none"). The same
   * spec always yields byte-identical SVG, so SVGs can be committed and diffed.
   *
   * @example
   * ```ts
   * import { barChart, renderSvg } from "../lab/report/mod.ts";
   * const svg = await renderSvg(barChart([{ arm: "base", pass: 0.4 }], { x: "arm", y: "pass" }));
   * ```
   */
  renderSvg,
  /**
   * The `$schema` URL of Vega-Lite v5 specs.
   *
   * @example
   * ```ts
   * import { VEGA_LITE_SCHEMA, type VegaLiteSpec } from "../lab/report/mod.ts";
   * const spec: VegaLiteSpec = { $schema: VEGA_LITE_SCHEMA, data: { values: [] }, mark: "point" };
   * ```
   */
  VEGA_LITE_SCHEMA,
} from "./_chart.ts";
export type {
  /**
   * A Vega-Lite v5 top-level spec (vega-lite's `TopLevelSpec`).
   *
   * @example
   * ```ts
   * import type { VegaLiteSpec } from "../lab/report/mod.ts";
   * const spec: VegaLiteSpec = { data: { values: [{ a: 1 }] }, mark: "tick", encoding: { x: { field: "a", type: "quantitative" } } };
   * ```
   */
  VegaLiteSpec,
  /**
   * Options for {@linkcode lineChart} and {@linkcode barChart}.
   *
   * @example
   * ```ts
   * import type { XYChartOptions } from "../lab/report/mod.ts";
   * const o: XYChartOptions = { x: "level", y: "passRate", color: "arm", title: "Pass rate", width: 360 };
   * ```
   */
  XYChartOptions,
} from "./_chart.ts";

export {
  /**
   * Executes a notebook headless (`jupyter nbconvert --to html`, kernel `deno`, in the notebook's folder) and
   * returns a {@linkcode NotebookRun}; a failing cell is reported (index, id, error), not thrown. The notebook file
   * is never modified; HTML goes to `outputDir` (default: a new temp dir). Prefer it to a bare
   * `jupyter nbconvert --execute`, which randomly drops outputs of the Deno kernel (it sometimes reports idle
   * before sending a cell's result) and, in nbconvert 6.5, empties every SVG chart.
   *
   * @example
   * ```ts
   * import { executeNotebook, formatNotebookFailure } from "./lab/report/mod.ts";
   * const run = await executeNotebook("notebooks/00_smoke.ipynb", { outputDir: "data/notebooks" });
   * if (!run.ok) console.error(formatNotebookFailure(run));
   * ```
   */
  executeNotebook,
  /**
   * A readable report of a notebook run: notebook, failing cell and its error, source, nbconvert's stderr tail.
   *
   * @example
   * ```ts
   * import { executeNotebook, formatNotebookFailure } from "./lab/report/mod.ts";
   * console.log(formatNotebookFailure(await executeNotebook("notebooks/00_smoke.ipynb")));
   * ```
   */
  formatNotebookFailure,
  /**
   * The one-line fix shown when `jupyter nbconvert` is not installed.
   *
   * @example
   * ```ts
   * import { JUPYTER_MISSING } from "./lab/report/mod.ts";
   * console.error(JUPYTER_MISSING);
   * ```
   */
  JUPYTER_MISSING,
  /**
   * The `*.ipynb` files directly in a folder, sorted (subfolders such as `notebooks/_test/` are skipped).
   *
   * @example
   * ```ts
   * import { listNotebooks } from "./lab/report/mod.ts";
   * for (const nb of await listNotebooks("notebooks")) console.log(nb);
   * ```
   */
  listNotebooks,
  /**
   * Structural problems of a notebook (cells without ids, duplicate ids, wrong kernel, nbformat < 4.5) as
   * messages; empty when fine.
   *
   * @example
   * ```ts
   * import { notebookProblems } from "./lab/report/mod.ts";
   * const problems = await notebookProblems("notebooks/00_smoke.ipynb"); // []
   * ```
   */
  notebookProblems,
  /**
   * Reads a notebook's JSON (nbformat 4), failing with the file name when it is malformed.
   *
   * @example
   * ```ts
   * import { readNotebook } from "./lab/report/mod.ts";
   * const nb = await readNotebook("notebooks/00_smoke.ipynb");
   * console.log(nb.cells.length);
   * ```
   */
  readNotebook,
} from "./_notebook.ts";
export type {
  /**
   * Options for {@linkcode executeNotebook}.
   *
   * @example
   * ```ts
   * import type { ExecuteNotebookOptions } from "./lab/report/mod.ts";
   * const o: ExecuteNotebookOptions = { outputDir: "data/notebooks", cellTimeoutSeconds: 600 };
   * ```
   */
  ExecuteNotebookOptions,
  /**
   * Where a notebook run failed: cell index and id (when matched), its source, and the error text.
   *
   * @example
   * ```ts
   * import type { NotebookFailure } from "./lab/report/mod.ts";
   * const f: NotebookFailure = { cellIndex: 2, cellId: "chart", error: "TypeError: rows is not iterable" };
   * ```
   */
  NotebookFailure,
  /**
   * The parts of a notebook's nbformat 4 JSON the lab reads.
   *
   * @example
   * ```ts
   * import { type NotebookJson, readNotebook } from "./lab/report/mod.ts";
   * const nb: NotebookJson = await readNotebook("notebooks/00_smoke.ipynb");
   * ```
   */
  NotebookJson,
  /**
   * The outcome of {@linkcode executeNotebook}.
   *
   * @example
   * ```ts
   * import { executeNotebook, type NotebookRun } from "./lab/report/mod.ts";
   * const run: NotebookRun = await executeNotebook("notebooks/00_smoke.ipynb");
   * console.log(run.ok, run.seconds, run.outputPath);
   * ```
   */
  NotebookRun,
} from "./_notebook.ts";

export {
  /**
   * Reads the source of a report — a tournament run, an eval-suite run, an experiment's results, a dataset or a
   * model version — and computes its numbers as a {@linkcode ReportDoc}; bad input is a one-line error naming
   * what and where.
   *
   * @example
   * ```ts
   * import { buildReport, writeReport } from "./lab/report/mod.ts";
   * const { path } = await writeReport(await buildReport("suite", "gate"));
   * ```
   */
  buildReport,
  /**
   * The default file of a report: `data/reports/<kind>-<id>.html`.
   *
   * @example
   * ```ts
   * import { buildReport, defaultReportPath } from "./lab/report/mod.ts";
   * defaultReportPath(await buildReport("suite", "gate")); // …/data/reports/suite-gate.html
   * ```
   */
  defaultReportPath,
  /**
   * Where reports go by default (`data/reports/`, gitignored).
   *
   * @example
   * ```ts
   * import { REPORTS_DIR } from "./lab/report/mod.ts";
   * console.log(REPORTS_DIR);
   * ```
   */
  REPORTS_DIR,
  /**
   * The EvalRun file a suite argument names: a `.json` file as given, else `data/evals/<suite>/latest.json`.
   *
   * @example
   * ```ts
   * import { suiteRunPath } from "./lab/report/mod.ts";
   * suiteRunPath("gate"); // …/data/evals/gate/latest.json
   * ```
   */
  suiteRunPath,
  /**
   * Renders a report to one self-contained HTML file (inline SVG charts with their Vega-Lite specs, inline CSS,
   * no external request) and writes it atomically.
   *
   * @example
   * ```ts
   * import { buildReport, writeReport } from "./lab/report/mod.ts";
   * await writeReport(await buildReport("dataset", "data/datasets/curated"), { out: "dataset.html" });
   * ```
   */
  writeReport,
} from "./build.ts";
export type {
  /**
   * Options for {@linkcode buildReport}: the store, registry and evals folder sources are read from.
   *
   * @example
   * ```ts
   * import type { BuildReportOptions } from "./lab/report/mod.ts";
   * const o: BuildReportOptions = { db: "data/lab.duckdb", registry: "data/registry.duckdb" };
   * ```
   */
  BuildReportOptions,
} from "./build.ts";
export {
  /**
   * Renders a {@linkcode ReportDoc} as one self-contained HTML page (a Content-Security-Policy of
   * `default-src 'none'`; headline numbers carry `data-key` and `data-value`).
   *
   * @example
   * ```ts
   * import { buildReport, renderReportHtml } from "./lab/report/mod.ts";
   * const html = await renderReportHtml(await buildReport("model", "lab-mini-all-v1"));
   * ```
   */
  renderReportHtml,
  /**
   * The kinds of report: run, suite, experiment, dataset, model, demo.
   *
   * @example
   * ```ts
   * import { REPORT_KINDS } from "./lab/report/mod.ts";
   * REPORT_KINDS.includes("suite"); // true
   * ```
   */
  REPORT_KINDS,
} from "./_page.ts";
export {
  /**
   * Replaces the text between README.md's `<!-- figures:begin NAME -->` / `<!-- figures:end NAME -->` markers with
   * the generated blocks (wrapped at the marker's indentation); a missing marker or block is an error naming it.
   *
   * @example
   * ```ts
   * import { applyReadmeFigures, readmeFiguresFrom, readReadmeResults } from "./lab/report/mod.ts";
   * const readme = await Deno.readTextFile("README.md");
   * const same = applyReadmeFigures(readme, readmeFiguresFrom(await readReadmeResults())) === readme;
   * ```
   */
  applyReadmeFigures,
  /**
   * The committed results files the README's figures are generated from.
   *
   * @example
   * ```ts
   * import { README_FIGURE_SOURCES } from "./lab/report/mod.ts";
   * README_FIGURE_SOURCES.labmini; // "lab/evals/labmini_results.json"
   * ```
   */
  README_FIGURE_SOURCES,
  /**
   * The README's figures blocks (name → text) generated from the committed results.
   *
   * @example
   * ```ts
   * import { readmeFiguresFrom, readReadmeResults } from "./lab/report/mod.ts";
   * const blocks = readmeFiguresFrom(await readReadmeResults());
   * ```
   */
  readmeFiguresFrom,
  /**
   * Reads the committed results files the README's figures come from (one-line errors naming the file).
   *
   * @example
   * ```ts
   * import { readReadmeResults } from "./lab/report/mod.ts";
   * const results = await readReadmeResults();
   * ```
   */
  readReadmeResults,
} from "./readme.ts";
export type {
  /**
   * The results the README's figures are generated from.
   *
   * @example
   * ```ts
   * import type { ReadmeResults } from "./lab/report/mod.ts";
   * const seeds = (r: ReadmeResults) => r.labmini.settings.seeds;
   * ```
   */
  ReadmeResults,
  /**
   * What the README's figures read of the four-arm suites' JSON (lab/evals/evals_results.json).
   *
   * @example
   * ```ts
   * import type { EvalsResults } from "./lab/report/mod.ts";
   * const date = (r: EvalsResults) => r.date;
   * ```
   */
  EvalsResults,
  /**
   * What the README's figures read of `lab experiment labmini --out`'s JSON (lab/evals/labmini_results.json).
   *
   * @example
   * ```ts
   * import type { LabMiniResults } from "./lab/report/mod.ts";
   * const command = (r: LabMiniResults) => r.command;
   * ```
   */
  LabMiniResults,
  /**
   * What the README's figures read of `lab experiment self-improve --out`'s JSON.
   *
   * @example
   * ```ts
   * import type { SelfImproveResults } from "./lab/report/mod.ts";
   * const rounds = (r: SelfImproveResults) => r.rounds.length;
   * ```
   */
  SelfImproveResults,
  /**
   * A paired lift with its 95 % interval, as the README's figures read it from a results file.
   *
   * @example
   * ```ts
   * import type { ReadmeLift } from "./lab/report/mod.ts";
   * const l: ReadmeLift = { arm: "ft", level: "all", estimate: 0.354, lo: 0.232, hi: 0.477, pairs: 1044, clusters: 30 };
   * ```
   */
  ReadmeLift,
} from "./readme.ts";
export {
  /**
   * The report of what `lab demo` ran, from its `--json` document: the headline is base vs context vs fine-tuned
   * on the held-out split (rates and lifts with 95 % intervals clustered by family, or the note why there is none).
   *
   * @example
   * ```ts
   * import { demoReport, writeReport } from "./lab/report/mod.ts";
   * const demo = JSON.parse(await Deno.readTextFile("demo.json"));
   * await writeReport(await demoReport(demo, "tiny"));
   * ```
   */
  demoReport,
} from "./_demo.ts";
export type {
  /**
   * One arm of the demo's headline: success and the paired lift over base.
   *
   * @example
   * ```ts
   * import type { DemoArm } from "./lab/report/mod.ts";
   * const base: DemoArm = { arm: "base", model: "lab-mini", passes: 3, episodes: 24, success: { estimate: 0.125, lo: null, hi: null, note: "6 families: an interval needs ≥ 10" }, lift: null };
   * ```
   */
  DemoArm,
  /**
   * An estimate in rate units with its 95 % interval, or nulls and a note.
   *
   * @example
   * ```ts
   * import type { DemoEstimate } from "./lab/report/mod.ts";
   * const e: DemoEstimate = { estimate: 0.1, lo: 0.02, hi: 0.18 };
   * ```
   */
  DemoEstimate,
  /**
   * The part of the demo's `--json` document its report reads.
   *
   * @example
   * ```ts
   * import type { DemoRun } from "./lab/report/mod.ts";
   * const split = (d: DemoRun) => d.headline.split;
   * ```
   */
  DemoRun,
} from "./_demo.ts";
export type {
  /**
   * A block of a report section: a table, a chart (Vega-Lite spec), text, a list or folded JSON.
   *
   * @example
   * ```ts
   * import type { Block } from "./lab/report/mod.ts";
   * const b: Block = { kind: "text", text: "No split has all four arms." };
   * ```
   */
  Block,
  /**
   * A table cell; a headline number carries its key and exact value.
   *
   * @example
   * ```ts
   * import type { Cell } from "./lab/report/mod.ts";
   * const c: Cell = { text: "42.0 %", key: "dev.base.accuracy", value: 0.42 };
   * ```
   */
  Cell,
  /**
   * A report as data: header, sections, reading and traces.
   *
   * @example
   * ```ts
   * import { buildReport, type ReportDoc } from "./lab/report/mod.ts";
   * const doc: ReportDoc = await buildReport("suite", "gate");
   * console.log(doc.reading.shows);
   * ```
   */
  ReportDoc,
  /**
   * A kind of report.
   *
   * @example
   * ```ts
   * import type { ReportKind } from "./lab/report/mod.ts";
   * const k: ReportKind = "run";
   * ```
   */
  ReportKind,
  /**
   * A titled section of a report.
   *
   * @example
   * ```ts
   * import type { Section } from "./lab/report/mod.ts";
   * const s: Section = { title: "Methods", blocks: [{ kind: "list", items: ["family-clustered t intervals"] }] };
   * ```
   */
  Section,
  /**
   * One episode's trace as a report shows it: tool calls with SQL and results, the verdict, the answer.
   *
   * @example
   * ```ts
   * import type { Trace } from "./lab/report/mod.ts";
   * const t: Trace = { title: "base · fam/t0", pass: true, verdict: "correct", steps: [{ tool: "dbRead", sql: "SELECT 1", ok: true }] };
   * ```
   */
  Trace,
  /**
   * One tool call of a {@linkcode Trace}.
   *
   * @example
   * ```ts
   * import type { TraceStep } from "./lab/report/mod.ts";
   * const s: TraceStep = { tool: "submitAnswer", args: "{\"answer\":42}", ok: true };
   * ```
   */
  TraceStep,
} from "./_page.ts";
export {
  /**
   * Which way a finding's 95 % interval lies: above 0, below 0, neither, or no interval.
   *
   * @example
   * ```ts
   * import { direction } from "./lab/report/mod.ts";
   * direction({ lo: 0.02, hi: 0.2 }); // "above"
   * ```
   */
  direction,
  /**
   * The "Reading" of a report generated from its paired differences ("no arm differs from base at 95 %",
   * "fine-tuned + context is below fine-tuned alone by X [a, b]"), plus facts and limits; a pure function.
   *
   * @example
   * ```ts
   * import { readingOf } from "./lab/report/mod.ts";
   * readingOf({ findings: [{ arm: "context", versus: "base", estimate: 0.01, lo: -0.05, hi: 0.07 }] }).shows;
   * // ["No arm differs from base at 95 % (1 comparison)."]
   * ```
   */
  readingOf,
} from "./reading.ts";
export type {
  /**
   * A paired difference the reading reads (arm − versus, rate units, with its 95 % interval or a note).
   *
   * @example
   * ```ts
   * import type { Finding } from "./lab/report/mod.ts";
   * const f: Finding = { arm: "fine-tuned", versus: "base", estimate: 0.2, lo: 0.1, hi: 0.3, where: "dev" };
   * ```
   */
  Finding,
  /**
   * What {@linkcode readingOf} returns: what the numbers show, what they do not, and both as one paragraph.
   *
   * @example
   * ```ts
   * import { type Reading, readingOf } from "./lab/report/mod.ts";
   * const r: Reading = readingOf({ findings: [] });
   * ```
   */
  Reading,
  /**
   * What {@linkcode readingOf} reads: findings, the control, facts, limits and the lab-mini label.
   *
   * @example
   * ```ts
   * import type { ReadingInput } from "./lab/report/mod.ts";
   * const i: ReadingInput = { findings: [], facts: ["12 patterns came out of 72 episodes."], label: null };
   * ```
   */
  ReadingInput,
} from "./reading.ts";
