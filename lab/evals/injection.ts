/**
 * The context-injection lift, measured honestly:
 *
 * 1. **Learn on train.** A tournament runs on `train` (the config's split is forced to train); its episodes are
 *    stored as patterns (`ingestRun`: idempotent, so a resumed or repeated experiment adds nothing twice).
 * 2. **Measure on held-out splits** (or on a researcher's own challenge set, `external`, whatever its splits). One
 *    suite per split: one strategy on the same instances with the same fresh seeds in three arms — `off` (no
 *    examples), `on` (retrieval from the store, which never returns patterns of the split being evaluated nor
 *    contaminated ones) and `upper` (examples chosen by the challenge's *family label*: what perfect retrieval could
 *    give). Lifts over `off` are paired, with 95% intervals and sign-flip p-values over families, overall and by
 *    level. Also reported: how many episodes were given examples, and the pattern reuse rate (episodes whose
 *    successful SQL matches a given pattern's).
 *
 * Improvement within the tournament is a training curve (per-generation fitness on train), never a lift.
 * @module
 */
import type { Challenge, Split } from "../challenges/mod.ts";
import type { PatternSource } from "../agents/mod.ts";
import type { InjectedExample } from "../models/mod.ts";
import { parseTournamentConfig, runTournament, type RunSummary, type TournamentConfig } from "../tournament/mod.ts";
import {
  type AddReport,
  budgetedRenderer,
  ingestRun,
  mergeRetrievalConfig,
  patternToExample,
  PatternRetriever,
  type PatternsConfig,
  type PatternStore,
  type RetrievalOverrides,
} from "../patterns/mod.ts";
import { compare, formatEstimate, type LiftCell } from "./compare.ts";
import { runSuite, type SuiteEpisode } from "./suite.ts";
import {
  armFigure,
  type ArmFigure,
  type EvalEnv,
  externalChallenges,
  freshSeeds,
  type Lift,
  liftOf,
  splitChallenges,
} from "./env.ts";
import { modelLabel } from "./label.ts";

/**
 * Options for {@linkcode patternLift}.
 * @internal
 */
export interface PatternLiftOptions {
  /** The tournament that teaches the patterns (its split is forced to `train`). */
  config: TournamentConfig;
  /** The pattern store the tournament's episodes go into and retrieval reads. */
  store: PatternStore;
  /** configs/patterns.yaml as read (retrieval settings and the injection's token budget). */
  patternsConfig: PatternsConfig;
  /** The strategy evaluated with and without injection. @default "gamma" */
  strategy?: string;
  /** Held-out splits, in order (the first is the one to tune on). @default dev, test_id, test_ood (none with `external`) */
  splits?: readonly Split[];
  /**
   * Challenge files or folders (a researcher's own set) evaluated instead of the held-out splits: their families'
   * instances whatever split the loader gives them, reported as one split named `external`. Learning stays on the
   * catalog's `train`. @default none
   */
  external?: readonly string[];
  /** Instances per split (the config's levels and families). @default 24 */
  instances?: number;
  /** Fresh episode seeds per instance. @default 2 */
  seeds?: number;
  /** Retrieval settings on top of configs/patterns.yaml. */
  retrieval?: RetrievalOverrides;
  /** Token budget of the injected section. @default configs/patterns.yaml `injection.token_budget` */
  tokenBudget?: number;
  /** Also run the family-label upper bound. @default true */
  upperBound?: boolean;
  /** Tournament run id. @default a hash of its config (a re-run resumes) */
  runId?: string;
  onProgress?: (event: { phase: string; done: number; total: number }) => void;
}

/** One paired comparison on a set of instances. */
export interface ArmLift {
  off: ArmFigure;
  on: ArmFigure;
  lift: Lift;
}

/** The lift on one held-out split (`external`: the instances of {@linkcode PatternLiftOptions.external}). */
export interface SplitLift extends ArmLift {
  split: Split | "external";
  challenges: number;
  families: number;
  seeds: number[];
  /** Success lift of `on` over `off` per level (family-clustered; no interval under 10 families). */
  byLevel: LiftCell[];
  /** Episodes given ≥ 1 example; episodes that used one (pattern reuse rate = used / given). */
  injection: {
    episodes: number;
    given: number;
    used: number;
    reuseRate: number | null;
    meanExamples: number;
    /** Distinct pattern ids given to episodes, and those an episode used (its successful SQL matched). */
    givenIds: string[];
    usedIds: string[];
  };
  /** The family-label upper bound (examples chosen by the challenge's family). */
  upper?: ArmLift & { given: number };
  episodes: SuiteEpisode[];
}

/**
 * What {@linkcode patternLift} found.
 * @internal
 */
export interface PatternLiftResult {
  model: { name: string; id: string };
  /** Set when the model is lab-mini: the figures describe it, not LLMs. */
  label: string | null;
  strategy: string;
  tournament: RunSummary;
  patterns: { ingest: AddReport; stored: number; eligible: number };
  /** Per-generation fitness on train: a training curve, not a lift. */
  trainingCurve: RunSummary["learning"]["perGeneration"];
  splits: SplitLift[];
  elapsedMs: number;
}

/** Examples chosen by family label: the store's passing, uncontaminated train patterns of the family, best first. */
function familySource(store: PatternStore, byTask: Map<string, Challenge>, k: number): PatternSource {
  const cache = new Map<string, InjectedExample[]>();
  return async ({ task }) => {
    const family = byTask.get(task)?.family;
    if (!family) return [];
    if (!cache.has(family)) {
      const rows = await store.list({ family, split: "train", turnPass: true, contaminated: false, stale: false }, { limit: 200 });
      cache.set(
        family,
        rows.sort((a, b) => b.compositeFitness - a.compositeFitness || b.support - a.support).slice(0, k).map(patternToExample),
      );
    }
    return cache.get(family)!;
  };
}

/**
 * Runs the experiment (see the module doc). Nothing asserts that injection helps.
 *
 * @example
 * ```ts
 * await using ctx = await LabContext.open();
 * const r = await patternLift(await ctx.env(), {
 *   config: ctx.tournament, store: await ctx.patternStore(), patternsConfig: ctx.patterns, instances: 24, seeds: 2,
 * });
 * console.log(formatPatternLift(r));
 * ```
 */
export async function patternLift(env: EvalEnv, options: PatternLiftOptions): Promise<PatternLiftResult> {
  const t0 = performance.now();
  const config = parseTournamentConfig({ ...options.config, split: "train" }, "the pattern-lift tournament");
  const retrievalConfig = mergeRetrievalConfig(options.patternsConfig.retrieval, options.retrieval);
  const strategyId = options.strategy ?? "gamma";
  const strategy = env.strategies.strategies[strategyId];
  if (!strategy) throw new RangeError(`patternLift: no strategy '${strategyId}' in ${env.strategies.source}`);
  const external = options.external?.length ? options.external : undefined;
  if (external && options.splits) throw new RangeError("patternLift: pass held-out splits or external challenges, not both");
  const instances = options.instances ?? 24;
  // Read before the tournament registers its run: a bad external file stops here.
  const externalSet = external ? await externalChallenges(config, { paths: external, max: instances }) : undefined;
  const sets: SplitLift["split"][] = externalSet ? ["external"] : [...(options.splits ?? ["dev", "test_id", "test_ood"])];
  const progress = options.onProgress ?? (() => {});
  const { store } = options;

  const tournament = await runTournament(config, {
    db: env.db,
    model: env.model,
    pool: env.pool,
    strategies: env.strategies,
    ...(options.runId ? { runId: options.runId } : {}),
    ...(env.signal ? { signal: env.signal } : {}),
    stats: env.stats,
    onProgress: (e) => e.kind === "episode" && progress({ phase: "tournament", done: e.done, total: e.total }),
  });
  if (tournament.status !== "completed") throw new DOMException("the pattern-lift tournament was aborted", "AbortError");
  const ingest = await ingestRun(store, env.db, tournament.runId);
  const render = budgetedRenderer(options.tokenBudget ?? options.patternsConfig.injection.token_budget);
  await using retriever = await PatternRetriever.open(store, { configPath: null, config: retrievalConfig });
  const stored = await store.count();
  const eligible = await store.count({ turnPass: true, contaminated: false, stale: false, split: "train" });

  const k = Math.max(1, strategy.examples.k);
  const evalStrategy = { ...strategy, examples: { ...strategy.examples, k } };
  const splits: SplitLift[] = [];
  for (const split of sets) {
    const challenges = split === "external" ? externalSet! : await splitChallenges(config, split, instances);
    const seeds = freshSeeds(options.seeds ?? 2, { salt: `pattern-lift:${split}:${tournament.runId}` });
    // External instances keep the loader's split, which may be `train`: asked as split "external" (which no pattern
    // has), retrieval hides nothing but the catalog's own rules; the patterns were learned on the catalog's train,
    // whose family ids an external family cannot share, so nothing of the evaluated set can leak in.
    const source: PatternSource = split === "external" ? (q) => retriever.source({ ...q, split: "external" }) : retriever.source;
    const byTask = new Map(challenges.map((c) => [c.task, c]));
    const arms = [
      { id: "off", model: "env", strategy: evalStrategy },
      { id: "on", model: "env", strategy: evalStrategy, patterns: source, renderExamples: render },
      ...(options.upperBound ?? true
        ? [{ id: "upper", model: "env", strategy: evalStrategy, patterns: familySource(store, byTask, k), renderExamples: render }]
        : []),
    ];
    const r = await runSuite({ name: `pattern lift ${split}`, challenges, seeds, arms }, {
      models: () => env.model,
      pool: env.pool,
      fitness: env.strategies.fitness,
      concurrency: config.concurrency,
      signal: env.signal,
      onEpisode: (done, total) => progress({ phase: split, done, total }),
    });
    const success = compare(r.episodes, { control: "off", permutations: env.stats });
    const fitness = compare(r.episodes, { control: "off", metric: "composite", permutations: env.stats });
    const on = r.episodes.filter((e) => e.arm === "on");
    const given = on.filter((e) => e.examples > 0);
    const used = given.filter((e) => e.used.length > 0);
    const ids = (xs: readonly string[]) => [...new Set(xs)].sort();
    const entry: SplitLift = {
      split,
      challenges: challenges.length,
      families: new Set(challenges.map((c) => c.family)).size,
      seeds,
      off: armFigure(success, fitness, "off"),
      on: armFigure(success, fitness, "on"),
      lift: liftOf(success, fitness, "on"),
      byLevel: success.lifts.filter((l) => l.arm === "on" && l.level !== "all"),
      injection: {
        episodes: on.length,
        given: given.length,
        used: used.length,
        reuseRate: given.length ? used.length / given.length : null,
        meanExamples: on.reduce((s, e) => s + e.examples, 0) / Math.max(1, on.length),
        givenIds: ids(given.flatMap((e) => e.injected)),
        usedIds: ids(used.flatMap((e) => e.used)),
      },
      episodes: r.episodes,
    };
    if (options.upperBound ?? true) {
      entry.upper = {
        off: entry.off,
        on: armFigure(success, fitness, "upper"),
        lift: liftOf(success, fitness, "upper"),
        given: r.episodes.filter((e) => e.arm === "upper" && e.examples > 0).length,
      };
    }
    splits.push(entry);
  }
  return {
    model: tournament.model,
    label: modelLabel(tournament.model),
    strategy: strategyId,
    tournament,
    patterns: { ingest, stored, eligible },
    trainingCurve: tournament.learning.perGeneration,
    splits,
    elapsedMs: performance.now() - t0,
  };
}

/** Success per split and arm (`off`, `on (retrieval)`, `on (family label)`) as chart rows. */
export function liftChartRows(r: PatternLiftResult): { split: string; arm: string; success: number }[] {
  return r.splits.flatMap((s) => [
    { split: s.split, arm: "off", success: s.off.success.estimate },
    { split: s.split, arm: "on (retrieval)", success: s.on.success.estimate },
    ...(s.upper ? [{ split: s.split, arm: "on (family label)", success: s.upper.on.success.estimate }] : []),
  ]);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

/** The experiment as text: per split, success off/on, the lift with its 95% CI, by level, reuse, upper bound. */
export function formatPatternLift(r: PatternLiftResult): string {
  const lines = [
    `Pattern-injection lift — model ${r.model.name} (${r.model.id})${r.label ? ` — ${r.label}` : ""}`,
    `patterns learned on train (run ${r.tournament.runId}, ${r.tournament.episodes.stored} episodes): ${r.patterns.stored} stored, ` +
    `${r.patterns.eligible} eligible (passed, uncontaminated); strategy ${r.strategy}`,
    `training curve (train, per generation; not a lift): ` +
    r.trainingCurve.map((g) => `g${g.generation} ${g.meanFitness.toFixed(3)}`).join(", "),
  ];
  for (const s of r.splits) {
    const p = s.lift.success.pValue;
    lines.push(
      `${s.split}: ${s.challenges} instances (${s.families} families) × ${s.seeds.length} seeds = ${s.lift.pairs} pairs; success off ` +
        `${pct(s.off.success.estimate)}% → on ${pct(s.on.success.estimate)}%; lift ${formatEstimate(s.lift.success, { signed: true })} ` +
        `points${s.lift.success.lo === null ? "" : " (95% CI over families)"}; family sign-flip p=${p === null ? "–" : p.toFixed(3)}; McNemar p=${s.lift.mcnemar.pValue.toFixed(3)}`,
      `  by level: ${
        s.byLevel.map((l) => `L${l.level} ${pct(l.controlMean)}→${pct(l.armMean)} (${formatEstimate(l, { signed: true })}, n=${l.pairs})`).join("; ")
      }`,
      `  injection: ${s.injection.given}/${s.injection.episodes} episodes given examples (mean ${s.injection.meanExamples.toFixed(2)}); ` +
        `reuse rate ${s.injection.reuseRate === null ? "—" : `${pct(s.injection.reuseRate)}%`} (${s.injection.used} used one; ` +
        `${s.injection.givenIds.length} distinct patterns given, ${s.injection.usedIds.length} used)`,
    );
    if (s.upper) {
      lines.push(
        `  family-label upper bound: on ${pct(s.upper.on.success.estimate)}%, lift ${formatEstimate(s.upper.lift.success, { signed: true })} ` +
          `(${s.upper.given} episodes given examples)`,
      );
    }
  }
  return lines.join("\n");
}
