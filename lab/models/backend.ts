/**
 * The `ChatBackend` port: anything that completes an OpenAI-style chat request locally. The local server
 * (`lab/serve/`) answers `/v1/chat/completions` by calling one, and the chat client calls one in process; the
 * placeholder model, `lab-mini` and its fine-tuned versions implement it.
 *
 * The request and result are the chat-completions essentials in OpenAI's wire shape (snake_case), already parsed
 * and normalised by the caller: message content is plain text (content parts are joined), so a backend never
 * re-validates its input. They are prefixed `Backend` to tell them from the chat client's own shapes in
 * `types.ts` (`ChatRequest`, `ChatResult`, …: camelCase, parsed tool arguments, usage, cost and retries).
 *
 * @example
 * ```ts
 * const echo: ChatBackend = {
 *   id: "echo", contextWindow: 4096,
 *   async complete(req) {
 *     const text = req.messages.at(-1)?.content ?? "";
 *     return { choices: [{ message: { role: "assistant", content: text }, finish_reason: "stop" }],
 *              usage: { prompt_tokens: countChatTokens(req.messages), completion_tokens: countTokens(text) } };
 *   },
 * };
 * ```
 */
import { getEncoding, type Tiktoken, type TiktokenEncoding } from "js-tiktoken";

/** A tool call made by the assistant, as a backend sees it: OpenAI's shape, arguments as JSON text. */
export interface BackendToolCall {
  id: string;
  type: "function";
  function: { name: string; /** JSON text (a model may emit invalid JSON). */ arguments: string };
}

/** One message of a chat a backend completes (OpenAI's shape), content normalised to text. */
export interface BackendChatMessage {
  role: "system" | "developer" | "user" | "assistant" | "tool";
  content: string | null;
  name?: string;
  /** On assistant messages that called tools. */
  tool_calls?: BackendToolCall[];
  /** On tool results: the call they answer. */
  tool_call_id?: string;
}

/** A function tool offered to the model (OpenAI shape). */
export interface ToolDefinition {
  type: "function";
  function: { name: string; description?: string; /** JSON Schema of the arguments. */ parameters?: Record<string, unknown> };
}

/** How the model may use tools: OpenAI's `tool_choice`. */
export type BackendToolChoice = "none" | "auto" | "required" | { type: "function"; function: { name: string } };

/**
 * What a {@linkcode ChatBackend} is asked: the essentials of a chat-completions request in OpenAI's wire shape.
 * (The chat client's request, `ChatRequest` of `types.ts`, is what the lab asks any model; it becomes this one
 * when the model is a local backend.)
 */
export interface BackendChatRequest {
  model: string;
  messages: BackendChatMessage[];
  tools?: ToolDefinition[];
  tool_choice?: BackendToolChoice;
  temperature?: number;
  top_p?: number;
  seed?: number;
  /** Number of choices. @default 1 */
  n?: number;
  /** Completion token cap (`max_tokens` or `max_completion_tokens`). */
  max_tokens?: number;
  /** Aborted when the answer is no longer wanted (the local server does not set it yet: a graceful close lets in-flight requests finish). */
  signal?: AbortSignal;
}

/** Why a choice stopped. */
export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

/** One choice of a completion. */
export interface ChatChoice {
  message: { role: "assistant"; content: string | null; tool_calls?: BackendToolCall[] };
  finish_reason: FinishReason;
}

/** What a backend returns: `n` choices and the token usage (counted with tiktoken), in OpenAI's wire shape. */
export interface BackendChatResult {
  choices: ChatChoice[];
  usage: { prompt_tokens: number; completion_tokens: number };
}

/** A model that completes chat locally. */
export interface ChatBackend {
  /** The model id clients send. */
  id: string;
  /** Max prompt + completion tokens. */
  contextWindow: number;
  /** Who owns it, shown by `/v1/models` (be honest about placeholders). @default "lab" */
  ownedBy?: string;
  complete(req: BackendChatRequest): Promise<BackendChatResult>;
}

const encoders = new Map<TiktokenEncoding, Tiktoken>();

/** The tiktoken encoder for `encoding`, loaded once (loading cl100k takes ~100 ms). */
export function encoder(encoding: "cl100k_base" | "o200k_base" = "cl100k_base"): Tiktoken {
  let e = encoders.get(encoding);
  if (!e) encoders.set(encoding, e = getEncoding(encoding));
  return e;
}

/** Number of tokens of `text`. */
export function countTokens(text: string, encoding: "cl100k_base" | "o200k_base" = "cl100k_base"): number {
  return text ? encoder(encoding).encode(text, "all").length : 0;
}

// Token counts of texts seen recently, per encoding: an agent resends its system prompt, tools and earlier turns
// with every request, and tiktoken costs ~0.1 ms per short text — more than a local model's whole reply (it was
// half of a tournament's time through the local server).
const tokenMemo = { cl100k_base: new Map<string, number>(), o200k_base: new Map<string, number>() };
function memoTokens(text: string, encoding: "cl100k_base" | "o200k_base"): number {
  if (!text) return 0;
  const memo = tokenMemo[encoding];
  let n = memo.get(text);
  if (n === undefined) {
    if (memo.size >= 4096) memo.clear();
    memo.set(text, n = countTokens(text, encoding));
  }
  return n;
}

/**
 * Prompt tokens of a chat, following OpenAI's published accounting for chat models: 3 tokens per message,
 * 1 per name, 3 to prime the reply; tool definitions and tool calls counted as their JSON text. Counts of
 * repeated texts are memoized.
 */
export function countChatTokens(
  messages: readonly BackendChatMessage[],
  tools: readonly ToolDefinition[] = [],
  encoding: "cl100k_base" | "o200k_base" = "cl100k_base",
): number {
  let n = 3;
  for (const m of messages) {
    n += 3 + memoTokens(m.role, encoding) + memoTokens(m.content ?? "", encoding);
    if (m.name) n += 1 + memoTokens(m.name, encoding);
    if (m.tool_calls?.length) n += memoTokens(JSON.stringify(m.tool_calls.map((c) => c.function)), encoding);
  }
  if (tools.length) n += memoTokens(JSON.stringify(tools.map((t) => t.function)), encoding);
  return n;
}
