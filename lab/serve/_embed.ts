/** `POST /v1/embeddings`: the request body and the response of the local model `lab-embed-256` (see models/). */
import { z } from "zod";
import { countTokens, labEmbed } from "../models/mod.ts";
import { encodeBase64 } from "./_base64.ts";

export const EmbeddingsBody = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  dimensions: z.number().int().min(1).max(4096).nullish(),
  encoding_format: z.enum(["float", "base64"]).nullish(),
});
export type EmbeddingsBody = z.infer<typeof EmbeddingsBody>;

/** The embeddings response body. */
export function embeddingsResponse(body: EmbeddingsBody): Record<string, unknown> {
  const inputs = typeof body.input === "string" ? [body.input] : body.input;
  const dims = body.dimensions ?? 256;
  return {
    object: "list",
    model: body.model,
    data: inputs.map((text, index) => {
      const e = labEmbed(text, dims);
      return {
        object: "embedding",
        index,
        embedding: body.encoding_format === "base64" ? encodeBase64(new Uint8Array(e.buffer)) : Array.from(e),
      };
    }),
    usage: { prompt_tokens: inputs.reduce((s, t) => s + countTokens(t), 0), total_tokens: inputs.reduce((s, t) => s + countTokens(t), 0) },
  };
}
