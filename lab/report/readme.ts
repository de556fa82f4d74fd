/**
 * The README's figures, generated from committed results: every figure README.md quotes sits between
 * `<!-- figures:begin NAME … -->` and `<!-- figures:end NAME -->` markers, and the text between them is what
 * {@linkcode readmeFiguresFrom} writes from the results files below (each written by the command it names). A test
 * (lab/e2e/readme_figures.test.ts) regenerates the blocks and checks that the README equals them.
 *
 * ```sh
 * deno run -A lab/report/readme.ts           # rewrite README.md's figures blocks from the committed results
 * deno run -A lab/report/readme.ts --check   # exit 1 when README.md differs from them
 * ```
 * @module
 */
import { ConfigError, displayPath, repoPath, writeTextAtomic } from "../util/mod.ts";
import { readJsonFile } from "./_common.ts";

/** The committed results files the README's figures come from, relative to the repository. */
export const README_FIGURE_SOURCES = {
  labmini: "lab/evals/labmini_results.json",
  evals: "lab/evals/evals_results.json",
  selfImprove: "lab/evals/self_improve_results.json",
} as const;

/** A paired lift in rate units with its 95 % interval (null bounds: too few families). */
export interface ReadmeLift {
  /** The arm compared with the control. */
  arm: string;
  /** A level, or `"all"`. */
  level: number | "all";
  /** The lift, in rate units. */
  estimate: number;
  /** Lower bound of the 95 % interval, or null. */
  lo: number | null;
  /** Upper bound of the 95 % interval, or null. */
  hi: number | null;
  /** Paired (instance, seed) cases. */
  pairs: number;
  /** Families (clusters). */
  clusters: number;
}

/** What the figures read of `lab experiment labmini --out`'s JSON. */
export interface LabMiniResults {
  /** `lab-labmini-results/1`. */
  format: string;
  /** The command that wrote it. */
  command: string;
  /** The day it was written (YYYY-MM-DD). */
  date: string;
  /** The run's seeds and copy threshold. */
  settings: { seeds: number[]; copyThreshold: number | null };
  /**
   * Per split, the lifts and checks pooled over seeds, and (on dev and test_id, in results written since issue 18)
   * the train reference: base held-out − train templates of the same families, and new − previous weights on train.
   */
  pooled: {
    split: string;
    lifts: ReadmeLift[];
    checks: { check: string; target: string; measured: string; pass: boolean | null }[];
    reference?: {
      transfer: { level: number | "all"; estimate: number; lo: number | null; hi: number | null; families: number; splitMean: number; trainMean: number }[];
      regression: ReadmeLift[];
    } | null;
  }[];
  /** The base arm's passes by split, wording origin and level, pooled over seeds. */
  wording: { split: string; arm: string; origin: string; level: number; passes: number; episodes: number }[];
}

/** What the figures read of lab/evals/evals_results.json (the four-arm suites). */
export interface EvalsResults {
  /** The file's format tag. */
  format: string;
  /** The day it was written. */
  date: string;
  /** The outcome table: per split and arm, the lift over base. */
  outcome: {
    rows: {
      split: string;
      arm: string;
      episodes: number;
      families: number;
      vsBase: { pairs: number; families: number; accuracyPoints: { estimate: number; lo: number | null; hi: number | null } } | null;
    }[];
  };
  /** How many of a context arm's episodes were given an example, and used one. */
  coverage: { split: string; arm: string; episodes: number; withExamples: number; used: number }[];
}

/** What the figures read of lab/evals/self_improve_results.json. */
export interface SelfImproveResults {
  /** The command that wrote it. */
  command: string;
  /** The day it was written. */
  date: string;
  /** Each round's evaluation per split, with its lift over base. */
  rounds: { eval: Record<string, { vsBase: ReadmeLift }> }[];
  /** Per split, every arm's lifts (the oracle-distilled upper bound among them). */
  comparisons: Record<string, { lifts: ReadmeLift[] }>;
}

/** The results the README's figures are generated from. */
export interface ReadmeResults {
  /** `lab experiment labmini --out`'s JSON. */
  labmini: LabMiniResults;
  /** The four-arm suites' JSON. */
  evals: EvalsResults;
  /** `lab experiment self-improve --out`'s JSON. */
  selfImprove: SelfImproveResults;
}

const pts = (x: number) => `${x >= 0 ? "+" : "−"}${(100 * Math.abs(x)).toFixed(1)}`;
const pctOf = (passes: number, n: number) => `${(100 * passes / n).toFixed(1)} %`;

/** A lift as "+22.6 [+12.2, +33.1]", or "+0.0 (no interval: 6 families)". */
function lift(l: { estimate: number; lo: number | null; hi: number | null; clusters?: number; families?: number }): string {
  return l.lo === null || l.hi === null
    ? `${pts(l.estimate)} (no interval: ${l.clusters ?? l.families} families)`
    : `${pts(l.estimate)} [${pts(l.lo)}, ${pts(l.hi)}]`;
}

/** Whether a lift's 95 % interval lies above zero, below it, or includes it — in words. */
function judged(l: { lo: number | null; hi: number | null }): string {
  if (l.lo === null || l.hi === null) return "no interval";
  return l.lo > 0 ? "above zero" : l.hi < 0 ? "below zero" : "its interval includes zero";
}

function pooledLift(r: LabMiniResults, split: string, arm: string): ReadmeLift {
  const l = r.pooled.find((p) => p.split === split)?.lifts.find((x) => x.arm === arm && x.level === "all");
  if (!l) throw new ConfigError(`${README_FIGURE_SOURCES.labmini}: no pooled '${arm}' lift on ${split}; re-run the command it names`);
  return l;
}

/** The honesty experiment's figures (lab/evals/labmini_results.json). */
function labMiniFigures(r: LabMiniResults): string {
  const dev = (arm: string) => pooledLift(r, "dev", arm);
  const tid = (arm: string) => pooledLift(r, "test_id", arm);
  const controls = ["icl_unrelated", "ft_shuffled", "ft_unrelated"].map(dev);
  const checks = r.pooled.flatMap((p) => p.checks.filter((c) => c.pass !== null).map((c) => ({ ...c, split: p.split })));
  const passed = checks.filter((c) => c.pass).length;
  const failed = checks.filter((c) => !c.pass).map((c) => `${c.check} on ${c.split}: ${c.measured}, target ${c.target}`);
  // Base success by wording origin, pooled over every evaluated split and seed.
  const base = r.wording.filter((w) => w.arm === "base");
  const sum = (origin: string, level?: number) => {
    const rows = base.filter((w) => w.origin === origin && (level === undefined || w.level === level));
    return { passes: rows.reduce((s, w) => s + w.passes, 0), n: rows.reduce((s, w) => s + w.episodes, 0) };
  };
  const levels = [...new Set(base.map((w) => w.level))].sort();
  const gaps = levels.map((level) => ({ level, o: sum("original", level), i: sum("independent", level) })).filter((g) => g.o.n && g.i.n);
  const widest = gaps.reduce((a, b) => (b.o.passes / b.o.n - b.i.passes / b.i.n > a.o.passes / a.o.n - a.i.passes / a.i.n ? b : a));
  const o = sum("original");
  const i = sum("independent");
  const splits = [...new Set(base.map((w) => w.split))];
  return [
    `Current figures (lab-mini results, not claims about LLMs; \`${README_FIGURE_SOURCES.labmini}\` and`,
    `\`lab/evals/LABMINI_RESULTS.md\`, written on ${r.date} by \`${r.command}\`, whose defaults include lab-mini's`,
    `copy threshold ${r.settings.copyThreshold}, chosen on dev): pooled over seeds ${r.settings.seeds.join(", ")}, 95 % intervals clustered by family`,
    `over dev's ${dev("icl_same").clusters} families, in-context examples of the same families ${lift(dev("icl_same"))} points, fine-tuned`,
    `${lift(dev("ft"))}, controls (unrelated examples, shuffled answers, unrelated families)`,
    `${controls.map((c) => pts(c.estimate)).join(", ")}, forgetting ${pts(dev("ft_forget").estimate)}; test_id (${tid("icl_same").clusters} families) ${lift(tid("icl_same"))} and`,
    `${lift(tid("ft"))}; ${passed === checks.length ? `all ${checks.length}` : `${passed} of the ${checks.length}`} checks against their targets pass${failed.length ? ` (not: ${failed.join("; ")})` : ""}.`,
    `lab-mini's base parser leans on wording: pooled over ${splits.join(", ")} its base success is ${pctOf(o.passes, o.n)} (${o.passes}/${o.n})`,
    `on the catalog's original templates and ${pctOf(i.passes, i.n)} (${i.passes}/${i.n}) on the independently written ones (widest at`,
    `L${widest.level}: ${pctOf(widest.o.passes, widest.o.n)} vs ${pctOf(widest.i.passes, widest.i.n)}).`,
    ...transferFigures(r),
  ].join(" ");
}

/** The transfer and regression sentence (results written since issue 18 carry the train reference; older ones none). */
function transferFigures(r: LabMiniResults): string[] {
  const ref = r.pooled.find((p) => p.split === "test_id")?.reference;
  const t = ref?.transfer.find((x) => x.level === "all");
  if (!ref || !t) return [];
  const reg = ref.regression.find((l) => l.level === "all");
  return [
    `On test_id's held-out templates its base success is ${lift(t)} points from the train templates of the same ${t.families}`,
    `families (${(100 * t.splitMean).toFixed(1)} % vs ${(100 * t.trainMean).toFixed(1)} %, family means; target within ±5)` +
    (reg ? `, and ${lift(reg)} points on those train templates vs the previous base weights (target ≥ −2).` : "."),
  ];
}

/** The four-arm suites' and expert iteration's figures (lab/evals/evals_results.json, self_improve_results.json). */
function ownTournamentFigures(e: EvalsResults, s: SelfImproveResults): string {
  const row = (split: string, arm: string) => {
    const r = e.outcome.rows.find((x) => x.split === split && x.arm === arm);
    if (!r?.vsBase) throw new ConfigError(`${README_FIGURE_SOURCES.evals}: no '${arm}' row with a lift over base on ${split}`);
    return { ...r.vsBase.accuracyPoints, families: r.vsBase.families, pairs: r.vsBase.pairs };
  };
  const cov = (split: string) => e.coverage.find((c) => c.split === split && c.arm === "context");
  const ctx = ["dev", "test_id"].map((split) => ({ split, l: row(split, "context"), c: cov(split) }));
  const ft = ["dev", "test_id"].map((split) => ({ split, l: row(split, "finetuned") }));
  const last = s.rounds.at(-1)!;
  const headline = "test_id" in last.eval ? "test_id" : Object.keys(last.eval)[0];
  const r = last.eval[headline].vsBase;
  const oracle = s.comparisons[headline]?.lifts.find((l) => l.arm === "oracle" && l.level === "all");
  return [
    `In the four-arm suites (\`${README_FIGURE_SOURCES.evals}\` and \`lab/evals/EVALS_RESULTS.md\`, ${e.date}; commands listed there)`,
    `the context arm, fed by lab-mini's own train tournament through retrieval, lifts success over base by`,
    ctx.map(({ split, l, c }) =>
      `${lift(l)} points on ${split} (${l.pairs} pairs, ${l.families} families; ${judged(l)}; an example given in ${c?.withExamples ?? 0} of` +
      ` ${c?.episodes ?? 0} episodes, ${c?.used ?? 0} used)`
    ).join(" and ") + ",",
    `while the arm fine-tuned on the oracle's traces gains ${ft.map(({ split, l }) => `${lift(l)} on ${split}`).join(" and ")}.`,
    `Expert iteration on its own tournaments (\`${README_FIGURE_SOURCES.selfImprove}\` and`,
    `\`lab/evals/SELF_IMPROVE_RESULTS.md\`, written on ${s.date} by \`${s.command}\`) ends ${headline} after`,
    `${s.rounds.length} rounds at ${lift(r)} over base (${r.pairs} pairs, ${r.clusters} families; ${judged(r)})` +
    (oracle ? `, against an oracle-distilled upper bound of ${lift(oracle)} (${judged(oracle)}).` : "."),
  ].join(" ");
}

/** The README's figures blocks (name → Markdown text, unwrapped) generated from the results. */
export function readmeFiguresFrom(results: ReadmeResults): Record<string, string> {
  return { labmini: labMiniFigures(results.labmini), "own-tournament": ownTournamentFigures(results.evals, results.selfImprove) };
}

/** Reads the committed results files under `root` (one-line errors naming the file). */
export async function readReadmeResults(root: string = repoPath()): Promise<ReadmeResults> {
  const read = async <T>(rel: string, what: string, check: (x: Record<string, unknown>) => boolean): Promise<T> => {
    const path = `${root}/${rel}`;
    const raw = await readJsonFile(path, what) as Record<string, unknown> | null;
    if (!raw || typeof raw !== "object" || !check(raw)) throw new ConfigError(`${displayPath(path)}: not ${what}; re-run the command that writes it`);
    return raw as T;
  };
  return {
    labmini: await read(README_FIGURE_SOURCES.labmini, "the honesty experiment's results ('lab experiment labmini --out')", (x) => x.format === "lab-labmini-results/1" && Array.isArray(x.pooled)),
    evals: await read(README_FIGURE_SOURCES.evals, "the four-arm suites' results", (x) => typeof x.outcome === "object" && Array.isArray(x.coverage)),
    selfImprove: await read(README_FIGURE_SOURCES.selfImprove, "the self-improve experiment's results ('lab experiment self-improve --out')", (x) => Array.isArray(x.rounds) && typeof x.comparisons === "object"),
  };
}

/** Words of `text` in lines of at most `width` characters, each starting with `indent`. */
function wrap(text: string, indent: string, width = 118): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter(Boolean)) {
    // A word Markdown would read as a list marker, heading or quote at a line's start stays on the line before.
    const marker = /^([-+*]|\d+[.)]|#+|>)$/.test(word);
    if (line && !marker && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
}

/**
 * `readme` with the text between each block's markers replaced by its generated text, wrapped at the begin
 * marker's indentation. A block without both markers, or a marker without a block, is an error naming it.
 */
export function applyReadmeFigures(readme: string, blocks: Record<string, string>): string {
  const lines = readme.split("\n");
  const out: string[] = [];
  const seen = new Set<string>();
  for (let n = 0; n < lines.length; n++) {
    const begin = lines[n].match(/^(\s*)<!-- figures:begin ([\w-]+)\b.*-->\s*$/);
    out.push(lines[n]);
    if (!begin) continue;
    const [, indent, name] = begin;
    if (!(name in blocks)) throw new ConfigError(`README.md:${n + 1}: no generator for the figures block '${name}' (known: ${Object.keys(blocks).join(", ")})`);
    const end = lines.findIndex((l, k) => k > n && l.trim() === `<!-- figures:end ${name} -->`);
    if (end < 0) throw new ConfigError(`README.md:${n + 1}: the figures block '${name}' has no '<!-- figures:end ${name} -->' line`);
    out.push(...wrap(blocks[name], indent), lines[end]);
    seen.add(name);
    n = end;
  }
  const missing = Object.keys(blocks).filter((b) => !seen.has(b));
  if (missing.length) throw new ConfigError(`README.md: no figures block ${missing.map((m) => `'${m}'`).join(", ")} (add '<!-- figures:begin NAME -->' and '<!-- figures:end NAME -->' lines)`);
  return out.join("\n");
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const unknown = Deno.args.filter((a) => a !== "--check");
  if (unknown.length || Deno.args.includes("--help")) {
    console.error("usage: deno run -A lab/report/readme.ts [--check]   (rewrites README.md's figures blocks from committed results; --check only compares)");
    Deno.exit(unknown.length && !Deno.args.includes("--help") ? 2 : 0);
  }
  try {
    const path = repoPath("README.md");
    const readme = await Deno.readTextFile(path);
    const next = applyReadmeFigures(readme, readmeFiguresFrom(await readReadmeResults()));
    if (check) {
      if (next !== readme) {
        console.error("README.md's figures differ from the committed results: run 'deno run -A lab/report/readme.ts'");
        Deno.exit(1);
      }
      console.log("README.md's figures equal the committed results");
    } else if (next !== readme) {
      await writeTextAtomic(path, next);
      console.log("rewrote README.md's figures blocks");
    } else console.log("README.md's figures are up to date");
  } catch (e) {
    console.error((e as Error).message);
    Deno.exit(1);
  }
}
