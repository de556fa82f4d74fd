/**
 * The models client against the real local server: every client path (LangChain's integrations, the openai SDK
 * for embeddings), resilience against the server's injected faults, the response cache, and the local models
 * called in process answering exactly as through the server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../serve/mod.ts";
import { openAiToolSchemas } from "../tools/mod.ts";
import {
  Budget,
  BudgetExceeded,
  type ChatBackend,
  type ChatRequest,
  type ChatResult,
  createChatModel,
  createEmbeddings,
  createResponseCache,
  defaultBackends,
  getModelConfig,
  ModelCallError,
  RateLimiter,
} from "../models/mod.ts";
import { ask, FAST_RETRY, loadPlaceholderModels } from "../models/testing.ts";

/** The models config, and `entry(name)`: its entry `name` pointed at the placeholder model. */
const { cfg, entry } = await loadPlaceholderModels();

describe("every client path against the local server", () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    srv = await startServer({ port: 0 });
  });
  afterAll(() => srv.close());

  it.each([
    ["local", "openai"],
    ["openai-gpt-4o-mini", "openai"],
    ["deepseek-chat", "openai"],
    ["together-llama-3.3-70b", "together"],
    ["fireworks-llama-3.3-70b", "fireworks"],
    ["deepinfra-llama-3.3-70b", "deepinfra"],
  ] as const)("%s through LangChain's %s integration returns parsed tool calls, usage and cost", async (name, integration) => {
    const c = entry(name);
    const model = createChatModel(c, { baseUrl: srv.url, apiKey: "test-key" });
    const before = srv.stats().requests;
    const r = await model.invoke({ messages: ask(), tools: openAiToolSchemas(), toolChoice: "auto", seed: 3, temperature: 0 });
    expect(srv.stats().requests - before).toBe(1);
    expect(r).toMatchObject({ cached: false, attempts: 1, modelErrors: [], usage: { source: "response" } });
    expect(r.message.toolCalls).toHaveLength(1);
    const call = r.message.toolCalls![0];
    expect(openAiToolSchemas().map((t) => t.function.name)).toContain(call.name);
    expect(call.args).toBeTypeOf("object");
    expect(call.error).toBeUndefined();
    expect(r.usage.inputTokens).toBeGreaterThan(0);
    expect(r.usage.outputTokens).toBeGreaterThan(0);
    const { input_per_1m, output_per_1m } = c.pricing;
    expect(r.costUsd).toBeCloseTo((r.usage.inputTokens * input_per_1m + r.usage.outputTokens * output_per_1m) / 1e6, 12);
    expect(integration === "openai" || r.costUsd > 0).toBe(true);
  });

  it("returns text without tools, and all n choices", async () => {
    const model = createChatModel(entry("local"), { baseUrl: srv.url });
    const r = await model.invoke({ messages: ask(), n: 3, seed: 1, temperature: 0.7, maxTokens: 64 });
    expect(r.choices).toHaveLength(3);
    expect(r.message.content).toMatch(/placeholder/);
    expect(r.message.toolCalls).toBeUndefined();
  });

  it("sends a whole tool round trip (assistant tool calls + tool results) back to the model", async () => {
    const model = createChatModel(entry("local"), { baseUrl: srv.url });
    const r = await model.invoke({
      messages: [
        { role: "system", content: "You are an ERP analyst." },
        ...ask(),
        { role: "assistant", content: null, toolCalls: [{ id: "c1", name: "dbRead", args: { sql: "SELECT 1" } }] },
        { role: "tool", toolCallId: "c1", content: '{"ok":true,"rows":[[1]]}' },
      ],
      seed: 2,
    });
    expect(r.modelErrors).toEqual([]);
    expect(r.message.content).toBeTypeOf("string");
  });

  it("embeds through the openai SDK", async () => {
    const emb = createEmbeddings(getModelConfig(cfg, "local-embed"), { baseUrl: srv.url });
    const r = await emb.embed(["unpaid invoices", "purchase orders by supplier"]);
    expect(r.vectors).toHaveLength(2);
    expect(r.vectors[0]).toHaveLength(256);
    expect(r.usage).toMatchObject({ source: "response" });
    expect(r.costUsd).toBe(0);
  });

});

describe("resilience against the fault server", () => {
  it("retries 429s after Retry-After, and the server counts each retry", async () => {
    await using srv = await startServer({ port: 0, faults: { rate429: 0.3, retryAfterSeconds: 0.3, seed: 11 } });
    const model = createChatModel(entry("local"), { baseUrl: srv.url, retry: { ...FAST_RETRY, maxRetries: 8 } });
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await model.invoke({ messages: ask(`q${i}`) }));
    const retried = results.filter((r) => r.attempts > 1);
    const s = srv.stats();
    expect(s.faults.rate429).toBeGreaterThan(0);
    expect(retried.length).toBeGreaterThan(0);
    expect(s.requests).toBe(results.reduce((n, r) => n + r.attempts, 0));
    expect(s.requests - 8).toBe(s.faults.rate429);
    for (const r of retried) expect(r.latencyMs).toBeGreaterThanOrEqual(300 * (r.attempts - 1));
  });

  it("retries 500s", async () => {
    await using srv = await startServer({ port: 0, faults: { rate500: 0.4, seed: 5 } });
    const model = createChatModel(entry("local"), { baseUrl: srv.url, retry: { ...FAST_RETRY, maxRetries: 8 } });
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => model.invoke({ messages: ask(`q${i}`) })));
    expect(srv.stats().faults.rate500).toBeGreaterThan(0);
    expect(rs.reduce((n, r) => n + r.attempts, 0)).toBe(srv.stats().requests);
    expect(model.stats().retries).toBe(srv.stats().faults.rate500);
  });

  it("cuts a stalled request at the client timeout and retries it", async () => {
    await using srv = await startServer({ port: 0, faults: { stallRate: 0.5, stallMs: 1500, seed: 3 } });
    const model = createChatModel(entry("local"), { baseUrl: srv.url, timeoutMs: 200, retry: { ...FAST_RETRY, maxRetries: 8 } });
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await model.invoke({ messages: ask(`q${i}`) }));
    expect(srv.stats().faults.stall).toBeGreaterThan(0);
    const retried = rs.filter((r) => r.attempts > 1);
    expect(retried.length).toBeGreaterThan(0);
    for (const r of retried) {
      expect(r.latencyMs).toBeGreaterThanOrEqual(200);
      expect(r.latencyMs).toBeLessThan(1500 * (r.attempts - 1));
    }
  });

  it("gives up after max retries with a clear error", async () => {
    await using srv = await startServer({ port: 0, faults: { rate500: 1 } });
    const model = createChatModel(entry("local"), { baseUrl: srv.url, retry: { ...FAST_RETRY, maxRetries: 2 } });
    const err = await model.invoke({ messages: ask() }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelCallError);
    expect(err.message).toMatch(/^model 'local' \(lab-mini-placeholder at http:\/\/127\.0\.0\.1:\d+\/v1\): gave up after 3 attempts in [\d.]+ s; last error HTTP 500/);
    expect(srv.stats().requests).toBe(3);
  });

  it("does not retry a rejected key, and says what to check", async () => {
    await using srv = await startServer({ port: 0, token: "right" });
    const model = createChatModel(entry("local"), { baseUrl: srv.url, apiKey: "wrong", retry: FAST_RETRY });
    const err = await model.invoke({ messages: ask() }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelCallError);
    expect(err.message).toMatch(/HTTP 401 .*check the API key in the env var named by api_key_env/);
    expect(srv.stats().requests).toBe(1);
  });

  it("keeps requests in flight within the concurrency limit", async () => {
    await using srv = await startServer({ port: 0, faults: { latencyMs: 40, concurrencyLimit: 4 } });
    const model = createChatModel(entry("local", { limits: { concurrency: 4 } }), { baseUrl: srv.url });
    await Promise.all(Array.from({ length: 40 }, (_, i) => model.invoke({ messages: ask(`q${i}`) })));
    const s = srv.stats();
    expect(s.requests).toBe(40);
    expect(s.overLimit).toBe(0);
    expect(s.maxInFlight).toBeLessThanOrEqual(4);
    expect(model.limiter.stats().maxInFlight).toBe(4);
  });

  it("shares one limiter between models of the same account", async () => {
    await using srv = await startServer({ port: 0, faults: { latencyMs: 30, concurrencyLimit: 3 } });
    const limiter = new RateLimiter({ concurrency: 3 });
    const a = createChatModel(entry("local"), { baseUrl: srv.url, limiter });
    const b = createChatModel(entry("deepseek-chat"), { baseUrl: srv.url, apiKey: "k", limiter });
    await Promise.all(Array.from({ length: 24 }, (_, i) => (i % 2 ? a : b).invoke({ messages: ask(`q${i}`) })));
    expect(srv.stats()).toMatchObject({ requests: 24, overLimit: 0 });
    expect(srv.stats().maxInFlight).toBeLessThanOrEqual(3);
  });

  it("stops a run cleanly at its budget", async () => {
    await using srv = await startServer({ port: 0 });
    const budget = new Budget({ maxCostUsd: 0.002 });
    const model = createChatModel(entry("openai-gpt-4o"), { baseUrl: srv.url, apiKey: "k", budget });
    let done = 0;
    let err: unknown;
    try {
      for (; done < 100; done++) await model.invoke({ messages: ask(`q${done}`), tools: openAiToolSchemas() });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BudgetExceeded);
    expect((err as Error).message).toMatch(/^budget exceeded before a call to openai-gpt-4o: spent \$0\.00\d+ of max \$0\.0020 \(\d+ calls, \d+ tokens; .*raise maxCostUsd/);
    expect(done).toBeGreaterThan(0);
    expect(srv.stats().requests).toBe(done);
    expect(budget.spent().costUsd).toBeLessThanOrEqual(0.002);
    expect(budget.spent().calls).toBe(done);
  });

  it("records malformed tool-call arguments as model errors instead of throwing", async () => {
    await using srv = await startServer({ port: 0, faults: { malformedToolArgsRate: 1 } });
    for (const name of ["local", "together-llama-3.3-70b", "deepinfra-llama-3.3-70b"]) {
      const model = createChatModel(entry(name), { baseUrl: srv.url, apiKey: "k" });
      const r = await model.invoke({ messages: ask(), tools: openAiToolSchemas() });
      expect(r.modelErrors).toHaveLength(1);
      expect(r.modelErrors[0]).toMatch(/^tool call 0 \(\w+\): arguments are not valid JSON/);
      expect(r.message.toolCalls![0]).toMatchObject({ error: expect.stringMatching(/not valid JSON/), rawArgs: expect.any(String) });
      expect(r.message.toolCalls![0].args).toBeUndefined();
    }
    expect(srv.stats().faults.malformedToolArgs).toBe(3);
  });

});

describe("response cache", () => {
  it("replays a re-run with zero requests, and reports and overwrites a corrupt entry", async () => {
    await using srv = await startServer({ port: 0 });
    const dir = await Deno.makeTempDir({ prefix: "lab-model-cache-" });
    try {
      const warnings: string[] = [];
      const run = async () => {
        const cache = createResponseCache({ dir, onWarning: (m) => warnings.push(m) });
        const model = createChatModel(entry("openai-gpt-4o-mini"), { baseUrl: srv.url, apiKey: "k", cache });
        const rs = [];
        for (let i = 0; i < 5; i++) rs.push(await model.invoke({ messages: ask(`q${i}`), tools: openAiToolSchemas(), seed: i }));
        return { rs, cache };
      };
      const first = await run();
      expect(srv.stats().requests).toBe(5);
      expect(first.cache.stats()).toMatchObject({ hits: 0, misses: 5, writes: 5, corrupt: 0 });
      const second = await run();
      expect(srv.stats().requests).toBe(5);
      expect(second.cache.stats()).toMatchObject({ hits: 5, writes: 0 });
      expect(second.rs.map((r) => r.cached)).toEqual([true, true, true, true, true]);
      expect(second.rs.map((r) => [r.message, r.usage])).toEqual(first.rs.map((r) => [r.message, r.usage]));
      expect(second.rs.every((r) => r.costUsd === 0)).toBe(true);

      // Corrupt two entries: one bad JSON, one whose response was edited (checksum mismatch).
      const files: string[] = [];
      for await (const d of Deno.readDir(dir)) for await (const f of Deno.readDir(`${dir}/${d.name}`)) files.push(`${dir}/${d.name}/${f.name}`);
      expect(files).toHaveLength(5);
      await Deno.writeTextFile(files[0], "{ not json");
      const e = JSON.parse(await Deno.readTextFile(files[1]));
      e.response.usage.outputTokens += 1;
      await Deno.writeTextFile(files[1], JSON.stringify(e));
      const third = await run();
      expect(srv.stats().requests).toBe(7);
      expect(third.cache.stats()).toMatchObject({ hits: 3, corrupt: 2, writes: 2 });
      expect(warnings).toHaveLength(2);
      expect(warnings.join("\n")).toMatch(/ignoring corrupt entry .*bad JSON/);
      expect(warnings.join("\n")).toMatch(/ignoring corrupt entry .*checksum mismatch/);
      const fourth = await run();
      expect(fourth.cache.stats()).toMatchObject({ hits: 5, corrupt: 0 });
      expect(srv.stats().requests).toBe(7);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

});

describe("local models in process (no HTTP)", () => {
  let srv: Awaited<ReturnType<typeof startServer>>;
  let backends: Record<string, ChatBackend>;
  beforeAll(async () => {
    backends = await defaultBackends();
    srv = await startServer({ port: 0, backends });
  });
  afterAll(() => srv.close());

  const conversation = (): ChatRequest => ({
    messages: [
      { role: "system", content: "You are an ERP analyst. Prefer the semantic views." },
      { role: "user", content: "How many sales invoices were issued in October 2025?" },
      { role: "assistant", content: null, toolCalls: [{ id: "c1", name: "dbRead", args: { sql: "SELECT count(*) AS n FROM sales_invoices" } }] },
      { role: "tool", toolCallId: "c1", content: '{"ok":true,"columns":["n"],"rows":[{"n":12}],"rowCount":1,"truncated":false}' },
    ],
    tools: openAiToolSchemas(),
    toolChoice: "auto",
    temperature: 0.7,
    topP: 0.9,
    seed: 11,
    n: 3,
  });
  const comparable = (r: ChatResult) => ({ ...r, latencyMs: 0 });

  it.each(["lab-mini", "lab-mini-placeholder"])("%s answers in process exactly as through the local server", async (id) => {
    const c = { ...getModelConfig(cfg, "lab-mini"), model: id };
    const viaHttp = createChatModel(c, { baseUrl: srv.url });
    const inProcess = createChatModel(c, { backend: backends[id] });
    for (const req of [conversation(), { ...conversation(), messages: conversation().messages.slice(0, 2), n: 1 }]) {
      const before = srv.stats().requests;
      const direct = await inProcess.invoke(req);
      expect(srv.stats().requests).toBe(before); // no request reached the server
      expect(comparable(direct)).toEqual(comparable(await viaHttp.invoke(req)));
      expect(direct).toMatchObject({ attempts: 1, cached: false, usage: { source: "response" } });
    }
  });

});
