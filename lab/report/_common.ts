/**
 * Helpers shared by the report builders: number formats, the interval chart, the git commit, JSON input reading
 * with one-line errors.
 * @module
 */
import { ConfigError, displayPath, repoPath } from "../util/mod.ts";
import { VEGA_LITE_SCHEMA, type VegaLiteSpec } from "./_chart.ts";
import type { Cell } from "./_page.ts";

/** A rate as a percentage with one decimal ("42.5 %"). */
export const pct = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? "—" : `${(100 * x).toFixed(1)} %`);

/** Points with a sign ("+4.2"). */
export const pts = (x: number): string => `${x >= 0 ? "+" : "−"}${(100 * Math.abs(x)).toFixed(1)}`;

/** An estimate with its interval, in percent or signed points, or its note when it has none. */
export function withInterval(e: { estimate: number; lo: number | null; hi: number | null; note?: string | null }, signed: boolean): string {
  const f = (x: number) => (signed ? pts(x) : (100 * x).toFixed(1));
  const unit = signed ? " pts" : " %";
  return e.lo === null || e.hi === null
    ? `${f(e.estimate)}${unit} (no interval${e.note ? `: ${e.note}` : ""})`
    : `${f(e.estimate)}${unit} [${f(e.lo)}, ${f(e.hi)}]`;
}

/** A headline cell: the text and the exact number under `key`. */
export const num = (key: string, value: number | null, text: string): Cell => ({ key, value, text });

/** A plain number: integers as-is, else `digits` decimals. */
export const fmt = (x: number | null | undefined, digits = 1): string =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : Number.isInteger(x) ? String(x) : x.toFixed(digits);

/** One row of {@linkcode intervalChart}. */
export interface IntervalRow {
  /** The category on the y axis (arm, strategy). */
  label: string;
  estimate: number;
  lo: number | null;
  hi: number | null;
  /** A second grouping (split), shown as colour. */
  group?: string;
}

/**
 * A horizontal point-and-interval chart (rates or lifts in percent): a point per row and a rule over its 95 %
 * interval; a zero line when `zero` is set.
 */
export function intervalChart(rows: readonly IntervalRow[], o: { title: string; x: string; zero?: boolean }): VegaLiteSpec {
  const values = rows.map((r) => ({
    label: r.label,
    group: r.group ?? "",
    estimate: 100 * r.estimate,
    lo: r.lo === null ? null : 100 * r.lo,
    hi: r.hi === null ? null : 100 * r.hi,
  }));
  const grouped = rows.some((r) => r.group);
  const y = { field: "label", type: "nominal", sort: null, title: null };
  const color = grouped ? { color: { field: "group", type: "nominal", title: null } } : {};
  const yOffset = grouped ? { yOffset: { field: "group", type: "nominal" } } : {};
  const layer: unknown[] = [
    { mark: { type: "rule", strokeWidth: 2 }, transform: [{ filter: "datum.lo !== null" }], encoding: { y, ...yOffset, x: { field: "lo", type: "quantitative", title: o.x }, x2: { field: "hi" }, ...color } },
    { mark: { type: "point", filled: true, size: 60, tooltip: true }, encoding: { y, ...yOffset, x: { field: "estimate", type: "quantitative", title: o.x }, ...color } },
  ];
  if (o.zero) layer.unshift({ data: { values: [{ zero: 0 }] }, mark: { type: "rule", color: "#888", strokeDash: [4, 3] }, encoding: { x: { field: "zero", type: "quantitative" } } });
  return {
    $schema: VEGA_LITE_SCHEMA,
    title: o.title,
    width: 460,
    height: { step: grouped ? 14 : 22 } as unknown as number,
    data: { values },
    layer,
  } as VegaLiteSpec;
}

/** The repository's current commit, or null outside a git checkout. */
export async function gitHead(): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", { args: ["rev-parse", "HEAD"], cwd: repoPath(), stdout: "piped", stderr: "null" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

/** Reads a JSON file; a missing or malformed one is a one-line ConfigError naming it and what was expected. */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message.split("\n")[0];
    throw new ConfigError(`${displayPath(path)}: cannot read ${what} (${why})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${displayPath(path)}: not valid JSON, expected ${what} (${(e as Error).message.split("\n")[0]})`);
  }
}

/** Keeps the first characters of a long text, marking the cut. */
export function clip(text: string, max = 600): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
