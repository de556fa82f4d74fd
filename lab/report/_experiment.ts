/**
 * The report of an experiment's results file: the self-improvement experiment's JSON (`lab experiment self-improve
 * --out`, e.g. `lab/evals/self_improve_results.json`) or lab-mini's honesty experiment as JSON (`lab experiment
 * labmini --json > file`, one result or one per split and seed). Per evaluated split: every arm's success and its
 * lift over the control, with family-clustered intervals, by level; the experiment's own checks or reading; traces
 * of episodes whose messages were kept.
 * @module
 */
import {
  type HonestyEpisode,
  honestyChecks,
  LAB_MINI_LABEL,
  type LabMiniHonestyResult,
  type LiftCell,
  type RateCell,
  readSelfImprove,
  type SelfImproveResult,
  summarise,
  type HonestyArm,
  HONESTY_ARMS,
  type EvaluatedSet,
} from "../evals/mod.ts";
import { ConfigError, displayPath } from "../util/mod.ts";
import { barChart } from "./_chart.ts";
import { clip, fmt, intervalChart, num, readJsonFile, withInterval } from "./_common.ts";
import type { Block, ReportDoc, Section, Trace, TraceStep } from "./_page.ts";
import { type Finding, readingOf } from "./reading.ts";

/** One evaluated split of an experiment: rates and lifts over the control, by level and overall. */
interface SplitResult {
  split: string;
  control: string;
  rates: RateCell[];
  lifts: LiftCell[];
}

type Parsed =
  | { kind: "self-improve"; r: SelfImproveResult & { command?: string; commit?: string; date?: string } }
  | { kind: "honesty"; results: LabMiniHonestyResult[] };

function parseExperiment(raw: unknown, path: string): Parsed {
  const bad = (what: string) =>
    new ConfigError(`${displayPath(path)}: ${what}; expected the JSON of 'lab experiment self-improve --out' or of 'lab experiment labmini --json'`);
  const isHonesty = (x: unknown): x is LabMiniHonestyResult =>
    !!x && typeof x === "object" && Array.isArray((x as LabMiniHonestyResult).cells) && Array.isArray((x as LabMiniHonestyResult).lifts) &&
    typeof (x as LabMiniHonestyResult).split === "string" && Array.isArray((x as LabMiniHonestyResult).episodes);
  if (Array.isArray(raw)) {
    if (!raw.length) throw bad("an empty array");
    const i = raw.findIndex((x) => !isHonesty(x));
    if (i >= 0) throw bad(`item [${i}] is not a lab-mini honesty result (cells, lifts, split, episodes)`);
    return { kind: "honesty", results: raw };
  }
  if (isHonesty(raw)) return { kind: "honesty", results: [raw] };
  const s = raw as Partial<SelfImproveResult> | null;
  if (s && typeof s === "object" && s.comparisons && typeof s.comparisons === "object" && Array.isArray(s.rounds) && s.settings) {
    for (const [split, c] of Object.entries(s.comparisons)) {
      if (!Array.isArray(c?.rates) || !Array.isArray(c?.lifts)) throw bad(`comparisons.${split} needs rates and lifts`);
    }
    return { kind: "self-improve", r: s as SelfImproveResult };
  }
  throw bad("not an experiment result");
}

const levelOrder = (l: number | "all") => (l === "all" ? Infinity : l);

function splitBlocks(s: SplitResult): Block[] {
  const arms = [...new Set(s.rates.map((r) => r.arm))];
  const all = (arm: string) => s.rates.find((r) => r.arm === arm && r.level === "all");
  const lift = (arm: string) => s.lifts.find((l) => l.arm === arm && l.level === "all");
  const levels = [...new Set(s.rates.map((r) => r.level))].filter((l) => l !== "all").sort((a, b) => levelOrder(a) - levelOrder(b));
  return [
    {
      kind: "table",
      caption: `${s.split}: success per arm (95 % intervals clustered by family) and the paired lift over ${s.control}`,
      columns: ["arm", "episodes", "families", "success [95 % CI]", `vs ${s.control}, points [95 % CI]`, "p", ...levels.map((l) => `level ${l}`)],
      rows: arms.map((arm) => {
        const r = all(arm)!;
        const l = lift(arm);
        return [
          arm,
          num(`${s.split}.${arm}.episodes`, r.episodes, String(r.episodes)),
          String(r.clusters),
          num(`${s.split}.${arm}.success`, r.estimate, withInterval(r, false)),
          l ? num(`${s.split}.${arm}.lift`, l.estimate, withInterval(l, true)) : "—",
          l?.pValue === null || !l ? "—" : l.pValue.toFixed(3),
          ...levels.map((lv) => {
            const c = s.rates.find((x) => x.arm === arm && x.level === lv);
            return c ? `${(100 * c.estimate).toFixed(1)} % (${c.passes}/${c.episodes})` : "—";
          }),
        ];
      }),
    },
    {
      kind: "chart",
      title: `Success by arm (${s.split})`,
      spec: intervalChart(arms.map((a) => ({ label: a, ...all(a)! })), { title: `Success by arm, ${s.split} (95 % CI)`, x: "success (%)" }),
    },
    ...(levels.length > 1
      ? [{
        kind: "chart" as const,
        title: `Success by level (${s.split})`,
        spec: barChart(s.rates.filter((r) => r.level !== "all").map((r) => ({ level: r.level, arm: r.arm, success: r.estimate })), { x: "level", y: "success", color: "arm", title: `Success by level and arm, ${s.split}` }),
      }]
      : []),
  ];
}

function honestyTrace(e: HonestyEpisode): Trace | null {
  if (!e.messages?.length) return null;
  const steps: TraceStep[] = [];
  const results = new Map(e.messages.filter((m) => m.role === "tool").map((m) => [(m as { toolCallId?: string }).toolCallId, String(m.content ?? "")]));
  for (const m of e.messages) {
    for (const c of (m as { toolCalls?: { id: string; name: string; args?: Record<string, unknown> }[] }).toolCalls ?? []) {
      const sql = typeof c.args?.sql === "string" ? c.args.sql : undefined;
      const result = results.get(c.id);
      steps.push({
        tool: c.name,
        ok: !/"ok":\s*false/.test(result ?? ""),
        ...(sql ? { sql } : c.args ? { args: clip(JSON.stringify(c.args), 400) } : {}),
        ...(result ? { result: clip(result, 500) } : {}),
      });
    }
  }
  const task = e.messages.find((m) => m.role === "user")?.content;
  return {
    title: `${e.arm} · ${e.challengeId} · seed ${e.seed}`,
    pass: e.pass,
    verdict: `score ${fmt(e.score, 2)}`,
    ...(typeof task === "string" ? { task } : {}),
    steps,
    answer: e.answer === null ? null : clip(e.answer),
    stop: e.stopReason,
  };
}

function episodeTrace(e: HonestyEpisode): Trace {
  return honestyTrace(e) ?? {
    title: `${e.arm} · ${e.challengeId} · seed ${e.seed}`,
    pass: e.pass,
    verdict: `score ${fmt(e.score, 2)}; ${e.queriesOk}/${e.queries} queries ran; ${e.steps} steps (optimal ${e.optimalSteps ?? "unknown"})`,
    steps: [],
    answer: e.answer === null ? null : clip(e.answer),
    stop: e.stopReason,
  };
}

/** The report of the experiment results file at `path`. */
export async function experimentReport(path: string, built: ReportDoc["built"]): Promise<ReportDoc> {
  const parsed = parseExperiment(await readJsonFile(path, "the experiment results"), path);
  const splits: SplitResult[] = [];
  const header: [string, string][] = [["source", displayPath(path)]];
  const sections: Section[] = [];
  const facts: string[] = [];
  let episodes: HonestyEpisode[];
  let label: string;
  let title: string;
  let question: string;
  let config: unknown;
  if (parsed.kind === "self-improve") {
    const r = parsed.r;
    for (const [split, c] of Object.entries(r.comparisons)) splits.push({ split, control: c.control, rates: c.rates, lifts: c.lifts });
    label = r.label ?? LAB_MINI_LABEL;
    title = "Experiment: expert iteration on lab-mini's own tournaments";
    question = "Does lab-mini get better by fine-tuning on its own verified tournament successes, round after round, against same-compute controls?";
    header.push(
      ["command", r.command ?? "not recorded"],
      ["git commit", r.commit ?? "not recorded"],
      ["date", r.date ?? "not recorded"],
      ["seeds", `seed ${r.settings.seed} (every selection, shuffle, fine-tune and evaluation episode)`],
      ["configuration", `${r.settings.rounds} rounds, levels ${r.settings.levels.join(", ")}, strategies ${r.settings.strategies.join(", ")} × ${r.settings.attempts} attempts (k=${r.settings.k}), temperature ${r.settings.temperature}, ${r.settings.epochs} epochs; evaluated with ${r.settings.evalStrategy}`],
      ["model ids", Object.entries(r.models).map(([a, m]) => `${a}: ${typeof m === "string" ? m : Object.entries(m).map(([l, id]) => `L${l} ${id}`).join(", ")}`).join("; ")],
      ["curation", r.curationConfig],
      ["sandbox", "the lab's catalog sandbox (small scale)"],
      ["wall time", `${r.seconds} s`],
    );
    config = r.settings;
    episodes = r.episodes;
    facts.push(...readSelfImprove(r));
    sections.push({
      title: "Rounds",
      blocks: [{
        kind: "table",
        caption: "Each round's train tournament and curated set",
        columns: ["round", "from", "model", "tournament episodes", "pass@1", `pass@${r.settings.k}`, "lines", "families"],
        rows: r.rounds.map((x) => [
          String(x.round),
          x.parent,
          x.model ?? "—",
          String(x.tournament.episodes),
          num(`round.${x.round}.passAt1`, x.tournament.passAt1, `${(100 * x.tournament.passAt1).toFixed(1)} %`),
          `${(100 * x.tournament.passAtK).toFixed(1)} %`,
          String(x.dataset.lines),
          String(x.dataset.families.length),
        ]),
      }],
    });
  } else {
    const results = parsed.results;
    const first = results[0];
    label = first.label ?? LAB_MINI_LABEL;
    title = "Experiment: lab-mini's honesty (base, in-context, fine-tuned, controls)";
    question = "Does lab-mini improve from same-family examples in its prompt and from fine-tuning, and not from the controls (shuffled answers, unrelated families)?";
    const bySplit = new Map<string, LabMiniHonestyResult[]>();
    for (const r of results) bySplit.set(r.split, [...(bySplit.get(r.split) ?? []), r]);
    for (const [split, rs] of bySplit) {
      const eps = rs.flatMap((r) => r.episodes);
      const arms = HONESTY_ARMS.filter((a) => eps.some((e) => e.arm === a)) as HonestyArm[];
      const { cells, lifts } = rs.length === 1 ? { cells: rs[0].cells, lifts: rs[0].lifts } : summarise(eps, arms);
      splits.push({ split, control: "base", rates: cells, lifts });
      const checks = honestyChecks(lifts, split as EvaluatedSet);
      sections.push({
        title: `Honesty checks (${split}${rs.length > 1 ? `, pooled over seeds ${rs.map((r) => r.seed).join(", ")}` : ""})`,
        blocks: [{
          kind: "table",
          columns: ["check", "target", "measured", "result"],
          rows: checks.map((c) => [c.check, c.target, c.measured, c.pass === null ? "not measurable" : c.pass ? "pass" : "fail"]),
        }],
      });
    }
    header.push(
      ["git commit", "not recorded in the results (see the command that wrote them)"],
      ["seeds", [...new Set(results.map((r) => r.seed))].join(", ")],
      ["splits", [...bySplit.keys()].join(", ")],
      ["configuration", `levels ${first.levels.join(", ")}, ${first.perLevel ?? "all"} per level, temperature ${first.temperature}, strategy ${first.strategy}, copy threshold ${first.copyThreshold ?? "lab-mini's default"}`],
      ["dataset", `${first.dataset.path} (${first.dataset.lines} lines, ${first.dataset.families} families)`],
      ["model ids", Object.entries(first.models).map(([a, m]) => `${a}: ${typeof m === "string" ? m : JSON.stringify(m)}`).join("; ")],
      ["base model", first.baseModel],
      ["sandbox", "the lab's catalog sandbox (small scale)"],
      ["wall time", `${results.reduce((s, r) => s + r.seconds, 0).toFixed(1)} s`],
    );
    config = results.map(({ episodes: _e, cells: _c, lifts: _l, instances: _i, ...rest }) => rest);
    episodes = results.flatMap((r) => r.episodes);
  }
  const headline: Block[] = splits.flatMap((s) => splitBlocks(s));
  sections.unshift({ title: "Headline: arms against the control", blocks: headline });
  const tokens = episodes.reduce((s, e) => s + e.tokens, 0);
  const cost = episodes.reduce((s, e) => s + e.costUsd, 0);
  header.push(["tokens, cost", `${tokens} tokens over ${episodes.length} episodes, $${cost.toFixed(4)}`]);
  const findings: Finding[] = splits.flatMap((s) =>
    s.lifts.filter((l) => l.level === "all").map((l) => ({ arm: l.arm, versus: s.control, estimate: l.estimate, lo: l.lo, hi: l.hi, ...(l.note ? { note: l.note } : {}), where: s.split }))
  );
  const withMessages = episodes.filter((e) => e.messages?.length);
  const pool = withMessages.length ? withMessages : episodes;
  const traces = [...pool.filter((e) => e.pass).slice(0, 3), ...pool.filter((e) => !e.pass).slice(0, 3)].map(episodeTrace);
  return {
    kind: "experiment",
    id: displayPath(path),
    title,
    question,
    label,
    header,
    config,
    sections,
    reading: readingOf({ findings, control: splits[0]?.control ?? "base", facts, label }),
    traces,
    built,
  };
}
