/**
 * The tournament engine with a scripted in-process model on a tiny sandbox: 3 strategies × 6 challenges × k=2
 * × 2 generations. The scripted model solves a task (by running the verifier's own reference SQL and submitting
 * the number) only when the system prompt carries a marker — a planted strong strategy — and half the time for a
 * medium one; selection must keep the strong one and replace the weak one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox } from "../sandbox/generate.ts";
import { SandboxPool } from "../sandbox/episode.ts";
import type { Challenge } from "../challenges/mod.ts";
import type { StrategiesConfig } from "../agents/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import { ConfigError } from "../util/errors.ts";
import {
  parseTournamentConfig,
  parseTournamentYaml,
  queryStore,
  runTournament,
  type RunTournamentOptions,
  selectChallenges,
  type TournamentConfig,
  tournamentJsonSchema,
  TOURNAMENT_SCHEMA_PATH,
  loadTournamentConfig,
} from "./mod.ts";
import { AS_OF, plantedModel as planted, plantedSetup } from "./_test_model.ts";

let dir: string;
let pool: SandboxPool;
let strategies: StrategiesConfig;
let challenges: Challenge[];
let config: TournamentConfig;
let sqlByTask: Map<string, string>;

const plantedModel = (onRequest?: () => void): ChatModel => planted(sqlByTask, onRequest);

function options(db: string, extra: Partial<RunTournamentOptions> = {}): RunTournamentOptions {
  return {
    db,
    runId: "test-run",
    model: plantedModel(),
    strategies,
    pool,
    stats: { resamples: 200 },
    ...extra,
  };
}

/** Stored state without timings: episodes (key fields + verdict + fitness), strategies, generations. */
async function storedState(db: string) {
  const episodes = await queryStore(
    db,
    `SELECT id, generation, strategy_id, challenge_id, attempt, seed, pass, score, composite, tokens_total,
            stop_reason, contaminated, trace->'$.verdict' AS verdict, trace->'$.toolCalls' AS calls
     FROM episodes WHERE run_id = 'test-run' ORDER BY id`,
  );
  const strategyRows = await queryStore(
    db,
    "SELECT id, generation, operation, parents, changed, strategy FROM strategies WHERE run_id = 'test-run' ORDER BY id",
  );
  const generations = await queryStore(
    db,
    "SELECT generation, population, ranking, replaced, children, stats FROM generations WHERE run_id = 'test-run' ORDER BY generation",
  );
  const calls = episodes.map((e) => ({ ...e, calls: JSON.parse(String(e.calls)).map((c: { ms: number }) => ({ ...c, ms: 0 })) }));
  return { episodes: calls, strategies: strategyRows, generations };
}

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-tournament-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(path, { size: 6 });
  ({ config, strategies, challenges, sqlByTask } = await plantedSetup());
}, 60_000);
afterAll(() => pool?.close());

describe("runTournament", () => {
  it("runs 3 strategies × 6 challenges × k=2 × 2 generations, keeps the planted strong strategy and replaces the weakest with its child", async () => {
    const db = join(dir, "full.duckdb");
    const events: string[] = [];
    const run = await runTournament(config, options(db, { onProgress: (e) => events.push(e.kind) }));

    expect(challenges).toHaveLength(6);
    expect(run.status).toBe("completed");
    expect(run.episodes).toMatchObject({ total: 72, stored: 72, ranNow: 72, resumed: 0 });
    expect(events.filter((e) => e === "episode")).toHaveLength(72);
    expect(events.filter((e) => e === "generation")).toHaveLength(2);

    const [g1, g2] = run.generations;
    expect(g1.ranking.map((r) => r.strategyId)).toEqual(["strong", "medium", "weak"]);
    expect(g1.ranking[0]).toMatchObject({ successRate: 1, episodes: 12 });
    expect(g1.ranking[2]).toMatchObject({ successRate: 0 });
    expect(g1.replaced).toEqual(["weak"]);
    expect(g1.children).toEqual([
      { id: "strong.g2.m1", lineage: { parents: ["strong"], operation: "mutation", changed: expect.any(Array) } },
    ]);
    expect(g1.children[0].lineage.changed.length).toBeGreaterThan(0);
    expect(g2.population).toEqual(["strong.g2.m1", "medium", "strong"]);
    expect(g2.replaced).toEqual([]);

    // The child keeps the strong instructions, so it solves everything too.
    expect(g2.ranking.slice(0, 2).map((r) => r.successRate)).toEqual([1, 1]);

    // Lineage is stored.
    const lineage = await queryStore(db, "SELECT id, generation, operation, parents::VARCHAR AS parents, changed::VARCHAR AS changed FROM strategies ORDER BY generation, id");
    expect(lineage.map((r) => [r.id, r.generation, r.operation, JSON.parse(String(r.parents))])).toEqual([
      ["medium", 1, "seed", []],
      ["strong", 1, "seed", []],
      ["weak", 1, "seed", []],
      ["strong.g2.m1", 2, "mutation", ["strong"]],
    ]);
    expect(JSON.parse(String(lineage[3].changed))).toEqual(g1.children[0].lineage.changed);

    // Every strategy of a generation saw the same challenges with the same seeds.
    const seeds = await queryStore(
      db,
      "SELECT generation, strategy_id, list(challenge_id || ':' || seed ORDER BY challenge_id, seed) AS k FROM episodes GROUP BY ALL",
    );
    for (const g of [1, 2]) {
      const lists = seeds.filter((r) => r.generation === g).map((r) => JSON.stringify(r.k));
      expect(new Set(lists).size).toBe(1);
    }

    // Leaderboard: the planted strategy first, with estimates inside their intervals.
    expect(run.leaderboard[0].strategyId).toMatch(/^strong/);
    for (const row of run.leaderboard) {
      expect(row.fitness.lo).toBeLessThanOrEqual(row.fitness.estimate + 1e-12);
      expect(row.fitness.hi).toBeGreaterThanOrEqual(row.fitness.estimate - 1e-12);
      expect(row.success.lo).toBeLessThanOrEqual(row.success.estimate);
      expect(row.success.hi).toBeGreaterThanOrEqual(row.success.estimate);
      expect(row.rating).not.toBeNull();
      expect(row.rating!.lo).toBeLessThanOrEqual(row.rating!.rating + 1e-9);
      expect(row.rating!.hi).toBeGreaterThanOrEqual(row.rating!.rating - 1e-9);
      expect(row.passAtK).toBeGreaterThanOrEqual(row.passHatK);
      expect(row.k).toBe(2);
    }
    const weak = run.leaderboard.find((r) => r.strategyId === "weak")!;
    expect(weak).toMatchObject({ generations: [1], success: { estimate: 0 }, passAtK: 0 });
    expect(run.learning.perGeneration).toHaveLength(2);
    expect(run.learning.improvement[0]).toBeGreaterThan(0); // weak replaced by a strong child

    // Train split: nothing contaminated; queries are stored.
    expect(await queryStore(db, "SELECT count(*)::INT AS n FROM episodes WHERE contaminated")).toEqual([{ n: 0 }]);
    expect((await queryStore(db, "SELECT count(*)::INT AS n FROM queries"))[0].n).toBe(72);

    // Same seed, fresh store → identical stored episodes, verdicts and selection.
    const again = join(dir, "again.duckdb");
    await runTournament(config, options(again));
    expect(await storedState(again)).toEqual(await storedState(db));

    // Re-running the finished run stores nothing new.
    const rerun = await runTournament(config, options(db));
    expect(rerun.episodes).toMatchObject({ ranNow: 0, resumed: 72, stored: 72 });
  }, 60_000);

  it("resumes a run aborted mid-generation to the same final state as an uninterrupted run", async () => {
    // The uninterrupted reference is the first test's run.
    const full = join(dir, "full.duckdb");

    const db = join(dir, "resume.duckdb");
    const ac = new AbortController();
    let requests = 0;
    // Two model calls per episode: abort in the middle of the first generation (36 episodes).
    const model = plantedModel(() => {
      if (++requests === 40) ac.abort();
    });
    const first = await runTournament(config, options(db, { signal: ac.signal, model }));
    expect(first.status).toBe("aborted");
    expect(first.episodes.stored).toBeGreaterThanOrEqual(10);
    expect(first.episodes.stored).toBeLessThan(36);
    const status = await queryStore(db, "SELECT status FROM runs");
    expect(status).toEqual([{ status: "aborted" }]);

    const second = await runTournament(config, options(db));
    expect(second.status).toBe("completed");
    expect(second.episodes.resumed).toBe(first.episodes.stored);
    expect(second.episodes.ranNow).toBe(72 - first.episodes.stored);
    expect(await storedState(db)).toEqual(await storedState(full));
  }, 60_000);

  it("refuses to resume a run id with a different config", async () => {
    const db = join(dir, "full.duckdb");
    await expect(runTournament({ ...config, seed: 4 }, options(db))).rejects.toThrow(
      /run 'test-run' .* was started with a different config/,
    );
  }, 30_000);

  it("marks episodes on splits other than train as contaminated", async () => {
    const db = join(dir, "dev.duckdb");
    const devConfig = parseTournamentConfig({
      ...config,
      split: "dev",
      challenges: { families: ["invoice_count_for_period"], max_instances: 2 },
      attempts: 1,
      generations: 1,
    });
    const run = await runTournament(devConfig, options(db));
    expect(run.episodes.stored).toBe(6);
    expect(await queryStore(db, "SELECT DISTINCT contaminated, split FROM episodes")).toEqual([
      { contaminated: true, split: "dev" },
    ]);
  }, 30_000);
});

describe("tournament config", () => {
  it("loads the committed configs/tournament.yaml with its defaults", async () => {
    const cfg = await loadTournamentConfig();
    expect(cfg).toMatchObject({ model: "lab-mini", split: "train", sandbox: { scale: "tiny" } });
    expect(cfg.strategies).toEqual(["alpha", "beta", "gamma", "delta", "epsilon"]);
  });

  it("fills defaults for an empty file", () => {
    expect(parseTournamentConfig({})).toMatchObject({
      model: "lab-mini",
      strategies: [],
      split: "train",
      attempts: 2,
      generations: 2,
      concurrency: 4,
      sandbox: { scale: "tiny" },
      selection: { replace: 1 },
    });
  });

  it("names the file, the path and the reason of an invalid value", () => {
    expect(() => parseTournamentYaml("attempts: 0\n", "my.yaml")).toThrow(new ConfigError("my.yaml: attempts: must be > 0"));
    expect(() => parseTournamentYaml("selection: { mutation: { flags: 2 } }\n", "my.yaml")).toThrow(
      new ConfigError("my.yaml: selection.mutation.flags: must be ≤ 1"),
    );
    expect(() => parseTournamentYaml("strategies: [a, b]\nselection: { replace: 2 }\n", "t.yaml")).toThrow(
      /t\.yaml: selection\.replace: must be smaller than the population \(2 strategies\), found 2/,
    );
    expect(() => parseTournamentYaml("bogus: 1\n", "t.yaml")).toThrow(/t\.yaml: \(top level\): .*bogus/);
    expect(() => parseTournamentYaml("a: [\n", "t.yaml")).toThrow(/t\.yaml: not valid YAML/);
    expect(() => parseTournamentYaml("split: holdout\n", "t.yaml")).toThrow(/t\.yaml: split: /);
  });

  it("rejects unknown strategies and families before running anything", async () => {
    const db = join(dir, "never.duckdb");
    await expect(runTournament(parseTournamentConfig({ ...config, strategies: ["strong", "nope"] }), options(db)))
      .rejects.toThrow(/configs\/tournament\.yaml: strategies\[1\]: no strategy named 'nope'/);
    await expect(selectChallenges(parseTournamentConfig({ challenges: { families: ["no_such_family"] } })))
      .rejects.toThrow(/challenges\.families\[0\]: no family 'no_such_family'/);
  });

  it("the committed JSON schema is up to date", async () => {
    const committed = JSON.parse(await Deno.readTextFile(TOURNAMENT_SCHEMA_PATH));
    expect(committed).toEqual(JSON.parse(JSON.stringify(tournamentJsonSchema())));
  });
});
