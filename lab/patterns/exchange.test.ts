import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { type EpisodeRecord, DEFAULT_FITNESS } from "../agents/mod.ts";
import { PatternStore } from "./store.ts";
import { exportParquet, importParquet, PARQUET_FORMAT, readParquetExport, toArrow } from "./exchange.ts";
import { LabError } from "../util/mod.ts";
import { PATTERN_COLUMNS } from "./_schema.ts";

function episode(id: string, task: string, sql: string, o: { category?: string; split?: string; pass?: boolean } = {}) {
  const pass = o.pass ?? true;
  return {
    id,
    challengeId: `fam/${id}`,
    challenge: {
      family: "fam",
      level: 1,
      category: o.category ?? "finance",
      outcome: "number",
      split: o.split ?? "train",
      orgId: 1,
      optimalSteps: 2,
    },
    role: "cfo",
    task,
    strategyId: "beta",
    model: { name: "m", id: "m-1" },
    toolCalls: [{
      step: 0,
      id: "c0",
      name: "dbRead",
      args: { sql },
      ok: true,
      result: { rows: [{ "a b": "x'y\"z", n: 1.25 }], rowCount: 1 },
      ms: 1,
    }],
    queries: [{ tool: "dbRead", sql, ok: true, rowCount: 1, ms: 3.5, call: 0 }],
    verdict: { pass, score: pass ? 1 : 0, reason: "" },
    fitness: { composite: 0, turn: { fitness: pass ? 0.9 : 0 }, queryAverage: 1, queries: [{ fitness: 0.8 }] },
  } as unknown as EpisodeRecord;
}

let dir: string;
let store: PatternStore;

/** Every column of every row, ordered by id, as DuckDB renders it to JSON (embeddings and JSON included). */
async function dump(s: PatternStore) {
  return await s.withConnection(async (c) =>
    (await c.runAndReadAll(`SELECT ${PATTERN_COLUMNS.join(", ")} FROM turn_memories ORDER BY id`)).getRowObjectsJson()
  );
}

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-patterns-exchange-" });
  store = await PatternStore.open(join(dir, "source.duckdb"));
  await store.addEpisodes([
    episode("e1", "Revenue for March 2025", "SELECT sum(total) AS n FROM invoices"),
    episode("e2", "Open bills of 'Globex'", "SELECT * FROM vendor_bills WHERE note = 'a\nb'", {
      category: "purchasing",
      split: "dev",
    }),
    episode("e3", "Stock value", "SELECT 3", { category: "inventory", pass: false }),
  ], { runId: "run/1=x" });
  await store.addEpisodes([episode("e4", "Revenue for Q3 2024", "SELECT sum(total) AS n FROM invoices")]); // merges, no run
  await store.addEpisodes([episode("e5", "Cash position", "SELECT 5", { category: "cash" })]); // NULL run
  await store.addAsk({
    question: "What do we owe Initech?",
    role: "ap_clerk",
    queries: [{ tool: "dbRead", sql: "SELECT 6" }],
  });
  const [p] = await store.list({ category: "inventory" });
  await store.mark(p.id, { turnPass: true });
  await store.withConnection((c) =>
    c.run(
      "UPDATE turn_memories SET stale = true, stale_reason = 'query 1 no longer runs', validated_at = TIMESTAMP '2025-11-28 10:11:12.345678' WHERE category = 'cash'",
    )
  );
});
afterAll(async () => {
  await store?.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("exportParquet / importParquet", () => {
  it("round-trips every column exactly, embeddings and JSON included", async () => {
    const out = join(dir, "export-all");
    const r = await exportParquet(store, out);
    expect(r).toEqual({ dir: out, rows: 5, files: 5 });
    await using copy = await PatternStore.open(join(dir, "copy.duckdb"));
    expect(await importParquet(copy, out)).toEqual({ rows: 5, inserted: 5, conflicts: 0, rederived: false });
    const [a, b] = [await dump(store), await dump(copy)];
    expect(b).toEqual(a);
    expect(a.map((r) => r.run_id)).toContain(null);
    expect((await copy.list({}, { withEmbedding: true, limit: 10 })).map((p) => p.embedding)).toEqual(
      (await store.list({}, { withEmbedding: true, limit: 10 })).map((p) => p.embedding),
    );
  });

  it("partitions by run and category, with a manifest beside the files", async () => {
    const out = join(dir, "export-layout");
    await exportParquet(store, out);
    const files: string[] = [];
    const walk = async (d: string, rel: string) => {
      for await (const e of Deno.readDir(d)) {
        if (e.isDirectory) await walk(join(d, e.name), `${rel}${e.name}/`);
        else files.push(`${rel}${e.name}`);
      }
    };
    await walk(out, "");
    expect(files.sort()).toEqual([
      "_patterns.json",
      "run_id=__HIVE_DEFAULT_PARTITION__/category=cash/data_0.parquet",
      "run_id=ask/category=ask/data_0.parquet",
      "run_id=run%2F1%3Dx/category=finance/data_0.parquet",
      "run_id=run%2F1%3Dx/category=inventory/data_0.parquet",
      "run_id=run%2F1%3Dx/category=purchasing/data_0.parquet",
    ]);
    const manifest = JSON.parse(await Deno.readTextFile(join(out, "_patterns.json")));
    expect(manifest).toEqual({
      ...PARQUET_FORMAT,
      rows: 5,
      files: 5,
      columns: [...PATTERN_COLUMNS],
      partitioning: ["run_id", "category"],
      compression: "snappy",
      composite_weights: { query: 0.6, turn: 0.4 },
      embedders: ["lab-hash-256-v1"],
      exported_at: expect.any(String),
    });
  });

  it("exports a filtered selection", async () => {
    const out = join(dir, "export-pass");
    expect(await exportParquet(store, out, { filter: { turnPass: true, contaminated: false } })).toMatchObject({
      rows: 3,
    });
    await using copy = await PatternStore.open(":memory:");
    await importParquet(copy, out);
    expect((await copy.list()).map((p) => p.category).sort()).toEqual(["cash", "finance", "inventory"]);
  });

  it("refuses to overwrite unless asked, replaces atomically, and leaves no temp folder behind", async () => {
    const out = join(dir, "export-twice");
    await exportParquet(store, out);
    await expect(exportParquet(store, out)).rejects.toThrow(`cannot export to ${out}: it exists; pass overwrite (--overwrite)`);
    await exportParquet(store, out, { overwrite: true, filter: { category: "finance" } });
    expect(JSON.parse(await Deno.readTextFile(join(out, "_patterns.json"))).rows).toBe(1);
    const closed = await PatternStore.open(":memory:");
    await closed.close();
    await expect(exportParquet(closed, join(dir, "export-fail"))).rejects.toThrow("is closed");
    expect(existsSync(join(dir, "export-fail"))).toBe(false);
    const left = [];
    for await (const e of Deno.readDir(dir)) if (e.name.includes(".tmp-")) left.push(e.name);
    expect(left).toEqual([]);
  });

  it("imports all or nothing: clashing ids are refused unless skipped or replaced", async () => {
    const out = join(dir, "export-clash");
    await exportParquet(store, out);
    await using copy = await PatternStore.open(":memory:");
    await copy.addEpisodes([episode("x1", "Revenue for May 2025", "SELECT sum(total) AS n FROM invoices")]);
    await copy.addEpisodes([episode("x2", "Something else", "SELECT 42")]);
    const before = await dump(copy);
    await expect(importParquet(copy, out)).rejects.toThrow(
      `cannot import ${out}: 1 of 5 patterns are already in :memory:; nothing was imported (pass { onConflict: 'skip' } or 'replace'; --on-conflict on the command line)`,
    );
    expect(await dump(copy)).toEqual(before);
    expect(await importParquet(copy, out, { onConflict: "skip" })).toEqual({
      rows: 5,
      inserted: 4,
      conflicts: 1,
      rederived: false,
    });
    const finance = async () =>
      (await copy.list({ category: "finance", role: "cfo" })).map((p) => [p.episodeId, p.support]).sort();
    expect(await finance()).toEqual([["x1", 1], ["x2", 1]]);
    await importParquet(copy, out, { onConflict: "replace" });
    expect(await finance()).toEqual([["e1", 2], ["x2", 1]]);
    expect(await copy.count()).toBe(6);
  });

  it("re-derives composites when the store's weights differ from the export's", async () => {
    const out = join(dir, "export-weights");
    await exportParquet(store, out);
    await using copy = await PatternStore.open(join(dir, "weights.duckdb"), {
      fitness: { ...DEFAULT_FITNESS, composite: { query: 1, turn: 0 } },
    });
    expect(await importParquet(copy, out)).toMatchObject({ rederived: true });
    expect((await copy.list({}, { limit: 10 })).every((p) => p.compositeFitness === p.queryAvgFitness)).toBe(true);
  });

  it("says what is wrong with a folder it cannot import", async () => {
    await using copy = await PatternStore.open(":memory:");
    await expect(importParquet(copy, join(dir, "nope"))).rejects.toThrow(
      `cannot import ${join(dir, "nope")}: no such file or folder; pass a folder written by exportParquet ('lab patterns export')`,
    );
    const alien = join(dir, "alien");
    await Deno.mkdir(alien);
    await copy.withConnection((c) =>
      c.run(`COPY (SELECT 1 AS id, 'x' AS role) TO '${alien}/a.parquet' (FORMAT parquet)`)
    );
    await expect(importParquet(copy, alien)).rejects.toThrow(
      /^cannot import .*alien: it lacks columns normalized_intent, intent, category/,
    );
    await Deno.writeTextFile(join(alien, "_patterns.json"), JSON.stringify({ format: "lab-patterns", version: 9 }));
    await expect(importParquet(copy, alien)).rejects.toThrow("is lab-patterns v9; this reader knows lab-patterns v1 — export it again");
    expect(await copy.count()).toBe(0);
  });
});

describe("failed imports and exports change nothing and say what to do in one line", () => {
  /** The rejection of `p`: its class and message (which must be one line). */
  async function failure(p: Promise<unknown>): Promise<{ error: string; message: string }> {
    const e = await p.then(() => undefined, (e: Error) => e);
    if (!e) throw new Error("expected a failure");
    expect(e.message).not.toContain("\n");
    return { error: e.constructor.name, message: e.message };
  }

  it("refuses a missing folder", async () => {
    const missing = join(dir, "no-such-export");
    expect(await failure(readParquetExport(missing))).toEqual({
      error: "LabError",
      message: `cannot import ${missing}: no such file or folder; pass a folder written by exportParquet ('lab patterns export')`,
    });
  });

  it("refuses a truncated Parquet file, a file the manifest does not know, and a corrupt one; the store is unchanged", async () => {
    const out = join(dir, "export-truncated");
    await exportParquet(store, out);
    await using copy = await PatternStore.open(join(dir, "truncated-target.duckdb"));
    await copy.addEpisodes([episode("x1", "Revenue for May 2025", "SELECT sum(total) AS n FROM invoices")]);
    const before = await dump(copy);
    const file = join(out, "run_id=run%2F1%3Dx", "category=finance", "data_0.parquet");
    const bytes = await Deno.readFile(file);
    await Deno.writeFile(file, bytes.slice(0, Math.floor(bytes.length / 2)));
    expect(await failure(importParquet(copy, out))).toEqual({
      error: "LabError",
      message: `cannot import ${out}: ${file} is truncated or not a Parquet file; nothing was imported — export the folder again`,
    });
    // Parquet's magic bytes at both ends but nothing readable between them: DuckDB's reason, as one line.
    await Deno.writeFile(file, new TextEncoder().encode("PAR1 not really parquet PAR1"));
    expect(await failure(importParquet(copy, out))).toMatchObject({
      error: "LabError",
      message: expect.stringMatching(new RegExp(`^cannot import ${out}: Invalid Input Error: .*; nothing was imported — export the folder again$`)),
    });
    await Deno.remove(file);
    expect(await failure(importParquet(copy, out))).toEqual({
      error: "LabError",
      message: `cannot import ${out}: it holds 4 Parquet files, its _patterns.json lists 5; copy the whole folder, or remove _patterns.json to import the files as they are`,
    });
    expect(await dump(copy)).toEqual(before);
  });

  it("refuses a destination it cannot write, and leaves no folder behind", async () => {
    const file = join(dir, "a-file");
    await Deno.writeTextFile(file, "not a folder");
    const out = join(file, "export");
    expect(await failure(exportParquet(store, out))).toEqual({
      error: "LabError",
      message: `cannot export to ${out}: ${file} is a file, not a folder; choose another folder`,
    });
    const nested = join(dir, "fresh", "nested", "export");
    const closed = await PatternStore.open(":memory:");
    await closed.close();
    await expect(exportParquet(closed, nested)).rejects.toThrow("is closed");
    expect(existsSync(join(dir, "fresh"))).toBe(false);
    expect(await Deno.readTextFile(file)).toBe("not a folder");
    await expect(exportParquet(store, out)).rejects.toBeInstanceOf(LabError);
  });

  it.runIf(Deno.build.os === "linux")("refuses a folder the system does not let it write", async () => {
    expect(await failure(exportParquet(store, "/proc/lab-export"))).toEqual({
      error: "LabError",
      message: "cannot export to /proc/lab-export: No such file or directory; choose a folder you can write to",
    });
  });
});

describe("toArrow", () => {
  it("returns the patterns as an Arrow table with typed columns, best first", async () => {
    const t = await toArrow(store);
    expect(t.numRows).toBe(5);
    expect(t.schema.fields.map((f) => f.name)).toEqual([...PATTERN_COLUMNS]);
    const types = Object.fromEntries(t.schema.fields.map((f) => [f.name, String(f.type)]));
    expect(types).toMatchObject({
      id: "Utf8",
      level: "Int32",
      tool_sequence: "List<Utf8>",
      composite_fitness: "Float64",
      embedding: "FixedSizeList[256]<Float32>",
      created_at: "Timestamp<MICROSECOND>",
      turn_pass: "Bool",
      marked_pass: "Bool",
    });
    const patterns = await store.list({}, { withEmbedding: true });
    expect(t.getChild("id")!.toArray()).toEqual(patterns.map((p) => p.id));
    expect(t.getChild("embedding")!.get(0)!.toArray()).toEqual(patterns[0].embedding);
    expect([...t.getChild("marked_pass")!]).toEqual(patterns.map((p) => p.markedPass));
    expect([...t.getChild("validated_at")!].filter((v) => v !== null)).toEqual([
      Date.UTC(2025, 10, 28, 10, 11, 12, 345) + 0.678,
    ]);
    expect(JSON.parse(t.getChild("successful_queries")!.get(0))).toEqual(patterns[0].successfulQueries);
  });

  it("selects columns, filters and limits", async () => {
    const t = await toArrow(store, { turnPass: true }, { columns: ["normalized_intent", "support"], limit: 2 });
    expect(t.toArray().map((r) => r.toJSON())).toEqual(
      (await store.list({ turnPass: true }, { limit: 2 })).map((p) => ({
        normalized_intent: p.normalizedIntent,
        support: p.support,
      })),
    );
    await expect(toArrow(store, {}, { columns: ["nope" as "id"] })).rejects.toThrow("toArrow: unknown column nope");
  });
});
