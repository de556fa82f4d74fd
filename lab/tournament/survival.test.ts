/**
 * A tournament survives an episode whose database is lost. A scripted model sends a statement whose constant
 * folding overruns the time limit (the worker process is killed), and while it does, the sandbox file is moved
 * away so the replacement worker cannot load: the episode's state cannot be restored. That episode must be
 * recorded as a `sandbox_error` (never a pass), the instance rebuilt for the next episode, and every other
 * episode of the run unaffected.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { existsSync, renameSync } from "node:fs";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import type { EpisodeRecord } from "../agents/mod.ts";
import { createChatModel, ModelEntry } from "../models/mod.ts";
import { queryStore, runTournament } from "./mod.ts";
import { AS_OF, plantedSetup, STRONG } from "./_test_model.ts";

const HEAVY = "SELECT length(list_reduce([repeat('ab', i) for i in range(30000)], (a, b) -> a || b)) AS n";

let dir: string;
let path: string;
let pool: SandboxPool;

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-survival-" });
  path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(path, { size: 1, graceMs: 300 });
});
afterAll(async () => {
  pool?.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("a tournament survives a lost episode database", () => {
  it("records the episode as a sandbox error, rebuilds the instance and runs every other episode", async () => {
    const { config, strategies, challenges, sqlByTask } = await plantedSetup({
      strategies: ["weak", "strong"],
      generations: 1,
      attempts: 1,
      concurrency: 1,
    });
    const away = `${path}.away`;
    let hostileStarted = false;
    const entry = ModelEntry.parse({
      provider: "local",
      model: "scripted",
      base_url: "http://127.0.0.1:9/v1",
      context_window: 128000,
      max_retries: 0,
    });
    const model = createChatModel({ ...entry, name: "scripted" }, {
      transport: (req) => {
        const turn = req.messages.filter((m) => m.role === "assistant").length;
        const task = String(req.messages.find((m) => m.role === "user")?.content);
        const system = String(req.messages[0].content);
        let call: { name: string; args: Record<string, unknown> };
        const hostileConversation = JSON.stringify(req.messages).includes("list_reduce");
        if (turn === 0 && !hostileStarted && system.includes(STRONG)) {
          // The first strong episode: move the sandbox away and overrun the limit …
          hostileStarted = true;
          renameSync(path, away);
          call = { name: "dbRead", args: { sql: HEAVY } };
        } else if (hostileConversation) {
          // … and any further call finds the episode's state lost.
          call = { name: "dbRead", args: { sql: "SELECT 1 AS x" } };
        } else if (turn === 0) {
          call = { name: "dbRead", args: { sql: system.includes(STRONG) ? sqlByTask.get(task) ?? "SELECT 0 AS n" : "SELECT 0 AS n" } };
        } else {
          const last = JSON.parse(String(req.messages.findLast((m) => m.role === "tool")?.content ?? "{}"));
          call = { name: "submitAnswer", args: { answer: Number(last.rows?.[0] ? Object.values(last.rows[0])[0] : 0) } };
        }
        return Promise.resolve({
          choices: [{ toolCalls: [{ id: `call_${turn}`, ...call }], finishReason: "tool_calls" }],
          usage: { inputTokens: 10, outputTokens: 5 },
        });
      },
    });
    const seen: EpisodeRecord[] = [];
    const db = join(dir, "lab.duckdb");
    const result = await runTournament(config, {
      db,
      runId: "survival",
      model,
      strategies,
      pool,
      challenges,
      toolLimits: { timeoutMs: 200 },
      stats: { resamples: 100 },
      // Runs after the episode's release and before the next acquire: put the sandbox back.
      sink: (record) => {
        seen.push(record);
        if (existsSync(away)) renameSync(away, path);
        return Promise.resolve();
      },
    });
    expect(result.status).toBe("completed");
    const rows = await queryStore(
      db,
      "SELECT strategy_id, challenge_id, pass, stop_reason FROM episodes WHERE run_id = 'survival' ORDER BY id",
    );
    expect(rows).toHaveLength(challenges.length * 2);
    const lost = rows.filter((r) => r.stop_reason === "sandbox_error");
    expect(lost).toEqual([{ strategy_id: "strong", challenge_id: expect.any(String), pass: false, stop_reason: "sandbox_error" }]);
    const record = seen.find((r) => r.stopReason === "sandbox_error")!;
    expect(record.verdict).toMatchObject({ pass: false, details: { sandboxError: true } });
    expect(record.toolCalls.map((c) => [c.name, c.ok])).toEqual([["dbRead", false], ["dbRead", false]]);
    expect(record.toolCalls[1].error).toMatch(/could not be restored/);
    // Every other strong episode passed: the instance of that tenant was rebuilt for them.
    const strongOthers = rows.filter((r) => r.strategy_id === "strong" && r.stop_reason !== "sandbox_error");
    expect(strongOthers.length).toBe(challenges.length - 1);
    expect(strongOthers.every((r) => r.pass === true)).toBe(true);
    expect(rows.filter((r) => r.strategy_id === "weak").every((r) => r.stop_reason === "submitted")).toBe(true);
  });
});
