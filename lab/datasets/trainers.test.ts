import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import {
  createRedactor,
  datasetsConfig,
  exportForTrainer,
  formatRows,
  parseRows,
  prepareDataset,
  readManifest,
  renderExamples,
  sha256,
  STAGE_SCHEDULE,
  type TrainersManifest,
  type WireMessage,
  writeDatasets,
} from "./mod.ts";
import { CANARIES, example } from "./testing.ts";

const config = datasetsConfig({ redaction: { names: [CANARIES.listedName] } });

/** Three examples with every canary planted: two patterns and one episode trace (text beside a tool call). */
function fixtureExamples() {
  return [
    example({
      id: "pattern:1",
      task: `total revenue last month for ${CANARIES.email}`,
      calls: [{ tool: "dbRead", sql: `SELECT sum(total) FROM invoices WHERE note = '${CANARIES.iban}'`, summary: `1 row, ${CANARIES.phone}` }],
    }),
    example({
      id: "pattern:2",
      task: `open orders of ${CANARIES.name}`,
      calls: [
        { tool: "dbRead", sql: "SELECT count(*) FROM sales_orders", summary: `owner ${CANARIES.listedName}` },
        { tool: "dbRead", sql: `SELECT id FROM sales_orders WHERE k = '${CANARIES.apiKey}'` },
      ],
    }),
    example({
      id: "episode:r1/e3",
      source: "episode",
      task: "count invoices",
      messages: [
        { role: "system", content: "You are an ERP agent.\nYour role: cfo." },
        { role: "user", content: `count invoices; call ${CANARIES.usPhone}` },
        { role: "assistant", content: `Checking (${CANARIES.awsKey})`, toolCalls: [{ id: "c0", name: "dbRead", args: { sql: "SELECT count(*) AS n FROM invoices" } }] },
        { role: "tool", toolCallId: "c0", content: JSON.stringify({ ok: true, rows: [{ n: 42, user: CANARIES.userHash }] }) },
        { role: "user", content: "and submit it" },
        { role: "assistant", content: null, toolCalls: [{ id: "c1", name: "submitAnswer", args: { answer: 42 } }] },
        { role: "tool", toolCallId: "c1", content: JSON.stringify({ ok: true }) },
      ],
    }),
  ];
}

const lines = (text: string) => text.trimEnd().split("\n").map((l) => JSON.parse(l));

describe("exports for external trainers", () => {
  let dir: string, source: string, text: string, chatRows: { messages: WireMessage[]; tools: unknown[] }[];

  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-trainers-" });
    source = join(dir, "core.jsonl");
    const redactor = createRedactor({ names: config.redaction.names });
    const records = renderExamples(fixtureExamples(), { systemPrompt: config.system_prompt, redactor });
    const prepared = prepareDataset(source, "openai", formatRows("openai", records), {
      sources: null,
      excluded: null,
      heldOut: null,
      redactions: { ...redactor.counts(), total: Object.values(redactor.counts()).reduce((a, b) => a + b, 0) },
      stage: { name: "extended", target: 3, selected: 3, available: 3, minFitness: 0.85, levels: null, scaledDown: true, note: "" },
      rules: null,
      derivedFrom: null,
      lineage: records.map((r) => r.meta),
    });
    await writeDatasets([prepared]);
    text = await Deno.readTextFile(source);
    chatRows = parseRows(text, "openai").rows as typeof chatRows;
  });

  afterAll(async () => {
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  it("the fixture is a redacted three-line dataset", () => {
    expect(chatRows).toHaveLength(3);
    for (const c of Object.values(CANARIES)) expect(text).not.toContain(c);
  });

  it("writes Together JSONL: the same messages, content left out beside tool calls, the tools", async () => {
    const r = await exportForTrainer(source, "together");
    const out = join(dir, "core.trainers", "core.together.jsonl");
    expect(r.paths).toEqual([out, join(dir, "core.trainers", "trainers.manifest.json")]);
    const got = lines(await Deno.readTextFile(out));
    expect(got).toEqual(chatRows.map((row) => ({
      messages: row.messages.map((m) => {
        if (m.role !== "assistant" || !m.tool_calls || m.content) return m;
        const { content: _c, ...rest } = m;
        return rest;
      }),
      tools: row.tools,
    })));
    expect(got[0].messages[2]).toEqual({ role: "assistant", tool_calls: chatRows[0].messages[2].tool_calls });
    expect(Object.keys(got[0]).sort()).toEqual(["messages", "tools"]);
  });

  it("writes Fireworks JSONL: system/user/assistant strings, tool calls and results as text", async () => {
    await exportForTrainer(source, "fireworks");
    const got = lines(await Deno.readTextFile(join(dir, "core.trainers", "core.fireworks.jsonl")));
    expect(got).toHaveLength(3);
    const [s, u] = chatRows[2].messages;
    const call = (name: string, args: unknown) => `<tool_call>${JSON.stringify({ name, arguments: args })}</tool_call>`;
    const m = chatRows[2].messages;
    expect(got[2]).toEqual({
      messages: [
        { role: "system", content: s.content },
        { role: "user", content: u.content },
        { role: "assistant", content: `${m[2].content}\n${call("dbRead", { sql: "SELECT count(*) AS n FROM invoices" })}` },
        { role: "user", content: `<tool_response>${m[3].content}</tool_response>\nand submit it` },
        { role: "assistant", content: call("submitAnswer", { answer: 42 }) },
        { role: "user", content: `<tool_response>${m[6].content}</tool_response>` },
      ],
    });
    const pm = chatRows[1].messages;
    expect(got[1]).toEqual({
      messages: [
        { role: "system", content: pm[0].content },
        { role: "user", content: pm[1].content },
        { role: "assistant", content: call("dbRead", { sql: "SELECT count(*) FROM sales_orders" }) },
        { role: "user", content: `<tool_response>${pm[3].content}</tool_response>` },
        { role: "assistant", content: call("dbRead", JSON.parse(pm[4].tool_calls![0].function.arguments)) },
        { role: "user", content: `<tool_response>${pm[5].content}</tool_response>` },
      ],
    });
    for (const line of got) for (const msg of line.messages) expect(["system", "user", "assistant"]).toContain(msg.role);
  });

  it("writes an Axolotl config whose data path is the ShareGPT file beside it, with the stage's schedule", async () => {
    const r = await exportForTrainer(source, "axolotl", { lora: { r: 8 } });
    const folder = join(dir, "core.trainers");
    const yamlText = await Deno.readTextFile(join(folder, "axolotl.yaml"));
    expect(yamlText).toMatch(/^# Axolotl/);
    expect(yamlText).toContain("NOT TRAINED HERE: the lab runs offline, with no GPU and no internet");
    const cfg = parse(yamlText);
    expect(cfg).toEqual({
      base_model: "unsloth/Llama-3.2-1B-Instruct",
      chat_template: "tokenizer_default",
      adapter: "lora",
      lora_r: 8,
      lora_alpha: 32,
      lora_dropout: 0.05,
      lora_target_modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
      datasets: [{
        path: "core.sharegpt.jsonl",
        ds_type: "json",
        type: "chat_template",
        field_messages: "conversations",
        message_property_mappings: { role: "from", content: "value" },
        roles: { user: ["human"], assistant: ["gpt", "function_call"], tool: ["observation"] },
        roles_to_train: ["assistant"],
      }],
      dataset_prepared_path: "./prepared",
      val_set_size: 0,
      sequence_len: 4096,
      sample_packing: false,
      num_epochs: 3,
      learning_rate: 5e-6,
      lr_scheduler: "linear",
      warmup_ratio: 0.03,
      optimizer: "adamw_torch",
      micro_batch_size: 2,
      gradient_accumulation_steps: 4,
      gradient_checkpointing: true,
      bf16: "auto",
      seed: 42,
      output_dir: "./adapter",
    });
    expect(STAGE_SCHEDULE.extended).toEqual({ epochs: 3, learningRate: 5e-6 });
    const data = await Deno.readTextFile(join(folder, cfg.datasets[0].path));
    const { rows, problems } = parseRows(data, "sharegpt");
    expect(problems).toEqual([]);
    expect(rows).toHaveLength(chatRows.length);
    expect(rows[0]).toEqual({
      conversations: [
        { from: "human", value: chatRows[0].messages[1].content },
        { from: "function_call", value: JSON.stringify({ name: "dbRead", arguments: JSON.parse(chatRows[0].messages[2].tool_calls![0].function.arguments) }) },
      ],
      system: chatRows[0].messages[0].content,
      tools: JSON.stringify(chatRows[0].tools),
    });
    const dm = await readManifest(join(folder, "core.sharegpt.jsonl"));
    expect([dm.format, dm.rows, dm.derivedFrom, dm.sha256]).toEqual(["sharegpt", 3, { file: "core.jsonl", sha256: sha256(text) }, sha256(data)]);
    expect(r.entry.lora).toEqual({ r: 8, alpha: 32, dropout: 0.05, targetModules: cfg.lora_target_modules });
    for (const c of Object.values(CANARIES)) expect(data + yamlText).not.toContain(c);
  });

  it("writes an Unsloth script over Alpaca data, taking the stage given", async () => {
    const out = join(dir, "unsloth");
    const r = await exportForTrainer(source, "unsloth", { out, data: "alpaca", stage: "core" });
    const script = await Deno.readTextFile(join(out, "train_unsloth.py"));
    expect(script.split("\n").slice(0, 3)).toEqual([
      "# Unsloth LoRA training script for the lab's curated dataset.",
      `# Generated by \`lab dataset export-trainer\` from core.jsonl (sha256 ${sha256(text)}).`,
      "# NOT TRAINED HERE: the lab runs offline, with no GPU and no internet; run this on a machine with a GPU.",
    ]);
    const constant = (name: string) => new RegExp(`^${name} = (.+)$`, "m").exec(script)?.[1];
    expect({
      base: constant("BASE_MODEL"),
      data: constant("DATA"),
      format: constant("DATA_FORMAT"),
      epochs: constant("EPOCHS"),
      lr: Number(constant("LEARNING_RATE")),
      r: constant("LORA_R"),
      alpha: constant("LORA_ALPHA"),
      dropout: constant("LORA_DROPOUT"),
      modules: JSON.parse(constant("TARGET_MODULES")!),
    }).toEqual({
      base: '"unsloth/Llama-3.2-1B-Instruct"',
      data: 'HERE / "core.alpaca.jsonl"',
      format: '"alpaca"',
      epochs: "5",
      lr: 1e-5,
      r: "16",
      alpha: "32",
      dropout: "0.05",
      modules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    });
    expect([r.entry.stage, r.entry.stageFrom]).toEqual(["core", "option"]);
    const { rows, problems } = parseRows(await Deno.readTextFile(join(out, "core.alpaca.jsonl")), "alpaca");
    expect(problems).toEqual([]);
    expect(rows.map((x) => [x.instruction, x.system])).toEqual(chatRows.map((c) => [c.messages[1].content, c.messages[0].content]));
  });

  it("writes an Ollama Modelfile: FROM the base, ADAPTER ./adapter, template, system prompt, parameters", async () => {
    await exportForTrainer(source, "ollama", { base: { hf: "unsloth/Llama-3.2-3B-Instruct", ollama: "llama3.2:3b" } });
    const mf = await Deno.readTextFile(join(dir, "core.trainers", "Modelfile"));
    expect(mf).toContain("# NOT TRAINED HERE: the lab runs offline, with no GPU and no internet");
    const instructions = mf.split("\n").filter((l) => /^[A-Z]+ /.test(l));
    expect(instructions.filter((l) => !l.startsWith("TEMPLATE") && !l.startsWith("SYSTEM"))).toEqual([
      "FROM llama3.2:3b",
      "ADAPTER ./adapter",
      "PARAMETER temperature 0",
      "PARAMETER num_ctx 4096",
      'PARAMETER stop "<|eot_id|>"',
      'PARAMETER stop "<|start_header_id|>"',
    ]);
    // The patterns' system prompt is the most common one (two of three lines).
    expect(mf).toContain(`SYSTEM """${chatRows[0].messages[0].content}"""`);
    expect(mf).toMatch(/TEMPLATE """\{\{- if \.System \}\}<\|start_header_id\|>system/);
  });

  it("records every export of the folder in its manifest, with the source dataset's hash", async () => {
    const m = JSON.parse(await Deno.readTextFile(join(dir, "core.trainers", "trainers.manifest.json"))) as TrainersManifest;
    expect(m.schema).toBe("lab.trainer-exports/1");
    expect(m.source).toEqual({ file: "core.jsonl", sha256: sha256(text), rows: 3 });
    expect(m.note).toMatch(/^Cannot be trained here: the lab runs offline, with no GPU and no internet/);
    expect(Object.keys(m.exports).sort()).toEqual(["axolotl", "fireworks", "ollama", "together"]);
    for (const e of Object.values(m.exports)) {
      expect([e!.stage, e!.stageFrom, e!.epochs, e!.learningRate]).toEqual(["extended", "dataset", 3, 5e-6]);
      for (const f of e!.files) expect(sha256(await Deno.readTextFile(join(dir, "core.trainers", f.file)))).toBe(f.sha256);
    }
    expect(m.exports.together!.files).toEqual([expect.objectContaining({ file: "core.together.jsonl", rows: 3 })]);
  });

  it("refuses bad input in one line and writes nothing", async () => {
    const out = join(dir, "refused");
    await expect(exportForTrainer(source, "ollama", { out, base: { hf: "x", ollama: 'bad"name' } })).rejects.toThrow(
      /^base model ollama 'bad"name' may hold only/,
    );
    await expect(exportForTrainer(source, "nope" as "ollama", { out })).rejects.toThrow(/^trainer 'nope' is not one of together/);
    await expect(exportForTrainer(source, "axolotl", { out, lora: { dropout: 1 } })).rejects.toThrow(/^LoRA dropout must be in/);
    const tampered = join(dir, "tampered.jsonl");
    await Deno.writeTextFile(tampered, text.replace("invoices", "invoice"));
    await Deno.copyFile(join(dir, "core.manifest.json"), join(dir, "tampered.manifest.json"));
    await expect(exportForTrainer(tampered, "together", { out })).rejects.toThrow(/no longer has the sha256/);
    await expect(exportForTrainer(join(dir, "missing.jsonl"), "together", { out })).rejects.toThrow(/cannot read the dataset manifest/);
    expect(existsSync(out)).toBe(false);
  });
});
