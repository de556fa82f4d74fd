/**
 * Every family has an oracle, and every verifier fails a standard set of perturbations of the oracle's work,
 * each with a reason a person can act on. (That the oracle passes every instance: oracle_levels_*.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Challenge, Verdict } from "./mod.ts";
import { ORACLES, runOracle } from "./_oracle/mod.ts";
import { type OracleHarness, openOracleHarness } from "./_oracle/harness.ts";

let h: OracleHarness;
let all: Challenge[];
beforeAll(async () => {
  h = await openOracleHarness();
  all = h.all;
});
afterAll(() => h?.close());

const episode: OracleHarness["episode"] = (c, fn, verifyAs) => h.episode(c, fn, verifyAs);
const oracleAnswer = (c: Challenge): Promise<unknown> => h.oracleAnswer(c);
const judgeAnswer = (c: Challenge, answer: unknown): Promise<Verdict> => h.judgeAnswer(c, answer);

describe("the reference oracle", () => {
  it("has an oracle for every family and only for families of the catalog", () => {
    const families = [...new Set(all.map((c) => c.family))].sort();
    expect(Object.keys(ORACLES).sort()).toEqual(families);
  });
});

// ---------- perturbations ----------

function mapNumbers(v: unknown, f: (n: number) => number): unknown {
  if (typeof v === "number") return f(v);
  if (Array.isArray(v)) return v.map((x) => mapNumbers(x, f));
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapNumbers(x, f)]));
  return v;
}

/** Applies `f` to the first non-empty array inside `v` (the answer's rows or a report section's rows). */
function mapFirstArray(v: unknown, f: (rows: unknown[]) => unknown[]): { value: unknown; changed: boolean } {
  if (Array.isArray(v) && v.length > 0) return { value: f(v), changed: true };
  if (v && typeof v === "object" && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) {
      const r = mapFirstArray(x, f);
      if (r.changed) return { value: { ...(v as Record<string, unknown>), [k]: r.value }, changed: true };
    }
  }
  return { value: v, changed: false };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** One instance per family (the first train instance, or the first one), for the perturbation suite. */
function sample(): Challenge[] {
  const byFamily = new Map<string, Challenge>();
  for (const c of all) if (!byFamily.has(c.family) || (c.split === "train" && byFamily.get(c.family)!.split !== "train")) byFamily.set(c.family, c);
  return [...byFamily.values()];
}

describe("every verifier fails perturbations of the oracle's work with a helpful reason", () => {
  it("answer perturbations: empty, numbers off, dropped row, extra row, all rows, other period, wrong tenant", async () => {
    const problems: string[] = [];
    let checked = 0;
    const expectFail = (c: Challenge, what: string, v: Verdict) => {
      checked++;
      if (v.pass) problems.push(`${c.id}: '${what}' passed`);
      else if (v.reason.length < 20 || !v.reason.startsWith("fail")) problems.push(`${c.id}: '${what}' reason unhelpful: ${v.reason}`);
    };
    for (const c of sample().filter((c) => c.outcome !== "action" && c.outcome !== "workflow")) {
      const good = await oracleAnswer(c);
      expectFail(c, "empty answer", await judgeAnswer(c, undefined));
      expectFail(c, "empty list", await judgeAnswer(c, Array.isArray(good) ? [] : {}));
      expectFail(c, "numbers off", await judgeAnswer(c, mapNumbers(good, (n) => n * 1.1 + 7)));
      const dropped = mapFirstArray(good, (rows) => rows.slice(1));
      if (dropped.changed) expectFail(c, "dropped row", await judgeAnswer(c, dropped.value));
      const extra = mapFirstArray(good, (rows) => [...rows, mapNumbers(rows[0], (n) => n + 100_000)]);
      if (extra.changed) expectFail(c, "extra row", await judgeAnswer(c, extra.value));
      // Siblings: same template, other parameter values ("previous period") or other tenant.
      const siblings = all.filter((s) => s.family === c.family && s.templateIndex === c.templateIndex && s.id !== c.id);
      const otherParams = siblings.find((s) => s.orgId === c.orgId && !same(s.params, c.params));
      if (otherParams) {
        const a = await oracleAnswer(otherParams);
        if (!same(a, good)) expectFail(c, `answer of ${otherParams.id}`, await judgeAnswer(c, a));
        // "All rows": this instance's rows plus the other parameter value's rows.
        const theirs = findFirstArray(a);
        const allRows = mapFirstArray(good, (rows) => [...rows, ...(theirs ?? []).filter((r) => !rows.some((x) => same(x, r)))]);
        if (allRows.changed && !same(allRows.value, good)) expectFail(c, "all rows", await judgeAnswer(c, allRows.value));
      }
      const otherOrg = siblings.find((s) => s.orgId !== c.orgId && same(s.params, c.params));
      if (otherOrg) {
        const a = await oracleAnswer(otherOrg);
        if (!same(a, good)) expectFail(c, `wrong tenant (${otherOrg.id})`, await judgeAnswer(c, a));
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  }, 400_000);

  it("write perturbations: no writes, a missing write, an extra write", async () => {
    const problems: string[] = [];
    const writers = sample().filter((c) => c.outcome === "action" || c.outcome === "workflow");
    for (const c of writers) {
      const none = await episode(c, async (ctx) => {
        const good = await oracleAnswer(c);
        if (good !== undefined) ctx.answer = { answer: good as never };
      });
      if (none.verdict.pass) problems.push(`${c.id}: no writes passed`);
      let writes = 0;
      await episode(c, async (ctx) => void ({ writes } = await runOracle(c, ctx)));
      if (writes > 0) {
        const missing = await episode(c, async (ctx) => void await runOracle(c, ctx, { skipWrite: writes }));
        if (missing.verdict.pass) problems.push(`${c.id}: missing last write passed`);
        else if (!/fail/.test(missing.verdict.reason)) problems.push(`${c.id}: unhelpful reason ${missing.verdict.reason}`);
      }
      const spec = c.verifier;
      const touched = new Set(["audit_log", ...("effects" in spec ? spec.effects.map((e) => e.table) : []), ...("allow" in spec ? spec.allow : [])]);
      const target = ["warehouses", "customers", "products", "vendors"].find((t) => !touched.has(t))!;
      const extra = await episode(c, async (ctx) => {
        await runOracle(c, ctx);
        // An extra change an over-eager agent might make (through the trusted path, so no permission stops it).
        await ctx.episode.query(`UPDATE ${target} SET name = name || ' (updated)' WHERE rowid = (SELECT min(rowid) FROM ${target})`);
      });
      if (extra.verdict.pass) problems.push(`${c.id}: extra write to ${target} passed`);
      else if (!extra.verdict.reason.includes(target)) problems.push(`${c.id}: extra write reason does not name ${target}: ${extra.verdict.reason}`);
    }
    expect(problems).toEqual([]);
    expect(writers.length).toBeGreaterThanOrEqual(10);
  }, 400_000);
});

function findFirstArray(v: unknown): unknown[] | undefined {
  if (Array.isArray(v)) return v;
  if (v && typeof v === "object") {
    for (const x of Object.values(v)) {
      const r = findFirstArray(x);
      if (r) return r;
    }
  }
  return undefined;
}
