/**
 * Pattern store benches (`deno bench -A lab/patterns/store_bench.ts`), each printing measured vs target:
 *
 * 1. Insert 100 K patterns through `addEpisodes` — validation, extraction, normalization, embedding, merging and
 *    the bulk upsert — into a fresh file store. Generated episodes with clustered intents: 40 families × 5
 *    wordings × 6 parameter values × 4 SQL variants × 2 roles, with failed and verification queries mixed in,
 *    so rows merge as they do in a tournament (target < 10 s). A second pass inserts 100 K episodes whose
 *    patterns are all distinct (every SQL differs; no merging: the worst case for the table), also < 10 s.
 * 2. Export 1 M patterns to hive-partitioned Parquet (10 runs × 8 categories) with `exportParquet`, snappy and
 *    lz4_raw (target < 20 s). The rows are 5,000 real patterns (through `addEpisodes`: local embeddings)
 *    copied in SQL under new ids, runs and categories.
 *
 * `LAB_BENCH_PATTERNS=20000` (insert) and `LAB_BENCH_EXPORT=200000` (export) run smaller ones.
 */
import { join } from "node:path";
import type { EpisodeRecord } from "../agents/mod.ts";
import { PatternStore } from "./store.ts";
import { exportParquet } from "./exchange.ts";
import { PATTERN_COLUMNS } from "./_schema.ts";
import { mulberry32 } from "../util/mod.ts";

/** Process CPU time in seconds (user + system), to read wall times on a shared, loaded machine. */
function cpuSeconds(): number {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}
const load = () => `load ${Deno.loadavg()[0].toFixed(1)} on ${navigator.hardwareConcurrency} cores`;

const INSERT_N = Number(Deno.env.get("LAB_BENCH_PATTERNS") ?? 100_000);
const EXPORT_N = Number(Deno.env.get("LAB_BENCH_EXPORT") ?? 1_000_000);

const CATEGORIES = ["finance", "sales", "purchasing", "inventory", "reporting", "hr", "cash", "tax"];
const WORDINGS = [
  "What was total {m} for {p}? One number please.",
  "Give me the {m} of {p} for Acme Corp, as a single figure.",
  "How much {m} did we book {p}?",
  "Report {m} for {p} by region and return JSON rows.",
  "Please compute {m} {p} and compare it with the previous period.",
];
const PERIODS = ["last month", "March 2025", "Q3 2024", "this quarter", "2025-10", "the last 30 days"];
const MEASURES = [
  "revenue",
  "open receivables",
  "overdue payables",
  "gross margin",
  "stock value",
  "payroll cost",
  "cash balance",
  "tax liability",
  "refunds",
  "credit notes",
];

/** Generates `n` episode records; `distinct` makes every pattern unique (no merging). */
function generateEpisodes(n: number, options: { distinct?: boolean; seed?: number } = {}): EpisodeRecord[] {
  const rand = mulberry32(options.seed ?? 7);
  const out: EpisodeRecord[] = [];
  for (let i = 0; i < n; i++) {
    const family = Math.floor(rand() * 40);
    const measure = MEASURES[family % MEASURES.length];
    const category = CATEGORIES[family % CATEGORIES.length];
    const task = WORDINGS[Math.floor(rand() * WORDINGS.length)]
      .replace("{m}", `${measure} ${family}`)
      .replace("{p}", PERIODS[Math.floor(rand() * PERIODS.length)]);
    const variant = options.distinct ? i : Math.floor(rand() * 4);
    const sql =
      `SELECT sum(amount) AS total FROM v_${category}_facts WHERE family = ${family} AND variant = ${variant}`;
    const pass = rand() < 0.6;
    const queries = [
      {
        tool: "dbRead" as const,
        sql: `SELECT * FROM nope_${family}`,
        ok: false,
        error: "Catalog Error",
        ms: 1,
        call: 1,
      },
      { tool: "dbRead" as const, sql, ok: true, rowCount: 1, ms: 2, call: 2 },
      {
        tool: "dbRead" as const,
        sql: `SELECT count(*) AS checked_rows FROM (${sql})`,
        ok: true,
        rowCount: 1,
        ms: 1,
        call: 3,
      },
    ];
    const toolCalls = [
      { step: 0, id: "c0", name: "viewsList", args: {}, ok: true, result: {}, ms: 1 },
      { step: 1, id: "c1", name: "dbRead", args: { sql: queries[0].sql }, ok: false, error: "Catalog Error", ms: 1 },
      {
        step: 2,
        id: "c2",
        name: "dbRead",
        args: { sql },
        ok: true,
        result: { columns: ["total"], rows: [{ total: 1000 + family }], rowCount: 1, truncated: false },
        ms: 2,
      },
      {
        step: 3,
        id: "c3",
        name: "dbRead",
        args: { sql: queries[2].sql },
        ok: true,
        result: { columns: ["checked_rows"], rows: [{ checked_rows: 1 }], rowCount: 1, truncated: false },
        ms: 1,
      },
      {
        step: 4,
        id: "c4",
        name: "submitAnswer",
        args: { answer: 1000 + family },
        ok: true,
        result: { accepted: true },
        ms: 0,
      },
    ];
    out.push({
      id: `bench-${i}`,
      challengeId: `${category}_${family}/t0/o1`,
      challenge: {
        family: `${measure.replace(/ /g, "_")}_${family}`,
        level: 1 + (family % 5),
        category,
        outcome: "number",
        split: rand() < 0.8 ? "train" : "dev",
        orgId: 1 + (i % 3),
        optimalSteps: 3,
      },
      role: i % 2 ? "cfo" : "analyst",
      asOf: "2025-11-28",
      task,
      strategyId: ["alpha", "beta", "gamma", "delta", "epsilon"][i % 5],
      model: { name: "lab-mini", id: "lab-mini-v1" },
      seed: i,
      attempt: 0,
      examples: 0,
      messages: [],
      steps: [],
      toolCalls,
      queries,
      tokens: { input: 1000, output: 100, total: 1100 },
      costUsd: 0,
      modelErrors: [],
      answer: null,
      verdict: { pass, score: pass ? 1 : 0, reason: pass ? "ok" : "wrong number" },
      fitness: {
        composite: 0,
        turn: {
          fitness: pass ? 0.6 + rand() * 0.4 : 0,
          score: pass ? 1 : 0,
          stepsEfficiency: 1,
          tokensEfficiency: 1,
          safety: 1,
        },
        queryAverage: 0.5,
        queries: [
          { fitness: 0, ok: false, usesViews: false, rowsEfficiency: 1 },
          ...[0, 1].map(() => ({ fitness: 0.8 + rand() * 0.2, ok: true, usesViews: true, rowsEfficiency: 1 })),
        ],
      },
      stopReason: "submitted",
      stopDetail: "",
      startedAt: "2025-11-28T12:00:00.000Z",
      latencyMs: 10,
      modelLatencyMs: 5,
    });
  }
  return out;
}

const dir = await Deno.makeTempDir({ prefix: "lab-patterns-bench-" });

async function insertBench(name: string, distinct: boolean) {
  const records = generateEpisodes(INSERT_N, { distinct, seed: distinct ? 11 : 7 });
  const path = join(dir, `${name}.duckdb`);
  const t0 = performance.now();
  const c0 = cpuSeconds();
  await using store = await PatternStore.open(path);
  const report = await store.addEpisodes(records, { runId: "bench" });
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds() - c0;
  const target = 10 * INSERT_N / 100_000;
  console.log(
    `insert ${INSERT_N} patterns (${name}): ${secs.toFixed(2)} s vs target < ${target.toFixed(1)} s: ${
      secs < target ? "OK" : "MISSED"
    } ` +
      `(CPU ${cpu.toFixed(2)} s, ${load()}) ` +
      `— ${report.inserted} rows, ${report.merged} merged, ${report.failedQueriesSkipped} failed and ` +
      `${report.verificationQueriesSkipped} verification queries skipped; ${await store.count()} stored`,
  );
}

await insertBench("clustered", false);
await insertBench("distinct", true);

{
  const path = join(dir, "export.duckdb");
  await using store = await PatternStore.open(path);
  const t0 = performance.now();
  // Real patterns (normalized, embedded by the local embedder) from 5,000 distinct episodes, then copied in SQL
  // under new ids, runs and categories up to EXPORT_N rows.
  await store.addEpisodes(generateEpisodes(5000, { distinct: true, seed: 3 }), { runId: "seed" });
  const copies = Math.ceil(EXPORT_N / 5000);
  await store.withConnection(async (con) => {
    const cols = PATTERN_COLUMNS.map((c) =>
      c === "id"
        ? "md5(t.id || '#' || k) AS id"
        : c === "run_id"
        ? "'run-' || (k % 10) AS run_id"
        : c === "category"
        ? "['finance','sales','purchasing','inventory','reporting','hr','cash','tax'][((hash(t.id) % 8)::INTEGER + k::INTEGER) % 8 + 1] AS category"
        : c === "episode_id"
        ? "t.episode_id || '#' || k AS episode_id"
        : `t.${c}`
    );
    await con.run(`CREATE TEMP TABLE _seed AS SELECT * FROM turn_memories`);
    await con.run("DELETE FROM turn_memories");
    await con.run(
      `INSERT INTO turn_memories SELECT ${cols.join(", ")} FROM _seed t CROSS JOIN range(${copies}) r(k)
       LIMIT ${EXPORT_N}`,
    );
  });
  console.log(`(generated ${EXPORT_N} patterns in SQL in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  for (const compression of ["snappy", "lz4_raw"] as const) {
    const t1 = performance.now();
    const c1 = cpuSeconds();
    const r = await exportParquet(store, join(dir, `export-${compression}`), { compression });
    const secs = (performance.now() - t1) / 1000;
    const cpu = cpuSeconds() - c1;
    const target = 20 * EXPORT_N / 1_000_000;
    console.log(
      `export ${r.rows} patterns to Parquet, ${compression} (${r.files} files): ${secs.toFixed(2)} s vs target < ` +
        `${target.toFixed(1)} s: ${secs < target ? "OK" : "MISSED"} (CPU ${cpu.toFixed(2)} s, ${load()})`,
    );
    await Deno.remove(join(dir, `export-${compression}`), { recursive: true });
  }
}
await Deno.remove(dir, { recursive: true });

Deno.bench("placeholder: the figures above are printed by the measurement blocks", () => {});
