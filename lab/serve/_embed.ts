/**
 * `POST /v1/embeddings` with the local model `lab-embed-256`: hashed character 3- and 4-grams, each mapped by a
 * fixed pseudo-random ±1 projection (seeded by the n-gram's hash) into `dimensions` dims, then L2-normalised.
 * Deterministic, no weights; similar strings get similar vectors (shared n-grams), nothing more.
 */
import { z } from "zod";
import { countTokens } from "../models/mod.ts";
import { fnv1a, mulberry32 } from "../util/mod.ts";
import { encodeBase64 } from "./_base64.ts";

/** The embedding model's id. */
export const EMBED_MODEL = "lab-embed-256";

export const EmbeddingsBody = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  dimensions: z.number().int().min(1).max(4096).nullish(),
  encoding_format: z.enum(["float", "base64"]).nullish(),
});
export type EmbeddingsBody = z.infer<typeof EmbeddingsBody>;

/** The embedding of `text` in `dimensions` dims (unit length; the zero vector for empty text). */
export function embed(text: string, dimensions = 256): Float32Array {
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

/** The embeddings response body. */
export function embeddingsResponse(body: EmbeddingsBody): Record<string, unknown> {
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  const dims = body.dimensions ?? 256;
  return {
    object: "list",
    model: body.model,
    data: inputs.map((text, index) => {
      const e = embed(text, dims);
      return {
        object: "embedding",
        index,
        embedding: body.encoding_format === "base64" ? encodeBase64(new Uint8Array(e.buffer)) : Array.from(e),
      };
    }),
    usage: { prompt_tokens: inputs.reduce((s, t) => s + countTokens(t), 0), total_tokens: inputs.reduce((s, t) => s + countTokens(t), 0) },
  };
}
