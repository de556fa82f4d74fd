/**
 * lab-mini behind the local server, on a toy vehicle-fleet schema unrelated to the ERP sandbox: it answers chat
 * through the openai SDK, and, as the server's trainer, a fine-tuning job created through the SDK succeeds and
 * the new model answers at once.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import type { DuckDBInstance } from "@duckdb/node-api";
import { join } from "node:path";
import { labMiniBackend, type LabMiniModel, labMiniTrainer, loadLabMini, saveModel } from "../models/mod.ts";
import { chatLine, familyTasks, sqlAccuracy, SQL_TOOLS, tempFleet, toolDefs, UNUSABLE_CHAT_LINES } from "../models/testing.ts";
import { startServer } from "../serve/mod.ts";

let dir: string;
let model: LabMiniModel;
let db: DuckDBInstance;
let close: (() => Promise<void>) | undefined;
const SIX_TOOLS = toolDefs("dbRead", "dbWrite", "schemaInfo", "viewsList", "todoList", "submitAnswer");
const train = familyTasks(21, 30);
const held = familyTasks(77, 8);

beforeAll(async () => {
  ({ dir, model, db, close } = await tempFleet("lab-mini-served-"));
}, 60_000);
afterAll(() => close?.());

describe("lab-mini behind the local server", () => {
  it("is served behind the OpenAI API and answers through the openai SDK", async () => {
    const file = join(dir, "served.json");
    await saveModel(model, file);
    await using server = await startServer({ backends: { "lab-mini": await loadLabMini(file) }, dataDir: join(dir, "serve-chat") });
    const client = new OpenAI({ baseURL: server.url, apiKey: "local" });
    const r = await client.chat.completions.create({
      model: "lab-mini",
      messages: [{ role: "user", content: "How many vehicles are there?" }],
      tools: SIX_TOOLS,
      seed: 1,
    });
    const call = r.choices[0].message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("dbRead");
    expect(call?.type === "function" && JSON.parse(call.function.arguments).sql).toBe('SELECT count(*) AS value FROM "vehicles"');
    expect(r.usage?.prompt_tokens).toBeGreaterThan(0);
  });

  it("runs as the server's trainer: a job through the openai SDK succeeds, events carry train_loss, the new model answers", async () => {
    const outDir = join(dir, "ft");
    await using server = await startServer({
      trainers: { "lab-mini": labMiniTrainer(model, { outDir }) },
      backends: { "lab-mini": labMiniBackend(model) },
      dataDir: join(dir, "serve-ft"),
    });
    const client = new OpenAI({ baseURL: server.url, apiKey: "local" });
    // the server refuses unparsable lines at upload; the trainer counts what it cannot use among the rest
    const file = await client.files.create({ file: new File([[...train.map(chatLine), ...UNUSABLE_CHAT_LINES].join("\n")], "train.jsonl"), purpose: "fine-tune" });
    const vfile = await client.files.create({ file: new File([held.map(chatLine).join("\n")], "valid.jsonl"), purpose: "fine-tune" });
    let job = await client.fineTuning.jobs.create({ model: "lab-mini", training_file: file.id, validation_file: vfile.id, suffix: "fleet", seed: 3, hyperparameters: { n_epochs: 3, batch_size: 8 } });
    for (let i = 0; i < 200 && !["succeeded", "failed", "cancelled"].includes(job.status); i++) {
      await new Promise((r) => setTimeout(r, 50));
      job = await client.fineTuning.jobs.retrieve(job.id);
    }
    expect(job.error).toBeNull();
    expect(job.status).toBe("succeeded");
    expect(job.fine_tuned_model).toMatch(/^ft:lab-mini:fleet:[0-9a-f]{12}$/);
    const events = (await client.fineTuning.jobs.listEvents(job.id, { limit: 1000 })).data;
    expect(events.filter((e) => typeof (e.data as { train_loss?: number } | undefined)?.train_loss === "number").length).toBeGreaterThan(5);
    expect(events.some((e) => typeof (e.data as { valid_loss?: number } | undefined)?.valid_loss === "number")).toBe(true);
    expect(events.some((e) => /usable examples: 150 of 152 .*dropped/.test(e.message))).toBe(true);
    const t = held.find((h) => h.family === "multi")!;
    const r = await client.chat.completions.create({ model: job.fine_tuned_model!, messages: [{ role: "user", content: t.task }], tools: SQL_TOOLS, seed: 1 });
    const call = r.choices[0].message.tool_calls?.[0];
    expect(call?.type === "function" && JSON.parse(call.function.arguments).sql).toBe(t.sql);
    // the written weights version loads and serves the same model
    const path = join(outDir, `${job.fine_tuned_model!.replaceAll(":", "_")}.json`);
    const loaded = await loadLabMini(path);
    expect(loaded.id).toBe(job.fine_tuned_model);
    expect(await sqlAccuracy(loaded, held, db)).toBeGreaterThan(0.5);
  }, 60_000);
});
