/**
 * The copy mechanism shared by in-context learning and fine-tuning: a task's literals (periods, numbers, quoted
 * strings, category values the schema knows), SQL abstracted into a template with typed slots by aligning its
 * literals with the task's, a template re-filled from another task, and a hashed n-gram similarity of tasks
 * with their literals masked. Nothing here knows any schema; category values come from the model's metadata.
 * @module
 */
import { hash32, normalise, numberToken, type Period, periodBounds, stem, words } from "./_text.ts";
import type { SchemaMeta } from "./schema_meta.ts";
import type { CallResult } from "./_answer.ts";

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
  /** Identifiers the task names (`snake_case` words: fields it asks for, columns it mentions), lower case. */
  fields: string[];
}

/** `snake_case` identifiers of a text (lower case, distinct). */
export function snakeWords(text: string): string[] {
  return [...new Set((text.toLowerCase().match(/\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b/g) ?? []))];
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
  let cmp = 0;
  for (const t of norm.tokens) {
    if (t === "<n>") {
      nums.push(String(norm.n));
      masked.push("<num>");
    } else if (t === "<cmp>") {
      nums.push(String(norm.cmps[cmp++].value));
      masked.push("<num>");
    } else if (numberToken(t) !== undefined) {
      nums.push(numberToken(t)!);
      masked.push("<num>");
    } else if (t === "zzstr") masked.push("<str>");
    else if (t.startsWith("<")) masked.push(t);
    else masked.push(stem(t));
  }
  const strings = found.map((f) => f.s);
  return { periods: norm.periods, nums, strings, masked, sig: `p${norm.periods.length}n${nums.length}s${strings.length}`, fields: snakeWords(task) };
}

/** A slot of a template. */
export type Slot =
  | { kind: "period"; i: number; end: boolean }
  /** A month boundary `months` after the start of relative period `i` (of unit `unit`). */
  | { kind: "pshift"; i: number; unit: "month" | "quarter" | "year"; months: number }
  /** The day count of period `i` ("in the last 30 days"). */
  | { kind: "days"; i: number }
  | { kind: "num"; i: number }
  /**
   * A task string of a column in `cols`: filled with the task's next unused string of those columns, one of the
   * values seen in training (`seen`) first.
   */
  | { kind: "str"; cols: string[]; quoted: boolean; seen?: string[] }
  /** A value of the first row of the plan's `c`-th call's result. */
  | { kind: "res"; c: number; col: string; str: boolean };

/** SQL with `{{k}}` placeholders and what fills each. */
export interface Template {
  sql: string;
  slots: Slot[];
}

const splitQuoted = (sql: string) => sql.split(/('(?:[^']|'')*')/);

const DATE_TRUNC = /date_trunc\(\s*'(month|quarter|year)'\s*,\s*current_date\s*\)((?:\s*[-+]\s*INTERVAL\s*'?\s*\d+\s*'?\s*MONTHS?\b)*)/gi;
const UNIT_MONTHS = { month: 1, quarter: 3, year: 12 } as const;

/** `date_trunc('<unit>', current_date)` shifted by `months`. */
function monthBoundary(unit: string, months: number): string {
  const base = `date_trunc('${unit}', current_date)`;
  return months === 0 ? base : `${base} ${months > 0 ? "+" : "-"} INTERVAL ${Math.abs(months)} MONTH`;
}

// SQL's own words: never evidence that a task and a query are about the same thing.
const SQL_WORDS = new Set(
  ("select from where and or not as join left right inner outer full cross on using group by order having limit " +
    "offset desc asc nulls first last case when then else end in is null distinct union all exists between like " +
    "ilike with over partition filter interval current date timestamp cast double integer bigint varchar boolean " +
    "true false sum count avg min max coalesce round abs trunc any value string agg row number lpad update set " +
    "insert into values delete returning diff day days month months quarter year confirm").split(" "),
);

/** Stems of the names and words a SQL text uses (identifiers split on `_`, words of string literals), minus SQL's own. */
export function sqlStems(sql: string): Set<string> {
  const out = new Set<string>();
  for (const w of words(sql.replace(/\{\{\d+\}\}/g, " "))) if (w.length > 2 && !/^\d/.test(w) && !SQL_WORDS.has(w)) out.add(stem(w));
  return out;
}

/** Abstracts SQL into a template by aligning its literals with the task's. Unaligned literals stay constants. */
export function abstractSql(sql: string, lits: TaskLits): Template {
  return abstractGroup([{ sql, lits }])!;
}

/** One example of a call for {@linkcode abstractGroup}: its SQL, its task's literals, the results of earlier calls. */
export interface GroupItem {
  sql: string;
  lits: TaskLits;
  prior?: readonly CallResult[];
}

/** Month boundaries and other periods become slots (step 1 of abstraction). */
function periodStage(sql: string, lits: TaskLits): { sql: string; slots: Slot[] } {
  const slots: Slot[] = [];
  const ph = (s: Slot) => `{{${slots.push(s) - 1}}}`;
  // 1a. month boundaries: `date_trunc('<unit>', current_date)` with any chain of ± INTERVAL n MONTH, however the
  // SQL writes it, become "n months after the start of the task's period of that unit" — so the same plan gives
  // the same template whatever period an example asked for.
  let out = sql.replace(DATE_TRUNC, (m, unit: string, chain: string) => {
    const u = unit.toLowerCase() as "month" | "quarter" | "year";
    const i = lits.periods.findIndex((p) => p.kind === "relative" && p.unit === u);
    if (i < 0) return m;
    const p = lits.periods[i] as Extract<Period, { kind: "relative" }>;
    let d = 0;
    for (const x of chain.matchAll(/([-+])\s*INTERVAL\s*'?\s*(\d+)\s*'?\s*MONTHS?/gi)) d += (x[1] === "-" ? -1 : 1) * Number(x[2]);
    return ph({ kind: "pshift", i, unit: u, months: d + p.offset * UNIT_MONTHS[u] });
  });
  // 1b. other periods, rendered the way the model's normaliser renders them (longest first: an end may contain a start)
  const reps: { text: string; slot: Slot }[] = [];
  lits.periods.forEach((p, i) => {
    if (p.kind === "relative") return;
    const [s, e] = periodBounds(p);
    reps.push({ text: e, slot: { kind: "period", i, end: true } }, { text: s, slot: { kind: "period", i, end: false } });
  });
  reps.sort((a, b) => b.text.length - a.text.length);
  for (const r of reps) {
    if (!out.includes(r.text)) continue;
    const mark = ph(r.slot);
    out = out.split(r.text).join(mark);
  }
  return { sql: out, slots };
}

/** A literal of a SQL text: a string literal's content or a number, outside placeholders. */
interface Site {
  v: string;
  str: boolean;
}

/** Splits SQL into the text around its literals (`parts.length === sites.length + 1`). */
function splitSites(sql: string): { parts: string[]; sites: Site[] } {
  const parts: string[] = [""];
  const sites: Site[] = [];
  for (const q of splitQuoted(sql)) {
    if (q.startsWith("'") && !/^'\{\{\d+\}\}'$/.test(q)) {
      parts[parts.length - 1] += "'";
      sites.push({ v: q.slice(1, -1).replace(/''/g, "'"), str: true });
      parts.push("'");
      continue;
    }
    for (const seg of q.split(/(\{\{\d+\}\})/)) {
      if (seg.startsWith("{{")) {
        parts[parts.length - 1] += seg;
        continue;
      }
      let last = 0;
      for (const m of seg.matchAll(/(?<![A-Za-z0-9_.])\d+(?:\.\d+)?(?![A-Za-z0-9_.])/g)) {
        parts[parts.length - 1] += seg.slice(last, m.index);
        sites.push({ v: m[0], str: false });
        parts.push("");
        last = m.index! + m[0].length;
      }
      parts[parts.length - 1] += seg.slice(last);
    }
  }
  return { parts, sites };
}

/** What could explain a literal's value in one example: the task's literals first, then earlier results. */
function explanations(site: Site, lits: TaskLits, prior: readonly CallResult[] | undefined): Slot[] {
  const out: Slot[] = [];
  if (site.str) {
    lits.strings.forEach((s) => {
      if (s.text.toLowerCase() === site.v.toLowerCase()) out.push({ kind: "str", cols: s.cols, quoted: s.quoted });
    });
  } else {
    const x = Number(site.v);
    lits.nums.forEach((v, i) => {
      if (Number(v) === x) out.push({ kind: "num", i });
    });
    lits.periods.forEach((p, i) => {
      if (p.kind === "days" && p.days === x) out.push({ kind: "days", i });
    });
  }
  (prior ?? []).forEach((r, c) => {
    const row = r.write ? undefined : r.rows[0];
    for (const col of row ? r.columns : []) {
      const v = row![col];
      if (v === null || v === undefined || typeof v === "object") continue;
      if (site.str ? String(v) === site.v : typeof v === "number" && v === Number(site.v)) out.push({ kind: "res", c, col, str: site.str });
    }
  });
  return out;
}

/** The key under which examples of a call abstract together: its period slots and the text around its literals. */
export function groupKey(sql: string, lits: TaskLits): string {
  const p = periodStage(sql, lits);
  return JSON.stringify([p.slots, splitSites(p.sql).parts]);
}

/**
 * Abstracts the same call of several examples (equal {@linkcode groupKey}) into one template: a literal becomes a
 * slot when one explanation (a task literal, a value of an earlier result) holds in every example; otherwise it
 * stays the constant it is — so a word that some phrasings happen to mention is not mistaken for a parameter.
 */
export function abstractGroup(items: readonly GroupItem[]): Template | undefined {
  if (!items.length) return undefined;
  const staged = items.map((it) => ({ ...periodStage(it.sql, it.lits), it }));
  const split = staged.map((s) => splitSites(s.sql));
  const slots: Slot[] = [...staged[0].slots];
  const ph = (s: Slot) => `{{${slots.push(s) - 1}}}`;
  const { parts, sites } = split[0];
  let out = parts[0];
  // An explanation is the same in two examples when it takes the same kind of value from the same place (a string
  // of the same columns, quoted or not, whatever its position in the task).
  const ident = (s: Slot) => s.kind === "str" ? `str|${[...s.cols].sort().join(",")}` : JSON.stringify(s);
  const siteOf = new Map<number, string>();
  sites.forEach((site, j) => {
    let common: Slot[] = explanations(site, items[0].lits, items[0].prior);
    for (let e = 1; e < items.length && common.length; e++) {
      const keys = new Set(explanations(split[e].sites[j] ?? { v: "", str: site.str }, items[e].lits, items[e].prior).map(ident));
      common = common.filter((s) => keys.has(ident(s)));
    }
    const lit = site.str ? site.v.replace(/'/g, "''") : site.v;
    if (!common.length) {
      out += lit + parts[j + 1];
      return;
    }
    siteOf.set(slots.length, site.v.toLowerCase());
    let slot = common[0];
    if (slot.kind === "str") slot = { ...slot, seen: [...new Set(split.map((x) => x.sites[j]?.v.toLowerCase() ?? ""))].sort().slice(0, 8) };
    out += ph(slot) + parts[j + 1];
  });
  // canonical numbering: by first appearance, equal slots merged (so equal templates compare equal) — two task
  // strings of the same columns stay two slots
  const order: string[] = [];
  const canon: Slot[] = [];
  out = out.replace(/\{\{(\d+)\}\}/g, (_, k) => {
    const key = JSON.stringify(slots[Number(k)]) + (slots[Number(k)].kind === "str" ? `|${siteOf.get(Number(k))}` : "");
    let j = order.indexOf(key);
    if (j < 0) {
      j = order.push(key) - 1;
      canon.push(slots[Number(k)]);
    }
    return `{{${j}}}`;
  });
  return { sql: out, slots: canon };
}

/** Options of {@linkcode fillTemplate}. */
export interface FillOptions {
  /**
   * Let a month boundary learned for one unit fill a period of another when it is a whole number of periods
   * ("the start of last quarter" → "the start of this year"). The in-context copy allows it (one analogy at a
   * time); the fine-tuned selector does not (among many templates a month plan would pass for a quarter one).
   * @default false
   */
  crossUnit?: boolean;
}

const DEFERRED = /\u27e6(\d+)\u27e7([^\u27e6]*)\u27e6\/\u27e7/g;

/**
 * Fills a template from a task's literals; `undefined` when a slot has nothing to take. Slots that take a value
 * of an earlier call's result are left as markers until {@linkcode resolveResults} (the results come later).
 */
export function fillTemplate(t: Template, lits: TaskLits, options: FillOptions = {}): string | undefined {
  const used = new Set<number>();
  const vals: string[] = [];
  for (const s of t.slots) {
    if (s.kind === "res") {
      vals.push(`\u27e6${s.c}\u27e7${encodeURIComponent(s.col)}\u27e6/\u27e7`);
    } else if (s.kind === "pshift") {
      const p = lits.periods[s.i];
      if (!p || p.kind !== "relative") return undefined;
      let months = s.months;
      if (p.unit !== s.unit) {
        // another unit: only whole periods carry over (the start, the end, the period before)
        if (!options.crossUnit || s.months % UNIT_MONTHS[s.unit] !== 0) return undefined;
        months = (s.months / UNIT_MONTHS[s.unit]) * UNIT_MONTHS[p.unit];
      }
      vals.push(monthBoundary(p.unit, months - p.offset * UNIT_MONTHS[p.unit]));
    } else if (s.kind === "days") {
      const p = lits.periods[s.i];
      if (!p || p.kind !== "days") return undefined;
      vals.push(String(p.days));
    } else if (s.kind === "period") {
      const p = lits.periods[s.i];
      if (!p) return undefined;
      vals.push(periodBounds(p)[s.end ? 1 : 0]);
    } else if (s.kind === "num") {
      const n = lits.nums[s.i];
      if (n === undefined) return undefined;
      vals.push(n);
    } else {
      const fits = (x: TaskString, i: number) => !used.has(i) && x.cols.some((c) => s.cols.includes(c));
      let k = s.seen ? lits.strings.findIndex((x, i) => fits(x, i) && s.seen!.includes(x.text.toLowerCase())) : -1;
      if (k < 0 && s.cols.length) k = lits.strings.findIndex(fits);
      if (k < 0) k = lits.strings.findIndex((x, i) => !used.has(i) && (s.quoted ? x.quoted : true) && (s.cols.length === 0 || x.cols.length === 0));
      if (k < 0) return undefined;
      used.add(k);
      vals.push(lits.strings[k].text.replace(/'/g, "''"));
    }
  }
  return t.sql.replace(/\{\{(\d+)\}\}/g, (_, i) => vals[Number(i)]);
}

/** Replaces the result markers {@linkcode fillTemplate} left with values of earlier results; `undefined` when one is missing. */
export function resolveResults(sql: string, results: readonly CallResult[]): string | undefined {
  let missing = false;
  const out = sql.replace(DEFERRED, (_, c: string, col: string) => {
    const v = results[Number(c)]?.rows[0]?.[decodeURIComponent(col)];
    if (v === undefined || v === null) {
      missing = true;
      return "";
    }
    return typeof v === "string" ? v.replace(/'/g, "''") : String(v);
  });
  return missing ? undefined : out;
}

/** Whether a filled SQL text still waits for earlier results. */
export const needsResults = (sql: string): boolean => sql.includes("\u27e6");

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
