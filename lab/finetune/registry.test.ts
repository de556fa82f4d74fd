/** The model registry on its own: naming, promotion, rollback, the audit trail, events as rows, reopening. */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { type NewVersion, Registry, versionName } from "./mod.ts";

let dir: string;
beforeEach(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-registry-" });
});
afterEach(() => Deno.remove(dir, { recursive: true }));

const version = (hash: string, extra: Partial<NewVersion> = {}): NewVersion => ({
  base: "lab-mini",
  category: "all",
  provider: "lab",
  providerModel: `ft:lab-mini:core:${hash}`,
  trainedFrom: "lab-mini",
  datasetHash: "d".repeat(64),
  jobId: `ftjob-${hash}`,
  stage: "core",
  parent: null,
  metrics: { train_loss: 0.5 },
  ...extra,
});

const statuses = async (r: Registry) => Object.fromEntries((await r.list()).map((v) => [v.name, v.status]));

describe("the model registry", () => {
  it("names versions lab-{base}-{category}-v{n}, links the parent's hash, and records each registration as an event", async () => {
    const r = await Registry.open(join(dir, "registry.duckdb"));
    const v1 = await r.register(version("aaaaaaaaaaaa"));
    const v2 = await r.register(version("bbbbbbbbbbbb", { stage: "extended", parent: v1.name, trainedFrom: v1.providerModel }));
    const other = await r.register(version("cccccccccccc", { category: "Receivables & AR" }));
    expect([v1.name, v2.name, other.name]).toEqual(["lab-mini-all-v1", "lab-mini-all-v2", "lab-mini-receivables_ar-v1"]);
    expect(versionName("gpt-4o-mini-2024-07-18", "all", 3)).toBe("lab-gpt-4o-mini-2024-07-18-all-v3");
    expect(v2).toMatchObject({ n: 2, modelHash: "bbbbbbbbbbbb", parent: "lab-mini-all-v1", parentHash: "aaaaaaaaaaaa", status: "candidate", metrics: { train_loss: 0.5 } });
    expect((await r.events()).map((e) => [e.type, e.version])).toEqual([
      ["fine_tuning.completed", "lab-mini-all-v1"],
      ["fine_tuning.completed", "lab-mini-all-v2"],
      ["fine_tuning.completed", "lab-mini-receivables_ar-v1"],
    ]);
    await expect(r.register(version("dddddddddddd", { parent: "lab-mini-all-v9" }))).rejects.toThrow(/no version 'lab-mini-all-v9' in the registry/);
  });

  it("keeps one promoted version per (base, category); rollback restores the one promoted before, then none", async () => {
    const r = await Registry.open(join(dir, "registry.duckdb"));
    const [v1, v2, v3] = [await r.register(version("a1")), await r.register(version("a2")), await r.register(version("a3"))];
    const other = await r.register(version("b1", { category: "payables" }));
    await r.promote(other.name);
    expect(await r.promote(v1.name, { actor: "ana", reason: "dev lift +12" })).toMatchObject({ promoted: { name: v1.name, status: "promoted" }, retired: null });
    expect(await r.promote(v2.name, { actor: "ana" })).toMatchObject({ retired: { name: v1.name, status: "retired" } });
    await r.promote(v3.name, { actor: "ben" });
    expect(await statuses(r)).toEqual({ [v1.name]: "retired", [v2.name]: "retired", [v3.name]: "promoted", [other.name]: "promoted" });
    await expect(r.promote(v3.name)).rejects.toThrow(`${v3.name} is already the promoted version of lab-mini/all`);

    expect(await r.rollback(v3.name, { actor: "ben", reason: "regression on test_id" })).toMatchObject({ rolledBack: { status: "rolled_back" }, restored: { name: v2.name, status: "promoted" } });
    expect(await r.rollback(v2.name)).toMatchObject({ restored: { name: v1.name } });
    expect(await r.rollback(v1.name)).toMatchObject({ restored: null });
    expect(await statuses(r)).toEqual({ [v1.name]: "rolled_back", [v2.name]: "rolled_back", [v3.name]: "rolled_back", [other.name]: "promoted" });
    expect(await r.promoted("lab-mini", "all")).toBeUndefined();
    await expect(r.rollback(v1.name)).rejects.toThrow(`${v1.name} is rolled_back, not promoted`);

    // the audit trail has every change, with who and why; events are rows of their own
    expect((await r.audit(v3.name)).map((a) => [a.from, a.to, a.actor, a.reason])).toEqual([
      [null, "candidate", expect.any(String), "registered from job ftjob-a3"],
      ["candidate", "promoted", "ben", "promoted"],
      ["promoted", "rolled_back", "ben", "regression on test_id"],
    ]);
    expect((await r.audit(v2.name)).map((a) => a.to)).toEqual(["candidate", "promoted", "retired", "promoted", "rolled_back"]);
    expect((await r.events()).filter((e) => e.type !== "fine_tuning.completed").map((e) => [e.type, e.version, e.data.restored ?? e.data.replaced ?? null])).toEqual([
      ["fine_tuning.promoted", other.name, null],
      ["fine_tuning.promoted", v1.name, null],
      ["fine_tuning.promoted", v2.name, v1.name],
      ["fine_tuning.promoted", v3.name, v2.name],
      ["fine_tuning.rolled_back", v3.name, v2.name],
      ["fine_tuning.rolled_back", v2.name, v1.name],
      ["fine_tuning.rolled_back", v1.name, null],
    ]);
  });

  it("marks versions shadow or awaiting promotion (an event), never the promoted one, and survives reopening", async () => {
    const path = join(dir, "registry.duckdb");
    const r = await Registry.open(path);
    const v1 = await r.register(version("c1"));
    const v2 = await r.register(version("c2"));
    await r.mark(v1.name, "shadow");
    await r.mark(v2.name, "awaiting_promotion", { reason: "dev gate passed" });
    await r.promote(v2.name);
    await expect(r.mark(v2.name, "retired")).rejects.toThrow(`${v2.name} is promoted: promote another version or roll it back`);
    await r.recordEvent("fine_tuning.failed", null, "ftjob-x", { error: "the trainer failed" });
    const before = { versions: await r.list(), events: await r.events(), audit: await r.audit() };

    const again = await Registry.open(path);
    expect({ versions: await again.list(), events: await again.events(), audit: await again.audit() }).toEqual(before);
    expect(before.versions.map((v) => [v.name, v.status])).toEqual([[v2.name, "promoted"], [v1.name, "shadow"]]);
    expect(before.events.map((e) => e.type)).toEqual([
      "fine_tuning.completed",
      "fine_tuning.completed",
      "fine_tuning.ready_for_promotion",
      "fine_tuning.promoted",
      "fine_tuning.failed",
    ]);
    await expect(again.get("lab-mini-all-v7")).rejects.toThrow(/^no version 'lab-mini-all-v7' in the registry .*: 'lab finetune list' shows the versions$/);
  });
});
