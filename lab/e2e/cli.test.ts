/**
 * End-to-end tests of the `lab` command through a real process: `demo` at the tiny scale, `--help` on every
 * command, and one-line errors with a non-zero exit for bad input.
 */
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../cli/commands.ts";

async function lab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "lab/cli/main.ts", ...args],
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
    // A second run reuses the built sandbox and gives the same verdict.
    const again = JSON.parse((await lab("demo", "--scale", "tiny", "--dir", dir, "--json")).stdout);
    expect(again.verdict).toEqual(out.verdict);
    const untimed = (steps: { ms: number }[]) => steps.map(({ ms: _ms, ...rest }) => rest);
    expect(untimed(again.steps)).toEqual(untimed(out.steps));
    expect(again.labMini).toEqual(out.labMini);
    // The tournament's store is temporary: the second demo runs it afresh, to the same leaderboard.
    expect(again.tournament).toEqual(out.tournament);
    expect(again.patternLift).toEqual(out.patternLift);
  });

  it("prints the sandbox shape and the tools as text", async () => {
    const dir = await Deno.makeTempDir({ prefix: "lab-demo-" });
    const r = await lab("demo", "--scale", "tiny", "--dir", dir);
    expect(r.code).toBe(0);
    for (const s of ["== The ERP sandbox ==", "sales_invoices", "== Agent tools ==", "dbWrite", "verdict", "PASS", "== lab-mini attempts it", "== Learning from a tournament", "rating [95% CI]", "Pattern-injection lift", "dev: 24 instances"]) {
      expect(r.stdout).toContain(s);
    }
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

  it("validates a malformed challenge file with the file, the path inside it and the reason", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/bad.yaml`, "family: bad\nlevel: 9\n");
    const r = await lab("challenges", "validate", dir);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^lab challenges validate: ${dir}/bad\\.yaml: level: `));
  });
});
