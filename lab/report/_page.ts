/**
 * A report as data ({@linkcode ReportDoc}) and its one rendering: a self-contained HTML page. Charts are inline
 * SVG rendered server-side, each with its Vega-Lite spec beside it in a `<script type="application/json">` (data,
 * never executed); CSS is inline (with print rules); a Content-Security-Policy of `default-src 'none'` makes any
 * request the page might try fail, so the file reads the same offline. Headline numbers carry `data-key` and
 * `data-value` (the exact number) so a test reads them back.
 * @module
 */
import { escapeHtml } from "./_display.ts";
import { renderSvg, type VegaLiteSpec } from "./_chart.ts";

/** The kinds of report. */
export const REPORT_KINDS = ["run", "suite", "experiment", "dataset", "model", "demo"] as const;

/** A kind of report. */
export type ReportKind = typeof REPORT_KINDS[number];

/** One table cell: its text, and for a headline number its key and exact value. */
export interface Cell {
  /** The text shown. */
  text: string;
  /** A stable key of the number (`dev.base.accuracy`); the page carries it as `data-key`. */
  key?: string;
  /** The exact number the text shows (`data-value`). */
  value?: number | null;
  /** Right-aligned. @default true when `value` is set */
  numeric?: boolean;
}

/** A block of a section. */
export type Block =
  | { kind: "table"; caption?: string; columns: string[]; rows: (Cell | string)[][] }
  | { kind: "chart"; title: string; spec: VegaLiteSpec; caption?: string }
  | { kind: "text"; text: string }
  | { kind: "list"; items: string[] }
  | { kind: "json"; summary: string; value: unknown };

/** A titled section of a report. */
export interface Section {
  /** The section's heading. */
  title: string;
  /** Its blocks, in order. */
  blocks: Block[];
}

/** One step of a trace: a tool call with its arguments (SQL shown as code) and its result. */
export interface TraceStep {
  /** The tool's name. */
  tool: string;
  /** The statement, for dbRead and dbWrite. */
  sql?: string;
  /** Other arguments as JSON. */
  args?: string;
  /** Whether the call succeeded. */
  ok: boolean;
  /** The result (clipped). */
  result?: string;
}

/** One episode's trace, rendered readably. */
export interface Trace {
  /** Which episode: arm or strategy, challenge, seed. */
  title: string;
  /** Whether the verdict passed. */
  pass: boolean;
  /** The verdict's reason (or score) in one line. */
  verdict: string;
  /** Task text, when the source has it. */
  task?: string;
  /** The tool calls, in order. */
  steps: TraceStep[];
  /** The submitted answer (JSON), if any. */
  answer?: string | null;
  /** Why the episode stopped. */
  stop?: string;
}

/** A report as data: what {@linkcode renderReportHtml} renders. */
export interface ReportDoc {
  /** The kind of report. */
  kind: ReportKind;
  /** The report's subject (run id, suite, file, version). */
  id: string;
  /** The page title. */
  title: string;
  /** The question the results answer. */
  question: string;
  /** The lab-mini label when the results are lab-mini's; shown on the page and under every figure. */
  label: string | null;
  /** Header rows: configuration, seeds, git commit, model ids, sandbox… */
  header: [string, string][];
  /** The full configuration, shown folded. */
  config?: unknown;
  /** The headline sections, then the rest. */
  sections: Section[];
  /** The "Reading" paragraph(s). */
  reading: { shows: string[]; doesNotShow: string[] };
  /** A few passed and failed episodes; `tracesNote` says why there are none. */
  traces: Trace[];
  /** Why there are no traces, when there are none. */
  tracesNote?: string;
  /** When and at which commit the report was built. */
  built: { at: string; commit: string | null };
}

const CSS = `
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1a1a1a;
  max-width: 1100px; margin: 24px auto; padding: 0 20px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.kind { text-transform: uppercase; letter-spacing: .06em; font-size: 11px; color: #666; }
.question { font-style: italic; color: #333; margin: 4px 0 12px; }
.label { background: #fff4d6; border: 1px solid #e0b84c; padding: 4px 8px; border-radius: 3px; font-size: 12px; display: inline-block; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 14px; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: 4px; }
th, td { padding: 3px 9px; border-bottom: 1px solid #e4e4e4; vertical-align: top; text-align: left; }
th { border-bottom: 1px solid #999; background: #fafafa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.header td:first-child { color: #555; white-space: nowrap; }
table.header td { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; word-break: break-all; }
figure { margin: 10px 0 18px; break-inside: avoid; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: #555; }
.reading { background: #f4f8fc; border-left: 4px solid #4a7fb5; padding: 8px 14px; }
.reading p { margin: 6px 0; }
pre, code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
pre { background: #f6f6f6; padding: 6px 8px; white-space: pre-wrap; word-break: break-word; margin: 4px 0; }
.trace { border: 1px solid #ddd; border-radius: 4px; padding: 6px 12px; margin: 10px 0; break-inside: avoid; }
.trace.pass { border-left: 4px solid #3c9a5f; } .trace.fail { border-left: 4px solid #c0504d; }
.trace ol { padding-left: 20px; margin: 4px 0; }
.ok { color: #3c9a5f; } .err { color: #c0504d; }
.built { color: #777; font-size: 11px; margin-top: 30px; }
details > summary { cursor: pointer; color: #355f8a; }
@media print {
  body { margin: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; } table, .trace, figure { break-inside: avoid; }
  details > *:not(summary) { display: block; }
  .reading { background: none; }
}`;

/** JSON safe inside a `<script>` element: `<` escaped so no `</script>` or comment can end it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value, null, 1).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

function cellHtml(c: Cell | string, header = false): string {
  const cell: Cell = typeof c === "string" ? { text: c } : c;
  const tag = header ? "th" : "td";
  const numeric = cell.numeric ?? cell.value !== undefined;
  const attrs = [
    numeric ? ` class="num"` : "",
    cell.key !== undefined ? ` data-key="${escapeHtml(cell.key)}"` : "",
    cell.key !== undefined ? ` data-value="${cell.value === null || cell.value === undefined ? "" : String(cell.value)}"` : "",
  ].join("");
  return `<${tag}${attrs}>${escapeHtml(cell.text)}</${tag}>`;
}

async function blockHtml(b: Block, label: string | null, index: number): Promise<string> {
  switch (b.kind) {
    case "table":
      return `<table>${b.caption ? `<caption>${escapeHtml(b.caption)}</caption>` : ""}<thead><tr>${b.columns.map((c) => cellHtml(c, true)).join("")}</tr></thead>` +
        `<tbody>${b.rows.map((r) => `<tr>${r.map((c) => cellHtml(c)).join("")}</tr>`).join("\n")}</tbody></table>`;
    case "chart": {
      const svg = await renderSvg(b.spec);
      const caption = [b.caption, label].filter(Boolean).map((t) => escapeHtml(t!)).join(" — ");
      return `<figure class="chart" data-chart="${index}" aria-label="${escapeHtml(b.title)}">${svg}` +
        `<script type="application/json" class="vega-lite-spec">${scriptJson(b.spec)}</script>` +
        (caption ? `<figcaption>${caption}</figcaption>` : "") + `</figure>`;
    }
    case "text":
      return `<p>${escapeHtml(b.text)}</p>`;
    case "list":
      return `<ul>${b.items.map((i) => `<li>${escapeHtml(i)}</li>`).join("")}</ul>`;
    case "json":
      return `<details><summary>${escapeHtml(b.summary)}</summary><pre>${escapeHtml(JSON.stringify(b.value, null, 2))}</pre></details>`;
  }
}

function traceHtml(t: Trace): string {
  const steps = t.steps.map((s) =>
    `<li><b>${escapeHtml(s.tool)}</b> <span class="${s.ok ? "ok" : "err"}">${s.ok ? "ok" : "error"}</span>` +
    (s.sql ? `<pre class="sql">${escapeHtml(s.sql)}</pre>` : s.args ? `<pre>${escapeHtml(s.args)}</pre>` : "") +
    (s.result ? `<pre class="result">${escapeHtml(s.result)}</pre>` : "") + `</li>`
  ).join("");
  return `<div class="trace ${t.pass ? "pass" : "fail"}"><h3>${t.pass ? "passed" : "failed"}: ${escapeHtml(t.title)}</h3>` +
    (t.task ? `<p class="task">Task: ${escapeHtml(t.task)}</p>` : "") +
    `<p>Verdict: ${escapeHtml(t.verdict)}${t.stop ? ` · stopped: ${escapeHtml(t.stop)}` : ""}</p>` +
    (t.steps.length ? `<ol>${steps}</ol>` : "<p>No tool calls recorded.</p>") +
    (t.answer !== undefined ? `<p>Answer: <code>${escapeHtml(t.answer ?? "(none submitted)")}</code></p>` : "") + `</div>`;
}

/** Renders a report as one self-contained HTML page (see the module doc). */
export async function renderReportHtml(doc: ReportDoc): Promise<string> {
  let charts = 0;
  const sections: string[] = [];
  for (const s of doc.sections) {
    const blocks: string[] = [];
    for (const b of s.blocks) blocks.push(await blockHtml(b, doc.label, b.kind === "chart" ? charts++ : -1));
    sections.push(`<section><h2>${escapeHtml(s.title)}</h2>${blocks.join("\n")}</section>`);
  }
  const reading = `<section class="reading" id="reading"><h2>Reading</h2>` +
    `<p><b>What this shows.</b> ${doc.reading.shows.map(escapeHtml).join(" ")}</p>` +
    (doc.reading.doesNotShow.length ? `<p><b>What it does not show.</b> ${doc.reading.doesNotShow.map(escapeHtml).join(" ")}</p>` : "") +
    `</section>`;
  const traces = `<section id="traces"><h2>Traces</h2>` +
    (doc.traces.length ? doc.traces.map(traceHtml).join("\n") : `<p>${escapeHtml(doc.tracesNote ?? "No traces in the source.")}</p>`) +
    `</section>`;
  const header = `<table class="header">${doc.header.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join("")}</table>` +
    (doc.config === undefined ? "" : `<details><summary>Full configuration</summary><pre>${escapeHtml(JSON.stringify(doc.config, null, 2))}</pre></details>`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="lab report">
<title>${escapeHtml(doc.title)}</title>
<style>${CSS}</style>
</head>
<body data-report-kind="${doc.kind}" data-report-id="${escapeHtml(doc.id)}">
<header>
<div class="kind">lab report · ${doc.kind}</div>
<h1>${escapeHtml(doc.title)}</h1>
<p class="question">${escapeHtml(doc.question)}</p>
${doc.label ? `<p class="label" id="lab-mini-label">${escapeHtml(doc.label)}</p>` : ""}
${header}
</header>
<main>
${sections.slice(0, 1).join("\n")}
${reading}
${sections.slice(1).join("\n")}
${traces}
</main>
<footer class="built">Built ${escapeHtml(doc.built.at)}${doc.built.commit ? ` at commit ${escapeHtml(doc.built.commit)}` : ""} by <code>lab report ${doc.kind}</code>. Charts are Vega-Lite specs (embedded beside each SVG) rendered to SVG; this file makes no network request.</footer>
</body>
</html>
`;
}
