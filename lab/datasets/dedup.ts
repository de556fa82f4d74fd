/**
 * Near-duplicates at scale with compact signatures, not float embeddings: an example is two sets of 32-bit
 * shingle hashes — the words of its normalized intent, and the tokens and token pairs of its canonical SQL
 * (literals kept). Near-duplicates say nearly the same thing and run nearly the same SQL: both Jaccard
 * similarities reach their thresholds. Different wordings of one request with the same SQL are not
 * near-duplicates (their intents differ) — and they are what template-made data is full of, so candidates come
 * from the intent: a MinHash of its words ({@linkcode MINHASH_HASHES} hashes) in {@linkcode LSH_BANDS} bands of
 * {@linkcode LSH_ROWS} (intents with Jaccard similarity 0.7 share a band with probability 0.995, at 0.3 with
 * 0.53), each candidate then confirmed by the exact Jaccard similarity of both parts.
 *
 * The index is greedy: examples are offered best first, and each is either a near-duplicate of one kept before
 * or kept. It stores, per kept example, its shingle sets (a few hundred bytes) and one chain link per band.
 * @module
 */
import { fnv1a } from "../util/mod.ts";

/** MinHash values per example (of its intent's words). */
export const MINHASH_HASHES = 16;
/** LSH bands. */
export const LSH_BANDS = 8;
/** MinHash values per band. */
export const LSH_ROWS = 2;

/** An example's shingles: sorted, distinct 32-bit hashes. */
export interface Shingles {
  intent: Uint32Array;
  sql: Uint32Array;
}

/** murmur3's 32-bit finalizer: spreads a hash over all bits. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function sortedDistinct(xs: number[]): Uint32Array {
  const a = Uint32Array.from(xs).sort();
  let n = 0;
  for (let i = 0; i < a.length; i++) if (i === 0 || a[i] !== a[i - 1]) a[n++] = a[i];
  return a.subarray(0, n);
}

const SQL_TOKEN = /'(?:[^']|'')*'|"(?:[^"]|"")*"|[a-z_][a-z0-9_$]*|\d+(?:\.\d+)?|[^\s\w]/gi;
const INTENT_SALT = 0x9747b28c;

/**
 * The shingles of an example: intent words (salted apart from SQL), SQL tokens and adjacent token pairs of each
 * `<tool>: <canonical SQL>` line of `sqlKey`.
 *
 * @example
 * ```ts
 * const s = shingles("total revenue <period>", "dbRead: select sum(total) from invoices");
 * ```
 */
export function shingles(normalizedIntent: string, sqlKey: string): Shingles {
  const intent: number[] = [];
  for (const w of normalizedIntent.split(" ")) if (w) intent.push(fnv1a(w, INTENT_SALT));
  const sql: number[] = [];
  for (const line of sqlKey.split("\n")) {
    let prev = -1;
    for (const m of line.matchAll(SQL_TOKEN)) {
      const h = fnv1a(m[0]);
      sql.push(h);
      if (prev >= 0) sql.push(mix((Math.imul(prev, 31) + h) >>> 0));
      prev = h;
    }
  }
  return { intent: sortedDistinct(intent), sql: sortedDistinct(sql) };
}

/** Jaccard similarity of two sorted, distinct hash arrays (1 for two empty sets). */
export function jaccard(a: Uint32Array, b: Uint32Array): number {
  if (!a.length && !b.length) return 1;
  let i = 0, j = 0, both = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      both++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return both / (a.length + b.length - both);
}

const SEEDS = Uint32Array.from({ length: MINHASH_HASHES }, (_, j) => mix(0x9e3779b9 * (j + 1)));

/**
 * The MinHash of the intent's words ({@linkcode MINHASH_HASHES} independent hashes: intents are a few words, so
 * hashing each word that many times is cheap).
 */
export function minhash(s: Shingles): Uint32Array {
  const sig = new Uint32Array(MINHASH_HASHES).fill(0xffffffff);
  for (const x of s.intent) {
    for (let j = 0; j < MINHASH_HASHES; j++) {
      const h = mix((x ^ SEEDS[j]) >>> 0);
      if (h < sig[j]) sig[j] = h;
    }
  }
  return sig;
}

/** Thresholds of {@linkcode NearDuplicateIndex}: both parts must be at least this similar. */
export interface NearDuplicateThresholds {
  intentJaccard: number;
  sqlJaccard: number;
}

/**
 * A greedy near-duplicate index (see the module doc). Offer examples best first with
 * {@linkcode NearDuplicateIndex.offer}: it returns the index of the kept example the new one duplicates, or -1
 * (and keeps it under the next index).
 *
 * @example
 * ```ts
 * const index = new NearDuplicateIndex({ intentJaccard: 0.7, sqlJaccard: 0.8 });
 * const kept = ranked.filter((e) => index.offer(shingles(e.normalizedIntent, e.sqlKey)) < 0);
 * ```
 */
export class NearDuplicateIndex {
  #size = 0;
  #cap = 0;
  /** Per kept example: where its intent and SQL shingles start in the pool, and where they end. */
  #offsets = new Int32Array(0);
  #pool = new Uint32Array(1 << 16);
  #poolUsed = 0;
  /** Per kept example and band: the next example of the same bucket (-1 ends the chain). */
  #next = new Int32Array(0);
  /** Open addressing: band key → chain head. */
  #keys = new Uint32Array(0);
  #heads = new Int32Array(0);
  #slots = 0;
  #stamp = new Int32Array(0);
  #query = 0;
  /** Candidate pairs checked by exact Jaccard (for reports and benches). */
  comparisons = 0;

  constructor(readonly thresholds: NearDuplicateThresholds) {
    this.#grow(1024);
    this.#rehash(1 << 12);
  }

  /** Examples kept so far. */
  get size(): number {
    return this.#size;
  }

  #grow(cap: number) {
    const offsets = new Int32Array(cap * 3);
    offsets.set(this.#offsets);
    const next = new Int32Array(cap * LSH_BANDS);
    next.set(this.#next);
    const stamp = new Int32Array(cap);
    stamp.set(this.#stamp);
    [this.#offsets, this.#next, this.#stamp, this.#cap] = [offsets, next, stamp, cap];
  }

  #rehash(slots: number) {
    const [oldKeys, oldHeads, oldSlots] = [this.#keys, this.#heads, this.#slots];
    this.#keys = new Uint32Array(slots);
    this.#heads = new Int32Array(slots).fill(-1);
    this.#slots = slots;
    for (let s = 0; s < oldSlots; s++) {
      if (oldHeads[s] < 0) continue;
      const slot = this.#slot(oldKeys[s]);
      this.#keys[slot] = oldKeys[s];
      this.#heads[slot] = oldHeads[s];
    }
  }

  /** The slot holding `key`, or the empty slot where it goes. */
  #slot(key: number): number {
    const mask = this.#slots - 1;
    let s = mix(key) & mask;
    while (this.#heads[s] >= 0 && this.#keys[s] !== key) s = (s + 1) & mask;
    return s;
  }

  #part(i: number, which: 0 | 1): Uint32Array {
    const o = this.#offsets;
    return this.#pool.subarray(o[3 * i + which], o[3 * i + which + 1]);
  }

  /** The index of a kept near-duplicate of `s`, or -1 after keeping `s`. */
  offer(s: Shingles): number {
    const sig = minhash(s);
    const bands = new Uint32Array(LSH_BANDS);
    const q = ++this.#query;
    for (let b = 0; b < LSH_BANDS; b++) {
      let h = mix(b + 0x5bd1e995);
      for (let r = 0; r < LSH_ROWS; r++) h = mix((h ^ sig[b * LSH_ROWS + r]) >>> 0);
      bands[b] = h;
      const slot = this.#slot(h);
      for (let j = this.#heads[slot]; j >= 0; j = this.#next[j * LSH_BANDS + b]) {
        if (this.#stamp[j] === q) continue;
        this.#stamp[j] = q;
        this.comparisons++;
        if (
          jaccard(s.intent, this.#part(j, 0)) >= this.thresholds.intentJaccard &&
          jaccard(s.sql, this.#part(j, 1)) >= this.thresholds.sqlJaccard
        ) return j;
      }
    }
    this.#keep(s, bands);
    return -1;
  }

  #keep(s: Shingles, bands: Uint32Array) {
    const i = this.#size++;
    if (i >= this.#cap) this.#grow(this.#cap * 2);
    const need = this.#poolUsed + s.intent.length + s.sql.length;
    if (need > this.#pool.length) {
      const pool = new Uint32Array(Math.max(need, this.#pool.length * 2));
      pool.set(this.#pool.subarray(0, this.#poolUsed));
      this.#pool = pool;
    }
    const o = this.#offsets;
    o[3 * i] = this.#poolUsed;
    this.#pool.set(s.intent, this.#poolUsed);
    this.#poolUsed += s.intent.length;
    o[3 * i + 1] = this.#poolUsed;
    this.#pool.set(s.sql, this.#poolUsed);
    this.#poolUsed += s.sql.length;
    o[3 * i + 2] = this.#poolUsed;
    if ((this.#size * LSH_BANDS) * 2 > this.#slots) this.#rehash(this.#slots * 2);
    for (let b = 0; b < LSH_BANDS; b++) {
      const slot = this.#slot(bands[b]);
      this.#next[i * LSH_BANDS + b] = this.#heads[slot];
      this.#keys[slot] = bands[b];
      this.#heads[slot] = i;
    }
  }
}
