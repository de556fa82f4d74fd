/**
 * Models: one client for every hosted or self-hosted model behind the OpenAI API (OpenAI, DeepSeek, Together,
 * Fireworks, DeepInfra, Ollama, vLLM, llama.cpp, the lab's own server), built on LangChain and the openai SDK,
 * with the lab's retries, rate limits, per-run budget and record/replay cache around it. Configured by
 * `configs/models.yaml`.
 *
 * Also the local side: the ports the local server and the fine-tuning jobs drive — `ChatBackend` (a model that
 * completes chat locally; its request and result are prefixed `Backend` to tell them from the client's) and
 * `Trainer` —, the local models (the placeholder, `lab-mini`, the embedding model `lab-embed-256`) and their
 * catalog (`defaultBackends`, `defaultTrainers`, `fineTunedLoader`, `LAB_MINI_BASE_WEIGHTS`).
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

// The local side: ports, local models and their catalog.
export type {
  BackendChatMessage,
  BackendChatRequest,
  BackendChatResult,
  BackendToolCall,
  BackendToolChoice,
  ChatBackend,
  ChatChoice,
  FinishReason,
  ToolDefinition,
} from "./backend.ts";
export { countChatTokens, countTokens } from "./backend.ts";
export * from "./trainer.ts";
export * from "./placeholder.ts";
export * from "./injection.ts";
export { LAB_EMBED_MODEL, labEmbed } from "./lab_embed.ts";
export { defaultBackends, defaultTrainers, fineTunedLoader, LAB_MINI_BASE_WEIGHTS, LAB_MINI_FT_DIR, type ModelLoader } from "./catalog.ts";
export {
  isTunedId,
  LAB_MINI_LR,
  labMiniBackend,
  type LabMiniModel,
  labMiniTrainer,
  type LabMiniTrainerOptions,
  loadLabMini,
  pretrain,
  type PretrainOptions,
  readStrategy,
  readTuned,
  saveModel,
  tunedBackend,
  type TunedModel,
} from "./lab_mini/mod.ts";
