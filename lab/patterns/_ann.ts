/**
 * An approximate nearest-neighbour index for unit vectors (cosine = dot product): IVF, an inverted file over
 * spherical k-means cells, in TypeScript over Float32Array. Deterministic given its seed.
 *
 * Why IVF and not HNSW: patterns are filtered at query time (split, role, liveness), and IVF scans whole cells,
 * so a filter costs one typed-array read per row and never breaks the graph connectivity HNSW relies on; IVF
 * also builds in one streaming pass (assign + append) after training on a sample, which is what loading a
 * million rows from DuckDB needs, and its memory is the vectors plus 4 bytes a row.
 *
 * - **Training** on a sample: two-level spherical k-means when there are many cells (√nlist coarse cells, then
 *   each coarse cell split into leaf cells in proportion to its share of the sample), so assigning a vector
 *   costs about (1 + assignProbe)·√nlist dot products instead of nlist.
 * - **Cells** keep their vectors contiguous (growable Float32Array per cell) for cache-friendly scans, plus the
 *   row ids and the cell's angular radius (the largest angle between its centroid and a member).
 * - **Search** ranks cells by centroid similarity and scans them best first. A cell is skipped when even its
 *   best possible member, cos(max(0, ∠(q, c) − radius)), cannot beat the current k-th score or the minimum
 *   score (exact pruning); scanning stops after `nprobe` cells once k results are found, or after `maxProbe`.
 * @module
 */
import { mulberry32 } from "../util/mod.ts";

/** Options for building an {@linkcode IvfIndex}. */
export interface IvfOptions {
  /** Number of cells. @default round(2√n) for n rows (at least 1) */
  nlist?: number;
  /** k-means iterations (each level). @default 8 */
  iterations?: number;
  /** Seed of the k-means initialisation. @default 1 */
  seed?: number;
  /** Coarse cells a vector is compared against when assigned (two-level only). @default 2 */
  assignProbe?: number;
}

/** Options of one {@linkcode IvfIndex.search}. */
export interface IvfSearchOptions {
  /** Results wanted. */
  k: number;
  /** Cells scanned at least (when they can hold a result). @default 16 */
  nprobe?: number;
  /** Cells scanned at most, when fewer than k results were found after `nprobe`. @default 4 × nprobe */
  maxProbe?: number;
  /** Results must score at least this. @default -Infinity */
  minScore?: number;
  /** Row filter: only rows it accepts are scored. @default every row */
  accept?: (row: number) => boolean;
}

/** What {@linkcode IvfIndex.search} returns: rows best first, and the work done. */
export interface IvfHits {
  rows: number[];
  scores: number[];
  /** Cells scanned. */
  probed: number;
  /** Vectors scored. */
  scanned: number;
}

/** Dot product of `a[ao..ao+d)` and `b[bo..bo+d)`, unrolled by 4 (d is a multiple of 4 for the lab's 256). */
export function dotAt(a: Float32Array, ao: number, b: Float32Array, bo: number, d: number): number {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = 0;
  for (; i + 3 < d; i += 4) {
    s0 += a[ao + i] * b[bo + i];
    s1 += a[ao + i + 1] * b[bo + i + 1];
    s2 += a[ao + i + 2] * b[bo + i + 2];
    s3 += a[ao + i + 3] * b[bo + i + 3];
  }
  for (; i < d; i++) s0 += a[ao + i] * b[bo + i];
  return s0 + s1 + s2 + s3;
}

/** Scales `v[o..o+d)` to unit length (leaves a zero vector alone). */
function normalizeAt(v: Float32Array, o: number, d: number) {
  let s = 0;
  for (let i = 0; i < d; i++) s += v[o + i] * v[o + i];
  if (s === 0) return;
  const inv = 1 / Math.sqrt(s);
  for (let i = 0; i < d; i++) v[o + i] *= inv;
}

/** Index of the best of `k` centroids (in `cents` from row `first`) for `v[vo..]`, and its score. */
function nearest(
  cents: Float32Array,
  first: number,
  k: number,
  v: Float32Array,
  vo: number,
  d: number,
): [number, number] {
  let best = first, bestS = -Infinity;
  for (let c = first; c < first + k; c++) {
    const s = dotAt(cents, c * d, v, vo, d);
    if (s > bestS) {
      bestS = s;
      best = c;
    }
  }
  return [best, bestS];
}

/**
 * Spherical k-means of the rows `members` of `data` into `k` unit centroids (random distinct rows to start,
 * Lloyd iterations; an emptied cell is re-seeded with the member farthest from its centroid).
 */
export function sphericalKMeans(
  data: Float32Array,
  d: number,
  members: Int32Array,
  k: number,
  iterations: number,
  rnd: () => number,
): Float32Array {
  const n = members.length;
  k = Math.max(1, Math.min(k, n));
  const cents = new Float32Array(k * d);
  // Partial Fisher–Yates: k distinct members.
  const order = Int32Array.from(members);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rnd() * (n - i));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
    cents.set(data.subarray(order[i] * d, order[i] * d + d), i * d);
  }
  const assign = new Int32Array(n);
  const score = new Float32Array(n);
  const sums = new Float64Array(k * d);
  const counts = new Int32Array(k);
  for (let it = 0; it < iterations; it++) {
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const o = members[i] * d;
      const [c, s] = nearest(cents, 0, k, data, o, d);
      assign[i] = c;
      score[i] = s;
      counts[c]++;
      const so = c * d;
      for (let j = 0; j < d; j++) sums[so + j] += data[o + j];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) {
        // Re-seed with the worst-served member: deterministic, and splits the loosest cell.
        let worst = 0;
        for (let i = 1; i < n; i++) if (score[i] < score[worst]) worst = i;
        cents.set(data.subarray(members[worst] * d, members[worst] * d + d), c * d);
        score[worst] = Infinity;
        continue;
      }
      for (let j = 0; j < d; j++) cents[c * d + j] = sums[c * d + j];
      normalizeAt(cents, c * d, d);
    }
  }
  return cents;
}

/** Two-level assignment: coarse centroids and, per coarse cell, its range of leaves. */
interface Coarse {
  cents: Float32Array;
  k: number;
  first: Int32Array;
  count: Int32Array;
}

/** A growable cell: contiguous vectors and their row ids. */
interface Cell {
  vecs: Float32Array;
  rows: Int32Array;
  size: number;
  /** cos of the angular radius: the smallest member·centroid seen. */
  minCos: number;
}

/** Min-heap of (score, row) of fixed capacity: keeps the best `cap`. */
class TopK {
  readonly scores: Float64Array;
  readonly rows: Int32Array;
  size = 0;
  constructor(readonly cap: number) {
    this.scores = new Float64Array(cap);
    this.rows = new Int32Array(cap);
  }
  /** The score a new entry must beat (−∞ until full). */
  get floor(): number {
    return this.size < this.cap ? -Infinity : this.scores[0];
  }
  push(score: number, row: number) {
    const { scores, rows } = this;
    if (this.size < this.cap) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (scores[p] <= score) break;
        scores[i] = scores[p];
        rows[i] = rows[p];
        i = p;
      }
      scores[i] = score;
      rows[i] = row;
      return;
    }
    if (score <= scores[0]) return;
    let i = 0;
    const n = this.size;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && scores[r] < scores[l] ? r : l;
      if (scores[c] >= score) break;
      scores[i] = scores[c];
      rows[i] = rows[c];
      i = c;
    }
    scores[i] = score;
    rows[i] = row;
  }
  /** Entries best first (ties: lower row first). */
  sorted(): { rows: number[]; scores: number[] } {
    const idx = Array.from({ length: this.size }, (_, i) => i);
    idx.sort((a, b) => this.scores[b] - this.scores[a] || this.rows[a] - this.rows[b]);
    return { rows: idx.map((i) => this.rows[i]), scores: idx.map((i) => this.scores[i]) };
  }
}

/**
 * An IVF index over unit vectors. Build it with {@linkcode IvfIndex.train} on a sample, then
 * {@linkcode IvfIndex.add} every row (ids are the caller's row numbers).
 *
 * @example
 * ```ts
 * const index = IvfIndex.train(sample, 256, { nlist: 1000, seed: 7 });
 * index.addMany(vectors, 0);
 * const hits = index.search(query, { k: 5, nprobe: 16, minScore: 0.4 });
 * ```
 */
export class IvfIndex {
  /** Leaf centroids, `nlist × dims`. */
  readonly centroids: Float32Array;
  readonly nlist: number;
  readonly #cells: Cell[];
  readonly #coarse?: Coarse;
  readonly #assignProbe: number;
  #size = 0;

  private constructor(
    readonly dims: number,
    centroids: Float32Array,
    coarse: Coarse | undefined,
    assignProbe: number,
  ) {
    this.centroids = centroids;
    this.nlist = centroids.length / dims;
    this.#coarse = coarse;
    this.#assignProbe = assignProbe;
    this.#cells = Array.from({ length: this.nlist }, () => ({
      vecs: new Float32Array(0),
      rows: new Int32Array(0),
      size: 0,
      minCos: 1,
    }));
  }

  /**
   * Trains the cells on a sample of unit vectors (`sample.length / dims` rows); `expectedRows` sizes the
   * default `nlist` (2√expectedRows: smaller cells cost less per probe; the bench found better recall per ms).
   */
  static train(sample: Float32Array, dims: number, options: IvfOptions & { expectedRows?: number } = {}): IvfIndex {
    if (!Number.isInteger(dims) || dims <= 0 || sample.length % dims !== 0) {
      throw new RangeError(`IvfIndex.train: sample length ${sample.length} is not a multiple of dims ${dims}`);
    }
    const n = sample.length / dims;
    const expected = options.expectedRows ?? n;
    const nlist = Math.max(1, Math.min(options.nlist ?? Math.round(2 * Math.sqrt(expected)), n || 1));
    const iterations = options.iterations ?? 8;
    const rnd = mulberry32(options.seed ?? 1);
    const all = Int32Array.from({ length: n }, (_, i) => i);
    if (n === 0 || nlist === 1) {
      const c = new Float32Array(dims);
      for (let i = 0; i < n; i++) for (let j = 0; j < dims; j++) c[j] += sample[i * dims + j];
      normalizeAt(c, 0, dims);
      return new IvfIndex(dims, c, undefined, 1);
    }
    if (nlist <= 64) {
      return new IvfIndex(dims, sphericalKMeans(sample, dims, all, nlist, iterations, rnd), undefined, 1);
    }
    // Two levels: √nlist coarse cells, each split into leaves in proportion to its members.
    const kc = Math.round(Math.sqrt(nlist));
    const coarse = sphericalKMeans(sample, dims, all, kc, iterations, rnd);
    const groups: number[][] = Array.from({ length: kc }, () => []);
    for (let i = 0; i < n; i++) groups[nearest(coarse, 0, kc, sample, i * dims, dims)[0]].push(i);
    const parts: Float32Array[] = [];
    const first = new Int32Array(kc);
    const count = new Int32Array(kc);
    let total = 0;
    for (let g = 0; g < kc; g++) {
      const members = Int32Array.from(groups[g]);
      const want = members.length ? Math.max(1, Math.round((nlist * members.length) / n)) : 0;
      const leaves = want ? sphericalKMeans(sample, dims, members, want, iterations, rnd) : new Float32Array(0);
      first[g] = total;
      count[g] = leaves.length / dims;
      total += count[g];
      parts.push(leaves);
    }
    const cents = new Float32Array(total * dims);
    let o = 0;
    for (const p of parts) {
      cents.set(p, o);
      o += p.length;
    }
    return new IvfIndex(dims, cents, { cents: coarse, k: kc, first, count }, Math.max(1, options.assignProbe ?? 2));
  }

  /** Rows added. */
  get size(): number {
    return this.#size;
  }

  /** The cell a vector belongs to, and its similarity to the cell's centroid. */
  #assign(v: Float32Array, o: number): [number, number] {
    const d = this.dims;
    const coarse = this.#coarse;
    if (!coarse) return nearest(this.centroids, 0, this.nlist, v, o, d);
    // Best `assignProbe` coarse cells, then their leaves.
    const p = Math.min(this.#assignProbe, coarse.k);
    const bestG = new Int32Array(p).fill(-1);
    const bestS = new Float64Array(p).fill(-Infinity);
    for (let g = 0; g < coarse.k; g++) {
      if (coarse.count[g] === 0) continue;
      const s = dotAt(coarse.cents, g * d, v, o, d);
      if (s <= bestS[p - 1]) continue;
      let i = p - 1;
      while (i > 0 && bestS[i - 1] < s) {
        bestS[i] = bestS[i - 1];
        bestG[i] = bestG[i - 1];
        i--;
      }
      bestS[i] = s;
      bestG[i] = g;
    }
    let best = 0, bestScore = -Infinity;
    for (const g of bestG) {
      if (g < 0) continue;
      const [c, s] = nearest(this.centroids, coarse.first[g], coarse.count[g], v, o, d);
      if (s > bestScore) {
        bestScore = s;
        best = c;
      }
    }
    return [best, bestScore];
  }

  /** Adds one unit vector (`v[offset..offset+dims)`) as `row`. */
  add(row: number, v: Float32Array, offset = 0): void {
    const d = this.dims;
    const [c, s] = this.#assign(v, offset);
    const cell = this.#cells[c];
    if (cell.size === cell.rows.length) {
      const cap = Math.max(16, Math.ceil(cell.rows.length * 1.5));
      const rows = new Int32Array(cap);
      rows.set(cell.rows);
      const vecs = new Float32Array(cap * d);
      vecs.set(cell.vecs);
      cell.rows = rows;
      cell.vecs = vecs;
    }
    cell.vecs.set(v.subarray(offset, offset + d), cell.size * d);
    cell.rows[cell.size++] = row;
    if (s < cell.minCos) cell.minCos = s;
    this.#size++;
  }

  /** Adds `vectors.length / dims` rows numbered from `firstRow`. */
  addMany(vectors: Float32Array, firstRow: number): void {
    const n = vectors.length / this.dims;
    for (let i = 0; i < n; i++) this.add(firstRow + i, vectors, i * this.dims);
  }

  /** Releases the spare capacity of every cell (call once after a bulk load). */
  compact(): void {
    for (const cell of this.#cells) {
      if (cell.rows.length === cell.size) continue;
      cell.rows = cell.rows.slice(0, cell.size);
      cell.vecs = cell.vecs.slice(0, cell.size * this.dims);
    }
  }

  /** Bytes held by vectors, ids and centroids. */
  get bytes(): number {
    let b = this.centroids.byteLength + (this.#coarse?.cents.byteLength ?? 0);
    for (const c of this.#cells) b += c.vecs.byteLength + c.rows.byteLength;
    return b;
  }

  /** Cell sizes (for diagnostics: balance of the k-means). */
  cellSizes(): number[] {
    return this.#cells.map((c) => c.size);
  }

  /** The best `k` accepted rows for the unit vector `q` (see the module doc for the probing rule). */
  search(q: Float32Array, options: IvfSearchOptions): IvfHits {
    const d = this.dims;
    const k = Math.max(1, options.k);
    const nprobe = Math.max(1, options.nprobe ?? 16);
    const maxProbe = Math.max(nprobe, options.maxProbe ?? 4 * nprobe);
    const minScore = options.minScore ?? -Infinity;
    const accept = options.accept;
    const nl = this.nlist;
    const cs = new Float64Array(nl);
    for (let c = 0; c < nl; c++) cs[c] = dotAt(this.centroids, c * d, q, 0, d);
    const order = Array.from({ length: nl }, (_, i) => i).sort((a, b) => cs[b] - cs[a] || a - b);
    const top = new TopK(k);
    let probed = 0, scanned = 0;
    for (const c of order) {
      if (probed >= maxProbe || (probed >= nprobe && top.size >= k)) break;
      const cell = this.#cells[c];
      if (cell.size === 0) continue;
      // Best possible member: angle to q at least ∠(q,c) − radius.
      const angle = Math.acos(Math.max(-1, Math.min(1, cs[c])));
      const radius = Math.acos(Math.max(-1, Math.min(1, cell.minCos)));
      const bound = Math.cos(Math.max(0, angle - radius)) + 1e-6;
      if (bound < minScore || bound <= top.floor) continue;
      probed++;
      const { vecs, rows, size } = cell;
      for (let i = 0; i < size; i++) {
        const row = rows[i];
        if (accept && !accept(row)) continue;
        scanned++;
        const s = dotAt(vecs, i * d, q, 0, d);
        if (s >= minScore && s > top.floor) top.push(s, row);
      }
    }
    return { ...top.sorted(), probed, scanned };
  }
}

/** Exact search over `n = vectors.length / dims` rows (the reference the index is measured against). */
export function exactSearch(
  vectors: Float32Array,
  dims: number,
  q: Float32Array,
  options: Pick<IvfSearchOptions, "k" | "minScore" | "accept">,
): { rows: number[]; scores: number[] } {
  const top = new TopK(Math.max(1, options.k));
  const minScore = options.minScore ?? -Infinity;
  const n = vectors.length / dims;
  for (let r = 0; r < n; r++) {
    if (options.accept && !options.accept(r)) continue;
    const s = dotAt(vectors, r * dims, q, 0, dims);
    if (s >= minScore && s > top.floor) top.push(s, r);
  }
  return top.sorted();
}
