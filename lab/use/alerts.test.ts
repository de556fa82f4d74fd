/**
 * Regression alerts: the calibration by simulation (false alerts per quarter of daily checks, 15-point drops caught
 * within 7 days), one alert row per episode of degradation when checked every day (cron), acknowledgement, and the
 * config's one-line errors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import {
  acknowledgeAlert,
  addDays,
  calibrateAlerts,
  dropCheck,
  listAlerts,
  monitorUse,
  parseUseConfig,
  USE_DEFAULTS,
  type UseRecord,
} from "./mod.ts";

/** `n` outcomes on `day` of which `s` succeed, for a suite's model m1 (strategy gamma, category sales). */
function plant(day: string, n: number, s: number, extra: Partial<UseRecord> = {}): UseRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    source: "suite" as const,
    ref: `${day}/${i}`,
    at: `${day}T12:00:00.000Z`,
    model: "m1",
    strategy: "gamma",
    category: "sales",
    success: i < s,
    costUsd: 0.001,
    latencyMs: 100,
    ...extra,
  }));
}

/** Days from `first`: 60 a day at 50 %, then `segments` of [days, successes of 60]. */
function planted(first: string, segments: [number, number][]): UseRecord[] {
  const out: UseRecord[] = [];
  let d = 0;
  for (const [days, s] of segments) for (let k = 0; k < days; k++, d++) out.push(...plant(addDays(first, d), 60, s));
  return out;
}

let dir: string;
beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-alerts-" });
});
afterAll(async () => {
  await Deno.remove(dir, { recursive: true });
});

describe("calibration", () => {
  it("raises a false alert in at most 5 % of steady quarters and catches at least 80 % of 15-point drops within 7 days", () => {
    const c = calibrateAlerts(USE_DEFAULTS.alerts, { series: 500, seed: 17 });
    console.log(
      `alerts calibration (500 + 500 seeded series, 20–100 tasks/day, base 30–70 %, day noise ≤ 0.25 logit sd; per-check level ${c.level.toFixed(5)}):`,
      `false alerts in ${c.falseAlertQuarters}/${c.quarters} quarters = ${(100 * c.falseAlertRate).toFixed(1)} % (target ≤ 5 %);`,
      `15-point drops caught within 7 days ${c.caught}/${c.drops} = ${(100 * c.detectionRate).toFixed(1)} % (target ≥ 80 %), after ${c.meanDaysToCatch?.toFixed(1)} days on average`,
    );
    expect(c.quarters).toBe(500);
    expect(c.drops).toBe(500);
    expect(c.falseAlertRate).toBeLessThanOrEqual(0.05);
    expect(c.detectionRate).toBeGreaterThanOrEqual(0.8);
    // One look at 5 % (no correction for the 90 looks) would alert far more often: the correction is what holds it.
    const naive = calibrateAlerts({ ...USE_DEFAULTS.alerts, looks: 1 }, { series: 500, seed: 17 });
    expect(naive.falseAlertRate).toBeGreaterThan(c.falseAlertRate);
  });
});

describe("the drop check", () => {
  it("fires on a planted 25-point drop on its third day (drop ≥ 10 points, interval above 0), not before", () => {
    const days = [...Array(35)].map((_, i) => ({ day: addDays("2025-01-01", i), n: 60, successes: 30 }));
    const drop = (k: number) => [...days, ...[...Array(k)].map((_, i) => ({ day: addDays("2025-02-05", i), n: 60, successes: 15 }))];
    const two = dropCheck(drop(2), "2025-02-06");
    const three = dropCheck(drop(3), "2025-02-07");
    expect(two).toMatchObject({ fired: false, drop: { estimate: expect.closeTo(30 / 420, 9) }, rho: 0 });
    expect(two.reason).toMatch(/drop 7\.1 points .* < 10\.0$/);
    expect(three).toMatchObject({
      day: "2025-02-07",
      fired: true,
      window: { from: "2025-02-01", to: "2025-02-07", n: 420, successes: 165, days: 7, designEffect: 1 },
      baseline: { from: "2025-01-04", to: "2025-01-31", n: 1680, successes: 840, days: 28, rate: 0.5, designEffect: 1 },
      drop: { estimate: expect.closeTo(45 / 420, 9) },
      threshold: 0.1,
      level: expect.closeTo(1 - 0.1 / 90, 12),
    });
    expect(three.drop.lo!).toBeGreaterThan(0);
    expect(three.drop.hi!).toBeGreaterThan(three.drop.estimate!);
  });
});

describe("monitorUse", () => {
  it("writes one alert row per episode of degradation when run every day, and acknowledges", async () => {
    const db = join(dir, "lab.duckdb");
    // 40 steady days, a 25-point drop for 14 days, 40 steady days (the baseline recovers), a second drop for 10 (from 2025-04-05).
    const records = planted("2025-01-01", [[40, 30], [14, 15], [40, 30], [10, 15]]);
    const last = addDays("2025-01-01", 103);
    const exits: number[] = [];
    // every day around the two episodes (the steady days between hold nothing to write)
    const days = [...Array(104).keys()].filter((i) => (i >= 38 && i <= 62) || i >= 92).map((i) => addDays("2025-01-01", i));
    for (const d of days) {
      const mine = records.filter((r) => r.at.slice(0, 10) <= d);
      const r = await monitorUse(mine, { db, asOf: d, since: d, config: { ...USE_DEFAULTS.alerts, scopes: ["all"] } });
      exits.push(r.unacknowledged.length ? 1 : 0);
    }
    const rows = await listAlerts(db);
    expect(rows.map((a) => [a.day, a.source, a.scopeKind, a.scopeValue, a.metric, a.windowN, a.baselineN, a.acknowledged])).toEqual([
      ["2025-02-12", "suite", "all", "*", "success", 420, 1680, false],
      ["2025-04-07", "suite", "all", "*", "success", 420, 1680, false],
    ]);
    expect(rows[0]).toMatchObject({ windowRate: expect.closeTo(165 / 420, 9), baselineRate: 0.5, drop: expect.closeTo(45 / 420, 9), threshold: 0.1, windowDays: 7, baselineDays: 28 });
    expect(rows[0].dropLo).toBeGreaterThan(0);
    // cron's exit code: 1 exactly on the days an unacknowledged episode fires
    expect(exits.join("")).toMatch(/^0+1+0*1+$/);
    // running again over everything writes nothing new
    const again = await monitorUse(records, { db, asOf: last, since: addDays(last, -6), config: { ...USE_DEFAULTS.alerts, scopes: ["all"] } });
    expect(again.written).toEqual([]);
    expect(again.unacknowledged.map((a) => a.id)).toEqual([rows[1].id]);
    const acked = await acknowledgeAlert(db, rows[1].id, { note: "planted", now: new Date("2025-04-15T00:00:00Z") });
    expect(acked).toMatchObject({ acknowledged: true, acknowledgedAt: "2025-04-15T00:00:00.000Z", note: "planted" });
    expect((await monitorUse(records, { db, asOf: last, since: addDays(last, -6), config: { ...USE_DEFAULTS.alerts, scopes: ["all"] } })).unacknowledged).toEqual([]);
    await expect(acknowledgeAlert(db, "alert-nope")).rejects.toThrow(`no alert 'alert-nope' in ${db}; 'lab monitor --json' lists them`);
  });
});

describe("configs/use.yaml", () => {
  it("loads with defaults and refuses a bad value in one line naming the key", async () => {
    const committed = parseUseConfig(await Deno.readTextFile(new URL("../../configs/use.yaml", import.meta.url)));
    expect(committed).toEqual(USE_DEFAULTS);
    expect(USE_DEFAULTS.alerts).toMatchObject({ window_days: 7, baseline_days: 28, threshold_points: 10, alpha: 0.05, looks: 90 });
    expect(() => parseUseConfig("alerts:\n  threshold_points: 150\n", "use.yaml")).toThrow("use.yaml: alerts.threshold_points: must be ≤ 100");
    expect(() => parseUseConfig("alerts:\n  scopes: [all, tenant]\n", "use.yaml")).toThrow(/^use\.yaml: alerts\.scopes\[1\]: /);
    expect(() => parseUseConfig("alert:\n  looks: 3\n", "use.yaml")).toThrow(/^use\.yaml: \(top level\): Unrecognized key/);
  });
});
