/**
 * Embeddings for patterns: the local default, an OpenAI-compatible option, and a cache in front of either.
 *
 * - **Local** ({@linkcode localEmbed}, {@linkcode localEmbedder}): deterministic, 256-d, no network, no weights.
 *   Feature hashing of word unigrams, word bigrams and character 4-grams of the (already normalized) text: each
 *   feature adds ±weight to two dimensions chosen by FNV-1a with two seeds (a sparse random projection), then
 *   the vector is L2-normalised. Similar wording → similar vectors; paraphrases with no shared words are not
 *   similar (it is lexical). Its similarity scale is not a learned model's: the retrieval cut-off is
 *   calibrated for it on `dev` (`calibrate.ts`, `configs/patterns.yaml`).
 * - **OpenAI-compatible** ({@linkcode openAiEmbedder}): any `kind: embedding` entry of `configs/models.yaml`
 *   through `createEmbeddings` (e.g. `text-embedding-3-small`, or `local-embed` on the lab's server).
 * - **Cache** ({@linkcode cachedEmbedder}): an LRU in memory, plus, when given a DuckDB connection source, the
 *   table `embedding_cache(embedder, text_hash, vector)` so a remote model is never asked twice for one text.
 * @module
 */
import { createHash } from "node:crypto";
import { type DuckDBConnection, type DuckDBListValue, FLOAT, LIST, listValue, VARCHAR } from "@duckdb/node-api";
import type { Embeddings } from "../models/mod.ts";
import { fnv1a } from "../util/mod.ts";
import { EMBEDDING_DIMS } from "./_schema.ts";

/**
 * Id recorded with every vector it makes (bump the version when the function changes). v1 is kept after the
 * dev calibration: stemming, binary term weights and other weightings changed dev AUC by ≤ 0.015 and did not
 * carry over to test_id, so they did not justify re-embedding stored patterns (figures in configs/patterns.yaml).
 */
export const LOCAL_EMBEDDER_ID = "lab-hash-256-v1";

const WORD = 1.0;
const BIGRAM = 0.7;
const CHAR = 0.35;

function add(v: Float32Array, feature: string, weight: number) {
  const dims = v.length;
  const h1 = fnv1a(feature);
  const h2 = fnv1a(feature, 0x9e3779b9);
  v[h1 % dims] += (h1 & 0x80000000) ? -weight : weight;
  v[h2 % dims] += (h2 & 0x80000000) ? -weight : weight;
}

/**
 * The local embedding of `text` (unit length; the zero vector when the text has no word characters).
 *
 * @example
 * ```ts
 * const v = localEmbed(normalizeIntent("Total revenue for March 2025?")); // Float32Array(256), |v| = 1
 * ```
 */
export function localEmbed(text: string, dims: number = EMBEDDING_DIMS): Float32Array {
  const v = new Float32Array(dims);
  const words = text.toLowerCase().match(/[\p{L}\p{N}_<>]+/gu) ?? [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    add(v, `w:${w}`, WORD);
    if (i + 1 < words.length) add(v, `b:${w} ${words[i + 1]}`, BIGRAM);
    const padded = `^${w}$`;
    for (let j = 0; j + 4 <= padded.length; j++) add(v, `c:${padded.slice(j, j + 4)}`, CHAR);
  }
  let norm = 0;
  for (let i = 0; i < dims; i++) norm += v[i] * v[i];
  if (norm > 0) {
    const inv = 1 / Math.sqrt(norm);
    for (let i = 0; i < dims; i++) v[i] *= inv;
  }
  return v;
}

/**
 * An embedder the store and retrieval use: an id (stored with each vector) and a batch embed.
 * @internal
 */
export interface Embedder {
  readonly id: string;
  readonly dims: number;
  /** Embeds texts, in order; every vector has `dims` entries and unit length. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** The default embedder: {@linkcode localEmbed}. */
export function localEmbedder(): Embedder {
  return {
    id: LOCAL_EMBEDDER_ID,
    dims: EMBEDDING_DIMS,
    embed: (texts) => Promise.resolve(texts.map((t) => localEmbed(t))),
  };
}

/** Options for {@linkcode openAiEmbedder}. */
export interface OpenAiEmbedderOptions {
  /** Dimensions of the vectors it returns. @default 256 (the pattern table's) */
  dims?: number;
  /** Texts per request. @default 256 */
  batchSize?: number;
  /**
   * What to do with longer vectors than `dims`: `"truncate"` keeps the first `dims` entries and re-normalises
   * (what the API's `dimensions` parameter does for Matryoshka-trained models such as `text-embedding-3-*`);
   * `"error"` refuses. @default "truncate" for `text-embedding-3-*` models, else "error"
   */
  reduce?: "truncate" | "error";
}

/**
 * An embedder over an OpenAI-compatible embedding model (`createEmbeddings` of a `kind: embedding` entry). Its
 * id names the model and the dimensions, so vectors of different models are never compared.
 *
 * @example
 * ```ts
 * const cfg = getModelConfig(await loadModelsConfig(), "openai-embed-small");
 * const embedder = await cachedEmbedder(openAiEmbedder(createEmbeddings(cfg)), { store });
 * ```
 */
export function openAiEmbedder(embeddings: Embeddings, options: OpenAiEmbedderOptions = {}): Embedder {
  const dims = options.dims ?? EMBEDDING_DIMS;
  const batchSize = options.batchSize ?? 256;
  const model = embeddings.config.model;
  const reduce = options.reduce ?? (/^text-embedding-3/.test(model) ? "truncate" : "error");
  if (!Number.isInteger(dims) || dims <= 0) {
    throw new RangeError(`openAiEmbedder: dims must be a positive integer, got ${dims}`);
  }
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new RangeError(`openAiEmbedder: batchSize must be a positive integer, got ${batchSize}`);
  }
  const id = `${model}/${dims}`;
  return {
    id,
    dims,
    async embed(texts) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batchSize) {
        const batch = texts.slice(i, i + batchSize).map((t) => t || " ");
        const { vectors } = await embeddings.embed(batch);
        if (vectors.length !== batch.length) {
          throw new Error(
            `Embedding model '${embeddings.name}' returned ${vectors.length} vectors for ${batch.length} texts; check the server at ${embeddings.config.base_url}`,
          );
        }
        for (const raw of vectors) {
          if (raw.length < dims || (raw.length > dims && reduce === "error")) {
            throw new Error(
              `Embedding model '${embeddings.name}' (${model}) returned ${raw.length}-d vectors; patterns need ${dims}-d: ` +
                (raw.length < dims
                  ? `use a model with at least ${dims} dimensions`
                  : `serve it with dimensions: ${dims}, or pass reduce: "truncate" if the model is Matryoshka-trained`),
            );
          }
          const v = Float32Array.from(raw.length === dims ? raw : raw.slice(0, dims));
          let s = 0;
          for (let j = 0; j < dims; j++) s += v[j] * v[j];
          if (s > 0) { for (let j = 0, inv = 1 / Math.sqrt(s); j < dims; j++) v[j] *= inv; }
          out.push(v);
        }
      }
      return out;
    },
  };
}

/** DDL of the persistent embedding cache (idempotent). */
export const EMBEDDING_CACHE_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS embedding_cache (
    embedder VARCHAR NOT NULL,   -- Embedder.id
    text_hash VARCHAR NOT NULL,  -- sha-256 (hex) of the text embedded
    vector FLOAT[] NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (embedder, text_hash)
  )`,
];

/** Something that lends a DuckDB connection (the pattern store's `withConnection`). */
export interface ConnectionSource {
  withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T>;
}

/** Options for {@linkcode cachedEmbedder}. */
export interface CachedEmbedderOptions {
  /** Vectors kept in memory (least recently used go first). @default 10000 */
  capacity?: number;
  /** Also keep vectors in its `embedding_cache` table (created if missing). @default memory only */
  store?: ConnectionSource;
}

/** Counters of a {@linkcode CachedEmbedder}. */
export interface EmbeddingCacheStats {
  /** Texts served from memory. */
  memoryHits: number;
  /** Texts served from the DuckDB table. */
  storeHits: number;
  /** Texts the inner embedder embedded. */
  misses: number;
}

/**
 * An embedder with a cache in front; same id and dims as the one it wraps.
 * @internal
 */
export interface CachedEmbedder extends Embedder {
  readonly stats: Readonly<EmbeddingCacheStats>;
}

const textHash = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * Wraps an embedder with an LRU in memory and, optionally, the `embedding_cache` table of a store. Vectors
 * from the table are checked against `dims`; a text is embedded at most once per batch.
 *
 * @example
 * ```ts
 * await using store = await PatternStore.open("data/lab.duckdb");
 * const embedder = await cachedEmbedder(openAiEmbedder(createEmbeddings(cfg)), { store, capacity: 50_000 });
 * ```
 */
export async function cachedEmbedder(inner: Embedder, options: CachedEmbedderOptions = {}): Promise<CachedEmbedder> {
  const capacity = options.capacity ?? 10_000;
  if (!Number.isInteger(capacity) || capacity < 0) {
    throw new RangeError(`cachedEmbedder: capacity must be a non-negative integer, got ${capacity}`);
  }
  const store = options.store;
  if (store) {
    await store.withConnection(async (c) => {
      for (const sql of EMBEDDING_CACHE_SCHEMA) await c.run(sql);
    });
  }
  const lru = new Map<string, Float32Array>();
  const stats: EmbeddingCacheStats = { memoryHits: 0, storeHits: 0, misses: 0 };
  const remember = (text: string, v: Float32Array) => {
    if (capacity === 0) return;
    lru.delete(text);
    lru.set(text, v);
    if (lru.size > capacity) lru.delete(lru.keys().next().value as string);
  };
  return {
    id: inner.id,
    dims: inner.dims,
    stats,
    async embed(texts) {
      const out: (Float32Array | undefined)[] = new Array(texts.length);
      const wanted = new Map<string, number[]>(); // text → positions still missing
      texts.forEach((t, i) => {
        const hit = lru.get(t);
        if (hit) {
          lru.delete(t);
          lru.set(t, hit);
          out[i] = hit;
          stats.memoryHits++;
        } else {
          const at = wanted.get(t);
          if (at) at.push(i);
          else wanted.set(t, [i]);
        }
      });
      if (!wanted.size) return out as Float32Array[];
      const fill = (text: string, v: Float32Array) => {
        for (const i of wanted.get(text) ?? []) out[i] = v;
        wanted.delete(text);
        remember(text, v);
      };
      if (store) {
        const byHash = new Map([...wanted.keys()].map((t) => [textHash(t), t]));
        const rows = await store.withConnection(async (c) =>
          (await c.runAndReadAll(
            `SELECT text_hash, vector FROM embedding_cache WHERE embedder = $1 AND text_hash IN (SELECT unnest($2::VARCHAR[]))`,
            [inner.id, listValue([...byHash.keys()])],
          )).getRows()
        );
        for (const [h, vec] of rows) {
          const items = (vec as DuckDBListValue).items as number[];
          const text = byHash.get(String(h));
          if (text === undefined || items.length !== inner.dims) continue; // a wrong-sized entry is re-made
          fill(text, Float32Array.from(items));
          stats.storeHits += 1;
        }
      }
      const missing = [...wanted.keys()];
      if (!missing.length) return out as Float32Array[];
      const made = await inner.embed(missing);
      if (made.length !== missing.length || made.some((v) => v.length !== inner.dims)) {
        throw new Error(
          `Embedder '${inner.id}' returned ${made.length} vectors for ${missing.length} texts (each must have ${inner.dims} dims)`,
        );
      }
      stats.misses += missing.length;
      if (store) {
        await store.withConnection((c) =>
          c.run(
            `INSERT INTO embedding_cache (embedder, text_hash, vector)
             SELECT $1, unnest($2::VARCHAR[]), unnest($3::FLOAT[][]) ON CONFLICT DO NOTHING`,
            [inner.id, listValue(missing.map(textHash)), listValue(made.map((v) => listValue(Array.from(v))))],
            [VARCHAR, LIST(VARCHAR), LIST(LIST(FLOAT))],
          )
        );
      }
      missing.forEach((t, i) => fill(t, made[i]));
      return out as Float32Array[];
    },
  };
}
