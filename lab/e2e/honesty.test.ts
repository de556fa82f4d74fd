/**
 * The honesty suite (`lab/evals/honesty.ts`) computes what it says, at small scale (2 levels × 6 dev instances, every
 * arm, plus the base model and "previous" weights (here the same file) on 6 train instances per level of the same
 * families; the real path through the local server, which is why it lives with the end-to-end tests). The issue's thresholds are NOT asserted here: the figures are what they are and go
 * in the report (`lab experiment labmini --markdown lab/evals/LABMINI_RESULTS.md`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { loadCatalog } from "../challenges/mod.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { getModelConfig, LAB_MINI_BASE_WEIGHTS, loadModelsConfig, type ModelConfig } from "../models/mod.ts";
import { loadStrategiesConfig, type StrategiesConfig } from "../agents/mod.ts";
import { ensureSandbox, SandboxPool } from "../sandbox/mod.ts";
import { clusteredMeanCI, mcnemar } from "../stats/mod.ts";
import {
  formatLabMiniHonesty,
  formatLabMiniMarkdown,
  HONESTY_ARMS,
  honestyChecks,
  type LabMiniHonestyResult,
  ORACLE_DISTILL_DATASET,
  ORIGINAL_WORDING,
  pooledLifts,
  readHonestyDataset,
  runLabMiniHonesty,
  type ServeBackends,
  type TrainRun,
  trainReference,
  wordingFeatureCells,
} from "../evals/mod.ts";
import { externalFamilyDir } from "../challenges/testing.ts";

let r: LabMiniHonestyResult;
const trainRuns = new Map<string, TrainRun>();
const servers: LocalServer[] = [];
let datasetDir: string;
let pool: SandboxPool;
let strategies: StrategiesConfig;
let modelEntry: ModelConfig;
beforeAll(async () => {
  pool = await SandboxPool.open((await ensureSandbox({ scale: "tiny" })).path, { size: 4 });
  strategies = await loadStrategiesConfig();
  modelEntry = getModelConfig(await loadModelsConfig(), "lab-mini");
  // Tiny scale: the lines of the levels run here (the fine-tunes cost time in proportion to the dataset).
  datasetDir = await Deno.makeTempDir({ prefix: "lab-honesty-" });
  const dataset = join(datasetDir, "l12.jsonl");
  const lines = (await Deno.readTextFile(ORACLE_DISTILL_DATASET)).split("\n").filter((l) => l.trim());
  await Deno.writeTextFile(dataset, lines.filter((l) => [1, 2].includes(JSON.parse(l).lab.level)).join("\n") + "\n");
  r = await runLabMiniHonesty({
    dataset,
    split: "dev",
    levels: [1, 2],
    perLevel: 6,
    seed: 3,
    temperature: 0,
    baseWeights: LAB_MINI_BASE_WEIGHTS,
    // The same weights as "previous": every train verdict must pair with an identical one (regression exactly 0).
    previousWeights: LAB_MINI_BASE_WEIGHTS,
    pool,
    strategies,
    modelEntry,
    keepMessages: true,
    trainRuns,
    serve: async (backends) => {
      const s = await startServer({ port: 0, backends });
      servers.push(s);
      return s;
    },
  });
}, 60_000);
afterAll(async () => {
  for (const s of servers) await s.close();
  pool?.close();
  await Deno.remove(datasetDir, { recursive: true }).catch(() => {});
});

describe("runLabMiniHonesty", () => {
  it("runs every arm on the same dev instances with the same seed; ft_forget only on families it was not trained on", async () => {
    const dev = new Map((await loadCatalog({ split: "dev" })).map((c) => [c.id, c]));
    expect(r.instances).toHaveLength(12);
    expect(r.instances.every((id) => dev.has(id) && [1, 2].includes(dev.get(id)!.level))).toBe(true);
    expect(r.instances.filter((id) => dev.get(id)!.level === 1)).toHaveLength(6);
    for (const arm of HONESTY_ARMS.filter((a) => a !== "ft_forget")) {
      expect(r.episodes.filter((e) => e.arm === arm).map((e) => e.challengeId)).toEqual(r.instances);
    }
    const forget = r.episodes.filter((e) => e.arm === "ft_forget");
    expect(forget.length).toBeGreaterThan(0);
    expect(forget.map((e) => e.challengeId)).toEqual(
      r.instances.filter((id) => !r.forgetTrainedFamilies.includes(dev.get(id)!.family)),
    );
    expect(new Set(r.episodes.map((e) => e.seed))).toEqual(new Set([3]));
    // Each arm is served by its own model: base for the ICL arms, a fine-tuned version for each ft arm.
    expect(r.models.icl_same).toBe(r.models.base);
    expect(new Set([r.models.ft, r.models.ft_shuffled, r.models.ft_forget, r.models["ft_unrelated@1"], r.models["ft_unrelated@2"]]).size).toBe(5);
    expect(r.episodes.filter((e) => e.arm === "ft").every((e) => e.model.startsWith("ft:lab-mini:ft:"))).toBe(true);
  });

  it("injects up to 3 examples in the ICL arms only, of the instance's family (icl_same) or of another level and category (icl_unrelated)", async () => {
    const byId = new Map((await loadCatalog()).map((c) => [c.id, c]));
    const byTask = new Map([...byId.values()].filter((c) => c.split === "train").map((c) => [c.task, c]));
    for (const e of r.episodes) {
      expect(e.examples).toBe(e.arm.startsWith("icl_") ? 3 : 0);
      if (!e.arm.startsWith("icl_")) continue;
      const system = String(e.messages![0].content);
      const tasks = [...system.matchAll(/^Task: (.*)$/gm)].map((m) => m[1]);
      // The injection's token budget (1500) may drop long examples: what is rendered is what is counted.
      expect(tasks.length).toBe(e.rendered);
      expect(e.rendered).toBeGreaterThan(0);
      const me = byId.get(e.challengeId)!;
      for (const t of tasks) {
        const src = [...byTask.values()].find((c) => c.task.replace(/\s+/g, " ").trim() === t)!;
        expect(src.split).toBe("train");
        if (e.arm === "icl_same") expect(src.family).toBe(me.family);
        else expect([src.level === me.level, src.category === me.category]).toEqual([false, false]);
      }
    }
  });

  it("never puts challenge metadata in a prompt", () => {
    for (const e of r.episodes) {
      const prompt = e.messages!.filter((m) => m.role === "system" || m.role === "user").map((m) => m.content).join("\n");
      expect(prompt).not.toContain(e.challengeId);
      expect(prompt).not.toMatch(/\b(dev|test_id|test_ood|family|families|verifier|oracle|optimal)\b/i);
      expect(prompt).not.toContain(e.family);
    }
  });

  it("reports per-arm rates and paired lifts, clustered by family, that agree with the episodes", () => {
    const interval = (xs: { cluster: string; value: number }[], bounds: [number, number], n: number) => {
      if (n < 10) return { lo: null, hi: null };
      const c = clusteredMeanCI(xs, { bounds });
      return { lo: c.lo, hi: c.hi };
    };
    for (const cell of r.cells) {
      const eps = r.episodes.filter((e) => e.arm === cell.arm && (cell.level === "all" || e.level === cell.level));
      expect(cell.episodes).toBe(eps.length);
      expect(cell.passes).toBe(eps.filter((e) => e.pass).length);
      expect(cell.clusters).toBe(new Set(eps.map((e) => e.family)).size);
      expect(cell.estimate).toBeCloseTo(cell.passes / cell.episodes, 12);
      expect({ lo: cell.lo, hi: cell.hi }).toEqual(interval(eps.map((e) => ({ cluster: e.family, value: +e.pass })), [0, 1], cell.clusters));
    }
    const base = new Map(r.episodes.filter((e) => e.arm === "base").map((e) => [e.challengeId, e.pass]));
    for (const lift of r.lifts) {
      const eps = r.episodes.filter((e) => e.arm === lift.arm && (lift.level === "all" || e.level === lift.level));
      const pairs = eps.map((e) => ({ cluster: e.family, a: +base.get(e.challengeId)!, b: +e.pass }));
      const armRate = eps.filter((e) => e.pass).length / eps.length;
      const baseRate = pairs.reduce((s, p) => s + p.a, 0) / pairs.length;
      expect(lift.pairs).toBe(pairs.length);
      expect(lift.clusters).toBe(new Set(pairs.map((p) => p.cluster)).size);
      expect(lift.armMean).toBeCloseTo(armRate, 12);
      expect(lift.controlMean).toBeCloseTo(baseRate, 12);
      expect(lift.estimate).toBeCloseTo(armRate - baseRate, 12);
      expect({ lo: lift.lo, hi: lift.hi }).toEqual(interval(pairs.map((p) => ({ cluster: p.cluster, value: p.b - p.a })), [-1, 1], lift.clusters));
      expect(lift.mcnemar).toEqual(mcnemar(pairs.map((p) => ({ a: p.a === 1, b: p.b === 1 }))));
      // For non-forget arms the base rate of the lift is the base arm's own cell.
      if (lift.arm !== "ft_forget") {
        expect(lift.controlMean).toBeCloseTo(r.cells.find((c) => c.arm === "base" && c.level === lift.level)!.estimate, 12);
      }
    }
    const table = formatLabMiniHonesty(r);
    expect(table).toMatch(/^lab-mini results \(a small model trained in the lab\), not claims about LLMs \(oracle distillation\)/);
    expect(table).toContain("seed 3 · temperature 0");
  });

  it("pools lifts over runs by family, checks them against the issue's targets, and writes them as Markdown", () => {
    // one run pooled is that run
    expect(pooledLifts([r])).toEqual(r.lifts);
    // the same run twice under another seed: the same estimates, the pairs counted twice, the clusters (families) not
    const again = { ...r, seed: 4, episodes: r.episodes.map((e) => ({ ...e, seed: 4 })) };
    const twice = pooledLifts([r, again]);
    for (const l of r.lifts) {
      const p = twice.find((x) => x.arm === l.arm && x.level === l.level)!;
      expect([p.pairs, p.clusters]).toEqual([2 * l.pairs, l.clusters]);
      expect(p.estimate).toBeCloseTo(l.estimate, 12);
    }
    const checks = honestyChecks(r.lifts);
    const ft = r.lifts.find((l) => l.arm === "ft" && l.level === "all")!;
    expect(checks.find((c) => c.check === "fine-tuning on train successes")).toMatchObject({
      target: "lift ≥ +20, lower bound > +5",
      pass: ft.estimate >= 0.2 && ft.lo !== null && ft.lo > 0.05,
    });
    const md = formatLabMiniMarkdown([r], { command: "lab experiment labmini", date: "2025-01-01" });
    expect(md).toMatch(/^# lab-mini honesty experiment — lab-mini, oracle distillation/);
    expect(md).toContain("not claims about LLMs");
    expect(md).toContain("Seeds 3 ");
    expect(md).toContain("temperature 0");
    expect(md).toContain("| fine-tuning on train successes | lift ≥ +20, lower bound > +5 |");
    expect(md).toContain(`| ft | 3 | ${["L1", "L2", "all"].map((c) => {
      const x = r.cells.find((y) => y.arm === "ft" && (y.level === "all" ? "all" : `L${y.level}`) === c)!;
      return `${x.passes}/${x.episodes}`;
    }).join(" | ")} |`);
  });

  it("reads only train instances from the dataset and refuses a line of another split", async () => {
    const all = await loadCatalog();
    const train = new Set(all.filter((c) => c.split === "train").map((c) => c.id));
    const lines = await readHonestyDataset(ORACLE_DISTILL_DATASET, train);
    expect(lines.length).toBe(train.size);
    // The run here used the levels-1–2 part of it: every train instance of those levels.
    expect(r.dataset.lines).toBe(all.filter((c) => c.split === "train" && c.level <= 2).length);
    const dir = await Deno.makeTempDir();
    const devId = all.find((c) => c.split === "dev")!.id;
    const bad = `${dir}/bad.jsonl`;
    const first = JSON.parse((await Deno.readTextFile(ORACLE_DISTILL_DATASET)).split("\n")[0]);
    await Deno.writeTextFile(bad, JSON.stringify({ ...first, lab: { ...first.lab, id: devId } }) + "\n");
    await expect(readHonestyDataset(bad, train)).rejects.toThrow(/is not a train instance/);
    await Deno.remove(dir, { recursive: true });
  });
});

describe("the language checks: train reference, transfer, regression and robustness by wording feature", () => {
  it("reuses a train reference already run with the same settings and instances instead of running it again", async () => {
    expect([...trainRuns.values()]).toEqual([r.train]);
    let episodes = 0;
    const again = await runLabMiniHonesty({
      dataset: join(datasetDir, "l12.jsonl"),
      split: "dev",
      arms: ["base"],
      levels: [1, 2],
      perLevel: 6,
      seed: 3,
      temperature: 0,
      baseWeights: LAB_MINI_BASE_WEIGHTS,
      previousWeights: LAB_MINI_BASE_WEIGHTS,
      pool,
      strategies,
      modelEntry,
      keepMessages: true,
      trainRuns,
      onProgress: (done) => episodes = done,
      serve: async (backends) => {
        const s = await startServer({ port: 0, backends });
        servers.push(s);
        return s;
      },
    });
    // Only the evaluated instances ran (the base arm); the train reference is the first run's, the same object.
    expect(episodes).toBe(again.instances.length);
    expect(again.train).toBe(r.train);
    expect(again.episodes.filter((e) => e.arm === "base").map((e) => [e.challengeId, e.pass])).toEqual(
      r.episodes.filter((e) => e.arm === "base").map((e) => [e.challengeId, e.pass]),
    );
  });
  it("runs the base model and the previous weights, without examples, on train instances of the evaluated families only", async () => {
    const all = new Map((await loadCatalog()).map((c) => [c.id, c]));
    const t = r.train!;
    const families = new Set(r.instances.map((id) => all.get(id)!.family));
    expect(t.previousWeights).toBe(LAB_MINI_BASE_WEIGHTS);
    expect(t.previousModel).toBe(r.baseModel);
    // Picked as the evaluated instances were: 6 per level, round-robin over the evaluated families.
    for (const level of [1, 2]) expect(t.instances.filter((id) => all.get(id)!.level === level)).toHaveLength(6);
    expect(t.instances.every((id) => all.get(id)!.split === "train" && families.has(all.get(id)!.family))).toBe(true);
    for (const arm of ["base", "previous"]) {
      expect(t.episodes.filter((e) => e.arm === arm).map((e) => [e.challengeId, e.seed, e.examples])).toEqual(t.instances.map((id) => [id, 3, 0]));
    }
    expect(new Set(t.episodes.filter((e) => e.arm === "previous").map((e) => e.model))).toEqual(new Set([`${r.models.base}-previous`]));
  });

  it("measures the transfer gap family by family and the regression pair by pair, and checks both against the issue's targets", () => {
    const ref = trainReference([r])!;
    const famRates = (eps: typeof r.episodes) => {
      const m = new Map<string, number[]>();
      for (const e of eps) m.set(e.family, [...m.get(e.family) ?? [], +e.pass]);
      return new Map([...m].map(([f, xs]) => [f, xs.reduce((a, b) => a + b, 0) / xs.length]));
    };
    for (const level of [1, 2, "all"] as const) {
      const at = (e: { level: number }) => level === "all" || e.level === level;
      const held = famRates(r.episodes.filter((e) => e.arm === "base" && at(e)));
      const train = famRates(r.train!.episodes.filter((e) => e.arm === "base" && at(e)));
      const fams = [...held.keys()].filter((f) => train.has(f));
      const diffs = fams.map((f) => held.get(f)! - train.get(f)!);
      const cell = ref.transfer.find((x) => x.level === level)!;
      expect(cell.families).toBe(fams.length);
      expect(cell.estimate).toBeCloseTo(diffs.reduce((a, b) => a + b, 0) / diffs.length, 12);
      expect(cell.splitMean - cell.trainMean).toBeCloseTo(cell.estimate, 12);
      if (fams.length >= 10) {
        const c = clusteredMeanCI(fams.map((f, i) => ({ cluster: f, value: diffs[i] })), { bounds: [-1, 1] });
        // Summation order differs (the family means are averaged in another order): equal to 12 decimals.
        expect(cell.lo).toBeCloseTo(c.lo!, 12);
        expect(cell.hi).toBeCloseTo(c.hi!, 12);
      } else expect([cell.lo, cell.hi, cell.note]).toEqual([null, null, expect.stringMatching(/^\d+ famil(y|ies): an interval needs ≥ 10$/)]);
    }
    // The same weights twice: the same verdict on every train pair.
    const prev = new Map(r.train!.episodes.filter((e) => e.arm === "previous").map((e) => [e.challengeId, e.pass]));
    expect(r.train!.episodes.filter((e) => e.arm === "base").every((e) => prev.get(e.challengeId) === e.pass)).toBe(true);
    const reg = ref.regression.find((l) => l.level === "all")!;
    expect([reg.arm, reg.pairs, reg.estimate]).toEqual(["base", 12, 0]);
    expect(ref.rates.map((c) => [c.arm, c.level])).toEqual([["base", 1], ["base", 2], ["base", "all"], ["previous", 1], ["previous", 2], ["previous", "all"]]);
    const all = ref.transfer.find((x) => x.level === "all")!;
    const checks = honestyChecks(r.lifts, "dev", ref);
    expect(checks.slice(-2)).toEqual([
      {
        check: "base on held-out templates vs train templates of the same families",
        target: "within ±5 points (|estimate| ≤ 5)",
        measured: expect.stringMatching(/^[+-]\d+\.\d .* \(\d+\.\d vs \d+\.\d, \d+ families\)$/),
        pass: Math.abs(all.estimate) <= 0.05,
      },
      { check: "base on train templates: new vs previous weights", target: "≥ −2 points", measured: expect.stringMatching(/^\+0\.0 .*\(n 12, /), pass: true },
    ]);
    // Without a train reference the checks are the arms' only.
    expect(honestyChecks(r.lifts, "dev").length).toBe(checks.length - 2);
  });

  it("reports base, icl_same and ft success by wording feature from the catalog's template tags", async () => {
    const all = new Map((await loadCatalog()).map((c) => [c.id, c]));
    for (const id of r.instances) {
      const c = all.get(id)!;
      expect(r.wordings[id]).toEqual(c.features.length ? c.features : [ORIGINAL_WORDING]);
    }
    const cells = wordingFeatureCells([r]);
    expect(new Set(cells.map((c) => c.arm))).toEqual(new Set(["base", "icl_same", "ft"]));
    expect(new Set(cells.map((c) => c.feature))).toEqual(new Set(r.instances.flatMap((id) => r.wordings[id])));
    for (const cell of cells) {
      const eps = r.episodes.filter((e) => e.arm === cell.arm && (cell.level === "all" || e.level === cell.level) && r.wordings[e.challengeId].includes(cell.feature));
      expect([cell.episodes, cell.passes, cell.clusters]).toEqual([eps.length, eps.filter((e) => e.pass).length, new Set(eps.map((e) => e.family)).size]);
    }
    const md = formatLabMiniMarkdown([r], { command: "lab experiment labmini", date: "2025-01-01" });
    expect(md).toContain("| base on held-out templates vs train templates of the same families | within ±5 points (|estimate| ≤ 5) |");
    expect(md).toContain("| base on train templates: new vs previous weights | ≥ −2 points |");
    expect(md).toContain("### dev: held-out vs train templates (base, pooled over seeds)");
    expect(md).toContain(`| new − previous (points) | +0.0 (`);
    const section = md.slice(md.indexOf("## Robustness by wording feature"));
    expect(section).toMatch(/^## Robustness by wording feature\n/);
    const base = cells.find((c) => c.arm === "base" && c.level === "all" && c.feature === r.wordings[r.instances[0]][0])!;
    expect(section).toContain(`| ${base.feature} | base | `);
    expect(section).toContain(`${base.passes}/${base.episodes} = ${(100 * base.estimate).toFixed(1)}`);
    expect(formatLabMiniHonesty(r)).toMatch(/train reference \(12 train instances of the same families, base without examples\):\n {2}dev − train, family-paired: .*\n {2}new − previous base weights on train: \+0\.0/);
  });
});

describe("runLabMiniHonesty on an external challenge set", () => {
  it("evaluates the external families' instances, whatever their split, as the set 'external'; the train dataset stays the catalog's", async () => {
    const ext = await externalFamilyDir();
    try {
      const serve: ServeBackends = async (backends) => {
        const s = await startServer({ port: 0, backends });
        servers.push(s);
        return s;
      };
      const common = {
        dataset: join(datasetDir, "l12.jsonl"),
        levels: [1 as const],
        perLevel: 4,
        seed: 3,
        arms: ["base" as const],
        baseWeights: LAB_MINI_BASE_WEIGHTS,
        serve,
        pool,
        strategies,
        modelEntry,
      };
      const x = await runLabMiniHonesty({ ...common, split: "external", external: [ext] });
      const mine = new Map((await loadCatalog({ extra: [ext], origin: "extra" })).map((c) => [c.id, c]));
      expect(x.split).toBe("external");
      expect(x.instances).toHaveLength(4);
      expect(x.instances.every((id) => mine.has(id))).toBe(true);
      expect(x.episodes.map((e) => [e.arm, e.challengeId])).toEqual(x.instances.map((id) => ["base", id]));
      // No train reference: an external set shares no family with the catalog's train split.
      expect(x.train).toBe(null);
      expect(x.dataset.path).toBe(common.dataset);
      expect(formatLabMiniHonesty(x)).toMatch(/split external · levels 1/);
      await expect(runLabMiniHonesty({ ...common, split: "dev", external: [ext] })).rejects.toThrow(/go together/);
      await expect(runLabMiniHonesty({ ...common, split: "external" })).rejects.toThrow(/go together/);
    } finally {
      await Deno.remove(ext, { recursive: true });
    }
  }, 30_000);
});
