/**
 * Fine-tuning of lab-mini (the `Trainer` port): chat JSONL in OpenAI's fine-tuning format → the assistant's
 * dbRead/dbWrite SQL abstracted into new templates with typed literal slots (periods, numbers, strings) aligned
 * with the task → a log-linear template selector (task n-grams × template, plus a "none" class meaning "use the
 * base parser", trained on the base corpus as negatives) fitted by mini-batch gradient descent → a new weights
 * version `ft:lab-mini:<suffix>:<hash12>` written under `outDir` and served at once.
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { TrainerEvent } from "../trainer.ts";
import { abstractGroup, fillTemplate, gramHashes, groupKey, sqlStems, type TaskLits, taskLits, type Template } from "./_copy.ts";
import { type AnswerProgram, type CallResult, type Demo, induceProgram } from "./_answer.ts";
import { hash32, prng } from "./_text.ts";
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

/** A fine-tuned model: the base it started from and the head. */
export interface TunedModel {
  format: "lab-mini-ft/v1";
  id: string;
  base: LabMiniModel;
  head: TunedHead;
  recipe: { seed: number; epochs: number; batchSize: number; lr: number; abstain?: number; folds?: number; precision?: number; examples: number; used: number; dropped: Record<string, number>; negatives: number };
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

// Feature index of (feature, class): a multiplicative mix of the two hashes, top `bits` bits.
const NONE = 0x6e6f6e65;
// The class of the features every template shares (how well its SQL's names cover the task's words, …): they
// carry over to templates and phrasings never seen together in training.
const SHARED = hash32("<shared>");
const idx = (g: number, cls: number, bits: number) => Math.imul((g ^ Math.imul(cls, 0x85ebca6b)) >>> 0, 0x9e3779b1) >>> (32 - bits);
const BIAS = hash32("<bias>");
const X_TEMPLATE = hash32("tpl|bias"), X_COVER = hash32("cover|task"), X_ABOUT = hash32("cover|template"), X_SIG = hash32("sig|same");
const X_UNUSED = { period: hash32("unused|period"), num: hash32("unused|num") };
const X_FIELDS = { missing: hash32("fields|missing"), found: hash32("fields|found") };

function classHash(t: TunedTemplate): number {
  return hash32(JSON.stringify(t.calls.map((c) => [c.tool, c.template.sql])));
}

function feats(lits: TaskLits): number[] {
  return [BIAS, ...gramHashes(lits.masked)];
}

/** One choice of a decision: its class hash, its shared features `[feature, value]`, and its own task features. */
interface Cand {
  cls: number;
  x: [number, number][];
  /** Task features of this choice instead of the task's n-grams. */
  own?: number[];
}

/** "None": the base parser answers (a generic question it knows). */
const NONE_CAND: Cand = { cls: NONE, x: [] };
/**
 * "Abstain": no template fits, the base parser answers. Its score is a learned bias only — a threshold the best
 * template must clear — not the task's words: it is trained by showing each example without its own template.
 */
const ABSTAIN_CAND: Cand = { cls: hash32("<abstain>"), x: [], own: [BIAS] };
const FIXED = [NONE_CAND, ABSTAIN_CAND];

function scores(w: ArrayLike<number>, bits: number, f: number[], cands: readonly Cand[]): number[] {
  const out = new Array<number>(cands.length);
  for (let k = 0; k < cands.length; k++) {
    const c = cands[k];
    const fs = c.own ?? f;
    let s = 0;
    for (let j = 0; j < fs.length; j++) s += w[idx(fs[j], c.cls, bits)];
    for (let j = 0; j < c.x.length; j++) s += w[idx(c.x[j][0], SHARED, bits)] * c.x[j][1];
    out[k] = s;
  }
  return out;
}

function softmax(s: number[]): number[] {
  const mx = Math.max(...s);
  const e = s.map((x) => Math.exp(x - mx));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

interface HeadIndex {
  hashes: number[];
  /** Stems of what each template is about: its SQL's names, its string slots' training values, its answer's keys. */
  names: Set<string>[];
  /** Per template: word → how many of its training phrasings use it. */
  vocab: Map<string, number>[];
  /** Inverse template frequency of a word (over names and phrasings); unknown words get the maximum. */
  idf: (w: string) => number;
  /** How many distinct task periods and numbers each template takes. */
  uses: { period: number; num: number }[];
  /** The identifiers each template's SQL and answer use (lower case). */
  idents: Set<string>[];
}

function answerKeys(p: AnswerProgram | undefined): string[] {
  if (!p || "k" in p || "val" in p) return [];
  if ("obj" in p) return p.obj.flatMap(([k, sub]) => [k, ...answerKeys(sub)]);
  return p.fields === "all" ? [] : p.fields.map(([k]) => k);
}

function indexTemplates(templates: readonly TunedTemplate[], phrasings: readonly (readonly string[][])[] = templates.map((t) => t.phrasings ?? [])): HeadIndex {
  const names = templates.map((t) =>
    sqlStems(
      [...t.calls.flatMap((c) => [c.template.sql, ...c.template.slots.flatMap((s) => s.kind === "str" ? s.seen ?? [] : [])]), ...answerKeys(t.answer)].join(" "),
    )
  );
  const vocab = templates.map((_, i) => {
    const m = new Map<string, number>();
    for (const ph of phrasings[i] ?? []) for (const w of ph) m.set(w, (m.get(w) ?? 0) + 1);
    return m;
  });
  const df = new Map<string, number>();
  templates.forEach((_, i) => {
    for (const w of new Set([...names[i], ...vocab[i].keys()])) df.set(w, (df.get(w) ?? 0) + 1);
  });
  const n = templates.length;
  const idf = (w: string) => Math.log((n + 1) / ((df.get(w) ?? 0) + 0.5));
  return {
    hashes: templates.map(classHash),
    idents: templates.map((t) => new Set([...t.calls.flatMap((c) => c.template.sql.toLowerCase().match(/[a-z_][a-z0-9_]*/g) ?? []), ...answerKeys(t.answer).map((k) => k.toLowerCase())])),
    names,
    vocab,
    idf,
    uses: templates.map((t) => {
      const slots = t.calls.flatMap((c) => c.template.slots);
      const distinct = (kinds: string[]) => new Set(slots.filter((s) => kinds.includes(s.kind)).map((s) => "i" in s ? s.i : JSON.stringify(s))).size;
      return { period: distinct(["pshift", "period", "days"]), num: distinct(["num"]) };
    }),
  };
}

const headCache = new WeakMap<TunedHead, HeadIndex>();

function headIndex(head: TunedHead): HeadIndex {
  let h = headCache.get(head);
  if (!h) headCache.set(head, h = indexTemplates(head.templates));
  return h;
}

/** The content words of a task (stems, literals masked out). */
const taskWords = (lits: TaskLits) => new Set(lits.masked.filter((w) => !w.startsWith("<")));

/**
 * The templates a task's literals can fill (with their SQL), as choices of the selector. `exclude`: the phrasing
 * of a training example, left out of its own template's vocabulary — so training sees a template's words the way
 * a new phrasing sees them.
 */
function candidates(
  templates: readonly TunedTemplate[],
  ix: HeadIndex,
  lits: TaskLits,
  exclude?: { t: number; words: Set<string> },
  avail?: ReadonlySet<number>,
): { t: number; sqls: string[]; cand: Cand }[] {
  const words = taskWords(lits);
  let taskMass = 0;
  for (const w of words) taskMass += ix.idf(w);
  const out: { t: number; sqls: string[]; cand: Cand }[] = [];
  templates.forEach((tpl, t) => {
    if (avail && !avail.has(t)) return;
    const sqls: string[] = [];
    for (const c of tpl.calls) {
      const s = fillTemplate(c.template, lits);
      if (s === undefined) return;
      sqls.push(s);
    }
    // How much of the task the template's words cover, and how much of what the template is about the task
    // mentions (both weighted by rarity across templates).
    const names = ix.names[t], vocab = ix.vocab[t];
    const ex = exclude?.t === t ? exclude.words : undefined;
    let covered = 0;
    for (const w of words) if (names.has(w) || (vocab.get(w) ?? 0) - (ex?.has(w) ? 1 : 0) > 0) covered += ix.idf(w);
    let about = 0, aboutMass = 0;
    for (const w of names) {
      const i = ix.idf(w);
      aboutMass += i;
      if (words.has(w)) about += i;
    }
    const idents = ix.idents[t];
    let missing = 0;
    for (const f of lits.fields) if (!idents.has(f)) missing++;
    // Task periods and numbers the template leaves unused: a plan that ignores the period or the number asked
    // about is probably another task's plan. (Not strings: a task often mentions a category value in passing.)
    const u = ix.uses[t];
    const x: [number, number][] = [
      [X_TEMPLATE, 1],
      [X_COVER, taskMass ? covered / taskMass : 0],
      [X_ABOUT, aboutMass ? about / aboutMass : 0],
      [X_SIG, tpl.sig === lits.sig ? 1 : 0],
      [X_UNUSED.period, Math.max(0, lits.periods.length - u.period)],
      [X_UNUSED.num, Math.min(3, Math.max(0, lits.nums.length - u.num))],
      // fields the task asks for by name that the template's query and answer never produce (or do)
      [X_FIELDS.missing, Math.min(3, missing)],
      [X_FIELDS.found, Math.min(3, lits.fields.length - missing)],
    ];
    out.push({ t, sqls, cand: { cls: ix.hashes[t], x } });
  });
  return out;
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

/** The template the selector ranks first, when it beats "none" and "abstain" (before the confidence threshold). */
function choose(head: Pick<TunedHead, "templates" | "bits" | "w">, ix: HeadIndex, lits: TaskLits, avail?: ReadonlySet<number>): { t: number; p: number; sqls: string[] } | undefined {
  const cs = candidates(head.templates, ix, lits, undefined, avail);
  if (!cs.length) return undefined;
  const p = softmax(scores(head.w, head.bits, feats(lits), [...FIXED, ...cs.map((c) => c.cand)]));
  const k0 = FIXED.length;
  let best = k0;
  for (let k = k0 + 1; k < p.length; k++) if (p[k] > p[best]) best = k;
  if (p[best] <= p[0] || p[best] <= p[1]) return undefined;
  return { t: cs[best - k0].t, p: p[best], sqls: cs[best - k0].sqls };
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
  /** log2 of the selector's feature space. @default 18 */
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

interface Item {
  f: number[];
  cands: Cand[];
  gold: number;
  weight: number;
}

/** Fine-tunes a base model on chat examples; `base` is unchanged. Deterministic for a seed. */
export function fineTune(base: LabMiniModel, examples: ChatExample[], options: FineTuneOptions = {}): TunedModel {
  const seed = options.seed ?? 0, epochs = options.epochs ?? 3, batchSize = options.batchSize ?? 16, lr = options.lr ?? 0.1, bits = options.bits ?? 18;
  const abstain = options.abstain ?? 1;
  const emit = options.onEvent ?? (() => {});
  const meta = base.meta;
  // 1. templates (examples of the same plan abstracted together, so only literals that vary with the task become
  // slots), and the demonstrations of how each one's answer is made
  const templates: TunedTemplate[] = [];
  const demos: Demo[][] = [];
  const byGroup = new Map<string, number>();
  const byTemplate = new Map<string, number>();
  const prepared = examples.map((ex) => {
    const lits = taskLits(ex.task, meta);
    return { ex, lits, group: JSON.stringify(ex.calls.map((c) => [c.tool, groupKey(c.sql, lits)])) };
  });
  const groups = new Map<string, typeof prepared>();
  for (const p of prepared) groups.set(p.group, [...groups.get(p.group) ?? [], p]);
  for (const [g, members] of groups) {
    const withResults = (m: typeof prepared[number], k: number) => {
      const rs = m.ex.results;
      return rs && rs.slice(0, k).every(Boolean) ? rs.slice(0, k) as CallResult[] : undefined;
    };
    const calls = members[0].ex.calls.map((c, k) => ({
      tool: c.tool,
      template: abstractGroup(members.map((m) => ({ sql: m.ex.calls[k].sql, lits: m.lits, prior: withResults(m, k) })))!,
    }));
    const key = JSON.stringify(calls.map((c) => [c.tool, c.template.sql, c.template.slots]));
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
  const itemsOf = (exs: ChatExample[], known?: typeof prepared) => {
    const out: { lits: TaskLits; t: number }[] = [];
    let unseen = 0;
    for (const p of known ?? exs.map((ex) => {
      const lits = taskLits(ex.task, meta);
      return { ex, lits, group: JSON.stringify(ex.calls.map((c) => [c.tool, groupKey(c.sql, lits)])) };
    })) {
      const t = byGroup.get(p.group);
      if (t === undefined) unseen++;
      else out.push({ lits: p.lits, t });
    }
    return { out, unseen };
  };
  const train = itemsOf(examples, prepared).out;
  let programs = 0;
  const phrasingOf = (lits: TaskLits) => [...taskWords(lits)].sort();
  const phrasingsFrom = (xs: readonly { lits: TaskLits; t: number }[]) => {
    const out = templates.map(() => new Map<string, string[]>());
    for (const x of xs) {
      const words = phrasingOf(x.lits);
      if (out[x.t].size < 16) out[x.t].set(words.join(" "), words);
    }
    return out.map((m) => [...m.values()]);
  };
  const phrasings = phrasingsFrom(train);
  templates.forEach((t, i) => {
    const p = induceProgram(demos[i]);
    if (p) {
      t.answer = p;
      programs++;
    }
    t.phrasings = phrasings[i];
  });
  // 2. negatives: generic questions the base parser answers
  const nNeg = options.negatives ?? Math.min(2000, Math.max(500, examples.length));
  const negLits: TaskLits[] = [];
  if (nNeg > 0) {
    const per = Math.max(1, Math.ceil(nNeg / Math.max(1, meta.relations.length)));
    for (const ex of generateCorpus(meta, { seed: seed + 7919, perRelation: per }).slice(0, nNeg)) negLits.push(taskLits(ex.question, meta));
  }
  const thin = prng(seed ^ 0xa11);
  /** The decisions to learn from `xs` (examples) and the negatives, with `ix` and the templates in `avail`. */
  const itemsFor = (xs: readonly { lits: TaskLits; t: number }[], ix: HeadIndex, avail?: ReadonlySet<number>) => {
    const toItem = (lits: TaskLits, t: number, drop = false): Item | undefined => {
      const exclude = t >= 0 && !drop ? { t, words: taskWords(lits) } : undefined;
      const cs = candidates(templates, ix, lits, exclude, avail).filter((c) => !drop || c.t !== t);
      const gi = t < 0 ? 0 : drop ? 1 : cs.findIndex((c) => c.t === t);
      if (!cs.length || gi < 0) return undefined;
      return { f: feats(lits), cands: [...FIXED, ...cs.map((c) => c.cand)], gold: t >= 0 && !drop ? FIXED.length + gi : gi, weight: drop ? abstain : 1 };
    };
    const items: Item[] = [];
    // Each example also appears with half of its words dropped (seeded): a new phrasing of a known task shares
    // only part of its words with the training phrasings.
    const half = (it: Item): Item => ({ ...it, f: it.f.filter((_, i) => i === 0 || thin() < 0.5) });
    for (const x of xs) {
      const it = toItem(x.lits, x.t);
      const neg = abstain > 0 ? toItem(x.lits, x.t, true) : undefined;
      for (const y of [it, neg]) if (y) items.push(y, half(y));
    }
    let negatives = 0;
    for (const lits of negLits) {
      const it = toItem(lits, -1);
      if (it) {
        items.push(it);
        negatives++;
      }
    }
    return { items, negatives, toItem };
  };
  // 3. calibration of the selector's confidence by cross-validation: phrasings (and a quarter of the templates,
  // as if never seen) held out in turn, twice with different folds; the threshold maximises right − cost × wrong
  // held-out choices at or above it, cost = precision / (1 − precision) — a choice is worth making where it is
  // right `precision` of the time. On data that teaches nothing (shuffled answers) no threshold pays and the model
  // stays the base parser.
  const folds = options.folds ?? 4;
  const precision = options.precision ?? 0.8;
  let minProb = 0;
  if (folds > 1 && train.length) {
    const cost = precision / (1 - precision);
    const records: { p: number; ok: boolean }[] = [];
    for (let rep = 0; rep < 2; rep++) {
      const fseed = seed * 2 + rep;
      const unseenFold = (t: number) => hash32(`unseen|${t}`, fseed) % 4 === 0 ? hash32(`fold|${t}`, fseed) % folds : -1;
      const foldOf = (x: { lits: TaskLits; t: number }) => {
        const u = unseenFold(x.t);
        return u >= 0 ? u : hash32(`${x.t}|${phrasingOf(x.lits).join(" ")}`, fseed) % folds;
      };
      for (let k = 0; k < folds; k++) {
        const fit = train.filter((x) => foldOf(x) !== k), held = train.filter((x) => foldOf(x) === k);
        if (!fit.length || !held.length) continue;
        const avail = new Set(templates.map((_, t) => t).filter((t) => unseenFold(t) !== k));
        const ixK = indexTemplates(templates, phrasingsFrom(fit));
        const wK = fitSelector(itemsFor(fit, ixK, avail).items, { seed: fseed + k + 1, epochs, batchSize, lr, bits, signal: options.signal });
        for (const x of held) {
          const pick = choose({ templates, bits, w: wK }, ixK, x.lits, avail);
          if (pick) records.push({ p: pick.p, ok: pick.t === x.t });
        }
      }
    }
    records.sort((a, b) => b.p - a.p);
    minProb = 1.01;
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
  }
  // 4. the selector on all the data
  const ix = indexTemplates(templates);
  const { items, negatives, toItem } = itemsFor(train, ix);
  const valid = options.validation ? itemsOf(options.validation) : undefined;
  const validItems = valid?.out.map((x) => toItem(x.lits, x.t)).filter((x): x is Item => !!x) ?? [];
  if (valid) emit({ level: "info", message: `validation: ${validItems.length} of ${options.validation!.length} examples usable${valid.unseen ? `; ${valid.unseen} dropped: their SQL abstracts to a template not in the training file` : ""}` });
  emit({ level: "info", message: `${templates.length} templates (${programs} with an answer program) from ${train.length} examples; ${negatives} base-corpus negatives` });
  const losses: number[] = [];
  const w = fitSelector(items, {
    seed,
    epochs,
    batchSize,
    lr,
    bits,
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
  const w32 = Float32Array.from(w);
  const head: TunedHead = { templates, bits, w: w32, minProb };
  const dropped = options.read?.dropped ?? {};
  const recipe = { seed, epochs, batchSize, lr, abstain, folds, precision, examples: options.read?.total ?? examples.length, used: examples.length, dropped, negatives };
  const hash = tunedHash(base.hash, head, recipe);
  const id = `ft:lab-mini:${options.suffix ?? "lab"}:${hash.slice(0, 12)}`;
  return { format: "lab-mini-ft/v1", id, base, head, recipe, hash, losses };
}

/** Options of {@linkcode fitSelector}. */
interface FitOptions {
  seed: number;
  epochs: number;
  batchSize: number;
  lr: number;
  bits: number;
  signal?: AbortSignal;
  reportEvery?: number;
  onStep?: (step: number, steps: number, epoch: number, meanLoss: number) => void;
  onEpoch?: (epoch: number, step: number, w: Float64Array) => void;
}

/** Mini-batch gradient descent on the selector's cross-entropy (batch-summed gradient, seeded shuffling). */
function fitSelector(items: readonly Item[], o: FitOptions): Float64Array {
  const w = new Float64Array(1 << o.bits);
  const rand = prng(o.seed ^ 0xf17e);
  const order = items.map((_, i) => i);
  const steps = o.epochs * Math.ceil(items.length / o.batchSize);
  const every = o.reportEvery ?? Math.max(1, Math.ceil(steps / 500));
  let step = 0, acc = 0, accN = 0;
  // The batch gradient, sparse over a dense buffer: the indices touched, their sums.
  const grad = new Float64Array(1 << o.bits);
  const touched = new Uint8Array(1 << o.bits);
  const list: number[] = [];
  const add = (x: number, g: number) => {
    if (!touched[x]) {
      touched[x] = 1;
      list.push(x);
    }
    grad[x] += g;
  };
  for (let e = 0; e < o.epochs; e++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let b = 0; b < order.length; b += o.batchSize) {
      if (o.signal?.aborted) throw o.signal.reason ?? new Error("aborted");
      let loss = 0;
      const end = Math.min(order.length, b + o.batchSize);
      for (let k = b; k < end; k++) {
        const it = items[order[k]];
        const p = softmax(scores(w, o.bits, it.f, it.cands));
        loss -= Math.log(Math.max(1e-12, p[it.gold]));
        for (let ci = 0; ci < it.cands.length; ci++) {
          const c = it.cands[ci];
          const g = (p[ci] - (ci === it.gold ? 1 : 0)) * it.weight;
          // choices the model already gives (almost) no probability to have (almost) no gradient
          if (Math.abs(g) < 1e-6) continue;
          const f = c.own ?? it.f;
          for (let j = 0; j < f.length; j++) add(idx(f[j], c.cls, o.bits), g);
          for (let j = 0; j < c.x.length; j++) add(idx(c.x[j][0], SHARED, o.bits), g * c.x[j][1]);
        }
      }
      for (const x of list) {
        w[x] -= o.lr * grad[x];
        grad[x] = 0;
        touched[x] = 0;
      }
      list.length = 0;
      step++;
      acc += loss / (end - b);
      accN++;
      if (o.onStep && (step % every === 0 || step === steps)) {
        o.onStep(step, steps, e + 1, acc / accN);
        acc = accN = 0;
      }
    }
    o.onEpoch?.(e + 1, step, w);
  }
  return w;
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
