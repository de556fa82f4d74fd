/**
 * `lab-embed-256`, the lab's local embedding model (the local server answers `/v1/embeddings` with it): hashed
 * character 3- and 4-grams, each mapped by a fixed pseudo-random ±1 projection (seeded by the n-gram's hash) into
 * `dimensions` dims, then L2-normalised. Deterministic, no weights; similar strings get similar vectors (shared
 * n-grams), nothing more.
 * @module
 */
import { fnv1a, mulberry32 } from "../util/mod.ts";

/** The local embedding model's id. */
export const LAB_EMBED_MODEL = "lab-embed-256";

/** The `lab-embed-256` embedding of `text` in `dimensions` dims (unit length; the zero vector for empty text). */
export function labEmbed(text: string, dimensions = 256): Float32Array {
  const v = new Float64Array(dimensions);
  const t = ` ${text.toLowerCase().replace(/\s+/g, " ").trim()} `;
  for (const n of [3, 4]) {
    for (let i = 0; i + n <= t.length; i++) {
      const rand = mulberry32(fnv1a(t.slice(i, i + n), 0x9e3779b9 + n));
      for (let d = 0; d < dimensions; d++) v[d] += rand() < 0.5 ? -1 : 1;
    }
  }
  const norm = Math.hypot(...v) || 1;
  return Float32Array.from(v, (x) => x / norm);
}
