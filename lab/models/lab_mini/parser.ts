/**
 * The log-linear semantic parser of lab-mini: a question is mapped to a typed plan (a sketch plus slot fills)
 * by a sequence of softmax decisions — sketch, relation, aggregate, measure, dimension, filter, date column —
 * each scored by hashed sparse features (question n-grams crossed with the sketch, and with the name and comment
 * tokens of candidate relations and columns: schema linking). Decoding is a beam search over the decisions;
 * training (SGD on cross-entropy, teacher forcing) updates the same weights.
 * @module
 */
import { hash32, ngrams, normalise, type Normalised, type Period, periodBounds, previousPeriod, stem, stems } from "./_text.ts";
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
  filter?: { col: string; val: string };
  dateCol?: string;
  periods: Period[];
  n?: number;
}

/** A sparse feature vector: hashed indices and values. */
export type Features = [number, number][];

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
  /** Per relation: category values mentioned in the question. */
  mentions: Map<string, { col: string; val: string }[]>;
  prefs: Prefs;
  /** Features already computed for this question (per column × role, per relation × sketch): decoding reuses them. */
  memo?: Map<unknown, Features>;
}

type Stage = "sketch" | "rel" | "agg" | "measure" | "dim" | "filter" | "date";
const STAGES: Stage[] = ["sketch", "rel", "agg", "measure", "dim", "filter", "date"];

/** Builds the parse context of a question against the schema the model knows. */
export function parseContext(question: string, meta: SchemaMeta, prefs: Prefs = { views: false }): ParseContext {
  const norm = normalise(question);
  const toks = norm.tokens.map((t) => t.startsWith("<") ? t : stem(t));
  const lower = ` ${norm.tokens.join(" ")} `;
  const mentions = new Map<string, { col: string; val: string }[]>();
  for (const r of meta.relations) {
    const found: { col: string; val: string }[] = [];
    for (const c of r.columns) {
      for (const v of c.values ?? []) {
        const vt = v.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean).join(" ");
        if (vt && !/^\d+$/.test(vt) && lower.includes(` ${vt} `)) found.push({ col: c.name, val: v });
      }
    }
    if (found.length) mentions.set(r.name, found);
  }
  return { norm, toks, tokset: new Set(toks), grams: ngrams(toks), mentions, prefs };
}

/** The weights: a hashed feature space. */
export interface Weights {
  bits: number;
  w: Float32Array | Float64Array;
}

function feat(bits: number, out: Features, key: string, v = 1) {
  out.push([hash32(key) & ((1 << bits) - 1), v]);
}

function matchCount(names: string[], tokset: Set<string>): number {
  let m = 0;
  for (const t of names) if (tokset.has(t)) m++;
  return m;
}

const colMemoKeys = new WeakMap<ColumnMeta, Record<string, object>>();

function colFeats(bits: number, out: Features, ctx: ParseContext, col: ColumnMeta, role: string) {
  let keys = colMemoKeys.get(col);
  if (!keys) colMemoKeys.set(col, keys = {});
  const key = keys[role] ??= {};
  const memo = ctx.memo ??= new Map();
  const hit = memo.get(key);
  if (hit) {
    for (const x of hit) out.push(x);
    return;
  }
  const start = out.length;
  colFeatsUncached(bits, out, ctx, col, role);
  memo.set(key, out.slice(start));
}

function colFeatsUncached(bits: number, out: Features, ctx: ParseContext, col: ColumnMeta, role: string) {
  const cs = stems(col.name);
  const m = matchCount(cs, ctx.tokset);
  feat(bits, out, `c|${role}|match`, m);
  feat(bits, out, `c|${role}|all`, m === cs.length ? 1 : 0);
  feat(bits, out, `c|${role}|miss`, cs.length - m);
  if (col.comment) feat(bits, out, `c|${role}|cmatch`, Math.min(3, matchCount(stems(col.comment), ctx.tokset)));
  for (const u of ctx.toks) {
    for (const t of cs) feat(bits, out, `c|${role}|${u}|${t}`);
  }
  feat(bits, out, `c|${role}|type|${col.type.replace(/\(.*$/, "")}`);
}

const aggMemoKeys = Object.fromEntries(SKETCHES.map((s) => [s, {}])) as Record<Sketch, object>;
const relMemoKeys = new WeakMap<RelationMeta, Record<string, object>>();

function relationOk(r: RelationMeta, sketch: Sketch): boolean {
  const has = (role: string) => r.columns.some((c) => c.role === role);
  if (sketch === "agg") return has("measure");
  if (sketch === "compare") return has("date");
  if (sketch === "topn") return has("category");
  return true;
}

interface StageOut {
  cands: Plan[];
  feats: Features[];
}

function expand(stage: Stage, p: Plan, ctx: ParseContext, meta: SchemaMeta, bits: number): StageOut | undefined {
  const rel = meta.relations.find((r) => r.name === p.rel);
  const sk = p.sketch;
  switch (stage) {
    case "sketch": {
      const feats = SKETCHES.map((s) => {
        const f: Features = [];
        feat(bits, f, `sk|${s}|bias`);
        for (const g of ctx.grams) feat(bits, f, `sk|${s}|${g}`);
        feat(bits, f, `sk|${s}|periods${Math.min(2, ctx.norm.periods.length)}`);
        feat(bits, f, `sk|${s}|n${ctx.norm.n !== undefined}`);
        feat(bits, f, `sk|${s}|mention${ctx.mentions.size > 0}`);
        return f;
      });
      return { cands: SKETCHES.map((s) => ({ ...p, sketch: s })), feats };
    }
    case "rel": {
      const rels = meta.relations.filter((r) => relationOk(r, sk));
      const memo = ctx.memo ??= new Map();
      const feats = rels.map((r) => {
        let keys = relMemoKeys.get(r);
        if (!keys) relMemoKeys.set(r, keys = {});
        const key = keys[sk] ??= {};
        const hit = memo.get(key);
        if (hit) return hit;
        const f: Features = [];
        memo.set(key, f);
        const ns = stems(r.name);
        const m = matchCount(ns, ctx.tokset);
        feat(bits, f, "r|match", m);
        feat(bits, f, "r|all", m === ns.length ? 1 : 0);
        feat(bits, f, "r|miss", ns.length - m);
        if (r.comment) feat(bits, f, "r|cmatch", Math.min(3, matchCount(stems(r.comment), ctx.tokset)));
        const colStems = new Set(r.columns.filter((c) => c.role !== "key").flatMap((c) => stems(c.name)));
        feat(bits, f, "r|colmatch", Math.min(3, matchCount([...colStems], ctx.tokset)));
        feat(bits, f, `r|mention`, ctx.mentions.has(r.name) ? 1 : 0);
        feat(bits, f, `r|kind|${r.kind}|${sk}`);
        if (r.kind === "view") feat(bits, f, `r|view|prefer${ctx.prefs.views}`);
        // A fixed prior, not learned: the documented effect of a "prefer views" strategy.
        if (r.kind === "view" && ctx.prefs.views) f.push([-1, 1.5]);
        feat(bits, f, `r|date|${r.columns.some((c) => c.role === "date")}|${ctx.norm.periods.length > 0}`);
        for (const u of ctx.toks) {
          for (const t of ns) feat(bits, f, `r|${u}|${t}`);
          feat(bits, f, `rn|${u}|${r.name}`);
        }
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
          for (const g of ctx.grams) feat(bits, f, `a|${sk}|${a}|${g}`);
          return f;
        });
        memo.set(key, feats as unknown as Features);
      }
      return { cands: aggs.map((a) => ({ ...p, agg: a })), feats };
    }
    case "measure": {
      if (!rel || !p.agg || p.agg === "count") return undefined;
      const cols = rel.columns.filter((c) => c.role === "measure");
      if (!cols.length) return { cands: [], feats: [] };
      return { cands: cols.map((c) => ({ ...p, measure: c.name })), feats: cols.map((c) => { const f: Features = []; colFeats(bits, f, ctx, c, "m"); return f; }) };
    }
    case "dim": {
      if (!rel || sk !== "topn") return undefined;
      const cols = rel.columns.filter((c) => c.role === "category");
      return { cands: cols.map((c) => ({ ...p, dim: c.name })), feats: cols.map((c) => { const f: Features = []; colFeats(bits, f, ctx, c, "d"); return f; }) };
    }
    case "filter": {
      if (!rel) return undefined;
      const ms = ctx.mentions.get(rel.name) ?? [];
      const cands: Plan[] = [{ ...p, filter: undefined }];
      const f0: Features = [];
      feat(bits, f0, `f|none|${sk}`);
      feat(bits, f0, `f|none|mention${ms.length > 0}`);
      const feats: Features[] = [f0];
      for (const m of ms) {
        const col = rel.columns.find((c) => c.name === m.col)!;
        const f: Features = [];
        feat(bits, f, `f|some|${sk}`);
        feat(bits, f, `f|dimsame`, p.dim === m.col ? 1 : 0);
        colFeats(bits, f, ctx, col, "f");
        cands.push({ ...p, filter: m });
        feats.push(f);
      }
      return { cands, feats };
    }
    case "date": {
      if (!rel || (ctx.norm.periods.length === 0 && sk !== "compare")) return undefined;
      const cols = rel.columns.filter((c) => c.role === "date");
      if (!cols.length) return sk === "compare" ? { cands: [], feats: [] } : undefined;
      const feats = cols.map((c, i) => {
        const f: Features = [];
        colFeats(bits, f, ctx, c, "t");
        feat(bits, f, `t|idx${Math.min(i, 3)}`);
        return f;
      });
      return { cands: cols.map((c) => ({ ...p, dateCol: c.name })), feats };
    }
  }
}

function logSoftmax(scores: number[]): number[] {
  const mx = Math.max(...scores);
  const z = Math.log(scores.reduce((s, x) => s + Math.exp(x - mx), 0)) + mx;
  return scores.map((s) => s - z);
}

function scoreAll(wt: Weights, feats: Features[]): number[] {
  // Index -1 carries fixed (unlearned) priors.
  const w = wt.w;
  const out = new Array<number>(feats.length);
  for (let k = 0; k < feats.length; k++) {
    const f = feats[k];
    let s = 0;
    for (let j = 0; j < f.length; j++) {
      const x = f[j];
      s += x[0] < 0 ? x[1] : w[x[0]] * x[1];
    }
    out[k] = s;
  }
  return out;
}

/** A scored plan. */
export interface Scored {
  plan: Plan;
  logp: number;
}

/** Beam search over the decisions: the best `beam` complete plans, best first. */
export function decode(wt: Weights, meta: SchemaMeta, ctx: ParseContext, beam = 12): Scored[] {
  let partial: Scored[] = [{ plan: { sketch: "count", rel: "", periods: ctx.norm.periods, n: ctx.norm.n }, logp: 0 }];
  for (const stage of STAGES) {
    const next: Scored[] = [];
    for (const s of partial) {
      const out = expand(stage, s.plan, ctx, meta, wt.bits);
      if (!out) {
        next.push(s);
        continue;
      }
      const lp = logSoftmax(scoreAll(wt, out.feats));
      out.cands.forEach((c, i) => next.push({ plan: c, logp: s.logp + lp[i] }));
    }
    next.sort((a, b) => b.logp - a.logp);
    partial = next.slice(0, beam * 2);
  }
  return partial.slice(0, beam);
}

function sameChoice(stage: Stage, a: Plan, b: Plan): boolean {
  switch (stage) {
    case "sketch": return a.sketch === b.sketch;
    case "rel": return a.rel === b.rel;
    case "agg": return a.agg === b.agg;
    case "measure": return a.measure === b.measure;
    case "dim": return a.dim === b.dim;
    case "filter": return a.filter?.col === b.filter?.col && a.filter?.val === b.filter?.val;
    case "date": return a.dateCol === b.dateCol;
  }
}

/**
 * One SGD step on a (question, gold plan) pair with teacher forcing; returns the summed cross-entropy.
 * `l2` shrinks the touched weights.
 */
export function sgdStep(wt: Weights, meta: SchemaMeta, ctx: ParseContext, gold: Plan, lr: number, l2 = 1e-5): number {
  let loss = 0;
  let p: Plan = { sketch: gold.sketch, rel: "", periods: ctx.norm.periods, n: ctx.norm.n };
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
      for (const [i, v] of f) if (i >= 0) wt.w[i] -= lr * (g * v + l2 * wt.w[i]);
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

/** Renders a plan as one DuckDB SELECT. */
export function renderSql(p: Plan): string {
  const where: string[] = [];
  if (p.filter) where.push(`${q(p.filter.col)} = ${lit(p.filter.val)}`);
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
    case "topn":
      return `SELECT ${q(p.dim!)}, ${aggExpr(p.agg ?? "sum", p.measure)} AS value${from}${w} GROUP BY ${q(p.dim!)} ORDER BY value DESC NULLS LAST LIMIT ${p.n ?? 5}`;
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
  if (p.filter) parts.push(`where ${p.filter.col} = ${p.filter.val}`);
  if (p.dateCol) parts.push(`in period on ${p.dateCol}`);
  return parts.join(" ");
}
