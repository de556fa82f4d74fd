/**
 * The generic pretraining corpus: questions in several generic-English paraphrase patterns, generated from
 * schema metadata alone (relation and column names, column roles, a few category values), each paired with its
 * gold plan. Nothing here names a particular schema.
 * @module
 */
import { type Period, periodPhrase, prng, words } from "./_text.ts";
import type { Agg, Plan, Sketch } from "./parser.ts";
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

const phrase = (name: string) => words(name).join(" ");

/** Generates question/plan pairs for every relation of `meta`. Deterministic for a seed. */
export function generateCorpus(meta: SchemaMeta, options: CorpusOptions = {}): Example[] {
  const rand = prng(options.seed ?? 0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const out: Example[] = [];
  for (const rel of meta.relations) {
    const measures = rel.columns.filter((c) => c.role === "measure");
    const dates = rel.columns.filter((c) => c.role === "date");
    const cats = rel.columns.filter((c) => c.role === "category" && c.values?.length);
    const sketches: Sketch[] = ["count", "list"];
    if (measures.length) sketches.push("agg", "agg");
    if (cats.length) sketches.push("topn");
    if (dates.length) sketches.push("compare");
    const R = phrase(rel.name);
    for (let k = 0; k < (options.perRelation ?? 60); k++) {
      const sketch = pick(sketches);
      const ex = generateOne(rel, sketch, R, measures, dates, cats, rand, pick);
      if (ex) out.push(ex);
    }
  }
  return out;
}

function generateOne(
  rel: RelationMeta,
  sketch: Sketch,
  R: string,
  measures: ColumnMeta[],
  dates: ColumnMeta[],
  cats: ColumnMeta[],
  rand: () => number,
  pick: <T>(xs: readonly T[]) => T,
): Example | undefined {
  // time: a period, optionally naming its date column
  let T = "";
  let dateCol: string | undefined;
  const period = (): Period =>
    rand() < 0.75
      ? { kind: "relative", unit: pick(["month", "quarter", "year"] as const), offset: pick([0, 0, 1, 1, 2]) }
      : rand() < 0.6 ? { kind: "days", days: pick([7, 30, 90]) } : { kind: "year", year: pick([2023, 2024, 2025]) };
  const withTime = () => {
    if (!dates.length || rand() < 0.5) return;
    const named = dates.length > 1 && rand() < 0.6 ? pick(dates) : undefined;
    dateCol = (named ?? dates[0]).name;
    const p = periodPhrase(period(), rand);
    T = named ? ` with ${phrase(named.name)} ${p}` : ` ${p}`;
  };
  // filter: a category value
  let filter: { col: string; val: string } | undefined;
  let C = "", V = "";
  const withFilter = (p = 0.4) => {
    if (!cats.length || rand() >= p) return;
    const c = pick(cats);
    filter = { col: c.name, val: pick(c.values!) };
    C = phrase(c.name);
    V = filter.val;
  };
  const F = () => filter ? pick([` where ${C} is ${V}`, ` with ${C} ${V}`, ` whose ${C} is ${V}`]) : "";
  switch (sketch) {
    case "count": {
      withTime();
      withFilter();
      const q = filter
        ? pick([`How many ${R} have ${C} ${V}${T}?`, `Count the ${R} where ${C} is ${V}${T}.`, `How many ${V} ${R} are there${T}?`, `Number of ${R}${F()}${T}`])
        : pick([`How many ${R} are there${T}?`, `Count the ${R}${T}.`, `What is the number of ${R}${T}?`, `Number of ${R}${T}`, `How many ${R} do we have${T}?`]);
      return { question: q, plan: { sketch, rel: rel.name, filter, dateCol } };
    }
    case "agg": {
      const agg = pick(["sum", "sum", "avg", "min", "max"] as const);
      const m = pick(measures);
      const A = pick(AGG_WORDS[agg]), M = phrase(m.name);
      withTime();
      withFilter();
      const q = pick([
        `What is the ${A} ${M} of ${R}${F()}${T}?`,
        `${A[0].toUpperCase()}${A.slice(1)} ${M} across ${R}${F()}${T}`,
        `Give me the ${A} ${M} for ${R}${F()}${T}.`,
        `What was the ${A} ${M} of the ${R}${F()}${T}?`,
      ]);
      return { question: q, plan: { sketch, rel: rel.name, agg, measure: m.name, filter, dateCol } };
    }
    case "topn": {
      const d = pick(cats);
      const D = phrase(d.name);
      const n = pick([3, 5, 10, 2]);
      const N = rand() < 0.7 ? String(n) : ["", "", "two", "three", "", "five", "", "", "", "", "ten"][n];
      withTime();
      if (rand() < 0.35) {
        const q = pick([`Top ${N} ${D} of ${R} by number of ${R}${T}`, `Which top ${N} ${D} have the most ${R}${T}?`, `List the top ${N} ${D} by count of ${R}${T}`]);
        return { question: q, plan: { sketch, rel: rel.name, agg: "count", dim: d.name, dateCol } };
      }
      if (!measures.length) return undefined;
      const m = pick(measures), M = phrase(m.name);
      const agg = pick(["sum", "sum", "avg"] as const);
      const A = agg === "sum" ? pick(["total", "sum of"]) : pick(AGG_WORDS.avg);
      const q = pick([
        `Top ${N} ${D} of ${R} by ${A} ${M}${T}`,
        `Which top ${N} ${D} have the highest ${A} ${M} in ${R}${T}?`,
        `List the top ${N} ${D} by ${A} ${M} for ${R}${T}`,
      ]);
      return { question: q, plan: { sketch, rel: rel.name, agg, measure: m.name, dim: d.name, dateCol } };
    }
    case "list": {
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
      const off = pick([0, 0, 1]);
      const P1 = periodPhrase({ kind: "relative", unit, offset: off }, rand);
      const P2 = periodPhrase({ kind: "relative", unit, offset: off + 1 }, rand);
      const by = named ? ` by ${phrase(named.name)}` : "";
      withFilter(0.25);
      const useCount = !measures.length || rand() < 0.3;
      if (useCount) {
        const q = pick([`Compare the number of ${R}${F()}${by} ${P1} with ${P2}`, `How did the number of ${R}${F()} change from ${P2} to ${P1}${by}?`]);
        return { question: q, plan: { sketch, rel: rel.name, agg: "count", filter, dateCol } };
      }
      const m = pick(measures), M = phrase(m.name);
      const q = pick([
        `Compare the total ${M} of ${R}${F()}${by} ${P1} with ${P2}`,
        `How did the total ${M} of ${R}${F()} change from ${P2} to ${P1}${by}?`,
        `Total ${M} of ${R}${F()}${by}: ${P1} versus ${P2}`,
      ]);
      return { question: q, plan: { sketch, rel: rel.name, agg: "sum", measure: m.name, filter, dateCol } };
    }
  }
}
