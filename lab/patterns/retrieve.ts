/**
 * Retrieval and context injection (seed 000): a task and a role in, the best stored patterns out, as injected
 * examples for the runner's `PatternSource` port ({@linkcode PatternRetriever}).
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
 * eligible rows (always fresh; the choice for small stores; `_search.ts`); `ivf` — an in-memory IVF index over
 * the eligible rows' embeddings (`_index.ts`), then the few rows found are read back from DuckDB. `auto` picks
 * `ivf` from `index.min_rows` eligible rows. {@linkcode PatternRetriever.refresh} folds new and changed rows into
 * the index.
 *
 * **Hybrid ranking** (`hybrid.enabled`): the dense search returns `hybrid.candidates` rows above the cut-off, and
 * BM25 over their normalized intents is fused into their order by reciprocal rank fusion (`_hybrid.ts`). The
 * cut-off still decides eligibility; the fusion only orders.
 *
 * **Injection**: `toInjectedExamples` (best fitness first), `budgetedRenderer` (the runner's `renderExamples`
 * dependency with a token budget) and `usedPatterns` (seed 000's pattern reuse rate), in `_inject.ts`.
 * @module
 */
import type { PatternSource } from "../agents/mod.ts";
import type { InjectedExample } from "../models/mod.ts";
import { type CachedEmbedder, cachedEmbedder, type ConnectionSource, type Embedder, localEmbedder } from "./embed.ts";
import { normalizeIntent } from "./normalize.ts";
import { EMBEDDING_DIMS } from "./_schema.ts";
import {
  cutoffFor,
  loadPatternsConfig,
  mergeRetrievalConfig,
  PATTERNS_CONFIG_FILE,
  PatternsConfig,
  type RetrievalConfig,
  type RetrievalOverrides,
} from "./_config.ts";
import { byScore, eligibilitySql, fetchRows, type PatternQuery, type RetrievedPattern, searchExact } from "./_search.ts";
import { fuseLexical } from "./_hybrid.ts";
import { EligibleIndex, type IndexBuildStats } from "./_index.ts";
import { toInjectedExamples } from "./_inject.ts";

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

/**
 * What the retriever holds (for notebooks and the bench): the build of its ivf index; on the exact path, `rows`
 * counts the eligible rows at open and the other figures are 0.
 * @internal
 */
export interface RetrieverStats extends IndexBuildStats {
  mode: "exact" | "ivf";
}

/** The connection source plus, optionally, the embedder its patterns were made with (a PatternStore has both). */
export type RetrievalSource = ConnectionSource & { readonly embedder?: Embedder };

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
  #index?: EligibleIndex;
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
    if (kind === "ivf") {
      const built = await EligibleIndex.build(source, where, config.index, rows);
      r.#index = built.index;
      Object.assign(r.#stats, built.stats);
    }
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
   * Folds rows added or changed since the index was built (or last refreshed) into it: new eligible rows are
   * added, rows no longer eligible are dropped. No-op on the exact path (always fresh). Returns the rows read.
   */
  async refresh(): Promise<number> {
    const index = this.#index;
    if (!index) return 0;
    const read = await index.refresh(this.#src, eligibilitySql(this.config, this.embedder.id));
    this.#stats.rows = index.ids.length;
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
    if (!this.#index) {
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
    const index = this.#index;
    if (!index) {
      throw new Error(
        this.#closed
          ? "PatternRetriever: search after close(); open a new retriever"
          : "PatternRetriever.searchIndex: this retriever searches DuckDB exactly (index.kind exact); there is no index",
      );
    }
    return index.search(vector, query, k, this.config, this.cutoff, options.nprobe);
  }

  /** Injected examples for a task (best fitness first). */
  async examples(query: PatternQuery): Promise<InjectedExample[]> {
    return toInjectedExamples(await this.search(query));
  }

  /** The runner's `PatternSource` port. */
  readonly source: PatternSource = (query) => this.examples(query);

  /** Drops the index; later searches throw (the source is not closed: it belongs to the caller). */
  close(): Promise<void> {
    this.#index = undefined;
    this.#closed = true;
    return Promise.resolve();
  }

  /** The same as {@linkcode PatternRetriever.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
