/**
 * The models client without the lab's server: API keys, usage counted when a response has none, tool-call checks,
 * cache keys, the local models called in process. The client against the real server: lab/e2e/models_server.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { ChatBackend } from "./backend.ts";
import { openAiToolSchemas } from "../tools/mod.ts";
import { createChatModel, createResponseCache, defaultBackends, getModelConfig, ModelCallError } from "./mod.ts";
import { ask, FAST_RETRY, loadPlaceholderModels } from "./testing.ts";

/** The models config, and `entry(name)`: its entry `name` pointed at the placeholder model. */
const { cfg, entry } = await loadPlaceholderModels();

describe("hosted models", () => {
  it("refuses a hosted model without its key, naming the env var", () => {
    const c = { ...getModelConfig(cfg, "openai-gpt-4o-mini"), api_key_env: "LAB_TEST_SURELY_UNSET_KEY" };
    expect(() => createChatModel(c)).toThrow(/needs an API key: set the environment variable LAB_TEST_SURELY_UNSET_KEY/);
  });
});

describe("usage when the response has none", () => {
  it("counts tokens with tiktoken and prices them", async () => {
    let seen = 0;
    const stub = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
      await req.json();
      seen++;
      return Response.json({
        id: "x",
        object: "chat.completion",
        created: 0,
        model: "stub",
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content: "There are 42 open invoices." } }],
      });
    });
    try {
      const c = entry("openai-gpt-4o-mini", { tokenizer: "o200k_base" });
      const model = createChatModel(c, { baseUrl: `http://127.0.0.1:${stub.addr.port}/v1`, apiKey: "k" });
      const r = await model.invoke({ messages: ask() });
      expect(seen).toBe(1);
      expect(r.usage.source).toBe("tiktoken");
      // 3 priming + (3 + "user" + text) for the prompt; "assistant" + text for the reply.
      expect(r.usage.inputTokens).toBeGreaterThan(10);
      expect(r.usage.inputTokens).toBeLessThan(25);
      expect(r.usage.outputTokens).toBeGreaterThan(5);
      expect(r.costUsd).toBeCloseTo((r.usage.inputTokens * 0.15 + r.usage.outputTokens * 0.6) / 1e6, 12);
    } finally {
      await stub.shutdown();
    }
  });
});

describe("resilience", () => {
  it("records a call to a tool that was not offered as a model error", async () => {
    const model = createChatModel(entry("local"), {
      transport: () => Promise.resolve({ choices: [{ toolCalls: [{ id: "1", name: "dropTable", args: {} }] }], usage: { inputTokens: 5, outputTokens: 3 } }),
    });
    const r = await model.invoke({ messages: ask(), tools: openAiToolSchemas() });
    expect(r.modelErrors).toEqual([expect.stringMatching(/^tool call 0 \(dropTable\): unknown tool 'dropTable'; offered: dbRead, /)]);
  });
});

describe("response cache", () => {
  it("keys on model, messages, tools, parameters and seed", () => {
    const cache = createResponseCache({ dir: "/nonexistent" });
    const base = { model: "openai:gpt-4o", messages: ask(), tools: openAiToolSchemas(), seed: 1, temperature: 0 };
    const k = cache.key(base);
    expect(cache.key({ temperature: 0, seed: 1, tools: openAiToolSchemas(), messages: ask(), model: "openai:gpt-4o" })).toBe(k);
    for (const change of [{ model: "openai:gpt-4o-mini" }, { messages: ask("other") }, { tools: [] }, { seed: 2 }, { temperature: 0.1 }]) {
      expect(cache.key({ ...base, ...change })).not.toBe(k);
    }
  });
});

describe("local models in process (no HTTP)", () => {
  let backends: Record<string, ChatBackend>;
  beforeAll(async () => {
    backends = await defaultBackends();
  });

  it("refuses a prompt over the context window as the server does: HTTP 400, not retried", async () => {
    const model = createChatModel({ ...getModelConfig(cfg, "lab-mini"), model: "lab-mini-placeholder" }, {
      backend: backends["lab-mini-placeholder"],
      retry: FAST_RETRY,
    });
    const long = "invoice ".repeat(5000);
    const err = await model.invoke({ messages: ask(long) }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelCallError);
    expect(err.attempts).toBe(1);
    expect(err.message).toMatch(/in process\): HTTP 400 .*maximum context length is 4096 tokens/);
  });

  it("retries a failing backend like a server error", async () => {
    let calls = 0;
    const flaky: ChatBackend = {
      id: "flaky",
      contextWindow: 4096,
      complete: (req) => (++calls < 3 ? Promise.reject(new Error("boom")) : backends["lab-mini-placeholder"].complete(req)),
    };
    const model = createChatModel({ ...getModelConfig(cfg, "lab-mini"), model: "flaky" }, { backend: flaky, retry: FAST_RETRY });
    const r = await model.invoke({ messages: ask() });
    expect({ calls, attempts: r.attempts }).toEqual({ calls: 3, attempts: 3 });
  });
});
