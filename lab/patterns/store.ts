/**
 * The pattern store: what episodes teach, in the `turn_memories` table of a DuckDB file (by default
 * `data/patterns.duckdb`: its own file, because two DuckDB instances on one file in one process do not see each
 * other's writes, and a tournament writes its tables while the sink stores patterns).
 *
 * One pattern = the successful SQL an episode ran for an intent, in order, with a short result summary per
 * query, the names of its successful tool calls, its fitness, an embedding of the normalized intent and its
 * lineage (run, episode, strategy, model, challenge family, split, tenant).
 *
 * - **What is kept** of an episode (never a failed query, no verification wrappers) is `_extract.ts`'s rule.
 * - **Merging**: patterns with the same (role, normalized intent, canonical SQL) share an id and merge (the rules
 *   are `_upsert.ts`'s). Role is part of the key because the same SQL may be allowed for one role and refused
 *   for another.
 * - **Fitness**: `query_avg_fitness` is the mean fitness of the stored queries (failed ones are not part of
 *   the pattern), `turn_fitness` the episode's, `composite = w.query·query_avg + w.turn·turn` with the weights
 *   of the fitness config (stored in `pattern_meta`; opening with other weights re-derives every composite).
 * - **Idempotent by episode**: an episode sent again (a resumed tournament does) is skipped and counted as a
 *   duplicate, not as more support.
 * - **Speed**: a batch is normalized (cached per task text), embedded (once per distinct normalized intent),
 *   merged in memory and upserted in bulk, all in one transaction: bad input or a failure leaves the store
 *   unchanged.
 * - **Sharing the file**: `mode: "held"` (default) keeps the file open until `close()`; `mode: "per-call"`
 *   opens it for each call and closes it after (retrying a locked file), so a notebook and the CLI can take
 *   turns on the file.
 * @module
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import { type DuckDBSession, openDuckDBSession, repoPath, withTransaction } from "../util/mod.ts";
import { DEFAULT_FITNESS, type EpisodeRecord, type EpisodeSink, type FitnessWeights } from "../agents/mod.ts";
import { type Embedder, localEmbedder } from "./embed.ts";
import { type IntentNormalizer, normalizeIntent, normalizeIntentWith } from "./normalize.ts";
import { EMBEDDING_DIMS, PATTERN_SCHEMA, utcNow } from "./_schema.ts";
import { type AskInput, type Draft, type Extraction, extractAsk, extractEpisodes, patternId, round6 } from "./_extract.ts";
import { countQuery, type ListOptions, listQuery, type Pattern, type PatternFilter, patternFromRow } from "./_query.ts";
import { type KeyedDraft, replaceEmbeddings, upsertDrafts } from "./_upsert.ts";

/**
 * What a batch did.
 * @internal
 */
export interface AddReport {
  /** Episodes (or asks) received. */
  episodes: number;
  /** New rows. */
  inserted: number;
  /** Observations merged into an existing row (stored before, or earlier in the same batch). */
  merged: number;
  /** Failed, refused or erroring queries left out. */
  failedQueriesSkipped: number;
  /** Verification wrappers and verbatim repeats left out. */
  verificationQueriesSkipped: number;
  /** Episodes with no successful query (nothing stored). */
  withoutPattern: number;
  /** Episodes stored before (same run and episode id; a resumed tournament sends them again): skipped. */
  duplicates: number;
}

/** A report of nothing done yet (to add batches' reports to). */
export function emptyAddReport(): AddReport {
  return { episodes: 0, inserted: 0, merged: 0, failedQueriesSkipped: 0, verificationQueriesSkipped: 0, withoutPattern: 0, duplicates: 0 };
}

/** The report of extracting `extractions` (nothing stored yet). */
function reportOf(extractions: readonly Extraction[]): AddReport {
  const report: AddReport = { ...emptyAddReport(), episodes: extractions.length };
  for (const x of extractions) {
    report.failedQueriesSkipped += x.failed;
    report.verificationQueriesSkipped += x.verification;
    if (!x.draft) report.withoutPattern++;
  }
  return report;
}

/** Options for {@linkcode PatternStore.open}. */
export interface PatternStoreOptions {
  /** Embeds normalized intents. Its `dims` must be 256. @default localEmbedder() */
  embedder?: Embedder;
  /**
   * Fitness weights (only `composite` is used here). When given and different from the weights the store was
   * written with, every stored composite is re-derived. @default the store's weights, else DEFAULT_FITNESS
   */
  fitness?: FitnessWeights;
  /** A model that rewrites a task before the rules normalize it (called once per distinct task). @default none */
  normalizer?: IntentNormalizer;
  /**
   * `"held"`: one connection until `close()` (fast; the file stays locked). `"per-call"`: the file is opened for
   * each call and closed after, so other processes can use it in between (each call costs an open).
   * @default "held"
   */
  mode?: "held" | "per-call";
  /** How long to retry a file another process holds (ms). @default the lab's lock wait (`lockWaitMs`: 30 s) */
  lockTimeoutMs?: number;
}

/**
 * Options for {@linkcode PatternStore.addEpisodes} and {@linkcode PatternStore.sink}.
 * @internal
 */
export interface AddEpisodesOptions {
  /** The run the episodes belong to (lineage; Parquet export partitions by it). @default null */
  runId?: string;
}

/**
 * Weights of the composite fitness: how much the query and the turn count.
 * @internal
 */
interface CompositeWeights {
  query: number;
  turn: number;
}

/** The pattern store's default file (its own file, so a run writing the tournament tables never shares one). */
export const DEFAULT_PATTERNS_PATH: string = repoPath("data/patterns.duckdb");

/**
 * The pattern store. Open with `await using` (STYLE #8); every write is one transaction.
 *
 * @example
 * ```ts
 * await using store = await PatternStore.open(DEFAULT_PATTERNS_PATH);
 * const rec = await runEpisode(spec, { pool, sink: store.sink({ runId: "t-1" }) });
 * console.log(await store.count({ turnPass: true }), await store.list({ role: "cfo" }, { limit: 5 }));
 * ```
 */
export class PatternStore implements AsyncDisposable {
  readonly #db: DuckDBSession;
  readonly #normalized = new Map<string, string>();
  readonly #embedded = new Map<string, Float32Array>();

  private constructor(
    /** The DuckDB file. */
    readonly path: string,
    /** Embeds normalized intents (retrieval must embed queries with the same one). */
    readonly embedder: Embedder,
    /** Composite weights the store derives `composite_fitness` with. */
    readonly weights: Readonly<CompositeWeights>,
    private readonly options: PatternStoreOptions,
    db: DuckDBSession,
  ) {
    this.#db = db;
  }

  /**
   * Opens (creating the tables of) the store at `path` (`":memory:"` for a throwaway one; it needs the
   * default `mode: "held"`).
   */
  static async open(path: string, options: PatternStoreOptions = {}): Promise<PatternStore> {
    if (typeof path !== "string" || !path) {
      throw new TypeError("PatternStore.open: path must be a file path or ':memory:'");
    }
    const embedder = options.embedder ?? localEmbedder();
    if (embedder.dims !== EMBEDDING_DIMS) {
      throw new RangeError(
        `PatternStore.open: embedder '${embedder.id}' makes ${embedder.dims}-d vectors; turn_memories stores ${EMBEDDING_DIMS}-d`,
      );
    }
    const mode = options.mode ?? "held";
    if (mode === "per-call" && path === ":memory:") {
      throw new RangeError("PatternStore.open: mode 'per-call' needs a file; ':memory:' would be empty on every call");
    }
    const db = await openDuckDBSession(path, {
      mode,
      name: "the pattern store",
      lockTimeoutMs: options.lockTimeoutMs,
      lockHint: "close that notebook kernel or use mode: 'per-call'",
      schema: PATTERN_SCHEMA,
    });
    try {
      const weights = await db.exclusive((con) => settleWeights(con, options.fitness));
      return new PatternStore(path, embedder, weights, options, db);
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  /**
   * Runs `fn` with a connection to the store: the held one (after every earlier call of this store has
   * finished), or one opened for the call. Do not call other methods of the store inside `fn` (they wait for
   * it). Retrieval runs its SQL through this.
   * @internal
   */
  withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.#db.exclusive(fn);
  }

  /** Closes the store (waits for running calls). Idempotent. */
  async close(): Promise<void> {
    await this.#db.close();
  }

  /** The same as {@linkcode PatternStore.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * The port the runner and the tournament write to: stores each finished episode.
   *
   * @example
   * ```ts
   * await runTournament(config, { db, model, strategies, pool, sink: store.sink({ runId }) });
   * ```
   */
  sink(options: AddEpisodesOptions = {}): EpisodeSink {
    return async (episode: EpisodeRecord) => {
      await this.addEpisodes([episode], options);
    };
  }

  /**
   * Stores episodes (one transaction; on bad input a TypeError naming the record and field, and nothing is
   * stored). Returns what happened.
   *
   * @example
   * ```ts
   * const r = await store.addEpisodes(records, { runId: "t-1" });
   * // → { episodes: 40, inserted: 12, merged: 21, failedQueriesSkipped: 9, verificationQueriesSkipped: 3, withoutPattern: 7 }
   * ```
   */
  async addEpisodes(records: readonly EpisodeRecord[], options: AddEpisodesOptions = {}): Promise<AddReport> {
    if (!Array.isArray(records)) throw new TypeError("addEpisodes: records must be an array of EpisodeRecords");
    if (options.runId !== undefined && (typeof options.runId !== "string" || !options.runId)) {
      throw new TypeError(
        `addEpisodes: options.runId must be a non-empty string, found ${JSON.stringify(options.runId)}`,
      );
    }
    const extractions = extractEpisodes(records, options.runId ?? null);
    const drafts = extractions.flatMap((x) => (x.draft ? [x.draft] : []));
    return await this.#store(drafts, reportOf(extractions));
  }

  /**
   * Stores a person's own question and the queries that answered it (`is_synthetic = false`, category
   * `ask`). Returns the pattern's id (undefined when no query succeeded) and the report.
   */
  async addAsk(input: AskInput): Promise<{ id: string | undefined; report: AddReport }> {
    const extraction = extractAsk(input);
    const report = reportOf([extraction]);
    const draft = extraction.draft;
    if (!draft) return { id: undefined, report };
    await this.#store([draft], report);
    return { id: patternId(draft.role, await this.#normalize(draft.task), draft.sqlKey), report };
  }

  /**
   * The store's normal form of a task: {@linkcode normalizeIntent}, after the `normalizer` model when the store
   * was opened with one (cached per text). Retrieval should normalize queries with it, to match the stored keys.
   */
  normalize(task: string): Promise<string> {
    if (typeof task !== "string") return Promise.reject(new TypeError("normalize: task must be a string"));
    return this.#normalize(task);
  }

  async #normalize(task: string): Promise<string> {
    let n = this.#normalized.get(task);
    if (n === undefined) {
      n = this.options.normalizer
        ? await normalizeIntentWith(task, { model: this.options.normalizer })
        : normalizeIntent(task);
      if (this.#normalized.size > 200_000) this.#normalized.clear();
      this.#normalized.set(task, n);
    }
    return n;
  }

  async #embed(intents: Iterable<string>): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    const missing: string[] = [];
    for (const t of intents) {
      const v = this.#embedded.get(t);
      if (v) out.set(t, v);
      else if (!out.has(t)) {
        missing.push(t);
        out.set(t, new Float32Array(0));
      }
    }
    if (missing.length) {
      const vs = await this.embedder.embed(missing);
      if (vs.length !== missing.length || vs.some((v) => v.length !== EMBEDDING_DIMS)) {
        throw new Error(
          `Embedder '${this.embedder.id}' returned ${vs.length} vectors for ${missing.length} texts (each must have ${EMBEDDING_DIMS} dims); nothing was stored`,
        );
      }
      if (this.#embedded.size > 100_000) this.#embedded.clear();
      missing.forEach((t, i) => {
        out.set(t, vs[i]);
        this.#embedded.set(t, vs[i]);
      });
    }
    return out;
  }

  async #store(drafts: readonly Draft[], report: AddReport): Promise<AddReport> {
    if (!drafts.length) return report;
    const w = this.weights;
    // Normalize and embed before the transaction (a model normalizer may be slow; the file stays free).
    const keyed: KeyedDraft[] = [];
    const seen = new Set<string>();
    for (const d of drafts) {
      const key = d.episodeId === null ? undefined : `${d.runId ?? ""}\u0000${d.episodeId}`;
      if (key !== undefined) {
        if (seen.has(key)) {
          report.duplicates++;
          continue;
        }
        seen.add(key);
      }
      const normalizedIntent = await this.#normalize(d.task);
      keyed.push({
        d,
        id: patternId(d.role, normalizedIntent, d.sqlKey),
        normalizedIntent,
        composite: round6(w.query * d.queryAvgFitness + w.turn * d.turnFitness),
        key,
      });
    }
    const embeddings = await this.#embed(keyed.map((k) => k.normalizedIntent));
    const now = utcNow();
    const counts = await this.withConnection((con) => upsertDrafts(con, keyed, embeddings, this.embedder.id, now));
    report.duplicates += counts.duplicates;
    report.inserted += counts.inserted;
    report.merged += counts.merged;
    return report;
  }

  /** Number of patterns matching `filter`. */
  async count(filter: PatternFilter = {}): Promise<number> {
    const { sql, params } = countQuery(filter);
    return await this.withConnection(async (con) => Number((await con.runAndReadAll(sql, params)).getRows()[0][0]));
  }

  /** Patterns matching `filter`, best first (composite fitness, then support, then id). */
  async list(filter: PatternFilter = {}, options: ListOptions = {}): Promise<Pattern[]> {
    const { sql, params } = listQuery(filter, options);
    return await this.withConnection(async (con) =>
      (await con.runAndReadAll(sql, params)).getRowObjectsJson().map((r) =>
        patternFromRow(r as Record<string, unknown>, !!options.withEmbedding)
      )
    );
  }

  /** One pattern by id (undefined when there is none). */
  async get(id: string, options: { withEmbedding?: boolean } = {}): Promise<Pattern | undefined> {
    return (await this.list({ ids: [id] }, { limit: 1, withEmbedding: options.withEmbedding }))[0];
  }

  /**
   * A person marks a pattern's answer right (`turnPass: true`) or wrong: the mark overrides every episode's
   * verdict, now and when later episodes merge in. Throws a RangeError for an unknown id.
   */
  async mark(id: string, mark: { turnPass: boolean }): Promise<void> {
    if (typeof mark?.turnPass !== "boolean") throw new TypeError("mark: pass { turnPass: true | false }");
    const n = await this.withConnection((con) =>
      withTransaction(con, async () => {
        const r = await con.run(
          // A person's own question has no verifier: their mark is its correctness, so its turn fitness (and the
          // composite) follow the mark. A verified episode keeps the fitness its verifier gave.
          `UPDATE turn_memories SET marked_pass = $2, turn_pass = $2, updated_at = $3::TIMESTAMP,
             turn_fitness = CASE WHEN is_synthetic THEN turn_fitness ELSE (CASE WHEN $2 THEN 1.0 ELSE 0.0 END) END,
             composite_fitness = round($4 * query_avg_fitness + $5 *
               (CASE WHEN is_synthetic THEN turn_fitness ELSE (CASE WHEN $2 THEN 1.0 ELSE 0.0 END) END), 6)
           WHERE id = $1`,
          [id, mark.turnPass, utcNow(), this.weights.query, this.weights.turn],
        );
        return r.rowsChanged;
      })
    );
    if (!n) throw new RangeError(`mark: no pattern with id '${id}' in ${this.path}; list() shows the stored ids`);
  }

  /**
   * Re-embeds the patterns made by another embedder (after changing `options.embedder`). Returns the number
   * of rows updated.
   */
  async reembed(): Promise<number> {
    const intents = await this.withConnection(async (con) =>
      (await con.runAndReadAll("SELECT DISTINCT normalized_intent FROM turn_memories WHERE embedder <> $1", [
        this.embedder.id,
      ])).getRows().map(([t]) => String(t))
    );
    if (!intents.length) return 0;
    const vs = await this.#embed(intents);
    return await this.withConnection((con) => replaceEmbeddings(con, vs, this.embedder.id));
  }
}

/** Reads the stored composite weights; with `fitness` given and different, re-derives every composite. */
async function settleWeights(con: DuckDBConnection, fitness: FitnessWeights | undefined): Promise<CompositeWeights> {
  const rows = (await con.runAndReadAll("SELECT value::VARCHAR FROM pattern_meta WHERE key = 'composite_weights'"))
    .getRows();
  const stored = rows.length ? JSON.parse(String(rows[0][0])) as CompositeWeights : undefined;
  if (fitness !== undefined) {
    const c = fitness?.composite;
    if (!c || typeof c.query !== "number" || typeof c.turn !== "number" || c.query < 0 || c.turn < 0) {
      throw new TypeError(
        `PatternStore.open: options.fitness.composite must be { query: number ≥ 0, turn: number ≥ 0 }, found ${
          JSON.stringify(c)
        }`,
      );
    }
  }
  const want: CompositeWeights = fitness
    ? { query: fitness.composite.query, turn: fitness.composite.turn }
    : stored ?? { ...DEFAULT_FITNESS.composite };
  if (stored && stored.query === want.query && stored.turn === want.turn) return want;
  await withTransaction(con, async () => {
    await con.run(
      "INSERT OR REPLACE INTO pattern_meta VALUES ('composite_weights', $1::JSON)",
      [JSON.stringify(want)],
    );
    if (stored) {
      await con.run(
        "UPDATE turn_memories SET composite_fitness = round($1 * query_avg_fitness + $2 * turn_fitness, 6)",
        [want.query, want.turn],
      );
    }
  });
  return want;
}
