/**
 * Calibration of the tournament's statistics.
 *
 * 1. A/A: two strategies with identical behaviour (same success probability per challenge, different ids). Running
 *    thousands of full tournaments would take minutes, so each replicate simulates one generation's stored episodes
 *    (12 challenges × k=2, the committed config's size, and 24 × 2) as `EpisodeRow`s and puts them through the
 *    functions a tournament's numbers come from: `pairedStrategyDiff` (pairedDiffCI, cluster = challenge) and
 *    `ratingDiffCI` (Bradley–Terry with its challenge bootstrap). The two strategies draw their outcomes
 *    independently, as a sampling API would; a seed-deterministic model would give identical strategies identical
 *    episodes and a degenerate [0, 0] interval. Coverage is checked against "about 95%" with a tolerance set by
 *    the binomial error of the number of replicates (see `consistentWithNominal`).
 * 2. A planted strong strategy is found and kept: real tournaments (runTournament on a tiny sandbox) with a seeded
 *    in-process model whose success probability is set per strategy marker and drawn per (marker, task, seed).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { type Challenge, renderSql } from "../challenges/mod.ts";
import { loadStrategiesConfig, type StrategiesConfig } from "../agents/mod.ts";
import { type ChatModel, createChatModel, ModelEntry, type TransportRequest } from "../models/mod.ts";
import type { IntervalMethod } from "../stats/mod.ts";
import {
  type EpisodeRow,
  hashSeed,
  pairedStrategyDiff,
  parseTournamentConfig,
  ratingDiffCI,
  rootId,
  runTournament,
  type RunSummary,
  selectChallenges,
  type TournamentConfig,
} from "./mod.ts";

const AS_OF = "2025-11-28";
const unit = (text: string) => hashSeed(text) / 2 ** 31;

// ── 1. A/A coverage ─────────────────────────────────────────────────────────────────────────────────────────────

/**
 * A uniform draw in [0, 1) keyed by text: FNV-1a finished with murmur3's avalanche (FNV alone leaves keys that
 * differ in one character — "a1" vs "a2" — correlated in the top bits, which would make two A/A strategies' draws
 * dependent and the simulation itself miscalibrated).
 */
function draw(text: string): number {
  let h = hashSeed(text);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

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
        const pass = draw(`pass:${replicate}:${strategyId}:${challengeId}:${seed}`) < rate(challengeId);
        const u = draw(`fit:${replicate}:${strategyId}:${challengeId}:${seed}`);
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

/** A/A generations: two strategies with identical behaviour on challenges of varying (shared) difficulty. */
function aaGeneration(replicate: number, challenges: number): EpisodeRow[] {
  const difficulty = (ch: string) => 0.15 + 0.7 * draw(`difficulty:${replicate}:${ch}`);
  return simulateGeneration(replicate, { a1: difficulty, a2: difficulty }, { challenges });
}

type Check = "success" | "fitness" | "rating";

/** Share of `replicates` A/A generations whose interval of the a2 − a1 difference covers 0. */
function aaCoverage(check: Check, replicates: number, challenges: number, interval?: IntervalMethod): number {
  let hits = 0;
  for (let r = 0; r < replicates; r++) {
    const rows = aaGeneration(r, challenges);
    const boot = { resamples: 400, seed: r, ...(interval ? { interval } : {}) };
    const ci = check === "rating"
      ? ratingDiffCI(rows, "a1", "a2", boot)
      : pairedStrategyDiff(rows, "a1", "a2", { ...boot, metric: check });
    if (covers(ci, 0)) hits++;
  }
  return hits / replicates;
}

/**
 * "About 95%" made testable: the intervals' true coverage is claimed to lie in [93%, 97%]; an observed coverage
 * over R replicates is consistent with that claim unless it falls more than 3.29 binomial standard errors (a
 * two-sided 0.1% test) outside the band. With R = 2,000 the acceptance region is [91.1%, 98.3%]; with R = 500,
 * [89.2%, 99.5%] — fewer replicates, a weaker claim, said out loud rather than hidden in a loose fixed bound.
 */
function consistentWithNominal(coverage: number, replicates: number): { ok: boolean; region: [number, number] } {
  const se = (p: number) => Math.sqrt((p * (1 - p)) / replicates);
  const region: [number, number] = [0.93 - 3.29 * se(0.93), 0.97 + 3.29 * se(0.97)];
  return { ok: coverage >= region[0] && coverage <= region[1], region };
}

describe("A/A calibration of the tournament's intervals", () => {
  // Paired differences are cheap (2,000 replicates); rating differences refit Bradley–Terry per resample (500).
  // With two players a strategy's rating interval covers 1500 exactly when the difference's covers 0 (both
  // come from the same fit and replicates, see bradleyTerryFit), so checking the difference checks both.
  const plan: [Check, number][] = [["success", 2000], ["fitness", 2000], ["rating", 500]];
  for (const challenges of [12, 24]) {
    it(`at ${challenges} challenges, the 95% intervals of two identical strategies' differences cover 0 in about 95% of generations`, () => {
      const observed = plan.map(([check, replicates]) => {
        const coverage = aaCoverage(check, replicates, challenges);
        return { check, replicates, coverage, ...consistentWithNominal(coverage, replicates) };
      });
      console.info(`A/A coverage at ${challenges} challenges × k=2 (expanded percentile intervals):`, observed);
      expect(observed.filter((o) => !o.ok)).toEqual([]);
    }, 30_000);
  }

  it("the plain percentile interval under-covers the fitness difference at 12 challenges (why the correction)", () => {
    // With n clusters the bootstrap variance is too small by (n − 1)/n and its tails are normal, not t(n − 1).
    const R = 2000;
    const coverage = aaCoverage("fitness", R, 12, "percentile");
    const upper = coverage + 3.29 * Math.sqrt((coverage * (1 - coverage)) / R);
    console.info(`A/A fitness coverage at 12 challenges, plain percentile interval: ${coverage}`);
    expect(upper).toBeLessThan(0.95);
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
  const sql = (c: Challenge) => [c.task, renderSql((c.verifier as { reference: string }).reference, c.params, AS_OF)] as const;
  model = seededModel(new Map(challenges.map(sql)));
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
});
