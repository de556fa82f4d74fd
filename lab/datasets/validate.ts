/**
 * Validation of chat fine-tuning JSONL: the OpenAI cookbook's format checks (data types, the messages list, keys,
 * roles, content, an assistant message), extended to tool calls (a list of `{id, type: "function", function:
 * {name, arguments}}`, arguments a JSON object, a tool the lab knows and the line offers, ids unique, every tool
 * message answering an earlier call of its example, every call answered), then the cookbook's token statistics:
 * tokens per example against the target's context window, total and billed tokens, the default epochs, and the
 * estimated training cost. Every problem names its line.
 * @module
 */
import { countPromptTokens, type Encoding } from "../models/mod.ts";
import { TOOLS } from "../tools/mod.ts";
import type { DatasetsConfig } from "./config.ts";
import type { LineProblem } from "./formats.ts";

/** Problem codes (the cookbook's, then the tool-call ones). */
export const PROBLEM_CODES = [
  "blank_line",
  "invalid_json",
  "data_type",
  "missing_messages_list",
  "message_missing_key",
  "message_unrecognized_key",
  "unrecognized_role",
  "missing_content",
  "example_missing_assistant_message",
  "bad_weight",
  "bad_tools_field",
  "tool_calls_not_list",
  "tool_call_malformed",
  "tool_call_bad_arguments",
  "unknown_tool",
  "tool_not_offered",
  "duplicate_tool_call_id",
  "tool_message_missing_id",
  "unmatched_tool_call_id",
  "unanswered_tool_call",
  "too_long",
] as const;
/** A problem code. */
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/**
 * Options for {@linkcode validateChatJsonl}.
 * @internal
 */
export interface ValidateOptions {
  /** Tokens an example may have. @default config.validation.context_window */
  contextWindow?: number;
  /** @default config.validation.encoding */
  encoding?: Encoding;
  /** Epochs to bill; default: the cookbook's rule. */
  epochs?: number;
  /** USD per 1M training tokens. @default config.validation.training_usd_per_1m */
  usdPer1m?: number;
  /** Tool names calls may use. @default the lab's tools */
  knownTools?: readonly string[];
}

/** Token statistics of the examples that parsed. */
export interface TokenStats {
  total: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p95: number;
  /** Examples over the context window (billed at the window). */
  overLimit: number;
}

/**
 * What {@linkcode validateChatJsonl} finds.
 * @internal
 */
export interface ValidationReport {
  ok: boolean;
  /** Non-empty lines. */
  lines: number;
  /** Lines without a problem. */
  valid: number;
  problems: LineProblem[];
  /** Problems by code. */
  byCode: Partial<Record<ProblemCode, number>>;
  tokens: TokenStats;
  contextWindow: number;
  encoding: Encoding;
  epochs: number;
  /** Tokens billed per epoch: each example's tokens, capped at the window. */
  billingTokensPerEpoch: number;
  estimatedCostUsd: number;
}

const MESSAGE_KEYS = new Set(["role", "content", "name", "weight", "tool_calls", "tool_call_id", "function_call"]);
const ROLES = new Set(["system", "user", "assistant", "tool", "function"]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The format problems of one parsed line (no token checks). */
function lineProblems(value: unknown, line: number, known: ReadonlySet<string>): LineProblem[] {
  const out: LineProblem[] = [];
  const add = (code: ProblemCode, message: string) => out.push({ line, code, message });
  if (!isObject(value)) {
    add("data_type", "a line must be a JSON object");
    return out;
  }
  const messages = value.messages;
  if (!Array.isArray(messages) || !messages.length) {
    add("missing_messages_list", "no non-empty 'messages' list");
    return out;
  }
  let offered: Set<string> | undefined;
  if (value.tools !== undefined) {
    const names = Array.isArray(value.tools)
      ? value.tools.map((t) => (isObject(t) && isObject(t.function) ? t.function.name : undefined))
      : [undefined];
    if (names.some((n) => typeof n !== "string")) add("bad_tools_field", "'tools' must be a list of {type, function: {name…}}");
    else offered = new Set(names as string[]);
  }
  const calls = new Map<string, boolean>(); // id → answered
  let assistant = false;
  messages.forEach((m, k) => {
    const where = `messages[${k}]`;
    if (!isObject(m) || !("role" in m)) {
      add("message_missing_key", `${where} has no role`);
      return;
    }
    const extra = Object.keys(m).filter((key) => !MESSAGE_KEYS.has(key));
    if (extra.length) add("message_unrecognized_key", `${where} has unknown keys: ${extra.join(", ")}`);
    if (!ROLES.has(String(m.role))) {
      add("unrecognized_role", `${where} has role '${String(m.role)}'`);
      return;
    }
    if ("weight" in m && m.weight !== 0 && m.weight !== 1) add("bad_weight", `${where}.weight must be 0 or 1`);
    const hasCalls = m.role === "assistant" && m.tool_calls !== undefined;
    const content = m.content;
    if (!(typeof content === "string" || (content === null && hasCalls) || (content === undefined && hasCalls))) {
      add("missing_content", `${where} needs text content${m.role === "assistant" ? " or tool_calls" : ""}`);
    }
    if (m.role === "assistant") {
      assistant = true;
      if (m.tool_calls === undefined) return;
      if (!Array.isArray(m.tool_calls)) {
        add("tool_calls_not_list", `${where}.tool_calls must be a list`);
        return;
      }
      m.tool_calls.forEach((c, j) => {
        const at = `${where}.tool_calls[${j}]`;
        if (!isObject(c) || typeof c.id !== "string" || !c.id || c.type !== "function" || !isObject(c.function) ||
          typeof c.function.name !== "string") {
          add("tool_call_malformed", `${at} must be {id, type: "function", function: {name, arguments}}`);
          if (isObject(c) && typeof c.id === "string" && c.id) calls.set(c.id, false); // its result still answers it
          return;
        }
        const name = c.function.name;
        let args: unknown;
        try {
          args = typeof c.function.arguments === "string" ? JSON.parse(c.function.arguments) : undefined;
        } catch { /* reported below */ }
        if (!isObject(args)) add("tool_call_bad_arguments", `${at} (${name}): arguments must be a JSON object string`);
        if (!known.has(name)) add("unknown_tool", `${at}: '${name}' is not a lab tool`);
        else if (offered && !offered.has(name)) add("tool_not_offered", `${at}: '${name}' is not in the line's tools`);
        if (calls.has(c.id)) add("duplicate_tool_call_id", `${at}: id '${c.id}' is used twice`);
        calls.set(c.id, false);
      });
    } else if (m.role === "tool") {
      const id = m.tool_call_id;
      if (typeof id !== "string" || !id) add("tool_message_missing_id", `${where} has no tool_call_id`);
      else if (!calls.has(id) || calls.get(id)) {
        add("unmatched_tool_call_id", `${where}: tool_call_id '${id}' answers no open call before it`);
      } else calls.set(id, true);
    }
  });
  if (!assistant) add("example_missing_assistant_message", "no assistant message");
  const open = [...calls.entries()].filter(([, answered]) => !answered).map(([id]) => id);
  if (open.length) add("unanswered_tool_call", `tool calls without a tool message: ${open.join(", ")}`);
  return out;
}

/** A chat message as token counting reads it. */
function countable(m: Record<string, unknown>) {
  const calls = Array.isArray(m.tool_calls) ? m.tool_calls.filter(isObject) : [];
  return {
    role: String(m.role),
    content: typeof m.content === "string" ? m.content : null,
    toolCalls: calls.map((c) => {
      const f = isObject(c.function) ? c.function : {};
      return { name: String(f.name ?? ""), rawArgs: String(f.arguments ?? "") };
    }),
  };
}

/** The cookbook's default epochs for `n` examples. */
export function defaultEpochs(n: number, v: DatasetsConfig["validation"]): number {
  if (n <= 0) return 0;
  if (n * v.target_epochs < v.min_target_examples) return Math.min(25, Math.floor(v.min_target_examples / n));
  if (n * v.target_epochs > v.max_target_examples) return Math.max(1, Math.floor(v.max_target_examples / n));
  return v.target_epochs;
}

const quantile = (sorted: readonly number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;

/**
 * Validates chat fine-tuning JSONL text (see the module doc).
 *
 * @example
 * ```ts
 * const r = await validateChatJsonl(await Deno.readTextFile(path), config, { contextWindow: 16384 });
 * for (const p of r.problems) console.log(`line ${p.line}: ${p.code}: ${p.message}`);
 * ```
 */
export async function validateChatJsonl(
  text: string,
  config: DatasetsConfig,
  options: ValidateOptions = {},
): Promise<ValidationReport> {
  const v = config.validation;
  const contextWindow = options.contextWindow ?? v.context_window;
  const encoding = options.encoding ?? v.encoding;
  const known = new Set(options.knownTools ?? Object.keys(TOOLS));
  const problems: LineProblem[] = [];
  const lengths: number[] = [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  let nonEmpty = 0, valid = 0;
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    if (!raw.trim()) {
      problems.push({ line, code: "blank_line", message: "empty line inside the file" });
      continue;
    }
    nonEmpty++;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      problems.push({ line, code: "invalid_json", message: `not JSON: ${(e as Error).message}` });
      continue;
    }
    const found = lineProblems(value, line, known);
    problems.push(...found);
    if (!isObject(value) || !Array.isArray(value.messages)) continue;
    const messages = value.messages.filter(isObject).map(countable);
    const tokens = await countPromptTokens(messages, Array.isArray(value.tools) ? value.tools : undefined, encoding);
    lengths.push(tokens);
    if (tokens > contextWindow) {
      problems.push({ line, code: "too_long", message: `${tokens} tokens, over the context window of ${contextWindow}` });
    } else if (!found.length) valid++;
  }
  const sorted = [...lengths].sort((a, b) => a - b);
  const total = lengths.reduce((a, b) => a + b, 0);
  const billing = lengths.reduce((a, n) => a + Math.min(n, contextWindow), 0);
  const epochs = options.epochs ?? defaultEpochs(lengths.length, v);
  const usd = options.usdPer1m ?? v.training_usd_per_1m;
  const byCode: Partial<Record<ProblemCode, number>> = {};
  for (const p of problems) byCode[p.code as ProblemCode] = (byCode[p.code as ProblemCode] ?? 0) + 1;
  problems.sort((a, b) => a.line - b.line);
  return {
    ok: problems.length === 0,
    lines: nonEmpty,
    valid,
    problems,
    byCode,
    tokens: {
      total,
      min: sorted[0] ?? 0,
      max: sorted.at(-1) ?? 0,
      mean: lengths.length ? Math.round(total / lengths.length) : 0,
      p50: quantile(sorted, 0.5),
      p95: quantile(sorted, 0.95),
      overLimit: lengths.filter((n) => n > contextWindow).length,
    },
    contextWindow,
    encoding,
    epochs,
    billingTokensPerEpoch: billing,
    estimatedCostUsd: Math.round((billing * epochs / 1e6) * usd * 100) / 100,
  };
}
