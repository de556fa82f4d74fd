/**
 * Sharding a suite (`--shard i/n`) and merging the shards' runs: the slices partition the challenges, keep every
 * seed and arm of a challenge together, do not depend on the order of the catalog; the merge checks what it joins.
 */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import type { Challenge } from "../challenges/mod.ts";
import {
  type EvalRun,
  mergeRuns,
  parseShard,
  readEvalRun,
  shardOf,
  shardSuite,
  type Suite,
  type SuiteEpisode,
} from "./mod.ts";
import { plantedEpisode } from "./testing.ts";

const PINS = { catalogHash: "c0", models: { a: "m1", b: "m2" }, patternSnapshot: "p0", strategies: { a: "s", b: "s" } };
const ids = Array.from({ length: 60 }, (_, i) => `fam${i % 12}/t0/v${i}`);
// shardSuite reads only the challenges' ids.
const suite: Suite = {
  name: "s",
  challenges: ids.map((id) => ({ id }) as unknown as Challenge),
  seeds: [1, 2],
  arms: [{ id: "a", model: "m1", strategy: { id: "s" } }, {
    id: "b",
    model: "m2",
    strategy: { id: "s" },
  }] as unknown as Suite["arms"],
};

/** The run a shard's suite gives: every arm × challenge × seed of it. */
function runOf(part: Suite, shard: EvalRun["shard"], createdAt = "2026-01-01T00:00:00.000Z"): EvalRun {
  const episodes: SuiteEpisode[] = part.arms.flatMap((arm) =>
    part.challenges.flatMap((c) => part.seeds.map((seed) => plantedEpisode(arm.id, c.id, seed === 1, { seed })))
  );
  return { suite: part.name, createdAt, commit: "abc", pins: structuredClone(PINS), shard, episodes };
}

describe("shards", () => {
  it("parse i/n and refuse anything else with what to write", () => {
    expect(parseShard("2/8")).toEqual({ index: 2, count: 8 });
    for (const bad of ["0/4", "5/4", "1/0", "a/b", "2", "1/2/3"]) {
      expect(() => parseShard(bad)).toThrow(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 2/8), found '${bad}'`);
    }
  });

  it("partition a suite's challenges by the hash of their id, every seed and arm of a challenge in one shard", () => {
    const parts = [1, 2, 3].map((index) => shardSuite(suite, { index, count: 3 }));
    expect(parts.flatMap((p) => p.challenges.map((c) => c.id)).sort()).toEqual([...ids].sort());
    for (const [i, p] of parts.entries()) {
      expect(p.challenges.length).toBeGreaterThan(5);
      expect(p.challenges.every((c) => shardOf(c.id, 3) === i + 1)).toBe(true);
      expect(p).toMatchObject({ name: "s", seeds: [1, 2], arms: suite.arms });
    }
    // The same ids in another order (or another selection around them) land in the same shards.
    const reversed = shardSuite({ ...suite, challenges: [...suite.challenges].reverse().slice(0, 40) }, {
      index: 2,
      count: 3,
    });
    expect(reversed.challenges.map((c) => c.id).sort()).toEqual(
      parts[1].challenges.map((c) => c.id).filter((id) => ids.indexOf(id) >= 20).sort(),
    );
    expect(shardSuite(suite, { index: 1, count: 1 }).challenges).toHaveLength(60);
    expect(() =>
      shardSuite({ ...suite, challenges: suite.challenges.slice(0, 1) }, {
        index: shardOf(ids[0], 7) % 7 + 1,
        count: 7,
      })
    ).toThrow(
      /^shard \d\/7 of suite 's' holds none of its 1 challenges; use fewer shards$/,
    );
  });

  it("merge back into the whole run, whatever order the shards come in", () => {
    const whole = runOf(suite, null);
    const shards = [3, 1, 2].map((index) =>
      runOf(shardSuite(suite, { index, count: 3 }), { index, count: 3 }, `2026-01-0${index}T00:00:00.000Z`)
    );
    const merged = mergeRuns(shards);
    const key = (e: SuiteEpisode) => `${e.arm} ${e.challengeId} ${e.seed}`;
    expect(merged).toMatchObject({
      suite: "s",
      createdAt: "2026-01-03T00:00:00.000Z",
      commit: "abc",
      pins: PINS,
      shard: null,
    });
    expect(merged.episodes.map(key).sort()).toEqual(whole.episodes.map(key).sort());
    expect(merged.episodes.map((e) => shardOf(e.challengeId, 3))).toEqual(
      [...merged.episodes.map((e) => shardOf(e.challengeId, 3))].sort(),
    );
  });

  it("refuse to merge what does not fit together, saying what and where", () => {
    const shard = (index: number, count = 3, fields: Partial<EvalRun> = {}) => ({
      ...runOf(shardSuite(suite, { index, count }), { index, count }),
      ...fields,
    });
    expect(() => mergeRuns([])).toThrow("mergeRuns: no runs to merge; pass the runs of every shard");
    expect(() => mergeRuns([shard(1), shard(3)])).toThrow("mergeRuns: shard 2/3 missing; pass every shard's run");
    expect(() => mergeRuns([shard(1), shard(2), shard(2), shard(3)])).toThrow("mergeRuns: shard 2/3 is given twice");
    expect(() => mergeRuns([shard(1), shard(2, 2)])).toThrow(
      "mergeRuns: shard 2/2 and shard 1/3 split the suite differently",
    );
    expect(() => mergeRuns([shard(1), shard(2, 3, { pins: { ...PINS, models: { a: "m1", b: "m3" } } }), shard(3)]))
      .toThrow(
        "mergeRuns: pins differ: models.b is 'm3' in shard 2/3, 'm2' in shard 1/3; rerun the shards with the same pins",
      );
    expect(() => mergeRuns([shard(1), shard(2, 3, { commit: "def" }), shard(3)])).toThrow(
      /shard 2\/3 was made at commit def, shard 1\/3 at abc/,
    );
    expect(() => mergeRuns([shard(1), shard(2, 3, { suite: "t" }), shard(3)])).toThrow(
      "mergeRuns: shard 2/3 is of suite 't', shard 1/3 of 's'",
    );
    expect(() => mergeRuns([runOf(suite, null)])).toThrow(/a whole run of suite 's' is not a shard/);
    const stray = shard(2);
    stray.episodes.push(shard(1).episodes[0]);
    expect(() => mergeRuns([shard(1), stray, shard(3)])).toThrow(
      /shard 2\/3 holds .*, which belongs to shard 1\/3; the shards were not cut by shardSuite/,
    );
  });

  it("read a stored run, and refuse a malformed one naming the file and the field", async () => {
    const dir = await Deno.makeTempDir({ prefix: "lab-shard-" });
    try {
      const good = join(dir, "run.json"), bad = join(dir, "bad.json"), broken = join(dir, "broken.json");
      const run = runOf(suite, { index: 1, count: 1 });
      await Deno.writeTextFile(good, JSON.stringify(run));
      const wrong = structuredClone(run) as unknown as { episodes: Record<string, unknown>[] };
      wrong.episodes[3].pass = "yes";
      await Deno.writeTextFile(bad, JSON.stringify(wrong));
      await Deno.writeTextFile(broken, "{");
      expect(await readEvalRun(good)).toEqual(run);
      await expect(readEvalRun(bad)).rejects.toThrow(`${bad}: not an eval run: episodes[3].pass: `);
      await expect(readEvalRun(broken)).rejects.toThrow(`${broken}: not valid JSON: `);
      await expect(readEvalRun(join(dir, "none.json"))).rejects.toThrow(
        `${join(dir, "none.json")}: cannot read the eval run (`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
