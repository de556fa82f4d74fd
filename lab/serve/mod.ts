/**
 * The lab's local OpenAI-compatible server: it serves the lab's own models (the placeholder now, `lab-mini`
 * and its fine-tuned versions later) behind the OpenAI API, so every client path — the openai SDK, LangChain,
 * promptfoo — is tested here without network. It also injects faults (429, 500, stalls, malformed tool
 * arguments, truncated streams, a concurrency limit) from a seeded PRNG to test clients' resilience.
 *
 * Endpoints: GET /v1/models[/{id}], POST /v1/chat/completions (JSON or SSE), POST /v1/embeddings,
 * /v1/files (upload, list, retrieve, content, delete), /v1/fine_tuning/jobs (create, list, retrieve, cancel,
 * events), GET /health.
 *
 * @example
 * ```ts
 * import OpenAI from "openai";
 * import { startServer } from "./lab/serve/mod.ts";
 * await using server = await startServer({ faults: { rate429: 0.1, seed: 7 } });
 * const client = new OpenAI({ baseURL: server.url, apiKey: "local" });
 * const r = await client.chat.completions.create({ model: "lab-mini-placeholder", messages: [{ role: "user", content: "hi" }] });
 * console.log(r.choices[0].message.content, server.stats());
 * ```
 * @module
 */
export { type FaultOptions, type LocalServer, type ServeOptions, type ServerStats, startServer } from "./server.ts";
export { EMBED_MODEL, embed } from "./_embed.ts";
export { PLACEHOLDER_MODEL, placeholderBackend } from "../models/mod.ts";
export type { ChatBackend, ChatRequest, ChatResult } from "../models/mod.ts";
export type { Trainer, TrainerEvent, TrainerOptions, TrainerResult } from "../models/mod.ts";
