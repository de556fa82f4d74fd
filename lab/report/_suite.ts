/**
 * The report of an eval-suite run (`EvalRun`, `data/evals/<suite>/latest.json`): the outcome table's arms with
 * family-clustered intervals per split, fine-tuned + context against fine-tuned alone, the 2×2 interaction, seed
 * 000's rule, tokens and cost; traces from promptfoo's output file beside the run when it is there.
 * @module
 */
import { basename, dirname, join } from "node:path";
import { existsSync } from "node:fs";
import {
  compare,
  type EvalRun,
  LAB_MINI_LABEL,
  liftCell,
  modelLabel,
  outcomeTable,
  type OutcomeTable,
  type SuiteEpisode,
} from "../evals/mod.ts";
import { ConfigError, displayPath } from "../util/mod.ts";
import { clip, fmt, intervalChart, num, pct, readJsonFile, withInterval } from "./_common.ts";
import type { Block, ReportDoc, Section, Trace } from "./_page.ts";
import { type Finding, readingOf } from "./reading.ts";

/** Reads and checks an EvalRun file (one-line ConfigError naming the file and the field). */
export async function readEvalRun(path: string): Promise<EvalRun> {
  const raw = await readJsonFile(path, "the eval run (an EvalRun written by 'lab eval run')") as Partial<EvalRun> | null;
  const bad = (what: string) => new ConfigError(`${displayPath(path)}: not an EvalRun: ${what} (write one with 'deno task eval <suite>')`);
  if (!raw || typeof raw !== "object") throw bad("expected an object");
  if (typeof raw.suite !== "string") throw bad("'suite' must be a string");
  if (!raw.pins || typeof raw.pins !== "object") throw bad("'pins' is missing");
  if (!Array.isArray(raw.episodes) || !raw.episodes.length) throw bad("'episodes' must be a non-empty array");
  raw.episodes.forEach((e, i) => {
    const ep = e as Partial<SuiteEpisode>;
    if (typeof ep?.arm !== "string" || typeof ep.challengeId !== "string" || typeof ep.pass !== "boolean" || typeof ep.family !== "string" || typeof ep.split !== "string") {
      throw bad(`episodes[${i}] needs arm, challengeId, family, split (strings) and pass (boolean)`);
    }
  });
  return raw as EvalRun;
}

/** Names of the standard arms, as a reader knows them. */
const ARM_NAMES: Record<string, string> = {
  base: "base",
  context: "context",
  finetuned: "fine-tuned",
  finetuned_context: "fine-tuned + context",
};
const armName = (a: string) => ARM_NAMES[a] ?? a;

/** The promptfoo output beside a run (`promptfoo/<name>`): trace summaries of its cases, when present. */
async function suiteTraces(path: string, run: EvalRun): Promise<{ traces: Trace[]; note?: string }> {
  const file = join(dirname(path), "promptfoo", basename(path));
  if (!existsSync(file)) return { traces: [], note: `No traces: promptfoo's output file ${displayPath(file)} is not beside the run.` };
  const raw = await readJsonFile(file, "promptfoo's output of the run") as { results?: { results?: unknown[] } };
  const results = (raw?.results?.results ?? []) as {
    vars?: { task?: string };
    response?: { metadata?: { episode?: SuiteEpisode; verdict?: { reason?: string; score?: number }; trace?: { tools?: string[]; queries?: { sql: string; ok: boolean }[]; stopDetail?: string } } };
  }[];
  const cases = results.flatMap((r) => {
    const m = r.response?.metadata;
    return m?.episode && m.trace ? [{ task: r.vars?.task, ...m, episode: m.episode, trace: m.trace }] : [];
  });
  const order = [...new Set(run.episodes.map((e) => e.arm))];
  cases.sort((a, b) => order.indexOf(a.episode.arm) - order.indexOf(b.episode.arm) || (a.episode.challengeId < b.episode.challengeId ? -1 : 1));
  const pick = (pass: boolean) => cases.filter((c) => c.episode.pass === pass).slice(0, 3);
  const traces = [...pick(true), ...pick(false)].map((c): Trace => {
    const queries = [...(c.trace.queries ?? [])];
    return {
      title: `${armName(c.episode.arm)} · ${c.episode.challengeId} · seed ${c.episode.seed}`,
      pass: c.episode.pass,
      verdict: `${c.verdict?.reason ?? "—"} (score ${fmt(c.episode.score, 2)})`,
      ...(c.task ? { task: c.task } : {}),
      steps: (c.trace.tools ?? []).map((tool) => {
        const q = tool === "dbRead" || tool === "dbWrite" ? queries.shift() : undefined;
        return q ? { tool, sql: q.sql, ok: q.ok } : { tool, ok: true };
      }),
      answer: c.episode.answer === null ? null : clip(c.episode.answer),
      stop: c.trace.stopDetail ?? c.episode.stopReason,
    };
  });
  return traces.length ? { traces } : { traces, note: `No case of ${displayPath(file)} has a trace.` };
}

/** Paired differences the reading reads: each arm vs base, fine-tuned + context vs fine-tuned alone, the interaction. */
function findings(t: OutcomeTable, run: EvalRun): Finding[] {
  const out: Finding[] = [];
  for (const r of t.rows) {
    if (!r.vsBase) continue;
    const a = r.vsBase.accuracyPoints;
    out.push({ arm: armName(r.arm), versus: armName(t.roles.base), estimate: a.estimate, lo: a.lo, hi: a.hi, ...(a.note ? { note: a.note } : {}), where: r.split });
  }
  for (const split of t.splits) {
    const eps = run.episodes.filter((e) => e.split === split);
    const has = (a: string) => eps.some((e) => e.arm === a);
    if (has(t.roles.finetuned) && has(t.roles.finetunedContext)) {
      const l = liftCell(compare(eps, { control: t.roles.finetuned, arms: [t.roles.finetunedContext] }), t.roles.finetunedContext);
      if (l && l.pairs) {
        out.push({ arm: "fine-tuned + context", versus: "fine-tuned alone", estimate: l.estimate, lo: l.lo, hi: l.hi, ...(l.note ? { note: l.note } : {}), where: split });
      }
    }
  }
  return out;
}

/** The report of an EvalRun read from `path`. */
export async function suiteReport(path: string, built: ReportDoc["built"]): Promise<ReportDoc> {
  const run = await readEvalRun(path);
  let t: OutcomeTable;
  try {
    t = outcomeTable([run]);
  } catch (e) {
    throw new ConfigError(`${displayPath(path)}: ${(e as Error).message}`);
  }
  const models = Object.entries(run.pins.models ?? {});
  const label = models.some(([arm, id]) => modelLabel({ name: arm, id })) || run.episodes.some((e) => /lab-mini/.test(e.model))
    ? LAB_MINI_LABEL
    : null;
  const seeds = [...new Set(run.episodes.map((e) => e.seed))].sort((a, b) => a - b);
  const families = new Set(run.episodes.map((e) => e.family)).size;
  const headline: Block[] = [];
  for (const split of t.splits) {
    const rows = t.rows.filter((r) => r.split === split);
    headline.push({
      kind: "table",
      caption: `${split}: success per arm (95 % intervals clustered by family) and its paired lift over ${armName(t.roles.base)}`,
      columns: ["arm", "model", "episodes", "families", "success [95 % CI]", `vs ${armName(t.roles.base)}, points [95 % CI]`, "p", "tokens / episode", "response time (ms)", "query success", "cost / episode (USD)"],
      rows: rows.map((r) => [
        armName(r.arm),
        run.pins.models?.[r.arm] ?? "—",
        num(`${split}.${r.arm}.episodes`, r.episodes, String(r.episodes)),
        String(r.families),
        num(`${split}.${r.arm}.accuracy`, r.accuracy.estimate, withInterval(r.accuracy, false)),
        r.vsBase ? num(`${split}.${r.arm}.lift`, r.vsBase.accuracyPoints.estimate, withInterval(r.vsBase.accuracyPoints, true)) : "—",
        r.vsBase?.pValue === null || r.vsBase === null ? "—" : r.vsBase.pValue.toFixed(3),
        num(`${split}.${r.arm}.tokens`, r.tokens, fmt(r.tokens)),
        num(`${split}.${r.arm}.latencyMs`, r.latencyMs, fmt(r.latencyMs)),
        r.querySuccess === null ? "—" : pct(r.querySuccess),
        num(`${split}.${r.arm}.costUsd`, r.costUsd, r.costUsd.toFixed(6)),
      ]),
    });
    headline.push({
      kind: "chart",
      title: `Success by arm (${split})`,
      spec: intervalChart(rows.map((r) => ({ label: armName(r.arm), ...r.accuracy })), { title: `Success by arm, ${split} (95 % CI)`, x: "success (%)" }),
      caption: `${run.suite}, ${split}: ${rows.reduce((s, r) => s + r.episodes, 0)} episodes`,
    });
  }
  const sections: Section[] = [{ title: "Headline: the arms", blocks: headline }];
  const r = t.roles;
  sections.push({
    title: "Fine-tuning × context",
    blocks: t.interaction.length
      ? [{
        kind: "table",
        caption: `Interaction (${armName(r.finetunedContext)} − ${armName(r.finetuned)}) − (${armName(r.context)} − ${armName(r.base)}), paired per (challenge, seed); negative: fine-tuning reduces what context adds`,
        columns: ["split", armName(r.base), armName(r.context), armName(r.finetuned), armName(r.finetunedContext), "interaction, points [95 % CI]", "p", "cases", "families"],
        rows: t.interaction.map((i) => [
          i.split,
          pct(i.means.base),
          pct(i.means.context),
          pct(i.means.finetuned),
          pct(i.means.finetunedContext),
          num(`${i.split}.interaction`, i.estimate, withInterval(i, true)),
          i.pValue === null ? "—" : i.pValue.toFixed(3),
          String(i.cases),
          String(i.families),
        ]),
      }]
      : [{ kind: "text", text: `No split has all four arms (${[r.base, r.context, r.finetuned, r.finetunedContext].join(", ")}): no interaction.` }],
  });
  sections.push({
    title: "Seed 000's deployment rule",
    blocks: t.rule
      ? [{ kind: "text", text: `Rule: ${t.rule.text}. Verdict: ${t.rule.verdict} — ${t.rule.reason}.` }]
      : [{ kind: "text", text: `No verdict: the rule split has no paired ${r.context} and ${r.finetuned} episodes.` }],
  });
  sections.push({ title: "Methods", blocks: [{ kind: "list", items: t.methods }] });
  const { traces, note } = await suiteTraces(path, run);
  const totalCost = run.episodes.reduce((s, e) => s + e.costUsd, 0);
  const totalTokens = run.episodes.reduce((s, e) => s + e.tokens, 0);
  const facts: string[] = [];
  if (t.rule) facts.push(`Seed 000's rule on ${t.rule.split}: ${t.rule.verdict} (${t.rule.reason}).`);
  const limits = [`Anything beyond the ${families} families and ${seeds.length} seed${seeds.length === 1 ? "" : "s"} this run covers.`];
  return {
    kind: "suite",
    id: run.suite,
    title: `Eval suite '${run.suite}'${run.shard ? ` (shard ${run.shard.index}/${run.shard.count})` : ""}`,
    question: "Does an agent do better with patterns in its prompt, fine-tuned on them, or both, than the base model on the same held-out tasks?",
    label,
    header: [
      ["source", displayPath(path)],
      ["suite", run.suite],
      ["created", run.createdAt],
      ["git commit", run.commit ?? "not recorded"],
      ["seeds", seeds.join(", ")],
      ["splits", t.splits.join(", ")],
      ["episodes", `${run.episodes.length} (${families} families)`],
      ["model ids", models.map(([a, id]) => `${a}: ${id}`).join("; ") || "—"],
      ["strategies", Object.entries(run.pins.strategies ?? {}).map(([a, s]) => `${a}: ${s}`).join("; ") || "—"],
      ["sandbox / challenges", `catalog sha256 ${run.pins.catalogHash ?? "—"}`],
      ["pattern snapshot", run.pins.patternSnapshot ?? "none (no arm retrieves)"],
      ["tokens, cost", `${totalTokens} tokens, $${totalCost.toFixed(4)}`],
    ],
    config: { pins: run.pins, shard: run.shard },
    sections,
    reading: readingOf({ findings: findings(t, run), control: armName(t.roles.base), facts, limits, label }),
    traces,
    ...(note ? { tracesNote: note } : {}),
    built,
  };
}
