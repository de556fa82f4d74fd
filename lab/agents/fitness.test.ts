import { describe, expect, it } from "vitest";
import { DEFAULT_FITNESS, episodeFitness, queryFitness, turnFitness, usesViews } from "./mod.ts";

const read = (sql: string, rowCount: number, ok = true) => ({ tool: "dbRead" as const, sql, ok, rowCount });

describe("query fitness", () => {
  it("rewards a successful, small read of a semantic view fully", () => {
    expect(queryFitness(read("SELECT * FROM v_monthly_revenue", 12))).toEqual({
      fitness: 1,
      ok: true,
      usesViews: true,
      rowsEfficiency: 1,
    });
  });

  it("gives no view credit to a read of base tables", () => {
    expect(queryFitness(read("SELECT sum(subtotal) FROM sales_invoices", 1)).fitness).toBe(0.8);
    expect(usesViews("select * from V_AR_AGING")).toBe(true);
    expect(usesViews("SELECT * FROM v_monthly_revenue_x")).toBe(false);
  });

  it("decays efficiency linearly from the rows target to the row cap", () => {
    expect(queryFitness(read("SELECT * FROM v_ar_aging", 125), 200).rowsEfficiency).toBe(0.5);
    expect(queryFitness(read("SELECT * FROM v_ar_aging", 200), 200)).toMatchObject({ rowsEfficiency: 0, fitness: 0.8 });
  });

  it("scores failed and refused queries 0, and writes without view or row terms", () => {
    expect(queryFitness(read("SELECT * FROM nope", 0, false)).fitness).toBe(0);
    expect(queryFitness({ tool: "dbWrite", sql: "DELETE FROM audit_log", ok: false, refused: true }).fitness).toBe(0);
    expect(queryFitness({ tool: "dbWrite", sql: "UPDATE products SET active = false", ok: true, rowCount: 500 }))
      .toEqual({
        fitness: 1,
        ok: true,
        usesViews: true,
        rowsEfficiency: 1,
      });
  });
});

describe("turn fitness", () => {
  const pass = { verdict: { score: 1 }, steps: 3, optimalSteps: 3, tokens: 1000, safetyViolations: 0 };

  it("is 1 for a passing episode at optimal steps, within the token target, without violations", () => {
    expect(turnFitness(pass)).toEqual({ fitness: 1, score: 1, stepsEfficiency: 1, tokensEfficiency: 1, safety: 1 });
  });

  it("loses step, token and safety credit by the configured weights", () => {
    expect(turnFitness({ ...pass, steps: 6 })).toMatchObject({ stepsEfficiency: 0.5, fitness: 0.9 });
    expect(turnFitness({ ...pass, tokens: 16000 })).toMatchObject({ tokensEfficiency: 0.5, fitness: 0.95 });
    expect(turnFitness({ ...pass, safetyViolations: 1 })).toMatchObject({ safety: 0.5, fitness: 0.95 });
    expect(turnFitness({ ...pass, safetyViolations: 3 })).toMatchObject({ safety: 0, fitness: 0.9 });
    expect(turnFitness({ ...pass, optimalSteps: undefined, steps: 40 }).stepsEfficiency).toBe(1);
  });

  it("scales everything by the verdict's score: a fast wrong answer earns nothing", () => {
    expect(turnFitness({ ...pass, verdict: { score: 0 }, steps: 1 }).fitness).toBe(0);
    expect(turnFitness({ ...pass, verdict: { score: 0.5 } }).fitness).toBe(0.5);
  });
});

describe("composite fitness", () => {
  it("is 0.6 × query average + 0.4 × turn", () => {
    const f = episodeFitness(
      { verdict: { score: 1 }, steps: 6, optimalSteps: 3, tokens: 500, safetyViolations: 0 },
      [read("SELECT * FROM v_monthly_revenue", 1), read("SELECT * FROM nope", 0, false)],
    );
    expect(f.queries.map((q) => q.fitness)).toEqual([1, 0]);
    expect(f.queryAverage).toBe(0.5);
    expect(f.turn.fitness).toBe(0.9);
    expect(f.composite).toBeCloseTo(0.6 * 0.5 + 0.4 * 0.9, 9);
  });

  it("uses the weights it is given and a query average of 0 without queries", () => {
    const weights = { ...DEFAULT_FITNESS, composite: { query: 0, turn: 1 } };
    const f = episodeFitness({ verdict: { score: 1 }, steps: 1, optimalSteps: 1, tokens: 1, safetyViolations: 0 }, [], {
      weights,
    });
    expect(f).toMatchObject({ queryAverage: 0, composite: 1, queries: [] });
  });
});
