/**
 * The patterns config, `configs/patterns.yaml`: retrieval's rules and search path (`retrieval`), the injection
 * token budget (`injection`) and the per-embedder calibration records (`calibration`, written by calibrate.ts);
 * loading, overriding and the cut-off in force for an embedder.
 * @module
 */
import { z } from "zod";
import { parseConfigText, readConfigText, repoPath } from "../util/mod.ts";

const Unit = z.number().min(-1, "must be ≥ -1").max(1, "must be ≤ 1");
const PosInt = z.number().int().positive("must be a positive integer");

/** Hybrid ranking (dense + BM25, fused by RRF). */
export const HybridConfig = z.strictObject({
  /** Fuse BM25 into the order of the dense candidates. */
  enabled: z.boolean().default(false),
  /** Dense candidates (above the cut-off) the fusion reorders. */
  candidates: PosInt.default(50),
  /** The RRF constant. */
  rrf_k: z.number().positive("must be > 0").default(60),
  /** Weight of the BM25 rank against the dense rank's 1. */
  lexical_weight: z.number().min(0, "must be ≥ 0").default(1),
});

/** The search path and the IVF index's parameters. */
export const IndexConfig = z.strictObject({
  /**
   * `exact` (DuckDB scan), `ivf` (in-memory index) or `auto` (ivf from `min_rows` eligible rows, decided at
   * open: a store that grows past it keeps the exact path until the retriever is reopened).
   */
  kind: z.enum(["auto", "exact", "ivf"]).default("auto"),
  min_rows: z.number().int().min(0, "must be ≥ 0").default(20_000),
  /** Cells. null = 2√(eligible rows). */
  nlist: PosInt.nullable().default(null),
  /** Cells scanned at least per query. */
  nprobe: PosInt.default(24),
  /** Cells scanned at most when fewer results than wanted were found. */
  max_probe: PosInt.default(128),
  /** Rows k-means trains on (a hash-ordered sample). */
  sample: PosInt.default(32_768),
  iterations: PosInt.default(8),
  seed: z.number().int().default(1),
  /** Coarse cells a vector is compared with when assigned (two-level quantizer). */
  assign_probe: PosInt.default(2),
});

/** Retrieval settings (`retrieval` in configs/patterns.yaml). */
export const RetrievalConfig = z.strictObject({
  /** Cut-off for embedders without an entry in `cutoffs` (seed 000's, meant for learned embeddings). */
  cutoff: Unit.default(0.75),
  /** Calibrated cut-offs by embedder id (written by calibrate.ts). */
  cutoffs: z.record(z.string(), Unit).default({}),
  /** Patterns need composite_fitness above this. */
  min_fitness: z.number().default(0.7),
  limit: PosInt.max(100, "must be ≤ 100").default(5),
  require_turn_pass: z.boolean().default(true),
  exclude_stale: z.boolean().default(true),
  /** Splits patterns may come from. */
  allowed_splits: z.array(z.string().min(1)).default(["train"]),
  /** Also patterns with no split (a person's own questions). */
  include_unsplit: z.boolean().default(false),
  allow_contaminated: z.boolean().default(false),
  /** Also patterns from the split being evaluated (when it is allowed at all). */
  allow_query_split: z.boolean().default(false),
  /** Only patterns of the query's role. */
  same_role: z.boolean().default(false),
  hybrid: HybridConfig.prefault({}),
  index: IndexConfig.prefault({}),
});
/**
 * Retrieval settings (`retrieval` in configs/patterns.yaml), defaults filled in.
 * @internal
 */
export type RetrievalConfig = z.infer<typeof RetrievalConfig>;

/** Precision/recall of "same family" at one cut-off. */
export const CutoffFigures = z.strictObject({
  cutoff: z.number(),
  precision: z.number(),
  recall: z.number(),
  f1: z.number(),
});
export type CutoffFigures = z.infer<typeof CutoffFigures>;

/** Per-query figures of a ranking on a split: queries with ≥ 1 result, precision of what is returned, hit@1. */
export const RankingFigures = z.strictObject({
  coverage: z.number(),
  precision_at_k: z.number(),
  hit_at_1: z.number(),
  mrr: z.number(),
});
export type RankingFigures = z.infer<typeof RankingFigures>;

/** One embedder's calibration record (written by calibrate.ts). */
export const CalibrationRecord = z.strictObject({
  embedder: z.string(),
  tuned_on: z.string(),
  reference: z.string(),
  criterion: z.string(),
  created_at: z.string(),
  queries: z.number().int(),
  references: z.number().int(),
  pairs: z.number().int(),
  positives: z.number().int(),
  auc: z.number(),
  chosen: CutoffFigures,
  at_seed_cutoff: CutoffFigures,
  /** The same two cut-offs on test_id (reported, never tuned on). */
  test_id: z.strictObject({ chosen: CutoffFigures, at_seed_cutoff: CutoffFigures, auc: z.number() }),
  /** Dense vs hybrid ranking at the chosen cut-off (limit results per query). */
  ranking: z.strictObject({
    limit: z.number().int(),
    dev: z.strictObject({ dense: RankingFigures, hybrid: RankingFigures }),
    test_id: z.strictObject({ dense: RankingFigures, hybrid: RankingFigures }),
    hybrid_default: z.boolean(),
  }),
});
export type CalibrationRecord = z.infer<typeof CalibrationRecord>;

/** configs/patterns.yaml (other top-level sections are left to their owners). */
export const PatternsConfig = z.looseObject({
  retrieval: RetrievalConfig.prefault({}),
  injection: z.strictObject({
    /** Max tokens of the injected section (`budgetedRenderer`). */
    token_budget: PosInt.default(1500),
  }).prefault({}),
  calibration: z.record(z.string(), CalibrationRecord).default({}),
});
/**
 * A loaded patterns config.
 * @internal
 */
export type PatternsConfig = z.infer<typeof PatternsConfig>;

/** The committed config file. */
export const PATTERNS_CONFIG_FILE: string = repoPath("configs/patterns.yaml");

/**
 * Reads and validates configs/patterns.yaml (or `path`).
 *
 * @example
 * ```ts
 * const { retrieval } = await loadPatternsConfig();
 * console.log(retrieval.cutoffs["lab-hash-256-v1"], retrieval.min_fitness);
 * ```
 */
export async function loadPatternsConfig(path: string = PATTERNS_CONFIG_FILE): Promise<PatternsConfig> {
  const { text, source } = await readConfigText(path, "patterns config");
  return parseConfigText(PatternsConfig, text, source);
}

/** A deep-partial of {@linkcode RetrievalConfig} (what callers override). */
export type RetrievalOverrides = Partial<Omit<RetrievalConfig, "hybrid" | "index">> & {
  hybrid?: Partial<RetrievalConfig["hybrid"]>;
  index?: Partial<RetrievalConfig["index"]>;
};

/** `base` with `overrides` on top, validated (a bad override is a one-line error naming the field). */
export function mergeRetrievalConfig(base: RetrievalConfig, overrides: RetrievalOverrides = {}): RetrievalConfig {
  const merged = {
    ...base,
    ...overrides,
    hybrid: { ...base.hybrid, ...overrides.hybrid },
    index: { ...base.index, ...overrides.index },
  };
  const parsed = RetrievalConfig.safeParse(merged);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new RangeError(`retrieval options: ${i.path.join(".") || "(top level)"}: ${i.message}`);
  }
  return parsed.data;
}

/** The cut-off for an embedder: its calibrated one, else the fallback `cutoff`. */
export function cutoffFor(config: RetrievalConfig, embedderId: string): number {
  return config.cutoffs[embedderId] ?? config.cutoff;
}
