import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI from "openai";
import type { DuckDBInstance } from "@duckdb/node-api";
import { join } from "node:path";
import type { ChatBackend, ChatRequest } from "../backend.ts";
import type { TrainerEvent } from "../trainer.ts";
import { labMiniBackend, loadLabMini, tunedBackend } from "./backend.ts";
import { fineTune, readChatJsonl } from "./finetune.ts";
import { labMiniTrainer } from "./trainer.ts";
import { generateCorpus } from "./corpus.ts";
import { renderSql } from "./parser.ts";
import { normalise, prng } from "./_text.ts";
import type { LabMiniModel } from "./weights.ts";
import { chatLine, familyTasks, fleet, run } from "./testdata/fleet.ts";
import { startServer } from "../../serve/mod.ts";

let dir: string;
let model: LabMiniModel;
let db: DuckDBInstance;
const TOOLS = ["dbRead", "submitAnswer"].map((name) => ({ type: "function" as const, function: { name, parameters: { type: "object", properties: {} } } }));
const train = familyTasks(21, 30);
const held = familyTasks(77, 8);
const BAD = [
  "{not json",
  JSON.stringify({ messages: [{ role: "user", content: "How many trips?" }, { role: "assistant", content: "I do not know." }] }),
  JSON.stringify({ messages: [{ role: "user", content: "How many trips?" }, { role: "assistant", content: null, tool_calls: [{ id: "x", type: "function", function: { name: "dbRead", arguments: "{oops" } }] }] }),
  JSON.stringify({ prompt: "old completion format", completion: "SELECT 1" }),
];

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-mini-ft-" });
  ({ model, db } = await fleet(dir));
}, 60_000);

afterAll(async () => {
  db?.closeSync();
  await Deno.remove(dir, { recursive: true });
});

async function accuracy(backend: ChatBackend, tasks: { task: string; sql: string }[]): Promise<number> {
  let ok = 0;
  for (const t of tasks) {
    const req: ChatRequest = { model: backend.id, messages: [{ role: "system", content: "You answer with SQL." }, { role: "user", content: t.task }], tools: TOOLS, seed: 1 };
    const sql = JSON.parse((await backend.complete(req)).choices[0].message.tool_calls![0].function.arguments).sql;
    const got = await run(db, sql);
    if (got !== undefined && got === await run(db, t.sql)) ok++;
  }
  return ok / tasks.length;
}

const generic = () =>
  generateCorpus(model.meta, { seed: 4321, perRelation: 20 }).map((e) => {
    const n = normalise(e.question);
    return { task: e.question, sql: renderSql({ ...e.plan, periods: n.periods, n: n.n }) };
  });

describe("lab-mini fine-tuning", () => {
  it("learns the families of its training file: held-out tasks with other parameters are solved, base ones are not hurt", async () => {
    const events: TrainerEvent[] = [];
    const read = readChatJsonl([...train.map(chatLine), ...BAD].join("\n"));
    expect(read.examples.length).toBe(train.length);
    expect(read.total).toBe(train.length + BAD.length);
    expect(Object.values(read.dropped).reduce((a, b) => a + b, 0)).toBe(BAD.length);
    expect(Object.keys(read.dropped).sort()).toEqual(["invalid JSON", "no dbRead/dbWrite tool call", "no messages array of {role, content}", "tool call arguments without an sql string"]);
    const tuned = fineTune(model, read.examples, { seed: 1, epochs: 3, batchSize: 8, validation: held.map((t) => ({ task: t.task, calls: [{ tool: "dbRead", sql: t.sql }] })), read, onEvent: (e) => events.push(e) });
    const steps = events.filter((e) => e.data && !("valid_loss" in e.data)).map((e) => e.data!.train_loss);
    expect(steps.length).toBeGreaterThan(10);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(steps.slice(-5))).toBeLessThan(mean(steps.slice(0, 5)) / 2);
    expect(events.some((e) => typeof e.data?.valid_loss === "number")).toBe(true);
    expect(tuned.id).toMatch(/^ft:lab-mini:lab:[0-9a-f]{12}$/);
    expect(tuned.recipe).toMatchObject({ examples: train.length + BAD.length, used: train.length });
    const base = await accuracy(labMiniBackend(model), held);
    const ft = await accuracy(tunedBackend(tuned), held);
    const gBase = await accuracy(labMiniBackend(model), generic());
    const gFt = await accuracy(tunedBackend(tuned), generic());
    console.log(`fine-tuning on ${train.length} examples: held-out family tasks base ${(base * 100).toFixed(1)} % → fine-tuned ${(ft * 100).toFixed(1)} %; generic questions ${(gBase * 100).toFixed(1)} % → ${(gFt * 100).toFixed(1)} %`);
    expect(ft - base).toBeGreaterThanOrEqual(0.5);
    expect(gFt).toBeGreaterThanOrEqual(gBase - 0.03);
    // deterministic for a seed
    expect(fineTune(model, read.examples, { seed: 1, epochs: 3, batchSize: 8, read }).hash).toBe(fineTune(model, read.examples, { seed: 1, epochs: 3, batchSize: 8, read }).hash);
    expect(fineTune(model, read.examples, { seed: 2, epochs: 3, batchSize: 8, read }).hash).not.toBe(tuned.hash);
  }, 60_000);

  it("gains nothing from shuffled answers (SQL shuffled across the examples)", async () => {
    const rand = prng(9);
    const sqls = train.map((t) => t.sql);
    for (let i = sqls.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [sqls[i], sqls[j]] = [sqls[j], sqls[i]];
    }
    const shuffled = fineTune(model, train.map((t, i) => ({ task: t.task, calls: [{ tool: "dbRead" as const, sql: sqls[i] }] })), { seed: 1 });
    const base = await accuracy(labMiniBackend(model), held);
    const sh = await accuracy(tunedBackend(shuffled), held);
    console.log(`shuffled-answers control: base ${(base * 100).toFixed(1)} %, fine-tuned on shuffled SQL ${(sh * 100).toFixed(1)} %`);
    expect(sh - base).toBeLessThanOrEqual(0.1);
  }, 60_000);

  it("runs as the server's trainer: a job through the openai SDK succeeds, events carry train_loss, the new model answers", async () => {
    const outDir = join(dir, "ft");
    await using server = await startServer({
      trainers: { "lab-mini": labMiniTrainer(model, { outDir }) },
      backends: { "lab-mini": labMiniBackend(model) },
      dataDir: join(dir, "serve"),
    });
    const client = new OpenAI({ baseURL: server.url, apiKey: "local" });
    // the server refuses unparsable lines at upload; the trainer counts what it cannot use among the rest
    const file = await client.files.create({ file: new File([[...train.map(chatLine), BAD[1], BAD[2]].join("\n")], "train.jsonl"), purpose: "fine-tune" });
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
    const r = await client.chat.completions.create({ model: job.fine_tuned_model!, messages: [{ role: "user", content: t.task }], tools: TOOLS, seed: 1 });
    const call = r.choices[0].message.tool_calls?.[0];
    expect(call?.type === "function" && JSON.parse(call.function.arguments).sql).toBe(t.sql);
    // the written weights version loads and serves the same model
    const path = join(outDir, `${job.fine_tuned_model!.replaceAll(":", "_")}.json`);
    const loaded = await loadLabMini(path);
    expect(loaded.id).toBe(job.fine_tuned_model);
    expect(await accuracy(loaded, held)).toBeGreaterThan(0.5);
  }, 60_000);
});
