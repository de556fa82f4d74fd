/**
 * The copy mechanism shared by in-context learning and fine-tuning: a task's literals (periods, numbers, quoted
 * strings, category values the schema knows), SQL abstracted into a template with typed slots by aligning its
 * literals with the task's, a template re-filled from another task, and a hashed n-gram similarity of tasks
 * with their literals masked. Nothing here knows any schema; category values come from the model's metadata.
 * @module
 */
import { hash32, normalise, type Period, periodBounds, stem } from "./_text.ts";
import type { SchemaMeta } from "./schema_meta.ts";

/** A string literal of a task: quoted, or a category value of known columns. */
export interface TaskString {
  text: string;
  quoted: boolean;
  /** Columns whose known values include it. */
  cols: string[];
}

/** What a task carries that a template's slots take. */
export interface TaskLits {
  periods: Period[];
  nums: string[];
  strings: TaskString[];
  /** Stemmed tokens with literals masked (`<time>`, `<num>`, `<str>`), for similarity and features. */
  masked: string[];
  /** Literal signature: a template fits tasks of the same signature only. */
  sig: string;
}

interface ValueIndex {
  re: RegExp;
  cols: Map<string, string[]>;
  canon: Map<string, string>;
}

const valueIndexes = new WeakMap<SchemaMeta, ValueIndex | null>();

function valueIndex(meta: SchemaMeta): ValueIndex | null {
  if (valueIndexes.has(meta)) return valueIndexes.get(meta)!;
  const cols = new Map<string, string[]>();
  const canon = new Map<string, string>();
  for (const r of meta.relations) {
    for (const c of r.columns) {
      for (const v of c.values ?? []) {
        const key = v.toLowerCase();
        if (!/[a-z]/.test(key) || key.length < 2) continue;
        const l = cols.get(key) ?? [];
        if (!l.includes(c.name)) l.push(c.name);
        cols.set(key, l);
        if (!canon.has(key)) canon.set(key, v);
      }
    }
  }
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+");
  const alts = [...cols.keys()].sort((a, b) => b.length - a.length).map(esc);
  const idx = alts.length ? { re: new RegExp(`(?<![A-Za-z0-9_])(?:${alts.join("|")})(?![A-Za-z0-9_])`, "gi"), cols, canon } : null;
  valueIndexes.set(meta, idx);
  return idx;
}

/** Reads a task's literals against the schema the model knows. */
export function taskLits(task: string, meta: SchemaMeta): TaskLits {
  const found: { at: number; s: TaskString }[] = [];
  const vi = valueIndex(meta);
  // quoted strings first, masked so values inside quotes are not found twice
  let text = task.replace(/'([^']+)'|"([^"]+)"/g, (m, a, b, at: number) => {
    const t = a ?? b;
    found.push({ at, s: { text: t, quoted: true, cols: vi?.cols.get(t.toLowerCase()) ?? [] } });
    return " zzstr ".padEnd(m.length, " ");
  });
  if (vi) {
    text = text.replace(vi.re, (m, at: number) => {
      const key = m.toLowerCase().replace(/\s+/g, " ");
      found.push({ at, s: { text: vi.canon.get(key) ?? m, quoted: false, cols: vi.cols.get(key) ?? [] } });
      return " zzstr ".padEnd(m.length, " ");
    });
  }
  found.sort((a, b) => a.at - b.at);
  const norm = normalise(text);
  const nums: string[] = [];
  const masked: string[] = [];
  for (const t of norm.tokens) {
    if (t === "<n>") {
      nums.push(String(norm.n));
      masked.push("<num>");
    } else if (/^\d+$/.test(t)) {
      nums.push(t);
      masked.push("<num>");
    } else if (t === "zzstr") masked.push("<str>");
    else if (t.startsWith("<")) masked.push(t);
    else masked.push(stem(t));
  }
  const strings = found.map((f) => f.s);
  return { periods: norm.periods, nums, strings, masked, sig: `p${norm.periods.length}n${nums.length}s${strings.length}` };
}

/** A slot of a template. */
export type Slot =
  | { kind: "period"; i: number; end: boolean }
  | { kind: "num"; i: number }
  | { kind: "str"; cols: string[]; quoted: boolean };

/** SQL with `{{k}}` placeholders and what fills each. */
export interface Template {
  sql: string;
  slots: Slot[];
}

const splitQuoted = (sql: string) => sql.split(/('(?:[^']|'')*')/);

/** Abstracts SQL into a template by aligning its literals with the task's. Unaligned literals stay constants. */
export function abstractSql(sql: string, lits: TaskLits): Template {
  const slots: Slot[] = [];
  const ph = (s: Slot) => `{{${slots.push(s) - 1}}}`;
  let out = sql;
  // 1. periods, rendered the way the model's normaliser renders them (longest first: an end may contain a start)
  const reps: { text: string; slot: Slot }[] = [];
  lits.periods.forEach((p, i) => {
    const [s, e] = periodBounds(p);
    reps.push({ text: e, slot: { kind: "period", i, end: true } }, { text: s, slot: { kind: "period", i, end: false } });
  });
  reps.sort((a, b) => b.text.length - a.text.length);
  for (const r of reps) {
    if (!out.includes(r.text)) continue;
    const mark = ph(r.slot);
    out = out.split(r.text).join(mark);
  }
  // 2. string literals equal to a task string
  out = splitQuoted(out).map((part) => {
    if (!part.startsWith("'")) return part;
    const v = part.slice(1, -1).replace(/''/g, "'").toLowerCase();
    const s = lits.strings.find((x) => x.text.toLowerCase() === v);
    return s ? `'${ph({ kind: "str", cols: s.cols, quoted: s.quoted })}'` : part;
  }).join("");
  // 3. numbers outside string literals and placeholders
  out = splitQuoted(out).map((part) => {
    if (part.startsWith("'")) return part;
    return part.split(/(\{\{\d+\}\})/).map((seg) =>
      seg.startsWith("{{") ? seg : seg.replace(/(?<![A-Za-z0-9_.])\d+(?:\.\d+)?(?![A-Za-z0-9_.])/g, (m) => {
        const i = lits.nums.indexOf(m);
        return i >= 0 ? ph({ kind: "num", i }) : m;
      })
    ).join("");
  }).join("");
  // canonical numbering: by first appearance, equal slots merged (so equal templates compare equal)
  const order: string[] = [];
  const canon: Slot[] = [];
  out = out.replace(/\{\{(\d+)\}\}/g, (_, k) => {
    const key = JSON.stringify(slots[Number(k)]);
    let j = order.indexOf(key);
    if (j < 0) {
      j = order.push(key) - 1;
      canon.push(slots[Number(k)]);
    }
    return `{{${j}}}`;
  });
  return { sql: out, slots: canon };
}

/** Fills a template from a task's literals; `undefined` when a slot has nothing to take. */
export function fillTemplate(t: Template, lits: TaskLits): string | undefined {
  const used = new Set<number>();
  const vals: string[] = [];
  for (const s of t.slots) {
    if (s.kind === "period") {
      const p = lits.periods[s.i];
      if (!p) return undefined;
      vals.push(periodBounds(p)[s.end ? 1 : 0]);
    } else if (s.kind === "num") {
      const n = lits.nums[s.i];
      if (n === undefined) return undefined;
      vals.push(n);
    } else {
      let k = s.cols.length ? lits.strings.findIndex((x, i) => !used.has(i) && x.cols.some((c) => s.cols.includes(c))) : -1;
      if (k < 0) k = lits.strings.findIndex((x, i) => !used.has(i) && (s.quoted ? x.quoted : true) && (s.cols.length === 0 || x.cols.length === 0));
      if (k < 0) return undefined;
      used.add(k);
      vals.push(lits.strings[k].text.replace(/'/g, "''"));
    }
  }
  return t.sql.replace(/\{\{(\d+)\}\}/g, (_, i) => vals[Number(i)]);
}

/** Hashed uni+bigram features of masked tokens (indices for the similarity vector). */
export function gramHashes(masked: string[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < masked.length; i++) {
    out.push(hash32(masked[i]));
    if (i + 1 < masked.length) out.push(hash32(`${masked[i]}_${masked[i + 1]}`));
  }
  return out;
}

/** A sparse, L2-normalised hashed n-gram vector. */
export type SimVector = Map<number, number>;

/** The similarity vector of masked tokens (4096 hashed dimensions). */
export function simVector(masked: string[]): SimVector {
  const v: SimVector = new Map();
  for (const h of gramHashes(masked)) {
    const k = h & 4095;
    v.set(k, (v.get(k) ?? 0) + 1);
  }
  let z = 0;
  for (const x of v.values()) z += x * x;
  z = Math.sqrt(z) || 1;
  for (const [k, x] of v) v.set(k, x / z);
  return v;
}

/** Cosine of two normalised vectors. */
export function cosine(a: SimVector, b: SimVector): number {
  let s = 0;
  const [small, big] = a.size < b.size ? [a, b] : [b, a];
  for (const [k, x] of small) s += x * (big.get(k) ?? 0);
  return s;
}
