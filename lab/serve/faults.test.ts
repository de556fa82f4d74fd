import { describe, expect, it } from "vitest";
import OpenAI from "openai";
import { startServer } from "./mod.ts";

const MODEL = "lab-mini-placeholder";
const ASK = { model: MODEL, messages: [{ role: "user" as const, content: "count invoices" }] };
const TOOL = {
  type: "function" as const,
  function: { name: "dbRead", parameters: { type: "object", properties: { sql: { type: "string" } }, required: ["sql"] } },
};
const clientFor = (url: string, timeout?: number) => new OpenAI({ baseURL: url, apiKey: "local", maxRetries: 0, timeout });

describe("injected faults, seen through the openai SDK", () => {
  it("answers 429 with Retry-After (whole seconds) and retry-after-ms", async () => {
    await using s = await startServer({ faults: { rate429: 1, retryAfterSeconds: 1.5 } });
    const err = await clientFor(s.url).chat.completions.create(ASK).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err).toMatchObject({ status: 429, code: "rate_limit_exceeded" });
    expect([err.headers.get("retry-after"), err.headers.get("retry-after-ms")]).toEqual(["2", "1500"]);
    expect(s.stats().faults).toEqual({ rate429: 1 });
  });

  it("answers 500 as an InternalServerError", async () => {
    await using s = await startServer({ faults: { rate500: 1 } });
    const err = await clientFor(s.url).embeddings.create({ model: "lab-embed-256", input: "x" }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 500, type: "server_error" });
  });

  it("stalls past the client's timeout, and close() does not wait for the stall", async () => {
    const s = await startServer({ faults: { stallRate: 1, stallMs: 10_000 } });
    const err = await clientFor(s.url, 150).chat.completions.create(ASK).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    const t = performance.now();
    await s.close();
    expect(performance.now() - t).toBeLessThan(2000);
    expect(s.stats().faults).toEqual({ stall: 1 });
  });

  it("sends tool-call arguments that are not valid JSON", async () => {
    await using s = await startServer({ faults: { malformedToolArgsRate: 1 } });
    const r = await clientFor(s.url).chat.completions.create({ ...ASK, tools: [TOOL] });
    const call = r.choices[0].message.tool_calls![0];
    expect(call.type).toBe("function");
    expect(() => JSON.parse(call.type === "function" ? call.function.arguments : "")).toThrow(SyntaxError);
    expect(s.stats().faults).toEqual({ malformedToolArgs: 1 });
  });

  it("cuts a stream before [DONE]: no finish_reason, no usage", async () => {
    await using s = await startServer({ faults: { truncateStreamRate: 1 } });
    const stream = await clientFor(s.url).chat.completions.create({ ...ASK, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(false);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(s.stats().faults).toEqual({ truncateStream: 1 });
  });

  it("counts requests over the concurrency limit and answers them 429", async () => {
    await using s = await startServer({ faults: { concurrencyLimit: 1, latencyMs: 50 } });
    const c = clientFor(s.url);
    const results = await Promise.allSettled([1, 2, 3].map(() => c.chat.completions.create(ASK)));
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected", "rejected"]);
    expect(results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason.status)).toEqual([429, 429]);
    // Rejections are answered at once, so the two rejected requests may or may not overlap each other.
    expect(s.stats()).toMatchObject({ overLimit: 2, inFlight: 0 });
    expect(s.stats().maxInFlight).toBeGreaterThanOrEqual(2);
  });

  it("draws the same faults for the same seed and request order", async () => {
    const outcomes = async (seed: number) => {
      await using s = await startServer({ faults: { rate429: 0.3, rate500: 0.2, seed } });
      const c = clientFor(s.url);
      const out: (number | string)[] = [];
      for (let i = 0; i < 20; i++) out.push(await c.chat.completions.create(ASK).then(() => "ok", (e) => e.status));
      return out;
    };
    const a = await outcomes(11);
    expect(await outcomes(11)).toEqual(a);
    expect(new Set(a)).toEqual(new Set(["ok", 429, 500]));
    expect(await outcomes(12)).not.toEqual(a);
  });
});
