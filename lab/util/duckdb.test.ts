import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { openDuckDB, openDuckDBSession, withDuckDB, withTransaction } from "./duckdb.ts";

let dir: string;
beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-duckdb-" });
});
afterAll(async () => {
  await Deno.remove(dir, { recursive: true });
});

const count = async (path: string) =>
  await withDuckDB(path, async (con) => Number((await con.runAndReadAll("SELECT count(*) FROM t")).getRows()[0][0]));

describe("the DuckDB helper", () => {
  it("commits a transaction that succeeds and rolls back one that throws", async () => {
    const path = join(dir, "tx", "a.duckdb");
    const schema = ["CREATE TABLE IF NOT EXISTS t (x INTEGER)"];
    await withDuckDB(path, (con) => withTransaction(con, (c) => c.run("INSERT INTO t VALUES (1)")), { schema });
    await expect(withDuckDB(path, (con) =>
      withTransaction(con, async (c) => {
        await c.run("INSERT INTO t VALUES (2)");
        throw new Error("boom");
      }), { schema })).rejects.toThrow("boom");
    expect(await count(path)).toBe(1);
  });

  it("runs the schema on the first open of a file in this process and again when the file is new", async () => {
    const path = join(dir, "schema.duckdb");
    const schema = ["CREATE TABLE t (x INTEGER)"]; // not idempotent: a second run would throw
    await withDuckDB(path, async () => {}, { schema });
    await withDuckDB(path, async () => {}, { schema });
    await Deno.remove(path);
    await withDuckDB(path, async () => {}, { schema });
    expect(await count(path)).toBe(0);
  });

  it("runs a session's calls one at a time, held or per call, and refuses calls after close", async () => {
    for (const mode of ["held", "per-call"] as const) {
      const path = join(dir, `session-${mode}.duckdb`);
      const db = await openDuckDBSession(path, { mode, name: "the test file", schema: ["CREATE TABLE IF NOT EXISTS t (x INTEGER)"] });
      const order: number[] = [];
      await Promise.all([1, 2, 3].map((i) =>
        db.exclusive(async (con) => {
          await con.run("INSERT INTO t VALUES ($1)", [i]);
          order.push(i);
        })
      ));
      expect(order).toEqual([1, 2, 3]);
      await db.close();
      await expect(db.exclusive(async () => {})).rejects.toThrow(`The test file ${path} is closed; open it again`);
      expect(await count(path)).toBe(3);
    }
  });

  it("retries a file another process holds, then fails naming the file, the wait and what to do", async () => {
    const path = join(dir, "held.duckdb");
    (await openDuckDB(path)).close();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", `import { DuckDBInstance } from "@duckdb/node-api";
        const i = await DuckDBInstance.create(${JSON.stringify(path)});
        console.log("held");
        await new Promise((r) => setTimeout(r, 3000));
        i.closeSync();`],
      stdout: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    expect((await reader.read()).value).toContain("held");
    const t0 = performance.now();
    await expect(openDuckDB(path, { name: "the test file", lockTimeoutMs: 300, lockHint: "close the other one" }))
      .rejects.toThrow(new RegExp(`^Cannot open the test file ${path}: .*\\(another process has held it for 0\\.[3-9] s; close the other one\\)$`));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
    await reader.cancel();
    child.kill();
    await child.status;
    (await openDuckDB(path)).close(); // free again once the other process is gone
  }, 20_000);
});
