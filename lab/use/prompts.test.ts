/**
 * Learned prompts: failure modes from planted verdict reasons and edits, rule-written variants with their lineage,
 * Holm's correction, the dev/test_id bookkeeping on a scripted suite runner, and promotion into a strategies file
 * the loader accepts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { Challenge } from "../challenges/mod.ts";
import { loadStrategiesConfig, type StrategiesConfig, type Strategy, systemPrompt } from "../agents/mod.ts";
import { readStrategy } from "../models/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import type { Suite, SuiteEpisode } from "../evals/mod.ts";
import { plantedEpisode } from "../evals/testing.ts";
import type { Correction } from "./corrections.ts";
import type { Modification } from "./diff.ts";
import type { FailureRow } from "./edits.ts";
import {
  type DeclaredTest,
  detectFailureModes,
  evaluateVariants,
  FAILURE_MODES,
  fragmentProblem,
  generateVariants,
  holm,
  modelWriter,
  type PromptEvaluation,
  promoteVariants,
  type PromptVariant,
  writePromoted,
} from "./prompts.ts";
import type { ChatModel } from "../models/mod.ts";

const fail = (strategyId: string, reason: string, count = 1): FailureRow => ({ strategyId, model: "lab-mini", category: "finance", reason, count });
const FAILURES: FailureRow[] = [
  fail("beta", "fail (0/1 components): value: answered 12, expected 10 (off by 2)", 3),
  fail("beta.g2c1", "fail (0/1 components): value: answered 40, expected 31 (off by 9)", 2),
  fail("beta", "fail (0/1 components): value: answered 7, expected 10 (off by -3)"),
  fail("beta", "fail (1/3 components): current: answered 5, expected 7 (off by -2); previous: answered 3, expected 3 (off by 0)", 2),
  fail("beta", "fail (0/1 components): rows: the answer is not a list of rows", 4),
  fail("beta", "fail (0/1 components): rows: 2 of 5 expected rows missing (e.g. vendor_id=3); rows are not in the requested order"),
  fail("beta", "fail (0/1 components): something nobody wrote a rule for", 2),
  fail("alpha", "fail (0/1 components): rows: the answer is not a list of rows", 50),
];
const mod = (kind: Modification["kind"], change: Modification["change"], value: string): Modification => ({ kind, change, value });
const correction = (strategyId: string, modifications: Modification[]): Correction =>
  ({ ask: { strategyId }, diff: { sqlChanged: true, answerChanged: true, modifications } }) as unknown as Correction;
const CORRECTIONS: Correction[] = [
  correction("beta", [mod("table", "removed", "v_open_orders"), mod("table", "added", "orders"), mod("filter", "added", "o.created_at >= date_trunc('month', current_date)")]),
  correction("beta", [mod("table", "removed", "v_open_orders"), mod("table", "added", "orders")]),
  correction("beta", [mod("filter", "added", "status = 'open'")]),
  correction("alpha", [mod("table", "removed", "v_x")]),
];

let cfg: StrategiesConfig;
let beta: Strategy;
beforeAll(async () => {
  cfg = await loadStrategiesConfig();
  beta = cfg.strategies.beta;
});

describe("detectFailureModes", () => {
  it("groups a strategy's verdict reasons (its evolved children included) and edits into the rule table's modes", () => {
    const r = detectFailureModes(FAILURES, CORRECTIONS, { strategy: "beta" });
    expect(r).toEqual({
      strategy: "beta",
      failures: 15,
      edits: 3,
      modes: [
        {
          id: "overcount", title: FAILURE_MODES.overcount.title, failures: 5, edits: 0, share: 0.2778,
          forms: [{ value: "fail (#/# components): value: answered #, expected # (off by #)", count: 5, frequency: 1 }],
        },
        {
          id: "answer_shape", title: FAILURE_MODES.answer_shape.title, failures: 4, edits: 0, share: 0.2222,
          forms: [{ value: "fail (#/# components): rows: the answer is not a list of rows", count: 4, frequency: 1 }],
        },
        {
          id: "wrong_relation", title: FAILURE_MODES.wrong_relation.title, failures: 0, edits: 2, share: 0.1111,
          forms: [
            { value: "table added: orders", count: 2, frequency: 1 },
            { value: "table removed: v_open_orders", count: 2, frequency: 1 },
          ],
        },
        {
          id: "period_bounds", title: FAILURE_MODES.period_bounds.title, failures: 2, edits: 0, share: 0.1111,
          forms: [{ value: "fail (#/# components): current: answered #, expected # (off by #); previous: answered #, expected # (off by #)", count: 2, frequency: 1 }],
        },
      ],
      unmatched: [{ value: "fail (#/# components): something nobody wrote a rule for", count: 2, frequency: 0.1333 }],
    });
    // Below the default minimum of 2: one undercount, one missing-rows, one order, one period filter, one other filter.
    expect(detectFailureModes(FAILURES, CORRECTIONS, { strategy: "beta", minCount: 1 }).modes.map((m) => m.id)).toEqual([
      "overcount", "answer_shape", "wrong_relation", "period_bounds", "missing_period_filter", "undercount", "missing_filter", "missing_rows", "row_order",
    ]);
    expect(detectFailureModes(FAILURES, [], {}).modes[0]).toMatchObject({ id: "answer_shape", failures: 54 });
  });
});

describe("the rule table", () => {
  it("holds prompt-safe fragments that switch lab-mini only through the flags each rule sets", () => {
    for (const [id, rule] of Object.entries(FAILURE_MODES)) {
      expect([id, fragmentProblem(rule.fragment)]).toEqual([id, null]);
      const flags: { prefer_views?: boolean; use_todos?: boolean; verify_steps?: boolean } = "flags" in rule ? rule.flags as object : {};
      const s: Strategy = {
        ...beta,
        instructions: `${beta.instructions} ${rule.fragment}`,
        tools: { ...beta.tools, prefer_views: flags.prefer_views ?? beta.tools.prefer_views, use_todos: flags.use_todos ?? beta.tools.use_todos },
        verification: { verify_steps: flags.verify_steps ?? beta.verification.verify_steps },
      };
      const sw = readStrategy(systemPrompt({ strategy: s, task: "How many open orders?", role: "cfo", asOf: "2025-11-28" }));
      expect([id, { views: sw.views, todo: sw.todo, verify: sw.verify }]).toEqual([id, { views: s.tools.prefer_views, todo: s.tools.use_todos, verify: s.verification.verify_steps }]);
    }
    expect(fragmentProblem("Check the dev split first.")).toMatch(/it says 'split'|it says 'dev'/);
  });
});

describe("generateVariants", () => {
  it("writes one variant per frequent mode with its whole lineage, leaving the parent unchanged", async () => {
    const before = structuredClone(beta);
    const report = detectFailureModes(FAILURES, CORRECTIONS, { strategy: "beta" });
    const vs = await generateVariants(beta, report, { variants: 3, run: "t-abc", taken: ["beta-answer-shape"] });
    expect(beta).toEqual(before);
    expect(vs.map((v) => v.strategy.id)).toEqual(["beta-overcount", "beta-answer-shape-2", "beta-wrong-relation"]);
    expect(vs[0].lineage).toEqual({
      parent: "beta",
      failure_mode: "overcount",
      generator: "rules",
      fragment_diff: { instructions_added: FAILURE_MODES.overcount.fragment, flags: { verify_steps: { from: false, to: true } } },
      evidence: { failures: 5, edits: 0, share: 0.2778, run: "t-abc" },
    });
    expect(vs[0].strategy).toEqual({
      ...beta,
      id: "beta-overcount",
      description: "Aggressive — straight to the tables, few checks, higher temperature; learned: number too large (rows counted that should not be).",
      instructions: `${beta.instructions.trim()} ${FAILURE_MODES.overcount.fragment}`,
      verification: { verify_steps: true },
      lineage: vs[0].lineage,
    });
    // beta already prefers base tables: the wrong-relation rule's flag changes nothing, so no flag in its diff.
    expect(vs[2].lineage.fragment_diff).toEqual({ instructions_added: FAILURE_MODES.wrong_relation.fragment, flags: {} });
  });

  it("uses a model's sentence when it is prompt-safe, and the rule's (saying why) when it is not", async () => {
    const report = detectFailureModes(FAILURES, [], { strategy: "beta" });
    const model = (reply: string) => ({ name: "m", invoke: () => Promise.resolve({ message: { content: reply } }) }) as unknown as ChatModel;
    const [ok] = await generateVariants(beta, report, { variants: 1, writer: modelWriter(model("Count only rows that meet every stated condition.")) });
    expect(ok.lineage).toMatchObject({ generator: "model:m", fragment_diff: { instructions_added: "Count only rows that meet every stated condition." } });
    const [bad] = await generateVariants(beta, report, { variants: 1, writer: modelWriter(model("Think about how the verifier checks it.")) });
    expect(bad.lineage).toMatchObject({
      generator: "rules (model:m rejected: it says 'verifier' (prompts must not hint at how tasks are judged or catalogued))",
      fragment_diff: { instructions_added: FAILURE_MODES.overcount.fragment },
    });
  });
});

describe("holm", () => {
  it("matches known adjusted values (R p.adjust method 'holm')", () => {
    expect(holm([0.01, 0.04, 0.03, 0.005])).toEqual([0.03, 0.06, 0.06, 0.02]);
    expect(holm([0.01, 0.02, 0.03, 0.04, 0.05])).toEqual([0.05, 0.08, 0.09, 0.09, 0.09]);
    expect(holm([0.2, null, 0.001])).toEqual([0.4, 1, 0.003]);
    expect(holm([])).toEqual([]);
    expect(() => holm([1.5])).toThrow("holm: pValues[0] must be in [0, 1], found 1.5");
  });
});

// 24 families × 2 instances; the parent passes families 0, 3, 6, …; a variant scripted "good" on a split passes all.
const fam = (split: string) =>
  Array.from({ length: 48 }, (_, i) => ({ id: `f${i % 24}/t0/${split}${i}`, family: `f${i % 24}`, level: 1 + (i % 2), split, templateIndex: 0 })) as unknown as Challenge[];
const DEV = fam("dev"), TEST = fam("test_id");

function scripted(good: Record<string, string[]>, log: string[]) {
  return (suite: Suite) => {
    log.push(`run ${suite.name}: ${suite.arms.map((a) => a.id).join(",")}`);
    const episodes: SuiteEpisode[] = suite.arms.flatMap((arm) =>
      suite.challenges.flatMap((c) =>
        suite.seeds.map((seed, attempt) => {
          const pass = (good[c.split] ?? []).includes(arm.strategy.id) || Number(c.family.slice(1)) % 3 === 0;
          return plantedEpisode(arm.id, c.id, pass, { template: `${c.family}/t0`, level: c.level, split: c.split, seed, attempt, strategyId: arm.strategy.id });
        })
      )
    );
    return Promise.resolve({ suite: suite.name, arms: suite.arms.map((a) => a.id), challenges: suite.challenges.map((c) => c.id), seeds: [...suite.seeds], episodes });
  };
}

describe("evaluateVariants and promotion", () => {
  let variants: PromptVariant[];
  let r: PromptEvaluation;
  const log: string[] = [];
  const declared: DeclaredTest[][] = [];
  const deps = { models: () => { throw new Error("not called"); }, pool: {} as SandboxPool };
  const now = () => new Date("2026-01-02T03:04:05.000Z");
  let dir: string;

  beforeAll(async () => {
    dir = await Deno.makeTempDir({ prefix: "lab-prompts-" });
    variants = await generateVariants(beta, detectFailureModes(FAILURES, CORRECTIONS, { strategy: "beta" }), { variants: 3, run: "t-abc" });
    r = await evaluateVariants(beta, variants, {
      model: "lab-mini",
      dev: DEV,
      test: TEST,
      seeds: [7],
      deps,
      now,
      permutations: { resamples: 500 },
      run: scripted({ dev: ["beta-overcount", "beta-answer-shape"], test_id: ["beta-overcount"] }, log),
      onDeclare: (t) => {
        log.push(`declared ${t.map((x) => x.variant).join(",")}`);
        declared.push([...t]);
      },
    });
  });
  afterAll(async () => {
    await Deno.remove(dir, { recursive: true });
  });

  it("chooses winners on dev with Holm-corrected p-values and declares one test each before the test_id run", () => {
    expect(log).toEqual([
      "run prompts-dev:beta: beta,beta-overcount,beta-answer-shape,beta-wrong-relation",
      "declared beta-overcount,beta-answer-shape",
      "run prompts-test:beta: beta,beta-overcount,beta-answer-shape",
    ]);
    expect(r.dev.map((d) => [d.id, d.failureMode, d.parentRate, d.variantRate, d.lift, d.pairs, d.clusters, d.winner, d.note])).toEqual([
      ["beta-overcount", "overcount", 1 / 3, 1, 2 / 3, 48, 24, true, null],
      ["beta-answer-shape", "answer_shape", 1 / 3, 1, 2 / 3, 48, 24, true, null],
      ["beta-wrong-relation", "wrong_relation", 1 / 3, 1 / 3, 0, 48, 24, false, null],
    ].map(([id, m, a, b, l, ...rest]) => [id, m, expect.closeTo(a as number, 12), expect.closeTo(b as number, 12), expect.closeTo(l as number, 12), ...rest]));
    expect(r.dev.map((d) => d.pHolm)).toEqual(holm(r.dev.map((d) => d.pValue)));
    expect(r.dev[2]).toMatchObject({ pValue: 1, pHolm: 1, lo: 0, hi: 0 });
    expect(r.dev[0].lo!).toBeGreaterThan(0);
    expect(declared).toEqual([["beta-overcount", "beta-answer-shape"].map((variant) => ({
      variant,
      parent: "beta",
      declaredAt: "2026-01-02T03:04:05.000Z",
      hypothesis: `pass rate of ${variant} > pass rate of beta on test_id (paired by instance and seed, clustered by family)`,
      metric: "pass",
      alternative: "greater",
      alpha: 0.05,
      clusterBy: "family",
      instances: TEST.map((c) => c.id),
      seeds: [7],
    }))]);
  });

  it("confirms a winner only when its one-sided test_id test passes, and promotes only confirmed winners", () => {
    expect(r.tests.map((t) => [t.variant, t.confirmed, t.pairs, t.clusters])).toEqual([["beta-overcount", true, 48, 24], ["beta-answer-shape", false, 48, 24]]);
    expect(r.tests[0].pOneSided!).toBeLessThan(0.05);
    expect(r.tests[1]).toMatchObject({ lift: 0, pOneSided: 0.5 });
    expect(r.promoted.map((p) => p.strategy.id)).toEqual(["beta-overcount"]);
    const d = r.dev[0], t = r.tests[0];
    expect(r.promoted[0].lineage).toEqual({
      ...variants[0].lineage,
      dev: { lift: d.lift, lo: d.lo, hi: d.hi, p_value: d.pValue, p_holm: d.pHolm, pairs: 48, clusters: 24, variants_tried: 3 },
      test: {
        declared_at: "2026-01-02T03:04:05.000Z",
        hypothesis: t.hypothesis,
        alternative: "greater",
        alpha: 0.05,
        instances: 48,
        seeds: [7],
        lift: t.lift,
        lo: t.lo,
        hi: t.hi,
        p_value: t.pOneSided,
        confirmed: true,
      },
      promoted_at: "2026-01-02T03:04:05.000Z",
    });
    expect(r.promoted[0].strategy.lineage).toEqual(r.promoted[0].lineage);
  });

  it("writes promoted strategies into a strategies file the loader accepts, round-tripping strategy and lineage", async () => {
    const path = join(dir, "strategies.yaml");
    const original = await Deno.readTextFile("configs/strategies.yaml");
    await Deno.writeTextFile(path, original);
    const p = await writePromoted(path, r.promoted);
    expect(p.ids).toEqual(["beta-overcount"]);
    const text = await Deno.readTextFile(path);
    expect(text).toBe(p.text);
    expect(text.startsWith(original.split("\n")[0])).toBe(true); // comments kept
    expect(p.added).toMatch(/^beta-overcount:\n {2}description: /);
    const back = await loadStrategiesConfig(path);
    expect(Object.keys(back.strategies)).toEqual([...Object.keys(cfg.strategies), "beta-overcount"]);
    expect(back.strategies["beta-overcount"]).toEqual({ ...r.promoted[0].strategy, prompt: beta.prompt });
    expect(back.strategies.beta).toEqual(beta);
    // Promoting the same id again is refused and leaves the file as it was.
    await expect(writePromoted(path, r.promoted)).rejects.toThrow(`${path}: already has a strategy 'beta-overcount'; remove it or promote under another id`);
    expect(await Deno.readTextFile(path)).toBe(text);
    expect(promoteVariants(original, []).added).toBe("");
  });
});
