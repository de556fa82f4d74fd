/**
 * "Does competition help?" bookkeeping at small scale with the planted in-process model (3 strategies, 6 train
 * challenges, budget 60 episodes, 4 dev instances × 2 seeds), and the re-evaluation of a run's winners. Nothing here
 * asserts that competition wins: the test checks equal budgets, identical dev instances and seeds for both arms, fresh
 * seeds, and lifts clustered by family (too few families here for an interval, which the result says).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import type { Challenge } from "../challenges/mod.ts";
import type { StrategiesConfig } from "../agents/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import {
  pairedStrategyDiff,
  parseTournamentConfig,
  queryStore,
  readEpisodeRows,
  runTournament,
  type RunSummary,
  selectChallenges,
  type TournamentConfig,
} from "../tournament/mod.ts";
import { AS_OF, plantedModel, plantedSetup, referenceSql } from "../tournament/testing.ts";
import {
  competitionVsSingle,
  type CompetitionResult,
  type EvalEnv,
  externalChallenges,
  formatCompetition,
  freshSeeds,
  reevaluateWinners,
} from "./mod.ts";
import { externalFamilyDir } from "../challenges/testing.ts";

let dir: string;
let pool: SandboxPool;
let config: TournamentConfig;
let strategies: StrategiesConfig;
let challenges: Challenge[];
let dev: Challenge[];
let model: ChatModel;
let result: CompetitionResult;
let db: string;
let env: EvalEnv;
let run: RunSummary;

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-compete-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(path, { size: 6 });
  ({ config, strategies, challenges } = await plantedSetup({ attempts: 2, generations: 2 }));
  dev = (await selectChallenges(parseTournamentConfig({ ...config, split: "dev" }))).slice(0, 4);
  model = plantedModel(referenceSql([...challenges, ...dev]));
  db = join(dir, "compete.duckdb");
  env = { db, model, strategies, pool, stats: { resamples: 500 } };
  result = await competitionVsSingle(env, { config, budget: 60, single: "medium", challenges, devChallenges: dev, devSeeds: 2 });
  run = await runTournament(parseTournamentConfig({ ...config, generations: 3 }), {
    db: join(dir, "reevaluate.duckdb"),
    model,
    strategies,
    pool,
    challenges,
    runId: "planted-re",
  });
}, 60_000);
afterAll(() => pool?.close());

describe("competitionVsSingle", () => {
  it("gives both arms the same training budget on the same train instances", async () => {
    expect(challenges).toHaveLength(6);
    // 3 strategies × 2 attempts × 2 generations = 12 episodes per instance; ⌊60 / 12⌋ = 5 instances.
    expect(result.budget).toEqual({ requested: 60, perArm: 60, perInstance: 12, trainInstances: 5 });
    expect(result.trainChallenges).toEqual(challenges.slice(0, 5).map((c) => c.id));
    expect(result.tournament).toMatchObject({ episodes: 60, generations: 2, population: 3 });
    expect(result.single).toMatchObject({ episodes: 60, final: "medium", root: "medium" });

    const stored = await queryStore(
      db,
      `SELECT run_id, count(*)::INT AS n, count(DISTINCT challenge_id)::INT AS instances,
              list(DISTINCT strategy_id ORDER BY strategy_id) AS strategies
       FROM episodes GROUP BY run_id ORDER BY n DESC, run_id`,
    );
    expect(Object.fromEntries(stored.map((r) => [r.run_id, [r.n, r.instances]]))).toEqual({
      [result.tournament.runId]: [60, 5],
      [result.single.runId]: [60, 5],
    });
    expect(stored.find((r) => r.run_id === result.single.runId)!.strategies).toEqual(["medium"]);
  });

  it("evaluates both final strategies on identical dev instances with identical fresh seeds", async () => {
    const key = (e: { challengeId: string; seed: number }) => `${e.challengeId}|${e.seed}`;
    const winner = result.episodes.filter((e) => e.arm === "tournament").map(key).sort();
    const single = result.episodes.filter((e) => e.arm === "single").map(key).sort();
    const expected = dev.flatMap((c) => result.dev.seeds.map((s) => `${c.id}|${s}`)).sort();
    expect(result.dev.challenges).toEqual(dev.map((c) => c.id));
    expect(result.dev.seeds).toHaveLength(2);
    expect(single).toEqual(expected);
    expect(winner).toEqual(expected);
    expect(new Set(result.episodes.filter((e) => e.arm === "tournament").map((e) => e.strategyId))).toEqual(new Set([result.tournament.final]));
    expect(result.episodes.every((e) => e.split === "dev")).toBe(true);

    const trainSeeds = new Set([
      ...(await readEpisodeRows(db, result.tournament.runId)).map((r) => r.seed),
      ...(await readEpisodeRows(db, result.single.runId)).map((r) => r.seed),
    ]);
    expect(result.dev.seeds.filter((s) => trainSeeds.has(s))).toEqual([]);
    expect(result.dev.tournament.episodes).toBe(8);
    expect(result.dev.single.episodes).toBe(8);
  });

  it("reports the lift clustered by family (no interval with fewer than 10 families), and McNemar on the same pairs", () => {
    const { lift } = result;
    const families = new Set(dev.map((c) => c.family)).size;
    expect(lift.pairs).toBe(8);
    expect(lift.clusters).toBe(families);
    for (const d of [lift.success, lift.fitness]) {
      expect(d).toMatchObject({ lo: null, hi: null, clusters: families, note: `${families} famil${families === 1 ? "y" : "ies"}: an interval needs ≥ 10` });
      expect(d.estimate).toBeCloseTo(d.armMean - d.controlMean, 12);
    }
    expect(lift.success.controlMean).toBeCloseTo(result.dev.single.success.estimate, 12);
    expect(lift.success.armMean).toBeCloseTo(result.dev.tournament.success.estimate, 12);
    // McNemar counts the discordant pairs: b = single passed and the winner failed, c = the reverse.
    const byKey = (arm: string) => new Map(result.episodes.filter((e) => e.arm === arm).map((e) => [`${e.challengeId}|${e.seed}`, e.pass]));
    const s = byKey("single"), w = byKey("tournament");
    const b = [...s].filter(([k, p]) => p && !w.get(k)).length;
    const c = [...s].filter(([k, p]) => !p && w.get(k)).length;
    expect(lift.mcnemar).toMatchObject({ b, c });
    expect(result.label).toBeNull();
    const text = formatCompetition(result);
    expect(text).toMatch(/^model planted/);
    expect(text).toMatch(/budget: 60 train episodes per arm \(requested 60\) on 5 train instances, 12 per instance/);
    expect(text).toMatch(/dev: 4 instances × 2 fresh seeds .* = 8 pairs/);
    expect(formatCompetition({ ...result, label: "lab-mini results" })).toMatch(/^lab-mini results\n/);
  });

  it("refuses a budget below one train instance's worth and dev seeds that training used", async () => {
    const opts = { config, challenges, devChallenges: dev, single: "medium" };
    await expect(competitionVsSingle(env, { ...opts, budget: 11 })).rejects.toThrow(
      /budget 11 is below one train instance's worth: 3 strategies × 2 attempts × 2 generations = 12 episodes/,
    );
    const used = (await readEpisodeRows(db, result.tournament.runId))[0].seed;
    await expect(
      competitionVsSingle(env, { ...opts, budget: 60, devSeeds: [used], runIds: { tournament: result.tournament.runId, single: result.single.runId } }),
    ).rejects.toThrow(/dev seeds .* were used in training/);
  }, 30_000);
});

describe("paired comparisons and fresh seeds", () => {
  it("pairedStrategyDiff refuses two strategies that never met", async () => {
    const rows = await readEpisodeRows(db, result.tournament.runId);
    expect(() => pairedStrategyDiff(rows, "weak", "medium.g9.m1")).toThrow(/share no \(generation, challenge, seed, attempt\)/);
    const d = pairedStrategyDiff(rows, "weak", "medium", { resamples: 200 });
    expect(d.pairs).toBe(10); // generation 1: 5 instances × 2 attempts
  });

  it("freshSeeds skips excluded seeds and is deterministic", () => {
    const [a, b] = freshSeeds(2, { salt: "x" });
    expect(freshSeeds(2, { salt: "x" })).toEqual([a, b]);
    expect(freshSeeds(2, { salt: "x", exclude: new Set([a]) })).toEqual([b, freshSeeds(3, { salt: "x" })[2]]);
  });
});

describe("reevaluateWinners", () => {
  it("re-evaluates the first- and last-generation winners on dev with fresh seeds and reports both figures", async () => {
    expect(run.generations).toHaveLength(3);
    const tournamentSeeds = new Set((await readEpisodeRows(run.db, run.runId)).map((r) => r.seed));
    const seeds = freshSeeds(2, { salt: `dev:${run.runId}`, exclude: tournamentSeeds });
    const runEnv = { ...env, db: run.db };
    const re = await reevaluateWinners(run, runEnv, { split: "dev", seeds, challenges: dev });

    expect(re).toMatchObject({ runId: "planted-re", split: "dev", seeds, challenges: dev.map((c) => c.id) });
    expect(seeds.some((s) => tournamentSeeds.has(s))).toBe(false);
    expect(re.tournamentSeeds).toBe(tournamentSeeds.size);
    expect(re.episodes.every((e) => e.split === "dev" && seeds.includes(e.seed))).toBe(true);
    expect(re.winners.map((w) => [w.role, w.generation, w.strategyId])).toEqual([
      ["first", 1, run.generations[0].ranking[0].strategyId],
      ["last", 3, run.generations[2].ranking[0].strategyId],
    ]);
    const distinct = new Set(re.winners.map((w) => w.strategyId)).size;
    expect(re.episodes).toHaveLength(distinct * dev.length * seeds.length);
    expect(re.lastVsFirst === null).toBe(distinct === 1);
    for (const w of re.winners) {
      // Both figures: the one selection saw and the fresh one, with the gap between them.
      expect(w.tournament.success!.estimate).toBeCloseTo(w.tournament.standing.successRate, 12);
      expect(w.reevaluated.episodes).toBe(dev.length * seeds.length);
      expect(w.reevaluated.clusters).toBe(new Set(dev.map((c) => c.family)).size);
      const mine = re.episodes.filter((e) => e.arm === w.strategyId);
      expect(w.reevaluated.success.estimate).toBeCloseTo(mine.filter((e) => e.pass).length / mine.length, 12);
      expect(w.optimism.success).toBeCloseTo(w.tournament.standing.successRate - w.reevaluated.success.estimate, 12);
    }

    // A tournament seed is refused: a re-evaluation must not replay what selection already saw.
    await expect(reevaluateWinners(run, runEnv, { split: "dev", seeds: [[...tournamentSeeds][0]], challenges: dev }))
      .rejects.toThrow(/were used by the tournament/);
  }, 30_000);
});

describe("competitionVsSingle on an external challenge set", () => {
  it("trains both arms and re-evaluates them on the external instances, whatever their split, and says so", async () => {
    const ext = await externalFamilyDir();
    try {
      const extConfig = parseTournamentConfig({ ...config, challenges: { levels: [], families: [], max_instances: 30 }, attempts: 1, generations: 1 });
      const mine = await externalChallenges(extConfig, { paths: [ext], max: 30 });
      const extEnv = { db: join(dir, "compete-external.duckdb"), model: plantedModel(referenceSql(mine)), strategies, pool };
      const r = await competitionVsSingle(extEnv, {
        config: extConfig,
        external: [ext],
        budget: 6, // 3 strategies × 1 attempt × 1 generation = 3 per instance: 2 instances
        single: "medium",
        devInstances: 3,
        devSeeds: 1,
      });
      const ids = new Set(mine.map((c) => c.id));
      expect(r.trainChallenges).toHaveLength(2);
      expect([...r.trainChallenges, ...r.dev.challenges].every((id) => ids.has(id))).toBe(true);
      expect(r.dev).toMatchObject({ split: "external", challenges: (await externalChallenges(extConfig, { paths: [ext], max: 3 })).map((c) => c.id) });
      // The instances keep the loader's splits (not only dev); the re-evaluation does not require dev.
      expect(new Set(mine.map((c) => c.split)).size).toBeGreaterThan(1);
      expect(r.lift.pairs).toBe(3);
      const out = formatCompetition(r);
      expect(out).toContain("challenges: the external set (its instances whatever their split), for training and re-evaluation");
      expect(out).toMatch(/on 2 external instances, 3 per instance/);
      expect(out).toMatch(/^external: 3 instances × 1 fresh seeds .* = 3 pairs$/m);
    } finally {
      await Deno.remove(ext, { recursive: true });
    }
  }, 30_000);
});
