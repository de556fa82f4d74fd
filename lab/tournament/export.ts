/**
 * Exports one run of the store as hive-partitioned Parquet, for tools outside the lab (pandas, polars, Spark,
 * another DuckDB):
 *
 *   <out>/<run>/run.parquet                                   the run's header
 *   <out>/<run>/episodes/generation=<g>/data_0.parquet        key fields + full trace JSON
 *   <out>/<run>/queries/generation=<g>/data_0.parquet         every SQL statement, with its episode's generation
 *   <out>/<run>/strategies/generation=<g>/data_0.parquet      strategies with lineage, by birth generation
 *   <out>/<run>/generations/generation=<g>/data_0.parquet     rankings, selection decisions, statistics
 *
 * Atomic: everything is written to a hidden temporary folder next to the target and renamed into place, so a
 * reader never sees half an export; an existing export of the run is replaced.
 * @module
 */
import { join, resolve } from "node:path";
import { existsSync } from "node:fs";
import { listRuns, type StoreRef, storePath, withStore } from "./store.ts";
import { LabError, repoPath, sqlString } from "../util/mod.ts";

/** The default export folder. */
export const DEFAULT_EXPORT_DIR: string = repoPath("data/exports");

/** Asked to export a run the store does not hold; the message lists the runs it does. */
export class UnknownRunError extends LabError {
  override name = "UnknownRunError";
}

/** What {@linkcode exportRun} wrote. */
export interface ExportResult {
  runId: string;
  /** `<out>/<run>`. */
  dir: string;
  /** Rows written per table. */
  rows: { runs: number; episodes: number; queries: number; strategies: number; generations: number };
}

/**
 * Writes run `runId` of the store as hive-partitioned Parquet under `<out>/<runId>` (see the module doc).
 *
 * @example
 * ```ts
 * const r = await exportRun("data/lab.duckdb", "t-1234", { out: "data/exports" });
 * // SELECT * FROM read_parquet('data/exports/t-1234/episodes/**\/*.parquet', hive_partitioning = true)
 * ```
 */
export async function exportRun(db: StoreRef, runId: string, options: { out?: string } = {}): Promise<ExportResult> {
  if (typeof db === "string" && !existsSync(db)) throw new UnknownRunError(`no store at ${db}: run a tournament first or pass --db`);
  const runs = await listRuns(db);
  if (!runs.some((r) => r.id === runId)) {
    throw new UnknownRunError(
      `no run '${runId}' in ${storePath(db)}; ` +
        (runs.length ? `runs: ${runs.map((r) => `${r.id} (${r.status}, ${r.episodes} episodes)`).join(", ")}` : "it holds no runs"),
    );
  }
  const out = resolve(options.out ?? DEFAULT_EXPORT_DIR);
  await Deno.mkdir(out, { recursive: true });
  const dir = join(out, runId);
  const tmp = join(out, `.${runId}.tmp-${Deno.pid}-${Date.now()}`);
  const id = sqlString(runId);
  const tables = {
    episodes: `SELECT * FROM episodes WHERE run_id = ${id}`,
    queries: `SELECT q.*, e.generation FROM queries q JOIN episodes e ON e.run_id = q.run_id AND e.id = q.episode_id
              WHERE q.run_id = ${id}`,
    strategies: `SELECT * FROM strategies WHERE run_id = ${id}`,
    generations: `SELECT * FROM generations WHERE run_id = ${id}`,
  };
  await Deno.mkdir(tmp, { recursive: true });
  try {
    const rows = await withStore(db, async (con) => {
      const count = async (sql: string) =>
        Number((await con.runAndReadAll(`SELECT count(*) FROM (${sql})`)).getRows()[0][0]);
      await con.run(`COPY (SELECT * FROM runs WHERE id = ${id}) TO ${sqlString(join(tmp, "run.parquet"))} (FORMAT parquet)`);
      const n = { runs: 1, episodes: 0, queries: 0, strategies: 0, generations: 0 };
      for (const [name, sql] of Object.entries(tables) as [keyof typeof tables, string][]) {
        n[name] = await count(sql);
        await Deno.mkdir(join(tmp, name), { recursive: true });
        // An empty table still gets its folder (and readers get no files rather than an error about a path).
        if (n[name]) {
          await con.run(`COPY (${sql} ORDER BY generation) TO ${sqlString(join(tmp, name))} (FORMAT parquet, PARTITION_BY (generation), OVERWRITE_OR_IGNORE)`);
        }
      }
      return n;
    });
    // Replace an earlier export: move it aside, move the new one in, then delete the old.
    const old = existsSync(dir) ? `${tmp}.old` : undefined;
    if (old) await Deno.rename(dir, old);
    await Deno.rename(tmp, dir);
    if (old) await Deno.remove(old, { recursive: true });
    return { runId, dir, rows };
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}
