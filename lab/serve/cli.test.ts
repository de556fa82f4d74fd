import { describe, expect, it } from "vitest";
import OpenAI from "openai";
import { repoPath } from "../util/mod.ts";

describe("lab serve (CLI)", () => {
  it("prints the URL, requires the token from --token-env, and on SIGINT shuts down printing its stats", async () => {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", repoPath("lab/cli/main.ts"), "serve", "--port", "0", "--token-env", "LAB_TEST_TOKEN", "--rate-429", "0"],
      env: { LAB_TEST_TOKEN: "cli-secret" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!/listening on (\S+)/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`serve exited early: ${out}`);
      out += value;
    }
    const url = /listening on (\S+)/.exec(out)![1];
    expect(out).toContain("(bearer token required)");
    const client = new OpenAI({ baseURL: url, apiKey: "cli-secret", maxRetries: 0 });
    expect((await client.models.list()).data.map((m) => m.id)).toContain("lab-mini-placeholder");
    await expect(new OpenAI({ baseURL: url, apiKey: "wrong", maxRetries: 0 }).models.list()).rejects.toMatchObject({ status: 401 });
    child.kill("SIGINT");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      out += value;
    }
    const status = await child.status;
    await child.stderr.cancel();
    expect(status.code).toBe(0);
    expect(out).toMatch(/SIGINT, finishing in-flight requests…\nlab serve: stopped — 2 requests, max 1 in flight, 0 over the limit, faults: none/);
  });

  it("refuses a --token-env naming an unset variable with one line", async () => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", repoPath("lab/cli/main.ts"), "serve", "--token-env", "LAB_SURELY_UNSET_VAR"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    expect(r.code).toBe(2);
    expect(new TextDecoder().decode(r.stderr).trim()).toBe(
      "lab serve: --token-env names LAB_SURELY_UNSET_VAR, which is not set or empty: export LAB_SURELY_UNSET_VAR=<token> first — see 'deno task lab serve --help'",
    );
  });
});
