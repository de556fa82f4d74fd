import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DuckDBConnection, DuckDBInstance, FLOAT, LIST, listValue } from "@duckdb/node-api";
import type { PatternSource } from "../agents/mod.ts";
import { parseInjection } from "../models/mod.ts";
import { LOCAL_EMBEDDER_ID, localEmbed } from "./embed.ts";
import { normalizeIntent } from "./normalize.ts";
import { PatternStore } from "./store.ts";
import { PATTERN_SCHEMA } from "./_schema.ts";
import { loadPatternsConfig, type RetrievalOverrides } from "./_config.ts";
import type { RetrievedPattern } from "./_search.ts";
import type { Pattern } from "./_query.ts";
import { fuseLexical } from "./_hybrid.ts";
import { PatternRetriever } from "./retrieve.ts";
import { budgetedRenderer, patternToExample, toInjectedExamples, usedPatterns } from "./_inject.ts";
import { PatternDocumentRetriever } from "./_langchain.ts";

/** A throwaway DuckDB with the pattern table: the RetrievalSource contract, without the store's logic. */
class TestSource {
  private constructor(readonly instance: DuckDBInstance, readonly con: DuckDBConnection) {}
  static async open() {
    const instance = await DuckDBInstance.create(":memory:");
    const con = await instance.connect();
    for (const sql of PATTERN_SCHEMA) await con.run(sql);
    return new TestSource(instance, con);
  }
  withConnection<T>(fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
    return fn(this.con);
  }
  close() {
    this.con.closeSync();
    this.instance.closeSync();
  }
}

interface Row {
  id: string;
  intent: string;
  role?: string;
  sql?: string;
  fitness?: number;
  split?: string | null;
  family?: string;
  turnPass?: boolean;
  stale?: boolean;
  contaminated?: boolean;
  queries?: unknown[];
  embedder?: string;
  answerShape?: string;
}

async function insert(c: DuckDBConnection, rows: Row[]) {
  for (const r of rows) {
    const normalized = normalizeIntent(r.intent);
    const queries = r.queries ??
      [{ tool: "dbRead", sql: r.sql ?? `SELECT '${r.id}' AS v`, summary: "1 row", rows: 1, ms: 1 }];
    await c.run(
      `INSERT INTO turn_memories (id, normalized_intent, intent, role, category, level, tool_sequence, successful_queries,
         sql_key, answer_shape, turn_fitness, query_avg_fitness, composite_fitness, embedding, embedder, created_at,
         updated_at, is_synthetic, turn_pass, contaminated, stale, family, split)
       VALUES ($id, $ni, $intent, $role, 'finance', 1, ['dbRead'], $q::JSON, $key, $shape, $f, $f, $f, $e::FLOAT[256], $emb,
         now()::TIMESTAMP, now()::TIMESTAMP, true, $pass, $cont, $stale, $fam, $split)`,
      {
        id: r.id,
        ni: normalized,
        intent: r.intent,
        role: r.role ?? "accountant",
        q: JSON.stringify(queries),
        key: r.sql ?? r.id,
        shape: r.answerShape ?? "number",
        f: r.fitness ?? 0.9,
        e: listValue(Array.from(localEmbed(normalized))),
        emb: r.embedder ?? LOCAL_EMBEDDER_ID,
        pass: r.turnPass ?? true,
        cont: r.contaminated ?? false,
        stale: r.stale ?? false,
        fam: r.family ?? "overdue_invoices",
        split: r.split === undefined ? "train" : r.split,
      },
      { e: LIST(FLOAT) },
    );
  }
}

const TASK = "List the overdue invoices of Acme Corp with their open amount";
const ids = (ps: readonly { id: string }[]) => ps.map((p) => p.id);
const exactCfg: RetrievalOverrides = { index: { kind: "exact" } };
const ivfCfg: RetrievalOverrides = { index: { kind: "ivf", nlist: 4, nprobe: 4, sample: 100 } };

describe("retrieval rules", () => {
  let src: TestSource;
  beforeAll(async () => {
    src = await TestSource.open();
    await insert(src.con, [
      { id: "best", intent: "List the overdue invoices of Globex with their open amount", fitness: 0.8 },
      { id: "fitter", intent: "List overdue invoices for Initech with the open amount", fitness: 0.95 },
      { id: "related", intent: "Overdue invoices by customer: total open amount", fitness: 0.9 },
      { id: "unfit", intent: "List the overdue invoices of Umbrella with their open amount", fitness: 0.7 },
      { id: "failed", intent: "List the overdue invoices of Hooli with their open amount", turnPass: false },
      { id: "stale", intent: "List the overdue invoices of Stark with their open amount", stale: true },
      { id: "no-sql", intent: "List the overdue invoices of Wayne with their open amount", queries: [] },
      {
        id: "other-embedder",
        intent: "List the overdue invoices of Acme Corp with their open amount",
        embedder: "x/256",
      },
      {
        id: "unrelated",
        intent: "Post the monthly depreciation journal for every fixed asset",
        family: "depreciation",
      },
      { id: "ask", intent: "List the overdue invoices of Tyrell with their open amount", split: null },
    ]);
  });
  afterAll(() => src.close());

  it.each([["exact", exactCfg], ["ivf", ivfCfg]] as const)(
    "%s: keeps passing, fresh, fit train patterns with SQL above the cut-off, by similarity then fitness",
    // "best" and "fitter" normalize to the same intent (names → <name>), so fitness breaks their tie.
    async (_name, config) => {
      await using r = await PatternRetriever.open(src, { config });
      const hits = await r.search({ task: TASK, role: "accountant" });
      expect(r.stats.mode).toBe(config.index?.kind);
      expect(r.cutoff).toBe((await loadPatternsConfig()).retrieval.cutoffs[LOCAL_EMBEDDER_ID]);
      expect(ids(hits)).toEqual(["fitter", "best", "related"]);
      expect(hits[0].similarity).toBeCloseTo(hits[1].similarity, 6);
      expect(hits.every((h, i) => h.similarity >= r.cutoff && (i === 0 || hits[i - 1].similarity >= h.similarity)))
        .toBe(true);
      expect(hits[1]).toMatchObject({
        intent: "List the overdue invoices of Globex with their open amount",
        role: "accountant",
        calls: [{ tool: "dbRead", sql: "SELECT 'best' AS v" }],
        answerShape: "number",
        fitness: 0.8,
        split: "train",
        family: "overdue_invoices",
      });
    },
  );

  it("injects the retrieved patterns best fitness first, as the runner's PatternSource", async () => {
    await using r = await PatternRetriever.open(src, { config: exactCfg });
    const source: PatternSource = r.source;
    expect(await source({ task: TASK, role: "accountant", split: "dev" })).toEqual([
      {
        id: "fitter",
        task: "List overdue invoices for Initech with the open amount",
        role: "accountant",
        calls: [{ tool: "dbRead", sql: "SELECT 'fitter' AS v" }],
        answerShape: "number",
      },
      {
        id: "related",
        task: "Overdue invoices by customer: total open amount",
        role: "accountant",
        calls: [{ tool: "dbRead", sql: "SELECT 'related' AS v" }],
        answerShape: "number",
      },
      {
        id: "best",
        task: "List the overdue invoices of Globex with their open amount",
        role: "accountant",
        calls: [{ tool: "dbRead", sql: "SELECT 'best' AS v" }],
        answerShape: "number",
      },
    ]);
  });

  it("every rule is an option: limit, role, unsplit patterns, the fitness floor", async () => {
    await using r = await PatternRetriever.open(src, {
      config: { ...exactCfg, limit: 2, include_unsplit: true, min_fitness: 0.85 },
    });
    expect(ids(await r.search({ task: TASK, role: "accountant" }))).toEqual(["fitter", "ask"]);
    await using byRole = await PatternRetriever.open(src, { config: { ...exactCfg, same_role: true } });
    expect(await byRole.search({ task: TASK, role: "cfo" })).toEqual([]);
  });

  it("refuses bad options with the field named", async () => {
    await expect(PatternRetriever.open(src, { config: { limit: 0 } })).rejects.toThrow(
      /retrieval options: limit: must be a positive integer/,
    );
    await expect(PatternRetriever.open(src, { config: { index: { kind: "hnsw" as "ivf" } } })).rejects.toThrow(
      /index\.kind/,
    );
  });
});

describe("leakage control", () => {
  let src: TestSource;
  const planted = "List the overdue invoices of Acme Corp with their open amount"; // the query itself
  beforeAll(async () => {
    src = await TestSource.open();
    await insert(src.con, [
      { id: "dev", intent: planted, split: "dev", fitness: 1 },
      { id: "test_id", intent: planted, split: "test_id", fitness: 1 },
      { id: "test_ood", intent: planted, split: "test_ood", fitness: 1 },
      { id: "contaminated", intent: planted, split: "train", contaminated: true, fitness: 1 },
      { id: "train", intent: "List overdue invoices of Globex with the open amount", fitness: 0.8 },
    ]);
  });
  afterAll(() => src.close());

  it.each([["exact", exactCfg], ["ivf", ivfCfg]] as const)(
    "%s: patterns of dev/test and contaminated ones never come back for a dev query, though they are the most similar",
    async (_name, config) => {
      await using r = await PatternRetriever.open(src, { config });
      const hits = await r.search({ task: planted, role: "accountant", split: "dev" });
      expect(ids(hits)).toEqual(["train"]);
      // Proof they are the most similar: with every guard off they rank first.
      await using open = await PatternRetriever.open(src, {
        config: {
          ...config,
          allowed_splits: ["train", "dev", "test_id", "test_ood"],
          allow_contaminated: true,
          allow_query_split: true,
        },
      });
      const all = await open.search({ task: planted, role: "accountant", split: "dev" });
      expect(ids(all)).toEqual(["contaminated", "dev", "test_id", "test_ood", "train"]);
      expect(all.slice(0, 4).every((h) => h.similarity > 0.999)).toBe(true);
    },
  );

  it("the evaluated split stays out even when it is allowed", async () => {
    await using r = await PatternRetriever.open(src, { config: { ...exactCfg, allowed_splits: ["train", "dev"] } });
    expect(ids(await r.search({ task: planted, role: "accountant", split: "dev" }))).toEqual(["train"]);
    expect(ids(await r.search({ task: planted, role: "accountant", split: "test_id" }))).toEqual(["dev", "train"]);
  });
});

describe("the in-memory index", () => {
  it("agrees with the exact scan, and follows new and changed rows after refresh", async () => {
    const src = await TestSource.open();
    try {
      const subjects = ["invoices", "bills", "purchase orders", "payments", "journal entries", "stock moves"];
      const verbs = ["List the overdue", "Count the open", "Total the unpaid", "Show the late"];
      const owners = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"];
      const rows: Row[] = [];
      for (const s of subjects) {
        for (const v of verbs) {
          for (const o of owners) {
            rows.push({
              id: `${v}|${s}|${o}`,
              intent: `${v} ${s} of ${o} by due date`,
              fitness: 0.71 + (rows.length % 29) / 100,
            });
          }
        }
      }
      await insert(src.con, rows);
      await using exact = await PatternRetriever.open(src, { config: exactCfg });
      await using ivf = await PatternRetriever.open(src, { config: { index: { kind: "ivf", nlist: 12, nprobe: 12 } } });
      expect(ivf.stats).toMatchObject({ mode: "ivf", rows: 192, nlist: 12 });
      for (
        const task of [
          "List the overdue bills of Acme by due date",
          "Total unpaid payments of Wayne",
          "Count open stock moves",
        ]
      ) {
        expect(ids(await ivf.search({ task, role: "accountant" }))).toEqual(
          ids(await exact.search({ task, role: "accountant" })),
        );
      }
      const task = "Reconcile the petty cash box";
      expect(await ivf.search({ task, role: "accountant" })).toEqual([]);
      await insert(src.con, [{ id: "new", intent: "Reconcile the petty cash box of Globex" }]);
      await src.con.run(
        "UPDATE turn_memories SET stale = true, updated_at = now()::TIMESTAMP + INTERVAL 1 SECOND WHERE id = 'List the overdue|bills|Acme'",
      );
      // Before refresh: the stale row is already dropped (rules re-checked in SQL); the new one is not indexed yet.
      const q = { task: "List the overdue bills of Acme by due date", role: "accountant" };
      expect(ids(await ivf.search(q))).not.toContain("List the overdue|bills|Acme");
      expect(await ivf.refresh()).toBeGreaterThanOrEqual(2);
      expect(ids(await ivf.search({ task, role: "accountant" }))).toEqual(["new"]);
      expect(ids(await ivf.search(q))).toEqual(ids(await exact.search(q)));
      expect(ivf.stats.rows).toBe(193);
    } finally {
      src.close();
    }
  });

  it("auto picks the exact scan for a small store and the index from min_rows", async () => {
    const src = await TestSource.open();
    try {
      await insert(src.con, [{ id: "a", intent: TASK }, { id: "b", intent: "Post depreciation" }]);
      await using small = await PatternRetriever.open(src, { config: { index: { kind: "auto", min_rows: 3 } } });
      await using big = await PatternRetriever.open(src, { config: { index: { kind: "auto", min_rows: 2 } } });
      expect([small.stats.mode, big.stats.mode]).toEqual(["exact", "ivf"]);
      expect(() => small.searchIndex(localEmbed(TASK), { task: TASK, role: "x" })).toThrow(/searches DuckDB exactly/);
      await big.close();
      await expect(big.search({ task: TASK, role: "x" })).rejects.toThrow(
        /search after close\(\); open a new retriever/,
      );
    } finally {
      src.close();
    }
  });
});

describe("a PatternStore as the source", () => {
  it("retrieves through the store's connection with the store's embedder", async () => {
    await using store = await PatternStore.open(":memory:");
    await store.withConnection((c) => insert(c, [{ id: "p", intent: "Total revenue of Acme for March 2025" }]));
    await using r = await PatternRetriever.open(store);
    expect(r.embedder.id).toBe(store.embedder.id);
    expect(ids(await r.search({ task: "Total revenue of Globex for Q3 2024", role: "cfo", split: "dev" }))).toEqual([
      "p",
    ]);
  });
});

describe("hybrid ranking", () => {
  const cand = (id: string, normalizedIntent: string, similarity: number): RetrievedPattern => ({
    id,
    intent: normalizedIntent,
    normalizedIntent,
    role: "r",
    category: "c",
    level: 1,
    calls: [],
    answerShape: null,
    fitness: 0.8,
    similarity,
    lexical: null,
    score: similarity,
    support: 1,
    family: null,
    split: "train",
  });

  it("lifts the candidate that shares the query's rare words above a slightly more similar one", async () => {
    const fused = await fuseLexical(
      "overdue invoices customer open_amount",
      [
        cand("a", "open bills supplier total", 0.62),
        cand("b", "overdue invoices customer open_amount", 0.6),
        cand("c", "posted journal entries", 0.5),
      ],
      { rrf_k: 60, lexical_weight: 1 },
    );
    expect(fused.map((p) => [p.id, p.lexical! > 0])).toEqual([["b", true], ["a", false], ["c", false]]);
    expect(fused[0].score).toBeCloseTo(1 / 62 + 1 / 61, 10);
  });

  it("is used by the retriever when enabled, on the dense candidates above the cut-off", async () => {
    const src = await TestSource.open();
    try {
      await insert(src.con, [
        { id: "x", intent: "Overdue invoices of Acme with open amount" },
        { id: "y", intent: "Overdue invoices of Acme, open amount by customer" },
      ]);
      await using r = await PatternRetriever.open(src, { config: { ...exactCfg, hybrid: { enabled: true } } });
      const hits = await r.search({ task: "Open amount by customer of overdue invoices", role: "accountant" });
      expect(hits.map((h) => h.id).sort()).toEqual(["x", "y"]);
      expect(hits.every((h) => h.lexical !== null && h.score < 1)).toBe(true);
    } finally {
      src.close();
    }
  });
});

describe("context injection", () => {
  const example = {
    task: "Revenue of March 2025",
    role: "cfo",
    calls: [{
      tool: "dbRead" as const,
      sql: "SELECT sum(total) FROM invoices WHERE issued >= '2025-03-01' AND total > 100",
    }],
    answerShape: "number",
  };

  it("usedPatterns counts an adapted statement as reuse, and ignores failed and different statements", () => {
    const other = {
      ...example,
      task: "Bills",
      calls: [{ tool: "dbRead" as const, sql: "SELECT count(*) FROM bills" }],
    };
    const adapted = { sql: "select SUM(total)\nfrom invoices where issued >= '2024-07-01' and total > 250;", ok: true };
    expect(usedPatterns([example, other], [adapted])).toEqual([example]);
    expect(usedPatterns([example, other], [adapted], { literals: "keep" })).toEqual([]);
    expect(usedPatterns([example, other], [{ sql: "SELECT count(*) FROM bills", ok: false }])).toEqual([]);
    expect(usedPatterns([example, other], [{ sql: "SELECT  COUNT(*) FROM bills" }])).toEqual([other]);
  });

  it("budgetedRenderer writes an injection v1 section that stops at the token budget", () => {
    const many = Array.from({ length: 20 }, (_, i) => ({ ...example, task: `${example.task} #${i}` }));
    const small = budgetedRenderer(200)(many, "Examples:");
    const large = budgetedRenderer(5000)(many, "Examples:");
    expect(small.startsWith("Examples:\n## Examples (lab injection v1)")).toBe(true);
    expect(parseInjection(large)).toEqual(many);
    expect(parseInjection(small).length).toBeLessThan(5);
    expect(parseInjection(small)).toEqual(many.slice(0, parseInjection(small).length));
    expect(budgetedRenderer(10)(many, "Examples:")).toBe("");
    expect(() => budgetedRenderer(0)).toThrow(/tokenBudget must be a positive integer/);
  });

  it("toInjectedExamples orders by fitness and drops patterns without SQL", () => {
    const p = (id: string, fitness: number, similarity: number, calls = example.calls): RetrievedPattern => ({
      id,
      intent: id,
      normalizedIntent: id,
      role: "cfo",
      category: "c",
      level: 1,
      calls,
      answerShape: null,
      fitness,
      similarity,
      lexical: null,
      score: similarity,
      support: 1,
      family: null,
      split: "train",
    });
    expect(
      toInjectedExamples([p("a", 0.8, 0.9), p("b", 0.9, 0.5), p("c", 0.8, 0.95), p("d", 1, 1, [])]).map((e) => e.task),
    )
      .toEqual(["b", "c", "a"]);
  });

  it("patternToExample makes the same example of a stored and a retrieved pattern", () => {
    const stored: Pattern = {
      id: "p1", normalizedIntent: "revenue <period>", intent: example.task, role: "cfo", category: "finance", level: 1,
      toolSequence: ["dbRead"], successfulQueries: [{ ...example.calls[0], summary: "1 row", rows: 1, ms: 2 }],
      sqlKey: "", answerShape: "number", turnFitness: 1, queryAvgFitness: 1, compositeFitness: 1, embedder: "e",
      createdAt: "", updatedAt: "", isSynthetic: true, turnPass: true, markedPass: null, contaminated: false,
      stale: false, staleReason: null, validatedAt: null, support: 1, passes: 1, runId: null, episodeId: null,
      strategyId: null, modelName: null, modelId: null, challengeId: null, family: null, split: "train", orgId: 1,
    };
    const retrieved: RetrievedPattern = {
      id: "p1", intent: example.task, normalizedIntent: "revenue <period>", role: "cfo", category: "finance",
      level: 1, calls: example.calls, answerShape: "number", fitness: 1, similarity: 1, lexical: null, score: 1,
      support: 1, family: null, split: "train",
    };
    expect(patternToExample(stored)).toEqual({ id: "p1", ...example });
    expect(patternToExample(retrieved)).toEqual(patternToExample(stored));
    expect(patternToExample({ ...retrieved, answerShape: null })).not.toHaveProperty("answerShape");
  });
});

describe("LangChain", () => {
  it("PatternDocumentRetriever returns Documents with the pattern's metadata", async () => {
    const src = await TestSource.open();
    try {
      await insert(src.con, [{ id: "d1", intent: "Overdue invoices of Acme with open amount", fitness: 0.9 }]);
      await using r = await PatternRetriever.open(src, { config: exactCfg });
      const lc = new PatternDocumentRetriever({ retriever: r, role: "accountant", split: "dev" });
      const [doc, ...rest] = await lc.invoke("Overdue invoices of Globex with the open amount");
      expect(rest).toEqual([]);
      expect(doc.pageContent).toBe("Overdue invoices of Acme with open amount");
      expect(doc.metadata).toMatchObject({
        id: "d1",
        role: "accountant",
        fitness: 0.9,
        calls: [{ tool: "dbRead", sql: "SELECT 'd1' AS v" }],
        answerShape: "number",
        family: "overdue_invoices",
        split: "train",
      });
      expect(doc.metadata.similarity).toBeGreaterThan(r.cutoff);
    } finally {
      src.close();
    }
  });
});
