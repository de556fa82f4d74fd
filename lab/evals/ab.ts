/**
 * A/B shadow testing and promotion (seed 001). The champion (the promoted version, else the base model) serves a
 * seeded stream of `dev` tasks; the candidate answers a seeded, deterministic share of the same tasks in its shadow
 * (default 20 %). Each shadowed task is a **win**, **tie** or **loss** for the candidate: by verifier score, then by
 * cost. Ties are left out of the win rate.
 *
 * **The procedure is a fixed horizon.** The decision is taken once, on the first `minNonTied` non-tied comparisons
 * of the stream (default 100), and never before: until then the report says `need_more_data` whatever the interim
 * figures show, and comparisons after the horizon are ignored. At the horizon the candidate is promoted
 * (`promote_B`) iff its win rate is ≥ `minWinRate` (65 %) and the exact two-sided sign test gives p < `alpha`
 * (0.05); otherwise the champion stays (`keep_A`). Two-sided and in B's direction only, the test promotes an equal
 * candidate at most `alpha / 2` of the time. Why a fixed horizon rather than an always-valid sequential test:
 * seed 001's criteria are a sample size, a rate and a p-value, and at a fixed horizon the reported sign test p-value
 * is exactly the one the decision uses, with its nominal error rate however often the report is read (a sequential
 * e-value would need its own, always-valid p-value beside the one readers know). The price is that a clear winner
 * is not stopped early; at 20 % shadowing that costs stream tasks, not users. `ab.test.ts` checks by simulation that
 * under no difference, checking after every comparison, the procedure promotes ≤ 5 % of the time (and that naive
 * peeking at the same p-value would not).
 *
 * The sign test, like seed 001, treats comparisons as independent; comparisons of one family are not, so
 * {@linkcode abEvaluator} also returns the lab's paired pass lift clustered by family (what the `Evaluate` port's
 * `lift`, `lo`, `hi` mean), and after a promotion {@linkcode reestimateOnTestId} measures the winner on `test_id`,
 * since a version chosen on `dev` is flattered by its selection.
 * @module
 */
import type { Challenge } from "../challenges/mod.ts";
import type { Strategy } from "../agents/mod.ts";
import type { EvaluationRequest, EvaluationResult, ModelVersion } from "../finetune/mod.ts";
import { normalQuantile, seededRandom, wilsonInterval } from "../stats/mod.ts";
import { fnv1a } from "../util/mod.ts";
import { compare, liftCell, rateCell } from "./compare.ts";
import { shuffled } from "./honesty.ts";
import { runSuite, type Suite, type SuiteDeps, type SuiteEpisode, type SuiteResult } from "./suite.ts";

/** What the A/B test recommends. */
export type AbRecommendation = "promote_B" | "keep_A" | "need_more_data";

/** One shadowed task's result for the candidate (B) against the champion (A). */
export type AbOutcome = "win" | "tie" | "loss";

/** The promotion criteria of an A/B test. */
export interface AbCriteria {
  /** The fixed horizon: the decision is taken on exactly this many non-tied comparisons. */
  minNonTied: number;
  /** The candidate's win rate (wins / non-tied) needed for promotion, in [0.5, 1]. */
  minWinRate: number;
  /** The sign test's two-sided p-value must be below this, in (0, 1). */
  alpha: number;
}

/** Seed 001's promotion criteria: ≥ 100 non-tied comparisons, win rate ≥ 65 %, p < 0.05. */
export const SEED_001_AB_CRITERIA: Readonly<AbCriteria> = Object.freeze({ minNonTied: 100, minWinRate: 0.65, alpha: 0.05 });

/** Seed 001's shadow sampling rate: the candidate answers 20 % of the stream. */
export const DEFAULT_SHADOW_RATE = 0.2;

/** Stream tasks an evaluation may use before it gives up with `need_more_data` (≈ 1,000 shadowed at 20 %). */
export const DEFAULT_STREAM_LENGTH = 5000;

/** The 95 % normal quantile the Wilson intervals here use (1.959964, not 1.96, so they match scipy's). */
const Z95 = normalQuantile(0.975);

/** Checks criteria and fills seed 001's defaults in; a bad value is a RangeError naming it. */
export function abCriteria(criteria: Partial<AbCriteria> = {}): AbCriteria {
  const c = { ...SEED_001_AB_CRITERIA, ...criteria };
  if (!Number.isInteger(c.minNonTied) || c.minNonTied < 1) throw new RangeError(`A/B criteria: minNonTied must be a positive integer, found ${c.minNonTied}`);
  if (!(c.minWinRate >= 0.5 && c.minWinRate <= 1)) throw new RangeError(`A/B criteria: minWinRate must be in [0.5, 1] (below 0.5 a losing candidate could pass), found ${c.minWinRate}`);
  if (!(c.alpha > 0 && c.alpha < 1)) throw new RangeError(`A/B criteria: alpha must be in (0, 1), found ${c.alpha}`);
  return c;
}

/** How two episodes are scored against each other. */
export interface AbScoring {
  /** The cost compared when scores tie. @default the episode's `costUsd` */
  cost?: (e: SuiteEpisode) => number;
  /** Scores (and costs) closer than this are equal. @default 1e-9 */
  tolerance?: number;
}

/**
 * The candidate's result on one shadowed task: the higher verifier score wins; on equal scores the lower cost wins;
 * equal on both is a tie.
 *
 * @example
 * ```ts
 * abOutcome({ ...a, score: 1, costUsd: 0.02 }, { ...b, score: 1, costUsd: 0.01 }); // "win" (same score, cheaper)
 * ```
 */
export function abOutcome(champion: SuiteEpisode, candidate: SuiteEpisode, scoring: AbScoring = {}): AbOutcome {
  const tol = scoring.tolerance ?? 1e-9;
  const cost = scoring.cost ?? ((e: SuiteEpisode) => e.costUsd);
  const ds = candidate.score - champion.score;
  if (ds > tol) return "win";
  if (ds < -tol) return "loss";
  const dc = cost(candidate) - cost(champion);
  return dc < -tol ? "win" : dc > tol ? "loss" : "tie";
}

/** The exact sign test of {@linkcode signTest}. */
export interface SignTestResult {
  /** The candidate's wins. */
  wins: number;
  /** The candidate's losses. */
  losses: number;
  /** Non-tied comparisons (wins + losses). */
  n: number;
  /** Two-sided exact binomial p-value of wins ~ Binomial(n, 1/2); 1 when n = 0. */
  pValue: number;
}

/**
 * The exact two-sided sign test: under no difference each non-tied comparison is a win with probability 1/2, and
 * p = min(1, 2 · P(X ≤ min(wins, losses))) for X ~ Binomial(n, 1/2) (as scipy's `binomtest` and R's `binom.test`).
 * Scaled by its largest term, so it stays exact for any n (where 0.5 ** n underflows).
 *
 * @example
 * ```ts
 * signTest(65, 35).pValue; // 0.003518
 * ```
 */
export function signTest(wins: number, losses: number): SignTestResult {
  for (const [name, v] of [["wins", wins], ["losses", losses]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`signTest: ${name} must be a non-negative integer, found ${v}`);
  }
  const n = wins + losses;
  if (n === 0) return { wins, losses, n, pValue: 1 };
  const k = Math.min(wins, losses);
  // log P(X = k) = log C(n, k) − n·ln 2, the largest term of the tail (k ≤ n/2); the product is logged in chunks
  // so it neither overflows nor costs a logarithm per term.
  let logTop = -n * Math.LN2, prod = 1;
  for (let i = 0; i < k; i++) {
    prod *= (n - i) / (i + 1);
    if (prod > 1e250) {
      logTop += Math.log(prod);
      prod = 1;
    }
  }
  logTop += Math.log(prod);
  // Σ_{i ≤ k} P(X = i) / P(X = k), downward from k (P(X = i − 1) / P(X = i) = i / (n − i + 1)) until terms stop counting.
  let ratio = 1, sum = 1;
  for (let i = k; i > 0 && ratio > 1e-17 * sum; i--) {
    ratio *= i / (n - i + 1);
    sum += ratio;
  }
  return { wins, losses, n, pValue: Math.min(1, 2 * Math.exp(logTop + Math.log(sum))) };
}

/** An A/B report: the tally, the win rate with its interval, the sign test and the recommendation with its reasons. */
export interface AbReport {
  /** The decision procedure (see the module doc). */
  procedure: "fixed-horizon";
  /** The criteria it decides by. */
  criteria: AbCriteria;
  /** `final` once the horizon is reached (the recommendation no longer changes); `interim` before. */
  stage: "interim" | "final";
  /** Comparisons the candidate won. */
  wins: number;
  /** Comparisons neither won (left out of the win rate). */
  ties: number;
  /** Comparisons the candidate lost. */
  losses: number;
  /** wins + losses: what the win rate and the sign test count. */
  nonTied: number;
  /** wins / nonTied, null with no non-tied comparison. */
  winRate: number | null;
  /** The Wilson 95 % interval of the win rate, null with no non-tied comparison. */
  interval: { lo: number; hi: number } | null;
  /** The exact two-sided sign test p-value (1 with no non-tied comparison). */
  pValue: number;
  /** Comparisons after the horizon, left out of every figure. */
  ignored: number;
  /** What to do: promote B, keep A, or wait for the horizon. */
  recommendation: AbRecommendation;
  /** Why, one line per criterion. */
  reasons: string[];
}

/** A fixed-horizon A/B test fed one comparison at a time (see {@linkcode abTest}). */
export interface AbTest {
  /** Adds the next comparison of the stream; after the horizon it is counted as ignored and changes nothing. */
  add(outcome: AbOutcome): void;
  /** The report now: `need_more_data` before the horizon, the final decision from it on. */
  report(): AbReport;
  /** Whether the horizon is reached. */
  readonly decided: boolean;
  /** Non-tied comparisons counted so far (at most the horizon). */
  readonly nonTied: number;
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const pFmt = (p: number) => (p < 1e-4 ? p.toExponential(2) : p.toFixed(4));

/**
 * A fixed-horizon A/B test with the given criteria (seed 001's by default): feed it the stream's comparisons in
 * order and read its report whenever you like; reading it early decides nothing, so it may be read after every
 * comparison.
 *
 * @example
 * ```ts
 * const t = abTest();
 * for (const o of outcomes) t.add(o);
 * t.report().recommendation; // "promote_B" | "keep_A" | "need_more_data"
 * ```
 */
export function abTest(criteria: Partial<AbCriteria> = {}): AbTest {
  const c = abCriteria(criteria);
  let wins = 0, ties = 0, losses = 0, ignored = 0;
  let final: AbReport | undefined;
  const decided = () => wins + losses >= c.minNonTied;
  const report = (): AbReport => {
    if (final) return { ...final, ignored, reasons: [...final.reasons], criteria: { ...c } };
    const n = wins + losses;
    const winRate = n ? wins / n : null;
    const w = n ? wilsonInterval(wins, n, Z95) : null;
    const interval = w && { lo: w.lo, hi: w.hi };
    const { pValue } = signTest(wins, losses);
    const tally = `${wins} wins, ${losses} losses, ${ties} ties`;
    const rate = winRate === null ? "no win rate yet" : `win rate ${pct(winRate)} [${pct(interval!.lo)}, ${pct(interval!.hi)}]`;
    const base = { procedure: "fixed-horizon" as const, criteria: { ...c }, wins, ties, losses, nonTied: n, winRate, interval, pValue, ignored };
    if (!decided()) {
      return {
        ...base,
        stage: "interim",
        recommendation: "need_more_data",
        reasons: [`${n} of the ${c.minNonTied} non-tied comparisons the fixed horizon decides on (${tally}); interim figures decide nothing (${rate})`],
      };
    }
    const okRate = winRate! >= c.minWinRate, okP = pValue < c.alpha;
    const reasons = [
      `${n} non-tied comparisons: the horizon (${tally})`,
      `${rate} ${okRate ? "≥" : "<"} ${pct(c.minWinRate)}`,
      `sign test p = ${pFmt(pValue)} ${okP ? "<" : "≥"} ${c.alpha}${okP && wins < losses ? " (in the champion's favour)" : ""}`,
    ];
    final = { ...base, stage: "final", recommendation: okRate && okP ? "promote_B" : "keep_A", reasons };
    return report();
  };
  return {
    add(outcome) {
      if (outcome !== "win" && outcome !== "tie" && outcome !== "loss") throw new RangeError(`abTest: an outcome is win, tie or loss, found '${outcome}'`);
      if (decided()) {
        ignored++;
        return;
      }
      if (outcome === "win") wins++;
      else if (outcome === "loss") losses++;
      else ties++;
    },
    report,
    get decided() {
      return decided();
    },
    get nonTied() {
      return wins + losses;
    },
  };
}

/**
 * The report of a whole stream of comparisons, in stream order (see {@linkcode abTest}).
 *
 * @example
 * ```ts
 * abReport([...Array(70).fill("win"), ...Array(10).fill("tie"), ...Array(30).fill("loss")]).recommendation; // "promote_B"
 * ```
 */
export function abReport(outcomes: readonly AbOutcome[], criteria: Partial<AbCriteria> = {}): AbReport {
  const t = abTest(criteria);
  for (const o of outcomes) t.add(o);
  return t.report();
}

/** Options for {@linkcode shadowStream}. */
export interface ShadowStreamOptions {
  /** Seeds the order of the stream and the choice of shadowed tasks. @default 0 */
  seed?: number;
  /** The share of stream tasks the candidate shadows, in (0, 1]. @default {@linkcode DEFAULT_SHADOW_RATE} */
  rate?: number;
  /** Stream tasks. @default {@linkcode DEFAULT_STREAM_LENGTH} */
  length?: number;
  /** The episode seed of the stream's first pass over the pool; pass p uses `firstEpisodeSeed + p`. @default 1 */
  firstEpisodeSeed?: number;
}

/** One task of the stream. */
export interface StreamTask {
  /** Position in the stream, from 0. */
  index: number;
  /** The task. */
  challenge: Challenge;
  /** The episode seed both models answer it with. */
  seed: number;
  /** Whether the candidate answers it in the shadow. */
  shadowed: boolean;
}

/**
 * The seeded stream of tasks the champion serves: passes over the pool, each in its own seeded order with the next
 * episode seed, and an independent seeded draw per task choosing the shadowed ones (≈ `rate` of them). The same
 * options give the same stream, and a longer stream begins with the shorter one.
 *
 * @example
 * ```ts
 * const stream = shadowStream(dev, { seed: 7, length: 1000 }); // ≈ 200 shadowed tasks
 * ```
 */
export function shadowStream(challenges: readonly Challenge[], options: ShadowStreamOptions = {}): StreamTask[] {
  const seed = options.seed ?? 0, rate = options.rate ?? DEFAULT_SHADOW_RATE, length = options.length ?? DEFAULT_STREAM_LENGTH;
  const first = options.firstEpisodeSeed ?? 1;
  if (!challenges.length) throw new RangeError("shadowStream: the pool has no challenges; select dev instances (e.g. with pickInstances)");
  if (!(rate > 0 && rate <= 1)) throw new RangeError(`shadowStream: rate must be in (0, 1], found ${rate}`);
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`shadowStream: length must be a positive integer, found ${length}`);
  if (!Number.isInteger(seed) || !Number.isInteger(first)) throw new RangeError(`shadowStream: seed and firstEpisodeSeed must be integers, found ${seed}, ${first}`);
  const shadow = seededRandom(fnv1a(`shadow:${seed}`));
  const out: StreamTask[] = [];
  for (let pass = 0; out.length < length; pass++) {
    const order = shuffled(challenges, seededRandom(fnv1a(`order:${seed}:${pass}`)));
    for (const challenge of order) {
      if (out.length >= length) break;
      out.push({ index: out.length, challenge, seed: first + pass, shadowed: shadow() < rate });
    }
  }
  return out;
}

/** One shadowed task compared. */
export interface AbComparison {
  /** The task's position in the stream. */
  index: number;
  /** The task's challenge. */
  challengeId: string;
  /** The challenge's family (the lab's cluster). */
  family: string;
  /** The episode seed. */
  seed: number;
  /** The candidate's result. */
  outcome: AbOutcome;
  /** The champion's verifier score and cost. */
  champion: { score: number; cost: number };
  /** The candidate's verifier score and cost. */
  candidate: { score: number; cost: number };
}

/** Options for {@linkcode abEvaluator}. */
export interface AbEvaluatorOptions {
  /** The pool the stream draws from (`dev` instances). */
  challenges: readonly Challenge[];
  /** The strategy both models play. */
  strategy: Strategy;
  /** What the suites run with. */
  deps: SuiteDeps;
  /** The stream and its shadow rate. @default seed 0, 20 %, {@linkcode DEFAULT_STREAM_LENGTH} tasks */
  stream?: ShadowStreamOptions;
  /** @default {@linkcode SEED_001_AB_CRITERIA} */
  /** The promotion criteria. */
  criteria?: Partial<AbCriteria>;
  /** How a task is scored. @default score, then `costUsd` */
  scoring?: AbScoring;
  /** Shadowed tasks per suite run at most (the runs stop once the horizon is reached). @default 50 */
  batch?: number;
  /** Runs a suite. @default {@linkcode runSuite} */
  run?: (suite: Suite, deps: SuiteDeps) => Promise<SuiteResult>;
  /** @default "ab-shadow" */
  /** The suites' name. */
  name?: string;
  /** Called after each suite run with the report so far. */
  onBatch?: (report: AbReport, done: { streamTasks: number; shadowed: number }) => void;
}

/** What {@linkcode abEvaluator} returns: the port's lift and the A/B report. */
export interface AbEvaluation extends EvaluationResult {
  /** The A/B test's recommendation and its reasons (the report's). */
  recommendation: AbRecommendation;
  /** One line per criterion. */
  reasons: string[];
  /** The whole A/B report. */
  ab: AbReport;
  /** Every shadowed task compared, in stream order (those past the horizon included, marked by `ab.ignored`). */
  comparisons: AbComparison[];
  /** Stream tasks served up to the last one compared. */
  streamTasks: number;
  /** Shadowed tasks compared. */
  shadowed: number;
  /** The champion's and the candidate's pass rates on the shadowed tasks of the decision. */
  baselineRate: number;
  /** The candidate's pass rate on them. */
  candidateRate: number;
  /** Paired episodes and families behind the lift. */
  pairs: number;
  /** Families behind the lift. */
  clusters: number;
  /** The lift's family-level permutation p-value. */
  liftPValue: number | null;
  /** Why the lift has no interval, if it has none. */
  note: string | null;
}

const CHAMPION = "champion", CANDIDATE = "candidate";
const key = (challengeId: string, seed: number) => `${challengeId}\u0000${seed}`;

/**
 * The orchestrator's `Evaluate` port as an A/B shadow test: the champion (`req.baseline`: the promoted version's
 * model, else the base) and the candidate (`req.model`) answer the stream's shadowed tasks with the same strategy,
 * suite run by suite run, until the fixed horizon is reached or the stream ends. Returns the A/B report (seed 001's
 * recommendation with its reasons) and, as the port's `lift`/`lo`/`hi`, the candidate's paired pass lift on the
 * decision's tasks with its 95 % interval clustered by family.
 *
 * Offline only the shadowed tasks are run: in production the champion answers the whole stream, but the other
 * tasks compare nothing.
 *
 * @example
 * ```ts
 * const evaluate = abEvaluator({ challenges: dev, strategy, deps: { models: (ref) => modelOf(ref), pool } });
 * const r = await evaluate({ model: "ft:lab-mini:core:0123456789ab", version: "lab-mini-all-v2", baseline: "lab-mini" });
 * r.recommendation; // "promote_B" → the orchestrator leaves it awaiting promotion: 'lab finetune promote lab-mini-all-v2'
 * ```
 */
export function abEvaluator(options: AbEvaluatorOptions): (req: EvaluationRequest) => Promise<AbEvaluation> {
  const run = options.run ?? runSuite;
  const criteria = abCriteria(options.criteria);
  const batch = options.batch ?? 50;
  if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`abEvaluator: batch must be a positive integer, found ${batch}`);
  const stream = shadowStream(options.challenges, options.stream);
  const shadowed = stream.filter((t) => t.shadowed);
  if (!shadowed.length) throw new RangeError(`abEvaluator: no task of the ${stream.length}-task stream is shadowed; raise the rate or the length`);
  return async (req) => {
    const test = abTest(criteria);
    const comparisons: AbComparison[] = [];
    const decisionEpisodes: SuiteEpisode[] = [];
    let next = 0;
    while (!test.decided && next < shadowed.length) {
      // About the tasks the horizon still needs at the non-tied share seen so far (tasks past it are only wasted
      // work: the horizon counts in stream order), at least a round of the scheduler's concurrency, at most a batch.
      const share = comparisons.length ? Math.max(test.nonTied / comparisons.length, 0.05) : 1;
      const want = Math.min(batch, Math.max(Math.ceil((criteria.minNonTied - test.nonTied) / share), options.deps.concurrency ?? 4));
      const tasks = shadowed.slice(next, next + want);
      next += tasks.length;
      const bySeed = Map.groupBy(tasks, (t) => t.seed);
      const episodes = new Map<string, { champion?: SuiteEpisode; candidate?: SuiteEpisode }>();
      for (const [seed, group] of bySeed) {
        const suite: Suite = {
          name: options.name ?? "ab-shadow",
          challenges: group.map((t) => t.challenge),
          seeds: [seed],
          arms: [{ id: CHAMPION, model: req.baseline, strategy: options.strategy }, { id: CANDIDATE, model: req.model, strategy: options.strategy }],
        };
        for (const e of (await run(suite, options.deps)).episodes) {
          const slot = episodes.get(key(e.challengeId, e.seed)) ?? {};
          if (e.arm === CHAMPION) slot.champion = e;
          else if (e.arm === CANDIDATE) slot.candidate = e;
          episodes.set(key(e.challengeId, e.seed), slot);
        }
      }
      for (const t of tasks) {
        const pair = episodes.get(key(t.challenge.id, t.seed));
        if (!pair?.champion || !pair.candidate) throw new Error(`abEvaluator: the suite returned no ${pair?.champion ? CANDIDATE : CHAMPION} episode for ${t.challenge.id} seed ${t.seed}`);
        const outcome = abOutcome(pair.champion, pair.candidate, options.scoring);
        const cost = options.scoring?.cost ?? ((e: SuiteEpisode) => e.costUsd);
        if (!test.decided) decisionEpisodes.push(pair.champion, pair.candidate);
        test.add(outcome);
        comparisons.push({
          index: t.index,
          challengeId: t.challenge.id,
          family: t.challenge.family,
          seed: t.seed,
          outcome,
          champion: { score: pair.champion.score, cost: cost(pair.champion) },
          candidate: { score: pair.candidate.score, cost: cost(pair.candidate) },
        });
      }
      options.onBatch?.(test.report(), { streamTasks: tasks.at(-1)!.index + 1, shadowed: comparisons.length });
    }
    const ab = test.report();
    if (next >= shadowed.length && !test.decided) {
      ab.reasons.push(`the ${stream.length}-task stream ended (${shadowed.length} shadowed): lengthen it or raise the rate`);
    }
    const c = compare(decisionEpisodes, { control: CHAMPION, arms: [CANDIDATE] });
    const lift = liftCell(c, CANDIDATE)!;
    return {
      lift: lift.estimate,
      lo: lift.lo,
      hi: lift.hi,
      recommendation: ab.recommendation,
      reasons: ab.reasons,
      ab,
      comparisons,
      streamTasks: comparisons.length ? comparisons.at(-1)!.index + 1 : 0,
      shadowed: comparisons.length,
      baselineRate: rateCell(c, CHAMPION)!.estimate,
      candidateRate: rateCell(c, CANDIDATE)!.estimate,
      pairs: lift.pairs,
      clusters: lift.clusters,
      liftPValue: lift.pValue,
      note: lift.note ?? null,
    };
  };
}

/** Records metrics on a registry version (merged into the ones it has). */
export type RecordMetrics = (version: string, metrics: Record<string, unknown>) => Promise<unknown>;

/** Options for {@linkcode reestimateOnTestId}. */
export interface ReestimateOptions {
  /** `test_id` instances (any other split is refused: the version was selected on `dev`). */
  challenges: readonly Challenge[];
  /** Episode seeds: every instance once per seed. */
  seeds: readonly number[];
  /** The strategy the version plays (the A/B's). */
  strategy: Strategy;
  /** What the suite runs with. */
  deps: SuiteDeps;
  /** Where the metric goes: the registry's metrics of the version. */
  record: RecordMetrics;
  /** Also runs this model (e.g. the base, or the champion it replaced) for a paired lift. */
  baseline?: string;
  /** Runs a suite. @default {@linkcode runSuite} */
  run?: (suite: Suite, deps: SuiteDeps) => Promise<SuiteResult>;
}

/** The metric {@linkcode reestimateOnTestId} records, under the key {@linkcode TEST_ID_METRIC}. */
export interface TestIdEstimate {
  /** The split it was measured on. */
  split: "test_id";
  /** The pass rate on `test_id`, with its 95 % interval clustered by family (null with too few families). */
  rate: number;
  /** The rate's interval (null with too few families). */
  lo: number | null;
  /** The rate's interval's upper end. */
  hi: number | null;
  /** Episodes run. */
  episodes: number;
  /** Families they cover. */
  families: number;
  /** Why there is no interval, if there is none. */
  note: string | null;
  /** The paired lift over `baseline`, when one was given. */
  lift: { baseline: string; estimate: number; lo: number | null; hi: number | null; pValue: number | null } | null;
  /** When it was measured (ISO 8601). */
  at: string;
}

/** The metrics key of the `test_id` re-estimate (what the rollback monitor takes its reference from). */
export const TEST_ID_METRIC = "test_id_success";

/**
 * Re-estimates a promoted version's success on `test_id` — the A/B winner is flattered by its selection on `dev` —
 * and records it on the version as `metrics.test_id_success` through `record`.
 *
 * @example
 * ```ts
 * const r = await reestimateOnTestId(await registry.get("lab-mini-all-v2"), { challenges: testId, seeds: [1], strategy, deps, record, baseline: "lab-mini" });
 * r.rate; // e.g. 0.58, below the A/B's dev figure
 * ```
 */
export async function reestimateOnTestId(version: Pick<ModelVersion, "name" | "providerModel">, options: ReestimateOptions): Promise<TestIdEstimate> {
  const other = options.challenges.find((c) => c.split !== "test_id");
  if (other) throw new RangeError(`reestimateOnTestId: ${other.id} is in split '${other.split}'; pass test_id instances (the version was selected on dev)`);
  const arms: Suite["arms"] = [
    { id: "version", model: version.providerModel, strategy: options.strategy },
    ...(options.baseline ? [{ id: "baseline", model: options.baseline, strategy: options.strategy }] : []),
  ];
  const result = await (options.run ?? runSuite)({ name: `${version.name} on test_id`, challenges: options.challenges, seeds: options.seeds, arms }, options.deps);
  const c = compare(result.episodes, options.baseline ? { control: "baseline", arms: ["version"] } : { control: "version", arms: [] });
  const rate = rateCell(c, "version")!;
  const l = options.baseline ? liftCell(c, "version") : undefined;
  const lift = l && options.baseline ? { baseline: options.baseline, estimate: l.estimate, lo: l.lo, hi: l.hi, pValue: l.pValue } : null;
  const estimate: TestIdEstimate = {
    split: "test_id",
    rate: rate.estimate,
    lo: rate.lo,
    hi: rate.hi,
    episodes: rate.episodes,
    families: rate.clusters,
    note: rate.note ?? null,
    lift,
    at: new Date().toISOString(),
  };
  await options.record(version.name, { [TEST_ID_METRIC]: estimate });
  return estimate;
}
