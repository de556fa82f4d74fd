/**
 * The context-injection lift, measured honestly (issue "Pattern memory…"):
 *
 * 1. **Learn on train.** A tournament runs on `train` (the config's split is forced to train); its episodes are
 *    read back from the tournament store and stored as patterns ({@linkcode ingestRun}: idempotent, so a resumed
 *    or repeated experiment adds nothing twice).
 * 2. **Measure on held-out splits** (or on a researcher's own challenge set, `external`, whatever its splits). One
 *    strategy runs the same `dev` (then `test_id`, `test_ood`) instances with
 *    the same fresh seeds twice — injection off, injection on (retrieval from the store, which never returns
 *    patterns of the split being evaluated nor contaminated ones) — and the lift is the paired difference with
 *    a 95% interval clustered by instance, overall and by level. Also reported: how many episodes were given
 *    examples, and seed 000's pattern reuse rate (episodes whose successful SQL matches a given pattern's).
 * 3. **Upper bound.** The same episodes with examples chosen by the challenge's *family label* (the store's
 *    passing train patterns of that family, best fitness first): what perfect retrieval could give.
 *
 * Improvement within the tournament is a training curve (per-generation fitness on train), never a lift.
 * @module
 */
import type { Challenge, Split } from "../challenges/mod.ts";
import type { EpisodeRecord, PatternSource } from "../agents/mod.ts";
import type { InjectedExample } from "../models/mod.ts";
import type { BootstrapOptions, PairedDiffResult } from "../stats/mod.ts";
import {
  DEFAULT_DB_PATH,
  evalFigure,
  type EvalEpisode,
  type EvalFigure,
  evaluateStrategies,
  type ExperimentEnv,
  externalChallenges,
  freshSeeds,
  type Lift,
  liftOf,
  loadRunConfigs,
  openEnv,
  parseTournamentConfig,
  queryStore,
  runTournament,
  type RunSummary,
  splitChallenges,
  type TournamentConfig,
} from "../tournament/mod.ts";
import { type AddReport, DEFAULT_PATTERNS_PATH, emptyAddReport, PatternStore } from "./store.ts";
import {
  budgetedRenderer,
  loadPatternsConfig,
  mergeRetrievalConfig,
  PatternRetriever,
  type RetrievalOverrides,
  usedPatterns,
} from "./retrieve.ts";

/**
 * Stores the episodes of tournament run `runId` (read from the tournament store `db`) as patterns. Idempotent:
 * episodes already merged are skipped (the store remembers them).
 *
 * @example
 * ```ts
 * await using store = await PatternStore.open(DEFAULT_PATTERNS_PATH);
 * const report = await ingestRun(store, "data/lab.duckdb", run.runId);
 * ```
 */
export async function ingestRun(store: PatternStore, db: string, runId: string, options: { batch?: number } = {}): Promise<AddReport> {
  const rows = await queryStore(db, "SELECT trace::VARCHAR AS t FROM episodes WHERE run_id = $1 ORDER BY id", [runId]);
  if (!rows.length) throw new RangeError(`ingestRun: run '${runId}' has no episodes in ${db}; run the tournament first (lab tournament)`);
  const total = emptyAddReport();
  const size = options.batch ?? 500;
  for (let i = 0; i < rows.length; i += size) {
    const records = rows.slice(i, i + size).map((r) => JSON.parse(String(r.t)) as EpisodeRecord);
    const r = await store.addEpisodes(records, { runId });
    for (const k of Object.keys(total) as (keyof AddReport)[]) total[k] += r[k] ?? 0;
  }
  return total;
}

/** Options for {@linkcode patternLift}. */
export interface PatternLiftOptions extends ExperimentEnv {
  /** The tournament that teaches the patterns (its split is forced to `train`). */
  config: TournamentConfig;
  /** The pattern store's file. @default "data/patterns.duckdb" */
  patternsDb?: string;
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
  off: EvalFigure;
  on: EvalFigure;
  lift: Lift;
}

/** The lift on one held-out split (`external`: the instances of {@linkcode PatternLiftOptions.external}). */
export interface SplitLift extends ArmLift {
  split: Split | "external";
  challenges: number;
  seeds: number[];
  byLevel: { level: number; pairs: number; off: number; on: number; lift: PairedDiffResult }[];
  /** Episodes given ≥ 1 example; episodes that used one (seed 000's pattern reuse rate = used / given). */
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
}

/** What {@linkcode patternLift} found. */
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

function byLevel(off: readonly EvalEpisode[], on: readonly EvalEpisode[], levels: Map<string, number>, boot: BootstrapOptions) {
  const out: SplitLift["byLevel"] = [];
  for (const level of [...new Set(off.map((e) => levels.get(e.challengeId)!))].sort()) {
    const pick = (xs: readonly EvalEpisode[]) => xs.filter((e) => levels.get(e.challengeId) === level);
    const a = pick(off), b = pick(on);
    const l = liftOf([...a, ...b], "off", "on", boot);
    out.push({
      level,
      pairs: l.pairs,
      off: a.filter((e) => e.pass).length / Math.max(1, a.length),
      on: b.filter((e) => e.pass).length / Math.max(1, b.length),
      lift: l.success,
    });
  }
  return out;
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
        rows.sort((a, b) => b.compositeFitness - a.compositeFitness || b.support - a.support).slice(0, k).map((p) => ({
          id: p.id,
          task: p.intent,
          role: p.role,
          calls: p.successfulQueries.map((q) => ({ tool: q.tool, sql: q.sql })),
          ...(p.answerShape ? { answerShape: p.answerShape } : {}),
        })),
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
 * const r = await patternLift({ config: await loadTournamentConfig(), instances: 24, seeds: 2, baseUrl });
 * console.log(formatPatternLift(r));
 * ```
 */
export async function patternLift(options: PatternLiftOptions): Promise<PatternLiftResult> {
  const t0 = performance.now();
  const config = parseTournamentConfig({ ...options.config, split: "train" }, "the pattern-lift tournament");
  const db = options.db ?? DEFAULT_DB_PATH;
  const boot: BootstrapOptions = { resamples: 2000, seed: 0, ...options.stats };
  // Every config (configs/patterns.yaml with the overrides, the strategy) is checked before the sandbox is built
  // or the tournament registers its run; openEnv checks the rest.
  const file = await loadPatternsConfig();
  mergeRetrievalConfig(file.retrieval, options.retrieval);
  const { strategies } = await loadRunConfigs(config, { strategies: options.strategies, model: false });
  const strategyId = options.strategy ?? "gamma";
  const strategy = strategies.strategies[strategyId];
  if (!strategy) throw new RangeError(`patternLift: no strategy '${strategyId}' in ${strategies.source}`);
  const external = options.external?.length ? options.external : undefined;
  if (external && options.splits) throw new RangeError("patternLift: pass held-out splits or external challenges, not both");
  const instances = options.instances ?? 24;
  // Read before the sandbox is built or the tournament registers its run: a bad external file stops here.
  const externalSet = external ? await externalChallenges(config, { paths: external, max: instances }) : undefined;
  const sets: SplitLift["split"][] = externalSet ? ["external"] : [...(options.splits ?? ["dev", "test_id", "test_ood"])];
  const env = await openEnv(config, { ...options, strategies });
  const progress = options.onProgress ?? (() => {});
  try {
    const tournament = await runTournament(config, {
      db,
      model: env.model,
      pool: env.pool,
      strategies: env.strategies,
      ...(options.runId ? { runId: options.runId } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      stats: options.stats,
      onProgress: (e) => e.kind === "episode" && progress({ phase: "tournament", done: e.done, total: e.total }),
    });
    if (tournament.status !== "completed") throw new DOMException("the pattern-lift tournament was aborted", "AbortError");
    await using store = await PatternStore.open(options.patternsDb ?? DEFAULT_PATTERNS_PATH);
    const ingest = await ingestRun(store, db, tournament.runId);
    const render = budgetedRenderer(options.tokenBudget ?? file.injection.token_budget);
    await using retriever = await PatternRetriever.open(store, { config: options.retrieval ?? {} });
    const stored = await store.count();
    const eligible = await store.count({ turnPass: true, contaminated: false, stale: false, split: "train" });

    const k = Math.max(1, strategy.examples.k);
    const evalStrategy = { ...strategy, examples: { ...strategy.examples, k } };
    const splits: SplitLift[] = [];
    for (const split of sets) {
      const challenges = split === "external" ? externalSet! : await splitChallenges(config, split, instances);
      const levels = new Map(challenges.map((c) => [c.id, c.level as number]));
      const seeds = freshSeeds(options.seeds ?? 2, { salt: `pattern-lift:${split}:${tournament.runId}` });
      const run = async (arm: string, patterns?: PatternSource) => {
        const records: EpisodeRecord[] = [];
        const eps = await evaluateStrategies([evalStrategy], challenges, {
          seeds,
          model: env.model,
          pool: env.pool,
          fitness: env.strategies.fitness,
          ...(patterns ? { patterns, renderExamples: render } : {}),
          onRecord: (r) => records.push(r),
          onEpisode: (done, total) => progress({ phase: `${split} ${arm}`, done, total }),
          ...(options.signal ? { signal: options.signal } : {}),
        });
        return { eps: eps.map((e) => ({ ...e, strategyId: arm })), records };
      };
      const off = await run("off");
      // External instances keep the loader's split, which may be `train`: asked as split "external" (which no pattern
      // has), retrieval still hides nothing but the catalog's own rules; the patterns were learned on the catalog's
      // train, whose family ids an external family cannot share, so nothing of the evaluated set can leak in.
      const source: PatternSource = split === "external" ? (q) => retriever.source({ ...q, split: "external" }) : retriever.source;
      const on = await run("on", source);
      const given = on.records.filter((r) => (r.injected?.length ?? 0) > 0);
      const usedBy = given.map((r) => usedPatterns(r.injected ?? [], r.queries.filter((q) => q.ok)));
      const used = given.filter((_, i) => usedBy[i].length > 0);
      const ids = (xs: readonly { id?: string }[]) => [...new Set(xs.flatMap((x) => (x.id ? [x.id] : [])))].sort();
      const lift = liftOf([...off.eps, ...on.eps], "off", "on", boot);
      const entry: SplitLift = {
        split,
        challenges: challenges.length,
        seeds,
        off: evalFigure(off.eps, boot),
        on: evalFigure(on.eps, boot),
        lift,
        byLevel: byLevel(off.eps, on.eps, levels, boot),
        injection: {
          episodes: on.records.length,
          given: given.length,
          used: used.length,
          reuseRate: given.length ? used.length / given.length : null,
          meanExamples: on.records.reduce((s, r) => s + (r.injected?.length ?? 0), 0) / Math.max(1, on.records.length),
          givenIds: ids(given.flatMap((r) => r.injected ?? [])),
          usedIds: ids(usedBy.flat()),
        },
      };
      if (options.upperBound ?? true) {
        const byTask = new Map(challenges.map((c) => [c.task, c]));
        const up = await run("upper", familySource(store, byTask, k));
        const upEps = up.eps.map((e) => ({ ...e, strategyId: "on" }));
        entry.upper = {
          off: entry.off,
          on: evalFigure(upEps, boot),
          lift: liftOf([...off.eps, ...upEps], "off", "on", boot),
          given: up.records.filter((r) => (r.injected?.length ?? 0) > 0).length,
        };
      }
      splits.push(entry);
    }
    return {
      model: tournament.model,
      label: tournament.model.name.startsWith("lab-mini") ? "lab-mini results (a small embedded baseline), not claims about LLMs" : null,
      strategy: strategyId,
      tournament,
      patterns: { ingest, stored, eligible },
      trainingCurve: tournament.learning.perGeneration,
      splits,
      elapsedMs: performance.now() - t0,
    };
  } finally {
    await env.close();
  }
}

const pct = (x: number) => `${(100 * x).toFixed(1)}`;
const ci = (d: PairedDiffResult) => `${d.estimate >= 0 ? "+" : ""}${pct(d.estimate)} [${pct(d.lo)}, ${pct(d.hi)}]`;

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
    lines.push(
      `${s.split}: ${s.challenges} instances × ${s.seeds.length} seeds = ${s.lift.pairs} pairs; success off ${pct(s.off.success.estimate)}% → on ` +
        `${pct(s.on.success.estimate)}%; lift ${ci(s.lift.success)} points (95% CI, clustered by instance); McNemar p=${s.lift.mcnemar.pValue.toFixed(3)}`,
      `  by level: ${s.byLevel.map((l) => `L${l.level} ${pct(l.off)}→${pct(l.on)} (${ci(l.lift)}, n=${l.pairs})`).join("; ")}`,
      `  injection: ${s.injection.given}/${s.injection.episodes} episodes given examples (mean ${s.injection.meanExamples.toFixed(2)}); ` +
        `reuse rate ${s.injection.reuseRate === null ? "—" : `${pct(s.injection.reuseRate)}%`} (${s.injection.used} used one; ` +
        `${s.injection.givenIds.length} distinct patterns given, ${s.injection.usedIds.length} used)`,
    );
    if (s.upper) {
      lines.push(`  family-label upper bound: on ${pct(s.upper.on.success.estimate)}%, lift ${ci(s.upper.lift.success)} (${s.upper.given} episodes given examples)`);
    }
  }
  return lines.join("\n");
}
