/**
 * Expert iteration's bookkeeping at tiny scale with the planted in-process model (it solves a number task with the
 * verifier's reference SQL under the planted "strong" strategy, and under "medium" when the seed is even) and a
 * recording fake fine-tune: rounds chain, training files hold only passed train episodes of the experiment's own tournaments (no
 * oracle line, no held-out instance), arms pair on the same instances and seeds, and the intervals are
 * `compare`'s, and single-stage and progressive fine-tuning get the same example passes. Nothing here asserts that
 * self-improvement helps.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { type Challenge, loadCatalog } from "../challenges/mod.ts";
import { AS_OF, plantedModel, plantedSetup, referenceSql } from "../tournament/testing.ts";
import { compare, runSelfImprove, type SelfImproveResult, singleStageFile, type TrainingLine } from "./mod.ts";

let dir: string;
let pool: SandboxPool;
let result: SelfImproveResult;
let train: Challenge[];
let dev: Challenge[];
const tuned: { parent: string; path: string; id: string; lines: TrainingLine[]; epochs: number; lrMultiplier: number | undefined }[] = [];

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
      tuned.push({ parent, path: file, id, lines, epochs: o.epochs, lrMultiplier: o.learningRateMultiplier });
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
    // the planted passes are all level 1 with one fitness: a core of 2 lines keeps the two stages different
    stageSelection: { core: { size: 2, min_fitness: 0.5, levels: [1, 2] }, extended: { size: 5000, min_fitness: 0.5 } },
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

  it("runs seed 000's stages from base on the pooled passes and a single stage on the same lines with equal example passes", () => {
    const st = result.stages!;
    const file = (id: string) => tuned.find((t) => t.id === id)!;
    const [core, extended] = st.progressive.map((s) => file(s.model));
    expect(st.progressive.map((s) => [s.name, s.epochs, s.learningRate])).toEqual([["core", 5, 1e-5], ["extended", 3, 5e-6]]);
    expect([core.parent, core.epochs, core.lrMultiplier]).toEqual(["planted", 5, 1]);
    expect([extended.parent, extended.epochs, extended.lrMultiplier]).toEqual([core.id, 3, 0.5]);
    expect(result.models.progressive).toBe(extended.id);
    const single = file(result.models.single_stage as string);
    expect(single.parent).toBe("planted");
    // every line gets the passes it gets over the stages: per distinct line, repeats × epochs = Σ stage epochs holding it
    const passes = new Map<string, number>();
    for (const f of [core, extended]) for (const l of f.lines) passes.set(l.lab.episode, (passes.get(l.lab.episode) ?? 0) + f.epochs);
    const singlePasses = new Map<string, number>();
    for (const l of single.lines) singlePasses.set(l.lab.episode, (singlePasses.get(l.lab.episode) ?? 0) + single.epochs);
    expect(singlePasses).toEqual(passes);
    const progressivePasses = core.lines.length * core.epochs + extended.lines.length * extended.epochs;
    expect(single.lines.length * single.epochs).toBe(progressivePasses);
    expect(st.examplePasses).toEqual({ progressive: progressivePasses, single_stage: progressivePasses });
    expect(st.single).toMatchObject({ lines: single.lines.length, distinct: passes.size, epochs: single.epochs, examplePasses: progressivePasses });
    // the pooled lines are the rounds' own passes, and the arms pair with compare's intervals
    for (const l of single.lines) expect(l.lab.episode).toMatch(/^episode:self-improve-r[12]\//);
    expect(st.eval.dev.progressiveVsSingle).toEqual(compare(result.episodes, { control: "single_stage", arms: ["progressive"] }).lifts.find((l) => l.level === "all"));
    expect(st.eval.dev.singleVsBase).toEqual(result.comparisons.dev.lifts.find((l) => l.arm === "single_stage" && l.level === "all"));
  });
});

describe("singleStageFile", () => {
  const id = (l: string) => l;
  it("repeats each line to the passes the stages give it, and trains for their common divisor as epochs", () => {
    const f = singleStageFile([{ lines: ["a"], epochs: 5 }, { lines: ["a", "b"], epochs: 3 }], id, () => 0.5);
    expect({ epochs: f.epochs, distinct: f.distinct, lines: [...f.lines].sort() }).toEqual({ epochs: 1, distinct: 2, lines: [..."aaaaaaaabbb"] });
    const g = singleStageFile([{ lines: ["a", "b"], epochs: 4 }, { lines: ["b", "a"], epochs: 2 }], id, () => 0.5);
    expect({ epochs: g.epochs, lines: [...g.lines].sort() }).toEqual({ epochs: 6, lines: ["a", "b"] });
    expect(() => singleStageFile([{ lines: ["a"], epochs: 0 }], id, () => 0.5)).toThrow("epochs must be a positive integer, found 0");
  });
});
