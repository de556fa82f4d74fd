/**
 * Expert iteration's bookkeeping at tiny scale with the planted in-process model (it solves a number task with the
 * verifier's reference SQL under the planted "strong" strategy, and under "medium" when the seed is even) and a
 * recording fake fine-tune: rounds chain, training files hold only passed train episodes of the experiment's own tournaments (no
 * oracle line, no held-out instance), arms pair on the same instances and seeds, and the intervals are
 * `compare`'s. Nothing here asserts that self-improvement helps.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { type Challenge, loadCatalog } from "../challenges/mod.ts";
import { AS_OF, plantedModel, plantedSetup, referenceSql } from "../tournament/testing.ts";
import { compare, runSelfImprove, type SelfImproveResult, type TrainingLine } from "./mod.ts";

let dir: string;
let pool: SandboxPool;
let result: SelfImproveResult;
let train: Challenge[];
let dev: Challenge[];
const tuned: { parent: string; path: string; id: string; lines: TrainingLine[] }[] = [];

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-self-improve-test-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(path, { size: 6 });
  const { strategies, challenges } = await plantedSetup();
  train = challenges.slice(0, 4);
  const catalog = await loadCatalog();
  dev = catalog.filter((c) => c.split === "dev" && train.some((t) => t.family === c.family)).slice(0, 4);
  const model = plantedModel(referenceSql([...train, ...dev]));
  let n = 0;
  result = await runSelfImprove({
    pool,
    strategies,
    base: "planted",
    models: () => model,
    fineTune: async (parent, file, o) => {
      const id = `ft:planted:${o.suffix}:${++n}`;
      const lines = (await Deno.readTextFile(file)).trim().split("\n").map((l) => JSON.parse(l));
      tuned.push({ parent, path: file, id, lines });
      return id;
    },
  }, {
    rounds: 2,
    tournamentStrategies: ["strong", "medium"],
    attempts: 2,
    temperature: 0.5,
    evalStrategy: "medium",
    instances: { train, evaluated: { dev } },
    workDir: dir,
    seed: 2,
  });
}, 60_000);

afterAll(async () => {
  await pool?.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("runSelfImprove", () => {
  it("chains rounds: round 2 runs and fine-tunes round 1's model", () => {
    const [r1, r2] = result.rounds;
    expect(r1.parent).toBe("planted");
    expect(r1.trained).toBe(true);
    expect(r2.parent).toBe(r1.model);
    expect(tuned.find((t) => t.id === r2.model)?.parent).toBe(r1.model);
    expect(r2.tournament.model).toBe(r1.model);
    // controls start from the round's parent
    expect(tuned.find((t) => t.id === result.models.r2_shuffled)?.parent).toBe(r1.model);
    expect(tuned.find((t) => t.id === result.models.greedy_distill)?.parent).toBe("planted");
  });

  it("reports train pass@1 and pass@k over k attempts per instance", () => {
    const t = result.rounds[0].tournament;
    expect(t.k).toBe(4);
    expect(t.episodes).toBe(train.length * 4);
    expect(t.passAtK).toBeGreaterThanOrEqual(t.passAt1);
  });

  it("trains only on passed train episodes of its own tournaments: no oracle line, no held-out instance", () => {
    const trainIds = new Set(train.map((c) => c.id));
    for (const r of result.rounds.filter((r) => r.trained)) {
      const file = tuned.find((t) => t.id === r.model)!;
      expect(file.lines.length).toBe(r.dataset.lines);
      for (const l of file.lines) {
        expect(trainIds.has(l.lab.id)).toBe(true);
        expect(l.lab.source).toBe("episode");
        expect(l.lab.episode).toMatch(new RegExp(`^episode:self-improve-r${r.round}/`));
      }
      expect(r.dataset.curation.excluded.failedTurn).toBe(r.tournament.episodes - r.tournament.passes);
    }
    const oracle = tuned.find((t) => t.id === result.models.oracle)!;
    expect(oracle.parent).toBe("planted");
    for (const t of tuned.filter((t) => t !== oracle)) expect(t.lines.every((l) => l.lab?.source === "episode")).toBe(true);
  });

  it("pairs every arm on the same instances and seed, with compare's intervals", () => {
    const arms = Object.keys(result.models);
    const key = (arm: string) => result.episodes.filter((e) => e.arm === arm).map((e) => `${e.challengeId}|${e.seed}`).sort();
    for (const arm of arms) expect(key(arm)).toEqual(key("base"));
    expect(result.comparisons.dev).toEqual(compare(result.episodes, { control: "base" }));
    const e = result.rounds[1].eval.dev;
    expect(e.vsBase).toEqual(result.comparisons.dev.lifts.find((l) => l.arm === "r2" && l.level === "all"));
    expect(e.vsPrevious).toEqual(compare(result.episodes, { control: "r1", arms: ["r2"] }).lifts.find((l) => l.level === "all"));
  });
});
