/**
 * The shapes of the lab's chat-model interface: messages in, one result out (plain data, cacheable).
 * @module
 */
import type { OpenAiToolSchema } from "../tools/mod.ts";

/** A tool call the lab sent back to a model (in an assistant message of the history). */
export interface SentToolCall {
  id: string;
  name: string;
  args: Record<string, unknown>;
}

/**
 * One message of a conversation.
 * @internal
 */
export interface ChatMessage {
  role: "system" | "user" | "assistant" | "tool";
  content?: string | null;
  /** Assistant messages: the tool calls the model made. */
  toolCalls?: SentToolCall[];
  /** Tool messages: the call this answers. */
  toolCallId?: string;
}

/** Which tool the model must call: OpenAI's `tool_choice`. */
export type ToolChoice = "auto" | "none" | "required" | { name: string };

/**
 * What the lab asks a chat model through {@linkcode ChatModel.invoke}, whatever serves it (camelCase, tool
 * schemas of lab/tools). A local `ChatBackend` receives it translated into a `BackendChatRequest` (`backend.ts`).
 */
export interface ChatRequest {
  messages: ChatMessage[];
  /** OpenAI tool schemas, e.g. `openAiToolSchemas()` from lab/tools. */
  tools?: OpenAiToolSchema[];
  toolChoice?: ToolChoice;
  temperature?: number;
  topP?: number;
  seed?: number;
  maxTokens?: number;
  /** Choices to sample. @default 1 */
  n?: number;
  signal?: AbortSignal;
}

/** What a transport is asked (a request without its signal). */
export type TransportRequest = Omit<ChatRequest, "signal">;

/** A tool call as a transport parsed it: `args` when the arguments were JSON, else `rawArgs` and `error`. */
export interface RawToolCall {
  id: string;
  name: string;
  args?: Record<string, unknown>;
  rawArgs?: string;
  error?: string;
}

/** One choice as a transport returned it. */
export interface RawChoice {
  content?: string;
  toolCalls?: RawToolCall[];
  finishReason?: string;
}

/** A transport's answer; `usage` is absent when the response carried none. */
export interface TransportResponse {
  choices: RawChoice[];
  usage?: { inputTokens: number; outputTokens: number };
}

/** One request to one provider, no retries: the seam tests and benches replace. */
export type ChatTransport = (request: TransportRequest, signal: AbortSignal) => Promise<TransportResponse>;

/** A tool call in a result: `args` parsed, or `error` saying why it is unusable (bad JSON, unknown tool). */
export interface ToolCall {
  id: string;
  name: string;
  args?: Record<string, unknown>;
  /** The arguments as sent, when they did not parse. */
  rawArgs?: string;
  error?: string;
}

/** A model's reply. */
export interface AssistantMessage {
  content?: string;
  toolCalls?: ToolCall[];
  finishReason?: string;
}

/** Tokens of one call, from the response or counted by tiktoken when the response had none. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  source: "response" | "tiktoken";
}

/** The result of {@linkcode ChatModel.invoke}. */
export interface ChatResult {
  /** The first choice. */
  message: AssistantMessage;
  /** All choices (length n). */
  choices: AssistantMessage[];
  usage: Usage;
  /** Wall time of the call including retries and waits. */
  latencyMs: number;
  /** USD spent by this call at the model's list prices; 0 when replayed from the cache. */
  costUsd: number;
  /** Replayed from the response cache (no request made). */
  cached: boolean;
  /** Expected model failures of this step (malformed tool calls…), recorded rather than thrown. */
  modelErrors: string[];
  /** HTTP attempts made (0 when cached). */
  attempts: number;
}
