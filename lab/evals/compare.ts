/**
 * Comparing arms: rates per arm and paired lifts over a control, overall and per level, clustered by family.
 *
 * A family is one cluster: its templates, values, tenants, seeds and attempts move together, because instances of
 * one family share their SQL, their difficulty and (for lab-mini) their training lines, so they are not independent
 * evidence. Intervals are cluster-robust t intervals over families (`clusteredMeanCI` of `lab/stats`: 94–96 % A/A
 * coverage in `compare.test.ts`); the p-value is a sign-flip permutation test over families (McNemar, reported
 * beside it, assumes independent pairs).
 * A cell with fewer than {@linkcode MIN_CLUSTERS} families shows its estimate without an interval and says why:
 * with so few clusters neither the bootstrap nor a t interval covers as it claims.
 * @module
 */
import { clusteredMeanCI, mcnemar, type McNemarResult, pairedPermutationTest } from "../stats/mod.ts";
import type { SuiteEpisode } from "./suite.ts";

/** Fewest clusters a cell needs for an interval. */
export const MIN_CLUSTERS = 10;

/** What a comparison measures per episode. */
export type Metric = "pass" | "score" | "composite";

/** What one cluster is. `family` is the lab's rule; the others exist to show what clustering changes. */
export type ClusterBy = "family" | "template" | "challenge";

/**
 * Options for {@linkcode compare}.
 * @internal
 */
export interface CompareOptions {
  /** The arm every other arm is compared with. */
  control: string;
  /** Arms compared with the control, in report order. @default every other arm, in episode order */
  arms?: readonly string[];
  /** @default "pass" */
  metric?: Metric;
  /** @default "family" */
  clusterBy?: ClusterBy;
  /** Fewest clusters for an interval. @default {@linkcode MIN_CLUSTERS} */
  minClusters?: number;
  /** The permutation test's random sign flips and their seed. @default 2000 flips, seed 0 */
  permutations?: { resamples?: number; seed?: number };
}

/** An estimate with its 95 % interval, or none and why. */
export interface Estimate {
  estimate: number;
  /** Null when the cell has too few clusters. */
  lo: number | null;
  hi: number | null;
  /** Why there is no interval. */
  note?: string;
}

/**
 * One arm's rate on one level (or `"all"`).
 * @internal
 */
export interface RateCell extends Estimate {
  arm: string;
  level: number | "all";
  episodes: number;
  clusters: number;
  /** Episodes that passed. */
  passes: number;
}

/**
 * One arm's paired lift over the control on one level (or `"all"`).
 * @internal
 */
export interface LiftCell extends Estimate {
  arm: string;
  level: number | "all";
  /** Pairs (challenge × seed) both arms ran. */
  pairs: number;
  clusters: number;
  controlMean: number;
  armMean: number;
  /** Two-sided sign-flip permutation p-value over clusters; null with fewer than 2 clusters. */
  pValue: number | null;
  /** McNemar on the pass/fail pairs (treats pairs as independent: for reference only). */
  mcnemar: McNemarResult;
}

/** What {@linkcode compare} found. */
export interface Comparison {
  /** The arm every other arm was compared with. */
  control: string;
  /** The per-episode outcome compared. */
  metric: Metric;
  /** What one cluster is. */
  clusterBy: ClusterBy;
  /** Fewest clusters a cell needed for an interval. */
  minClusters: number;
  /** The challenge levels the episodes cover, ascending. */
  levels: number[];
  /** Each arm's rate per level and overall. */
  rates: RateCell[];
  /** Each arm's paired lift over the control per level and overall. */
  lifts: LiftCell[];
}

const valueOf = (metric: Metric) => (e: SuiteEpisode) => metric === "pass" ? (e.pass ? 1 : 0) : metric === "score" ? e.score : e.composite;
const clusterOf = (by: ClusterBy) => (e: SuiteEpisode) => by === "family" ? e.family : by === "template" ? e.template : e.challengeId;
const pairKey = (e: SuiteEpisode) => `${e.challengeId}\u0000${e.seed}`;

const UNIT: Record<ClusterBy, [string, string]> = {
  family: ["family", "families"],
  template: ["template", "templates"],
  challenge: ["instance", "instances"],
};

/**
 * Why an estimate over `clusters` clusters gets no interval (fewer than `min`, or than 2), or undefined when it gets
 * one: "3 families: an interval needs ≥ 10". The one wording of every report's "no interval" cells.
 */
export function tooFewClusters(clusters: number, min: number = MIN_CLUSTERS, by: ClusterBy = "family"): string | undefined {
  return clusters < Math.max(2, min) ? `${clusters} ${UNIT[by][clusters === 1 ? 0 : 1]}: an interval needs ≥ ${min}` : undefined;
}

function interval(
  clusters: number,
  min: number,
  by: ClusterBy,
  ci: () => { estimate: number; lo: number; hi: number },
  estimate: number,
): Estimate {
  const note = tooFewClusters(clusters, min, by);
  if (note) return { estimate, lo: null, hi: null, note };
  const r = ci();
  return { estimate: r.estimate, lo: r.lo, hi: r.hi };
}

/**
 * Rates per arm × level and paired lifts of every arm over the control, clustered by family (by default). Pairs are
 * (challenge, seed): an arm's episodes the control did not run are left out of its lift, never guessed.
 *
 * @example
 * ```ts
 * const c = compare(result.episodes, { control: "base" });
 * c.lifts.find((l) => l.arm === "ft" && l.level === "all"); // { estimate: 0.35, lo: 0.2, hi: 0.5, pValue: 0.001, ... }
 * ```
 */
export function compare(episodes: readonly SuiteEpisode[], options: CompareOptions): Comparison {
  const metric = options.metric ?? "pass";
  const clusterBy = options.clusterBy ?? "family";
  const min = options.minClusters ?? MIN_CLUSTERS;
  const flips = { resamples: 2000, seed: 0, ...options.permutations };
  const bounds: [number, number] | undefined = metric === "composite" ? undefined : [0, 1];
  const diffBounds: [number, number] | undefined = metric === "composite" ? undefined : [-1, 1];
  const value = valueOf(metric);
  const cluster = clusterOf(clusterBy);
  const inOrder = [...new Set(episodes.map((e) => e.arm))];
  if (!inOrder.includes(options.control)) {
    throw new RangeError(`compare: no episode of the control arm '${options.control}'; arms: ${inOrder.join(", ")}`);
  }
  const arms = options.arms ? [...options.arms] : inOrder.filter((a) => a !== options.control);
  const unknown = arms.find((a) => !inOrder.includes(a));
  if (unknown) throw new RangeError(`compare: no episode of arm '${unknown}'; arms: ${inOrder.join(", ")}`);
  const levels = [...new Set(episodes.map((e) => e.level))].sort((a, b) => a - b);
  const control = new Map(episodes.filter((e) => e.arm === options.control).map((e) => [pairKey(e), e]));

  const rates: RateCell[] = [];
  const lifts: LiftCell[] = [];
  for (const arm of [options.control, ...arms]) {
    for (const level of [...levels, "all" as const]) {
      const eps = episodes.filter((e) => e.arm === arm && (level === "all" || e.level === level));
      if (!eps.length) continue;
      const values = eps.map((e) => ({ cluster: cluster(e), value: value(e) }));
      const clusters = new Set(values.map((v) => v.cluster)).size;
      const mean = values.reduce((s, v) => s + v.value, 0) / values.length;
      rates.push({
        arm,
        level,
        episodes: eps.length,
        clusters,
        passes: eps.filter((e) => e.pass).length,
        ...interval(clusters, min, clusterBy, () => clusteredMeanCI(values, { bounds }), mean),
      });
      if (arm === options.control) continue;
      const pairs = eps.flatMap((e) => {
        const c = control.get(pairKey(e));
        return c ? [{ cluster: cluster(e), a: value(c), b: value(e), passA: c.pass, passB: e.pass }] : [];
      });
      if (!pairs.length) continue;
      const pc = new Set(pairs.map((p) => p.cluster)).size;
      const controlMean = pairs.reduce((s, p) => s + p.a, 0) / pairs.length;
      const armMean = pairs.reduce((s, p) => s + p.b, 0) / pairs.length;
      lifts.push({
        arm,
        level,
        pairs: pairs.length,
        clusters: pc,
        controlMean,
        armMean,
        ...interval(pc, min, clusterBy, () => clusteredMeanCI(pairs.map((p) => ({ cluster: p.cluster, value: p.b - p.a })), { bounds: diffBounds }), armMean - controlMean),
        pValue: pc < 2 ? null : pairedPermutationTest(pairs, flips).pValue,
        mcnemar: mcnemar(pairs.map((p) => ({ a: p.passA, b: p.passB }))),
      });
    }
  }
  return { control: options.control, metric, clusterBy, minClusters: min, levels, rates, lifts };
}

/** The cell of `arm` at `level` (`"all"` by default), or undefined. */
export function liftCell(c: Comparison, arm: string, level: number | "all" = "all"): LiftCell | undefined {
  return c.lifts.find((l) => l.arm === arm && l.level === level);
}

/** The rate cell of `arm` at `level` (`"all"` by default), or undefined. */
export function rateCell(c: Comparison, arm: string, level: number | "all" = "all"): RateCell | undefined {
  return c.rates.find((l) => l.arm === arm && l.level === level);
}

/**
 * An estimate in points (×100) with its interval: `+22.5 [+18.6, +26.6]`, or `+22.5 (no interval: 4 clusters…)`.
 * `signed` writes a sign (for lifts).
 */
export function formatEstimate(e: Estimate, options: { signed?: boolean; digits?: number } = {}): string {
  const d = options.digits ?? 1;
  const f = (x: number) => `${options.signed && x >= 0 ? "+" : ""}${(100 * x).toFixed(d)}`;
  return e.lo === null || e.hi === null ? `${f(e.estimate)} (no interval: ${e.note})` : `${f(e.estimate)} [${f(e.lo)}, ${f(e.hi)}]`;
}
