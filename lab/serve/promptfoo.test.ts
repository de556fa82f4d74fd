/**
 * promptfoo's own `openai:chat` provider pointed at the local server through `config.apiBaseUrl`: the eval runs
 * against the server (which counts the requests). promptfoo's config dir, cache and database go to a temp dir.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalServer, startServer } from "./mod.ts";

let server: LocalServer;
let home: string;
beforeAll(async () => {
  home = await Deno.makeTempDir({ prefix: "lab-promptfoo-" });
  Object.assign(process.env, {
    PROMPTFOO_DISABLE_TELEMETRY: "1",
    PROMPTFOO_DISABLE_UPDATE: "1",
    PROMPTFOO_DISABLE_SHARING: "1",
    PROMPTFOO_CONFIG_DIR: home,
    PROMPTFOO_CACHE_PATH: `${home}/cache`,
    PROMPTFOO_CACHE_ENABLED: "false",
  });
  server = await startServer();
});
afterAll(async () => {
  await server.close();
  await Deno.remove(home, { recursive: true }).catch(() => {});
});

describe("promptfoo against the local server", () => {
  it("runs an eval with openai:chat:lab-mini-placeholder and the server counts its requests", async () => {
    const { default: promptfoo } = await import("promptfoo");
    const before = server.stats().requests;
    const summary = await promptfoo.evaluate(
      {
        prompts: ["Summarise the {{topic}} ledger"],
        providers: [{ id: "openai:chat:lab-mini-placeholder", config: { apiBaseUrl: server.url, apiKey: "local", temperature: 0 } }],
        tests: [
          { vars: { topic: "sales" }, assert: [{ type: "icontains", value: "sales ledger" }] },
          { vars: { topic: "purchase" }, assert: [{ type: "icontains", value: "purchase ledger" }] },
        ],
        writeLatestResults: false,
      },
      { maxConcurrency: 2, cache: false, showProgressBar: false },
    );
    const { results, stats } = await summary.toEvaluateSummary();
    expect(results.map((r) => [r.vars.topic, r.success, r.response?.output])).toEqual([
      ["sales", true, expect.stringContaining("Summarise the sales ledger")],
      ["purchase", true, expect.stringContaining("Summarise the purchase ledger")],
    ]);
    expect(stats).toMatchObject({ successes: 2, failures: 0 });
    expect(server.stats().requests - before).toBe(2);
  });
});
