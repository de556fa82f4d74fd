/**
 * The tournament engine with a scripted in-process model on a tiny sandbox: 3 strategies × 6 challenges × k=2
 * × 2 generations. The scripted model solves a task (by running the verifier's own reference SQL and submitting
 * the number) only when the system prompt carries a marker — a planted strong strategy — and half the time for a
 * medium one; selection must keep the strong one and replace the weak one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { type Challenge, CHALLENGE_DIR, loadCatalog } from "../challenges/mod.ts";
import type { EpisodeRecord, EpisodeSink, PatternSource, StrategiesConfig } from "../agents/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import { canonicalSql, ConfigError } from "../util/mod.ts";
import {
  formatLearning,
  learningMetrics,
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
import { storedState, testRunOptions } from "./_test_store.ts";

let dir: string;
let pool: SandboxPool;
let strategies: StrategiesConfig;
let challenges: Challenge[];
let config: TournamentConfig;
let sqlByTask: Map<string, string>;

const plantedModel = (onRequest?: () => void): ChatModel => planted(sqlByTask, onRequest);

const options = (db: string, extra: Partial<RunTournamentOptions> = {}): RunTournamentOptions =>
  testRunOptions(db, { model: plantedModel(), strategies, pool, ...extra });

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

  it("passes its pattern source and episode sink to every episode; the sink gets exactly the stored episodes", async () => {
    const small = parseTournamentConfig({ ...config, challenges: { ...config.challenges, max_instances: 2 }, attempts: 1, generations: 1 });
    const smallChallenges = await selectChallenges(small);
    const queries: { task: string; role: string; split?: string }[] = [];
    const patterns: PatternSource = (q) => {
      queries.push(q);
      return Promise.resolve([{ task: "How many invoices?", role: q.role, calls: [{ tool: "dbRead", sql: "SELECT count(*) FROM sales_invoices" }] }]);
    };
    const sunk: EpisodeRecord[] = [];
    const sink: EpisodeSink = (r) => (sunk.push(r), Promise.resolve());
    const db = join(dir, "ports.duckdb");
    const run = await runTournament(small, options(db, { challenges: smallChallenges, patterns, sink }));
    expect(run.episodes.stored).toBe(6);
    expect(queries).toHaveLength(6);
    expect(new Set(queries.map((q) => q.task))).toEqual(new Set(smallChallenges.map((c) => c.task)));
    expect(queries.every((q) => q.split === "train")).toBe(true);
    const stored = await queryStore(db, "SELECT (trace->>'$.id') AS id, (trace->>'$.examples')::INT AS examples FROM episodes ORDER BY 1");
    expect(stored.map((r) => r.examples)).toEqual(Array(6).fill(1));
    expect(sunk.map((r) => r.id).sort()).toEqual(stored.map((r) => r.id));

    // Aborted: episodes cut short reach neither the store nor the sink.
    const ac = new AbortController();
    let requests = 0;
    const cut: EpisodeRecord[] = [];
    const aborted = await runTournament(config, options(join(dir, "ports-aborted.duckdb"), {
      signal: ac.signal,
      model: plantedModel(() => {
        if (++requests === 21) ac.abort();
      }),
      sink: (r) => (cut.push(r), Promise.resolve()),
    }));
    expect(aborted.status).toBe("aborted");
    const ids = await queryStore(join(dir, "ports-aborted.duckdb"), "SELECT trace->>'$.id' AS id FROM episodes ORDER BY 1");
    expect(cut.map((r) => r.id).sort()).toEqual(ids.map((r) => r.id));
    expect(cut.every((r) => r.stopReason !== "aborted")).toBe(true);
  }, 30_000);

  it("reports the learning metrics: fitness per generation, convergence and the pattern discovery rate", async () => {
    const run = await runTournament(config, options(join(dir, "full.duckdb")));
    const m = run.learning;
    expect(m.perGeneration.map((g) => g.episodes)).toEqual([36, 36]);
    // Generation 1: strong solves all 6 challenges, medium some: each family's reference SQL shape is one pattern
    // (literals normalized away), so there are at most 2 (one per family); generation 2 repeats them.
    expect(m.perGeneration[0].newPatterns).toBe(2);
    expect(m.perGeneration[1].newPatterns).toBe(0);
    expect(m.perGeneration[0].discoveryRate).toBeCloseTo(200 / 36, 10);
    expect(m).toMatchObject({ patterns: 2, patternDiscoveryRate: 200 / 72 });
    expect(m.convergence).toEqual({ generation: null, tolerance: 0.02 }); // it still improved in generation 2
    const text = formatLearning(m);
    expect(text).toMatch(/new patterns/);
    expect(text).toMatch(/not converged .*; 2 distinct patterns, 2\.8 per 100 episodes$/);
  }, 30_000);

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

describe("learning metrics", () => {
  const row = (generation: number, composite: number, i: number) => ({
    id: `g${generation}#c${i}`, generation, strategyId: `s${i % 2}`, challengeId: `c${i}`, attempt: 0, seed: i,
    pass: composite > 0.5, score: composite > 0.5 ? 1 : 0, composite, tokensTotal: 0, costUsd: 0,
    stopReason: "submitted", contaminated: false,
  });
  it("finds the generation from which the mean fitness stays within the tolerance", () => {
    const rows = [0.2, 0.5, 0.51, 0.5].flatMap((f, g) => [row(g + 1, f, 0), row(g + 1, f, 1)]);
    expect(learningMetrics(rows).convergence).toEqual({ generation: 2, tolerance: 0.02 });
    expect(learningMetrics(rows, { tolerance: 0.001 }).convergence.generation).toBeNull();
    expect(learningMetrics(rows.filter((r) => r.generation === 1)).convergence.generation).toBeNull();
  });
  it("counts a pattern once, in the first generation that produced it, per 100 episodes", () => {
    const rows = [1, 1, 2, 2].map((g, i) => row(g, 0.9, i));
    const solutions = [
      { id: "a", generation: 1, family: "f", sql: ["SELECT count(*) FROM t WHERE d >= DATE '2025-01-01'"] },
      { id: "b", generation: 1, family: "f", sql: ["select  count(*) from t where d >= date '2024-06-01';"] },
      { id: "c", generation: 2, family: "f", sql: ["SELECT count(*) FROM t WHERE d >= DATE '2023-01-01' -- again"] },
      { id: "d", generation: 2, family: "g", sql: ["SELECT sum(x1) FROM t LIMIT 5"] },
      { id: "e", generation: 2, family: "g", sql: [] }, // passed without a query: teaches no SQL
    ];
    const m = learningMetrics(rows, { solutions });
    expect(m.perGeneration.map((g) => [g.newPatterns, g.discoveryRate])).toEqual([[1, 50], [1, 50]]);
    expect(m).toMatchObject({ patterns: 2, patternDiscoveryRate: 50 });
    expect(canonicalSql("SELECT x1, 'a''b' FROM t WHERE n = 3.5e2 /* c */ ;", { literals: "mask" })).toBe(
      "select x1, ? from t where n = ?",
    );
  });
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

/** A folder with one small family of the researcher's own: a committed family under a new id. */
async function externalSet(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "lab-external-" });
  const text = await Deno.readTextFile(join(CHALLENGE_DIR, "revenue_for_period.yaml"));
  await Deno.writeTextFile(join(dir, "my_revenue.yaml"), text.replace(/^family: revenue_for_period$/m, "family: my_revenue"));
  return dir;
}

describe("external challenge sets", () => {
  it("selectChallenges picks the external families' instances of every split, filtered and sampled as the config's own selection", async () => {
    const ext = await externalSet();
    try {
      const all = await loadCatalog({ extra: [ext], origin: "extra" });
      // Only the external family, with the splits it has when loaded beside the catalog.
      const beside = (await loadCatalog({ extra: [ext] })).filter((c) => c.family === "my_revenue");
      expect(all.map((c) => [c.id, c.split])).toEqual(beside.map((c) => [c.id, c.split]));
      expect(new Set(all.map((c) => c.split))).toEqual(new Set(["train", "dev", "test_id"]));

      const cfg = parseTournamentConfig({ split: "test_ood", challenges: { levels: [1], max_instances: 40 }, seed: 5 });
      const picked = await selectChallenges(cfg, "t.yaml", { external: [ext] });
      expect(picked).toHaveLength(40);
      expect(picked.every((c) => c.family === "my_revenue")).toBe(true);
      expect(new Set(picked.map((c) => c.split)).size).toBeGreaterThan(1); // the config's split does not apply
      expect(picked.map((c) => c.id)).toEqual([...picked.map((c) => c.id)].sort());
      // The same selection code: deterministic by seed, a different seed samples differently.
      expect(await selectChallenges(cfg, "t.yaml", { external: [ext] })).toEqual(picked);
      const other = await selectChallenges(parseTournamentConfig({ ...cfg, seed: 6 }), "t.yaml", { external: [ext] });
      expect(other.map((c) => c.id)).not.toEqual(picked.map((c) => c.id));

      await expect(selectChallenges(parseTournamentConfig({ challenges: { levels: [2] } }), "t.yaml", { external: [ext] }))
        .rejects.toThrow(/^t\.yaml: challenges: the selection matches no external \(.*\) instance$/);
      await expect(selectChallenges(parseTournamentConfig({ challenges: { families: ["revenue_for_period"] } }), "t.yaml", { external: [ext] }))
        .rejects.toThrow(/t\.yaml: challenges\.families\[0\]: no family 'revenue_for_period' has external .* instances/);
    } finally {
      await Deno.remove(ext, { recursive: true });
    }
  });

  it("refuses a bad external file in one line naming it, and a family id the catalog already has", async () => {
    const ext = await externalSet();
    try {
      const file = join(ext, "my_revenue.yaml");
      const good = await Deno.readTextFile(file);
      await Deno.writeTextFile(file, good.replace("level: 1", "level: 9"));
      const bad = selectChallenges(parseTournamentConfig({}), "t.yaml", { external: [ext] });
      await expect(bad).rejects.toThrow(ConfigError);
      await expect(bad).rejects.toThrow(new RegExp(`^${file.replaceAll(".", "\\.")}: level: [^\\n]+$`));
      await Deno.writeTextFile(file, good.replace(/^family: my_revenue$/m, "family: revenue_for_period"));
      await expect(selectChallenges(parseTournamentConfig({}), "t.yaml", { external: [ext] }))
        .rejects.toThrow(/my_revenue\.yaml: family 'revenue_for_period' is already defined in .*revenue_for_period\.yaml/);
      await expect(selectChallenges(parseTournamentConfig({}), "t.yaml", { external: [join(ext, "nope")] }))
        .rejects.toThrow(/nope: no such file or directory/);
    } finally {
      await Deno.remove(ext, { recursive: true });
    }
  });
});
