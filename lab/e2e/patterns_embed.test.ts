/**
 * Pattern memory's OpenAI-compatible embedder against the lab's server: `local-embed` through `createEmbeddings`
 * gives the server's `lab-embed-256` vectors, in batches, and the cache keeps a text from being asked twice.
 */
import { describe, expect, it } from "vitest";
import { createEmbeddings, getModelConfig, labEmbed as serverEmbed, loadModelsConfig } from "../models/mod.ts";
import { cachedEmbedder, openAiEmbedder } from "../patterns/mod.ts";
import { memorySource } from "../patterns/testing.ts";
import { startServer } from "../serve/mod.ts";

const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

describe("openAiEmbedder", () => {
  it("embeds through the lab's server (createEmbeddings, local-embed) and, cached, asks it once per text", async () => {
    await using srv = await startServer({ port: 0 });
    const cfg = getModelConfig(await loadModelsConfig(), "local-embed");
    const e = openAiEmbedder(createEmbeddings(cfg, { baseUrl: srv.url }), { batchSize: 2 });
    expect(e).toMatchObject({ id: "lab-embed-256/256", dims: 256 });
    const texts = ["unpaid invoices", "open bills", "stock below reorder point"];
    const vs = await e.embed(texts);
    expect(vs.map((v) => v.length)).toEqual([256, 256, 256]);
    vs.forEach((v, i) => expect(cos(v, serverEmbed(texts[i], 256))).toBeCloseTo(1, 5));
    expect(srv.stats().requests).toBe(2); // batches of 2
    const src = await memorySource();
    try {
      const cached = await cachedEmbedder(e, { store: src });
      await cached.embed(texts);
      await (await cachedEmbedder(e, { store: src })).embed(texts);
      expect(srv.stats().requests).toBe(4);
    } finally {
      src.close();
    }
  });
});
