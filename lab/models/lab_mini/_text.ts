/**
 * Text utilities of lab-mini: tokenising, light stemming, feature hashing, a seeded PRNG, and the deterministic
 * normaliser that turns time expressions and numbers into typed values. Nothing here knows any schema.
 * @module
 */

import { fnv1a, mulberry32 } from "../../util/mod.ts";

/** FNV-1a (32 bit). */
export const hash32: (text: string, seed?: number) => number = fnv1a;

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export const prng: (seed: number) => () => number = mulberry32;

/** Light stemmer: plural endings only (enough to link "vehicles" to a `vehicle` token). */
export function stem(word: string): string {
  if (word.length > 4 && word.endsWith("ies")) return `${word.slice(0, -3)}y`;
  if (word.length > 4 && /(sses|xes|ches|shes)$/.test(word)) return word.slice(0, -2);
  if (word.length > 3 && word.endsWith("s") && !word.endsWith("ss") && !word.endsWith("us")) return word.slice(0, -1);
  return word;
}

/** Lower-case word tokens (letters/digits), splitting snake_case. */
export function words(text: string): string[] {
  return text.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
}

/** Stemmed tokens of an identifier or phrase. */
export function stems(text: string): string[] {
  return words(text).map(stem);
}

/** Unigram and bigram features of stemmed tokens. */
export function ngrams(tokens: string[]): string[] {
  const out = [...tokens];
  for (let i = 0; i + 1 < tokens.length; i++) out.push(`${tokens[i]}_${tokens[i + 1]}`);
  return out;
}

/** A relative or absolute period, resolved in SQL against `current_date`. */
export type Period =
  | { kind: "relative"; unit: "month" | "quarter" | "year"; offset: number }
  | { kind: "days"; days: number }
  | { kind: "year"; year: number };

const NUMBER_WORDS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, twelve: 12, twenty: 20,
};

function num(w: string): number | undefined {
  if (/^\d+$/.test(w)) return Number(w);
  return NUMBER_WORDS[w];
}

/** A numeric comparison a text asks for ("20,000 or more" → `>=` 20000). */
export interface Comparison {
  op: ">=" | ">" | "<=" | "<";
  value: number;
}

/** What the normaliser found in a text: periods (in order of mention), a count N, comparisons, and the tokens left over. */
export interface Normalised {
  periods: Period[];
  n?: number;
  /** Numeric comparisons, in order of mention (each a `<cmp>` token). */
  cmps: Comparison[];
  /** Tokens with time expressions replaced by `<time>`, the count by `<n>` and comparisons by `<cmp>`. */
  tokens: string[];
}

const MORE = new Set(["more", "greater", "higher", "larger", "bigger", "above", "over", "plus"]);
const LESS = new Set(["less", "fewer", "lower", "smaller", "below", "under"]);
const TIME_UNIT = /^(day|days|week|weeks|month|months|quarter|quarters|year|years)$/;

/** A comparison starting at token `i`: its operator, value and length in tokens. */
function comparisonAt(t: string[], i: number): { cmp: Comparison; len: number } | undefined {
  const val = (k: number) => {
    const x = numberToken(t[k] ?? "");
    return x !== undefined && !TIME_UNIT.test(t[k + 1] ?? "") ? Number(x) : undefined;
  };
  const [w, w1, w2] = [t[i], t[i + 1], t[i + 2]];
  let v = val(i);
  // N or more / N or less
  if (v !== undefined && w1 === "or" && (MORE.has(w2) || LESS.has(w2))) return { cmp: { op: MORE.has(w2) ? ">=" : "<=", value: v }, len: 3 };
  // at least / at most / no more than / no less than N
  if (w === "at" && (w1 === "least" || w1 === "most") && (v = val(i + 2)) !== undefined) return { cmp: { op: w1 === "least" ? ">=" : "<=", value: v }, len: 3 };
  if (w === "no" && (MORE.has(w1) || LESS.has(w1)) && w2 === "than" && (v = val(i + 3)) !== undefined) {
    return { cmp: { op: MORE.has(w1) ? "<=" : ">=", value: v }, len: 4 };
  }
  // more than / less than N
  if ((MORE.has(w) || LESS.has(w)) && w1 === "than" && (v = val(i + 2)) !== undefined) return { cmp: { op: MORE.has(w) ? ">" : "<", value: v }, len: 3 };
  // over / above / exceeding / under / below N
  if (/^(over|above|exceeding|exceeds|under|below)$/.test(w) && (v = val(i + 1)) !== undefined) {
    return { cmp: { op: /^(under|below)$/.test(w) ? "<" : ">", value: v }, len: 2 };
  }
  return undefined;
}

/**
 * Finds time expressions ("this month", "last quarter", "two months ago", "in the last 30 days", "in 2024")
 * and a count ("top 5", "3 largest") in a text.
 */
export function normalise(text: string): Normalised {
  const t = words(plainNumbers(text));
  const periods: Period[] = [];
  const cmps: Comparison[] = [];
  const out: string[] = [];
  let n: number | undefined;
  for (let i = 0; i < t.length; i++) {
    const w = t[i], w1 = t[i + 1], w2 = t[i + 2];
    const unit = (x?: string) => x === "month" || x === "quarter" || x === "year" ? x : undefined;
    // (the) same month|quarter last year: a twelve-month step back in the period's own unit
    if (w === "same" && (w1 === "month" || w1 === "quarter") && t[i + 2] === "last" && t[i + 3] === "year") {
      if (out.at(-1) === "the") out.pop();
      periods.push({ kind: "relative", unit: w1, offset: w1 === "month" ? 12 : 4 });
      out.push("<time>");
      i += 3;
      continue;
    }
    // this|current month/quarter/year
    if ((w === "this" || w === "current") && unit(w1)) {
      periods.push({ kind: "relative", unit: unit(w1)!, offset: 0 });
      out.push("<time>");
      i += 1;
      continue;
    }
    // last|previous month/quarter/year
    if ((w === "last" || w === "previous" || w === "prior") && unit(w1)) {
      periods.push({ kind: "relative", unit: unit(w1)!, offset: 1 });
      out.push("<time>");
      i += 1;
      continue;
    }
    // two months ago
    if (num(w) !== undefined && /^(month|quarter|year)s?$/.test(w1 ?? "") && w2 === "ago") {
      periods.push({ kind: "relative", unit: w1!.replace(/s$/, "") as "month", offset: num(w)! });
      out.push("<time>");
      i += 2;
      continue;
    }
    // last|past N days
    if ((w === "last" || w === "past") && num(w1 ?? "") !== undefined && (w2 === "days" || w2 === "day")) {
      periods.push({ kind: "days", days: num(w1!)! });
      out.push("<time>");
      i += 2;
      continue;
    }
    if (/^(19|20)\d\d$/.test(w) && (t[i - 1] === "in" || t[i - 1] === "during" || t[i - 1] === "year")) {
      periods.push({ kind: "year", year: Number(w) });
      out.push("<time>");
      continue;
    }
    const c = comparisonAt(t, i);
    if (c) {
      cmps.push(c.cmp);
      out.push("<cmp>");
      i += c.len - 1;
      continue;
    }
    if (n === undefined && num(w) !== undefined && (t[i - 1] === "top" || /^(largest|biggest|highest|most|lowest|smallest)$/.test(w1 ?? ""))) {
      n = num(w);
      out.push("<n>");
      continue;
    }
    out.push(w);
  }
  return { periods, n, cmps, tokens: out };
}

/**
 * Rewrites numbers written for people into plain digits, so a number is one token: "20,000" → "20000",
 * "20k" → "20000", "1.5k" → "1500", and a decimal "12.5" → "12p5" (the tokeniser splits on "."; `decimalToken`
 * reads it back).
 */
export function plainNumbers(text: string): string {
  return text
    .replace(/≥|>=/g, " at least ").replace(/≤|<=/g, " at most ").replace(/(?<![-=])>(?=\s*\d)/g, " more than ").replace(/<(?=\s*\d)/g, " less than ")
    .replace(/(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?![\d,])/g, (m) => m.replaceAll(",", ""))
    .replace(/(?<![\w.])(\d+(?:\.\d+)?)\s?k\b/gi, (_, n) => String(Math.round(Number(n) * 1000)))
    .replace(/(?<![\w.])(\d+)\.(\d+)(?![\w.])/g, "$1p$2");
}

/** The number a token stands for when it is a number ("12", "12p5" from {@linkcode plainNumbers}). */
export function numberToken(token: string): string | undefined {
  if (/^\d+$/.test(token)) return token;
  if (/^\d+p\d+$/.test(token)) return token.replace("p", ".");
  return undefined;
}

/** English for a period, used by the corpus generator. */
export function periodPhrase(p: Period, rand: () => number): string {
  if (p.kind === "days") return `in the ${rand() < 0.5 ? "last" : "past"} ${p.days} days`;
  if (p.kind === "year") return `in ${p.year}`;
  if (p.offset === 0) return `${rand() < 0.8 ? "this" : "current"} ${p.unit}`;
  if (p.offset === 1) return `${rand() < 0.7 ? "last" : "previous"} ${p.unit}`;
  if ((p.unit === "month" && p.offset === 12) || (p.unit === "quarter" && p.offset === 4)) {
    if (rand() < 0.7) return `the same ${p.unit} last year`;
  }
  const w = Object.entries(NUMBER_WORDS).find(([, v]) => v === p.offset)?.[0] ?? String(p.offset);
  return `${rand() < 0.5 ? w : p.offset} ${p.unit}s ago`;
}

/** SQL bounds `[start, end)` of a period, relative to `current_date`. */
export function periodBounds(p: Period): [string, string] {
  if (p.kind === "days") return [`current_date - INTERVAL ${p.days} DAY`, `current_date + INTERVAL 1 DAY`];
  if (p.kind === "year") return [`DATE '${p.year}-01-01'`, `DATE '${p.year + 1}-01-01'`];
  const months = p.unit === "month" ? 1 : p.unit === "quarter" ? 3 : 12;
  const base = `date_trunc('${p.unit}', current_date)`;
  const start = p.offset === 0 ? base : `${base} - INTERVAL ${p.offset * months} MONTH`;
  const endOff = (1 - p.offset) * months;
  const end = endOff === 0 ? base : endOff > 0 ? `${base} + INTERVAL ${endOff} MONTH` : `${base} - INTERVAL ${-endOff} MONTH`;
  return [start, end];
}

/** The same period one step earlier (for a comparison given one period only). */
export function previousPeriod(p: Period): Period {
  if (p.kind === "relative") return { ...p, offset: p.offset + 1 };
  if (p.kind === "year") return { kind: "year", year: p.year - 1 };
  return p;
}
