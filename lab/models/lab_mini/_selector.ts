/**
 * The fine-tuned head's template selector: features of a (task, template) choice, the candidates a task's literals
 * can fill, a log-linear score over them ("none" and "abstain" included), and its training by mini-batch
 * gradient descent.
 * @module
 */
import { fillTemplate, gramHashes, sqlStems, type TaskLits } from "./_copy.ts";
import type { AnswerProgram } from "./_answer.ts";
import { hash32, prng } from "./_text.ts";
import type { TunedHead, TunedTemplate } from "./finetune.ts";

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

export function feats(lits: TaskLits): number[] {
  return [BIAS, ...gramHashes(lits.masked)];
}

/** One choice of a decision: its class hash, its shared features `[feature, value]`, and its own task features. */
export interface Cand {
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
export const FIXED: readonly Cand[] = [NONE_CAND, ABSTAIN_CAND];

export function scores(w: ArrayLike<number>, bits: number, f: number[], cands: readonly Cand[]): number[] {
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

export function softmax(s: number[]): number[] {
  const mx = Math.max(...s);
  const e = s.map((x) => Math.exp(x - mx));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

export interface HeadIndex {
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

export function indexTemplates(templates: readonly TunedTemplate[], phrasings: readonly (readonly string[][])[] = templates.map((t) => t.phrasings ?? [])): HeadIndex {
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

export function headIndex(head: TunedHead): HeadIndex {
  let h = headCache.get(head);
  if (!h) headCache.set(head, h = indexTemplates(head.templates));
  return h;
}

/** The content words of a task (stems, literals masked out). */
export const taskWords = (lits: TaskLits): Set<string> => new Set(lits.masked.filter((w) => !w.startsWith("<")));

/**
 * The templates a task's literals can fill (with their SQL), as choices of the selector. `exclude`: the phrasing
 * of a training example, left out of its own template's vocabulary — so training sees a template's words the way
 * a new phrasing sees them.
 */
export function candidates(
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

/** The template the selector ranks first, when it beats "none" and "abstain" (before the confidence threshold). */
export function choose(head: Pick<TunedHead, "templates" | "bits" | "w">, ix: HeadIndex, lits: TaskLits, avail?: ReadonlySet<number>): { t: number; p: number; sqls: string[] } | undefined {
  const cs = candidates(head.templates, ix, lits, undefined, avail);
  if (!cs.length) return undefined;
  const p = softmax(scores(head.w, head.bits, feats(lits), [...FIXED, ...cs.map((c) => c.cand)]));
  const k0 = FIXED.length;
  let best = k0;
  for (let k = k0 + 1; k < p.length; k++) if (p[k] > p[best]) best = k;
  if (p[best] <= p[0] || p[best] <= p[1]) return undefined;
  return { t: cs[best - k0].t, p: p[best], sqls: cs[best - k0].sqls };
}

/** One decision the selector learns from: the task's features, its choices, the right one and its weight. */
export interface Item {
  f: number[];
  cands: Cand[];
  gold: number;
  weight: number;
}

/** Options of {@linkcode fitSelector}. */
export interface FitOptions {
  seed: number;
  epochs: number;
  batchSize: number;
  lr: number;
  bits: number;
  /** Weights to start from (a parent version's head, continued); zeros when absent. */
  init?: ArrayLike<number>;
  signal?: AbortSignal;
  reportEvery?: number;
  onStep?: (step: number, steps: number, epoch: number, meanLoss: number) => void;
  onEpoch?: (epoch: number, step: number, w: Float64Array) => void;
}

/** Mini-batch gradient descent on the selector's cross-entropy (batch-summed gradient, seeded shuffling). */
export function fitSelector(items: readonly Item[], o: FitOptions): Float64Array {
  const w = new Float64Array(1 << o.bits);
  if (o.init) {
    if (o.init.length !== w.length) throw new RangeError(`initial weights have ${o.init.length} entries, expected 2^${o.bits}`);
    w.set(o.init);
  }
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
