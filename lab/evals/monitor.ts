/**
 * One monitor for rolling series: a check on the last `window` observations of a series (a promoted version's
 * episode successes, a pattern's reuse, an error rate…) against a reference, and an action when the check fires.
 * Rollback here and the alerts of the learning-from-use issue are two actions on the same check.
 *
 * **The check.** It fires when the window's mean has moved past `reference ∓ threshold` *and* its 95 % interval
 * lies wholly beyond that line — Wilson for 0/1 series, Student t otherwise — once the window holds at least
 * `minObservations`. The threshold says what drop matters; the interval keeps noise from reaching it. The check is
 * read after every observation, so each single check is far stricter than 5 %: `monitor.test.ts` measures the
 * false alarms of the defaults over a long run at an unchanged rate, and how fast they catch a real drop.
 *
 * **The action** runs once, when the check first fires (the monitor then latches until `reset()`).
 * {@linkcode promotedVersionMonitor} is the rollback action: behind seed 001's `autoRollback` flag it rolls the
 * promoted version back through the registry (an audit entry and a `fine_tuning.rolled_back` event); with the flag
 * off it only reports.
 * @module
 */
import type { ModelVersion, Registry } from "../finetune/mod.ts";
import { normalQuantile, studentTQuantile, wilsonInterval } from "../stats/mod.ts";
import { TEST_ID_METRIC, type TestIdEstimate } from "./ab.ts";

/** Which way a series must move to fire: below `reference − threshold`, or above `reference + threshold`. */
export type MonitorDirection = "drop" | "rise";

/** What a rolling check compares. */
export interface RollingCheckOptions {
  /** The level the series is expected at (e.g. the version's `test_id` success). */
  reference: number;
  /** Observations in the window. @default {@linkcode MONITOR_DEFAULTS}.window */
  window?: number;
  /** How far past the reference counts, in the series' units. @default {@linkcode MONITOR_DEFAULTS}.threshold */
  threshold?: number;
  /** Which way the series must move. @default "drop" */
  direction?: MonitorDirection;
  /** The interval's two-sided level. @default 0.95 */
  level?: number;
  /** Fewest observations before the check may fire. @default the window */
  minObservations?: number;
  /**
   * The window mean's variance inflation when its observations are clustered (e.g. by day: a day's tasks share
   * the day's conditions), `1 + (m − 1)ρ` for clusters of `m` with intra-cluster correlation `ρ`. A binary window's
   * Wilson interval is taken on the effective counts (successes and n divided by it); a t interval widens by its
   * square root. @default 1
   */
  designEffect?: number;
  /**
   * The reference's own interval at the check's level, when the reference is itself an estimate (e.g. the weeks
   * before the window). The check then compares the difference window − reference, with Newcombe's interval
   * (the two intervals' half-widths combined in quadrature, "MOVER"), and fires when that interval lies wholly
   * past `∓ threshold`. @default the reference is taken as known
   */
  referenceInterval?: { lo: number; hi: number };
}

/** The monitor's defaults: a 50-observation window, a 10-point move, a 95 % interval. */
export const MONITOR_DEFAULTS: Readonly<{ window: number; threshold: number; level: number }> = Object.freeze({ window: 50, threshold: 0.1, level: 0.95 });

/** One reading of a rolling check. */
export interface RollingCheck {
  /** Whether the window's interval lies wholly past the limit (with enough observations). */
  fired: boolean;
  /** Observations in the window. */
  n: number;
  /** The window's mean (null when empty). */
  mean: number | null;
  /** Its interval (null below 2 observations for a non-binary series, or when empty). */
  lo: number | null;
  /** The interval's upper end. */
  hi: number | null;
  /** The level the series is expected at. */
  reference: number;
  /** The line the interval must pass: `reference − threshold` for a drop, `+` for a rise. */
  limit: number;
  /** Which way it watches. */
  direction: MonitorDirection;
  /** One line: what the window shows against the limit. */
  reason: string;
  /**
   * With `referenceInterval`: the difference window − reference and its interval (Newcombe's), which the check
   * compares with `∓ threshold` (null bounds when the window has no interval).
   */
  difference?: { estimate: number | null; lo: number | null; hi: number | null };
}

function resolve(o: RollingCheckOptions) {
  const window = o.window ?? MONITOR_DEFAULTS.window, threshold = o.threshold ?? MONITOR_DEFAULTS.threshold;
  const level = o.level ?? MONITOR_DEFAULTS.level, direction = o.direction ?? "drop", min = o.minObservations ?? window;
  if (!Number.isFinite(o.reference)) throw new RangeError(`rolling check: reference must be a finite number, found ${o.reference}`);
  if (!Number.isInteger(window) || window < 2) throw new RangeError(`rolling check: window must be an integer ≥ 2, found ${window}`);
  if (!(threshold >= 0)) throw new RangeError(`rolling check: threshold must be ≥ 0, found ${threshold}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`rolling check: level must be in (0, 1), found ${level}`);
  if (direction !== "drop" && direction !== "rise") throw new RangeError(`rolling check: direction must be 'drop' or 'rise', found '${direction}'`);
  if (!Number.isInteger(min) || min < 1 || min > window) throw new RangeError(`rolling check: minObservations must be an integer in [1, ${window}], found ${min}`);
  const deff = o.designEffect ?? 1, ref = o.referenceInterval;
  if (!(deff >= 1) || !Number.isFinite(deff)) throw new RangeError(`rolling check: designEffect must be a finite number ≥ 1, found ${deff}`);
  if (ref && !(Number.isFinite(ref.lo) && Number.isFinite(ref.hi) && ref.lo <= o.reference && o.reference <= ref.hi)) {
    throw new RangeError(`rolling check: referenceInterval must be finite and hold the reference ${o.reference}, found [${ref.lo}, ${ref.hi}]`);
  }
  return { reference: o.reference, window, threshold, level, direction, min, z: normalQuantile(1 - (1 - level) / 2), deff, ref };
}

type Resolved = ReturnType<typeof resolve>;

/** Wilson's interval on effective (real-valued) counts: `wilsonInterval` takes integer counts, a design effect does not. */
function wilsonEffective(successes: number, n: number, z: number): { lo: number; hi: number } {
  if (Number.isInteger(successes) && Number.isInteger(n)) return wilsonInterval(successes, n, z);
  const p = successes / n, z2 = z * z, denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom, half = (z / denom) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

const f3 = (x: number) => x.toFixed(3);

/**
 * Checks the last `window` values of `series` (booleans count as 1 and 0) against the reference: fires when the
 * window's interval lies wholly below `reference − threshold` (a drop; above `reference + threshold` for a rise).
 *
 * @example
 * ```ts
 * const outcomes = [...Array(30).fill(false), ...Array(20).fill(true)];
 * rollingCheck(outcomes, { reference: 0.7 }).fired; // true: 0.400 [0.276, 0.538] < 0.600
 * ```
 */
export function rollingCheck(series: readonly (number | boolean)[], options: RollingCheckOptions): RollingCheck {
  const o = resolve(options);
  // One pass over the window: a monitor reads it after every observation.
  const start = Math.max(0, series.length - o.window), n = series.length - start;
  const values = new Array<number>(n);
  let sum = 0, binary = true;
  for (let i = start; i < series.length; i++) {
    const v = series[i], x = typeof v === "boolean" ? (v ? 1 : 0) : v;
    if (!Number.isFinite(x)) throw new RangeError(`rolling check: observation ${i} is not a finite number (${v})`);
    values[i - start] = x;
    sum += x;
    if (x !== 0 && x !== 1) binary = false;
  }
  return judge(o, n, sum, binary ? null : values);
}

/**
 * The same check from counts: `successes` of `n` 0/1 observations in the window (a monitor that holds daily
 * counts rather than every observation). `window` plays no part here; `minObservations` defaults to 1.
 *
 * @example Last week against the four weeks before it, observations clustered by day
 * ```ts
 * const before = { successes: 560, n: 1120 }; // 0.50
 * const z = normalQuantile(1 - 0.0005);
 * const ref = wilsonInterval(before.successes, before.n, z);
 * proportionCheck(98, 280, { reference: 0.5, threshold: 0, level: 0.999, referenceInterval: ref, designEffect: 1.2 }).fired; // true
 * ```
 */
export function proportionCheck(successes: number, n: number, options: Omit<RollingCheckOptions, "window">): RollingCheck {
  if (!Number.isFinite(n) || n < 0 || !Number.isFinite(successes) || successes < 0 || successes > n) {
    throw new RangeError(`proportion check: successes must be in [0, n] and n ≥ 0, found ${successes} of ${n}`);
  }
  const window = Math.max(2, Math.ceil(n));
  const o = resolve({ ...options, window, minObservations: Math.min(window, options.minObservations ?? 1) });
  return judge(o, n, successes, null);
}

/** The check's verdict on a window of `n` observations summing to `sum` (`values` for a non-binary series). */
function judge(o: Resolved, n: number, sum: number, values: number[] | null): RollingCheck {
  const limit = o.direction === "drop" ? o.reference - o.threshold : o.reference + o.threshold;
  const base = { n, reference: o.reference, limit, direction: o.direction };
  if (!n) {
    return { ...base, fired: false, mean: null, lo: null, hi: null, reason: "no observation yet", ...(o.ref ? { difference: { estimate: null, lo: null, hi: null } } : {}) };
  }
  const mean = sum / n;
  let lo: number | null = null, hi: number | null = null;
  if (values === null) {
    const w = wilsonEffective(sum / o.deff, n / o.deff, o.z);
    [lo, hi] = [w.lo, w.hi];
  } else if (n >= 2) {
    const sd = Math.sqrt(values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
    const half = studentTQuantile(1 - (1 - o.level) / 2, n - 1) * sd * Math.sqrt(o.deff) / Math.sqrt(n);
    [lo, hi] = [mean - half, mean + half];
  }
  const shown = `${f3(mean)}${lo === null ? "" : ` [${f3(lo)}, ${f3(hi!)}]`} over the last ${n}`;
  const side = o.direction === "drop" ? "below" : "above";
  if (o.ref) {
    // Newcombe's (MOVER) interval of window − reference: each side's half-widths in quadrature.
    const d = mean - o.reference;
    const dlo = lo === null ? null : d - Math.hypot(mean - lo, o.ref.hi - o.reference);
    const dhi = hi === null ? null : d + Math.hypot(hi - mean, o.reference - o.ref.lo);
    const line = o.direction === "drop" ? -o.threshold : o.threshold;
    const past = dlo !== null && dhi !== null && (o.direction === "drop" ? dhi < line : dlo > line);
    const fired = past && n >= o.min;
    const diff = `${d >= 0 ? "+" : "−"}${f3(Math.abs(d))}${dlo === null ? "" : ` [${f3(dlo)}, ${f3(dhi!)}]`}`;
    const head = `${shown} against ${f3(o.reference)} [${f3(o.ref.lo)}, ${f3(o.ref.hi)}]: difference ${diff}`;
    const reason = fired ? `${head} lies ${side} ${f3(line)}` : n < o.min ? `${head}: waits for ${o.min} observations` : `${head} does not lie wholly ${side} ${f3(line)}`;
    return { ...base, fired, mean, lo, hi, reason, difference: { estimate: d, lo: dlo, hi: dhi } };
  }
  const past = lo !== null && hi !== null && (o.direction === "drop" ? hi < limit : lo > limit);
  const fired = past && n >= o.min;
  const sign = o.direction === "drop" ? "−" : "+";
  const line = `${f3(o.reference)} ${sign} ${f3(o.threshold)} = ${f3(limit)}`;
  const reason = fired
    ? `${shown} lies ${side} ${line}`
    : n < o.min
    ? `${shown}: waits for ${o.min} observations`
    : `${shown} does not lie wholly ${side} ${line}`;
  return { ...base, fired, mean, lo, hi, reason };
}

/** What a monitor does when its check fires; its result is the monitor's `fired` value. */
export type MonitorAction<R> = (check: RollingCheck) => Promise<R> | R;

/** A rolling check with an action (see {@linkcode createMonitor}). */
export interface Monitor<R> {
  /** Adds an observation, checks, and runs the action if the check fires for the first time since the last reset. */
  observe(value: number | boolean): Promise<{ check: RollingCheck; fired: R | undefined }>;
  /** The action's result once it has run (undefined before). */
  readonly fired: R | undefined;
  /** Whether the action has run (and the monitor is latched). */
  readonly latched: boolean;
  /** The observations in the window, oldest first. */
  readonly window: readonly number[];
  /** Clears the window and the latch (e.g. after an alert was handled). */
  reset(): void;
}

/**
 * A monitor: {@linkcode rollingCheck} over the observations it is given, and `action` the first time it fires.
 *
 * @example Alerts for the learning-from-use issue
 * ```ts
 * const m = createMonitor({ reference: 0.4, direction: "rise", threshold: 0.1 }, (c) => console.warn(`error rate ${c.reason}`));
 * for (const e of episodes) await m.observe(!e.pass);
 * ```
 */
export function createMonitor<R>(options: RollingCheckOptions, action: MonitorAction<R>): Monitor<R> {
  const o = resolve(options);
  let values: number[] = [];
  let result: { value: R } | undefined;
  return {
    async observe(value) {
      values.push(typeof value === "boolean" ? (value ? 1 : 0) : value);
      if (values.length > o.window) values = values.slice(-o.window);
      const check = rollingCheck(values, options);
      if (check.fired && !result) {
        result = { value: await action(check) };
        return { check, fired: result.value };
      }
      return { check, fired: undefined };
    },
    get fired() {
      return result?.value;
    },
    get latched() {
      return result !== undefined;
    },
    get window() {
      return [...values];
    },
    reset() {
      values = [];
      result = undefined;
    },
  };
}

/** Options for {@linkcode promotedVersionMonitor}. */
export interface RollbackMonitorOptions extends Omit<RollingCheckOptions, "reference" | "direction"> {
  /** The success the version is expected to keep. @default its `metrics.test_id_success.rate` ({@linkcode reestimateOnTestId}) */
  reference?: number;
  /** Seed 001's flag: roll back when the check fires; off, only report. @default true */
  autoRollback?: boolean;
  /** Who the audit entry names. @default "monitor" */
  actor?: string;
  /** Told whenever the check fires, rolled back or not. */
  onAlert?: (check: RollingCheck, outcome: RollbackOutcome) => void;
}

/** What the rollback monitor did when its check fired. */
export interface RollbackOutcome {
  /** The version it watches. */
  version: string;
  /** Whether it rolled the version back. */
  rolledBack: boolean;
  /** The version promoted again by the rollback, if any. */
  restored: string | null;
  /** Why (the audit entry's reason when it rolled back). */
  reason: string;
}

/**
 * The rollback monitor of a promoted version: feed it the version's episode successes (`pass`) as they come; when its
 * rolling success drops past `reference − threshold` with its interval (see {@linkcode rollingCheck}), it rolls the
 * version back through `registry.rollback` — the version promoted before it is promoted again, and the registry
 * records the audit entry and the `fine_tuning.rolled_back` event — if `autoRollback` is on and the version is still
 * promoted; otherwise it reports only.
 *
 * @example
 * ```ts
 * const m = await promotedVersionMonitor(registry, "lab-mini-all-v2", { autoRollback: config.auto_rollback });
 * for (const e of episodesOf("lab-mini-all-v2")) await m.observe(e.pass);
 * m.fired; // { version: "lab-mini-all-v2", rolledBack: true, restored: "lab-mini-all-v1", reason: "autoRollback: …" }
 * ```
 */
export async function promotedVersionMonitor(registry: Registry, name: string, options: RollbackMonitorOptions = {}): Promise<Monitor<RollbackOutcome>> {
  const version = await registry.get(name);
  if (version.status !== "promoted") throw new RangeError(`promotedVersionMonitor: ${name} is ${version.status}, not promoted: monitor the promoted version ('lab finetune list --status promoted')`);
  const reference = options.reference ?? referenceOf(version);
  const { autoRollback = true, actor = "monitor", onAlert, ...check } = options;
  return createMonitor({ ...check, reference, direction: "drop" }, async (c) => {
    const what = `rolling success ${c.reason}`;
    const now = await registry.get(name);
    let outcome: RollbackOutcome;
    if (!autoRollback) outcome = { version: name, rolledBack: false, restored: null, reason: `${what}; autoRollback is off: roll it back with 'lab finetune rollback ${name}'` };
    else if (now.status !== "promoted") outcome = { version: name, rolledBack: false, restored: null, reason: `${what}; it is ${now.status} already` };
    else {
      const reason = `autoRollback: ${what}`;
      const r = await registry.rollback(name, { actor, reason });
      outcome = { version: name, rolledBack: true, restored: r.restored?.name ?? null, reason };
    }
    onAlert?.(c, outcome);
    return outcome;
  });
}

function referenceOf(v: ModelVersion): number {
  const m = v.metrics[TEST_ID_METRIC] as Partial<TestIdEstimate> | undefined;
  if (typeof m?.rate !== "number") {
    throw new RangeError(`promotedVersionMonitor: ${v.name} has no metrics.${TEST_ID_METRIC}.rate; pass reference, or re-estimate it on test_id first (reestimateOnTestId)`);
  }
  return m.rate;
}
