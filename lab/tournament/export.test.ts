/**
 * `exportRun` / `lab export`: a small planted run exported as hive-partitioned Parquet reads back (with DuckDB's
 * `read_parquet(…, hive_partitioning = true)`) with the store's counts and ids, partitioned by generation; a
 * re-export replaces the old one whole; an unknown run is a one-line error that lists the runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { DuckDBInstance } from "@duckdb/node-api";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { exportRun, queryStore, runTournament, UnknownRunError } from "./mod.ts";
import { AS_OF, plantedModel, plantedSetup } from "./_test_model.ts";

let dir: string;
let db: string;
let pool: SandboxPool;

async function readParquet(sql: string): Promise<Record<string, unknown>[]> {
  const inst = await DuckDBInstance.create(":memory:");
  const con = await inst.connect();
  try {
    return (await con.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    con.closeSync();
    inst.closeSync();
  }
}

const hive = (root: string, table: string) => `read_parquet('${root}/${table}/**/*.parquet', hive_partitioning = true)`;

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-export-" });
  const sandbox = join(dir, "tiny.duckdb");
  await buildSandbox(sandbox, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(sandbox, { size: 4 });
  const { config, strategies, challenges, sqlByTask } = await plantedSetup({
    challenges: { families: ["invoice_count_for_period"], max_instances: 2 },
    attempts: 1,
  });
  db = join(dir, "lab.duckdb");
  await runTournament(config, { db, runId: "exp-run", model: plantedModel(sqlByTask), strategies, challenges, pool, stats: { resamples: 50 } });
}, 60_000);
afterAll(() => pool?.close());

describe("exportRun", () => {
  it("writes episodes, queries, strategies and generations partitioned by generation, matching the store", async () => {
    const out = join(dir, "exports");
    const r = await exportRun(db, "exp-run", { out });
    expect(r).toEqual({
      runId: "exp-run",
      dir: join(out, "exp-run"),
      rows: { runs: 1, episodes: 12, queries: 12, strategies: 4, generations: 2 },
    });
    for (const t of ["episodes", "queries", "strategies", "generations"]) {
      expect(existsSync(join(r.dir, t, "generation=1")), t).toBe(true);
    }
    expect(existsSync(join(r.dir, "episodes", "generation=2"))).toBe(true);
    // Nothing temporary is left next to the export.
    expect([...Deno.readDirSync(out)].map((e) => e.name)).toEqual(["exp-run"]);

    const stored = await queryStore(db, "SELECT id, generation, strategy_id, pass, composite FROM episodes ORDER BY id");
    const back = await readParquet(
      `SELECT id, generation::INTEGER AS generation, strategy_id, pass, composite FROM ${hive(r.dir, "episodes")} ORDER BY id`,
    );
    expect(back).toEqual(stored);
    expect(await readParquet(`SELECT generation::INTEGER AS g, count(*)::INTEGER AS n FROM ${hive(r.dir, "episodes")} GROUP BY 1 ORDER BY 1`))
      .toEqual([{ g: 1, n: 6 }, { g: 2, n: 6 }]);
    expect(await readParquet(`SELECT count(*)::INTEGER AS n, count(DISTINCT episode_id)::INTEGER AS e FROM ${hive(r.dir, "queries")}`))
      .toEqual([{ n: 12, e: 12 }]);
    expect(await readParquet(`SELECT id, generation::INTEGER AS generation, operation FROM ${hive(r.dir, "strategies")} ORDER BY generation, id`))
      .toEqual(await queryStore(db, "SELECT id, generation, operation FROM strategies ORDER BY generation, id"));
    expect(await readParquet(`SELECT generation::INTEGER AS g, replaced::VARCHAR AS replaced FROM ${hive(r.dir, "generations")} ORDER BY 1`))
      .toEqual([{ g: 1, replaced: '["weak"]' }, { g: 2, replaced: "[]" }]);
    expect(await readParquet(`SELECT id, status FROM read_parquet('${r.dir}/run.parquet')`)).toEqual([{ id: "exp-run", status: "completed" }]);

    // A re-export replaces the previous one whole.
    await Deno.writeTextFile(join(r.dir, "stale.txt"), "old");
    await exportRun(db, "exp-run", { out });
    expect(existsSync(join(r.dir, "stale.txt"))).toBe(false);
    expect([...Deno.readDirSync(out)].map((e) => e.name)).toEqual(["exp-run"]);
  }, 30_000);

  it("refuses an unknown run and lists the runs the store holds", async () => {
    await expect(exportRun(db, "nope", { out: join(dir, "x") })).rejects.toThrow(
      new UnknownRunError(`no run 'nope' in ${db}; runs: exp-run (completed, 12 episodes)`),
    );
    expect(existsSync(join(dir, "x", "nope"))).toBe(false);
  });

  it("lab export writes the run and answers an unknown run with one line", async () => {
    const lab = async (...args: string[]) => {
      const o = await new Deno.Command(Deno.execPath(), { args: ["run", "-A", "lab/cli/main.ts", ...args], stdout: "piped", stderr: "piped" })
        .output();
      return { code: o.code, stdout: new TextDecoder().decode(o.stdout), stderr: new TextDecoder().decode(o.stderr) };
    };
    const out = join(dir, "cli-exports");
    const ok = await lab("export", "exp-run", "--db", db, "--out", out);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(`exported run exp-run to ${join(out, "exp-run")}: 12 episodes, 12 queries, 4 strategies, 2 generations`);
    const bad = await lab("export", "nope", "--db", db);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split("\n")).toEqual([`lab export: no run 'nope' in ${db}; runs: exp-run (completed, 12 episodes)`]);
    const none = await lab("export", "--db", db);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toMatch(/^lab export: expects one run id, found none — see/);
  }, 60_000);
});
