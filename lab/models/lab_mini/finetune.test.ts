import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DuckDBInstance } from "@duckdb/node-api";
import type { ChatBackend } from "../backend.ts";
import type { TrainerEvent } from "../trainer.ts";
import { labMiniBackend, tunedBackend } from "./backend.ts";
import { fineTune, parseTuned, readChatJsonl, serializeTuned } from "./finetune.ts";
import { generateCorpus } from "./corpus.ts";
import { renderSql } from "./parser.ts";
import { normalise, prng } from "./_text.ts";
import type { LabMiniModel } from "./weights.ts";
import { chatLine, familyTasks, sqlAccuracy, tempFleet, UNUSABLE_CHAT_LINES } from "./testdata/fleet.ts";

let model: LabMiniModel;
let db: DuckDBInstance;
let close: (() => Promise<void>) | undefined;
const train = familyTasks(21, 30);
const held = familyTasks(77, 8);
const BAD = [
  "{not json",
  ...UNUSABLE_CHAT_LINES,
  JSON.stringify({ prompt: "old completion format", completion: "SELECT 1" }),
];

beforeAll(async () => {
  ({ model, db, close } = await tempFleet("lab-mini-ft-"));
}, 60_000);
afterAll(() => close?.());

const accuracy = (backend: ChatBackend, tasks: { task: string; sql: string }[]) => sqlAccuracy(backend, tasks, db);

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

  it("continues from a fine-tuned version: keeps its families, learns new ones, names its parent and leaves it unchanged", async () => {
    const asExamples = (ts: { task: string; sql: string }[]) => ts.map((t) => ({ task: t.task, calls: [{ tool: "dbRead" as const, sql: t.sql }] }));
    const first = ["multi", "joinsum", "joincount"];
    const stage1 = fineTune(model, asExamples(train.filter((t) => first.includes(t.family))), { seed: 1, epochs: 5, suffix: "core" });
    const frozen = serializeTuned(stage1);
    const later = asExamples(train.filter((t) => !first.includes(t.family)));
    const stage2 = fineTune(stage1, later, { seed: 1, epochs: 3, lr: 0.05, suffix: "extended" });
    const fromBase = fineTune(model, later, { seed: 1, epochs: 3, lr: 0.05, suffix: "extended" });
    expect(serializeTuned(stage1)).toBe(frozen);
    expect(stage2.parent).toEqual({ id: stage1.id, hash: stage1.hash });
    expect(stage2.recipe.parent).toBe(stage1.hash);
    expect(stage2.base).toBe(model);
    expect(stage2.head.templates.slice(0, stage1.head.templates.length).map((t) => t.calls)).toEqual(stage1.head.templates.map((t) => t.calls));
    // the parent is part of the content hash, and survives a round trip through the file format
    expect(parseTuned(serializeTuned(stage2))).toMatchObject({ id: stage2.id, hash: stage2.hash, parent: stage2.parent });
    const tasksOf = (fams: string[]) => held.filter((t) => fams.includes(t.family));
    const [kept, gained, forgot] = [
      await accuracy(tunedBackend(stage2), tasksOf(first)),
      await accuracy(tunedBackend(stage2), held.filter((t) => !first.includes(t.family))),
      await accuracy(tunedBackend(fromBase), tasksOf(first)),
    ];
    console.log(`stage 2 from stage 1: first families ${(kept * 100).toFixed(1)} %, new families ${(gained * 100).toFixed(1)} %; stage 2 from base: first families ${(forgot * 100).toFixed(1)} %`);
    expect(kept).toBeGreaterThanOrEqual(await accuracy(tunedBackend(stage1), tasksOf(first)) - 0.05);
    expect(gained).toBeGreaterThan(0.3);
    expect(forgot).toBe(0);
  }, 60_000);
});
