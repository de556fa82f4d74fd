/**
 * Summaries of a build for a person to read: the rows a notebook shows as tables and charts (tiers by category,
 * exclusions, redactions, staged sets) and the one-line account the demo prints. Counting only: nothing here
 * changes what {@linkcode buildDataset} selected.
 * @module
 */
import { basename } from "node:path";
import type { BuildResult } from "./build.ts";
import { STAGES } from "./curate.ts";
import { TIERS, type Tier } from "./quality.ts";
import { REDACTION_KINDS } from "./redact.ts";

/**
 * What a build accepted and left out, in counts.
 * @internal
 */
export interface BuildSummary {
  /** Examples read, over all sources. */
  read: number;
  /** Accepted, deduplicated examples (the pool staged sets draw from). */
  accepted: number;
  /** The balanced training set (`train.jsonl`). */
  train: number;
  byTier: Record<Tier, number>;
  /** Left out, by reason (leakage reasons summed under `heldOut`). */
  excluded: { heldOut: number; failedTurn: number; markedWrong: number; noSql: number; filtered: number; belowBronze: number; duplicates: number; overCategoryCap: number };
  /** DPO pairs. */
  pairs: number;
  /** Selected examples per staged set (empty when the build wrote none). */
  stages: Partial<Record<(typeof STAGES)[number], number>>;
  /** Redactions over every file written. */
  redactions: number;
}

/**
 * Counts of a build: read, accepted, per tier, exclusions by reason, DPO pairs, staged sets, redactions.
 *
 * @example
 * ```ts
 * const s = buildSummary(await buildDataset(sources, options));
 * console.log(s.accepted, s.byTier.gold, s.excluded.belowBronze);
 * ```
 */
export function buildSummary(result: BuildResult): BuildSummary {
  const c = result.curation;
  const byTier = Object.fromEntries(TIERS.map((t) => [t, c.pool.filter((x) => x.tier === t).length])) as Record<Tier, number>;
  const x = c.excluded;
  return {
    read: Object.values(c.read).reduce((a, b) => a + b, 0),
    accepted: c.pool.length,
    train: c.examples.length,
    byTier,
    excluded: {
      heldOut: Object.values(x.leakage).reduce((a, b) => a + b, 0),
      failedTurn: x.failedTurn,
      markedWrong: x.markedWrong,
      noSql: x.noSql,
      filtered: x.filtered,
      belowBronze: x.rejectedQuality,
      duplicates: x.exactDuplicate + x.nearDuplicate,
      overCategoryCap: x.overCategoryCap,
    },
    pairs: c.pairs.length,
    stages: result.stages ? Object.fromEntries(STAGES.map((s) => [s, result.stages![s].examples.length])) : {},
    redactions: result.files.reduce((a, f) => a + f.manifest.redactions.total, 0),
  };
}

/**
 * One line: what was read, accepted per tier, left out and why, DPO pairs and the staged sets.
 *
 * @example
 * ```ts
 * formatBuildSummary(buildSummary(r));
 * // "read 173 examples → 0 accepted (gold 0, silver 0, bronze 0); left out: 166 failed turns, 7 below bronze, …"
 * ```
 */
export function formatBuildSummary(s: BuildSummary): string {
  const out = Object.entries({
    "held out": s.excluded.heldOut,
    "failed turns": s.excluded.failedTurn,
    "marked wrong": s.excluded.markedWrong,
    "without SQL": s.excluded.noSql,
    "filtered": s.excluded.filtered,
    "below bronze": s.excluded.belowBronze,
    "duplicates": s.excluded.duplicates,
  }).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`);
  const stages = Object.entries(s.stages).map(([k, n]) => `${k} ${n}`).join(", ");
  return `read ${s.read} examples → ${s.accepted} accepted (${TIERS.map((t) => `${t} ${s.byTier[t]}`).join(", ")})` +
    `${out.length ? `; left out: ${out.join(", ")}` : ""}; ${s.pairs} DPO pairs${stages ? `; staged sets: ${stages}` : ""}`;
}

/**
 * Accepted examples by tier and category (one row per pair with a count), for a table or a stacked bar chart.
 *
 * @example
 * ```ts
 * await chart(barChart(tierRows(r), { x: "category", y: "examples", color: "tier" }));
 * ```
 */
export function tierRows(result: BuildResult): { tier: Tier; category: string; examples: number }[] {
  const n = new Map<string, number>();
  for (const x of result.curation.pool) n.set(`${x.tier}\t${x.category}`, (n.get(`${x.tier}\t${x.category}`) ?? 0) + 1);
  return [...n].map(([k, examples]) => {
    const [tier, category] = k.split("\t");
    return { tier: tier as Tier, category, examples };
  }).sort((a, b) => TIERS.indexOf(a.tier) - TIERS.indexOf(b.tier) || a.category.localeCompare(b.category));
}

/**
 * The balanced training set by category and level: the balance, as rows.
 *
 * @example
 * ```ts
 * htmlTable(balanceRows(r), { caption: "train.jsonl by category and level" });
 * ```
 */
export function balanceRows(result: BuildResult): { category: string; level: string; examples: number }[] {
  const n = new Map<string, number>();
  for (const x of result.curation.examples) {
    const k = `${x.category}\tL${x.level ?? "—"}`;
    n.set(k, (n.get(k) ?? 0) + 1);
  }
  return [...n].map(([k, examples]) => {
    const [category, level] = k.split("\t");
    return { category, level, examples };
  }).sort((a, b) => a.category.localeCompare(b.category) || a.level.localeCompare(b.level));
}

/**
 * Redactions per file written and kind (the kinds some file has), with each file's total.
 *
 * @example
 * ```ts
 * htmlTable(redactionRows(r), { caption: "Redactions" });
 * ```
 */
export function redactionRows(result: BuildResult): Record<string, string | number>[] {
  const kinds = REDACTION_KINDS.filter((k) => result.files.some((f) => f.manifest.redactions[k] > 0));
  return result.files.map((f) => {
    const r = f.manifest.redactions;
    return { file: basename(f.path), rows: f.manifest.rows, ...Object.fromEntries(kinds.map((k) => [k, r[k]])), total: r.total };
  });
}

/**
 * The staged sets as rows: target size, floor on composite fitness, levels, available, selected and the note
 * (why a stage was scaled down).
 *
 * @example
 * ```ts
 * htmlTable(stageRows(r), { caption: "Seed 000's staged sets" });
 * ```
 */
export function stageRows(result: BuildResult): Record<string, string | number | boolean>[] {
  if (!result.stages) return [];
  return STAGES.map((name) => {
    const s = result.stages![name];
    return {
      stage: name,
      target: s.spec.size,
      "min fitness": s.spec.min_fitness,
      levels: s.spec.levels?.join(", ") ?? "all",
      available: s.available,
      selected: s.examples.length,
      "scaled down": s.scaledDown,
      note: s.note,
    };
  });
}
