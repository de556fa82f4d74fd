/** `POST /v1/chat/completions`: validation, context-window check, JSON or SSE answers. */
import { z } from "zod";
import { type BackendChatMessage, type BackendChatRequest, type BackendChatResult, type ChatBackend, countChatTokens } from "../models/mod.ts";
import { HttpError, json } from "./_http.ts";
import type { FaultDraw } from "./_faults.ts";

const ContentPart = z.looseObject({ type: z.string(), text: z.string().optional() });
const Content = z.union([z.string(), z.array(ContentPart), z.null()]).optional();
const ToolCallSchema = z.object({
  id: z.string(),
  type: z.literal("function").default("function"),
  function: z.object({ name: z.string(), arguments: z.string() }),
});
const Message = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool", "function"]),
  content: Content,
  name: z.string().optional(),
  tool_calls: z.array(ToolCallSchema).optional(),
  tool_call_id: z.string().optional(),
});
const Tool = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, "tool names are 1-64 letters, digits, _ or -"),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
  }),
});
const ToolChoice = z.union([
  z.enum(["none", "auto", "required"]),
  z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) }),
]);
const nullish = <T extends z.ZodType>(s: T) => s.nullish().transform((v) => v ?? undefined);

/** The chat-completions body; unknown fields are accepted and ignored (clients send many). */
export const ChatBody = z.looseObject({
  model: z.string().min(1),
  messages: z.array(Message).min(1),
  tools: nullish(z.array(Tool)),
  tool_choice: nullish(ToolChoice),
  temperature: nullish(z.number().min(0).max(2)),
  top_p: nullish(z.number().min(0).max(1)),
  seed: nullish(z.number().int()),
  n: nullish(z.number().int().min(1).max(128)),
  max_tokens: nullish(z.number().int().positive()),
  max_completion_tokens: nullish(z.number().int().positive()),
  stream: nullish(z.boolean()),
  stream_options: nullish(z.looseObject({ include_usage: z.boolean().optional() })),
});
export type ChatBody = z.infer<typeof ChatBody>;

function text(content: z.infer<typeof Content>): string | null {
  if (content === undefined || content === null) return null;
  if (typeof content === "string") return content;
  return content.map((p) => p.text ?? "").join("");
}

/** Normalises a parsed body into the backend's {@linkcode BackendChatRequest}. */
export function toChatRequest(body: ChatBody, signal?: AbortSignal): BackendChatRequest {
  const messages: BackendChatMessage[] = body.messages.map((m) => ({
    role: m.role === "function" ? "tool" : m.role,
    content: text(m.content),
    ...(m.name ? { name: m.name } : {}),
    ...(m.tool_calls?.length ? { tool_calls: m.tool_calls } : {}),
    ...(m.tool_call_id ? { tool_call_id: m.tool_call_id } : {}),
  }));
  const choice = body.tool_choice;
  if (choice && typeof choice === "object" && !body.tools?.some((t) => t.function.name === choice.function.name)) {
    throw new HttpError(400, `tool_choice names '${choice.function.name}', which is not among the tools offered`, "invalid_request_error", "tool_choice", "invalid_value");
  }
  if ((choice === "required" || typeof choice === "object") && !body.tools?.length) {
    throw new HttpError(400, "tool_choice requires tools: offer at least one tool or drop tool_choice", "invalid_request_error", "tool_choice", "invalid_value");
  }
  return {
    model: body.model,
    messages,
    tools: body.tools?.map((t) => ({ type: "function", function: t.function })),
    tool_choice: choice,
    temperature: body.temperature,
    top_p: body.top_p,
    seed: body.seed,
    n: body.n ?? 1,
    max_tokens: body.max_completion_tokens ?? body.max_tokens,
    signal,
  };
}

/** `countChatTokens` of lab/models (memoized there: an agent resends the same texts every request). */
export function promptTokens(messages: BackendChatMessage[], tools: BackendChatRequest["tools"] = []): number {
  return countChatTokens(messages, tools ?? []);
}

/** Refuses (400 context_length_exceeded) a prompt that with its completion cap does not fit the window. */
export function checkContext(req: BackendChatRequest, backend: ChatBackend): number {
  const prompt = promptTokens(req.messages, req.tools);
  const total = prompt + (req.max_tokens ?? 0);
  if (total > backend.contextWindow) {
    throw new HttpError(
      400,
      `This model's maximum context length is ${backend.contextWindow} tokens. However, you requested ${total} tokens (${prompt} in the messages, ${req.max_tokens ?? 0} in the completion). Please reduce the length of the messages or completion.`,
      "invalid_request_error",
      "messages",
      "context_length_exceeded",
    );
  }
  return prompt;
}

/** Applies the malformed-tool-arguments fault: cuts each call's JSON so it no longer parses. */
function corruptToolArgs(result: BackendChatResult): BackendChatResult {
  return {
    ...result,
    choices: result.choices.map((c) => ({
      ...c,
      message: {
        ...c.message,
        tool_calls: c.message.tool_calls?.map((t) => ({ ...t, function: { ...t.function, arguments: `${t.function.arguments.slice(0, -1)},"` } })),
      },
    })),
  };
}

interface Envelope {
  id: string;
  created: number;
  model: string;
}

/** Answers a chat completion (JSON or SSE) from a backend result. */
export function chatResponse(result: BackendChatResult, body: ChatBody, env: Envelope, faults: FaultDraw, onFault: (name: string) => void): Response {
  if (faults.malformedToolArgs && result.choices.some((c) => c.message.tool_calls?.length)) {
    onFault("malformedToolArgs");
    result = corruptToolArgs(result);
  }
  const usage = { ...result.usage, total_tokens: result.usage.prompt_tokens + result.usage.completion_tokens };
  const base = { id: env.id, created: env.created, model: env.model, system_fingerprint: "lab-local" };
  if (!body.stream) {
    return json({
      ...base,
      object: "chat.completion",
      choices: result.choices.map((c, index) => ({
        index,
        message: { role: "assistant", content: c.message.content, refusal: null, ...(c.message.tool_calls ? { tool_calls: c.message.tool_calls } : {}) },
        logprobs: null,
        finish_reason: c.finish_reason,
      })),
      usage,
    });
  }
  const includeUsage = body.stream_options?.include_usage === true;
  const chunks: unknown[] = [];
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    chunks.push({ ...base, object: "chat.completion.chunk", choices, ...(includeUsage ? { usage: null } : {}), ...extra });
  result.choices.forEach((c, index) => {
    chunk([{ index, delta: { role: "assistant", content: c.message.tool_calls ? null : "", refusal: null }, logprobs: null, finish_reason: null }]);
    if (c.message.tool_calls) {
      c.message.tool_calls.forEach((t, ti) => {
        chunk([{ index, delta: { tool_calls: [{ index: ti, id: t.id, type: "function", function: { name: t.function.name, arguments: "" } }] }, logprobs: null, finish_reason: null }]);
        for (const piece of t.function.arguments.match(/.{1,8}/gs) ?? []) {
          chunk([{ index, delta: { tool_calls: [{ index: ti, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }]);
        }
      });
    } else {
      for (const piece of c.message.content?.match(/\S+\s*|\s+/g) ?? []) {
        chunk([{ index, delta: { content: piece }, logprobs: null, finish_reason: null }]);
      }
    }
    chunk([{ index, delta: {}, logprobs: null, finish_reason: c.finish_reason }]);
  });
  if (includeUsage) chunks.push({ ...base, object: "chat.completion.chunk", choices: [], usage });
  let cut = chunks.length + 1;
  if (faults.truncateStream) {
    onFault("truncateStream");
    cut = Math.max(1, Math.floor(chunks.length / 2)); // a prefix only: no finish_reason, no usage, no [DONE]
  }
  const enc = new TextEncoder();
  const lines = chunks.slice(0, cut).map((c) => `data: ${JSON.stringify(c)}\n\n`);
  if (cut > chunks.length) lines.push("data: [DONE]\n\n");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const l of lines) controller.enqueue(enc.encode(l));
      controller.close();
    },
  });
  return new Response(stream, { headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" } });
}
