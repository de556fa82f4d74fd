/**
 * A scripted chat model for tests and demos: the lab's real chat client (`createChatModel`) over an in-process
 * transport that replays scripted replies, so tool-call validation, usage and stats behave exactly as with a
 * served model — without a server.
 * @module
 */
import {
  type ChatModel,
  createChatModel,
  ModelEntry,
  canonicalJson,
  type RawChoice,
  type RawToolCall,
  type TransportRequest,
} from "../models/mod.ts";

/** One scripted tool call: parsed `args`, or `rawArgs` that are sent as is (malformed JSON for tests). */
export type ScriptedCall = { name: string; args: Record<string, unknown> } | { name: string; rawArgs: string };

/** One scripted reply: tool calls, or text only. */
export interface ScriptedReply {
  content?: string;
  calls?: ScriptedCall[];
}

/**
 * A script: replies in order (one per model call; an array of replies gives the `n` choices of a
 * self-consistency step), or a function of the request and the call index. When a list runs out the model
 * replies with text only.
 */
export type Script =
  | readonly (ScriptedReply | readonly ScriptedReply[])[]
  | ((request: TransportRequest, call: number) => ScriptedReply | readonly ScriptedReply[]);

/** A scripted model and the requests it received. */
export interface ScriptedModel extends ChatModel {
  /** Every request, in order (messages, tools, sampling, seed). */
  readonly requests: TransportRequest[];
}

function toChoice(r: ScriptedReply, call: number, choice: number): RawChoice {
  const toolCalls = (r.calls ?? []).map((c, i): RawToolCall => {
    const id = `call_${call}_${choice}_${i}`;
    if ("rawArgs" in c) {
      try {
        return { id, name: c.name, args: JSON.parse(c.rawArgs) };
      } catch (e) {
        return { id, name: c.name, rawArgs: c.rawArgs, error: (e as Error).message };
      }
    }
    return { id, name: c.name, args: c.args };
  });
  return {
    ...(r.content !== undefined ? { content: r.content } : {}),
    ...(toolCalls.length ? { toolCalls, finishReason: "tool_calls" } : { finishReason: "stop" }),
  };
}

/**
 * Creates a scripted model. Usage is counted as characters / 4 of the request and the reply (deterministic,
 * no tokenizer load); cost is 0.
 *
 * @example
 * ```ts
 * const model = scriptedModel([
 *   { calls: [{ name: "viewsList", args: {} }] },
 *   { calls: [{ name: "dbRead", args: { sql: "SELECT 1 AS x" } }] },
 *   { calls: [{ name: "submitAnswer", args: { answer: 1 } }] },
 * ]);
 * const rec = await runEpisode({ challenge, strategy, model, attempt: 0, seed: 1 }, { pool });
 * ```
 */
export function scriptedModel(script: Script, options: { name?: string } = {}): ScriptedModel {
  const name = options.name ?? "scripted";
  const requests: TransportRequest[] = [];
  const entry = ModelEntry.parse({
    provider: "local",
    model: name,
    base_url: "http://127.0.0.1:9/v1",
    context_window: 128000,
    max_retries: 0,
  });
  const model = createChatModel({ ...entry, name }, {
    transport: (req) => {
      const call = requests.length;
      requests.push(structuredClone(req));
      const out = typeof script === "function" ? script(req, call) : script[call] ?? { content: "(script ended)" };
      const replies: readonly ScriptedReply[] = Array.isArray(out) ? out : [out as ScriptedReply];
      const choices = replies.map((r, i) => toChoice(r, call, i));
      return Promise.resolve({
        choices,
        usage: {
          inputTokens: Math.ceil(canonicalJson([req.messages, req.tools ?? null]).length / 4),
          outputTokens: Math.ceil(canonicalJson(choices).length / 4),
        },
      });
    },
  });
  return Object.assign(model, { requests });
}
