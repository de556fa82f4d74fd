import { describe, expect, it } from "vitest";
import {
  backoffDelayMs,
  Budget,
  BudgetExceeded,
  callWithRetries,
  classifyError,
  HttpStatusError,
  ModelCallError,
  RateLimiter,
  retryAfterMs,
  seededRandom,
} from "./resilience.ts";

describe("retry policy", () => {
  it("reads retry-after-ms, Retry-After seconds and Retry-After dates", () => {
    expect(retryAfterMs(new Headers({ "retry-after-ms": "750", "retry-after": "1" }))).toBe(750);
    expect(retryAfterMs(new Headers({ "retry-after": "2" }))).toBe(2000);
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(retryAfterMs(new Headers({ "retry-after": "Wed, 01 Jan 2025 00:00:03 GMT" }), now)).toBe(3000);
    expect(retryAfterMs(new Headers())).toBeUndefined();
  });

  it("jitters fully within the exponential cap, reproducibly by seed", () => {
    const a = seededRandom(7), b = seededRandom(7);
    const xs = [0, 1, 2, 3, 10].map((k) => backoffDelayMs(k, a, 100, 1000));
    expect(xs).toEqual([0, 1, 2, 3, 10].map((k) => backoffDelayMs(k, b, 100, 1000)));
    xs.forEach((x, i) => expect(x).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** [0, 1, 2, 3, 10][i])));
  });

  it("retries 429, 5xx, timeouts and resets, and nothing else", () => {
    const h = new Headers({ "retry-after": "1" });
    expect(classifyError(new HttpStatusError(429, h, ""))).toMatchObject({ retryable: true, kind: "rate_limit", retryAfterMs: 1000 });
    expect(classifyError(new HttpStatusError(503, new Headers(), ""))).toMatchObject({ retryable: true, kind: "server" });
    expect(classifyError(Object.assign(new Error("x"), { name: "TimeoutError" }))).toMatchObject({ retryable: true, kind: "timeout" });
    expect(classifyError(new Error("read ECONNRESET"))).toMatchObject({ retryable: true, kind: "connection" });
    expect(classifyError(new TypeError("fetch failed", { cause: { code: "ECONNRESET" } }))).toMatchObject({ retryable: true });
    expect(classifyError(new HttpStatusError(400, new Headers(), "bad"))).toMatchObject({ retryable: false, kind: "client" });
    expect(classifyError(new Error("boom"))).toMatchObject({ retryable: false });
  });

  it("does not hold a concurrency slot while waiting to retry", async () => {
    const limiter = new RateLimiter({ concurrency: 1 });
    let first = true;
    const order: string[] = [];
    const retrying = callWithRetries(() => {
      if (first) {
        first = false;
        return Promise.reject(new HttpStatusError(429, new Headers({ "retry-after-ms": "150" }), ""));
      }
      order.push("retried");
      return Promise.resolve(1);
    }, { limiter, rnd: seededRandom(1), retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 1000 }, timeoutMs: 1000, estimatedTokens: 0, label: "m" });
    await new Promise((r) => setTimeout(r, 20));
    // The other request runs during the retry wait, on the one slot.
    await callWithRetries(() => Promise.resolve(order.push("other")), { limiter, rnd: seededRandom(1), retry: { maxRetries: 0, baseDelayMs: 1, maxDelayMs: 1 }, timeoutMs: 1000, estimatedTokens: 0, label: "m" });
    expect(await retrying).toEqual({ value: 1, attempts: 2 });
    expect(order).toEqual(["other", "retried"]);
  });

  it("gives up with what failed, how often and what to change", async () => {
    const err = await callWithRetries(() => Promise.reject(new HttpStatusError(500, new Headers(), "oops")), {
      limiter: new RateLimiter({ concurrency: 1 }),
      rnd: seededRandom(1),
      retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5 },
      timeoutMs: 1000,
      estimatedTokens: 0,
      label: "model 'x'",
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelCallError);
    expect(err.message).toMatch(/^model 'x': gave up after 3 attempts in .* s; last error HTTP 500 .*raise max_retries/);
  });
});

describe("rate limiter", () => {
  it("never lets more than `concurrency` run at once", async () => {
    const limiter = new RateLimiter({ concurrency: 3 });
    let running = 0, max = 0;
    await Promise.all(Array.from({ length: 20 }, async () => {
      const release = await limiter.acquire();
      max = Math.max(max, ++running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      release();
    }));
    expect(max).toBe(3);
    expect(limiter.stats()).toMatchObject({ inFlight: 0, maxInFlight: 3, queued: 0 });
  });

  it("spaces requests by the requests-per-minute bucket", async () => {
    // 6000/min = 100/s; a 0.1 s burst is 10 requests, then one every 10 ms.
    const limiter = new RateLimiter({ concurrency: 100, requestsPerMinute: 6000, burstSeconds: 0.1 });
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) (await limiter.acquire())();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(80);
  });
});

describe("budget", () => {
  it("refuses the call that would pass the limit, saying what was spent and what to raise", () => {
    const b = new Budget({ maxCostUsd: 0.01 });
    b.charge(0.008, 1000);
    b.check({ costUsd: 0.001, tokens: 10 });
    let err: unknown;
    try {
      b.check({ costUsd: 0.003, tokens: 10 }, "a call to m");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BudgetExceeded);
    expect((err as Error).message).toBe(
      "budget exceeded before a call to m: spent $0.0080 of max $0.0100 (1 calls, 1000 tokens; next call estimated at $0.0030); raise maxCostUsd of the run's budget to continue",
    );
    const t = new Budget({ maxTokens: 100 });
    t.charge(0, 90);
    expect(() => t.check({ costUsd: 0, tokens: 20 })).toThrow(/spent 90 of max 100 tokens.*raise maxTokens/);
  });
});
