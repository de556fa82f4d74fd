/**
 * `lab dataset build | stats | validate | export` in process, on planted stores: what they write and print, and
 * one-line errors with a non-zero exit (and nothing written) for bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { loadCatalog } from "../challenges/mod.ts";
import { PatternStore } from "../patterns/mod.ts";
import { insertEpisodes } from "../tournament/testing.ts";
import { record } from "../datasets/testing.ts";
import { lab } from "./testing.ts";

describe("lab dataset", () => {
  let dir: string, db: string, patterns: string, config: string;

  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-dataset-cli-" });
    [db, patterns, config] = [join(dir, "lab.duckdb"), join(dir, "patterns.duckdb"), join(dir, "datasets.yaml")];
    const families = new Set<string>();
    const train = (await loadCatalog({ split: "train" }))
      .filter((c) => c.level <= 2 && !families.has(c.family) && families.add(c.family))
      .slice(0, 3);
    const records = [...train.map((c) => record(c)), record(train[0], { pass: false, attempt: 1, sql: ["SELECT 0 AS wrong"] })];
    await insertEpisodes(db, "r1", records.map((r) => ({ id: r.id, generation: 0, contaminated: false, record: r })));
    await using store = await PatternStore.open(patterns);
    await store.addEpisodes(records, { runId: "r1" });
    await Deno.writeTextFile(config, "tiers: { gold: 0.9, silver: 0.75, bronze: 0.4 }\n");
  });

  afterAll(async () => {
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  it("builds a folder, shows its stats, validates it and converts it", async () => {
    const out = join(dir, "set");
    const built = await lab("dataset", "build", "--db", db, "--run", "r1", "--patterns", patterns, "--out", out, "--config", config, "--json");
    expect(built.err).toBe("");
    expect(built.code).toBe(0);
    const summary = JSON.parse(built.out);
    expect(summary.read).toEqual({ episode: 4, pattern: 4, ask: 0 });
    expect(summary.files.map((f: { path: string; rows: number }) => [f.path.slice(out.length + 1), f.rows])).toEqual([
      ["train.jsonl", 3],
      ["core.jsonl", 3],
      ["extended.jsonl", 3],
      ["comprehensive.jsonl", 3],
      ["dpo.jsonl", 1],
    ]);
    const stats = await lab("dataset", "stats", join(out, "train.jsonl"));
    expect(stats.code).toBe(0);
    expect(stats.out).toMatch(/train\.jsonl: 3 rows \(openai\), sha256 [0-9a-f]{16}… \(matches\)/);
    expect(stats.out).toContain("tiers: bronze 3");
    const valid = await lab("dataset", "validate", join(out, "train.jsonl"), "--price", "3");
    expect(valid.code).toBe(0);
    expect(valid.out).toMatch(/^ok: 3 of 3 examples valid/m);
    const exported = await lab("dataset", "export", join(out, "train.jsonl"), "--format", "alpaca");
    expect(exported.code).toBe(0);
    expect(existsSync(join(out, "train.alpaca.jsonl"))).toBe(true);
    expect((await lab("dataset", "validate", join(out, "train.alpaca.jsonl"))).out).toBe("ok: 3 alpaca rows");
  });

  it("fails in one line with a non-zero exit on bad input, and writes nothing", async () => {
    const out = join(dir, "never");
    const cases: [string[], number, RegExp][] = [
      [["dataset", "build", "--sources", "episodes", "--db", join(dir, "missing.duckdb"), "--out", out], 2, /no tournament store at .*missing\.duckdb/],
      [["dataset", "build", "--db", db, "--tier", "platinum", "--out", out], 2, /--tier: 'platinum' is not one of gold, silver, bronze/],
      [["dataset", "build", "--db", db, "--level", "7", "--out", out], 2, /--level: '7' is not a level 1–5/],
      [["dataset", "build", "--db", db, "--format", "csv", "--out", out], 2, /--format: 'csv' is not one of/],
      [["dataset", "build", "--db", db, "--config", join(dir, "nope.yaml"), "--out", out], 1, /nope\.yaml: cannot read the datasets config/],
      [["dataset", "export", join(dir, "set", "train.jsonl")], 2, /--format is required/],
      [["dataset", "stats", config], 1, /datasets\.yaml\.manifest\.json: cannot read the dataset manifest \(not found\)/],
      [["dataset", "validate", join(dir, "absent.jsonl")], 2, /no file at .*absent\.jsonl/],
    ];
    for (const [argv, code, message] of cases) {
      const r = await lab(...argv);
      expect([r.code, r.err.split("\n").length], argv.join(" ")).toEqual([code, 1]);
      expect(r.err, argv.join(" ")).toMatch(message);
    }
    expect(existsSync(out)).toBe(false);
  });

  it("reports a file's problems by line and exits 1; a changed file fails its hash check", async () => {
    const bad = join(dir, "bad.jsonl");
    await Deno.writeTextFile(bad, '{"messages":[{"role":"user","content":"hi"}]}\nnot json\n');
    const r = await lab("dataset", "validate", bad);
    expect(r.code).toBe(1);
    expect(r.out.split("\n").slice(0, 2)).toEqual([
      `${bad}:1: example_missing_assistant_message: no assistant message`,
      expect.stringMatching(new RegExp(`^${bad}:2: invalid_json: not JSON`)),
    ]);
    const train = join(dir, "set", "train.jsonl");
    await Deno.writeTextFile(train, "\n", { append: true });
    const stats = await lab("dataset", "stats", train);
    expect(stats.code).toBe(1);
    expect(stats.err).toMatch(/train\.jsonl: the file no longer has the sha256 its manifest records; rebuild it$/);
  });
});
