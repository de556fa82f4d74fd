import { describe, expect, it } from "vitest";
import { openAiToolSchemas } from "../tools/mod.ts";
import { datasetsConfig, defaultEpochs, validateChatJsonl } from "./mod.ts";

const TOOLS = openAiToolSchemas();
const call = (id: string, name = "dbRead", args = '{"sql":"SELECT count(*) FROM invoices"}') => ({
  id,
  type: "function",
  function: { name, arguments: args },
});
/** A valid example: system, user, a dbRead call and its result, the answer. */
const good = () => ({
  messages: [
    { role: "system", content: "You are an ERP assistant working through tools.\nYour role: cfo." },
    { role: "user", content: "How many invoices are there?" },
    { role: "assistant", content: null, tool_calls: [call("c1")] },
    { role: "tool", tool_call_id: "c1", content: '{"ok":true,"rows":[{"count_star()":42}]}' },
    { role: "assistant", content: "There are 42 invoices." },
  ] as Record<string, unknown>[],
  tools: TOOLS as unknown[],
});
type Line = ReturnType<typeof good>;
const edit = (f: (l: Line) => void) => {
  const l = good();
  f(l);
  return JSON.stringify(l);
};

/** One planted defect per line (line number → the code it must be reported with). */
const PLANTED: [string, string | undefined][] = [
  [JSON.stringify(good()), undefined],
  ["{not json", "invalid_json"],
  ["[1, 2]", "data_type"],
  ['{"messages": []}', "missing_messages_list"],
  [edit((l) => delete l.messages[1].role), "message_missing_key"],
  [edit((l) => (l.messages[1].mood = "curious")), "message_unrecognized_key"],
  [edit((l) => (l.messages[1].role = "robot")), "unrecognized_role"],
  [edit((l) => (l.messages[1].content = null)), "missing_content"],
  [edit((l) => (l.messages = l.messages.slice(0, 2))), "example_missing_assistant_message"],
  [edit((l) => (l.messages[4].weight = 2)), "bad_weight"],
  [edit((l) => (l.tools = ["dbRead"])), "bad_tools_field"],
  [edit((l) => (l.messages[2].tool_calls = call("c1"), l.messages.splice(3, 1))), "tool_calls_not_list"],
  [edit((l) => (l.messages[2].tool_calls = [{ ...call("c1"), type: "fn" }])), "tool_call_malformed"],
  [edit((l) => (l.messages[2].tool_calls = [call("c1", "dbRead", "{sql: SELECT 1")])), "tool_call_bad_arguments"],
  [edit((l) => (l.messages[2].tool_calls = [call("c1", "dropTables")])), "unknown_tool"],
  [edit((l) => (l.tools = TOOLS.filter((t) => t.function.name !== "dbRead"))), "tool_not_offered"],
  [edit((l) => (l.messages[2].tool_calls = [call("c1"), call("c1")])), "duplicate_tool_call_id"],
  [edit((l) => l.messages.splice(4, 0, { role: "tool", content: "{}" })), "tool_message_missing_id"],
  [edit((l) => l.messages.splice(4, 0, { role: "tool", tool_call_id: "c9", content: "{}" })), "unmatched_tool_call_id"],
  [edit((l) => (l.messages[2].tool_calls = [call("c1"), call("c2")])), "unanswered_tool_call"],
  ["", "blank_line"],
  [edit((l) => (l.messages[1].content = "invoice ".repeat(3000))), "too_long"],
  [JSON.stringify(good()), undefined],
];

describe("validateChatJsonl", () => {
  const config = datasetsConfig();

  it("reports each of 20 planted defects with its line, and nothing else", async () => {
    const text = `${PLANTED.map(([line]) => line).join("\n")}\n`;
    const r = await validateChatJsonl(text, config, { contextWindow: 2500 });
    expect(r.problems.map((p) => ({ line: p.line, code: p.code }))).toEqual(
      PLANTED.flatMap(([, code], i) => (code ? [{ line: i + 1, code }] : [])),
    );
    expect(r).toMatchObject({ ok: false, lines: PLANTED.length - 1, valid: 2 });
    expect(r.problems.find((p) => p.code === "unknown_tool")?.message).toBe(
      "messages[2].tool_calls[0]: 'dropTables' is not a lab tool",
    );
  });

  it("counts tokens against the context window and estimates epochs and cost (the cookbook's rules)", async () => {
    const text = `${Array.from({ length: 3 }, () => JSON.stringify(good())).join("\n")}\n`;
    const r = await validateChatJsonl(text, config, { usdPer1m: 10 });
    const per = r.tokens.max;
    expect(r).toMatchObject({ ok: true, lines: 3, valid: 3, problems: [], contextWindow: 65536, encoding: "cl100k_base" });
    expect(r.tokens).toEqual({ total: 3 * per, min: per, max: per, mean: per, p50: per, p95: per, overLimit: 0 });
    expect(per).toBeGreaterThan(100); // the tools' schemas count
    expect(r.epochs).toBe(25); // 3 examples: 100 / 3 passes, at most 25
    expect(r.billingTokensPerEpoch).toBe(3 * per);
    expect(r.estimatedCostUsd).toBe(Math.round(3 * per * 25 / 1e6 * 10 * 100) / 100);
    expect([1, 50, 20_000].map((n) => defaultEpochs(n, config.validation))).toEqual([25, 3, 1]);
  });
});
