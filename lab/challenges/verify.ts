/**
 * Verifiers: judge an episode by execution. The truth comes from reference queries run on the untouched
 * starting copy of the episode's database; writes are judged by the diff of every table between the start
 * and the end of the episode. Never by string matching, never against a number typed into a file.
 */
import { TABLES } from "../sandbox/mod.ts";
import { renderSql } from "./params.ts";
import type { Challenge, Verdict, VerifierSpec } from "./types.ts";

/** A row as trusted lab code reads it (values JSON-like: numbers, strings, booleans, null). */
export type Row = Record<string, unknown>;

/** Database access a verifier needs: both states of one episode, through trusted lab code. */
export interface VerifyContext {
  /** Runs SQL on the untouched starting state of the episode's database. */
  pristine(sql: string): Promise<Row[]>;
  /** Runs SQL on the state at the end of the episode. */
  current(sql: string): Promise<Row[]>;
  /** The sandbox's as-of date (YYYY-MM-DD). */
  asOf: string;
}

/** What the agent did, as far as verification is concerned. */
export interface EpisodeOutcome {
  /** The answer given through `submitAnswer` (undefined when the agent never submitted). */
  answer: unknown;
  /** Tool calls made. */
  steps: number;
  /** Queries the agent ran (dbRead and dbWrite) and how many succeeded. */
  queries: number;
  queriesOk: number;
  /** Inputs refused by the SQL guard or by write validation. */
  safetyViolations: number;
}

type Tol = { relative: number; absolute: number };
type Field = { name: string; aliases: string[]; tolerance?: Tol };
type Component = { name: string; score: number; ok: boolean; reason: string };

const DEFAULT_TOL: Tol = { relative: 0.005, absolute: 0.01 };

// ---------- value normalisation ----------

/** Parses a number out of an answer value: 1234.5, "1,234.50", "$1,234.50", "12.5%" (→ 12.5). */
export function toNumber(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "bigint") return Number(v);
  if (typeof v === "string") {
    const s = v.trim().replace(/[$€£,\s]/g, "").replace(/%$/, "");
    if (/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(s)) return Number(s);
  }
  return undefined;
}

function within(expected: number, actual: number, tol: Tol): boolean {
  return Math.abs(expected - actual) <= Math.max(tol.absolute, tol.relative * Math.abs(expected)) + 1e-9;
}

const norm = (k: string) => k.toLowerCase().replace(/[^a-z0-9]/g, "");

/** Finds a field's value in an answer object by its name or aliases (case and punctuation insensitive). */
function lookup(obj: unknown, field: Field): { found: boolean; value: unknown } {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return { found: false, value: undefined };
  const names = new Set([field.name, ...field.aliases].map(norm));
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) if (names.has(norm(k))) return { found: true, value: v };
  return { found: false, value: undefined };
}

/** The single number an answer stands for: a number, a numeric string, `{value|total|amount|result: n}`, `[n]`. */
export function answerNumber(answer: unknown): number | undefined {
  const n = toNumber(answer);
  if (n !== undefined) return n;
  if (Array.isArray(answer) && answer.length === 1) return answerNumber(answer[0]);
  if (answer && typeof answer === "object") {
    const entries = Object.entries(answer as Record<string, unknown>);
    for (const key of ["value", "total", "amount", "result", "answer", "count"]) {
      const hit = entries.find(([k]) => norm(k) === key);
      if (hit) return answerNumber(hit[1]);
    }
    const nums = entries.map(([, v]) => toNumber(v)).filter((x) => x !== undefined);
    if (entries.length === 1 && nums.length === 1) return nums[0];
  }
  return undefined;
}

/** Values equal for matching keys: numbers numerically (within tolerance), text case-insensitively. */
function valueEquals(expected: unknown, actual: unknown, tol?: Tol): boolean {
  if (expected === null || expected === undefined) return actual === null || actual === undefined || actual === "";
  const en = toNumber(expected);
  if (en !== undefined && typeof expected !== "boolean") {
    const an = toNumber(actual);
    return an !== undefined && within(en, an, tol ?? { relative: 0, absolute: 0.005 });
  }
  if (typeof expected === "boolean") return actual === expected || String(actual).toLowerCase() === String(expected);
  const e = String(expected).trim().toLowerCase();
  const a = String(actual ?? "").trim().toLowerCase();
  // Dates compare on the day, whether the answer gives '2025-03-01' or '2025-03-01 00:00:00'.
  return /^\d{4}-\d{2}-\d{2}$/.test(e) ? a.slice(0, 10) === e : e === a;
}

function keyString(row: unknown, fields: Field[], fromAnswer: boolean): string | undefined {
  const parts: string[] = [];
  for (const f of fields) {
    const v = fromAnswer ? lookup(row, f) : { found: true, value: (row as Row)[f.name] };
    if (!v.found) return undefined;
    const n = toNumber(v.value);
    parts.push(n !== undefined && typeof v.value !== "boolean" ? String(Math.round(n * 100) / 100) : String(v.value).trim().toLowerCase());
  }
  return parts.join("\u0001");
}

function describeKey(row: Row, fields: Field[]): string {
  return fields.map((f) => `${f.name}=${row[f.name]}`).join(", ");
}

/** Rows of an answer given as a table: an array of objects, or `{rows: [...]}` / `{data: [...]}`. */
function answerRows(answer: unknown): unknown[] | undefined {
  if (Array.isArray(answer)) return answer;
  if (answer && typeof answer === "object") {
    for (const [k, v] of Object.entries(answer as Record<string, unknown>)) {
      if (["rows", "data", "items", "results", "table"].includes(norm(k)) && Array.isArray(v)) return v;
    }
  }
  return undefined;
}

// ---------- components ----------

function numberComponent(name: string, expected: unknown, actual: unknown, tol: Tol): Component {
  const e = toNumber(expected);
  if (e === undefined) return { name, score: 0, ok: false, reason: `${name}: the reference query gave no number` };
  const a = answerNumber(actual);
  if (a === undefined) return { name, score: 0, ok: false, reason: `${name}: no number in the answer (expected ${fmt(e)})` };
  return within(e, a, tol)
    ? { name, score: 1, ok: true, reason: `${name}: ${fmt(a)} is correct` }
    : { name, score: 0, ok: false, reason: `${name}: answered ${fmt(a)}, expected ${fmt(e)} (off by ${fmt(a - e)})` };
}

function fmt(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(2);
}

function fieldsComponents(expectedRow: Row | undefined, answer: unknown, fields: Field[], prefix = ""): Component[] {
  return fields.map((f) => {
    const name = `${prefix}${f.name}`;
    if (!expectedRow) return { name, score: 0, ok: false, reason: `${name}: the reference query returned no row` };
    const got = lookup(answer, f);
    if (!got.found) return { name, score: 0, ok: false, reason: `${name}: missing from the answer` };
    const e = expectedRow[f.name];
    if (toNumber(e) !== undefined) return numberComponent(name, e, got.value, f.tolerance ?? DEFAULT_TOL);
    return valueEquals(e, got.value)
      ? { name, score: 1, ok: true, reason: `${name} is correct` }
      : { name, score: 0, ok: false, reason: `${name}: answered '${got.value}', expected '${e}'` };
  });
}

/** Compares a row set; partial credit = F1 of keys × share of matched rows whose values are right. */
function rowsComponent(
  name: string,
  expected: Row[],
  answer: unknown,
  key: Field[],
  values: Field[],
  ordered = false,
): Component {
  const rows = answerRows(answer);
  if (!rows) return { name, score: 0, ok: false, reason: `${name}: the answer is not a list of rows` };
  const exp = new Map<string, Row>();
  for (const r of expected) exp.set(keyString(r, key, false)!, r);
  const seen = new Map<string, unknown>();
  let unkeyed = 0, dup = 0;
  for (const r of rows) {
    const k = keyString(r, key, true);
    if (k === undefined) unkeyed++;
    else if (seen.has(k)) dup++;
    else seen.set(k, r);
  }
  const matched = [...seen.keys()].filter((k) => exp.has(k));
  const missing = [...exp.keys()].filter((k) => !seen.has(k));
  const extra = [...seen.keys()].filter((k) => !exp.has(k));
  const precision = rows.length ? matched.length / rows.length : 0;
  const recall = exp.size ? matched.length / exp.size : rows.length === 0 ? 1 : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : exp.size === 0 && rows.length === 0 ? 1 : 0;
  let valuesOk = 0;
  const wrong: string[] = [];
  for (const k of matched) {
    const bad = values.filter((f) => {
      const got = lookup(seen.get(k), f);
      return !got.found || !valueEquals(exp.get(k)![f.name], got.value, f.tolerance);
    });
    if (bad.length === 0) valuesOk++;
    else if (wrong.length < 3) wrong.push(`${describeKey(exp.get(k)!, key)}: ${bad.map((f) => f.name).join(", ")}`);
  }
  const valueShare = matched.length ? valuesOk / matched.length : 0;
  let orderOk = true;
  if (ordered) {
    const expOrder = expected.map((r) => keyString(r, key, false));
    const ansOrder = rows.map((r) => keyString(r, key, true));
    orderOk = expOrder.length === ansOrder.length && expOrder.every((k, i) => k === ansOrder[i]);
  }
  const ok = missing.length === 0 && extra.length === 0 && unkeyed === 0 && dup === 0 && valuesOk === matched.length && orderOk;
  const score = ok ? 1 : Math.min(0.99, f1 * (values.length ? 0.5 + 0.5 * valueShare : 1) * (orderOk ? 1 : 0.9));
  const problems: string[] = [];
  if (missing.length) problems.push(`${missing.length} of ${exp.size} expected rows missing (e.g. ${describeKey(exp.get(missing[0])!, key)})`);
  if (extra.length) problems.push(`${extra.length} unexpected row${extra.length > 1 ? "s" : ""} (e.g. ${extra[0].split("\u0001").join(", ")})`);
  if (unkeyed) problems.push(`${unkeyed} row${unkeyed > 1 ? "s" : ""} without ${key.map((f) => f.name).join("/")}`);
  if (dup) problems.push(`${dup} duplicate row${dup > 1 ? "s" : ""}`);
  if (wrong.length) problems.push(`wrong values for ${matched.length - valuesOk} row(s): ${wrong.join("; ")}`);
  if (!orderOk) problems.push("rows are not in the requested order");
  return { name, score, ok, reason: ok ? `${name}: all ${exp.size} rows correct` : `${name}: ${problems.join("; ")}` };
}

// ---------- state diff ----------

/** Changes of one table between the start and the end of an episode, keyed by primary key. */
export interface TableDiff {
  table: string;
  inserted: Row[];
  deleted: Row[];
  /** Rows whose primary key exists in both states but whose values changed (end state). */
  updated: Row[];
}

/** Diffs every sandbox table between the two states of an episode (only changed tables are returned). */
export async function diffAllTables(ctx: VerifyContext): Promise<TableDiff[]> {
  // Cheap first pass: a content hash per table on both sides; rows are only fetched for tables that differ.
  const hashSql = TABLES.map((t) => `SELECT '${t.name}' AS t, count(*) AS n, coalesce(sum(hash(x)), 0)::VARCHAR AS h FROM ${t.name} x`)
    .join(" UNION ALL ");
  const [hb, ha] = await Promise.all([ctx.pristine(hashSql), ctx.current(hashSql)]);
  const sig = (rows: Row[]) => new Map(rows.map((r) => [String(r.t), `${r.n}:${r.h}`]));
  const before = sig(hb), after = sig(ha);
  const out: TableDiff[] = [];
  for (const t of TABLES.filter((t) => before.get(t.name) !== after.get(t.name))) {
    // Second pass: primary key + row hash on both sides; full rows only for the keys that changed.
    const pk = t.primaryKey;
    const narrow = `SELECT ${pk.join(", ")}, hash(x)::VARCHAR AS _h FROM ${t.name} x`;
    const [nb, na] = await Promise.all([ctx.pristine(narrow), ctx.current(narrow)]);
    const k = (r: Row) => pk.map((c) => String(r[c])).join("\u0001");
    const b = new Map(nb.map((r) => [k(r), r]));
    const a = new Map(na.map((r) => [k(r), r]));
    const ins: Row[] = [], upd: Row[] = [], del: Row[] = [];
    for (const [key, r] of a) {
      const old = b.get(key);
      if (!old) ins.push(r);
      else if (old._h !== r._h) upd.push(r);
    }
    for (const [key, r] of b) if (!a.has(key)) del.push(r);
    const fetch = async (side: (sql: string) => Promise<Row[]>, keys: Row[]): Promise<Row[]> => {
      if (keys.length === 0) return [];
      const tuple = (r: Row) => `(${pk.map((c) => sqlLiteral(r[c])).join(", ")})`;
      return await side(`SELECT * FROM ${t.name} WHERE (${pk.join(", ")}) IN (${keys.map(tuple).join(", ")})`);
    };
    const d: TableDiff = {
      table: t.name,
      inserted: await fetch(ctx.current, ins),
      deleted: await fetch(ctx.pristine, del),
      updated: await fetch(ctx.current, upd),
    };
    if (d.inserted.length || d.deleted.length || d.updated.length) out.push(d);
  }
  return out;
}

function sqlLiteral(v: unknown): string {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (typeof v === "boolean") return v ? "TRUE" : "FALSE";
  return `'${String(v).replaceAll("'", "''")}'`;
}

type EffectSpec = Extract<VerifierSpec, { kind: "action" }>["effects"][number];

async function effectComponents(
  effects: EffectSpec[],
  allow: string[],
  diffs: TableDiff[],
  ctx: VerifyContext,
  challenge: Challenge,
): Promise<Component[]> {
  const comps: Component[] = [];
  for (const [i, e] of effects.entries()) {
    const expected = await ctx.pristine(renderSql(e.reference, challenge.params, ctx.asOf, `${challenge.source}: effects[${i}]`));
    const d = diffs.find((x) => x.table === e.table);
    const changed = d ? (e.change === "insert" ? d.inserted : e.change === "update" ? d.updated : d.deleted) : [];
    const key: Field[] = e.match.map((m) => ({ name: m, aliases: [] }));
    const c = rowsComponent(`${e.change} ${e.table}`, expected, changed, key, []);
    comps.push({
      ...c,
      reason: c.ok
        ? `${e.table}: ${expected.length} ${e.change === "insert" ? "inserted" : e.change === "update" ? "updated" : "deleted"} row(s) as expected`
        : c.reason.replace(/^[^:]*:/, `${e.table} ${e.change}s:`).replace("the answer is not a list of rows", "no changes"),
    });
  }
  const allowed = new Set([...allow, "audit_log"]);
  const unexpected: string[] = [];
  for (const d of diffs) {
    const specs = effects.filter((e) => e.table === d.table);
    if (specs.length === 0 && !allowed.has(d.table)) {
      unexpected.push(`${d.table} (${d.inserted.length} inserted, ${d.updated.length} updated, ${d.deleted.length} deleted)`);
      continue;
    }
    if (allowed.has(d.table)) continue;
    const kinds = new Set(specs.map((e) => e.change));
    if (!kinds.has("insert") && d.inserted.length) unexpected.push(`${d.table}: ${d.inserted.length} unexpected insert(s)`);
    if (!kinds.has("update") && d.updated.length) unexpected.push(`${d.table}: ${d.updated.length} unexpected update(s)`);
    if (!kinds.has("delete") && d.deleted.length) unexpected.push(`${d.table}: ${d.deleted.length} unexpected delete(s)`);
  }
  comps.push(
    unexpected.length
      ? { name: "nothing else changed", score: 0, ok: false, reason: `unexpected changes: ${unexpected.join("; ")}` }
      : { name: "nothing else changed", score: 1, ok: true, reason: "no other table changed" },
  );
  return comps;
}

// ---------- the verifier ----------

/**
 * Judges one episode of `challenge`: returns the lab's one {@linkcode Verdict} shape, with partial credit per
 * component and details (components, steps vs optimal, queries, safety violations).
 */
export async function verify(challenge: Challenge, outcome: EpisodeOutcome, ctx: VerifyContext): Promise<Verdict> {
  const spec = challenge.verifier;
  const sql = (s: string, where: string) => renderSql(s, challenge.params, ctx.asOf, `${challenge.source}: verifier.${where}`);
  const comps: Component[] = [];
  const answer = outcome.answer;
  const noAnswer = answer === undefined || answer === null || answer === "";
  const needsAnswer = spec.kind !== "action" && spec.kind !== "workflow";
  if (noAnswer && needsAnswer) {
    comps.push({ name: "answer", score: 0, ok: false, reason: "no answer was submitted (call submitAnswer with the result)" });
  } else {
    switch (spec.kind) {
      case "number": {
        const rows = await ctx.pristine(sql(spec.reference, "reference"));
        comps.push(numberComponent("value", rows[0] ? Object.values(rows[0])[0] : undefined, answer, spec.tolerance));
        break;
      }
      case "comparison": {
        const rows = await ctx.pristine(sql(spec.reference, "reference"));
        comps.push(...fieldsComponents(rows[0], answer, spec.fields));
        break;
      }
      case "table": {
        const rows = await ctx.pristine(sql(spec.reference, "reference"));
        comps.push(rowsComponent("rows", rows, answer, spec.key, spec.values, spec.ordered));
        break;
      }
      case "report": {
        for (const [i, s] of spec.sections.entries()) {
          const section = lookup(answer, { name: s.name, aliases: s.aliases });
          const rows = await ctx.pristine(sql(s.reference, `sections[${i}].reference`));
          if (!section.found) {
            comps.push({ name: s.name, score: 0, ok: false, reason: `section '${s.name}' is missing from the report` });
          } else if (s.shape === "number") {
            comps.push(numberComponent(s.name, rows[0] ? Object.values(rows[0])[0] : undefined, section.value, s.tolerance));
          } else if (s.shape === "row") {
            const parts = fieldsComponents(rows[0], section.value, s.fields, `${s.name}.`);
            const score = parts.reduce((a, c) => a + c.score, 0) / parts.length;
            const bad = parts.filter((p) => !p.ok);
            comps.push({ name: s.name, score, ok: bad.length === 0, reason: bad.length ? bad.map((b) => b.reason).join("; ") : `${s.name} is correct` });
          } else {
            comps.push(rowsComponent(s.name, rows, section.value, s.key, s.fields));
          }
        }
        break;
      }
      case "action": {
        const diffs = await diffAllTables(ctx);
        comps.push(...await effectComponents(spec.effects, spec.allow, diffs, ctx, challenge));
        if (spec.answer) {
          const rows = await ctx.pristine(sql(spec.answer.reference, "answer.reference"));
          comps.push(numberComponent("answer", rows[0] ? Object.values(rows[0])[0] : undefined, answer, spec.answer.tolerance));
        }
        break;
      }
      case "workflow": {
        for (const [i, c] of spec.checkpoints.entries()) {
          const rows = await ctx.current(sql(c.check, `checkpoints[${i}].check`));
          const v = rows[0] ? Object.values(rows[0])[0] : undefined;
          comps.push(v === true ? { name: c.name, score: 1, ok: true, reason: `${c.name}: done` } : { name: c.name, score: 0, ok: false, reason: `${c.name}: not done — ${c.hint}` });
        }
        const diffs = await diffAllTables(ctx);
        comps.push(...await effectComponents(spec.effects, spec.allow, diffs, ctx, challenge));
        break;
      }
    }
  }
  const score = comps.reduce((a, c) => a + c.score, 0) / comps.length;
  const pass = comps.every((c) => c.ok);
  const failed = comps.filter((c) => !c.ok);
  const reason = pass
    ? `pass: ${comps.length === 1 ? comps[0].reason : `all ${comps.length} components correct`}`
    : `fail (${comps.length - failed.length}/${comps.length} components): ${failed.map((c) => c.reason).join("; ")}`;
  return {
    pass,
    score: pass ? 1 : Math.min(score, 0.99),
    reason,
    details: {
      components: comps.map(({ name, score, ok }) => ({ name, score, ok })),
      steps: outcome.steps,
      optimalSteps: challenge.optimalSteps,
      queries: outcome.queries,
      queriesOk: outcome.queriesOk,
      safetyViolations: outcome.safetyViolations,
    },
  };
}
