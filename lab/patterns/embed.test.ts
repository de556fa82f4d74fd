import { describe, expect, it } from "vitest";
import { type Embeddings, getModelConfig, loadModelsConfig } from "../models/mod.ts";
import {
  cachedEmbedder,
  type Embedder,
  LOCAL_EMBEDDER_ID,
  localEmbed,
  localEmbedder,
  openAiEmbedder,
} from "./embed.ts";
import { memorySource } from "./testing.ts";

const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

/** An embedder that counts the texts it was asked for. */
function counting(inner: Embedder = localEmbedder()) {
  const asked: string[] = [];
  const e: Embedder = { id: inner.id, dims: inner.dims, embed: (t) => (asked.push(...t), inner.embed(t)) };
  return { e, asked };
}

describe("localEmbed", () => {
  it("is deterministic, unit length and 256-d; shared words make texts similar", () => {
    const a = localEmbed("total revenue <period> <name>");
    expect(Array.from(a)).toEqual(Array.from(localEmbed("total revenue <period> <name>")));
    expect(a.length).toBe(256);
    expect(norm(a)).toBeCloseTo(1, 5);
    expect(cos(a, localEmbed("total revenue <period>"))).toBeGreaterThan(0.7);
    expect(cos(a, localEmbed("cancel open purchase orders warehouse"))).toBeLessThan(0.2);
    expect(Array.from(localEmbed("!!!"))).toEqual(new Array(256).fill(0));
    expect(localEmbedder()).toMatchObject({ id: LOCAL_EMBEDDER_ID, dims: 256 });
  });
});

describe("cachedEmbedder", () => {
  it("embeds each distinct text once and serves repeats from memory, in order", async () => {
    const { e, asked } = counting();
    const c = await cachedEmbedder(e, { capacity: 2 });
    const first = await c.embed(["a b", "c d", "a b"]);
    const second = await c.embed(["c d", "a b"]);
    expect(asked).toEqual(["a b", "c d"]);
    expect(second.map((v) => Array.from(v))).toEqual([first[1], first[0]].map((v) => Array.from(v)));
    expect(c.stats).toEqual({ memoryHits: 2, storeHits: 0, misses: 2 });
    await c.embed(["e f"]); // evicts the least recently used ("c d")
    await c.embed(["c d"]);
    expect(asked).toEqual(["a b", "c d", "e f", "c d"]);
    expect(c).toMatchObject({ id: e.id, dims: 256 });
  });

  it("keeps vectors in the store's embedding_cache so another process never re-embeds them", async () => {
    const src = await memorySource();
    try {
      const one = counting();
      const a = await cachedEmbedder(one.e, { store: src });
      const made = await a.embed(["unpaid invoices", "open bills"]);
      const two = counting();
      const b = await cachedEmbedder(two.e, { store: src });
      const again = await b.embed(["open bills", "unpaid invoices", "new text"]);
      expect(two.asked).toEqual(["new text"]);
      expect(b.stats).toEqual({ memoryHits: 0, storeHits: 2, misses: 1 });
      expect(Array.from(again[0])).toEqual(Array.from(made[1]));
      expect(Array.from(again[1])).toEqual(Array.from(made[0]));
      const rows = (await src.con.runAndReadAll("SELECT embedder, count(*) FROM embedding_cache GROUP BY 1")).getRows();
      expect(rows).toEqual([[LOCAL_EMBEDDER_ID, 3n]]);
    } finally {
      src.close();
    }
  });
});

describe("openAiEmbedder", () => {
  it("truncates Matryoshka vectors to 256 and re-normalises; refuses other models' long vectors", async () => {
    const base = getModelConfig(await loadModelsConfig(), "openai-embed-small");
    const fake = (model: string, dims: number): Embeddings => ({
      name: "fake",
      config: { ...base, model },
      embed: (texts) =>
        Promise.resolve({
          vectors: texts.map((_, i) => Array.from({ length: dims }, (_, j) => (j === i ? 3 : j < 256 ? 0 : 4))),
          usage: { inputTokens: 1, source: "tiktoken" as const },
          costUsd: 0,
          latencyMs: 0,
          attempts: 1,
        }),
    });
    const [v] = await openAiEmbedder(fake("text-embedding-3-small", 1536)).embed(["x"]);
    expect(v.length).toBe(256);
    expect([v[0], norm(v)]).toEqual([1, 1]);
    expect(openAiEmbedder(fake("text-embedding-3-small", 1536)).id).toBe("text-embedding-3-small/256");
    await expect(openAiEmbedder(fake("nomic-embed-text", 768)).embed(["x"])).rejects.toThrow(
      /returned 768-d vectors; patterns need 256-d: serve it with dimensions: 256/,
    );
    await expect(openAiEmbedder(fake("tiny", 64)).embed(["x"])).rejects.toThrow(
      /use a model with at least 256 dimensions/,
    );
  });
});
