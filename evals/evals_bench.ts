/**
 * 1,000 lab-mini cases through promptfoo's `evaluate()` (the suites' provider in process, the lab's verifier as the
 * assertion), and the same cases through the lab's own `runSuite`, in one run. Targets: the promptfoo run < 60 s, and
 * promptfoo's overhead ≤ 2× (promptfoo wall time / runSuite wall time on the same cases, same concurrency).
 */
import { join } from "node:path";
import { LabContext } from "../lab/context.ts";
import { EvalService } from "../lab/serve/mod.ts";
import { runSuite } from "../lab/evals/mod.ts";
import { loadCatalog } from "../lab/challenges/mod.ts";
import { repoPath } from "../lab/util/mod.ts";
import { useEvalService } from "./_deno.ts";

const CASES = 1000;
const TARGET_S = 60;
const TARGET_RATIO = 2;
const CONCURRENCY = 4;
const EVALS = repoPath("evals");

for (const k of ["PROMPTFOO_DISABLE_TELEMETRY", "PROMPTFOO_DISABLE_UPDATE", "PROMPTFOO_DISABLE_SHARING"]) Deno.env.set(k, "1");
const ctx = await LabContext.open();
const service = await EvalService.open(ctx, { concurrency: CONCURRENCY });
const arm = { id: "base", model: "lab-mini", strategy: "beta" };
const resolved = await service.arm(arm);
// dev, every level: instances × seeds up to 1,000 cases.
const all = (await service.tests({ split: "dev", per_family: 1000, seeds: [1, 2, 3, 4, 5, 6, 7, 8] })).tests;
const tests = all.slice(0, CASES);
if (tests.length < CASES) throw new Error(`only ${tests.length} dev cases; raise the seeds`);
const byId = new Map((await loadCatalog({ split: "dev" })).map((c) => [c.id, c]));
const pool = await ctx.catalogPool(CONCURRENCY);
await service.episode({ arm, challenge: tests[0].vars.challenge, seed: 1 }); // warm up (weights, sandbox workers)

// The tests are (challenge, seed) in challenge order with every seed: the first 1,000 are whole challenges × seeds, so
// one runSuite of those challenges and seeds runs exactly the same cases.
const seeds = [...new Set(tests.map((t) => t.vars.seed))];
const challenges = [...new Set(tests.map((t) => t.vars.challenge))].map((id) => byId.get(id)!);
if (challenges.length * seeds.length !== CASES) throw new Error("the first 1,000 cases are not whole challenges × seeds");
async function labAlone(): Promise<{ s: number; passes: number }> {
  const t = performance.now();
  const r = await runSuite({ name: "bench", challenges, seeds, arms: [resolved.arm] }, {
    models: () => resolved.chat,
    pool,
    fitness: ctx.strategies.fitness,
    concurrency: CONCURRENCY,
  });
  return { s: (performance.now() - t) / 1000, passes: r.episodes.filter((e) => e.pass).length };
}
const before = await labAlone();

const { default: promptfoo } = await import("promptfoo");
useEvalService(service);
const t1 = performance.now();
const record = await promptfoo.evaluate({
  prompts: ["{{task}}"],
  providers: [{ id: `file://${join(EVALS, "provider.mjs")}`, label: "base", config: { arm } }],
  tests,
  defaultTest: { assert: [{ type: "javascript", value: `file://${join(EVALS, "assert.mjs")}` }] },
  writeLatestResults: false,
} as Parameters<typeof promptfoo.evaluate>[0], { maxConcurrency: CONCURRENCY, showProgressBar: false, cache: false });
const pfS = (performance.now() - t1) / 1000;
const { stats } = await record.toEvaluateSummary();
useEvalService(undefined);
// Measured before and after promptfoo (warm-up and cache effects either way); the faster one is the baseline.
const after = await labAlone();
const labS = Math.min(before.s, after.s);
const labPasses = before.passes;
if (stats.successes !== labPasses) throw new Error(`promptfoo passed ${stats.successes}, runSuite ${labPasses}: the runs differ`);

const ratio = pfS / labS;
console.log(`${CASES} lab-mini cases through promptfoo evaluate(): measured ${pfS.toFixed(1)} s vs target < ${TARGET_S} s: ${pfS < TARGET_S ? "OK" : "MISSED"}`);
console.log(`promptfoo overhead vs the lab's runSuite (${labS.toFixed(1)} s, the faster of ${before.s.toFixed(1)} s before and ${after.s.toFixed(1)} s after, same cases): measured ${ratio.toFixed(2)}× vs target ≤ ${TARGET_RATIO}×: ${ratio <= TARGET_RATIO ? "OK" : "MISSED"}`);
await service.close();
await ctx.close();

Deno.bench({ name: "evals: 1,000 lab-mini cases through promptfoo (measured above)", n: 1, warmup: 0 }, () => {});
