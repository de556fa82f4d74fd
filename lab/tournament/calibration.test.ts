/**
 * Calibration of the tournament's statistics.
 *
 * 1. A/A: two strategies with identical behaviour (same success probability per challenge, different ids). Running
 *    200 full tournaments would take minutes, so each replicate simulates one generation's stored episodes
 *    (24 challenges × k=2, and 12 × 2, the committed config's size) as `EpisodeRow`s and puts them through the functions a
 *    tournament's numbers come from: `leaderboard` (Bradley–Terry with its challenge bootstrap),
 *    `pairedStrategyDiff` (pairedDiffCI, cluster = challenge) and `ratingDiffCI`. The two strategies draw their
 *    outcomes independently, as a sampling API would; a seed-deterministic model would give identical strategies
 *    identical episodes and a degenerate [0, 0] interval.
 * 2. A planted strong strategy is found and kept: real tournaments (runTournament on a tiny sandbox) with a seeded
 *    in-process model whose success probability is set per strategy marker and drawn per (marker, task, seed).
 * 3. Selection flatters the winner: the first- and last-generation winners re-run on dev with fresh seeds.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox } from "../sandbox/generate.ts";
import { SandboxPool } from "../sandbox/episode.ts";
import { type Challenge, renderSql } from "../challenges/mod.ts";
import { loadStrategiesConfig, type StrategiesConfig } from "../agents/mod.ts";
import { type ChatModel, createChatModel, ModelEntry } from "../models/mod.ts";
import type { TransportRequest } from "../models/types.ts";
import {
  type EpisodeRow,
  freshSeeds,
  hashSeed,
  leaderboard,
  pairedStrategyDiff,
  parseTournamentConfig,
  ratingDiffCI,
  readEpisodeRows,
  reevaluateWinners,
  rootId,
  runTournament,
  type RunSummary,
  selectChallenges,
  type TournamentConfig,
} from "./mod.ts";

const AS_OF = "2025-11-28";
const unit = (text: string) => hashSeed(text) / 2 ** 31;

// ── 1. A/A coverage ─────────────────────────────────────────────────────────────────────────────────────────────

/** One simulated generation: every strategy × challenge × attempt, with the tournament's shared episode seeds. */
function simulateGeneration(
  replicate: number,
  rates: Record<string, (challenge: string) => number>,
  { challenges = 12, attempts = 2 } = {},
): EpisodeRow[] {
  const rows: EpisodeRow[] = [];
  for (let c = 0; c < challenges; c++) {
    const challengeId = `ch-${c}`;
    for (let attempt = 0; attempt < attempts; attempt++) {
      const seed = hashSeed(`ep:${replicate}:1:${challengeId}:${attempt}`);
      for (const [strategyId, rate] of Object.entries(rates)) {
        const pass = unit(`pass:${replicate}:${strategyId}:${challengeId}:${seed}`) < rate(challengeId);
        const u = unit(`fit:${replicate}:${strategyId}:${challengeId}:${seed}`);
        rows.push({
          id: `g1#${challengeId}#${strategyId}#s${seed}#a${attempt}`,
          generation: 1,
          strategyId,
          challengeId,
          attempt,
          seed,
          pass,
          score: pass ? 1 : 0,
          composite: pass ? 0.7 + 0.3 * u : 0.35 * u,
          tokensTotal: 1000,
          costUsd: 0,
          stopReason: "submitted",
          contaminated: false,
        });
      }
    }
  }
  return rows;
}

const covers = (ci: { lo: number; hi: number }, x: number) => ci.lo <= x + 1e-9 && ci.hi >= x - 1e-9;

/** Share of `replicates` simulated A/A generations whose intervals cover "no difference", per interval. */
function aaCoverage(replicates: number, challenges: number, withRatingDiff: boolean): Record<string, number> {
  const hits: Record<string, number> = { success: 0, fitness: 0, ratingOfA: 0, ...(withRatingDiff ? { ratingDiff: 0 } : {}) };
  for (let r = 0; r < replicates; r++) {
    // Challenge difficulty varies; the two strategies share it (identical behaviour).
    const difficulty = (ch: string) => 0.15 + 0.7 * unit(`difficulty:${r}:${ch}`);
    const rows = simulateGeneration(r, { a1: difficulty, a2: difficulty }, { challenges });
    const boot = { resamples: 400, seed: r };
    if (covers(pairedStrategyDiff(rows, "a1", "a2", { ...boot, metric: "success" }), 0)) hits.success++;
    if (covers(pairedStrategyDiff(rows, "a1", "a2", { ...boot, metric: "fitness" }), 0)) hits.fitness++;
    // With two players the ratings are centred on 1500, so a1's interval covers 1500 iff the difference's covers 0.
    const a1 = leaderboard(rows, boot).find((x) => x.strategyId === "a1")!;
    if (covers(a1.rating!, 1500)) hits.ratingOfA++;
    if (withRatingDiff && covers(ratingDiffCI(rows, "a1", "a2", boot), 0)) hits.ratingDiff++;
  }
  const coverage = Object.fromEntries(Object.entries(hits).map(([k, v]) => [k, v / replicates]));
  console.info(`A/A coverage over ${replicates} simulated generations (${challenges} challenges × k=2):`, coverage);
  return coverage;
}

describe("A/A calibration of the tournament's intervals", () => {
  it("the 95% intervals of two identical strategies' differences cover 0 in 88–99% of 200 generations of 24 challenges", () => {
    for (const c of Object.values(aaCoverage(200, 24, true))) {
      expect(c).toBeGreaterThanOrEqual(0.88);
      expect(c).toBeLessThanOrEqual(0.99);
    }
  }, 30_000);

  it("at the committed config's 12 challenges the percentile cluster bootstrap undercovers a little (about 90%)", () => {
    // Known small-sample behaviour, measured rather than hidden: with n clusters the bootstrap variance is too small
    // by (n − 1)/n and the percentile interval uses normal rather than t quantiles, which at n = 12 predicts ≈ 91%
    // coverage for a nominal 95%. Read a 12-challenge interval that just excludes 0 as weaker evidence than it looks.
    for (const c of Object.values(aaCoverage(200, 12, false))) {
      expect(c).toBeGreaterThanOrEqual(0.84);
      expect(c).toBeLessThanOrEqual(0.99);
    }
  }, 30_000);

  it("the same intervals exclude 0 for a planted gap of 0.8 vs 0.3 success in most generations", () => {
    const R = 50;
    let found = 0;
    for (let r = 0; r < R; r++) {
      const rows = simulateGeneration(r, { strong: () => 0.8, weak: () => 0.3 });
      const d = pairedStrategyDiff(rows, "weak", "strong", { resamples: 400, seed: r });
      const rating = ratingDiffCI(rows, "strong", "weak", { resamples: 200, seed: r });
      if (d.lo > 0 && rating.lo > 0) found++;
    }
    expect(found / R).toBeGreaterThanOrEqual(0.8);
  });
});

// ── 2 and 3: real tournaments with a seeded model ──────────────────────────────────────────────────────────────

/** Markers in the strategies' instructions and the success probability the model gives each. */
const MARKERS = { "Consult the ledger compass first.": 0.95, "Trust the coin.": 0.4, "Guess.": 0.1 } as const;

/**
 * A deterministic but seeded model: on the first turn it runs the task's reference SQL with probability
 * `MARKERS[marker]`, drawn from (marker, task, request seed), else a wrong query; then it submits what it read.
 */
function seededModel(sqlByTask: ReadonlyMap<string, string>): ChatModel {
  const reply = (req: TransportRequest) => {
    const system = String(req.messages[0].content);
    const task = String(req.messages.find((m) => m.role === "user")?.content);
    if (!req.messages.some((m) => m.role === "assistant")) {
      const marker = (Object.keys(MARKERS) as (keyof typeof MARKERS)[]).find((m) => system.includes(m));
      const good = marker !== undefined && unit(`${marker}|${task}|${req.seed}`) < MARKERS[marker];
      return { name: "dbRead", args: { sql: good ? sqlByTask.get(task) ?? "SELECT 0 AS n" : "SELECT 0 AS n" } };
    }
    const last = JSON.parse(String(req.messages.findLast((m) => m.role === "tool")?.content ?? "{}"));
    return { name: "submitAnswer", args: { answer: Number(last.rows?.[0] ? Object.values(last.rows[0])[0] : 0) } };
  };
  const entry = ModelEntry.parse({
    provider: "local",
    model: "seeded",
    base_url: "http://127.0.0.1:9/v1",
    context_window: 128000,
    max_retries: 0,
  });
  return createChatModel({ ...entry, name: "seeded" }, {
    transport: (req) => {
      const turn = req.messages.filter((m) => m.role === "assistant").length;
      const call = reply(req);
      return Promise.resolve({
        choices: [{ toolCalls: [{ id: `call_${turn}`, ...call }], finishReason: "tool_calls" }],
        usage: { inputTokens: JSON.stringify(req.messages).length >> 2, outputTokens: JSON.stringify(call).length >> 2 },
      });
    },
  });
}

let dir: string;
let pool: SandboxPool;
let strategies: StrategiesConfig;
let challenges: Challenge[];
let devChallenges: Challenge[];
let model: ChatModel;
const runs: RunSummary[] = [];
const configFor = (seed: number): TournamentConfig =>
  parseTournamentConfig({
    // Ids sort medium < strong < weak, so the rank tie-break (by id) works against the planted strategy.
    strategies: ["weak", "medium", "strong"],
    challenges: { families: ["invoice_count_for_period", "cash_book_balance_end_of_period"], max_instances: 6 },
    attempts: 1,
    generations: 3,
    seed,
    concurrency: 6,
    selection: { replace: 1, crossover: 0 },
  });

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-calibration-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(path, { size: 6 });
  const base = await loadStrategiesConfig();
  const mk = (id: string, instructions: string) => ({ ...base.strategies.alpha, id, instructions });
  strategies = {
    ...base,
    strategies: {
      strong: mk("strong", "Work carefully. Consult the ledger compass first."),
      medium: mk("medium", "Work quickly. Trust the coin."),
      weak: mk("weak", "Guess."),
    },
  };
  challenges = await selectChallenges(configFor(1));
  devChallenges = (await selectChallenges(parseTournamentConfig({ ...configFor(1), split: "dev" }))).slice(0, 4);
  const sql = (c: Challenge) => [c.task, renderSql((c.verifier as { reference: string }).reference, c.params, AS_OF)] as const;
  model = seededModel(new Map([...challenges, ...devChallenges].map(sql)));
}, 60_000);
afterAll(() => pool?.close());

describe("selection over a planted population", () => {
  it("finds the planted strong strategy (ranked first) and keeps it through 3 generations, for 3 tournament seeds", async () => {
    for (const seed of [1, 2, 3]) {
      const run = await runTournament(configFor(seed), {
        db: join(dir, "planted.duckdb"),
        runId: `planted-${seed}`,
        model,
        strategies,
        pool,
        challenges,
        stats: { resamples: 200 },
      });
      runs.push(run);
      expect(run.status).toBe("completed");
      expect(run.generations).toHaveLength(3);
      for (const g of run.generations) {
        expect({ seed, generation: g.generation, first: rootId(g.ranking[0].strategyId) })
          .toEqual({ seed, generation: g.generation, first: "strong" });
        expect(g.population).toContain("strong");
        expect(g.replaced).not.toContain("strong");
      }
      // Selection spread the planted strategy: the last generation has more of its line than the first.
      const line = (ids: string[]) => ids.filter((id) => rootId(id) === "strong").length;
      expect(line(run.generations[2].population)).toBeGreaterThan(line(run.generations[0].population));
    }
  }, 30_000);

  it("re-evaluates the first- and last-generation winners on dev with fresh seeds and reports both figures", async () => {
    const run = runs[0];
    expect(run).toBeDefined();
    const tournamentSeeds = new Set((await readEpisodeRows(run.db, run.runId)).map((r) => r.seed));
    const seeds = freshSeeds(2, { salt: `dev:${run.runId}`, exclude: tournamentSeeds });
    const re = await reevaluateWinners(run, { split: "dev", seeds, challenges: devChallenges, model, strategies, pool });

    expect(re).toMatchObject({ runId: "planted-1", split: "dev", seeds, challenges: devChallenges.map((c) => c.id) });
    expect(seeds.some((s) => tournamentSeeds.has(s))).toBe(false);
    expect(re.tournamentSeeds).toBe(tournamentSeeds.size);
    expect(re.episodes.every((e) => e.split === "dev" && seeds.includes(e.seed))).toBe(true);
    expect(re.winners.map((w) => [w.role, w.generation, w.strategyId])).toEqual([
      ["first", 1, run.generations[0].ranking[0].strategyId],
      ["last", 3, run.generations[2].ranking[0].strategyId],
    ]);
    for (const w of re.winners) {
      // Both figures: the one selection saw and the fresh one, with the gap between them.
      expect(w.tournament.standing.successRate).toBeGreaterThanOrEqual(0);
      expect(w.tournament.success!.estimate).toBeCloseTo(w.tournament.standing.successRate, 12);
      expect(w.reevaluated.episodes).toBe(devChallenges.length * seeds.length);
      expect(w.optimism.success).toBeCloseTo(w.tournament.standing.successRate - w.reevaluated.success.estimate, 12);
      expect(covers(w.reevaluated.success, w.reevaluated.success.estimate)).toBe(true);
    }
    console.info(
      "selection flattery (planted, seed 1):",
      re.winners.map((w) => ({
        role: w.role,
        strategy: w.strategyId,
        tournamentSuccess: w.tournament.standing.successRate,
        devSuccess: w.reevaluated.success.estimate,
      })),
    );

    // A tournament seed is refused: a re-evaluation must not replay what selection already saw.
    await expect(
      reevaluateWinners(run, { split: "dev", seeds: [[...tournamentSeeds][0]], challenges: devChallenges, model, strategies, pool }),
    ).rejects.toThrow(/were used by the tournament/);
  }, 30_000);
});
