/**
 * Edit-pattern analysis (seed 004's EditPatternAnalyzer): what people change most in the agent's answers — SQL
 * fragments added and removed, tables, columns, filters, aggregation, grouping, ordering, limits and answer shape,
 * each with its count and frequency (share of the group's edited corrections) — per strategy, category or model, and
 * beside them the most common failure reasons of the verifiers' verdicts (failed episodes in a tournament store),
 * grouped the same way. Reasons are grouped by their form: numbers become `#` and quoted values `'…'`, so "2 of 4
 * orders" and "3 of 5 orders" count as one reason.
 * @module
 */
import type { PatternStore } from "../patterns/mod.ts";
import { queryStore, type StoreRef } from "../tournament/mod.ts";
import { sqlString } from "../util/mod.ts";
import { type Correction, listCorrections, type SimulatedFilter } from "./corrections.ts";
import { MODIFICATION_KINDS, type ModificationKind } from "./diff.ts";

/** What edits are grouped by. */
export const EDIT_GROUPINGS = ["strategy", "category", "model"] as const;
/** What edits are grouped by. */
export type EditGrouping = (typeof EDIT_GROUPINGS)[number];

/** One item and how often it occurs: `frequency` is `count` over the group's edited corrections (or failures). */
export interface Frequency {
  value: string;
  count: number;
  frequency: number;
}

/** Added and removed items of one kind, most frequent first. */
export interface AddedRemoved {
  added: Frequency[];
  removed: Frequency[];
}

/** One group's edits and failures. */
export interface EditGroup {
  /** The strategy, category or model (`(none)` when unknown). */
  key: string;
  /** Corrections in the group. */
  corrections: number;
  /** Of which changed the SQL or the answer. */
  edited: number;
  /** SQL fragments (token runs) inserted and deleted. */
  fragments: AddedRemoved;
  /** Modifications by kind (tables, columns, filters, …); `changed` ones (order, limit, answer) count as added. */
  modifications: Record<ModificationKind, AddedRemoved>;
  /** Failed episodes in the tournament store for this group. */
  failures: number;
  /** Their verdict reasons by form, most frequent first (frequency: share of the group's failures). */
  failureReasons: Frequency[];
}

/** The analysis: groups by size (corrections, then failures), then key. */
export interface EditReport {
  by: EditGrouping;
  simulated: SimulatedFilter;
  /** Corrections read, and how many changed something. */
  corrections: number;
  edited: number;
  /** Failed episodes read (0 without a tournament store). */
  failures: number;
  groups: EditGroup[];
}

/** A failed episode's grouping fields and verdict reason (as read from a tournament store). */
export interface FailureRow {
  strategyId: string | null;
  model: string | null;
  category: string | null;
  reason: string;
  /** How many failed episodes share these fields. @default 1 */
  count?: number;
}

/** A verdict reason's form: numbers → `#`, quoted values → `'…'`, whitespace collapsed. */
export function reasonForm(reason: string): string {
  return reason
    .replace(/'(?:[^']|'')*'|"(?:[^"]|"")*"/g, "'…'")
    .replace(/-?\b\d+(?:[.,]\d+)*(?:e[+-]?\d+)?\b/gi, "#")
    .replace(/\s+/g, " ")
    .trim();
}

const NONE = "(none)";
const keyOf = (by: EditGrouping, v: { strategyId: string | null; model: string | null; category: string | null }) =>
  (by === "strategy" ? v.strategyId : by === "model" ? v.model : v.category) ?? NONE;

/** Counts as frequencies over `n`, most frequent first, then by value; at most `top`. */
function frequencies(counts: Map<string, number>, n: number, top: number): Frequency[] {
  return [...counts.entries()]
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, top)
    .map(([value, count]) => ({ value, count, frequency: n ? Math.round((count / n) * 1e4) / 1e4 : 0 }));
}

const bump = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);

/** Options of {@linkcode aggregateEdits} and {@linkcode editPatterns}. */
export interface EditOptions {
  /** @default "strategy" */
  by?: EditGrouping;
  /** Items listed per kind. @default 10 */
  top?: number;
}

/**
 * The edit-pattern analysis of corrections and failed episodes (the pure part of {@linkcode editPatterns}). Within a
 * correction an item counts once (a fragment removed twice is one edit that removes it).
 *
 * @example
 * ```ts
 * const r = aggregateEdits(await listCorrections(store), [], { by: "category" });
 * r.groups[0].modifications.filter.added[0]; // e.g. { value: "status = 'open'", count: 3, frequency: 0.75 }
 * ```
 */
export function aggregateEdits(
  corrections: readonly Correction[],
  failures: readonly FailureRow[],
  options: EditOptions & { simulated?: SimulatedFilter } = {},
): EditReport {
  const by = options.by ?? "strategy";
  if (!EDIT_GROUPINGS.includes(by)) throw new RangeError(`by must be one of ${EDIT_GROUPINGS.join(", ")}, found '${by}'`);
  const top = options.top ?? 10;
  if (!Number.isInteger(top) || top < 1) throw new RangeError(`top must be a positive integer, found ${top}`);
  interface Acc {
    corrections: number;
    edited: number;
    fragments: { added: Map<string, number>; removed: Map<string, number> };
    mods: Map<ModificationKind, { added: Map<string, number>; removed: Map<string, number> }>;
    failures: number;
    reasons: Map<string, number>;
  }
  const groups = new Map<string, Acc>();
  const acc = (k: string): Acc => {
    let g = groups.get(k);
    if (!g) {
      g = {
        corrections: 0,
        edited: 0,
        fragments: { added: new Map(), removed: new Map() },
        mods: new Map(MODIFICATION_KINDS.map((m) => [m, { added: new Map(), removed: new Map() }])),
        failures: 0,
        reasons: new Map(),
      };
      groups.set(k, g);
    }
    return g;
  };
  let edited = 0, failed = 0;
  for (const c of corrections) {
    const g = acc(keyOf(by, { strategyId: c.ask.strategyId, model: c.ask.model, category: c.ask.category }));
    g.corrections++;
    if (!c.diff.sqlChanged && !c.diff.answerChanged) continue;
    g.edited++;
    edited++;
    for (const f of new Set(c.diff.added)) bump(g.fragments.added, f);
    for (const f of new Set(c.diff.removed)) bump(g.fragments.removed, f);
    const seen = new Set<string>();
    for (const m of c.diff.modifications) {
      const side = m.change === "removed" ? "removed" : "added";
      const key = `${m.kind}\u0000${side}\u0000${m.value}`;
      if (seen.has(key)) continue;
      seen.add(key);
      bump(g.mods.get(m.kind)![side], m.value);
    }
  }
  for (const f of failures) {
    const n = f.count ?? 1;
    const g = acc(keyOf(by, f));
    g.failures += n;
    failed += n;
    bump(g.reasons, reasonForm(f.reason), n);
  }
  const out: EditGroup[] = [...groups.entries()].map(([key, g]) => ({
    key,
    corrections: g.corrections,
    edited: g.edited,
    fragments: { added: frequencies(g.fragments.added, g.edited, top), removed: frequencies(g.fragments.removed, g.edited, top) },
    modifications: Object.fromEntries(
      [...g.mods.entries()].map(([k, m]) => [k, { added: frequencies(m.added, g.edited, top), removed: frequencies(m.removed, g.edited, top) }]),
    ) as Record<ModificationKind, AddedRemoved>,
    failures: g.failures,
    failureReasons: frequencies(g.reasons, g.failures, top),
  }));
  out.sort((a, b) => b.corrections - a.corrections || b.failures - a.failures || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { by, simulated: options.simulated ?? "real", corrections: corrections.length, edited, failures: failed, groups: out };
}

/**
 * Failed episodes of a tournament store, counted by strategy, model, category and verdict reason (every run, or
 * `runs`). The category is the one the episode's record holds.
 *
 * @example
 * ```ts
 * const failures = await failureReasons("data/lab.duckdb");
 * ```
 */
export async function failureReasons(db: StoreRef, options: { runs?: readonly string[] } = {}): Promise<FailureRow[]> {
  const runs = options.runs ? `AND run_id IN (${options.runs.map(sqlString).join(", ") || "NULL"})` : "";
  const rows = await queryStore(
    db,
    `SELECT strategy_id, model_name, trace->>'$.challenge.category' AS category, reason, count(*)::INTEGER AS n
     FROM episodes WHERE NOT pass ${runs} GROUP BY ALL ORDER BY ALL`,
  );
  return rows.map((r) => ({
    strategyId: (r.strategy_id as string | null) ?? null,
    model: (r.model_name as string | null) ?? null,
    category: (r.category as string | null) ?? null,
    reason: String(r.reason ?? ""),
    count: Number(r.n),
  }));
}

/** Options of {@linkcode editPatterns}. */
export interface EditPatternOptions extends EditOptions {
  /** A tournament store whose failed episodes give the failure reasons. @default none (no failure reasons) */
  db?: StoreRef;
  /** @default "real" */
  simulated?: SimulatedFilter;
}

/**
 * What people change most, per strategy, category or model, with the verifiers' most common failure reasons (see
 * the module doc).
 *
 * @example
 * ```ts
 * const r = await editPatterns(store, { by: "model", db: "data/lab.duckdb" });
 * console.log(formatEditReport(r));
 * ```
 */
export async function editPatterns(store: PatternStore, options: EditPatternOptions = {}): Promise<EditReport> {
  const simulated = options.simulated ?? "real";
  const corrections = await listCorrections(store, { simulated });
  const failures = options.db === undefined ? [] : await failureReasons(options.db);
  return aggregateEdits(corrections, failures, { ...options, simulated });
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/**
 * The report as text: per group its counts, then the most frequent items of each kind that has any.
 *
 * @example
 * ```ts
 * console.log(formatEditReport(await editPatterns(store)));
 * ```
 */
export function formatEditReport(r: EditReport, options: { top?: number } = {}): string {
  const top = options.top ?? 5;
  const lines = [
    `edits by ${r.by} (${r.simulated === "real" ? "real corrections" : r.simulated === "simulated" ? "simulated corrections" : "real and simulated corrections"}): ` +
    `${r.corrections} corrections, ${r.edited} edited; ${r.failures} failed episodes`,
  ];
  if (!r.groups.length) lines.push("  nothing to analyse yet: correct an answer with 'lab ask --correct <id>'");
  const list = (label: string, xs: Frequency[]) => {
    if (xs.length) lines.push(`    ${label}: ${xs.slice(0, top).map((x) => `${x.value} (${x.count}, ${pct(x.frequency)})`).join("; ")}`);
  };
  for (const g of r.groups) {
    lines.push(`  ${g.key}: ${g.corrections} corrections, ${g.edited} edited, ${g.failures} failures`);
    list("SQL added", g.fragments.added);
    list("SQL removed", g.fragments.removed);
    for (const k of MODIFICATION_KINDS) {
      list(`${k.replace("_", " ")} added`, g.modifications[k].added);
      list(`${k.replace("_", " ")} removed`, g.modifications[k].removed);
    }
    list("failure reasons", g.failureReasons);
  }
  return lines.join("\n");
}
