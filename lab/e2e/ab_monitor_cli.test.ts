/**
 * `lab finetune ab` and `lab finetune monitor` through the in-process CLI: an A/B shadow test of a tiny fine-tuned
 * lab-mini candidate on a lab server (need_more_data on a short stream; promote_B against the deterministic
 * placeholder champion, marking the version awaiting promotion, or with auto_promote promoting it and recording its
 * test_id re-estimate), the rollback monitor on planted eval runs (a drop rolls the version back with its audit entry
 * and event; a flat run does not fire), and configs/finetune.yaml's `ab:` and `monitor:` sections.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { defaultBackends, defaultTrainers, fineTunedLoader } from "../models/mod.ts";
import {
  abReport,
  DEFAULT_SHADOW_RATE,
  DEFAULT_STREAM_LENGTH,
  type EvalRun,
  MONITOR_DEFAULTS,
  ORACLE_DISTILL_DATASET,
  rollingCheck,
  SEED_001_AB_CRITERIA,
  signTest,
  type SuiteEpisode,
  TEST_ID_METRIC,
} from "../evals/mod.ts";
import { plantedEpisode } from "../evals/testing.ts";
import { finetuneConfig, fineTuneClient, loadFinetuneConfig, type ModelVersion, Registry, runStages, seed000Stages } from "../finetune/mod.ts";
import { normalQuantile, wilsonInterval } from "../stats/mod.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { lab } from "./testing.ts";

let dir: string;
let server: LocalServer;
/** The registry the A/B tests share: lab-mini-all-v1, a lab-mini core stage trained on 5 oracle-distillation lines. */
let registryPath: string;
let candidate: ModelVersion;

const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const Z95 = normalQuantile(0.975);

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-ab-monitor-" });
  const outDir = join(dir, "ft");
  server = await startServer({ backends: await defaultBackends(), trainers: defaultTrainers(outDir), dataDir: join(dir, "serve"), loadModel: fineTunedLoader(outDir) });
  const core = join(dir, "core.jsonl");
  await Deno.writeTextFile(core, (await Deno.readTextFile(ORACLE_DISTILL_DATASET)).split("\n").slice(0, 5).join("\n") + "\n");
  registryPath = join(dir, "ab.duckdb");
  const registry = await Registry.open(registryPath);
  const r = await runStages(fineTuneClient(server.url), seed000Stages({ core }), { base: "lab-mini", registry, pollMs: 10, ready: false });
  candidate = r.final!;
}, 30_000);
afterAll(async () => {
  await server?.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("lab finetune ab", () => {
  it("reports need_more_data on a 12-task stream, every task shadowed, and leaves the registry unchanged", async () => {
    expect([candidate.name, candidate.status]).toEqual(["lab-mini-all-v1", "candidate"]);
    const md = join(dir, "ab.md");
    const r = await lab("finetune", "ab", "--candidate", "lab-mini-all-v1", "--rate", "1", "--stream", "12", "--registry", registryPath, "--base-url", server.url, "--markdown", md);
    expect(r.code, r.err).toBe(0);
    // The figures lab-mini produced; everything else of the report follows from them and is checked whole.
    const tally = /^wins (\d+), ties (\d+), losses (\d+): /m.exec(r.out);
    const lift = /^pass lift clustered by family \(beside the A\/B, not one of its criteria\): ([+-]\d\.\d{3}) (.*): champion ([\d.]+) %, candidate ([\d.]+) % over 12 paired tasks in (\d+) families(.*)$/m.exec(r.out);
    expect(tally && lift, r.out).toBeTruthy();
    const [wins, ties, losses] = tally!.slice(1, 4).map(Number);
    const [champ, cand] = [Number(lift![3]), Number(lift![4])];
    expect(wins + ties + losses).toBe(12);
    expect(Number(lift![1])).toBeCloseTo((cand - champ) / 100, 3);
    // pass rates of 12 paired tasks: multiples of 1/12, shown to 0.1 %
    expect([champ, cand].map((x) => Math.abs((x * 12) / 100 - Math.round((x * 12) / 100)) < 0.01)).toEqual([true, true]);
    const n = wins + losses;
    const w = n ? wilsonInterval(wins, n, Z95) : null;
    const rate = n ? `${pct(wins / n)} [${pct(w!.lo)}, ${pct(w!.hi)}]` : null;
    // Below the horizon the order of the comparisons does not matter: the library's report of the same tally.
    const expected = abReport([...Array(wins).fill("win"), ...Array(ties).fill("tie"), ...Array(losses).fill("loss")]);
    expect(expected.recommendation).toBe("need_more_data");
    expect(r.out).toBe([
      `A/B shadow test on dev: candidate lab-mini-all-v1 (${candidate.providerModel}) vs champion lab-mini, strategy alpha`,
      "stream: seed 1, rate 1, 12 tasks at most; 12 served, 12 shadowed",
      `wins ${wins}, ties ${ties}, losses ${losses}: ${n} non-tied`,
      `win rate ${rate ? `${rate} (Wilson 95 %)` : "- (no non-tied comparison)"}`,
      `sign test p = ${signTest(wins, losses).pValue.toFixed(4)} (exact, two-sided)`,
      "recommendation: need_more_data (interim; fixed horizon of 100 non-tied, win rate ≥ 65.0 %, p < 0.05)",
      ...expected.reasons.map((x) => `  - ${x}`),
      "  - the 12-task stream ended (12 shadowed): lengthen it or raise the rate",
      lift![0],
      "registry unchanged: lengthen the stream (--stream) or raise the rate (--rate)",
    ].join("\n"));
    expect(lift![2]).toMatch(/^(\(no interval\)|\[-?\d\.\d{3}, -?\d\.\d{3}\])$/);
    const markdown = await Deno.readTextFile(md);
    expect(markdown.split("\n").slice(0, 16)).toEqual([
      "# A/B shadow test: lab-mini-all-v1 vs lab-mini",
      "",
      `Candidate \`${candidate.providerModel}\`, champion \`lab-mini\`, strategy alpha, on \`dev\`: stream seed 1, rate 1, 12 tasks at most (12 served, 12 shadowed).`,
      "",
      "| figure | value |",
      "|---|---|",
      `| wins | ${wins} |`,
      `| ties | ${ties} |`,
      `| losses | ${losses} |`,
      `| non-tied | ${n} of the 100 the fixed horizon decides on |`,
      `| win rate (Wilson 95 %) | ${rate ?? "-"} |`,
      `| sign test p (exact, two-sided) | ${signTest(wins, losses).pValue.toFixed(4)} |`,
      "| recommendation | **need_more_data** (interim) |",
      `| pass lift clustered by family | ${lift![0].slice(lift![0].indexOf(": ") + 2)} |`,
      "",
      "Reasons:",
    ]);
    expect((await (await Registry.open(registryPath)).get("lab-mini-all-v1")).status).toBe("candidate");
  }, 20_000);

  it("promote_B against the deterministic placeholder marks the version awaiting promotion; with auto_promote it is promoted and re-estimated on test_id", async () => {
    // Scaled criteria (the config's ab section is the commands' default): a horizon of 6 non-tied comparisons, where
    // 6 wins and no loss give p = 2 / 2^6 ≈ 0.031 < 0.05. The placeholder does not reason (its partial scores are the
    // verifier's credit for an untouched state), so the candidate, which does, wins where they differ.
    const cfg = (autoPromote: boolean) => {
      const path = join(dir, `ab-${autoPromote}.yaml`);
      Deno.writeTextFileSync(path, `orchestrator:\n  auto_promote: ${autoPromote}\nab: { rate: 1, stream_length: 60, min_non_tied: 6, min_win_rate: 0.65, alpha: 0.05 }\n`);
      return path;
    };
    const argv = ["finetune", "ab", "--candidate", candidate.providerModel, "--champion", "lab-mini-placeholder", "--registry", registryPath, "--base-url", server.url, "--actor", "ana"];
    const r = await lab(...argv, "--config", cfg(false), "--json");
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out);
    const ev = out.evaluation;
    expect(ev.ab).toEqual({
      procedure: "fixed-horizon",
      criteria: { minNonTied: 6, minWinRate: 0.65, alpha: 0.05 },
      stage: "final",
      wins: 6,
      ties: ev.ab.ties,
      losses: 0,
      nonTied: 6,
      winRate: 1,
      interval: { lo: wilsonInterval(6, 6, Z95).lo, hi: wilsonInterval(6, 6, Z95).hi },
      pValue: signTest(6, 0).pValue,
      ignored: ev.ab.ignored,
      recommendation: "promote_B",
      reasons: [
        `6 non-tied comparisons: the horizon (6 wins, 0 losses, ${ev.ab.ties} ties)`,
        `win rate 100.0 % [${pct(wilsonInterval(6, 6, Z95).lo)}, 100.0 %] ≥ 65.0 %`,
        `sign test p = ${signTest(6, 0).pValue.toFixed(4)} < 0.05`,
      ],
    });
    // The decision's comparisons are the stream's first tasks, in order, up to the sixth win.
    const decision = ev.comparisons.slice(0, ev.ab.ties + 6);
    expect(decision.map((c: { outcome: string }) => c.outcome).filter((o: string) => o === "win")).toHaveLength(6);
    expect(decision.at(-1).outcome).toBe("win");
    // Every comparison follows the rule: the higher verifier score wins, then the lower cost.
    type Cmp = { outcome: string; champion: { score: number; cost: number }; candidate: { score: number; cost: number } };
    const rule = ({ champion: a, candidate: b }: Cmp) => (b.score > a.score ? "win" : b.score < a.score ? "loss" : b.cost < a.cost ? "win" : b.cost > a.cost ? "loss" : "tie");
    expect(ev.comparisons.map((c: Cmp) => c.outcome)).toEqual(ev.comparisons.map(rule));
    expect(ev.comparisons.length).toBe(ev.ab.ties + 6 + ev.ab.ignored);
    expect([ev.recommendation, ev.reasons]).toEqual(["promote_B", ev.ab.reasons]);
    expect({ ...out, evaluation: undefined }).toEqual({
      candidate: { model: candidate.providerModel, version: "lab-mini-all-v1" },
      champion: { model: "lab-mini-placeholder", version: null },
      stream: { seed: 1, rate: 1, length: 60 },
      strategy: "alpha",
      evalModel: "lab-mini",
      evaluation: undefined,
      action: { kind: "awaiting_promotion", message: "lab-mini-all-v1 awaits promotion: lab finetune promote lab-mini-all-v1" },
      reestimate: null,
    });
    const registry = await Registry.open(registryPath);
    const reason = `A/B promote_B vs lab-mini-placeholder: ${ev.ab.reasons.join("; ")}`;
    expect((await registry.audit("lab-mini-all-v1")).slice(1).map((a) => [a.from, a.to, a.actor, a.reason])).toEqual([["candidate", "awaiting_promotion", "ana", reason]]);
    expect((await registry.events({ version: "lab-mini-all-v1" })).map((e) => [e.type, e.data])).toEqual([
      ["fine_tuning.completed", expect.anything()],
      ["fine_tuning.ready_for_promotion", { reason }],
    ]);

    // auto_promote: promoted, then its success re-estimated on test_id (1 instance per level, against the champion).
    const auto = await lab(...argv, "--config", cfg(true), "--test-per-level", "1");
    expect(auto.code, auto.err).toBe(0);
    const v = await registry.get("lab-mini-all-v1");
    const est = v.metrics[TEST_ID_METRIC] as { rate: number; episodes: number; families: number; lift: { baseline: string } };
    expect([v.status, est.episodes, est.families, est.lift.baseline]).toEqual(["promoted", 5, 5, "lab-mini-placeholder"]);
    expect(auto.out.split("\n").slice(-2)).toEqual([
      "promoted lab-mini-all-v1 (auto_promote)",
      `lab-mini-all-v1: test_id success ${(est.rate * 100).toFixed(1)}% over 5 episodes (5 families), recorded as ${TEST_ID_METRIC}`,
    ]);
    expect((await registry.audit("lab-mini-all-v1")).slice(2).map((a) => [a.from, a.to, a.actor, a.reason])).toEqual([
      ["awaiting_promotion", "promoted", "ana", `autoPromote: ${reason}`],
      ["promoted", "promoted", expect.any(String), "test_id re-estimate after promotion"],
    ]);
  }, 30_000);

  it("fails in one line on bad input", async () => {
    const bad = [
      [["finetune", "ab", "--registry", registryPath], 2, /^lab finetune ab: give --candidate/],
      [["finetune", "ab", "--candidate", "lab-mini-all-v1", "--rate", "0", "--registry", registryPath], 2, /--rate must be a share in \(0, 1\], found '0'/],
      [["finetune", "ab", "--candidate", "lab-mini-all-v9", "--registry", registryPath], 2, /--candidate lab-mini-all-v9 looks like a version name, but the registry .* has no such version/],
      [["finetune", "ab", "--candidate", "lab-mini", "--registry", join(dir, "none.duckdb")], 2, /the candidate and the champion are the same model \(lab-mini\)/],
      [["finetune", "ab", "--candidate", "lab-mini-all-v1", "--registry", registryPath, "--config", join(dir, "missing.yaml")], 1, /missing\.yaml: cannot read the fine-tuning config/],
    ] as const;
    for (const [argv, code, message] of bad) {
      const e = await lab(...argv);
      expect([e.code, e.err.split("\n").length], e.err).toEqual([code, 1]);
      expect(e.err).toMatch(message);
    }
    expect((await lab("finetune", "ab", "--help")).code).toBe(0);
  });
});

/** A planted eval run: one episode per entry, of model `model`, passed or not. */
function run(entries: [model: string, pass: boolean][]): EvalRun {
  const episodes: SuiteEpisode[] = entries.map(([model, pass], i) => plantedEpisode("arm", `fam${i % 7}/t${i}`, pass, { model, seed: i }));
  return { suite: "labmini", createdAt: "2026-01-01T00:00:00.000Z", commit: null, pins: { catalogHash: "-", models: {}, patternSnapshot: null, strategies: {} }, shard: null, episodes };
}
const times = (n: number, model: string, pass: boolean) => Array.from({ length: n }, () => [model, pass] as [string, boolean]);

describe("lab finetune monitor", () => {
  /** A registry where v1 was promoted, then v2 (v1 retired), with v2's test_id success recorded at 0.8. */
  async function promotedRegistry(name: string): Promise<{ registry: Registry; path: string; v2: ModelVersion }> {
    const path = join(dir, `${name}.duckdb`);
    const registry = await Registry.open(path);
    const reg = (model: string) =>
      registry.register({ base: "lab-mini", category: "all", provider: "lab", providerModel: model, trainedFrom: "lab-mini", datasetHash: "-", jobId: null, stage: "core", parent: null, metrics: {} });
    await registry.promote((await reg("ft:lab-mini:core:aaaaaaaaaaaa")).name, { actor: "ana" });
    const v2 = await reg("ft:lab-mini:core:bbbbbbbbbbbb");
    await registry.promote(v2.name, { actor: "ana" });
    await registry.recordMetrics(v2.name, { [TEST_ID_METRIC]: { rate: 0.8 } });
    return { registry, path, v2: await registry.get(v2.name) };
  }
  const write = async (file: string, r: EvalRun) => {
    await Deno.writeTextFile(join(dir, file), JSON.stringify(r));
    return join(dir, file);
  };

  it("rolls back a promoted version whose rolling success drops, with its audit entry and event, and exits 1", async () => {
    const { registry, path, v2 } = await promotedRegistry("drop");
    const m = v2.providerModel;
    // Run order: 20 passes and 10 failures, then 20 failures (other models' episodes between) and 10 passes. At the
    // 50th episode the window is 20 of 50: 0.400 [0.276, 0.538], below 0.8 − 0.1.
    const a = await write("drop-a.json", run([...times(20, m, true), ...times(5, "lab-mini", true), ...times(10, m, false)]));
    const b = await write("drop-b.json", run([...times(20, m, false), ...times(5, "lab-mini", false), ...times(10, m, true)]));
    const r = await lab("finetune", "monitor", "--version", "lab-mini-all-v2", "--run", a, b, "--registry", path);
    expect(r.code, r.err).toBe(1);
    const check = rollingCheck([...Array(20).fill(true), ...Array(30).fill(false)], { reference: 0.8 });
    expect(check.reason).toBe("0.400 [0.276, 0.538] over the last 50 lies below 0.800 − 0.100 = 0.700");
    expect(r.out).toBe([
      `monitor lab-mini-all-v2 (${m}): 60 episodes of 2 runs (10 of other models left out)`,
      `reference 0.800 (${TEST_ID_METRIC}), window 50, threshold 0.100, level 0.95, auto_rollback on`,
      `fired at episode 50: rolling success ${check.reason}`,
      "rolled back lab-mini-all-v2; lab-mini-all-v1 is promoted again",
    ].join("\n"));
    const reason = `autoRollback: rolling success ${check.reason}`;
    expect((await registry.audit()).slice(-2).map((e) => [e.version, e.from, e.to, e.actor, e.reason])).toEqual([
      ["lab-mini-all-v2", "promoted", "rolled_back", "monitor", reason],
      ["lab-mini-all-v1", "retired", "promoted", "monitor", "restored by the rollback of lab-mini-all-v2"],
    ]);
    expect((await registry.events()).at(-1)).toMatchObject({ type: "fine_tuning.rolled_back", version: "lab-mini-all-v2", data: { restored: "lab-mini-all-v1", reason } });
    // Rolled back, it is no longer watched: a one-line usage error.
    const again = await lab("finetune", "monitor", "--version", "lab-mini-all-v2", "--run", a, "--registry", path);
    expect([again.code, again.err]).toEqual([
      2,
      "lab finetune monitor: lab-mini-all-v2 is rolled_back, not promoted: the monitor watches a promoted version ('lab finetune list --status promoted') — see 'deno task lab finetune monitor --help'",
    ]);
  });

  it("does not fire on a flat run (exit 0, registry unchanged), and with auto_rollback off reports a drop without rolling back", async () => {
    const { registry, path, v2 } = await promotedRegistry("flat");
    const m = v2.providerModel;
    const flat = await write("flat.json", run(Array.from({ length: 60 }, (_, i) => [m, i % 5 !== 0] as [string, boolean])));
    const r = await lab("finetune", "monitor", "--version", "lab-mini-all-v2", "--run", flat, "--registry", path, "--json");
    expect(r.code, r.err).toBe(0);
    const last50 = Array.from({ length: 50 }, (_, i) => (i + 10) % 5 !== 0);
    expect(JSON.parse(r.out)).toEqual({
      version: "lab-mini-all-v2",
      model: m,
      runs: 1,
      episodes: 60,
      skipped: 0,
      reference: 0.8,
      window: 50,
      threshold: 0.1,
      level: 0.95,
      autoRollback: true,
      fired: false,
      firedAt: null,
      check: rollingCheck(last50, { reference: 0.8 }),
      outcome: null,
    });
    const before = await registry.audit();
    expect(before.at(-1)).toMatchObject({ version: "lab-mini-all-v2", to: "promoted" });

    // auto_rollback off, a shorter window from the command line: fired (exit 1), reported, not rolled back.
    const off = join(dir, "off.yaml");
    await Deno.writeTextFile(off, "orchestrator:\n  auto_rollback: false\nmonitor: { window: 20, threshold: 0.2, level: 0.9 }\n");
    const drop = await write("off.json", run(times(20, m, false)));
    const o = await lab("finetune", "monitor", "--version", "lab-mini-all-v2", "--run", drop, "--registry", path, "--config", off, "--window", "10");
    expect(o.code, o.err).toBe(1);
    const c = rollingCheck(Array(10).fill(false), { reference: 0.8, window: 10, threshold: 0.2, level: 0.9 });
    expect(o.out).toBe([
      `monitor lab-mini-all-v2 (${m}): 20 episodes of 1 run (0 of other models left out)`,
      `reference 0.800 (${TEST_ID_METRIC}), window 10, threshold 0.200, level 0.9, auto_rollback off`,
      `fired at episode 10: rolling success ${c.reason}`,
      `not rolled back: rolling success ${c.reason}; autoRollback is off: roll it back with 'lab finetune rollback lab-mini-all-v2'`,
    ].join("\n"));
    expect(await registry.audit()).toEqual(before);
  });

  it("fails in one line with exit 2 on bad input (1 means it fired)", async () => {
    const { path, v2 } = await promotedRegistry("bad");
    const other = await write("other.json", run(times(5, "lab-mini", true)));
    const notJson = join(dir, "not.json");
    await Deno.writeTextFile(notJson, "{");
    const ok = await write("ok.json", run(times(5, v2.providerModel, true)));
    const bad = [
      [["--run", ok], /^lab finetune monitor: give --version <name>/],
      [["--version", "lab-mini-all-v2"], /give --run <run\.json>/],
      [["--version", "lab-mini-all-v1", "--run", ok], /lab-mini-all-v1 is retired, not promoted/],
      [["--version", "lab-mini-all-v7", "--run", ok], /no version 'lab-mini-all-v7' in the registry/],
      [["--version", "lab-mini-all-v2", "--run", other], /none of the 5 episodes of .*other\.json ran ft:lab-mini:core:bbbbbbbbbbbb \(lab-mini-all-v2\)/],
      [["--version", "lab-mini-all-v2", "--run", notJson], /not\.json: not valid JSON/],
      [["--version", "lab-mini-all-v2", "--run", ok, "--window", "1"], /--window must be an integer ≥ 2, found '1'/],
      [["--version", "lab-mini-all-v2", "--run", ok, "--threshold", "2"], /--threshold must be a number in \[0, 1\], found '2'/],
    ] as const;
    for (const [argv, message] of bad) {
      const e = await lab("finetune", "monitor", ...argv, "--registry", path);
      expect([e.code, e.err.split("\n").length], e.err).toEqual([2, 1]);
      expect(e.err).toMatch(message);
    }
    expect((await lab("finetune", "monitor", "--help")).code).toBe(0);
  });
});

describe("configs/finetune.yaml's ab and monitor sections", () => {
  it("hold seed 001's defaults (the constants of lab/evals), committed and when left out", async () => {
    const seed001 = {
      ab: {
        rate: DEFAULT_SHADOW_RATE,
        stream_length: DEFAULT_STREAM_LENGTH,
        min_non_tied: SEED_001_AB_CRITERIA.minNonTied,
        min_win_rate: SEED_001_AB_CRITERIA.minWinRate,
        alpha: SEED_001_AB_CRITERIA.alpha,
      },
      monitor: { ...MONITOR_DEFAULTS },
    };
    const committed = await loadFinetuneConfig();
    expect({ ab: committed.ab, monitor: committed.monitor }).toEqual(seed001);
    const empty = finetuneConfig({});
    expect({ ab: empty.ab, monitor: empty.monitor }).toEqual(seed001);
    expect(finetuneConfig({ ab: { rate: 1 }, monitor: { window: 20 } })).toMatchObject({ ab: { ...seed001.ab, rate: 1 }, monitor: { ...seed001.monitor, window: 20 } });
  });

  it("names the field of a bad value or an unknown key in one line", async () => {
    const bad = join(dir, "bad.yaml");
    const cases = [
      ["ab:\n  rate: 0\n", /bad\.yaml: ab\.rate: must be > 0$/],
      ["ab:\n  rate: 1.5\n", /bad\.yaml: ab\.rate: must be ≤ 1$/],
      ["ab:\n  stream_length: 2.5\n", /bad\.yaml: ab\.stream_length: must be an integer$/],
      ["ab:\n  min_non_tied: 0\n", /bad\.yaml: ab\.min_non_tied: must be a positive integer$/],
      ["ab:\n  min_win_rate: 0.4\n", /bad\.yaml: ab\.min_win_rate: must be ≥ 0\.5$/],
      ["ab:\n  alpha: 1\n", /bad\.yaml: ab\.alpha: must be < 1$/],
      ["ab:\n  min_nontied: 5\n", /bad\.yaml: ab: .*min_nontied/],
      ["monitor:\n  window: 1\n", /bad\.yaml: monitor\.window: must be ≥ 2$/],
      ["monitor:\n  threshold: -0.1\n", /bad\.yaml: monitor\.threshold: must be ≥ 0$/],
      ["monitor:\n  level: 0\n", /bad\.yaml: monitor\.level: must be > 0$/],
      ["monitor:\n  windw: 5\n", /bad\.yaml: monitor: .*windw/],
      ["monitors:\n  window: 5\n", /bad\.yaml: .*monitors/],
    ] as const;
    for (const [text, message] of cases) {
      await Deno.writeTextFile(bad, text);
      const e = await loadFinetuneConfig(bad).catch((e: Error) => e);
      expect(e, text).toBeInstanceOf(Error);
      expect((e as Error).message.split("\n")).toHaveLength(1);
      expect((e as Error).message).toMatch(message);
    }
  });
});
