/**
 * Expert iteration on lab-mini's own tournament data (issue 14, "Expert iteration, measured honestly"): never the
 * oracle's. Each round r starts from round r−1's model (round 1 from the base):
 *
 * 1. a `train` tournament: every train instance × every strategy × `attempts` episode seeds, sampled at
 *    `temperature` > 0 (k = strategies × attempts attempts per instance) → train pass@1 (mean over attempts) and
 *    pass@k (any attempt of an instance passed);
 * 2. the verified successes (passed episodes) → `lab/datasets` curation with {@linkcode SELF_IMPROVE_CURATION}: the
 *    same leakage check, exact and near-duplicate removal and balance as `lab dataset build`, but with the bronze
 *    tier at 0. With the committed quality weights an unmarked tournament episode scores at most 0.35 + 0.15 =
 *    0.5 and would be rejected below bronze (0.6); here every verified, leakage-checked, deduplicated pass is kept
 *    (the result says so in `curation`);
 * 3. fine-tune round r−1's model on that file (`deps.fineTune`);
 * 4. evaluation: one suite per evaluated split (greedy, same instances and seed for every arm), compared with
 *    {@linkcode compare} (paired, 95 % intervals clustered by family): each round vs base and vs the previous round.
 *
 * Controls, each trained from the same parent as the round it controls, on the same number of lines and epochs
 * (the same compute): `r<n>_shuffled` (the round's lines with their assistant turns permuted across lines) and
 * `r<n>_unrelated` (per evaluated level, the round's lines of the other levels resampled to the same size).
 * Forgetting: round r vs base on the evaluated instances of families no round ≤ r trained on.
 *
 * Comparisons:
 * - `greedy_distill`: base fine-tuned on the greedy, temperature-0 successes of round 1's train instances and
 *   strategies, resampled to round 1's size and trained for the same epochs (did exploration matter? round 1 vs it,
 *   paired);
 * - single-stage vs progressive fine-tuning at equal compute, both from base on the pooled passes of every round
 *   (curated once, so duplicates across rounds go): `progressive` runs seed 000's stages ({@linkcode seed000Stages}:
 *   core — composite fitness ≥ 0.9 at levels 1–2 — for 5 epochs at 1e-5, then extended — fitness ≥ 0.85 — for 3
 *   epochs at 5e-6, from the core model; lab-mini gets `lr / REFERENCE_LR` as its learning-rate multiplier);
 *   `single_stage` is one fine-tune on the same distinct lines at the first stage's learning rate, each line
 *   repeated in its file so that it gets exactly the example passes (lines × epochs) it gets over the stages
 *   ({@linkcode singleStageFile}). Only the staging (order and learning-rate decay) differs;
 * - `oracle`: base fine-tuned on the oracle distillation of `train` — the upper bound, not equal compute.
 *
 * A round whose tournament passes nothing has no training file: its model is its parent's, and the result says so.
 * @module
 */
import { join } from "node:path";
import { type Challenge, type Level, loadCatalog, type Split } from "../challenges/mod.ts";
import type { EpisodeRecord, StrategiesConfig, Strategy } from "../agents/mod.ts";
import { type ChatBackend, type ChatModel, labMiniTrainer, loadLabMini, type ModelConfig, servedChatModel } from "../models/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import {
  type CuratedExample,
  type Curation,
  curate,
  type DatasetsConfig,
  datasetsConfig,
  episodeExample,
  exampleMessages,
  LeakageGuard,
  type StageConfig,
  stageSets,
} from "../datasets/mod.ts";
import { REFERENCE_LR, seed000Stages } from "../finetune/mod.ts";
import { seededRandom } from "../stats/mod.ts";
import { type Arm, runSuite, type SuiteEpisode } from "./suite.ts";
import { compare, type Comparison, formatEstimate, type LiftCell, liftCell, rateCell } from "./compare.ts";
import { ORACLE_DISTILL_DATASET, pickInstances, readHonestyDataset, shuffled } from "./honesty.ts";
import { LAB_MINI_LABEL } from "./label.ts";

/**
 * The experiment-level curation config: the committed quality weights and dedup thresholds, with the tiers lowered
 * so that no verified pass is rejected for quality (bronze 0); gold and silver are lowered into the range an
 * unmarked episode can reach (≤ 0.5), so tiers still rank within it.
 */
export const SELF_IMPROVE_CURATION = { tiers: { gold: 0.45, silver: 0.3, bronze: 0 } } as const;

/** Splits the experiment evaluates. */
export type SelfImproveSplit = Extract<Split, "dev" | "test_id">;

/** A chat JSONL line with the lab's metadata. */
export interface TrainingLine {
  messages: Record<string, unknown>[];
  lab: { id: string; family: string; level: number; episode: string; source: "episode" };
}

/** What the experiment runs with. `fineTune` and `models` decide where models live (in process or on a server). */
export interface SelfImproveDeps {
  pool: SandboxPool;
  strategies: StrategiesConfig;
  /** The base model's id. */
  base: string;
  /** Resolves a model id (the base, or one `fineTune` returned) to a chat model. */
  models: (id: string) => ChatModel;
  /**
   * Fine-tunes `parent` on the chat JSONL at `path` and returns the new model's id. `learningRateMultiplier` is the
   * OpenAI-shaped multiplier of the provider's default step (absent: 1).
   */
  fineTune: (parent: string, path: string, options: { seed: number; suffix: string; epochs: number; learningRateMultiplier?: number }) => Promise<string>;
}

/** Options of {@linkcode runSelfImprove}. */
export interface SelfImproveOptions {
  /** Rounds, 1 to 3. @default 2 */
  rounds?: number;
  /** @default [1, 2] */
  levels?: Level[];
  /** Train instances per level (seeded round-robin over families). @default 12 */
  trainPerLevel?: number;
  /** Evaluated instances per level and split. @default all of the split */
  evalPerLevel?: number;
  /** @default ["dev"] */
  splits?: SelfImproveSplit[];
  /** Strategy ids of the train tournament. @default ["beta", "epsilon"] */
  tournamentStrategies?: string[];
  /** Episode seeds per strategy and instance in a train tournament (k = strategies × attempts). @default 4 */
  attempts?: number;
  /** Sampling temperature of the train tournament. @default 0.8 */
  temperature?: number;
  /** Strategy of the evaluation suites (greedy, no examples). @default "beta" */
  evalStrategy?: string;
  /** Seed of every selection, shuffle, fine-tune and evaluation episode. @default 1 */
  seed?: number;
  /** @default 3 */
  epochs?: number;
  /**
   * Seed 000's selection of the progressive stages from the pooled passes (size, composite fitness floor, levels).
   * @default configs/datasets.yaml's defaults: core ≤ 1000 at fitness ≥ 0.9 and levels 1–2, extended ≤ 5000 at ≥ 0.85
   */
  stageSelection?: { core?: StageConfig; extended?: StageConfig };
  /** The oracle distillation for the upper bound; null leaves that arm out. @default ORACLE_DISTILL_DATASET */
  oracleDataset?: string | null;
  /** Leave out the shuffled and unrelated-family controls, greedy self-distillation and single-stage vs progressive. @default false */
  noControls?: boolean;
  /** Overrides of the instance selection (tests): train instances, and evaluated instances per split. */
  instances?: { train?: readonly Challenge[]; evaluated?: Partial<Record<SelfImproveSplit, readonly Challenge[]>> };
  /** Episodes in flight. @default 4 */
  concurrency?: number;
  /** Where training files are written. @default a temp folder, removed at the end */
  workDir?: string;
  onProgress?: (phase: string, done: number, total: number) => void;
}

/** A train tournament's outcome. */
export interface TournamentTally {
  model: string;
  temperature: number;
  instances: number;
  /** Attempts per instance (strategies × seeds). */
  k: number;
  episodes: number;
  passes: number;
  /** Mean pass over every attempt. */
  passAt1: number;
  /** Share of instances with at least one passing attempt. */
  passAtK: number;
  solvedInstances: number;
}

/** A training file: what went in and what curation left out. */
export interface TrainingSet {
  lines: TrainingLine[];
  families: string[];
  /** Curation's counts: examples read, excluded by reason, kept. */
  curation: Pick<Curation, "read" | "excluded"> & { pool: number; kept: number };
}

/** One round of expert iteration. */
export interface SelfImproveRound {
  round: number;
  /** The model the round's tournament ran and its fine-tune started from. */
  parent: string;
  /** The round's model (its parent's when the tournament passed nothing). */
  model: string;
  trained: boolean;
  tournament: TournamentTally;
  dataset: Omit<TrainingSet, "lines"> & { lines: number; path: string | null };
  /** Families some round ≤ this one trained on. */
  trainedFamilies: string[];
  /** Per evaluated split: lifts (paired, clustered by family). */
  eval: Record<string, {
    vsBase: LiftCell | null;
    vsPrevious: LiftCell | null;
    shuffledVsParent: LiftCell | null;
    unrelatedVsParent: LiftCell | null;
    /** vs base, on the instances of families no round ≤ this one trained on. */
    forgetting: LiftCell | null;
  }>;
}

/** One fine-tune of the single-stage vs progressive comparison and its compute. */
export interface StageRun {
  /** `core`, `extended` (progressive stages) or `single`. */
  name: string;
  parent: string;
  model: string;
  /** Lines of its training file (the single stage repeats lines). */
  lines: number;
  /** Distinct training lines (curated examples). */
  distinct: number;
  epochs: number;
  /** Absolute learning rate (seed 000's schedule); the fine-tune gets `learningRate / REFERENCE_LR` as its multiplier. */
  learningRate: number;
  /** Example passes: lines × epochs. */
  examplePasses: number;
}

/** Single-stage vs progressive fine-tuning at equal compute (see the module doc). */
export interface StagesComparison {
  /** Distinct lines of the pooled passes of every round after one curation. */
  pooled: number;
  /** What each stage selected from them (seed 000's rules, scaled down to what exists). */
  selection: { core: string; extended: string };
  /** Seed 000's stages in order, each from the previous stage's model (the first from base). */
  progressive: StageRun[];
  single: StageRun;
  /** Example passes per arm: equal by construction. */
  examplePasses: { progressive: number; single_stage: number };
  /** Per evaluated split: lifts (paired, clustered by family). */
  eval: Record<string, { progressiveVsBase: LiftCell | null; singleVsBase: LiftCell | null; progressiveVsSingle: LiftCell | null }>;
}

/**
 * What {@linkcode runSelfImprove} measured.
 * @internal
 */
export interface SelfImproveResult {
  label: string;
  /** How the training files were curated. */
  curationConfig: string;
  settings: {
    rounds: number;
    levels: number[];
    strategies: string[];
    attempts: number;
    k: number;
    temperature: number;
    epochs: number;
    seed: number;
    evalStrategy: string;
  };
  trainInstances: string[];
  evaluated: Record<string, string[]>;
  rounds: SelfImproveRound[];
  /** Greedy (temperature 0) tournament of round 1's instances and strategies, from base. */
  greedy: TournamentTally | null;
  greedyDataset: { lines: number; families: number } | null;
  /** Per evaluated split: greedy self-distillation vs base, and round 1 vs it (did exploration matter?). */
  greedyEval: Record<string, { vsBase: LiftCell | null; r1VsGreedy: LiftCell | null }>;
  /** Single-stage vs progressive fine-tuning at equal compute; null when left out or nothing passed. */
  stages: StagesComparison | null;
  /** Arm → model id (`r<n>_unrelated`: per level). */
  models: Record<string, string | Record<number, string>>;
  /** Per evaluated split: every arm vs base. */
  comparisons: Record<string, Comparison>;
  /** Per evaluated split: the comparisons' episodes. */
  episodes: SuiteEpisode[];
  notes: string[];
  seconds: number;
}

const toJsonl = (lines: readonly unknown[]) => lines.map((l) => JSON.stringify(l)).join("\n") + "\n";

/** The tally of a train tournament's records. */
export function tallyTournament(records: readonly EpisodeRecord[], model: string, temperature: number, k: number): TournamentTally {
  const byInstance = new Map<string, boolean>();
  for (const r of records) byInstance.set(r.challengeId, (byInstance.get(r.challengeId) ?? false) || r.verdict.pass);
  const passes = records.filter((r) => r.verdict.pass).length;
  const solved = [...byInstance.values()].filter(Boolean).length;
  return {
    model,
    temperature,
    instances: byInstance.size,
    k,
    episodes: records.length,
    passes,
    passAt1: records.length ? passes / records.length : 0,
    passAtK: byInstance.size ? solved / byInstance.size : 0,
    solvedInstances: solved,
  };
}

/**
 * The training set of a round: the passed episodes of `records` through curation (leakage check against the whole
 * catalog, exact and near-duplicates, balance) with `config`, rendered as chat JSONL lines with `lab` metadata.
 */
export function trainingSet(records: readonly EpisodeRecord[], runId: string, guard: LeakageGuard, config: DatasetsConfig): TrainingSet {
  const c = curate(tournamentExamples(records, runId), { config, guard });
  const lines = c.examples.map((e) => trainingLine(e, config));
  return {
    lines,
    families: [...new Set(lines.map((l) => l.lab.family))].sort(),
    curation: { read: c.read, excluded: c.excluded, pool: c.pool.length, kept: c.examples.length },
  };
}

const tournamentExamples = (records: readonly EpisodeRecord[], runId: string) =>
  records.map((r, i) => episodeExample(r, { runId, episodeId: `${r.strategyId}/${r.challengeId}/s${r.seed}/${i}` }));

const trainingLine = (e: CuratedExample, config: DatasetsConfig): TrainingLine => ({
  messages: exampleMessages(e, config.system_prompt) as unknown as Record<string, unknown>[],
  lab: { id: e.challengeId!, family: e.family!, level: e.level!, episode: e.id, source: "episode" },
});

const gcd = (a: number, b: number): number => b ? gcd(b, a % b) : a;

/**
 * The single-stage file that matches progressive `stages` at equal compute: every distinct line of the stages (by
 * `key`) repeated so that it gets exactly the example passes the stages give it (Σ epochs of the stages holding it),
 * in a seeded shuffled order, trained for `epochs` = the greatest common divisor of those passes (1 when they share
 * no factor). So `lines.length × epochs` = Σ stage lines × stage epochs.
 *
 * @example
 * ```ts
 * const f = singleStageFile([{ lines: ["a"], epochs: 5 }, { lines: ["a", "b"], epochs: 3 }], (l) => l, Math.random);
 * // "a" 8 passes, "b" 3: epochs 1, 11 lines ("a" ×8, "b" ×3); 5·1 + 3·2 = 11 passes either way
 * ```
 */
export function singleStageFile<T>(
  stages: readonly { lines: readonly T[]; epochs: number }[],
  key: (line: T) => string,
  rand: () => number,
): { lines: T[]; epochs: number; distinct: number } {
  const passes = new Map<string, { line: T; n: number }>();
  for (const s of stages) {
    if (!Number.isInteger(s.epochs) || s.epochs < 1) throw new RangeError(`a stage's epochs must be a positive integer, found ${s.epochs}`);
    for (const line of s.lines) {
      const k = key(line);
      const p = passes.get(k) ?? passes.set(k, { line, n: 0 }).get(k)!;
      p.n += s.epochs;
    }
  }
  if (!passes.size) return { lines: [], epochs: 1, distinct: 0 };
  const epochs = [...passes.values()].reduce((g, p) => gcd(g, p.n), 0);
  const lines = shuffled([...passes.values()].flatMap((p) => Array.from({ length: p.n / epochs }, () => p.line)), rand);
  return { lines, epochs, distinct: passes.size };
}

/** `lines` resampled (cycled after a seeded shuffle) to `size` lines: the same compute as a set of that size. */
function resampled<T>(lines: readonly T[], size: number, rand: () => number): T[] {
  const order = shuffled(lines, rand);
  return Array.from({ length: size }, (_, i) => order[i % order.length]);
}

/**
 * Runs expert iteration (see the module doc). Results are lab-mini's (or the given model's), not claims about LLMs.
 *
 * @example
 * ```ts
 * const deps = await labMiniSelfImproveDeps({ baseWeights: LAB_MINI_BASE_WEIGHTS, modelEntry, workDir, pool, strategies });
 * const r = await runSelfImprove(deps, { levels: [1, 2], rounds: 2 });
 * console.log(formatSelfImprove(r));
 * ```
 */
export async function runSelfImprove(deps: SelfImproveDeps, options: SelfImproveOptions = {}): Promise<SelfImproveResult> {
  const t0 = performance.now();
  const rounds = options.rounds ?? 2;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 3) throw new RangeError(`rounds must be 1, 2 or 3, found ${rounds}`);
  const seed = options.seed ?? 1;
  const levels = [...(options.levels ?? [1, 2])].sort();
  const splits = options.splits ?? ["dev"];
  const attempts = options.attempts ?? 4;
  const temperature = options.temperature ?? 0.8;
  if (!(temperature > 0)) throw new RangeError(`the train tournament samples: temperature must be > 0, found ${temperature}`);
  const epochs = options.epochs ?? 3;
  const strategyIds = options.tournamentStrategies ?? ["beta", "epsilon"];
  const strategyOf = (id: string): Strategy => {
    const s = deps.strategies.strategies[id];
    if (!s) throw new RangeError(`no strategy '${id}' in ${deps.strategies.source}; known: ${Object.keys(deps.strategies.strategies).join(", ")}`);
    return s;
  };
  const sampled = (id: string, t: number): Strategy => {
    const s = strategyOf(id);
    return { ...s, id: `${s.id}@t${t}`, sampling: { ...s.sampling, temperature: t, n: 1 }, examples: { k: 0 } };
  };
  const evalStrategyId = options.evalStrategy ?? "beta";
  const evalStrategy = sampled(evalStrategyId, 0);
  const k = strategyIds.length * attempts;

  const catalog = await loadCatalog();
  const guard = LeakageGuard.fromCatalog(catalog);
  const curation = datasetsConfig({ ...SELF_IMPROVE_CURATION, stages: options.stageSelection ?? {} }, "self-improve curation");
  const train = [...(options.instances?.train ?? pickInstances(catalog.filter((c) => c.split === "train"), levels, options.trainPerLevel ?? 12, seed))];
  const nonTrain = train.find((c) => c.split !== "train");
  if (nonTrain) throw new RangeError(`train tournament instance ${nonTrain.id} is on split ${nonTrain.split}`);
  const evaluated = Object.fromEntries(splits.map((s) => [
    s,
    [...(options.instances?.evaluated?.[s] ?? pickInstances(catalog.filter((c) => c.split === s), levels, options.evalPerLevel, seed))],
  ])) as Record<SelfImproveSplit, Challenge[]>;
  const evalLevels = [...new Set(Object.values(evaluated).flat().map((c) => c.level))].sort();

  const workDir = options.workDir ?? await Deno.makeTempDir({ prefix: "lab-self-improve-" });
  const ownDir = options.workDir === undefined;
  const notes: string[] = [];
  const models: Record<string, string | Record<number, string>> = { base: deps.base };

  const tournament = async (model: string, t: number, seeds: number[], phase: string) => {
    const records: EpisodeRecord[] = [];
    await runSuite({
      name: `self-improve ${phase}`,
      challenges: train,
      seeds,
      arms: strategyIds.map((id) => ({ id, model, strategy: sampled(id, t) })),
    }, {
      models: deps.models,
      pool: deps.pool,
      fitness: deps.strategies.fitness,
      concurrency: options.concurrency ?? 4,
      onEpisode: (d, n) => options.onProgress?.(phase, d, n),
      onRecord: (_arm, rec) => records.push(rec),
    });
    return records;
  };
  const tuneFile = async (parent: string, path: string, name: string, o: { epochs?: number; learningRate?: number } = {}) => {
    options.onProgress?.(`fine-tune ${name}`, 0, 1);
    const id = await deps.fineTune(parent, path, {
      seed,
      suffix: name.replaceAll("_", "-"),
      epochs: o.epochs ?? epochs,
      ...(o.learningRate === undefined ? {} : { learningRateMultiplier: o.learningRate / REFERENCE_LR }),
    });
    options.onProgress?.(`fine-tune ${name}`, 1, 1);
    return id;
  };
  const tune = async (parent: string, lines: readonly unknown[], name: string, o: { epochs?: number; learningRate?: number } = {}) => {
    const path = join(workDir, `${name}.jsonl`);
    await Deno.writeTextFile(path, toJsonl(lines));
    return { id: await tuneFile(parent, path, name, o), path };
  };
  /** Single-stage vs progressive on the pooled passes of every round, both from base (see the module doc). */
  const stagesComparison = async (passed: readonly { records: readonly EpisodeRecord[]; runId: string }[]): Promise<StagesComparison | null> => {
    const pooled = curate(passed.flatMap((p) => tournamentExamples(p.records, p.runId)), { config: curation, guard });
    const sets = stageSets(pooled, curation);
    const files: { core?: string; extended?: string } = {};
    const lines: Record<string, TrainingLine[]> = {};
    for (const name of ["core", "extended"] as const) {
      if (!sets[name].examples.length) continue;
      lines[name] = sets[name].examples.map((e) => trainingLine(e, curation));
      files[name] = join(workDir, `progressive_${name}.jsonl`);
      await Deno.writeTextFile(files[name], toJsonl(lines[name]));
    }
    const stages = seed000Stages(files);
    if (!stages.length) {
      notes.push(`no single-stage vs progressive comparison: no pooled pass reaches a stage (${sets.core.note}; ${sets.extended.note})`);
      return null;
    }
    if (stages.length < 2) notes.push(`progressive fine-tuning has one stage only (${stages[0].name}): ${sets[stages[0].name === "core" ? "extended" : "core"].note}`);
    const progressive: StageRun[] = [];
    let prev = deps.base;
    for (const stage of stages) {
      const n = lines[stage.name].length;
      const model = await tuneFile(prev, stage.file, `progressive_${stage.name}`, { epochs: stage.epochs, learningRate: stage.learningRate });
      progressive.push({ name: stage.name, parent: prev, model, lines: n, distinct: n, epochs: stage.epochs, learningRate: stage.learningRate, examplePasses: n * stage.epochs });
      prev = model;
    }
    models.progressive = prev;
    const single = singleStageFile(stages.map((st) => ({ lines: lines[st.name], epochs: st.epochs })), (l) => l.lab.episode, seededRandom(seed * 19));
    const learningRate = stages[0].learningRate;
    const { id } = await tune(deps.base, single.lines, "single_stage", { epochs: single.epochs, learningRate });
    models.single_stage = id;
    return {
      pooled: pooled.pool.length,
      selection: { core: sets.core.note, extended: sets.extended.note },
      progressive,
      single: { name: "single", parent: deps.base, model: id, lines: single.lines.length, distinct: single.distinct, epochs: single.epochs, learningRate, examplePasses: single.lines.length * single.epochs },
      examplePasses: { progressive: progressive.reduce((a, st) => a + st.examplePasses, 0), single_stage: single.lines.length * single.epochs },
      eval: {},
    };
  };
  const shuffledAnswers = (lines: readonly TrainingLine[], salt: number) => {
    const tails = shuffled(lines.map((l) => l.messages.slice(2)), seededRandom(seed * 13 + salt));
    return lines.map((l, i) => ({ ...l, messages: [...l.messages.slice(0, 2), ...tails[i]] }));
  };

  const out: SelfImproveRound[] = [];
  const trainedFamilies = new Set<string>();
  let parent = deps.base;
  let greedy: TournamentTally | null = null;
  let greedyDataset: SelfImproveResult["greedyDataset"] = null;
  let stages: StagesComparison | null = null;
  const passed: { records: EpisodeRecord[]; runId: string }[] = [];
  try {
    for (let r = 1; r <= rounds; r++) {
      const seeds = Array.from({ length: attempts }, (_, j) => seed * 100_003 + r * 1_000 + j);
      const records = await tournament(parent, temperature, seeds, `round ${r} train tournament`);
      const tally = tallyTournament(records, parent, temperature, k);
      const set = trainingSet(records, `self-improve-r${r}`, guard, curation);
      passed.push({ records: records.filter((x) => x.verdict.pass), runId: `self-improve-r${r}` });
      let model = parent;
      let path: string | null = null;
      if (set.lines.length) {
        ({ id: model, path } = await tune(parent, set.lines, `r${r}`));
        models[`r${r}`] = model;
        set.families.forEach((f) => trainedFamilies.add(f));
        if (!options.noControls) {
          models[`r${r}_shuffled`] = (await tune(parent, shuffledAnswers(set.lines, r), `r${r}_shuffled`)).id;
          const perLevel: Record<number, string> = {};
          for (const level of evalLevels) {
            const others = set.lines.filter((l) => l.lab.level !== level);
            if (!others.length) continue;
            perLevel[level] = (await tune(parent, resampled(others, set.lines.length, seededRandom(seed * 7 + r * 10 + level)), `r${r}_unrelated_l${level}`)).id;
          }
          if (Object.keys(perLevel).length === evalLevels.length) models[`r${r}_unrelated`] = perLevel;
          else notes.push(`round ${r}: no unrelated-family control — some evaluated level has no line of another level to train on`);
        }
      } else {
        models[`r${r}`] = parent;
        notes.push(`round ${r}: the train tournament passed nothing (pass@${k} ${tally.passAtK}); the round's model is its parent's`);
      }
      out.push({
        round: r,
        parent,
        model,
        trained: set.lines.length > 0,
        tournament: tally,
        dataset: { families: set.families, curation: set.curation, lines: set.lines.length, path },
        trainedFamilies: [...trainedFamilies].sort(),
        eval: {},
      });
      if (r === 1 && !options.noControls) {
        const greedyRecords = await tournament(deps.base, 0, [seed * 100_003], "greedy tournament");
        greedy = tallyTournament(greedyRecords, deps.base, 0, strategyIds.length);
        const g = trainingSet(greedyRecords, "self-improve-greedy", guard, curation);
        greedyDataset = { lines: g.lines.length, families: g.families.length };
        if (g.lines.length && set.lines.length) {
          models.greedy_distill = (await tune(deps.base, resampled(g.lines, set.lines.length, seededRandom(seed * 17)), "greedy_distill")).id;
        } else notes.push("no greedy self-distillation arm: " + (g.lines.length ? "round 1 has no training set to match" : "the greedy tournament passed nothing"));
      }
      parent = model;
    }
    if (!options.noControls) {
      if (passed.some((p) => p.records.length)) stages = await stagesComparison(passed);
      else notes.push("no single-stage vs progressive comparison: no round's tournament passed anything");
    }
    if (options.oracleDataset !== null) {
      const lines = await readHonestyDataset(options.oracleDataset ?? ORACLE_DISTILL_DATASET, new Set(catalog.filter((c) => c.split === "train").map((c) => c.id)));
      models.oracle = (await tune(deps.base, lines.map((l) => l.raw), "oracle")).id;
    }
  } finally {
    if (ownDir) await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }

  const arms: Arm[] = Object.entries(models).map(([id, m]) => ({
    id,
    model: typeof m === "string" ? m : { byLevel: m },
    strategy: evalStrategy,
  }));
  const episodes: SuiteEpisode[] = [];
  const comparisons: Record<string, Comparison> = {};
  const greedyEval: SelfImproveResult["greedyEval"] = {};
  for (const split of splits) {
    const res = await runSuite({ name: `self-improve ${split}`, challenges: evaluated[split], seeds: [seed], arms }, {
      models: deps.models,
      pool: deps.pool,
      fitness: deps.strategies.fitness,
      concurrency: options.concurrency ?? 4,
      onEpisode: (d, n) => options.onProgress?.(`evaluate ${split}`, d, n),
    });
    episodes.push(...res.episodes);
    comparisons[split] = compare(res.episodes, { control: "base" });
    const pair = (control: string, arm: string) => models[control] && models[arm] ? liftCell(compare(res.episodes, { control, arms: [arm] }), arm) ?? null : null;
    if (models.greedy_distill) greedyEval[split] = { vsBase: liftCell(comparisons[split], "greedy_distill") ?? null, r1VsGreedy: pair("greedy_distill", "r1") };
    if (stages) {
      stages.eval[split] = {
        progressiveVsBase: liftCell(comparisons[split], "progressive") ?? null,
        singleVsBase: liftCell(comparisons[split], "single_stage") ?? null,
        progressiveVsSingle: pair("single_stage", "progressive"),
      };
    }
    for (const round of out) {
      const prev = round.round === 1 ? "base" : `r${round.round - 1}`;
      const vsParent = (arm: string) => pair(prev, arm);
      const untrained = res.episodes.filter((e) => !round.trainedFamilies.includes(e.family));
      const forgetting = untrained.some((e) => e.arm === "base")
        ? liftCell(compare(untrained, { control: "base", arms: [`r${round.round}`] }), `r${round.round}`) ?? null
        : null;
      round.eval[split] = {
        vsBase: liftCell(comparisons[split], `r${round.round}`) ?? null,
        vsPrevious: vsParent(`r${round.round}`),
        shuffledVsParent: vsParent(`r${round.round}_shuffled`),
        unrelatedVsParent: vsParent(`r${round.round}_unrelated`),
        forgetting,
      };
    }
  }
  return {
    label: `${LAB_MINI_LABEL} (expert iteration on its own tournaments)`,
    curationConfig: `lab/datasets curation of passed train episodes with tiers ${JSON.stringify(SELF_IMPROVE_CURATION.tiers)} ` +
      "(bronze lowered from 0.6 to 0: every verified, leakage-checked, deduplicated pass is kept; unmarked episodes score ≤ 0.5)",
    settings: { rounds, levels, strategies: strategyIds, attempts, k, temperature, epochs, seed, evalStrategy: evalStrategyId },
    trainInstances: train.map((c) => c.id),
    evaluated: Object.fromEntries(splits.map((s) => [s, evaluated[s].map((c) => c.id)])),
    rounds: out,
    greedy,
    greedyDataset,
    greedyEval,
    stages,
    models,
    comparisons,
    episodes,
    notes,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
}

/**
 * The deps of {@linkcode runSelfImprove} for lab-mini in process: the base weights and every fine-tuned version as
 * backends of `createChatModel`, fine-tuned by lab-mini's trainer (a version continues from its parent version).
 */
export async function labMiniSelfImproveDeps(options: {
  baseWeights: string;
  modelEntry: ModelConfig;
  workDir: string;
  pool: SandboxPool;
  strategies: StrategiesConfig;
}): Promise<SelfImproveDeps> {
  const base = await loadLabMini(options.baseWeights);
  const backends = new Map<string, ChatBackend>([[base.id, base]]);
  const trainer = labMiniTrainer(options.baseWeights, { outDir: options.workDir });
  const clients = new Map<string, ChatModel>();
  return {
    pool: options.pool,
    strategies: options.strategies,
    base: base.id,
    models: (id) => {
      let m = clients.get(id);
      if (!m) {
        const backend = backends.get(id);
        if (!backend) throw new RangeError(`no lab-mini version '${id}' in this experiment`);
        clients.set(id, m = servedChatModel(options.modelEntry, id, { backend }));
      }
      return m;
    },
    fineTune: async (parent, path, o) => {
      const r = await trainer(parent === base.id ? "lab-mini" : parent, path, {
        seed: o.seed,
        suffix: o.suffix,
        hyperparameters: { n_epochs: o.epochs, ...(o.learningRateMultiplier === undefined ? {} : { learning_rate_multiplier: o.learningRateMultiplier }) },
        onEvent: () => {},
      });
      backends.set(r.model, r.backend!);
      return r.model;
    },
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const lift = (c: LiftCell | null | undefined) => c ? `${formatEstimate(c, { signed: true })} (${c.pairs} pairs, ${c.clusters} fam.)` : "–";
const lr = (x: number) => x.toExponential(0).replace("e-", "e−");

/** The compute of the single-stage vs progressive arms, one line each. */
function stagesLines(st: StagesComparison): string[] {
  return [
    `progressive: ${st.progressive.map((s) => `${s.name} ${s.lines} lines × ${s.epochs} epochs at ${lr(s.learningRate)}`).join(" → ")} = ${st.examplePasses.progressive} example passes`,
    `single stage: ${st.single.lines} lines (${st.single.distinct} distinct, repeated to match) × ${st.single.epochs} epochs at ${lr(st.single.learningRate)} = ${st.examplePasses.single_stage} example passes`,
  ];
}

/** The result as text: per round the train tournament, the training set and the lifts; then every arm's rate. */
export function formatSelfImprove(r: SelfImproveResult): string {
  const s = r.settings;
  const out = [
    r.label,
    `levels ${s.levels.join(",")} · ${r.trainInstances.length} train instances · k = ${s.k} (${s.strategies.join(", ")} × ${s.attempts} seeds) at temperature ${s.temperature} · ${s.rounds} rounds · ${s.epochs} epochs · seed ${s.seed} · ${r.seconds} s`,
    `training files: ${r.curationConfig}`,
    "",
  ];
  if (r.greedy) {
    out.push(`greedy (temperature 0) tournament from base: pass@1 ${pct(r.greedy.passAt1)}, pass@${r.greedy.k} ${pct(r.greedy.passAtK)} · ${r.greedyDataset?.lines ?? 0} lines`);
    for (const [split, e] of Object.entries(r.greedyEval ?? {})) out.push(`  ${split}: greedy_distill vs base ${lift(e.vsBase)} · r1 vs greedy_distill ${lift(e.r1VsGreedy)}`);
  }
  for (const round of r.rounds) {
    const t = round.tournament;
    out.push(
      `round ${round.round}: ${round.parent} → ${round.trained ? round.model : "(not trained)"}`,
      `  train tournament: pass@1 ${pct(t.passAt1)} (${t.passes}/${t.episodes}), pass@${t.k} ${pct(t.passAtK)} (${t.solvedInstances}/${t.instances} instances)`,
      `  training set: ${round.dataset.lines} lines, ${round.dataset.families.length} families (read ${round.dataset.curation.read.episode}, failed ${round.dataset.curation.excluded.failedTurn}, duplicates ${round.dataset.curation.excluded.exactDuplicate + round.dataset.curation.excluded.nearDuplicate})`,
    );
    for (const [split, e] of Object.entries(round.eval)) {
      out.push(
        `  ${split}: vs base ${lift(e.vsBase)} · vs previous ${lift(e.vsPrevious)}`,
        `  ${split}: shuffled vs parent ${lift(e.shuffledVsParent)} · unrelated vs parent ${lift(e.unrelatedVsParent)} · forgetting ${lift(e.forgetting)}`,
      );
    }
  }
  if (r.stages) {
    out.push(`single-stage vs progressive at equal compute, both from base on the ${r.stages.pooled} pooled lines of every round:`, ...stagesLines(r.stages).map((l) => `  ${l}`));
    for (const [split, e] of Object.entries(r.stages.eval)) {
      out.push(`  ${split}: progressive vs base ${lift(e.progressiveVsBase)} · single vs base ${lift(e.singleVsBase)} · progressive vs single ${lift(e.progressiveVsSingle)}`);
    }
  }
  for (const [split, c] of Object.entries(r.comparisons)) {
    out.push("", `${split} pass@1 (greedy, same instances and seed), 95 % clustered by family; lift vs base:`);
    for (const arm of [c.control, ...new Set(c.lifts.map((l) => l.arm))]) {
      const rate = rateCell(c, arm);
      if (!rate) continue;
      out.push(`  ${arm.padEnd(16)} ${`${rate.passes}/${rate.episodes} = ${formatEstimate(rate)}`.padEnd(40)} ${arm === c.control ? "" : lift(liftCell(c, arm) ?? null)}`);
    }
  }
  if (r.notes.length) out.push("", ...r.notes.map((n) => `note: ${n}`));
  return out.join("\n");
}

/**
 * One point of the expert-iteration curve: an arm's pass@1 on a split with its 95 % interval (clustered by family).
 * @internal
 */
export interface SelfImproveCurveRow {
  split: string;
  arm: string;
  /** `expert iteration` (base = round 0, then each round), or the control / comparison the arm is. */
  series: string;
  /** The round the arm belongs to (base 0; the pooled and oracle arms at the last round). */
  round: number;
  /** `round` nudged per series so that controls stand beside their round. */
  x: number;
  "pass@1": number;
  lo: number | null;
  hi: number | null;
}

const SERIES: [RegExp, string, number][] = [
  [/^(base|r\d)$/, "expert iteration", 0],
  [/_shuffled$/, "shuffled-answer control", 0.12],
  [/_unrelated$/, "unrelated-family control", 0.24],
  [/^greedy_distill$/, "greedy self-distillation", -0.12],
  [/^progressive$/, "progressive (pooled)", -0.24],
  [/^single_stage$/, "single stage (pooled)", -0.36],
  [/^oracle$/, "oracle (upper bound)", 0.36],
];

/**
 * The expert-iteration curve as rows for a chart: per evaluated split, every arm's pass@1 and interval, with its
 * series and round (controls at the round they control).
 *
 * @example
 * ```ts
 * const rows = selfImproveCurveRows(JSON.parse(await Deno.readTextFile("lab/evals/self_improve_results.json")));
 * ```
 */
export function selfImproveCurveRows(r: SelfImproveResult): SelfImproveCurveRow[] {
  const last = r.rounds.length;
  return Object.entries(r.comparisons).flatMap(([split, c]) =>
    Object.keys(r.models).flatMap((arm) => {
      const rate = rateCell(c, arm);
      const series = SERIES.find(([re]) => re.test(arm));
      if (!rate || !series) return [];
      const round = arm === "base" ? 0 : /^r\d/.test(arm) ? Number(arm.slice(1).split("_")[0]) : arm === "greedy_distill" ? 1 : last;
      return [{ split, arm, series: series[1], round, x: round + series[2], "pass@1": rate.estimate, lo: rate.lo, hi: rate.hi }];
    })
  );
}

/** A lift with what its interval says about zero. */
const judged = (c: LiftCell | null | undefined): string =>
  !c ? "not measured" : c.lo === null || c.hi === null ? lift(c) : `${lift(c)}, ${c.lo > 0 ? "above zero" : c.hi < 0 ? "below zero" : "interval includes zero"}`;

/**
 * A reading of the result generated from its numbers (no number in it that the run did not compute): per evaluated
 * split each round against base and the previous round, the controls, exploration (pass@k vs pass@1 and the greedy
 * arm), single-stage vs progressive and the oracle's headroom.
 */
export function readSelfImprove(r: SelfImproveResult): string[] {
  const out: string[] = [];
  const k = r.settings.k;
  const splits = Object.keys(r.comparisons);
  const headline = splits.includes("test_id") ? "test_id" : splits[0];
  const last = r.rounds.at(-1);
  const trainFamilies = new Set(r.trainInstances.map((id) => id.split("/")[0])).size;
  if (headline && last) {
    const o = liftCell(r.comparisons[headline], "oracle");
    out.push(
      `Headline (${headline}): after ${r.rounds.length} round(s), pass@1 vs base ${judged(last.eval[headline]?.vsBase)}` +
        (o ? `; the oracle-distilled upper bound vs base ${judged(o)}.` : "."),
    );
  }
  const t = r.rounds.map((x) => x.tournament);
  out.push(
    `What bounds it (measured pass@k): ${t.map((x, i) => `round ${i + 1}'s train tournament passed ${pct(x.passAt1)} of attempts (pass@1) and solved ${x.solvedInstances}/${x.instances} instances at least once (pass@${k} ${pct(x.passAtK)})`).join("; ")}` +
      (r.greedy ? `; the greedy tournament from base solved ${r.greedy.solvedInstances}/${r.greedy.instances} (pass@${r.greedy.k} ${pct(r.greedy.passAtK)}), its passes covering ${r.greedyDataset?.families ?? 0} families` : "") +
      (r.greedy && t[0] ? `. Sampling solves ${t[0].solvedInstances - r.greedy.solvedInstances} more train instances than greedy decoding in round 1` : "") +
      `; each round's deduplicated passes are ${r.rounds.map((x) => x.dataset.lines).join(", ")} lines from ${r.rounds.map((x) => x.dataset.families.length).join(", ")} of the ${trainFamilies} train families, while the oracle's file holds a trace of every train instance.`,
  );
  for (const split of splits) {
    const c = r.comparisons[split];
    const base = rateCell(c, "base");
    const rounds = r.rounds.map((x) => {
      const e = x.eval[split];
      return `round ${x.round} ${judged(e?.vsBase)} vs base, ${judged(e?.vsPrevious)} vs the previous round`;
    });
    out.push(`${split}: base pass@1 ${base ? formatEstimate(base) : "–"} %; ${rounds.join("; ")}.`);
    const controls = r.rounds.map((x) => {
      const e = x.eval[split];
      return `round ${x.round}: shuffled ${judged(e?.shuffledVsParent)}, unrelated ${judged(e?.unrelatedVsParent)}, forgetting ${judged(e?.forgetting)}`;
    });
    out.push(`${split} controls vs each round's parent (forgetting: vs base): ${controls.join("; ")}.`);
    const g = r.greedyEval?.[split];
    if (g) out.push(`${split} exploration: greedy self-distillation ${judged(g.vsBase)} vs base; round 1 vs it ${judged(g.r1VsGreedy)}.`);
    const st = r.stages?.eval[split];
    if (st) {
      out.push(
        `${split} staging at equal compute (${r.stages!.examplePasses.progressive} vs ${r.stages!.examplePasses.single_stage} example passes): progressive ${judged(st.progressiveVsBase)} vs base, single stage ${judged(st.singleVsBase)} vs base, progressive vs single ${judged(st.progressiveVsSingle)}.`,
      );
    }
    const o = liftCell(c, "oracle");
    if (o) out.push(`${split} upper bound: the oracle-distilled fine-tune (one fine-tune on the oracle's traces of every train instance, not equal compute) ${judged(o)} vs base.`);
  }
  return out;
}

/** What {@linkcode formatSelfImproveMarkdown} writes in its header. */
export interface SelfImproveMarkdownOptions {
  /** The exact command that produced the result. */
  command: string;
  /** The git commit it ran on (and whether the tree had uncommitted changes). */
  commit: string;
  /** @default today (UTC) */
  date?: string;
  /** Where the full result (JSON) is committed. */
  json?: string;
}

/**
 * The result as a Markdown report: command, commit and settings, the per-round table (train pass@1 and pass@k, and
 * per evaluated split pass@1 with paired 95 % intervals clustered by family vs base and vs the previous round), the
 * controls and forgetting, greedy self-distillation, single-stage vs progressive with their compute, the oracle upper
 * bound, every arm's rate and {@linkcode readSelfImprove}. Every number comes from `r`.
 */
export function formatSelfImproveMarkdown(r: SelfImproveResult, options: SelfImproveMarkdownOptions): string {
  const s = r.settings;
  const splits = Object.keys(r.comparisons);
  const rate = (split: string, arm: string) => {
    const c = rateCell(r.comparisons[split], arm);
    return c ? `${c.passes}/${c.episodes} = ${formatEstimate(c)} %` : "–";
  };
  const cell = (c: LiftCell | null | undefined) => c ? `${formatEstimate(c, { signed: true })} (${c.clusters} fam.)` : "–";
  const families = (ids: readonly string[]) => new Set(ids.map((id) => id.split("/")[0])).size;
  const out = [
    "# Expert iteration on lab-mini's own tournaments — committed long run",
    "",
    `${r.label}. Generated by \`lab/evals/self_improve.ts\` (\`formatSelfImproveMarkdown\`) from the run's result; every number below was computed by that run.${options.json ? ` The full result (every episode, comparison and model id) is \`${options.json}\`.` : ""}`,
    "",
    `- Command: \`${options.command}\``,
    `- Git commit: ${options.commit} · date ${options.date ?? new Date().toISOString().slice(0, 10)} · wall time ${r.seconds} s`,
    `- Settings: ${s.rounds} rounds · levels ${s.levels.join(", ")} · ${r.trainInstances.length} train instances (${families(r.trainInstances)} families) · tournament strategies ${s.strategies.join(", ")} × ${s.attempts} seeds = k ${s.k} attempts per instance at temperature ${s.temperature} · ${s.epochs} epochs per round's fine-tune · seed ${s.seed} · evaluation greedy (temperature 0) with strategy ${s.evalStrategy}, one seed, the same instances for every arm`,
    `- Evaluated: ${splits.map((sp) => `\`${sp}\` ${r.evaluated[sp]?.length ?? 0} instances (${families(r.evaluated[sp] ?? [])} families)`).join(", ")}; \`test_id\` is the headline, \`dev\` chose the settings.`,
    `- Training files: ${r.curationConfig}.`,
    "- Intervals: 95 %, paired on the same instances and seed, cluster-robust with one cluster per family (`lab/evals/compare.ts`); a cell with fewer than 10 families has no interval (its family count is shown). Lifts in points of pass@1.",
    "",
    "## Per round",
    "",
    `| round | parent → model | train pass@1 | train pass@${s.k} | training lines (families) | ${splits.map((sp) => `${sp} pass@1 [95 %] | ${sp} vs base | ${sp} vs previous`).join(" | ")} |`,
    `|---|---|---|---|---|${splits.map(() => "---|---|---|").join("")}`,
    `| 0 (base) | ${r.models.base} | ${r.greedy ? `greedy: ${pct(r.greedy.passAt1)}` : "–"} | ${r.greedy ? `greedy pass@${r.greedy.k}: ${pct(r.greedy.passAtK)}` : "–"} | – | ${splits.map((sp) => `${rate(sp, "base")} | – | –`).join(" | ")} |`,
    ...r.rounds.map((x) => {
      const t = x.tournament;
      return `| ${x.round} | ${x.parent} → ${x.trained ? x.model : "(not trained)"} | ${pct(t.passAt1)} (${t.passes}/${t.episodes}) | ${pct(t.passAtK)} (${t.solvedInstances}/${t.instances}) | ${x.dataset.lines} (${x.dataset.families.length}) | ${
        splits.map((sp) => `${rate(sp, `r${x.round}`)} | ${cell(x.eval[sp]?.vsBase)} | ${cell(x.eval[sp]?.vsPrevious)}`).join(" | ")
      } |`;
    }),
    "",
    "## Controls and forgetting",
    "",
    "Each control is fine-tuned from the same parent as its round, on as many lines for as many epochs (the same compute); lifts are vs that parent. Forgetting: the round vs base on the families no round so far trained on.",
    "",
    `| round | ${splits.map((sp) => `${sp} shuffled answers | ${sp} unrelated families | ${sp} forgetting`).join(" | ")} |`,
    `|---|${splits.map(() => "---|---|---|").join("")}`,
    ...r.rounds.map((x) => `| ${x.round} | ${splits.map((sp) => `${cell(x.eval[sp]?.shuffledVsParent)} | ${cell(x.eval[sp]?.unrelatedVsParent)} | ${cell(x.eval[sp]?.forgetting)}`).join(" | ")} |`),
    "",
    "## Did exploration matter? Greedy self-distillation",
    "",
  ];
  if (r.greedy && r.greedyEval && Object.keys(r.greedyEval).length) {
    out.push(
      `Base fine-tuned on the greedy (temperature 0) successes of round 1's instances and strategies (pass@1 ${pct(r.greedy.passAt1)}, ${r.greedyDataset?.lines ?? 0} distinct lines from ${r.greedyDataset?.families ?? 0} families), resampled to round 1's ${r.rounds[0]?.dataset.lines ?? 0} lines for ${s.epochs} epochs.`,
      "",
      `| split | greedy_distill pass@1 | vs base | round 1 vs greedy_distill |`,
      "|---|---|---|---|",
      ...Object.entries(r.greedyEval).map(([sp, e]) => `| ${sp} | ${rate(sp, "greedy_distill")} | ${cell(e.vsBase)} | ${cell(e.r1VsGreedy)} |`),
    );
  } else out.push("Not run (see the notes).");
  out.push("", "## Single-stage vs progressive fine-tuning at equal compute", "");
  if (r.stages) {
    const st = r.stages;
    out.push(
      `Both from base on the ${st.pooled} distinct lines pooled from every round's passes (curated once). Progressive runs seed 000's stages, each from the previous stage's model (core: ${st.selection.core}; extended: ${st.selection.extended}); the single stage trains once on the same distinct lines, each repeated so that it gets the same example passes, at the first stage's learning rate.`,
      "",
      "| arm | stage | parent | lines (distinct) | epochs | learning rate | example passes |",
      "|---|---|---|---|---|---|---|",
      ...st.progressive.map((x) => `| progressive | ${x.name} | ${x.parent} | ${x.lines} (${x.distinct}) | ${x.epochs} | ${lr(x.learningRate)} | ${x.examplePasses} |`),
      `| single_stage | single | ${st.single.parent} | ${st.single.lines} (${st.single.distinct}) | ${st.single.epochs} | ${lr(st.single.learningRate)} | ${st.single.examplePasses} |`,
      "",
      `Example passes: progressive ${st.examplePasses.progressive}, single stage ${st.examplePasses.single_stage}${st.examplePasses.progressive === st.examplePasses.single_stage ? " (equal)" : " (NOT equal)"}.`,
      "",
      "| split | progressive pass@1 | single_stage pass@1 | progressive vs base | single vs base | progressive vs single |",
      "|---|---|---|---|---|---|",
      ...Object.entries(st.eval).map(([sp, e]) => `| ${sp} | ${rate(sp, "progressive")} | ${rate(sp, "single_stage")} | ${cell(e.progressiveVsBase)} | ${cell(e.singleVsBase)} | ${cell(e.progressiveVsSingle)} |`),
    );
  } else out.push("Not run (see the notes).");
  out.push("", "## Upper bound: oracle distillation", "");
  if (r.models.oracle) {
    out.push(
      "Base fine-tuned on the oracle's traces of every `train` instance (`data/datasets/oracle_distill_train.jsonl`): what fine-tuning can reach with perfect data; not equal compute.",
      "",
      "| split | oracle pass@1 | vs base |",
      "|---|---|---|",
      ...splits.map((sp) => `| ${sp} | ${rate(sp, "oracle")} | ${cell(liftCell(r.comparisons[sp], "oracle"))} |`),
    );
  } else out.push("Not run.");
  out.push("", "## Every arm", "", `| arm | model | ${splits.map((sp) => `${sp} pass@1 [95 %] | ${sp} vs base`).join(" | ")} |`, `|---|---|${splits.map(() => "---|---|").join("")}`);
  for (const [arm, m] of Object.entries(r.models)) {
    const model = typeof m === "string" ? m : Object.entries(m).map(([l, id]) => `L${l}: ${id}`).join(", ");
    out.push(`| ${arm} | ${model} | ${splits.map((sp) => `${rate(sp, arm)} | ${arm === "base" ? "–" : cell(liftCell(r.comparisons[sp], arm))}`).join(" | ")} |`);
  }
  out.push("", "## Reading (generated from the numbers above)", "", ...readSelfImprove(r).map((l) => `- ${l}`));
  if (r.notes.length) out.push("", "## Notes", "", ...r.notes.map((n) => `- ${n}`));
  return out.join("\n") + "\n";
}
