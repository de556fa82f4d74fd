import { describe, expect, it } from "vitest";
import { countTokens } from "./backend.ts";
import { formatInjection, INJECTION_HEADING, type InjectedExample, InjectionVersionError, parseInjection } from "./injection.ts";

const EXAMPLES: InjectedExample[] = Array.from({ length: 12 }, (_, i) => ({
  task: `How many trips did driver ${i} make last month?`,
  role: i % 2 ? "analyst" : "clerk",
  calls: [
    { tool: "dbRead", sql: `SELECT count(*) AS value FROM trips WHERE driver = 'd${i}' AND started_on >= date_trunc('month', current_date) - INTERVAL 1 MONTH` },
    ...(i % 3 === 0 ? [{ tool: "dbWrite" as const, sql: `UPDATE trips SET region = 'north' WHERE trip_id = ${i}` }] : []),
  ],
  ...(i % 4 ? { answerShape: "number" } : {}),
}));

describe("injection format v1", () => {
  it("round-trips: parse(format(examples)) gives the examples back, inside a larger system prompt", () => {
    const text = formatInjection(EXAMPLES, { tokenBudget: 100_000 });
    expect(text.startsWith(INJECTION_HEADING)).toBe(true);
    expect(parseInjection(`You are a careful analyst.\n\n${text}\n\n## Rules\nTask: not an example`)).toEqual(EXAMPLES);
  });

  it("keeps the best examples first and stops at the token budget", () => {
    const all = formatInjection(EXAMPLES, { tokenBudget: 100_000 });
    for (const budget of [120, 250, 400]) {
      const text = formatInjection(EXAMPLES, { tokenBudget: budget });
      expect(countTokens(text)).toBeLessThanOrEqual(budget);
      const got = parseInjection(text);
      expect(got.length).toBeGreaterThan(0);
      expect(got.length).toBeLessThan(EXAMPLES.length);
      expect(got).toEqual(EXAMPLES.slice(0, got.length));
    }
    expect(countTokens(all)).toBeGreaterThan(400);
    expect(formatInjection(EXAMPLES, { tokenBudget: 10 })).toBe("");
  });

  it("collapses multi-line values to one line and reads nothing from a prompt without a section", () => {
    const text = formatInjection([{ task: "a\n  task", calls: [{ tool: "dbRead", sql: "SELECT 1\nFROM t" }] }]);
    expect(parseInjection(text)).toEqual([{ task: "a task", calls: [{ tool: "dbRead", sql: "SELECT 1 FROM t" }] }]);
    expect(parseInjection("Task: x\ndbRead: SELECT 1")).toEqual([]);
  });

  it("refuses a section of another version with a message saying what to do", () => {
    expect(() => parseInjection("## Examples (lab injection v2)\n### Example 1\nTask: x")).toThrow(InjectionVersionError);
  });
});
