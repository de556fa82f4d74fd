/**
 * Text utilities of lab-mini: tokenising, light stemming, feature hashing, a seeded PRNG, and the deterministic
 * normaliser that turns time expressions and numbers into typed values. Nothing here knows any schema.
 * @module
 */

import { fnv1a, mulberry32 } from "../../util/random.ts";

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

/** What the normaliser found in a text: periods (in order of mention), a count N, and the tokens left over. */
export interface Normalised {
  periods: Period[];
  n?: number;
  /** Tokens with time expressions replaced by `<time>` and the count by `<n>`. */
  tokens: string[];
}

/**
 * Finds time expressions ("this month", "last quarter", "two months ago", "in the last 30 days", "in 2024")
 * and a count ("top 5", "3 largest") in a text.
 */
export function normalise(text: string): Normalised {
  const t = words(text);
  const periods: Period[] = [];
  const out: string[] = [];
  let n: number | undefined;
  for (let i = 0; i < t.length; i++) {
    const w = t[i], w1 = t[i + 1], w2 = t[i + 2];
    const unit = (x?: string) => x === "month" || x === "quarter" || x === "year" ? x : undefined;
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
    if (n === undefined && num(w) !== undefined && (t[i - 1] === "top" || /^(largest|biggest|highest|most|lowest|smallest)$/.test(w1 ?? ""))) {
      n = num(w);
      out.push("<n>");
      continue;
    }
    out.push(w);
  }
  return { periods, n, tokens: out };
}

/** English for a period, used by the corpus generator. */
export function periodPhrase(p: Period, rand: () => number): string {
  if (p.kind === "days") return `in the ${rand() < 0.5 ? "last" : "past"} ${p.days} days`;
  if (p.kind === "year") return `in ${p.year}`;
  if (p.offset === 0) return `${rand() < 0.8 ? "this" : "current"} ${p.unit}`;
  if (p.offset === 1) return `${rand() < 0.7 ? "last" : "previous"} ${p.unit}`;
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
