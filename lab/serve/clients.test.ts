/**
 * Third-party clients pointed at the local server: LangChain's ChatOpenAI and the @langchain/community
 * integrations for Together AI, Fireworks and DeepInfra.
 *
 * Together and Fireworks hard-code `configuration.baseURL` in their constructors (a passed `configuration`
 * is overwritten), so the base URL is overridden on the public `clientConfig` field after construction, before
 * the first call creates the client. DeepInfra does not use the openai SDK: it `fetch`es its public `apiUrl`
 * field (the full chat-completions URL), which is overridden the same way.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatOpenAI } from "@langchain/openai";
import { ChatTogetherAI } from "@langchain/community/chat_models/togetherai";
import { ChatFireworks } from "@langchain/community/chat_models/fireworks";
import { ChatDeepInfra } from "@langchain/community/chat_models/deepinfra";
import { type AIMessage, type AIMessageChunk, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { type LocalServer, startServer } from "./mod.ts";

const MODEL = "lab-mini-placeholder";
const DB_READ = {
  type: "function" as const,
  function: {
    name: "dbRead",
    description: "Run one read-only SQL statement",
    parameters: { type: "object", properties: { sql: { type: "string" } }, required: ["sql"] },
  },
};

let server: LocalServer;
beforeAll(async () => {
  server = await startServer({ token: "lc-token" });
});
afterAll(() => server.close());

describe("LangChain clients against the local server", () => {
  it("ChatOpenAI with configuration.baseURL answers text and bound tools come back as tool_calls", async () => {
    const model = new ChatOpenAI({ model: MODEL, apiKey: "lc-token", configuration: { baseURL: server.url }, maxRetries: 0 });
    const text = await model.invoke("How many invoices are open?");
    expect(text.content).toContain("How many invoices are open?");
    expect(text.usage_metadata).toMatchObject({ input_tokens: expect.any(Number), output_tokens: expect.any(Number) });
    const withTools = model.bindTools([DB_READ]);
    const call = await withTools.invoke([new HumanMessage("count them")]);
    expect(call.tool_calls).toEqual([{ id: expect.stringMatching(/^call_/), name: "dbRead", args: { sql: "sql" }, type: "tool_call" }]);
    const after = await withTools.invoke([new HumanMessage("count them"), call, new ToolMessage({ tool_call_id: call.tool_calls![0].id!, content: "[[7]]" })]);
    expect(after.tool_calls).toEqual([]);
    expect(after.content).toContain("the tool returned");
  });

  it("ChatOpenAI streams tool-call chunks that concatenate to the call", async () => {
    const model = new ChatOpenAI({ model: MODEL, apiKey: "lc-token", configuration: { baseURL: server.url }, maxRetries: 0 }).bindTools([DB_READ]);
    let full: AIMessageChunk | undefined;
    for await (const chunk of await model.stream("count them")) full = full ? full.concat(chunk) : chunk;
    expect(full?.tool_calls?.map((c) => [c.name, c.args])).toEqual([["dbRead", { sql: "sql" }]]);
  });

  it("ChatTogetherAI and ChatFireworks answer once their clientConfig.baseURL points here", async () => {
    for (const model of [new ChatTogetherAI({ model: MODEL, apiKey: "lc-token", maxRetries: 0 }), new ChatFireworks({ model: MODEL, apiKey: "lc-token", maxRetries: 0 })]) {
      model.clientConfig = { ...model.clientConfig, baseURL: server.url };
      const before = server.stats().requests;
      const r = await model.invoke("hello");
      expect(r.content).toContain("hello");
      const call = await model.bindTools([DB_READ]).invoke("count them");
      expect(call.tool_calls?.map((c) => [c.name, c.args])).toEqual([["dbRead", { sql: "sql" }]]);
      expect(server.stats().requests - before).toBe(2);
    }
  });

  it("ChatDeepInfra answers once its apiUrl points here (it fetches that URL directly)", async () => {
    const model = new ChatDeepInfra({ model: MODEL, apiKey: "lc-token", maxRetries: 0 });
    model.apiUrl = `${server.url}/chat/completions`;
    const before = server.stats().requests;
    const r = await model.invoke([new HumanMessage("hello")]);
    expect(r.content).toContain("hello");
    const call = await model.bindTools([DB_READ]).invoke([new HumanMessage("count them")]);
    expect((call as AIMessage).tool_calls?.map((c) => [c.name, c.args])).toEqual([["dbRead", { sql: "sql" }]]);
    expect(server.stats().requests - before).toBe(2);
  });
});
