/**
 * The report of a model version in the registry: its lineage of stages (each continuing from its parent), every
 * version of its (base, category) with status and metrics, the audit trail and lifecycle events, the reviewers'
 * decisions on it (`lab review`), the A/B verdict of the orchestrator cycle that evaluated it, and its `test_id`
 * re-estimate.
 * @module
 */
import { existsSync } from "node:fs";
import { LAB_MINI_LABEL, modelLabel, TEST_ID_METRIC, type TestIdEstimate } from "../evals/mod.ts";
import { type Cycle, CycleStore, type ModelVersion, Registry } from "../finetune/mod.ts";
import { ConfigError, displayPath } from "../util/mod.ts";
import { barChart } from "./_chart.ts";
import { fmt, intervalChart, num, pct, withInterval } from "./_common.ts";
import type { Block, ReportDoc, Section } from "./_page.ts";
import { type Finding, readingOf } from "./reading.ts";

/** A/B figures as the orchestrator's evaluation stores them (the `abEvaluator`'s result). */
interface AbEvaluation {
  lift: number;
  lo: number | null;
  hi: number | null;
  recommendation?: string;
  reasons?: string[];
  ab?: { wins: number; ties: number; losses: number; winRate: number | null; interval: { lo: number; hi: number } | null; pValue: number; stage: string };
  baselineRate?: number;
  candidateRate?: number;
  pairs?: number;
  clusters?: number;
  note?: string | null;
}

const METRIC_KEYS = ["train_loss", "valid_loss", "steps", "trained_tokens", "n_epochs", "learning_rate"] as const;

/** The report of version `name` in the registry at `registryPath`. */
export async function modelReport(registryPath: string, name: string, built: ReportDoc["built"]): Promise<ReportDoc> {
  // Registry.open creates a missing file: a report must not, so a missing registry is an error here.
  if (!existsSync(registryPath)) throw new ConfigError(`${displayPath(registryPath)}: no model registry there; pass --registry <file> ('lab finetune list' shows the versions)`);
  const registry = await Registry.open(registryPath);
  const v = await registry.get(name);
  const family = (await registry.list({ base: v.base, category: v.category })).sort((a, b) => a.n - b.n);
  const byName = new Map(family.map((x) => [x.name, x]));
  const chain: ModelVersion[] = [];
  for (let at: ModelVersion | undefined = v; at; at = at.parent ? byName.get(at.parent) ?? await registry.get(at.parent) : undefined) chain.unshift(at);
  const audit = (await registry.audit()).filter((a) => family.some((x) => x.name === a.version));
  const events = (await registry.events()).filter((e) => e.version === null || family.some((x) => x.name === e.version));
  const reviews = await registry.reviews(name);
  const cycles = (await new CycleStore(registryPath).cycles({ base: v.base, category: v.category })).filter((c) => c.version === name);
  const cycle: Cycle | undefined = cycles.at(-1);
  const evaluation = (cycle?.evaluation ?? null) as AbEvaluation | null;
  const testId = v.metrics[TEST_ID_METRIC] as TestIdEstimate | undefined;
  const label = modelLabel({ name: v.base, id: v.providerModel }) ? LAB_MINI_LABEL : null;

  const sections: Section[] = [];
  const headline: Block[] = [
    {
      kind: "table",
      caption: `Stages of ${name}: each continues from the model before it`,
      columns: ["version", "stage", "status", "provider model", "trained from", "dataset sha256", "job", ...METRIC_KEYS],
      rows: chain.map((x) => [
        x.name,
        x.stage ?? "—",
        { key: `${x.name}.status`, text: x.status },
        x.providerModel,
        x.trainedFrom,
        x.datasetHash.slice(0, 16),
        x.jobId ?? "—",
        ...METRIC_KEYS.map((k) => typeof x.metrics[k] === "number" ? num(`${x.name}.${k}`, x.metrics[k] as number, fmt(x.metrics[k] as number, 4)) : "—"),
      ]),
    },
  ];
  const losses = family.filter((x) => typeof x.metrics.train_loss === "number");
  if (losses.length) {
    headline.push({
      kind: "chart",
      title: "Training loss by version",
      spec: barChart(losses.flatMap((x) => [
        { version: x.name, loss: x.metrics.train_loss as number, kind: "train" },
        ...(typeof x.metrics.valid_loss === "number" ? [{ version: x.name, loss: x.metrics.valid_loss as number, kind: "validation" }] : []),
      ]), { x: "version", y: "loss", color: "kind", title: `Last training and validation loss, ${v.base}/${v.category}` }),
    });
  }
  if (evaluation) {
    const ab = evaluation.ab;
    headline.push({
      kind: "table",
      caption: `A/B shadow test of ${name} against ${cycle?.baseline ?? "the champion"} (cycle ${cycle?.id})`,
      columns: ["recommendation", "pass lift, points [95 % CI]", "champion success", "candidate success", "wins / ties / losses", "win rate [95 % CI]", "sign test p", "pairs (families)"],
      rows: [[
        { key: "ab.recommendation", text: evaluation.recommendation ?? cycle?.state ?? "—" },
        num("ab.lift", evaluation.lift, withInterval({ estimate: evaluation.lift, lo: evaluation.lo, hi: evaluation.hi, note: evaluation.note ?? null }, true)),
        evaluation.baselineRate === undefined ? "—" : pct(evaluation.baselineRate),
        evaluation.candidateRate === undefined ? "—" : pct(evaluation.candidateRate),
        ab ? `${ab.wins} / ${ab.ties} / ${ab.losses}` : "—",
        ab?.winRate === null || !ab ? "—" : `${pct(ab.winRate)}${ab.interval ? ` [${pct(ab.interval.lo)}, ${pct(ab.interval.hi)}]` : ""}`,
        ab ? ab.pValue.toFixed(4) : "—",
        evaluation.pairs === undefined ? "—" : `${evaluation.pairs} (${evaluation.clusters ?? "?"})`,
      ]],
    });
    headline.push({
      kind: "chart",
      title: "A/B lift",
      spec: intervalChart([{ label: `${name} − ${cycle?.baseline ?? "champion"}`, estimate: evaluation.lift, lo: evaluation.lo, hi: evaluation.hi }], { title: "Paired pass lift on dev (95 % CI, clustered by family)", x: "lift (points)", zero: true }),
    });
    if (evaluation.reasons?.length) headline.push({ kind: "list", items: evaluation.reasons });
  } else {
    headline.push({ kind: "text", text: `No A/B verdict: no orchestrator cycle in ${displayPath(registryPath)} evaluated ${name}.` });
  }
  if (testId) {
    headline.push({
      kind: "table",
      caption: `${TEST_ID_METRIC}: success on test_id after selection on dev (measured ${testId.at})`,
      columns: ["success [95 % CI]", "episodes", "families", "lift over baseline, points [95 % CI]"],
      rows: [[
        num("testId.rate", testId.rate, withInterval({ estimate: testId.rate, lo: testId.lo, hi: testId.hi, note: testId.note }, false)),
        String(testId.episodes),
        String(testId.families),
        testId.lift ? `${testId.lift.baseline}: ${withInterval(testId.lift, true)}` : "—",
      ]],
    });
  }
  sections.push({ title: "Headline: stages, metrics and the A/B verdict", blocks: headline });
  sections.push({
    title: `Every version of ${v.base}/${v.category}`,
    blocks: [{
      kind: "table",
      columns: ["version", "n", "status", "stage", "parent", "provider model", "created", "train loss"],
      rows: family.map((x) => [x.name, String(x.n), x.status, x.stage ?? "—", x.parent ?? "—", x.providerModel, x.createdAt, typeof x.metrics.train_loss === "number" ? fmt(x.metrics.train_loss as number, 4) : "—"]),
    }],
  });
  sections.push({
    title: "Audit trail",
    blocks: [{
      kind: "table",
      caption: "Every status change, in order (who, when, why)",
      columns: ["#", "when", "version", "from", "to", "actor", "reason"],
      rows: audit.map((a) => [String(a.seq), a.at, a.version, a.from ?? "—", a.to, a.actor, a.reason]),
    }, {
      kind: "table",
      caption: "Lifecycle events",
      columns: ["#", "when", "event", "version", "job"],
      rows: events.map((e) => [String(e.seq), e.at, e.type, e.version ?? "—", e.jobId ?? "—"]),
    }],
  });
  sections.push({
    title: "Reviews",
    blocks: reviews.length
      ? [{
        kind: "table",
        caption: `A reviewer's decision on ${name}'s promotion recommendation ('lab review'), in order; an approval of a version awaiting promotion promoted it`,
        columns: ["#", "when", "decision", "reviewer", "note", "status then", "promoted by it"],
        rows: reviews.map((r) => [String(r.seq), r.at, { key: `review.${r.seq}.decision`, text: r.decision === "approve" ? "approved" : "rejected" }, r.reviewer, r.note, r.status, r.promoted ? "yes" : "no"]),
      }]
      : [{ kind: "text", text: `No review of ${name} yet: record one with 'lab review ${name} --approve|--reject --note "…"'.` }],
  });
  if (cycle) {
    sections.push({ title: "Orchestrator cycle", blocks: [{ kind: "json", summary: `cycle ${cycle.id}: ${cycle.state} — ${cycle.reason}`, value: { ...cycle, evaluation: evaluation ? { ...evaluation, comparisons: undefined } : null } }] });
  }
  const findings: Finding[] = [];
  if (evaluation) findings.push({ arm: name, versus: cycle?.baseline ?? "the champion", estimate: evaluation.lift, lo: evaluation.lo, hi: evaluation.hi, ...(evaluation.note ? { note: evaluation.note } : {}), where: "dev (A/B)" });
  if (testId?.lift) findings.push({ arm: name, versus: testId.lift.baseline, estimate: testId.lift.estimate, lo: testId.lift.lo, hi: testId.lift.hi, where: "test_id" });
  const facts: string[] = [`${name} is ${v.status}; ${chain.length} stage${chain.length === 1 ? "" : "s"} (${chain.map((x) => x.stage ?? x.name).join(" → ")}).`];
  if (evaluation?.recommendation) facts.push(`The A/B test recommends ${evaluation.recommendation}${evaluation.reasons?.length ? ` (${evaluation.reasons.join("; ")})` : ""}.`);
  const promotions = audit.filter((a) => a.version === name && (a.to === "promoted" || a.to === "rolled_back"));
  if (promotions.length) facts.push(`Decisions on it: ${promotions.map((a) => `${a.to} by ${a.actor} (${a.reason})`).join("; ")}.`);
  if (reviews.length) facts.push(`Reviews: ${reviews.map((r) => `${r.decision === "approve" ? "approved" : "rejected"} by ${r.reviewer} (${r.note})${r.promoted ? ", which promoted it" : ""}`).join("; ")}.`);
  const limits: string[] = [];
  if (!testId) limits.push(`How it does on test_id: no ${TEST_ID_METRIC} recorded (the A/B winner is flattered by its selection on dev).`);
  return {
    kind: "model",
    id: name,
    title: `Model version ${name}`,
    question: `Is ${name} better than the model it would replace, and how did it get here?`,
    label,
    header: [
      ["registry", displayPath(registryPath)],
      ["version", `${name} (${v.status}), created ${v.createdAt}`],
      ["base, category", `${v.base}, ${v.category}`],
      ["model ids", chain.map((x) => `${x.stage ?? x.name}: ${x.providerModel}`).join("; ")],
      ["dataset", `sha256 ${v.datasetHash}`],
      ["configuration", `provider ${v.provider}; ${METRIC_KEYS.filter((k) => v.metrics[k] !== undefined && ["n_epochs", "learning_rate"].includes(k)).map((k) => `${k} ${v.metrics[k]}`).join(", ") || "no schedule recorded"}`],
      ["git commit", "not recorded in the registry"],
      ["seeds", cycle ? "see the orchestrator cycle below" : "not recorded in the registry"],
      ["sandbox", "the catalog sandbox of the evaluation that judged it"],
    ],
    config: { version: v, cycle: cycle ? { id: cycle.id, state: cycle.state, files: cycle.files, datasetHash: cycle.datasetHash } : null },
    sections,
    reading: readingOf({ findings, facts, limits, label }),
    traces: [],
    tracesNote: "The registry keeps no episodes; the A/B test's episodes are in its evaluation (see the orchestrator cycle).",
    built,
  };
}
