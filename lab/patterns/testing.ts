/**
 * Test helpers of `lab/patterns/` for tests in other folders: an in-memory DuckDB connection source for the
 * embedding cache.
 * @module
 */
import { type DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { ConnectionSource } from "./embed.ts";

/** An in-memory DuckDB connection source, its connection, and `close`. */
export interface MemorySource extends ConnectionSource {
  con: DuckDBConnection;
  close: () => void;
}

/** A DuckDB file-less source whose connection outlives each embedder. */
export async function memorySource(): Promise<MemorySource> {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  return {
    con,
    withConnection: <T>(fn: (c: DuckDBConnection) => Promise<T>) => fn(con),
    close: () => {
      con.closeSync();
      instance.closeSync();
    },
  };
}
