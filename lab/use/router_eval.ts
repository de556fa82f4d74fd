/**
 * Evaluating the learned router ({@linkcode BanditRouter}) offline and in the eval suites.
 *
 * - Full-information logs: a tournament plays every strategy on the same (challenge, episode seed) instances, so a
 *   log holds every arm's outcome on each instance ({@linkcode tournamentLog}). {@linkcode replayLog} replays it
 *   directly: the router picks an arm per instance in a seeded order, learns only that arm's logged outcome, and its
 *   successes are compared with the best fixed arm in hindsight (a cumulative regret curve). No weighting is needed.
 * - Logs of a live router that recorded its propensities ({@linkcode RouteDecision.propensity}):
 *   {@linkcode ipwValue} estimates another policy's success by inverse-propensity weighting. It refuses logs without
 *   propensities rather than guess them.
 * - Cost and quality: {@linkcode paretoFrontier} and {@linkcode cheapestAtEqualSuccess}.
 * - Fallback learning: {@linkcode fallbackTable} — which arm most often recovers a task the first arm failed.
 * - In the eval suites: {@linkcode routerVsFixed} picks the best single arm on `dev`, then runs it, the cheapest arm
 *   at equal dev success and a router arm (an {@linkcode Arm} with a `route` hook) on `test_id`, paired and clustered
 *   by family.
 * @module
 */
import type { Challenge } from "../challenges/mod.ts";
import type { Strategy } from "../agents/mod.ts";
import { type Random, seededRandom, normalQuantile } from "../stats/mod.ts";
import { type EpisodeRow, hashSeed } from "../tournament/mod.ts";
import { type Arm, compare, type Comparison, runSuite, type SuiteDeps, type SuiteEpisode } from "../evals/mod.ts";
import { BanditRouter, type RouteContext, type RouterArm, routerArmId, type RouterOptions } from "./router.ts";

/** One arm's outcome on one instance. */
export interface ArmOutcome {
  /** Whether the verdict passed. */
  pass: boolean;
  /** In the log's {@linkcode FullInfoLog.costUnit}. */
  cost: number;
}

/** One instance of a full-information log: every arm's outcome on the same task and episode seed. */
export interface LoggedInstance {
  /** `<challenge id>#s<episode seed>`. */
  id: string;
  /** The challenge's id. */
  challengeId: string;
  /** The challenge's family (the cluster of paired comparisons). */
  family: string;
  /** The challenge's (category, level). */
  context: RouteContext;
  /** By arm id; every arm of the log is present. */
  outcomes: Record<string, ArmOutcome>;
}

/** A full-information log. */
export interface FullInfoLog {
  /** The arms, each with its mean cost over the log (in {@linkcode FullInfoLog.costUnit}). */
  arms: (RouterArm & { cost: number })[];
  /** What `cost` counts: US dollars or tokens (a local model costs no dollars). */
  costUnit: "usd" | "tokens";
  /** The instances, by id. */
  instances: LoggedInstance[];
  /** Arms left out because they did not play every instance (e.g. strategies replaced by selection), with why. */
  dropped: string[];
}

/** One tournament run's episodes and the model it ran. */
export interface TournamentSource {
  /** The run's model name (arms are model × strategy). */
  model: string;
  /** Its episodes (`readEpisodeRows` of `lab/tournament`). */
  rows: readonly EpisodeRow[];
}

/**
 * Builds a full-information log from tournament episodes: an instance is (challenge, episode seed) — the tournament
 * gives every strategy of a generation the same seeds — and an arm is model × strategy. Runs of different models on
 * the same config pair on the same instances. Arms that did not play every instance (selection replaced them, or a
 * run covered other instances) are dropped and listed; instances some kept arm did not play cannot occur then.
 * When an arm played an instance more than once, its first episode (by id) counts.
 *
 * @example
 * ```ts
 * const rows = await readEpisodeRows(db, runId);
 * const log = tournamentLog([{ model: "lab-mini", rows }], new Map(catalog.map((c) => [c.id, c])));
 * ```
 */
export function tournamentLog(
  sources: readonly TournamentSource[],
  challenges: ReadonlyMap<string, { family: string; category: string; level: number }>,
  options: { costUnit?: "usd" | "tokens" } = {},
): FullInfoLog {
  const costUnit = options.costUnit ?? "tokens";
  const byInstance = new Map<string, Map<string, { row: EpisodeRow; model: string }>>();
  const armInfo = new Map<string, RouterArm>();
  for (const s of sources) {
    for (const row of [...s.rows].sort((a, b) => a.id.localeCompare(b.id))) {
      const key = `${row.challengeId}#s${row.seed}`;
      const arm = routerArmId(s.model, row.strategyId);
      armInfo.set(arm, { id: arm, model: s.model, strategyId: row.strategyId });
      const m = byInstance.get(key) ?? new Map();
      if (!m.has(arm)) m.set(arm, { row, model: s.model });
      byInstance.set(key, m);
    }
  }
  if (!byInstance.size) throw new RangeError("tournamentLog: the runs hold no episodes; run a tournament first (lab tournament)");
  const counts = new Map<string, number>();
  for (const m of byInstance.values()) for (const a of m.keys()) counts.set(a, (counts.get(a) ?? 0) + 1);
  const full = [...armInfo.keys()].filter((a) => counts.get(a) === byInstance.size).sort();
  const dropped = [...armInfo.keys()].filter((a) => !full.includes(a)).sort()
    .map((a) => `${a} (played ${counts.get(a)} of ${byInstance.size} instances)`);
  if (full.length < 2) {
    throw new RangeError(
      `tournamentLog: ${full.length} arm(s) played every one of the ${byInstance.size} instances; routing needs ≥ 2 — ` +
        `use a run with one generation, or runs of several models on the same config (dropped: ${dropped.join(", ")})`,
    );
  }
  const instances: LoggedInstance[] = [];
  for (const [id, m] of [...byInstance].sort(([a], [b]) => a.localeCompare(b))) {
    const first = m.values().next().value!.row;
    const c = challenges.get(first.challengeId);
    if (!c) throw new RangeError(`tournamentLog: challenge '${first.challengeId}' is not in the catalog given; pass the catalog the run was made from`);
    const outcomes: Record<string, ArmOutcome> = {};
    for (const a of full) {
      const r = m.get(a)!.row;
      outcomes[a] = { pass: r.pass, cost: costUnit === "usd" ? r.costUsd : r.tokensTotal };
    }
    instances.push({ id, challengeId: first.challengeId, family: c.family, context: { category: c.category, level: c.level }, outcomes });
  }
  const arms = full.map((a) => ({ ...armInfo.get(a)!, cost: instances.reduce((s, i) => s + i.outcomes[a].cost, 0) / instances.length }));
  return { arms, costUnit, instances, dropped };
}

/** One arm's figures on a set of instances. */
export interface ArmSummary {
  /** The arm's id. */
  id: string;
  /** Success rate in [0, 1]. */
  success: number;
  /** Mean cost per task. */
  cost: number;
  /** Instances. */
  n: number;
}

/** Each arm's success and mean cost over a log's instances, in the log's arm order. */
export function armSummaries(log: FullInfoLog): ArmSummary[] {
  const n = log.instances.length;
  return log.arms.map((a) => ({
    id: a.id,
    success: log.instances.filter((i) => i.outcomes[a.id].pass).length / n,
    cost: log.instances.reduce((s, i) => s + i.outcomes[a.id].cost, 0) / n,
    n,
  }));
}

/** Options of {@linkcode replayLog}. */
export interface ReplayOptions extends RouterOptions {
  /** Seed of the instance order and of the router's draws. @default 0 */
  seed?: number;
  /** Passes over the log (each in a fresh seeded order). @default 1 */
  passes?: number;
}

/** What {@linkcode replayLog} measured. */
export interface ReplayResult {
  /** Decisions replayed (instances × passes). */
  rounds: number;
  /** The router's success rate over the replay. */
  routerSuccess: number;
  /** The best fixed arm in hindsight (most passes over the replayed sequence; ties: lower cost, then arm order). */
  best: ArmSummary;
  /** Every arm in hindsight, in the log's arm order. */
  arms: (ArmSummary & { pulls: number })[];
  /** Pulls of the best arm / rounds. */
  bestShare: number;
  /** Cumulative regret after each round: passes of the best fixed arm − the router's, on the same instances. */
  regret: number[];
  /**
   * Cumulative pseudo-regret after each round: Σ (hindsight success of the best arm − that of the arm chosen); less
   * noisy than {@linkcode regret}, and ≥ 0.
   */
  pseudoRegret: number[];
  /** Cumulative regret against the best arm per context in hindsight (the contextual oracle). */
  contextRegret: number[];
  /** The arm chosen at each round. */
  choices: string[];
  /** The router after the replay (its posteriors). */
  router: BanditRouter;
}

/** Fisher–Yates with a seeded generator. */
function shuffled<T>(xs: readonly T[], rand: Random): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function bestOf(arms: readonly ArmSummary[]): ArmSummary {
  return arms.reduce((b, a) => (a.success > b.success || (a.success === b.success && a.cost < b.cost) ? a : b));
}

/**
 * Replays a full-information log: the router picks an arm per instance in a seeded order and learns only that arm's
 * logged outcome; regret is counted against the best fixed arm in hindsight on the same sequence. Same log, options
 * and seed → the same result.
 *
 * @example
 * ```ts
 * const r = replayLog(log, { seed: 1 });
 * console.log(r.routerSuccess, r.best.id, r.best.success, r.regret.at(-1));
 * ```
 */
export function replayLog(log: FullInfoLog, options: ReplayOptions = {}): ReplayResult {
  if (!log.instances.length) throw new RangeError("replayLog: the log has no instances");
  const seed = options.seed ?? 0;
  const passes = options.passes ?? 1;
  if (!(Number.isInteger(passes) && passes >= 1)) throw new RangeError(`replayLog: passes must be an integer ≥ 1, found ${passes}`);
  const router = BanditRouter.create(log.arms.map(({ cost, ...a }) => ({ ...a, costUsd: cost })), { ...options, seed });
  const sequence: LoggedInstance[] = [];
  for (let p = 0; p < passes; p++) sequence.push(...shuffled(log.instances, seededRandom(hashSeed(`replay-order:${seed}:${p}`))));

  const ids = log.arms.map((a) => a.id);
  const hindsight = ids.map((id) => ({
    id,
    success: sequence.filter((i) => i.outcomes[id].pass).length / sequence.length,
    cost: sequence.reduce((s, i) => s + i.outcomes[id].cost, 0) / sequence.length,
    n: sequence.length,
  }));
  const best = bestOf(hindsight);
  const rate = new Map(hindsight.map((a) => [a.id, a.success]));
  const ctxBest = new Map<string, string>();
  const ctxKeys = [...new Set(sequence.map((i) => `${i.context.category}/L${i.context.level}`))];
  for (const k of ctxKeys) {
    const inCtx = sequence.filter((i) => `${i.context.category}/L${i.context.level}` === k);
    const sums = ids.map((id) => ({
      id,
      success: inCtx.filter((i) => i.outcomes[id].pass).length,
      cost: inCtx.reduce((s, i) => s + i.outcomes[id].cost, 0),
      n: inCtx.length,
    }));
    ctxBest.set(k, bestOf(sums).id);
  }

  const pulls = new Map(ids.map((id) => [id, 0]));
  const regret: number[] = [];
  const pseudoRegret: number[] = [];
  const contextRegret: number[] = [];
  const choices: string[] = [];
  let won = 0, r = 0, pr = 0, cr = 0;
  for (const inst of sequence) {
    const { arm } = router.choose(inst.context);
    const out = inst.outcomes[arm];
    router.update(inst.context, arm, { pass: out.pass, costUsd: out.cost });
    pulls.set(arm, pulls.get(arm)! + 1);
    choices.push(arm);
    const got = out.pass ? 1 : 0;
    won += got;
    r += (inst.outcomes[best.id].pass ? 1 : 0) - got;
    pr += best.success - rate.get(arm)!;
    cr += (inst.outcomes[ctxBest.get(`${inst.context.category}/L${inst.context.level}`)!].pass ? 1 : 0) - got;
    regret.push(r);
    pseudoRegret.push(pr);
    contextRegret.push(cr);
  }
  return {
    rounds: sequence.length,
    routerSuccess: won / sequence.length,
    best,
    arms: hindsight.map((a) => ({ ...a, pulls: pulls.get(a.id)! })),
    bestShare: pulls.get(best.id)! / sequence.length,
    regret,
    pseudoRegret,
    contextRegret,
    choices,
    router,
  };
}

/** One decision of a live router, as logged. */
export interface LoggedDecision {
  /** The task's (category, level). */
  context: RouteContext;
  /** The arm the logging policy chose. */
  arm: string;
  /** The observed reward in [0, 1] (1 = pass). */
  reward: number;
  /** The probability the logging policy gave that arm in that context; required for {@linkcode ipwValue}. */
  propensity?: number;
}

/** A target policy: the arm it picks in a context, or its probability for each arm. */
export type TargetPolicy = (ctx: RouteContext) => string | Readonly<Record<string, number>>;

/** What {@linkcode ipwValue} estimated. */
export interface IpwEstimate {
  /** The inverse-propensity-weighted estimate of the target policy's mean reward (unbiased). */
  value: number;
  /** Its standard error. */
  se: number;
  /** 95 % normal interval, lower end. */
  lo: number;
  /** 95 % normal interval, upper end. */
  hi: number;
  /** The self-normalised estimate (Σ w r / Σ w): biased but lower variance; NaN when no weight is positive. */
  selfNormalized: number;
  /** Decisions. */
  n: number;
}

/**
 * Inverse-propensity-weighted value of a target policy on the logs of a live router that recorded its propensities:
 * mean of π(aᵢ | xᵢ) / pᵢ · rᵢ. Refuses a log with a missing or invalid propensity (a tournament log is full
 * information: replay it with {@linkcode replayLog} instead).
 *
 * @example
 * ```ts
 * const est = ipwValue(decisions, (ctx) => router.best(ctx));
 * console.log(est.value, est.lo, est.hi);
 * ```
 */
export function ipwValue(log: readonly LoggedDecision[], policy: TargetPolicy): IpwEstimate {
  if (!log.length) throw new RangeError("ipwValue: the log has no decisions");
  const terms: number[] = [];
  let sw = 0, swr = 0;
  log.forEach((d, i) => {
    const p = d.propensity;
    if (p === undefined) {
      throw new RangeError(
        `ipwValue: decision ${i} has no propensity — only logs of a live router that recorded its propensities can be ` +
          "weighted; replay full-information (tournament) logs with replayLog",
      );
    }
    if (!(p > 0 && p <= 1)) throw new RangeError(`ipwValue: decision ${i} has propensity ${p}; it must be in (0, 1]`);
    const pick = policy(d.context);
    const pi = typeof pick === "string" ? (pick === d.arm ? 1 : 0) : pick[d.arm] ?? 0;
    const w = pi / p;
    terms.push(w * d.reward);
    sw += w;
    swr += w * d.reward;
  });
  const n = terms.length;
  const value = terms.reduce((s, x) => s + x, 0) / n;
  const variance = n > 1 ? terms.reduce((s, x) => s + (x - value) ** 2, 0) / (n - 1) : 0;
  const se = Math.sqrt(variance / n);
  const z = normalQuantile(0.975);
  return { value, se, lo: value - z * se, hi: value + z * se, selfNormalized: sw > 0 ? swr / sw : NaN, n };
}

/**
 * The cost/quality Pareto frontier: the arms no other arm beats on both (success ≥ and cost ≤, one strictly), by
 * cost ascending (then success descending, then id).
 */
export function paretoFrontier(arms: readonly ArmSummary[]): ArmSummary[] {
  const dominated = (a: ArmSummary) =>
    arms.some((b) => b !== a && b.success >= a.success && b.cost <= a.cost && (b.success > a.success || b.cost < a.cost));
  return arms.filter((a) => !dominated(a)).sort((a, b) => a.cost - b.cost || b.success - a.success || a.id.localeCompare(b.id));
}

/**
 * The best arm (highest success; ties: lower cost, then listed order) and the cheapest arm whose success is within
 * `tolerance` of it (ties: higher success, then listed order). With the default tolerance 0, "equal success" means
 * exactly equal.
 */
export function cheapestAtEqualSuccess(
  arms: readonly ArmSummary[],
  options: { tolerance?: number } = {},
): { best: ArmSummary; cheapest: ArmSummary } {
  if (!arms.length) throw new RangeError("cheapestAtEqualSuccess: no arms");
  const tol = options.tolerance ?? 0;
  if (!(tol >= 0)) throw new RangeError(`cheapestAtEqualSuccess: tolerance must be ≥ 0, found ${tol}`);
  const best = bestOf(arms);
  const cheapest = arms
    .filter((a) => a.success >= best.success - tol - 1e-12)
    .reduce((c, a) => (a.cost < c.cost || (a.cost === c.cost && a.success > c.success) ? a : c));
  return { best, cheapest };
}

/** How often `fallback` passed the instances `first` failed. */
export interface FallbackRow {
  /** The context key (`<category>/L<level>`) when counted per context, else "all". */
  context: string;
  /** The arm tried first. */
  first: string;
  /** The arm tried after it. */
  fallback: string;
  /** Instances `first` failed. */
  failed: number;
  /** Of those, instances `fallback` passed. */
  recovered: number;
  /** recovered / failed (0 when nothing failed). */
  rate: number;
}

/**
 * Fallback learning on a full-information log: for every ordered pair (first, fallback), how many instances the first
 * arm failed the fallback passed; `best` maps each first arm (per context with `byContext`) to the fallback that
 * recovers most (ties: lower mean cost, then arm order), or null when nothing recovers any.
 */
export function fallbackTable(
  log: FullInfoLog,
  options: { byContext?: boolean } = {},
): { rows: FallbackRow[]; best: Record<string, FallbackRow | null> } {
  const groups = new Map<string, LoggedInstance[]>();
  for (const i of log.instances) {
    const k = options.byContext ? `${i.context.category}/L${i.context.level}` : "all";
    groups.set(k, [...(groups.get(k) ?? []), i]);
  }
  const cost = new Map(log.arms.map((a) => [a.id, a.cost]));
  const rows: FallbackRow[] = [];
  const best: Record<string, FallbackRow | null> = {};
  for (const [context, insts] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    for (const first of log.arms) {
      const failed = insts.filter((i) => !i.outcomes[first.id].pass);
      let top: FallbackRow | null = null;
      for (const fb of log.arms) {
        if (fb.id === first.id) continue;
        const recovered = failed.filter((i) => i.outcomes[fb.id].pass).length;
        const row = { context, first: first.id, fallback: fb.id, failed: failed.length, recovered, rate: failed.length ? recovered / failed.length : 0 };
        rows.push(row);
        if (recovered > 0 && (!top || recovered > top.recovered || (recovered === top.recovered && cost.get(fb.id)! < cost.get(top.fallback)!))) top = row;
      }
      best[options.byContext ? `${context} ${first.id}` : first.id] = top;
    }
  }
  return { rows, best };
}

/** Options of {@linkcode routerVsFixed}. */
export interface RouterVsFixedOptions {
  /** The trained router; frozen on test_id (each challenge goes to its context's highest posterior mean). */
  router: BanditRouter;
  /** The strategy of each arm's strategy id. */
  strategy: (strategyId: string) => Strategy;
  /** Where the best single arm is chosen (the `dev` split). */
  dev: readonly Challenge[];
  /** Where the router is compared (the `test_id` split). */
  test: readonly Challenge[];
  /** Episode seeds of both suites. */
  seeds: readonly number[];
  /** The cost the comparison counts. @default "tokens" */
  costUnit?: "usd" | "tokens";
  /** Success margin of "equal success" for the cheapest arm. @default 0 */
  tolerance?: number;
}

/** What {@linkcode routerVsFixed} found. */
export interface RouterVsFixedResult {
  /** Every fixed arm on dev, and their frontier. */
  dev: { arms: ArmSummary[]; frontier: ArmSummary[]; best: string; cheapest: string };
  /** The test_id arms: "best" (the best dev arm), "cheapest" (when it differs) and "router". */
  test: { arms: ArmSummary[]; frontier: ArmSummary[] };
  /** Success on test_id, paired by (challenge, seed) and clustered by family, control "best". */
  comparison: Comparison;
  /** How often the router picked each arm on test_id. */
  routed: Record<string, number>;
  /** Every episode of both suites. */
  episodes: { dev: SuiteEpisode[]; test: SuiteEpisode[] };
}

const costOf = (e: SuiteEpisode, unit: "usd" | "tokens") => (unit === "usd" ? e.costUsd : e.tokens);

function suiteSummaries(episodes: readonly SuiteEpisode[], arms: readonly string[], unit: "usd" | "tokens"): ArmSummary[] {
  return arms.map((id) => {
    const es = episodes.filter((e) => e.arm === id);
    return {
      id,
      success: es.filter((e) => e.pass).length / es.length,
      cost: es.reduce((s, e) => s + costOf(e, unit), 0) / es.length,
      n: es.length,
    };
  });
}

/**
 * The router arm in the eval suites: every fixed arm (the router's model × strategy arms) runs on `dev`; the best
 * single arm and the cheapest arm at equal dev success are picked there; then those and a router arm run on
 * `test_id` with the same seeds, and the router's success is compared with the best arm's (paired, clustered by
 * family).
 *
 * @example
 * ```ts
 * const r = await routerVsFixed({ router, strategy: (id) => strategies[id], dev, test, seeds: [1, 2] }, { models, pool });
 * console.log(liftCell(r.comparison, "router"));
 * ```
 */
export async function routerVsFixed(options: RouterVsFixedOptions, deps: SuiteDeps): Promise<RouterVsFixedResult> {
  const unit = options.costUnit ?? "tokens";
  const armOf = new Map(options.router.arms.map((a) => [a.id, a]));
  const fixed: Arm[] = options.router.arms.map((a) => ({ id: a.id, model: a.model, strategy: options.strategy(a.strategyId) }));
  const dev = await runSuite({ name: "router: fixed arms on dev", challenges: options.dev, seeds: options.seeds, arms: fixed }, deps);
  const devArms = suiteSummaries(dev.episodes, fixed.map((a) => a.id), unit);
  const { best, cheapest } = cheapestAtEqualSuccess(devArms, { tolerance: options.tolerance });
  const bestArm = fixed.find((a) => a.id === best.id)!;
  const cheapArm = fixed.find((a) => a.id === cheapest.id)!;
  const routed: Record<string, number> = {};
  const routerArm: Arm = {
    id: "router",
    model: bestArm.model,
    strategy: bestArm.strategy,
    route: (c) => {
      const a = armOf.get(options.router.best({ category: c.category, level: c.level }))!;
      return { model: a.model, strategy: options.strategy(a.strategyId) };
    },
  };
  const testArms: Arm[] = [
    { ...bestArm, id: "best" },
    ...(cheapest.id !== best.id ? [{ ...cheapArm, id: "cheapest" }] : []),
    routerArm,
  ];
  const test = await runSuite({ name: "router: test_id", challenges: options.test, seeds: options.seeds, arms: testArms }, deps);
  for (const e of test.episodes.filter((e) => e.arm === "router")) {
    const id = routerArmId(e.model, e.strategyId);
    routed[id] = (routed[id] ?? 0) + 1;
  }
  const testSummaries = suiteSummaries(test.episodes, testArms.map((a) => a.id), unit);
  return {
    dev: { arms: devArms, frontier: paretoFrontier(devArms), best: best.id, cheapest: cheapest.id },
    test: { arms: testSummaries, frontier: paretoFrontier(testSummaries) },
    comparison: compare(test.episodes, { control: "best" }),
    routed,
    episodes: { dev: dev.episodes, test: test.episodes },
  };
}
