/**
 * Export formats. Curated examples are rendered once into redacted OpenAI chat messages with their lineage
 * ({@linkcode renderExamples}, {@linkcode renderPairs}); each format is a row shape over that:
 *
 * | format | one line | for |
 * |---|---|---|
 * | `openai` (default) | `{messages, tools}` | OpenAI-compatible fine-tuning (OpenAI, Together, Fireworks, the lab's server) |
 * | `seed001` | `{input, output, system, metadata, quality}` | seed 001's exporter (Ollama) |
 * | `sharegpt` | `{conversations: [{from, value}], system, tools}` | Axolotl, LLaMA-Factory, Unsloth |
 * | `alpaca` | `{instruction, input, output, system}` | Alpaca-style trainers |
 * | `dpo` | `{prompt, chosen, rejected, tools, metadata}` | preference trainers (TRL's conversational DPO) |
 *
 * Text formats render a trajectory as Hermes-style `<tool_call>`/`<tool_response>` blocks. ShareGPT keeps
 * LLaMA-Factory's alternation of user-side and assistant-side turns: it leaves out a trailing tool result and an
 * assistant's text beside its tool calls. Reading a file back
 * ({@linkcode parseRows}) checks every line against its format's schema and reports problems with line numbers.
 * @module
 */
import { z } from "zod";
import { openAiToolSchemas, type OpenAiToolSchema } from "../tools/mod.ts";
import { type Example, exampleMessages, type ExampleProvenance, type SourceKind, type WireMessage } from "./example.ts";
import type { Tier } from "./quality.ts";
import type { CuratedExample, PreferencePair } from "./curate.ts";
import type { Redactor } from "./redact.ts";

/** The export formats. */
export const FORMATS = ["openai", "seed001", "sharegpt", "alpaca", "dpo"] as const;
/** An export format. */
export type DatasetFormat = (typeof FORMATS)[number];

/** Where one exported example came from, in the manifest's `lineage` (one entry per line, in order). */
export interface LineageEntry extends ExampleProvenance {
  id: string;
  source: SourceKind;
  tier: Tier | null;
  quality: number | null;
  fitness: number;
  category: string;
  level: number | null;
  outcome: string | null;
  family: string | null;
  challengeId: string | null;
  support: number;
  /** Examples merged into this one (exact and near-duplicates). */
  merged?: { exact: number; near: number };
}

/** A redacted conversation with its lineage: what every single-example format is made from. */
export interface TrainingRecord {
  messages: WireMessage[];
  meta: LineageEntry;
}

/** A redacted preference pair: the shared prompt, the chosen and the rejected continuation. */
export interface PairRecord {
  prompt: WireMessage[];
  chosen: WireMessage[];
  rejected: WireMessage[];
  meta: { challengeId: string; chosen: LineageEntry; rejected: LineageEntry };
}

/** The lineage entry of an example (tier and quality when curated). */
export function lineageOf(e: Example | CuratedExample): LineageEntry {
  const c = "tier" in e ? e : undefined;
  return {
    id: e.id,
    source: e.source,
    tier: c?.tier ?? null,
    quality: c?.quality ?? null,
    fitness: e.fitness,
    category: e.category,
    level: e.level,
    outcome: e.outcome,
    family: e.family,
    challengeId: e.challengeId,
    runId: e.runId,
    episodeId: e.episodeId,
    patternId: e.patternId,
    strategyId: e.strategyId,
    model: e.model,
    synthetic: e.synthetic,
    ...(e.humanValidated ? { humanValidated: true } : {}),
    support: c?.groupSupport ?? e.support,
    ...(c ? { merged: { ...c.merged } } : {}),
  };
}

/** Options of {@linkcode renderExamples} and {@linkcode renderPairs}. */
export interface RenderOptions {
  /** System prompt of pattern examples (`{role}` filled in). */
  systemPrompt: string;
  /** Redacts every message; its counts are the manifest's. */
  redactor: Redactor;
}

/**
 * Curated examples as redacted conversations with lineage, in order.
 *
 * @example
 * ```ts
 * const redactor = createRedactor({ names: config.redaction.names });
 * const records = renderExamples(curation.examples, { systemPrompt: config.system_prompt, redactor });
 * ```
 */
export function renderExamples(examples: readonly Example[], options: RenderOptions): TrainingRecord[] {
  return examples.map((e) => ({
    messages: options.redactor.messages(exampleMessages(e, options.systemPrompt)),
    meta: lineageOf(e),
  }));
}

/** The index just past the first user message (the prompt's end). */
function promptEnd(ms: readonly WireMessage[]): number {
  const i = ms.findIndex((m) => m.role === "user");
  return i < 0 ? 0 : i + 1;
}

/**
 * Preference pairs as redacted records: the chosen attempt's system prompt and request as the prompt, then each
 * attempt's own continuation (its system prompt may differ: the strategies of the two attempts may).
 */
export function renderPairs(pairs: readonly PreferencePair[], options: RenderOptions): PairRecord[] {
  return pairs.map((p) => {
    const chosen = options.redactor.messages(exampleMessages(p.chosen, options.systemPrompt));
    const rejected = options.redactor.messages(exampleMessages(p.rejected, options.systemPrompt));
    const cut = promptEnd(chosen);
    return {
      prompt: chosen.slice(0, cut),
      chosen: chosen.slice(cut),
      rejected: rejected.slice(promptEnd(rejected)),
      meta: { challengeId: p.challengeId, chosen: lineageOf(p.chosen), rejected: lineageOf(p.rejected) },
    };
  });
}

const first = (ms: readonly WireMessage[], role: WireMessage["role"]) => ms.find((m) => m.role === role)?.content ?? "";

function parseArgs(json: string): unknown {
  try {
    return JSON.parse(json);
  } catch {
    return json;
  }
}

/** A trajectory as text: assistant text, `<tool_call>` and `<tool_response>` blocks, a mid-way user turn. */
export function transcript(ms: readonly WireMessage[]): string {
  const parts: string[] = [];
  for (const m of ms) {
    if (m.role === "assistant") {
      if (m.content) parts.push(m.content);
      for (const c of m.tool_calls ?? []) {
        parts.push(`<tool_call>${JSON.stringify({ name: c.function.name, arguments: parseArgs(c.function.arguments) })}</tool_call>`);
      }
    } else if (m.role === "tool") parts.push(`<tool_response>${m.content ?? ""}</tool_response>`);
    else if (m.role === "user") parts.push(`<user>${m.content ?? ""}</user>`);
  }
  return parts.join("\n");
}

/** seed 001's metadata of a line. */
function seedMetadata(meta: LineageEntry): Record<string, unknown> {
  return {
    id: meta.id,
    source: meta.source,
    category: meta.category,
    level: meta.level,
    outcome: meta.outcome,
    family: meta.family,
    challenge_id: meta.challengeId,
    run_id: meta.runId,
    strategy: meta.strategyId,
    model: meta.model,
    quality_score: meta.quality,
    fitness: meta.fitness,
  };
}

/**
 * ShareGPT turns in LLaMA-Factory's roles (human, gpt, function_call, observation), which alternate user side and
 * assistant side: consecutive tool results are joined into one observation, a trailing observation (the result of
 * the final call, which teaches nothing) is left out, and an assistant's text beside its tool calls is dropped (a
 * function_call turn holds calls only).
 */
function shareGptTurns(ms: readonly WireMessage[]): { from: string; value: string }[] {
  const out: { from: string; value: string }[] = [];
  for (const m of ms) {
    if (m.role === "system") continue;
    if (m.role === "user") out.push({ from: "human", value: m.content ?? "" });
    else if (m.role === "assistant") {
      const calls = (m.tool_calls ?? []).map((c) => ({ name: c.function.name, arguments: parseArgs(c.function.arguments) }));
      if (calls.length) out.push({ from: "function_call", value: JSON.stringify(calls.length === 1 ? calls[0] : calls) });
      else out.push({ from: "gpt", value: m.content ?? "" });
    } else {
      const last = out.at(-1);
      if (last?.from === "observation") last.value += `\n${m.content ?? ""}`;
      else out.push({ from: "observation", value: m.content ?? "" });
    }
  }
  while (out.at(-1)?.from === "observation") out.pop();
  return out;
}

/**
 * The rows of a format: `records` are TrainingRecords (every format but `dpo`) or PairRecords (`dpo`).
 *
 * @example
 * ```ts
 * const rows = formatRows("sharegpt", records);
 * ```
 */
export function formatRows(
  format: DatasetFormat,
  records: readonly (TrainingRecord | PairRecord)[],
  tools: readonly OpenAiToolSchema[] = openAiToolSchemas(),
): Record<string, unknown>[] {
  if (format === "dpo") {
    return (records as PairRecord[]).map((r) => ({
      prompt: r.prompt,
      chosen: r.chosen,
      rejected: r.rejected,
      tools,
      metadata: { challenge_id: r.meta.challengeId, chosen: r.meta.chosen.id, rejected: r.meta.rejected.id },
    }));
  }
  return (records as TrainingRecord[]).map(({ messages, meta }) => {
    const after = messages.slice(promptEnd(messages));
    switch (format) {
      case "openai":
        return { messages, tools };
      case "seed001":
        return {
          input: first(messages, "user"),
          output: transcript(after),
          system: first(messages, "system"),
          metadata: seedMetadata(meta),
          quality: meta.tier,
        };
      case "sharegpt":
        return { conversations: shareGptTurns(messages), system: first(messages, "system"), tools: JSON.stringify(tools) };
      case "alpaca":
        return { instruction: first(messages, "user"), input: "", output: transcript(after), system: first(messages, "system") };
    }
  });
}

/** Training records back from the rows of an `openai` file and its lineage (to export it in another format). */
export function recordsFromChatRows(rows: readonly Record<string, unknown>[], lineage: readonly LineageEntry[]): TrainingRecord[] {
  if (rows.length !== lineage.length) {
    throw new RangeError(`the file has ${rows.length} lines but its manifest's lineage ${lineage.length}; rebuild it`);
  }
  return rows.map((r, i) => ({ messages: r.messages as WireMessage[], meta: lineage[i] }));
}

const WireMessageRow = z.looseObject({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.string().nullable(),
});
const Messages = z.array(WireMessageRow);

/** The schema of one line of each format (what reading a file back checks). */
export const ROW_SCHEMAS: Record<DatasetFormat, z.ZodType> = {
  openai: z.looseObject({ messages: Messages.min(1), tools: z.array(z.unknown()).optional() }),
  seed001: z.strictObject({
    input: z.string(),
    output: z.string(),
    system: z.string(),
    metadata: z.record(z.string(), z.unknown()),
    quality: z.enum(["gold", "silver", "bronze"]).nullable(),
  }),
  sharegpt: z.strictObject({
    conversations: z.array(z.strictObject({ from: z.enum(["human", "gpt", "function_call", "observation"]), value: z.string() }))
      .min(1),
    system: z.string(),
    tools: z.string(),
  }),
  alpaca: z.strictObject({ instruction: z.string(), input: z.string(), output: z.string(), system: z.string() }),
  dpo: z.strictObject({
    prompt: Messages.min(1),
    chosen: Messages.min(1),
    rejected: Messages.min(1),
    tools: z.array(z.unknown()),
    metadata: z.record(z.string(), z.unknown()),
  }),
};

/** A problem with one line of a file (1-based). */
export interface LineProblem {
  line: number;
  code: string;
  message: string;
}

/**
 * Parses JSONL text as rows of `format`: rows that parse and fit the schema, and a problem (with its line) for
 * every other non-empty line.
 *
 * @example
 * ```ts
 * const { rows, problems } = parseRows(await Deno.readTextFile("data/datasets/x/train.sharegpt.jsonl"), "sharegpt");
 * ```
 */
export function parseRows(text: string, format: DatasetFormat): { rows: Record<string, unknown>[]; problems: LineProblem[] } {
  const rows: Record<string, unknown>[] = [];
  const problems: LineProblem[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((raw, i) => {
    const line = i + 1;
    if (!raw.trim()) {
      problems.push({ line, code: "blank_line", message: "empty line inside the file" });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      problems.push({ line, code: "invalid_json", message: `not JSON: ${(e as Error).message}` });
      return;
    }
    const parsed = ROW_SCHEMAS[format].safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      problems.push({ line, code: "bad_row", message: `${issue.path.join(".") || "(line)"}: ${issue.message}` });
      return;
    }
    rows.push(value as Record<string, unknown>);
  });
  return { rows, problems };
}
