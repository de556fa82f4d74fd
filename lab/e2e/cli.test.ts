/**
 * End-to-end tests of the `lab` command through a real process: `demo` at the tiny scale, `--help` on every
 * command, and one-line errors with a non-zero exit for bad input.
 */
import { afterAll, describe, expect, it } from "vitest";
import { cpSync, existsSync } from "node:fs";
import { COMMANDS } from "../cli/mod.ts";
import { ROOT } from "../util/mod.ts";
import { PatternStore } from "../patterns/mod.ts";

async function lab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return await labIn(undefined, ...args);
}

/** Runs the `lab` command of the repository at `root` (default: this one), from that folder. */
async function labIn(root: string | undefined, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "lab/cli/main.ts", ...args],
    ...(root ? { cwd: root } : {}),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

describe("lab demo (end to end, tiny scale)", () => {
  it("builds the sandbox, lists the tools and walks a scripted episode that passes its verifier", async () => {
    const dir = await Deno.makeTempDir({ prefix: "lab-demo-" });
    const r = await lab("demo", "--scale", "tiny", "--dir", dir, "--json");
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.sandbox.spec).toEqual({ seed: 42, scale: "tiny", asOf: "2025-11-28" });
    expect(out.sandbox.orgs.length).toBe(3);
    expect(out.tools).toEqual(["dbRead", "dbWrite", "schemaInfo", "viewsList", "todoList", "submitAnswer"]);
    expect(out.steps.map((s: { tool: string }) => s.tool)).toEqual(["schemaInfo", "dbRead", "submitAnswer"]);
    expect(out.verdict).toMatchObject({ pass: true, score: 1 });
    // The embedded lab-mini model attempts the same task through the local OpenAI-compatible server.
    expect(out.labMini).toMatchObject({ model: { name: "lab-mini" }, strategy: "gamma" });
    expect(out.labMini.tools.length).toBeGreaterThan(0);
    expect(typeof out.labMini.verdict.pass).toBe("boolean");
    // Then a small lab-mini tournament on train (3 strategies × 24 challenges × k=1 × 2 generations) into a temp
    // store; its episodes become patterns; dev instances run with injection off and on.
    expect(out.tournament).toMatchObject({ model: { name: "lab-mini" }, episodes: 144 });
    expect(out.tournament.challenges).toHaveLength(24);
    expect(out.tournament.generations.map((g: { replaced: string[] }) => g.replaced.length)).toEqual([1, 0]);
    const board = out.tournament.leaderboard as { strategyId: string; episodes: number; success: { estimate: number } }[];
    expect(board.map((r) => r.strategyId).sort()).toEqual(
      [...out.tournament.generations[0].population, ...out.tournament.generations[0].children.map((c: { id: string }) => c.id)].sort(),
    );
    expect(board.reduce((a, r) => a + r.episodes, 0)).toBe(144);
    const [dev] = out.patternLift.splits;
    expect(dev).toMatchObject({ split: "dev", pairs: 24 });
    expect(dev.lift.estimate).toBeCloseTo(dev.on - dev.off, 10);
    expect(out.patternLift.patterns.stored).toBeGreaterThan(0);
    // Then it curates the temporary stores: under configs/datasets.yaml as committed (an unmarked episode scores
    // ≤ 0.65, below bronze), and with the self-improve experiment's lowered tiers, the set it fine-tunes on.
    expect(out.dataset.read).toBeGreaterThanOrEqual(144);
    expect(out.dataset.accepted).toBe(out.dataset.byTier.gold + out.dataset.byTier.silver + out.dataset.byTier.bronze);
    expect(Object.keys(out.dataset.stages)).toEqual(["core", "extended", "comprehensive"]);
    const lowered = out.fineTuneDataset;
    expect(lowered.tiers).toEqual({ gold: 0.45, silver: 0.3, bronze: 0 });
    expect(lowered.summary).toMatchObject({ read: out.dataset.read, excluded: { belowBronze: 0, failedTurn: out.dataset.excluded.failedTurn } });
    expect(lowered.summary.accepted).toBe(out.dataset.accepted + out.dataset.excluded.belowBronze - (lowered.summary.excluded.duplicates - out.dataset.excluded.duplicates));
    // The core stage trains on the lowered set's core examples; the version is registered; its dev lift over the base
    // is the difference of the two arms' rates on the same 24 dev pairs, with an interval only from 10 families.
    const { lift, ...version } = out.fineTune;
    expect(version).toEqual({
      version: "lab-mini-all-v1",
      model: expect.stringMatching(/^ft:lab-mini:core:[0-9a-f]{12}$/),
      stage: "core",
      examples: lowered.summary.stages.core,
      status: "awaiting_promotion",
    });
    expect(version.examples).toBeGreaterThan(0);
    expect(lift).toEqual({
      estimate: expect.any(Number),
      lo: lift.clusters >= 10 ? expect.any(Number) : null,
      hi: lift.clusters >= 10 ? expect.any(Number) : null,
      base: expect.any(Number),
      fineTuned: expect.any(Number),
      pairs: 24,
      clusters: expect.any(Number),
      note: lift.clusters >= 10 ? null : `${lift.clusters} families: an interval needs ≥ 10`,
    });
    expect(lift.estimate).toBeCloseTo(lift.fineTuned - lift.base, 10);
    expect([lift.base * 24, lift.fineTuned * 24].map((n) => Math.abs(n - Math.round(n)) < 1e-9)).toEqual([true, true]);
    expect(lift.clusters).toBeGreaterThan(1);
    if (lift.lo !== null) expect(lift.lo <= lift.estimate && lift.estimate <= lift.hi).toBe(true);
    // The loop's result: base, context and fine-tuned on the lift's dev instances and seeds, one table, whose
    // figures are the lift's and the fine-tune's; the report of what ran carries them as its headline numbers.
    const arms = out.headline.arms as { arm: string; success: { estimate: number; lo: number | null }; lift: { estimate: number; pairs: number } | null }[];
    expect(out.headline).toMatchObject({ split: "dev", instances: 24, seeds: [expect.any(Number)], strategy: "gamma", missing: [] });
    expect(arms.map((a) => a.arm)).toEqual(["base", "context", "finetuned"]);
    expect(arms.map((a) => a.success.estimate)).toEqual([dev.off, dev.on, lift.fineTuned]);
    expect(arms[0].success.estimate).toBe(lift.base);
    expect(arms.map((a) => a.lift?.estimate ?? null)).toEqual([null, dev.lift.estimate, lift.estimate]);
    expect(arms.slice(1).map((a) => a.lift!.pairs)).toEqual([24, 24]);
    expect(out.report).toMatch(/\/data\/reports\/demo-tiny\.html$/);
    expect(existsSync(out.report)).toBe(true);
    const html = await Deno.readTextFile(out.report);
    const onPage = Object.fromEntries([...html.matchAll(/data-key="([^"]+)" data-value="([^"]*)"/g)].map((m) => [m[1], m[2] === "" ? null : Number(m[2])]));
    expect(onPage).toEqual(Object.fromEntries(arms.flatMap((a) => [
      [`dev.${a.arm}.accuracy`, a.success.estimate],
      ...(a.lift ? [[`dev.${a.arm}.lift`, a.lift.estimate]] : []),
    ])));
    // A second run reuses the built sandbox and gives the same verdict.
    const again = JSON.parse((await lab("demo", "--scale", "tiny", "--dir", dir, "--json")).stdout);
    expect(again.verdict).toEqual(out.verdict);
    const untimed = (steps: { ms: number }[]) => steps.map(({ ms: _ms, ...rest }) => rest);
    expect(untimed(again.steps)).toEqual(untimed(out.steps));
    expect(again.labMini).toEqual(out.labMini);
    // The tournament's store is temporary: the second demo runs it afresh, to the same leaderboard.
    expect(again.tournament).toEqual(out.tournament);
    expect(again.patternLift).toEqual(out.patternLift);
    expect(again.dataset).toEqual(out.dataset);
    expect(again.fineTuneDataset).toEqual(out.fineTuneDataset);
    expect(again.fineTune).toEqual(out.fineTune);
  });

  it("prints the sandbox shape and the tools as text", async () => {
    const dir = await Deno.makeTempDir({ prefix: "lab-demo-" });
    const r = await lab("demo", "--scale", "tiny", "--dir", dir);
    expect(r.code).toBe(0);
    for (const s of ["== The ERP sandbox ==", "sales_invoices", "== Agent tools ==", "dbWrite", "verdict", "PASS", "== lab-mini attempts it", "== Learning from a tournament", "rating [95% CI]", "Pattern-injection lift", "dev: 24 instances", "== Curating what it learned", "configs/datasets.yaml's tiers (gold 0.9, silver 0.75, bronze 0.6): read ", "curated with lowered tiers: gold 0.45, silver 0.3, bronze 0 ", "core stage: ", "→ lab-mini-all-v1 (ft:lab-mini:core:", "dev lift of lab-mini-all-v1 over lab-mini (pass, 24 pairs, 95% CI clustered by ", "== The loop's result on dev: base vs context vs fine-tuned", "== The report of what ran =="]) {
      expect(r.stdout).toContain(s);
    }
    // Its last line is the report's path.
    const last = r.stdout.trimEnd().split("\n").at(-1)!;
    expect(last).toBe("data/reports/demo-tiny.html");
    expect(existsSync(`${ROOT}/${last}`)).toBe(true);
  });
});

describe("lab CLI", () => {
  it("has --help on every command", async () => {
    for (const cmd of COMMANDS) {
      const r = await lab(...cmd.name.split(" "), "--help");
      expect(r.code, cmd.name).toBe(0);
      expect(r.stdout, cmd.name).toContain(`Usage: lab ${cmd.name.split(" ")[0]}`);
      expect(r.stdout, cmd.name).toContain("--help");
    }
    const top = await lab("--help");
    expect(top.code).toBe(0);
    for (const cmd of COMMANDS) expect(top.stdout).toContain(cmd.name);
  });

  it("answers bad input with one line saying what, where and what to do, and a non-zero exit", async () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /^lab: unknown command 'frobnicate' — run 'deno task lab --help'/],
      [["demo", "--scale", "huge"], /^lab demo: --scale must be one of tiny, small, large, found 'huge' — see/],
      [["demo", "--as-of", "2025-13-45"], /^lab demo: --as-of must be a date YYYY-MM-DD, found '2025-13-45'/],
      [["demo", "--seed", "x"], /^lab demo: --seed must be an integer ≥ 0, found 'x'/],
      [["demo", "--bogus"], /^lab demo: Unknown option '--bogus'/],
      [["sandbox", "info", "--file", "/nonexistent.duckdb"], /^lab sandbox info: no sandbox at \/nonexistent\.duckdb: build it with/],
      [["challenges", "show", "no/such/id"], /^lab challenges show: no challenge instance 'no\/such\/id'/],
      [["challenges", "validate", "/nonexistent"], /^lab challenges validate: \/nonexistent: no such file or directory/],
    ];
    for (const [args, re] of cases) {
      const r = await lab(...args);
      expect(r.code, args.join(" ")).not.toBe(0);
      const lines = r.stderr.trim().split("\n").filter((l) => !l.includes("DeprecationWarning"));
      expect(lines.length, `${args.join(" ")}: ${r.stderr}`).toBe(1);
      expect(lines[0], args.join(" ")).toMatch(re);
    }
  });

  it("runs a tournament on --challenges <folder>: the folder's own family, instances of any split, named in the output", async () => {
    const dir = await Deno.makeTempDir({ prefix: "lab-external-" });
    try {
      await Deno.mkdir(`${dir}/mine`);
      const family = await Deno.readTextFile(`${ROOT}/data/challenges/revenue_for_period.yaml`);
      await Deno.writeTextFile(`${dir}/mine/my_revenue.yaml`, family.replace(/^family: revenue_for_period$/m, "family: my_revenue"));
      await Deno.writeTextFile(
        `${dir}/t.yaml`,
        "strategies: [alpha, beta]\nchallenges: { max_instances: 3 }\nattempts: 1\ngenerations: 1\nsandbox: { scale: tiny }\n",
      );
      const r = await lab("tournament", "--config", `${dir}/t.yaml`, "--db", `${dir}/lab.duckdb`, "--challenges", `${dir}/mine`);
      expect(r.code, r.stderr).toBe(0);
      const line = r.stdout.split("\n").find((l) => l.startsWith("challenges: "));
      expect(line).toMatch(/^challenges: 3 instances of the external set .*mine \(whatever their split\): my_revenue\/t\d+\/[^,]+, my_revenue\/.+, my_revenue\/.+$/);
      expect(r.stdout).toMatch(/^run t-[0-9a-f]{12} in .*lab\.duckdb: completed/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  it("refuses a malformed --challenges file in the demo before it builds or runs anything", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/bad.yaml`, "family: bad\nlevel: 9\n");
      const r = await lab("demo", "--scale", "tiny", "--dir", `${dir}/sandbox`, "--challenges", dir);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toMatch(new RegExp(`^lab demo: ${dir}/bad\\.yaml: level: [^\\n]+$`));
      expect(r.stdout).toBe("");
      expect(existsSync(`${dir}/sandbox`)).toBe(false);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  it("validates a malformed challenge file with the file, the path inside it and the reason", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/bad.yaml`, "family: bad\nlevel: 9\n");
    const r = await lab("challenges", "validate", dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^lab challenges validate: ${dir}/bad\\.yaml: level: `));
  });
});

/** Temp folders of the tests below, removed when the file is done. */
const temps: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix });
  temps.push(dir);
  return dir;
}
afterAll(async () => {
  for (const dir of temps) await Deno.remove(dir, { recursive: true }).catch(() => {});
});

/** A level-1 challenge family file whose verifier is `verifier` (YAML lines indented under `verifier:`). */
function familyFile(id: string, outcome: string, verifier: string): string {
  return [
    `family: ${id}`,
    "level: 1",
    "category: finance",
    "role: cfo",
    `outcome: ${outcome}`,
    "description: A test family.",
    "templates:",
    '  - "What was revenue {period}?"',
    '  - "Revenue {period}, please."',
    '  - "Tell me the revenue {period}."',
    '  - "How much did we sell {period}?"',
    "params:",
    "  period: [current_month, previous_month, two_months_ago]",
    "verifier:",
    verifier,
    "",
  ].join("\n");
}

describe("lab challenges validate runs every verifier query on the sandbox", () => {
  // One tiny sandbox for both runs (the first builds it).
  const sandboxes = Deno.makeTempDirSync({ prefix: "lab-validate-sandbox-" });
  temps.push(sandboxes);
  // Progress lines ("sandbox tiny: 40% …", "verifier SQL: 40% …") appear only when a step takes over a second.
  const errorLines = (stderr: string) =>
    stderr.trim().split("\n").filter((l) => l && !l.includes("DeprecationWarning") && !/^(sandbox tiny|verifier SQL): /.test(l));

  it("fails on verifier SQL naming a missing table, with the file and the family; the committed catalog passes", async () => {
    const dir = await tempDir("lab-validate-");
    await Deno.writeTextFile(
      `${dir}/broken.yaml`,
      familyFile("broken_sql_family", "number", "  kind: number\n  reference: SELECT count(*) FROM no_such_table WHERE d >= {period.start}"),
    );
    const r = await lab("challenges", "validate", "--challenges", dir, "--dir", sandboxes);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    const lines = errorLines(r.stderr);
    expect(lines).toHaveLength(1);
    // The only problem is the extra file's: every committed family's SQL ran fine.
    expect(lines[0]).toMatch(
      new RegExp(
        `^lab challenges validate: ${dir}/broken\\.yaml: family 'broken_sql_family': on broken_sql_family/t\\d/[a-z_]+/o\\d, ` +
          "verifier\\.reference fails: Catalog Error: Table with name no_such_table does not exist!; fix the SQL$",
      ),
    );
  });

  it("fails on a reference query that returns no rows where the outcome needs them, and passes good files with counts", async () => {
    const dir = await tempDir("lab-validate-");
    const good = familyFile("good_family", "number", "  kind: number\n  reference: SELECT count(*) FROM sales_invoices WHERE invoice_date >= {period.start}");
    await Deno.writeTextFile(`${dir}/good.yaml`, good);
    const ok = await lab("challenges", "validate", dir, "--dir", sandboxes);
    expect(errorLines(ok.stderr)).toEqual([]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`ok: ${dir}\n`);
    expect(ok.stdout).toMatch(/^verifier SQL: \d+ queries \(\d+ distinct\) ran on the tiny sandbox; none failed or came back empty$/m);

    await Deno.writeTextFile(
      `${dir}/empty.yaml`,
      familyFile("empty_family", "table", "  kind: table\n  reference: SELECT name FROM customers WHERE name = 'nobody'\n  key: [{ name: name }]"),
    );
    const r = await lab("challenges", "validate", dir, "--dir", sandboxes);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(errorLines(r.stderr)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^lab challenges validate: ${dir}/empty\\.yaml: family 'empty_family': on empty_family/t\\d/[a-z_]+/o\\d, ` +
            "verifier\\.reference returns no row, but the verifier reads a row from it; fix the query or the family's parameters$",
        ),
      ),
    ]);
  });
});

describe("lab patterns import/export failures", () => {
  const oneLine = (stderr: string) => stderr.trim().split("\n").filter((l) => l && !l.includes("DeprecationWarning"));

  /** A store with two asked patterns, exported with the CLI into `<dir>/export`. */
  async function exported(): Promise<{ dir: string; source: string; out: string }> {
    const dir = await tempDir("lab-patterns-cli-");
    const source = `${dir}/source.duckdb`;
    {
      await using s = await PatternStore.open(source);
      await s.addAsk({ question: "How many customers do we have?", role: "analyst", queries: [{ tool: "dbRead", sql: "SELECT count(*) FROM customers" }] });
      await s.addAsk({ question: "Open purchase orders", role: "buyer", queries: [{ tool: "dbRead", sql: "SELECT * FROM purchase_orders" }] });
    }
    const out = `${dir}/export`;
    const r = await lab("patterns", "export", out, "--patterns", source);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    return { dir, source, out };
  }

  it("refuses a missing folder and a truncated Parquet file in one line, leaving the store as it was (or absent)", async () => {
    const { dir, source, out } = await exported();
    const digest = async (path: string) => new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path))).join(",");
    const before = await digest(source);
    const missing = await lab("patterns", "import", `${dir}/no-such-folder`, "--patterns", source);
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toEqual([
      `lab patterns import: cannot import ${dir}/no-such-folder: no such file or folder; pass a folder written by exportParquet ('lab patterns export')`,
    ]);

    const file = (await Array.fromAsync(Deno.readDir(`${out}/run_id=ask/category=ask`)))[0].name;
    const path = `${out}/run_id=ask/category=ask/${file}`;
    const bytes = await Deno.readFile(path);
    await Deno.writeFile(path, bytes.slice(0, bytes.length - 100));
    for (const target of [source, `${dir}/fresh.duckdb`]) {
      const r = await lab("patterns", "import", out, "--patterns", target, "--on-conflict", "skip");
      expect(r.code).toBe(1);
      expect(oneLine(r.stderr)).toEqual([
        `lab patterns import: cannot import ${out}: ${path} is truncated or not a Parquet file; nothing was imported — export the folder again`,
      ]);
    }
    expect(await digest(source)).toBe(before);
    expect(await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).not.toContain("fresh.duckdb");
  });

  it("refuses to export into a destination it cannot write, leaving nothing behind", async () => {
    const { dir, source } = await exported();
    await Deno.writeTextFile(`${dir}/a-file`, "not a folder");
    const r = await lab("patterns", "export", `${dir}/a-file/export`, "--patterns", source);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toEqual([
      `lab patterns export: cannot export to ${dir}/a-file/export: ${dir}/a-file is a file, not a folder; choose another folder`,
    ]);
    const again = await lab("patterns", "export", `${dir}/export`, "--patterns", source);
    expect(again.code).toBe(1);
    expect(oneLine(again.stderr)).toEqual([
      `lab patterns export: cannot export to ${dir}/export: it exists; pass overwrite (--overwrite) to replace it, or choose another folder`,
    ]);
    expect((await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).sort()).toEqual(["a-file", "export", "source.duckdb"]);
  });
});

describe("every config is validated before anything is written", () => {
  /**
   * A copy of the lab (code, configs, challenges, model weights; node_modules linked) whose configs a test may
   * break: the lab finds configs/ beside its own code, wherever the working directory is.
   */
  async function labCopy(): Promise<string> {
    const root = await Deno.makeTempDir({ prefix: "lab-copy-" });
    for (const p of ["lab", "configs", "data/challenges", "data/models", "deno.json", "package.json"]) {
      cpSync(`${ROOT}/${p}`, `${root}/${p}`, { recursive: true });
    }
    await Deno.symlink(`${ROOT}/node_modules`, `${root}/node_modules`);
    return root;
  }
  const errorLines = (stderr: string) => stderr.trim().split("\n").filter((l) => l && !l.includes("DeprecationWarning"));

  it("a malformed roles.yaml or patterns.yaml stops tournament, compete, patterns lift and demo before any store or sandbox is written", async () => {
    const root = await labCopy();
    try {
      await malformedConfigsWriteNothing(root);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });

  async function malformedConfigsWriteNothing(root: string): Promise<void> {
    const work = `${root}/work`;
    await Deno.mkdir(work);
    const db = `${work}/lab.duckdb`;
    const small = ["--train-instances", "1", "--generations", "1", "--instances", "1", "--seeds", "1", "--splits", "dev"];
    const roles = await Deno.readTextFile(`${root}/configs/roles.yaml`);
    await Deno.writeTextFile(`${root}/configs/roles.yaml`, roles.replace(/^( {4})description: .*\n/m, ""));
    const rolesError = "configs/roles\\.yaml: roles\\.cfo\\.description: Invalid input: expected string, received undefined$";
    for (const args of [
      ["tournament", "--db", db],
      ["compete", "--db", db, "--budget", "1"],
      ["patterns", "lift", "--db", db, "--patterns", `${work}/patterns.duckdb`, ...small],
      ["demo", "--scale", "tiny", "--dir", `${work}/sandbox`],
    ]) {
      const r = await labIn(root, ...args);
      const name = args[0] === "patterns" ? "patterns lift" : args[0];
      expect(r.code, args.join(" ")).toBe(1);
      expect(errorLines(r.stderr), args.join(" ")).toEqual([expect.stringMatching(new RegExp(`^lab ${name}: ${rolesError}`))]);
      // No run row (no store file at all), no pattern store, no sandbox.
      expect(await Array.fromAsync(Deno.readDir(work), (e) => e.name), args.join(" ")).toEqual([]);
    }
    await Deno.writeTextFile(`${root}/configs/roles.yaml`, roles);
    await Deno.writeTextFile(`${root}/configs/patterns.yaml`, "retrieval:\n  limit: -3\n");
    const lift = await labIn(root, "patterns", "lift", "--db", db, "--patterns", `${work}/patterns.duckdb`, ...small);
    expect(lift.code).toBe(1);
    expect(errorLines(lift.stderr)).toEqual([expect.stringMatching(/^lab patterns lift: configs\/patterns\.yaml: retrieval\.limit: must be a positive integer$/)]);
    expect(await Array.fromAsync(Deno.readDir(work), (e) => e.name)).toEqual([]);
    expect(await Array.fromAsync(Deno.readDir(`${root}/data`), (e) => e.name)).toEqual(expect.not.arrayContaining(["sandbox", "lab.duckdb"]));
  }
});
