/**
 * Curation: examples from every source → leakage check → passed turns only → filters → exact duplicates merged
 * (their support pooled) → quality and tier (below bronze rejected) → near-duplicates removed, best kept →
 * balanced by category, level and outcome type under a per-category cap. Every example read is accounted for:
 * kept, or excluded for one counted reason. Also seed 000's staged sets and DPO pairs (a train instance's best
 * passing attempt against its worst failing one: failed turns appear nowhere else).
 *
 * {@linkcode createCurator} takes examples in batches (so a million patterns never sit in memory at once: of
 * exact duplicates only the best candidates are kept) and {@linkcode Curator.finish} returns a new
 * {@linkcode Curation}; {@linkcode curate} does both for an array.
 * @module
 */
import { fnv1a } from "../util/mod.ts";
import type { DatasetsConfig, StageConfig } from "./config.ts";
import { type Example, type SourceKind } from "./example.ts";
import { type HeldOutSummary, LEAK_REASONS, type LeakageGuard, type LeakReason } from "./leakage.ts";
import { NearDuplicateIndex, shingles } from "./dedup.ts";
import { compareRanked, type QualityBreakdown, qualityScore, type Tier, tierOf } from "./quality.ts";

/** Which examples to keep; every field narrows (a list matches any of its values). */
export interface ExampleFilter {
  tiers?: readonly Tier[];
  categories?: readonly string[];
  levels?: readonly number[];
  strategies?: readonly string[];
  models?: readonly string[];
  runs?: readonly string[];
}

/** Options for {@linkcode createCurator} and {@linkcode curate}. */
export interface CurateOptions {
  config: DatasetsConfig;
  guard: LeakageGuard;
  /** @default everything */
  filter?: ExampleFilter;
}

/** An accepted example: its quality, tier and what was merged into it. */
export interface CuratedExample extends Example {
  quality: number;
  tier: Tier;
  breakdown: QualityBreakdown;
  /** Support pooled over its exact duplicates (the quality's support term reads this). */
  groupSupport: number;
  /** Examples merged into it: exact duplicates, near-duplicates (with theirs). */
  merged: { exact: number; near: number };
}

/** Why examples were left out (each example read is counted once, under the first reason that applies). */
export interface ExclusionCounts {
  leakage: Record<LeakReason, number>;
  /** Failed turns (they serve only as the rejected side of DPO pairs). */
  failedTurn: number;
  /** Marked wrong by a person. */
  markedWrong: number;
  /** No successful statement. */
  noSql: number;
  /** Outside the filters. */
  filtered: number;
  /** Quality below bronze. */
  rejectedQuality: number;
  exactDuplicate: number;
  nearDuplicate: number;
  /** Past the per-category cap when balancing (still in the pool staged sets draw from). */
  overCategoryCap: number;
}

/** A preference pair: a train instance's best passing attempt and its worst failing one. */
export interface PreferencePair {
  challengeId: string;
  chosen: Example;
  rejected: Example;
}

/** What curation returns. */
export interface Curation {
  /** Accepted, deduplicated examples, best first (seed 000's order): what staged sets draw from. */
  pool: CuratedExample[];
  /** The pool balanced by category, level and outcome type, at most `balance.per_category_cap` per category. */
  examples: CuratedExample[];
  /** DPO pairs, by challenge id. */
  pairs: PreferencePair[];
  /** Instances with attempts but no pair (no passing or no failing attempt). */
  unpaired: number;
  excluded: ExclusionCounts;
  /** Examples read, by source. */
  read: Record<SourceKind, number>;
  heldOut: HeldOutSummary;
  /** Candidate pairs the near-duplicate index checked. */
  nearDuplicateComparisons: number;
}

/** A streaming curator (see the module doc). */
export interface Curator {
  /** Takes a batch of examples. */
  add(examples: Iterable<Example>): void;
  /** The curation of everything added (a new value; the curator can take more and finish again). */
  finish(): Curation;
}

/** The best candidates of one exact-duplicate group: one of a person's, one synthetic (ranked differently). */
interface Group {
  human?: Example;
  synthetic?: Example;
  members: number;
  support: number;
  episodes: number;
}

/** Counts of nothing excluded yet. */
export function emptyExclusions(): ExclusionCounts {
  return {
    leakage: Object.fromEntries(LEAK_REASONS.map((r) => [r, 0])) as Record<LeakReason, number>,
    failedTurn: 0,
    markedWrong: 0,
    noSql: 0,
    filtered: 0,
    rejectedQuality: 0,
    exactDuplicate: 0,
    nearDuplicate: 0,
    overCategoryCap: 0,
  };
}

const has = <T>(list: readonly T[] | undefined, v: T | null) => !list || (v !== null && list.includes(v));

function passesFilter(e: Example, f: ExampleFilter): boolean {
  return has(f.categories, e.category) && has(f.levels, e.level) && has(f.strategies, e.strategyId) &&
    has(f.models, e.model) && has(f.runs, e.runId);
}

/** A 53-bit key of (normalized intent, SQL key): exact duplicates share it. */
function exactKey(e: Example): number {
  const h1 = fnv1a(e.sqlKey, fnv1a(e.normalizedIntent) ^ 0x5f3759df);
  const h2 = fnv1a(e.sqlKey, fnv1a(e.normalizedIntent, 0x2545f491) ^ 0x1b873593);
  return (h1 & 0x1fffff) * 4294967296 + h2;
}

/** Better of two candidates of one group and kind: the member terms of quality, then fitness, then id. */
function better(a: Example | undefined, b: Example, config: DatasetsConfig): Example {
  if (!a) return b;
  const qa = qualityScore(a, config.quality, 0).score, qb = qualityScore(b, config.quality, 0).score;
  if (qa !== qb) return qb > qa ? b : a;
  if (a.fitness !== b.fitness) return b.fitness > a.fitness ? b : a;
  return b.id < a.id ? b : a;
}

/**
 * A streaming curator.
 *
 * @example
 * ```ts
 * const curator = createCurator({ config, guard: LeakageGuard.fromCatalog(await loadCatalog()) });
 * for await (const batch of patternBatches(store)) curator.add(batch);
 * const { examples, excluded } = curator.finish();
 * ```
 */
export function createCurator(options: CurateOptions): Curator {
  const { config, guard } = options;
  const filter = options.filter ?? {};
  const excluded = emptyExclusions();
  const read: Record<SourceKind, number> = { episode: 0, pattern: 0, ask: 0 };
  const groups = new Map<number, Group>();
  const attempts = new Map<string, { best?: Example; worst?: Example }>();

  /** Keeps, per train instance, its best passing attempt and its worst failing one (for DPO pairs). */
  const pairCandidate = (e: Example) => {
    if (e.source !== "episode" || e.challengeId === null || !passesFilter(e, filter)) return;
    const a = attempts.get(e.challengeId) ?? {};
    if (e.pass) {
      const ok = e.verifierScore === 1 && e.fitness >= config.dpo.min_chosen_fitness && e.calls.length > 0;
      if (ok && (!a.best || e.fitness > a.best.fitness || (e.fitness === a.best.fitness && e.id < a.best.id))) a.best = e;
    } else {
      const w = a.worst;
      const worse = !w || e.fitness < w.fitness ||
        (e.fitness === w.fitness && ((e.verifierScore ?? 0) < (w.verifierScore ?? 0) ||
          ((e.verifierScore ?? 0) === (w.verifierScore ?? 0) && e.id < w.id)));
      if (worse) a.worst = e;
    }
    attempts.set(e.challengeId, a);
  };

  /** The most the support term can add: a candidate below bronze even with it is never kept (only counted). */
  const supportBonus = config.quality.weights.support;
  const add = (examples: Iterable<Example>) => {
    for (const e of examples) {
      read[e.source]++;
      const leak = guard.check(e);
      if (leak) {
        excluded.leakage[leak]++;
        continue;
      }
      pairCandidate(e);
      if (e.markedPass === false) excluded.markedWrong++;
      else if (!e.pass) excluded.failedTurn++;
      else if (!e.calls.length) excluded.noSql++;
      else if (!passesFilter(e, filter)) excluded.filtered++;
      else {
        const k = exactKey(e);
        const g = groups.get(k) ?? { members: 0, support: 0, episodes: 0 };
        g.members++;
        if (e.source === "episode") g.episodes++;
        else g.support = Math.max(g.support, e.support);
        if (e.humanValidated || qualityScore(e, config.quality, 0).score + supportBonus >= config.tiers.bronze) {
          if (e.synthetic) g.synthetic = better(g.synthetic, e, config);
          else g.human = better(g.human, e, config);
        }
        groups.set(k, g);
      }
    }
  };

  const finish = (): Curation => {
    const out: ExclusionCounts = { ...excluded, leakage: { ...excluded.leakage } };
    const accepted: { ex: CuratedExample; members: number }[] = [];
    for (const g of groups.values()) {
      const support = Math.max(1, g.support, g.episodes);
      let best: CuratedExample | undefined;
      for (const e of [g.human, g.synthetic]) {
        if (!e) continue;
        const breakdown = qualityScore(e, config.quality, support);
        // A person's confirmed correction is gold: a person is the verifier of their own question.
        const tier = e.humanValidated ? "gold" : tierOf(breakdown.score, config.tiers);
        if (!tier) continue;
        const c: CuratedExample = {
          ...e,
          quality: breakdown.score,
          tier,
          breakdown,
          groupSupport: support,
          merged: { exact: g.members - 1, near: 0 },
        };
        if (!best || compareRanked(c, best) < 0) best = c;
      }
      if (!best) out.rejectedQuality += g.members;
      else if (filter.tiers && !filter.tiers.includes(best.tier)) out.filtered += g.members;
      else {
        out.exactDuplicate += g.members - 1;
        accepted.push({ ex: best, members: g.members });
      }
    }
    accepted.sort((a, b) => compareRanked(a.ex, b.ex));
    const index = new NearDuplicateIndex({ intentJaccard: config.dedup.intent_jaccard, sqlJaccard: config.dedup.sql_jaccard });
    const pool: CuratedExample[] = [];
    for (const { ex, members } of accepted) {
      const dup = index.offer(shingles(ex.normalizedIntent, ex.sqlKey));
      if (dup < 0) pool.push(ex);
      else {
        out.nearDuplicate++;
        pool[dup].merged.near += members;
      }
    }
    const examples = balance(pool, config.balance.per_category_cap);
    out.overCategoryCap = pool.length - examples.length;
    const pairs: PreferencePair[] = [];
    let unpaired = 0;
    for (const [challengeId, a] of [...attempts.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
      if (a.best && a.worst) pairs.push({ challengeId, chosen: a.best, rejected: a.worst });
      else unpaired++;
    }
    return {
      pool,
      examples,
      pairs,
      unpaired,
      excluded: out,
      read: { ...read },
      heldOut: guard.summary(),
      nearDuplicateComparisons: index.comparisons,
    };
  };

  return { add, finish };
}

/**
 * Curates an array of examples (see the module doc).
 *
 * @example
 * ```ts
 * const c = curate([...episodes, ...patterns], { config: await loadDatasetsConfig(), guard });
 * console.log(c.examples.length, c.excluded);
 * ```
 */
export function curate(examples: Iterable<Example>, options: CurateOptions): Curation {
  const c = createCurator(options);
  c.add(examples);
  return c.finish();
}

/** What balancing reads of an example. */
type Balanced = Pick<Example, "category" | "level" | "outcome">;

/**
 * Balanced by category, level and outcome type: per category, round robin over its (level, outcome type)
 * strata, best first within each, until `perCategory` (a number, or one per category) are taken. Keeps the input
 * order (pass it ranked).
 */
export function balance<T extends Balanced>(ranked: readonly T[], perCategory: number | ReadonlyMap<string, number>): T[] {
  const byCategory = new Map<string, Map<string, number[]>>();
  ranked.forEach((e, i) => {
    let strata = byCategory.get(e.category);
    if (!strata) byCategory.set(e.category, strata = new Map());
    const key = `${e.level ?? "-"}|${e.outcome ?? "-"}`;
    const stratum = strata.get(key);
    if (stratum) stratum.push(i);
    else strata.set(key, [i]);
  });
  const take = new Uint8Array(ranked.length);
  for (const [category, strata] of byCategory) {
    const cap = typeof perCategory === "number" ? perCategory : perCategory.get(category) ?? 0;
    const queues = [...strata.values()];
    const pos = new Array(queues.length).fill(0);
    let taken = 0;
    for (let live = queues.length; taken < cap && live > 0;) {
      live = 0;
      for (let s = 0; s < queues.length && taken < cap; s++) {
        if (pos[s] >= queues[s].length) continue;
        take[queues[s][pos[s]++]] = 1;
        taken++;
        live++;
      }
    }
  }
  return ranked.filter((_, i) => take[i]);
}

/** The staged sets (seed 000). */
export const STAGES = ["core", "extended", "comprehensive"] as const;
/** A staged set's name. */
export type StageName = (typeof STAGES)[number];

/** One staged set. */
export interface StageSet {
  name: StageName;
  spec: StageConfig;
  /** Pool examples meeting the stage's fitness floor and levels. */
  available: number;
  examples: CuratedExample[];
  /** Fewer than the target size exist. */
  scaledDown: boolean;
  /** For the manifest: what was selected and, when scaled down, why. */
  note: string;
}

/**
 * Per-category shares of `size` by max-min fairness (water filling): every category gets the same cap `c`, or all
 * it has when that is less, and the slots left go one more to each of the best-ranked categories still holding more.
 */
function fairShares(counts: ReadonlyMap<string, number>, size: number, order: readonly string[]): Map<string, number> {
  const shares = new Map<string, number>();
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  if (total <= size) return new Map(counts);
  let lo = 0, hi = size;
  const used = (c: number) => [...counts.values()].reduce((a, n) => a + Math.min(n, c), 0);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (used(mid) <= size) lo = mid;
    else hi = mid - 1;
  }
  for (const [k, n] of counts) shares.set(k, Math.min(n, lo));
  let left = size - used(lo);
  for (const k of order) {
    if (left <= 0) break;
    if ((counts.get(k) ?? 0) > lo) {
      shares.set(k, lo + 1);
      left--;
    }
  }
  return shares;
}

/**
 * Seed 000's staged sets from a curation's pool: per stage, examples at the stage's composite-fitness floor (and
 * levels), balanced across categories by fair shares of the target size, then by level and outcome type within
 * each. When fewer exist the stage is scaled down, and its note says so.
 *
 * @example
 * ```ts
 * const stages = stageSets(curation, config);
 * console.log(stages.core.examples.length, stages.core.note);
 * ```
 */
export function stageSets(curation: Pick<Curation, "pool">, config: DatasetsConfig): Record<StageName, StageSet> {
  const out = {} as Record<StageName, StageSet>;
  for (const name of STAGES) {
    const spec = config.stages[name];
    const eligible = curation.pool.filter((e) =>
      e.fitness >= spec.min_fitness && (!spec.levels || (e.level !== null && spec.levels.includes(e.level)))
    );
    const counts = new Map<string, number>();
    const order: string[] = [];
    for (const e of eligible) {
      if (!counts.has(e.category)) order.push(e.category);
      counts.set(e.category, (counts.get(e.category) ?? 0) + 1);
    }
    const examples = balance(eligible, fairShares(counts, spec.size, order));
    const scaledDown = examples.length < spec.size;
    const where = `composite fitness ≥ ${spec.min_fitness}${spec.levels ? `, levels ${spec.levels.join(", ")}` : ""}`;
    out[name] = {
      name,
      spec,
      available: eligible.length,
      examples,
      scaledDown,
      note: scaledDown
        ? `scaled down: ${examples.length} of the target ${spec.size} — only ${eligible.length} curated examples at ${where}`
        : `${examples.length} examples at ${where}, balanced across ${counts.size} categories`,
    };
  }
  return out;
}
