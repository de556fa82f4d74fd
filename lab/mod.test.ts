/**
 * The lab's door (issue 13): `lab/mod.ts` names a few dozen exports, each documented, and `deno doc --lint`
 * finds nothing to report on it.
 */
import { describe, expect, it } from "vitest";
import { ROOT } from "./util/mod.ts";

/** Runs `deno doc <args> lab/mod.ts` from the repository root. */
async function denoDoc(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["doc", ...args, "lab/mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code: r.code, stdout: text.decode(r.stdout), stderr: text.decode(r.stderr) };
}

describe("lab/mod.ts", () => {
  it("passes deno doc --lint", async () => {
    const r = await denoDoc("--lint");
    // Keep the diagnostics (not the warnings about npm packages' own types) for the failure message.
    const problems = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => !/^Warning|^\s+at /.test(l)).join("\n");
    expect(r.code, problems).toBe(0);
  });

  it("names a few dozen exports", async () => {
    const r = await denoDoc("--json");
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { nodes: Record<string, { symbols: { name: string }[] }> };
    const names = Object.values(doc.nodes).flatMap((m) => m.symbols.map((s) => s.name));
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThanOrEqual(30);
    expect(names.length).toBeLessThanOrEqual(100);
  });
});
