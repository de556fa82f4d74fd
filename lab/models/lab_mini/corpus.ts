/**
 * The generic pretraining corpus: questions in several generic-English paraphrase patterns, generated from
 * schema metadata alone (relation and column names, column roles, a few category values), each paired with its
 * gold plan. Nothing here names a particular schema.
 * @module
 */
import { type Comparison, type Period, periodPhrase, prng, words } from "./_text.ts";
import { type Agg, descriptionLead, dimColumns, dimKey, type Filter, FUNCTION_WORDS, type Plan, type Sketch, valueWords } from "./parser.ts";
import type { ColumnMeta, RelationMeta, SchemaMeta } from "./schema_meta.ts";

/** One generated example. */
export interface Example {
  question: string;
  plan: Omit<Plan, "periods" | "n">;
}

/** Options for {@linkcode generateCorpus}. */
export interface CorpusOptions {
  /** @default 0 */
  seed?: number;
  /** Examples per relation. @default 60 */
  perRelation?: number;
}

const AGG_WORDS: Record<Exclude<Agg, "count">, string[]> = {
  sum: ["total", "sum of the", "overall"],
  avg: ["average", "mean"],
  min: ["minimum", "lowest", "smallest"],
  max: ["maximum", "highest", "largest"],
};

// A leading one-letter word of a name is a naming convention ("v_…", "t_…"), not something people say.
const phrase = (name: string) => words(name).filter((w, i, all) => !(i === 0 && w.length === 1 && all.length > 1)).join(" ");

/** What a dimension's rows are called: "owner_name" → "owners", "name" of `things` → "things". */
function entityPhrase(dim: ColumnMeta, R: string): string {
  const w = words(dim.name);
  if (w.length > 1 && w.at(-1) === "name") return `${w.slice(0, -1).join(" ")}s`;
  if (w.length === 1 && w[0] === "name") return R;
  return phrase(dim.name);
}

/**
 * Another name for a relation or column, taken from its description's naming clause (`descriptionLead`): its
 * leading run of content words, at most `maxWords` ("Drivers the company employs." → "drivers"; "Litres of fuel bought" → "litres"). Undefined without a
 * description, or when it adds no word to the name.
 */
export function descriptionPhrase(x: RelationMeta | ColumnMeta, maxWords = 2): string | undefined {
  const lead = x.comment ? descriptionLead(x.comment) : undefined;
  if (!lead) return undefined;
  const all = words(lead);
  let i = 0;
  while (i < all.length && FUNCTION_WORDS.has(all[i])) i++;
  const out: string[] = [];
  while (i < all.length && out.length < maxWords && !FUNCTION_WORDS.has(all[i]) && !/^\d/.test(all[i])) out.push(all[i++]);
  while (out.length && FUNCTION_WORDS.has(out[0])) out.shift();
  if (!out.length) return undefined;
  const name = new Set(words(x.name));
  return out.every((w) => name.has(w) || name.has(w.replace(/e?s$/, ""))) ? undefined : out.join(" ");
}

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT)$/i;

/** Generates question/plan pairs for every relation of `meta`. Deterministic for a seed. */
export function generateCorpus(meta: SchemaMeta, options: CorpusOptions = {}): Example[] {
  const rand = prng(options.seed ?? 0);
  // synonyms from descriptions draw from their own stream: the other choices stay those of the same seed without them
  const syn = prng((options.seed ?? 0) ^ 0x5a17);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const out: Example[] = [];
  for (const rel of meta.relations) {
    const measures = rel.columns.filter((c) => c.role === "measure");
    const dates = rel.columns.filter((c) => c.role === "date");
    const cats = rel.columns.filter((c) => c.role === "category" && c.values?.length);
    const sketches: Sketch[] = ["count", "list"];
    if (measures.length) sketches.push("agg", "agg");
    if (dimColumns(rel).length) sketches.push("topn");
    if (dates.length) sketches.push("compare");
    const R0 = phrase(rel.name);
    // what the description calls the rows (a synonym the schema itself gives): a quarter of the questions use it
    const RD = descriptionPhrase(rel);
    for (let k = 0; k < (options.perRelation ?? 60); k++) {
      const sketch = pick(sketches);
      const R = RD && syn() < 0.25 ? RD : R0;
      const ex = generateOne({ rel, sketch, R, measures, dates, cats, rand, pick, syn });
      if (ex) out.push(ex);
    }
  }
  return out;
}

interface Ctx {
  rel: RelationMeta;
  sketch: Sketch;
  R: string;
  measures: ColumnMeta[];
  dates: ColumnMeta[];
  cats: ColumnMeta[];
  rand: () => number;
  pick: <T>(xs: readonly T[]) => T;
  /** The stream of synonym choices. */
  syn: () => number;
}

function generateOne({ rel, sketch, R, measures, dates, cats, rand, pick, syn }: Ctx): Example | undefined {
  // a column by its name, or (a quarter of the time) by its description's words
  const colPhrase = (c: ColumnMeta) => {
    const d = descriptionPhrase(c);
    return d && syn() < 0.25 ? d : phrase(c.name);
  };
  // time: a period, optionally naming its date column
  let T = "";
  let dateCol: string | undefined;
  const period = (): Period =>
    rand() < 0.75
      ? { kind: "relative", unit: pick(["month", "quarter", "year"] as const), offset: pick([0, 0, 1, 1, 2, 3, 6, 12]) }
      : rand() < 0.6 ? { kind: "days", days: pick([7, 30, 90]) } : { kind: "year", year: pick([2023, 2024, 2025]) };
  const withTime = () => {
    if (!dates.length || rand() < 0.5) return;
    const named = dates.length > 1 && rand() < 0.6 ? pick(dates) : undefined;
    dateCol = (named ?? dates[0]).name;
    let p = period();
    // "the same month last year" only exists for months and quarters
    if (p.kind === "relative" && p.offset === 12 && p.unit !== "month") p = { ...p, offset: 1 };
    const P = periodPhrase(p, rand);
    T = named ? ` with ${phrase(named.name)} ${P}` : ` ${P}`;
  };
  // filter: one category value, several (IN), or values left out (NOT IN / <>)
  let filter: Filter | undefined;
  let C = "", V = "";
  const withFilter = (p = 0.4) => {
    if (!cats.length || rand() >= p) return;
    const c = pick(cats);
    filter = { col: c.name, val: pick(c.values!) };
    C = phrase(c.name);
    V = valueWords(c, filter.val).join(" ") || filter.val;
  };
  const F = () => filter ? pick([` where ${C} is ${V}`, ` with ${C} ${V}`, ` whose ${C} is ${V}`]) : "";
  // several values of one column: "that are open or pending", "excluding returned and cancelled ones"
  const multi = (): { text: string; filter: Filter } | undefined => {
    const c = cats.filter((x) => (x.values?.length ?? 0) >= 3 && x.values!.every((v) => /[a-z]/i.test(v)));
    if (!c.length) return undefined;
    const col = pick(c);
    const vals = [...new Set([pick(col.values!), pick(col.values!), pick(col.values!)])].sort();
    const neg = rand() < 0.45;
    if (vals.length === 1) {
      return neg
        ? { text: pick([` other than ${vals[0]}`, ` that are not ${vals[0]}`, ` excluding ${vals[0]} ones`]), filter: { col: col.name, val: vals[0], neg: true } }
        : undefined;
    }
    const list = `${vals.slice(0, -1).join(", ")} ${neg ? "and" : "or"} ${vals.at(-1)}`;
    const text = neg
      ? pick([` excluding ${list} ones`, ` (leave out ${list})`, ` that are not ${list}`, ` other than ${list}`, ` with no ${vals.join(", no ")}`])
      : pick([` that are ${list}`, ` with ${phrase(col.name)} ${list}`, ` whose ${phrase(col.name)} is ${list}`]);
    return { text, filter: { col: col.name, val: vals[0], vals, ...(neg ? { neg: true } : {}) } };
  };
  // a numeric comparison on a measure
  const comparison = (): { text: string; cmp: NonNullable<Plan["cmp"]> } | undefined => {
    if (!measures.length) return undefined;
    const m = pick(measures), M = colPhrase(m);
    const value = pick([5, 10, 50, 100, 500, 1000, 5000, 20000, 25000]);
    const N = value >= 1000 && rand() < 0.3 ? `${value / 1000}k` : value >= 1000 && rand() < 0.5 ? value.toLocaleString("en-US") : String(value);
    const [op, text] = pick<[Comparison["op"], string]>([
      [">=", ` with ${M} of ${N} or more`],
      [">=", ` whose ${M} is at least ${N}`],
      [">=", ` with a ${M} of ${N} or higher`],
      [">", ` with ${M} above ${N}`],
      [">", ` with ${M} over ${N}`],
      [">", ` whose ${M} is more than ${N}`],
      ["<", ` with ${M} below ${N}`],
      ["<", ` whose ${M} is less than ${N}`],
      ["<=", ` with ${M} of ${N} or less`],
    ]);
    return { text, cmp: { col: m.name, op, value } };
  };
  switch (sketch) {
    case "count": {
      withTime();
      const r = rand();
      if (r < 0.2) {
        const mf = multi();
        if (mf) {
          const q = pick([`How many ${R} are there${T}${mf.text}?`, `Count the ${R}${T}${mf.text}.`, `Number of ${R}${mf.text}${T}`, `How many ${R}${mf.text} do we have${T}?`]);
          return { question: q, plan: { sketch, rel: rel.name, filter: mf.filter, dateCol } };
        }
      }
      if (r >= 0.2 && r < 0.35) {
        const c = comparison();
        if (c) {
          withFilter(0.3);
          const q = pick([`How many ${R}${F()} have${c.text.replace(/^ with /, " ")}${T}?`, `Count the ${R}${F()}${c.text}${T}.`, `Number of ${R}${c.text}${F()}${T}`]);
          return { question: q, plan: { sketch, rel: rel.name, filter, cmp: c.cmp, dateCol } };
        }
      }
      withFilter();
      const q = filter
        ? pick([`How many ${R} have ${C} ${V}${T}?`, `Count the ${R} where ${C} is ${V}${T}.`, `How many ${V} ${R} are there${T}?`, `Number of ${R}${F()}${T}`])
        : pick([`How many ${R} are there${T}?`, `Count the ${R}${T}.`, `What is the number of ${R}${T}?`, `Number of ${R}${T}`, `How many ${R} do we have${T}?`, `How many ${R}${T}?`, `Count of ${R}${T}`]);
      return { question: q, plan: { sketch, rel: rel.name, filter, dateCol } };
    }
    case "agg": {
      const agg = pick(["sum", "sum", "avg", "min", "max"] as const);
      const m = pick(measures);
      const A = pick(AGG_WORDS[agg]), M = colPhrase(m);
      withTime();
      const r = rand();
      if (r < 0.15) {
        const mf = multi();
        if (mf) {
          const q = pick([`What is the total ${M} of ${R}${mf.text}${T}?`, `Total ${M} of the ${R}${mf.text}${T}`]);
          return { question: q, plan: { sketch, rel: rel.name, agg: "sum", measure: m.name, filter: mf.filter, dateCol } };
        }
      }
      withFilter();
      // "how many <units>": the total of a count-like measure
      if (r >= 0.15 && r < 0.3 && INTEGER.test(m.type)) {
        const q = pick([`How many ${M} are there in ${R}${F()}${T}?`, `How many ${M} do we have${F()}${T}?`, `Total number of ${M} in ${R}${F()}${T}`, `How many ${M} altogether${F()}${T}?`]);
        return { question: q, plan: { sketch, rel: rel.name, agg: "sum", measure: m.name, filter, dateCol } };
      }
      // the relation left unsaid: the column names it
      if (r >= 0.3 && r < 0.45) {
        const q = pick([`What was the ${A} ${M}${F()}${T}?`, `${A[0].toUpperCase()}${A.slice(1)} ${M}${F()}${T}`, `Give me the ${A} ${M}${F()}${T} as one number.`]);
        return { question: q, plan: { sketch, rel: rel.name, agg, measure: m.name, filter, dateCol } };
      }
      const q = pick([
        `What is the ${A} ${M} of ${R}${F()}${T}?`,
        `${A[0].toUpperCase()}${A.slice(1)} ${M} across ${R}${F()}${T}`,
        `Give me the ${A} ${M} for ${R}${F()}${T}.`,
        `What was the ${A} ${M} of the ${R}${F()}${T}?`,
      ]);
      return { question: q, plan: { sketch, rel: rel.name, agg, measure: m.name, filter, dateCol } };
    }
    case "topn": {
      const d = pick(dimColumns(rel));
      const D = phrase(d.name), E = entityPhrase(d, R);
      const key = dimKey(rel, d.name);
      const n = pick([3, 5, 10, 2]);
      const N = rand() < 0.7 ? String(n) : ["", "", "two", "three", "", "five", "", "", "", "", "ten"][n];
      withTime();
      if (rand() < 0.3) {
        const q = pick([`Top ${N} ${D} of ${R} by number of ${R}${T}`, `Which top ${N} ${D} have the most ${R}${T}?`, `List the top ${N} ${D} by count of ${R}${T}`]);
        return { question: q, plan: { sketch, rel: rel.name, agg: "count", dim: d.name, key, dateCol } };
      }
      if (!measures.length) return undefined;
      const m = pick(measures), M = colPhrase(m);
      const agg = pick(["sum", "sum", "avg"] as const);
      const A = agg === "sum" ? pick(["total", "sum of"]) : pick(AGG_WORDS.avg);
      const q = pick([
        `Top ${N} ${D} of ${R} by ${A} ${M}${T}`,
        `Which top ${N} ${D} have the highest ${A} ${M} in ${R}${T}?`,
        `List the top ${N} ${D} by ${A} ${M} for ${R}${T}`,
        `Show the ${N} ${E} with the highest ${A} ${M}${T}, highest first`,
        `Which ${N} ${E} had the most ${M}${T}?`,
        `Rank the ${E} by ${A} ${M}${T} and show the top ${N}`,
      ]);
      return { question: q, plan: { sketch, rel: rel.name, agg, measure: m.name, dim: d.name, key, dateCol } };
    }
    case "list": {
      const r = rand();
      if (r < 0.25) {
        const c = comparison();
        if (c) {
          withFilter(0.5);
          withTime();
          const q = pick([`List the ${R}${F()}${c.text}${T}.`, `Show the ${R}${c.text}${F()}${T}`, `Which ${R}${F()} have${c.text.replace(/^ with /, " ")}${T}?`, `List each of the ${R}${F()}${c.text}${T}`]);
          return { question: q, plan: { sketch, rel: rel.name, filter, cmp: c.cmp, dateCol } };
        }
      }
      if (r >= 0.25 && r < 0.35) {
        const mf = multi();
        if (mf) {
          withTime();
          const q = pick([`List the ${R}${mf.text}${T}.`, `Show all ${R}${mf.text}${T}`]);
          return { question: q, plan: { sketch, rel: rel.name, filter: mf.filter, dateCol } };
        }
      }
      withFilter(1);
      withTime();
      if (!filter) {
        const q = pick([`List the ${R}${T}.`, `Show all ${R}${T}`, `Show me the ${R}${T}`]);
        return { question: q, plan: { sketch, rel: rel.name, dateCol } };
      }
      const q = pick([`List the ${R} where ${C} is ${V}${T}.`, `Show the ${R} with ${C} ${V}${T}`, `Which ${R} have ${C} equal to ${V}${T}?`, `Show all ${V} ${R}${T}`]);
      return { question: q, plan: { sketch, rel: rel.name, filter, dateCol } };
    }
    case "compare": {
      const named = dates.length > 1 && rand() < 0.6 ? pick(dates) : undefined;
      dateCol = (named ?? dates[0]).name;
      const unit = pick(["month", "quarter", "year"] as const);
      const off = pick([0, 0, 1, 2]);
      const P1 = periodPhrase({ kind: "relative", unit, offset: off }, rand);
      const P2 = periodPhrase({ kind: "relative", unit, offset: off + 1 }, rand);
      const by = named ? ` by ${phrase(named.name)}` : "";
      withFilter(0.25);
      const useCount = !measures.length || rand() < 0.3;
      // one period and "the month before it": the comparison is with the period just before
      const before = pick([`the ${unit} before`, `the ${unit} before it`, `the ${unit} right before`, `the ${unit} immediately before`]);
      if (useCount) {
        const q = pick([
          `Compare the number of ${R}${F()}${by} ${P1} with ${P2}`,
          `How did the number of ${R}${F()} change from ${P2} to ${P1}${by}?`,
          `Number of ${R}${F()}${by} ${P1} compared with ${before}`,
        ]);
        return { question: q, plan: { sketch, rel: rel.name, agg: "count", filter, dateCol } };
      }
      const m = pick(measures), M = colPhrase(m);
      const q = pick([
        `Compare the total ${M} of ${R}${F()}${by} ${P1} with ${P2}`,
        `How did the total ${M} of ${R}${F()} change from ${P2} to ${P1}${by}?`,
        `Total ${M} of ${R}${F()}${by}: ${P1} versus ${P2}`,
        `${M[0].toUpperCase()}${M.slice(1)}${F()} ${P1} compared with ${before}: current, previous and change`,
        `How did ${M}${F()} ${P1} compare with ${before}?`,
        `${unit[0].toUpperCase()}${unit.slice(1)}-over-${unit} ${M}${F()}: ${P1} and ${before}`,
        `Compare ${M}${F()} ${P1} with ${P2}`,
      ]);
      return { question: q, plan: { sketch, rel: rel.name, agg: "sum", measure: m.name, filter, dateCol } };
    }
  }
}
