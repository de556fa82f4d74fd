/**
 * The honesty experiment of lab-mini (issue "lab-mini", section "Honesty checks"): does lab-mini get better on
 * held-out instances from in-context examples and from fine-tuning — and do the controls (unrelated examples,
 * shuffled answers, unrelated families) stay flat?
 *
 * Arms (every arm runs the same instances with the same episode seed and sampling):
 * - `base`: lab-mini with its committed base weights, no examples;
 * - `icl_same`: up to 3 dataset lines of the instance's own family (distinct train templates first) injected
 *   (injection format v1). Selection by family label is an **upper bound** on what retrieval could do;
 * - `icl_unrelated`: 3 lines of families of another level and category;
 * - `ft`: fine-tuned on the whole dataset;
 * - `ft_shuffled`: same size and epochs, the assistant turns (SQL, results, answers) permuted across lines;
 * - `ft_unrelated`: per evaluated level, fine-tuned only on lines of the other levels (resampled to the same
 *   size, so the same compute);
 * - `ft_forget`: fine-tuned on half of the families (chosen per level by seeded hash), evaluated only on the
 *   instances of families it was NOT trained on — its lift vs base is the forgetting check.
 *
 * The dataset is a chat JSONL with a `lab: {id, family, level}` field per line (e.g. the oracle distillation of
 * `train`, `data/datasets/oracle_distill_train.jsonl`); every line must be a `train` instance, or the run stops.
 *
 * Path: the lab's runner (`runEpisode`) → `servedChatModel` (LangChain over HTTP) → the local OpenAI-compatible
 * server, with the base and fine-tuned lab-mini versions registered as its backends. The server is a face the
 * library may not import, so the caller passes `serve` (the CLI and the test pass `startServer`).
 *
 * Several runs (splits × seeds) are pooled by {@linkcode pooledLifts} (pairs of every seed, clustered by
 * family), checked against the issue's targets by {@linkcode honestyChecks}, and written as Markdown by
 * {@linkcode formatLabMiniMarkdown} (`lab experiment labmini --splits … --seeds … --markdown
 * lab/evals/LABMINI_RESULTS.md`).
 *
 * Language checks (issue 18). Besides the arms, a run on `dev` or `test_id` also runs the base model, without
 * examples, on the `train` instances of the same families (their train templates with train values, same seed and
 * settings): {@linkcode trainReference} reports the **transfer gap** — per family, base success on the split minus
 * base success on train, averaged over families with a 95 % t interval over families (target: within ±5 points) —
 * and, when `previousWeights` is given (the CLI's `--previous-weights`, by default
 * `data/models/lab-mini-base-v1.json`), the **regression** of the new base weights on those train instances: the
 * paired lift new − previous, clustered by family (target: ≥ −2 points). Both become rows of
 * {@linkcode honestyChecks}. {@linkcode wordingFeatureCells} gives success by wording feature (the catalog's
 * template tags, `(original)` for its untagged first wordings) × level for `base`, `icl_same` and `ft`: the
 * robustness report.
 * @module
 */
import { join } from "node:path";
import { type Challenge, type Level, type Split, loadCatalog, WORDING_FEATURES } from "../challenges/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import {
  type ChatBackend,
  type InjectedExample,
  labMiniTrainer,
  loadLabMini,
  type ModelConfig,
  servedChatModel,
} from "../models/mod.ts";
import type { EpisodeRecord, PatternSource, StrategiesConfig, Strategy } from "../agents/mod.ts";
import { clusteredMeanCI, seededRandom } from "../stats/mod.ts";
import { type Arm, runSuite, type SuiteEpisode } from "./suite.ts";
import { compare, type Estimate, formatEstimate, type LiftCell, type RateCell, tooFewClusters } from "./compare.ts";
import { LAB_MINI_LABEL } from "./label.ts";
import { repoPath } from "../util/mod.ts";

/** The oracle distillation of `train` (written by the test-support script `lab/challenges/_oracle/distill.ts`). */
export const ORACLE_DISTILL_DATASET: string = repoPath("data/datasets/oracle_distill_train.jsonl");

/** What an experiment evaluates: a catalog split, or `external` (a researcher's own challenge set, any split). */
export type EvaluatedSet = Split | "external";

/** The arms, in report order. */
export const HONESTY_ARMS = ["base", "icl_same", "icl_unrelated", "ft", "ft_shuffled", "ft_unrelated", "ft_forget"] as const;
/** One arm. */
export type HonestyArm = (typeof HONESTY_ARMS)[number];

/** A running OpenAI-compatible server serving the given backends (e.g. `startServer` of `lab/serve`). */
export type ServeBackends = (backends: Record<string, ChatBackend>) => Promise<{ url: string; close(): Promise<void> }>;

/**
 * Options for {@linkcode runLabMiniHonesty}.
 * @internal
 */
export interface LabMiniHonestyOptions {
  /**
   * The evaluated split (tune on `dev`, report `test_id` and `test_ood`), or `"external"`: the instances of the
   * families in `external`, whatever split the loader gives them (the train dataset stays the catalog's).
   */
  split: EvaluatedSet;
  /** Challenge files or folders (family YAMLs in the catalog's format) evaluated when `split` is `"external"`. */
  external?: readonly string[];
  /** @default all five */
  levels?: Level[];
  /** Instances per level, picked by seeded round-robin over families. @default all of the split */
  perLevel?: number;
  /** Episode seed (every arm uses it) and the seed of every selection, shuffle and fine-tune. @default 1 */
  seed?: number;
  /** Sampling temperature of every arm (0 = greedy). @default 0 */
  temperature?: number;
  /** Serves the backends over HTTP (pass `startServer` wrapped: `(b) => startServer({ port: 0, backends: b })`). */
  serve: ServeBackends;
  /** A sandbox pool on the tiny sandbox (the catalog's instances run there). */
  pool: SandboxPool;
  /** configs/strategies.yaml as read. */
  strategies: StrategiesConfig;
  /** lab-mini's entry of configs/models.yaml (every arm's chat model is this entry at another model id). */
  modelEntry: ModelConfig;
  /** lab-mini's base weights file (`LAB_MINI_BASE_WEIGHTS` of `lab/models`). */
  baseWeights: string;
  /** The train dataset (chat JSONL with `lab` metadata). @default {@linkcode ORACLE_DISTILL_DATASET} */
  dataset?: string;
  /** @default every arm */
  arms?: readonly HonestyArm[];
  /** Strategy of configs/strategies.yaml the agent runs (budgets raised to 40 steps so copied plans fit). @default "beta" */
  strategy?: string;
  /** Fine-tuning epochs of every ft arm. @default 3 */
  epochs?: number;
  /**
   * Similarity threshold of lab-mini's in-context copy mechanism for the base model's backend (a hyperparameter
   * to tune on `dev` only). @default lab-mini's own (0.62)
   */
  copyThreshold?: number;
  /** Episodes in flight (at most the pool's size is useful). @default 4 */
  concurrency?: number;
  /**
   * Also run the base model (no examples) on the `train` instances of the evaluated families — the transfer check's
   * reference (see the module notes). Only on `dev` and `test_id` (other sets share no family with train).
   * @default true
   */
  trainReference?: boolean;
  /**
   * Earlier base weights, run like the base model on the same `train` instances (the regression check). Needs the
   * train reference. @default none
   */
  previousWeights?: string;
  /**
   * Train references already run in this process, by their settings (pass one map to every split × seed): `dev`
   * and `test_id` share their families, so at one seed and the same settings their train reference is the same
   * run — deterministic for a seed — and is reused instead of run again.
   */
  trainRuns?: Map<string, TrainRun>;
  /** Keep each episode's messages in the result (for inspection and tests). @default false */
  keepMessages?: boolean;
  /** Called after each episode. */
  onProgress?: (done: number, total: number) => void;
}

/** One episode of the experiment: a suite episode, with its conversation when `keepMessages` is set. */
export interface HonestyEpisode extends SuiteEpisode {
  messages?: EpisodeRecord["messages"];
}

/**
 * What {@linkcode runLabMiniHonesty} measured.
 * @internal
 */
export interface LabMiniHonestyResult {
  label: string;
  split: EvaluatedSet;
  levels: number[];
  perLevel: number | null;
  seed: number;
  temperature: number;
  strategy: string;
  /** The copy threshold given, or null for lab-mini's default. */
  copyThreshold: number | null;
  dataset: { path: string; lines: number; families: number };
  /** Evaluated instance ids (every arm ran these, `ft_forget` the subset of families it was not trained on). */
  instances: string[];
  /** Families `ft_forget` was trained on. */
  forgetTrainedFamilies: string[];
  /** Model id per arm (`ft_unrelated`: per level). */
  models: Record<string, string>;
  /** The base model as its backend describes itself (weights hash included). */
  baseModel: string;
  /** Success per arm × level, clustered by family. */
  cells: RateCell[];
  /** Lifts over `base` per arm × level, clustered by family. */
  lifts: LiftCell[];
  episodes: HonestyEpisode[];
  /** Per evaluated instance, its template's wording features, or `["(original)"]` for an untagged template. */
  wordings: Record<string, string[]>;
  /**
   * The base model (arm `base`) and the previous base weights (arm `previous`) on the `train` instances of the
   * evaluated families; null when not run (`test_ood`, `external`, or `trainReference: false`).
   */
  train: TrainRun | null;
  seconds: number;
}

/** The train reference of one run: what ran, and its episodes (arms `base` and, with previous weights, `previous`). */
export interface TrainRun {
  /** The train instance ids (same levels and per-level count as the evaluated set, only its families). */
  instances: string[];
  /** The previous weights file, or null. */
  previousWeights: string | null;
  /** The previous model as its backend describes itself, or null. */
  previousModel: string | null;
  episodes: HonestyEpisode[];
}

/** One line of the dataset. */
interface Line {
  raw: Record<string, unknown> & { messages: Record<string, unknown>[] };
  id: string;
  family: string;
  level: number;
  templateKey: string;
}

/** Reads a chat JSONL dataset with `lab` metadata; every line must be one of `trainIds`. */
export async function readHonestyDataset(path: string, trainIds: ReadonlySet<string>): Promise<Line[]> {
  const text = await Deno.readTextFile(path).catch((e) => {
    throw new Error(`cannot read the dataset ${path} (${(e as Error).message}); write it with 'npx deno run -A lab/challenges/_oracle/distill.ts'`);
  });
  const out: Line[] = [];
  text.split("\n").forEach((l, i) => {
    if (!l.trim()) return;
    const raw = JSON.parse(l);
    const lab = raw?.lab;
    if (!Array.isArray(raw?.messages) || typeof lab?.id !== "string" || typeof lab?.family !== "string") {
      throw new Error(`${path}:${i + 1}: each line needs messages and lab: {id, family, level}`);
    }
    if (!trainIds.has(lab.id)) throw new Error(`${path}:${i + 1}: ${lab.id} is not a train instance; a dataset may hold train instances only`);
    out.push({ raw, id: lab.id, family: lab.family, level: Number(lab.level), templateKey: lab.id.split("/").slice(0, 2).join("/") });
  });
  return out;
}

/** The injected example of a dataset line: its task, role and dbRead/dbWrite calls in order. */
export function lineToExample(line: Line, role: string): InjectedExample {
  const msgs = line.raw.messages as { role: string; content?: string | null; tool_calls?: { function: { name: string; arguments: string } }[] }[];
  const calls: InjectedExample["calls"] = [];
  let answer: unknown;
  for (const m of msgs) {
    for (const c of m.role === "assistant" ? m.tool_calls ?? [] : []) {
      const args = JSON.parse(c.function.arguments);
      if (c.function.name === "dbRead" || c.function.name === "dbWrite") calls.push({ tool: c.function.name, sql: String(args.sql) });
      if (c.function.name === "submitAnswer") answer = args.answer;
    }
  }
  const shape = calls.some((c) => c.tool === "dbWrite")
    ? "action"
    : typeof answer === "number" ? "number" : Array.isArray(answer) ? "rows" : answer && typeof answer === "object" ? "object" : "text";
  return { task: String(msgs.find((m) => m.role === "user")?.content ?? ""), role, calls, answerShape: shape };
}

/** A copy of `items` in a random order drawn from `rand` (Fisher–Yates, from the end). */
export function shuffled<T>(items: readonly T[], rand: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/** Instances per level: seeded round-robin over families, so a small sample still spreads over families. */
export function pickInstances(all: readonly Challenge[], levels: readonly number[], perLevel: number | undefined, seed: number): Challenge[] {
  const out: Challenge[] = [];
  for (const level of levels) {
    const byFamily = new Map<string, Challenge[]>();
    for (const c of all.filter((c) => c.level === level)) byFamily.set(c.family, [...byFamily.get(c.family) ?? [], c]);
    const rand = seededRandom(seed * 1009 + level);
    const queues = shuffled([...byFamily.keys()].sort(), rand).map((f) => shuffled(byFamily.get(f)!, rand));
    const want = perLevel ?? queues.reduce((s, q) => s + q.length, 0);
    let taken = 0;
    while (taken < want && queues.some((q) => q.length)) {
      for (const q of queues) {
        if (taken >= want) break;
        const c = q.shift();
        if (c) {
          out.push(c);
          taken++;
        }
      }
    }
  }
  return out;
}

const toJsonl = (lines: readonly Record<string, unknown>[]) => lines.map((l) => JSON.stringify(l)).join("\n") + "\n";

/**
 * Runs the honesty experiment as one suite and returns per arm × level success rates and paired lifts over `base`
 * (95 % intervals and sign-flip p-values over families, McNemar for reference). Results are lab-mini's, on the given dataset — not
 * claims about LLMs.
 *
 * @example
 * ```ts
 * await using ctx = await LabContext.open();
 * const r = await runLabMiniHonesty({
 *   split: "dev", levels: [1, 2], perLevel: 6, seed: 1, temperature: 0, baseWeights: LAB_MINI_BASE_WEIGHTS,
 *   serve: (backends) => startServer({ port: 0, backends }),
 *   pool: await ctx.catalogPool(), strategies: ctx.strategies, modelEntry: getModelConfig(ctx.models, "lab-mini"),
 * });
 * console.log(formatLabMiniHonesty(r));
 * ```
 */
export async function runLabMiniHonesty(options: LabMiniHonestyOptions): Promise<LabMiniHonestyResult> {
  const t0 = performance.now();
  const seed = options.seed ?? 1;
  const temperature = options.temperature ?? 0;
  const levels = [...(options.levels ?? [1, 2, 3, 4, 5])].sort();
  const arms = HONESTY_ARMS.filter((a) => (options.arms ?? HONESTY_ARMS).includes(a));
  if (!arms.includes("base")) arms.unshift("base");
  const datasetPath = options.dataset ?? ORACLE_DISTILL_DATASET;
  const epochs = options.epochs ?? 3;

  const catalog = await loadCatalog();
  const trainIds = new Set(catalog.filter((c) => c.split === "train").map((c) => c.id));
  const roleOf = new Map(catalog.map((c) => [c.id, c.role]));
  const famInfo = new Map(catalog.map((c) => [c.family, { level: c.level, category: c.category }]));
  const lines = await readHonestyDataset(datasetPath, trainIds);
  const external = options.external?.length ? options.external : undefined;
  if ((options.split === "external") !== Boolean(external)) {
    throw new RangeError(`runLabMiniHonesty: split "external" and external challenge paths go together (split ${options.split}, ${external?.length ?? 0} paths)`);
  }
  // An external set's instances are evaluated whatever split the loader gives them: the catalog's splits do not apply.
  const evaluated = external ? await loadCatalog({ extra: external, origin: "extra" }) : catalog.filter((c) => c.split === options.split);
  const instances = pickInstances(evaluated, levels, options.perLevel, seed);
  if (!instances.length) throw new RangeError(`no ${options.split} instances at levels ${levels.join(",")}`);
  // The train reference: the evaluated families' train instances, picked as the evaluated ones were.
  const withReference = (options.trainReference ?? true) && (options.split === "dev" || options.split === "test_id");
  const evaluatedFamilies = new Set(instances.map((c) => c.family));
  const reference = withReference
    ? pickInstances(catalog.filter((c) => c.split === "train" && evaluatedFamilies.has(c.family)), levels, options.perLevel, seed)
    : [];

  // Fine-tuned versions: each written under a temp dir, served beside the base.
  const workDir = await Deno.makeTempDir({ prefix: "lab-honesty-" });
  const backends: Record<string, ChatBackend> = {};
  const base = await loadLabMini(options.baseWeights, options.copyThreshold === undefined ? {} : { copy: { threshold: options.copyThreshold } });
  backends[base.id] = base;
  // The same settings and train instances: the same run (reused from `trainRuns`).
  const referenceKey = JSON.stringify([
    seed, temperature, options.strategy ?? "beta", options.copyThreshold ?? null, options.baseWeights, options.previousWeights ?? null,
    Boolean(options.keepMessages), reference.map((c) => c.id),
  ]);
  const reused = reference.length ? options.trainRuns?.get(referenceKey) : undefined;
  const previous = options.previousWeights && reference.length && !reused
    ? await loadLabMini(options.previousWeights, { id: `${base.id}-previous`, ...(options.copyThreshold === undefined ? {} : { copy: { threshold: options.copyThreshold } }) })
    : undefined;
  if (previous) backends[previous.id] = previous;
  const models: Record<string, string> = { base: base.id, icl_same: base.id, icl_unrelated: base.id };
  const trainer = labMiniTrainer(options.baseWeights, { outDir: workDir });
  const tune = async (name: string, data: readonly Record<string, unknown>[]) => {
    const path = join(workDir, `${name}.jsonl`);
    await Deno.writeTextFile(path, toJsonl(data));
    const r = await trainer("lab-mini", path, { seed, suffix: name.replaceAll("_", "-"), hyperparameters: { n_epochs: epochs }, onEvent: () => {} });
    backends[r.model] = r.backend!;
    return r.model;
  };
  const sameSize = (pool: readonly Line[], salt: number) => {
    // Resampled (cycled after a seeded shuffle) to the full dataset's size: the same compute as `ft`.
    const order = shuffled(pool, seededRandom(seed * 7 + salt));
    return Array.from({ length: lines.length }, (_, i) => order[i % order.length].raw);
  };
  if (arms.includes("ft")) models.ft = await tune("ft", lines.map((l) => l.raw));
  if (arms.includes("ft_shuffled")) {
    const tails = shuffled(lines.map((l) => l.raw.messages.slice(2)), seededRandom(seed * 13 + 1));
    models.ft_shuffled = await tune("ft_shuffled", lines.map((l, i) => ({ ...l.raw, messages: [...l.raw.messages.slice(0, 2), ...tails[i]] })));
  }
  if (arms.includes("ft_unrelated")) {
    for (const level of levels) models[`ft_unrelated@${level}`] = await tune(`ft_unrelated_l${level}`, sameSize(lines.filter((l) => l.level !== level), level));
  }
  const forgetTrained = new Set<string>();
  if (arms.includes("ft_forget")) {
    const fams = [...new Set(lines.map((l) => l.family))].sort();
    for (const level of new Set(lines.map((l) => l.level))) {
      const lv = shuffled(fams.filter((f) => famInfo.get(f)?.level === level), seededRandom(seed * 31 + level));
      lv.slice(0, Math.ceil(lv.length / 2)).forEach((f) => forgetTrained.add(f));
    }
    models.ft_forget = await tune("ft_forget", sameSize(lines.filter((l) => forgetTrained.has(l.family)), 99));
  }

  // Examples per task (selection by family label: an upper bound on retrieval).
  // Drawn per task text (what the example source is asked with): the instances of one wording on different tenants
  // get the same examples.
  const examplesFor = (arm: HonestyArm, c: Challenge): InjectedExample[] => {
    const rand = seededRandom(seed * 101 + [...c.task].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7));
    let pool: Line[];
    if (arm === "icl_same") pool = lines.filter((l) => l.family === c.family && l.id !== c.id);
    else {
      pool = lines.filter((l) => {
        const f = famInfo.get(l.family)!;
        return f.level !== c.level && f.category !== c.category;
      });
    }
    // Distinct templates first, then the rest.
    const picked: Line[] = [];
    const seen = new Set<string>();
    const order = shuffled(pool, rand);
    for (const l of order) if (picked.length < 3 && !seen.has(l.templateKey)) picked.push(l), seen.add(l.templateKey);
    for (const l of order) if (picked.length < 3 && !picked.includes(l)) picked.push(l);
    return picked.map((l) => lineToExample(l, roleOf.get(l.id) ?? c.role));
  };

  const strategyId = options.strategy ?? "beta";
  const s0 = options.strategies.strategies[strategyId];
  if (!s0) throw new RangeError(`no strategy '${strategyId}' in ${options.strategies.source}; known: ${Object.keys(options.strategies.strategies).join(", ")}`);
  const strategy: Strategy = {
    ...s0,
    id: `${s0.id}+honesty`,
    sampling: { ...s0.sampling, temperature, top_p: 1, n: 1 },
    budgets: { ...s0.budgets, max_steps: Math.max(40, s0.budgets.max_steps), max_tokens: Math.max(200_000, s0.budgets.max_tokens), max_seconds: Math.max(300, s0.budgets.max_seconds) },
    examples: { k: 3 },
  };
  const noExamples: Strategy = { ...strategy, examples: { k: 0 } };
  // Instances sharing a task text share family, level and category: any of them selects the same examples.
  const byTask = new Map(instances.map((c) => [c.task, c]));
  const iclSource = (arm: HonestyArm): PatternSource => ({ task }) => Promise.resolve(examplesFor(arm, byTask.get(task)!));
  const armOf = (arm: HonestyArm): Arm => ({
    id: arm,
    model: arm === "ft_unrelated" ? { byLevel: Object.fromEntries(levels.map((l) => [l, models[`ft_unrelated@${l}`]])) } : models[arm],
    ...(arm === "icl_same" || arm === "icl_unrelated" ? { strategy, patterns: iclSource(arm) } : { strategy: noExamples }),
    ...(arm === "ft_forget" ? { only: instances.filter((c) => !forgetTrained.has(c.family)).map((c) => c.id) } : {}),
  });

  const server = await options.serve(backends);
  const messages = new Map<string, EpisodeRecord["messages"]>();
  let episodes: HonestyEpisode[];
  let trainEpisodes: HonestyEpisode[] = [];
  try {
    const deps = (offset: number) => ({
      models: (id: string) => servedChatModel(options.modelEntry, id, { baseUrl: server.url }),
      pool: options.pool,
      fitness: options.strategies.fitness,
      concurrency: options.concurrency ?? 4,
      onEpisode: (done: number, total: number) => options.onProgress?.(offset + done, offset + total),
      ...(options.keepMessages ? { onRecord: (arm: string, rec: EpisodeRecord) => messages.set(`${arm}\u0000${rec.challengeId}`, rec.messages) } : {}),
    });
    const withMessages = (e: SuiteEpisode): HonestyEpisode => options.keepMessages ? { ...e, messages: messages.get(`${e.arm}\u0000${e.challengeId}`) } : e;
    const r = await runSuite({ name: `lab-mini honesty ${options.split} seed ${seed}`, challenges: instances, seeds: [seed], arms: arms.map(armOf) }, deps(0));
    episodes = r.episodes.map(withMessages);
    if (reference.length && !reused) {
      // Train instance ids never collide with evaluated ones, so the messages map is shared.
      const t = await runSuite({
        name: `lab-mini honesty train reference of ${options.split} seed ${seed}`,
        challenges: reference,
        seeds: [seed],
        arms: [{ id: "base", model: base.id, strategy: noExamples }, ...(previous ? [{ id: "previous", model: previous.id, strategy: noExamples }] : [])],
      }, deps(episodes.length));
      trainEpisodes = t.episodes.map(withMessages);
    }
  } finally {
    await server.close();
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  const train: TrainRun | null = reused ?? (reference.length
    ? {
      instances: reference.map((c) => c.id),
      previousWeights: previous ? options.previousWeights! : null,
      previousModel: previous ? previous.ownedBy ?? previous.id : null,
      episodes: trainEpisodes,
    }
    : null);
  if (train) options.trainRuns?.set(referenceKey, train);
  const { cells, lifts } = summarise(episodes, arms);
  return {
    label: `${LAB_MINI_LABEL} (oracle distillation)`,
    split: options.split,
    levels,
    perLevel: options.perLevel ?? null,
    seed,
    temperature,
    strategy: strategy.id,
    copyThreshold: options.copyThreshold ?? null,
    dataset: { path: datasetPath, lines: lines.length, families: new Set(lines.map((l) => l.family)).size },
    instances: instances.map((c) => c.id),
    forgetTrainedFamilies: [...forgetTrained].sort(),
    models,
    baseModel: base.ownedBy ?? base.id,
    cells,
    lifts,
    episodes,
    wordings: Object.fromEntries(instances.map((c) => [c.id, c.features.length ? [...c.features] : [ORIGINAL_WORDING]])),
    train,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  };
}

/** The wording "feature" of the catalog's first, untagged templates in the robustness report. */
export const ORIGINAL_WORDING = "(original)";

/** The arms the robustness report compares. */
const FEATURE_ARMS = ["base", "icl_same", "ft"] as const;

/** One arm's success on the instances worded with one feature, at one level (or `"all"`). */
export interface FeatureCell extends RateCell {
  /** A wording feature of the catalog, or `(original)`. */
  feature: string;
}

/**
 * Success by wording feature × level for `base`, `icl_same` and `ft`, pooled over the given runs (one split's
 * seeds): an instance counts under every feature its template is tagged with. Rates with a 95 % interval clustered
 * by family where a cell has ≥ 10 families (else the estimate and the family count), as {@linkcode compare} gives.
 */
export function wordingFeatureCells(results: readonly LabMiniHonestyResult[]): FeatureCell[] {
  const featuresOf = new Map(results.flatMap((r) => Object.entries(r.wordings ?? {})));
  const episodes = results.flatMap((r) => r.episodes).filter((e) => (FEATURE_ARMS as readonly string[]).includes(e.arm));
  const out: FeatureCell[] = [];
  for (const feature of [...WORDING_FEATURES, ORIGINAL_WORDING]) {
    const eps = episodes.filter((e) => featuresOf.get(e.challengeId)?.includes(feature));
    if (!eps.some((e) => e.arm === "base")) continue;
    const c = compare(eps, { control: "base", arms: FEATURE_ARMS.filter((a) => a !== "base" && eps.some((e) => e.arm === a)), permutations: { resamples: 1 } });
    for (const cell of c.rates) out.push({ feature, ...cell });
  }
  return out;
}

/** The transfer gap at one level (or `"all"`): base success on the split minus on train, family by family. */
export interface TransferCell extends Estimate {
  level: number | "all";
  /** Families with episodes on both the split and train (the interval's clusters). */
  families: number;
  /** Mean over those families of base success on the split. */
  splitMean: number;
  /** Mean over those families of base success on their train instances. */
  trainMean: number;
  /** Base episodes on the split and on train (of those families). */
  splitEpisodes: number;
  trainEpisodes: number;
}

/** What the train reference of one split's runs measured (pooled over seeds). */
export interface TrainReference {
  /** Base held-out vs train, family-paired, per level and overall. */
  transfer: TransferCell[];
  /** Success on the train instances of `base` and (when run) `previous`, per level and overall. */
  rates: RateCell[];
  /** New base weights minus previous on the same train instances, paired, clustered by family; empty without previous weights. */
  regression: LiftCell[];
  /** The previous weights file, or null. */
  previousWeights: string | null;
}

/**
 * The transfer and regression measurements of one split's runs (pooled over seeds), or null when no run has a
 * train reference. Transfer: per family, mean base success on the split minus mean base success on its train
 * instances; the estimate is the mean over families, with a 95 % t interval over families (the cluster-robust
 * interval of one value per family) where ≥ 10 families. Regression: `compare` of arm `base` over control
 * `previous` on the train instances (pairs = instance × seed, clustered by family).
 */
export function trainReference(results: readonly LabMiniHonestyResult[]): TrainReference | null {
  const runs = results.filter((r) => r.train);
  if (!runs.length) return null;
  const trainEps = runs.flatMap((r) => r.train!.episodes);
  const splitBase = runs.flatMap((r) => r.episodes).filter((e) => e.arm === "base");
  const levels = [...new Set(splitBase.map((e) => e.level))].sort((a, b) => a - b);
  const familyMeans = (eps: readonly SuiteEpisode[]) => {
    const m = new Map<string, { passes: number; n: number }>();
    for (const e of eps) {
      const x = m.get(e.family) ?? { passes: 0, n: 0 };
      x.passes += e.pass ? 1 : 0;
      x.n++;
      m.set(e.family, x);
    }
    return m;
  };
  const transfer: TransferCell[] = [];
  for (const level of [...levels, "all" as const]) {
    const inLevel = (e: SuiteEpisode) => level === "all" || e.level === level;
    const held = familyMeans(splitBase.filter(inLevel));
    const train = familyMeans(trainEps.filter((e) => e.arm === "base" && inLevel(e)));
    const fams = [...held.keys()].filter((f) => train.has(f)).sort();
    if (!fams.length) continue;
    const rate = (x: { passes: number; n: number }) => x.passes / x.n;
    const diffs = fams.map((f) => ({ cluster: f, value: rate(held.get(f)!) - rate(train.get(f)!) }));
    const splitMean = fams.reduce((s, f) => s + rate(held.get(f)!), 0) / fams.length;
    const trainMean = fams.reduce((s, f) => s + rate(train.get(f)!), 0) / fams.length;
    const estimate = splitMean - trainMean;
    const note = tooFewClusters(fams.length);
    const interval: Estimate = note
      ? { estimate, lo: null, hi: null, note }
      : (({ lo, hi }) => ({ estimate, lo, hi }))(clusteredMeanCI(diffs, { bounds: [-1, 1] }));
    transfer.push({
      level,
      families: fams.length,
      splitMean,
      trainMean,
      splitEpisodes: fams.reduce((s, f) => s + held.get(f)!.n, 0),
      trainEpisodes: fams.reduce((s, f) => s + train.get(f)!.n, 0),
      ...interval,
    });
  }
  const hasPrevious = trainEps.some((e) => e.arm === "previous");
  const c = compare(trainEps, hasPrevious ? { control: "previous", arms: ["base"] } : { control: "base", arms: [] });
  return {
    transfer,
    rates: [...c.rates].sort((a, b) => (a.arm === "base" ? 0 : 1) - (b.arm === "base" ? 0 : 1)),
    regression: c.lifts,
    previousWeights: runs.map((r) => r.train!.previousWeights).find((p) => p !== null) ?? null,
  };
}

/** Per arm × level (and `"all"`) rates and paired lifts over `base`, clustered by family. */
export function summarise(episodes: readonly SuiteEpisode[], arms: readonly HonestyArm[]): { cells: RateCell[]; lifts: LiftCell[] } {
  const c = compare(episodes, { control: "base", arms: arms.filter((a) => a !== "base" && episodes.some((e) => e.arm === a)) });
  return { cells: c.rates, lifts: c.lifts };
}

/** An estimate with its interval, or with "(< 10 families)" where a cell has too few families for one. */
const ci = (e: { estimate: number; lo: number | null; hi: number | null; clusters: number }, signed = false) => {
  const f = (x: number) => `${signed && x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
  return e.lo === null || e.hi === null ? `${f(e.estimate)} (${e.clusters} fam.)` : formatEstimate(e, { signed });
};

/** A text table: success by arm × level, then lifts over base, each with its 95 % interval clustered by family. */
export function formatLabMiniHonesty(r: LabMiniHonestyResult): string {
  const cols = [...r.levels.map(String), "all"];
  const head = (first: string) => [first.padEnd(14), ...cols.map((c) => (c === "all" ? "all" : `L${c}`).padEnd(32))].join("");
  const out = [
    r.label,
    `split ${r.split} · levels ${r.levels.join(",")} · ${r.perLevel === null ? "all instances" : `${r.perLevel}/level`} (${r.instances.length}) · seed ${r.seed} · temperature ${r.temperature} · strategy ${r.strategy} · ICL copy threshold ${r.copyThreshold ?? "default (0.62)"}`,
    `dataset ${r.dataset.path.replace(/^.*\/data\//, "data/")}: ${r.dataset.lines} train lines, ${r.dataset.families} families · ${r.seconds} s`,
    "",
    "success: passes/n = rate % [95 %, clustered by family]",
    head("arm"),
  ];
  const armsIn = [...new Set(r.cells.map((c) => c.arm))];
  for (const arm of armsIn) {
    out.push([arm.padEnd(14), ...cols.map((l) => {
      const c = r.cells.find((x) => x.arm === arm && String(x.level) === l);
      return (c ? `${c.passes}/${c.episodes} = ${ci(c)}` : "–").padEnd(32);
    })].join(""));
  }
  out.push("", "lift vs base on the same instances: points [95 %, clustered by family] family sign-flip p", head("arm"));
  for (const arm of armsIn.filter((a) => a !== "base")) {
    out.push([arm.padEnd(14), ...cols.map((l) => {
      const c = r.lifts.find((x) => x.arm === arm && String(x.level) === l);
      return (c ? `${ci(c, true)} p=${c.pValue === null ? "–" : c.pValue.toFixed(2)}` : "–").padEnd(32);
    })].join(""));
  }
  if (r.forgetTrainedFamilies.length) {
    out.push("", `ft_forget: trained on ${r.forgetTrainedFamilies.length} families, evaluated on the instances of the others only (forgetting check)`);
  }
  const ref = trainReference([r]);
  const transfer = ref?.transfer.find((t) => t.level === "all");
  if (ref && transfer) {
    out.push("", `train reference (${r.train!.instances.length} train instances of the same families, base without examples):`);
    out.push(`  ${r.split} − train, family-paired: ${transferText(transfer)}`);
    const regression = ref.regression.find((l) => l.level === "all");
    if (regression) out.push(`  new − previous base weights on train: ${liftText(regression)}`);
  }
  return out.join("\n");
}

/**
 * Lifts over `base` pooled over several runs of one split (e.g. seeds 1, 2, 3): every run contributes its
 * (base, arm) pairs; the 95 % interval is clustered by family, so one family seen under three seeds, in all its
 * templates and tenants, counts as one cluster.
 */
export function pooledLifts(results: readonly LabMiniHonestyResult[]): LiftCell[] {
  if (!results.length) return [];
  const episodes = results.flatMap((r) => r.episodes);
  return summarise(episodes, HONESTY_ARMS.filter((a) => episodes.some((e) => e.arm === a))).lifts;
}

/** One of the issue's honesty checks: what was measured against what it should be. */
export interface HonestyCheck {
  check: string;
  target: string;
  measured: string;
  /** `null` when the split cannot measure it (e.g. no same-family examples on `test_ood`). */
  pass: boolean | null;
}

const liftText = (c: LiftCell) => `${ci(c, true)} (n ${c.pairs}, ${c.clusters} families)`;

/**
 * The issue's checks on (pooled) lifts of one split: in-context lift ≥ 15 points with its lower bound above 5,
 * unrelated examples' upper bound ≤ 5; fine-tuning lift ≥ 20 with its lower bound above 5; the same-compute
 * controls (shuffled answers, unrelated families) within 5 points; forgetting (families not trained on) no worse
 * than −5 points, overall and at every level. With the split's {@linkcode trainReference}: base on held-out
 * templates within ±5 points of the train templates of the same families, and the new base weights no more than
 * 2 points below the previous ones on train.
 */
export function honestyChecks(lifts: readonly LiftCell[], split?: EvaluatedSet, reference?: TrainReference | null): HonestyCheck[] {
  const all = (arm: HonestyArm) => lifts.find((l) => l.arm === arm && l.level === "all");
  const out: HonestyCheck[] = [];
  const add = (check: string, target: string, arm: HonestyArm, ok: (c: LiftCell) => boolean, na?: (c: LiftCell) => boolean) => {
    const c = all(arm);
    if (!c) return;
    out.push({ check, target, measured: liftText(c), pass: na?.(c) ? null : ok(c) });
  };
  // icl_same has nothing to copy where no train line shares the family (test_ood): not measurable there
  const noExamples = (c: LiftCell) => c.armMean === c.controlMean && c.lo === 0 && c.hi === 0;
  add("in-context examples of the same families", "lift ≥ +15, lower bound > +5", "icl_same", (c) => c.estimate >= 0.15 && c.lo !== null && c.lo > 0.05, noExamples);
  add("in-context examples of unrelated families", "upper bound ≤ +5", "icl_unrelated", (c) => c.hi !== null && c.hi <= 0.05);
  // An external family is never in the catalog's train dataset either (family ids are unique across both).
  if (split === "test_ood" || split === "external") {
    // no test_ood family is in train: the fine-tuned model can only keep or lose what the base solves
    add("fine-tuning on train successes (no family of this split in train: forgetting)", "≥ −5", "ft", (c) => c.estimate >= -0.05);
  } else add("fine-tuning on train successes", "lift ≥ +20, lower bound > +5", "ft", (c) => c.estimate >= 0.2 && c.lo !== null && c.lo > 0.05);
  add("control: shuffled answers (same compute)", "within ±5", "ft_shuffled", (c) => Math.abs(c.estimate) <= 0.05);
  add("control: unrelated families only (same compute)", "within ±5", "ft_unrelated", (c) => Math.abs(c.estimate) <= 0.05);
  add("forgetting: families not trained on", "≥ −5", "ft_forget", (c) => c.estimate >= -0.05);
  const byLevel = lifts.filter((l) => l.arm === "ft_forget" && l.level !== "all");
  if (byLevel.length) {
    const worst = byLevel.reduce((a, b) => (b.estimate < a.estimate ? b : a));
    out.push({ check: "forgetting at the worst level", target: "≥ −5", measured: `L${worst.level}: ${liftText(worst)}`, pass: worst.estimate >= -0.05 });
  }
  const ft = lifts.filter((l) => l.arm === "ft" && l.level !== "all");
  if (ft.length) {
    const worst = ft.reduce((a, b) => (b.estimate < a.estimate ? b : a));
    out.push({ check: "fine-tuned vs base at its worst level", target: "≥ −5 (no level made worse)", measured: `L${worst.level}: ${liftText(worst)}`, pass: worst.estimate >= -0.05 });
  }
  const transfer = reference?.transfer.find((t) => t.level === "all");
  if (transfer) {
    out.push({
      check: "base on held-out templates vs train templates of the same families",
      target: "within ±5 points (|estimate| ≤ 5)",
      measured: transferText(transfer),
      pass: Math.abs(transfer.estimate) <= 0.05,
    });
  }
  const regression = reference?.regression.find((l) => l.arm === "base" && l.level === "all");
  if (regression) {
    out.push({ check: "base on train templates: new vs previous weights", target: "≥ −2 points", measured: liftText(regression), pass: regression.estimate >= -0.02 });
  }
  return out;
}

const transferText = (t: TransferCell) =>
  `${ci({ ...t, clusters: t.families }, true)} (${(100 * t.splitMean).toFixed(1)} vs ${(100 * t.trainMean).toFixed(1)}, ${t.families} families)`;

/**
 * The results of several runs (splits × seeds) as a Markdown report: the checks per split (pooled over seeds),
 * then per split success by arm × level and seed, lifts over base by seed and pooled, and the train reference
 * (held-out vs train templates, new vs previous weights on train), then "Robustness by wording feature". Every
 * figure is computed from the episodes' verdicts.
 */
export function formatLabMiniMarkdown(results: readonly LabMiniHonestyResult[], options: { command?: string; date?: string } = {}): string {
  if (!results.length) return "";
  const first = results[0];
  const splits = [...new Set(results.map((r) => r.split))];
  const seeds = [...new Set(results.map((r) => r.seed))].sort((a, b) => a - b);
  const levels = first.levels;
  const cols = [...levels.map((l) => `L${l}`), "all"];
  const out: string[] = [
    "# lab-mini honesty experiment — lab-mini, oracle distillation",
    "",
    `${LAB_MINI_LABEL} (oracle distillation). Generated by the suite \`lab/evals/honesty.ts\`` +
    (options.command ? ` with \`${options.command}\`` : "") + (options.date ? ` on ${options.date}` : "") + ".",
    "",
    `- Dataset: \`${first.dataset.path.replace(/^.*\/data\//, "data/")}\` — ${first.dataset.lines} lines (the oracle's traces on every \`train\` instance), ${first.dataset.families} families.`,
    `- Base model: \`${first.models.base}\` — ${first.baseModel}; fine-tuned versions are trained per run (seed = run seed).`,
    `- Seeds ${seeds.join(", ")} (episode seed and the seed of every selection, shuffle and fine-tune) · temperature ${first.temperature} · strategy ${first.strategy} · ICL copy threshold ${first.copyThreshold ?? "default (0.62)"} (tuned on dev).`,
    `- Levels ${levels.join(", ")}; ${first.perLevel === null ? "every instance of each split" : `${first.perLevel} instances per level`}. Runner → LangChain → local OpenAI-compatible server → lab-mini; verdicts from the challenge verifiers.`,
    "- Lifts: points of success vs `base` on the same instances, 95 % cluster-robust t interval with one cluster per family (its templates, values, tenants and seeds together); a cell with fewer than 10 families shows its estimate and its family count, without an interval. Pooled = all seeds' pairs.",
    "",
    "## Checks (pooled over seeds)",
    "",
    `| check | target | ${splits.join(" | ")} |`,
    `|---|---|${splits.map(() => "---").join("|")}|`,
  ];
  const checks = new Map(splits.map((s) => {
    const runs = results.filter((r) => r.split === s);
    return [s, honestyChecks(pooledLifts(runs), s, trainReference(runs))];
  }));
  const names = [...new Set([...checks.values()].flatMap((cs) => cs.map((c) => c.check)))];
  for (const name of names) {
    const target = [...checks.values()].flatMap((cs) => cs).find((c) => c.check === name)!.target;
    const cells = splits.map((s) => {
      const c = checks.get(s)!.find((x) => x.check === name);
      return c ? `${c.measured} ${c.pass === null ? "(n/a)" : c.pass ? "✓" : "✗"}` : "–";
    });
    out.push(`| ${name} | ${target} | ${cells.join(" | ")} |`);
  }
  for (const split of splits) {
    const runs = results.filter((r) => r.split === split).sort((a, b) => a.seed - b.seed);
    const arms = HONESTY_ARMS.filter((a) => runs.some((r) => r.cells.some((c) => c.arm === a)));
    const pooledCells = summarise(runs.flatMap((r) => r.episodes), arms).cells;
    out.push("", `## ${split} (${runs[0].instances.length} instances per seed)`, "", "Success: passes/n by seed; pooled rate [95 %, clustered by family].", "", `| arm | seed | ${cols.join(" | ")} |`, `|---|---|${cols.map(() => "---").join("|")}|`);
    for (const arm of arms) {
      for (const r of runs) {
        out.push(`| ${arm} | ${r.seed} | ${cols.map((c) => {
          const x = r.cells.find((y) => y.arm === arm && `${y.level === "all" ? "all" : `L${y.level}`}` === c);
          return x ? `${x.passes}/${x.episodes}` : "–";
        }).join(" | ")} |`);
      }
      if (runs.length > 1) {
        out.push(`| ${arm} | pooled | ${cols.map((c) => {
          const x = pooledCells.find((y) => y.arm === arm && `${y.level === "all" ? "all" : `L${y.level}`}` === c);
          return x ? `${ci(x)} %` : "–";
        }).join(" | ")} |`);
      }
    }
    out.push("", "Lift vs base (points [95 %]):", "", `| arm | seed | ${cols.join(" | ")} |`, `|---|---|${cols.map(() => "---").join("|")}|`);
    const pooled = pooledLifts(runs);
    for (const arm of arms.filter((a) => a !== "base")) {
      const row = (label: string, lifts: readonly LiftCell[]) =>
        `| ${arm} | ${label} | ${cols.map((c) => {
          const x = lifts.find((y) => y.arm === arm && `${y.level === "all" ? "all" : `L${y.level}`}` === c);
          return x ? ci(x, true) : "–";
        }).join(" | ")} |`;
      for (const r of runs) out.push(row(String(r.seed), r.lifts));
      if (runs.length > 1) out.push(row("pooled", pooled));
    }
    const forget = runs.map((r) => `seed ${r.seed}: ${r.forgetTrainedFamilies.length} families trained`).join("; ");
    if (runs.some((r) => r.forgetTrainedFamilies.length)) out.push("", `\`ft_forget\` is evaluated only on the instances of families it was not trained on (${forget}).`);
    out.push(...referenceMarkdown(split, runs, cols));
  }
  out.push(...featuresMarkdown(results, splits, cols));
  return out.join("\n") + "\n";
}

const colOf = (level: number | "all") => level === "all" ? "all" : `L${level}`;

/** The train reference of one split's runs as Markdown: transfer gap, base (and previous) on train, regression. */
function referenceMarkdown(split: string, runs: readonly LabMiniHonestyResult[], cols: readonly string[]): string[] {
  const ref = trainReference(runs);
  if (!ref) return [];
  const trainN = runs[0].train!.instances.length;
  const cell = <T extends { level: number | "all" }>(xs: readonly T[], col: string, f: (x: T) => string) => {
    const x = xs.find((y) => colOf(y.level) === col);
    return x ? f(x) : "–";
  };
  const out = [
    "",
    `### ${split}: held-out vs train templates (base, pooled over seeds)`,
    "",
    `The base model also ran, without examples, on the \`train\` instances of the same families (${trainN} per seed: their train templates with train values). ` +
    "Per family: mean success on the split minus on train; mean over families, 95 % t interval over families.",
    "",
    `| measure | ${cols.join(" | ")} |`,
    `|---|${cols.map(() => "---").join("|")}|`,
    `| base on ${split} (family mean) | ${cols.map((c) => cell(ref.transfer, c, (t) => (100 * t.splitMean).toFixed(1))).join(" | ")} |`,
    `| base on train (family mean) | ${cols.map((c) => cell(ref.transfer, c, (t) => (100 * t.trainMean).toFixed(1))).join(" | ")} |`,
    `| ${split} − train (points) | ${cols.map((c) => cell(ref.transfer, c, (t) => ci({ ...t, clusters: t.families }, true))).join(" | ")} |`,
    "",
    "Success on the train instances: passes/n = rate % [95 %, clustered by family]" +
    (ref.previousWeights ? `; \`previous\` = \`${ref.previousWeights.replace(/^.*\/data\//, "data/")}\`, paired lift new − previous.` : " (no previous weights given)."),
    "",
    `| arm | ${cols.join(" | ")} |`,
    `|---|${cols.map(() => "---").join("|")}|`,
  ];
  for (const arm of [...new Set(ref.rates.map((r) => r.arm))]) {
    out.push(`| ${arm} | ${cols.map((c) => cell(ref.rates.filter((r) => r.arm === arm), c, (x) => `${x.passes}/${x.episodes} = ${ci(x)}`)).join(" | ")} |`);
  }
  if (ref.regression.length) out.push(`| new − previous (points) | ${cols.map((c) => cell(ref.regression, c, (x) => ci(x, true))).join(" | ")} |`);
  return out;
}

/** Success by wording feature × level for base, icl_same and ft, per split (pooled over seeds), as Markdown. */
function featuresMarkdown(results: readonly LabMiniHonestyResult[], splits: readonly string[], cols: readonly string[]): string[] {
  const out = [
    "",
    "## Robustness by wording feature",
    "",
    "Success by the evaluated templates' wording features (an instance counts under each of its template's tags; " +
    `\`${ORIGINAL_WORDING}\` = the catalog's first, untagged wordings), pooled over seeds: passes/n = rate % [95 %, clustered by family], ` +
    "or the estimate and its family count below 10 families.",
  ];
  for (const split of splits) {
    const cells = wordingFeatureCells(results.filter((r) => r.split === split));
    if (!cells.length) continue;
    out.push("", `### ${split}`, "", `| feature | arm | ${cols.join(" | ")} |`, `|---|---|${cols.map(() => "---").join("|")}|`);
    for (const feature of [...new Set(cells.map((c) => c.feature))]) {
      for (const arm of FEATURE_ARMS.filter((a) => cells.some((c) => c.feature === feature && c.arm === a))) {
        out.push(`| ${feature} | ${arm} | ${cols.map((col) => {
          const x = cells.find((c) => c.feature === feature && c.arm === arm && colOf(c.level) === col);
          return x ? `${x.passes}/${x.episodes} = ${ci(x)}` : "–";
        }).join(" | ")} |`);
      }
    }
  }
  return out;
}
