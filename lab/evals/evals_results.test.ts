/**
 * The committed results' builder: the context arms' coverage, the A/B comparisons, the generated reading and the
 * Markdown, on planted runs (12 families; the context arm given an example of another template in one family only).
 */
import { describe, expect, it } from "vitest";
import { abOutcomes, buildEvalsResults, contextCoverage, type EvalRun, formatEvalsResults, outcomeChartRows, readEvalsResults, type SuiteEpisode } from "./mod.ts";
import { plantedEpisode } from "./testing.ts";

const PINS = { catalogHash: "c", models: {}, patternSnapshot: null, strategies: {} };
function run(split: string): EvalRun {
  const episodes: SuiteEpisode[] = [];
  for (let f = 0; f < 12; f++) {
    for (const seed of [1, 2]) {
      const id = `fam${f}/t1/${split}/o1`;
      const given = f === 0 ? { examples: 1, rendered: 1, injected: ["p1"] } : {};
      episodes.push(
        plantedEpisode("base", id, f === 0 && seed === 1, { split, seed }),
        plantedEpisode("context", id, f === 0 && seed === 1, { split, seed, ...given }),
        plantedEpisode("finetuned", id, f % 2 === 0, { split, seed, latencyMs: 2, tokens: 12 }),
        plantedEpisode("finetuned_context", id, f % 2 === 0, { split, seed, latencyMs: 2, tokens: 12, ...given }),
      );
    }
  }
  return { suite: "planted", createdAt: "2026-01-01T00:00:00Z", commit: "abc", pins: PINS, shard: null, episodes };
}
const runs = [run("dev"), run("test_id")];

describe("evals results", () => {
  it("counts what the context arms were given, and examples from another template of the family", () => {
    const all = runs.flatMap((r) => r.episodes);
    expect(contextCoverage(all, ["context"], new Map([["p1", "fam0/t7/y/o2"]]))).toEqual(["dev", "test_id"].map((split) => ({
      split, arm: "context", episodes: 24, families: 12, withExamples: 2, familiesWithExamples: ["fam0"], used: 0, otherTemplate: 2,
    })));
    expect(contextCoverage(all, ["context"], new Map([["p1", "fam0/t1/y/o2"]]))[0].otherTemplate).toBe(0);
  });

  it("scores the candidate against the champion per paired task, in the run's order", () => {
    expect(abOutcomes(runs[0].episodes.slice(0, 8), "base", "finetuned")).toEqual(["tie", "win"]);
  });

  it("builds the results and reads them from the numbers: no context effect, the rule, the A/B", async () => {
    const r = await buildEvalsResults(runs, { commands: ["deno task eval planted"], resamples: 200 });
    expect(r.runs.map((x) => [x.split, x.episodes])).toEqual([["dev", 96], ["test_id", 96]]);
    expect(r.ab.map((a) => [a.candidate, a.outcomes.length])).toEqual([["finetuned", 24], ["finetuned_context", 24]]);
    expect(outcomeChartRows(r.outcome).map((x) => [x.split, x.arm, x.accuracy])).toEqual([
      ["dev", "base", 1 / 24], ["dev", "context", 1 / 24], ["dev", "finetuned", 0.5], ["dev", "finetuned_context", 0.5],
      ["test_id", "base", 1 / 24], ["test_id", "context", 1 / 24], ["test_id", "finetuned", 0.5], ["test_id", "finetuned_context", 0.5],
    ]);
    const reading = readEvalsResults(r);
    expect(reading.filter((l) => l.includes("the context arm is the base arm in all but name"))).toHaveLength(2);
    expect(reading.filter((l) => l.includes("this run cannot test DAIL-SQL's finding"))).toHaveLength(2);
    expect(reading.find((l) => l.startsWith("Seed 000's rule on test_id"))).toContain(`verdict **${r.outcome.rule!.verdict}**`);
    expect(reading.find((l) => l.startsWith("Seed 000's speed improvement on dev"))).toContain("slower and uses more tokens");
    expect(reading.filter((l) => l.startsWith("A/B on the planted suite's dev run"))).toHaveLength(2);
    const md = formatEvalsResults(r);
    expect(md).toContain("deno task eval planted");
    expect(md).toContain("| dev | context | 24 | 2 | 1 of 12 (fam0) | 0 | 0 |");
    for (const l of reading) expect(md).toContain(l);
  });
});
