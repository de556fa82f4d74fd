import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { type Challenge, loadCatalog } from "../challenges/mod.ts";
import {
  DEFAULT_FITNESS,
  type EpisodeRecord,
  loadStrategiesConfig,
  runEpisode,
  scriptedModel,
  type ScriptedReply,
} from "../agents/mod.ts";
import type { TransportRequest } from "../models/mod.ts";
import { type Embedder, localEmbed } from "./embed.ts";
import { canonicalSql } from "../util/mod.ts";
import { isVerificationQuery, patternId, summarizeResult } from "./_extract.ts";
import type { Pattern } from "./_query.ts";
import { PatternStore } from "./store.ts";

// ── hand-built records ──────────────────────────────────────────────────────────────────────────────────────

interface Q {
  tool?: "dbRead" | "dbWrite";
  sql: string;
  ok?: boolean;
  refused?: boolean;
  error?: string;
  rows?: unknown[];
  fitness?: number;
}

/** An EpisodeRecord with the given task, queries (one tool call each) and verdict. */
function episode(
  id: string,
  task: string,
  queries: Q[],
  o: { pass?: boolean; turn?: number; split?: string; role?: string; category?: string; family?: string } = {},
): EpisodeRecord {
  const pass = o.pass ?? true;
  const toolCalls = [
    { step: 0, id: "c0", name: "viewsList", args: {}, ok: true, result: { views: [] }, ms: 1 },
    ...queries.map((q, i) => {
      const ok = q.ok ?? true;
      const rows = q.rows ?? [{ n: i }];
      return {
        step: i + 1,
        id: `c${i + 1}`,
        name: q.tool ?? "dbRead",
        args: { sql: q.sql },
        ok,
        ...(ok
          ? {
            result: q.tool === "dbWrite"
              ? { table: "invoices", action: "UPDATE", rowCount: 2 }
              : { columns: ["n"], rows, rowCount: rows.length, truncated: false },
          }
          : { error: q.error ?? "refused" }),
        ms: 1,
      };
    }),
    { step: queries.length + 1, id: "cz", name: "submitAnswer", args: { answer: 1 }, ok: true, result: {}, ms: 0 },
  ];
  return {
    id,
    challengeId: `${o.family ?? "fam"}/t0/o1`,
    challenge: {
      family: o.family ?? "fam",
      level: 2,
      category: o.category ?? "finance",
      outcome: "number",
      split: o.split ?? "train",
      orgId: 1,
      optimalSteps: 3,
    },
    role: o.role ?? "cfo",
    asOf: "2025-11-28",
    task,
    strategyId: "alpha",
    model: { name: "lab-mini", id: "lab-mini-v1" },
    seed: 1,
    attempt: 0,
    examples: 0,
    messages: [],
    steps: [],
    toolCalls,
    queries: queries.map((q, i) => ({
      tool: q.tool ?? "dbRead",
      sql: q.sql,
      ok: q.ok ?? true,
      ...(q.refused ? { refused: true } : {}),
      ...(q.ok === false ? { error: q.error ?? "refused" } : { rowCount: (q.rows ?? [{ n: i }]).length }),
      ms: 2,
      call: i + 1,
    })),
    tokens: { input: 100, output: 10, total: 110 },
    costUsd: 0,
    modelErrors: [],
    answer: null,
    verdict: { pass, score: pass ? 1 : 0, reason: pass ? "ok" : "wrong" },
    fitness: {
      composite: 0,
      turn: {
        fitness: o.turn ?? (pass ? 1 : 0),
        score: pass ? 1 : 0,
        stepsEfficiency: 1,
        tokensEfficiency: 1,
        safety: 1,
      },
      queryAverage: 0,
      queries: queries.map((q) => ({
        fitness: q.ok === false ? 0 : q.fitness ?? 1,
        ok: q.ok !== false,
        usesViews: true,
        rowsEfficiency: 1,
      })),
    },
    stopReason: "submitted",
    stopDetail: "",
    startedAt: "2025-11-28T12:00:00.000Z",
    latencyMs: 5,
    modelLatencyMs: 1,
  } as EpisodeRecord;
}

/** The fields of a pattern a test cares about (everything but timestamps and the long id). */
function brief(p: Pattern) {
  const { createdAt: _c, updatedAt: _u, id: _i, embedding: _e, ...rest } = p;
  return rest;
}

let dir: string;
beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-patterns-store-" });
});
afterAll(async () => {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

// ── pure helpers ────────────────────────────────────────────────────────────────────────────────────────────

describe("isVerificationQuery and summarizeResult", () => {
  it("recognises checked_rows wrappers and counts over an earlier query", () => {
    expect(isVerificationQuery(canonicalSql("SELECT count(*) AS checked_rows FROM (SELECT * FROM invoices)"))).toBe(
      true,
    );
    expect(isVerificationQuery("select count(*) from (select * from t) q", ["select * from t"])).toBe(true);
    expect(isVerificationQuery("select count(*) from (select * from t) q", ["select * from u"])).toBe(false);
    expect(isVerificationQuery("select count(*) as n from invoices")).toBe(false);
  });

  it("summarizes reads by row count and first row, writes by action", () => {
    expect(summarizeResult("dbRead", { rows: [{ a: 1 }], rowCount: 1 })).toBe('1 row: {"a":1}');
    expect(summarizeResult("dbRead", { rows: [{ a: 1 }, { a: 2 }], rowCount: 200, truncated: true }))
      .toBe('200+ rows, first: {"a":1}');
    expect(summarizeResult("dbRead", { rows: [], rowCount: 0 })).toBe("0 rows");
    expect(summarizeResult("dbRead", { rows: [{ s: "x".repeat(300) }], rowCount: 1 })).toHaveLength(
      "1 row: ".length + 160,
    );
    expect(summarizeResult("dbWrite", { table: "invoices", action: "UPDATE", rowCount: 3 })).toBe(
      "UPDATE invoices: 3 rows",
    );
  });
});

// ── the store ───────────────────────────────────────────────────────────────────────────────────────────────

describe("PatternStore.addEpisodes", () => {
  it("never stores a failed, refused or erroring query, and counts what it left out", async () => {
    await using store = await PatternStore.open(":memory:");
    const report = await store.addEpisodes([
      episode("e1", "Total revenue for March 2025", [
        { sql: "SELEC sum(total) FROM invoices", ok: false, error: "SQL syntax error" },
        { sql: "SELECT * FROM read_csv('/etc/passwd')", ok: false, refused: true, error: "read_csv is not allowed" },
        { sql: "SELECT sum(total) AS n FROM invoices", rows: [{ n: 42.5 }] },
        {
          tool: "dbWrite",
          sql: "DELETE FROM audit_log",
          ok: false,
          refused: true,
          error: "audit_log is written by the lab only",
        },
      ]),
      episode("e2", "Total revenue for Q1 2024", [{ sql: "SELECT nope", ok: false, error: "Binder Error" }]),
    ], { runId: "r1" });
    expect(report).toEqual({
      episodes: 2,
      inserted: 1,
      merged: 0,
      failedQueriesSkipped: 4,
      verificationQueriesSkipped: 0,
      withoutPattern: 1,
      duplicates: 0,
    });
    const all = await store.list();
    expect(all.map(brief)).toEqual([{
      normalizedIntent: "total revenue <period>",
      intent: "Total revenue for March 2025",
      role: "cfo",
      category: "finance",
      level: 2,
      toolSequence: ["viewsList", "dbRead", "submitAnswer"],
      successfulQueries: [
        { tool: "dbRead", sql: "SELECT sum(total) AS n FROM invoices", summary: '1 row: {"n":42.5}', rows: 1, ms: 2 },
      ],
      sqlKey: "dbRead: select sum(total) as n from invoices",
      answerShape: "number",
      turnFitness: 1,
      queryAvgFitness: 1,
      compositeFitness: 1,
      embedder: "lab-hash-256-v1",
      isSynthetic: true,
      turnPass: true,
      markedPass: null,
      contaminated: false,
      stale: false,
      staleReason: null,
      validatedAt: null,
      support: 1,
      passes: 1,
      runId: "r1",
      episodeId: "e1",
      strategyId: "alpha",
      modelName: "lab-mini",
      modelId: "lab-mini-v1",
      challengeId: "fam/t0/o1",
      family: "fam",
      split: "train",
      orgId: 1,
    }]);
    expect(all[0].id).toBe(patternId("cfo", "total revenue <period>", "dbRead: select sum(total) as n from invoices"));
    const text = JSON.stringify(await store.list({}, { withEmbedding: true }));
    for (const bad of ["SELEC sum", "read_csv", "audit_log", "SELECT nope"]) expect(text).not.toContain(bad);
  });

  it("keeps the successful queries of a failed turn with turn_pass false", async () => {
    await using store = await PatternStore.open(":memory:");
    await store.addEpisodes([
      episode(
        "e1",
        "Count overdue invoices",
        [{ sql: "SELECT count(*) AS n FROM invoices WHERE due_date < today()" }],
        {
          pass: false,
        },
      ),
    ]);
    expect((await store.list()).map((p) => [p.turnPass, p.passes, p.support, p.turnFitness, p.compositeFitness]))
      .toEqual([
        [false, 0, 1, 0, 0.6],
      ]);
    expect(await store.count({ turnPass: true })).toBe(0);
  });

  it("drops verification wrappers and repeated reads but keeps writes in order", async () => {
    await using store = await PatternStore.open(":memory:");
    const sql = "SELECT id FROM invoices WHERE status = 'draft'";
    const report = await store.addEpisodes([
      episode("e1", "Void draft invoices", [
        { sql },
        { tool: "dbWrite", sql: "UPDATE invoices SET status = 'void' WHERE status = 'draft'" },
        { sql: `SELECT count(*) AS checked_rows FROM (${sql})` },
        { sql: `select count(*) from (${sql}) x` },
        { sql: ` ${sql.toLowerCase().replace("'draft'", "'draft'")} ` },
      ]),
    ]);
    expect(report).toMatchObject({ inserted: 1, verificationQueriesSkipped: 3, failedQueriesSkipped: 0 });
    const [p] = await store.list();
    expect(p.successfulQueries.map((q) => [q.tool, q.sql, q.summary])).toEqual([
      ["dbRead", sql, '1 row: {"n":0}'],
      ["dbWrite", "UPDATE invoices SET status = 'void' WHERE status = 'draft'", "UPDATE invoices: 2 rows"],
    ]);
    expect(p.toolSequence).toEqual(["viewsList", "dbRead", "dbWrite", "submitAnswer"]);
  });

  it("merges identical (intent, SQL) pairs keeping the best fitness and a support count", async () => {
    await using store = await PatternStore.open(join(dir, "merge.duckdb"));
    const a = episode("e1", "What was revenue in March 2025?", [{
      sql: "SELECT sum(total) FROM invoices",
      fitness: 0.6,
    }], {
      pass: false,
    });
    const b = episode(
      "e2",
      "What was revenue in Q3 2024?",
      [{ sql: "select  SUM(total)\nfrom invoices;", fitness: 1 }],
      {
        split: "dev",
      },
    );
    expect(await store.addEpisodes([a, b], { runId: "r1" })).toMatchObject({ inserted: 1, merged: 1 });
    const c = episode("e3", "what was revenue last month", [{ sql: "SELECT sum(total) FROM invoices", fitness: 0.2 }]);
    expect(await store.addEpisodes([c], { runId: "r2" })).toMatchObject({ inserted: 0, merged: 1 });
    expect((await store.list()).map((p) => ({
      intent: p.intent,
      sql: p.successfulQueries[0].sql,
      queryAvg: p.queryAvgFitness,
      composite: p.compositeFitness,
      support: p.support,
      passes: p.passes,
      turnPass: p.turnPass,
      contaminated: p.contaminated,
      episode: p.episodeId,
      run: p.runId,
      split: p.split,
    }))).toEqual([{
      intent: "What was revenue in Q3 2024?",
      sql: "select  SUM(total)\nfrom invoices;",
      queryAvg: 1,
      composite: 1,
      support: 3,
      passes: 2,
      turnPass: true,
      contaminated: true,
      episode: "e2",
      run: "r1",
      split: "dev",
    }]);
  });

  it("is idempotent by run and episode id: an episode sent again adds no support", async () => {
    await using store = await PatternStore.open(":memory:");
    const e1 = episode("e1", "Revenue for March 2025", [{ sql: "SELECT 1" }]);
    const e2 = episode("e2", "Revenue for May 2025", [{ sql: "SELECT 1" }]);
    expect(await store.addEpisodes([e1, e1], { runId: "r1" })).toMatchObject({ inserted: 1, merged: 0, duplicates: 1 });
    const sink = store.sink({ runId: "r1" });
    await sink(e1);
    await sink(e2);
    expect(await store.addEpisodes([e1, e2], { runId: "r1" })).toMatchObject({ inserted: 0, merged: 0, duplicates: 2 });
    expect(await store.addEpisodes([e1], { runId: "r2" })).toMatchObject({ merged: 1, duplicates: 0 });
    expect((await store.list()).map((p) => p.support)).toEqual([3]);
    expect(
      await store.withConnection(async (c) =>
        (await c.runAndReadAll("SELECT run_id, episode_id FROM pattern_episodes ORDER BY ALL")).getRows()
      ),
    ).toEqual([["r1", "e1"], ["r1", "e2"], ["r2", "e1"]]);
  });

  it("keeps different roles and different SQL apart", async () => {
    await using store = await PatternStore.open(":memory:");
    await store.addEpisodes([
      episode("e1", "Revenue for March 2025", [{ sql: "SELECT 1" }], { role: "cfo" }),
      episode("e2", "Revenue for March 2025", [{ sql: "SELECT 1" }], { role: "analyst" }),
      episode("e3", "Revenue for March 2025", [{ sql: "SELECT 2" }], { role: "cfo" }),
    ]);
    expect(await store.count()).toBe(3);
  });

  it("marks patterns learned on any split other than train as contaminated", async () => {
    await using store = await PatternStore.open(":memory:");
    await store.addEpisodes(
      ["train", "dev", "test_id", "test_ood"].map((split, i) =>
        episode(`e${i}`, `Task number ${split}`, [{ sql: `SELECT ${i}` }], { split })
      ),
    );
    const rows = await store.list();
    expect(Object.fromEntries(rows.map((p) => [p.split, p.contaminated]))).toEqual({
      train: false,
      dev: true,
      test_id: true,
      test_ood: true,
    });
    expect(await store.count({ contaminated: false })).toBe(1);
  });

  it("derives composite fitness from the configured weights and re-derives it when reopened with others", async () => {
    const path = join(dir, "weights.duckdb");
    {
      await using store = await PatternStore.open(path, {
        fitness: { ...DEFAULT_FITNESS, composite: { query: 0.5, turn: 0.5 } },
      });
      await store.addEpisodes([episode("e1", "Revenue", [{ sql: "SELECT 1", fitness: 0.8 }], { turn: 0.4 })]);
      expect((await store.list()).map((p) => p.compositeFitness)).toEqual([0.6]);
    }
    {
      await using store = await PatternStore.open(path); // no weights given: keeps the stored ones
      expect(store.weights).toEqual({ query: 0.5, turn: 0.5 });
    }
    await using store = await PatternStore.open(path, { fitness: DEFAULT_FITNESS });
    expect((await store.list()).map((p) => p.compositeFitness)).toEqual([0.64]);
  });

  it("rejects bad input with one line naming the record and field, and stores nothing", async () => {
    await using store = await PatternStore.open(":memory:");
    await store.addEpisodes([episode("e0", "Revenue", [{ sql: "SELECT 0" }])]);
    const bad = episode("e2", "Revenue", [{ sql: "SELECT 2" }]);
    (bad.challenge as { split?: string }).split = undefined;
    const err = await store.addEpisodes([episode("e1", "Other", [{ sql: "SELECT 1" }]), bad]).catch((e) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err.message).toBe(
      "Cannot store episodes: records[1].challenge.split: Invalid input: expected string, received undefined; " +
        "nothing was stored (pass EpisodeRecords from runEpisode)",
    );
    expect(err.message).not.toContain("\n");
    await expect(store.addEpisodes({} as unknown as EpisodeRecord[])).rejects.toThrow(TypeError);
    expect((await store.list()).map((p) => p.episodeId)).toEqual(["e0"]);
  });

  it("leaves the database unchanged when the embedder fails mid-batch", async () => {
    const broken: Embedder = {
      id: "broken",
      dims: 256,
      embed: () => Promise.reject(new Error("embedding service down")),
    };
    const path = join(dir, "broken.duckdb");
    {
      await using store = await PatternStore.open(path);
      await store.addEpisodes([episode("e0", "Revenue", [{ sql: "SELECT 0" }])]);
    }
    await using store = await PatternStore.open(path, { embedder: broken });
    await expect(store.addEpisodes([episode("e1", "Other task", [{ sql: "SELECT 1" }])])).rejects.toThrow(
      "embedding service down",
    );
    expect(await store.count()).toBe(1);
  });

  it("normalizes each distinct task once with an optional model normalizer", async () => {
    const calls: string[] = [];
    const normalizer = (t: string) => {
      calls.push(t);
      return Promise.resolve(t.includes("invoice") ? "total revenue for March 2025" : t);
    };
    await using store = await PatternStore.open(":memory:", { normalizer });
    await store.addEpisodes([
      episode("e1", "How much did we invoice?", [{ sql: "SELECT 1" }]),
      episode("e2", "How much did we invoice?", [{ sql: "SELECT 1" }]),
      episode("e3", "Total revenue, please", [{ sql: "SELECT 1" }]),
    ]);
    expect(calls).toEqual(["How much did we invoice?", "Total revenue, please"]);
    expect((await store.list()).map((p) => [p.normalizedIntent, p.support])).toEqual([["total revenue <period>", 2], [
      "total revenue",
      1,
    ]]);
    expect(await store.normalize("How much did we invoice?")).toBe("total revenue <period>");
  });

  it("embeds the normalized intent with the store's embedder", async () => {
    await using store = await PatternStore.open(":memory:");
    await store.addEpisodes([episode("e1", "Revenue for March 2025", [{ sql: "SELECT 1" }])]);
    const [p] = await store.list({}, { withEmbedding: true });
    expect(p.embedding).toEqual(localEmbed("revenue <period>"));
  });
});

describe("PatternStore: marks, asks, filters, connections", () => {
  it("lets a person mark an answer right or wrong, and the mark survives later merges", async () => {
    await using store = await PatternStore.open(":memory:");
    await store.addEpisodes([episode("e1", "Revenue", [{ sql: "SELECT 1" }], { pass: true })]);
    const [{ id }] = await store.list();
    await store.mark(id, { turnPass: false });
    await store.addEpisodes([episode("e2", "Revenue", [{ sql: "SELECT 1" }], { pass: true })]);
    expect(await store.get(id)).toMatchObject({ turnPass: false, markedPass: false, support: 2, passes: 2 });
    await store.mark(id, { turnPass: true });
    expect(await store.get(id)).toMatchObject({ turnPass: true, markedPass: true });
    await expect(store.mark("nope", { turnPass: true })).rejects.toThrow(
      "mark: no pattern with id 'nope' in :memory:; list() shows the stored ids",
    );
  });

  it("stores a person's own question as a non-synthetic 'ask' pattern without its failed queries", async () => {
    await using store = await PatternStore.open(":memory:");
    const { id, report } = await store.addAsk({
      question: "Which customers in Berlin owe us more than $5,000?",
      role: "ar_clerk",
      queries: [
        { tool: "dbRead", sql: "SELECT * FROM customer WHERE city = 'Berlin'", ok: false, error: "Catalog Error" },
        {
          tool: "dbRead",
          sql: "SELECT customer_id FROM v_customer_balances WHERE open_amount > 5000",
          rowCount: 2,
          result: { rows: [{ customer_id: 7 }, { customer_id: 9 }], rowCount: 2 },
        },
      ],
      pass: true,
      orgId: 2,
    });
    expect(report).toMatchObject({ inserted: 1, failedQueriesSkipped: 1 });
    expect(brief((await store.get(id!))!)).toEqual({
      normalizedIntent: "customers <name> owe more than <amount>",
      intent: "Which customers in Berlin owe us more than $5,000?",
      role: "ar_clerk",
      category: "ask",
      level: null,
      toolSequence: ["dbRead"],
      successfulQueries: [{
        tool: "dbRead",
        sql: "SELECT customer_id FROM v_customer_balances WHERE open_amount > 5000",
        summary: '2 rows, first: {"customer_id":7}',
        rows: 2,
        ms: 0,
      }],
      sqlKey: "dbRead: select customer_id from v_customer_balances where open_amount > 5000",
      answerShape: null,
      turnFitness: 1,
      queryAvgFitness: 0.8, // v_customer_balances is no view of the sandbox: no view credit
      compositeFitness: 0.88,
      embedder: "lab-hash-256-v1",
      isSynthetic: false,
      turnPass: true,
      markedPass: true,
      contaminated: false,
      stale: false,
      staleReason: null,
      validatedAt: null,
      support: 1,
      passes: 1,
      runId: "ask",
      episodeId: null,
      strategyId: null,
      modelName: null,
      modelId: null,
      challengeId: null,
      family: null,
      split: null,
      orgId: 2,
    });
    await expect(store.addAsk({ question: "", role: "cfo", queries: [] })).rejects.toThrow(
      "Cannot store the question: ask.question: Too small: expected string to have >=1 characters",
    );
  });

  it("lists by filter, best first, with paging", async () => {
    await using store = await PatternStore.open(":memory:");
    await store.addEpisodes([
      episode("e1", "A task", [{ sql: "SELECT 1", fitness: 0.5 }], { category: "sales" }),
      episode("e2", "B task", [{ sql: "SELECT 2", fitness: 1 }], { category: "sales" }),
      episode("e3", "C task", [{ sql: "SELECT 3", fitness: 0.8 }], { category: "finance", pass: false }),
    ]);
    expect((await store.list({ category: "sales" })).map((p) => p.episodeId)).toEqual(["e2", "e1"]);
    expect((await store.list({}, { limit: 1, offset: 1 })).map((p) => p.episodeId)).toEqual(["e1"]);
    expect((await store.list({ turnPass: false })).map((p) => p.episodeId)).toEqual(["e3"]);
    expect(await store.count({ minFitness: 0.7 })).toBe(2);
    await expect(store.list({}, { limit: -1 })).rejects.toThrow(RangeError);
  });

  it("runs the caller's SQL through withConnection and refuses calls after close", async () => {
    const store = await PatternStore.open(":memory:");
    await store.addEpisodes([episode("e1", "Revenue", [{ sql: "SELECT 1" }])]);
    const n = await store.withConnection(async (c) =>
      Number((await c.runAndReadAll("SELECT count(*) FROM turn_memories WHERE NOT stale")).getRows()[0][0])
    );
    expect(n).toBe(1);
    await store.close();
    await expect(store.count()).rejects.toThrow("The pattern store :memory: is closed; open it again");
  });

  it("in per-call mode holds the file only during a call, so another process can write it in between", async () => {
    const path = join(dir, "shared.duckdb");
    await using store = await PatternStore.open(path, { mode: "per-call" });
    await store.addEpisodes([episode("e1", "Revenue", [{ sql: "SELECT 1" }])]);
    const code = `import { DuckDBInstance } from "@duckdb/node-api";
      const i = await DuckDBInstance.create(${JSON.stringify(path)});
      const c = await i.connect();
      await c.run("UPDATE turn_memories SET support = 7");
      c.closeSync(); i.closeSync();`;
    const out = await new Deno.Command(Deno.execPath(), { args: ["eval", code], cwd: Deno.cwd(), stderr: "piped" })
      .output();
    expect(new TextDecoder().decode(out.stderr).split("\n").filter((l) => /error/i.test(l))).toEqual([]);
    expect((await store.list()).map((p) => p.support)).toEqual([7]);
    await expect(PatternStore.open(":memory:", { mode: "per-call" })).rejects.toThrow(RangeError);
  });

  it("re-embeds patterns made by another embedder", async () => {
    const path = join(dir, "reembed.duckdb");
    const other: Embedder = {
      id: "other-v0",
      dims: 256,
      embed: (ts) => Promise.resolve(ts.map(() => new Float32Array(256).fill(1 / 16))),
    };
    {
      await using store = await PatternStore.open(path, { embedder: other });
      await store.addEpisodes([
        episode("e1", "Revenue", [{ sql: "SELECT 1" }]),
        episode("e2", "Cost", [{ sql: "SELECT 2" }]),
      ]);
    }
    await using store = await PatternStore.open(path);
    expect(await store.reembed()).toBe(2);
    expect(await store.reembed()).toBe(0);
    const rows = await store.list({}, { withEmbedding: true });
    expect(rows.map((p) => [p.embedder, p.embedding])).toEqual(
      rows.map((p) => ["lab-hash-256-v1", localEmbed(p.normalizedIntent)]),
    );
  });

  it("refuses an embedder of the wrong size", async () => {
    const small: Embedder = { id: "small", dims: 64, embed: () => Promise.resolve([]) };
    await expect(PatternStore.open(":memory:", { embedder: small })).rejects.toThrow(
      "PatternStore.open: embedder 'small' makes 64-d vectors; turn_memories stores 256-d",
    );
  });
});

// ── a real episode through the runner's sink port ───────────────────────────────────────────────────────────

describe("PatternStore.sink with the agent runner", () => {
  let pool: SandboxPool;
  let challenge: Challenge;
  beforeAll(async () => {
    const path = join(dir, "tiny.duckdb");
    await buildSandbox(path, { scale: "tiny", asOf: "2025-11-28" });
    pool = await SandboxPool.open(path, { size: 1 });
    const all = await loadCatalog({ family: "revenue_for_period" });
    challenge = all.find((c) => c.orgId === 1 && c.params.period === "current_month")!;
  });
  afterAll(() => pool?.close());

  const REVENUE_SQL =
    "SELECT coalesce(sum(revenue), 0) AS revenue FROM v_monthly_revenue WHERE month = date_trunc('month', current_date)::DATE";

  it("stores the verified SQL of a real episode and none of its failed, refused or checking queries", async () => {
    const script = (req: TransportRequest, call: number): ScriptedReply => {
      const steps: ScriptedReply[] = [
        { calls: [{ name: "viewsList", args: { domain: "sales" } }] },
        { calls: [{ name: "dbRead", args: { sql: "SELECT sum(revenue FROM v_monthly_revenue" } }] },
        { calls: [{ name: "dbRead", args: { sql: "SELECT * FROM read_csv('/etc/passwd')" } }] },
        { calls: [{ name: "dbRead", args: { sql: REVENUE_SQL } }] },
        { calls: [{ name: "dbRead", args: { sql: `SELECT count(*) AS checked_rows FROM (${REVENUE_SQL})` } }] },
      ];
      if (call < steps.length) return steps[call];
      const read = req.messages.filter((m) => m.role === "tool").map((m) => JSON.parse(String(m.content)))[3];
      return { calls: [{ name: "submitAnswer", args: { answer: read.rows[0].revenue } }] };
    };
    const cfg = await loadStrategiesConfig();
    await using store = await PatternStore.open(":memory:");
    const rec = await runEpisode(
      { challenge, strategy: cfg.strategies.alpha, model: scriptedModel(script), attempt: 0, seed: 3 },
      { pool, fitness: cfg.fitness, sink: store.sink({ runId: "t-test" }) },
    );
    expect(rec.verdict.pass).toBe(true);
    expect(rec.queries.map((q) => [q.ok, q.refused ?? false])).toEqual([[false, false], [false, true], [true, false], [
      true,
      false,
    ]]);
    const revenue = (rec.toolCalls[3].result!.rows as { revenue: number }[])[0].revenue;
    const patterns = await store.list();
    expect(patterns.map(brief)).toEqual([{
      normalizedIntent: expect.stringContaining("<period>"),
      intent: challenge.task,
      role: "cfo",
      category: challenge.category,
      level: 1,
      toolSequence: ["viewsList", "dbRead", "submitAnswer"],
      successfulQueries: [{
        tool: "dbRead",
        sql: REVENUE_SQL,
        summary: `1 row: ${JSON.stringify({ revenue })}`,
        rows: 1,
        ms: rec.queries[2].ms,
      }],
      sqlKey: `dbRead: ${canonicalSql(REVENUE_SQL)}`,
      answerShape: "number",
      turnFitness: rec.fitness.turn.fitness,
      queryAvgFitness: rec.fitness.queries[2].fitness,
      compositeFitness: Math.round((0.6 * rec.fitness.queries[2].fitness + 0.4 * rec.fitness.turn.fitness) * 1e6) / 1e6,
      embedder: "lab-hash-256-v1",
      isSynthetic: true,
      turnPass: true,
      markedPass: null,
      contaminated: challenge.split !== "train",
      stale: false,
      staleReason: null,
      validatedAt: null,
      support: 1,
      passes: 1,
      runId: "t-test",
      episodeId: rec.id,
      strategyId: "alpha",
      modelName: "scripted",
      modelId: "scripted",
      challengeId: challenge.id,
      family: "revenue_for_period",
      split: challenge.split,
      orgId: 1,
    }]);
  });
});

describe("DuckDB file", () => {
  it("creates turn_memories with the columns retrieval relies on", async () => {
    const path = join(dir, "schema.duckdb");
    {
      await using _store = await PatternStore.open(path);
    }
    const inst = await DuckDBInstance.create(path);
    const con = await inst.connect();
    const cols = (await con.runAndReadAll("DESCRIBE turn_memories")).getRowObjectsJson()
      .map((r) => `${r.column_name} ${r.column_type}`);
    con.closeSync();
    inst.closeSync();
    for (
      const c of [
        "id VARCHAR",
        "normalized_intent VARCHAR",
        "intent VARCHAR",
        "role VARCHAR",
        "category VARCHAR",
        "level INTEGER",
        "successful_queries JSON",
        "sql_key VARCHAR",
        "answer_shape VARCHAR",
        "composite_fitness DOUBLE",
        "embedding FLOAT[256]",
        "turn_pass BOOLEAN",
        "contaminated BOOLEAN",
        "stale BOOLEAN",
        "support INTEGER",
        "split VARCHAR",
        "family VARCHAR",
        "is_synthetic BOOLEAN",
      ]
    ) expect(cols).toContain(c);
  });
});
