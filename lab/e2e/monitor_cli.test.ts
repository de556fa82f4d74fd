/**
 * `lab monitor` through the in-process CLI on planted eval-suite runs (run time): exit 0 on steady success, 1 on a
 * planted drop (its alert row written once), 0 again once acknowledged; 2 on usage and config errors; the weekly
 * report's Markdown and JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { lab } from "./testing.ts";

let dir: string;
const ep = (pass: boolean, i: number) => ({
  arm: "base", challengeId: `ar_aging_report/t0/o${i}`, family: "ar_aging_report", template: "ar_aging_report/t0", level: 4, split: "dev",
  seed: i, attempt: 0, model: "lab-mini", strategyId: "gamma", pass, score: pass ? 1 : 0, composite: 0.5, tokens: 10, costUsd: 0.001,
  latencyMs: 40, queries: 1, queriesOk: 1, steps: 2, optimalSteps: null, answer: null, stopReason: "submitted", examples: 0, rendered: 0,
  injected: [], used: [],
});

/** One suite run a day from 2025-01-01: 60 episodes, `passes(day index)` of them passing. */
async function plantRuns(evals: string, days: number, passes: (d: number) => number) {
  await Deno.mkdir(join(evals, "daily"), { recursive: true });
  for (let d = 0; d < days; d++) {
    const at = new Date(Date.UTC(2025, 0, 1 + d, 10)).toISOString();
    const run = {
      suite: "daily", createdAt: at, commit: null, shard: null,
      pins: { catalogHash: "h", models: { base: "lab-mini" }, patternSnapshot: null, strategies: { base: "gamma" } },
      episodes: [...Array(60)].map((_, i) => ep(i < passes(d), i)),
    };
    await Deno.writeTextFile(join(evals, "daily", `run-${String(d).padStart(3, "0")}.json`), JSON.stringify(run));
  }
}

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-monitor-" });
  await plantRuns(join(dir, "steady"), 50, () => 30);
  await plantRuns(join(dir, "drop"), 50, (d) => (d < 40 ? 30 : 15)); // 50 % → 25 % from 2025-02-10
});
afterAll(async () => {
  await Deno.remove(dir, { recursive: true });
});

const args = (evals: string, db: string, ...rest: string[]) => ["monitor", "--evals", join(dir, evals), "--db", join(dir, db), "--patterns", join(dir, "none.duckdb"), ...rest];

describe("lab monitor", () => {
  it("exits 0 on steady success, 1 on a planted drop (one alert row), and 0 once it is acknowledged", async () => {
    const steady = await lab(...args("steady", "steady.duckdb", "--as-of", "2025-02-19", "--json"));
    expect(steady.code).toBe(0);
    expect(JSON.parse(steady.out)).toMatchObject({ exitCode: 0, records: 3000, alerts: [], written: [] });
    expect(existsSync(join(dir, "steady.duckdb"))).toBe(false); // nothing to write, nothing written

    const drop = await lab(...args("drop", "drop.duckdb", "--as-of", "2025-02-19", "--json"));
    expect(drop.code).toBe(1);
    const r = JSON.parse(drop.out);
    // the series all, model=lab-mini, strategy=gamma and category=finance are the same outcomes: each alerts once
    expect(r.alerts.map((a: Record<string, unknown>) => [a.day, a.source, a.scopeKind, a.scopeValue, a.acknowledged])).toEqual([
      ["2025-02-12", "suite", "all", "*", false],
      ["2025-02-12", "suite", "category", "finance", false],
      ["2025-02-12", "suite", "model", "lab-mini", false],
      ["2025-02-12", "suite", "strategy", "gamma", false],
    ]);
    expect(r.written).toHaveLength(4);

    const text = await lab(...args("drop", "drop.duckdb", "--as-of", "2025-02-19"));
    expect(text.code).toBe(1);
    expect(text.out).toContain("FIRING suite all: success 25.0 % over 7 days (420) against 47.3 % over the 28 before (1680): drop 22.3 points");
    expect(text.out).toContain("alert alert-d98720ef0004c063 2025-02-12 suite all: success 50.0 % → 39.3 %, drop 10.7 [1.8, 19.1] points\n");
    expect(text.out).not.toContain("(new)"); // the second run writes nothing

    for (const a of r.alerts) expect((await lab("monitor", "ack", a.id, "--db", join(dir, "drop.duckdb"), "--note", "planted")).code).toBe(0);
    expect((await lab(...args("drop", "drop.duckdb", "--as-of", "2025-02-19"))).code).toBe(0);
    // the period decides: before the drop there is nothing to report
    expect((await lab(...args("drop", "fresh.duckdb", "--as-of", "2025-02-05"))).code).toBe(0);
  });

  it("exits 2 on usage and config errors, with one line", async () => {
    const bad = await lab(...args("steady", "x.duckdb", "--since", "yesterday"));
    expect([bad.code, bad.err]).toEqual([2, "lab monitor: --since must be a date YYYY-MM-DD, found 'yesterday' — see 'deno task lab monitor --help'"]);
    const cfg = join(dir, "use.yaml");
    await Deno.writeTextFile(cfg, "alerts:\n  looks: 0\n");
    const c = await lab(...args("steady", "x.duckdb", "--config", cfg));
    expect(c.code).toBe(2);
    expect(c.err).toMatch(/^lab monitor: .*use\.yaml: alerts\.looks: must be a positive integer — see/);
    expect((await lab(...args("steady", "x.duckdb", "--weekly"))).code).toBe(2);
    expect((await lab("monitor", "ack", "alert-none", "--db", join(dir, "x.duckdb"))).code).toBe(2);
    expect((await lab("monitor", "--help")).code).toBe(0);
  });

  it("writes the weekly report as Markdown with its JSON beside it", async () => {
    const out = join(dir, "week", "report.md");
    const w = await lab(...args("drop", "week.duckdb", "--as-of", "2025-02-19", "--weekly", "--out", out));
    expect(w.code).toBe(1);
    const md = await Deno.readTextFile(out);
    expect(md).toContain("# Weekly report of use — 2025-02-13 to 2025-02-19");
    expect(md).toContain("**4 unacknowledged alerts**");
    expect(md).toContain("| suite (run time) | 7d | 420/420 | 25.0 % [");
    const json = JSON.parse(await Deno.readTextFile(join(dir, "week", "report.json")));
    expect(json).toMatchObject({ asOf: "2025-02-19", from: "2025-02-13" });
    expect(json.sources[0].windows.map((x: { judged: number }) => x.judged)).toEqual([420, 1800, 3000]);
    expect(json.sources[0].trend.direction).toBe("down");
  });
});
