/**
 * The ivf search path's index: an in-memory IVF index (`_ann.ts`) over the eligible rows' embeddings, loaded
 * from DuckDB in streamed chunks (trained on a sample ordered by a hash of the id, so the same rows give the same
 * index), kept current by {@linkcode EligibleIndex.refresh}, and searched with the leakage rules that depend on
 * the query (its split, its role) applied to each row it visits.
 * @module
 */
import type { DuckDBDataChunk } from "@duckdb/node-api";
import type { ConnectionSource } from "./embed.ts";
import type { RetrievalConfig } from "./_config.ts";
import { EMBEDDING_COLUMNS, type PatternQuery, readVectorColumns } from "./_search.ts";
import { EMBEDDING_DIMS } from "./_schema.ts";
import { IvfIndex } from "./_ann.ts";

/** Sizes and timings of a build. */
export interface IndexBuildStats {
  /** Eligible rows indexed. */
  rows: number;
  nlist: number;
  /** Bytes of the index (vectors, ids, centroids). */
  bytes: number;
  /** Reading rows from DuckDB (ms), training k-means (ms), assigning rows to cells (ms). */
  loadMs: number;
  trainMs: number;
  addMs: number;
}

const grow = <T extends Uint8Array | Uint16Array>(a: T, n: number, make: (n: number) => T): T => {
  if (n <= a.length) return a;
  const b = make(Math.max(n, Math.ceil(a.length * 1.5), 1024));
  b.set(a);
  return b;
};

/** The index with, per row, its id, whether it is still eligible, and codes of its split and role. */
export class EligibleIndex {
  readonly ids: string[] = [];
  readonly #rowOf = new Map<string, number>();
  #alive = new Uint8Array(0);
  #splitCode = new Uint16Array(0);
  #roleCode = new Uint16Array(0);
  readonly #splits = new Map<string | null, number>();
  readonly #roles = new Map<string, number>();
  /** Microseconds since the epoch of the newest `updated_at` loaded. */
  #since = 0n;

  private constructor(readonly ivf: IvfIndex) {}

  /**
   * Builds the index of the rows matching `where` (about `expected` of them): (1) reads a sample ordered by a
   * hash of the id, (2) trains the cells without holding the connection, (3) streams every row into its cell.
   */
  static async build(
    src: ConnectionSource,
    where: string,
    cfg: RetrievalConfig["index"],
    expected: number,
  ): Promise<{ index: EligibleIndex; stats: IndexBuildStats }> {
    const dims = EMBEDDING_DIMS;
    let t0 = performance.now();
    const sampleN = Math.min(expected, cfg.sample);
    const sample = new Float32Array(sampleN * dims);
    let got = 0;
    await src.withConnection(async (c) => {
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
    const index = new EligibleIndex(ivf);
    let addMs = 0;
    t0 = performance.now();
    await src.withConnection(async (c) => {
      const res = await c.stream(
        `SELECT id, split, role, epoch_us(updated_at), ${EMBEDDING_COLUMNS} FROM turn_memories WHERE ${where}`,
      );
      for (let ch = await res.fetchChunk(); ch && ch.rowCount; ch = await res.fetchChunk()) {
        addMs += index.#ingest(ch, true);
      }
    });
    loadMs += performance.now() - t0 - addMs;
    ivf.compact();
    const stats = { rows: index.ids.length, nlist: ivf.nlist, bytes: ivf.bytes + index.ids.length * 8, loadMs, trainMs, addMs };
    return { index, stats };
  }

  /** Adds (or updates) the rows of a chunk `id, split, role, updated_us, dims…, [eligible]`; returns ms spent adding. */
  #ingest(ch: DuckDBDataChunk, allEligible: boolean): number {
    const n = ch.rowCount;
    const dims = EMBEDDING_DIMS;
    const vecs = new Float32Array(n * dims);
    readVectorColumns(ch, 4, dims, vecs, 0);
    const idCol = ch.getColumnVector(0), splitCol = ch.getColumnVector(1), roleCol = ch.getColumnVector(2);
    const updCol = ch.getColumnVector(3);
    const eligibleCol = allEligible ? undefined : ch.getColumnVector(4 + dims);
    const t0 = performance.now();
    const need = this.ids.length + n;
    this.#alive = grow(this.#alive, need, (k) => new Uint8Array(k));
    this.#splitCode = grow(this.#splitCode, need, (k) => new Uint16Array(k));
    this.#roleCode = grow(this.#roleCode, need, (k) => new Uint16Array(k));
    const code = <K>(m: Map<K, number>, k: K) => {
      let v = m.get(k);
      if (v === undefined) m.set(k, v = m.size + 1);
      return v;
    };
    for (let r = 0; r < n; r++) {
      const id = String(idCol.getItem(r));
      const upd = updCol.getItem(r) as bigint | null;
      if (upd !== null && upd > this.#since) this.#since = upd;
      const eligible = eligibleCol ? eligibleCol.getItem(r) === true : true;
      let row = this.#rowOf.get(id);
      if (row === undefined) {
        if (!eligible) continue;
        row = this.ids.length;
        this.ids.push(id);
        this.#rowOf.set(id, row);
        this.ivf.add(row, vecs, r * dims);
      }
      this.#alive[row] = eligible ? 1 : 0;
      this.#splitCode[row] = code(this.#splits, splitCol.getItem(r) as string | null);
      this.#roleCode[row] = code(this.#roles, String(roleCol.getItem(r)));
    }
    return performance.now() - t0;
  }

  /**
   * Folds rows added or changed since the index was built (or last refreshed) into it: new rows matching `where`
   * are added, rows no longer matching are dropped. Returns the rows read.
   */
  async refresh(src: ConnectionSource, where: string): Promise<number> {
    let read = 0;
    await src.withConnection(async (c) => {
      const res = await c.stream(
        `SELECT id, split, role, epoch_us(updated_at), ${EMBEDDING_COLUMNS}, coalesce((${where}), false)
         FROM turn_memories WHERE updated_at >= make_timestamp($since::BIGINT)`,
        { since: this.#since },
      );
      for (let ch = await res.fetchChunk(); ch && ch.rowCount; ch = await res.fetchChunk()) {
        this.#ingest(ch, false);
        read += ch.rowCount;
      }
    });
    return read;
  }

  /**
   * The best `k` rows for a query vector with similarity ≥ `minScore` (ids and similarities, best first), skipping
   * rows no longer eligible, rows of the query's split (unless `allow_query_split`) and, with `same_role`, rows of
   * other roles. `nprobe` overrides the config's.
   */
  search(
    vector: Float32Array,
    query: PatternQuery,
    k: number,
    config: RetrievalConfig,
    minScore: number,
    nprobe: number = config.index.nprobe,
  ): { id: string; similarity: number }[] {
    const alive = this.#alive, splitCode = this.#splitCode, roleCode = this.#roleCode;
    const qsplit = query.split && !config.allow_query_split ? this.#splits.get(query.split) ?? -1 : -1;
    const qrole = config.same_role ? this.#roles.get(query.role) ?? -2 : -1;
    const accept = (row: number) =>
      alive[row] === 1 && splitCode[row] !== qsplit && (qrole === -1 || roleCode[row] === qrole);
    const hits = this.ivf.search(vector, {
      k,
      nprobe,
      maxProbe: Math.max(nprobe, config.index.max_probe),
      minScore,
      accept,
    });
    return hits.rows.map((row, i) => ({ id: this.ids[row], similarity: hits.scores[i] }));
  }
}
