/**
 * The lab's local OpenAI-compatible server, a face like the CLI: HTTP only. It serves the lab's own models
 * (`lab/models/`: `lab-mini`, its fine-tuned versions, the placeholder, the embedding model `lab-embed-256`)
 * behind the OpenAI API and runs fine-tuning jobs (`lab/finetune/`) behind `/v1/fine_tuning/jobs`, so every client
 * path — the openai SDK, LangChain, promptfoo — is tested here without network. It also injects faults (429, 500,
 * stalls, malformed tool arguments, truncated streams, a concurrency limit) from a seeded PRNG to test clients'
 * resilience.
 *
 * Endpoints: GET /v1/models[/{id}], POST /v1/chat/completions (JSON or SSE), POST /v1/embeddings,
 * /v1/files (upload, list, retrieve, content, delete), /v1/fine_tuning/jobs (create, list, retrieve, cancel,
 * events), GET /health; and the eval face the promptfoo suites of `evals/` call (`POST /lab/tests`, `POST /lab/episode`:
 * {@linkcode EvalService}), when started with `evals`.
 *
 * @example
 * ```ts
 * import OpenAI from "openai";
 * import { startServer } from "./lab/serve/mod.ts";
 * import { defaultBackends, defaultTrainers } from "./lab/models/mod.ts";
 * await using server = await startServer({ backends: await defaultBackends(), trainers: defaultTrainers(), faults: { rate429: 0.1, seed: 7 } });
 * const client = new OpenAI({ baseURL: server.url, apiKey: "local" });
 * const r = await client.chat.completions.create({ model: "lab-mini-placeholder", messages: [{ role: "user", content: "hi" }] });
 * console.log(r.choices[0].message.content, server.stats());
 * ```
 * @module
 */
export { type FaultOptions, type LocalServer, type ServeOptions, type ServerStats, startServer } from "./server.ts";
export {
  ArmSpec,
  EpisodeRequest,
  type EpisodeResult,
  EvalService,
  type EvalServiceOptions,
  type GeneratedTests,
  type ResolvedArm,
  SuiteSelection,
  type SuiteTest,
} from "./episodes.ts";
