/**
 * The deterministic ERP sandbox: a multi-tenant DuckDB file with two years of coherent ERP history.
 *
 * The same {@linkcode SandboxSpec} always yields the same data: dimension tables come from a seeded PRNG,
 * fact tables from set-based SQL whose every value is a hash of the seed and row ids. The file also holds the
 * as-of clock macros (`current_date`, `today()`, `now()`), the semantic views of `views.ts`, and the
 * manifest in `_lab_meta`.
 *
 * Sizes (seed 42, as-of 2025-11-28; every org has 24 monthly periods):
 * - `tiny`: 3 orgs, ~340 invoices and ~9–10k business rows per org (~29k rows in all); builds in ~0.5 s.
 * - `small`: 4 orgs, ~2.4–3.2k invoices and ~47–59k business rows per org (~204k rows in all); ~1–2 s.
 * - `large`: 64 orgs, ~10k invoices and ~180k rows per org, ~11.4 M rows in all; ~35 s (benchmarks only).
 *
 * @example
 * ```ts
 * import { buildSandbox, readManifest } from "./generate.ts";
 * const manifest = await buildSandbox("data/sandbox.duckdb", { scale: "tiny" });
 * console.log(manifest.rowsPerTenant, (await readManifest("data/sandbox.duckdb")).spec);
 * ```
 *
 * @module
 */
import { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import { mkdtemp, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { createTablesSql, TABLES } from "./schema.ts";
import { createViewsSql, VIEWS } from "./views.ts";
import { buildDimensions, parseIsoDate, type Row, type ScaleConfig } from "./_gen_dims.ts";
import { factSteps, HELPER_TABLES } from "./_gen_facts.ts";

/** Sandbox size. `tiny` for tests, `small` for demos and episodes, `large` for benchmarks. */
export type Scale = "tiny" | "small" | "large";

/** What to build: the same spec always yields the same data. */
export interface SandboxSpec {
  /** PRNG seed, an integer in [0, 2^31). */
  seed: number;
  /** How big a sandbox to build. */
  scale: Scale;
  /** The as-of date `YYYY-MM-DD`: "today" inside the sandbox; no business date is later. */
  asOf: string;
}

/** The spec used when none is given. */
export const DEFAULT_SPEC: SandboxSpec = { seed: 42, scale: "small", asOf: "2025-11-28" };

/**
 * Version of the sandbox file's layout (not of its data): bumped whenever the builder writes something new
 * into the file, so {@linkcode ensureSandbox} rebuilds cached files of an older format.
 * 2: tables, views and their columns carry `COMMENT`s (the schema's descriptions).
 */
export const SANDBOX_FORMAT = 2;

/** What was built, stored in the file's `_lab_meta` table. */
export interface SandboxManifest {
  /** {@linkcode SANDBOX_FORMAT} of the builder that wrote the file (absent in files before format 2). */
  format?: number;
  /** The spec it was built from. */
  spec: SandboxSpec;
  /** The tenants (organizations) it holds. */
  orgs: { org_id: number; name: string }[];
  /** Rows per table, all tenants. */
  rowCounts: Record<string, number>;
  /** org_id -> total rows of that org over all business tables. */
  rowsPerTenant: Record<number, number>;
  /** Wall time of the build (the only value that differs between two builds of the same spec). */
  buildMs: number;
}

/** Options for {@linkcode buildSandbox}. */
export interface BuildSandboxOptions {
  /** Called after each step with a short message and the fraction done (0..1). */
  onProgress?: (msg: string, fraction: number) => void;
}

/** Per-scale sizes; `invoicesPerMonth` is the mean for an average org (orgs vary by ±25 %). */
const SCALES = {
  tiny: { orgs: 3, invoicesPerMonth: 13, customers: 30, products: 30, warehouses: 3, vendors: 5 },
  small: { orgs: 4, invoicesPerMonth: 110, customers: 150, products: 80, warehouses: 3, vendors: 10 },
  large: { orgs: 64, invoicesPerMonth: 440, customers: 400, products: 150, warehouses: 4, vendors: 15 },
} as const satisfies Record<Scale, ScaleConfig>;

/** Validates and completes a partial spec; throws `RangeError` naming the bad field and what to do. */
export function resolveSpec(spec: Partial<SandboxSpec> = {}): SandboxSpec {
  const s = { ...DEFAULT_SPEC, ...spec };
  if (!Object.hasOwn(SCALES, s.scale)) {
    throw new RangeError(`Invalid sandbox spec: scale must be one of tiny, small, large, found '${s.scale}'`);
  }
  if (!Number.isInteger(s.seed) || s.seed < 0 || s.seed > 2 ** 31 - 1) {
    throw new RangeError(`Invalid sandbox spec: seed must be an integer in [0, 2147483647], found ${s.seed}`);
  }
  const d = typeof s.asOf === "string" ? parseIsoDate(s.asOf) : undefined;
  if (!d || d.getUTCFullYear() < 2000 || d.getUTCFullYear() > 2100) {
    throw new RangeError(
      `Invalid sandbox spec: asOf must be a calendar date YYYY-MM-DD between 2000 and 2100, found '${s.asOf}'`,
    );
  }
  return { seed: s.seed, scale: s.scale, asOf: s.asOf };
}

/**
 * SQL defining the as-of clock: macros `today()`, `current_date()` (also bare `current_date`) and `now()`
 * that shadow DuckDB's built-ins. `now()` is the TIMESTAMP at 12:00 of `asOf`.
 *
 * @example
 * ```ts
 * await con.run(clockMacrosSql("2025-11-28")); // SELECT current_date -> 2025-11-28
 * ```
 */
export function clockMacrosSql(asOf: string): string {
  if (!parseIsoDate(asOf)) throw new RangeError(`clockMacrosSql: asOf must be YYYY-MM-DD, found '${asOf}'`);
  return [
    `CREATE OR REPLACE MACRO today() AS DATE '${asOf}';`,
    `CREATE OR REPLACE MACRO current_date() AS DATE '${asOf}';`,
    `CREATE OR REPLACE MACRO now() AS TIMESTAMP '${asOf} 12:00:00';`,
  ].join("\n");
}

/**
 * Builds the sandbox DuckDB file at `path`. The file is built in a temporary directory next to `path` and
 * renamed into place, so `path` is never a partial file; on failure nothing is left behind.
 *
 * At `small` scale (the default) each of the 4 orgs has ~47–59k business rows (~2.4–3.2k invoices, ~28k journal
 * lines); `manifest.rowsPerTenant` has the exact counts.
 */
export async function buildSandbox(
  path: string,
  spec: Partial<SandboxSpec> = {},
  options: BuildSandboxOptions = {},
): Promise<SandboxManifest> {
  const t0 = performance.now();
  const resolved = resolveSpec(spec);
  const progress = options.onProgress ?? (() => {});
  const dims = buildDimensions(resolved.seed, SCALES[resolved.scale], resolved.asOf);
  const steps = factSteps(resolved.seed, resolved.asOf, dims.start);
  const total = steps.length + 3;

  const tmpDir = await mkdtemp(join(dirname(path), `.${basename(path)}.building-`));
  const tmpFile = join(tmpDir, "sandbox.duckdb");
  try {
    const instance = await DuckDBInstance.create(tmpFile);
    let manifest: SandboxManifest;
    try {
      const con = await instance.connect();
      try {
        await con.run(createTablesSql());
        for (const [table, rows] of Object.entries(dims.tables)) await insertRows(con, table, rows);
        for (const [table, types] of Object.entries(HELPER_TABLES)) {
          const defs = Object.entries(types).map(([c, t]) => `${c} ${t}`).join(", ");
          await con.run(`CREATE TEMP TABLE ${table} (${defs})`);
        }
        await insertRows(con, "_org", dims.orgParams, HELPER_TABLES._org);
        await insertRows(con, "_org_month", dims.orgMonths, HELPER_TABLES._org_month);
        await insertRows(con, "_accrual_spec", dims.accrualSpecs, HELPER_TABLES._accrual_spec);
        progress("dimensions", 1 / total);
        for (const [i, step] of steps.entries()) {
          await con.run(step.sql);
          progress(step.label, (i + 2) / total);
        }
        await con.run(clockMacrosSql(resolved.asOf));
        await con.run(createViewsSql());
        await con.run(commentsSql());
        progress("views", (steps.length + 2) / total);
        manifest = await collectManifest(con, resolved);
        manifest.buildMs = Math.round(performance.now() - t0);
        await con.run("CREATE TABLE _lab_meta (manifest VARCHAR)");
        await con.run("INSERT INTO _lab_meta VALUES ($1)", [JSON.stringify(manifest)]);
        await con.run("CHECKPOINT");
      } finally {
        con.closeSync();
      }
    } finally {
      instance.closeSync();
    }
    await rm(`${path}.wal`, { force: true });
    await rename(tmpFile, path);
    progress("done", 1);
    return manifest;
  } finally {
    await rm(tmpDir, { recursive: true, force: true });
  }
}

/**
 * `COMMENT ON TABLE/VIEW/COLUMN` statements writing every table's, view's and column's description into the
 * catalog, so the file documents itself (`duckdb_tables()`, `duckdb_views()`, `duckdb_columns()` → `comment`).
 *
 * @example
 * ```ts
 * await con.run(createTablesSql() + createViewsSql() + commentsSql());
 * ```
 */
export function commentsSql(): string {
  const q = (text: string) => `'${text.replaceAll("'", "''")}'`;
  const relations = [...TABLES.map((t) => ["TABLE", t] as const), ...VIEWS.map((v) => ["VIEW", v] as const)];
  return relations.flatMap(([kind, r]) => [
    `COMMENT ON ${kind} "${r.name}" IS ${q(r.description)};`,
    ...r.columns.map((c) => `COMMENT ON COLUMN "${r.name}"."${c.name}" IS ${q(c.description)};`),
  ]).join("\n");
}

/** Reads the manifest stored in a sandbox file (opened read-only and closed before returning). */
export async function readManifest(path: string): Promise<SandboxManifest> {
  const instance = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
  try {
    const con = await instance.connect();
    try {
      const r = await con.runAndReadAll("SELECT manifest FROM _lab_meta");
      const row = r.getRows()[0];
      if (!row || typeof row[0] !== "string") throw new Error(`${path}: table _lab_meta holds no manifest`);
      return JSON.parse(row[0]) as SandboxManifest;
    } finally {
      con.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Inserts rows via one JSON parameter (fast, typed by the table's columns). */
async function insertRows(
  con: DuckDBConnection,
  table: string,
  rows: Row[],
  types: Record<string, string> = columnTypes(table),
): Promise<void> {
  if (rows.length === 0) return;
  const structure = JSON.stringify([types]);
  await con.run(
    `INSERT INTO ${table} BY NAME SELECT unnest(from_json($1::JSON, '${structure}'), recursive := true)`,
    [JSON.stringify(rows)],
  );
}

function columnTypes(table: string): Record<string, string> {
  const def = TABLES.find((t) => t.name === table);
  if (!def) throw new Error(`insertRows: unknown table '${table}'`);
  return Object.fromEntries(def.columns.map((c) => [c.name, c.type]));
}

async function collectManifest(con: DuckDBConnection, spec: SandboxSpec): Promise<SandboxManifest> {
  const orgs = (await con.runAndReadAll("SELECT org_id, name FROM organizations ORDER BY org_id"))
    .getRowObjectsJson()
    .map((r) => ({ org_id: Number(r.org_id), name: String(r.name) }));
  const counts = TABLES.map((t) => `SELECT '${t.name}' AS t, org_id, count(*) AS n FROM ${t.name} GROUP BY org_id`);
  const rows = (await con.runAndReadAll(counts.join("\nUNION ALL\n"))).getRowObjectsJson();
  const rowCounts: Record<string, number> = Object.fromEntries(TABLES.map((t) => [t.name, 0]));
  const rowsPerTenant: Record<number, number> = Object.fromEntries(orgs.map((o) => [o.org_id, 0]));
  for (const r of rows) {
    rowCounts[String(r.t)] += Number(r.n);
    rowsPerTenant[Number(r.org_id)] += Number(r.n);
  }
  return { format: SANDBOX_FORMAT, spec, orgs, rowCounts, rowsPerTenant, buildMs: 0 };
}
