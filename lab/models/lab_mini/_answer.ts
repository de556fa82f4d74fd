/**
 * Answer programs: how a submitted answer is made from the results of a plan's calls, induced from
 * demonstrations (the fine-tuning data's tool results and submitted answers) — a value read from a cell, a write's
 * row count, a column total, a difference or ratio of two such values, rounded; an object of those; rows of a
 * result with columns renamed or derived. A small program search, not knowledge: every program comes from data.
 * @module
 */

/** What one call of a plan gave back. */
export interface CallResult {
  rows: Record<string, unknown>[];
  columns: string[];
  /** Rows changed by a write. */
  rowCount?: number;
  write: boolean;
}

type Op = "sub" | "add" | "mul" | "div" | "pct" | "chg";

/** A scalar made from call results (`c` indexes the plan's calls). */
export type Expr =
  | { cell: [number, string] }
  | { count: number }
  | { total: [number, string] }
  | { op: Op; a: Expr; b: Expr }
  | { round: number; x: Expr }
  | { k: unknown };

/** A value of one output row, made from one result row. */
export type RowExpr = { col: string } | { op: Op; a: RowExpr; b: RowExpr } | { round: number; x: RowExpr } | { k: unknown };

/** How an answer is built. */
export type AnswerProgram =
  | { val: Expr }
  | { obj: [string, AnswerProgram][] }
  | { rows: number; fields: [string, RowExpr][] | "all" }
  | { k: unknown };

const num = (v: unknown): number | undefined =>
  typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : undefined;

function applyOp(op: Op, a: number, b: number): number | undefined {
  switch (op) {
    case "sub": return a - b;
    case "add": return a + b;
    case "mul": return a * b;
    case "div": return b === 0 ? undefined : a / b;
    case "pct": return b === 0 ? undefined : (100 * a) / b;
    case "chg": return b === 0 ? undefined : (100 * (a - b)) / b;
  }
}

const roundTo = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Answer values equal: numbers within a relative 1e-6, the rest by JSON. */
export function sameValue(a: unknown, b: unknown): boolean {
  const x = num(a), y = num(b);
  if (typeof a === "number" || typeof b === "number") return x !== undefined && y !== undefined && close(x, y);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => sameValue(v, b[i]));
  if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Evaluates a scalar expression; `undefined` when a result it needs is missing. */
export function evalExpr(e: Expr, r: readonly CallResult[]): unknown {
  if ("k" in e) return e.k;
  if ("cell" in e) {
    const row = r[e.cell[0]]?.rows[0];
    return row && e.cell[1] in row ? row[e.cell[1]] : undefined;
  }
  if ("count" in e) {
    const x = r[e.count];
    return x ? (x.write ? x.rowCount : x.rows.length) : undefined;
  }
  if ("total" in e) {
    const x = r[e.total[0]];
    if (!x || !x.columns.includes(e.total[1])) return undefined;
    return x.rows.reduce((s: number, row) => s + (num(row[e.total[1]]) ?? 0), 0);
  }
  if ("round" in e) {
    const x = num(evalExpr(e.x, r));
    return x === undefined ? undefined : roundTo(x, e.round);
  }
  const a = num(evalExpr(e.a, r)), b = num(evalExpr(e.b, r));
  return a === undefined || b === undefined ? undefined : applyOp(e.op, a, b);
}

function evalRow(e: RowExpr, row: Record<string, unknown>): unknown {
  if ("k" in e) return e.k;
  if ("col" in e) return e.col in row ? row[e.col] : undefined;
  if ("round" in e) {
    const x = num(evalRow(e.x, row));
    return x === undefined ? undefined : roundTo(x, e.round);
  }
  const a = num(evalRow(e.a, row)), b = num(evalRow(e.b, row));
  return a === undefined || b === undefined ? undefined : applyOp(e.op, a, b);
}

/** Runs a program on the results of a plan's calls; `undefined` when it cannot (a column or call is missing). */
export function runProgram(p: AnswerProgram, r: readonly CallResult[]): unknown {
  if ("k" in p) return p.k;
  if ("val" in p) return evalExpr(p.val, r);
  if ("obj" in p) {
    const out: Record<string, unknown> = {};
    for (const [key, sub] of p.obj) {
      const v = runProgram(sub, r);
      if (v === undefined) return undefined;
      out[key] = v;
    }
    return out;
  }
  const x = r[p.rows];
  if (!x || x.write) return undefined;
  if (p.fields === "all") return x.rows;
  const fields = p.fields;
  const rows = x.rows.map((row) => {
    const o: Record<string, unknown> = {};
    for (const [key, e] of fields) o[key] = evalRow(e, row);
    return o;
  });
  return rows.some((o) => Object.values(o).some((v) => v === undefined)) ? undefined : rows;
}

// ---------- induction ----------

const OPS: Op[] = ["sub", "add", "div", "pct", "chg", "mul"];
const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, "");

/** Scalar expressions that give `v` on these results, most plausible first (at most `limit`). */
function scalarCandidates(v: unknown, key: string, r: readonly CallResult[], limit = 8): Expr[] {
  if (typeof v !== "number") {
    const out: Expr[] = [];
    if (typeof v === "string") {
      r.forEach((x, c) => {
        if (x.write || !x.rows[0]) return;
        for (const col of x.columns) if (x.rows[0][col] === v) out.push({ cell: [c, col] });
      });
    }
    out.push({ k: v });
    return out;
  }
  const atoms: { e: Expr; x: number; named: boolean }[] = [];
  r.forEach((res, c) => {
    if (res.write) {
      if (res.rowCount !== undefined) atoms.push({ e: { count: c }, x: res.rowCount, named: false });
      return;
    }
    const row0 = res.rows[0];
    for (const col of res.columns) {
      const x = num(row0?.[col]);
      if (x !== undefined) atoms.push({ e: { cell: [c, col] }, x, named: norm(col) === norm(key) });
      if (res.rows.length > 1) {
        const t = res.rows.reduce((s: number, row) => s + (num(row[col]) ?? NaN), 0);
        if (Number.isFinite(t)) atoms.push({ e: { total: [c, col] }, x: t, named: false });
      }
    }
    atoms.push({ e: { count: c }, x: res.rows.length, named: false });
  });
  const out: Expr[] = [];
  const exact = (x: number) => close(x, v);
  const rounded = (x: number) => [0, 1, 2, 3, 4].find((d) => roundTo(x, d) === v && !exact(x));
  // 1. a value as read (a column named like the key first), 2. rounded, 3. two values combined
  for (const a of [...atoms.filter((a) => a.named), ...atoms.filter((a) => !a.named)]) if (exact(a.x)) out.push(a.e);
  for (const a of atoms) {
    const d = rounded(a.x);
    if (d !== undefined) out.push({ round: d, x: a.e });
  }
  if (out.length < limit) {
    const small = atoms.slice(0, 24);
    for (const op of OPS) {
      for (const a of small) {
        for (const b of small) {
          if (a === b) continue;
          const x = applyOp(op, a.x, b.x);
          if (x === undefined) continue;
          if (exact(x)) out.push({ op, a: a.e, b: b.e });
          else {
            const d = rounded(x);
            if (d !== undefined) out.push({ round: d, x: { op, a: a.e, b: b.e } });
          }
          if (out.length >= limit * 4) break;
        }
      }
    }
  }
  out.push({ k: v });
  return out;
}

/** Row expressions that give each row's value of `key` from the matching result rows. */
function rowCandidates(vals: unknown[], key: string, rows: Record<string, unknown>[], columns: string[]): RowExpr[] {
  const out: RowExpr[] = [];
  const all = (f: (row: Record<string, unknown>) => unknown) => vals.every((v, i) => sameValue(f(rows[i]), v));
  for (const col of [...columns.filter((c) => norm(c) === norm(key)), ...columns.filter((c) => norm(c) !== norm(key))]) {
    if (all((row) => row[col])) out.push({ col });
  }
  if (vals.every((v) => typeof v === "number")) {
    const numeric = columns.filter((c) => rows.every((row) => num(row[c]) !== undefined)).slice(0, 12);
    for (const op of OPS) {
      for (const a of numeric) {
        for (const b of numeric) {
          if (a === b) continue;
          const e: RowExpr = { op, a: { col: a }, b: { col: b } };
          if (all((row) => evalRow(e, row))) out.push(e);
          else {
            const d = [0, 1, 2, 3, 4].find((d) => all((row) => evalRow({ round: d, x: e }, row)));
            if (d !== undefined) out.push({ round: d, x: e });
          }
        }
      }
    }
  }
  if (vals.length && vals.every((v) => sameValue(v, vals[0]))) out.push({ k: vals[0] });
  return out;
}

/** A program with candidate expressions at its leaves (from one demonstration). */
type Draft =
  | { val: Expr[] }
  | { obj: [string, Draft][] }
  | { rows: { c: number; fields: [string, RowExpr[]][] | "all" }[] }
  | { k: unknown };

function isRowArray(v: unknown): v is Record<string, unknown>[] {
  return Array.isArray(v) && v.every((x) => x && typeof x === "object" && !Array.isArray(x));
}

function draft(answer: unknown, key: string, r: readonly CallResult[]): Draft {
  if (isRowArray(answer)) {
    const opts: { c: number; fields: [string, RowExpr[]][] | "all" }[] = [];
    for (let c = r.length - 1; c >= 0; c--) {
      const x = r[c];
      if (x.write || x.rows.length !== answer.length) continue;
      if (!answer.length || sameValue(answer, x.rows)) {
        opts.push({ c, fields: "all" });
        continue;
      }
      const keys = Object.keys(answer[0]);
      const fields = keys.map((k) => [k, rowCandidates(answer.map((a) => a[k]), k, x.rows, x.columns)] as [string, RowExpr[]]);
      if (fields.every(([, cs]) => cs.length)) opts.push({ c, fields });
    }
    return opts.length ? { rows: opts } : { k: answer };
  }
  if (answer && typeof answer === "object" && !Array.isArray(answer)) {
    return { obj: Object.entries(answer).map(([k, v]) => [k, draft(v, k, r)]) };
  }
  if (typeof answer === "number" || typeof answer === "string") return { val: scalarCandidates(answer, key, r) };
  return { k: answer };
}

/** One demonstration: the results of the plan's calls and the answer submitted. */
export interface Demo {
  results: CallResult[];
  answer: unknown;
}

function at(answer: unknown, key: string): unknown {
  return answer && typeof answer === "object" && !Array.isArray(answer) ? (answer as Record<string, unknown>)[key] : undefined;
}

function finalize(d: Draft, demos: readonly Demo[], answers: unknown[]): AnswerProgram {
  if ("k" in d) return { k: d.k };
  if ("obj" in d) return { obj: d.obj.map(([k, sub]) => [k, finalize(sub, demos, answers.map((a) => at(a, k)))]) };
  if ("val" in d) {
    let best = d.val[0], score = -1;
    for (const e of d.val) {
      const s = demos.reduce((n, demo, i) => n + (sameValue(evalExpr(e, demo.results), answers[i]) ? 1 : 0), 0);
      if (s > score) [best, score] = [e, s];
    }
    return { val: best };
  }
  let bestProg: AnswerProgram = { k: answers[0] }, bestScore = -1;
  for (const o of d.rows) {
    if (o.fields === "all") {
      const p: AnswerProgram = { rows: o.c, fields: "all" };
      const s = demos.reduce((n, demo, i) => n + (sameValue(runProgram(p, demo.results), answers[i]) ? 1 : 0), 0) * 100;
      if (s > bestScore) [bestProg, bestScore] = [p, s];
      continue;
    }
    let s = 0;
    const fields: [string, RowExpr][] = o.fields.map(([k, cands]) => {
      let best = cands[0], bs = -1;
      for (const e of cands) {
        const sc = demos.reduce((n, demo, i) => {
          const rows = demo.results[o.c]?.rows ?? [];
          const want = answers[i];
          return n + (isRowArray(want) && want.length === rows.length && want.every((w, j) => sameValue(evalRow(e, rows[j]), w[k])) ? 1 : 0);
        }, 0);
        if (sc > bs) [best, bs] = [e, sc];
      }
      s += bs;
      return [k, best];
    });
    if (s > bestScore) [bestProg, bestScore] = [{ rows: o.c, fields }, s];
  }
  return bestProg;
}

/**
 * Induces the answer program of a plan from demonstrations (the first gives the shape and the candidates; each
 * leaf takes the candidate that reproduces the most demonstrations).
 */
export function induceProgram(demos: readonly Demo[]): AnswerProgram | undefined {
  if (!demos.length) return undefined;
  const d = draft(demos[0].answer, "value", demos[0].results);
  return finalize(d, demos, demos.map((x) => x.answer));
}

/** How many demonstrations a program reproduces exactly. */
export function programFit(p: AnswerProgram, demos: readonly Demo[]): number {
  return demos.filter((d) => sameValue(runProgram(p, d.results), d.answer)).length;
}
