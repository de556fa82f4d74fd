/**
 * Seed 000's outcome table from eval runs: per arm and split (dev, test_id, test_ood) the accuracy, tokens, response
 * time, query success rate and cost; each arm's change over the base arm; the 2×2 interaction of fine-tuning ×
 * context; and seed 000's deployment rule with its speed improvement and token reduction.
 *
 * Methods (every interval is 95 % and clustered by family; a cell with fewer than {@linkcode MIN_CLUSTERS} families
 * shows its estimate without an interval and says why, as {@linkcode compare} does):
 * - Accuracy per arm, and its lift over the base arm in points: {@linkcode compare} (cluster-robust t intervals),
 *   with a family-level sign-flip permutation test for correctness (exact McNemar would ignore the clustering).
 * - Relative changes over the base arm (`arm / base − 1`, in %) of accuracy, tokens, response time, query success
 *   and cost, on the pairs (challenge, seed) both arms ran: a paired family cluster bootstrap of the ratio of sums
 *   (families resampled with replacement, both arms' cases of a family together; expanded percentile interval, as
 *   `lab/stats`'s bootstrap). A change is credible when its interval excludes 0.
 * - The interaction (ft_ctx − ft) − (ctx − base) on success, per (challenge, seed) that all four arms ran: a
 *   cluster-robust t interval and a sign-flip permutation test over families. Negative: fine-tuning hurts what
 *   context adds (DAIL-SQL's finding).
 * - Seed 000's rule, exactly as its `ModelEvaluator` computes it: accuracy improvement = acc(fine-tuned without
 *   context) / acc(base with context) − 1, speed improvement = time(base with context) / time(fine-tuned) − 1,
 *   token reduction = 1 − tokens(fine-tuned) / tokens(base with context), each over the same test cases (sums, so
 *   ratios of means over the pairs). Deploy iff the accuracy improvement exceeds 20 %; here it is judged on the
 *   lower bound of its interval (the paired family cluster bootstrap of the ratio above), on `test_id` by default.
 * @module
 */
import { adjustedLevel, clusteredMeanCI, pairedPermutationTest, quantile, seededRandom } from "../stats/mod.ts";
import { compare, type Estimate, liftCell, MIN_CLUSTERS, rateCell, tooFewClusters } from "./compare.ts";
import type { EvalRun } from "./eval_run.ts";
import type { SuiteEpisode } from "./suite.ts";
import { mergeRuns } from "./shard.ts";

/** The splits of the outcome table, in order. */
export const OUTCOME_SPLITS = ["dev", "test_id", "test_ood"] as const;

/** The metrics of the outcome table. `querySuccess` is Σ queriesOk / Σ queries; the others are means per episode. */
export const OUTCOME_METRICS = ["accuracy", "tokens", "latencyMs", "querySuccess", "costUsd"] as const;

/** A metric of the outcome table. */
export type OutcomeMetric = typeof OUTCOME_METRICS[number];

/** The arms the 2×2 and seed 000's rule need, by role. */
export interface OutcomeRoles {
  /** The base model without context (the control). @default "base" */
  base: string;
  /** The base model with context injection. @default "context" */
  context: string;
  /** The fine-tuned model without context. @default "finetuned" */
  finetuned: string;
  /** The fine-tuned model with context. @default "finetuned_context" */
  finetunedContext: string;
}

/** The default arm ids of {@linkcode OutcomeRoles}. */
export const OUTCOME_ROLES: OutcomeRoles = {
  base: "base",
  context: "context",
  finetuned: "finetuned",
  finetunedContext: "finetuned_context",
};

/** Options for {@linkcode outcomeTable}. */
export interface OutcomeOptions {
  /** Arm ids by role; `base` is the control of every comparison. @default {@linkcode OUTCOME_ROLES} */
  roles?: Partial<OutcomeRoles>;
  /** The splits shown (those with episodes). @default {@linkcode OUTCOME_SPLITS} */
  splits?: readonly string[];
  /** The split seed 000's rule is judged on. @default "test_id" */
  ruleSplit?: string;
  /** Seed 000's threshold on the relative accuracy improvement. @default 0.2 */
  threshold?: number;
  /** Bootstrap resamples and permutation flips. @default 2000 */
  resamples?: number;
  /** Seed of the resampling. @default 0 */
  seed?: number;
  /** Fewest families for an interval. @default {@linkcode MIN_CLUSTERS} */
  minClusters?: number;
}

/** A relative change `arm / base − 1` (or a seed-000 transform of the ratio) with its interval. */
export interface RelativeChange {
  /** Null when undefined (nothing in a denominator, e.g. no cost recorded). */
  estimate: number | null;
  /** Lower bound of the 95 % interval, or null (see `note`). */
  lo: number | null;
  /** Upper bound of the 95 % interval, or null (see `note`). */
  hi: number | null;
  /** Why there is no estimate or no interval. */
  note?: string;
  /** (challenge, seed) pairs both arms ran. */
  pairs: number;
  /** Families of those pairs. */
  families: number;
}

/** One arm on one split. */
export interface OutcomeRow {
  /** The split. */
  split: string;
  /** The arm. */
  arm: string;
  /** The arm's episodes on the split. */
  episodes: number;
  /** Their families. */
  families: number;
  /** Success rate with its family-clustered interval. */
  accuracy: Estimate;
  /** Mean tokens per episode. */
  tokens: number;
  /** Mean response time per episode, ms. */
  latencyMs: number;
  /** Σ queriesOk / Σ queries, null without queries. */
  querySuccess: number | null;
  /** Mean cost per episode, USD. */
  costUsd: number;
  /** Against the base arm on the same (challenge, seed) pairs; null for the base arm itself. */
  vsBase: null | {
    pairs: number;
    families: number;
    /** Accuracy lift in points (rate units), with its interval. */
    accuracyPoints: Estimate;
    /** Two-sided family sign-flip permutation p-value of the accuracy lift; null with < 2 families. */
    pValue: number | null;
    /** Relative change of each metric, `arm / base − 1`. */
    change: Record<OutcomeMetric, RelativeChange>;
  };
}

/** The 2×2 interaction of fine-tuning × context on success, on one split. */
export interface OutcomeInteraction extends Estimate {
  /** The split. */
  split: string;
  /** (challenge, seed) pairs all four arms ran. */
  cases: number;
  /** Families of those cases. */
  families: number;
  /** Success of each role on those cases. */
  means: Record<keyof OutcomeRoles, number>;
  /** Family sign-flip permutation p-value; null with < 2 families. */
  pValue: number | null;
}

/** Seed 000's deployment figures on one split. */
export interface Seed000Outcome {
  /** The split. */
  split: string;
  /** acc(fine-tuned) / acc(base with context) − 1. */
  accuracyImprovement: RelativeChange;
  /** time(base with context) / time(fine-tuned) − 1. */
  speedImprovement: RelativeChange;
  /** 1 − tokens(fine-tuned) / tokens(base with context). */
  tokenReduction: RelativeChange;
  /** Deploy iff the accuracy improvement's lower bound exceeds the threshold; "undetermined" without a bound. */
  verdict: "deploy" | "do not deploy" | "undetermined";
  /** Why, in one line. */
  reason: string;
}

/** What {@linkcode outcomeTable} found. */
export interface OutcomeTable {
  /** The suites the runs came from. */
  suites: string[];
  /** The arm of each role. */
  roles: OutcomeRoles;
  /** The arms, base first. */
  arms: string[];
  /** The splits shown. */
  splits: string[];
  /** Fewest families a cell needed for an interval. */
  minClusters: number;
  /** One row per split × arm, in split order, base first. */
  rows: OutcomeRow[];
  /** Per split with all four arms. */
  interaction: OutcomeInteraction[];
  /** Per split with the context and fine-tuned arms. */
  seed000: Seed000Outcome[];
  /** Seed 000's rule on the rule split, or null when that split lacks the arms. */
  rule: (Seed000Outcome & { threshold: number; text: string }) | null;
  /** How the intervals were computed. */
  methods: string[];
}

const pairKey = (e: SuiteEpisode) => `${e.challengeId}\u0000${e.seed}`;

type Ratio = { num: (e: SuiteEpisode) => number; den: (e: SuiteEpisode) => number };
const RATIOS: Record<OutcomeMetric, Ratio> = {
  accuracy: { num: (e) => (e.pass ? 1 : 0), den: () => 1 },
  tokens: { num: (e) => e.tokens, den: () => 1 },
  latencyMs: { num: (e) => e.latencyMs, den: () => 1 },
  querySuccess: { num: (e) => e.queriesOk, den: (e) => e.queries },
  costUsd: { num: (e) => e.costUsd, den: () => 1 },
};

/**
 * A paired ratio (Σnum_b/Σden_b) / (Σnum_a/Σden_a), transformed, with a family cluster bootstrap interval
 * (expanded percentile). Resamples whose ratio is undefined are dropped, as `bootstrapCI` does.
 */
function pairedRatio(
  pairs: readonly { family: string; a: SuiteEpisode; b: SuiteEpisode }[],
  ratio: Ratio,
  transform: (r: number) => number,
  o: { resamples: number; seed: number; minClusters: number },
): RelativeChange {
  const byFamily = new Map<string, number[]>();
  for (const p of pairs) {
    const s = byFamily.get(p.family) ?? [0, 0, 0, 0];
    s[0] += ratio.num(p.a), s[1] += ratio.den(p.a), s[2] += ratio.num(p.b), s[3] += ratio.den(p.b);
    byFamily.set(p.family, s);
  }
  const sums = [...byFamily.values()];
  const k = sums.length;
  const stat = (idx: Iterable<number>) => {
    let na = 0, da = 0, nb = 0, db = 0;
    for (const i of idx) na += sums[i][0], da += sums[i][1], nb += sums[i][2], db += sums[i][3];
    const t = transform((nb / db) / (na / da));
    return Number.isFinite(t) ? t : NaN;
  };
  const base = { pairs: pairs.length, families: k };
  if (!k) return { estimate: null, lo: null, hi: null, note: "no paired cases", ...base };
  const estimate = stat(sums.keys());
  if (Number.isNaN(estimate)) {
    return { estimate: null, lo: null, hi: null, note: "undefined: the base's total is 0", ...base };
  }
  const note = tooFewClusters(k, o.minClusters);
  if (note) return { estimate, lo: null, hi: null, note, ...base };
  const rand = seededRandom(o.seed);
  const stats: number[] = [];
  const idx = new Array<number>(k);
  for (let r = 0; r < o.resamples; r++) {
    for (let i = 0; i < k; i++) idx[i] = Math.floor(rand() * k);
    const s = stat(idx);
    if (!Number.isNaN(s)) stats.push(s);
  }
  if (!stats.length) return { estimate, lo: null, hi: null, note: "no resample has the base's total above 0", ...base };
  const alpha = (1 - adjustedLevel(0.95, k)) / 2;
  return { estimate, lo: quantile(stats, alpha), hi: quantile(stats, 1 - alpha), ...base };
}

function pairsOf(eps: readonly SuiteEpisode[], a: string, b: string) {
  const control = new Map(eps.filter((e) => e.arm === a).map((e) => [pairKey(e), e]));
  return eps.filter((e) => e.arm === b).flatMap((e) => {
    const c = control.get(pairKey(e));
    return c ? [{ family: e.family, a: c, b: e }] : [];
  });
}

/**
 * The episodes of several runs as one list: the shards of one run are merged ({@linkcode mergeRuns}, which checks
 * them); whole runs (e.g. one per split) are concatenated, refusing a case (suite, arm, challenge, seed) twice.
 */
export function runsEpisodes(runs: readonly EvalRun[]): { suites: string[]; episodes: SuiteEpisode[] } {
  if (!runs.length) throw new RangeError("outcome: no runs given; pass at least one eval run");
  const shards = runs.filter((r) => r.shard);
  if (shards.length && shards.length !== runs.length) {
    throw new RangeError("outcome: some runs are shards and some are not; merge the shards first (lab eval merge)");
  }
  const whole = shards.length ? [mergeRuns(runs)] : runs;
  const seen = new Set<string>();
  for (const r of whole) {
    for (const e of r.episodes) {
      const k = `${e.arm}\u0000${e.challengeId}\u0000${e.seed}`;
      if (seen.has(k)) {
        throw new RangeError(
          `outcome: case ${e.arm}/${e.challengeId}/seed ${e.seed} appears in two runs; pass each run once`,
        );
      }
      seen.add(k);
    }
  }
  return { suites: [...new Set(whole.map((r) => r.suite))], episodes: whole.flatMap((r) => r.episodes) };
}

/**
 * Seed 000's outcome table from eval runs (see the module notes for every method).
 *
 * @example
 * ```ts
 * const t = outcomeTable([run]);
 * t.rule?.verdict; // "deploy" | "do not deploy" | "undetermined"
 * console.log(formatOutcomeMarkdown(t));
 * ```
 */
export function outcomeTable(runs: readonly EvalRun[], options: OutcomeOptions = {}): OutcomeTable {
  const { suites, episodes } = runsEpisodes(runs);
  const roles: OutcomeRoles = { ...OUTCOME_ROLES, ...options.roles };
  const o = {
    resamples: options.resamples ?? 2000,
    seed: options.seed ?? 0,
    minClusters: options.minClusters ?? MIN_CLUSTERS,
  };
  const threshold = options.threshold ?? 0.2;
  const ruleSplit = options.ruleSplit ?? "test_id";
  const present = new Set(episodes.map((e) => e.arm));
  if (!present.has(roles.base)) {
    throw new RangeError(
      `outcome: no episode of the base arm '${roles.base}'; arms: ${[...present].join(", ")} (set the base role)`,
    );
  }
  const arms = [roles.base, ...[...present].filter((a) => a !== roles.base)];
  const splits = (options.splits ?? OUTCOME_SPLITS).filter((s) => episodes.some((e) => e.split === s));
  if (!splits.length) {
    const found = [...new Set(episodes.map((e) => e.split))].join(", ");
    throw new RangeError(
      `outcome: no episode on the splits ${(options.splits ?? OUTCOME_SPLITS).join(", ")}; the runs hold ${found}`,
    );
  }
  const rows: OutcomeRow[] = [];
  const interaction: OutcomeInteraction[] = [];
  const seed000: Seed000Outcome[] = [];
  for (const split of splits) {
    const eps = episodes.filter((e) => e.split === split);
    const here = arms.filter((a) => eps.some((e) => e.arm === a));
    if (!here.includes(roles.base)) continue;
    const c = compare(eps, {
      control: roles.base,
      arms: here.filter((a) => a !== roles.base),
      minClusters: o.minClusters,
      permutations: { resamples: o.resamples, seed: o.seed },
    });
    for (const arm of here) {
      const mine = eps.filter((e) => e.arm === arm);
      const rate = rateCell(c, arm)!;
      const sum = (f: (e: SuiteEpisode) => number) => mine.reduce((s, e) => s + f(e), 0);
      const queries = sum((e) => e.queries);
      let vsBase: OutcomeRow["vsBase"] = null;
      if (arm !== roles.base) {
        const pairs = pairsOf(eps, roles.base, arm);
        const lift = liftCell(c, arm);
        if (lift && pairs.length) {
          const change = {} as Record<OutcomeMetric, RelativeChange>;
          for (const m of OUTCOME_METRICS) change[m] = pairedRatio(pairs, RATIOS[m], (r) => r - 1, o);
          vsBase = {
            pairs: lift.pairs,
            families: lift.clusters,
            accuracyPoints: {
              estimate: lift.estimate,
              lo: lift.lo,
              hi: lift.hi,
              ...(lift.note ? { note: lift.note } : {}),
            },
            pValue: lift.pValue,
            change,
          };
        }
      }
      rows.push({
        split,
        arm,
        episodes: mine.length,
        families: rate.clusters,
        accuracy: { estimate: rate.estimate, lo: rate.lo, hi: rate.hi, ...(rate.note ? { note: rate.note } : {}) },
        tokens: sum((e) => e.tokens) / mine.length,
        latencyMs: sum((e) => e.latencyMs) / mine.length,
        querySuccess: queries ? sum((e) => e.queriesOk) / queries : null,
        costUsd: sum((e) => e.costUsd) / mine.length,
        vsBase,
      });
    }
    const four = [roles.base, roles.context, roles.finetuned, roles.finetunedContext];
    if (four.every((a) => here.includes(a))) {
      const by = four.map((a) => new Map(eps.filter((e) => e.arm === a).map((e) => [pairKey(e), e])));
      const cells = [...by[0].keys()].filter((k) => by.every((m) => m.has(k))).map((k) => by.map((m) => m.get(k)!));
      if (cells.length) {
        const v = (e: SuiteEpisode) => (e.pass ? 1 : 0);
        const values = cells.map(([b, ctx, ft, ftc]) => ({
          cluster: b.family,
          value: (v(ftc) - v(ft)) - (v(ctx) - v(b)),
        }));
        const k = new Set(values.map((x) => x.cluster)).size;
        const est = values.reduce((s, x) => s + x.value, 0) / values.length;
        const note = tooFewClusters(k, o.minClusters);
        const ci = note ? null : clusteredMeanCI(values, { bounds: [-2, 2] });
        const mean = (i: number) => cells.reduce((s, cell) => s + v(cell[i]), 0) / cells.length;
        interaction.push({
          split,
          estimate: est,
          lo: ci?.lo ?? null,
          hi: ci?.hi ?? null,
          ...(note ? { note } : {}),
          cases: cells.length,
          families: k,
          means: { base: mean(0), context: mean(1), finetuned: mean(2), finetunedContext: mean(3) },
          pValue: k < 2 ? null : pairedPermutationTest(
            cells.map(([b, ctx, ft, ftc]) => ({ cluster: b.family, a: v(ctx) - v(b), b: v(ftc) - v(ft) })),
            { resamples: o.resamples, seed: o.seed },
          ).pValue,
        });
      }
    }
    if (here.includes(roles.context) && here.includes(roles.finetuned)) {
      const pairs = pairsOf(eps, roles.context, roles.finetuned);
      const accuracyImprovement = pairedRatio(pairs, RATIOS.accuracy, (r) => r - 1, o);
      const judged = judge(accuracyImprovement, threshold);
      seed000.push({
        split,
        accuracyImprovement,
        speedImprovement: pairedRatio(pairs, RATIOS.latencyMs, (r) => 1 / r - 1, o),
        tokenReduction: pairedRatio(pairs, RATIOS.tokens, (r) => 1 - r, o),
        ...judged,
      });
    }
  }
  const onRule = seed000.find((s) => s.split === ruleSplit);
  const text =
    `deploy iff acc(${roles.finetuned}: fine-tuned, no context) / acc(${roles.context}: base with context) − 1 > ${
      pct(threshold)
    } ` +
    `on ${ruleSplit}, judged on the lower bound of its 95 % interval (paired family cluster bootstrap of the ratio)`;
  return {
    suites,
    roles,
    arms,
    splits,
    minClusters: o.minClusters,
    rows,
    interaction,
    seed000,
    rule: onRule ? { ...onRule, threshold, text } : null,
    methods: [
      "accuracy and its lift in points: family-clustered t intervals (compare); p: family sign-flip permutation test",
      `relative changes (arm / ${roles.base} − 1) and seed 000's ratios: paired family cluster bootstrap of the ratio of sums, ${o.resamples} resamples, expanded percentile`,
      "interaction (ft_ctx − ft) − (ctx − base) on success: family-clustered t interval; p: family sign-flip permutation test",
      `cells with fewer than ${o.minClusters} families: estimate without an interval`,
    ],
  };
}

function judge(a: RelativeChange, threshold: number): Pick<Seed000Outcome, "verdict" | "reason"> {
  if (a.estimate === null) return { verdict: "undetermined", reason: `no accuracy improvement: ${a.note}` };
  if (a.lo === null) {
    return { verdict: "undetermined", reason: `no interval (${a.note}); the rule is judged on its lower bound` };
  }
  return a.lo > threshold ? { verdict: "deploy", reason: `lower bound ${pct(a.lo)} > ${pct(threshold)}` } : {
    verdict: "do not deploy",
    reason: `lower bound ${pct(a.lo)} ≤ ${pct(threshold)} (estimate ${pct(a.estimate)})`,
  };
}

const pct = (x: number, signed = false) => `${signed && x >= 0 ? "+" : ""}${(100 * x).toFixed(1)} %`;

function fmtChange(c: RelativeChange | undefined): string {
  if (!c) return "";
  if (c.estimate === null) return `— (${c.note})`;
  return c.lo === null || c.hi === null
    ? `${pct(c.estimate, true)} (no interval: ${c.note})`
    : `${pct(c.estimate, true)} [${pct(c.lo, true)}, ${pct(c.hi, true)}]`;
}

function fmtEstimate(e: Estimate, signed: boolean, unit: string): string {
  const f = (x: number) => `${signed && x >= 0 ? "+" : ""}${(100 * x).toFixed(1)}`;
  return e.lo === null || e.hi === null
    ? `${f(e.estimate)}${unit} (no interval: ${e.note})`
    : `${f(e.estimate)}${unit} [${f(e.lo)}, ${f(e.hi)}]`;
}

const fmtP = (p: number | null) => (p === null ? "—" : p < 0.001 ? "<0.001" : p.toFixed(3));

/** The outcome table as Markdown: one table per split, the 2×2 interaction and seed 000's rule with its verdict. */
export function formatOutcomeMarkdown(t: OutcomeTable): string {
  const b = t.roles.base;
  const out = [`## Outcome table (seed 000): ${t.suites.join(", ")}`, ""];
  for (const split of t.splits) {
    const rows = t.rows.filter((r) => r.split === split);
    if (!rows.length) continue;
    out.push(
      `### ${split}`,
      "",
      `| arm | episodes | accuracy [95 % CI] | vs ${b}, points [95 % CI] | p | accuracy vs ${b} | tokens | vs ${b} | response time (ms) | vs ${b} | query success | vs ${b} | cost (USD) | vs ${b} |`,
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
      ...rows.map((r) => {
        const v = r.vsBase;
        return `| ${r.arm} | ${r.episodes} | ${fmtEstimate(r.accuracy, false, " %")} | ${
          v ? fmtEstimate(v.accuracyPoints, true, " pts") : ""
        } | ` +
          `${v ? fmtP(v.pValue) : ""} | ${fmtChange(v?.change.accuracy)} | ${r.tokens.toFixed(1)} | ${
            fmtChange(v?.change.tokens)
          } | ` +
          `${r.latencyMs.toFixed(1)} | ${fmtChange(v?.change.latencyMs)} | ${
            r.querySuccess === null ? "—" : pct(r.querySuccess)
          } | ` +
          `${fmtChange(v?.change.querySuccess)} | ${r.costUsd.toFixed(6)} | ${fmtChange(v?.change.costUsd)} |`;
      }),
      "",
    );
  }
  const R = t.roles;
  out.push(`### Fine-tuning × context (2×2 interaction on success)`, "");
  if (!t.interaction.length) {
    out.push(`No split has all four arms (${R.base}, ${R.context}, ${R.finetuned}, ${R.finetunedContext}).`, "");
  } else {
    out.push(
      `Interaction = (${R.finetunedContext} − ${R.finetuned}) − (${R.context} − ${R.base}), paired per (challenge, seed). Negative: fine-tuning reduces what context adds.`,
      "",
      `| split | ${R.base} | ${R.context} | ${R.finetuned} | ${R.finetunedContext} | interaction, points [95 % CI] | p | cases | families |`,
      "|---|---|---|---|---|---|---|---|---|",
      ...t.interaction.map((i) =>
        `| ${i.split} | ${pct(i.means.base)} | ${pct(i.means.context)} | ${pct(i.means.finetuned)} | ${
          pct(i.means.finetunedContext)
        } | ` +
        `${fmtEstimate(i, true, " pts")} | ${fmtP(i.pValue)} | ${i.cases} | ${i.families} |`
      ),
      "",
    );
  }
  out.push("### Seed 000's deployment rule", "");
  if (t.rule) out.push(`Rule: ${t.rule.text}.`, "", `**Verdict: ${t.rule.verdict}** — ${t.rule.reason}.`, "");
  else out.push(`No verdict: the rule split has no paired ${R.context} and ${R.finetuned} episodes.`, "");
  if (t.seed000.length) {
    out.push(
      "| split | accuracy improvement [95 % CI] | speed improvement [95 % CI] | token reduction [95 % CI] | pairs | families | verdict |",
      "|---|---|---|---|---|---|---|",
      ...t.seed000.map((s) =>
        `| ${s.split} | ${fmtChange(s.accuracyImprovement)} | ${fmtChange(s.speedImprovement)} | ${
          fmtChange(s.tokenReduction)
        } | ` +
        `${s.accuracyImprovement.pairs} | ${s.accuracyImprovement.families} | ${s.verdict} |`
      ),
      "",
    );
  }
  out.push("Methods:", "", ...t.methods.map((m) => `- ${m}`), "");
  return out.join("\n");
}
