/**
 * Models: one client for every hosted or self-hosted model behind the OpenAI API (OpenAI, DeepSeek, Together,
 * Fireworks, DeepInfra, Ollama, vLLM, llama.cpp, the lab's own server), built on LangChain and the openai SDK,
 * with the lab's retries, rate limits, per-run budget and record/replay cache around it. Configured by
 * `configs/models.yaml`.
 *
 * Also the ports the local server implements: `ChatBackend` (a model that completes chat locally) and `Trainer`.
 *
 * @example
 * ```ts
 * import { Budget, createChatModel, createResponseCache, getModelConfig, loadModelsConfig } from "./lab/models/mod.ts";
 * const cfg = getModelConfig(await loadModelsConfig(), "local");
 * const model = createChatModel(cfg, { budget: new Budget({ maxCostUsd: 5 }), cache: createResponseCache() });
 * const r = await model.invoke({ messages: [{ role: "user", content: "How many open invoices?" }], seed: 1 });
 * console.log(r.message, r.usage, r.costUsd, r.modelErrors);
 * ```
 * @module
 */
export * from "./config.ts";
export * from "./types.ts";
export * from "./chat.ts";
export * from "./embeddings.ts";
export * from "./cache.ts";
export * from "./resilience.ts";
export { countCompletionTokens, countPromptTokens, defaultEncoding, type Encoding, estimateTokens } from "./tokens.ts";
export type { Integration } from "./_transports.ts";

// Ports owned by the local-server side (names that clash with the client's are prefixed with Backend).
export type {
  ChatBackend,
  ChatChoice,
  ChatMessage as BackendChatMessage,
  ChatRequest as BackendChatRequest,
  ChatResult as BackendChatResult,
  FinishReason,
  ToolCall as BackendToolCall,
  ToolChoice as BackendToolChoice,
  ToolDefinition,
} from "./backend.ts";
export { countChatTokens, countTokens } from "./backend.ts";
export * from "./trainer.ts";
export * from "./placeholder.ts";
export * from "./injection.ts";
