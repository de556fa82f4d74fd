/**
 * Token counting with js-tiktoken, for responses that carry no usage (some self-hosted servers) and for
 * estimates. Encodings load lazily (about a second each) and once per process.
 * @module
 */
import { Tiktoken } from "js-tiktoken/lite";
import type { Provider } from "./config.ts";

/** Encodings the lab counts with. */
export type Encoding = "o200k_base" | "cl100k_base";

const encoders = new Map<Encoding, Promise<Tiktoken>>();

/** The tiktoken encoder for `name`, loaded on first use. */
export function encoder(name: Encoding): Promise<Tiktoken> {
  let e = encoders.get(name);
  if (!e) {
    e = (name === "o200k_base"
      ? import("js-tiktoken/ranks/o200k_base")
      : import("js-tiktoken/ranks/cl100k_base")).then((m) => new Tiktoken(m.default));
    encoders.set(name, e);
  }
  return e;
}

/** The encoding to count a provider's tokens with when the model entry names none. */
export function defaultEncoding(provider: Provider): Encoding {
  // OpenAI's current models use o200k_base; open-weight models have their own tokenizers, for which
  // cl100k_base is the usual approximation.
  return provider === "openai" ? "o200k_base" : "cl100k_base";
}

/** A message as counted: role, text and tool calls. */
export interface CountableMessage {
  role: string;
  content?: string | null;
  toolCalls?: { name: string; args?: unknown; rawArgs?: string }[];
  name?: string;
}

/**
 * Tokens of a chat prompt, after OpenAI's published recipe: 3 per message + its text, 3 to prime the reply;
 * tool definitions are counted as their JSON (an approximation; providers render them differently).
 */
export async function countPromptTokens(
  messages: readonly CountableMessage[],
  tools: readonly unknown[] | undefined,
  encoding: Encoding,
): Promise<number> {
  const enc = await encoder(encoding);
  let n = 3;
  for (const m of messages) n += 3 + countMessage(enc, m);
  if (tools?.length) n += enc.encode(JSON.stringify(tools)).length;
  return n;
}

/** Tokens of a model's reply. */
export async function countCompletionTokens(message: CountableMessage, encoding: Encoding): Promise<number> {
  return countMessage(await encoder(encoding), message);
}

function countMessage(enc: Tiktoken, m: CountableMessage): number {
  let n = enc.encode(m.role).length;
  if (m.content) n += enc.encode(m.content).length;
  if (m.name) n += 1 + enc.encode(m.name).length;
  for (const c of m.toolCalls ?? []) {
    n += 3 + enc.encode(c.name).length + enc.encode(c.rawArgs ?? JSON.stringify(c.args ?? {})).length;
  }
  return n;
}

/** A cheap estimate (characters / 4) for rate limiting and budgets, where a tokenizer would cost too much. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
