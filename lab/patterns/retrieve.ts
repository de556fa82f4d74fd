/**
 * Retrieval and context injection (seed 000): a task and a role in, the best stored patterns out, as injected
 * examples for the runner's `PatternSource` port.
 *
 * **What is eligible** (all in `configs/patterns.yaml` → `retrieval`, all overridable): similarity to the query
 * at least the cut-off (calibrated per embedder on `dev`, see `calibrate.ts`; seed 000's 0.75 is the fallback
 * for embedders without a calibration), `composite_fitness > min_fitness` (0.7), at least one successful query,
 * `turn_pass`, not `stale`, made by the same embedder as the query. Ordered by similarity (or the hybrid score),
 * then fitness, then id; `limit` (5) kept.
 *
 * **Leakage control** (defaults): only patterns learned on `train` (`allowed_splits`), never a `contaminated`
 * one, and never one from the split being evaluated (`query.split`), even if that split was allowed. Patterns
 * without a split (a person's own questions) only with `include_unsplit`. The rules hold on both search paths,
 * and the ANN path re-applies them in SQL to the rows it returns.
 *
 * **Search paths**: `exact` — one DuckDB query, `array_cosine_similarity(embedding, $q::FLOAT[256])` over the
 * eligible rows (always fresh; the choice for small stores); `ivf` — an in-memory IVF index (`_ann.ts`) over the
 * eligible rows' embeddings, loaded from DuckDB in streamed chunks (trained on a hash-ordered sample, so the
 * same rows give the same index), then the few rows found are read back from DuckDB. `auto` picks `ivf` from
 * `index.min_rows` eligible rows. {@linkcode PatternRetriever.refresh} folds new and changed rows into the index.
 *
 * **Hybrid ranking** (`hybrid.enabled`): the dense search returns `hybrid.candidates` rows above the cut-off;
 * LangChain's `BM25Retriever` scores their normalized intents against the query's (IDF over the candidates, so
 * it weighs the words that tell the candidates apart; tokens matched whole), and the two rankings are fused by
 * reciprocal rank fusion, `1/(rrf_k + rank_dense) + lexical_weight/(rrf_k + rank_bm25)` (a candidate without a
 * shared token gets no lexical term). The cut-off still decides eligibility; the fusion only orders.
 *
 * **Injection**: {@linkcode toInjectedExamples} (best fitness first) and {@linkcode budgetedRenderer} (the
 * runner's `renderExamples` dependency with a token budget); {@linkcode usedPatterns} tells which injected
 * patterns an episode's successful SQL reused (seed 000's pattern reuse rate).
 * @module
 */
import type { DuckDBConnection, DuckDBDataChunk, DuckDBValue } from "@duckdb/node-api";
import { FLOAT, LIST, listValue } from "@duckdb/node-api";
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import { Document } from "@langchain/core/documents";
import { BM25Retriever } from "@langchain/community/retrievers/bm25";
import { z } from "zod";
import type { PatternSource, ExampleRenderer } from "../agents/mod.ts";
import { formatInjection, type InjectedCall, type InjectedExample } from "../models/mod.ts";
import { parseConfigText, readConfigText, repoPath } from "../util/mod.ts";
import { type CachedEmbedder, cachedEmbedder, type ConnectionSource, type Embedder, localEmbedder } from "./embed.ts";
import { normalizeIntent } from "./normalize.ts";
import { canonicalSql } from "./store.ts";
import { EMBEDDING_DIMS } from "./_schema.ts";
import { IvfIndex } from "./_ann.ts";

// ---------------------------------------------------------------------------------------------------------
// Configuration

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
    /** Max tokens of the injected section ({@linkcode budgetedRenderer}). */
    token_budget: PosInt.default(1500),
  }).prefault({}),
  calibration: z.record(z.string(), CalibrationRecord).default({}),
});
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

// ---------------------------------------------------------------------------------------------------------
// Shapes

/** What retrieval is asked: the runner's PatternSource query. */
export interface PatternQuery {
  task: string;
  role: string;
  /** The split being evaluated: its patterns are never returned (unless `allow_query_split`). */
  split?: string;
}

/** A retrieved pattern. */
export interface RetrievedPattern {
  id: string;
  /** The task as asked (the injected example's task). */
  intent: string;
  normalizedIntent: string;
  role: string;
  category: string;
  level: number | null;
  /** The successful queries' tool and SQL, in order. */
  calls: InjectedCall[];
  answerShape: string | null;
  /** composite_fitness. */
  fitness: number;
  /** Cosine similarity of the embeddings. */
  similarity: number;
  /** BM25 score among the candidates (hybrid only). */
  lexical: number | null;
  /** What the order used: the similarity, or the RRF score when hybrid. */
  score: number;
  support: number;
  family: string | null;
  split: string | null;
}

// ---------------------------------------------------------------------------------------------------------
// SQL

const DETAIL_COLUMNS =
  "id, intent, normalized_intent, role, category, level, successful_queries, answer_shape, composite_fitness, support, family, split";

/** A SQL string literal. */
const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * The WHERE clause of the eligibility rules for one embedder (and, given a query, its split and role), with
 * the values written as literals: a query with parameters costs DuckDB a prepare/bind round trip (≈ 1.5 ms),
 * which is most of the ANN path's row lookup. Values are config numbers and quoted strings only.
 */
function eligibilitySql(config: RetrievalConfig, embedderId: string, query?: PatternQuery): string {
  if (!Number.isFinite(config.min_fitness)) {
    throw new RangeError(`min_fitness must be a number, got ${config.min_fitness}`);
  }
  const splits = `[${config.allowed_splits.map(sqlString).join(", ")}]::VARCHAR[]`;
  const parts = [
    `embedder = ${sqlString(embedderId)}`,
    `composite_fitness > ${config.min_fitness}`,
    "json_array_length(successful_queries) > 0",
    config.include_unsplit ? `(list_contains(${splits}, split) OR split IS NULL)` : `list_contains(${splits}, split)`,
  ];
  if (config.require_turn_pass) parts.push("turn_pass");
  if (config.exclude_stale) parts.push("NOT stale");
  if (!config.allow_contaminated) parts.push("NOT contaminated");
  if (query?.split && !config.allow_query_split) parts.push(`split IS DISTINCT FROM ${sqlString(query.split)}`);
  if (query && config.same_role) parts.push(`role = ${sqlString(query.role)}`);
  return parts.join(" AND ");
}

const vectorSql = (v: Float32Array) => {
  if (v.length !== EMBEDDING_DIMS) {
    throw new RangeError(`query vector has ${v.length} dims; patterns have ${EMBEDDING_DIMS}`);
  }
  return listValue(Array.from(v));
};

function parseCalls(json: unknown): InjectedCall[] {
  let list: unknown;
  try {
    list = typeof json === "string" ? JSON.parse(json) : json;
  } catch {
    return [];
  }
  if (!Array.isArray(list)) return [];
  return list.flatMap((q) =>
    q && typeof q === "object" && (q.tool === "dbRead" || q.tool === "dbWrite") && typeof q.sql === "string"
      ? [{ tool: q.tool, sql: q.sql } as InjectedCall]
      : []
  );
}

function toPattern(r: Record<string, DuckDBValue>, similarity: number): RetrievedPattern {
  const s = (v: DuckDBValue) => (v === null ? null : String(v));
  return {
    id: String(r.id),
    intent: String(r.intent),
    normalizedIntent: String(r.normalized_intent),
    role: String(r.role),
    category: String(r.category),
    level: r.level === null ? null : Number(r.level),
    calls: parseCalls(r.successful_queries),
    answerShape: s(r.answer_shape),
    fitness: Number(r.composite_fitness),
    similarity,
    lexical: null,
    score: similarity,
    support: Number(r.support),
    family: s(r.family),
    split: s(r.split),
  };
}

/** Best first: score, then fitness, then id. */
const byScore = (a: RetrievedPattern, b: RetrievedPattern) =>
  b.score - a.score || b.fitness - a.fitness || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/**
 * The exact search in DuckDB: eligible rows (see the module doc) with `array_cosine_similarity ≥ cutoff`, best
 * `limit` by similarity, then fitness, then id. The reference the index is measured against.
 *
 * @example
 * ```ts
 * const hits = await store.withConnection((c) => searchExact(c, localEmbed(normalizeIntent(task)), { task, role }, config, LOCAL_EMBEDDER_ID));
 * ```
 */
export async function searchExact(
  c: DuckDBConnection,
  vector: Float32Array,
  query: PatternQuery,
  config: RetrievalConfig,
  embedderId: string,
  limit: number = config.limit,
): Promise<RetrievedPattern[]> {
  const where = eligibilitySql(config, embedderId, query);
  const reader = await c.runAndReadAll(
    `SELECT ${DETAIL_COLUMNS}, array_cosine_similarity(embedding, $q::FLOAT[${EMBEDDING_DIMS}]) AS similarity
     FROM turn_memories WHERE ${where} AND similarity >= $cut
     ORDER BY similarity DESC, composite_fitness DESC, id LIMIT $lim`,
    { q: vectorSql(vector), cut: cutoffFor(config, embedderId), lim: limit },
    { q: LIST(FLOAT) }, // inferred from the first entry, a list of floats could bind as integers
  );
  return reader.getRowObjects().map((r) => toPattern(r, Number(r.similarity)));
}

/** The eligible rows with these ids (rules re-applied), as patterns with the given similarities. */
async function fetchRows(
  c: DuckDBConnection,
  hits: { id: string; similarity: number }[],
  query: PatternQuery,
  config: RetrievalConfig,
  embedderId: string,
): Promise<RetrievedPattern[]> {
  if (!hits.length) return [];
  const where = eligibilitySql(config, embedderId, query);
  const sim = new Map(hits.map((h) => [h.id, h.similarity]));
  // A literal IN list alone lets DuckDB probe the primary-key index; with the rules in the same WHERE it scans
  // the table (tens of ms at 100 K rows). So the rules are computed as a column of the rows found by id.
  const reader = await c.runAndReadAll(
    `SELECT ${DETAIL_COLUMNS}, (${where}) AS eligible FROM turn_memories WHERE id IN (${
      hits.map((h) => sqlString(h.id)).join(", ")
    })`,
  );
  return reader.getRowObjects().filter((r) => r.eligible === true).map((r) => toPattern(r, sim.get(String(r.id)) ?? 0));
}

// ---------------------------------------------------------------------------------------------------------
// Loading embeddings from DuckDB

/** SELECT list of the embedding's dims as FLOAT columns (read through the public vector API). */
const EMBEDDING_COLUMNS = Array.from({ length: EMBEDDING_DIMS }, (_, d) => `embedding[${d + 1}]`).join(", ");

/** Copies the FLOAT columns `first..first+dims` of a chunk into `out` (row-major) from row `at`. */
function readVectorColumns(chunk: DuckDBDataChunk, first: number, dims: number, out: Float32Array, at: number) {
  const n = chunk.rowCount;
  for (let d = 0; d < dims; d++) {
    const col = chunk.getColumnVector(first + d);
    for (let r = 0; r < n; r++) out[(at + r) * dims + d] = (col.getItem(r) as number | null) ?? 0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Hybrid

/**
 * Distinct words of a normalized intent, each wrapped in `§` so BM25Retriever's substring matching (it counts
 * `includes`/regex hits) matches whole tokens only: `§open§` does not match inside `§open_amount§`.
 */
function lexicalText(normalized: string): string[] {
  const out = new Set<string>();
  for (const w of normalized.toLowerCase().match(/[a-z0-9_]+/g) ?? []) out.add(`§${w}§`);
  return [...out];
}

/**
 * Reorders dense candidates (best first by similarity) by RRF of the dense rank and the BM25 rank of their
 * normalized intents against `normalizedQuery` (see the module doc). Returns new objects with `lexical` and
 * `score` set, best first.
 */
export async function fuseLexical(
  normalizedQuery: string,
  candidates: readonly RetrievedPattern[],
  hybrid: Pick<RetrievalConfig["hybrid"], "rrf_k" | "lexical_weight">,
): Promise<RetrievedPattern[]> {
  if (!candidates.length) return [];
  const dense = [...candidates].sort((a, b) =>
    b.similarity - a.similarity || b.fitness - a.fitness || (a.id < b.id ? -1 : 1)
  );
  const docs = dense.map((p, i) =>
    new Document({ pageContent: lexicalText(p.normalizedIntent).join(" "), metadata: { i } })
  );
  const bm25 = new BM25Retriever({ docs, k: docs.length, includeScore: true });
  const q = lexicalText(normalizedQuery).join(" ");
  const scored = q ? await bm25.invoke(q) : [];
  const lexical = new Float64Array(dense.length);
  for (const d of scored) lexical[d.metadata.i as number] = Number(d.metadata.bm25Score) || 0;
  const lexOrder = Array.from(dense.keys()).filter((i) => lexical[i] > 0).sort((a, b) =>
    lexical[b] - lexical[a] || a - b
  );
  const lexRank = new Map(lexOrder.map((i, r) => [i, r + 1]));
  return dense.map((p, i) => {
    const lr = lexRank.get(i);
    const score = 1 / (hybrid.rrf_k + i + 1) + (lr ? hybrid.lexical_weight / (hybrid.rrf_k + lr) : 0);
    return { ...p, lexical: lexical[i], score };
  }).sort(byScore);
}

// ---------------------------------------------------------------------------------------------------------
// The retriever

/** Options for {@linkcode PatternRetriever.open}. */
export interface OpenRetrieverOptions {
  /**
   * Embeds queries; must be the embedder the patterns were stored with (rows of other embedders are ignored).
   * Wrapped in an in-memory LRU. @default the source's `embedder` (a PatternStore's), else localEmbedder()
   */
  embedder?: Embedder;
  /** Overrides on top of the file's `retrieval` section. @default none */
  config?: RetrievalOverrides;
  /** The file to read. @default configs/patterns.yaml; pass `null` to use only the built-in defaults */
  configPath?: string | null;
  /** Normalizes the task before embedding (the store's rule). @default normalizeIntent */
  normalize?: (text: string) => string;
}

/** What the retriever holds (for notebooks and the bench). */
export interface RetrieverStats {
  mode: "exact" | "ivf";
  /** Eligible rows indexed (ivf) or counted at open (exact). */
  rows: number;
  nlist: number;
  /** Bytes of the index (vectors, ids, centroids). */
  bytes: number;
  /** Reading rows from DuckDB (ms), training k-means (ms), assigning rows to cells (ms). */
  loadMs: number;
  trainMs: number;
  addMs: number;
}

/** The connection source plus, optionally, the embedder its patterns were made with (a PatternStore has both). */
export type RetrievalSource = ConnectionSource & { readonly embedder?: Embedder };

/** Index state of the ivf path. */
interface IndexState {
  ivf: IvfIndex;
  ids: string[];
  rowOf: Map<string, number>;
  alive: Uint8Array;
  splitCode: Uint16Array;
  roleCode: Uint16Array;
  splits: Map<string | null, number>;
  roles: Map<string, number>;
  /** Microseconds since the epoch of the newest `updated_at` loaded. */
  since: bigint;
}

const grow = <T extends Uint8Array | Uint16Array>(a: T, n: number, make: (n: number) => T): T => {
  if (n <= a.length) return a;
  const b = make(Math.max(n, Math.ceil(a.length * 1.5), 1024));
  b.set(a);
  return b;
};

/**
 * Retrieves patterns from a store (exact in DuckDB, or through an in-memory IVF index). Open it with
 * {@linkcode PatternRetriever.open}; use {@linkcode PatternRetriever.source} as the runner's `PatternSource`.
 *
 * @example
 * ```ts
 * await using store = await PatternStore.open("data/lab.duckdb");
 * await using retriever = await PatternRetriever.open(store);
 * await runEpisode(spec, { pool, patterns: retriever.source });
 * const hits = await retriever.search({ task: "Unpaid invoices by customer", role: "accountant", split: "dev" });
 * ```
 */
export class PatternRetriever implements AsyncDisposable {
  readonly #src: RetrievalSource;
  readonly #normalize: (text: string) => string;
  #state?: IndexState;
  #stats: RetrieverStats;
  #closed = false;

  private constructor(
    src: RetrievalSource,
    /** The settings in force. */
    readonly config: RetrievalConfig,
    /** Embeds queries (cached). */
    readonly embedder: CachedEmbedder,
    normalize: (text: string) => string,
    stats: RetrieverStats,
  ) {
    this.#src = src;
    this.#normalize = normalize;
    this.#stats = stats;
  }

  /** Opens a retriever over `source` (see {@linkcode OpenRetrieverOptions}); builds the index on the ivf path. */
  static async open(source: RetrievalSource, options: OpenRetrieverOptions = {}): Promise<PatternRetriever> {
    const file = options.configPath === null
      ? PatternsConfig.parse({})
      : await loadPatternsConfig(options.configPath ?? PATTERNS_CONFIG_FILE);
    const config = mergeRetrievalConfig(file.retrieval, options.config);
    const inner = options.embedder ?? source.embedder ?? localEmbedder();
    if (inner.dims !== EMBEDDING_DIMS) {
      throw new RangeError(
        `PatternRetriever.open: embedder '${inner.id}' makes ${inner.dims}-d vectors; patterns are ${EMBEDDING_DIMS}-d`,
      );
    }
    const embedder = await cachedEmbedder(inner, { capacity: 10_000 });
    const where = eligibilitySql(config, inner.id);
    const rows = await source.withConnection(async (c) =>
      Number((await c.runAndReadAll(`SELECT count(*) FROM turn_memories WHERE ${where}`)).getRows()[0][0])
    );
    const kind = config.index.kind === "auto" ? (rows >= config.index.min_rows ? "ivf" : "exact") : config.index.kind;
    const stats: RetrieverStats = { mode: kind, rows, nlist: 0, bytes: 0, loadMs: 0, trainMs: 0, addMs: 0 };
    const r = new PatternRetriever(source, config, embedder, options.normalize ?? normalizeIntent, stats);
    if (kind === "ivf") await r.#build(rows);
    return r;
  }

  /** Settings, sizes and build timings. */
  get stats(): Readonly<RetrieverStats> {
    return { ...this.#stats };
  }

  /** The cut-off in force for this retriever's embedder. */
  get cutoff(): number {
    return cutoffFor(this.config, this.embedder.id);
  }

  /**
   * Builds the index: (1) reads a sample ordered by a hash of the id (the same rows give the same index),
   * (2) trains the cells without holding the connection, (3) streams every eligible row into its cell.
   */
  async #build(expected: number) {
    const cfg = this.config.index;
    const dims = EMBEDDING_DIMS;
    const where = eligibilitySql(this.config, this.embedder.id);
    let t0 = performance.now();
    const sampleN = Math.min(expected, cfg.sample);
    const sample = new Float32Array(sampleN * dims);
    let got = 0;
    await this.#src.withConnection(async (c) => {
      const res = await c.stream(
        `SELECT ${EMBEDDING_COLUMNS} FROM turn_memories WHERE ${where} ORDER BY hash(id, $seed), id LIMIT $n`,
        { seed: cfg.seed, n: sampleN },
      );
      for (let ch = await res.fetchChunk(); ch && ch.rowCount; ch = await res.fetchChunk()) {
        readVectorColumns(ch, 0, dims, sample, got);
        got += ch.rowCount;
      }
    });
    let loadMs = performance.now() - t0;
    t0 = performance.now();
    const ivf = IvfIndex.train(sample.subarray(0, got * dims), dims, {
      expectedRows: expected,
      nlist: cfg.nlist ?? undefined,
      iterations: cfg.iterations,
      seed: cfg.seed,
      assignProbe: cfg.assign_probe,
    });
    const trainMs = performance.now() - t0;
    const st: IndexState = {
      ivf,
      ids: [],
      rowOf: new Map(),
      alive: new Uint8Array(0),
      splitCode: new Uint16Array(0),
      roleCode: new Uint16Array(0),
      splits: new Map(),
      roles: new Map(),
      since: 0n,
    };
    this.#state = st;
    let addMs = 0;
    t0 = performance.now();
    await this.#src.withConnection(async (c) => {
      const res = await c.stream(
        `SELECT id, split, role, epoch_us(updated_at), ${EMBEDDING_COLUMNS} FROM turn_memories WHERE ${where}`,
      );
      for (let ch = await res.fetchChunk(); ch && ch.rowCount; ch = await res.fetchChunk()) {
        addMs += this.#ingest(ch, true);
      }
    });
    loadMs += performance.now() - t0 - addMs;
    ivf.compact();
    Object.assign(this.#stats, {
      rows: st.ids.length,
      nlist: ivf.nlist,
      bytes: ivf.bytes + st.ids.length * 8,
      loadMs,
      trainMs,
      addMs,
    });
  }

  /** Adds (or updates) the rows of a chunk `id, split, role, updated_us, dims…, [eligible]`; returns ms spent adding. */
  #ingest(ch: DuckDBDataChunk, allEligible: boolean): number {
    const st = this.#state!;
    const n = ch.rowCount;
    const dims = EMBEDDING_DIMS;
    const vecs = new Float32Array(n * dims);
    readVectorColumns(ch, 4, dims, vecs, 0);
    const idCol = ch.getColumnVector(0), splitCol = ch.getColumnVector(1), roleCol = ch.getColumnVector(2);
    const updCol = ch.getColumnVector(3);
    const eligibleCol = allEligible ? undefined : ch.getColumnVector(4 + dims);
    const t0 = performance.now();
    const need = st.ids.length + n;
    st.alive = grow(st.alive, need, (k) => new Uint8Array(k));
    st.splitCode = grow(st.splitCode, need, (k) => new Uint16Array(k));
    st.roleCode = grow(st.roleCode, need, (k) => new Uint16Array(k));
    const code = <K>(m: Map<K, number>, k: K) => {
      let v = m.get(k);
      if (v === undefined) m.set(k, v = m.size + 1);
      return v;
    };
    for (let r = 0; r < n; r++) {
      const id = String(idCol.getItem(r));
      const upd = updCol.getItem(r) as bigint | null;
      if (upd !== null && upd > st.since) st.since = upd;
      const eligible = eligibleCol ? eligibleCol.getItem(r) === true : true;
      let row = st.rowOf.get(id);
      if (row === undefined) {
        if (!eligible) continue;
        row = st.ids.length;
        st.ids.push(id);
        st.rowOf.set(id, row);
        st.ivf.add(row, vecs, r * dims);
      }
      st.alive[row] = eligible ? 1 : 0;
      st.splitCode[row] = code(st.splits, splitCol.getItem(r) as string | null);
      st.roleCode[row] = code(st.roles, String(roleCol.getItem(r)));
    }
    return performance.now() - t0;
  }

  /**
   * Folds rows added or changed since the index was built (or last refreshed) into it: new eligible rows are
   * added, rows no longer eligible are dropped. No-op on the exact path (always fresh). Returns the rows read.
   */
  async refresh(): Promise<number> {
    const st = this.#state;
    if (!st) return 0;
    const where = eligibilitySql(this.config, this.embedder.id);
    let read = 0;
    await this.#src.withConnection(async (c) => {
      const res = await c.stream(
        `SELECT id, split, role, epoch_us(updated_at), ${EMBEDDING_COLUMNS}, coalesce((${where}), false)
         FROM turn_memories WHERE updated_at >= make_timestamp($since::BIGINT)`,
        { since: st.since },
      );
      for (let ch = await res.fetchChunk(); ch && ch.rowCount; ch = await res.fetchChunk()) {
        this.#ingest(ch, false);
        read += ch.rowCount;
      }
    });
    this.#stats.rows = st.ids.length;
    return read;
  }

  /** Retrieves patterns for a task (normalized and embedded here). */
  async search(query: PatternQuery, options: { limit?: number } = {}): Promise<RetrievedPattern[]> {
    const normalized = this.#normalize(query.task);
    const [vector] = await this.embedder.embed([normalized]);
    return await this.searchVector(vector, query, { ...options, normalized });
  }

  /**
   * Retrieves patterns for an already embedded query (`normalized` is needed for hybrid ranking; it defaults
   * to `normalize(query.task)`).
   */
  async searchVector(
    vector: Float32Array,
    query: PatternQuery,
    options: { limit?: number; normalized?: string } = {},
  ): Promise<RetrievedPattern[]> {
    if (this.#closed) throw new Error("PatternRetriever: search after close(); open a new retriever");
    const limit = options.limit ?? this.config.limit;
    const hybrid = this.config.hybrid.enabled;
    const want = hybrid ? Math.max(limit, this.config.hybrid.candidates) : limit;
    let found: RetrievedPattern[];
    if (!this.#state) {
      found = await this.#src.withConnection((c) => searchExact(c, vector, query, this.config, this.embedder.id, want));
    } else {
      // Rows changed since the last refresh are dropped by the SQL re-check, so the index is asked for a few
      // spare hits; they are read only when needed. Hits tied with the last one wanted are read too, so fitness
      // can break the tie as in the exact scan.
      const hits = this.searchIndex(vector, query, want + Math.min(want, 5));
      found = [];
      let next = 0;
      while (found.length < want && next < hits.length) {
        let end = Math.min(hits.length, next + want - found.length);
        while (end < hits.length && hits[end].similarity >= hits[end - 1].similarity - 1e-6) end++;
        const batch = hits.slice(next, end);
        next = end;
        found.push(...await this.#src.withConnection((c) => fetchRows(c, batch, query, this.config, this.embedder.id)));
      }
      found.sort(byScore);
      found = found.slice(0, want);
    }
    if (hybrid) found = await fuseLexical(options.normalized ?? this.#normalize(query.task), found, this.config.hybrid);
    return found.slice(0, limit);
  }

  /**
   * The index's best `k` rows for a query vector (ids and similarities, best first), without reading them back;
   * `nprobe` overrides the config's for this call. Throws on the exact path.
   */
  searchIndex(
    vector: Float32Array,
    query: PatternQuery,
    k: number = this.config.limit,
    options: { nprobe?: number } = {},
  ): { id: string; similarity: number }[] {
    const st = this.#state;
    if (!st) {
      throw new Error(
        this.#closed
          ? "PatternRetriever: search after close(); open a new retriever"
          : "PatternRetriever.searchIndex: this retriever searches DuckDB exactly (index.kind exact); there is no index",
      );
    }
    const { alive, splitCode, roleCode } = st;
    const qsplit = query.split && !this.config.allow_query_split ? st.splits.get(query.split) ?? -1 : -1;
    const qrole = this.config.same_role ? st.roles.get(query.role) ?? -2 : -1;
    const accept = (row: number) =>
      alive[row] === 1 && splitCode[row] !== qsplit && (qrole === -1 || roleCode[row] === qrole);
    const cfg = this.config.index;
    const nprobe = options.nprobe ?? cfg.nprobe;
    const hits = st.ivf.search(vector, {
      k,
      nprobe,
      maxProbe: Math.max(nprobe, cfg.max_probe),
      minScore: this.cutoff,
      accept,
    });
    return hits.rows.map((row, i) => ({ id: st.ids[row], similarity: hits.scores[i] }));
  }

  /** Injected examples for a task (best fitness first). */
  async examples(query: PatternQuery): Promise<InjectedExample[]> {
    return toInjectedExamples(await this.search(query));
  }

  /** The runner's `PatternSource` port. */
  readonly source: PatternSource = (query) => this.examples(query);

  /** Drops the index; later searches throw (the source is not closed: it belongs to the caller). */
  close(): Promise<void> {
    this.#state = undefined;
    this.#closed = true;
    return Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Injection

/**
 * Retrieved patterns as injected examples, best fitness first (ties: higher similarity): task = the
 * pattern's original intent text, its role, its successful queries' tool and SQL, its answer shape.
 *
 * @example
 * ```ts
 * const text = formatInjection(toInjectedExamples(await retriever.search({ task, role })), { tokenBudget: 800 });
 * ```
 */
export function toInjectedExamples(patterns: readonly RetrievedPattern[]): InjectedExample[] {
  return [...patterns]
    .sort((a, b) => b.fitness - a.fitness || b.similarity - a.similarity || (a.id < b.id ? -1 : 1))
    .filter((p) => p.calls.length > 0)
    .map((p) => ({
      id: p.id,
      task: p.intent,
      role: p.role,
      calls: p.calls.map((c) => ({ tool: c.tool, sql: c.sql })),
      ...(p.answerShape ? { answerShape: p.answerShape } : {}),
    }));
}

/**
 * The runner's `renderExamples` with a token budget (the default renderer uses formatInjection's 1500): the
 * strategy's header line, then the injection v1 section cut to `tokenBudget` tokens (header not counted).
 *
 * @example
 * ```ts
 * const { injection } = await loadPatternsConfig();
 * await runEpisode(spec, { pool, patterns: retriever.source, renderExamples: budgetedRenderer(injection.token_budget) });
 * ```
 */
export function budgetedRenderer(tokenBudget: number): ExampleRenderer {
  if (!Number.isInteger(tokenBudget) || tokenBudget <= 0) {
    throw new RangeError(`budgetedRenderer: tokenBudget must be a positive integer, got ${tokenBudget}`);
  }
  return (examples, header) => {
    const section = formatInjection([...examples], { tokenBudget });
    return section ? `${header}\n${section}` : "";
  };
}

/** Options for {@linkcode usedPatterns}. */
export interface UsedPatternsOptions {
  /**
   * `"mask"`: string and number literals are replaced by `?` before comparing, so a pattern adapted to other
   * values (the prompt asks agents to adapt, not copy numbers) counts as used; `"keep"`: exact canonical SQL.
   * @default "mask"
   */
  literals?: "mask" | "keep";
}

/** Canonical SQL with literals masked. */
function sqlShape(sql: string, literals: "mask" | "keep"): string {
  const canonical = canonicalSql(sql);
  if (literals === "keep") return canonical;
  return canonical
    .replace(/'(?:[^']|'')*'/g, "?")
    .replace(/(?<![\w.])-?\d+(?:\.\d+)?(?![\w])/g, "?");
}

/**
 * The injected examples an episode used: those with a statement whose canonical SQL (see
 * {@linkcode UsedPatternsOptions.literals}) equals one of the episode's successful statements. For seed 000's
 * pattern reuse rate (episodes with ≥ 1 used pattern / episodes with injected patterns).
 *
 * @example
 * ```ts
 * const used = usedPatterns(injected, record.queries); // record: EpisodeRecord
 * ```
 */
export function usedPatterns(
  examples: readonly InjectedExample[],
  episodeQueries: readonly { sql: string; ok?: boolean }[],
  options: UsedPatternsOptions = {},
): InjectedExample[] {
  const literals = options.literals ?? "mask";
  const ran = new Set(episodeQueries.filter((q) => q.ok !== false).map((q) => sqlShape(q.sql, literals)));
  return examples.filter((ex) => ex.calls.some((c) => ran.has(sqlShape(c.sql, literals))));
}

// ---------------------------------------------------------------------------------------------------------
// LangChain

/** Fields of {@linkcode PatternDocumentRetriever}. */
export interface PatternDocumentRetrieverInput extends BaseRetrieverInput {
  retriever: PatternRetriever;
  /** The role queries are asked for. */
  role: string;
  /** The split being evaluated (its patterns are excluded). @default none */
  split?: string;
}

/**
 * The pattern store as a LangChain retriever: `invoke(task)` → `Document`s whose `pageContent` is the pattern's
 * intent and whose metadata holds id, role, similarity, fitness, score, calls, answer shape, family and split.
 *
 * @example
 * ```ts
 * const lc = new PatternDocumentRetriever({ retriever, role: "accountant", split: "dev" });
 * const docs = await lc.invoke("Which invoices are overdue?");
 * ```
 */
export class PatternDocumentRetriever extends BaseRetriever {
  static override lc_name(): string {
    return "PatternDocumentRetriever";
  }
  override lc_namespace = ["lab", "patterns", "retrieve"];
  readonly retriever: PatternRetriever;
  readonly role: string;
  readonly split?: string;

  constructor(fields: PatternDocumentRetrieverInput) {
    super(fields);
    this.retriever = fields.retriever;
    this.role = fields.role;
    this.split = fields.split;
  }

  override async _getRelevantDocuments(query: string): Promise<Document[]> {
    const hits = await this.retriever.search({ task: query, role: this.role, split: this.split });
    return hits.map((p) =>
      new Document({
        id: p.id,
        pageContent: p.intent,
        metadata: {
          id: p.id,
          role: p.role,
          normalizedIntent: p.normalizedIntent,
          similarity: p.similarity,
          fitness: p.fitness,
          score: p.score,
          calls: p.calls,
          answerShape: p.answerShape,
          family: p.family,
          split: p.split,
          support: p.support,
        },
      })
    );
  }
}
