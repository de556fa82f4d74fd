import { describe, expect, it } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { createTablesSql, TABLES } from "./schema.ts";

describe("schema", () => {
  it("creates every table, each business table carrying org_id", async () => {
    const inst = await DuckDBInstance.create(":memory:");
    const con = await inst.connect();
    await con.run(createTablesSql());
    const r = await con.runAndReadAll("SELECT table_name FROM duckdb_tables() ORDER BY table_name");
    expect(r.getRows().map((x) => x[0])).toEqual(TABLES.map((t) => t.name).sort());
    for (const t of TABLES) expect(t.columns.some((c) => c.name === "org_id")).toBe(true);
    con.closeSync();
    inst.closeSync();
  });
});
