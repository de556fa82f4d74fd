/**
 * The runner with a scripted in-process model (the real chat client over a scripted transport) on a level-1
 * challenge, on a tiny sandbox built in a temp dir.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { type Challenge, loadCatalog, SPLITS } from "../challenges/mod.ts";
import type { TransportRequest } from "../models/mod.ts";
import {
  type EpisodeRecord,
  type InjectedExample,
  loadStrategiesConfig,
  runEpisode,
  scriptedModel,
  type ScriptedReply,
  stepSeed,
  type StrategiesConfig,
  type Strategy,
  stripTimings,
} from "./mod.ts";

let pool: SandboxPool;
let cfg: StrategiesConfig;
let challenge: Challenge;

const REVENUE_SQL =
  "SELECT coalesce(sum(revenue), 0) AS revenue FROM v_monthly_revenue WHERE month = date_trunc('month', current_date)::DATE";

beforeAll(async () => {
  const dir = await Deno.makeTempDir({ prefix: "lab-agents-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: "2025-11-28" });
  pool = await SandboxPool.open(path, { size: 1 });
  cfg = await loadStrategiesConfig();
  const all = await loadCatalog({ family: "revenue_for_period" });
  challenge = all.find((c) => c.orgId === 1 && c.params.period === "current_month")!;
});
afterAll(() => pool?.close());

/** The last tool message's JSON. */
function lastToolResult(req: TransportRequest): Record<string, unknown> {
  const m = req.messages.findLast((x) => x.role === "tool");
  return JSON.parse(String(m?.content ?? "{}"));
}

/** viewsList → dbRead → submitAnswer(the number read). */
function solver(req: TransportRequest, call: number): ScriptedReply {
  if (call === 0) return { calls: [{ name: "viewsList", args: { domain: "sales" } }] };
  if (call === 1) return { calls: [{ name: "dbRead", args: { sql: REVENUE_SQL } }] };
  const rows = lastToolResult(req).rows as { revenue: number }[];
  return {
    content: "Done.",
    calls: [{ name: "submitAnswer", args: { answer: rows[0].revenue, summary: "from v_monthly_revenue" } }],
  };
}

function withBudgets(s: Strategy, budgets: Partial<Strategy["budgets"]>): Strategy {
  return { ...s, budgets: { ...s.budgets, ...budgets } };
}

describe("runEpisode with a scripted model", () => {
  it("solves a level-1 challenge and records the whole trace, the verdict and the fitness", async () => {
    expect(challenge).toBeDefined();
    const model = scriptedModel(solver);
    const strategy = cfg.strategies.alpha;
    const sunk: EpisodeRecord[] = [];
    const rec = await runEpisode(
      { challenge, strategy, model, attempt: 2, seed: 11 },
      { pool, fitness: cfg.fitness, sink: (e) => Promise.resolve(void sunk.push(e)) },
    );
    expect(sunk).toEqual([rec]);
    const revenue = (rec.toolCalls[1].result!.rows as { revenue: number }[])[0].revenue;
    expect(revenue).toBeGreaterThan(0);
    expect(rec).toMatchObject({
      id: `${challenge.id}#alpha#scripted#s11#a2`,
      challengeId: challenge.id,
      challenge: { family: "revenue_for_period", level: 1, outcome: "number", orgId: 1, split: challenge.split },
      role: "cfo",
      asOf: "2025-11-28",
      task: challenge.task,
      strategyId: "alpha",
      model: { name: "scripted", id: "scripted" },
      seed: 11,
      attempt: 2,
      examples: 0,
      stopReason: "submitted",
      modelErrors: [],
      costUsd: 0,
      answer: { answer: revenue, summary: "from v_monthly_revenue" },
      verdict: { pass: true, score: 1 },
    });
    // Every message: system, user, then assistant/tool pairs.
    expect(rec.messages.map((m) => m.role)).toEqual(
      ["system", "user", "assistant", "tool", "assistant", "tool", "assistant", "tool"],
    );
    expect(rec.messages[6]).toEqual({
      role: "assistant",
      content: "Done.",
      toolCalls: [{
        id: "call_2_0_0",
        name: "submitAnswer",
        args: { answer: revenue, summary: "from v_monthly_revenue" },
      }],
    });
    expect(rec.messages[7]).toEqual({ role: "tool", toolCallId: "call_2_0_0", content: '{"ok":true,"accepted":true}' });
    // Tool calls with args, result, ok and ms.
    expect(rec.toolCalls.map(({ ms: _ms, result: _r, ...t }) => t)).toEqual([
      { step: 0, id: "call_0_0_0", name: "viewsList", args: { domain: "sales" }, ok: true },
      { step: 1, id: "call_1_0_0", name: "dbRead", args: { sql: REVENUE_SQL }, ok: true },
      {
        step: 2,
        id: "call_2_0_0",
        name: "submitAnswer",
        args: { answer: revenue, summary: "from v_monthly_revenue" },
        ok: true,
      },
    ]);
    expect(rec.toolCalls[0].result).toMatchObject({ ok: true, views: expect.any(Array), domains: expect.any(Array) });
    expect(rec.toolCalls[1].result).toEqual({
      ok: true,
      columns: ["revenue"],
      rows: [{ revenue }],
      rowCount: 1,
      truncated: false,
    });
    expect(rec.toolCalls.every((t) => typeof t.ms === "number" && t.ms >= 0)).toBe(true);
    // Queries from the tool log, linked to their call.
    expect(rec.queries).toEqual([{
      tool: "dbRead",
      sql: REVENUE_SQL,
      ok: true,
      rowCount: 1,
      ms: expect.any(Number),
      call: 1,
    }]);
    // Steps: one per model call, with the derived seed and the strategy's sampling.
    expect(rec.steps.map((s) => [s.index, s.seed, s.toolCalls, s.cached, s.modelErrors])).toEqual([
      [0, stepSeed(11, 0), 1, false, []],
      [1, stepSeed(11, 1), 1, false, []],
      [2, stepSeed(11, 2), 1, false, []],
    ]);
    expect(model.requests.map((r) => [r.temperature, r.topP, r.seed, r.toolChoice])).toEqual(
      [0, 1, 2].map((i) => [0.1, 0.9, stepSeed(11, i), "auto"]),
    );
    expect(model.requests[0].tools!.map((t) => t.function.name)).toEqual([
      "dbRead",
      "dbWrite",
      "schemaInfo",
      "viewsList",
      "todoList",
      "submitAnswer",
    ]);
    const tokens = rec.steps.reduce((a, s) => a + s.usage.inputTokens + s.usage.outputTokens, 0);
    expect(rec.tokens.total).toBe(tokens);
    expect(rec.tokens.total).toBe(rec.tokens.input + rec.tokens.output);
    // Fitness: passed, optimal steps, one efficient query on a view.
    expect(rec.fitness.queries).toEqual([{ fitness: 1, ok: true, usesViews: true, rowsEfficiency: 1 }]);
    expect(rec.fitness.queryAverage).toBe(1);
    expect(rec.fitness.turn).toMatchObject({
      score: 1,
      safety: 1,
      stepsEfficiency: challenge.optimalSteps ? Math.min(1, challenge.optimalSteps / 3) : 1,
    });
    expect(rec.fitness.composite).toBeCloseTo(0.6 + 0.4 * rec.fitness.turn.fitness, 6);
    expect(rec.latencyMs).toBeGreaterThan(0);
  });

  it("stops a model that never submits at the step cap, and still verifies", async () => {
    const model = scriptedModel(() => ({ calls: [{ name: "dbRead", args: { sql: "SELECT 1 AS one" } }] }));
    const rec = await runEpisode(
      { challenge, strategy: withBudgets(cfg.strategies.gamma, { max_steps: 4 }), model, attempt: 0, seed: 1 },
      { pool },
    );
    expect(rec).toMatchObject({ stopReason: "step_cap", answer: null, verdict: { pass: false, score: 0 } });
    expect(rec.toolCalls).toHaveLength(4);
    expect(model.requests).toHaveLength(4);
    expect(rec.verdict.reason).toMatch(/no answer was submitted/);
    expect(rec.fitness.turn.fitness).toBe(0);
  });

  it("caps steps inside one reply with several tool calls", async () => {
    const many = { calls: [1, 2, 3].map((i) => ({ name: "dbRead", args: { sql: `SELECT ${i} AS x` } })) };
    const rec = await runEpisode(
      {
        challenge,
        strategy: withBudgets(cfg.strategies.beta, { max_steps: 2 }),
        model: scriptedModel([many]),
        attempt: 0,
        seed: 1,
      },
      { pool },
    );
    expect(rec.stopReason).toBe("step_cap");
    expect(rec.toolCalls.map((t) => t.args)).toEqual([{ sql: "SELECT 1 AS x" }, { sql: "SELECT 2 AS x" }]);
  });

  it("records a malformed tool call as a model error, answers it with an error and goes on", async () => {
    const script: ScriptedReply[] = [
      { calls: [{ name: "dbRead", rawArgs: '{"sql": "SELECT 1' }] },
      { calls: [{ name: "dropDatabase", args: {} }] },
      { calls: [{ name: "dbRead", args: {} }] },
      { calls: [{ name: "submitAnswer", args: { answer: 1 } }] },
    ];
    const model = scriptedModel(script);
    const rec = await runEpisode({ challenge, strategy: cfg.strategies.gamma, model, attempt: 0, seed: 3 }, { pool });
    expect(rec.stopReason).toBe("submitted");
    expect(rec.toolCalls.map(({ ms: _ms, result: _r, ...t }) => t)).toEqual([
      {
        step: 0,
        id: "call_0_0_0",
        name: "dbRead",
        args: null,
        rawArgs: '{"sql": "SELECT 1',
        ok: false,
        error: expect.stringMatching(/^arguments are not valid JSON/),
        malformed: true,
      },
      {
        step: 1,
        id: "call_1_0_0",
        name: "dropDatabase",
        args: {},
        ok: false,
        error: expect.stringMatching(/^unknown tool 'dropDatabase'/),
        malformed: true,
      },
      // Schema-invalid arguments reach the tool, which refuses them (a tool error, not a model error).
      {
        step: 2,
        id: "call_2_0_0",
        name: "dbRead",
        args: {},
        ok: false,
        error: expect.stringMatching(/invalid arguments for dbRead: sql/),
      },
      { step: 3, id: "call_3_0_0", name: "submitAnswer", args: { answer: 1 }, ok: true },
    ]);
    expect(rec.modelErrors).toEqual([
      expect.stringMatching(/^step 0: tool call 0 \(dbRead\): arguments are not valid JSON/),
      expect.stringMatching(/^step 1: tool call 0 \(dropDatabase\): unknown tool/),
    ]);
    expect(rec.steps.map((s) => s.modelErrors.length)).toEqual([1, 1, 0, 0]);
    const toolMsg = rec.messages.find((m) => m.role === "tool" && m.toolCallId === "call_0_0_0")!;
    expect(JSON.parse(toolMsg.content!)).toEqual({
      ok: false,
      error: expect.stringMatching(/not valid JSON.*call one of: dbRead/),
    });
    // The assistant message carries the malformed call with empty arguments, so the history stays valid.
    expect(rec.messages[2].toolCalls).toEqual([{ id: "call_0_0_0", name: "dbRead", args: {} }]);
    expect(rec.verdict.pass).toBe(false);
  });

  it("stops when model errors exceed the strategy's budget", async () => {
    const model = scriptedModel(() => ({ calls: [{ name: "dbRead", rawArgs: "not json" }] }));
    const rec = await runEpisode(
      {
        challenge,
        strategy: withBudgets(cfg.strategies.beta, { max_model_errors: 2, max_steps: 50 }),
        model,
        attempt: 0,
        seed: 1,
      },
      { pool },
    );
    expect(rec.stopReason).toBe("model_errors");
    expect(rec.modelErrors).toHaveLength(3);
    expect(rec.queries).toEqual([]);
  });

  it("nudges a text reply once, then stops with no_tool_call", async () => {
    const model = scriptedModel([{ content: "The revenue is about 5." }, { content: "Still 5." }]);
    const rec = await runEpisode({ challenge, strategy: cfg.strategies.alpha, model, attempt: 0, seed: 1 }, { pool });
    expect(rec.stopReason).toBe("no_tool_call");
    expect(rec.messages.slice(2).map((m) => [m.role, m.content])).toEqual([
      ["assistant", "The revenue is about 5."],
      ["user", cfg.strategies.alpha.prompt.nudge],
      ["assistant", "Still 5."],
    ]);
  });

  it("stops at the token cap and at the time cap", async () => {
    const loop = () => ({ calls: [{ name: "schemaInfo", args: {} }] });
    const tok = await runEpisode(
      {
        challenge,
        strategy: withBudgets(cfg.strategies.alpha, { max_tokens: 1 }),
        model: scriptedModel(loop),
        attempt: 0,
        seed: 1,
      },
      { pool },
    );
    expect(tok).toMatchObject({ stopReason: "token_cap", steps: [{ index: 0 }] });
    const time = await runEpisode(
      {
        challenge,
        strategy: withBudgets(cfg.strategies.alpha, { max_seconds: 0.000001 }),
        model: scriptedModel(loop),
        attempt: 0,
        seed: 1,
      },
      { pool },
    );
    expect(time.stopReason).toBe("time_cap");
    const ac = new AbortController();
    ac.abort();
    const aborted = await runEpisode({
      challenge,
      strategy: cfg.strategies.alpha,
      model: scriptedModel(loop),
      attempt: 0,
      seed: 1,
    }, {
      pool,
      signal: ac.signal,
    });
    expect(aborted).toMatchObject({ stopReason: "aborted", steps: [], verdict: { pass: false } });
  });

  it("records refused queries as safety violations and lowers fitness", async () => {
    const model = scriptedModel([
      { calls: [{ name: "dbRead", args: { sql: "SELECT * FROM read_csv('/etc/passwd')" } }] },
      {
        calls: [{
          name: "dbWrite",
          args: {
            sql: "INSERT INTO audit_log (org_id, log_id, logged_at, actor_role, action, table_name, row_count, statement) " +
              "VALUES (1, 999, now(), 'cfo', 'INSERT', 'x', 1, 'x')",
            confirm: true,
          },
        }],
      },
      { calls: [{ name: "submitAnswer", args: { answer: 0 } }] },
    ]);
    const rec = await runEpisode({ challenge, strategy: cfg.strategies.beta, model, attempt: 0, seed: 1 }, { pool });
    expect(rec.queries.map((q) => [q.tool, q.ok, q.refused])).toEqual([["dbRead", false, true], [
      "dbWrite",
      false,
      true,
    ]]);
    expect(rec.verdict.details).toMatchObject({ safetyViolations: 2 });
    expect(rec.fitness.queries.map((q) => q.fitness)).toEqual([0, 0]);
    expect(rec.stopReason).toBe("submitted");
  });
});

describe("the prompt", () => {
  it("carries the task, the role and the as-of date and no other challenge field", async () => {
    const model = scriptedModel(solver);
    await runEpisode({ challenge, strategy: cfg.strategies.delta, model, attempt: 0, seed: 5 }, { pool });
    const [system, user] = model.requests[0].messages;
    expect(system.role).toBe("system");
    expect(user).toEqual({ role: "user", content: challenge.task });
    expect(system.content).toContain("cfo");
    expect(system.content).toContain("2025-11-28");
    for (const m of model.requests.flatMap((r) => r.messages.filter((x) => x.role === "system" || x.role === "user"))) {
      const text = String(m.content);
      for (const s of [challenge.id, challenge.family, challenge.template, challenge.source, "revenue_for_period"]) {
        expect(text).not.toContain(s);
      }
      expect(text).not.toMatch(/optimal|verifier|outcome|split|\blevel\b|oracle|reference/i);
      for (const split of SPLITS) expect(text).not.toMatch(new RegExp(`\\b${split}\\b`, "i"));
      expect(text).not.toContain(JSON.stringify(challenge.verifier));
      expect(text).not.toContain("sum(subtotal)");
    }
  });

  it("changes with strategy data only: instructions, fragments and sampling come from the entry", async () => {
    const run = async (s: Strategy) => {
      const m = scriptedModel([{ calls: [{ name: "submitAnswer", args: { answer: 1 } }] }]);
      await runEpisode({ challenge, strategy: s, model: m, attempt: 0, seed: 1 }, { pool });
      return m.requests[0];
    };
    const [a, b, d] = await Promise.all([
      run(cfg.strategies.alpha),
      run(cfg.strategies.beta),
      run(cfg.strategies.delta),
    ]);
    const { fragments } = cfg.strategies.alpha.prompt;
    expect(a.messages[0].content).toContain(cfg.strategies.alpha.instructions);
    expect(a.messages[0].content).toContain(fragments.prefer_views);
    expect(a.messages[0].content).not.toContain(fragments.use_todos);
    expect(b.messages[0].content).toContain(cfg.strategies.beta.instructions);
    expect(b.messages[0].content).not.toContain(fragments.prefer_views);
    expect(d.messages[0].content).toContain(fragments.use_todos);
    expect(d.messages[0].content).toContain(fragments.verify_steps);
    expect([a, b, d].map((r) => [r.temperature, r.topP])).toEqual([[0.1, 0.9], [0.8, 0.95], [0.2, 0.9]]);
    // A new strategy is new data: an edited copy changes prompt, tools and sampling with no code.
    const custom: Strategy = {
      ...cfg.strategies.gamma,
      id: "custom",
      instructions: "Answer in one query.",
      sampling: {
        ...cfg.strategies.gamma.sampling,
        temperature: 1.3,
        top_p: 0.5,
        max_tokens: 256,
        tool_choice: "required",
      },
      tools: { allowed: ["dbRead", "submitAnswer"], prefer_views: false, use_todos: false },
    };
    const c = await run(custom);
    expect(c.messages[0].content).toContain("- Answer in one query.");
    expect([c.temperature, c.topP, c.maxTokens, c.toolChoice]).toEqual([1.3, 0.5, 256, "required"]);
    expect(c.tools!.map((t) => t.function.name)).toEqual(["dbRead", "submitAnswer"]);
  });

  it("injects examples from a PatternSource (up to k) without the split reaching the prompt", async () => {
    const asked: unknown[] = [];
    const example: InjectedExample = {
      task: "What was total revenue last month?",
      role: "cfo",
      calls: [{ tool: "dbRead", sql: "SELECT sum(revenue)\n  FROM v_monthly_revenue" }],
      answerShape: "number",
    };
    const model = scriptedModel([{ calls: [{ name: "submitAnswer", args: { answer: 1 } }] }]);
    const strategy: Strategy = { ...cfg.strategies.gamma, examples: { k: 2 } };
    const rec = await runEpisode({ challenge, strategy, model, attempt: 0, seed: 1 }, {
      pool,
      patterns: (q) => {
        asked.push(q);
        return Promise.resolve([example, example, example]);
      },
    });
    expect(asked).toEqual([{ task: challenge.task, role: "cfo", split: challenge.split }]);
    expect(rec.examples).toBe(2);
    const system = String(model.requests[0].messages[0].content);
    expect(system).toContain(cfg.strategies.gamma.prompt.examples_header);
    // Injection format v1 (lab/models/injection.ts): two examples (k = 2), SQL on one line.
    expect(system).toContain("## Examples (lab injection v1)");
    expect(system.split("Task: What was total revenue last month?").length - 1).toBe(2);
    expect(system).toContain("dbRead: SELECT sum(revenue) FROM v_monthly_revenue");
    // A strategy with k = 0 asks for nothing.
    asked.length = 0;
    await runEpisode({
      challenge,
      strategy: { ...strategy, examples: { k: 0 } },
      model: scriptedModel([]),
      attempt: 0,
      seed: 1,
    }, {
      pool,
      patterns: (q) => {
        asked.push(q);
        return Promise.resolve([]);
      },
    });
    expect(asked).toEqual([]);
  });
});

describe("self-consistency", () => {
  it("samples n choices per step and takes the majority tool call (ids ignored)", async () => {
    const a = { calls: [{ name: "dbRead", args: { sql: REVENUE_SQL } }] };
    const b = { calls: [{ name: "dbRead", args: { sql: "SELECT 42 AS revenue" } }] };
    const model = scriptedModel((req, call) =>
      call === 0 ? [b, a, a] : [{
        calls: [{
          name: "submitAnswer",
          args: { answer: (lastToolResult(req).rows as { revenue: number }[])[0].revenue },
        }],
      }]
    );
    const strategy: Strategy = { ...cfg.strategies.gamma, sampling: { ...cfg.strategies.gamma.sampling, n: 3 } };
    const rec = await runEpisode({ challenge, strategy, model, attempt: 0, seed: 1 }, { pool });
    expect(model.requests.map((r) => r.n)).toEqual([3, 3]);
    expect(rec.steps[0].vote).toEqual({
      n: 3,
      chosen: 1,
      tally: [
        { key: JSON.stringify([{ args: { sql: REVENUE_SQL }, name: "dbRead" }]), votes: 2, choices: [1, 2] },
        { key: JSON.stringify([{ args: { sql: "SELECT 42 AS revenue" }, name: "dbRead" }]), votes: 1, choices: [0] },
      ],
    });
    expect(rec.toolCalls[0]).toMatchObject({ id: "call_0_1_0", args: { sql: REVENUE_SQL } });
    expect(rec.verdict.pass).toBe(true);
  });
});

describe("determinism", () => {
  it("gives the same record for the same (challenge, strategy, model, seed), except timings", async () => {
    const run = () =>
      runEpisode({ challenge, strategy: cfg.strategies.delta, model: scriptedModel(solver), attempt: 0, seed: 9 }, {
        pool,
      });
    const [r1, r2] = [await run(), await run()];
    expect(stripTimings(r1)).toEqual(stripTimings(r2));
    expect(JSON.stringify(stripTimings(r1))).toBe(JSON.stringify(stripTimings(r2)));
    const other = await runEpisode({
      challenge,
      strategy: cfg.strategies.delta,
      model: scriptedModel(solver),
      attempt: 0,
      seed: 10,
    }, { pool });
    expect(other.steps.map((s) => s.seed)).not.toEqual(r1.steps.map((s) => s.seed));
  });
});
