/**
 * `lab dataset export-trainer` in process on a small built dataset: what it writes and prints, `--help`, and
 * one-line errors with a non-zero exit (and nothing written) for bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  createRedactor,
  datasetsConfig,
  formatRows,
  prepareDataset,
  renderExamples,
  type TrainersManifest,
  writeDatasets,
} from "../datasets/mod.ts";
import { example } from "../datasets/testing.ts";
import { lab } from "./testing.ts";

describe("lab dataset export-trainer", () => {
  let dir: string, source: string;

  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-trainer-cli-" });
    source = join(dir, "train.jsonl");
    const config = datasetsConfig();
    const redactor = createRedactor();
    const records = renderExamples(["a", "b", "c"].map((id) => example({ id: `pattern:${id}`, task: `task ${id}` })), {
      systemPrompt: config.system_prompt,
      redactor,
    });
    await writeDatasets([prepareDataset(source, "openai", formatRows("openai", records), {
      sources: null,
      excluded: null,
      heldOut: null,
      redactions: { ...redactor.counts(), total: 0 },
      stage: null,
      rules: null,
      derivedFrom: null,
      lineage: records.map((r) => r.meta),
    })]);
  });

  afterAll(async () => {
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  it("writes each trainer's files into one folder and records them", async () => {
    for (const trainer of ["together", "fireworks", "axolotl", "unsloth", "ollama"]) {
      const r = await lab("dataset", "export-trainer", source, "--trainer", trainer, "--json");
      expect([r.code, r.err]).toEqual([0, ""]);
      expect(JSON.parse(r.out).entry).toMatchObject({ stage: "core", stageFrom: "default", epochs: 5, learningRate: 1e-5 });
    }
    const folder = join(dir, "train.trainers");
    const files = [...Deno.readDirSync(folder)].map((e) => e.name).sort();
    expect(files).toEqual([
      "Modelfile",
      "axolotl.yaml",
      "train.fireworks.jsonl",
      "train.sharegpt.jsonl",
      "train.sharegpt.manifest.json",
      "train.together.jsonl",
      "train_unsloth.py",
      "trainers.manifest.json",
    ]);
    const m = JSON.parse(await Deno.readTextFile(join(folder, "trainers.manifest.json"))) as TrainersManifest;
    expect(Object.keys(m.exports).sort()).toEqual(["axolotl", "fireworks", "ollama", "together", "unsloth"]);
    const text = await lab("dataset", "export-trainer", source, "--trainer", "ollama", "--stage", "comprehensive");
    expect(text.out.split("\n").slice(-2)).toEqual([
      "stage comprehensive (option): 1 epoch at lr 0.000001; base llama3.2:1b",
      "not trained here: the lab runs offline, with no GPU and no internet",
    ]);
  });

  it("has --help", async () => {
    const r = await lab("dataset", "export-trainer", "--help");
    expect(r.code).toBe(0);
    expect(r.out).toContain("--trainer");
  });

  it("refuses bad input in one line, exits non-zero and writes nothing", async () => {
    const out = join(dir, "refused");
    const cases: [string[], number, RegExp][] = [
      [[source, "--out", out], 2, /--trainer is required/],
      [[source, "--trainer", "llamafactory", "--out", out], 2, /--trainer must be one of together, fireworks/],
      [[source, "--trainer", "axolotl", "--stage", "huge", "--out", out], 2, /--stage must be one of core/],
      [[source, "--trainer", "axolotl", "--lora-r", "x", "--out", out], 2, /--lora-r must be a number/],
      [[source, "--trainer", "axolotl", "--lora-r", "0", "--out", out], 1, /LoRA r must be a positive integer/],
      [[source, "--trainer", "ollama", "--ollama-base", "a b", "--out", out], 1, /base model ollama 'a b'/],
      [[join(dir, "none.jsonl"), "--trainer", "together", "--out", out], 2, /no file at/],
    ];
    for (const [argv, code, message] of cases) {
      const r = await lab("dataset", "export-trainer", ...argv);
      expect(r.code, argv.join(" ")).toBe(code);
      expect(r.err.split("\n")).toHaveLength(1);
      expect(r.err).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
  });
});
