/**
 * The fine-tuning client's three API shapes against a recording fake `fetch` (no network): which requests each
 * sends for the same stage, how learning rates and "continue from the previous stage" are expressed, how provider
 * statuses map to the lab's, retries, and the one-line errors for a missing key or account.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { fineTuneClient, FineTuneHttpError } from "./mod.ts";

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-ft-client-" });
  file = join(dir, "core.jsonl");
  await Deno.writeTextFile(file, '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}\n');
});
afterAll(() => Deno.remove(dir, { recursive: true }));

interface Call {
  method: string;
  url: string;
  body: unknown;
}

/** A fake fetch answering by `METHOD path` (first match of a prefix), recording every request. */
function fake(answers: [string, unknown, number?][]) {
  const calls: Call[] = [];
  const f = ((input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    const method = init?.method ?? "GET";
    const body = init?.body instanceof FormData ? Object.fromEntries([...init.body.entries()].map(([k, v]) => [k, typeof v === "string" ? v : `<file ${(v as File).name}>`])) : init?.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, url, body });
    const hit = answers.find(([key]) => `${method} ${url}`.includes(key));
    if (!hit) return Promise.resolve(new Response(JSON.stringify({ error: { message: "not found" } }), { status: 404 }));
    return Promise.resolve(new Response(JSON.stringify(hit[1]), { status: hit[2] ?? 200 }));
  }) as typeof fetch;
  return { calls, fetch: f };
}

const stage = { model: "base-model", trainingFile: "FILE", epochs: 3, learningRate: 5e-6, suffix: "extended", seed: 7 };
const from = { model: "PREV-MODEL", jobId: "PREV-JOB" };

describe("fineTuneClient", () => {
  it("speaks OpenAI's shape: a multipart upload, the stage's lr as a multiplier of 1e-5, the previous model as the job's model", async () => {
    const { calls, fetch } = fake([
      ["POST http://x/v1/files", { id: "file-1" }],
      ["POST http://x/v1/fine_tuning/jobs", { id: "ftjob-1", status: "validating_files", model: "PREV-MODEL", training_file: "FILE", fine_tuned_model: null, error: null }],
      ["GET http://x/v1/fine_tuning/jobs/ftjob-1/events", { data: [{ id: "e2", created_at: 2, level: "info", message: "b", data: { step: 1, train_loss: 0.5 } }, { id: "e1", created_at: 1, level: "info", message: "a" }], has_more: false }],
    ]);
    const c = fineTuneClient("http://x/v1", { fetch });
    expect(c.provider).toBe("lab");
    expect(await c.upload(file, "run-core.jsonl")).toBe("file-1");
    expect(await c.createJob({ ...stage, from })).toMatchObject({ id: "ftjob-1", status: "validating_files", fineTunedModel: null });
    expect((await c.events("ftjob-1")).map((e) => e.message)).toEqual(["a", "b"]);
    expect(calls.slice(0, 2)).toEqual([
      { method: "POST", url: "http://x/v1/files", body: { purpose: "fine-tune", file: "<file run-core.jsonl>" } },
      {
        method: "POST",
        url: "http://x/v1/fine_tuning/jobs",
        body: { model: "PREV-MODEL", training_file: "FILE", suffix: "extended", seed: 7, method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 3, learning_rate_multiplier: 0.5 } } } },
      },
    ]);
  });

  it("speaks Together's shape: /files/upload, /fine-tunes with an absolute learning_rate and from_checkpoint; statuses mapped", async () => {
    const { calls, fetch } = fake([
      ["POST https://api.together.xyz/v1/files/upload", { id: "file-t" }],
      ["POST https://api.together.xyz/v1/fine-tunes", { id: "ft-1", status: "pending", model: "base-model", training_file: "FILE" }],
      ["GET https://api.together.xyz/v1/fine-tunes/ft-1", { id: "ft-1", status: "completed", model: "base-model", training_file: "FILE", output_name: "me/base-model-extended", token_count: 1200 }],
    ]);
    const c = fineTuneClient("together", { fetch, apiKey: "k" });
    expect(await c.upload(file)).toBe("file-t");
    expect(await c.createJob({ ...stage, from })).toMatchObject({ status: "queued" });
    expect(await c.retrieveJob("ft-1")).toMatchObject({ status: "succeeded", fineTunedModel: "me/base-model-extended", trainedTokens: 1200 });
    expect(calls.map((c) => c.body)).toEqual([
      { purpose: "fine-tune", file_name: "core.jsonl", file: "<file core.jsonl>" },
      { model: "base-model", training_file: "FILE", suffix: "extended", n_epochs: 3, learning_rate: 5e-6, from_checkpoint: "PREV-JOB" },
      undefined,
    ]);
  });

  it("speaks Fireworks' shape: a dataset then its upload, a supervised job warm-started from the previous model", async () => {
    const { calls, fetch } = fake([
      ["POST https://api.fireworks.ai/v1/accounts/acme/datasets/acme-run-core:upload", {}],
      ["POST https://api.fireworks.ai/v1/accounts/acme/datasets", { name: "accounts/acme/datasets/acme-run-core" }],
      ["POST https://api.fireworks.ai/v1/accounts/acme/supervisedFineTuningJobs", { name: "accounts/acme/supervisedFineTuningJobs/j1", state: "JOB_STATE_CREATING", dataset: "FILE" }],
      ["GET https://api.fireworks.ai/v1/accounts/acme/supervisedFineTuningJobs/j1", { name: "accounts/acme/supervisedFineTuningJobs/j1", state: "JOB_STATE_FAILED", dataset: "FILE", status: { code: "INVALID_ARGUMENT", message: "bad line 3" } }],
    ]);
    const c = fineTuneClient("fireworks", { fetch, apiKey: "k", account: "acme" });
    expect(await c.upload(file, "Acme_run.core.jsonl")).toBe("accounts/acme/datasets/acme-run-core");
    expect(await c.createJob({ ...stage, from })).toMatchObject({ id: "accounts/acme/supervisedFineTuningJobs/j1", status: "validating_files" });
    expect(await c.retrieveJob("accounts/acme/supervisedFineTuningJobs/j1")).toMatchObject({ status: "failed", error: "bad line 3" });
    expect(await c.events("accounts/acme/supervisedFineTuningJobs/j1")).toEqual([]);
    expect(calls.map((c) => [c.method, c.url.replace("https://api.fireworks.ai/v1", ""), c.body])).toEqual([
      ["POST", "/accounts/acme/datasets", { datasetId: "acme-run-core", dataset: { userUploaded: {} } }],
      ["POST", "/accounts/acme/datasets/acme-run-core:upload", { file: "<file Acme_run.core.jsonl>" }],
      ["POST", "/accounts/acme/supervisedFineTuningJobs", { dataset: "FILE", warmStartFrom: "PREV-MODEL", displayName: "extended", epochs: 3, learningRate: 5e-6 }],
      ["GET", "/accounts/acme/supervisedFineTuningJobs/j1", undefined],
    ]);
  });

  it("retries 429 and 5xx, then fails with the provider's message; a missing key or account names the variable to set", async () => {
    let n = 0;
    const flaky = (() => Promise.resolve(++n < 3 ? new Response("{}", { status: 503 }) : new Response(JSON.stringify({ id: "ftjob-9", status: "running", model: "m", training_file: "f" })))) as typeof fetch;
    expect(await fineTuneClient("http://x/v1", { fetch: flaky }).retrieveJob("ftjob-9")).toMatchObject({ status: "running" });
    expect(n).toBe(3);
    const { fetch } = fake([["GET http://x/v1/fine_tuning/jobs/nope", { error: { message: "Could not find fine-tuning job nope" } }, 404]]);
    const err = await fineTuneClient("http://x/v1", { fetch }).retrieveJob("nope").catch((e) => e);
    expect(err).toBeInstanceOf(FineTuneHttpError);
    expect(err.message).toBe("GET http://x/v1/fine_tuning/jobs/nope answered 404: Could not find fine-tuning job nope");
    const env = Deno.env.get("TOGETHER_API_KEY");
    Deno.env.delete("TOGETHER_API_KEY");
    try {
      expect(() => fineTuneClient("together")).toThrow("together fine-tuning needs an API key: export TOGETHER_API_KEY=<key>");
    } finally {
      if (env !== undefined) Deno.env.set("TOGETHER_API_KEY", env);
    }
    expect(() => fineTuneClient("fireworks", { apiKey: "k", account: "" })).toThrow(/needs an account id: export FIREWORKS_ACCOUNT_ID=<account>/);
    expect(() => fineTuneClient("anthropic")).toThrow(/unknown fine-tuning endpoint 'anthropic': use one of lab, openai, together, fireworks or a base URL/);
  });
});
