import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI, { toFile } from "openai";
import { type LocalServer, startServer } from "./mod.ts";
import { type BackendChatMessage, countChatTokens, placeholderBackend, type Trainer } from "../models/mod.ts";
import { promptTokens } from "./_chat.ts";

const MODEL = "lab-mini-placeholder";
const DB_READ = {
  type: "function" as const,
  function: {
    name: "dbRead",
    description: "Run one read-only SQL statement",
    parameters: { type: "object", properties: { sql: { type: "string" }, limit: { type: "integer", minimum: 1 } }, required: ["sql"] },
  },
};
const SUBMIT = {
  type: "function" as const,
  function: {
    name: "submitAnswer",
    parameters: { type: "object", properties: { answer: { type: "number" }, confident: { type: "boolean" }, unit: { enum: ["EUR", "USD"] } }, required: ["answer", "confident", "unit"] },
  },
};
const EXAMPLES = [
  { messages: [{ role: "user", content: "How many invoices?" }, { role: "assistant", content: "42" }] },
  { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Revenue?" }, { role: "assistant", content: "1000 EUR" }] },
].map((e) => JSON.stringify(e)).join("\n") + "\n";

let server: LocalServer;
let client: OpenAI;
beforeAll(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: server.url, apiKey: "local", maxRetries: 0 });
});
afterAll(() => server.close());

async function waitForJob(c: OpenAI, id: string) {
  for (let i = 0; i < 200; i++) {
    const job = await c.fineTuning.jobs.retrieve(id);
    if (["succeeded", "failed", "cancelled"].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`job ${id} did not finish`);
}

describe("models", () => {
  it("lists the placeholder, labelled honestly, and the embedding model", async () => {
    const page = await client.models.list();
    expect(page.data.map((m) => [m.id, m.owned_by])).toEqual([
      [MODEL, "lab (placeholder until lab-mini lands)"],
      ["lab-embed-256", "lab (hashed n-gram embeddings)"],
    ]);
    expect(await client.models.retrieve(MODEL)).toMatchObject({ id: MODEL, object: "model" });
  });

  it("answers an unknown model with 404 model_not_found", async () => {
    await expect(client.models.retrieve("gpt-9")).rejects.toMatchObject({ status: 404, code: "model_not_found" });
    const err = await client.chat.completions.create({ model: "gpt-9", messages: [{ role: "user", content: "hi" }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ code: "model_not_found", param: "model", type: "invalid_request_error" });
  });
});

describe("chat completions", () => {
  it("answers text with usage counted by tiktoken", async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "How many open invoices?" }] });
    expect(r).toMatchObject({ object: "chat.completion", model: MODEL, choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant" } }] });
    expect(r.choices[0].message.content).toContain("How many open invoices?");
    expect(r.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
    expect(r.usage!.total_tokens).toBe(r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  it("calls the first tool with arguments built from its schema", async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "count invoices" }], tools: [DB_READ, SUBMIT] });
    const choice = r.choices[0];
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBeNull();
    const call = choice.message.tool_calls![0];
    expect(call.type === "function" && call.function.name).toBe("dbRead");
    expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual({ sql: "sql" });
  });

  it("calls the tool named by tool_choice, with enum, number and boolean arguments", async () => {
    const r = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "answer" }],
      tools: [DB_READ, SUBMIT],
      tool_choice: { type: "function", function: { name: "submitAnswer" } },
    });
    const call = r.choices[0].message.tool_calls![0];
    expect(call.type === "function" && [call.function.name, JSON.parse(call.function.arguments)]).toEqual(["submitAnswer", { answer: 1, confident: true, unit: "EUR" }]);
  });

  it("answers text after a tool result and when tool_choice is none", async () => {
    const afterTool = await client.chat.completions.create({
      model: MODEL,
      tools: [DB_READ],
      messages: [
        { role: "user", content: "count" },
        { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "dbRead", arguments: '{"sql":"SELECT 1"}' } }] },
        { role: "tool", tool_call_id: "call_1", content: "[[1]]" },
      ],
    });
    expect(afterTool.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: expect.stringContaining("the tool returned") } });
    const none = await client.chat.completions.create({ model: MODEL, tools: [DB_READ], tool_choice: "none", messages: [{ role: "user", content: "hi" }] });
    expect(none.choices[0].message.tool_calls).toBeUndefined();
  });

  it("returns n choices, identical at temperature 0 and varied (deterministically by seed) above", async () => {
    const messages = [{ role: "user" as const, content: "Say something" }];
    const cold = await client.chat.completions.create({ model: MODEL, messages, n: 2, temperature: 0 });
    expect(cold.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(cold.choices[0].message.content).toBe(cold.choices[1].message.content);
    const texts = async (seed: number) =>
      (await client.chat.completions.create({ model: MODEL, messages, n: 4, temperature: 1, seed })).choices.map((c) => c.message.content);
    expect(await texts(7)).toEqual(await texts(7));
    expect(new Set(await texts(7)).size).toBeGreaterThan(1);
  });

  it("cuts the reply at max_tokens with finish_reason length", async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hello" }], max_completion_tokens: 2 });
    expect(r.choices[0].finish_reason).toBe("length");
    expect(r.usage!.completion_tokens).toBe(2);
  });

  it("streams text deltas ending with finish_reason, a usage chunk and [DONE]", async () => {
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "stream me" }], stream: true, stream_options: { include_usage: true } });
    let text = "";
    let finish: string | null = null;
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    const whole = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "stream me" }] });
    expect({ text, finish, usage }).toEqual({ text: whole.choices[0].message.content, finish: "stop", usage: whole.usage });
  });

  it("streams tool-call deltas that the SDK reassembles", async () => {
    const stream = client.chat.completions.stream({ model: MODEL, messages: [{ role: "user", content: "query" }], tools: [DB_READ] });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe("tool_calls");
    const call = final.choices[0].message.tool_calls![0];
    expect(call.type === "function" && [call.function.name, JSON.parse(call.function.arguments)]).toEqual(["dbRead", { sql: "sql" }]);
    expect(call.id).toMatch(/^call_/);
  });

  it("refuses a prompt over the context window with context_length_exceeded (BadRequestError)", async () => {
    const long = "invoice ".repeat(5000);
    const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: long }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, code: "context_length_exceeded", type: "invalid_request_error", param: "messages" });
    expect(err.message).toMatch(/maximum context length is 4096 tokens/);
    const withCap = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }], max_tokens: 4095 }).catch((e) => e);
    expect(withCap).toMatchObject({ status: 400, code: "context_length_exceeded" });
  });

  it("refuses invalid fields with 400 naming the parameter", async () => {
    const err = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }], temperature: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ param: "temperature", type: "invalid_request_error" });
    const noTool = await client.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x" }], tools: [DB_READ], tool_choice: { type: "function", function: { name: "nope" } } }).catch((e) => e);
    expect(noTool).toMatchObject({ status: 400, param: "tool_choice" });
  });
});

describe("context check", () => {
  it("counts prompt tokens exactly as countChatTokens, memo or not", () => {
    const messages: BackendChatMessage[] = [
      { role: "system", content: "You are an ERP analyst." },
      { role: "user", content: "How many invoices were issued in October 2025?", name: "ana" },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "dbRead", arguments: '{"sql":"SELECT 1"}' } }] },
      { role: "tool", content: '{"ok":true,"rows":[{"n":1}]}', tool_call_id: "c1" },
      { role: "user", content: "" },
    ];
    for (let i = 0; i < 2; i++) {
      expect(promptTokens(messages, [DB_READ, SUBMIT])).toBe(countChatTokens(messages, [DB_READ, SUBMIT]));
      expect(promptTokens(messages)).toBe(countChatTokens(messages));
    }
  });
});

describe("embeddings", () => {
  it("embeds deterministically at the requested dimensions, unit length, similar texts closer", async () => {
    const r = await client.embeddings.create({ model: "lab-embed-256", input: ["unpaid invoices by customer", "unpaid invoices per customer", "warehouse stock levels"] });
    expect(r.data.map((d) => d.embedding.length)).toEqual([256, 256, 256]);
    expect(r.usage.prompt_tokens).toBeGreaterThan(0);
    const [a, b, c] = r.data.map((d) => d.embedding);
    const dot = (x: number[], y: number[]) => x.reduce((s, v, i) => s + v * y[i], 0);
    expect(dot(a, a)).toBeCloseTo(1, 5);
    expect(dot(a, b)).toBeGreaterThan(dot(a, c));
    const again = await client.embeddings.create({ model: "lab-embed-256", input: "unpaid invoices by customer", encoding_format: "float" });
    expect(again.data[0].embedding.map((v) => v.toFixed(6))).toEqual(a.map((v) => v.toFixed(6)));
    const small = await client.embeddings.create({ model: "lab-embed-256", input: "x", dimensions: 32 });
    expect(small.data[0].embedding).toHaveLength(32);
  });

  it("refuses a chat model for embeddings", async () => {
    await expect(client.embeddings.create({ model: MODEL, input: "x" })).rejects.toMatchObject({ status: 400, param: "model" });
  });
});

describe("files", () => {
  it("uploads, lists, retrieves, reads and deletes a fine-tune file", async () => {
    const f = await client.files.create({ file: await toFile(new TextEncoder().encode(EXAMPLES), "train.jsonl"), purpose: "fine-tune" });
    expect(f).toMatchObject({ object: "file", filename: "train.jsonl", purpose: "fine-tune", bytes: new TextEncoder().encode(EXAMPLES).length, status: "processed" });
    expect((await client.files.list()).data.map((x) => x.id)).toContain(f.id);
    expect(await client.files.retrieve(f.id)).toEqual(f);
    expect(await (await client.files.content(f.id)).text()).toBe(EXAMPLES);
    expect(await client.files.delete(f.id)).toEqual({ id: f.id, object: "file", deleted: true });
    await expect(client.files.retrieve(f.id)).rejects.toMatchObject({ status: 404 });
  });

  it("refuses a malformed fine-tune file naming the bad line", async () => {
    const bad = `${EXAMPLES}{"messages": [{"role": "user", "content": "no answer"}]}\n`;
    const err = await client.files.create({ file: await toFile(new TextEncoder().encode(bad), "bad.jsonl"), purpose: "fine-tune" }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.message).toMatch(/line 3: the example has no assistant message/);
    const notJson = await client.files.create({ file: await toFile(new TextEncoder().encode("{oops\n"), "bad.jsonl"), purpose: "fine-tune" }).catch((e) => e);
    expect(notJson.message).toMatch(/line 1 is not valid JSON/);
  });
});

describe("fine-tuning jobs", () => {
  it("fails a job for a model without a trainer with a clear error, never pretending", async () => {
    const file = await client.files.create({ file: await toFile(new TextEncoder().encode(EXAMPLES), "train.jsonl"), purpose: "fine-tune" });
    const created = await client.fineTuning.jobs.create({ model: MODEL, training_file: file.id, suffix: "sql" });
    expect(created).toMatchObject({ object: "fine_tuning.job", status: "validating_files", model: MODEL, training_file: file.id, fine_tuned_model: null });
    const job = await waitForJob(client, created.id);
    expect(job).toMatchObject({ status: "failed", fine_tuned_model: null, error: { code: "no_trainer", message: `no trainer for this model: ${MODEL}` } });
    expect((await client.fineTuning.jobs.list()).data.map((j) => j.id)).toContain(job.id);
    const events = (await client.fineTuning.jobs.listEvents(job.id)).data.map((e) => e.message);
    expect(events[0]).toBe(`The job failed: no trainer for this model: ${MODEL}`);
    await expect(client.fineTuning.jobs.cancel(job.id)).rejects.toMatchObject({ status: 400 });
  });

  it("refuses a job whose training file does not exist", async () => {
    await expect(client.fineTuning.jobs.create({ model: MODEL, training_file: "file-nope" })).rejects.toMatchObject({ status: 400, param: "training_file" });
  });

  it("runs a fake trainer: loss events, succeeded, and the new model answers chat", async () => {
    const fake: Trainer = async (base, datasetPath, { suffix, onEvent }) => {
      expect(await Deno.readTextFile(datasetPath)).toBe(EXAMPLES);
      for (let step = 1; step <= 3; step++) onEvent({ level: "info", message: `Step ${step}/3`, data: { step, train_loss: 1 / step } });
      const id = `ft:${base}:lab:${suffix}`;
      return { model: id, backend: placeholderBackend({ id, ownedBy: "lab (fine-tuned placeholder)" }) };
    };
    await using ft = await startServer({ trainers: { [MODEL]: fake } });
    const c = new OpenAI({ baseURL: ft.url, apiKey: "local", maxRetries: 0 });
    const file = await c.files.create({ file: await toFile(new TextEncoder().encode(EXAMPLES), "train.jsonl"), purpose: "fine-tune" });
    const created = await c.fineTuning.jobs.create({ model: MODEL, training_file: file.id, suffix: "sql", hyperparameters: { n_epochs: 2 } });
    const job = await waitForJob(c, created.id);
    expect(job).toMatchObject({ status: "succeeded", fine_tuned_model: `ft:${MODEL}:lab:sql`, error: null, hyperparameters: { n_epochs: 2 } });
    const events = (await c.fineTuning.jobs.listEvents(job.id, { limit: 100 })).data.reverse();
    expect(events.filter((e) => e.type === "metrics").map((e) => e.data)).toEqual([1, 2, 3].map((step) => ({ step, train_loss: 1 / step })));
    expect(events.map((e) => e.message).at(-1)).toBe(`The job has successfully completed: ft:${MODEL}:lab:sql`);
    expect((await c.models.list()).data.map((m) => m.id)).toContain(`ft:${MODEL}:lab:sql`);
    const r = await c.chat.completions.create({ model: `ft:${MODEL}:lab:sql`, messages: [{ role: "user", content: "hi" }] });
    expect(r).toMatchObject({ model: `ft:${MODEL}:lab:sql`, choices: [{ finish_reason: "stop" }] });
  });

  it("cancels a running job; the trainer sees the abort", async () => {
    let aborted = false;
    const slow: Trainer = (_base, _path, { signal }) =>
      new Promise((_, reject) => signal?.addEventListener("abort", () => { aborted = true; reject(new Error("aborted")); }));
    await using ft = await startServer({ trainers: { [MODEL]: slow } });
    const c = new OpenAI({ baseURL: ft.url, apiKey: "local", maxRetries: 0 });
    const file = await c.files.create({ file: await toFile(new TextEncoder().encode(EXAMPLES), "train.jsonl"), purpose: "fine-tune" });
    const created = await c.fineTuning.jobs.create({ model: MODEL, training_file: file.id });
    for (let i = 0; i < 100 && (await c.fineTuning.jobs.retrieve(created.id)).status !== "running"; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await c.fineTuning.jobs.cancel(created.id)).toMatchObject({ status: "cancelled" });
    expect(await waitForJob(c, created.id)).toMatchObject({ status: "cancelled", fine_tuned_model: null });
    expect(aborted).toBe(true);
  });

  it("keeps files and finished jobs across restarts of the same data dir", async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "lab-serve-test-" });
    let jobId: string;
    {
      await using s = await startServer({ dataDir });
      const c = new OpenAI({ baseURL: s.url, apiKey: "local", maxRetries: 0 });
      const file = await c.files.create({ file: await toFile(new TextEncoder().encode(EXAMPLES), "train.jsonl"), purpose: "fine-tune" });
      jobId = (await waitForJob(c, (await c.fineTuning.jobs.create({ model: MODEL, training_file: file.id })).id)).id;
    }
    await using s2 = await startServer({ dataDir });
    const c2 = new OpenAI({ baseURL: s2.url, apiKey: "local", maxRetries: 0 });
    expect((await c2.files.list()).data).toHaveLength(1);
    expect(await c2.fineTuning.jobs.retrieve(jobId)).toMatchObject({ status: "failed" });
    await Deno.remove(dataDir, { recursive: true });
  });
});

describe("HTTP boundary", () => {
  it("requires the bearer token when one is set (401, OpenAI error shape)", async () => {
    await using s = await startServer({ token: "s3cret" });
    const wrong = new OpenAI({ baseURL: s.url, apiKey: "nope", maxRetries: 0 });
    const err = await wrong.models.list().catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err).toMatchObject({ status: 401, code: "invalid_api_key", type: "invalid_request_error" });
    const right = new OpenAI({ baseURL: s.url, apiKey: "s3cret", maxRetries: 0 });
    expect((await right.models.list()).data.length).toBeGreaterThan(0);
  });

  it("refuses a body over the size limit with 413", async () => {
    await using s = await startServer({ maxBodyBytes: 1000 });
    const c = new OpenAI({ baseURL: s.url, apiKey: "local", maxRetries: 0 });
    const err = await c.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "x".repeat(2000) }] }).catch((e) => e);
    expect(err).toMatchObject({ status: 413, code: "request_too_large" });
  });

  it("answers malformed JSON with 400, unknown routes with 404 and wrong methods with 405", async () => {
    const post = (path: string, body: string) => fetch(`${server.url}${path}`, { method: "POST", body, headers: { "content-type": "application/json" } });
    const bad = await post("/chat/completions", "{not json");
    expect([bad.status, (await bad.json()).error]).toEqual([400, expect.objectContaining({ type: "invalid_request_error", code: "invalid_json", param: null })]);
    const missing = await post("/chat/completions", JSON.stringify({ model: MODEL }));
    expect([missing.status, (await missing.json()).error.param]).toEqual([400, "messages"]);
    const unknown = await fetch(`${server.url}/assistants`);
    expect([unknown.status, (await unknown.json()).error.code]).toEqual([404, "unknown_url"]);
    const wrongMethod = await fetch(`${server.url}/chat/completions`);
    expect([wrongMethod.status, wrongMethod.headers.get("allow"), (await wrongMethod.json()).error.code]).toEqual([405, "POST", "method_not_allowed"]);
  });

  it("counts requests and the in-flight peak", async () => {
    await using s = await startServer({ faults: { latencyMs: 30 } });
    const c = new OpenAI({ baseURL: s.url, apiKey: "local", maxRetries: 0 });
    await Promise.all([1, 2, 3].map(() => c.models.list()));
    expect(s.stats()).toMatchObject({ requests: 3, inFlight: 0, maxInFlight: 3 });
  });
});
