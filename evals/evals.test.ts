/**
 * The promptfoo suites of evals/, end to end on a tiny suite (two arms × a few lab-mini cases):
 * - through promptfoo's library under Deno (`lab eval run`): the EvalRun written, its episodes the same as a direct
 *   `runSuite` of the same cases, the assertion's named metrics; the run imported into promptfoo's database;
 * - through the promptfoo CLI on Node (the README's prerequisite): exit code and results;
 * - the viewer's API (promptfoo's server, on Node) returns both runs.
 * Two CLI runs of promptfoo in all (the Node eval and the library run's import); promptfoo's config dir is a folder
 * under data/, removed after.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { LabContext } from "../lab/context.ts";
import { EvalService } from "../lab/serve/mod.ts";
import { type EvalRun, runSuite } from "../lab/evals/mod.ts";
import { externalFamilyDir } from "../lab/challenges/testing.ts";
import { loadCatalog } from "../lab/challenges/mod.ts";
import { type EvalSuiteRun, runEvalSuite } from "../lab/cli/eval_run.ts";
import { repoPath } from "../lab/util/mod.ts";

const EVALS = repoPath("evals");
const ARMS = [
  { id: "base", model: "lab-mini", strategy: "beta" },
  { id: "finetuned", model: "lab-mini", strategy: "beta", finetune: { dataset: "data/datasets/oracle_distill_train.jsonl", seed: 1, epochs: 3, suffix: "oracle" } },
];
const SELECTION = { split: "dev", levels: [1], per_family: 1, max: 3, seeds: [1, 2] };

function suiteYaml(arms: readonly unknown[], selection: unknown = SELECTION): string {
  return JSON.stringify({
    description: "tiny test suite",
    prompts: ["{{task}}"],
    providers: arms.map((arm) => ({ id: `file://${EVALS}/provider.mjs`, label: (arm as { id: string }).id, config: { arm } })),
    tests: { path: `file://${EVALS}/tests.mjs`, config: selection },
    defaultTest: { assert: [{ type: "javascript", value: `file://${EVALS}/assert.mjs` }] },
    evaluateOptions: { maxConcurrency: 4 },
  }, null, 2); // JSON is YAML
}

let home: string;
let dir: string;
let ctx: LabContext;
let service: EvalService;
let lib: EvalSuiteRun;
beforeAll(async () => {
  await Deno.mkdir(repoPath("data", "evals"), { recursive: true });
  home = await Deno.makeTempDir({ dir: repoPath("data", "evals"), prefix: "_test-promptfoo-" });
  dir = join(home, "suites");
  await Deno.mkdir(dir);
  await Deno.writeTextFile(join(dir, "tiny.yaml"), suiteYaml(ARMS));
  await Deno.writeTextFile(join(dir, "badarm.yaml"), suiteYaml([{ id: "odd", strategy: "nope" }]));
  Object.assign(process.env, { PROMPTFOO_DISABLE_TELEMETRY: "1", PROMPTFOO_DISABLE_UPDATE: "1", PROMPTFOO_CONFIG_DIR: join(home, "promptfoo") });
  ctx = await LabContext.open();
  service = await EvalService.open(ctx, { concurrency: 4 });
  lib = await runEvalSuite(service, "tiny", { dir, out: join(home, "tiny.json") });
});
afterAll(async () => {
  await service?.close();
  await ctx?.close();
  if (home) await Deno.remove(home, { recursive: true }).catch(() => {});
});

describe("test generation", () => {
  it("picks per_family instances of each selected family from the catalog, times the seeds, deterministically", async () => {
    const { tests, catalogHash } = await service.tests({ split: "dev", levels: [2], per_family: 2, seeds: [5, 6] });
    const families = new Set(tests.map((t) => t.vars.family));
    expect(tests.length).toBe(families.size * 2 * 2);
    expect(tests.every((t) => t.vars.level === 2 && t.vars.split === "dev")).toBe(true);
    expect(tests.filter((t) => t.vars.seed === 6).map((t) => t.vars.attempt)).toEqual(Array(families.size * 2).fill(1));
    expect(await service.tests({ split: "dev", levels: [2], per_family: 2, seeds: [5, 6] })).toEqual({ tests, catalogHash });
    expect(catalogHash).toMatch(/^[0-9a-f]{64}$/);
    expect((await service.tests({ split: "dev", levels: [2], per_family: 1, seeds: [5, 6] })).catalogHash).not.toBe(catalogHash);
  });

  it("reads an external --challenges folder instead of the catalog, any split", async () => {
    const ext = await externalFamilyDir();
    try {
      const { tests } = await service.tests({ challenges: [ext], per_family: 3 });
      expect(tests.map((t) => [t.vars.family, t.vars.challenges])).toEqual(Array(3).fill(["my_revenue", [ext]]));
      await expect(service.tests({ challenges: [ext], families: ["revenue_for_period"] })).rejects.toThrow(
        /tests\.config\.families\[0\]: no family 'revenue_for_period' has external .* instances/,
      );
    } finally {
      await Deno.remove(ext, { recursive: true });
    }
  });
});

describe("lab eval run (promptfoo's library under Deno)", () => {
  it("writes the EvalRun, whose episodes are those of a direct runSuite of the same cases", async () => {
    const run: EvalRun = JSON.parse(await Deno.readTextFile(join(home, "tiny.json")));
    expect(run).toEqual(lib.run);
    const { tests, catalogHash } = await service.tests(SELECTION);
    expect(run.pins).toEqual({
      catalogHash,
      models: { base: "lab-mini", finetuned: expect.stringMatching(/^ft:lab-mini:oracle:[0-9a-f]{12}$/) },
      patternSnapshot: null,
      strategies: { base: "beta", finetuned: "beta" },
    });
    expect(run.episodes).toHaveLength(ARMS.length * tests.length);
    const resolved = await Promise.all(ARMS.map((a) => service.arm(a)));
    const challenges = [...new Set(tests.map((t) => t.vars.challenge))];
    const byId = new Map((await loadCatalog({ split: "dev" })).map((c) => [c.id, c]));
    const direct = await runSuite(
      { name: "direct", challenges: challenges.map((id) => byId.get(id)!), seeds: SELECTION.seeds, arms: resolved.map((r) => r.arm) },
      { models: (ref) => resolved.find((r) => r.modelId === ref)!.chat, pool: await ctx.catalogPool(), fitness: ctx.strategies.fitness },
    );
    const untimed = (e: EvalRun["episodes"][number]) => ({ ...e, latencyMs: 0 });
    expect(run.episodes.map(untimed)).toEqual(direct.episodes.map(untimed));
    expect(lib.stats.successes).toBe(run.episodes.filter((e) => e.pass).length);
  });

  it("scores each case with the lab's verdict and its named metrics: pass, score, query success, steps vs optimal", async () => {
    const out = JSON.parse(await Deno.readTextFile(lib.promptfooOut));
    const byKey = new Map(lib.run.episodes.map((e) => [`${e.arm}|${e.challengeId}|${e.seed}`, e]));
    for (const r of out.results.results) {
      const e = byKey.get(`${r.provider.label}|${r.vars.challenge}|${r.vars.seed}`)!;
      expect(r.response.output).toBe(e.answer ?? "");
      expect(r.response.metadata.episode).toEqual(e);
      expect({ success: r.success, score: r.score, named: r.gradingResult.namedScores }).toEqual({
        success: e.pass,
        score: e.score,
        named: {
          pass: e.pass ? 1 : 0,
          score: e.score,
          ...(e.queries ? { query_success: e.queriesOk / e.queries } : {}),
          ...(e.optimalSteps && e.steps ? { steps_vs_optimal: Math.min(1, e.optimalSteps / e.steps) } : {}),
        },
      });
    }
    expect(out.results.results).toHaveLength(lib.run.episodes.length);
  });

  it("--split runs the suite's selection on another catalog split, and refuses it with --challenges", async () => {
    const r = await runEvalSuite(service, "tiny", { dir, split: "test_id", view: false, out: join(home, "tiny_test_id.json") });
    const { tests } = await service.tests({ ...SELECTION, split: "test_id" });
    expect(r.run.episodes.map((e) => [e.split, e.challengeId, e.seed]).sort()).toEqual(
      ARMS.flatMap(() => tests.map((t) => [t.vars.split, t.vars.challenge, t.vars.seed])).sort(),
    );
    expect(new Set(r.run.episodes.map((e) => e.split))).toEqual(new Set(["test_id"]));
    await expect(runEvalSuite(service, "tiny", { dir, split: "dev", challenges: ["x"], view: false, out: join(home, "bad2.json") })).rejects.toThrow(
      /^--split picks a catalog split and --challenges replaces the catalog: give one of them$/,
    );
    await expect(Deno.stat(join(home, "bad2.json"))).rejects.toThrow();
  });

  it("refuses an unknown suite and a bad arm with one line, writing nothing", async () => {
    await expect(runEvalSuite(service, "nope", { dir, view: false })).rejects.toThrow(/^no suite 'nope' in .*: known suites are badarm, tiny$/);
    await expect(runEvalSuite(service, "badarm", { dir, view: false, out: join(home, "bad.json") })).rejects.toThrow(
      /badarm\.yaml: providers\[0\]: arm 'odd': no strategy 'nope' in .*; known: alpha, beta/,
    );
    await expect(Deno.stat(join(home, "bad.json"))).rejects.toThrow();
  });
});

describe("the promptfoo CLI on Node and the viewer", () => {
  it("runs the suite with `promptfoo eval` (the lab server started by the provider) and the viewer's API lists both runs", async () => {
    const { LAB_URL: _url, ...inherited } = Deno.env.toObject(); // no LAB_URL: the provider starts the lab server
    const env = { ...inherited, PROMPTFOO_CONFIG_DIR: join(home, "promptfoo") };
    const cli = repoPath("node_modules", "promptfoo", "dist", "src", "main.js");
    const out = join(home, "cli.json");
    const r = await new Deno.Command("node", { args: [cli, "eval", "-c", join(dir, "tiny.yaml"), "-o", out, "--no-cache", "--no-table", "--no-progress-bar"], env, stdout: "piped", stderr: "piped" }).output();
    const results = JSON.parse(await Deno.readTextFile(out));
    const passes = lib.run.episodes.filter((e) => e.pass).length;
    expect({ code: r.code, stats: results.results.stats }).toMatchObject({
      code: passes === lib.run.episodes.length ? 0 : 100, // promptfoo's exit code for failed tests
      stats: { successes: passes, failures: lib.run.episodes.length - passes, errors: 0 },
    });
    const cliPasses = results.results.results.map((x: { provider: { label: string }; vars: { challenge: string; seed: number }; success: boolean }) => `${x.provider.label}|${x.vars.challenge}|${x.vars.seed}|${x.success}`).sort();
    expect(cliPasses).toEqual(lib.run.episodes.map((e) => `${e.arm}|${e.challengeId}|${e.seed}|${e.pass}`).sort());

    // The viewer: promptfoo's own server (what `promptfoo view` starts), on Node, on a free port.
    const port = (() => {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const p = (l.addr as Deno.NetAddr).port;
      l.close();
      return p;
    })();
    const viewer = new Deno.Command("node", { args: [repoPath("node_modules", "promptfoo", "dist", "src", "server", "index.js")], env: { ...env, API_PORT: String(port) }, stdout: "null", stderr: "null" }).spawn();
    try {
      let listed: { evalId: string; description: string | null }[] | undefined;
      for (let i = 0; i < 100 && !listed; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/api/results`);
          listed = (await res.json()).data;
        } catch {
          await new Promise((ok) => setTimeout(ok, 100));
        }
      }
      expect(listed?.map((e) => e.evalId)).toEqual(expect.arrayContaining([lib.evalId, results.evalId]));
    } finally {
      viewer.kill("SIGTERM");
      await viewer.status;
    }
  });
});
