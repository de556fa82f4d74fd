/**
 * The injection-lift experiment end to end at small scale, with lab-mini called in process: a train tournament,
 * its episodes stored as patterns, then dev instances with injection off / on / family-label, paired.
 * Nothing here asserts that injection helps; it asserts that the comparison is paired, leak-free and recorded.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { type ChatModel, createChatModel, defaultBackends, getModelConfig, loadModelsConfig } from "../models/mod.ts";
import { loadStrategiesConfig, type StrategiesConfig } from "../agents/mod.ts";
import { parseTournamentConfig, type TournamentConfig } from "../tournament/mod.ts";
import { ingestRun, loadPatternsConfig, type PatternsConfig, PatternStore } from "../patterns/mod.ts";
import { formatPatternLift, patternLift, type PatternLiftResult } from "./mod.ts";
import { externalFamilyDir } from "../challenges/testing.ts";

let dir = "";
let pool: SandboxPool;
let result: PatternLiftResult;
let config: TournamentConfig;
let model: ChatModel;
let strategies: StrategiesConfig;
let patternsConfig: PatternsConfig;
let store: PatternStore;

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-lift-test-" });
  const sandbox = join(dir, "tiny.duckdb");
  await buildSandbox(sandbox, { scale: "tiny", asOf: "2025-11-28" });
  pool = await SandboxPool.open(sandbox, { size: 2 });
  const backends = await defaultBackends();
  const entry = getModelConfig(await loadModelsConfig(), "lab-mini");
  model = createChatModel(entry, { backend: Object.values(backends).find((b) => b.id === entry.model)! });
  config = parseTournamentConfig({
    model: "lab-mini",
    strategies: ["alpha", "beta"],
    challenges: { levels: [1], max_instances: 8 },
    attempts: 1,
    generations: 1,
    concurrency: 2,
    sandbox: { scale: "tiny", seed: 42, as_of: "2025-11-28" },
  }, "the lift test's tournament");
  strategies = await loadStrategiesConfig();
  patternsConfig = await loadPatternsConfig();
  store = await PatternStore.open(join(dir, "patterns.duckdb"));
  result = await patternLift(env(), { ...sameRun(), splits: ["dev"], instances: 6, seeds: 1 });
}, 240_000);

/** The lift test's tournament store, model and pool, and its config, pattern store and strategy (a second lift on them resumes the same run). */
const env = () => ({ db: join(dir, "lab.duckdb"), model, strategies, pool, stats: { resamples: 200 } });
const sameRun = () => ({ config, store, patternsConfig, strategy: "gamma" });

afterAll(async () => {
  await store?.close();
  await pool?.close();
  if (dir) await Deno.remove(dir, { recursive: true });
});

describe("patternLift", () => {
  it("learns on train and pairs the same dev instances and seeds with injection off, on and by family label", () => {
    expect(result.tournament.status).toBe("completed");
    expect(result.tournament.episodes.stored).toBe(8 * 2);
    const [dev] = result.splits;
    expect(dev.split).toBe("dev");
    expect(dev.challenges).toBe(6);
    expect(dev.seeds).toHaveLength(1);
    expect(dev.lift.pairs).toBe(6);
    expect(dev.off.episodes).toBe(6);
    expect(dev.on.episodes).toBe(6);
    expect(dev.upper?.lift.pairs).toBe(6);
    expect(dev.byLevel.map((l) => [l.level, l.pairs, l.clusters])).toEqual([[1, 6, dev.families]]);
    expect(dev.episodes).toHaveLength(18); // off, on and upper × 6 instances × 1 seed
    // The lift is the paired difference of the two arms' success rates.
    expect(dev.lift.success.estimate).toBeCloseTo(dev.on.success.estimate - dev.off.success.estimate, 10);
    expect(dev.injection.episodes).toBe(6);
    expect(dev.injection.used).toBeLessThanOrEqual(dev.injection.given);
    expect(result.label).toMatch(/lab-mini results/);
    const text = formatPatternLift(result);
    expect(text).toContain(`dev: 6 instances (${dev.families} families) × 1 seeds = 6 pairs`);
    expect(text).toContain("training curve (train, per generation; not a lift)");
  });

  it("stores every train episode's successful SQL once: ingesting the run again adds nothing", async () => {
    expect(await store.count()).toBe(result.patterns.stored);
    expect(await store.count({ split: "dev" })).toBe(0);
    expect(await store.count({ contaminated: true })).toBe(0);
    const again = await ingestRun(store, join(dir, "lab.duckdb"), result.tournament.runId);
    expect(again).toMatchObject({ episodes: 16, inserted: 0, merged: 0, duplicates: 16 });
    expect(await store.count()).toBe(result.patterns.stored);
    // The episodes record the patterns they were given (by id): stored, passing, learned on train.
    const [dev] = result.splits;
    expect(dev.injection.usedIds.every((id) => dev.injection.givenIds.includes(id))).toBe(true);
    const given = await store.list({ ids: dev.injection.givenIds });
    expect(given.map((p) => p.id).sort()).toEqual(dev.injection.givenIds);
    expect(given.every((p) => p.turnPass && p.split === "train" && !p.contaminated)).toBe(true);
  });
});

describe("patternLift on an external challenge set", () => {
  it("learns on the catalog's train and evaluates the external instances, whatever their split, as split 'external'", async () => {
    const ext = await externalFamilyDir();
    try {
      // The same tournament and stores as above: the run resumes (nothing new is learned), only the evaluation is new.
      const r = await patternLift(env(), { ...sameRun(), external: [ext], instances: 4, seeds: 1, upperBound: false });
      expect(r.tournament.runId).toBe(result.tournament.runId);
      expect(r.tournament.episodes.ranNow).toBe(0);
      expect(r.tournament.challenges.every((id) => !id.startsWith("my_revenue/"))).toBe(true);
      expect(r.splits.map((s) => [s.split, s.challenges, s.lift.pairs])).toEqual([["external", 4, 4]]);
      // Retrieval still offers the train patterns: the evaluated set is "external", never a pattern's split (asked with
      // the loader's split, the external instances sampled here, all on `train`, would be given none).
      expect(r.patterns.eligible).toBeGreaterThan(0);
      expect(r.splits[0].injection.given).toBeGreaterThan(0);
      expect(formatPatternLift(r)).toMatch(/external: 4 instances \(\d+ families\) × 1 seeds = 4 pairs/);
      await expect(patternLift(env(), { ...sameRun(), external: [ext], splits: ["dev"] })).rejects.toThrow(/not both/);
    } finally {
      await Deno.remove(ext, { recursive: true });
    }
  }, 30_000);
});
