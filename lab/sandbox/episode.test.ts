import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { SandboxPool } from "./episode.ts";
import { buildSandbox } from "./generate.ts";
import { mkdtempSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TABLES } from "./schema.ts";

const AS_OF = "2025-11-28";
let path: string;
let pool: SandboxPool;

beforeAll(async () => {
  path = join(mkdtempSync(join(tmpdir(), "episode-test-")), "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(path, { size: 2 });
});
afterAll(() => pool.close());

const insertCustomer = "INSERT INTO customers VALUES (1, 999, 'New Co', 'enterprise', 'east', 1000, 30)";

describe("SandboxPool / Episode", () => {
  it("lists the organizations and states the as-of date", () => {
    expect(pool.orgs().map((o) => o.orgId)).toEqual([1, 2, 3]);
    expect(pool.asOf).toBe(AS_OF);
  });

  it("keeps a write inside its episode: the next episode starts pristine", async () => {
    {
      await using ep = await pool.acquire(1, { role: "ar_clerk" });
      await ep.write(insertCustomer, { action: "INSERT" });
      expect(await ep.query("SELECT count(*) AS n FROM customers")).toEqual([{ n: 31 }]);
      expect(await ep.queryPristine("SELECT count(*) AS n FROM customers")).toEqual([{ n: 30 }]);
      expect(await ep.query("SELECT actor_role, action, table_name, row_count, logged_at FROM audit_log")).toEqual([
        { actor_role: "ar_clerk", action: "INSERT", table_name: "customers", row_count: 1, logged_at: `${AS_OF} 12:00:00` },
      ]);
      expect(ep.writes).toMatchObject([{ table: "customers", action: "INSERT", rowCount: 1 }]);
    }
    await using next = await pool.acquire(1, { role: "analyst" });
    expect(await next.query("SELECT count(*) AS n FROM customers")).toEqual([{ n: 30 }]);
    expect(await next.query("SELECT count(*) AS n FROM audit_log")).toEqual([{ n: 0 }]);
  });

  it("hides a write from a concurrent episode on the same org", async () => {
    await using a = await pool.acquire(1, { role: "ar_clerk" });
    await using b = await pool.acquire(1, { role: "ar_clerk" });
    await a.write(insertCustomer, { action: "INSERT" });
    expect(await b.query("SELECT count(*) AS n FROM customers")).toEqual([{ n: 30 }]);
    await b.write(insertCustomer, { action: "INSERT" }); // same key: no conflict either
    expect(await a.query("SELECT count(*) AS n FROM customers")).toEqual([{ n: 31 }]);
  });

  it("never writes the source file", async () => {
    {
      await using ep = await pool.acquire(1, { role: "ar_clerk" });
      await ep.write(insertCustomer, { action: "INSERT" });
    }
    const inst = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
    const con = await inst.connect();
    const n = (await con.runAndReadAll("SELECT count(*) FROM customers")).getRows()[0][0];
    con.closeSync();
    inst.closeSync();
    expect(Number(n)).toBe(90);
  });

  it("rolls back a rejected write without trace and keeps earlier accepted writes", async () => {
    await using ep = await pool.acquire(1, { role: "ar_clerk" });
    await ep.write(insertCustomer, { action: "INSERT" });
    const before = await ep.snapshot();
    let seen: unknown;
    await expect(ep.write("UPDATE customers SET credit_limit = 0", {
      action: "UPDATE",
      authorize: (c) => {
        seen = c.changes.map(({ table, inserted, updated, deleted }) => ({ table, inserted, updated, deleted }));
        return Promise.resolve("credit limits are frozen");
      },
    })).rejects.toThrow("credit limits are frozen");
    expect(seen).toEqual([{ table: "customers", inserted: 0, updated: 31, deleted: 0 }]);
    expect(await ep.snapshot()).toEqual(before);
    expect(await ep.query("SELECT count(*) AS n FROM customers")).toEqual([{ n: 31 }]);
    expect(ep.writes).toHaveLength(1);
  });

  it("recovers from an execution error that aborts the transaction", async () => {
    await using ep = await pool.acquire(1, { role: "ar_clerk" });
    await ep.write(insertCustomer, { action: "INSERT" });
    await expect(ep.stream("SELECT 'x'::INTEGER FROM customers")).rejects.toThrow(/Conversion/);
    await expect(ep.write(insertCustomer, { action: "INSERT" })).rejects.toThrow(/PRIMARY KEY|Duplicate/i);
    expect(await ep.query("SELECT count(*) AS n FROM customers")).toEqual([{ n: 31 }]);
  });

  it("interrupts a runaway query and keeps working", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const t0 = performance.now();
    await expect(ep.stream("SELECT count(*) FROM range(100000000000) a, range(1000) b", { timeoutMs: 200 }))
      .rejects.toMatchObject({ kind: "timeout" });
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(await ep.query("SELECT 1 AS x")).toEqual([{ x: 1 }]);
  });

  it("caps streamed rows and flags truncation", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const r = await ep.stream("SELECT range AS i FROM range(10000)", { maxRows: 5 });
    expect(r).toEqual({ columns: ["i"], rows: [[0], [1], [2], [3], [4]], truncated: true });
    expect(await ep.query("SELECT 2 AS x")).toEqual([{ x: 2 }]);
  });

  it("runs the as-of clock: current_date, today() and now() return the as-of date", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    expect(await ep.query("SELECT current_date AS a, current_date() AS b, today() AS c, now()::DATE AS d")).toEqual([
      { a: AS_OF, b: AS_OF, c: AS_OF, d: AS_OF },
    ]);
  });

  it("holds only its tenant's rows in every table", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    for (const t of TABLES) {
      expect(await ep.query(`SELECT count(*) AS n FROM ${t.name} WHERE org_id <> 1`), t.name).toEqual([{ n: 0 }]);
    }
    expect(await ep.query("SELECT database_name FROM duckdb_databases() WHERE NOT internal")).toEqual([
      { database_name: "memory" },
    ]);
  });

  it("is locked down: no files, no settings changes", async () => {
    await using ep = await pool.acquire(2, { role: "analyst" });
    await expect(ep.query(`SELECT * FROM read_csv('${path}')`)).rejects.toThrow(/disabled|Permission/i);
    await expect(ep.query("SET threads = 8")).rejects.toThrow(/lock/i);
    await expect(ep.query(`ATTACH '${path}' AS x`)).rejects.toThrow();
    expect((await ep.query("SELECT count(*) AS n FROM v_monthly_revenue"))[0].n).toBeGreaterThan(0);
  });

  it("returns JSON-safe values", async () => {
    await using ep = await pool.acquire(1, { role: "analyst" });
    const r = await ep.stream(
      "SELECT 1::BIGINT AS b, 9007199254740993::HUGEINT AS h, 2.50::DECIMAL(14,2) AS d, DATE '2024-01-02' AS dt, sum(x) AS s FROM (VALUES (1.25::DECIMAL(14,2)), (2.50)) t(x)",
    );
    expect(r.rows).toEqual([[1, "9007199254740993", 2.5, "2024-01-02", 3.75]]);
  });

  it("restores exactly the state after the last accepted write, whatever failed (errors, interrupts, kills, rejections)", async () => {
    await using ep = await pool.acquire(1, { role: "ar_clerk" });
    await ep.write(insertCustomer, { action: "INSERT" });
    await ep.write("UPDATE customers SET credit_limit = credit_limit * 2 WHERE customer_id < 5", { action: "UPDATE" });
    const after = await ep.snapshot();
    const failures: [string, () => Promise<unknown>][] = [
      ["execution error", () => ep.stream("SELECT 'x'::INTEGER FROM customers")],
      ["constraint error in a write", () => ep.write(insertCustomer, { action: "INSERT" })],
      ["interrupted execution", () => ep.stream("SELECT count(*) FROM range(100000000000) a, range(1000) b", { timeoutMs: 100 })],
      ["killed while folding constants", () => ep.analyze("SELECT length(list_reduce([repeat('ab', i) for i in range(30000)], (a, b) -> a || b))", 100)],
      ["rejected write", () => ep.write("DELETE FROM customers", { action: "DELETE", authorize: () => Promise.resolve("no") })],
      ["non-deterministic write", () => ep.write("UPDATE customers SET credit_limit = random() * 1000", { action: "UPDATE" })],
    ];
    for (const [name, fail] of failures) {
      await expect(fail(), name).rejects.toThrow();
      expect(await ep.snapshot(), name).toEqual(after);
    }
    expect(ep.workerStats().replaced).toBe(1);
    expect(ep.writes).toHaveLength(2);
    expect(ep.broken).toBe(false);
  });

  it("ends an episode whose state cannot be restored, and the pool rebuilds the instance", async () => {
    const away = `${path}.away`;
    {
      await using ep = await pool.acquire(3, { role: "ar_clerk" });
      await ep.write(insertCustomer.replace("(1, 999", "(3, 999"), { action: "INSERT" });
      renameSync(path, away); // the replacement worker cannot load the tenant
      try {
        await expect(ep.analyze("SELECT length(list_reduce([repeat('ab', i) for i in range(30000)], (a, b) -> a || b))", 100))
          .rejects.toMatchObject({ kind: "timeout" });
        await expect(ep.query("SELECT 1")).rejects.toMatchObject({ kind: "broken" });
        expect(ep.broken).toBe(true);
      } finally {
        renameSync(away, path);
      }
    }
    await using next = await pool.acquire(3, { role: "analyst" });
    expect(await next.query("SELECT count(*) AS n FROM customers WHERE customer_id = 999")).toEqual([{ n: 0 }]);
  });

  it("starts every episode with the same random seed, whatever the last one did", async () => {
    const single = await SandboxPool.open(path, { size: 1 });
    try {
      const draw = async () => {
        await using ep = await single.acquire(2, { role: "analyst" });
        const r = await ep.query("SELECT random() AS a, random() AS b");
        await ep.query("SELECT setseed(0.123)"); // a trusted reseed mid-episode does not carry over either
        return [r, ep.workerStats().pid] as const;
      };
      const [first, pid1] = await draw();
      const [second, pid2] = await draw();
      expect(pid2).toBe(pid1); // the same instance served both
      expect(second).toEqual(first);
    } finally {
      single.close();
    }
  });
});
