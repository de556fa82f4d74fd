/**
 * The log-linear semantic parser of lab-mini: a question is mapped to a typed plan (a sketch plus slot fills)
 * by a sequence of softmax decisions — sketch, relation, aggregate, measure, dimension, filter, date column —
 * each scored by hashed sparse features (question n-grams crossed with the sketch, and with the name and comment
 * tokens of candidate relations and columns: schema linking). Decoding is a beam search over the decisions;
 * training (SGD on cross-entropy, teacher forcing) updates the same weights.
 * @module
 */
import { type Comparison, hash32, ngrams, normalise, type Normalised, type Period, periodBounds, previousPeriod, stem, stems, words } from "./_text.ts";
import type { ColumnMeta, RelationMeta, SchemaMeta } from "./schema_meta.ts";

/** The plan templates lab-mini can fill. */
export const SKETCHES = ["count", "agg", "topn", "list", "compare"] as const;
export type Sketch = typeof SKETCHES[number];
export type Agg = "sum" | "avg" | "min" | "max" | "count";

/** A filled sketch: everything needed to render SQL. */
export interface Plan {
  sketch: Sketch;
  rel: string;
  agg?: Agg;
  measure?: string;
  dim?: string;
  /** The key column of the things `dim` groups (a top-N returns it too); derived from the relation and `dim`. */
  key?: string;
  /** Equality on a category value; `vals`: one of several (`IN`); `neg`: all but these (`<>` / `NOT IN`). */
  filter?: Filter;
  /** A numeric comparison on a measure column ("with a price of 20,000 or more"). */
  cmp?: { col: string } & Comparison;
  dateCol?: string;
  periods: Period[];
  n?: number;
}

/** A filter on category values. */
export interface Filter {
  col: string;
  val: string;
  vals?: string[];
  neg?: boolean;
}

/** A category value a question mentions, and whether it is excluded ("leave out returns"). */
export interface Mention {
  col: string;
  val: string;
  neg: boolean;
}

/** A sparse feature vector: hashed indices and values. */
/** A sparse feature vector, flat: index, value, index, value, … (no tuple per feature: decoding allocates less). */
export type Features = number[];

/** Strategy preferences read from the system prompt (see README). */
export interface Prefs {
  views: boolean;
}

/** What the parser derives from a question once. */
export interface ParseContext {
  norm: Normalised;
  toks: string[];
  tokset: Set<string>;
  grams: string[];
  /** Hashes of `toks` and of `grams` (features mix these numbers instead of building strings). */
  tokh: number[];
  gramh: number[];
  /** Per relation: category values mentioned in the question. */
  mentions: Map<string, Mention[]>;
  /** What a count or total is about: the head noun after "how many", "number of", "count", "total of"… and the
   * words before it in that phrase ("late delivery trips": head `trip`, modifiers `late`, `delivery`). */
  head?: { head: string; mods: string[] };
  /** The columns whose whole name of two or more words the question says first, as a phrase ("fuel cost"). */
  firstNamed?: Set<ColumnMeta>;
  /** Per relation, the measure columns the question names (in full) first. */
  firstMeasures?: Set<ColumnMeta>;
  prefs: Prefs;
  /** Features already computed for this question (per column × role, per relation × sketch): decoding reuses them. */
  memo?: Map<unknown, Features>;
  /** What later stages offer, per relation, sketch and earlier choice (memoised per question). */
  stageMemo?: Map<string, unknown>;
}

type Stage = "sketch" | "rel" | "agg" | "measure" | "dim" | "filter" | "cmp" | "date";
const STAGES: Stage[] = ["sketch", "rel", "agg", "measure", "dim", "filter", "cmp", "date"];

// Words that exclude the values after them ("leave out returned and cancelled ones", "no refunds", "other than open").
const NEGATORS = new Set(["not", "no", "excluding", "exclude", "except", "without", "ignore", "ignoring", "omit", "omitting", "out", "nor", "than"]);

/**
 * Generic English function words (and a few quantity words): never content, never the name of a thing. Used to
 * pick a description's content words and to end the noun phrase a count or total is about.
 */
export const FUNCTION_WORDS: ReadonlySet<string> = new Set<string>(
  ("a an the of to in on at by for from with without into per and or but not no nor as is are was were be been being " +
    "do does did done have has had having we our us you your they their them it its this that these those there here " +
    "which who whom whose what when where how why all any each every some such than then so if else also only just " +
    "very still yet ever never both either neither other another own same more most less least many much few e g eg " +
    "i me my he she his her one ones per via about above below over under up down out off again once after before " +
    "while during until since between against among through whether can could may might must shall should will would " +
    "get got give show list tell let please total number count sum overall")
    .split(" ")
    .flatMap((w) => [w, stem(w)]),
);

/** Content stems of a description: its words, stemmed, without function words or digits. */
export function contentStems(text: string): string[] {
  return stems(text).filter((w) => w.length > 1 && !FUNCTION_WORDS.has(w) && !/^\d/.test(w));
}

// Phrases that introduce what a count or total is about; the noun phrase after them ends at a function word.
const HEAD_TRIGGERS: string[][] = [["how", "many"], ["number", "of"], ["count", "of"], ["count"], ["total", "of"], ["sum", "of"], ["total"]];
const HEAD_SKIP = new Set(["the", "all", "our", "of", "my", "your", "those", "these"]);

/** The noun phrase a count or total is about (stemmed tokens): its last word is the head. */
function headPhrase(toks: string[]): { head: string; mods: string[] } | undefined {
  for (let i = 0; i < toks.length; i++) {
    for (const t of HEAD_TRIGGERS) {
      if (!t.every((w, k) => toks[i + k] === w)) continue;
      let j = i + t.length;
      while (j < toks.length && HEAD_SKIP.has(toks[j])) j++;
      const np: string[] = [];
      // a participle after the noun starts a clause about it ("trips driven by new hires": the head is trips)
      while (
        j < toks.length && np.length < 4 && !toks[j].startsWith("<") && !FUNCTION_WORDS.has(toks[j]) && !/^\d/.test(toks[j]) &&
        !(np.length > 0 && /[a-z]{2}ed$/.test(toks[j]))
      ) np.push(toks[j++]);
      if (np.length) return { head: np.at(-1)!, mods: np.slice(0, -1) };
    }
  }
  return undefined;
}

const inflections = (w: string) => w.length < 3 ? [w] : [w, `${w}s`, `${w}es`, `${w}ed`, `${w}d`, `${w}ly`, ...(w.endsWith("y") ? [`${w.slice(0, -1)}ies`] : [])];

interface ValueEntry {
  rel: string;
  col: string;
  val: string;
  tokens: string[];
}
/**
 * The words that mention a category value: its own words, or for a yes/no column the column's name without its
 * `is_`/`has_` prefix (`is_valid` = true → "valid"; "invalid" is then that value excluded).
 */
export function valueWords(col: ColumnMeta, val: string): string[] {
  if (/^BOOLEAN/i.test(col.type)) return val === "true" ? words(col.name).filter((w, i) => !(i === 0 && /^(is|has|can)$/.test(w))) : [];
  return val.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}

const valueIndexes = new WeakMap<SchemaMeta, Map<string, ValueEntry[]>>();
/** The category values of a schema by their first word (single words also by their inflections). */
function valueIndex(meta: SchemaMeta): Map<string, ValueEntry[]> {
  let ix = valueIndexes.get(meta);
  if (!ix) {
    ix = new Map();
    for (const r of meta.relations) {
      for (const c of r.columns) {
        for (const v of c.values ?? []) {
          const vt = valueWords(c, v);
          if (!vt.length || (vt.length === 1 && /^\d+$/.test(vt[0]))) continue;
          const e: ValueEntry = { rel: r.name, col: c.name, val: v, tokens: vt };
          for (const first of vt.length === 1 ? inflections(vt[0]) : [vt[0]]) ix.set(first, [...ix.get(first) ?? [], e]);
        }
      }
    }
    valueIndexes.set(meta, ix);
  }
  return ix;
}

/** Builds the parse context of a question against the schema the model knows. */
export function parseContext(question: string, meta: SchemaMeta, prefs: Prefs = { views: false }): ParseContext {
  const norm = normalise(question);
  const toks = norm.tokens.map((t) => t.startsWith("<") ? t : stem(t));
  const mentions = new Map<string, Mention[]>();
  const seen = new Set<ValueEntry>();
  const ix = valueIndex(meta);
  const tk = norm.tokens;
  for (let i = 0; i < tk.length; i++) {
    // a value with a negating prefix ("unlisted", "non-billable", "inactive") is that value excluded
    const prefixed = /^(un|non|in)[a-z]{3,}$/.test(tk[i])
      ? (ix.get(tk[i].replace(/^(un|non|in)/, "")) ?? []).filter((e) => e.tokens.length === 1).map((e) => ({ e, pre: true }))
      : [];
    for (const { e, pre } of [...(ix.get(tk[i]) ?? []).map((e) => ({ e, pre: false })), ...prefixed]) {
      if (seen.has(e)) continue;
      const last = e.tokens.length - 1;
      let ok = i + last < tk.length;
      for (let k = 1; k < last && ok; k++) ok = tk[i + k] === e.tokens[k];
      if (ok && last > 0) ok = inflections(e.tokens[last]).includes(tk[i + last]);
      if (!ok) continue;
      seen.add(e);
      // excluded when a negator comes shortly before, within the same list ("no returns, no refunds")
      let neg = pre;
      for (let k = i - 1; k >= Math.max(0, i - 4); k--) if (NEGATORS.has(tk[k])) neg = !pre;
      const list = mentions.get(e.rel) ?? [];
      list.push({ col: e.col, val: e.val, neg });
      mentions.set(e.rel, list);
    }
  }
  const grams = ngrams(toks);
  const head = headPhrase(toks);
  const at = new Map<string, number[]>();
  toks.forEach((t, i) => at.set(t, [...at.get(t) ?? [], i]));
  const firstNamed = firstNamedColumns(toks, at, meta);
  return {
    norm,
    toks,
    tokset: new Set(toks),
    grams,
    tokh: toks.map(th),
    gramh: grams.map(th),
    mentions,
    prefs,
    ...(head ? { head } : {}),
    ...(firstNamed ? { firstNamed } : {}),
    firstMeasures: firstNamedMeasures(toks, at, meta),
  };
}

/**
 * Of `cols`, those named in full (their whole name, as a phrase) earliest in the question, and where: what a
 * question asks about comes first, and the clauses after it (how to compute it, what to leave out) name other
 * things. `at` holds each token's positions, ascending.
 */
function namedFirst(toks: string[], at: ReadonlyMap<string, number[]>, cols: readonly ColumnMeta[]): { pos: number; cols: ColumnMeta[] } {
  let pos = Infinity;
  let out: ColumnMeta[] = [];
  for (const c of cols) {
    const ns = nameOf(c).stems;
    const i = (at.get(ns[0]) ?? []).find((i) => i <= pos && ns.every((w, k) => toks[i + k] === w));
    if (i === undefined) continue;
    if (i < pos) pos = i, out = [];
    out.push(c);
  }
  return { pos, cols: out };
}

/** The columns whose name of two or more words the question says first, over the whole schema. */
function firstNamedColumns(toks: string[], at: ReadonlyMap<string, number[]>, meta: SchemaMeta): Set<ColumnMeta> | undefined {
  const { cols } = namedFirst(toks, at, meta.relations.flatMap((r) => r.columns.filter((c) => nameOf(c).stems.length >= 2)));
  return cols.length ? new Set(cols) : undefined;
}

/** Per relation, the measure columns whose whole name (any length) the question says first. */
function firstNamedMeasures(toks: string[], at: ReadonlyMap<string, number[]>, meta: SchemaMeta): Set<ColumnMeta> {
  return new Set(meta.relations.flatMap((r) => namedFirst(toks, at, relIndex(r).measures).cols));
}

/** The weights: a hashed feature space. */
export interface Weights {
  bits: number;
  w: Float32Array | Float64Array;
}

// Feature hashing without building strings: a feature is a constant key's hash mixed with numbers (hashes of
// tokens and names), then cut to `bits`.
const keyHashes = new Map<string, number>();
/** Hash of a constant feature key (a small finite set: cached). */
function kh(key: string): number {
  let h = keyHashes.get(key);
  if (h === undefined) keyHashes.set(key, h = hash32(key));
  return h;
}
const tokHashes = new Map<string, number>();
/** Hash of a token or name (cached; the vocabulary a model meets is small). */
function th(t: string): number {
  let h = tokHashes.get(t);
  if (h === undefined) {
    if (tokHashes.size > 100_000) tokHashes.clear();
    tokHashes.set(t, h = hash32(t, 0x1b873593));
  }
  return h;
}
/** Mixes two 32-bit hashes (murmur3's finaliser over a multiply-xor combination). */
function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0xcc9e2d51)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function feat(bits: number, out: Features, key: string, v = 1) {
  out.push(kh(key) & ((1 << bits) - 1), v);
}

function featH(bits: number, out: Features, h: number, v = 1) {
  out.push(h & ((1 << bits) - 1), v);
}

const colStemCache = new WeakMap<RelationMeta, string[]>();
/** Distinct stems of a relation's non-key column names (cached). */
function columnStems(r: RelationMeta): string[] {
  let c = colStemCache.get(r);
  if (!c) colStemCache.set(r, c = [...new Set(r.columns.filter((x) => x.role !== "key").flatMap((x) => nameOf(x).stems))]);
  return c;
}

const nameStems = new WeakMap<object, { stems: string[]; hashes: number[]; name: number }>();
/** Stems of a relation's or column's name, their hashes and the name's hash (cached per metadata object). */
function nameOf(x: RelationMeta | ColumnMeta): { stems: string[]; hashes: number[]; name: number } {
  let n = nameStems.get(x);
  if (!n) {
    const st = stems(x.name);
    nameStems.set(x, n = { stems: st, hashes: st.map(th), name: th(x.name) });
  }
  return n;
}

const commentStemCache = new WeakMap<object, string[]>();
/** Content stems of a relation's or column's comment (cached per metadata object). */
function commentOf(x: RelationMeta | ColumnMeta): string[] {
  let c = commentStemCache.get(x);
  if (!c) commentStemCache.set(x, c = x.comment ? contentStems(x.comment) : []);
  return c;
}

const leadCache = new WeakMap<object, { named: boolean; stems: string[] }>();
/**
 * Whether a relation's or column's comment names it (`descriptionLead`: it has one and it is no formula), and the
 * content stems of that naming part, at most 3 (cached per metadata object).
 */
function leadInfo(x: RelationMeta | ColumnMeta): { named: boolean; stems: string[] } {
  let c = leadCache.get(x);
  if (!c) {
    const lead = x.comment ? descriptionLead(x.comment) : undefined;
    leadCache.set(x, c = { named: lead !== undefined, stems: lead ? contentStems(lead).slice(0, 3) : [] });
  }
  return c;
}
/** Content stems of the part of a comment that names the thing (`descriptionLead`), at most 3. */
const leadOf = (x: RelationMeta | ColumnMeta): string[] => leadInfo(x).stems;

// an arithmetic operator between terms: "a - b", "qty × cost", "credits minus debits"
const FORMULA = /(^|\s)[-+×*\/=](\s|$)|\b(minus|plus|times|divided)\b/i;

/**
 * The part of a description that names what it describes: its first clause (up to a parenthesis, colon,
 * semicolon, comma or full stop) — undefined when the description is a formula, which says how a value is computed
 * from others and whose words name those others ("litres - refunded_litres" does not call a column "litres";
 * "Distance (kilometres of finished trips) per driver" does not call its rows trips).
 */
export function descriptionLead(comment: string): string | undefined {
  if (FORMULA.test(comment)) return undefined;
  const first = comment.split(/[(:;,.]|\s[-–—]\s/)[0].trim();
  return first || undefined;
}

/** Head-noun features: the thing a count or total is about named by a name (its last word: `fleet_trips` →
 * `trip`) or by the first content words of a description ("Drivers the company employs."). */
function headFeats(bits: number, out: Features, ctx: ParseContext, x: RelationMeta | ColumnMeta, pre: string) {
  const h = ctx.head;
  if (!h) return;
  const ns = nameOf(x).stems, cs = commentOf(x);
  const lead = leadOf(x);
  feat(bits, out, `${pre}|head|last`, ns.at(-1) === h.head ? 1 : 0);
  feat(bits, out, `${pre}|head|inname`, ns.at(-1) !== h.head && ns.includes(h.head) ? 1 : 0);
  feat(bits, out, `${pre}|head|lead`, lead.includes(h.head) ? 1 : 0);
  feat(bits, out, `${pre}|head|comment`, !lead.includes(h.head) && cs.includes(h.head) ? 1 : 0);
  feat(bits, out, `${pre}|head|none`, !ns.includes(h.head) && !cs.includes(h.head) ? 1 : 0);
  let mods = 0;
  for (const m of h.mods) if (ns.includes(m) || lead.includes(m)) mods++;
  feat(bits, out, `${pre}|head|mods`, Math.min(2, mods));
}

function matchCount(names: string[], tokset: Set<string>): number {
  let m = 0;
  for (const t of names) if (tokset.has(t)) m++;
  return m;
}

const colMemoKeys = new WeakMap<ColumnMeta, Record<string, object>>();

/** The features of a column in a role (memoised per question: the same array each time). */
function colFeatArr(bits: number, ctx: ParseContext, col: ColumnMeta, role: string): Features {
  let keys = colMemoKeys.get(col);
  if (!keys) colMemoKeys.set(col, keys = {});
  const key = keys[role] ??= {};
  const memo = ctx.memo ??= new Map();
  let hit = memo.get(key);
  if (!hit) {
    hit = [];
    colFeatsUncached(bits, hit, ctx, col, role);
    memo.set(key, hit);
  }
  return hit;
}

function colFeats(bits: number, out: Features, ctx: ParseContext, col: ColumnMeta, role: string) {
  for (const x of colFeatArr(bits, ctx, col, role)) out.push(x);
}

function colFeatsUncached(bits: number, out: Features, ctx: ParseContext, col: ColumnMeta, role: string) {
  const { stems: cs, hashes } = nameOf(col);
  const m = matchCount(cs, ctx.tokset);
  feat(bits, out, `c|${role}|match`, m);
  feat(bits, out, `c|${role}|all`, m === cs.length ? 1 : 0);
  feat(bits, out, `c|${role}|miss`, cs.length - m);
  feat(bits, out, `c|${role}|first`, ctx.firstNamed?.has(col) ? 1 : 0);
  feat(bits, out, `c|${role}|firstm`, ctx.firstMeasures?.has(col) ? 1 : 0);
  // a formula's words name its operands, not the column (`descriptionLead`)
  if (leadInfo(col).named) feat(bits, out, `c|${role}|cmatch`, Math.min(3, matchCount(commentOf(col), ctx.tokset)));
  headFeats(bits, out, ctx, col, `c|${role}`);
  const cross = kh(`c|${role}|cross`);
  for (const u of ctx.tokh) {
    const cu = mix(cross, u);
    for (const t of hashes) featH(bits, out, mix(cu, t));
  }
  feat(bits, out, `c|${role}|type|${col.type.replace(/\(.*$/, "")}`);
}

/**
 * The "prefer views" strategy: a fixed bonus to the log-score, in the relation decision, of a view the question
 * mentions (by a word of its name or description) — such a view is chosen over a table unless the table is
 * e^3 ≈ 20 times more likely. Not learned (training never sees the preference).
 */
export const VIEW_BONUS = 3;
// Only a view the question is about gets it: one whose name or leading description words share a word with the
// question (a view of distance per month does not answer "how many drivers").
// Counts get none: what a count is about is a thing (a table's rows), and a view's rows may be a subset or another
// grain.
const viewBonus = (ctx: ParseContext, r: RelationMeta, sketch: Sketch) =>
  ctx.prefs.views && r.kind === "view" && sketch !== "count" &&
    (matchCount(nameOf(r).stems, ctx.tokset) > 0 || matchCount(leadOf(r), ctx.tokset) > 0)
    ? VIEW_BONUS
    : 0;

/** The sketch-independent features of a relation as the question's relation. */
function relFeats(bits: number, ctx: ParseContext, r: RelationMeta): Features {
  const f: Features = [];
  const { stems: ns, hashes: nh, name: rh } = nameOf(r);
  const m = matchCount(ns, ctx.tokset);
  feat(bits, f, "r|match", m);
  feat(bits, f, "r|all", m === ns.length ? 1 : 0);
  feat(bits, f, "r|miss", ns.length - m);
  if (r.comment) {
    const cs = commentOf(r);
    feat(bits, f, "r|cmatch", Math.min(3, matchCount(cs, ctx.tokset)));
    // the description's leading words name what the rows are ("Drivers the company employs.")
    feat(bits, f, "r|clead", Math.min(2, matchCount(leadOf(r), ctx.tokset)));
    const cross = kh("rc|cross");
    for (const u of ctx.tokh) {
      const cu = mix(cross, u);
      for (const t of leadOf(r)) featH(bits, f, mix(cu, th(t)));
    }
  }
  headFeats(bits, f, ctx, r, "r");
  // a total of "units": a relation with a measure named so
  const h = ctx.head?.head;
  if (h !== undefined) feat(bits, f, "r|head|measure", relIndex(r).measures.some((c) => nameOf(c).stems.at(-1) === h) ? 1 : 0);
  feat(bits, f, "r|colmatch", Math.min(3, matchCount(columnStems(r), ctx.tokset)));
  feat(bits, f, "r|colfirst", ctx.firstNamed && r.columns.some((c) => ctx.firstNamed!.has(c)) ? 1 : 0);
  feat(bits, f, `r|mention`, ctx.mentions.has(r.name) ? 1 : 0);
  feat(bits, f, `r|date|${relIndex(r).dates.length > 0}|${ctx.norm.periods.length > 0}`);
  const cross = kh("r|cross"), named = kh("rn|cross");
  for (const u of ctx.tokh) {
    const cu = mix(cross, u);
    for (const t of nh) featH(bits, f, mix(cu, t));
    featH(bits, f, mix(mix(named, u), rh));
  }
  return f;
}

const aggMemoKeys = Object.fromEntries(SKETCHES.map((s) => [s, {}])) as Record<Sketch, object>;
const relMemoKeys = new WeakMap<RelationMeta, Record<string, object>>();

/** Columns a top-N can group by: category columns, and other text columns (names of things). */
export function dimColumns(r: RelationMeta): ColumnMeta[] {
  return relIndex(r).dims;
}

interface RelIndex {
  measures: ColumnMeta[];
  dates: ColumnMeta[];
  dims: ColumnMeta[];
}
const relIndexes = new WeakMap<RelationMeta, RelIndex>();
/** A relation's columns by role (cached per metadata object). */
function relIndex(r: RelationMeta): RelIndex {
  let x = relIndexes.get(r);
  if (!x) {
    relIndexes.set(r, x = {
      measures: r.columns.filter((c) => c.role === "measure"),
      dates: r.columns.filter((c) => c.role === "date"),
      dims: r.columns.filter((c) => c.role === "category" || (c.role === "other" && /^VARCHAR/i.test(c.type))),
    });
  }
  return x;
}

function relationOk(r: RelationMeta, sketch: Sketch): boolean {
  const x = relIndex(r);
  if (sketch === "agg") return x.measures.length > 0;
  if (sketch === "compare") return x.dates.length > 0;
  if (sketch === "topn") return x.dims.length > 0;
  return true;
}

const metaIndexes = new WeakMap<SchemaMeta, { byName: Map<string, RelationMeta>; ok: Map<Sketch, RelationMeta[]> }>();
/** Relations by name and by the sketches they can take (cached per metadata object). */
function metaIndex(meta: SchemaMeta) {
  let x = metaIndexes.get(meta);
  if (!x) {
    metaIndexes.set(meta, x = {
      byName: new Map(meta.relations.map((r) => [r.name, r])),
      ok: new Map(SKETCHES.map((s) => [s, meta.relations.filter((r) => relationOk(r, s))])),
    });
  }
  return x;
}

interface StageOut {
  cands: Plan[];
  feats: Features[];
}

function expand(stage: Stage, p: Plan, ctx: ParseContext, meta: SchemaMeta, bits: number): StageOut | undefined {
  const mi = metaIndex(meta);
  const rel = mi.byName.get(p.rel);
  const sk = p.sketch;
  switch (stage) {
    case "sketch": {
      // is the thing counted or totalled named like a table (count its rows) or like a measure column (sum it)?
      const h = ctx.head?.head;
      const headRel = h !== undefined && meta.relations.some((r) => nameOf(r).stems.at(-1) === h || leadOf(r)[0] === h);
      const headMeasure = h !== undefined && meta.relations.some((r) => relIndex(r).measures.some((c) => nameOf(c).stems.at(-1) === h));
      const feats = SKETCHES.map((s) => {
        const f: Features = [];
        feat(bits, f, `sk|${s}|bias`);
        if (h !== undefined) feat(bits, f, `sk|${s}|head|${headRel}|${headMeasure}`);
        const k = kh(`sk|${s}|gram`);
        for (const g of ctx.gramh) featH(bits, f, mix(k, g));
        feat(bits, f, `sk|${s}|periods${Math.min(2, ctx.norm.periods.length)}`);
        feat(bits, f, `sk|${s}|n${ctx.norm.n !== undefined}`);
        feat(bits, f, `sk|${s}|mention${ctx.mentions.size > 0}`);
        return f;
      });
      return { cands: SKETCHES.map((s) => ({ ...p, sketch: s })), feats };
    }
    case "rel": {
      const rels = mi.ok.get(sk)!;
      const memo = ctx.memo ??= new Map();
      // The features of a relation do not depend on the sketch but for one (its kind × the sketch): computed once
      // per relation, then extended per sketch.
      const feats = rels.map((r) => {
        let keys = relMemoKeys.get(r);
        if (!keys) relMemoKeys.set(r, keys = {});
        const key = keys[sk] ??= {};
        const hit = memo.get(key);
        if (hit) return hit;
        const baseKey = keys[""] ??= {};
        let base = memo.get(baseKey);
        if (!base) memo.set(baseKey, base = relFeats(bits, ctx, r));
        const f: Features = base.slice();
        feat(bits, f, `r|kind|${r.kind}|${sk}`);
        memo.set(key, f);
        return f;
      });
      return { cands: rels.map((r) => ({ ...p, rel: r.name })), feats };
    }
    case "agg": {
      const aggs: Agg[] = sk === "agg" ? ["sum", "avg", "min", "max"] : sk === "topn" ? ["sum", "avg", "count"] : sk === "compare" ? ["sum", "count"] : [];
      if (!aggs.length) return undefined;
      const memo = ctx.memo ??= new Map();
      const key = aggMemoKeys[sk];
      let feats = memo.get(key) as Features[] | undefined;
      if (!feats) {
        feats = aggs.map((a) => {
          const f: Features = [];
          feat(bits, f, `a|${sk}|${a}|bias`);
          const k = kh(`a|${sk}|${a}|gram`);
          for (const g of ctx.gramh) featH(bits, f, mix(k, g));
          return f;
        });
        memo.set(key, feats as unknown as Features);
      }
      return { cands: aggs.map((a) => ({ ...p, agg: a })), feats };
    }
    case "measure": {
      if (!rel || !p.agg || p.agg === "count") return undefined;
      const cols = relIndex(rel).measures;
      if (!cols.length) return { cands: [], feats: [] };
      return { cands: cols.map((c) => ({ ...p, measure: c.name })), feats: cols.map((c) => colFeatArr(bits, ctx, c, "m")) };
    }
    case "dim": {
      if (!rel || sk !== "topn") return undefined;
      const cols = dimColumns(rel);
      return { cands: cols.map((c) => ({ ...p, dim: c.name, key: dimKeyOf(rel, c) })), feats: cols.map((c) => colFeatArr(bits, ctx, c, "d")) };
    }
    case "filter": {
      if (!rel) return undefined;
      // What this stage offers depends on the relation, the sketch and the dimension only: memoised per question.
      const key = `filter|${rel.name}|${sk}|${p.dim ?? ""}`;
      let m = ctx.stageMemo?.get(key) as { vals: (Filter | undefined)[]; feats: Features[] } | undefined;
      if (!m) {
        const ms = ctx.mentions.get(rel.name) ?? [];
        const f0: Features = [];
        feat(bits, f0, `f|none|${sk}`);
        feat(bits, f0, `f|none|mention${ms.length > 0}`);
        m = { vals: [undefined], feats: [f0] };
        for (const x of ms) {
          const col = rel.columns.find((c) => c.name === x.col)!;
          const f: Features = [];
          feat(bits, f, `f|some|${sk}`);
          feat(bits, f, `f|dimsame`, p.dim === x.col ? 1 : 0);
          feat(bits, f, `f|neg${x.neg}`);
          colFeats(bits, f, ctx, col, "f");
          m.vals.push({ col: x.col, val: x.val, ...(x.neg ? { neg: true } : {}) });
          m.feats.push(f);
        }
        // several values of one column: one of them (IN), or none of them (NOT IN)
        for (const colName of new Set(ms.map((x) => x.col))) {
          for (const neg of [false, true]) {
            const vals = [...new Set(ms.filter((x) => x.col === colName && x.neg === neg).map((x) => x.val))].sort();
            if (vals.length < 2) continue;
            const f: Features = [];
            feat(bits, f, `f|multi|${sk}`);
            feat(bits, f, `f|multineg${neg}`);
            feat(bits, f, `f|dimsame`, p.dim === colName ? 1 : 0);
            colFeats(bits, f, ctx, rel.columns.find((c) => c.name === colName)!, "f");
            m.vals.push({ col: colName, val: vals[0], vals, ...(neg ? { neg: true } : {}) });
            m.feats.push(f);
          }
        }
        (ctx.stageMemo ??= new Map()).set(key, m);
      }
      return { cands: m.vals.map((filter) => ({ ...p, filter })), feats: m.feats };
    }
    case "cmp": {
      if (!rel || !ctx.norm.cmps.length) return undefined;
      const key = `cmp|${rel.name}|${sk}|${p.measure ?? ""}`;
      let m = ctx.stageMemo?.get(key) as { vals: Plan["cmp"][]; feats: Features[] } | undefined;
      if (!m) {
        const f0: Features = [];
        feat(bits, f0, `k|none|${sk}`);
        m = { vals: [undefined], feats: [f0] };
        for (const c of relIndex(rel).measures) {
          const f: Features = [];
          feat(bits, f, `k|some|${sk}`);
          feat(bits, f, `k|same`, p.measure === c.name ? 1 : 0);
          colFeats(bits, f, ctx, c, "k");
          m.vals.push({ col: c.name, ...ctx.norm.cmps[0] });
          m.feats.push(f);
        }
        (ctx.stageMemo ??= new Map()).set(key, m);
      }
      return { cands: m.vals.map((cmp) => ({ ...p, cmp })), feats: m.feats };
    }
    case "date": {
      if (!rel || (ctx.norm.periods.length === 0 && sk !== "compare")) return undefined;
      const cols = relIndex(rel).dates;
      if (!cols.length) return sk === "compare" ? { cands: [], feats: [] } : undefined;
      const key = `date|${rel.name}`;
      let feats = ctx.stageMemo?.get(key) as Features[] | undefined;
      if (!feats) {
        feats = cols.map((c, i) => {
          const f: Features = [];
          colFeats(bits, f, ctx, c, "t");
          feat(bits, f, `t|idx${Math.min(i, 3)}`);
          return f;
        });
        (ctx.stageMemo ??= new Map()).set(key, feats);
      }
      return { cands: cols.map((c) => ({ ...p, dateCol: c.name })), feats };
    }
  }
}

function logSoftmax(scores: number[]): number[] {
  let mx = -Infinity;
  for (const x of scores) if (x > mx) mx = x;
  let sum = 0;
  for (const x of scores) sum += Math.exp(x - mx);
  const z = Math.log(sum) + mx;
  return scores.map((s) => s - z);
}

function scoreAll(wt: Weights, feats: Features[]): number[] {
  const w = wt.w;
  const out = new Array<number>(feats.length);
  for (let k = 0; k < feats.length; k++) {
    const f = feats[k];
    let s = 0;
    for (let j = 0; j < f.length; j += 2) s += w[f[j]] * f[j + 1];
    out[k] = s;
  }
  return out;
}

/** A plan with every slot present (undefined until decided): all plans share one object shape, which keeps
 * property access fast in the beam search. */
function emptyPlan(sketch: Sketch, ctx: ParseContext): Plan {
  return {
    sketch,
    rel: "",
    agg: undefined,
    measure: undefined,
    dim: undefined,
    key: undefined,
    filter: undefined,
    cmp: undefined,
    dateCol: undefined,
    periods: ctx.norm.periods,
    n: ctx.norm.n,
  };
}

/** A scored plan. */
export interface Scored {
  plan: Plan;
  logp: number;
}

/** Beam search over the decisions: the best `beam` complete plans, best first. */
export function decode(wt: Weights, meta: SchemaMeta, ctx: ParseContext, beam = 12): Scored[] {
  let partial: Scored[] = [{ plan: emptyPlan("count", ctx), logp: 0 }];
  // Scores of feature vectors already scored (the same column's features recur across the beam's plans).
  const scored = new Map<Features, number>();
  const scoreOf = (f: Features) => {
    let x = scored.get(f);
    if (x === undefined) scored.set(f, x = scoreAll(wt, [f])[0]);
    return x;
  };
  const mask = (1 << wt.bits) - 1;
  for (const stage of STAGES) {
    const next: Scored[] = [];
    for (const s of partial) {
      if (stage === "rel") {
        // Fast path: a relation's score is its sketch-independent score plus its kind × the sketch.
        const rels = metaIndex(meta).ok.get(s.plan.sketch)!;
        const memo = ctx.memo ??= new Map();
        const scores = rels.map((r) => {
          let keys = relMemoKeys.get(r);
          if (!keys) relMemoKeys.set(r, keys = {});
          const baseKey = keys[""] ??= {};
          let base = memo.get(baseKey);
          if (!base) memo.set(baseKey, base = relFeats(wt.bits, ctx, r));
          return scoreOf(base) + wt.w[kh(`r|kind|${r.kind}|${s.plan.sketch}`) & mask] + viewBonus(ctx, r, s.plan.sketch);
        });
        const lp = logSoftmax(scores);
        rels.forEach((r, i) => next.push({ plan: { ...s.plan, rel: r.name }, logp: s.logp + lp[i] }));
        continue;
      }
      const out = expand(stage, s.plan, ctx, meta, wt.bits);
      if (!out) {
        next.push(s);
        continue;
      }
      const lp = logSoftmax(out.feats.map(scoreOf));
      out.cands.forEach((c, i) => next.push({ plan: c, logp: s.logp + lp[i] }));
    }
    next.sort((a, b) => b.logp - a.logp);
    partial = next.length > beam * 2 ? next.slice(0, beam * 2) : next;
  }
  return ctx.prefs.views ? preferViews(partial, meta).slice(0, beam) : partial.slice(0, beam);
}

/** The columns a plan reads. */
function planColumns(p: Plan): string[] {
  return [p.measure, p.dim, p.key, p.filter?.col, p.cmp?.col, p.dateCol].filter((c): c is string => !!c);
}

/** A table's own key: the key column named after the table (`trip_id` of `trips`), else its first key. */
function ownKey(r: RelationMeta): string | undefined {
  const keys = r.columns.filter((c) => c.role === "key");
  const rs = stems(r.name);
  return (keys.find((k) => {
    const ks = stems(k.name.replace(/_(id|no|number)$/, ""));
    return ks.length > 0 && ks.every((w) => rs.includes(w));
  }) ?? keys[0])?.name;
}

/**
 * "Prefer views": a plan over a table is offered first over each view that covers it, at the same score — so a
 * covering view is read instead of the table. A view covers a plan when it is about the same rows — it has the
 * table's own key column (not an aggregate per month or per group) — and has every column the plan reads. Counts
 * are never moved: a view's rows may be a subset (open items only) or another grain, and a count reads no column
 * that would tell.
 */
function preferViews(plans: Scored[], meta: SchemaMeta): Scored[] {
  const views = meta.relations.filter((r) => r.kind === "view");
  const out: Scored[] = [];
  const seen = new Set<string>();
  const push = (s: Scored) => {
    const k = JSON.stringify(s.plan);
    if (!seen.has(k)) seen.add(k), out.push(s);
  };
  for (const s of plans) {
    const table = metaIndex(meta).byName.get(s.plan.rel);
    const key = table?.kind === "table" ? ownKey(table) : undefined;
    const counts = s.plan.sketch === "count" || s.plan.agg === "count";
    if (key && !counts) {
      const cols = [key, ...planColumns(s.plan)];
      for (const v of views) {
        const names = new Set(v.columns.map((c) => c.name));
        if (cols.every((c) => names.has(c)) && relationOk(v, s.plan.sketch)) push({ plan: { ...s.plan, rel: v.name }, logp: s.logp });
      }
    }
    push(s);
  }
  return out;
}

function sameChoice(stage: Stage, a: Plan, b: Plan): boolean {
  switch (stage) {
    case "sketch": return a.sketch === b.sketch;
    case "rel": return a.rel === b.rel;
    case "agg": return a.agg === b.agg;
    case "measure": return a.measure === b.measure;
    case "dim": return a.dim === b.dim;
    case "filter":
      return a.filter?.col === b.filter?.col && a.filter?.val === b.filter?.val && !a.filter?.neg === !b.filter?.neg &&
        (a.filter?.vals ?? []).join("\u0000") === (b.filter?.vals ?? []).join("\u0000");
    case "cmp": return a.cmp?.col === b.cmp?.col;
    case "date": return a.dateCol === b.dateCol;
  }
}

/**
 * One SGD step on a (question, gold plan) pair with teacher forcing; returns the summed cross-entropy.
 * `l2` shrinks the touched weights.
 */
export function sgdStep(wt: Weights, meta: SchemaMeta, ctx: ParseContext, gold: Plan, lr: number, l2 = 1e-5): number {
  let loss = 0;
  let p: Plan = emptyPlan(gold.sketch, ctx);
  for (const stage of STAGES) {
    const out = expand(stage, p, ctx, meta, wt.bits);
    if (!out) continue;
    const gi = out.cands.findIndex((c) => sameChoice(stage, c, gold));
    if (gi < 0) return loss; // the gold plan is not reachable by this parser: skip the rest
    p = out.cands[gi];
    if (out.cands.length < 2) continue;
    const lp = logSoftmax(scoreAll(wt, out.feats));
    loss -= lp[gi];
    out.feats.forEach((f, ci) => {
      const g = Math.exp(lp[ci]) - (ci === gi ? 1 : 0);
      for (let j = 0; j < f.length; j += 2) wt.w[f[j]] -= lr * (g * f[j + 1] + l2 * wt.w[f[j]]);
    });
  }
  return loss;
}

const q = (id: string) => `"${id.replace(/"/g, '""')}"`;
const lit = (v: string) => `'${v.replace(/'/g, "''")}'`;

function aggExpr(agg: Agg, col: string | undefined, cond?: string): string {
  if (agg === "count") return cond ? `count(CASE WHEN ${cond} THEN 1 END)` : "count(*)";
  const target = cond ? `CASE WHEN ${cond} THEN ${q(col!)} END` : q(col!);
  return `${agg}(${target})`;
}

/** The periods a comparison uses: [current, previous]. */
export function comparePeriods(periods: Period[]): [Period, Period] {
  if (periods.length >= 2) {
    const [a, b] = periods;
    const later = a.kind === "relative" && b.kind === "relative" ? (a.offset <= b.offset ? [a, b] : [b, a])
      : a.kind === "year" && b.kind === "year" ? (a.year >= b.year ? [a, b] : [b, a]) : [a, b];
    return later as [Period, Period];
  }
  const cur = periods[0] ?? { kind: "relative", unit: "month", offset: 0 };
  return [cur, previousPeriod(cur)];
}

const dimKeys = new WeakMap<ColumnMeta, string | undefined>();
/** {@linkcode dimKey}, cached per column metadata object. */
function dimKeyOf(rel: RelationMeta, col: ColumnMeta): string | undefined {
  if (!dimKeys.has(col)) dimKeys.set(col, dimKey(rel, col.name));
  return dimKeys.get(col);
}

/** The key column naming the things a dimension groups (`owner_id` for `owner_name`; `<entity>_id` for `name`). */
export function dimKey(rel: RelationMeta, dim: string): string | undefined {
  const keys = rel.columns.filter((c) => c.role === "key" && c.name.endsWith("_id") && c.name !== dim);
  const d = stems(dim);
  const hit = keys.find((k) => d.includes(stem(k.name.slice(0, -3))));
  if (hit) return hit.name;
  if (d.length === 1 && d[0] === "name") return keys.find((k) => stems(rel.name).includes(stem(k.name.slice(0, -3))))?.name;
  return undefined;
}

/** Renders a plan as one DuckDB SELECT. */
export function renderSql(p: Plan): string {
  const where: string[] = [];
  if (p.filter?.vals) where.push(`${q(p.filter.col)} ${p.filter.neg ? "NOT IN" : "IN"} (${p.filter.vals.map(lit).join(", ")})`);
  else if (p.filter) where.push(`${q(p.filter.col)} ${p.filter.neg ? "<>" : "="} ${lit(p.filter.val)}`);
  if (p.cmp) where.push(`${q(p.cmp.col)} ${p.cmp.op} ${p.cmp.value}`);
  const inPeriod = (per: Period) => {
    const [s, e] = periodBounds(per);
    return `${q(p.dateCol!)} >= ${s} AND ${q(p.dateCol!)} < ${e}`;
  };
  if (p.sketch !== "compare" && p.dateCol && p.periods.length) where.push(inPeriod(p.periods[0]));
  const w = where.length ? ` WHERE ${where.join(" AND ")}` : "";
  const from = ` FROM ${q(p.rel)}`;
  switch (p.sketch) {
    case "count":
      return `SELECT count(*) AS value${from}${w}`;
    case "agg":
      return `SELECT ${aggExpr(p.agg ?? "sum", p.measure)} AS value${from}${w}`;
    case "topn": {
      // Rows name what they rank: the key column of the grouped things, and the measure's own name.
      const key = p.key;
      const groups = [...(key ? [q(key)] : []), q(p.dim!)].join(", ");
      const alias = p.agg === "count" || !p.measure ? "count" : p.agg === "sum" ? p.measure : `${p.agg}_${p.measure}`;
      return `SELECT ${groups}, ${aggExpr(p.agg ?? "sum", p.measure)} AS ${q(alias)}${from}${w} GROUP BY ${groups} ORDER BY ${q(alias)} DESC NULLS LAST${key ? `, ${q(key)}` : ""} LIMIT ${p.n ?? 5}`;
    }
    case "list":
      return `SELECT *${from}${w} LIMIT 50`;
    case "compare": {
      const [cur, prev] = comparePeriods(p.periods);
      return `SELECT ${aggExpr(p.agg ?? "sum", p.measure, inPeriod(cur))} AS current, ${aggExpr(p.agg ?? "sum", p.measure, inPeriod(prev))} AS previous${from}${w}`;
    }
  }
}

/** A one-line English gloss of a plan (for todo items and summaries). */
export function describePlan(p: Plan): string {
  const parts = [`${p.sketch}${p.agg ? `/${p.agg}` : ""} over ${p.rel}`];
  if (p.measure) parts.push(`of ${p.measure}`);
  if (p.dim) parts.push(`by ${p.dim}`);
  if (p.filter) parts.push(`where ${p.filter.col} ${p.filter.neg ? "not " : ""}${p.filter.vals ? `in ${p.filter.vals.join("/")}` : `= ${p.filter.val}`}`);
  if (p.cmp) parts.push(`with ${p.cmp.col} ${p.cmp.op} ${p.cmp.value}`);
  if (p.dateCol) parts.push(`in period on ${p.dateCol}`);
  return parts.join(" ");
}
