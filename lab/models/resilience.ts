/**
 * Resilience for model calls, implemented in the lab (the SDKs' own retries are off, so one policy applies to
 * every provider): retries with exponential backoff and full jitter honouring Retry-After, client-side rate
 * limiting (requests and tokens per minute, token buckets) with a concurrency limit, and a per-run budget.
 *
 * A retrying request does not hold a concurrency slot while it waits: the slot is released after each attempt,
 * so other requests use it — that is what lets a client under 429s still saturate the allowed concurrency.
 * @module
 */
import { LabError, mulberry32, sleep } from "../util/mod.ts";

/** A seeded PRNG in [0, 1) (mulberry32): jitter is reproducible in tests. */
export const seededRandom: (seed: number) => () => number = mulberry32;

/** Retry policy. */
export interface RetryOptions {
  /** Retries after the first attempt. @default 5 (or the model's `max_retries`) */
  maxRetries?: number;
  /** Backoff base: attempt k waits up to base·2^k. @default 500 */
  baseDelayMs?: number;
  /** Backoff cap (also caps a server's Retry-After). @default 30000 */
  maxDelayMs?: number;
  /** Seed of the jitter. @default 1 */
  seed?: number;
}

/** Full-jitter backoff (AWS architecture blog): uniform in [0, min(cap, base·2^attempt)]. */
export function backoffDelayMs(attempt: number, rnd: () => number, base = 500, cap = 30_000): number {
  return rnd() * Math.min(cap, base * 2 ** attempt);
}

/** How a failed attempt is treated. */
export interface ErrorClass {
  retryable: boolean;
  kind: "rate_limit" | "server" | "timeout" | "connection" | "client" | "other";
  status?: number;
  /** From retry-after-ms or Retry-After (seconds or HTTP date). */
  retryAfterMs?: number;
  message: string;
}

/** An HTTP error raised by a transport the lab wrote itself (the SDKs raise their own, read the same way). */
export class HttpStatusError extends Error {
  override name = "HttpStatusError";
  constructor(readonly status: number, readonly headers: Headers, body: string) {
    super(`HTTP ${status}: ${body.slice(0, 200)}`);
  }
}

/** An attempt cut off by the lab's per-attempt timeout. */
export class AttemptTimeout extends Error {
  override name = "TimeoutError";
}

function header(headers: unknown, name: string): string | undefined {
  if (!headers) return undefined;
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string>;
  return rec[name] ?? rec[name.toLowerCase()];
}

/** Reads retry-after-ms / Retry-After from response headers, in ms. */
export function retryAfterMs(headers: unknown, now = Date.now()): number | undefined {
  const ms = header(headers, "retry-after-ms");
  if (ms && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = header(headers, "retry-after");
  if (!ra) return undefined;
  if (Number.isFinite(Number(ra))) return Math.max(0, Number(ra) * 1000);
  const date = Date.parse(ra);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

const CONNECTION = /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|socket hang up|connection (reset|closed|error|refused)|network|fetch failed|error sending request|broken pipe|unexpected eof/i;

/** Classifies an error from any transport (openai SDK, LangChain, fetch). */
export function classifyError(e: unknown): ErrorClass {
  const err = e as { status?: unknown; headers?: unknown; name?: string; message?: string; cause?: unknown };
  const message = String(err?.message ?? e).split("\n")[0].slice(0, 300);
  const status = typeof err?.status === "number" ? err.status : undefined;
  if (status !== undefined) {
    const retryAfter = retryAfterMs(err.headers);
    if (status === 429) return { retryable: true, kind: "rate_limit", status, retryAfterMs: retryAfter, message };
    if (status === 408 || status === 409 || status >= 500) {
      return { retryable: true, kind: "server", status, retryAfterMs: retryAfter, message };
    }
    return { retryable: false, kind: "client", status, message };
  }
  if (err?.name === "TimeoutError" || /timed? ?out/i.test(message)) return { retryable: true, kind: "timeout", message };
  const causeMsg = String((err?.cause as { message?: string; code?: string })?.code ?? "") + " " +
    String((err?.cause as { message?: string })?.message ?? "");
  if (err?.name === "APIConnectionError" || CONNECTION.test(message) || CONNECTION.test(causeMsg)) {
    return { retryable: true, kind: "connection", message };
  }
  return { retryable: false, kind: "other", message };
}

/** A model call that failed for good (not retryable, or retries exhausted). */
export class ModelCallError extends LabError {
  override name = "ModelCallError";
  constructor(message: string, readonly attempts: number, readonly last: ErrorClass) {
    super(message);
  }
}

// ── Rate limiting ──────────────────────────────────────────────────────────────────────────────────────────

/** Options for {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Requests in flight at most. */
  concurrency: number;
  /** Requests started per minute at most. */
  requestsPerMinute?: number;
  /** Tokens per minute at most (estimated before a call, corrected after). */
  tokensPerMinute?: number;
  /**
   * Seconds of the per-minute rate a bucket holds: a burst of at most rate·burstSeconds/60. Providers enforce
   * their per-minute limits over shorter windows, so a whole minute's burst at once gets 429s.
   * @default 10
   */
  burstSeconds?: number;
}

class TokenBucket {
  #tokens: number;
  #last = performance.now();
  constructor(readonly ratePerMs: number, readonly capacity: number) {
    this.#tokens = capacity;
  }
  #refill() {
    const now = performance.now();
    this.#tokens = Math.min(this.capacity, this.#tokens + (now - this.#last) * this.ratePerMs);
    this.#last = now;
  }
  /** Ms until `n` tokens are available (a request bigger than the bucket waits for a full bucket). */
  waitMs(n: number): number {
    this.#refill();
    const need = Math.min(n, this.capacity);
    return this.#tokens >= need ? 0 : (need - this.#tokens) / this.ratePerMs;
  }
  take(n: number) {
    this.#refill();
    this.#tokens -= n;
  }
  /** Gives back (negative: takes) tokens after the real usage is known. */
  adjust(delta: number) {
    this.#refill();
    this.#tokens = Math.min(this.capacity, this.#tokens + delta);
  }
}

/**
 * A concurrency limit plus request and token buckets. Share one limiter between every client of the same
 * provider account (pass it to each `createChatModel`), since the provider counts them together.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter({ concurrency: 8, requestsPerMinute: 500 });
 * const release = await limiter.acquire(1200);
 * try { // call the model
 * } finally { release(); }
 * ```
 */
export class RateLimiter {
  readonly concurrency: number;
  #inFlight = 0;
  #maxInFlight = 0;
  #waiters: (() => void)[] = [];
  #priority: (() => void)[] = [];
  #requests?: TokenBucket;
  #tokens?: TokenBucket;
  #rateWaits = 0;

  constructor(options: RateLimiterOptions) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency));
    const burst = (options.burstSeconds ?? 10) / 60;
    if (options.requestsPerMinute) {
      this.#requests = new TokenBucket(options.requestsPerMinute / 60_000, Math.max(1, options.requestsPerMinute * burst));
    }
    if (options.tokensPerMinute) {
      this.#tokens = new TokenBucket(options.tokensPerMinute / 60_000, Math.max(1, options.tokensPerMinute * burst));
    }
  }

  /**
   * Waits for a concurrency slot, then for the buckets; returns the release function of the slot. A retry
   * (`priority`) queues ahead of first attempts: it has already waited its backoff, and sending it to the back
   * of a long queue would pile every retry up at the end of a run, leaving slots idle in the tail.
   */
  async acquire(estimatedTokens = 0, signal?: AbortSignal, priority = false): Promise<() => void> {
    if (this.#inFlight >= this.concurrency) {
      await new Promise<void>((resolve) => priority ? this.#priority.push(resolve) : this.#waiters.push(resolve));
    } else {
      this.#inFlight++;
    }
    // The slot is ours from here (a releaser hands it over without decrementing).
    this.#maxInFlight = Math.max(this.#maxInFlight, this.#inFlight);
    try {
      for (;;) {
        const wait = Math.max(this.#requests?.waitMs(1) ?? 0, this.#tokens?.waitMs(estimatedTokens) ?? 0);
        if (wait <= 0) break;
        this.#rateWaits++;
        await sleep(Math.ceil(wait), signal);
      }
      this.#requests?.take(1);
      this.#tokens?.take(estimatedTokens);
    } catch (e) {
      this.#release();
      throw e;
    }
    let released = false;
    return () => {
      if (!released) {
        released = true;
        this.#release();
      }
    };
  }

  #release() {
    const next = this.#priority.shift() ?? this.#waiters.shift();
    if (next) next();
    else this.#inFlight--;
  }

  /** Corrects the token bucket once a call's real token count is known (`actual - estimated`). */
  recordTokens(delta: number): void {
    this.#tokens?.adjust(-delta);
  }

  /** Counters for reports and tests. */
  stats(): { inFlight: number; maxInFlight: number; queued: number; rateWaits: number } {
    return { inFlight: this.#inFlight, maxInFlight: this.#maxInFlight, queued: this.#waiters.length + this.#priority.length, rateWaits: this.#rateWaits };
  }
}

// ── Budget ─────────────────────────────────────────────────────────────────────────────────────────────────

/** Limits of a run's spending. */
export interface BudgetLimits {
  /** USD at most, summed over every call sharing the budget. */
  maxCostUsd?: number;
  /** Input + output tokens at most. */
  maxTokens?: number;
}

/** A run hit its budget: thrown before a call that would start past the limit; nothing is half-done. */
export class BudgetExceeded extends LabError {
  override name = "BudgetExceeded";
  constructor(readonly spent: { costUsd: number; tokens: number }, readonly limits: BudgetLimits, what: string) {
    super(what);
  }
}

/**
 * A per-run budget shared by every call of a run (pass the same instance to each model). A call is refused
 * with {@linkcode BudgetExceeded} when the money or tokens already spent plus its input estimate would pass a
 * limit; calls in flight finish and are charged, so a run stops cleanly between steps.
 *
 * @example
 * ```ts
 * const budget = new Budget({ maxCostUsd: 2 });
 * const model = createChatModel(cfg, { budget });
 * ```
 */
export class Budget {
  #costUsd = 0;
  #tokens = 0;
  #calls = 0;
  constructor(readonly limits: BudgetLimits = {}) {}

  /** Throws {@linkcode BudgetExceeded} if a call estimated at `estimate` must not start. */
  check(estimate: { costUsd: number; tokens: number } = { costUsd: 0, tokens: 0 }, label = "model call"): void {
    const { maxCostUsd, maxTokens } = this.limits;
    const spent = { costUsd: this.#costUsd, tokens: this.#tokens };
    if (maxCostUsd !== undefined && this.#costUsd + estimate.costUsd > maxCostUsd) {
      throw new BudgetExceeded(
        spent,
        this.limits,
        `budget exceeded before ${label}: spent $${this.#costUsd.toFixed(4)} of max $${maxCostUsd.toFixed(4)} ` +
          `(${this.#calls} calls, ${this.#tokens} tokens; next call estimated at $${estimate.costUsd.toFixed(4)}); ` +
          `raise maxCostUsd of the run's budget to continue`,
      );
    }
    if (maxTokens !== undefined && this.#tokens + estimate.tokens > maxTokens) {
      throw new BudgetExceeded(
        spent,
        this.limits,
        `budget exceeded before ${label}: spent ${this.#tokens} of max ${maxTokens} tokens ` +
          `(${this.#calls} calls, $${this.#costUsd.toFixed(4)}; next call estimated at ${estimate.tokens} input tokens); ` +
          `raise maxTokens of the run's budget to continue`,
      );
    }
  }

  /** Records a finished call. */
  charge(costUsd: number, tokens: number): void {
    this.#costUsd += costUsd;
    this.#tokens += tokens;
    this.#calls++;
  }

  /** What was spent so far. */
  spent(): { costUsd: number; tokens: number; calls: number } {
    return { costUsd: this.#costUsd, tokens: this.#tokens, calls: this.#calls };
  }
}

// ── The retry loop ─────────────────────────────────────────────────────────────────────────────────────────

/** Options of {@linkcode callWithRetries}. */
export interface CallOptions {
  limiter: RateLimiter;
  rnd: () => number;
  retry: Required<Omit<RetryOptions, "seed">>;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Estimated tokens for the token bucket. */
  estimatedTokens: number;
  /** For messages: "model 'local' (http://…)". */
  label: string;
  signal?: AbortSignal;
  /** Called before each retry wait (for logs and counters). */
  onRetry?: (attempt: number, cls: ErrorClass, delayMs: number) => void;
}

/**
 * Runs `fn` under the limiter with retries. Each attempt holds a concurrency slot only while it runs; the
 * backoff wait happens outside the slot. Returns the value and the number of attempts.
 */
export async function callWithRetries<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  o: CallOptions,
): Promise<{ value: T; attempts: number }> {
  const t0 = performance.now();
  for (let attempt = 0;; attempt++) {
    const release = await o.limiter.acquire(attempt === 0 ? o.estimatedTokens : 0, o.signal, attempt > 0);
    const ac = new AbortController();
    const onAbort = () => ac.abort(o.signal!.reason);
    o.signal?.addEventListener("abort", onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ac.abort(new AttemptTimeout(`no response within ${o.timeoutMs} ms`));
    }, o.timeoutMs);
    let cls: ErrorClass;
    try {
      return { value: await fn(ac.signal), attempts: attempt + 1 };
    } catch (e) {
      if (o.signal?.aborted) throw e;
      cls = timedOut
        ? { retryable: true, kind: "timeout", message: `no response within ${o.timeoutMs} ms (timeout_ms)` }
        : classifyError(e);
      if (e instanceof LabError) throw e;
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener("abort", onAbort);
      release();
    }
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const what = cls.status ? `HTTP ${cls.status} (${cls.message})` : `${cls.kind}: ${cls.message}`;
    if (!cls.retryable) {
      const hint = cls.status === 401 || cls.status === 403
        ? "check the API key in the env var named by api_key_env"
        : cls.status === 404
        ? "check the model id and base_url in configs/models.yaml"
        : "this is not retried; fix the request or the config";
      throw new ModelCallError(`${o.label}: ${what}; ${hint}`, attempt + 1, cls);
    }
    if (attempt >= o.retry.maxRetries) {
      throw new ModelCallError(
        `${o.label}: gave up after ${attempt + 1} attempts in ${secs} s; last error ${what}; ` +
          `raise max_retries / timeout_ms in configs/models.yaml or check the provider's status`,
        attempt + 1,
        cls,
      );
    }
    const jitter = backoffDelayMs(attempt, o.rnd, o.retry.baseDelayMs, o.retry.maxDelayMs);
    const delay = cls.retryAfterMs !== undefined ? Math.min(o.retry.maxDelayMs, Math.max(cls.retryAfterMs, jitter)) : jitter;
    o.onRetry?.(attempt + 1, cls, delay);
    await sleep(delay, o.signal);
  }
}
