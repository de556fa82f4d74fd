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
  return { reference: o.reference, window, threshold, level, direction, min, z: normalQuantile(1 - (1 - level) / 2) };
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
  const limit = o.direction === "drop" ? o.reference - o.threshold : o.reference + o.threshold;
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
  const base = { n, reference: o.reference, limit, direction: o.direction };
  if (!n) return { ...base, fired: false, mean: null, lo: null, hi: null, reason: "no observation yet" };
  const mean = sum / n;
  let lo: number | null = null, hi: number | null = null;
  if (binary) {
    const w = wilsonInterval(sum, n, o.z);
    [lo, hi] = [w.lo, w.hi];
  } else if (n >= 2) {
    const sd = Math.sqrt(values.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
    const half = studentTQuantile(1 - (1 - o.level) / 2, n - 1) * sd / Math.sqrt(n);
    [lo, hi] = [mean - half, mean + half];
  }
  const past = lo !== null && hi !== null && (o.direction === "drop" ? hi < limit : lo > limit);
  const fired = past && n >= o.min;
  const shown = `${f3(mean)}${lo === null ? "" : ` [${f3(lo)}, ${f3(hi!)}]`} over the last ${n}`;
  const sign = o.direction === "drop" ? "−" : "+";
  const line = `${f3(o.reference)} ${sign} ${f3(o.threshold)} = ${f3(limit)}`;
  const reason = fired
    ? `${shown} lies ${o.direction === "drop" ? "below" : "above"} ${line}`
    : n < o.min
    ? `${shown}: waits for ${o.min} observations`
    : `${shown} does not lie wholly ${o.direction === "drop" ? "below" : "above"} ${line}`;
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
