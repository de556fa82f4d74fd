/**
 * Natural selection over strategies as data: rank by mean composite fitness, replace the weakest with children
 * of the strongest. A child is a new {@linkcode Strategy} value (STYLE #6: parents are never changed) made by a
 * mutation (sampling parameters nudged, prompt flags flipped) or a crossover (instruction sentences, flags and
 * sampling taken from either of two parents). Every draw comes from a seeded stream, so the same ranking and
 * seed always breed the same children.
 * @module
 */
import type { Strategy } from "../agents/mod.ts";
import { seededRandom } from "../stats/mod.ts";
import type { TournamentConfig } from "./config.ts";

/** How a strategy came to be. */
export interface Lineage {
  /** Parent strategy ids (none for the starting population). */
  parents: string[];
  operation: "seed" | "mutation" | "crossover";
  /** Dotted paths of the fields that differ from the first parent, e.g. `sampling.temperature`. */
  changed: string[];
}

/** A strategy's standing in one generation. */
export interface Standing {
  strategyId: string;
  meanFitness: number;
  successRate: number;
  episodes: number;
}

/** FNV-1a of a string, 32 bits: stable seeds from names. */
export function hashSeed(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 1;
}

/**
 * Ranks strategies, strongest first: by mean composite fitness, then success rate, then id (so ties are
 * broken the same way every run).
 */
export function rankStandings(standings: readonly Standing[]): Standing[] {
  return [...standings].sort((a, b) =>
    b.meanFitness - a.meanFitness || b.successRate - a.successRate || (a.strategyId < b.strategyId ? -1 : 1)
  );
}

/** The root name of a strategy id: `alpha.g3.m1` → `alpha`. */
export function rootId(id: string): string {
  return id.split(".")[0];
}

const FLAGS = [
  ["tools", "prefer_views"],
  ["tools", "use_todos"],
  ["verification", "verify_steps"],
] as const;

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/** The dotted paths where `child` differs from `parent` (the fields selection can change). */
export function changedFields(parent: Strategy, child: Strategy): string[] {
  const out: string[] = [];
  if (parent.instructions !== child.instructions) out.push("instructions");
  for (const k of ["temperature", "top_p"] as const) {
    if (parent.sampling[k] !== child.sampling[k]) out.push(`sampling.${k}`);
  }
  for (const [group, flag] of FLAGS) {
    if ((parent[group] as Record<string, unknown>)[flag] !== (child[group] as Record<string, unknown>)[flag]) {
      out.push(`${group}.${flag}`);
    }
  }
  return out;
}

/**
 * A mutated copy of `parent` with id `id`: each sampling parameter moves by up to ± `step` with chance
 * `sampling`, each flag flips with chance `flags`; when nothing changed, the temperature moves (a child always
 * differs from its parent).
 */
export function mutate(
  parent: Strategy,
  id: string,
  rates: TournamentConfig["selection"]["mutation"],
  rand: () => number,
): Strategy {
  const child: Strategy = structuredClone({ ...parent, id });
  const nudge = (x: number, lo: number, hi: number) => round3(clamp(x + (rand() * 2 - 1) * rates.step, lo, hi));
  if (rand() < rates.sampling) child.sampling.temperature = nudge(child.sampling.temperature, 0, 2);
  if (rand() < rates.sampling) child.sampling.top_p = nudge(child.sampling.top_p, 0.05, 1);
  for (const [group, flag] of FLAGS) {
    if (rand() < rates.flags) {
      const g = child[group] as Record<string, boolean>;
      g[flag] = !g[flag];
    }
  }
  if (changedFields(parent, child).length === 0) {
    const t = parent.sampling.temperature;
    child.sampling.temperature = round3(t + rates.step <= 2 ? t + rates.step : t - rates.step);
  }
  child.description = `${parent.description} [mutation of ${parent.id}]`;
  return child;
}

function sentences(text: string): string[] {
  return text.match(/[^.!?]+[.!?]*\s*/g)?.map((s) => s.trim()).filter(Boolean) ?? [text];
}

/**
 * A crossover of `a` (the stronger) and `b` with id `id`: instruction sentences by position from either parent
 * (uniform), each flag and sampling parameter from either parent; budgets and tools from `a`.
 */
export function crossover(a: Strategy, b: Strategy, id: string, rand: () => number): Strategy {
  const child: Strategy = structuredClone({ ...a, id });
  const sa = sentences(a.instructions), sb = sentences(b.instructions);
  const picked: string[] = [];
  for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
    const from = rand() < 0.5 ? sa : sb;
    const s = from[i] ?? (from === sa ? sb[i] : sa[i]);
    if (s) picked.push(s);
  }
  child.instructions = picked.join(" ");
  for (const k of ["temperature", "top_p"] as const) if (rand() < 0.5) child.sampling[k] = b.sampling[k];
  for (const [group, flag] of FLAGS) {
    if (rand() < 0.5) (child[group] as Record<string, boolean>)[flag] = (b[group] as Record<string, boolean>)[flag];
  }
  child.description = `crossover of ${a.id} × ${b.id}`;
  return child;
}

/** One generation's selection: who was replaced and by whom. */
export interface SelectionResult {
  /** The next population, in the order of the current one (children take the place of the replaced). */
  population: Strategy[];
  /** Ids replaced, weakest first. */
  replaced: string[];
  /** The children with their lineage. */
  children: { strategy: Strategy; lineage: Lineage }[];
}

/**
 * Replaces the `replace` weakest of `ranking` with children of the strongest. Child `i` (1-based) of generation
 * `nextGeneration` is named `<root of parent>.g<nextGeneration>.m<i>` (mutation) or `.x<i>` (crossover). The
 * random stream is seeded by (`seed`, `nextGeneration`), so the same inputs breed the same children.
 *
 * @example
 * ```ts
 * const next = selectNext(population, rankStandings(standings), 2, config.selection, config.seed);
 * next.children[0].strategy.id; // "alpha.g2.m1"
 * ```
 */
export function selectNext(
  population: readonly Strategy[],
  ranking: readonly Standing[],
  nextGeneration: number,
  selection: TournamentConfig["selection"],
  seed: number,
): SelectionResult {
  const byId = new Map(population.map((s) => [s.id, s]));
  const replace = Math.min(selection.replace, Math.max(0, ranking.length - 1));
  const replaced = ranking.slice(ranking.length - replace).map((r) => r.strategyId).reverse();
  const survivors = ranking.slice(0, ranking.length - replace).map((r) => byId.get(r.strategyId)!);
  const rand = seededRandom(hashSeed(`select:${seed}:${nextGeneration}`));
  const children: SelectionResult["children"] = [];
  replaced.forEach((_, i) => {
    const n = i + 1;
    if (survivors.length >= 2 && rand() < selection.crossover) {
      const [a, b] = survivors;
      const child = crossover(a, b, `${rootId(a.id)}.g${nextGeneration}.x${n}`, rand);
      children.push({ strategy: child, lineage: { parents: [a.id, b.id], operation: "crossover", changed: changedFields(a, child) } });
    } else {
      // Parents in rank order, round robin: the strongest breeds first.
      const parent = survivors[i % survivors.length];
      const child = mutate(parent, `${rootId(parent.id)}.g${nextGeneration}.m${n}`, selection.mutation, rand);
      children.push({ strategy: child, lineage: { parents: [parent.id], operation: "mutation", changed: changedFields(parent, child) } });
    }
  });
  const childFor = new Map(replaced.map((id, i) => [id, children[i].strategy]));
  return { population: population.map((s) => childFor.get(s.id) ?? s), replaced, children };
}
