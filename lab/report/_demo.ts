/**
 * The report of what `lab demo` ran: its headline is the loop's measured result on the held-out split — base,
 * context (patterns the demo's own tournament taught, injected) and fine-tuned (the core stage trained on the
 * curated passes), on the same instances and seeds, each rate and each lift over base with its 95 % interval
 * clustered by family or the note saying why there is none — then the tournament's leaderboard, the curation and
 * the fine-tuning step, and the traces of the scripted episode and lab-mini's attempt. The input is the demo's own
 * `--json` document ({@linkcode DemoRun}), so `lab report demo <demo.json>` rebuilds the same page.
 * @module
 */
import { ConfigError, displayPath } from "../util/mod.ts";
import { clip, fmt, gitHead, intervalChart, num, pct, readJsonFile, withInterval } from "./_common.ts";
import type { Block, ReportDoc, Section, Trace } from "./_page.ts";
import { type Finding, readingOf } from "./reading.ts";

/** An estimate in rate units with its 95 % interval, or nulls and the note saying why there is none. */
export interface DemoEstimate {
  /** The estimate, in rate units (0.25 = 25 %). */
  estimate: number;
  /** Lower bound of the 95 % interval, or null when there is none. */
  lo: number | null;
  /** Upper bound of the 95 % interval, or null. */
  hi: number | null;
  /** Why there is no interval. */
  note?: string | null;
}

/** One arm of the demo's headline: its success on the held-out instances and its paired lift over base. */
export interface DemoArm {
  /** `base`, `context` or `finetuned`. */
  arm: string;
  /** The model it ran (a served model id). */
  model: string;
  /** Passed episodes. */
  passes: number;
  /** Episodes run. */
  episodes: number;
  /** Success rate, clustered by family. */
  success: DemoEstimate;
  /** Paired lift over base on the same (instance, seed) pairs; null for base. */
  lift: (DemoEstimate & { pairs: number; clusters: number; pValue: number | null }) | null;
}

/** The part of the demo's `--json` document the report reads. */
export interface DemoRun {
  /** The sandbox: its spec and tenants. */
  sandbox: { spec: { seed: number; scale: string; asOf: string }; orgs: unknown[] };
  /** The scripted episode's challenge. */
  challenge: { id: string; task: string };
  /** The scripted episode's tool calls. */
  steps: { tool: string; args: unknown; result: string }[];
  /** The scripted episode's verdict. */
  verdict: { pass: boolean; score: number; reason: string };
  /** lab-mini's attempt at the same task. */
  labMini: { model: { name: string; id: string }; strategy: string; tools: string[]; stopReason: string; verdict: { pass: boolean; score: number; reason: string } };
  /** The train tournament the patterns came from. */
  tournament: {
    model: { name: string; id: string };
    challenges: string[];
    episodes: number;
    leaderboard: { strategyId: string; episodes: number; rating: { rating: number; lo: number; hi: number } | null; success: { estimate: number; lo: number; hi: number } }[];
  };
  /** The injection lift's patterns and held-out splits. */
  patternLift: { patterns: { stored: number; eligible: number }; splits: { split: string; pairs: number; reuseRate: number | null }[] };
  /** The curation under configs/datasets.yaml as committed. */
  dataset: { read: number; accepted: number };
  /** The curation the demo fine-tunes on (lowered tiers). */
  fineTuneDataset: { tiers: Record<string, number>; summary: { read: number; accepted: number; stages: Record<string, number> } };
  /** The core stage's version, or why it was skipped. */
  fineTune: { skipped: string } | { version: string; model: string; stage: string; examples: number; status: string };
  /** The loop's measured result: base, context and fine-tuned on the held-out split. */
  headline: {
    split: string;
    instances: number;
    families: number;
    seeds: number[];
    strategy: string;
    arms: DemoArm[];
    /** Why an arm is missing (the fine-tune was skipped), when one is. */
    missing: string[];
  };
  /** The model ids' label when they are lab-mini's. */
  label: string | null;
}

/** Names of the demo's arms, as a reader knows them. */
const ARM_NAMES: Record<string, string> = { base: "base", context: "context (patterns injected)", finetuned: "fine-tuned (core stage)" };
const armName = (a: string) => ARM_NAMES[a] ?? a;

/** Reads and checks a demo `--json` file (one-line ConfigError naming the file and the field). */
export async function readDemoRun(path: string): Promise<DemoRun> {
  const raw = await readJsonFile(path, "the demo's result (written by 'lab demo --json')") as Partial<DemoRun> | null;
  const bad = (what: string) => new ConfigError(`${displayPath(path)}: not a demo result: ${what} (write one with 'deno task lab demo --json > demo.json')`);
  if (!raw || typeof raw !== "object") throw bad("expected an object");
  if (!raw.sandbox?.spec) throw bad("'sandbox.spec' is missing");
  if (!raw.tournament || !Array.isArray(raw.tournament.leaderboard)) throw bad("'tournament.leaderboard' is missing");
  const h = raw.headline;
  if (!h || typeof h.split !== "string" || !Array.isArray(h.arms) || !h.arms.length) throw bad("'headline.arms' must be a non-empty array");
  h.arms.forEach((a, i) => {
    if (typeof a?.arm !== "string" || typeof a.success?.estimate !== "number") throw bad(`headline.arms[${i}] needs arm (string) and success.estimate (number)`);
  });
  return raw as DemoRun;
}

/** The traces the demo has: the scripted episode and lab-mini's attempt at the same task. */
function demoTraces(d: DemoRun): Trace[] {
  const sqlOf = (args: unknown) => (args && typeof args === "object" && "sql" in args ? String((args as { sql: unknown }).sql) : undefined);
  return [
    {
      title: `scripted episode · ${d.challenge.id}`,
      pass: d.verdict.pass,
      verdict: `${d.verdict.reason} (score ${fmt(d.verdict.score, 2)})`,
      task: d.challenge.task,
      steps: d.steps.map((s) => {
        const sql = sqlOf(s.args);
        return { tool: s.tool, ...(sql ? { sql } : { args: clip(JSON.stringify(s.args), 300) }), ok: !s.result.startsWith("error"), result: clip(s.result, 300) };
      }),
    },
    {
      title: `lab-mini (${d.labMini.strategy}) · ${d.challenge.id}`,
      pass: d.labMini.verdict.pass,
      verdict: `${d.labMini.verdict.reason} (score ${fmt(d.labMini.verdict.score, 2)})`,
      task: d.challenge.task,
      steps: d.labMini.tools.map((tool) => ({ tool, ok: true })),
      stop: d.labMini.stopReason,
    },
  ];
}

/**
 * The report of a demo run. `id` names it (the sandbox scale, or the file it was read from).
 *
 * Headline numbers carry the keys `<split>.<arm>.accuracy` and `<split>.<arm>.lift` (arms `base`, `context`,
 * `finetuned`), whose values are the demo's own figures. `built` defaults to now and the checkout's HEAD.
 */
export async function demoReport(d: DemoRun, id: string, built?: ReportDoc["built"]): Promise<ReportDoc> {
  built ??= { at: new Date().toISOString(), commit: await gitHead() };
  const h = d.headline;
  const split = h.split;
  const headline: Block[] = [
    {
      kind: "table",
      caption: `${split}: ${h.instances} instances (${h.families} families) × seed${h.seeds.length === 1 ? "" : "s"} ${h.seeds.join(", ")}, strategy ${h.strategy}, ` +
        `every arm on the same instances and seeds; 95 % intervals clustered by family`,
      columns: ["arm", "model", "passed", "success [95 % CI]", "vs base, points [95 % CI]", "p", "pairs"],
      rows: h.arms.map((a) => [
        armName(a.arm),
        a.model,
        `${a.passes}/${a.episodes}`,
        num(`${split}.${a.arm}.accuracy`, a.success.estimate, withInterval(a.success, false)),
        a.lift ? num(`${split}.${a.arm}.lift`, a.lift.estimate, withInterval(a.lift, true)) : "—",
        a.lift?.pValue === null || !a.lift ? "—" : a.lift.pValue.toFixed(3),
        a.lift ? String(a.lift.pairs) : "—",
      ]),
    },
  ];
  if (h.missing.length) headline.push({ kind: "list", items: h.missing });
  headline.push({
    kind: "chart",
    title: `Success by arm (${split})`,
    spec: intervalChart(h.arms.map((a) => ({ label: armName(a.arm), ...a.success })), { title: `Success by arm, ${split} (95 % CI where there is one)`, x: "success (%)" }),
    caption: `${h.arms.reduce((s, a) => s + a.episodes, 0)} episodes`,
  });
  const sections: Section[] = [{ title: "Headline: base vs context vs fine-tuned", blocks: headline }];
  const t = d.tournament;
  sections.push({
    title: "The tournament the patterns came from",
    blocks: [{
      kind: "table",
      caption: `${t.model.id}: ${t.episodes} episodes on ${t.challenges.length} train challenges (ratings and success with 95 % intervals bootstrapped over challenges)`,
      columns: ["strategy", "episodes", "rating [95 % CI]", "success [95 % CI]"],
      rows: t.leaderboard.map((r) => [
        r.strategyId,
        String(r.episodes),
        r.rating ? `${r.rating.rating.toFixed(0)} [${r.rating.lo.toFixed(0)}, ${r.rating.hi.toFixed(0)}]` : "—",
        withInterval(r.success, false),
      ]),
    }],
  });
  const pl = d.patternLift.splits.find((s) => s.split === split);
  const ft = d.fineTune;
  sections.push({
    title: "Patterns, curation and fine-tuning",
    blocks: [{
      kind: "list",
      items: [
        `Patterns: ${d.patternLift.patterns.stored} stored, ${d.patternLift.patterns.eligible} eligible for retrieval` +
        (pl ? `; pattern reuse on ${split}: ${pl.reuseRate === null ? "no episode was given an example" : pct(pl.reuseRate)}` : "") + ".",
        `Curated under configs/datasets.yaml's tiers: ${d.dataset.accepted} of ${d.dataset.read} examples accepted.`,
        `Curated with lowered tiers (${Object.entries(d.fineTuneDataset.tiers).map(([k, v]) => `${k} ${v}`).join(", ")}): ` +
        `${d.fineTuneDataset.summary.accepted} accepted, ${d.fineTuneDataset.summary.stages.core ?? 0} in the core stage.`,
        "skipped" in ft ? `Fine-tuning: ${ft.skipped}.` : `Fine-tuning: core stage on ${ft.examples} examples → ${ft.version} (${ft.model}), ${ft.status}.`,
      ],
    }],
  });
  const findings: Finding[] = h.arms.flatMap((a) =>
    a.lift ? [{ arm: armName(a.arm), versus: "base", estimate: a.lift.estimate, lo: a.lift.lo, hi: a.lift.hi, ...(a.lift.note ? { note: a.lift.note } : {}), where: split }] : []
  );
  const limits = [
    `Anything beyond the ${h.families} families and ${h.seeds.length} seed${h.seeds.length === 1 ? "" : "s"} of this ${d.sandbox.spec.scale} demo: it is a walk through the loop, not an experiment (lab/evals/LABMINI_RESULTS.md and lab/evals/EVALS_RESULTS.md are).`,
    ...h.missing,
  ];
  return {
    kind: "demo",
    id,
    title: `lab demo (${d.sandbox.spec.scale} sandbox)`,
    question: "Does the agent do better on held-out tasks with what its own tournament taught it — injected as patterns, or fine-tuned into the model — than the base model?",
    label: d.label,
    header: [
      ["sandbox", `${d.sandbox.spec.scale}, seed ${d.sandbox.spec.seed}, as of ${d.sandbox.spec.asOf}, ${d.sandbox.orgs.length} tenants`],
      ["held-out split", `${split}: ${h.instances} instances, ${h.families} families`],
      ["seeds", h.seeds.join(", ")],
      ["model ids", h.arms.map((a) => `${a.arm}: ${a.model}`).join("; ")],
      ["strategy", h.strategy],
      ["tournament", `${t.episodes} episodes, ${t.leaderboard.length} strategies, ${t.challenges.length} train challenges`],
    ],
    config: { sandbox: d.sandbox.spec, headline: { split, seeds: h.seeds, strategy: h.strategy } },
    sections,
    reading: readingOf({ findings, control: "base", facts: [], limits, label: d.label }),
    traces: demoTraces(d),
    built,
  };
}
