/**
 * The rolling monitor: the check against known Wilson and t intervals, its false alarms and detection by
 * simulation, the action latching, and the rollback of a promoted version through a registry on a temp DuckDB file
 * (audit row and `fine_tuning.rolled_back` event), with autoRollback off as a report only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { type NewVersion, Registry } from "../finetune/mod.ts";
import { seededRandom } from "../stats/mod.ts";
import { createMonitor, MONITOR_DEFAULTS, promotedVersionMonitor, type RollingCheck, rollingCheck, TEST_ID_METRIC } from "./mod.ts";

const bools = (ones: number, zeros: number) => [...Array(zeros).fill(false), ...Array(ones).fill(true)];

describe("rollingCheck", () => {
  it("fires when the window's Wilson interval lies wholly below reference − threshold", () => {
    // 20 of 50: Wilson 95 % [0.2761, 0.5382] (scipy), below 0.7 − 0.1
    expect(rollingCheck(bools(20, 30), { reference: 0.7 })).toEqual({
      fired: true,
      n: 50,
      mean: 0.4,
      lo: expect.closeTo(0.27605, 4),
      hi: expect.closeTo(0.53823, 4),
      reference: 0.7,
      limit: expect.closeTo(0.6, 12),
      direction: "drop",
      reason: "0.400 [0.276, 0.538] over the last 50 lies below 0.700 − 0.100 = 0.600",
    });
    // 24 of 50 ends at 0.615: its mean is past the line, its interval is not
    expect(rollingCheck(bools(24, 26), { reference: 0.7 })).toMatchObject({ fired: false, reason: "0.480 [0.348, 0.615] over the last 50 does not lie wholly below 0.700 − 0.100 = 0.600" });
    // only the last `window` observations count, and a short window waits
    expect(rollingCheck([...bools(0, 100), ...bools(50, 0)], { reference: 0.7 })).toMatchObject({ fired: false, n: 50, mean: 1 });
    expect(rollingCheck(bools(0, 49), { reference: 0.7 })).toMatchObject({ fired: false, n: 49, reason: "0.000 [0.000, 0.073] over the last 49: waits for 50 observations" });
    expect(rollingCheck(bools(0, 10), { reference: 0.7, minObservations: 10 })).toMatchObject({ fired: true, n: 10 });
    expect(rollingCheck([], { reference: 0.7 })).toMatchObject({ fired: false, n: 0, mean: null, reason: "no observation yet" });
  });

  it("uses a t interval for non-binary series and watches rises as well as drops", () => {
    const latency = [1.2, 1.4, 1.1, 1.6, 1.5, 1.3];
    // mean 1.35, sd 0.187083, t(0.975, 5) = 2.570582 → half-width 0.196333
    expect(rollingCheck(latency, { reference: 1, threshold: 0.1, direction: "rise", window: 6 })).toEqual({
      fired: true,
      n: 6,
      mean: expect.closeTo(1.35, 12),
      lo: expect.closeTo(1.153667, 5),
      hi: expect.closeTo(1.546333, 5),
      reference: 1,
      limit: 1.1,
      direction: "rise",
      reason: "1.350 [1.154, 1.546] over the last 6 lies above 1.000 + 0.100 = 1.100",
    });
    expect(rollingCheck(latency, { reference: 1.1, threshold: 0.1, direction: "rise", window: 6 }).fired).toBe(false);
    expect(() => rollingCheck([0.5, NaN], { reference: 0.5 })).toThrow("rolling check: observation 1 is not a finite number (NaN)");
    expect(() => rollingCheck([], { reference: 0.5, window: 1 })).toThrow("rolling check: window must be an integer ≥ 2, found 1");
  });

  it("rarely fires at an unchanged rate when read after every observation, and catches a 20-point drop", () => {
    const RUNS = 2000, LENGTH = 300, W = MONITOR_DEFAULTS.window;
    const rand = seededRandom(7);
    const firstFire = (pBefore: number, pAfter: number, reference: number) => {
      const s: boolean[] = [];
      for (let i = 0; i < LENGTH; i++) {
        s.push(rand() < (i < W ? pBefore : pAfter));
        if (i >= W - 1 && rollingCheck(s, { reference }).fired) return i + 1;
      }
      return null;
    };
    const rate = (xs: (number | null)[]) => xs.filter((x) => x !== null).length / xs.length;
    const same = Array.from({ length: RUNS }, (_, r) => [0.3, 0.5, 0.7][r % 3]).map((p) => firstFire(p, p, p));
    const drop = Array.from({ length: 500 }, () => firstFire(0.7, 0.5, 0.7));
    const delays = drop.filter((x): x is number => x !== null).map((x) => x - W).sort((a, b) => a - b);
    console.log(`monitor defaults (window ${W}, threshold ${MONITOR_DEFAULTS.threshold}): false alarms over ${LENGTH} observations ${rate(same)} (${RUNS} runs at 30/50/70 %, no change); ` +
      `a 20-point drop caught within ${LENGTH - W} observations ${rate(drop)}, median ${delays[delays.length >> 1]} observations after it`);
    expect(rate(same)).toBeLessThanOrEqual(0.05);
    expect(rate(drop)).toBeGreaterThanOrEqual(0.9);
  });
});

describe("createMonitor", () => {
  it("runs its action once, when the check first fires, and again only after a reset", async () => {
    const calls: RollingCheck[] = [];
    const m = createMonitor({ reference: 0.8, window: 10 }, (c) => calls.push(c));
    const fired: (number | undefined)[] = [];
    for (const x of [...bools(10, 0), ...bools(0, 15)]) fired.push((await m.observe(x)).fired);
    // failures after 10 passes: the check fires at the 6th (4 of 10: [0.168, 0.687] < 0.7), once
    expect(fired.flatMap((f, i) => f === undefined ? [] : [i])).toEqual([15]);
    expect(calls.map((c) => c.reason)).toEqual(["0.400 [0.168, 0.687] over the last 10 lies below 0.800 − 0.100 = 0.700"]);
    expect(m).toMatchObject({ latched: true, fired: 1, window: Array(10).fill(0) });
    m.reset();
    expect(m).toMatchObject({ latched: false, fired: undefined, window: [] });
    for (const x of bools(0, 10)) await m.observe(x);
    expect(calls).toHaveLength(2);
  });
});

describe("promotedVersionMonitor", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-monitor-" });
  });
  afterAll(() => Deno.remove(dir, { recursive: true }));

  const version = (hash: string, metrics: Record<string, unknown> = {}): NewVersion => ({
    base: "lab-mini", category: "all", provider: "lab", providerModel: `ft:lab-mini:core:${hash}`, trainedFrom: "lab-mini", datasetHash: "d".repeat(64), jobId: `ftjob-${hash}`, stage: "core", parent: null, metrics,
  });

  it("rolls a promoted version back when its rolling success drops past its test_id reference, with the audit entry and event", async () => {
    const registry = await Registry.open(join(dir, "rollback.duckdb"));
    const v1 = await registry.register(version("aaaa"));
    const v2 = await registry.register(version("bbbb", { [TEST_ID_METRIC]: { split: "test_id", rate: 0.7 } }));
    await registry.promote(v1.name, { actor: "ana" });
    await registry.promote(v2.name, { actor: "ana" });
    const alerts: string[] = [];
    const m = await promotedVersionMonitor(registry, v2.name, { onAlert: (c, o) => alerts.push(`${c.fired} ${o.rolledBack}`) });
    // 30 passes, then failures: it fires when 23 of the last 50 pass (0.460 [0.330, 0.596] < 0.600), once
    let firedAt = -1;
    const series = [...bools(30, 0), ...bools(0, 40)];
    for (const [i, x] of series.entries()) if ((await m.observe(x)).fired) firedAt = firedAt < 0 ? i : Infinity;
    const reason = "autoRollback: rolling success 0.460 [0.330, 0.596] over the last 50 lies below 0.700 − 0.100 = 0.600";
    expect(firedAt).toBe(56);
    expect(m.fired).toEqual({ version: v2.name, rolledBack: true, restored: v1.name, reason });
    expect(alerts).toEqual(["true true"]);
    expect((await registry.audit()).slice(-2).map(({ version, from, to, actor, reason }) => ({ version, from, to, actor, reason }))).toEqual([
      { version: v2.name, from: "promoted", to: "rolled_back", actor: "monitor", reason },
      { version: v1.name, from: "retired", to: "promoted", actor: "monitor", reason: `restored by the rollback of ${v2.name}` },
    ]);
    const events = await registry.events({ version: v2.name });
    expect(events.at(-1)).toMatchObject({ type: "fine_tuning.rolled_back", version: v2.name, jobId: "ftjob-bbbb", data: { restored: v1.name, reason } });
    expect(Object.fromEntries((await registry.list()).map((v) => [v.name, v.status]))).toEqual({ [v1.name]: "promoted", [v2.name]: "rolled_back" });
  });

  it("only reports with autoRollback off, and needs a reference", async () => {
    const registry = await Registry.open(join(dir, "report.duckdb"));
    const v = await registry.register(version("cccc"));
    await registry.promote(v.name);
    await expect(promotedVersionMonitor(registry, v.name)).rejects.toThrow(
      `promotedVersionMonitor: ${v.name} has no metrics.${TEST_ID_METRIC}.rate; pass reference, or re-estimate it on test_id first (reestimateOnTestId)`,
    );
    const m = await promotedVersionMonitor(registry, v.name, { reference: 0.9, autoRollback: false, window: 20 });
    for (const x of bools(0, 20)) await m.observe(x);
    expect(m.fired).toEqual({
      version: v.name,
      rolledBack: false,
      restored: null,
      reason: `rolling success 0.000 [0.000, 0.161] over the last 20 lies below 0.900 − 0.100 = 0.800; autoRollback is off: roll it back with 'lab finetune rollback ${v.name}'`,
    });
    expect((await registry.get(v.name)).status).toBe("promoted");
    expect((await registry.events({ version: v.name })).map((e) => e.type)).toEqual(["fine_tuning.completed", "fine_tuning.promoted"]);
    const other = await registry.register(version("dddd"));
    await expect(promotedVersionMonitor(registry, other.name, { reference: 0.5 })).rejects.toThrow(`promotedVersionMonitor: ${other.name} is candidate, not promoted`);
  });
});
