/**
 * The runner against the REAL local OpenAI-compatible server (LangChain ChatOpenAI over HTTP) with the
 * placeholder model: the loop runs end to end. The placeholder does not reason, so it fails the challenge.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { loadCatalog } from "../challenges/mod.ts";
import { createChatModel, getModelConfig, loadModelsConfig } from "../models/mod.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { loadStrategiesConfig, runEpisode, stripTimings } from "../agents/mod.ts";

let pool: SandboxPool;
let server: LocalServer;
beforeAll(async () => {
  const dir = await Deno.makeTempDir({ prefix: "lab-agents-srv-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: "2025-11-28" });
  pool = await SandboxPool.open(path, { size: 1 });
  server = await startServer({ port: 0 });
});
afterAll(async () => {
  pool?.close();
  await server?.close();
});

describe("runEpisode against the local server", () => {
  it("runs the loop end to end with the placeholder model and records a trace of the expected shape", async () => {
    const [challenge] = await loadCatalog({ family: "revenue_for_period" });
    const cfg = await loadStrategiesConfig();
    const model = createChatModel(getModelConfig(await loadModelsConfig(), "local"), { baseUrl: server.url });
    const before = server.stats().requests;
    const rec = await runEpisode({ challenge, strategy: cfg.strategies.alpha, model, attempt: 0, seed: 1 }, {
      pool,
      fitness: cfg.fitness,
    });

    // The placeholder calls the first tool (dbRead with sql "sql"), then answers tool results with text; the
    // runner nudges once, the placeholder calls dbRead again, replies with text again, and the episode stops.
    expect(rec.stopReason).toBe("no_tool_call");
    expect(rec.messages.map((m) => m.role)).toEqual(
      ["system", "user", "assistant", "tool", "assistant", "user", "assistant", "tool", "assistant"],
    );
    expect(rec.toolCalls.map((t) => [t.name, t.args, t.ok])).toEqual([["dbRead", { sql: "sql" }, false], ["dbRead", {
      sql: "sql",
    }, false]]);
    expect(rec.toolCalls[0].error).toMatch(/syntax error/i);
    expect(rec.queries.map((q) => [q.sql, q.ok, q.call])).toEqual([["sql", false, 0], ["sql", false, 1]]);
    expect(rec.steps).toHaveLength(4);
    expect(rec.steps.every((s) => s.usage.source === "response" && s.usage.inputTokens > 0 && !s.cached)).toBe(true);
    expect(rec.tokens.total).toBe(rec.steps.reduce((a, s) => a + s.usage.inputTokens + s.usage.outputTokens, 0));
    expect(rec).toMatchObject({
      model: { name: "local", id: "lab-mini-placeholder" },
      costUsd: 0,
      answer: null,
      modelErrors: [],
    });
    expect(rec.verdict).toMatchObject({ pass: false, score: 0 });
    expect(rec.fitness).toMatchObject({ composite: 0, queryAverage: 0, turn: { fitness: 0 } });
    // The server saw one chat request per step.
    expect(server.stats().requests - before).toBe(4);
    expect(model.stats()).toMatchObject({ calls: 4, attempts: 4, modelErrors: 0 });

    // The placeholder is deterministic, so a second run is the same record apart from timings.
    const again = await runEpisode({ challenge, strategy: cfg.strategies.alpha, model, attempt: 0, seed: 1 }, {
      pool,
      fitness: cfg.fitness,
    });
    expect(stripTimings(again)).toEqual(stripTimings(rec));
  });
});
