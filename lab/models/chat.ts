/**
 * The lab's one chat-model client: every hosted or self-hosted model behind the OpenAI API, through LangChain,
 * with the lab's retries, rate limits, budget and response cache around it.
 * @module
 */
import { ConfigError } from "../util/mod.ts";
import { costUsd, type ModelConfig, SELF_HOSTED } from "./config.ts";
import type { ResponseCache } from "./cache.ts";
import { type Budget, callWithRetries, type ErrorClass, RateLimiter, type RetryOptions, seededRandom } from "./resilience.ts";
import { countCompletionTokens, countPromptTokens, defaultEncoding, estimateTokens } from "./tokens.ts";
import { backendTransport, type Integration, langChainTransport } from "./_transports.ts";
import type { ChatBackend } from "./backend.ts";
import type {
  AssistantMessage,
  ChatRequest,
  ChatResult,
  ChatTransport,
  RawChoice,
  ToolCall,
  TransportRequest,
  TransportResponse,
  Usage,
} from "./types.ts";

/**
 * Options for {@linkcode createChatModel}.
 * @internal
 */
export interface ChatModelOptions {
  /** The API key. @default the env var named by the entry's `api_key_env` */
  apiKey?: string;
  /** Overrides the entry's `base_url` (e.g. to point a Together entry at the local server). */
  baseUrl?: string;
  /** The LangChain integration. @default by provider: together/fireworks/deepinfra use theirs, others ChatOpenAI */
  integration?: Integration;
  /** Replaces the HTTP transport (tests, benches, custom providers). */
  transport?: ChatTransport;
  /**
   * Calls this local model in process instead of over HTTP (for `provider: local` entries: lab-mini and the
   * placeholder). Same requests and replies as through the local server, without JSON, HTTP and LangChain in
   * between; retries, limits, budget and cache still apply. Ignored when `transport` is given.
   */
  backend?: ChatBackend;
  /** A fetch for the openai SDK under LangChain (benches). */
  fetch?: typeof fetch;
  /** Share one limiter between clients of the same account. @default a new one from the entry's `limits` */
  limiter?: RateLimiter;
  /** The run's budget, shared by every model of the run. @default none */
  budget?: Budget;
  /** Record/replay cache. @default none */
  cache?: ResponseCache;
  /** Retry policy. @default the entry's `max_retries`, base 500 ms, cap 30 s, seed 1 */
  retry?: RetryOptions;
  /** Per-attempt timeout. @default the entry's `timeout_ms` */
  timeoutMs?: number;
  /** Called before each retry (logging). */
  onRetry?: (attempt: number, error: ErrorClass, delayMs: number) => void;
}

/** Counters of a chat model. */
export interface ChatModelStats {
  calls: number;
  cacheHits: number;
  attempts: number;
  retries: number;
  modelErrors: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/**
 * A chat model: one interface for every provider.
 * @internal
 */
export interface ChatModel {
  /** The entry's name in configs/models.yaml. */
  readonly name: string;
  readonly config: ModelConfig;
  readonly limiter: RateLimiter;
  /** One chat completion. Throws only {@linkcode BudgetExceeded}, `ModelCallError` (failed for good) or on abort. */
  invoke(request: ChatRequest): Promise<ChatResult>;
  stats(): ChatModelStats;
}

/** Resolves the API key of an entry: the option, else the env var it names; self-hosted models need none. */
export function resolveApiKey(config: ModelConfig, apiKey?: string): string {
  if (apiKey) return apiKey;
  const fromEnv = config.api_key_env ? Deno.env.get(config.api_key_env) : undefined;
  if (fromEnv) return fromEnv;
  if (SELF_HOSTED.has(config.provider)) return "not-needed";
  throw new ConfigError(
    `model '${config.name}' needs an API key: set the environment variable ${config.api_key_env} ` +
      `(named by models.${config.name}.api_key_env in configs/models.yaml)`,
  );
}

/** The limiter an entry's `limits` describe. */
export function limiterFor(config: ModelConfig): RateLimiter {
  return new RateLimiter({
    concurrency: config.limits.concurrency,
    requestsPerMinute: config.limits.requests_per_minute,
    tokensPerMinute: config.limits.tokens_per_minute,
  });
}

/**
 * Creates the chat model of a config entry.
 *
 * @example
 * ```ts
 * const cfg = getModelConfig(await loadModelsConfig(), "deepseek-chat");
 * const model = createChatModel(cfg, { budget: new Budget({ maxCostUsd: 1 }), cache: createResponseCache() });
 * const r = await model.invoke({ messages: [{ role: "user", content: "Hi" }], tools: openAiToolSchemas(), seed: 1 });
 * console.log(r.message.toolCalls, r.usage, r.costUsd);
 * ```
 */
export function createChatModel(config: ModelConfig, options: ChatModelOptions = {}): ChatModel {
  if (config.kind !== "chat") {
    throw new ConfigError(`model '${config.name}' is an embedding model; use createEmbeddings for it`);
  }
  const baseUrl = (options.baseUrl ?? config.base_url).replace(/\/$/, "");
  const transport = options.transport ?? (options.backend
    ? backendTransport(options.backend)
    : langChainTransport(config, { baseUrl, apiKey: resolveApiKey(config, options.apiKey), fetch: options.fetch }, options.integration));
  const limiter = options.limiter ?? limiterFor(config);
  const retry = {
    maxRetries: options.retry?.maxRetries ?? config.max_retries,
    baseDelayMs: options.retry?.baseDelayMs ?? 500,
    maxDelayMs: options.retry?.maxDelayMs ?? 30_000,
  };
  const rnd = seededRandom(options.retry?.seed ?? 1);
  const timeoutMs = options.timeoutMs ?? config.timeout_ms;
  const encoding = config.tokenizer ?? defaultEncoding(config.provider);
  const label = `model '${config.name}' (${config.model} ${options.backend && !options.transport ? "in process" : `at ${baseUrl}`})`;
  const stats: ChatModelStats = { calls: 0, cacheHits: 0, attempts: 0, retries: 0, modelErrors: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };

  async function invoke(request: ChatRequest): Promise<ChatResult> {
    const t0 = performance.now();
    const { signal, ...req } = request;
    stats.calls++;
    const cacheKey = options.cache ? { model: `${config.provider}:${config.model}`, ...req } : undefined;
    if (options.cache) {
      const hit = await options.cache.get<{ response: TransportResponse; usage: Usage }>(cacheKey);
      if (hit) {
        stats.cacheHits++;
        return finish(req, hit.response, hit.usage, t0, { cached: true, attempts: 0 });
      }
    }
    // Key order does not change the length, so plain JSON gives the same estimate as canonical JSON, cheaper.
    const estInput = estimateTokens(JSON.stringify([req.messages, req.tools ?? null]));
    options.budget?.check(
      { costUsd: costUsd(config.pricing, estInput, 0), tokens: estInput },
      `a call to ${config.name}`,
    );
    const estimated = estInput + (req.maxTokens ?? 0);
    const { value: response, attempts } = await callWithRetries((s) => transport(req, s), {
      limiter,
      rnd,
      retry,
      timeoutMs,
      estimatedTokens: estimated,
      label,
      signal,
      onRetry: (a, cls, d) => {
        stats.retries++;
        options.onRetry?.(a, cls, d);
      },
    });
    stats.attempts += attempts;
    const usage = await usageOf(req, response);
    limiter.recordTokens(usage.inputTokens + usage.outputTokens - estimated);
    if (options.cache) await options.cache.put(cacheKey, { response, usage });
    const result = finish(req, response, usage, t0, { cached: false, attempts });
    options.budget?.charge(result.costUsd, usage.inputTokens + usage.outputTokens);
    stats.costUsd += result.costUsd;
    return result;
  }

  async function usageOf(req: TransportRequest, res: TransportResponse): Promise<Usage> {
    if (res.usage) return { ...res.usage, source: "response" };
    const inputTokens = await countPromptTokens(req.messages, req.tools, encoding);
    let outputTokens = 0;
    for (const c of res.choices) {
      outputTokens += await countCompletionTokens({ role: "assistant", content: c.content, toolCalls: c.toolCalls }, encoding);
    }
    return { inputTokens, outputTokens, source: "tiktoken" };
  }

  function finish(
    req: TransportRequest,
    res: TransportResponse,
    usage: Usage,
    t0: number,
    how: { cached: boolean; attempts: number },
  ): ChatResult {
    const modelErrors: string[] = [];
    const offered = new Set((req.tools ?? []).map((t) => t.function.name));
    const choices = res.choices.map((c, i) => checkChoice(c, offered, res.choices.length > 1 ? `choice ${i}: ` : "", modelErrors));
    if (!choices.length) modelErrors.push("the response has no choices");
    stats.modelErrors += modelErrors.length;
    stats.inputTokens += usage.inputTokens;
    stats.outputTokens += usage.outputTokens;
    return {
      message: choices[0] ?? {},
      choices,
      usage,
      latencyMs: performance.now() - t0,
      costUsd: how.cached ? 0 : costUsd(config.pricing, usage.inputTokens, usage.outputTokens),
      cached: how.cached,
      modelErrors,
      attempts: how.attempts,
    };
  }

  return { name: config.name, config, limiter, invoke, stats: () => ({ ...stats }) };
}

/**
 * The chat model of entry `config` at another model id its provider serves — a fine-tuned version
 * (`ft:lab-mini:core:…`, `lab-mini-all-v2`) or another base of the same server: the entry's settings (provider,
 * limits, retries, pricing) with `model` set to `id`, named `<entry>:<id>` so episodes and records tell the
 * versions apart (the entry's own name for its own id).
 *
 * @example
 * ```ts
 * const entry = getModelConfig(await loadModelsConfig(), "lab-mini");
 * const tuned = servedChatModel(entry, "ft:lab-mini:core:0123456789ab", { baseUrl: server.url });
 * tuned.name; // "lab-mini:ft:lab-mini:core:0123456789ab"
 * ```
 */
export function servedChatModel(config: ModelConfig, id: string, options: ChatModelOptions = {}): ChatModel {
  return createChatModel({ ...config, model: id, name: id === config.model ? config.name : `${config.name}:${id}` }, options);
}

/** Validates a choice's tool calls: unparsable arguments and unknown tools become errors of the call. */
function checkChoice(c: RawChoice, offered: Set<string>, prefix: string, errors: string[]): AssistantMessage {
  const out: AssistantMessage = {};
  if (c.content !== undefined) out.content = c.content;
  if (c.finishReason) out.finishReason = c.finishReason;
  if (c.toolCalls?.length) {
    out.toolCalls = c.toolCalls.map((t, i): ToolCall => {
      const where = `${prefix}tool call ${i} (${t.name || "no name"})`;
      if (t.error !== undefined || t.args === undefined) {
        const error = `arguments are not valid JSON: ${t.error ?? "missing"}`;
        errors.push(`${where}: ${error}; arguments were ${JSON.stringify((t.rawArgs ?? "").slice(0, 120))}`);
        return { id: t.id, name: t.name, rawArgs: t.rawArgs, error };
      }
      if (!offered.has(t.name)) {
        const error = `unknown tool '${t.name}'; offered: ${[...offered].join(", ") || "(none)"}`;
        errors.push(`${where}: ${error}`);
        return { id: t.id, name: t.name, args: t.args, error };
      }
      return { id: t.id, name: t.name, args: t.args };
    });
  }
  return out;
}
