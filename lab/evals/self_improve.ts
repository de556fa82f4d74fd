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
 * Forgetting: round r vs base on the evaluated instances of families no round ≤ r trained on. Comparisons:
 * `greedy_distill` (base fine-tuned on the greedy, temperature-0 successes of round 1's train instances and
 * strategies, resampled to round 1's size: did exploration matter?) and `oracle` (base fine-tuned on the oracle
 * distillation of `train`: the upper bound, not equal compute). Single-stage vs progressive fine-tuning is not run
 * here: every round is one stage.
 *
 * A round whose tournament passes nothing has no training file: its model is its parent's, and the result says so.
 * @module
 */
import { join } from "node:path";
import { type Challenge, type Level, loadCatalog, type Split } from "../challenges/mod.ts";
import type { EpisodeRecord, StrategiesConfig, Strategy } from "../agents/mod.ts";
import { type ChatBackend, type ChatModel, createChatModel, labMiniTrainer, loadLabMini, type ModelConfig } from "../models/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import {
  type Curation,
  curate,
  type DatasetsConfig,
  datasetsConfig,
  episodeExample,
  exampleMessages,
  LeakageGuard,
} from "../datasets/mod.ts";
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
  /** Fine-tunes `parent` on the chat JSONL at `path` and returns the new model's id. */
  fineTune: (parent: string, path: string, options: { seed: number; suffix: string; epochs: number }) => Promise<string>;
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
  /** The oracle distillation for the upper bound; null leaves that arm out. @default ORACLE_DISTILL_DATASET */
  oracleDataset?: string | null;
  /** Leave out the shuffled and unrelated-family controls and greedy self-distillation. @default false */
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

/** What {@linkcode runSelfImprove} measured. */
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
  const examples = records.map((r, i) => episodeExample(r, { runId, episodeId: `${r.strategyId}/${r.challengeId}/s${r.seed}/${i}` }));
  const c = curate(examples, { config, guard });
  const lines: TrainingLine[] = c.examples.map((e) => ({
    messages: exampleMessages(e, config.system_prompt) as unknown as Record<string, unknown>[],
    lab: { id: e.challengeId!, family: e.family!, level: e.level!, episode: e.id, source: "episode" },
  }));
  return {
    lines,
    families: [...new Set(lines.map((l) => l.lab.family))].sort(),
    curation: { read: c.read, excluded: c.excluded, pool: c.pool.length, kept: c.examples.length },
  };
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
  const curation = datasetsConfig(SELF_IMPROVE_CURATION, "self-improve curation");
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
  const tune = async (parent: string, lines: readonly unknown[], name: string) => {
    const path = join(workDir, `${name}.jsonl`);
    await Deno.writeTextFile(path, toJsonl(lines));
    options.onProgress?.(`fine-tune ${name}`, 0, 1);
    const id = await deps.fineTune(parent, path, { seed, suffix: name.replaceAll("_", "-"), epochs });
    options.onProgress?.(`fine-tune ${name}`, 1, 1);
    return { id, path };
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
  try {
    for (let r = 1; r <= rounds; r++) {
      const seeds = Array.from({ length: attempts }, (_, j) => seed * 100_003 + r * 1_000 + j);
      const records = await tournament(parent, temperature, seeds, `round ${r} train tournament`);
      const tally = tallyTournament(records, parent, temperature, k);
      const set = trainingSet(records, `self-improve-r${r}`, guard, curation);
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
    for (const round of out) {
      const prev = round.round === 1 ? "base" : `r${round.round - 1}`;
      const vsParent = (arm: string) => models[arm] ? liftCell(compare(res.episodes, { control: prev, arms: [arm] }), arm) ?? null : null;
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
        clients.set(id, m = createChatModel({ ...options.modelEntry, model: id, name: `lab-mini:${id}` }, { backend }));
      }
      return m;
    },
    fineTune: async (parent, path, o) => {
      const r = await trainer(parent === base.id ? "lab-mini" : parent, path, { seed: o.seed, suffix: o.suffix, hyperparameters: { n_epochs: o.epochs }, onEvent: () => {} });
      backends.set(r.model, r.backend!);
      return r.model;
    },
  };
}

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const lift = (c: LiftCell | null) => c ? `${formatEstimate(c, { signed: true })} (${c.pairs} pairs, ${c.clusters} fam.)` : "–";

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
