/**
 * The context's in-process server and the model ids it resolves under an entry: an explicit URL, else the server,
 * which trains lab-mini versions into the context's models folder and, started again on the same registry, serves
 * them under their provider ids and version names.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { LabContext } from "./context.ts";
import { fineTuneClient, Registry, runStages, seed000Stages } from "./finetune/mod.ts";
import { ORACLE_DISTILL_DATASET } from "./evals/mod.ts";

let dir: string;
beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-context-" });
});
afterAll(async () => {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("LabContext.servedModels", () => {
  it("names a served id after its entry, reaches it at an explicit URL, else at the context's server, which serves registered versions again", async () => {
    const modelsDir = join(dir, "ft");
    await using ctx = await LabContext.open({ serving: { modelsDir, dataDir: join(dir, "serve") } });
    const at = await ctx.servedModels("lab-mini", { baseUrl: "http://127.0.0.1:9/v1" });
    const id = "ft:lab-mini:core:0123456789ab";
    expect([at("lab-mini"), at(id)].map((m) => [m.name, m.config.model, m.config.provider])).toEqual([
      ["lab-mini", "lab-mini", "local"],
      [`lab-mini:${id}`, id, "local"],
    ]);
    await expect(ctx.servedModels("no-such-model")).rejects.toThrow(/no-such-model/);

    // A version trained through the context's server and registered.
    const core = join(dir, "core.jsonl");
    await Deno.writeTextFile(core, (await Deno.readTextFile(ORACLE_DISTILL_DATASET)).split("\n").slice(0, 3).join("\n") + "\n");
    const registry = await Registry.open(join(dir, "registry.duckdb"));
    const run = await runStages(fineTuneClient((await ctx.server()).url), seed000Stages({ core }), { base: "lab-mini", registry, pollMs: 10 });
    expect([run.status, run.final?.name]).toEqual(["succeeded", "lab-mini-all-v1"]);
    const version = run.final!;
    const request = { messages: [{ role: "user" as const, content: "How many open invoices are there?" }], seed: 1 };
    const reply = (await (await ctx.servedModels("lab-mini"))(version.providerModel).invoke(request)).message;

    // Another context on the same registry (a fresh data dir): its server serves the version from its start, by id and by name.
    await using again = await LabContext.open({ serving: { modelsDir, registry: registry.path } });
    const listed = (await (await fetch(`${(await again.server()).url}/models`)).json()).data.map((m: { id: string }) => m.id);
    expect(listed).toEqual(expect.arrayContaining([version.providerModel, version.name]));
    const models = await again.servedModels("lab-mini");
    expect((await models(version.name).invoke(request)).message).toEqual(reply);
    expect((await models(version.providerModel).invoke(request)).message).toEqual(reply);
  }, 30_000);
});
