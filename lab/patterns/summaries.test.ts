/** The pattern-memory summaries the notebooks show, on small hand-made fixtures. */
import { describe, expect, it } from "vitest";
import {
  fitnessHistogram,
  learnedFamilyChallenge,
  type PatternFacts,
  patternsByGeneration,
  patternsByLevelCategory,
} from "./summaries.ts";

const pattern = (p: Partial<PatternFacts>): PatternFacts => ({
  level: 1,
  category: "revenue",
  support: 1,
  turnPass: true,
  compositeFitness: 0.5,
  episodeId: null,
  family: null,
  ...p,
});

describe("pattern summaries", () => {
  it("patternsByLevelCategory counts patterns, passing ones and support per (level, category), by level then category", () => {
    const patterns = [
      pattern({ level: 2, category: "orders", support: 3 }),
      pattern({ level: 1, category: "revenue", support: 2, turnPass: false }),
      pattern({ level: 1, category: "inventory", support: 1 }),
      pattern({ level: 1, category: "revenue", support: 4 }),
      pattern({ level: null, category: "asked", support: 1, turnPass: false }),
    ];
    expect(patternsByLevelCategory(patterns)).toEqual([
      { level: null, category: "asked", patterns: 1, passing: 0, support: 1 },
      { level: 1, category: "inventory", patterns: 1, passing: 1, support: 1 },
      { level: 1, category: "revenue", patterns: 2, passing: 1, support: 6 },
      { level: 2, category: "orders", patterns: 1, passing: 1, support: 3 },
    ]);
    expect(patternsByLevelCategory([])).toEqual([]);
  });

  it("fitnessHistogram bins composite fitness by 0.1 and turn outcome, by bin", () => {
    const patterns = [
      pattern({ compositeFitness: 0.75 }),
      pattern({ compositeFitness: 0.31, turnPass: false }),
      pattern({ compositeFitness: 0.7 }),
      pattern({ compositeFitness: 0.79, turnPass: false }),
      pattern({ compositeFitness: 1 }),
      pattern({ compositeFitness: 0 }),
    ];
    expect(fitnessHistogram(patterns)).toEqual([
      { fitness: "0.0", turn: "passed", patterns: 1 },
      { fitness: "0.3", turn: "failed turn", patterns: 1 },
      { fitness: "0.7", turn: "passed", patterns: 2 },
      { fitness: "0.7", turn: "failed turn", patterns: 1 },
      { fitness: "1.0", turn: "passed", patterns: 1 },
    ]);
    expect(fitnessHistogram([])).toEqual([]);
  });

  it("patternsByGeneration counts patterns per generation of their episode, 0 for an unknown or missing episode", () => {
    const generationOf = new Map([["e1", 1], ["e2", 2], ["e3", 2]]);
    const patterns = ["e2", "e1", "e3", "e9", null, "e2"].map((episodeId) => pattern({ episodeId }));
    expect(patternsByGeneration(patterns, generationOf)).toEqual([
      { generation: 0, patterns: 2 },
      { generation: 1, patterns: 1 },
      { generation: 2, patterns: 3 },
    ]);
    expect(patternsByGeneration([], generationOf)).toEqual([]);
  });

  it("learnedFamilyChallenge takes the first challenge of the first passing pattern's family, else the first challenge", () => {
    const challenges = [{ id: "a", family: "revenue_for_period" }, { id: "b", family: "top_customers" }, {
      id: "c",
      family: "top_customers",
    }];
    const learned = [
      pattern({ family: "stock_levels", turnPass: false }),
      pattern({ family: "top_customers" }),
      pattern({ family: "revenue_for_period" }),
    ];
    expect(learnedFamilyChallenge(challenges, learned)).toEqual({ id: "b", family: "top_customers" });
    expect(learnedFamilyChallenge(challenges, [pattern({ family: "stock_levels" })])).toEqual({
      id: "a",
      family: "revenue_for_period",
    });
    expect(learnedFamilyChallenge(challenges, [pattern({ family: "top_customers", turnPass: false })])).toEqual({
      id: "a",
      family: "revenue_for_period",
    });
    expect(learnedFamilyChallenge([], learned)).toBeUndefined();
  });
});
