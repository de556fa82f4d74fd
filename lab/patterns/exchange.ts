/**
 * Patterns in and out of the lab: Parquet for other tools and machines, Arrow for notebooks.
 *
 * - {@linkcode exportParquet} writes `turn_memories` as hive-partitioned Parquet
 *   (`<dir>/run_id=<run>/category=<category>/data_0.parquet`; a NULL run is `__HIVE_DEFAULT_PARTITION__`,
 *   other characters are percent-encoded) plus `<dir>/_patterns.json` (format, version, row count, columns,
 *   composite weights, embedders). The partition columns are also written inside the files, so a reader that
 *   ignores the folder names (or mangles them) still gets the exact values. Everything is written to a hidden
 *   folder beside `dir` and renamed into place: a reader never sees a partial export.
 * - {@linkcode importParquet} reads such a folder back: exact (every column, embeddings and JSON included) and
 *   all or nothing (one transaction). Composites are re-derived when the store's weights differ.
 * - A failure a person can fix (a missing or truncated export, a destination that cannot be written) is a
 *   {@linkcode LabError} of one line saying what, where and what to do; the store and the destination are left as
 *   they were.
 * - {@linkcode toArrow} returns the patterns as an apache-arrow Table (embedding as FixedSizeList<Float32>[256],
 *   timestamps in microseconds, `successful_queries` as JSON text).
 * @module
 */
import { basename, dirname, join, resolve } from "node:path";
import { existsSync } from "node:fs";
import type { DuckDBConnection } from "@duckdb/node-api";
import {
  Bool,
  type Data,
  Field,
  FixedSizeList,
  Float32,
  Float64,
  Int32,
  List,
  makeData,
  makeVector,
  Table,
  TimestampMicrosecond,
  Utf8,
  type Vector,
  vectorFromArray,
} from "apache-arrow";
import { EMBEDDING_DIMS, PATTERN_COLUMN_TYPES, PATTERN_COLUMNS, type PatternColumn } from "./_schema.ts";
import { LabError, sqlString, withTransaction } from "../util/mod.ts";
import { filterSql, type PatternFilter } from "./_query.ts";
import type { PatternStore } from "./store.ts";

/** Format tag and version written to `_patterns.json`. */
export const PARQUET_FORMAT = { format: "lab-patterns", version: 1 } as const;

/** Options for {@linkcode exportParquet}. */
export interface ExportParquetOptions {
  /** Export only these patterns. @default all */
  filter?: PatternFilter;
  /** Replace an existing folder (atomically: the old one is removed only after the new one is in place). @default false */
  overwrite?: boolean;
  /**
   * Parquet compression. Snappy is read by every Parquet reader; `lz4_raw` writes embeddings about a third
   * faster but needs a recent reader (Spark ≥ 3.4, pyarrow ≥ 7); `zstd` is smallest and slowest.
   * @default "snappy"
   */
  compression?: "snappy" | "lz4_raw" | "zstd" | "uncompressed";
}

/** What {@linkcode exportParquet} wrote. */
export interface ExportParquetResult {
  dir: string;
  rows: number;
  /** Parquet files written (one per (run, category) partition). */
  files: number;
}

async function parquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for await (const e of Deno.readDir(d)) {
      if (e.isDirectory) await walk(join(d, e.name));
      else if (e.name.endsWith(".parquet")) out.push(join(d, e.name));
    }
  };
  await walk(dir);
  return out.sort();
}

/** The reason of a file-system or DuckDB I/O failure, in one line; undefined for anything else (a bug). */
function ioReason(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  const isIo = Object.values(Deno.errors).some((cls) => e instanceof cls) ||
    /^(IO|Permission|Invalid Input) Error:/.test(e.message);
  // Deno's "<reason> (os error 2): mkdir '<path>'" → "<reason>": the path may be a temp folder the caller never named.
  return isIo ? e.message.split("\n")[0].replace(/ \(os error \d+\)(: .*)?$/, "") : undefined;
}

/** The nearest existing ancestor of `path` (or `path` itself) and the outermost folder `mkdir -p` would create. */
function ancestry(path: string): { existing: string; missing?: string } {
  let p = path, missing: string | undefined;
  while (!existsSync(p) && dirname(p) !== p) {
    missing = p;
    p = dirname(p);
  }
  return { existing: p, missing };
}

/**
 * Exports the store (or the patterns matching `options.filter`) to `dir` as hive-partitioned Parquet by run and
 * category (see the module doc). Throws when `dir` exists, unless `overwrite`.
 *
 * @example
 * ```ts
 * const r = await exportParquet(store, "data/exports/patterns", { overwrite: true });
 * // SELECT * FROM read_parquet('data/exports/patterns/**\/*.parquet')   -- DuckDB, polars, pandas, Spark
 * ```
 */
export async function exportParquet(
  store: PatternStore,
  dir: string,
  options: ExportParquetOptions = {},
): Promise<ExportParquetResult> {
  if (typeof dir !== "string" || !dir) throw new TypeError("exportParquet: dir must be a folder path");
  const target = resolve(dir);
  const compression = options.compression ?? "snappy";
  if (!["snappy", "lz4_raw", "zstd", "uncompressed"].includes(compression)) {
    throw new TypeError(
      `exportParquet: compression must be snappy, lz4_raw, zstd or uncompressed, found '${compression}'`,
    );
  }
  if (existsSync(target) && !options.overwrite) {
    throw new LabError(`cannot export to ${target}: it exists; pass overwrite (--overwrite) to replace it, or choose another folder`);
  }
  const parent = dirname(target);
  const { existing, missing: created } = ancestry(parent);
  if (!(await Deno.stat(existing)).isDirectory) {
    throw new LabError(`cannot export to ${target}: ${existing} is a file, not a folder; choose another folder`);
  }
  const tmp = join(parent, `.${basename(target)}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`);
  try {
    await Deno.mkdir(parent, { recursive: true });
    await Deno.mkdir(tmp);
    const { where, params } = filterSql(options.filter);
    const meta = await store.withConnection(async (con) => {
      // One read transaction: the count, the manifest and the COPY see the same snapshot.
      return await withTransaction(con, async () => {
        const [[n]] = (await con.runAndReadAll(`SELECT count(*) FROM turn_memories ${where}`, params)).getRows();
        const embedders = (await con.runAndReadAll(
          `SELECT DISTINCT embedder FROM turn_memories ${where} ORDER BY 1`,
          params,
        )).getRows().map(([e]) => String(e));
        if (Number(n)) {
          // COPY takes no parameters: materialize the selection first when filtered.
          let source = "turn_memories";
          if (where) {
            await con.run(`CREATE OR REPLACE TEMP TABLE _tm_export AS SELECT * FROM turn_memories ${where}`, params);
            source = "temp.main._tm_export";
          }
          await con.run(
            `COPY (SELECT ${PATTERN_COLUMNS.join(", ")} FROM ${source}) TO ${sqlString(tmp)}
             (FORMAT parquet, COMPRESSION ${compression}, PARTITION_BY (run_id, category), WRITE_PARTITION_COLUMNS true,
              OVERWRITE_OR_IGNORE)`,
          );
          if (where) await con.run("DROP TABLE IF EXISTS temp.main._tm_export");
        }
        return { rows: Number(n), embedders };
      });
    });
    const files = (await parquetFiles(tmp)).length;
    await Deno.writeTextFile(
      join(tmp, "_patterns.json"),
      JSON.stringify(
        {
          ...PARQUET_FORMAT,
          rows: meta.rows,
          files,
          columns: PATTERN_COLUMNS,
          partitioning: ["run_id", "category"],
          compression,
          composite_weights: store.weights,
          embedders: meta.embedders,
          exported_at: new Date().toISOString(),
        },
        null,
        2,
      ) + "\n",
    );
    const old = existsSync(target) ? `${tmp}.old` : undefined;
    if (old) await Deno.rename(target, old);
    await Deno.rename(tmp, target);
    if (old) await Deno.remove(old, { recursive: true });
    return { dir: target, rows: meta.rows, files };
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    // Folders created for the export go again: nothing half-written stays behind.
    if (created) await Deno.remove(created, { recursive: true }).catch(() => {});
    const reason = ioReason(e);
    if (reason) throw new LabError(`cannot export to ${target}: ${reason}; choose a folder you can write to`);
    throw e;
  }
}

/** A folder written by {@linkcode exportParquet}, checked and listed by {@linkcode readParquetExport}. */
export interface ParquetExport {
  /** Absolute path of the folder (or of a single Parquet file). */
  source: string;
  /** Its Parquet files, sorted. */
  files: string[];
  /** Its `_patterns.json`, when it has one. */
  manifest?: Record<string, unknown>;
}

const PARQUET_MAGIC = "PAR1";

/** Whether a file starts and ends with Parquet's magic bytes (a truncated or partly copied file does not end so). */
async function hasParquetMagic(path: string): Promise<boolean> {
  using f = await Deno.open(path, { read: true });
  const size = (await f.stat()).size;
  if (size < 12) return false;
  const head = new Uint8Array(4), tail = new Uint8Array(4);
  await f.read(head);
  await f.seek(size - 4, Deno.SeekMode.Start);
  await f.read(tail);
  const text = new TextDecoder();
  return text.decode(head) === PARQUET_MAGIC && text.decode(tail) === PARQUET_MAGIC;
}

/**
 * Checks a folder written by {@linkcode exportParquet} without touching any store: it exists, its manifest is one
 * this reader knows, every file it lists is there, and no Parquet file is truncated. {@linkcode importParquet}
 * runs the same checks; call it first to open (or create) a store only for an export that can be imported.
 *
 * @example
 * ```ts
 * const { files } = await readParquetExport("data/exports/patterns"); // throws a one-line LabError if broken
 * ```
 */
export async function readParquetExport(dir: string): Promise<ParquetExport> {
  const source = resolve(dir);
  const cannot = `cannot import ${source}`;
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(source);
  } catch (e) {
    const reason = e instanceof Deno.errors.NotFound ? "no such file or folder" : ioReason(e);
    if (!reason) throw e;
    throw new LabError(`${cannot}: ${reason}; pass a folder written by exportParquet ('lab patterns export')`);
  }
  let files: string[];
  try {
    files = stat.isDirectory ? await parquetFiles(source) : [source];
  } catch (e) {
    const reason = ioReason(e);
    if (!reason) throw e;
    throw new LabError(`${cannot}: ${reason}; check the folder's permissions`);
  }
  let manifest: Record<string, unknown> | undefined;
  const manifestPath = join(source, "_patterns.json");
  if (stat.isDirectory && existsSync(manifestPath)) {
    try {
      manifest = JSON.parse(await Deno.readTextFile(manifestPath));
    } catch (e) {
      throw new LabError(`${cannot}: ${manifestPath} is not valid JSON (${(e as Error).message}); export the folder again`);
    }
    if (manifest?.format !== PARQUET_FORMAT.format || manifest?.version !== PARQUET_FORMAT.version) {
      throw new LabError(
        `${cannot}: ${manifestPath} is ${manifest?.format} v${manifest?.version}; this reader knows ` +
          `${PARQUET_FORMAT.format} v${PARQUET_FORMAT.version} — export it again with this lab`,
      );
    }
    if (typeof manifest.files === "number" && manifest.files !== files.length) {
      throw new LabError(
        `${cannot}: it holds ${files.length} Parquet files, its _patterns.json lists ${manifest.files}; copy the whole folder, or remove _patterns.json to import the files as they are`,
      );
    }
  }
  for (const f of files) {
    if (!(await hasParquetMagic(f))) {
      throw new LabError(`${cannot}: ${f} is truncated or not a Parquet file; nothing was imported — export the folder again`);
    }
  }
  return { source, files, ...(manifest ? { manifest } : {}) };
}

/** Options for {@linkcode importParquet}. */
export interface ImportParquetOptions {
  /**
   * Ids already in the store: `"error"` stores nothing and says how many clash, `"skip"` keeps the stored
   * rows, `"replace"` overwrites them with the imported ones.
   * @default "error"
   */
  onConflict?: "error" | "skip" | "replace";
}

/** What {@linkcode importParquet} did. */
export interface ImportParquetResult {
  /** Rows read. */
  rows: number;
  inserted: number;
  /** Rows whose id was stored already (kept with `skip`, overwritten with `replace`). */
  conflicts: number;
  /** Composites re-derived because the export's weights differ from the store's. */
  rederived: boolean;
}

/**
 * Imports a folder written by {@linkcode exportParquet} (or any Parquet files with the `turn_memories`
 * columns) into the store, in one transaction.
 *
 * @example
 * ```ts
 * await using other = await PatternStore.open("data/other.duckdb");
 * await importParquet(other, "data/exports/patterns", { onConflict: "skip" });
 * ```
 */
export async function importParquet(
  store: PatternStore,
  dir: string,
  options: ImportParquetOptions = {},
): Promise<ImportParquetResult> {
  const onConflict = options.onConflict ?? "error";
  if (!["error", "skip", "replace"].includes(onConflict)) {
    throw new TypeError(`importParquet: onConflict must be 'error', 'skip' or 'replace', found '${onConflict}'`);
  }
  const { source, files, manifest } = await readParquetExport(dir);
  const weights = manifest?.composite_weights as { query: number; turn: number } | undefined;
  if (!files.length) return { rows: 0, inserted: 0, conflicts: 0, rederived: false };
  const list = `[${files.map(sqlString).join(", ")}]`;
  const cannot = `cannot import ${source}`;
  // A file DuckDB cannot read (truncated, not Parquet, a column of another type) is the export's fault, not a bug.
  const reading = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      const reason = e instanceof Error && /^(Invalid Input|IO|Conversion|Out of Range|Serialization) Error:/.test(e.message)
        ? e.message.split("\n")[0]
        : undefined;
      if (reason) throw new LabError(`${cannot}: ${reason}; nothing was imported — export the folder again`);
      throw e;
    }
  };
  return await store.withConnection(async (con) => {
    const tableTypes = await columnTypes(con, "SELECT * FROM turn_memories");
    const fileTypes = await reading(() => columnTypes(con, `SELECT * FROM read_parquet(${list}, hive_partitioning = false)`));
    const missing = PATTERN_COLUMNS.filter((c) => !fileTypes.has(c));
    if (missing.length) {
      throw new LabError(
        `${cannot}: it lacks column${missing.length > 1 ? "s" : ""} ${missing.join(", ")}; ` +
          "import a folder written by exportParquet ('lab patterns export')",
      );
    }
    const select = PATTERN_COLUMNS.map((c) => `${c}::${tableTypes.get(c)} AS ${c}`).join(", ");
    return await withTransaction(con, async () => {
      await reading(() =>
        con.run(
          `CREATE OR REPLACE TEMP TABLE _tm_import AS SELECT ${select} FROM read_parquet(${list}, hive_partitioning = false)`,
        )
      );
      const [[rows, distinct, nullIds]] = (await con.runAndReadAll(
        "SELECT count(*), count(DISTINCT id), count(*) FILTER (WHERE id IS NULL) FROM _tm_import",
      )).getRows();
      if (typeof manifest?.rows === "number" && manifest.rows !== Number(rows)) {
        throw new LabError(
          `${cannot}: it holds ${rows} patterns, its _patterns.json says ${manifest.rows}; nothing was imported — export the folder again`,
        );
      }
      if (Number(nullIds) || Number(distinct) !== Number(rows)) {
        throw new LabError(
          `${cannot}: it holds ${Number(rows) - Number(distinct)} duplicate and ${nullIds} empty ids; ` +
            "import one export at a time",
        );
      }
      const [[conflicts]] = (await con.runAndReadAll(
        "SELECT count(*) FROM _tm_import JOIN turn_memories USING (id)",
      )).getRows();
      if (Number(conflicts) && onConflict === "error") {
        throw new LabError(
          `${cannot}: ${conflicts} of ${rows} patterns are already in ${store.path}; nothing was imported ` +
            "(pass { onConflict: 'skip' } or 'replace'; --on-conflict on the command line)",
        );
      }
      if (onConflict === "replace") {
        await con.run("DELETE FROM turn_memories WHERE id IN (SELECT id FROM _tm_import)");
      }
      const ins = await con.run(
        `INSERT INTO turn_memories (${PATTERN_COLUMNS.join(", ")}) SELECT ${
          PATTERN_COLUMNS.join(", ")
        } FROM _tm_import i
         WHERE NOT EXISTS (SELECT 1 FROM turn_memories t WHERE t.id = i.id)`,
      );
      const w = store.weights;
      const rederived = !!weights && (weights.query !== w.query || weights.turn !== w.turn);
      if (rederived) {
        await con.run(
          `UPDATE turn_memories SET composite_fitness = round($1 * query_avg_fitness + $2 * turn_fitness, 6)
           WHERE id IN (SELECT id FROM _tm_import)`,
          [w.query, w.turn],
        );
      }
      await con.run("DROP TABLE _tm_import");
      return { rows: Number(rows), inserted: ins.rowsChanged, conflicts: Number(conflicts), rederived };
    });
  });
}

async function columnTypes(con: DuckDBConnection, sql: string): Promise<Map<string, string>> {
  const rows = (await con.runAndReadAll(`DESCRIBE ${sql}`)).getRowObjectsJson();
  return new Map(rows.map((r) => [String(r.column_name), String(r.column_type)]));
}

/**
 * Options for {@linkcode toArrow}.
 * @internal
 */
export interface ToArrowOptions {
  /** Columns to include, in this order. @default every column of turn_memories */
  columns?: readonly PatternColumn[];
  /** @default all */
  limit?: number;
}

/** The columns of `turn_memories` of one SQL type. */
const columnsOf = (type: string) => new Set(PATTERN_COLUMNS.filter((c) => PATTERN_COLUMN_TYPES[c] === type));
const INT_COLUMNS = columnsOf("INTEGER");
const DOUBLE_COLUMNS = columnsOf("DOUBLE");
const BOOL_COLUMNS = columnsOf("BOOLEAN");
const TIME_COLUMNS = columnsOf("TIMESTAMP");

/**
 * The patterns matching `filter` as an apache-arrow Table, best first (composite fitness, support, id).
 *
 * @example
 * ```ts
 * const t = await toArrow(store, { turnPass: true }, { columns: ["normalized_intent", "composite_fitness", "embedding"] });
 * t.numRows; t.getChild("embedding")?.get(0)?.toArray(); // Float32Array(256)
 * ```
 */
export async function toArrow(
  store: PatternStore,
  filter: PatternFilter = {},
  options: ToArrowOptions = {},
): Promise<Table> {
  const columns = options.columns ?? PATTERN_COLUMNS;
  const unknown = columns.filter((c) => !(PATTERN_COLUMNS as readonly string[]).includes(c));
  if (unknown.length) {
    throw new RangeError(`toArrow: unknown column ${unknown.join(", ")}; columns: ${PATTERN_COLUMNS.join(", ")}`);
  }
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 0)) {
    throw new RangeError(`toArrow: limit must be a non-negative integer, found ${options.limit}`);
  }
  const { where, params } = filterSql(filter);
  const select = columns.map((c) => {
    if (TIME_COLUMNS.has(c)) return `epoch_us(${c}) AS ${c}`;
    if (PATTERN_COLUMN_TYPES[c] === "JSON") return `${c}::VARCHAR AS ${c}`;
    return c;
  }).join(", ");
  const limit = options.limit !== undefined ? `LIMIT ${options.limit}` : "";
  const data = await store.withConnection(async (con) => {
    const r = await con.runAndReadAll(
      `SELECT ${select} FROM turn_memories ${where} ORDER BY composite_fitness DESC, support DESC, id ${limit}`,
      params,
    );
    return { n: r.currentRowCount, cols: r.getColumns() };
  });
  const vectors: Record<string, Vector> = {};
  columns.forEach((c, i) => {
    const values = data.cols[i] as unknown[];
    vectors[c] = arrowColumn(c, values, data.n);
  });
  return new Table(vectors);
}

function nullBitmap(values: readonly unknown[]): { bitmap: Uint8Array; nulls: number } {
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  let nulls = 0;
  values.forEach((v, i) => {
    if (v === null || v === undefined) nulls++;
    else bitmap[i >> 3] |= 1 << (i & 7);
  });
  return { bitmap, nulls };
}

function arrowColumn(name: PatternColumn, values: unknown[], n: number): Vector {
  if (name === "embedding") {
    const flat = new Float32Array(n * EMBEDDING_DIMS);
    values.forEach((v, i) => {
      const items = (v as { items: readonly number[] }).items;
      for (let k = 0; k < EMBEDDING_DIMS; k++) flat[i * EMBEDDING_DIMS + k] = items[k];
    });
    const child = makeData({ type: new Float32(), length: flat.length, data: flat });
    const type = new FixedSizeList(EMBEDDING_DIMS, new Field("item", new Float32(), false));
    return makeVector(makeData({ type, length: n, nullCount: 0, child }) as Data<FixedSizeList<Float32>>);
  }
  if (name === "tool_sequence") {
    const lists = values.map((v) => (v as { items: readonly unknown[] }).items.map(String));
    return vectorFromArray(lists, new List(new Field("item", new Utf8(), true)));
  }
  if (TIME_COLUMNS.has(name)) {
    const data = new BigInt64Array(n);
    values.forEach((v, i) => {
      if (v !== null && v !== undefined) data[i] = BigInt(v as bigint);
    });
    const { bitmap, nulls } = nullBitmap(values);
    return makeVector(
      makeData({ type: new TimestampMicrosecond(), length: n, data, nullCount: nulls, nullBitmap: bitmap }),
    );
  }
  if (INT_COLUMNS.has(name)) return vectorFromArray(values.map((v) => (v === null ? null : Number(v))), new Int32());
  if (DOUBLE_COLUMNS.has(name)) return vectorFromArray(values.map((v) => Number(v)), new Float64());
  if (BOOL_COLUMNS.has(name)) return vectorFromArray(values.map((v) => (v === null ? null : Boolean(v))), new Bool());
  return vectorFromArray(values.map((v) => (v === null ? null : String(v))), new Utf8());
}
