/**
 * Exports of a built dataset for external trainers. None of them can be trained here: the lab runs offline, with
 * no GPU and no internet. They are files to carry to a machine or a provider that can.
 *
 * | trainer | writes | notes |
 * |---|---|---|
 * | `together` | `train.together.jsonl`: `{messages, tools}` | Together's conversational format with its function-calling extension: assistant messages carry `tool_calls` instead of `content` (the key is left out, not `null`), results are `tool` messages, `tools` lists the schemas. Only `messages` and `tools` are kept (Together rejects a line that fits two formats). Function-calling fine-tuning is offered for some bases only (Qwen 2.5/3, Llama 3.x and others on Together's list). |
 * | `fireworks` | `train.fireworks.jsonl`: `{messages}` | Fireworks' documented SFT schema: roles `system`, `user`, `assistant` with string `content`, system first, at least 3 examples. Tool calls become Hermes-style `<tool_call>` text in the assistant's message and results `<tool_response>` text in a user message (consecutive results joined), so the file needs no tool support. |
 * | `axolotl` | `axolotl.yaml` and ShareGPT (or Alpaca) data | LoRA config: base model, r/alpha/dropout/target modules, epochs and learning rate of seed 000's stage; ShareGPT through `type: chat_template` (roles mapped from LLaMA-Factory's), Alpaca through `type: alpaca`. Axolotl's loaders read neither data file's `system` column. The adapter goes to `./adapter`. |
 * | `unsloth` | `train_unsloth.py` and ShareGPT (or Alpaca) data | A script (Unsloth + TRL's SFTTrainer) with the same settings; it renders each row, system prompt included, through the base model's chat template and saves the adapter to `./adapter`. |
 * | `ollama` | `Modelfile` | `FROM <base>`, `ADAPTER ./adapter` (the folder the two trainers above write), the base's chat template, the dataset's system prompt and parameters. Ollama loads safetensors LoRA adapters of Llama, Mistral and Gemma bases, so the default base is Llama 3.2 1B. |
 *
 * Every export goes to one folder (default `<set>.trainers/` beside the dataset), each file written atomically,
 * and records itself in that folder's `trainers.manifest.json`: the source dataset's file and sha256, the stage
 * and settings, and every file's sha256. Everything is rendered before the first file is written.
 * @module
 */
import { basename, dirname, join } from "node:path";
import { stringify } from "yaml";
import { ConfigError, writeTextAtomic } from "../util/mod.ts";
import { STAGES, type StageName } from "./curate.ts";
import type { WireMessage } from "./example.ts";
import { formatRows, recordsFromChatRows, type TrainingRecord } from "./formats.ts";
import { type DatasetManifest, derivedInput, manifestPath, prepareDataset, sha256 } from "./manifest.ts";
import { datasetFileName, readExportable } from "./build.ts";

/** The external trainers. */
export const TRAINERS = ["together", "fireworks", "axolotl", "unsloth", "ollama"] as const;
/** An external trainer. */
export type Trainer = (typeof TRAINERS)[number];

/** Epochs and learning rate of one of seed 000's stages. */
export interface StageSchedule {
  epochs: number;
  learningRate: number;
}

/** Seed 000's progressive stages: core 5 epochs at 1e-5, extended 3 at 5e-6, comprehensive 1 at 1e-6. */
export const STAGE_SCHEDULE: Readonly<Record<StageName, StageSchedule>> = {
  core: { epochs: 5, learningRate: 1e-5 },
  extended: { epochs: 3, learningRate: 5e-6 },
  comprehensive: { epochs: 1, learningRate: 1e-6 },
};

/** LoRA settings of the Axolotl and Unsloth exports. */
export interface LoraSettings {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: string[];
}

/** r 16, alpha 32, dropout 0.05, every attention and MLP projection (Llama/Qwen/Mistral module names). */
export const DEFAULT_LORA: Readonly<LoraSettings> = {
  r: 16,
  alpha: 32,
  dropout: 0.05,
  targetModules: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
};

/** The base model under its Hugging Face id (Axolotl, Unsloth) and its Ollama name (the Modelfile's FROM). */
export interface BaseModel {
  hf: string;
  ollama: string;
}

/** Llama 3.2 1B Instruct: small, and an architecture whose LoRA adapters Ollama loads. */
export const DEFAULT_BASE: Readonly<BaseModel> = { hf: "unsloth/Llama-3.2-1B-Instruct", ollama: "llama3.2:1b" };

/** The training data format of the Axolotl and Unsloth exports. */
export type TrainerData = "sharegpt" | "alpaca";

/** Options of {@linkcode exportForTrainer}. */
export interface TrainerExportOptions {
  /** The folder to write. @default `<set>.trainers/` beside the dataset */
  out?: string;
  base?: BaseModel;
  /** The stage whose schedule applies. @default the dataset's own stage, else core */
  stage?: StageName;
  lora?: Partial<LoraSettings>;
  /** Data written beside the Axolotl and Unsloth configs. @default "sharegpt" */
  data?: TrainerData;
  /** The context length of the configs and the Modelfile. @default 4096 */
  maxSeqLength?: number;
}

/** One written file of an export. */
export interface TrainerFile {
  file: string;
  sha256: string;
  bytes: number;
  /** Lines of a data file (null: a config). */
  rows: number | null;
}

/** An export's entry in `trainers.manifest.json`. */
export interface TrainerExportEntry {
  createdAt: string;
  stage: StageName;
  /** Where the stage came from: the dataset's manifest, the caller, or the default. */
  stageFrom: "dataset" | "option" | "default";
  epochs: number;
  learningRate: number;
  base: BaseModel;
  lora: LoraSettings | null;
  data: TrainerData | null;
  files: TrainerFile[];
}

/** The schema id of `trainers.manifest.json`. */
export const TRAINERS_MANIFEST_SCHEMA = "lab.trainer-exports/1";

/** `trainers.manifest.json`: the source dataset and one entry per trainer exported into the folder. */
export interface TrainersManifest {
  schema: typeof TRAINERS_MANIFEST_SCHEMA;
  source: { file: string; sha256: string; rows: number };
  note: string;
  exports: Partial<Record<Trainer, TrainerExportEntry>>;
}

/** What {@linkcode exportForTrainer} wrote. */
export interface TrainerExport {
  trainer: Trainer;
  dir: string;
  /** Paths written, data first, the manifest last. */
  paths: string[];
  manifestPath: string;
  entry: TrainerExportEntry;
}

/** The file name of the export manifest inside an export folder. */
export const TRAINERS_MANIFEST_FILE = "trainers.manifest.json";

const OFFLINE_NOTE =
  "Cannot be trained here: the lab runs offline, with no GPU and no internet. Carry this folder to a machine with a GPU (Axolotl, Unsloth, then Ollama) or upload the JSONL to the provider (Together, Fireworks).";

/** Comment lines of a generated file's header (`#` in YAML, Python and Modelfiles). */
function header(title: string, source: { file: string; sha256: string }, extra: string[] = []): string {
  return [
    `# ${title}`,
    `# Generated by \`lab dataset export-trainer\` from ${source.file} (sha256 ${source.sha256}).`,
    "# NOT TRAINED HERE: the lab runs offline, with no GPU and no internet; run this on a machine with a GPU.",
    ...extra.map((l) => `# ${l}`),
    "",
  ].join("\n");
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._\-/:]*$/;

function checkOptions(options: TrainerExportOptions): void {
  const base = options.base ?? DEFAULT_BASE;
  for (const [k, v] of Object.entries(base)) {
    if (!SAFE_NAME.test(v)) throw new ConfigError(`base model ${k} '${v}' may hold only letters, digits and . _ - / :`);
  }
  if (options.stage !== undefined && !STAGES.includes(options.stage)) {
    throw new ConfigError(`stage '${options.stage}' is not one of ${STAGES.join(", ")}`);
  }
  const lora = { ...DEFAULT_LORA, ...options.lora };
  if (!Number.isInteger(lora.r) || lora.r < 1) throw new ConfigError(`LoRA r must be a positive integer, found ${lora.r}`);
  if (!(lora.alpha > 0)) throw new ConfigError(`LoRA alpha must be > 0, found ${lora.alpha}`);
  if (!(lora.dropout >= 0 && lora.dropout < 1)) throw new ConfigError(`LoRA dropout must be in [0, 1), found ${lora.dropout}`);
  if (!lora.targetModules.length || lora.targetModules.some((m) => !/^[A-Za-z0-9_.]+$/.test(m))) {
    throw new ConfigError(`LoRA target modules must be non-empty module names, found '${lora.targetModules.join(",")}'`);
  }
  const n = options.maxSeqLength ?? 4096;
  if (!Number.isInteger(n) || n < 128) throw new ConfigError(`max sequence length must be an integer ≥ 128, found ${n}`);
}

/** Together's row: OpenAI messages with `content` left out beside `tool_calls` when empty, and the tools. */
export function togetherRow(messages: readonly WireMessage[], tools: readonly unknown[]): Record<string, unknown> {
  return {
    messages: messages.map((m) => {
      if (m.role === "assistant" && m.tool_calls?.length && !m.content) {
        const { content: _content, ...rest } = m;
        return rest;
      }
      return m;
    }),
    tools,
  };
}

function parseArgs(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}

/**
 * Fireworks' row: system, user and assistant messages with string content. An assistant's tool calls follow its
 * text as `<tool_call>{"name", "arguments"}</tool_call>` lines; tool results become one user message of
 * `<tool_response>` blocks; a user message right after results joins that message (roles keep alternating).
 */
export function fireworksRow(messages: readonly WireMessage[]): { messages: { role: string; content: string }[] } {
  const out: { role: string; content: string }[] = [];
  const push = (role: string, content: string) => {
    const last = out.at(-1);
    if (last && last.role === role && role !== "system") last.content += `\n${content}`;
    else out.push({ role, content });
  };
  for (const m of messages) {
    if (m.role === "assistant") {
      const parts = m.content ? [m.content] : [];
      for (const c of m.tool_calls ?? []) {
        parts.push(`<tool_call>${JSON.stringify({ name: c.function.name, arguments: parseArgs(c.function.arguments) })}</tool_call>`);
      }
      push("assistant", parts.join("\n"));
    } else if (m.role === "tool") push("user", `<tool_response>${m.content ?? ""}</tool_response>`);
    else push(m.role, m.content ?? "");
  }
  return { messages: out };
}

/** The most frequent system prompt of the records (the first one on a tie; empty without any). */
function commonSystemPrompt(records: readonly TrainingRecord[]): string {
  const counts = new Map<string, number>();
  for (const r of records) {
    const s = r.messages.find((m) => m.role === "system")?.content;
    if (s) counts.set(s, (counts.get(s) ?? 0) + 1);
  }
  let best = "", n = 0;
  for (const [s, c] of counts) if (c > n) [best, n] = [s, c];
  return best;
}

/** An export rendered, not written: files, dataset manifests of lab-format data files, the manifest entry. */
export interface RenderedTrainerExport {
  files: { name: string; text: string; rows: number | null }[];
  /** Dataset manifests of data files in a lab format (sharegpt, alpaca): written beside them. */
  datasets: { name: string; manifest: DatasetManifest }[];
  entry: Omit<TrainerExportEntry, "files" | "createdAt">;
}

/** The Axolotl config as YAML. */
function axolotlYaml(s: Settings, dataFile: string): string {
  const dataset = s.data === "alpaca" ? { path: dataFile, ds_type: "json", type: "alpaca" } : {
    path: dataFile,
    ds_type: "json",
    type: "chat_template",
    field_messages: "conversations",
    message_property_mappings: { role: "from", content: "value" },
    roles: { user: ["human"], assistant: ["gpt", "function_call"], tool: ["observation"] },
    roles_to_train: ["assistant"],
  };
  const config = {
    base_model: s.base.hf,
    chat_template: "tokenizer_default",
    adapter: "lora",
    lora_r: s.lora.r,
    lora_alpha: s.lora.alpha,
    lora_dropout: s.lora.dropout,
    lora_target_modules: s.lora.targetModules,
    datasets: [dataset],
    dataset_prepared_path: "./prepared",
    val_set_size: 0,
    sequence_len: s.maxSeqLength,
    sample_packing: false,
    num_epochs: s.schedule.epochs,
    learning_rate: s.schedule.learningRate,
    lr_scheduler: "linear",
    warmup_ratio: 0.03,
    optimizer: "adamw_torch",
    micro_batch_size: 2,
    gradient_accumulation_steps: 4,
    gradient_checkpointing: true,
    bf16: "auto",
    seed: 42,
    output_dir: "./adapter",
  };
  return header("Axolotl LoRA config for the lab's curated dataset.", s.source, [
    `Stage ${s.stage}: ${s.schedule.epochs} epochs at learning rate ${s.schedule.learningRate} (seed 000's schedule).`,
    "Run from this folder: `axolotl train axolotl.yaml`; the adapter lands in ./adapter (see Modelfile for Ollama).",
    "Axolotl's loaders do not read the data's `system` column; train_unsloth.py does.",
  ]) + stringify(config);
}

const py = (v: unknown) => JSON.stringify(v);

/** The Unsloth training script. */
function unslothPy(s: Settings, dataFile: string): string {
  return header("Unsloth LoRA training script for the lab's curated dataset.", s.source, [
    `Stage ${s.stage}: ${s.schedule.epochs} epochs at learning rate ${s.schedule.learningRate} (seed 000's schedule).`,
    "Needs a CUDA GPU: pip install unsloth trl datasets; python train_unsloth.py. The adapter lands in ./adapter.",
  ]) + `import pathlib

from datasets import load_dataset
from trl import SFTConfig, SFTTrainer
from unsloth import FastLanguageModel

HERE = pathlib.Path(__file__).resolve().parent
BASE_MODEL = ${py(s.base.hf)}
DATA = HERE / ${py(dataFile)}
DATA_FORMAT = ${py(s.data)}
EPOCHS = ${s.schedule.epochs}
LEARNING_RATE = ${s.schedule.learningRate}
LORA_R = ${s.lora.r}
LORA_ALPHA = ${s.lora.alpha}
LORA_DROPOUT = ${s.lora.dropout}
TARGET_MODULES = ${py(s.lora.targetModules)}
MAX_SEQ_LENGTH = ${s.maxSeqLength}

model, tokenizer = FastLanguageModel.from_pretrained(model_name=BASE_MODEL, max_seq_length=MAX_SEQ_LENGTH, load_in_4bit=True)
model = FastLanguageModel.get_peft_model(
    model,
    r=LORA_R,
    lora_alpha=LORA_ALPHA,
    lora_dropout=LORA_DROPOUT,
    target_modules=TARGET_MODULES,
    bias="none",
    use_gradient_checkpointing="unsloth",
    random_state=42,
)

# ShareGPT turns (LLaMA-Factory roles) as chat messages; tool calls and results as Hermes-style text.
ROLES = {"human": "user", "gpt": "assistant", "function_call": "assistant", "observation": "user"}
WRAP = {"function_call": "<tool_call>{}</tool_call>", "observation": "<tool_response>{}</tool_response>"}


def messages_of(row):
    messages = [{"role": "system", "content": row["system"]}] if row.get("system") else []
    if DATA_FORMAT == "alpaca":
        return messages + [{"role": "user", "content": row["instruction"]}, {"role": "assistant", "content": row["output"]}]
    for turn in row["conversations"]:
        content = WRAP.get(turn["from"], "{}").format(turn["value"])
        messages.append({"role": ROLES[turn["from"]], "content": content})
    return messages


def to_text(row):
    return {"text": tokenizer.apply_chat_template(messages_of(row), tokenize=False)}


dataset = load_dataset("json", data_files=str(DATA), split="train").map(to_text)
trainer = SFTTrainer(
    model=model,
    processing_class=tokenizer,
    train_dataset=dataset,
    args=SFTConfig(
        dataset_text_field="text",
        max_seq_length=MAX_SEQ_LENGTH,
        num_train_epochs=EPOCHS,
        learning_rate=LEARNING_RATE,
        lr_scheduler_type="linear",
        warmup_ratio=0.03,
        per_device_train_batch_size=2,
        gradient_accumulation_steps=4,
        logging_steps=1,
        seed=42,
        output_dir=str(HERE / "checkpoints"),
        report_to="none",
    ),
)
trainer.train()
model.save_pretrained(str(HERE / "adapter"))
tokenizer.save_pretrained(str(HERE / "adapter"))
`;
}

/** Llama 3's chat template in Ollama's Go template syntax. */
const LLAMA3_TEMPLATE = `{{- if .System }}<|start_header_id|>system<|end_header_id|>

{{ .System }}<|eot_id|>
{{- end }}
{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>

{{ .Content }}<|eot_id|>
{{- end }}<|start_header_id|>assistant<|end_header_id|>

`;

/** The Ollama Modelfile of the adapter. */
function modelfile(s: Settings, system: string): string {
  if (system.includes('"""')) throw new ConfigError('the system prompt holds """, which a Modelfile cannot quote');
  return header("Ollama Modelfile for the LoRA adapter that axolotl.yaml or train_unsloth.py writes to ./adapter.", s.source, [
    `The adapter must be trained on ${s.base.hf}, the base that ${s.base.ollama} serves.`,
    "After training elsewhere: ollama create lab-erp -f Modelfile; ollama run lab-erp.",
  ]) + [
    `FROM ${s.base.ollama}`,
    "ADAPTER ./adapter",
    `TEMPLATE """${LLAMA3_TEMPLATE}"""`,
    `SYSTEM """${system}"""`,
    "PARAMETER temperature 0",
    `PARAMETER num_ctx ${s.maxSeqLength}`,
    'PARAMETER stop "<|eot_id|>"',
    'PARAMETER stop "<|start_header_id|>"',
    "",
  ].join("\n");
}

interface Settings {
  source: { file: string; sha256: string };
  stage: StageName;
  stageFrom: TrainerExportEntry["stageFrom"];
  schedule: StageSchedule;
  base: BaseModel;
  lora: LoraSettings;
  data: TrainerData;
  maxSeqLength: number;
}

/**
 * Renders an export without writing: the files' names and texts (and the dataset manifests of lab-format data
 * files) and the manifest entry. `rows` and `manifest` are a built `openai` dataset's (checked by the caller).
 */
export function renderTrainerExport(
  trainer: Trainer,
  rows: readonly Record<string, unknown>[],
  manifest: DatasetManifest,
  options: TrainerExportOptions = {},
): RenderedTrainerExport {
  checkOptions(options);
  if (!rows.length) throw new ConfigError(`${manifest.file}: the dataset is empty; nothing to export`);
  if (trainer === "fireworks" && rows.length < 3) {
    throw new ConfigError(`${manifest.file}: Fireworks needs at least 3 examples, the dataset has ${rows.length}`);
  }
  const records = recordsFromChatRows(rows, manifest.lineage);
  const datasetStage = manifest.stage && (STAGES as readonly string[]).includes(manifest.stage.name)
    ? manifest.stage.name as StageName
    : undefined;
  const stage = options.stage ?? datasetStage ?? "core";
  const s: Settings = {
    source: { file: manifest.file, sha256: manifest.sha256 },
    stage,
    stageFrom: options.stage ? "option" : datasetStage ? "dataset" : "default",
    schedule: STAGE_SCHEDULE[stage],
    base: { ...(options.base ?? DEFAULT_BASE) },
    lora: { ...DEFAULT_LORA, ...options.lora, targetModules: [...(options.lora?.targetModules ?? DEFAULT_LORA.targetModules)] },
    data: options.data ?? "sharegpt",
    maxSeqLength: options.maxSeqLength ?? 4096,
  };
  const set = manifest.file.replace(/\.jsonl$/, "");
  const entry = {
    stage: s.stage,
    stageFrom: s.stageFrom,
    epochs: s.schedule.epochs,
    learningRate: s.schedule.learningRate,
    base: s.base,
    lora: trainer === "axolotl" || trainer === "unsloth" ? s.lora : null,
    data: trainer === "axolotl" || trainer === "unsloth" ? s.data : null,
  };
  const jsonl = (xs: readonly unknown[]) => xs.map((x) => JSON.stringify(x)).join("\n") + "\n";
  switch (trainer) {
    case "together":
      return {
        files: [{ name: `${set}.together.jsonl`, text: jsonl(rows.map((r) => togetherRow(r.messages as WireMessage[], (r.tools as unknown[]) ?? []))), rows: rows.length }],
        datasets: [],
        entry,
      };
    case "fireworks":
      return {
        files: [{ name: `${set}.fireworks.jsonl`, text: jsonl(records.map((r) => fireworksRow(r.messages))), rows: rows.length }],
        datasets: [],
        entry,
      };
    case "axolotl":
    case "unsloth": {
      const dataFile = datasetFileName(set, s.data);
      const tools = rows[0].tools as Parameters<typeof formatRows>[2] | undefined;
      const data = prepareDataset(dataFile, s.data, formatRows(s.data, records, ...(tools ? [tools] : [])), derivedInput(manifest));
      const config = trainer === "axolotl"
        ? { name: "axolotl.yaml", text: axolotlYaml(s, dataFile), rows: null }
        : { name: "train_unsloth.py", text: unslothPy(s, dataFile), rows: null };
      return {
        files: [{ name: dataFile, text: data.text, rows: data.manifest.rows }, config],
        datasets: [{ name: dataFile, manifest: data.manifest }],
        entry,
      };
    }
    case "ollama":
      return { files: [{ name: "Modelfile", text: modelfile(s, commonSystemPrompt(records)), rows: null }], datasets: [], entry };
  }
}

/** Reads `trainers.manifest.json` of a folder (null when absent or not one). */
export async function readTrainersManifest(dir: string): Promise<TrainersManifest | null> {
  try {
    const m = JSON.parse(await Deno.readTextFile(join(dir, TRAINERS_MANIFEST_FILE))) as TrainersManifest;
    return m?.schema === TRAINERS_MANIFEST_SCHEMA ? m : null;
  } catch {
    return null;
  }
}

/**
 * Exports a built `openai` dataset for an external trainer (see the module doc): checks the file against its
 * manifest (format, hash, every line), renders everything, then writes each file atomically and records the
 * export in the folder's `trainers.manifest.json` (entries of another source dataset are replaced). A problem is
 * a one-line ConfigError and nothing is written.
 *
 * @example
 * ```ts
 * const r = await exportForTrainer("data/datasets/curated/core.jsonl", "axolotl");
 * console.log(r.paths); // core.sharegpt.jsonl, axolotl.yaml, trainers.manifest.json
 * ```
 */
export async function exportForTrainer(
  source: string,
  trainer: Trainer,
  options: TrainerExportOptions = {},
): Promise<TrainerExport> {
  if (!TRAINERS.includes(trainer)) throw new ConfigError(`trainer '${trainer}' is not one of ${TRAINERS.join(", ")}`);
  const { manifest, rows } = await readExportable(source);
  const rendered = renderTrainerExport(trainer, rows, manifest, options);
  const dir = options.out ?? join(dirname(source), `${basename(source).replace(/\.jsonl$/, "")}.trainers`);
  const previous = await readTrainersManifest(dir);
  const entry: TrainerExportEntry = {
    createdAt: new Date().toISOString(),
    ...rendered.entry,
    files: rendered.files.map((f) => ({
      file: f.name,
      sha256: sha256(f.text),
      bytes: new TextEncoder().encode(f.text).length,
      rows: f.rows,
    })),
  };
  const out: TrainersManifest = {
    schema: TRAINERS_MANIFEST_SCHEMA,
    source: { file: manifest.file, sha256: manifest.sha256, rows: manifest.rows },
    note: OFFLINE_NOTE,
    exports: { ...(previous?.source.sha256 === manifest.sha256 ? previous.exports : {}), [trainer]: entry },
  };
  const paths: string[] = [];
  for (const f of rendered.files) {
    const path = join(dir, f.name);
    await writeTextAtomic(path, f.text);
    paths.push(path);
    const ds = rendered.datasets.find((d) => d.name === f.name);
    if (ds) {
      await writeTextAtomic(manifestPath(path), `${JSON.stringify(ds.manifest, null, 2)}\n`);
      paths.push(manifestPath(path));
    }
  }
  const mPath = join(dir, TRAINERS_MANIFEST_FILE);
  await writeTextAtomic(mPath, `${JSON.stringify(out, null, 2)}\n`);
  paths.push(mPath);
  return { trainer, dir, paths, manifestPath: mPath, entry };
}
