/** The run summaries the notebooks show, on small hand-made fixtures. */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import {
  challengeLevels,
  episodeGenerations,
  fitnessByGeneration,
  successByGeneration,
  successByLevel,
} from "./summaries.ts";
import { withStore } from "./store.ts";
import type { StrategyStats } from "./stats.ts";

const catalog = [{ id: "a-1", level: 1 }, { id: "b-1", level: 2 }, { id: "c-1", level: 1 }];

describe("run summaries", () => {
  it("fitnessByGeneration gives the mean and best series, one row per generation and series", () => {
    const perGeneration = [
      { generation: 1, meanFitness: 0.5, bestFitness: 0.7 },
      { generation: 2, meanFitness: 0.6, bestFitness: 0.8 },
    ];
    expect(fitnessByGeneration({ perGeneration } as Parameters<typeof fitnessByGeneration>[0])).toEqual([
      { generation: 1, series: "population mean", fitness: 0.5 },
      { generation: 1, series: "best strategy", fitness: 0.7 },
      { generation: 2, series: "population mean", fitness: 0.6 },
      { generation: 2, series: "best strategy", fitness: 0.8 },
    ]);
    expect(fitnessByGeneration({ perGeneration: [] })).toEqual([]);
  });

  it("successByGeneration flattens each generation's per-strategy success, in order", () => {
    const stats = (strategyId: string, estimate: number) => ({ strategyId, success: { estimate } }) as StrategyStats;
    expect(successByGeneration([
      { generation: 1, stats: [stats("alpha", 0.5), stats("beta", 0.25)] },
      { generation: 2, stats: [stats("alpha", 1)] },
      { generation: 3, stats: [] },
    ])).toEqual([
      { generation: 1, strategy: "alpha", success: 0.5 },
      { generation: 1, strategy: "beta", success: 0.25 },
      { generation: 2, strategy: "alpha", success: 1 },
    ]);
  });

  it("challengeLevels lists the distinct levels in the order first met, undefined for an unknown id", () => {
    expect(challengeLevels(["b-1", "a-1", "c-1", "b-1"], catalog)).toEqual([2, 1]);
    expect(challengeLevels(["zz", "a-1", "yy"], catalog)).toEqual([undefined, 1]);
    expect(challengeLevels([], catalog)).toEqual([]);
  });

  it("successByLevel counts episodes and passes per (strategy, level) in the order first met", () => {
    const rows = [
      { strategyId: "alpha", challengeId: "a-1", pass: true },
      { strategyId: "beta", challengeId: "a-1", pass: false },
      { strategyId: "alpha", challengeId: "b-1", pass: false },
      { strategyId: "alpha", challengeId: "c-1", pass: false },
      { strategyId: "beta", challengeId: "c-1", pass: true },
      { strategyId: "beta", challengeId: "zz", pass: true },
    ];
    expect(successByLevel(rows, catalog)).toEqual([
      { strategy: "alpha", level: 1, episodes: 2, passed: 1, successRate: 0.5 },
      { strategy: "beta", level: 1, episodes: 2, passed: 1, successRate: 0.5 },
      { strategy: "alpha", level: 2, episodes: 1, passed: 0, successRate: 0 },
      { strategy: "beta", level: undefined, episodes: 1, passed: 1, successRate: 1 },
    ]);
    expect(successByLevel([], catalog)).toEqual([]);
  });

  it("episodeGenerations maps each stored episode's record id to its generation, for one run", async () => {
    const dir = await Deno.makeTempDir({ prefix: "lab-summaries-" });
    try {
      const db = join(dir, "lab.duckdb");
      await withStore(db, async (con) => {
        const insert = "INSERT INTO episodes (run_id, id, generation, trace) VALUES ($1, $2, $3, $4::JSON)";
        await con.run(insert, ["t-1", "g1#a-1#alpha#s1#a0", 1, JSON.stringify({ id: "a-1#alpha#m#s1#a0" })]);
        await con.run(insert, ["t-1", "g2#a-1#alpha#s2#a0", 2, JSON.stringify({ id: "a-1#alpha#m#s2#a0" })]);
        await con.run(insert, ["t-2", "g1#a-1#alpha#s9#a0", 1, JSON.stringify({ id: "a-1#alpha#m#s9#a0" })]);
      }, { write: true });
      expect(await episodeGenerations(db, "t-1")).toEqual(
        new Map([["a-1#alpha#m#s1#a0", 1], ["a-1#alpha#m#s2#a0", 2]]),
      );
      expect(await episodeGenerations(db, "none")).toEqual(new Map());
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
