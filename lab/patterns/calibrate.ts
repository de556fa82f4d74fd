/**
 * Calibrates the retrieval cut-off for an embedder on `dev`: seed 000's 0.75 was meant for learned embeddings,
 * and a hashed lexical embedder has another similarity scale.
 *
 * Method: every instance of the tuning split (`dev`) is a query, every instance of `train` a reference; both
 * texts go through `normalizeIntent` and the embedder. A pair is positive when both instances belong to the
 * same challenge family (a pattern of the same family is what injection should find). The chosen cut-off
 * maximises F1 of "similarity ≥ cut-off ⇔ same family" over all pairs; it sits halfway between the last pair
 * taken and the next one. Precision/recall are recorded at the chosen cut-off and at 0.75, on dev and (never
 * tuned on) on test_id.
 *
 * Ranking figures compare dense ordering with hybrid ordering (dense + BM25 by RRF, as retrieval does) for
 * each distinct normalized query: references above the cut-off (one per distinct normalized text, as the
 * store merges them), the first `limit` kept. Hybrid becomes the default only when it beats dense on dev by
 * more than one query's worth (1/queries) on precision of what is returned or on MRR, and is not worse on the
 * other.
 *
 * Run `deno run -A lab/patterns/calibrate.ts` to recompute and write configs/patterns.yaml.
 * @module
 */
import { isScalar, parseDocument, visit, type YAMLMap } from "yaml";
import { type Challenge, loadCatalog } from "../challenges/mod.ts";
import { writeTextAtomic } from "../util/mod.ts";
import { type Embedder, localEmbedder } from "./embed.ts";
import { normalizeIntent } from "./normalize.ts";
import {
  CalibrationRecord,
  type CutoffFigures,
  loadPatternsConfig,
  PATTERNS_CONFIG_FILE,
  type RankingFigures,
} from "./_config.ts";
import type { RetrievedPattern } from "./_search.ts";
import { fuseLexical } from "./_hybrid.ts";
import { dotAt } from "./_ann.ts";

/** Seed 000's cut-off. */
export const SEED_CUTOFF = 0.75;

/** Options for {@linkcode calibrateCutoff}. */
export interface CalibrateOptions {
  /** @default localEmbedder() */
  embedder?: Embedder;
  /** @default normalizeIntent */
  normalize?: (text: string) => string;
  /** The catalog's instances. @default loadCatalog() */
  challenges?: readonly Challenge[];
  /** Results per query in the ranking figures. @default 5 */
  limit?: number;
  /** Hybrid candidates and fusion. @default 50 candidates, rrf_k 60, lexical_weight 1 */
  hybrid?: { candidates?: number; rrf_k?: number; lexical_weight?: number };
}

/** A similarity with its label. */
interface Scored {
  sim: number;
  positive: boolean;
}

/** Precision, recall and F1 of "similarity ≥ cutoff" over labelled pairs. */
export function figuresAt(pairs: readonly Scored[], cutoff: number): CutoffFigures {
  let tp = 0, fp = 0, pos = 0;
  for (const p of pairs) {
    if (p.positive) pos++;
    if (p.sim >= cutoff) p.positive ? tp++ : fp++;
  }
  const precision = tp + fp ? tp / (tp + fp) : 1;
  const recall = pos ? tp / pos : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { cutoff, precision: round(precision), recall: round(recall), f1: round(f1) };
}

/** The cut-off maximising F1 (halfway between the last pair taken and the next), with its figures. */
export function bestF1Cutoff(pairs: readonly Scored[]): CutoffFigures {
  const sorted = [...pairs].sort((a, b) => b.sim - a.sim);
  const pos = sorted.filter((p) => p.positive).length;
  let tp = 0, best = -1, bestAt = 0;
  for (let k = 0; k < sorted.length; k++) {
    if (sorted[k].positive) tp++;
    if (k + 1 < sorted.length && sorted[k + 1].sim === sorted[k].sim) continue; // a cut-off takes all ties
    const f1 = (2 * tp) / (k + 1 + pos);
    if (f1 > best) {
      best = f1;
      bestAt = k;
    }
  }
  const next = sorted[bestAt + 1]?.sim ?? sorted[bestAt].sim - 0.01;
  const cutoff = Math.round(((sorted[bestAt].sim + next) / 2) * 10_000) / 10_000;
  return figuresAt(pairs, cutoff);
}

/** Area under the ROC curve (probability a positive pair outscores a negative one). */
export function rocAuc(pairs: readonly Scored[]): number {
  const sorted = [...pairs].sort((a, b) => a.sim - b.sim);
  let rankSum = 0, pos = 0;
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j < sorted.length && sorted[j].sim === sorted[i].sim) j++;
    const avgRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if (sorted[k].positive) {
        rankSum += avgRank;
        pos++;
      }
    }
    i = j;
  }
  const neg = sorted.length - pos;
  return pos && neg ? round((rankSum - (pos * (pos + 1)) / 2) / (pos * neg)) : 0;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

interface Embedded {
  family: string;
  normalized: string;
  vec: Float32Array;
}

async function embedAll(
  cs: readonly Challenge[],
  embedder: Embedder,
  normalize: (t: string) => string,
): Promise<Embedded[]> {
  const norm = cs.map((c) => normalize(c.task));
  const vecs = await embedder.embed(norm);
  return cs.map((c, i) => ({ family: c.family, normalized: norm[i], vec: vecs[i] }));
}

function pairsOf(queries: readonly Embedded[], refs: readonly Embedded[]): Scored[] {
  const out: Scored[] = [];
  for (const q of queries) {
    for (const r of refs) out.push({ sim: dotAt(q.vec, 0, r.vec, 0, q.vec.length), positive: q.family === r.family });
  }
  return out;
}

/** Dense vs hybrid ranking figures of `queries` against `refs` at `cutoff`. */
async function rankingFigures(
  queries: readonly Embedded[],
  refs: readonly Embedded[],
  cutoff: number,
  limit: number,
  hybrid: { candidates: number; rrf_k: number; lexical_weight: number },
): Promise<{ dense: RankingFigures; hybrid: RankingFigures }> {
  // One reference per distinct normalized text (the store merges them), one query per distinct text.
  const uniq = <T extends Embedded>(
    xs: readonly T[],
  ) => [...new Map(xs.map((x) => [`${x.family}\u0000${x.normalized}`, x])).values()];
  const rs = uniq(refs), qs = uniq(queries);
  const acc = { dense: [] as boolean[][], hybrid: [] as boolean[][] };
  for (const q of qs) {
    const cands: RetrievedPattern[] = rs.map((r, i) => ({
      id: String(i).padStart(6, "0"),
      intent: r.normalized,
      normalizedIntent: r.normalized,
      role: "",
      category: "",
      level: null,
      calls: [],
      answerShape: null,
      fitness: 1,
      similarity: dotAt(q.vec, 0, r.vec, 0, q.vec.length),
      lexical: null,
      score: 0,
      support: 1,
      family: r.family,
      split: "train",
    })).filter((p) => p.similarity >= cutoff)
      .sort((a, b) => b.similarity - a.similarity || (a.id < b.id ? -1 : 1));
    acc.dense.push(cands.slice(0, limit).map((p) => p.family === q.family));
    const fused = await fuseLexical(q.normalized, cands.slice(0, Math.max(limit, hybrid.candidates)), hybrid);
    acc.hybrid.push(fused.slice(0, limit).map((p) => p.family === q.family));
  }
  const figures = (lists: boolean[][]): RankingFigures => {
    const withResults = lists.filter((l) => l.length);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    return {
      coverage: round(withResults.length / lists.length),
      precision_at_k: round(mean(withResults.map((l) => l.filter(Boolean).length / l.length))),
      hit_at_1: round(mean(lists.map((l) => (l[0] ? 1 : 0)))),
      mrr: round(mean(lists.map((l) => {
        const i = l.indexOf(true);
        return i < 0 ? 0 : 1 / (i + 1);
      }))),
    };
  };
  return { dense: figures(acc.dense), hybrid: figures(acc.hybrid) };
}

/**
 * Calibrates the cut-off of an embedder on dev against train (see the module doc); returns the record that
 * {@linkcode writeCalibration} commits.
 *
 * @example
 * ```ts
 * const record = await calibrateCutoff();
 * console.log(record.chosen, record.at_seed_cutoff, record.test_id.chosen);
 * ```
 */
export async function calibrateCutoff(options: CalibrateOptions = {}): Promise<CalibrationRecord> {
  const embedder = options.embedder ?? localEmbedder();
  const normalize = options.normalize ?? normalizeIntent;
  const all = options.challenges ?? await loadCatalog();
  const limit = options.limit ?? 5;
  const hybrid = { candidates: 50, rrf_k: 60, lexical_weight: 1, ...options.hybrid };
  const split = (s: string) => all.filter((c) => c.split === s);
  const [dev, train, testId] = [split("dev"), split("train"), split("test_id")];
  if (!dev.length || !train.length) {
    throw new RangeError(
      `calibrateCutoff: the catalog needs dev and train instances (found ${dev.length} dev, ${train.length} train)`,
    );
  }
  const [qd, rt, qt] = await Promise.all([dev, train, testId].map((cs) => embedAll(cs, embedder, normalize)));
  const devPairs = pairsOf(qd, rt);
  const testPairs = pairsOf(qt, rt);
  const chosen = bestF1Cutoff(devPairs);
  const rankDev = await rankingFigures(qd, rt, chosen.cutoff, limit, hybrid);
  const rankTest = await rankingFigures(qt, rt, chosen.cutoff, limit, hybrid);
  // "Beats" = better by more than one query's worth on precision or MRR, and not worse on the other: on a few
  // dozen distinct queries a one-query difference is noise, and hybrid costs a BM25 pass per query.
  const margin = 1 / Math.max(1, new Set(qd.map((q) => q.normalized)).size);
  const better = (h: RankingFigures, d: RankingFigures) =>
    (h.precision_at_k - d.precision_at_k > margin && h.mrr >= d.mrr) ||
    (h.mrr - d.mrr > margin && h.precision_at_k >= d.precision_at_k);
  return CalibrationRecord.parse({
    embedder: embedder.id,
    tuned_on: "dev",
    reference: "train",
    criterion: "max F1 of same-family over (dev instance, train instance) pairs, normalizeIntent then embed",
    created_at: new Date().toISOString().slice(0, 10),
    queries: qd.length,
    references: rt.length,
    pairs: devPairs.length,
    positives: devPairs.filter((p) => p.positive).length,
    auc: rocAuc(devPairs),
    chosen,
    at_seed_cutoff: figuresAt(devPairs, SEED_CUTOFF),
    test_id: {
      chosen: figuresAt(testPairs, chosen.cutoff),
      at_seed_cutoff: figuresAt(testPairs, SEED_CUTOFF),
      auc: rocAuc(testPairs),
    },
    ranking: { limit, dev: rankDev, test_id: rankTest, hybrid_default: better(rankDev.hybrid, rankDev.dense) },
  });
}

/**
 * Writes a calibration into configs/patterns.yaml (comments kept): `calibration.<embedder>` = the record,
 * `retrieval.cutoffs.<embedder>` = its cut-off, `retrieval.hybrid.enabled` = whether hybrid beat dense on dev.
 */
export async function writeCalibration(record: CalibrationRecord, path: string = PATTERNS_CONFIG_FILE): Promise<void> {
  const doc = parseDocument(await Deno.readTextFile(path));
  doc.setIn(["retrieval", "cutoffs", record.embedder], record.chosen.cutoff);
  doc.setIn(["retrieval", "hybrid", "enabled"], record.ranking.hybrid_default);
  doc.setIn(["calibration", record.embedder], doc.createNode(record));
  // Block style, except maps of scalars (one figure set per line).
  visit(doc.get("calibration", true) as YAMLMap, {
    Map(_key, node) {
      node.flow = node.items.every((p) => isScalar(p.value));
    },
  });
  await writeTextAtomic(path, doc.toString({ lineWidth: 120, flowCollectionPadding: false }));
  await loadPatternsConfig(path); // the file still validates
}

if (import.meta.main) {
  const record = await calibrateCutoff();
  await writeCalibration(record);
  const f = (x: CutoffFigures) => `cut-off ${x.cutoff}: P ${x.precision} R ${x.recall} F1 ${x.f1}`;
  console.log(`${record.embedder} on dev (${record.pairs} pairs, AUC ${record.auc})`);
  console.log(`  chosen   ${f(record.chosen)}\n  seed     ${f(record.at_seed_cutoff)}`);
  console.log(
    `test_id (AUC ${record.test_id.auc})\n  chosen   ${f(record.test_id.chosen)}\n  seed     ${
      f(record.test_id.at_seed_cutoff)
    }`,
  );
  console.log("ranking", JSON.stringify(record.ranking));
}
