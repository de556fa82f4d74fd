/**
 * `lab eval gate | outcome | merge` in process, on planted runs: what they write and print, the gate's exit codes
 * (0 pass, 1 regression, 2 usage or config error) and one-line errors with nothing written.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type EvalRun, shardOf, type SuiteEpisode } from "../evals/mod.ts";
import { plantedEpisode } from "../evals/testing.ts";
import { lab } from "./testing.ts";

const PINS = {
  catalogHash: "c0",
  models: { base: "lab-mini", finetuned: "ft:lab-mini:a" },
  patternSnapshot: null,
  strategies: { base: "s", finetuned: "s" },
};

/** 12 families × 3 instances × arms base and finetuned; `drop` fails finetuned's instance 1 in families below it. */
function run(drop = 0, fields: Partial<EvalRun> = {}): EvalRun {
  const episodes: SuiteEpisode[] = [];
  for (const arm of ["base", "finetuned"]) {
    for (let f = 0; f < 12; f++) {
      for (let i = 0; i < 3; i++) {
        const pass = i < (arm === "finetuned" ? 2 : 1) && !(arm === "finetuned" && f < drop && i === 1);
        episodes.push(plantedEpisode(arm, `fam${f}/t0/v${i}`, pass, { split: "test_id" }));
      }
    }
  }
  return {
    suite: "mini",
    createdAt: "2026-01-02T00:00:00.000Z",
    commit: "abc",
    pins: structuredClone(PINS),
    shard: null,
    episodes,
    ...fields,
  };
}

describe("lab eval", () => {
  let dir: string;
  const path = (name: string) => join(dir, name);
  const write = (name: string, value: unknown) => Deno.writeTextFile(path(name), JSON.stringify(value));

  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-eval-cli-" });
    await write("same.json", run());
    await write("worse.json", run(10));
    await write("repinned.json", run(0, { pins: { ...PINS, models: { ...PINS.models, finetuned: "ft:lab-mini:b" } } }));
  });

  afterAll(async () => {
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  it("records a baseline, passes the same run (exit 0) and fails a regression (exit 1), writing JUnit, JSON and Markdown", async () => {
    const b = path("baselines/mini.json");
    const created = await lab("eval", "gate", "mini", "--baseline", b, "--run", path("same.json"), "--update-baseline");
    expect(created.err).toBe("");
    expect(created.code).toBe(0);
    expect(created.out).toMatch(/^created .*baselines\/mini\.json: 72 cases, 12 families, primary metric 'pass'\n/);
    expect(JSON.parse(await Deno.readTextFile(b))).toMatchObject({
      format: "lab-eval-baseline/1",
      suite: "mini",
      metric: "pass",
      pins: PINS,
    });

    const out = { junit: path("gate.xml"), json: path("gate.json"), markdown: path("gate.md") };
    const pass = await lab(
      "eval",
      "gate",
      "mini",
      "--baseline",
      b,
      "--run",
      path("same.json"),
      "--junit",
      out.junit,
      "--json",
      out.json,
      "--markdown",
      out.markdown,
    );
    expect(pass.code).toBe(0);
    expect(pass.out).toMatch(/^## Eval gate: mini — PASS\n/);
    expect(JSON.parse(await Deno.readTextFile(out.json))).toMatchObject({
      verdict: "pass",
      primary: { estimate: 0, cases: 72, families: 12 },
    });
    expect(await Deno.readTextFile(out.junit)).not.toContain("<failure");

    const fail = await lab(
      "eval",
      "gate",
      "mini",
      "--baseline",
      b,
      "--run",
      path("worse.json"),
      "--junit",
      out.junit,
      "--json",
      out.json,
      "--markdown",
      out.markdown,
    );
    expect(fail.code).toBe(1);
    expect(fail.out).toMatch(/^## Eval gate: mini — REGRESSION\n/);
    expect(JSON.parse(await Deno.readTextFile(out.json))).toMatchObject({ verdict: "regression", worse: 10 });
    expect(await Deno.readTextFile(out.junit)).toContain('<failure message="regression: one-sided 95 % upper bound');
    expect(await Deno.readTextFile(out.markdown)).toMatch(/^## Eval gate: mini — REGRESSION\n/);
    // A tolerance wider than the drop lets it pass.
    expect((await lab("eval", "gate", "mini", "--baseline", b, "--run", path("worse.json"), "--tolerance", "0.2")).code)
      .toBe(0);

    const updated = await lab(
      "eval",
      "gate",
      "mini",
      "--baseline",
      b,
      "--run",
      path("worse.json"),
      "--update-baseline",
    );
    expect(updated.code).toBe(0);
    expect(updated.out).toContain("updated ");
    expect(updated.out).toContain("Cumulative change of suite 'mini' since the first baseline");
    expect(updated.out).toContain("| pass | 50.0% | 36.1% | -13.9 pts |");
  });

  it("exits 2 with one line, writing nothing, on differing pins, a missing baseline or run, and bad options", async () => {
    const b = path("b2.json");
    expect((await lab("eval", "gate", "mini", "--baseline", b, "--run", path("same.json"), "--update-baseline")).code)
      .toBe(0);
    const md = path("never.md");
    const repinned = await lab(
      "eval",
      "gate",
      "mini",
      "--baseline",
      b,
      "--run",
      path("repinned.json"),
      "--markdown",
      md,
    );
    expect(repinned).toMatchObject({ code: 2, out: "" });
    expect(repinned.err).toBe(
      "lab eval gate: pins differ: models.finetuned is 'ft:lab-mini:b' in the run, 'ft:lab-mini:a' in the baseline; re-record the baseline with --update-baseline if the change is intended",
    );
    expect(existsSync(md)).toBe(false);

    const none = await lab("eval", "gate", "mini", "--baseline", path("none.json"), "--run", path("same.json"));
    expect(none).toMatchObject({ code: 2 });
    expect(none.err).toMatch(
      /^lab eval gate: no baseline at .*none\.json: record one with 'deno task lab eval gate mini --update-baseline'$/,
    );

    const latest = await lab("eval", "gate", "no-such-suite-xyz", "--baseline", b);
    expect(latest.code).toBe(2);
    expect(latest.err).toMatch(
      /^lab eval gate: .*data\/evals\/no-such-suite-xyz\/latest\.json: cannot read the eval run/,
    );

    const other = await lab("eval", "gate", "other", "--baseline", b, "--run", path("same.json"));
    expect(other).toMatchObject({
      code: 2,
      err: expect.stringMatching(/same\.json is a run of suite 'mini', not 'other'$/),
    });
    expect((await lab("eval", "gate", "mini", "--baseline", b, "--run", path("same.json"), "--tolerance", "-1")).code)
      .toBe(2);
    expect((await lab("eval", "gate", "mini", "--baseline", b, "--run", path("same.json"), "--metric", "score")).err)
      .toMatch(
        /the baseline declares primary metric 'pass', not 'score'/,
      );
    const help = await lab("eval", "gate", "--help");
    expect(help.code).toBe(0);
    expect(help.out).toContain("data/evals/<suite>/latest.json");
  });

  it("merges shards into the whole run and prints the outcome table from it", async () => {
    const whole = run();
    for (const index of [1, 2]) {
      await write(`shard-${index}.json`, {
        ...whole,
        shard: { index, count: 2 },
        episodes: whole.episodes.filter((e) => shardOf(e.challengeId, 2) === index),
      });
    }
    const out = path("merged.json");
    const merged = await lab("eval", "merge", path("shard-1.json"), path("shard-2.json"), "--out", out);
    expect(merged.code).toBe(0);
    expect(merged.out).toMatch(/^merged 2 shards of suite 'mini' into .*merged\.json: 72 episodes, 2 arms$/);
    expect(JSON.parse(await Deno.readTextFile(out)).episodes).toHaveLength(72);

    const missing = await lab("eval", "merge", path("shard-1.json"), "--out", path("half.json"));
    expect(missing).toMatchObject({
      code: 2,
      err: "lab eval merge: mergeRuns: shard 2/2 missing; pass every shard's run",
    });
    expect(existsSync(path("half.json"))).toBe(false);

    const json = path("outcome.json");
    const outcome = await lab("eval", "outcome", out, "--json", json);
    expect(outcome.code).toBe(0);
    expect(outcome.out).toMatch(/^## Outcome table \(seed 000\): mini\n\n### test_id\n/);
    expect(outcome.out).toContain("No split has all four arms");
    expect(JSON.parse(await Deno.readTextFile(json))).toMatchObject({
      suites: ["mini"],
      splits: ["test_id"],
      rule: null,
    });
    expect((await lab("eval", "outcome")).code).toBe(2);
  });
});
