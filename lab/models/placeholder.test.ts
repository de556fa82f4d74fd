import { describe, expect, it } from "vitest";
import { exampleFromSchema, placeholderBackend } from "./placeholder.ts";
import { countChatTokens } from "./backend.ts";

const model = placeholderBackend();
const TOOLS = [
  { type: "function" as const, function: { name: "schemaInfo", parameters: { type: "object", properties: {} } } },
  { type: "function" as const, function: { name: "dbWrite", parameters: { type: "object", properties: { sql: { type: "string" }, confirm: { type: "boolean" }, note: { type: "string" } }, required: ["sql", "confirm"] } } },
];

describe("placeholder backend", () => {
  it("builds minimal arguments from a JSON schema: required properties with type-appropriate values", () => {
    expect(exampleFromSchema({
      type: "object",
      properties: {
        sql: { type: "string" },
        n: { type: "integer", minimum: 5 },
        x: { type: "number" },
        ok: { type: "boolean" },
        kind: { enum: ["a", "b"] },
        ids: { type: "array", items: { type: "integer" }, minItems: 1 },
        when: { anyOf: [{ type: "null" }, { type: "string" }] },
        nested: { type: "object", properties: { a: { type: "string" }, b: { type: "string" } }, required: ["a"] },
        optional: { type: "string" },
      },
      required: ["sql", "n", "x", "ok", "kind", "ids", "when", "nested"],
    })).toEqual({ sql: "sql", n: 5, x: 1, ok: true, kind: "a", ids: [1], when: "when", nested: { a: "a" } });
  });

  it("calls the first tool, or the one tool_choice names, unless the last message is a tool result", async () => {
    const ask = { model: model.id, messages: [{ role: "user" as const, content: "go" }], tools: TOOLS };
    expect((await model.complete(ask)).choices[0].message.tool_calls?.[0].function).toEqual({ name: "schemaInfo", arguments: "{}" });
    const named = await model.complete({ ...ask, tool_choice: { type: "function", function: { name: "dbWrite" } } });
    expect(named.choices[0]).toMatchObject({ finish_reason: "tool_calls", message: { content: null, tool_calls: [{ function: { name: "dbWrite", arguments: '{"sql":"sql","confirm":true}' } }] } });
    const afterTool = await model.complete({ ...ask, messages: [...ask.messages, { role: "tool", tool_call_id: "c1", content: "done" }] });
    expect(afterTool.choices[0]).toMatchObject({ finish_reason: "stop", message: { content: expect.stringContaining('the tool returned: "done"') } });
    expect((await model.complete({ ...ask, tool_choice: "none" })).choices[0].message.tool_calls).toBeUndefined();
  });

  it("is deterministic given messages, tools, seed and temperature, and counts prompt tokens", async () => {
    const req = { model: model.id, messages: [{ role: "user" as const, content: "hello" }], seed: 3, temperature: 0.7, n: 3 };
    const a = await model.complete(req);
    expect(await model.complete(req)).toEqual(a);
    expect(a.usage.prompt_tokens).toBe(countChatTokens(req.messages));
    expect(a.choices).toHaveLength(3);
  });

  it("is labelled as a placeholder", () => {
    expect([model.id, model.contextWindow, model.ownedBy]).toEqual(["lab-mini-placeholder", 4096, "lab (placeholder until lab-mini lands)"]);
  });
});
