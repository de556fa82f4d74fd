/**
 * Vega-Lite charts rendered to SVG on the server, so static HTML (nbconvert, reports) shows them without JavaScript.
 * @module
 */
import * as vega from "vega";
import * as vl from "vega-lite";
import { DENO_INSPECT, type Displayable, JUPYTER_DISPLAY, type MediaBundle } from "./_display.ts";
import { type Rows, toJsonValue, viewRows } from "./_rows.ts";

/** A Vega-Lite (v5) top-level specification. */
export type VegaLiteSpec = vl.TopLevelSpec;

/** The schema URL the factories put in `$schema`; Jupyter frontends pick the Vega-Lite renderer by it. */
export const VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json";

// vega-scenegraph numbers clip paths and gradients with module-level counters ("clip1", "gradient_0"), so two
// renders of the same spec differ unless the counters are reset right before each one. Renders are queued so a
// concurrent render cannot advance the counters in between.
const resetSvgIds = (vega as unknown as { resetSVGDefIds?: () => void }).resetSVGDefIds;
let renderQueue: Promise<unknown> = Promise.resolve();

/** Compiles a Vega-Lite spec and renders it headless to an SVG string; the same spec always gives the same SVG. */
export function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const run = async () => {
    const compiled = vl.compile(spec).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: "none" });
    try {
      await view.runAsync();
      resetSvgIds?.();
      return await view.toSVG();
    } finally {
      view.finalize();
    }
  };
  const result = renderQueue.then(run, run);
  renderQueue = result.catch(() => undefined);
  return result;
}

/** A chart ready to display: the Vega-Lite spec for interactive frontends plus its server-rendered SVG. */
export class Chart implements Displayable {
  /** Wraps a spec and its rendered SVG (use {@linkcode chart} to make one). */
  constructor(readonly spec: VegaLiteSpec, readonly svg: string) {}

  /** The MIME bundle Jupyter displays: the interactive spec, the SVG and a text line. */
  [JUPYTER_DISPLAY](): MediaBundle {
    return {
      // JupyterLab draws the interactive chart from the spec; nbconvert's HTML cannot, and shows the SVG.
      "application/vnd.vegalite.v5+json": { $schema: VEGA_LITE_SCHEMA, ...this.spec },
      "image/svg+xml": this.svg,
      "text/plain": this.describe(),
    };
  }

  /** How `console.log` shows the chart: one line naming its title and mark. */
  [DENO_INSPECT](): string {
    return this.describe();
  }

  /** One line naming the chart's title and mark. */
  private describe(): string {
    const s = this.spec as { title?: unknown; mark?: unknown };
    const title = typeof s.title === "string" ? ` "${s.title}"` : "";
    const mark = typeof s.mark === "string" ? s.mark : (s.mark as { type?: string } | undefined)?.type ?? "layered";
    return `<Chart${title}: ${mark}>`;
  }
}

/** Renders a spec to SVG and wraps both in a displayable {@linkcode Chart}. */
export async function chart(spec: VegaLiteSpec): Promise<Chart> {
  return new Chart(spec, await renderSvg(spec));
}

/**
 * Options for {@linkcode lineChart} and {@linkcode barChart}. Field names are columns of the rows.
 * @internal
 */
export interface XYChartOptions {
  /** Column for the x axis. */
  x: string;
  /** Column for the y axis (quantitative). */
  y: string;
  /** Column that splits the data into coloured series. */
  color?: string;
  title?: string;
  /** Inferred from the x values: numbers → quantitative, dates → temporal, else nominal. */
  xType?: "quantitative" | "temporal" | "ordinal" | "nominal";
  /** @default 480 */
  width?: number;
  /** @default 280 */
  height?: number;
}

/** A line chart spec, one line per `color` value, with points on the line. */
export function lineChart(rows: Rows, options: XYChartOptions): VegaLiteSpec {
  return xyChart(rows, options, { type: "line", point: true }, "quantitative");
}

/** A bar chart spec; with `color`, bars of the same x are grouped side by side (xOffset), not stacked. */
export function barChart(rows: Rows, options: XYChartOptions): VegaLiteSpec {
  return xyChart(rows, options, { type: "bar" }, "nominal");
}

function xyChart(
  rows: Rows,
  options: XYChartOptions,
  mark: { type: "line" | "bar"; point?: boolean },
  fallbackXType: "quantitative" | "nominal",
): VegaLiteSpec {
  const view = viewRows(rows);
  for (const field of [options.x, options.y, options.color]) {
    if (field !== undefined && view.total > 0 && !view.columns.includes(field)) {
      throw new RangeError(`Chart field "${field}" is not a column; columns are: ${view.columns.join(", ")}`);
    }
  }
  const values = view.rows.map((r) => toJsonValue(r) as Record<string, unknown>);
  const xValues = view.rows.map((r) => r[options.x]);
  const xType = options.xType ?? inferType(xValues, fallbackXType);
  const x: Record<string, unknown> = { field: options.x, type: xType };
  if (xType === "nominal" || xType === "ordinal") {
    // Vega-Lite turns discrete labels vertical by default; keep a few horizontal, slant many so they don't overlap.
    x.axis = { labelAngle: new Set(xValues.map(String)).size > 8 ? -40 : 0 };
    if (mark.type === "bar") x.sort = null; // data order: callers sort rows the way they mean it
  } else if (xType === "quantitative" && xValues.every((v) => v === null || v === undefined || isInteger(v))) {
    // Generations and levels: no "1.5" ticks. tickMinStep alone is only a hint to d3's tick generator (it still
    // picks 1, 1.5, 2 for a domain of 1..3), so a few distinct values are listed outright.
    const distinct = [...new Set(xValues.filter((v) => v !== null && v !== undefined).map(Number))].sort((a, b) =>
      a - b
    );
    x.axis = distinct.length <= 12 ? { values: distinct, format: "d" } : { tickMinStep: 1, format: "d" };
  }
  const encoding: Record<string, unknown> = { x, y: { field: options.y, type: "quantitative" } };
  if (options.color !== undefined) {
    encoding.color = { field: options.color, type: "nominal" };
    if (mark.type === "bar") encoding.xOffset = { field: options.color, type: "nominal" };
  }
  return {
    $schema: VEGA_LITE_SCHEMA,
    ...(options.title === undefined ? {} : { title: options.title }),
    width: options.width ?? 480,
    height: options.height ?? 280,
    data: { values },
    mark: { ...mark, tooltip: true },
    encoding,
  } as VegaLiteSpec;
}

function isInteger(v: unknown): boolean {
  return typeof v === "bigint" || (typeof v === "number" && Number.isInteger(v));
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

function inferType(
  values: unknown[],
  fallback: "quantitative" | "nominal",
): "quantitative" | "temporal" | "ordinal" | "nominal" {
  const present = values.filter((v) => v !== null && v !== undefined);
  if (present.length === 0) return fallback;
  if (present.every((v) => v instanceof Date || (typeof v === "string" && ISO_DATE.test(v)))) return "temporal";
  if (present.every((v) => typeof v === "number" || typeof v === "bigint")) {
    // Bars over a few numeric categories (levels, generations) read better as discrete bands.
    return fallback === "nominal" ? "ordinal" : "quantitative";
  }
  return "nominal";
}
