/**
 * The report of a tournament run from the lab's store: its header row (config, commit, seed, model, sandbox), the
 * leaderboard with intervals, fitness by generation, success by level, pattern growth and reuse, tokens and cost,
 * and a few passed and failed episodes' traces.
 * @module
 */
import type { EpisodeRecord } from "../agents/mod.ts";
import { LAB_MINI_LABEL, modelLabel } from "../evals/mod.ts";
import { usedPatterns } from "../patterns/mod.ts";
import {
  fitnessByGeneration,
  leaderboard,
  learningMetrics,
  listRuns,
  queryStore,
  readEpisodeRecords,
  readEpisodeRows,
  readSolutions,
} from "../tournament/mod.ts";
import { displayPath, LabError } from "../util/mod.ts";
import { barChart, lineChart } from "./_chart.ts";
import { clip, fmt, intervalChart, num, pct } from "./_common.ts";
import type { ReportDoc, Section, Trace } from "./_page.ts";
import { readingOf } from "./reading.ts";

const parse = (v: unknown) => (typeof v === "string" ? JSON.parse(v) : v);

/** A readable trace of a stored episode record. */
export function recordTrace(r: EpisodeRecord, title: string): Trace {
  return {
    title,
    pass: r.verdict.pass,
    verdict: `${r.verdict.reason} (score ${fmt(r.verdict.score, 2)})`,
    task: r.task,
    steps: r.toolCalls.map((c) => {
      const sql = typeof c.args?.sql === "string" ? c.args.sql : undefined;
      const rest = c.args ? Object.fromEntries(Object.entries(c.args).filter(([k]) => k !== "sql")) : null;
      const result = c.result ? clip(JSON.stringify(c.result), 500) : c.error ? `error: ${c.error}` : undefined;
      return {
        tool: c.name,
        ok: c.ok,
        ...(sql ? { sql } : {}),
        ...(rest && Object.keys(rest).length ? { args: clip(JSON.stringify(rest), 400) } : c.rawArgs ? { args: clip(c.rawArgs, 400) } : {}),
        ...(result ? { result } : {}),
      };
    }),
    answer: r.answer ? clip(JSON.stringify(r.answer.answer)) : null,
    stop: r.stopDetail || r.stopReason,
  };
}

/** The report of run `runId` in the store at `db`. */
export async function runReport(db: string, runId: string, built: ReportDoc["built"]): Promise<ReportDoc> {
  const [head] = await queryStore(
    db,
    `SELECT id, status, created_at::VARCHAR AS created_at, config::VARCHAR AS config, git_commit, seed, model_name, model_id, sandbox::VARCHAR AS sandbox
     FROM runs WHERE id = $1`,
    [runId],
  );
  if (!head) {
    const known = (await listRuns(db)).slice(0, 5).map((r) => r.id);
    throw new LabError(`no run '${runId}' in ${displayPath(db)}${known.length ? `: its runs include ${known.join(", ")}` : ": it holds no run"} (pass --db for another store)`);
  }
  const rows = await readEpisodeRows(db, runId);
  if (!rows.length) throw new LabError(`run '${runId}' in ${displayPath(db)} has no stored episode yet: nothing to report`);
  const snapshot = parse(head.config) as { config?: Record<string, unknown>; challenges?: string[] };
  const config = snapshot?.config ?? {};
  const sandbox = parse(head.sandbox) as { scale?: string; seed?: number; asOf?: string } | null;
  const board = leaderboard(rows, { resamples: 1000, seed: 0 });
  const learning = learningMetrics(rows, { solutions: await readSolutions(db, runId) });
  const levelRows = await queryStore(db, "SELECT DISTINCT challenge_id, level FROM episodes WHERE run_id = $1", [runId]);
  const level = new Map(levelRows.map((r) => [String(r.challenge_id), Number(r.level)]));
  const records = await readEpisodeRecords(db, runId);
  const label = modelLabel({ name: String(head.model_name), id: String(head.model_id) }) ? LAB_MINI_LABEL : null;

  // Success by (strategy, level), pooled over generations.
  const byLevel = new Map<string, { strategy: string; level: number; episodes: number; passed: number }>();
  for (const r of rows) {
    const l = level.get(r.challengeId) ?? 0;
    const k = `${r.strategyId}|${l}`;
    const c = byLevel.get(k) ?? { strategy: r.strategyId, level: l, episodes: 0, passed: 0 };
    c.episodes++;
    if (r.pass) c.passed++;
    byLevel.set(k, c);
  }
  const levelCells = [...byLevel.values()].sort((a, b) => a.level - b.level || (a.strategy < b.strategy ? -1 : 1));
  const anyPass = rows.some((r) => r.pass);

  // Pattern growth (new verified patterns per generation) and reuse (injected examples the episodes used).
  let cumulative = 0;
  const growth = learning.perGeneration.map((g) => ({ generation: g.generation, "new patterns": g.newPatterns ?? 0, "patterns so far": (cumulative += g.newPatterns ?? 0) }));
  const reuse = new Map<number, { episodes: number; withExamples: number; used: number }>();
  records.forEach((rec, i) => {
    const g = rows[i]?.generation ?? 0; // both are in episode id order
    const c = reuse.get(g) ?? { episodes: 0, withExamples: 0, used: 0 };
    c.episodes++;
    const injected = rec.injected ?? [];
    if (injected.length) {
      c.withExamples++;
      if (usedPatterns(injected, rec.queries.filter((q) => q.ok)).length) c.used++;
    }
    reuse.set(g, c);
  });

  const sections: Section[] = [{
    title: "Headline: the leaderboard",
    blocks: [
      {
        kind: "table",
        caption: "Strategies ranked by Bradley–Terry rating (95 % bootstrap intervals over challenges)",
        columns: ["strategy", "rating [95 % CI]", "success [95 % CI]", "fitness [95 % CI]", "episodes", "pass@k", "tokens / episode", "cost (USD)", "generations"],
        rows: board.map((b) => [
          b.strategyId,
          b.rating ? num(`${b.strategyId}.rating`, b.rating.rating, `${b.rating.rating.toFixed(0)} [${b.rating.lo.toFixed(0)}, ${b.rating.hi.toFixed(0)}]`) : "—",
          num(`${b.strategyId}.success`, b.success.estimate, `${(100 * b.success.estimate).toFixed(1)} % [${(100 * b.success.lo).toFixed(1)}, ${(100 * b.success.hi).toFixed(1)}]`),
          num(`${b.strategyId}.fitness`, b.fitness.estimate, `${b.fitness.estimate.toFixed(3)} [${b.fitness.lo.toFixed(3)}, ${b.fitness.hi.toFixed(3)}]`),
          num(`${b.strategyId}.episodes`, b.episodes, String(b.episodes)),
          `${b.passAtK.toFixed(2)} (k=${b.k})`,
          num(`${b.strategyId}.tokensPerEpisode`, b.tokens.perEpisode, fmt(b.tokens.perEpisode)),
          b.costUsd.toFixed(4),
          b.generations.join(", "),
        ]),
      },
      {
        kind: "chart",
        title: "Success by strategy",
        spec: intervalChart(board.map((b) => ({ label: b.strategyId, estimate: b.success.estimate, lo: b.success.lo, hi: b.success.hi })), { title: "Success by strategy (95 % CI over challenges)", x: "success (%)" }),
      },
    ],
  }, {
    title: "Learning over generations",
    blocks: [
      { kind: "chart", title: "Fitness by generation", spec: lineChart(fitnessByGeneration(learning).map((p) => ({ ...p })), { x: "generation", y: "fitness", color: "series", title: "Mean composite fitness by generation" }) },
      {
        kind: "table",
        caption: "Per generation",
        columns: ["generation", "episodes", "mean fitness", "best fitness", "success", "new patterns", "patterns / 100 episodes"],
        rows: learning.perGeneration.map((g) => [
          String(g.generation),
          String(g.episodes),
          num(`generation.${g.generation}.meanFitness`, g.meanFitness, g.meanFitness.toFixed(3)),
          g.bestFitness.toFixed(3),
          num(`generation.${g.generation}.success`, g.successRate, pct(g.successRate)),
          String(g.newPatterns ?? "—"),
          fmt(g.discoveryRate),
        ]),
      },
    ],
  }, {
    title: "Success by level",
    blocks: anyPass
      ? [{ kind: "chart", title: "Success by level", spec: barChart(levelCells.map((c) => ({ level: c.level, strategy: c.strategy, success: c.passed / c.episodes })), { x: "level", y: "success", color: "strategy", title: "Success rate by challenge level" }) }]
      : [
        { kind: "text", text: "No strategy passed any episode, so success is 0 at every level; the chart shows mean composite fitness (partial credit), which is what varies." },
        {
          kind: "chart",
          title: "Fitness by level",
          spec: barChart(
            levelCells.map((c) => ({ level: c.level, strategy: c.strategy, fitness: mean(rows.filter((r) => r.strategyId === c.strategy && (level.get(r.challengeId) ?? 0) === c.level).map((r) => r.composite)) })),
            { x: "level", y: "fitness", color: "strategy", title: "Mean composite fitness by challenge level" },
          ),
        },
      ],
  }, {
    title: "Pattern growth and reuse",
    blocks: [
      { kind: "chart", title: "Pattern growth", spec: lineChart(growth.map((g) => ({ generation: g.generation, patterns: g["patterns so far"] })), { x: "generation", y: "patterns", title: "Distinct verified patterns discovered so far" }) },
      {
        kind: "table",
        caption: "New patterns (family + canonical SQL of a passing episode) and reuse of injected examples, per generation",
        columns: ["generation", "new patterns", "patterns so far", "episodes", "with injected examples", "used an injected example"],
        rows: growth.map((g) => {
          const r = reuse.get(g.generation) ?? { episodes: 0, withExamples: 0, used: 0 };
          return [String(g.generation), num(`generation.${g.generation}.newPatterns`, g["new patterns"], String(g["new patterns"])), String(g["patterns so far"]), String(r.episodes), String(r.withExamples), String(r.used)];
        }),
      },
    ],
  }];

  // A few passed and failed episodes, on different challenges where the run has them.
  const pick = (pass: boolean) => {
    const mine = records.filter((r) => r.verdict.pass === pass);
    const seen = new Set<string>();
    const distinct = mine.filter((r) => !seen.has(r.challengeId) && seen.add(r.challengeId));
    return [...distinct, ...mine.filter((r) => !distinct.includes(r))].slice(0, 3);
  };
  const traces = [...pick(true), ...pick(false)].map((r) => recordTrace(r, `${r.strategyId} · ${r.challengeId} · seed ${r.seed} · attempt ${r.attempt}`));
  const [first, second] = board;
  const facts: string[] = [];
  if (first && second) {
    const overlap = first.success.lo <= second.success.hi && second.success.lo <= first.success.hi;
    facts.push(
      overlap
        ? `The top two strategies by rating, ${first.strategyId} and ${second.strategyId}, have overlapping success intervals (${pct(first.success.estimate)} [${pct(first.success.lo)}, ${pct(first.success.hi)}] and ${pct(second.success.estimate)} [${pct(second.success.lo)}, ${pct(second.success.hi)}]): this run does not separate them.`
        : `${first.strategyId}'s success (${pct(first.success.estimate)} [${pct(first.success.lo)}, ${pct(first.success.hi)}]) lies above ${second.strategyId}'s (${pct(second.success.estimate)} [${pct(second.success.lo)}, ${pct(second.success.hi)}]): their intervals do not overlap.`,
    );
  }
  facts.push(
    `The population's mean fitness changed by ${learning.totalImprovement >= 0 ? "+" : ""}${learning.totalImprovement.toFixed(3)} from generation ${learning.perGeneration[0]?.generation} to ${learning.perGeneration.at(-1)?.generation}` +
      (learning.convergence.generation === null ? ", and had not settled by the last generation." : `, settling from generation ${learning.convergence.generation} (within ±${learning.convergence.tolerance}).`),
  );
  facts.push(`${learning.patterns ?? 0} distinct verified pattern${learning.patterns === 1 ? "" : "s"} came out of ${rows.length} episodes.`);
  if (!anyPass) facts.push("No episode passed: success is 0 for every strategy and level, and fitness is partial credit only.");
  const limits = [
    "Whether the winner does better on held-out tasks: these are the run's own (training) challenges; the leaderboard's intervals resample challenges within this run.",
  ];
  const total = (f: (r: typeof rows[number]) => number) => rows.reduce((s, r) => s + f(r), 0);
  return {
    kind: "run",
    id: runId,
    title: `Tournament run ${runId}`,
    question: "Which strategies win on the run's challenges, and does natural selection raise the population's fitness over generations?",
    label,
    header: [
      ["store", displayPath(db)],
      ["run", `${runId} (${head.status}), created ${head.created_at}`],
      ["git commit", head.git_commit ? String(head.git_commit) : "not recorded"],
      ["seed", String(head.seed)],
      ["model", `${head.model_name} (${head.model_id})`],
      ["sandbox", sandbox ? `scale ${sandbox.scale}, seed ${sandbox.seed}, as of ${sandbox.asOf}` : "—"],
      ["configuration", `${config.generations ?? "?"} generations × ${config.attempts ?? "?"} attempts, strategies ${(config.strategies as string[] | undefined)?.join(", ") ?? "?"}, ${snapshot?.challenges?.length ?? "?"} challenges`],
      ["episodes", `${rows.length} (${rows.filter((r) => r.contaminated).length} on a held-out split)`],
      ["tokens, cost", `${total((r) => r.tokensTotal)} tokens, $${total((r) => r.costUsd).toFixed(4)}`],
    ],
    config: snapshot,
    sections,
    reading: readingOf({ findings: [], facts, limits, label }),
    traces,
    ...(traces.length ? {} : { tracesNote: "The run stored no episode record." }),
    built,
  };
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}
