/**
 * Embeddings through the `openai` SDK (LangChain adds nothing here), with the same retries, limits and budget
 * as chat.
 * @module
 */
import OpenAI from "openai";
import { ConfigError } from "../util/mod.ts";
import { costUsd, type ModelConfig } from "./config.ts";
import { limiterFor, resolveApiKey } from "./chat.ts";
import { type Budget, callWithRetries, type RateLimiter, type RetryOptions, seededRandom } from "./resilience.ts";
import { defaultEncoding, encoder, estimateTokens } from "./tokens.ts";

/** Options for {@linkcode createEmbeddings}. */
export interface EmbeddingsOptions {
  /** @default the env var named by `api_key_env` */
  apiKey?: string;
  /** Overrides the entry's `base_url`. */
  baseUrl?: string;
  limiter?: RateLimiter;
  budget?: Budget;
  retry?: RetryOptions;
  /** @default the entry's `timeout_ms` */
  timeoutMs?: number;
}

/** The result of {@linkcode Embeddings.embed}. */
export interface EmbedResult {
  vectors: number[][];
  usage: { inputTokens: number; source: "response" | "tiktoken" };
  costUsd: number;
  latencyMs: number;
  attempts: number;
}

/** An embedding model. */
export interface Embeddings {
  readonly name: string;
  readonly config: ModelConfig;
  /** Embeds texts, in order. */
  embed(texts: string[], options?: { signal?: AbortSignal }): Promise<EmbedResult>;
}

/**
 * Creates the embedding model of a config entry (`kind: embedding`).
 *
 * @example
 * ```ts
 * const emb = createEmbeddings(getModelConfig(await loadModelsConfig(), "local-embed"));
 * const { vectors } = await emb.embed(["unpaid invoices by customer"]);
 * ```
 */
export function createEmbeddings(config: ModelConfig, options: EmbeddingsOptions = {}): Embeddings {
  if (config.kind !== "embedding") {
    throw new ConfigError(`model '${config.name}' is a chat model; createEmbeddings needs an entry with kind: embedding`);
  }
  const baseUrl = (options.baseUrl ?? config.base_url).replace(/\/$/, "");
  const client = new OpenAI({ apiKey: resolveApiKey(config, options.apiKey), baseURL: baseUrl, maxRetries: 0 });
  const limiter = options.limiter ?? limiterFor(config);
  const rnd = seededRandom(options.retry?.seed ?? 1);
  const retry = {
    maxRetries: options.retry?.maxRetries ?? config.max_retries,
    baseDelayMs: options.retry?.baseDelayMs ?? 500,
    maxDelayMs: options.retry?.maxDelayMs ?? 30_000,
  };
  return {
    name: config.name,
    config,
    async embed(texts, o = {}) {
      const t0 = performance.now();
      const est = texts.reduce((n, t) => n + estimateTokens(t), 0);
      options.budget?.check({ costUsd: costUsd(config.pricing, est, 0), tokens: est }, `a call to ${config.name}`);
      const { value, attempts } = await callWithRetries(
        (signal) => client.embeddings.create({ model: config.model, input: texts }, { signal }),
        {
          limiter,
          rnd,
          retry,
          timeoutMs: options.timeoutMs ?? config.timeout_ms,
          estimatedTokens: est,
          label: `model '${config.name}' (${config.model} at ${baseUrl})`,
          signal: o.signal,
        },
      );
      const vectors = [...value.data].sort((a, b) => a.index - b.index).map((d) => d.embedding as number[]);
      let usage: EmbedResult["usage"];
      if (typeof value.usage?.prompt_tokens === "number") {
        usage = { inputTokens: value.usage.prompt_tokens, source: "response" };
      } else {
        const enc = await encoder(config.tokenizer ?? defaultEncoding(config.provider));
        usage = { inputTokens: texts.reduce((n, t) => n + enc.encode(t).length, 0), source: "tiktoken" };
      }
      const cost = costUsd(config.pricing, usage.inputTokens, 0);
      options.budget?.charge(cost, usage.inputTokens);
      return { vectors, usage, costUsd: cost, latencyMs: performance.now() - t0, attempts };
    },
  };
}
