/**
 * Schema metadata as lab-mini receives it: DATA read from a DuckDB file's catalog (duckdb_tables(),
 * duckdb_views(), duckdb_columns(), comments when present) plus a few distinct values of short text columns, or
 * the same shape passed in as JSON. lab-mini never imports a schema module.
 * @module
 */
import { z } from "zod";
import { DuckDBInstance } from "@duckdb/node-api";

/** Role of a column in generated questions. */
export type ColumnRole = "measure" | "date" | "category" | "key" | "other";

export const ColumnMeta = z.object({
  name: z.string(),
  type: z.string(),
  comment: z.string().optional(),
  role: z.enum(["measure", "date", "category", "key", "other"]),
  /** Distinct values of a category column (a few). */
  values: z.array(z.string()).optional(),
});
export type ColumnMeta = z.infer<typeof ColumnMeta>;

export const RelationMeta = z.object({
  name: z.string(),
  kind: z.enum(["table", "view"]),
  comment: z.string().optional(),
  columns: z.array(ColumnMeta),
});
export type RelationMeta = z.infer<typeof RelationMeta>;

export const SchemaMeta = z.object({ relations: z.array(RelationMeta) });
export type SchemaMeta = z.infer<typeof SchemaMeta>;

const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|REAL|DOUBLE|DECIMAL.*)$/i;

function roleOf(name: string, type: string, distinct: number | undefined): ColumnRole {
  const n = name.toLowerCase();
  if (/^(DATE|TIMESTAMP.*)$/i.test(type)) return "date";
  if (n === "id" || n.endsWith("_id") || n.endsWith("_no") || n.endsWith("_number")) return "key";
  if (NUMERIC.test(type)) return "measure";
  if (/^VARCHAR|^BOOLEAN/i.test(type) && distinct !== undefined && distinct >= 2 && distinct <= 12) return "category";
  return "other";
}

/** Options for {@linkcode readSchemaMeta}. */
export interface ReadSchemaOptions {
  /** Relations to skip (e.g. a log written only by the lab). @default [] */
  exclude?: string[];
  /** Columns never used (e.g. a tenant key present in every relation). @default [] */
  ignoreColumns?: string[];
}

/** Reads schema metadata from a DuckDB file's catalog (read-only). */
export async function readSchemaMeta(path: string, options: ReadSchemaOptions = {}): Promise<SchemaMeta> {
  const instance = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
  const conn = await instance.connect();
  try {
    const q = async (sql: string) => (await conn.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
    const rels = await q(`
      SELECT table_name AS name, 'table' AS kind, coalesce(comment, '') AS comment FROM duckdb_tables() WHERE NOT internal AND schema_name = 'main'
      UNION ALL
      SELECT view_name, 'view', coalesce(comment, '') FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'
      ORDER BY 1`);
    const cols = await q(`SELECT table_name, column_name, data_type, coalesce(comment, '') AS comment
      FROM duckdb_columns() WHERE NOT internal AND schema_name = 'main' ORDER BY table_name, column_index`);
    const exclude = new Set(options.exclude ?? []);
    const ignore = new Set(options.ignoreColumns ?? []);
    const out: RelationMeta[] = [];
    for (const r of rels) {
      const name = String(r.name);
      if (exclude.has(name)) continue;
      const columns: ColumnMeta[] = [];
      for (const c of cols.filter((c) => c.table_name === name)) {
        const cname = String(c.column_name), type = String(c.data_type);
        if (ignore.has(cname)) continue;
        let values: string[] | undefined;
        let distinct: number | undefined;
        if (/^BOOLEAN/i.test(type)) {
          // a yes/no column filters on "true" (mentioned by its name's words: `is_valid` → "valid")
          const d = await q(`SELECT DISTINCT CAST("${cname}" AS VARCHAR) AS v FROM "${name}" WHERE "${cname}" IS NOT NULL`);
          distinct = d.length;
          values = d.some((x) => x.v === "true") ? ["true"] : [];
        } else if (/^VARCHAR/i.test(type)) {
          const d = await q(`SELECT DISTINCT CAST("${cname}" AS VARCHAR) AS v FROM "${name}" WHERE "${cname}" IS NOT NULL ORDER BY 1 LIMIT 13`);
          distinct = d.length;
          values = d.map((x) => String(x.v)).filter((v) => v.length <= 40);
        }
        const role = roleOf(cname, type, distinct);
        // keys in the schema's order (a parsed copy serialises the same: model hashes cover the metadata)
        columns.push({
          name: cname,
          type,
          ...(String(c.comment) ? { comment: String(c.comment) } : {}),
          role,
          ...(role === "category" && values ? { values } : {}),
        });
      }
      out.push({ name, kind: r.kind as "table" | "view", ...(String(r.comment) ? { comment: String(r.comment) } : {}), columns });
    }
    return { relations: out };
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
