import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { checkVerifierSql, expandInstances, formatVerifierSqlProblem, parseFamily } from "./mod.ts";
import { testFamilyYaml } from "./testing.ts";

const family = testFamilyYaml;

const FAMILIES: [string, string][] = [
  ["good.yaml", family("good", "number", "  kind: number\n  reference: SELECT count(*) FROM sales_invoices WHERE invoice_date >= {period.start}")],
  ["parse.yaml", family("parse_error", "number", "  kind: number\n  reference: SELEC count(*) FROM sales_invoices WHERE invoice_date >= {period.start}")],
  ["table.yaml", family("missing_table", "number", "  kind: number\n  reference: SELECT count(*) FROM no_such_table WHERE d >= {period.start}")],
  ["empty.yaml", family("empty_rows", "table", "  kind: table\n  reference: SELECT name FROM customers WHERE false\n  key: [{ name: name }]")],
  ["null.yaml", family("null_number", "number", "  kind: number\n  reference: SELECT sum(subtotal) FROM sales_invoices WHERE false")],
  // An effect may legitimately expect no rows on a tenant ("nothing to reorder"): not a problem.
  ["effect.yaml", family("empty_effect", "action", [
    "  kind: action",
    "  effects:",
    "    - { table: purchase_orders, change: insert, reference: SELECT 1 AS n WHERE false, match: [n] }",
  ].join("\n"))],
  ["workflow.yaml", family("boolean_checkpoint", "workflow", [
    "  kind: workflow",
    "  checkpoints:",
    "    - { name: done, check: SELECT count(*) = 0 FROM purchase_orders WHERE false, hint: Finish it. }",
    "    - { name: counted, check: SELECT 7 AS n, hint: Count them. }",
  ].join("\n"))],
];

let dir: string;
let pool: SandboxPool;
beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-check-sql-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: "2025-11-28" });
  pool = await SandboxPool.open(path, { size: 1 });
});
afterAll(async () => {
  pool?.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("checkVerifierSql", () => {
  it("runs every verifier query of every instance and reports broken SQL and empty results, one per family", async () => {
    const challenges = expandInstances(FAMILIES.map(([file, text]) => parseFamily(text, file)));
    const progress: number[] = [];
    const report = await checkVerifierSql(challenges, pool, { onProgress: (done) => progress.push(done) });
    const problem = (source: string, fam: string, kind: "error" | "empty", reason: RegExp, query = "verifier.reference") => ({
      source,
      family: fam,
      instance: expect.stringMatching(new RegExp(`^${fam}/t\\d/`)),
      query,
      kind,
      reason: expect.stringMatching(reason),
    });
    expect(report).toEqual({
      instances: challenges.length,
      families: 7,
      // good and empty_effect run on every instance; a broken family stops at its first instance per tenant.
      queries: expect.any(Number),
      executed: expect.any(Number),
      problems: [
        problem("parse.yaml", "parse_error", "error", /^Parser Error: syntax error at or near "SELEC"/),
        problem("table.yaml", "missing_table", "error", /^Catalog Error: Table with name no_such_table does not exist!/),
        problem("empty.yaml", "empty_rows", "empty", /^returns no row, but the verifier reads a row from it$/),
        problem("null.yaml", "null_number", "empty", /^returns NULL, but the verifier reads a number from it$/),
        problem("workflow.yaml", "boolean_checkpoint", "empty", /^returns '7', but the verifier reads one boolean from it$/, "verifier.checkpoints[1].check"),
      ],
    });
    const perFamily = challenges.length / 7;
    expect(report.queries).toBeGreaterThanOrEqual(2 * perFamily);
    expect(report.executed).toBeLessThan(report.queries);
    expect(progress).toEqual(challenges.map((_, i) => i + 1));
  });

  it("formats a problem as one line naming the file, the family, the instance and what to do", () => {
    expect(formatVerifierSqlProblem({
      source: "/elsewhere/bad.yaml",
      family: "bad",
      instance: "bad/t0/previous_month/o1",
      query: "verifier.effects[0].reference",
      kind: "error",
      reason: "Catalog Error: Table with name nope does not exist!",
    })).toBe(
      "/elsewhere/bad.yaml: family 'bad': on bad/t0/previous_month/o1, verifier.effects[0].reference fails: Catalog Error: Table with name nope does not exist!; fix the SQL",
    );
    expect(formatVerifierSqlProblem({
      source: "/elsewhere/bad.yaml",
      family: "bad",
      instance: "bad/t0/previous_month/o1",
      query: "verifier.reference",
      kind: "empty",
      reason: "returns no row, but the verifier reads a number from it",
    })).toBe(
      "/elsewhere/bad.yaml: family 'bad': on bad/t0/previous_month/o1, verifier.reference returns no row, but the verifier reads a number from it; fix the query or the family's parameters",
    );
  });
});
