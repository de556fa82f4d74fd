import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { ConfigError } from "../util/mod.ts";
import { datasetsConfig, loadDatasetsConfig } from "./mod.ts";

describe("configs/datasets.yaml", () => {
  it("holds the documented defaults (seed 001's weights and tiers, seed 000's stages)", async () => {
    const committed = await loadDatasetsConfig();
    expect(committed).toEqual(datasetsConfig());
    expect(committed.quality.weights).toEqual({ fitness: 0.35, verified: 0.15, human: 0.2, pattern_used: 0.1, support: 0.05, hard_level: 0.1 });
    expect(committed.tiers).toEqual({ gold: 0.9, silver: 0.75, bronze: 0.6 });
    expect(committed.stages).toEqual({
      core: { size: 1000, min_fitness: 0.9, levels: [1, 2] },
      extended: { size: 5000, min_fitness: 0.85 },
      comprehensive: { size: 20000, min_fitness: 0.75 },
    });
  });

  it("refuses a bad file in one line naming the file and the field", async () => {
    const dir = await Deno.makeTempDir({ prefix: "lab-datasets-config-" });
    const cases: [string, string][] = [
      ["tiers: { gold: 0.5, silver: 0.8 }\n", "bad.yaml: tiers: must satisfy gold ≥ silver ≥ bronze"],
      ["quality: { weights: { human: 2 } }\n", "bad.yaml: quality.weights.human: must be ≤ 1"],
      ["stages: { core: { size: 0, min_fitness: 0.9 } }\n", "bad.yaml: stages.core.size: must be a positive integer"],
      ["balance: { cap: 3 }\n", "bad.yaml: balance: Unrecognized key: \"cap\""],
      ["tiers: [\n", "bad.yaml: not valid YAML"],
    ];
    try {
      for (const [text, message] of cases) {
        const path = join(dir, "bad.yaml");
        await Deno.writeTextFile(path, text);
        const e = await loadDatasetsConfig(path).then(() => undefined, (e) => e);
        expect(e).toBeInstanceOf(ConfigError);
        expect(e.message.split("\n")).toHaveLength(1);
        expect(e.message).toContain(message);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
