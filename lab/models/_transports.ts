/**
 * Transports: one request to one provider, no retries (the lab's retry loop wraps them). Built on LangChain:
 * `ChatOpenAI` for OpenAI and every OpenAI-compatible server, and the @langchain/community integrations for
 * Together, Fireworks and DeepInfra, each with its base URL overridable (so tests hit the local server). For a
 * model the lab serves itself, {@linkcode backendTransport} calls its `ChatBackend` in process instead.
 * @module
 */
import { ChatOpenAI } from "@langchain/openai";
import { ChatTogetherAI } from "@langchain/community/chat_models/togetherai";
import { ChatFireworks } from "@langchain/community/chat_models/fireworks";
import { ChatDeepInfra } from "@langchain/community/chat_models/deepinfra";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import type { ChatGeneration } from "@langchain/core/outputs";
import type { ModelConfig } from "./config.ts";
import { HttpStatusError } from "./resilience.ts";
import type { ChatMessage, ChatTransport, RawChoice, RawToolCall, TransportRequest } from "./types.ts";
import {
  type BackendChatMessage,
  type BackendChatRequest,
  type ChatBackend,
  type ChatChoice,
  countChatTokens,
} from "./backend.ts";

/** Which LangChain class serves a request. */
export type Integration = "openai" | "together" | "fireworks" | "deepinfra";

/** The integration a provider uses by default. */
export function defaultIntegration(config: ModelConfig): Integration {
  return config.provider === "together" || config.provider === "fireworks" || config.provider === "deepinfra"
    ? config.provider
    : "openai";
}

/** Endpoint settings of a transport. */
export interface EndpointOptions {
  baseUrl: string;
  apiKey: string;
  /** A fetch to use instead of the global one (openai SDK-based integrations only); for benches. */
  fetch?: typeof fetch;
}

function toLangChainMessages(messages: readonly ChatMessage[]): BaseMessage[] {
  return messages.map((m) => {
    switch (m.role) {
      case "system":
        return new SystemMessage(m.content ?? "");
      case "user":
        return new HumanMessage(m.content ?? "");
      case "assistant":
        return new AIMessage({
          content: m.content ?? "",
          tool_calls: (m.toolCalls ?? []).map((c) => ({ id: c.id, name: c.name, args: c.args ?? {}, type: "tool_call" as const })),
        });
      case "tool":
        return new ToolMessage({ content: m.content ?? "", tool_call_id: m.toolCallId ?? "" });
    }
  });
}

function toolChoiceParam(c: TransportRequest["toolChoice"]): unknown {
  if (c === undefined || typeof c === "string") return c;
  return { type: "function", function: { name: c.name } };
}

function fromGeneration(g: ChatGeneration): RawChoice {
  const msg = g.message as AIMessage;
  const toolCalls: RawToolCall[] = [
    ...(msg.tool_calls ?? []).map((c) => ({ id: c.id ?? "", name: c.name, args: c.args as Record<string, unknown> })),
    ...(msg.invalid_tool_calls ?? []).map((c) => ({
      id: c.id ?? "",
      name: c.name ?? "",
      rawArgs: typeof c.args === "string" ? c.args : JSON.stringify(c.args ?? null),
      error: c.error ?? "arguments are not valid JSON",
    })),
  ];
  const content = typeof msg.content === "string" ? msg.content : JSON.stringify(msg.content);
  return { content: content || undefined, toolCalls: toolCalls.length ? toolCalls : undefined, finishReason: g.generationInfo?.finish_reason };
}

function usageOf(gens: ChatGeneration[]): { inputTokens: number; outputTokens: number } | undefined {
  const u = (gens[0]?.message as AIMessage | undefined)?.usage_metadata;
  if (!u || typeof u.input_tokens !== "number" || typeof u.output_tokens !== "number") return undefined;
  return { inputTokens: u.input_tokens, outputTokens: u.output_tokens };
}

/** DeepInfra's integration with its endpoint overridable, HTTP errors surfaced, and the OpenAI parameters it drops. */
class LabChatDeepInfra extends ChatDeepInfra {
  constructor(
    fields: ConstructorParameters<typeof ChatDeepInfra>[0],
    private readonly endpoint: string,
    private readonly extra: Record<string, unknown>,
  ) {
    super(fields);
    this.apiUrl = endpoint;
  }
  // The integration posts and parses JSON whatever the status; a 429 must reach the retry loop as a 429.
  override async completionWithRetry(
    request: Parameters<ChatDeepInfra["completionWithRetry"]>[0],
    _stream: boolean,
    signal?: AbortSignal,
  ): ReturnType<ChatDeepInfra["completionWithRetry"]> {
    const res = await fetch(this.endpoint, {
      method: "POST",
      headers: { Authorization: `Bearer ${this.apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ temperature: this.temperature, max_tokens: this.maxTokens, ...request, ...this.extra, model: this.model }),
      signal,
    });
    if (!res.ok) throw new HttpStatusError(res.status, res.headers, await res.text());
    return await res.json();
  }
}

type ModelFactory = (req: TransportRequest) => BaseChatModel;

function factory(config: ModelConfig, integration: Integration, ep: EndpointOptions): ModelFactory {
  const base = { model: config.model, maxRetries: 0 };
  const sampling = (r: TransportRequest) => ({
    ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
    ...(r.topP !== undefined ? { topP: r.topP } : {}),
    ...(r.maxTokens !== undefined ? { maxTokens: r.maxTokens } : {}),
    ...(r.n !== undefined && r.n > 1 ? { n: r.n } : {}),
  });
  const configuration = { baseURL: ep.baseUrl, ...(ep.fetch ? { fetch: ep.fetch } : {}) };
  // Sampling parameters are constructor fields in LangChain; instances are cached per parameter set.
  const cached = (make: ModelFactory): ModelFactory => {
    const seen = new Map<string, BaseChatModel>();
    return (r) => {
      const k = `${r.temperature}|${r.topP}|${r.maxTokens}|${r.n}`;
      let m = seen.get(k);
      if (!m) {
        if (seen.size > 64) seen.clear();
        m = make(r);
        seen.set(k, m);
      }
      return m;
    };
  };
  // The community classes hard-code their provider's base URL in the constructor; the lab points the
  // (lazily created) client elsewhere by setting its client config before the first call.
  const rebase = <T extends BaseChatModel>(m: T): T => {
    const mm = m as unknown as { clientConfig: Record<string, unknown> };
    mm.clientConfig = { ...mm.clientConfig, ...configuration };
    return m;
  };
  switch (integration) {
    case "openai":
      return cached((r) => new ChatOpenAI({ ...base, apiKey: ep.apiKey, configuration, ...sampling(r) }));
    case "together":
      return cached((r) => rebase(new ChatTogetherAI({ ...base, apiKey: ep.apiKey, ...sampling(r) })));
    case "fireworks":
      return cached((r) => rebase(new ChatFireworks({ ...base, apiKey: ep.apiKey, ...sampling(r) })));
    case "deepinfra":
      // Built per request: the parameters it lacks (top_p, seed, n, tool_choice) ride in the body.
      return (r) =>
        new LabChatDeepInfra(
          { ...base, apiKey: ep.apiKey, ...(r.temperature !== undefined ? { temperature: r.temperature } : {}), ...(r.maxTokens !== undefined ? { maxTokens: r.maxTokens } : {}) },
          `${ep.baseUrl.replace(/\/$/, "")}/chat/completions`,
          {
            ...(r.topP !== undefined ? { top_p: r.topP } : {}),
            ...(r.seed !== undefined ? { seed: r.seed } : {}),
            ...(r.n !== undefined && r.n > 1 ? { n: r.n } : {}),
            ...(r.toolChoice !== undefined ? { tool_choice: toolChoiceParam(r.toolChoice) } : {}),
          },
        );
  }
}

/** A transport through LangChain for `config` (integration chosen by provider unless given). */
export function langChainTransport(config: ModelConfig, ep: EndpointOptions, integration = defaultIntegration(config)): ChatTransport {
  const make = factory(config, integration, ep);
  return async (req, signal) => {
    const model = make(req);
    // `generate` with tools as call options is what `bindTools(...).invoke` does, but keeps all n choices.
    const callOptions: Record<string, unknown> = { signal };
    if (req.tools?.length) callOptions.tools = req.tools;
    if (integration !== "deepinfra") {
      if (req.toolChoice !== undefined) callOptions.tool_choice = toolChoiceParam(req.toolChoice);
      if (req.seed !== undefined) callOptions.seed = req.seed;
    }
    const result = await model.generate([toLangChainMessages(req.messages)], callOptions);
    const gens = result.generations[0] as ChatGeneration[];
    return { choices: gens.map(fromGeneration), usage: usageOf(gens) };
  };
}

// ── In-process transport ───────────────────────────────────────────────────────────────────────────────────────

/**
 * The backend request the local server would build from this request as LangChain sends it over HTTP (assistant
 * content `""` rather than null, tool-call arguments as JSON text, `n` defaulting to 1), so a local model sees the
 * same conversation — and, hashing it, replies the same — in process as through the server.
 */
function toBackendRequest(model: string, req: TransportRequest, signal: AbortSignal): BackendChatRequest {
  const messages = req.messages.map((m): BackendChatMessage => {
    switch (m.role) {
      case "assistant":
        return {
          role: "assistant",
          content: m.content ?? "",
          ...(m.toolCalls?.length
            ? {
              tool_calls: m.toolCalls.map((c) => ({
                id: c.id,
                type: "function" as const,
                function: { name: c.name, arguments: JSON.stringify(c.args ?? {}) },
              })),
            }
            : {}),
        };
      case "tool":
        return { role: "tool", content: m.content ?? "", ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}) };
      default:
        return { role: m.role, content: m.content ?? "" };
    }
  });
  const choice = req.toolChoice;
  return {
    model,
    messages,
    tools: req.tools?.length ? req.tools.map((t) => ({ type: "function", function: t.function })) : undefined,
    tool_choice: choice === undefined || typeof choice === "string" ? choice : { type: "function", function: { name: choice.name } },
    temperature: req.temperature,
    top_p: req.topP,
    seed: req.seed,
    n: req.n ?? 1,
    max_tokens: req.maxTokens,
    signal,
  };
}

function fromBackendChoice(c: ChatChoice): RawChoice {
  const toolCalls = c.message.tool_calls?.map((t): RawToolCall => {
    try {
      const args = JSON.parse(t.function.arguments);
      if (args && typeof args === "object" && !Array.isArray(args)) return { id: t.id, name: t.function.name, args };
      return { id: t.id, name: t.function.name, rawArgs: t.function.arguments, error: "arguments are not a JSON object" };
    } catch (e) {
      return { id: t.id, name: t.function.name, rawArgs: t.function.arguments, error: (e as Error).message };
    }
  });
  return {
    content: c.message.content || undefined,
    toolCalls: toolCalls?.length ? toolCalls : undefined,
    finishReason: c.finish_reason,
  };
}

/**
 * A transport that calls a local {@linkcode ChatBackend} in this process — no HTTP, no SDK — for models the lab
 * serves itself (`provider: local`). It behaves like the local server in front of the backend: the same request
 * shape, the same context-window refusal (HTTP 400, not retried), and any other backend failure as an HTTP 500
 * (retried). A tournament on lab-mini spends most of its time here otherwise, in JSON, HTTP and LangChain.
 */
export function backendTransport(backend: ChatBackend): ChatTransport {
  return async (req, signal) => {
    signal.throwIfAborted();
    const request = toBackendRequest(backend.id, req, signal);
    const prompt = countChatTokens(request.messages, request.tools);
    const total = prompt + (request.max_tokens ?? 0);
    if (total > backend.contextWindow) {
      throw new HttpStatusError(
        400,
        new Headers(),
        `This model's maximum context length is ${backend.contextWindow} tokens. However, you requested ${total} tokens ` +
          `(${prompt} in the messages, ${request.max_tokens ?? 0} in the completion).`,
      );
    }
    let result;
    try {
      result = await backend.complete(request);
    } catch (e) {
      if (signal.aborted) throw e;
      const status = typeof (e as { status?: unknown }).status === "number" ? (e as { status: number }).status : 500;
      throw new HttpStatusError(status, new Headers(), `${backend.id}: ${(e as Error).message ?? e}`);
    }
    return {
      choices: result.choices.map(fromBackendChoice),
      usage: { inputTokens: result.usage.prompt_tokens, outputTokens: result.usage.completion_tokens },
    };
  };
}
