/**
 * Model client benches (deno bench -A lab/models/models_bench.ts): the client's own per-request overhead,
 * excluding the model: p50 < 1 ms, measured three ways — a mocked transport (the lab's layer alone), a cache hit,
 * and the full LangChain + openai SDK path with an in-process fetch that answers instantly. Throughput through
 * the local fault server is benched in lab/e2e/client_throughput_bench.ts.
 */
import { openAiToolSchemas } from "../tools/mod.ts";
import { createChatModel, createResponseCache, getModelConfig, loadModelsConfig, type ModelConfig } from "./mod.ts";

const cfg = await loadModelsConfig();
const local = (concurrency: number): ModelConfig => ({ ...getModelConfig(cfg, "local"), limits: { concurrency } });
const messages = (i: number) => [{ role: "user" as const, content: `How many open invoices does customer ${i} have?` }];
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];

// ── Per-request overhead ────────────────────────────────────────────────────────────────────────────────
const tools = openAiToolSchemas();
async function overhead(label: string, invoke: (i: number) => Promise<unknown>, n = 2000): Promise<number> {
  for (let i = 0; i < 200; i++) await invoke(i);
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await invoke(i % 50);
    xs.push(performance.now() - t);
  }
  const p50 = pct(xs, 0.5);
  console.log(`client overhead, ${label}: measured p50 ${(p50 * 1000).toFixed(0)} µs, p95 ${(pct(xs, 0.95) * 1000).toFixed(0)} µs vs target p50 < 1 ms: ${p50 < 1 ? "OK" : "MISSED"}`);
  return p50;
}

const canned = {
  choices: [{ toolCalls: [{ id: "c1", name: "dbRead", args: { sql: "SELECT count(*) FROM sales_invoices" } }], finishReason: "tool_calls" }],
  usage: { inputTokens: 650, outputTokens: 12 },
};
const mocked = createChatModel(local(32), { transport: () => Promise.resolve(structuredClone(canned)) });
await overhead("lab layer (mocked transport: limiter, retry loop, budget, tool-call checks)", (i) => mocked.invoke({ messages: messages(i), tools, seed: 1 }));

const dir = await Deno.makeTempDir({ prefix: "lab-models-bench-" });
const cached = createChatModel(local(32), { transport: () => Promise.resolve(structuredClone(canned)), cache: createResponseCache({ dir }) });
await overhead("cache hit (sha256 key + read + verify)", (i) => cached.invoke({ messages: messages(i), tools, seed: 1 }));
await Deno.remove(dir, { recursive: true });

const body = JSON.stringify({
  id: "x", object: "chat.completion", created: 0, model: "lab-mini-placeholder",
  choices: [{ index: 0, finish_reason: "tool_calls", message: { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "dbRead", arguments: '{"sql":"SELECT 1"}' } }] } }],
  usage: { prompt_tokens: 650, completion_tokens: 12, total_tokens: 662 },
});
const instantFetch: typeof fetch = () => Promise.resolve(new Response(body, { headers: { "content-type": "application/json" } }));
const full = createChatModel(local(32), { baseUrl: "http://127.0.0.1:1/v1", fetch: instantFetch });
await overhead("full path (LangChain ChatOpenAI + openai SDK, in-process fetch)", (i) => full.invoke({ messages: messages(i), tools, seed: 1 }), 1000);

Deno.bench("ChatModel.invoke, mocked transport", async () => {
  await mocked.invoke({ messages: messages(1), tools, seed: 1 });
});
Deno.bench("ChatModel.invoke, LangChain + openai SDK, in-process fetch", async () => {
  await full.invoke({ messages: messages(1), tools, seed: 1 });
});
