/**
 * Performance analytics of use (seeds 003 and 004): success, cost, latency and acceptance by window (7 days, 30
 * days, all) and their trend, for each source of outcomes on its own clock:
 * - **asks** (`lab ask`, logged by {@linkcode recordAsk}) on real time, when asked; an ask succeeds when the person
 *   accepted its answer unchanged, fails when they edited or rejected it, and is not judged while pending;
 * - **tournament episodes** (the tournament store's `episodes`) on run time, when each episode started;
 * - **eval-suite runs** (`data/evals/<suite>/*.json`, {@linkcode EvalRun} files) on run time, the run's time.
 *
 * Everything reads into one record shape ({@linkcode UseRecord}); the summaries and the trend are pure functions
 * of records and a day, so a notebook can plant records and read the same figures as `lab monitor`.
 *
 * The trend is the slope of the daily success rate over the last `trendDays` days, by weighted least squares
 * (each day weighted by its judged outcomes) with a Student t interval from the residuals: day-to-day noise widens
 * it, as it should.
 * @module
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type EvalRun, parseEvalRun } from "../evals/mod.ts";
import type { PatternStore } from "../patterns/mod.ts";
import { normalQuantile, quantile, studentTQuantile, wilsonInterval } from "../stats/mod.ts";
import { queryStore } from "../tournament/mod.ts";
import { ConfigError } from "../util/mod.ts";
import { acceptanceRates, type AcceptanceRates, type AskOutcome, askOutcomes, type SimulatedFilter } from "./corrections.ts";

/** The scopes a series can be cut by (`all`: the whole source). */
export const SCOPE_KINDS = ["all", "model", "strategy", "category"] as const;
/** A scope kind. */
export type ScopeKind = (typeof SCOPE_KINDS)[number];

/** Where outcomes come from: a person's asks (real time), tournament episodes and eval-suite runs (run time). */
export const USE_SOURCES = ["ask", "tournament", "suite"] as const;
/** A source of outcomes. */
export type UseSource = (typeof USE_SOURCES)[number];

/** The clock of a source: real time for real use, run time for runs. */
export const CLOCK_OF: Readonly<Record<UseSource, "real" | "run">> = Object.freeze({ ask: "real", tournament: "run", suite: "run" });

/** One outcome of use: an ask, a tournament episode or a suite episode. */
export interface UseRecord {
  /** Where the outcomes come from. */
  source: UseSource;
  /** Its id in its source (ask id, `<run>/<episode>`, `<suite run>/<arm>/<challenge>/<seed>`). */
  ref: string;
  /** ISO time on its source's clock. */
  at: string;
  /** The model (name). */
  model: string | null;
  /** The strategy id. */
  strategy: string | null;
  /** The challenge category (`ask` for a person's own question). */
  category: string | null;
  /** Whether it succeeded; null when not judged (a pending ask). */
  success: boolean | null;
  /** Asks: how the person received it. */
  outcome?: AskOutcome;
  /** Cost in US dollars. */
  costUsd: number | null;
  /** Wall time in milliseconds. */
  latencyMs: number | null;
}

/**
 * The asks logged in the pattern store as records (real ones unless `simulated` says otherwise).
 *
 * @example
 * ```ts
 * const records = await askRecords(store);
 * ```
 */
export async function askRecords(store: PatternStore, options: { simulated?: SimulatedFilter } = {}): Promise<UseRecord[]> {
  return (await askOutcomes(store, options)).map((a) => ({
    source: "ask",
    ref: a.askId,
    at: new Date(a.askedAt).toISOString(),
    model: a.model,
    strategy: a.strategyId,
    category: a.category,
    success: a.outcome === "pending" ? null : a.outcome === "accepted",
    outcome: a.outcome,
    costUsd: a.costUsd,
    latencyMs: a.latencyMs,
  }));
}

/** Options of {@linkcode tournamentRecords} and {@linkcode suiteRecords}. */
export interface RunRecordsOptions {
  /** A challenge family's category (from the catalog's families); a family missing here has none. @default none */
  categories?: Readonly<Record<string, string>>;
}

/**
 * The tournament store's episodes as records, on run time (a missing file, or one without episodes, has none).
 *
 * @example
 * ```ts
 * const records = await tournamentRecords(DEFAULT_DB_PATH, { categories: Object.fromEntries(families.map((f) => [f.family, f.category])) });
 * ```
 */
export async function tournamentRecords(db: string, options: RunRecordsOptions = {}): Promise<UseRecord[]> {
  if (db !== ":memory:" && !existsSync(db)) return [];
  const has = await queryStore(db, "SELECT count(*)::INTEGER AS n FROM duckdb_tables() WHERE table_name = 'episodes'");
  if (!Number(has[0]?.n)) return [];
  const rows = await queryStore(
    db,
    `SELECT run_id, id, family, strategy_id, model_name, pass, cost_usd, latency_ms, started_at
     FROM episodes WHERE started_at IS NOT NULL ORDER BY started_at, run_id, id`,
  );
  return rows.map((r) => ({
    source: "tournament" as const,
    ref: `${r.run_id}/${r.id}`,
    at: new Date(String(r.started_at)).toISOString(),
    model: (r.model_name as string | null) ?? null,
    strategy: (r.strategy_id as string | null) ?? null,
    category: options.categories?.[String(r.family)] ?? null,
    success: Boolean(r.pass),
    costUsd: r.cost_usd === null ? null : Number(r.cost_usd),
    latencyMs: r.latency_ms === null ? null : Number(r.latency_ms),
  }));
}

const looksLikeRun = (x: unknown): boolean =>
  !!x && typeof x === "object" && typeof (x as EvalRun).suite === "string" && !!(x as EvalRun).pins && Array.isArray((x as EvalRun).episodes);

/**
 * Eval-suite runs as records: every {@linkcode EvalRun} file directly in `<dir>/<suite>/` (other JSON there, such as
 * gate results, is not a run), each episode at its run's time. A copy of a run (same suite, time and shard) counts
 * once. A file that looks like a run but is not a valid one is a one-line {@linkcode ConfigError}.
 *
 * @example
 * ```ts
 * const records = await suiteRecords("data/evals");
 * ```
 */
export async function suiteRecords(dir: string, options: RunRecordsOptions = {}): Promise<UseRecord[]> {
  if (!existsSync(dir)) return [];
  const out: UseRecord[] = [];
  const seen = new Set<string>();
  const suites = [...Deno.readDirSync(dir)].filter((d) => d.isDirectory).map((d) => d.name).sort();
  for (const suite of suites) {
    const files = [...Deno.readDirSync(join(dir, suite))].filter((f) => f.isFile && f.name.endsWith(".json")).map((f) => f.name).sort();
    for (const name of files) {
      const file = join(dir, suite, name);
      let raw: unknown;
      try {
        raw = JSON.parse(await Deno.readTextFile(file));
      } catch (e) {
        throw new ConfigError(`${file}: not valid JSON (${(e as Error).message.split("\n")[0]}); fix it or move it out of ${dir}`);
      }
      if (!looksLikeRun(raw)) continue;
      const run = parseEvalRun(raw, file);
      const key = `${run.suite}\u0000${run.createdAt}\u0000${run.shard ? `${run.shard.index}/${run.shard.count}` : ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const at = new Date(run.createdAt);
      if (Number.isNaN(at.getTime())) throw new ConfigError(`${file}: createdAt '${run.createdAt}' is not a date`);
      for (const e of run.episodes) {
        out.push({
          source: "suite",
          ref: `${suite}/${name.slice(0, -5)}/${e.arm}/${e.challengeId}/${e.seed}`,
          at: at.toISOString(),
          model: e.model,
          strategy: e.strategyId,
          category: options.categories?.[e.family] ?? null,
          success: e.pass,
          costUsd: e.costUsd,
          latencyMs: e.latencyMs,
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;
/** The UTC day (`YYYY-MM-DD`) of an ISO time. */
export const dayOf = (iso: string): string => new Date(iso).toISOString().slice(0, 10);
/** The day `k` days after `day` (negative: before). */
export const addDays = (day: string, k: number): string => new Date(Date.parse(`${day}T00:00:00Z`) + k * DAY_MS).toISOString().slice(0, 10);
/** Days from `a` to `b` (b − a). */
export const daysBetween = (a: string, b: string): number => Math.round((Date.parse(`${b}T00:00:00Z`) - Date.parse(`${a}T00:00:00Z`)) / DAY_MS);

/** A rate with its interval. */
export interface RateCI {
  /** The rate. */
  rate: number;
  /** Lower end of the interval. */
  lo: number;
  /** Upper end of the interval. */
  hi: number;
}

/** The summary of one window. */
export interface WindowSummary {
  /** `7d`, `30d` or `all`. */
  window: string;
  /** First and last day (UTC; `from` is the first record's day for `all`, null when empty). */
  from: string | null;
  /** Last day. */
  to: string;
  /** Records in it. */
  records: number;
  /** Records with a judgement, and successes among them. */
  judged: number;
  /** Successes among them. */
  successes: number;
  /** Success rate among the judged with its Wilson interval (null when none was judged). */
  success: RateCI | null;
  /** Cost in US dollars: total and mean over records that report one. */
  cost: { total: number; mean: number | null; n: number };
  /** Latency in milliseconds over records that report one. */
  latency: { mean: number | null; p50: number | null; p95: number | null; n: number };
  /** Asks only: accepted unchanged, edited, rejected, pending (null for runs). */
  acceptance: AcceptanceRates | null;
}

/** Options of {@linkcode summarizeWindow} and {@linkcode analyzeUse}. */
export interface SummaryOptions {
  /** The last day of every window (`YYYY-MM-DD`, UTC). */
  asOf: string;
  /** The intervals' level. @default 0.95 */
  level?: number;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * The summary of the records in the `days` days ending on `asOf` (all up to `asOf` when `days` is null).
 *
 * @example
 * ```ts
 * summarizeWindow(records, 7, { asOf: "2025-11-28" }).success; // { rate: 0.62, lo: 0.55, hi: 0.69 }
 * ```
 */
export function summarizeWindow(records: readonly UseRecord[], days: number | null, options: SummaryOptions): WindowSummary {
  if (days !== null && !(Number.isInteger(days) && days > 0)) throw new RangeError(`summarizeWindow: days must be a positive integer or null, found ${days}`);
  const to = options.asOf, from = days === null ? null : addDays(to, -(days - 1));
  const mine = records.filter((r) => {
    const d = dayOf(r.at);
    return d <= to && (from === null || d >= from);
  });
  const z = normalQuantile(1 - (1 - (options.level ?? 0.95)) / 2);
  const judged = mine.filter((r) => r.success !== null), successes = judged.filter((r) => r.success).length;
  const w = judged.length ? wilsonInterval(successes, judged.length, z) : null;
  const costs = mine.map((r) => r.costUsd).filter((x): x is number => x !== null && Number.isFinite(x));
  const lat = mine.map((r) => r.latencyMs).filter((x): x is number => x !== null && Number.isFinite(x));
  const total = costs.reduce((a, b) => a + b, 0);
  const asks = mine.filter((r) => r.outcome !== undefined);
  return {
    window: days === null ? "all" : `${days}d`,
    from: from ?? (mine.length ? mine.map((r) => dayOf(r.at)).sort()[0] : null),
    to,
    records: mine.length,
    judged: judged.length,
    successes,
    success: w ? { rate: r4(w.estimate), lo: r4(w.lo), hi: r4(w.hi) } : null,
    cost: { total: Math.round(total * 1e6) / 1e6, mean: costs.length ? Math.round((total / costs.length) * 1e6) / 1e6 : null, n: costs.length },
    latency: {
      mean: lat.length ? Math.round(lat.reduce((a, b) => a + b, 0) / lat.length) : null,
      p50: lat.length ? Math.round(quantile(lat, 0.5)) : null,
      p95: lat.length ? Math.round(quantile(lat, 0.95)) : null,
      n: lat.length,
    },
    acceptance: asks.length ? acceptanceRates(asks as { outcome: AskOutcome }[]) : null,
  };
}

/** One day of a daily series. */
export interface DayPoint {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  /** Records in it. */
  records: number;
  /** Records with a judgement. */
  judged: number;
  /** Successes among them. */
  successes: number;
  /** Success among the judged (null when none). */
  rate: number | null;
  /** Cost in US dollars. */
  costUsd: number;
  /** Mean latency (null when none reported). */
  latencyMs: number | null;
}

/**
 * The per-day series of the records from `from` to `to` (every day, empty ones included).
 *
 * @example
 * ```ts
 * dailySeries(records, "2025-11-01", "2025-11-28").map((p) => p.rate);
 * ```
 */
export function dailySeries(records: readonly UseRecord[], from: string, to: string): DayPoint[] {
  const L = daysBetween(from, to) + 1;
  if (L < 1) throw new RangeError(`dailySeries: from ${from} is after to ${to}`);
  const pts: DayPoint[] = Array.from({ length: L }, (_, i) => ({ day: addDays(from, i), records: 0, judged: 0, successes: 0, rate: null, costUsd: 0, latencyMs: null }));
  const lat = Array.from({ length: L }, () => ({ sum: 0, n: 0 }));
  for (const r of records) {
    const i = daysBetween(from, dayOf(r.at));
    if (i < 0 || i >= L) continue;
    const p = pts[i];
    p.records++;
    if (r.success !== null) {
      p.judged++;
      if (r.success) p.successes++;
    }
    if (r.costUsd !== null) p.costUsd += r.costUsd;
    if (r.latencyMs !== null) [lat[i].sum, lat[i].n] = [lat[i].sum + r.latencyMs, lat[i].n + 1];
  }
  for (let i = 0; i < L; i++) {
    pts[i].rate = pts[i].judged ? r4(pts[i].successes / pts[i].judged) : null;
    pts[i].latencyMs = lat[i].n ? Math.round(lat[i].sum / lat[i].n) : null;
    pts[i].costUsd = Math.round(pts[i].costUsd * 1e6) / 1e6;
  }
  return pts;
}

/** The trend of daily success: the slope and its interval. */
export interface Trend {
  /** First day. */
  from: string;
  /** Last day. */
  to: string;
  /** Days with judged outcomes the fit used. */
  days: number;
  /** Change of the success rate per day (0.01 = one point a day), and its interval. */
  slopePerDay: number;
  /** Lower end of the interval. */
  lo: number;
  /** Upper end of the interval. */
  hi: number;
  /** The same per week (× 7). */
  perWeek: { slope: number; lo: number; hi: number };
  /** Whether the interval excludes 0, and which way. */
  direction: "up" | "down" | "flat";
}

/**
 * The slope of the daily success rate over `days` days ending on `asOf`: weighted least squares (weights = judged
 * outcomes per day), Student t interval (df = days with data − 2) from the weighted residuals. Null with fewer
 * than 3 days with data.
 *
 * @example
 * ```ts
 * successTrend(records, { asOf: "2025-11-28", days: 30 })?.perWeek; // { slope: -0.021, lo: -0.034, hi: -0.008 }
 * ```
 */
export function successTrend(records: readonly UseRecord[], options: SummaryOptions & { days?: number }): Trend | null {
  const days = options.days ?? 30;
  const to = options.asOf, from = addDays(to, -(days - 1));
  const pts = dailySeries(records, from, to).map((p, i) => ({ x: i, w: p.judged, y: p.rate })).filter((p) => p.w > 0);
  if (pts.length < 3) return null;
  const W = pts.reduce((a, p) => a + p.w, 0);
  const mx = pts.reduce((a, p) => a + p.w * p.x, 0) / W, my = pts.reduce((a, p) => a + p.w * p.y!, 0) / W;
  const sxx = pts.reduce((a, p) => a + p.w * (p.x - mx) ** 2, 0);
  if (sxx === 0) return null;
  const slope = pts.reduce((a, p) => a + p.w * (p.x - mx) * (p.y! - my), 0) / sxx;
  const rss = pts.reduce((a, p) => a + p.w * (p.y! - my - slope * (p.x - mx)) ** 2, 0);
  const df = pts.length - 2;
  const se = Math.sqrt(rss / df / sxx);
  const half = studentTQuantile(1 - (1 - (options.level ?? 0.95)) / 2, df) * se;
  const [lo, hi] = [slope - half, slope + half];
  const r6 = (x: number) => Math.round(x * 1e6) / 1e6;
  return {
    from,
    to,
    days: pts.length,
    slopePerDay: r6(slope),
    lo: r6(lo),
    hi: r6(hi),
    perWeek: { slope: r6(7 * slope), lo: r6(7 * lo), hi: r6(7 * hi) },
    direction: lo > 0 ? "up" : hi < 0 ? "down" : "flat",
  };
}

/** A scope: the whole source, or one model, strategy or category. */
export interface Scope {
  /** What the series is cut by. */
  kind: ScopeKind;
  /** The model, strategy or category (`*` for `all`; `(none)` when records have none). */
  value: string;
}

/** The scope value of a record (`*` for `all`). */
export function scopeValue(r: UseRecord, kind: ScopeKind): string {
  if (kind === "all") return "*";
  const v = kind === "model" ? r.model : kind === "strategy" ? r.strategy : r.category;
  return v ?? "(none)";
}

/** Records grouped by source and scope value, in a stable order (source, then value). */
export function groupRecords(records: readonly UseRecord[], kind: ScopeKind): { source: UseSource; scope: Scope; records: UseRecord[] }[] {
  const groups = new Map<string, { source: UseSource; scope: Scope; records: UseRecord[] }>();
  for (const r of records) {
    const value = scopeValue(r, kind), key = `${r.source}\u0000${value}`;
    let g = groups.get(key);
    if (!g) groups.set(key, g = { source: r.source, scope: { kind, value }, records: [] });
    g.records.push(r);
  }
  const order = (s: UseSource) => USE_SOURCES.indexOf(s);
  return [...groups.values()].sort((a, b) => order(a.source) - order(b.source) || a.scope.value.localeCompare(b.scope.value));
}

/** The analytics of one source × scope. */
export interface UseAnalytics {
  /** Where the outcomes come from. */
  source: UseSource;
  /** Real time (asks) or run time (runs). */
  clock: "real" | "run";
  /** The scope of the series. */
  scope: Scope;
  /** 7 days, 30 days, all. */
  windows: WindowSummary[];
  /** The daily success slope over `trendDays` (null with fewer than 3 days with data). */
  trend: Trend | null;
}

/**
 * Success, cost, latency and acceptance by window (7 days, 30 days, all) and the trend, for every source cut by
 * `by` (default: the whole source).
 *
 * @example
 * ```ts
 * for (const a of analyzeUse(records, { asOf: "2025-11-28", by: "model" })) console.log(a.source, a.scope.value, a.windows[0].success);
 * ```
 */
export function analyzeUse(records: readonly UseRecord[], options: SummaryOptions & { by?: ScopeKind; trendDays?: number }): UseAnalytics[] {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(options.asOf) || Number.isNaN(Date.parse(options.asOf))) throw new RangeError(`analyzeUse: asOf must be a date YYYY-MM-DD, found '${options.asOf}'`);
  return groupRecords(records, options.by ?? "all").map((g) => ({
    source: g.source,
    clock: CLOCK_OF[g.source],
    scope: g.scope,
    windows: [7, 30, null].map((d) => summarizeWindow(g.records, d, options)),
    trend: successTrend(g.records, { ...options, days: options.trendDays ?? 30 }),
  }));
}
