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

type Unit = "month" | "quarter" | "year";

/** Number words the corpus writes for small offsets (rendering only, see {@linkcode periodPhrase}). */
const NUMBER_WORDS: Record<string, number> = {
  one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, twelve: 12, twenty: 20,
};
/** Cardinal words below twenty. */
const SMALL: Record<string, number> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10, eleven: 11,
  twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
};
/** Multiples of ten written as words. */
const TENS: Record<string, number> = { twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90 };
/** Scale words multiplying what comes before them. */
const SCALES: Record<string, number> = { thousand: 1e3, million: 1e6, billion: 1e9 };
const UNIT_MONTHS: Record<Unit, number> = { month: 1, quarter: 3, year: 12 };

/** The number a token stands for: digits or a cardinal word below one hundred. */
function num(w: string): number | undefined {
  if (/^\d+$/.test(w)) return Number(w);
  return SMALL[w] ?? TENS[w];
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
  /**
   * Tokens with time expressions replaced by `<time>`, the count by `<n>`, comparisons by `<cmp>` and a connector
   * between two periods ("vs", "versus", "compared with", "against", "relative to", "month over month", …) by `<vs>`.
   */
  tokens: string[];
}

const MORE = new Set(["more", "greater", "higher", "larger", "bigger", "above", "over", "plus"]);
const LESS = new Set(["less", "fewer", "lower", "smaller", "below", "under"]);
const TIME_UNIT = /^(day|days|week|weeks|month|months|quarter|quarters|year|years)$/;

/** A comparison starting at token `i`: its operator, value and length in tokens. */
function comparisonAt(t: string[], i: number): { cmp: Comparison; len: number } | undefined {
  const val = (k: number) => {
    const x = numberToken(t[k] ?? "") ?? num(t[k] ?? "");
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

const unitOf = (x?: string): Unit | undefined => x === "month" || x === "quarter" || x === "year" ? x : undefined;
/** A unit, singular or plural ("months" → month). */
const unitsOf = (x?: string): Unit | undefined => unitOf(x) ?? (x?.endsWith("s") ? unitOf(x.slice(0, -1)) : undefined);
const rel = (unit: Unit, offset: number): Period => ({ kind: "relative", unit, offset });

/** `p` moved `months` months back, when its unit can say so (a quarter moves by 3, 6, 12 … months; a year by 12 …). */
function earlier(p: Period | undefined, months: number): Period | undefined {
  if (p?.kind === "relative" && months % UNIT_MONTHS[p.unit] === 0) return rel(p.unit, p.offset + months / UNIT_MONTHS[p.unit]);
  if (p?.kind === "year" && months % 12 === 0) return { kind: "year", year: p.year - months / 12 };
  return undefined;
}
/** Whether `p` is counted in `unit` (a calendar year counts in years). */
const sameUnit = (p: Period | undefined, unit: Unit) => (p?.kind === "relative" && p.unit === unit) || (p?.kind === "year" && unit === "year");

/** A connector between two periods starting at token `i` ("vs", "compared with", "quarter over quarter", …): its length. */
function connectorAt(t: string[], i: number): number {
  const [w, w1, w2] = [t[i], t[i + 1], t[i + 2]];
  if (/^(vs|versus|against|mom|qoq|yoy)$/.test(w)) return 1;
  if ((w === "compared" || w === "compare" || w === "relative") && (w1 === "with" || w1 === "to")) return 2;
  if (w === "in" && w1 === "comparison" && (w2 === "with" || w2 === "to")) return 3;
  if (unitOf(w) && (w1 === "over" || w1 === "on") && w2 === w) return 3;
  return 0;
}

/**
 * A time expression starting at token `i`: the period and its length in tokens. `first` is the period mentioned
 * first in the text: a later expression phrased relative to it (the previous <unit>, the <unit> before it,
 * a year earlier, N <units> earlier) is counted back from it, not from today.
 */
function periodAt(t: string[], i: number, first: Period | undefined): { p: Period; len: number } | undefined {
  const [w, w1, w2, w3] = [t[i], t[i + 1], t[i + 2], t[i + 3]];
  // (the) same month|quarter last year: a twelve-month step back in the period's own unit (also said: the same <unit>
  // a year earlier/ago/before, of last year, the previous/prior year, the year before); from the first period if any
  if (w === "same" && (w1 === "month" || w1 === "quarter")) {
    let len = 0;
    if (w2 === "last" && w3 === "year") len = 4;
    else if (/^(a|one|1)$/.test(w2) && w3 === "year" && /^(earlier|ago|before|prior|back)$/.test(t[i + 4] ?? "")) len = 5;
    else if (w2 === "of" && w3 === "last" && t[i + 4] === "year") len = 5;
    else if (w2 === "the" && /^(previous|prior|preceding)$/.test(w3) && t[i + 4] === "year") len = 5;
    else if (w2 === "the" && w3 === "year" && t[i + 4] === "before") len = 5;
    if (len) return { p: (first && earlier(first, 12)) ?? rel(w1, 12 / UNIT_MONTHS[w1]), len };
  }
  // <unit> to date; YTD, QTD, MTD
  if (unitOf(w) && w1 === "to" && w2 === "date") return { p: rel(unitOf(w)!, 0), len: 3 };
  if (/^(ytd|qtd|mtd)$/.test(w)) return { p: rel(w === "ytd" ? "year" : w === "qtd" ? "quarter" : "month", 0), len: 1 };
  // this / current (calendar|fiscal) <unit>
  const cal = w1 === "calendar" || w1 === "fiscal" ? 1 : 0;
  const u = unitOf(t[i + 1 + cal]);
  if ((w === "this" || w === "current") && u) return { p: rel(u, 0), len: 2 + cal + (t[i + 2 + cal] === "to" && t[i + 3 + cal] === "date" ? 2 : 0) };
  // last <unit>: one back from today; previous / prior / preceding <unit>: one back from the first period when
  // it is counted in the same unit
  if (w === "last" && u) return { p: rel(u, 1), len: 2 + cal };
  if ((w === "previous" || w === "prior" || w === "preceding") && u) {
    return { p: (sameUnit(first, u) && earlier(first, UNIT_MONTHS[u])) || rel(u, 1), len: 2 + cal };
  }
  const uw = unitOf(w);
  // <unit> before last (and not "… before last <unit>")
  if (uw && w1 === "before" && w2 === "last" && !unitsOf(w3)) return { p: rel(uw, 2), len: 3 };
  // the <unit> (just|immediately|right) before|preceding|prior|earlier (it|that|then): one back from the first period
  if (uw && t[i - 1] === "the" && sameUnit(first, uw)) {
    let k = i + 1;
    if (/^(just|immediately|right|directly)$/.test(t[k])) k++;
    if (/^(before|preceding|prior|earlier)$/.test(t[k] ?? "")) {
      k++;
      if (/^(it|that|then|this)$/.test(t[k] ?? "")) k++;
      return { p: earlier(first, UNIT_MONTHS[uw])!, len: k - i };
    }
  }
  // six months back, said as half of a year (… ago / earlier / back)
  if (w === "half" && (w1 === "a" || w1 === "an") && w2 === "year" && /^(ago|earlier|back)$/.test(w3)) {
    return { p: (first && earlier(first, 6)) ?? rel("month", 6), len: 4 };
  }
  // N <units> ago (from today); N <units> earlier/before/prior/back (from the first period when there is one);
  // a year ago/earlier: twelve months back, from the first period when there is one
  const n = w === "a" || w === "an" ? 1 : num(w);
  const un = unitsOf(w1);
  if (n !== undefined && un && /^(ago|earlier|before|prior|back)$/.test(w2)) {
    const months = n * UNIT_MONTHS[un];
    const fromFirst = first && (w2 !== "ago" || (n === 1 && un === "year")) ? earlier(first, months) : undefined;
    const own = n === 1 && un === "year" && (w === "a" || w === "an" || w === "one") ? rel("month", 12) : rel(un, n);
    return { p: fromFirst ?? own, len: 3 };
  }
  // last|past N days / weeks
  if ((w === "last" || w === "past") && num(w1 ?? "") !== undefined && /^(days?|weeks?)$/.test(w2 ?? "")) {
    return { p: { kind: "days", days: num(w1)! * (w2.startsWith("week") ? 7 : 1) }, len: 3 };
  }
  if (/^(19|20)\d\d$/.test(w) && (t[i - 1] === "in" || t[i - 1] === "during" || t[i - 1] === "year")) {
    return { p: { kind: "year", year: Number(w) }, len: 1 };
  }
  return undefined;
}

/** Words a time expression or a connector can start with (besides numbers): others skip both searches. */
const STARTS = new Set([
  "same", "month", "quarter", "year", "ytd", "qtd", "mtd", "this", "current", "last", "previous", "prior", "preceding", "half", "a", "an",
  "past", "vs", "versus", "against", "mom", "qoq", "yoy", "compared", "compare", "relative", "in", "over",
]);

// Words around a number that make it a count of ranked things, and words that say a text ranks.
const RANK_BEFORE = new Set(["top", "leading", "first", "best", "biggest", "largest", "highest", "bottom", "lowest", "worst"]);
const RANK_AFTER = new Set(["largest", "biggest", "highest", "most", "lowest", "smallest", "best", "worst", "leading", "top"]);
const RANK_CUES = new Set(["most", "highest", "largest", "biggest", "descending", "rank", "ranked", "leading", "top", "best", "lowest", "smallest"]);

/**
 * Finds time expressions ("this month", "last quarter", "two months ago", "year to date", "in the last 30 days",
 * "in 2024"; a later one phrased relative to the first, like "the <unit> before it" or "a year earlier", counted
 * back from the first), connectors between periods (`<vs>`), comparisons and a count ("top 5", "3 largest").
 */
export function normalise(text: string): Normalised {
  const t = words(plainNumbers(text));
  const periods: Period[] = [];
  const cmps: Comparison[] = [];
  const out: string[] = [];
  let n: number | undefined;
  let yoy = false;
  const ranks = t.some((w) => RANK_CUES.has(w));
  for (let i = 0; i < t.length; i++) {
    const w = t[i];
    const start = STARTS.has(w) || num(w) !== undefined;
    // a connector; "over" only between two time expressions
    const conn = start ? connectorAt(t, i) : 0;
    if (conn || (w === "over" && out.at(-1) === "<time>" && (periodAt(t, i + 1, periods[0]) || (t[i + 1] === "the" && periodAt(t, i + 2, periods[0]))))) {
      yoy ||= w === "yoy" || (w === "year" && conn === 3);
      out.push("<vs>");
      i += Math.max(1, conn) - 1;
      continue;
    }
    const per = start ? periodAt(t, i, periods[0]) : undefined;
    if (per) {
      if (w === "same" && out.at(-1) === "the") out.pop();
      periods.push(per.p);
      out.push("<time>");
      i += per.len - 1;
      continue;
    }
    const c = comparisonAt(t, i);
    if (c) {
      cmps.push(c.cmp);
      out.push("<cmp>");
      i += c.len - 1;
      continue;
    }
    // a count of things ranked: "top 5", "leading three", "5 largest", or "the 3 <things>" in a text that ranks
    if (
      n === undefined && num(w) !== undefined && !TIME_UNIT.test(t[i + 1] ?? "") &&
      (RANK_BEFORE.has(t[i - 1]) || RANK_AFTER.has(t[i + 1] ?? "") || (t[i - 1] === "the" && ranks))
    ) {
      n = num(w);
      out.push("<n>");
      continue;
    }
    out.push(w);
  }
  // year over year with one month or quarter: the same period a year earlier
  const y = yoy && periods.length === 1 && periods[0].kind === "relative" && periods[0].unit !== "year" ? earlier(periods[0], 12) : undefined;
  if (y) periods.push(y);
  return { periods, n, cmps, tokens: out };
}

/** Position and lower-cased text of a word or number in a text. */
interface Tok {
  lo: string;
  a: number;
  b: number;
}

/** Whether tokens `k` and `k + 1` belong to one phrase (only spaces or a hyphen between them). */
const joined = (text: string, t: Tok[], k: number) => k + 1 < t.length && /^[ \t-]?[ \t]*$/.test(text.slice(t[k].b, t[k + 1].a));

/**
 * A number written in words starting at token `i` ("twenty-five thousand", "two hundred and fifty", "a dozen",
 * "half a million", "a quarter of a million", "1.5 million"): its value and length in tokens. A lone "one" or "a"
 * is not a number.
 */
function wordNumberAt(text: string, t: Tok[], i: number): { value: number; len: number } | undefined {
  const w = (k: number) => (k === i || (k > i && joined(text, t, k - 1)) ? t[k]?.lo : undefined);
  const isA = (x?: string) => x === "a" || x === "an";
  // fractions of a scale
  if (w(i) === "half" && isA(w(i + 1)) && SCALES[w(i + 2) ?? ""]) return { value: SCALES[w(i + 2)!] / 2, len: 3 };
  const q = isA(w(i)) ? i + 1 : i;
  if (w(q) === "quarter" && w(q + 1) === "of" && isA(w(q + 2)) && SCALES[w(q + 3) ?? ""]) {
    return { value: SCALES[w(q + 3)!] / 4, len: q + 4 - i };
  }
  if (w(i) === "three" && w(i + 1) === "quarters" && w(i + 2) === "of" && isA(w(i + 3)) && SCALES[w(i + 4) ?? ""]) {
    return { value: SCALES[w(i + 4)!] * 0.75, len: 5 };
  }
  // cardinals: units, tens, hundred, dozen, scales (decreasing), "and" after hundred or a scale
  let total = 0, cur = 0, value = 0, len = 0, scale = Infinity;
  let last: "small" | "tens" | "digit" | "a" | "hundred" | "dozen" | "scale" | undefined;
  for (let k = i; ; k++) {
    const x = w(k);
    if (x === undefined) break;
    if (/^\d/.test(x)) {
      if (k !== i || !/^(hundred|thousand|million|billion|dozen)$/.test(w(k + 1) ?? "")) break;
      cur = Number(x), last = "digit";
      continue;
    }
    if (isA(x)) {
      if (k !== i || !/^(hundred|thousand|million|billion|dozen)$/.test(w(k + 1) ?? "")) break;
      cur = 1, last = "a";
      continue;
    }
    if (x === "and") {
      if ((last !== "hundred" && last !== "scale") || num(w(k + 1) ?? "") === undefined) break;
      continue;
    }
    if (SMALL[x] !== undefined) {
      if (last === "small" || last === "digit" || last === "a" || last === "dozen" || (last === "tens" && (SMALL[x] >= 10 || SMALL[x] === 0))) break;
      if (last === "hundred" && cur % 100 !== 0) break;
      cur += SMALL[x], last = "small";
    } else if (TENS[x] !== undefined) {
      if (last !== undefined && last !== "hundred" && last !== "scale") break;
      if (last === "hundred" && cur % 100 !== 0) break;
      cur += TENS[x], last = "tens";
    } else if (x === "hundred") {
      if (last === undefined || last === "hundred" || last === "scale" || last === "dozen" || cur >= 100) break;
      cur *= 100, last = "hundred";
    } else if (x === "dozen") {
      if (last !== undefined && last !== "small" && last !== "a" && last !== "digit") break;
      cur = (last === undefined ? 1 : cur) * 12, last = "dozen";
    } else if (SCALES[x] !== undefined) {
      if (last === undefined || last === "scale" || SCALES[x] >= scale) break;
      total += cur * SCALES[x], cur = 0, scale = SCALES[x], last = "scale";
    } else break;
    value = total + cur, len = k - i + 1;
  }
  if (len === 0 || (len === 1 && (t[i].lo === "one" || t[i].lo === "zero"))) return undefined;
  return { value: Math.round(value), len };
}

const NUMBER_WORDS_RE = "zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen|" +
  "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|dozen|thousand|million|billion";
const NUMBER_WORD = new RegExp(`\\b(?:${NUMBER_WORDS_RE})\\b`, "i");
/** A run of words a number in words can be made of (checked by {@linkcode wordNumberAt}). */
const NUMBER_RUN = new RegExp(
  `(?<![\\w.])(?:a|an|half|\\d+(?:\\.\\d+)?|${NUMBER_WORDS_RE})\\b(?:[ \\t]*-?[ \\t]*(?:a|an|and|of|quarters?|${NUMBER_WORDS_RE})\\b)*`,
  "gi",
);

/** Rewrites numbers written in words into digits (see {@linkcode wordNumberAt}). */
function wordNumbers(text: string): string {
  if (!NUMBER_WORD.test(text)) return text;
  return text.replace(NUMBER_RUN, (run) => {
    if (!NUMBER_WORD.test(run)) return run;
    const t: Tok[] = [...run.matchAll(/\d+(?:\.\d+)?|[A-Za-z]+/g)].map((m) => ({ lo: m[0].toLowerCase(), a: m.index, b: m.index + m[0].length }));
    let out = "", pos = 0;
    for (let i = 0; i < t.length; i++) {
      const r = wordNumberAt(run, t, i);
      if (!r) continue;
      out += `${run.slice(pos, t[i].a)}${r.value}`;
      pos = t[i + r.len - 1].b;
      i += r.len - 1;
    }
    return out + run.slice(pos);
  });
}

/**
 * Rewrites numbers written for people into plain digits, so a number is one token: "20,000" → "20000",
 * "twenty-five thousand" → "25000", "a dozen" → "12", "half a million" → "500000", "20k" → "20000",
 * "1.5k" → "1500", "$1.2M" → "$1200000", and a decimal "12.5" → "12p5" (the tokeniser splits on "."; `decimalToken`
 * reads it back).
 */
export function plainNumbers(text: string): string {
  const scaled = (n: string, s: number) => String(Math.round(Number(n) * s));
  return wordNumbers(
    text
      .replace(/≥|>=/g, " at least ").replace(/≤|<=/g, " at most ").replace(/(?<![-=])>(?=\s*\d)/g, " more than ").replace(/<(?=\s*\d)/g, " less than ")
      .replace(/(?<![\d.,])(\d{1,3}(?:,\d{3})+)(?![\d,])/g, (m) => m.replaceAll(",", "")),
  )
    .replace(/(?<![\w.])(\d+(?:\.\d+)?)\s?k\b/gi, (_, n) => scaled(n, 1e3))
    .replace(/(?<![\w.])(\d+(?:\.\d+)?)(?:m|mm|mn)\b/gi, (_, n) => scaled(n, 1e6))
    .replace(/(?<![\w.])(\d+(?:\.\d+)?)(?:bn|B)\b/g, (_, n) => scaled(n, 1e9))
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
