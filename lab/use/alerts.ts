/**
 * Regression alerts (seeds 003 and 004): an alert when success drops more than `threshold_points` within a week,
 * with an interval so noise does not alert, calibrated by simulation; alerts stored as rows (`alerts` in the lab's
 * DuckDB file), one per episode of degradation.
 *
 * **The check** (one day `d`, one series: a source × scope, e.g. asks of model `lab-mini`). The last
 * `window_days` days (`d − 6 … d`) are compared with the `baseline_days` days before them (`d − 34 … d − 7`):
 * - the drop is `baseline − window` in success rate;
 * - each side's interval is Wilson's on effective counts: a day's tasks share the day's conditions, so the
 *   observations are clustered by day; the intra-day correlation is estimated on the baseline days (Pearson's
 *   dispersion of the daily rates) and each side's design effect is `1 + (m − 1)ρ` for its mean day size `m`;
 * - the drop's interval combines the two (Newcombe's MOVER): {@linkcode proportionCheck} of `lab/evals/monitor.ts`,
 *   the monitor the rollback uses, with the baseline as an estimated reference;
 * - it **fires** when the drop's interval lies wholly above 0 *and* the drop is at least `threshold_points` (a
 *   drop that small is not worth a person's attention however sure it is), with enough data on both sides.
 *
 * **Many looks.** The check is read every day, so a per-check 5 % would raise a false alert most quarters. The
 * per-check level is Bonferroni's: `alpha / looks` one-sided (default 0.05 / 90: a quarter of daily checks), so
 * the chance that a steady series raises any false alert in a quarter is at most `alpha` whatever the correlation
 * between looks. Bonferroni is conservative for overlapping windows (measured below), and still catches a 15-point
 * drop within 7 days at the volumes seen in use; a CUSUM would catch it a little sooner, at the price of a drop
 * estimate and interval nobody can read off the alert. With S scopes checked, each is its own series: expect at
 * most `alpha × S` false alerts a quarter, or raise `looks` to `90 × S` to hold the family at `alpha`.
 *
 * **Calibration** ({@linkcode calibrateAlerts}, asserted in `alerts.test.ts`): seeded series of daily outcomes with
 * 20–100 tasks a day (Poisson), base rates 30–70 %, day-to-day noise (the day's rate on the logit scale ± up to
 * 0.25 sd, about 6 points at 50 %): the share of steady quarters (90 daily checks) with any false alert, and the
 * share of 15-point drops caught within 7 days of their start.
 *
 * **Episodes.** A series' firing days form episodes: an episode opens on a day the check fires and closes after
 * `quiet_days` days in a row without firing. One alert row per episode (its first firing day's check), so a
 * week-long degradation is one alert, not seven; the row's id is derived from the series and the day, so running
 * `lab monitor` again (cron) never writes it twice.
 * @module
 */
import { existsSync } from "node:fs";
import { z } from "zod";
import { proportionCheck, type RollingCheck } from "../evals/mod.ts";
import { seededRandom } from "../stats/mod.ts";
import { withStore } from "../tournament/mod.ts";
import { fnv1a, parseConfigText, readConfigText, repoPath } from "../util/mod.ts";
import { addDays, analyzeUse, dayOf, daysBetween, groupRecords, type UseAnalytics, SCOPE_KINDS, type Scope, type ScopeKind, type UseRecord, USE_SOURCES, type UseSource } from "./analytics.ts";

/** The default config file of learning from use. */
export const USE_CONFIG_PATH: string = repoPath("configs/use.yaml");

const Pos = z.number().positive("must be > 0");
const PosInt = z.number().int("must be an integer").positive("must be a positive integer");

/** `alerts` in configs/use.yaml: the regression check (see the module doc). */
export const AlertConfig = z.strictObject({
  /** Days in the window whose drop is checked. */
  window_days: PosInt.max(60, "must be ≤ 60").default(7),
  /** Days before the window that give the reference. */
  baseline_days: PosInt.min(7, "must be ≥ 7").max(365, "must be ≤ 365").default(28),
  /** N: the drop in success, in points (0–100), that raises an alert when its interval excludes no drop. */
  threshold_points: z.number().min(0, "must be ≥ 0").max(100, "must be ≤ 100").default(10),
  /** The chance that a steady series raises any false alert over `looks` checks. */
  alpha: Pos.max(0.5, "must be ≤ 0.5").default(0.05),
  /** How many daily checks `alpha` is spread over (Bonferroni): 90 = a quarter. */
  looks: PosInt.default(90),
  /** Fewest judged outcomes in the window. */
  min_window: PosInt.default(30),
  /** Fewest judged outcomes in the baseline. */
  min_baseline: PosInt.default(100),
  /** Fewest days with outcomes in the baseline (the day-to-day spread is estimated on them). */
  min_baseline_days: z.number().int().min(2, "must be ≥ 2").default(14),
  /** An episode of degradation ends after this many days in a row without the check firing. */
  quiet_days: PosInt.default(7),
  /** The series checked: each source cut by these scopes. */
  scopes: z.array(z.enum(SCOPE_KINDS)).min(1, "must list at least one scope").default(["all", "model", "strategy", "category"]),
  /** The sources checked. */
  sources: z.array(z.enum(USE_SOURCES)).min(1, "must list at least one source").default(["ask", "tournament", "suite"]),
});
/** The regression check's settings, defaults filled in. */
export type AlertConfig = z.infer<typeof AlertConfig>;

/** `analytics` in configs/use.yaml. */
export const AnalyticsConfig = z.strictObject({
  /** Days of the daily series the trend's slope is fitted on. */
  trend_days: z.number().int().min(3, "must be ≥ 3").default(30),
  /** The interval level of rates and slopes. */
  level: z.number().gt(0, "must be > 0").lt(1, "must be < 1").default(0.95),
});
/** Analytics settings, defaults filled in. */
export type AnalyticsConfig = z.infer<typeof AnalyticsConfig>;

/** configs/use.yaml: learning from use. */
export const UseConfig = z.strictObject({
  alerts: AlertConfig.prefault({}),
  analytics: AnalyticsConfig.prefault({}),
});
/** configs/use.yaml, defaults filled in. */
export type UseConfig = z.infer<typeof UseConfig>;

/**
 * Reads configs/use.yaml (or `path`); a problem is a one-line `ConfigError` naming the file and the key.
 *
 * @example
 * ```ts
 * const { alerts } = await loadUseConfig();
 * alerts.threshold_points; // 10
 * ```
 */
export async function loadUseConfig(path: string = USE_CONFIG_PATH): Promise<UseConfig> {
  const { text, source } = await readConfigText(path, "use config");
  return parseUseConfig(text, source);
}

/** Parses the text of a use config (YAML); `source` names it in errors. */
export function parseUseConfig(text: string, source = "configs/use.yaml"): UseConfig {
  return parseConfigText(UseConfig, text ?? "", source);
}

/** The defaults of configs/use.yaml. */
export const USE_DEFAULTS: UseConfig = UseConfig.parse({});

// ---------------------------------------------------------------------------------------------------------------
// The check

/** One day of a series: judged outcomes and successes among them. */
export interface DayCount {
  /** UTC day, `YYYY-MM-DD`. */
  day: string;
  /** Judged outcomes that day. */
  n: number;
  /** Successes among them. */
  successes: number;
}

/** One side of a drop check. */
export interface DropSide {
  /** First and last day. */
  from: string;
  /** Last day. */
  to: string;
  /** Judged outcomes and successes. */
  n: number;
  /** Successes among them. */
  successes: number;
  /** Days with outcomes. */
  days: number;
  /** Success rate (null when empty). */
  rate: number | null;
  /** Its interval at the check's level, on effective counts (null when empty). */
  lo: number | null;
  /** Upper end of the interval. */
  hi: number | null;
  /** The design effect its interval used. */
  designEffect: number;
}

/** A drop check on one day of one series. */
export interface DropCheck {
  /** The day checked (the window's last day). */
  day: string;
  /** Whether it fires: an alert unless an episode is open already. */
  fired: boolean;
  /** The last `window_days` days. */
  window: DropSide;
  /** The `baseline_days` days before the window. */
  baseline: DropSide;
  /** baseline − window, in rate units (0.15 = 15 points), with its interval at `level` (null when not computable). */
  drop: { estimate: number | null; lo: number | null; hi: number | null };
  /** The drop that matters, in rate units. */
  threshold: number;
  /** The interval's two-sided level (1 − 2 × alpha / looks). */
  level: number;
  /** Intra-day correlation estimated on the baseline days. */
  rho: number;
  /** One line: what the check saw. */
  reason: string;
}

/** Daily counts indexed from a first day, with prefix sums, so a check over any window is O(1). */
class DaySeries {
  readonly first: string;
  readonly length: number;
  readonly n: Float64Array;
  readonly s: Float64Array;
  // prefix sums: of n, successes, n², day-with-data, and Σ n·p² (for the dispersion)
  readonly #pn: Float64Array;
  readonly #ps: Float64Array;
  readonly #pn2: Float64Array;
  readonly #pd: Float64Array;
  readonly #pnp2: Float64Array;

  constructor(first: string, n: ArrayLike<number>, s: ArrayLike<number>) {
    this.first = first;
    this.length = n.length;
    this.n = Float64Array.from(n);
    this.s = Float64Array.from(s);
    const L = this.length;
    [this.#pn, this.#ps, this.#pn2, this.#pd, this.#pnp2] = [0, 0, 0, 0, 0].map(() => new Float64Array(L + 1));
    for (let i = 0; i < L; i++) {
      const ni = this.n[i], si = this.s[i];
      this.#pn[i + 1] = this.#pn[i] + ni;
      this.#ps[i + 1] = this.#ps[i] + si;
      this.#pn2[i + 1] = this.#pn2[i] + ni * ni;
      this.#pd[i + 1] = this.#pd[i] + (ni > 0 ? 1 : 0);
      this.#pnp2[i + 1] = this.#pnp2[i] + (ni > 0 ? (si * si) / ni : 0);
    }
  }

  static of(days: readonly DayCount[]): DaySeries {
    if (!days.length) return new DaySeries("1970-01-01", [], []);
    const sorted = [...days].sort((a, b) => a.day.localeCompare(b.day));
    const first = sorted[0].day, L = daysBetween(first, sorted[sorted.length - 1].day) + 1;
    const n = new Float64Array(L), s = new Float64Array(L);
    for (const d of sorted) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(d.day)) throw new RangeError(`drop check: day must be YYYY-MM-DD, found '${d.day}'`);
      if (!(d.n >= 0 && d.successes >= 0 && d.successes <= d.n)) throw new RangeError(`drop check: ${d.day} has ${d.successes} successes of ${d.n}`);
      const i = daysBetween(first, d.day);
      n[i] += d.n;
      s[i] += d.successes;
    }
    return new DaySeries(first, n, s);
  }

  /** Sums over day indices [a, b] (clipped to the series). */
  sums(a: number, b: number) {
    const lo = Math.max(0, a), hi = Math.min(this.length - 1, b);
    if (hi < lo) return { n: 0, s: 0, n2: 0, days: 0, np2: 0 };
    const d = (p: Float64Array) => p[hi + 1] - p[lo];
    return { n: d(this.#pn), s: d(this.#ps), n2: d(this.#pn2), days: d(this.#pd), np2: d(this.#pnp2) };
  }
}

/** The per-check two-sided level of a config: one-sided `alpha / looks` on each side. */
export function checkLevel(config: Pick<AlertConfig, "alpha" | "looks">): number {
  return 1 - (2 * config.alpha) / config.looks;
}

function checkAt(series: DaySeries, index: number, c: AlertConfig, level: number): DropCheck {
  const day = addDays(series.first, index);
  const w = series.sums(index - c.window_days + 1, index);
  const b = series.sums(index - c.window_days - c.baseline_days + 1, index - c.window_days);
  const pb = b.n ? b.s / b.n : null, pw = w.n ? w.s / w.n : null;
  // Pearson's dispersion of the baseline's daily rates → intra-day correlation ρ (0 when the days agree).
  let rho = 0;
  if (pb !== null && pb > 0 && pb < 1 && b.days >= 2) {
    const chi2 = (b.np2 - 2 * pb * b.s + pb * pb * b.n) / (pb * (1 - pb)); // Σ n_d (p_d − p)² / p(1 − p)
    const phi = chi2 / (b.days - 1), mbar = b.n2 / b.n;
    if (mbar > 1) rho = Math.min(1, Math.max(0, (phi - 1) / (mbar - 1)));
  }
  const deff = (side: { n: number; n2: number }) => (side.n ? 1 + (side.n2 / side.n - 1) * rho : 1);
  const side = (from: number, to: number, x: ReturnType<DaySeries["sums"]>, r: RollingCheck | null, de: number): DropSide => ({
    from: addDays(series.first, from),
    to: addDays(series.first, to),
    n: x.n,
    successes: x.s,
    days: x.days,
    rate: x.n ? x.s / x.n : null,
    lo: r?.lo ?? null,
    hi: r?.hi ?? null,
    designEffect: de,
  });
  const threshold = c.threshold_points / 100;
  const wFrom = index - c.window_days + 1, bFrom = wFrom - c.baseline_days;
  const dw = deff(w), db = deff(b);
  const baseRef = pb === null ? null : proportionCheck(b.s, b.n, { reference: pb, level, designEffect: db });
  const windowCheck = pb === null || baseRef === null || baseRef.lo === null || baseRef.hi === null ? null : proportionCheck(w.s, w.n, {
    reference: pb,
    threshold: 0,
    level,
    designEffect: dw,
    referenceInterval: { lo: baseRef.lo, hi: baseRef.hi },
    minObservations: 1,
  });
  const diff = windowCheck?.difference;
  const drop = {
    estimate: diff?.estimate === null || diff?.estimate === undefined ? null : -diff.estimate,
    lo: diff?.hi === null || diff?.hi === undefined ? null : -diff.hi,
    hi: diff?.lo === null || diff?.lo === undefined ? null : -diff.lo,
  };
  const enough = w.n >= c.min_window && b.n >= c.min_baseline && b.days >= c.min_baseline_days;
  const fired = enough && !!windowCheck?.fired && drop.estimate !== null && drop.estimate >= threshold - 1e-12;
  const pts = (x: number | null) => (x === null ? "–" : (100 * x).toFixed(1));
  const seen = `success ${pts(pw)} % over ${c.window_days} days (${w.n}) against ${pts(pb)} % over the ${c.baseline_days} before (${b.n}): drop ${pts(drop.estimate)} points [${pts(drop.lo)}, ${pts(drop.hi)}]`;
  const reason = fired
    ? `${seen} ≥ ${pts(threshold)} with its interval above 0`
    : !enough
    ? `${seen}; not enough data (needs ${c.min_window} in the window, ${c.min_baseline} over ${c.min_baseline_days} days in the baseline)`
    : drop.estimate !== null && drop.estimate < threshold
    ? `${seen} < ${pts(threshold)}`
    : `${seen}: its interval reaches 0 (noise)`;
  return {
    day,
    fired,
    window: side(wFrom, index, w, windowCheck, dw),
    baseline: side(bFrom, wFrom - 1, b, baseRef, db),
    drop,
    threshold,
    level,
    rho,
    reason,
  };
}

/**
 * The drop check of one series on `day` (see the module doc).
 *
 * @example
 * ```ts
 * const check = dropCheck(days, "2025-11-28", USE_DEFAULTS.alerts);
 * check.fired; // true when success fell ≥ 10 points in the last 7 days, beyond noise
 * ```
 */
export function dropCheck(days: readonly DayCount[], day: string, config: AlertConfig = USE_DEFAULTS.alerts): DropCheck {
  const series = DaySeries.of(days);
  const first = series.length ? series.first : day;
  const padded = series.length ? series : new DaySeries(first, [], []);
  return checkAt(padded, daysBetween(first, day), config, checkLevel(config));
}

/** An episode of degradation of one series: consecutive firing days, closed after `quiet_days` quiet days. */
export interface DegradationEpisode {
  /** The first firing day: the alert's day. */
  start: string;
  /** The last firing day (up to the last day scanned). */
  last: string;
  /** Days the check fired in it. */
  firedDays: number;
  /** Whether it is still open on the last day scanned (fewer than `quiet_days` quiet days since `last`). */
  open: boolean;
  /** The check of its first day (what the alert row stores). */
  check: DropCheck;
}

/**
 * The episodes of degradation of one series over the days `from … to` (every day checked, history before `from`
 * used as baseline). A series with no data gives none.
 *
 * @example
 * ```ts
 * scanEpisodes(days, "2025-09-01", "2025-11-28").map((e) => [e.start, e.check.drop.estimate]);
 * ```
 */
export function scanEpisodes(days: readonly DayCount[], from: string, to: string, config: AlertConfig = USE_DEFAULTS.alerts): DegradationEpisode[] {
  if (daysBetween(from, to) < 0) throw new RangeError(`scanEpisodes: from ${from} is after to ${to}`);
  const series = DaySeries.of(days);
  if (!series.length) return [];
  return scanSeries(series, Math.max(0, daysBetween(series.first, from)), daysBetween(series.first, to), config);
}

function scanSeries(series: DaySeries, fromIndex: number, toIndex: number, c: AlertConfig): DegradationEpisode[] {
  const level = checkLevel(c);
  const out: DegradationEpisode[] = [];
  let current: DegradationEpisode | undefined, quiet = 0;
  for (let i = fromIndex; i <= toIndex; i++) {
    const check = checkAt(series, i, c, level);
    if (check.fired) {
      if (!current) {
        current = { start: check.day, last: check.day, firedDays: 0, open: true, check };
        out.push(current);
      }
      current.last = check.day;
      current.firedDays++;
      quiet = 0;
    } else if (current && ++quiet >= c.quiet_days) {
      current.open = false;
      current = undefined;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Calibration by simulation

/** Options of {@linkcode simulateDays}. */
export interface SimulateDaysOptions {
  /** Days to simulate. */
  days: number;
  /** Mean tasks a day (Poisson). */
  volume: number;
  /** Success rate before any drop. */
  rate: number;
  /** The day-to-day noise: sd of the day's rate on the logit scale. @default 0.15 */
  dayNoise?: number;
  /** A drop of `points` (rate units: 0.15) from day index `at` on. @default none */
  drop?: { at: number; points: number };
  /** The first day's date. @default "2025-01-01" */
  first?: string;
  /** A seeded uniform source (e.g. `seededRandom(1)`). */
  rand: () => number;
}

const logit = (p: number) => Math.log(p / (1 - p));
const expit = (x: number) => 1 / (1 + Math.exp(-x));

/** A standard normal draw (Box–Muller). */
function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

/** A Poisson draw (Knuth below 30, a rounded normal above). */
function poisson(rand: () => number, lambda: number): number {
  if (lambda < 30) {
    const l = Math.exp(-lambda);
    let k = 0, p = 1;
    while ((p *= rand()) > l) k++;
    return k;
  }
  return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * gauss(rand)));
}

/**
 * Seeded daily outcomes of a simulated use: each day draws its volume (Poisson), its own rate (the base rate, less
 * any drop, moved on the logit scale by the day's noise) and that many outcomes. For calibration and notebooks.
 *
 * @example
 * ```ts
 * const days = simulateDays({ days: 60, volume: 40, rate: 0.5, drop: { at: 45, points: 0.15 }, rand: seededRandom(1) });
 * ```
 */
export function simulateDays(o: SimulateDaysOptions): DayCount[] {
  const first = o.first ?? "2025-01-01", noise = o.dayNoise ?? 0.15;
  if (!(o.rate > 0 && o.rate < 1)) throw new RangeError(`simulateDays: rate must be in (0, 1), found ${o.rate}`);
  const out: DayCount[] = [];
  for (let i = 0; i < o.days; i++) {
    const p0 = o.drop && i >= o.drop.at ? Math.max(0.001, o.rate - o.drop.points) : o.rate;
    const p = expit(logit(p0) + noise * gauss(o.rand));
    const n = poisson(o.rand, o.volume);
    let s = 0;
    for (let k = 0; k < n; k++) if (o.rand() < p) s++;
    out.push({ day: addDays(first, i), n, successes: s });
  }
  return out;
}

/** Options of {@linkcode calibrateAlerts}. */
export interface CalibrateOptions {
  /** Simulated series of each kind (steady quarters, and drops). @default 500 */
  series?: number;
  /** @default 1 */
  /** Seed of the simulation. */
  seed?: number;
  /** Days checked in a steady quarter. @default 90 */
  quarterDays?: number;
  /** The planted drop, in rate units. @default 0.15 */
  dropPoints?: number;
  /** Days after a drop's start within which it must be caught. @default 7 */
  catchWithin?: number;
  /** Tasks a day: each series draws its mean uniformly in this range. @default [20, 100] */
  volume?: [number, number];
  /** Base rates: each series draws one uniformly in this range. @default [0.3, 0.7] */
  rate?: [number, number];
  /** Day-to-day noise (logit sd): each series draws one uniformly in this range. @default [0, 0.25] */
  dayNoise?: [number, number];
}

/** What {@linkcode calibrateAlerts} measured. */
export interface Calibration {
  /** Steady quarters simulated, and those with any false alert. */
  quarters: number;
  /** Steady quarters with any false alert. */
  falseAlertQuarters: number;
  /** falseAlertQuarters / quarters. */
  falseAlertRate: number;
  /** Drops planted, and those caught within `catchWithin` days of their start. */
  drops: number;
  /** Drops caught in time. */
  caught: number;
  /** caught / drops. */
  detectionRate: number;
  /** Mean days from a caught drop's start to its alert (1 = its first day). */
  meanDaysToCatch: number | null;
  /** The per-check two-sided level used. */
  level: number;
}

/**
 * Measures the check's false alerts and detection on seeded simulated series (see the module doc): `series` steady
 * quarters of `quarterDays` daily checks (after a full baseline), and `series` drops of `dropPoints` checked daily
 * from their start. The same seed gives the same figures.
 *
 * @example
 * ```ts
 * const c = calibrateAlerts(USE_DEFAULTS.alerts, { series: 500, seed: 1 });
 * c.falseAlertRate <= 0.05 && c.detectionRate >= 0.8;
 * ```
 */
export function calibrateAlerts(config: AlertConfig = USE_DEFAULTS.alerts, options: CalibrateOptions = {}): Calibration {
  const N = options.series ?? 500, quarter = options.quarterDays ?? 90, points = options.dropPoints ?? 0.15, within = options.catchWithin ?? 7;
  const [v0, v1] = options.volume ?? [20, 100], [r0, r1] = options.rate ?? [0.3, 0.7], [s0, s1] = options.dayNoise ?? [0, 0.25];
  const rand = seededRandom(options.seed ?? 1);
  const history = config.window_days + config.baseline_days;
  const level = checkLevel(config);
  const draw = () => ({ volume: v0 + (v1 - v0) * rand(), rate: r0 + (r1 - r0) * rand(), dayNoise: s0 + (s1 - s0) * rand() });
  const seriesOf = (days: DayCount[]) => new DaySeries(days[0].day, days.map((d) => d.n), days.map((d) => d.successes));
  let falseQuarters = 0, caught = 0, daysToCatch = 0;
  for (let k = 0; k < N; k++) {
    const days = simulateDays({ days: history + quarter, ...draw(), rand });
    const s = seriesOf(days);
    for (let i = history; i < history + quarter; i++) {
      if (checkAt(s, i, config, level).fired) {
        falseQuarters++;
        break;
      }
    }
  }
  for (let k = 0; k < N; k++) {
    const days = simulateDays({ days: history + within, ...draw(), drop: { at: history, points }, rand });
    const s = seriesOf(days);
    for (let i = history; i < history + within; i++) {
      if (checkAt(s, i, config, level).fired) {
        caught++;
        daysToCatch += i - history + 1;
        break;
      }
    }
  }
  return {
    quarters: N,
    falseAlertQuarters: falseQuarters,
    falseAlertRate: falseQuarters / N,
    drops: N,
    caught,
    detectionRate: caught / N,
    meanDaysToCatch: caught ? daysToCatch / caught : null,
    level,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Checking what the lab stored, and the alert rows

/** The judged outcomes of records as day counts (by the day of their time on their source's clock). */
export function dayCounts(records: readonly UseRecord[]): DayCount[] {
  const byDay = new Map<string, DayCount>();
  for (const r of records) {
    if (r.success === null) continue;
    const day = dayOf(r.at);
    let d = byDay.get(day);
    if (!d) byDay.set(day, d = { day, n: 0, successes: 0 });
    d.n++;
    if (r.success) d.successes++;
  }
  return [...byDay.values()].sort((a, b) => a.day.localeCompare(b.day));
}

/** The check of one series on the last day, and its episodes of degradation. */
export interface SeriesCheck {
  /** Where the outcomes come from. */
  source: UseSource;
  /** The scope of the series. */
  scope: Scope;
  /** The check on the last day (`asOf`). */
  latest: DropCheck;
  /** Every episode of degradation from the series' first day to `asOf`. */
  episodes: DegradationEpisode[];
}

/** Options of {@linkcode checkUse}. */
export interface CheckUseOptions {
  /** The last day checked (`YYYY-MM-DD`, UTC). */
  asOf: string;
  /** @default {@linkcode USE_DEFAULTS}.alerts */
  /** The check's settings. */
  config?: AlertConfig;
}

/**
 * Runs the drop check on every series (each configured source × scope) over its whole history up to `asOf`: the
 * latest check and the episodes of degradation of each. Pure: nothing is stored.
 *
 * @example
 * ```ts
 * const checks = checkUse(records, { asOf: "2025-11-28" });
 * checks.filter((c) => c.latest.fired).map((c) => `${c.source} ${c.scope.kind}=${c.scope.value}: ${c.latest.reason}`);
 * ```
 */
export function checkUse(records: readonly UseRecord[], options: CheckUseOptions): SeriesCheck[] {
  const c = options.config ?? USE_DEFAULTS.alerts;
  const mine = records.filter((r) => c.sources.includes(r.source));
  const out: SeriesCheck[] = [];
  for (const kind of c.scopes) {
    for (const g of groupRecords(mine, kind)) {
      const days = dayCounts(g.records).filter((d) => d.day <= options.asOf);
      if (!days.length) continue;
      out.push({
        source: g.source,
        scope: g.scope,
        latest: dropCheck(days, options.asOf, c),
        episodes: scanEpisodes(days, days[0].day, options.asOf, c),
      });
    }
  }
  return out;
}

/** A stored alert: one episode of degradation of one series. */
export interface AlertRow {
  /** `alert-<hex>` from the series and the episode's first day: the same episode is the same row. */
  id: string;
  /** The episode's first firing day (the data's day, `YYYY-MM-DD`). */
  day: string;
  /** When the row was written (ISO). */
  createdAt: string;
  /** Where the outcomes come from. */
  source: UseSource;
  /** The metric watched. */
  metric: "success";
  /** The window and the baseline, in days. */
  windowDays: number;
  /** Days in the baseline. */
  baselineDays: number;
  /** Success in the window and in the baseline. */
  windowRate: number;
  /** Success in the baseline. */
  baselineRate: number;
  /** Judged outcomes in the window. */
  windowN: number;
  /** Judged outcomes in the baseline. */
  baselineN: number;
  /** The drop (rate units) with its interval at `level`. */
  drop: number;
  /** Lower end of the drop's interval. */
  dropLo: number;
  /** Upper end of the drop's interval. */
  dropHi: number;
  /** The interval's two-sided level. */
  level: number;
  /** The threshold N (rate units). */
  threshold: number;
  /** The scope kind. */
  scopeKind: ScopeKind;
  /** The model, strategy or category (`*` for all). */
  scopeValue: string;
  /** One line: what the check saw. */
  reason: string;
  /** Whether a person acknowledged it. */
  acknowledged: boolean;
  /** When (ISO), null before. */
  acknowledgedAt: string | null;
  /** The acknowledger's note. */
  note: string | null;
}

/** The alert id of an episode of a series. */
export function alertId(source: UseSource, scope: Scope, metric: string, day: string): string {
  const key = [source, scope.kind, scope.value, metric, day].join("\u0000");
  return `alert-${fnv1a(key).toString(16).padStart(8, "0")}${fnv1a(key, 0x9e3779b9).toString(16).padStart(8, "0")}`;
}

/** The row an episode of a series is stored as (not yet acknowledged). */
export function alertRowOf(s: Pick<SeriesCheck, "source" | "scope">, e: DegradationEpisode, now: Date = new Date()): AlertRow {
  const c = e.check;
  return {
    id: alertId(s.source, s.scope, "success", e.start),
    day: e.start,
    createdAt: now.toISOString(),
    source: s.source,
    metric: "success",
    windowDays: daysBetween(c.window.from, c.window.to) + 1,
    baselineDays: daysBetween(c.baseline.from, c.baseline.to) + 1,
    windowRate: c.window.rate!,
    baselineRate: c.baseline.rate!,
    windowN: c.window.n,
    baselineN: c.baseline.n,
    drop: c.drop.estimate!,
    dropLo: c.drop.lo!,
    dropHi: c.drop.hi!,
    level: c.level,
    threshold: c.threshold,
    scopeKind: s.scope.kind,
    scopeValue: s.scope.value,
    reason: c.reason,
    acknowledged: false,
    acknowledgedAt: null,
    note: null,
  };
}

const ALERTS_DDL = `CREATE TABLE IF NOT EXISTS alerts (
  id VARCHAR PRIMARY KEY,          -- alert-<hex>: series × first day, so a re-run never writes an episode twice
  day DATE NOT NULL,               -- the episode's first firing day (the data's clock)
  created_at TIMESTAMP NOT NULL,   -- when the row was written (UTC)
  source VARCHAR NOT NULL,         -- ask | tournament | suite
  metric VARCHAR NOT NULL,         -- success
  window_days INTEGER NOT NULL,
  baseline_days INTEGER NOT NULL,
  window_rate DOUBLE NOT NULL,
  baseline_rate DOUBLE NOT NULL,
  window_n INTEGER NOT NULL,
  baseline_n INTEGER NOT NULL,
  drop DOUBLE NOT NULL,            -- baseline − window (0.15 = 15 points)
  drop_lo DOUBLE NOT NULL,         -- its interval at level (Bonferroni over the looks)
  drop_hi DOUBLE NOT NULL,
  level DOUBLE NOT NULL,
  threshold DOUBLE NOT NULL,       -- N, rate units
  scope_kind VARCHAR NOT NULL,     -- all | model | strategy | category
  scope_value VARCHAR NOT NULL,    -- '*' for all
  reason VARCHAR NOT NULL,
  acknowledged BOOLEAN NOT NULL,
  acknowledged_at TIMESTAMP,
  note VARCHAR
)`;

const COLUMNS = [
  "id", "day", "created_at", "source", "metric", "window_days", "baseline_days", "window_rate", "baseline_rate", "window_n",
  "baseline_n", "drop", "drop_lo", "drop_hi", "level", "threshold", "scope_kind", "scope_value", "reason", "acknowledged",
  "acknowledged_at", "note",
] as const;

const ts = (iso: string) => iso.replace("T", " ").replace("Z", "");

function rowFromDb(r: Record<string, unknown>): AlertRow {
  const iso = (v: unknown) => (v === null || v === undefined ? null : `${String(v).replace(" ", "T")}${String(v).endsWith("Z") ? "" : "Z"}`);
  return {
    id: String(r.id),
    day: String(r.day).slice(0, 10),
    createdAt: iso(r.created_at)!,
    source: r.source as UseSource,
    metric: "success",
    windowDays: Number(r.window_days),
    baselineDays: Number(r.baseline_days),
    windowRate: Number(r.window_rate),
    baselineRate: Number(r.baseline_rate),
    windowN: Number(r.window_n),
    baselineN: Number(r.baseline_n),
    drop: Number(r.drop),
    dropLo: Number(r.drop_lo),
    dropHi: Number(r.drop_hi),
    level: Number(r.level),
    threshold: Number(r.threshold),
    scopeKind: r.scope_kind as ScopeKind,
    scopeValue: String(r.scope_value),
    reason: String(r.reason),
    acknowledged: Boolean(r.acknowledged),
    acknowledgedAt: iso(r.acknowledged_at),
    note: (r.note as string | null) ?? null,
  };
}

/**
 * Writes the alert rows not stored yet (by id) in one transaction, in the lab's DuckDB file; returns those written.
 *
 * @example
 * ```ts
 * const rows = checkUse(records, { asOf }).flatMap((s) => s.episodes.map((e) => alertRowOf(s, e)));
 * const written = await storeAlerts(DEFAULT_DB_PATH, rows);
 * ```
 */
export async function storeAlerts(db: string, rows: readonly AlertRow[]): Promise<AlertRow[]> {
  if (!rows.length) return [];
  return await withStore(db, async (con) => {
    await con.run(ALERTS_DDL);
    const written: AlertRow[] = [];
    for (const a of rows) {
      const exists = (await con.runAndReadAll("SELECT 1 FROM alerts WHERE id = $1", [a.id])).getRows().length > 0;
      if (exists) continue;
      await con.run(
        `INSERT INTO alerts (${COLUMNS.join(", ")}) VALUES (${COLUMNS.map((c, i) => `$${i + 1}${c === "day" ? "::DATE" : c.endsWith("_at") ? "::TIMESTAMP" : ""}`).join(", ")})`,
        [
          a.id, a.day, ts(a.createdAt), a.source, a.metric, a.windowDays, a.baselineDays, a.windowRate, a.baselineRate, a.windowN,
          a.baselineN, a.drop, a.dropLo, a.dropHi, a.level, a.threshold, a.scopeKind, a.scopeValue, a.reason, a.acknowledged,
          a.acknowledgedAt === null ? null : ts(a.acknowledgedAt), a.note,
        ],
      );
      written.push(a);
    }
    return written;
  }, { write: true });
}

/** Options of {@linkcode listAlerts}. */
export interface ListAlertsOptions {
  /** Only alerts whose day is on or after this one. */
  since?: string;
  /** Only alerts whose day is on or before this one. */
  until?: string;
  /** Only these ids. */
  ids?: readonly string[];
}

/**
 * The stored alerts, oldest first (then by source and scope; a file without the table holds none).
 *
 * @example
 * ```ts
 * (await listAlerts(DEFAULT_DB_PATH, { since: "2025-11-01" })).filter((a) => !a.acknowledged);
 * ```
 */
export async function listAlerts(db: string, options: ListAlertsOptions = {}): Promise<AlertRow[]> {
  if (db !== ":memory:" && !existsSync(db)) return [];
  return await withStore(db, async (con) => {
    const has = (await con.runAndReadAll("SELECT count(*)::INTEGER FROM duckdb_tables() WHERE table_name = 'alerts'")).getRows()[0][0];
    if (!Number(has)) return [];
    const rows = (await con.runAndReadAll(
      `SELECT * EXCLUDE (day, created_at, acknowledged_at), strftime(day, '%Y-%m-%d') AS day,
              strftime(created_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS created_at, strftime(acknowledged_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS acknowledged_at
       FROM alerts WHERE ($1::DATE IS NULL OR day >= $1::DATE) AND ($2::DATE IS NULL OR day <= $2::DATE) ORDER BY day, source, scope_kind, scope_value, id`,
      [options.since ?? null, options.until ?? null],
    )).getRowObjectsJson().map((r) => rowFromDb(r as Record<string, unknown>));
    return options.ids ? rows.filter((r) => options.ids!.includes(r.id)) : rows;
  });
}

/**
 * Marks an alert acknowledged (a person has seen it; `lab monitor` stops failing on it). Returns the row; an unknown
 * id is a one-line RangeError.
 *
 * @example
 * ```ts
 * await acknowledgeAlert(DEFAULT_DB_PATH, "alert-1a2b3c4d5e6f7a8b", { note: "known: the sandbox was rebuilt" });
 * ```
 */
export async function acknowledgeAlert(db: string, id: string, options: { note?: string; now?: Date } = {}): Promise<AlertRow> {
  const found = await listAlerts(db, { ids: [id] });
  if (!found.length) throw new RangeError(`no alert '${id}' in ${db}; 'lab monitor --json' lists them`);
  await withStore(db, (con) =>
    con.run("UPDATE alerts SET acknowledged = true, acknowledged_at = $2::TIMESTAMP, note = coalesce($3, note) WHERE id = $1", [
      id, ts((options.now ?? new Date()).toISOString()), options.note ?? null,
    ]), { write: true });
  return (await listAlerts(db, { ids: [id] }))[0];
}

/** What {@linkcode monitorUse} found and did. */
export interface MonitorResult {
  /** The last day checked. */
  asOf: string;
  /** The first day whose alerts count. */
  since: string;
  /** Every series checked, with its latest check and episodes. */
  series: SeriesCheck[];
  /** Alert rows written now (new episodes). */
  written: AlertRow[];
  /** The stored alerts of episodes that reach into `since … asOf`. */
  alerts: AlertRow[];
  /** Those not acknowledged: `lab monitor` exits 1 when there is any. */
  unacknowledged: AlertRow[];
}

/**
 * Checks every series of `records` up to `asOf`, stores the alert of each episode of degradation not stored yet,
 * and returns the alerts whose episodes reach into `since … asOf` (an episode that started before `since` and is
 * still firing counts). Running it again on the same data writes nothing new.
 *
 * @example
 * ```ts
 * const r = await monitorUse(records, { db: DEFAULT_DB_PATH, asOf: "2025-11-28", since: "2025-11-22" });
 * if (r.unacknowledged.length) Deno.exit(1);
 * ```
 */
export async function monitorUse(records: readonly UseRecord[], options: CheckUseOptions & { db: string; since: string; now?: Date }): Promise<MonitorResult> {
  if (daysBetween(options.since, options.asOf) < 0) throw new RangeError(`monitor: since ${options.since} is after the last day ${options.asOf}`);
  const series = checkUse(records, options);
  const relevant = series.flatMap((s) => s.episodes.filter((e) => e.last >= options.since).map((e) => alertRowOf(s, e, options.now)));
  const all = series.flatMap((s) => s.episodes.map((e) => alertRowOf(s, e, options.now)));
  const written = await storeAlerts(options.db, all);
  const ids = relevant.map((r) => r.id);
  const alerts = ids.length ? await listAlerts(options.db, { ids }) : [];
  return { asOf: options.asOf, since: options.since, series, written, alerts, unacknowledged: alerts.filter((a) => !a.acknowledged) };
}

// ---------------------------------------------------------------------------------------------------------------
// The weekly report

/** The weekly report of use (seed 004's weekly performance report), as JSON. */
export interface WeeklyReport {
  /** The week's last day, and its first (6 days before). */
  asOf: string;
  /** First day. */
  from: string;
  /** Each source as a whole, then cut by each configured scope. */
  sources: UseAnalytics[];
  /** Each source cut by each configured scope. */
  byScope: UseAnalytics[];
  /** Alerts whose episodes reach into the week. */
  alerts: AlertRow[];
  /** Series whose check fires on the last day. */
  firing: { source: UseSource; scope: Scope; reason: string }[];
}

/**
 * The weekly report: analytics by window and trend for each source and scope, the week's alerts and what fires now.
 *
 * @example
 * ```ts
 * const r = await monitorUse(records, { db, asOf, since: addDays(asOf, -6) });
 * await Deno.writeTextFile("week.md", weeklyMarkdown(weeklyReport(records, r, config)));
 * ```
 */
export function weeklyReport(records: readonly UseRecord[], monitor: Pick<MonitorResult, "asOf" | "alerts" | "series">, config: UseConfig = USE_DEFAULTS): WeeklyReport {
  const opts = { asOf: monitor.asOf, level: config.analytics.level, trendDays: config.analytics.trend_days };
  return {
    asOf: monitor.asOf,
    from: addDays(monitor.asOf, -6),
    sources: analyzeUse(records, opts),
    byScope: config.alerts.scopes.filter((k) => k !== "all").flatMap((by) => analyzeUse(records, { ...opts, by })),
    alerts: monitor.alerts,
    firing: monitor.series.filter((s) => s.latest.fired).map((s) => ({ source: s.source, scope: s.scope, reason: s.latest.reason })),
  };
}

const pct = (x: number | null | undefined) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)} %`);
const pts = (x: number) => `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(1)}`;

function analyticsTable(rows: readonly UseAnalytics[], label: (a: UseAnalytics) => string): string[] {
  const out = [
    "| series | window | outcomes | success (95 % CI) | cost (USD) | latency p50 / p95 (ms) | accepted / edited / rejected |",
    "|---|---|---:|---|---:|---|---|",
  ];
  for (const a of rows) {
    for (const w of a.windows) {
      const acc = w.acceptance ? `${w.acceptance.accepted} / ${w.acceptance.edited} / ${w.acceptance.rejected} (${w.acceptance.pending} pending)` : "–";
      const s = w.success ? `${pct(w.success.rate)} [${pct(w.success.lo)}, ${pct(w.success.hi)}]` : "–";
      out.push(`| ${label(a)} | ${w.window} | ${w.judged}/${w.records} | ${s} | ${w.cost.total.toFixed(4)} | ${w.latency.p50 ?? "–"} / ${w.latency.p95 ?? "–"} | ${acc} |`);
    }
  }
  return out;
}

/** The weekly report as Markdown (headline, alerts, analytics by source and by scope, trends). */
export function weeklyMarkdown(r: WeeklyReport): string {
  const lines = [`# Weekly report of use — ${r.from} to ${r.asOf}`, ""];
  const open = r.alerts.filter((a) => !a.acknowledged);
  lines.push(
    open.length ? `**${open.length} unacknowledged alert${open.length > 1 ? "s" : ""}** (success dropped beyond noise); ${r.firing.length} series firing on ${r.asOf}.` : `No unacknowledged alert; ${r.firing.length} series firing on ${r.asOf}.`,
    "",
    "## Alerts",
    "",
  );
  if (!r.alerts.length) lines.push("None this week.");
  else {
    lines.push("| id | day | source | scope | success before → now | drop (points, interval) | acknowledged |", "|---|---|---|---|---|---|---|");
    for (const a of r.alerts) {
      lines.push(
        `| ${a.id} | ${a.day} | ${a.source} | ${a.scopeKind === "all" ? "all" : `${a.scopeKind}=${a.scopeValue}`} | ${pct(a.baselineRate)} → ${pct(a.windowRate)} | ${(100 * a.drop).toFixed(1)} [${(100 * a.dropLo).toFixed(1)}, ${(100 * a.dropHi).toFixed(1)}] ≥ ${(100 * a.threshold).toFixed(0)} | ${a.acknowledged ? "yes" : "no"} |`,
      );
    }
  }
  lines.push("", "## By source", "", "Asks on real time (when asked); tournament and suite episodes on run time.", "");
  lines.push(...(r.sources.length ? analyticsTable(r.sources, (a) => `${a.source} (${a.clock} time)`) : ["No outcome stored."]));
  lines.push("", "## Trends (daily success, weighted least squares)", "");
  const trends = [...r.sources, ...r.byScope].filter((a) => a.trend);
  if (!trends.length) lines.push("Too few days with outcomes for a trend.");
  else {
    lines.push("| series | days | points per week (95 % CI) | direction |", "|---|---:|---|---|");
    for (const a of trends) {
      const t = a.trend!;
      lines.push(`| ${a.source} ${a.scope.kind === "all" ? "" : `${a.scope.kind}=${a.scope.value}`} | ${t.days} | ${pts(t.perWeek.slope)} [${pts(t.perWeek.lo)}, ${pts(t.perWeek.hi)}] | ${t.direction} |`);
    }
  }
  if (r.byScope.length) {
    lines.push("", "## By scope", "");
    lines.push(...analyticsTable(r.byScope, (a) => `${a.source} ${a.scope.kind}=${a.scope.value}`));
  }
  return `${lines.join("\n")}\n`;
}
