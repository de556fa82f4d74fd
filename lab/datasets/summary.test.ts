import { describe, expect, it } from "vitest";
import {
  balanceRows,
  type BuildResult,
  buildSummary,
  curate,
  datasetsConfig,
  type DatasetManifest,
  emptyRedactionCounts,
  formatBuildSummary,
  LeakageGuard,
  redactionRows,
  stageRows,
  stageSets,
  tierRows,
} from "./mod.ts";
import { example } from "./testing.ts";

const config = datasetsConfig();
const planted = [
  // gold: 0.35 + 0.15 + 0.20 + 0.10 (reused pattern) + 0.10 (level 4) = 0.90
  example({ id: "pattern:A", category: "sales", level: 4, fitness: 1, markedPass: true, patternUsed: true, normalizedIntent: "a", sqlKey: "dbRead: a" }),
  // silver: 0.35 + 0.15 + 0.20 + 0.05 (support 2) = 0.75
  example({ id: "pattern:B", fitness: 1, markedPass: true, support: 2, normalizedIntent: "b", sqlKey: "dbRead: b" }),
  // bronze: 0.35 × 0.9 + 0.15 + 0.20 = 0.665
  example({ id: "pattern:C", level: 2, markedPass: true, normalizedIntent: "c", sqlKey: "dbRead: c" }),
  // below bronze, a failed turn, an exact duplicate of C and a held-out instance
  example({ id: "pattern:D", normalizedIntent: "d", sqlKey: "dbRead: d" }),
  example({ id: "pattern:E", pass: false, verifierScore: 0, normalizedIntent: "e", sqlKey: "dbRead: e" }),
  example({ id: "pattern:C2", level: 2, markedPass: true, normalizedIntent: "c", sqlKey: "dbRead: c" }),
  example({ id: "pattern:F", split: "dev", normalizedIntent: "f", sqlKey: "dbRead: f" }),
];

function result(): BuildResult {
  const curation = curate(planted, { config, guard: LeakageGuard.fromCatalog([]) });
  const redactions = (n: number) => ({ ...emptyRedactionCounts(), email: n, total: n });
  const file = (path: string, rows: number, n: number) => ({ path, manifest: { rows, redactions: redactions(n) } as DatasetManifest });
  return { curation, stages: stageSets(curation, config), files: [file("/x/train.jsonl", 3, 2), file("/x/core.jsonl", 2, 0)] };
}

describe("build summaries", () => {
  it("counts what was read, accepted per tier, left out by reason, staged and redacted", () => {
    const s = buildSummary(result());
    expect(s).toMatchObject({
      read: 7,
      accepted: 3,
      train: 3,
      byTier: { gold: 1, silver: 1, bronze: 1 },
      excluded: { heldOut: 1, failedTurn: 1, belowBronze: 1, duplicates: 1 },
      pairs: 0,
      redactions: 2,
    });
    expect(Object.keys(s.stages)).toEqual(["core", "extended", "comprehensive"]);
    expect(formatBuildSummary(s)).toMatch(
      /^read 7 examples → 3 accepted \(gold 1, silver 1, bronze 1\); left out: 1 held out, 1 failed turns, 1 below bronze, 1 duplicates; 0 DPO pairs; staged sets: core \d+/,
    );
  });

  it("gives rows for tables and charts: tiers by category, balance, redactions with the same columns, stages", () => {
    const r = result();
    expect(tierRows(r)).toEqual([
      { tier: "gold", category: "sales", examples: 1 },
      { tier: "silver", category: "finance", examples: 1 },
      { tier: "bronze", category: "finance", examples: 1 },
    ]);
    expect(balanceRows(r).reduce((a, x) => a + x.examples, 0)).toBe(3);
    expect(redactionRows(r)).toEqual([
      { file: "train.jsonl", rows: 3, email: 2, total: 2 },
      { file: "core.jsonl", rows: 2, email: 0, total: 0 },
    ]);
    expect(stageRows(r).map((x) => x.stage)).toEqual(["core", "extended", "comprehensive"]);
    expect(stageRows({ ...r, stages: null })).toEqual([]);
  });
});
