/**
 * Fine-tuning of lab-mini (the `Trainer` port): chat JSONL in OpenAI's fine-tuning format → the assistant's
 * dbRead/dbWrite SQL abstracted into new templates with typed literal slots (periods, numbers, strings) aligned
 * with the task → a log-linear template selector (task n-grams × template, plus a "none" class meaning "use the
 * base parser", trained on the base corpus as negatives) fitted by mini-batch gradient descent → a new weights
 * version `ft:lab-mini:<suffix>:<hash12>` written under `outDir` and served at once. A fine-tuned version can be
 * fine-tuned again: the new head starts from its parent's templates and weights (progressive stages).
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { TrainerEvent } from "../trainer.ts";
import { abstractGroup, groupKey, type TaskLits, taskLits, type Template } from "./_copy.ts";
import { type AnswerProgram, type CallResult, type Demo, induceProgram } from "./_answer.ts";
import { hash32, prng } from "./_text.ts";
import {
  candidates,
  choose,
  feats,
  FIXED,
  fitSelector,
  type HeadIndex,
  headIndex,
  indexTemplates,
  type Item,
  scores,
  softmax,
  taskWords,
} from "./_selector.ts";
import { generateCorpus } from "./corpus.ts";
import type { CopyPlan } from "./icl.ts";
import type { SchemaMeta } from "./schema_meta.ts";
import { type LabMiniModel, parseModel, serializeModel } from "./weights.ts";

/** A learned template: the calls of one solved task, abstracted. */
export interface TunedTemplate {
  calls: { tool: "dbRead" | "dbWrite"; template: Template }[];
  /** Literal signature of the task it was first abstracted from. */
  sig: string;
  /** Training examples that produced it. */
  support: number;
  /** How the answer is made from the calls' results, induced from the examples that carried results. */
  answer?: AnswerProgram;
  /** The words (stems) of each distinct phrasing of its training tasks (literals masked), at most 16. */
  phrasings?: string[][];
}

/** The fine-tuned part of a model: templates and the selector's weights. */
export interface TunedHead {
  templates: TunedTemplate[];
  bits: number;
  w: Float32Array | Float64Array;
  /** The calibrated confidence a template needs to be used (below it the base parser answers). */
  minProb?: number;
}

/** A fine-tuned model: the pretrained base, the head, and the fine-tuned version it continued from, if any. */
export interface TunedModel {
  format: "lab-mini-ft/v1";
  id: string;
  /** The pretrained parser (a continued version keeps its parent's). */
  base: LabMiniModel;
  /** The fine-tuned version whose head this one started from; absent when it started from the base. */
  parent?: { id: string; hash: string };
  head: TunedHead;
  /** How it was made; `parent` is the parent version's content hash (part of this version's hash). */
  recipe: {
    seed: number;
    epochs: number;
    batchSize: number;
    lr: number;
    abstain?: number;
    folds?: number;
    precision?: number;
    examples: number;
    used: number;
    dropped: Record<string, number>;
    negatives: number;
    parent?: string;
  };
  hash: string;
  /** Mean training loss per step (as reported). */
  losses: number[];
}

/** One usable training example. */
export interface ChatExample {
  task: string;
  calls: { tool: "dbRead" | "dbWrite"; sql: string }[];
  /** What each call returned, when the line has its tool results (the same order as `calls`). */
  results?: (CallResult | undefined)[];
  /** The submitted answer (`submitAnswer`), when the line has one. */
  answer?: unknown;
}

/** What reading a chat JSONL gave: the usable examples and why the others were dropped. */
export interface ReadChatResult {
  examples: ChatExample[];
  total: number;
  dropped: Record<string, number>;
}

const Msg = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(z.looseObject({ text: z.string().optional() })), z.null()]).optional(),
  tool_calls: z.array(z.looseObject({ id: z.string().optional(), function: z.looseObject({ name: z.string(), arguments: z.string() }) })).optional(),
  tool_call_id: z.string().optional(),
});

function parseResult(raw: string | undefined, write: boolean): CallResult | undefined {
  if (raw === undefined) return undefined;
  let r: unknown;
  try {
    r = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!r || typeof r !== "object" || (r as { ok?: unknown }).ok === false) return undefined;
  const o = r as { rows?: unknown; columns?: unknown; rowCount?: unknown };
  const rows = Array.isArray(o.rows) ? o.rows as Record<string, unknown>[] : [];
  const columns = Array.isArray(o.columns) ? o.columns.map(String) : Object.keys(rows[0] ?? {});
  return { rows, columns, write, ...(typeof o.rowCount === "number" ? { rowCount: o.rowCount } : {}) };
}
const Line = z.looseObject({ messages: z.array(Msg) });

const text = (c: z.infer<typeof Msg>["content"]) => typeof c === "string" ? c : Array.isArray(c) ? c.map((p) => p.text ?? "").join("") : "";

/** Reads chat examples from JSONL text; every line is either used or counted under a reason. */
export function readChatJsonl(jsonl: string): ReadChatResult {
  const examples: ChatExample[] = [];
  const dropped: Record<string, number> = {};
  const drop = (why: string) => dropped[why] = (dropped[why] ?? 0) + 1;
  let total = 0;
  for (const raw of jsonl.split(/\r?\n/)) {
    if (!raw.trim()) continue;
    total++;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch {
      drop("invalid JSON");
      continue;
    }
    const line = Line.safeParse(obj);
    if (!line.success) {
      drop("no messages array of {role, content}");
      continue;
    }
    const msgs = line.data.messages;
    const firstAssistant = msgs.findIndex((m) => m.role === "assistant");
    const task = msgs.slice(0, firstAssistant < 0 ? msgs.length : firstAssistant).findLast((m) => m.role === "user");
    if (!task || !text(task.content).trim()) {
      drop("no user message before the assistant");
      continue;
    }
    const calls: ChatExample["calls"] = [];
    const results: (CallResult | undefined)[] = [];
    const toolOut = new Map(msgs.filter((m) => m.role === "tool" && m.tool_call_id).map((m) => [m.tool_call_id!, text(m.content)]));
    let badArgs = false;
    let answer: unknown, answered = false;
    for (const m of msgs) {
      if (m.role !== "assistant") continue;
      for (const c of m.tool_calls ?? []) {
        if (c.function.name === "submitAnswer") {
          try {
            const a = JSON.parse(c.function.arguments);
            if (a && typeof a === "object" && "answer" in a) [answer, answered] = [a.answer, true];
          } catch { /* no answer */ }
        }
        if (c.function.name !== "dbRead" && c.function.name !== "dbWrite") continue;
        let sql: unknown;
        try {
          sql = JSON.parse(c.function.arguments)?.sql;
        } catch { /* counted below */ }
        if (typeof sql !== "string" || !sql.trim()) badArgs = true;
        else if (!sql.startsWith("SELECT count(*) AS checked_rows FROM (")) {
          calls.push({ tool: c.function.name, sql: sql.trim() });
          results.push(parseResult(c.id === undefined ? undefined : toolOut.get(c.id), c.function.name === "dbWrite"));
        }
      }
    }
    if (!calls.length) {
      drop(badArgs ? "tool call arguments without an sql string" : "no dbRead/dbWrite tool call");
      continue;
    }
    examples.push({ task: text(task.content), calls, ...(results.some(Boolean) ? { results } : {}), ...(answered ? { answer } : {}) });
  }
  return { examples, total, dropped };
}

/** The selector's probabilities for a task: "none", "abstain", then each template its literals fill (for inspection). */
export function headScores(head: TunedHead, lits: TaskLits): { none: number; abstain: number; templates: { t: number; p: number }[] } {
  const cs = candidates(head.templates, headIndex(head), lits);
  const p = softmax(scores(head.w, head.bits, feats(lits), [...FIXED, ...cs.map((c) => c.cand)]));
  return { none: p[0], abstain: p[1], templates: cs.map((c, k) => ({ t: c.t, p: p[k + FIXED.length] })).sort((a, b) => b.p - a.p) };
}

/**
 * The fine-tuned template for a task: among the templates its literals fill, the one the selector ranks first,
 * when it beats "none" (the base parser) — otherwise `undefined` and the base parser answers.
 */
export function copyFromHead(head: TunedHead, lits: TaskLits): CopyPlan | undefined {
  const pick = choose(head, headIndex(head), lits);
  if (!pick || pick.p < (head.minProb ?? 0)) return undefined;
  const tpl = head.templates[pick.t];
  return { calls: tpl.calls.map((c, i) => ({ tool: c.tool, sql: pick.sqls[i] })), source: `template ${pick.t}`, score: pick.p, ...(tpl.answer ? { answer: tpl.answer } : {}) };
}

/** Options for {@linkcode fineTune}. */
export interface FineTuneOptions {
  /** @default 0 */
  seed?: number;
  /** @default 3 */
  epochs?: number;
  /** @default 16 */
  batchSize?: number;
  /** Step size on the batch-summed gradient. @default 0.1 */
  lr?: number;
  /** Examples of the base corpus used as "none" (base parser) negatives; default min(2000, max(500, examples)). */
  negatives?: number;
  /**
   * Abstention training: each example is shown a second time without its own template among the choices, with
   * "none" (the base parser) as the answer — so the selector learns to step aside when no template it knows fits,
   * rather than taking the nearest one. 0 turns it off. @default 1
   */
  abstain?: number;
  /** Cross-validation folds that calibrate the selector's confidence threshold (1: no threshold). @default 4 */
  folds?: number;
  /**
   * How often a template must be right, on held-out phrasings and held-out templates, for the calibrated threshold
   * to let it answer (tuned on `dev` of the lab's catalog). @default 0.8
   */
  precision?: number;
  /** log2 of the selector's feature space (a continued version keeps its parent's). @default 18 */
  bits?: number;
  /** @default "lab" */
  suffix?: string;
  validation?: ChatExample[];
  /** Report every k-th step; @default ceil(steps / 500), so a job has at most ~500 step events. */
  reportEvery?: number;
  /** Where counts of read/dropped examples are reported (with `dropped`). */
  read?: { total: number; dropped: Record<string, number> };
  signal?: AbortSignal;
  onEvent?: (e: TrainerEvent) => void;
}

/** True when `m` is a fine-tuned version (not a pretrained base). */
export const isTuned = (m: LabMiniModel | TunedModel): m is TunedModel => m.format === "lab-mini-ft/v1";

/**
 * Fine-tunes `from` on chat examples; `from` is unchanged. Deterministic for a seed.
 *
 * From a pretrained base, the head starts empty. From a fine-tuned version (a progressive stage), it continues:
 * the parent's templates come first (a new example whose plan abstracts to one of them adds to its support and
 * phrasings), new templates follow, and gradient descent starts from the parent's weights — so what the parent
 * learned stays unless the new examples argue against it, the more so the smaller the step size. The confidence
 * threshold is calibrated again on the new examples.
 */
export function fineTune(from: LabMiniModel | TunedModel, examples: ChatExample[], options: FineTuneOptions = {}): TunedModel {
  const parent = isTuned(from) ? from : undefined;
  const base = isTuned(from) ? from.base : from;
  const hp: Hyper = {
    seed: options.seed ?? 0,
    epochs: options.epochs ?? 3,
    batchSize: options.batchSize ?? 16,
    lr: options.lr ?? 0.1,
    bits: parent?.head.bits ?? options.bits ?? 18,
    abstain: options.abstain ?? 1,
    folds: options.folds ?? 4,
    precision: options.precision ?? 0.8,
    init: parent?.head.w,
  };
  const emit = options.onEvent ?? (() => {});
  const meta = base.meta;
  const learned = learnTemplates(examples, meta, parent?.head.templates);
  if (parent) emit({ level: "info", message: `continuing from ${parent.id}: ${parent.head.templates.length} templates and its weights` });
  const negatives = negativeTasks(meta, hp.seed, options.negatives ?? Math.min(2000, Math.max(500, examples.length)));
  // One stream thins the examples' words for every set of decisions built, calibration's and the final one's.
  const decide: DecisionSource = { templates: learned.templates, negatives, abstain: hp.abstain, thin: prng(hp.seed ^ 0xa11) };
  const minProb = calibrateThreshold(decide, learned.train, hp, options.signal, emit);
  const fitted = fitHead(decide, learned, meta, hp, options, emit);
  const head: TunedHead = { templates: learned.templates, bits: hp.bits, w: Float32Array.from(fitted.w), minProb };
  const { seed, epochs, batchSize, lr, abstain, folds, precision } = hp;
  const dropped = options.read?.dropped ?? {};
  const recipe = {
    seed,
    epochs,
    batchSize,
    lr,
    abstain,
    folds,
    precision,
    examples: options.read?.total ?? examples.length,
    used: examples.length,
    dropped,
    negatives: fitted.negatives,
    ...(parent ? { parent: parent.hash } : {}),
  };
  const hash = tunedHash(base.hash, head, recipe);
  const id = `ft:lab-mini:${options.suffix ?? "lab"}:${hash.slice(0, 12)}`;
  return { format: "lab-mini-ft/v1", id, base, ...(parent ? { parent: { id: parent.id, hash: parent.hash } } : {}), head, recipe, hash, losses: fitted.losses };
}

/** The settings of a fine-tuning run, defaults filled in (see {@linkcode FineTuneOptions}). */
interface Hyper {
  seed: number;
  epochs: number;
  batchSize: number;
  lr: number;
  bits: number;
  abstain: number;
  folds: number;
  precision: number;
  /** Weights the selector starts from (the parent version's). */
  init?: ArrayLike<number>;
}

/** A training task: its example, its literals and its plan's group (the calls' tools and SQL, literals abstracted). */
interface Prepared {
  ex: ChatExample;
  lits: TaskLits;
  group: string;
}

/** A task with the template its plan abstracts to. */
interface Labelled {
  lits: TaskLits;
  t: number;
}

/** The templates learned from the examples, and the examples labelled with them. */
interface LearnedTemplates {
  templates: TunedTemplate[];
  /** Template of each plan group. */
  byGroup: Map<string, number>;
  train: Labelled[];
  /** Templates with an answer program. */
  programs: number;
}

function prepare(ex: ChatExample, meta: SchemaMeta): Prepared {
  const lits = taskLits(ex.task, meta);
  return { ex, lits, group: JSON.stringify(ex.calls.map((c) => [c.tool, groupKey(c.sql, lits)])) };
}

/**
 * The templates of the examples: examples of the same plan abstracted together (so only literals that vary with
 * the task become slots), each with its answer program (induced from the examples that carried results) and its
 * training phrasings. `prior` (a parent version's templates, copied) come first and keep their answer programs.
 */
function learnTemplates(examples: readonly ChatExample[], meta: SchemaMeta, prior: readonly TunedTemplate[] = []): LearnedTemplates {
  const prepared = examples.map((ex) => prepare(ex, meta));
  const { templates, demos, byGroup } = abstractTemplates(prepared, prior);
  const train = labelTasks(prepared, byGroup).labelled;
  const phrasings = phrasingsFrom(templates.length, train);
  templates.forEach((t, i) => {
    const p = t.answer ? undefined : induceProgram(demos[i]);
    if (p) t.answer = p;
    const seen = new Map((t.phrasings ?? []).map((ph) => [ph.join(" "), ph]));
    for (const ph of phrasings[i]) if (seen.size < 16 && !seen.has(ph.join(" "))) seen.set(ph.join(" "), ph);
    t.phrasings = [...seen.values()];
  });
  return { templates, byGroup, train, programs: templates.filter((t) => t.answer).length };
}

/** The identity of a template: its calls' tools, SQL and slots. */
const templateKey = (calls: TunedTemplate["calls"]) => JSON.stringify(calls.map((c) => [c.tool, c.template.sql, c.template.slots]));

/**
 * One template per distinct abstraction of a plan group (groups that abstract alike share it), with its support,
 * and up to 12 demonstrations per template of how its answer is made from its calls' results.
 */
function abstractTemplates(prepared: readonly Prepared[], prior: readonly TunedTemplate[] = []): { templates: TunedTemplate[]; demos: Demo[][]; byGroup: Map<string, number> } {
  const templates: TunedTemplate[] = prior.map((t) => ({ ...t, ...(t.phrasings ? { phrasings: t.phrasings.map((p) => [...p]) } : {}) }));
  const demos: Demo[][] = prior.map(() => []);
  const byGroup = new Map<string, number>();
  const byTemplate = new Map<string, number>(prior.map((t, i) => [templateKey(t.calls), i]));
  const groups = new Map<string, Prepared[]>();
  for (const p of prepared) groups.set(p.group, [...groups.get(p.group) ?? [], p]);
  for (const [g, members] of groups) {
    const withResults = (m: Prepared, k: number) => {
      const rs = m.ex.results;
      return rs && rs.slice(0, k).every(Boolean) ? rs.slice(0, k) as CallResult[] : undefined;
    };
    const calls = members[0].ex.calls.map((c, k) => ({
      tool: c.tool,
      template: abstractGroup(members.map((m) => ({ sql: m.ex.calls[k].sql, lits: m.lits, prior: withResults(m, k) })))!,
    }));
    const key = templateKey(calls);
    let t = byTemplate.get(key);
    if (t === undefined) {
      byTemplate.set(key, t = templates.length);
      templates.push({ calls, sig: members[0].lits.sig, support: 0 });
      demos.push([]);
    }
    byGroup.set(g, t);
    templates[t].support += members.length;
    for (const m of members) {
      const rs = m.ex.results;
      if ("answer" in m.ex && rs && rs.length === m.ex.calls.length && rs.every(Boolean) && demos[t].length < 12) demos[t].push({ results: rs as CallResult[], answer: m.ex.answer });
    }
  }
  return { templates, demos, byGroup };
}

/** The tasks whose plan group has a template, labelled with it; `unseen` counts the others. */
function labelTasks(prepared: readonly Prepared[], byGroup: ReadonlyMap<string, number>): { labelled: Labelled[]; unseen: number } {
  const labelled: Labelled[] = [];
  let unseen = 0;
  for (const p of prepared) {
    const t = byGroup.get(p.group);
    if (t === undefined) unseen++;
    else labelled.push({ lits: p.lits, t });
  }
  return { labelled, unseen };
}

/** A task's phrasing: its content words, sorted. */
const phrasingOf = (lits: TaskLits) => [...taskWords(lits)].sort();

/** Each of `n` templates' distinct phrasings among the labelled tasks (at most 16, first seen first). */
function phrasingsFrom(n: number, xs: readonly Labelled[]): string[][][] {
  const out = Array.from({ length: n }, () => new Map<string, string[]>());
  for (const x of xs) {
    const words = phrasingOf(x.lits);
    if (out[x.t].size < 16) out[x.t].set(words.join(" "), words);
  }
  return out.map((m) => [...m.values()]);
}

/** `n` generic questions of the base corpus (seeded), as tasks the base parser answers: the "none" negatives. */
function negativeTasks(meta: SchemaMeta, seed: number, n: number): TaskLits[] {
  if (n <= 0) return [];
  const per = Math.max(1, Math.ceil(n / Math.max(1, meta.relations.length)));
  return generateCorpus(meta, { seed: seed + 7919, perRelation: per }).slice(0, n).map((ex) => taskLits(ex.question, meta));
}

/** What the selector's training decisions are made from. */
interface DecisionSource {
  templates: TunedTemplate[];
  /** The "none" negatives. */
  negatives: readonly TaskLits[];
  /** Weight of an example shown without its own template (0: not shown). */
  abstain: number;
  /** Drops words of the examples' second showing (seeded; shared by every call, in order). */
  thin: () => number;
}

/**
 * The decision of one task among the templates in `avail` (all by default): `t` is its template (−1 for a
 * negative, whose answer is "none"); with `drop`, its own template is left out and "abstain" is the answer. A
 * labelled task's own phrasing is left out of its template's vocabulary. Undefined when the task has no choice.
 */
function decisionItem(src: DecisionSource, ix: HeadIndex, lits: TaskLits, t: number, drop = false, avail?: ReadonlySet<number>): Item | undefined {
  const exclude = t >= 0 && !drop ? { t, words: taskWords(lits) } : undefined;
  const cs = candidates(src.templates, ix, lits, exclude, avail).filter((c) => !drop || c.t !== t);
  const gi = t < 0 ? 0 : drop ? 1 : cs.findIndex((c) => c.t === t);
  if (!cs.length || gi < 0) return undefined;
  return { f: feats(lits), cands: [...FIXED, ...cs.map((c) => c.cand)], gold: t >= 0 && !drop ? FIXED.length + gi : gi, weight: drop ? src.abstain : 1 };
}

/** The decisions to learn from labelled tasks `xs` and the negatives, with `ix` and the templates in `avail`. */
function decisionItems(src: DecisionSource, xs: readonly Labelled[], ix: HeadIndex, avail?: ReadonlySet<number>): { items: Item[]; negatives: number } {
  const items: Item[] = [];
  // Each example also appears with half of its words dropped (seeded): a new phrasing of a known task shares
  // only part of its words with the training phrasings.
  const half = (it: Item): Item => ({ ...it, f: it.f.filter((_, i) => i === 0 || src.thin() < 0.5) });
  for (const x of xs) {
    const it = decisionItem(src, ix, x.lits, x.t, false, avail);
    const neg = src.abstain > 0 ? decisionItem(src, ix, x.lits, x.t, true, avail) : undefined;
    for (const y of [it, neg]) if (y) items.push(y, half(y));
  }
  let negatives = 0;
  for (const lits of src.negatives) {
    const it = decisionItem(src, ix, lits, -1, false, avail);
    if (it) {
      items.push(it);
      negatives++;
    }
  }
  return { items, negatives };
}

/**
 * The selector's confidence threshold, calibrated by cross-validation: phrasings (and a quarter of the templates,
 * as if never seen) held out in turn, twice with different folds; the threshold maximises right − cost × wrong
 * held-out choices at or above it, cost = precision / (1 − precision) — a choice is worth making where it is
 * right `precision` of the time. On data that teaches nothing (shuffled answers) no threshold pays (it is then
 * above 1) and the model stays the base parser. 0 with fewer than 2 folds or no training task.
 */
function calibrateThreshold(src: DecisionSource, train: readonly Labelled[], hp: Hyper, signal: AbortSignal | undefined, emit: (e: TrainerEvent) => void): number {
  const { folds, precision, seed, epochs, batchSize, lr, bits, init } = hp;
  if (folds <= 1 || !train.length) return 0;
  const { templates } = src;
  const cost = precision / (1 - precision);
  const records: { p: number; ok: boolean }[] = [];
  for (let rep = 0; rep < 2; rep++) {
    const fseed = seed * 2 + rep;
    const unseenFold = (t: number) => hash32(`unseen|${t}`, fseed) % 4 === 0 ? hash32(`fold|${t}`, fseed) % folds : -1;
    const foldOf = (x: Labelled) => {
      const u = unseenFold(x.t);
      return u >= 0 ? u : hash32(`${x.t}|${phrasingOf(x.lits).join(" ")}`, fseed) % folds;
    };
    for (let k = 0; k < folds; k++) {
      const fit = train.filter((x) => foldOf(x) !== k), held = train.filter((x) => foldOf(x) === k);
      if (!fit.length || !held.length) continue;
      const avail = new Set(templates.map((_, t) => t).filter((t) => unseenFold(t) !== k));
      const ixK = indexTemplates(templates, phrasingsFrom(templates.length, fit));
      const wK = fitSelector(decisionItems(src, fit, ixK, avail).items, { seed: fseed + k + 1, epochs, batchSize, lr, bits, init, signal });
      for (const x of held) {
        const pick = choose({ templates, bits, w: wK }, ixK, x.lits, avail);
        if (pick) records.push({ p: pick.p, ok: pick.t === x.t });
      }
    }
  }
  records.sort((a, b) => b.p - a.p);
  let minProb = 1.01;
  let u = 0, best = 0, right = 0;
  for (const r of records) {
    u += r.ok ? 1 : -cost;
    if (r.ok) right++;
    if (u > best) [best, minProb] = [u, r.p];
  }
  const kept = records.filter((r) => r.p >= minProb);
  emit({
    level: "info",
    message: `calibration (${folds} folds × 2, ${records.length} held-out choices, ${right} right): confidence threshold ` +
      (minProb > 1 ? "none pays — the model keeps the base parser" : `${minProb.toFixed(3)} (${kept.filter((r) => r.ok).length} right, ${kept.filter((r) => !r.ok).length} wrong at or above it)`),
  });
  return minProb;
}

/**
 * The selector fitted on all the training tasks and the negatives, reporting the training loss per step and, with
 * `options.validation`, the validation loss per epoch. Returns its weights, the reported losses and how many
 * negatives it learned from.
 */
function fitHead(
  src: DecisionSource,
  learned: LearnedTemplates,
  meta: SchemaMeta,
  hp: Hyper,
  options: FineTuneOptions,
  emit: (e: TrainerEvent) => void,
): { w: Float64Array; losses: number[]; negatives: number } {
  const { seed, epochs, batchSize, lr, bits, init } = hp;
  const ix = indexTemplates(learned.templates);
  const { items, negatives } = decisionItems(src, learned.train, ix);
  const valid = options.validation ? labelTasks(options.validation.map((ex) => prepare(ex, meta)), learned.byGroup) : undefined;
  const validItems = valid?.labelled.map((x) => decisionItem(src, ix, x.lits, x.t)).filter((x): x is Item => !!x) ?? [];
  if (valid) emit({ level: "info", message: `validation: ${validItems.length} of ${options.validation!.length} examples usable${valid.unseen ? `; ${valid.unseen} dropped: their SQL abstracts to a template not in the training file` : ""}` });
  emit({ level: "info", message: `${learned.templates.length} templates (${learned.programs} with an answer program) from ${learned.train.length} examples; ${negatives} base-corpus negatives` });
  const losses: number[] = [];
  const w = fitSelector(items, {
    seed,
    epochs,
    batchSize,
    lr,
    bits,
    init,
    signal: options.signal,
    reportEvery: options.reportEvery,
    onStep: (step, steps, epoch, loss) => {
      losses.push(loss);
      emit({ level: "info", message: `Step ${step}/${steps}: training loss=${loss.toFixed(4)}`, data: { step, train_loss: loss, epoch } });
    },
    onEpoch: (epoch, step, w) => {
      if (!validItems.length) return;
      const vl = validItems.reduce((s, it) => s + -Math.log(Math.max(1e-12, softmax(scores(w, bits, it.f, it.cands))[it.gold])), 0) / validItems.length;
      emit({ level: "info", message: `Epoch ${epoch}: validation loss=${vl.toFixed(4)}`, data: { step, train_loss: losses.at(-1) ?? 0, valid_loss: vl, full_valid_loss: vl, epoch } });
    },
  });
  return { w, losses, negatives };
}

const sha256 = (d: string | Uint8Array) => createHash("sha256").update(d).digest("hex");

function tunedHash(baseHash: string, head: TunedHead, recipe: TunedModel["recipe"]): string {
  const w = head.w instanceof Float32Array ? head.w : Float32Array.from(head.w);
  const min = head.minProb === undefined ? "" : `|${head.minProb}`;
  return sha256(baseHash + JSON.stringify(head.templates) + JSON.stringify(recipe) + min + sha256(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)));
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Serialises a fine-tuned model (base included) to JSON text. */
export function serializeTuned(m: TunedModel): string {
  const w = m.head.w instanceof Float32Array ? m.head.w : Float32Array.from(m.head.w);
  return JSON.stringify({ ...m, base: JSON.parse(serializeModel(m.base)), head: { ...m.head, w: toBase64(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)) } });
}

/** Parses a fine-tuned model file; throws when the content does not match its hash. */
export function parseTuned(textIn: string, where = "model file"): TunedModel {
  const raw = JSON.parse(textIn);
  if (raw?.format !== "lab-mini-ft/v1") throw new Error(`${where}: not a fine-tuned lab-mini model (format ${raw?.format})`);
  const base = parseModel(JSON.stringify(raw.base), `${where} (base)`);
  const bin = atob(raw.head.w);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const head: TunedHead = { templates: raw.head.templates, bits: raw.head.bits, w: new Float32Array(bytes.buffer), ...(typeof raw.head.minProb === "number" ? { minProb: raw.head.minProb } : {}) };
  const hash = tunedHash(base.hash, head, raw.recipe);
  if (hash !== raw.hash) throw new Error(`${where}: content hash ${hash.slice(0, 12)} does not match the recorded ${String(raw.hash).slice(0, 12)}; the file is corrupt or edited — fine-tune again`);
  return { ...raw, base, head };
}

/** The schema a tuned model knows (its base's). */
export const tunedMeta = (m: TunedModel): SchemaMeta => m.base.meta;
