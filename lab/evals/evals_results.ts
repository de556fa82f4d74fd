/**
 * The committed four-arm results of an eval suite (issue 15): seed 000's outcome table over its runs (one per split,
 * e.g. the `labmini` suite on `dev` and `test_id`), how much the context arms were actually given (the pattern
 * store behind them and the episodes that got an example), seed 001's A/B comparisons of the candidate arms against
 * the champion on the `dev` run's paired episodes, and a gate result; as JSON (what notebook 06 reads) and Markdown,
 * with a reading generated from the numbers ({@linkcode readEvalsResults}).
 *
 * ```sh
 * deno run -A lab/evals/evals_results.ts data/evals/labmini/dev.json data/evals/labmini/test_id.json \
 *   --store data/evals/patterns.duckdb --gate gate.json --ab data/evals/gate/latest.json --json lab/evals/evals_results.json --markdown lab/evals/EVALS_RESULTS.md
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { type AbOutcome, abOutcome, abReport } from "./ab.ts";
import type { EvalPins, EvalRun } from "./eval_run.ts";
import type { GateResult } from "./gate.ts";
import { formatOutcomeMarkdown, type OutcomeTable, outcomeTable, type RelativeChange } from "./outcome.ts";
import { readEvalRun } from "./shard.ts";
import type { SuiteEpisode } from "./suite.ts";
import { type Pattern, PatternStore } from "../patterns/mod.ts";
import { displayPath, writeTextAtomic } from "../util/mod.ts";

/** The format tag of {@linkcode EvalsResults}. */
export const EVALS_RESULTS_FORMAT = "lab-evals-results/1";

/** How much one context arm was given on one split. */
export interface ContextCoverage {
  /** The split. */
  split: string;
  /** The context arm. */
  arm: string;
  /** Its episodes on the split. */
  episodes: number;
  /** Families of the split. */
  families: number;
  /** Episodes given at least one example. */
  withExamples: number;
  /** Families of those episodes. */
  familiesWithExamples: string[];
  /** Episodes that used an injected example (a successful statement of it ran). */
  used: number;
  /** Episodes given an example that came from another template of the family (another phrasing). */
  otherTemplate: number;
}

/** The pattern store a context arm retrieved from, summarised. */
export interface PatternStoreSummary {
  /** The store file. */
  path: string;
  /** Patterns stored. */
  patterns: number;
  /** Train instances and families they came from. */
  instances: number;
  /** The families of the stored patterns. */
  families: string[];
  /** Patterns retrieval may return (passed, uncontaminated, not stale). */
  eligible: number;
  /** Instances those came from. */
  eligibleInstances: number;
  /** Their families. */
  eligibleFamilies: string[];
}

/** An A/B comparison of a candidate arm against a champion arm on a run's paired episodes (seed 001's scoring). */
export interface EvalsAb {
  /** The suite of the run. */
  suite: string;
  /** The split of the run. */
  split: string;
  /** The champion arm (A). */
  champion: string;
  /** The candidate arm (B). */
  candidate: string;
  /** The candidate's outcome per (challenge, seed), in the run's order: by score, then cost (`abOutcome`). */
  outcomes: AbOutcome[];
}

/** One run behind the results. */
export interface EvalsResultsRun {
  /** Its suite. */
  suite: string;
  /** Its split (every episode's). */
  split: string;
  /** When it finished. */
  createdAt: string;
  /** The commit it ran at. */
  commit: string | null;
  /** Its episodes. */
  episodes: number;
  /** What it was pinned to. */
  pins: EvalPins;
}

/** The committed results: what `lab/evals/evals_results.json` holds and notebook 06 reads. */
export interface EvalsResults {
  /** {@linkcode EVALS_RESULTS_FORMAT}. */
  format: typeof EVALS_RESULTS_FORMAT;
  /** The exact commands that made the runs and these results. */
  commands: string[];
  /** When the results were written. */
  date: string;
  /** The runs, one per split. */
  runs: EvalsResultsRun[];
  /** Seed 000's outcome table over the runs. */
  outcome: OutcomeTable;
  /** The context arms' coverage per split. */
  coverage: ContextCoverage[];
  /** The pattern store the context arms retrieved from, when given. */
  store: PatternStoreSummary | null;
  /** A/B comparisons on a `dev` run (champion: the base arm; candidates: the arms other than base and context). */
  ab: EvalsAb[];
  /** A gate result (`lab eval gate --json`), when given. */
  gate: GateResult | null;
}

const templateOf = (challengeId: string) => challengeId.split("/").slice(0, 2).join("/");

/** Summarises a pattern store: what it holds and what retrieval may return. */
export async function summarizePatternStore(store: PatternStore, path: string): Promise<PatternStoreSummary> {
  const all = await store.list({}, { limit: 1_000_000 });
  const eligible = await store.list({ turnPass: true, contaminated: false, stale: false }, { limit: 1_000_000 });
  const set = (ps: Pattern[], f: (p: Pattern) => string | null) => [...new Set(ps.map(f).filter((x): x is string => !!x))].sort();
  return {
    path,
    patterns: all.length,
    instances: set(all, (p) => p.challengeId).length,
    families: set(all, (p) => p.family),
    eligible: eligible.length,
    eligibleInstances: set(eligible, (p) => p.challengeId).length,
    eligibleFamilies: set(eligible, (p) => p.family),
  };
}

/**
 * The context arms' coverage per split: episodes given an example, their families, how many used one, and how many
 * were given an example from another template of the family (`exampleSource` maps an injected pattern id to the
 * instance it came from; without it, `otherTemplate` counts nothing).
 */
export function contextCoverage(
  episodes: readonly SuiteEpisode[],
  contextArms: readonly string[],
  exampleSource: ReadonlyMap<string, string> = new Map(),
): ContextCoverage[] {
  const out: ContextCoverage[] = [];
  for (const split of [...new Set(episodes.map((e) => e.split))]) {
    const here = episodes.filter((e) => e.split === split);
    for (const arm of contextArms) {
      const mine = here.filter((e) => e.arm === arm);
      if (!mine.length) continue;
      const given = mine.filter((e) => e.examples > 0);
      out.push({
        split,
        arm,
        episodes: mine.length,
        families: new Set(here.map((e) => e.family)).size,
        withExamples: given.length,
        familiesWithExamples: [...new Set(given.map((e) => e.family))].sort(),
        used: mine.filter((e) => e.used.length > 0).length,
        otherTemplate: given.filter((e) =>
          e.injected.some((id) => exampleSource.has(id) && templateOf(exampleSource.get(id)!) !== e.template)
        ).length,
      });
    }
  }
  return out;
}

/** The candidate's A/B outcomes against the champion on the (challenge, seed) pairs both ran, in the run's order. */
export function abOutcomes(episodes: readonly SuiteEpisode[], champion: string, candidate: string): AbOutcome[] {
  const key = (e: SuiteEpisode) => `${e.challengeId}\u0000${e.seed}`;
  const a = new Map(episodes.filter((e) => e.arm === champion).map((e) => [key(e), e]));
  return episodes.filter((e) => e.arm === candidate && a.has(key(e))).map((e) => abOutcome(a.get(key(e))!, e));
}

/** Options of {@linkcode buildEvalsResults}. */
export interface BuildEvalsResultsOptions {
  /** The exact commands that made the runs and the results. */
  commands: string[];
  /** The pattern store the context arms retrieved from (summarised, and the source of their examples). */
  store?: { store: PatternStore; path: string };
  /** A gate result to include. */
  gate?: GateResult;
  /**
   * The run the A/B comparisons come from (its `dev` episodes; champion: the base role, candidates: every other arm).
   * @default the given runs' `dev` episodes
   */
  abRun?: EvalRun;
  /** The outcome table's resamples. @default 2000 */
  resamples?: number;
}

/** Builds the results from whole runs, one per split (see the module notes). */
export async function buildEvalsResults(runs: readonly EvalRun[], options: BuildEvalsResultsOptions): Promise<EvalsResults> {
  const outcome = outcomeTable(runs, options.resamples ? { resamples: options.resamples } : {});
  const episodes = runs.flatMap((r) => r.episodes);
  const ctxArms = [outcome.roles.context, outcome.roles.finetunedContext];
  const ids = [...new Set(episodes.filter((e) => ctxArms.includes(e.arm)).flatMap((e) => e.injected))];
  const source = new Map<string, string>();
  if (options.store && ids.length) {
    for (const p of await options.store.store.list({ ids }, { limit: ids.length })) if (p.challengeId) source.set(p.id, p.challengeId);
  }
  const R = outcome.roles;
  const abSuite = options.abRun?.suite ?? runs.find((r) => r.episodes.some((e) => e.split === "dev"))?.suite ?? "";
  const dev = (options.abRun?.episodes ?? episodes).filter((e) => e.split === "dev");
  const candidates = [...new Set(dev.map((e) => e.arm))].filter((a) => a !== R.base && a !== R.context);
  const ab = candidates.map((candidate) => ({ suite: abSuite, split: "dev", champion: R.base, candidate, outcomes: abOutcomes(dev, R.base, candidate) }));
  return {
    format: EVALS_RESULTS_FORMAT,
    commands: options.commands,
    date: new Date().toISOString().slice(0, 10),
    runs: runs.map((r) => ({
      suite: r.suite,
      split: [...new Set(r.episodes.map((e) => e.split))].join(","),
      createdAt: r.createdAt,
      commit: r.commit,
      episodes: r.episodes.length,
      pins: r.pins,
    })),
    outcome,
    coverage: contextCoverage(episodes, ctxArms, source),
    store: options.store ? await summarizePatternStore(options.store.store, options.store.path) : null,
    ab,
    gate: options.gate ?? null,
  };
}

/** Rows for a chart of accuracy per arm and split with its 95 % interval (null bounds where a cell has none). */
export function outcomeChartRows(t: OutcomeTable): { split: string; arm: string; accuracy: number; lo: number | null; hi: number | null; episodes: number }[] {
  return t.rows.map((r) => ({ split: r.split, arm: r.arm, accuracy: r.accuracy.estimate, lo: r.accuracy.lo, hi: r.accuracy.hi, episodes: r.episodes }));
}

const pts = (x: number) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
const pc = (x: number) => `${(100 * x).toFixed(1)} %`;
const ci = (e: { estimate: number | null; lo: number | null; hi: number | null }, f: (x: number) => string) =>
  e.estimate === null ? "undefined" : e.lo === null || e.hi === null ? `${f(e.estimate)} (no interval)` : `${f(e.estimate)} [${f(e.lo)}, ${f(e.hi)}]`;
const rel = (c: RelativeChange) => ci(c, (x) => `${x >= 0 ? "+" : ""}${(100 * x).toFixed(1)} %`);
const list = (xs: readonly string[]) => xs.length ? xs.join(", ") : "none";

/**
 * A short reading of the results, generated from the numbers: the fine-tuned arm's lift per split, what the context
 * arms were given and what that means for their lift and the 2×2 interaction, seed 000's rule with its caveats, its
 * speed and token figures, the A/B and the gate. One paragraph per line.
 */
export function readEvalsResults(r: EvalsResults): string[] {
  const t = r.outcome;
  const R = t.roles;
  const out: string[] = [];
  const row = (split: string, arm: string) => t.rows.find((x) => x.split === split && x.arm === arm);
  for (const split of t.splits) {
    const ft = row(split, R.finetuned)?.vsBase, b = row(split, R.base);
    if (!ft || !b) continue;
    const a = ft.accuracyPoints;
    const credible = a.lo !== null && a.lo > 0;
    out.push(
      `On ${split}, the fine-tuned arm passes ${pc(row(split, R.finetuned)!.accuracy.estimate)} against the base's ${pc(b.accuracy.estimate)}: ` +
        `${ci(a, pts)} points over ${ft.families} families, ${credible ? "a credible lift (the interval excludes 0)" : "not a credible lift (the interval includes 0)"}.`,
    );
  }
  for (const c of r.coverage.filter((c) => c.arm === R.context)) {
    const lift = row(c.split, R.context)?.vsBase?.accuracyPoints;
    const share = c.withExamples / c.episodes;
    out.push(
      `On ${c.split}, the context arm was given an example in ${c.withExamples} of its ${c.episodes} episodes (${pc(share)}; ` +
        `${c.familiesWithExamples.length} of ${c.families} families: ${list(c.familiesWithExamples)}), ${c.otherTemplate} of them from another template of the family, ` +
        `and used one in ${c.used}; its lift over the base is ${lift ? ci(lift, pts) : "undefined"} points.` +
        (share < 0.25 && c.used === 0
          ? lift && lift.estimate !== 0
            ? ` No example was used as given, yet outcomes differ from the base's: an injected example still changes what the model does (read the episodes), and with so few examples this lift says nothing about in-context learning either way.`
            : ` With so few examples, none used, the context arm is the base arm in all but name: its lift says nothing about in-context learning.`
          : ""),
    );
  }
  if (r.store) {
    const s = r.store;
    out.push(
      `Why so few: the store the context arms retrieve from (${s.path}) holds ${s.patterns} patterns from ${s.instances} train instances of ${s.families.length} families, ` +
        `of which ${s.eligible} (from ${s.eligibleInstances} instances of ${s.eligibleFamilies.length} families: ${list(s.eligibleFamilies)}) are eligible (passed, uncontaminated, fresh). ` +
        `Retrieval returns examples of the task's own family only (its calibrated similarity cut-off), so only those families' instances get any. ` +
        `The store is filled once (\`learn: true\`) by one train tournament of configs/tournament.yaml, which plays a few level 1–2 train instances, and lab-mini solves few of them.`,
    );
    const given = r.coverage.filter((c) => c.withExamples > 0);
    if (given.length && given.every((c) => c.used === 0 && c.otherTemplate === c.withExamples)) {
      out.push(
        `And the examples given were not used: every one comes from another template of the family (another phrasing, other literals), ` +
          `while lab-mini copies an injected example only when the task has the same literal signature and a similarity at least its copy threshold ` +
          `(0.62 by default, lab/models/lab_mini/icl.ts). A fuller store (every train family, as the in-context arm of lab/evals/LABMINI_RESULTS.md) ` +
          `is what would let this suite measure context; nothing was tuned here, on test_id or elsewhere.`,
      );
    }
  }
  for (const i of t.interaction) {
    const zero = i.lo === 0 && i.hi === 0;
    out.push(
      `The 2×2 interaction (fine-tuned + context − fine-tuned) − (context − base) on ${i.split} is ${ci(i, pts)} points (${i.cases} cases, ${i.families} families)` +
        (zero ? `: exactly 0, because context changed no outcome in either pair of arms — this run cannot test DAIL-SQL's finding.` : `.`),
    );
  }
  if (t.rule) {
    const s = t.rule;
    const ctx = r.coverage.find((c) => c.split === s.split && c.arm === R.context);
    const comparator = row(s.split, R.context)?.accuracy.estimate;
    out.push(
      `Seed 000's rule on ${s.split}: accuracy improvement of the fine-tuned arm over the base with context ${rel(s.accuracyImprovement)}; verdict **${s.verdict}** (${s.reason}).` +
        (ctx && ctx.used === 0 ? ` Its comparator, the base with context, is here the base itself (no example used), so the rule compares fine-tuned with base.` : "") +
        (comparator !== undefined && comparator < 0.2 ? ` The ratio is large and its interval wide because the comparator passes only ${pc(comparator)} of the cases.` : ""),
    );
  }
  for (const s of t.seed000) {
    const slower = s.speedImprovement.estimate !== null && s.speedImprovement.estimate < 0;
    const more = s.tokenReduction.estimate !== null && s.tokenReduction.estimate < 0;
    out.push(
      `Seed 000's speed improvement on ${s.split} is ${rel(s.speedImprovement)} and its token reduction ${rel(s.tokenReduction)}` +
        (slower || more ? `: the fine-tuned arm is ${[slower ? "slower" : "", more ? "uses more tokens" : ""].filter(Boolean).join(" and ")} than the base with context.` : `.`),
    );
  }
  for (const a of r.ab) {
    const rep = abReport(a.outcomes);
    out.push(`A/B on the ${a.suite} suite's ${a.split} run (${a.candidate} vs champion ${a.champion}, seed 001's criteria, ${a.outcomes.length} paired tasks): ${rep.recommendation} — ${rep.reasons.join("; ")}.`);
  }
  if (r.gate) {
    const g = r.gate;
    out.push(
      `The gate (suite ${g.suite}, primary metric ${g.metric}) ${g.verdict === "pass" ? "passes" : "finds a regression"}: change ${pts(g.primary.estimate)} points, ` +
        `one-sided 95 % upper bound ${pts(g.primary.upper)} (tolerance ${pts(-g.tolerance)}), ${g.primary.cases} cases in ${g.primary.families} families.`,
    );
  }
  return out;
}

/** The results as Markdown: commands and runs, the outcome table, the reading, the context coverage, A/B and gate. */
export function formatEvalsResults(r: EvalsResults): string {
  const out = [
    `# Four arms on lab-mini: base, context, fine-tuned, fine-tuned + context (issue 15)`,
    "",
    `lab-mini results (a small model trained in the lab), not claims about LLMs. Generated on ${r.date} by \`lab/evals/evals_results.ts\` from the runs below; the JSON beside this file (\`evals_results.json\`) is what notebook 06 reads.`,
    "",
    "## Commands",
    "",
    "```sh",
    ...r.commands,
    "```",
    "",
    "## Runs",
    "",
    "| suite | split | episodes | commit | finished | models |",
    "|---|---|---|---|---|---|",
    ...r.runs.map((x) =>
      `| ${x.suite} | ${x.split} | ${x.episodes} | ${x.commit ?? "—"} | ${x.createdAt} | ${Object.entries(x.pins.models).map(([a, m]) => `${a}: ${m}`).join("; ")} |`
    ),
    "",
    "## Reading (generated from the numbers)",
    "",
    ...readEvalsResults(r).flatMap((l) => [`- ${l}`]),
    "",
    formatOutcomeMarkdown(r.outcome).replace(/^## /m, "## ").trimEnd(),
    "",
    "## The context arms: what they were given",
    "",
    "| split | arm | episodes | with an example | families with an example | from another template | used one |",
    "|---|---|---|---|---|---|---|",
    ...r.coverage.map((c) =>
      `| ${c.split} | ${c.arm} | ${c.episodes} | ${c.withExamples} | ${c.familiesWithExamples.length} of ${c.families} (${list(c.familiesWithExamples)}) | ${c.otherTemplate} | ${c.used} |`
    ),
    "",
  ];
  if (r.store) {
    const s = r.store;
    out.push(
      `Pattern store \`${s.path}\`: ${s.patterns} patterns from ${s.instances} train instances of ${s.families.length} families (${list(s.families)}); ` +
        `eligible for retrieval: ${s.eligible} from ${s.eligibleInstances} instances of ${s.eligibleFamilies.length} families (${list(s.eligibleFamilies)}).`,
      "",
    );
  }
  if (r.ab.length) {
    out.push("## A/B (seed 001's scoring and criteria) on a dev run's paired episodes", "");
    out.push("| suite | champion | candidate | tasks | wins | ties | losses | win rate [Wilson 95 %] | sign test p | recommendation |", "|---|---|---|---|---|---|---|---|---|---|");
    for (const a of r.ab) {
      const rep = abReport(a.outcomes);
      out.push(
        `| ${a.suite} | ${a.champion} | ${a.candidate} | ${a.outcomes.length} | ${rep.wins} | ${rep.ties} | ${rep.losses} | ${rep.winRate === null ? "—" : `${pc(rep.winRate)} [${pc(rep.interval!.lo)}, ${pc(rep.interval!.hi)}]`} | ${rep.pValue.toPrecision(3)} | ${rep.recommendation} |`,
      );
    }
    out.push("");
  }
  if (r.gate) {
    const g = r.gate;
    out.push(
      "## The gate",
      "",
      `\`${g.suite}\`: **${g.verdict}** on ${g.metric} — baseline ${pc(g.primary.baselineMean)}, run ${pc(g.primary.runMean)}, change ${pts(g.primary.estimate)} points, ` +
        `one-sided 95 % upper bound ${pts(g.primary.upper)}; ${g.primary.cases} paired cases, ${g.primary.families} families. Rule: ${g.rule}`,
      "",
    );
  }
  return out.join("\n");
}

const USAGE = `Usage: deno run -A lab/evals/evals_results.ts <run.json …> --json <out.json> --markdown <out.md> [--store patterns.duckdb] [--gate gate.json] [--ab run.json] [--command "…" …]

Writes the committed four-arm results: seed 000's outcome table over whole eval runs (one per split), the context
arms' coverage (with --store: the pattern store they retrieved from), A/B comparisons on the dev run and a gate result
(--gate: the JSON of 'lab eval gate --json'; --ab: the run the A/B uses, default the given runs). --command (repeatable) records the exact commands that made the runs.`;

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      json: { type: "string" },
      markdown: { type: "string" },
      store: { type: "string" },
      gate: { type: "string" },
      ab: { type: "string" },
      command: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  if (!positionals.length || !values.json || !values.markdown) {
    console.error(`evals_results: give the runs, --json and --markdown\n${USAGE}`);
    Deno.exit(2);
  }
  try {
    const runs = await Promise.all(positionals.map((p) => readEvalRun(p)));
    const gate = values.gate ? JSON.parse(await Deno.readTextFile(values.gate)) as GateResult : undefined;
    const abRun = values.ab ? await readEvalRun(values.ab) : undefined;
    const store = values.store ? await PatternStore.open(values.store) : undefined;
    try {
      const r = await buildEvalsResults(runs, {
        commands: values.command ?? [],
        ...(store ? { store: { store, path: displayPath(values.store!) } } : {}),
        ...(gate ? { gate } : {}),
        ...(abRun ? { abRun } : {}),
      });
      const md = formatEvalsResults(r);
      await writeTextAtomic(values.json, JSON.stringify(r, null, 1) + "\n");
      await writeTextAtomic(values.markdown, md);
      console.log(`wrote ${displayPath(values.json)} and ${displayPath(values.markdown)}`);
    } finally {
      await store?.close();
    }
  } catch (e) {
    console.error(`evals_results: ${(e as Error).message.split("\n")[0]}`);
    Deno.exit(2);
  }
}
