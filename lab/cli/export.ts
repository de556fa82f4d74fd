/**
 * `lab export <run>`: writes one tournament run of the store as hive-partitioned Parquet
 * (`<out>/<run>/{run.parquet, episodes, queries, strategies, generations}/generation=<g>/…`).
 */
import type { CommandSpec } from "./_args.ts";
import { UsageError } from "./_args.ts";
import { DEFAULT_DB_PATH, DEFAULT_EXPORT_DIR, exportRun } from "../tournament/mod.ts";
import { displayPath } from "../util/mod.ts";

export const EXPORT_COMMANDS: CommandSpec[] = [
  {
    name: "export",
    summary: "Write a tournament run as hive-partitioned Parquet (episodes, queries, strategies, generations)",
    positionals: ["run"],
    options: {
      db: { type: "string", description: "DuckDB store", default: displayPath(DEFAULT_DB_PATH) },
      out: { type: "string", description: "Export folder (the run goes to <out>/<run>)", default: displayPath(DEFAULT_EXPORT_DIR) },
      json: { type: "boolean", description: "Print what was written as JSON" },
    },
    examples: [
      "deno task lab export t-1a2b3c4d5e6f",
      "deno task lab export t-smoke --db /tmp/lab.duckdb --out /tmp/exports",
    ],
    async run(args) {
      if (args.positionals.length !== 1) {
        throw new UsageError(`expects one run id, found ${args.positionals.length ? `'${args.positionals.join(" ")}'` : "none"}`);
      }
      const r = await exportRun(String(args.values.db), args.positionals[0], { out: String(args.values.out) });
      if (args.values.json) console.log(JSON.stringify(r, null, 2));
      else {
        const n = r.rows;
        console.log(
          `exported run ${r.runId} to ${displayPath(r.dir)}: ${n.episodes} episodes, ${n.queries} queries, ` +
            `${n.strategies} strategies, ${n.generations} generations`,
        );
      }
    },
  },
];
