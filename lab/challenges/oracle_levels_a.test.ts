/**
 * The reference oracle passes every instance of levels 1, 2 and 4, taking the steps recorded as optimal_steps.
 * (The levels are split over two files so the test runner can run them in parallel.)
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OracleHarness, openOracleHarness, oracleOnLevel } from "./_oracle/harness.ts";

let h: OracleHarness;
beforeAll(async () => void (h = await openOracleHarness()));
afterAll(() => h?.close());

describe("the reference oracle", () => {
  for (const level of [1, 2, 4]) {
    it(`passes 100% of level-${level} instances, taking the steps recorded in _optimal_steps.json`, async () => {
      const { failures, steps, recorded } = await oracleOnLevel(h, level);
      expect(failures).toEqual([]);
      expect(Object.keys(steps).length).toBeGreaterThan(0);
      // optimal_steps come from the oracle's traces: the committed file must match what the oracle does now.
      expect(recorded).toEqual(steps);
    }, 400_000);
  }
});
