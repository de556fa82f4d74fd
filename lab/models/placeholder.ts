/**
 * The placeholder model `lab-mini-placeholder`: a deterministic stand-in that speaks the chat protocol
 * (text replies, tool calls built from the tools' JSON schemas) so every client path can be exercised before
 * `lab-mini` lands. It does not reason; `/v1/models` labels it as a placeholder.
 *
 * Determinism: the reply is a function of (messages, tools, tool_choice, seed, temperature). With
 * temperature > 0 the `n` choices differ from each other (the choice index enters the hash); at temperature 0
 * (or unset) they are identical.
 *
 * @example
 * ```ts
 * const model = placeholderBackend();
 * const r = await model.complete({ model: model.id, messages: [{ role: "user", content: "hi" }] });
 * ```
 */
import { fnv1a } from "../util/mod.ts";
import { type BackendChatRequest, type BackendToolCall, type ChatBackend, type ChatChoice, countChatTokens, countTokens, encoder, type ToolDefinition } from "./backend.ts";

/** The placeholder's model id. */
export const PLACEHOLDER_MODEL = "lab-mini-placeholder";

/** Options for {@linkcode placeholderBackend}. */
export interface PlaceholderOptions {
  /** @default "lab-mini-placeholder" */
  id?: string;
  /** @default 4096 */
  contextWindow?: number;
  /** @default "lab (placeholder until lab-mini lands)" */
  ownedBy?: string;
}

export { fnv1a };

type Schema = Record<string, unknown>;

/** A minimal value satisfying `schema`: required properties only, type-appropriate values. */
export function exampleFromSchema(schema: Schema | undefined, name = "value"): unknown {
  if (!schema || typeof schema !== "object") return {};
  if ("const" in schema) return schema.const;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  if ("default" in schema) return schema.default;
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (Array.isArray(variants) && variants.length) return exampleFromSchema(variants.find((v) => v.type !== "null") ?? variants[0], name);
  const type = Array.isArray(schema.type) ? (schema.type as string[]).find((t) => t !== "null") : schema.type as string | undefined;
  switch (type ?? (schema.properties ? "object" : undefined)) {
    case "string":
      return name;
    case "integer":
    case "number":
      return typeof schema.minimum === "number" ? schema.minimum : 1;
    case "boolean":
      return true;
    case "null":
      return null;
    case "array": {
      const min = typeof schema.minItems === "number" ? schema.minItems : 0;
      return Array.from({ length: min }, () => exampleFromSchema(schema.items as Schema, name));
    }
    case "object": {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const required = Array.isArray(schema.required) ? schema.required as string[] : [];
      return Object.fromEntries(required.map((k) => [k, exampleFromSchema(props[k], k)]));
    }
    default:
      return {};
  }
}

const OPENERS = ["Noted.", "Understood.", "Got it.", "Okay.", "Right.", "Sure."];

function clip(text: string, max = 60): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

function pickTool(req: BackendChatRequest): ToolDefinition | undefined {
  const tools = req.tools ?? [];
  if (!tools.length || req.tool_choice === "none" || req.messages.at(-1)?.role === "tool") return undefined;
  const choice = req.tool_choice;
  if (choice && typeof choice === "object") return tools.find((t) => t.function.name === choice.function.name);
  return tools[0];
}

/** Creates the placeholder backend. */
export function placeholderBackend(options: PlaceholderOptions = {}): ChatBackend {
  const id = options.id ?? PLACEHOLDER_MODEL;
  return {
    id,
    contextWindow: options.contextWindow ?? 4096,
    ownedBy: options.ownedBy ?? "lab (placeholder until lab-mini lands)",
    complete(req) {
      const base = JSON.stringify([req.messages, req.tools ?? null, req.tool_choice ?? null, req.seed ?? null, req.temperature ?? null]);
      const varied = (req.temperature ?? 0) > 0;
      const tool = pickTool(req);
      const choices: ChatChoice[] = [];
      let completion = 0;
      for (let i = 0; i < (req.n ?? 1); i++) {
        const h = fnv1a(varied ? `${base}#${i}` : base);
        if (tool) {
          const args = JSON.stringify(exampleFromSchema(tool.function.parameters ?? { type: "object" }));
          const call: BackendToolCall = { id: `call_${h.toString(36)}${i}`, type: "function", function: { name: tool.function.name, arguments: args } };
          completion += countTokens(tool.function.name) + countTokens(args);
          choices.push({ message: { role: "assistant", content: null, tool_calls: [call] }, finish_reason: "tool_calls" });
          continue;
        }
        const last = req.messages.at(-1);
        const said = last?.role === "tool"
          ? `the tool returned: "${clip(last.content ?? "")}"`
          : `you said: "${clip(last?.content ?? "")}"`;
        let text = `${OPENERS[h % OPENERS.length]} I am the placeholder model; ${said}`;
        let finish: ChatChoice["finish_reason"] = "stop";
        const tokens = encoder().encode(text);
        if (req.max_tokens !== undefined && tokens.length > req.max_tokens) {
          text = encoder().decode(tokens.slice(0, req.max_tokens));
          finish = "length";
        }
        completion += Math.min(tokens.length, req.max_tokens ?? Infinity);
        choices.push({ message: { role: "assistant", content: text }, finish_reason: finish });
      }
      return Promise.resolve({ choices, usage: { prompt_tokens: countChatTokens(req.messages, req.tools), completion_tokens: completion } });
    },
  };
}
