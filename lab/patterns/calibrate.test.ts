import { describe, expect, it } from "vitest";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bestF1Cutoff, calibrateCutoff, figuresAt, rocAuc, SEED_CUTOFF, writeCalibration } from "./calibrate.ts";
import { LOCAL_EMBEDDER_ID } from "./embed.ts";
import { loadPatternsConfig, PATTERNS_CONFIG_FILE } from "./_config.ts";

const pair = (sim: number, positive: boolean) => ({ sim, positive });

describe("cut-off figures", () => {
  const pairs = [
    pair(0.9, true),
    pair(0.8, true),
    pair(0.7, false),
    pair(0.6, true),
    pair(0.3, false),
    pair(0.2, false),
  ];

  it("picks the F1-best cut-off halfway to the next pair and reports precision and recall there", () => {
    // Taking the top 4 (P 3/4, R 1) beats the top 2 (P 1, R 2/3): F1 0.857 vs 0.8.
    expect(bestF1Cutoff(pairs)).toEqual({ cutoff: 0.45, precision: 0.75, recall: 1, f1: 0.8571 });
    expect(figuresAt(pairs, 0.75)).toEqual({ cutoff: 0.75, precision: 1, recall: 0.6667, f1: 0.8 });
    expect(figuresAt(pairs, 0.95)).toEqual({ cutoff: 0.95, precision: 1, recall: 0, f1: 0 });
  });

  it("AUC is the chance a positive pair outscores a negative one", () => {
    expect(rocAuc(pairs)).toBe(0.8889);
    expect(rocAuc([pair(0.9, true), pair(0.1, false)])).toBe(1);
    expect(rocAuc([pair(0.5, true), pair(0.5, false)])).toBe(0.5);
  });
});

describe("calibration on the catalog", () => {
  it("reproduces the committed record: a dev-tuned cut-off far below 0.75, which would find almost nothing", async () => {
    const record = await calibrateCutoff();
    const committed = (await loadPatternsConfig()).calibration[LOCAL_EMBEDDER_ID];
    expect({ ...record, created_at: "" }).toEqual({ ...committed, created_at: "" });
    expect((await loadPatternsConfig()).retrieval.cutoffs[LOCAL_EMBEDDER_ID]).toBe(record.chosen.cutoff);
    expect(record.chosen.cutoff).toBeLessThan(SEED_CUTOFF);
    expect(record.at_seed_cutoff.recall).toBeLessThan(0.05);
    expect(record.chosen.f1).toBeGreaterThan(0.6);
    expect(record).toMatchObject({ tuned_on: "dev", reference: "train", embedder: LOCAL_EMBEDDER_ID });
  });

  it("writes the record into a config file, keeping its comments and validating it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lab-cal-"));
    try {
      const path = join(dir, "patterns.yaml");
      await copyFile(PATTERNS_CONFIG_FILE, path);
      const before = await loadPatternsConfig();
      const record = { ...before.calibration[LOCAL_EMBEDDER_ID], embedder: "other/256" };
      record.chosen = { ...record.chosen, cutoff: 0.5 };
      await writeCalibration(record, path);
      const after = await loadPatternsConfig(path);
      expect(after.retrieval.cutoffs).toEqual({ ...before.retrieval.cutoffs, "other/256": 0.5 });
      expect(after.calibration["other/256"]).toEqual(record);
      expect(await readFile(path, "utf8")).toContain("# Leakage control:");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
