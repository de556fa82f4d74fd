/**
 * Rows from either plain objects or an apache-arrow Table, so every report helper accepts both.
 * @module
 */
import { DataType, type Table } from "apache-arrow";

/** Plain row objects, or an apache-arrow Table (what DuckDB and Parquet readers hand to notebooks). */
export type Rows = readonly Record<string, unknown>[] | Table;

/** Rows as plain objects, with the column order and which columns are numeric. */
export interface RowsView {
  columns: string[];
  rows: Record<string, unknown>[];
  /** Rows in the source, which may be more than `rows` when a limit was applied. */
  total: number;
  /** Columns declared numeric by an Arrow schema; plain rows are judged value by value. */
  numericColumns: Set<string>;
}

/**
 * Duck-typed so that an Arrow Table from another copy of apache-arrow (e.g. inside a DuckDB package)
 * is still recognised; `instanceof` would fail across copies.
 */
export function isArrowTable(value: unknown): value is Table {
  if (value === null || typeof value !== "object") return false;
  const t = value as Partial<Table>;
  return typeof t.numRows === "number" && typeof t.get === "function" && Array.isArray(t.schema?.fields);
}

/** Reads up to `limit` rows as plain objects. */
export function viewRows(source: Rows, limit = Number.POSITIVE_INFINITY): RowsView {
  if (isArrowTable(source)) {
    const columns = source.schema.fields.map((f) => f.name);
    const numericColumns = new Set(
      source.schema.fields
        .filter((f) => DataType.isInt(f.type) || DataType.isFloat(f.type) || DataType.isDecimal(f.type))
        .map((f) => f.name),
    );
    const n = Math.min(source.numRows, limit);
    const rows: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const row = source.get(i);
      const obj: Record<string, unknown> = {};
      for (const c of columns) obj[c] = row?.[c];
      rows.push(obj);
    }
    return { columns, rows, total: source.numRows, numericColumns };
  }
  if (!Array.isArray(source)) {
    throw new TypeError(`Expected an array of row objects or an apache-arrow Table, found ${describe(source)}`);
  }
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of source) {
    for (const key of Object.keys(row)) {
      if (!seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  return { columns, rows: source.slice(0, limit), total: source.length, numericColumns: new Set() };
}

/**
 * A value safe to put in JSON (a Vega-Lite spec travels as JSON in the notebook): bigint → number,
 * Date → ISO string, Arrow/DuckDB value objects → their string form.
 */
export function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Date) return value.toISOString();
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number | bigint>, toJsonValue);
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === "function") return toJsonValue(withJson.toJSON());
  if (hasOwnToString(value)) return String(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = toJsonValue(v);
  return out;
}

/** True when the object's class defines a meaningful `toString` (DuckDB values, Arrow decimals). */
export function hasOwnToString(value: object): boolean {
  return typeof value.toString === "function" && value.toString !== Object.prototype.toString;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return value.constructor?.name ?? "object";
}
