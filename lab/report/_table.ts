/**
 * HTML tables for notebooks and reports.
 * @module
 */
import { DENO_INSPECT, type Displayable, escapeHtml, JUPYTER_DISPLAY, type MediaBundle } from "./_display.ts";
import { hasOwnToString, type Rows, viewRows } from "./_rows.ts";

/**
 * Options for {@linkcode htmlTable}.
 * @internal
 */
export interface HtmlTableOptions {
  /** Shown above the table. */
  caption?: string;
  /** Rows shown; the rest are counted in a footer. @default 50 */
  maxRows?: number;
}

/** A rendered table: display it in a notebook, or embed `html` in a report. */
export class HtmlTable implements Displayable {
  /** Wraps a rendered table (use {@linkcode htmlTable} to make one). */
  constructor(
    /** Self-contained `<table>` markup (inline styles only, so it survives being pasted into any page). */
    readonly html: string,
    /** The same table as aligned plain text. */
    readonly text: string,
  ) {}

  /** The MIME bundle Jupyter displays: the HTML table and its plain-text form. */
  [JUPYTER_DISPLAY](): MediaBundle {
    return { "text/plain": this.text, "text/html": this.html };
  }

  /** How `console.log` shows the table: as aligned plain text. */
  [DENO_INSPECT](): string {
    return this.text;
  }

  /** The table as aligned plain text. */
  toString(): string {
    return this.text;
  }
}

/** One formatted cell: its text and whether it reads as a number (right-aligned). */
interface Cell {
  text: string;
  numeric: boolean;
  isNull: boolean;
}

/** Renders rows (plain objects or an apache-arrow Table) as an HTML + plain-text table. */
export function htmlTable(source: Rows, options: HtmlTableOptions = {}): HtmlTable {
  const maxRows = options.maxRows ?? 50;
  if (!Number.isInteger(maxRows) || maxRows < 0) {
    throw new RangeError(`htmlTable: maxRows must be a non-negative integer, found ${maxRows}`);
  }
  const { columns, rows, total, numericColumns } = viewRows(source, maxRows);
  const cells: Cell[][] = rows.map((row) =>
    columns.map((c) => {
      const cell = formatCell(row[c]);
      return numericColumns.has(c) && !cell.isNull ? { ...cell, numeric: true } : cell;
    })
  );
  // A column is right-aligned (header too) when every non-null value in it is a number.
  const numericColumn = columns.map((_, j) =>
    numericColumns.has(columns[j]) ||
    (cells.some((r) => !r[j].isNull) && cells.every((r) => r[j].isNull || r[j].numeric))
  );
  const footer = total > rows.length
    ? `${rows.length} of ${total} rows shown`
    : `${total} row${total === 1 ? "" : "s"}`;
  return new HtmlTable(
    renderHtml(columns, cells, numericColumn, footer, options.caption),
    renderText(columns, cells, numericColumn, footer, options.caption),
  );
}

const TH = "padding:2px 8px;border-bottom:1px solid #999;";
const TD = "padding:2px 8px;";

function renderHtml(columns: string[], cells: Cell[][], numeric: boolean[], footer: string, caption?: string): string {
  const align = (j: number) => (numeric[j] ? "text-align:right;" : "text-align:left;");
  const head = columns.map((c, j) => `<th style="${TH}${align(j)}">${escapeHtml(c)}</th>`).join("");
  const body = cells.map((row) =>
    "<tr>" +
    row.map((cell, j) => {
      const style = TD + align(j) + (cell.isNull ? "color:#999;font-style:italic;" : "") +
        (cell.numeric ? "font-variant-numeric:tabular-nums;" : "white-space:pre-wrap;");
      return `<td style="${style}">${escapeHtml(cell.text)}</td>`;
    }).join("") +
    "</tr>"
  ).join("\n");
  const cap = caption === undefined
    ? ""
    : `<caption style="caption-side:top;text-align:left;font-weight:bold;">${escapeHtml(caption)}</caption>`;
  return `<table style="border-collapse:collapse;font-size:13px;">${cap}` +
    `<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>` +
    `<tfoot><tr><td colspan="${Math.max(columns.length, 1)}" style="${TD}color:#666;font-size:11px;">` +
    `${escapeHtml(footer)}</td></tr></tfoot></table>`;
}

const TEXT_CELL_MAX = 60;

function renderText(columns: string[], cells: Cell[][], numeric: boolean[], footer: string, caption?: string): string {
  const clip = (s: string) => {
    const one = s.replace(/\s+/g, " ");
    return one.length > TEXT_CELL_MAX ? one.slice(0, TEXT_CELL_MAX - 1) + "…" : one;
  };
  const grid = [columns.map(clip), ...cells.map((r) => r.map((c) => clip(c.text)))];
  const widths = columns.map((_, j) => Math.max(...grid.map((r) => r[j].length)));
  const line = (r: string[]) =>
    r.map((s, j) => (numeric[j] ? s.padStart(widths[j]) : s.padEnd(widths[j]))).join("  ").trimEnd();
  const out = [line(grid[0]), widths.map((w) => "-".repeat(w)).join("  "), ...grid.slice(1).map(line), `(${footer})`];
  if (caption !== undefined) out.unshift(caption);
  return out.join("\n");
}

/** Formats one value. Locale-independent, so the same data always renders the same text. */
export function formatCell(value: unknown): Cell {
  if (value === null || value === undefined) return { text: "null", numeric: false, isNull: true };
  if (typeof value === "number") return { text: formatNumber(value), numeric: true, isNull: false };
  if (typeof value === "bigint") return { text: value.toString(), numeric: true, isNull: false };
  if (typeof value === "string") return { text: value, numeric: false, isNull: false };
  if (typeof value === "boolean") return { text: String(value), numeric: false, isNull: false };
  if (value instanceof Date) return { text: formatDate(value), numeric: false, isNull: false };
  if (typeof value === "object" && !Array.isArray(value) && !ArrayBuffer.isView(value) && hasOwnToString(value)) {
    // Arrow row/vector objects stringify as JSON-ish text; DuckDB value classes as SQL literals.
    const text = String(value);
    return { text, numeric: /^-?\d+(\.\d+)?$/.test(text), isNull: false };
  }
  return { text: safeJson(value), numeric: false, isNull: false };
}

/** Integers as-is (ids and years must not get thousands separators); fractions to at most 4 decimals. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (Number.isInteger(n)) return Math.abs(n) < 1e21 ? n.toFixed(0) : n.toExponential(4);
  const abs = Math.abs(n);
  if (abs >= 1e15 || abs < 1e-4) return n.toExponential(3);
  // toFixed then trim: deterministic across locales, unlike toLocaleString.
  return n.toFixed(4).replace(/0+$/, "").replace(/\.$/, "");
}

function formatDate(d: Date): string {
  if (Number.isNaN(d.getTime())) return "Invalid Date";
  const iso = d.toISOString();
  return iso.endsWith("T00:00:00.000Z") ? iso.slice(0, 10) : iso.replace(".000Z", "Z");
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
  } catch {
    return String(value);
  }
}
