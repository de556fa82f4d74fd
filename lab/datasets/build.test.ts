import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import type { EpisodeRecord } from "../agents/mod.ts";
import { type Challenge, loadCatalog, renderTemplate } from "../challenges/mod.ts";
import { type AskInput, normalizeIntent, PatternStore } from "../patterns/mod.ts";
import { insertEpisodes } from "../tournament/testing.ts";
import { canonicalSql } from "../util/mod.ts";
import {
  buildDataset,
  type BuildResult,
  createRedactor,
  type DatasetFormat,
  datasetsConfig,
  exportDataset,
  FORMATS,
  formatRows,
  LeakageGuard,
  manifestPath,
  parseRows,
  prepareDataset,
  readManifest,
  renderExamples,
  renderPairs,
  sha256,
  validateChatJsonl,
  type WireMessage,
  writeDatasets,
} from "./mod.ts";
import { CANARIES, record } from "./testing.ts";

/** A tournament store and a pattern store in `dir`, filled with `records` (run r1) and `asks`. */
async function plantStores(dir: string, records: readonly EpisodeRecord[], asks: readonly AskInput[]) {
  const db = join(dir, "lab.duckdb");
  await insertEpisodes(db, "r1", records.map((r) => ({ id: r.id, generation: 0, contaminated: r.challenge.split !== "train", record: r })));
  const store = await PatternStore.open(join(dir, "patterns.duckdb"));
  await store.addEpisodes(records, { runId: "r1" });
  for (const a of asks) await store.addAsk(a);
  return { db, store };
}

const CANARY_SQL =
  `SELECT c.contact_email, "Contact Phone", iban_number FROM customers c WHERE c.contact_email = '${CANARIES.email}' AND note = '${CANARIES.name}'`;
const CANARY_ROWS = [{
  contact_email: CANARIES.email,
  "Contact Phone": CANARIES.phone,
  iban_number: CANARIES.iban,
  user_hash: CANARIES.userHash,
  owner: CANARIES.listedName,
}];
const ASK_SQL = `SELECT invoice_id FROM invoices WHERE approver = '${CANARIES.name}' AND approver_email = '${CANARIES.email}'`;
const viewSql = (c: Challenge) => `SELECT count(*) AS n FROM ${c.category}_view`;
const CANARY_TEXT = `Done; key ${CANARIES.apiKey} (${CANARIES.awsKey}) sent to ${CANARIES.name}, ${CANARIES.usPhone}.`;
const TRAIN_FORMATS = ["openai", "seed001", "sharegpt", "alpaca"] as const;

describe("buildDataset on planted stores", () => {
  let dir: string;
  let store: PatternStore;
  let result: BuildResult;
  let guard: LeakageGuard;
  let heldOut: Challenge[];
  let train: Challenge[];
  const config = datasetsConfig({
    // Every passing example is accepted here, so only leakage control can keep one out.
    tiers: { gold: 0.9, silver: 0.5, bronze: 0 },
    redaction: { names: [CANARIES.listedName] },
    stages: { core: { size: 3, min_fitness: 0.9, levels: [1, 2] } },
  });
  const texts = new Map<string, string>();

  beforeAll(async () => {
    const catalog = await loadCatalog();
    guard = LeakageGuard.fromCatalog(catalog);
    const find = (f: (c: Challenge) => boolean) => catalog.find(f)!;
    train = ["finance", "sales", "inventory", "purchasing", "reporting"].map((cat) =>
      find((c) => c.split === "train" && c.category === cat && c.level <= 2)
    );
    const dev = find((c) => c.split === "dev" && Object.values(c.params).some((v) => typeof v === "number"));
    // The dev template asked with a value the catalog does not have.
    const [param, value] = Object.entries(dev.params).find(([, v]) => typeof v === "number")!;
    const variant = renderTemplate(dev.template, { ...dev.params, [param]: Number(value) + 10 });
    if (catalog.some((c) => c.task === variant) || normalizeIntent(variant) !== normalizeIntent(dev.task)) {
      throw new Error(`fixture: '${variant}' must be a new wording of ${dev.id}'s intent`);
    }
    const testId = find((c) => c.split === "test_id" && c.family !== dev.family);
    const ood = find((c) => c.split === "test_ood");
    const dev2 = find((c) => c.split === "dev" && c.family !== dev.family && c.family !== testId.family);
    const ood2 = find((c) => c.split === "test_ood" && c.family !== ood.family);
    heldOut = [dev, testId, ood, dev2, ood2];
    const records = [
      record(train[0], { sql: [CANARY_SQL], rows: CANARY_ROWS, text: CANARY_TEXT }),
      record(train[0], { sql: [CANARY_SQL, "SELECT 1 AS broken"], rows: CANARY_ROWS, text: CANARY_TEXT, pass: false, attempt: 1 }),
      record(train[1]),
      record(train[1], { attempt: 1, injected: [{ task: testId.task, calls: [{ tool: "dbRead", sql: "SELECT 1" }] }] }),
      ...train.slice(2).map((c) => record(c, { sql: [viewSql(c)] })),
      ...[dev, testId, ood].flatMap((c) => [record(c), record(c, { pass: false, attempt: 1 })]),
      record(dev2, { split: "train" }), // recorded as train: the catalog knows better
      record(ood2, { split: "train" }),
    ];
    const asks: AskInput[] = [
      {
        question: `Which invoices did ${CANARIES.name} approve for ${CANARIES.email}?`,
        role: "analyst",
        queries: [{
          tool: "dbRead",
          sql: ASK_SQL,
          ok: true,
          result: { rows: [{ invoice_id: 7, phone: CANARIES.phone }], rowCount: 1 },
        }],
        pass: true,
      },
      { question: testId.task, role: "analyst", queries: [{ tool: "dbRead", sql: "SELECT 2 AS asked", ok: true }], pass: true },
      {
        question: variant,
        role: "analyst",
        queries: [{ tool: "dbRead", sql: "SELECT 3 AS asked", ok: true }],
        pass: true,
      },
    ];
    dir = await Deno.makeTempDir({ prefix: "lab-datasets-" });
    const planted = await plantStores(dir, records, asks);
    store = planted.store;
    result = await buildDataset({ db: planted.db, runs: ["r1"], patterns: store }, {
      out: join(dir, "set"),
      config,
      guard,
      formats: TRAIN_FORMATS,
    });
    for (const f of result.files) texts.set(f.path, await Deno.readTextFile(f.path));
  });

  afterAll(async () => {
    await store?.close();
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  it("writes the training set in every format, the staged sets and DPO pairs, each with its manifest", () => {
    expect(result.files.map((f) => [f.path.slice(dir.length + 1), f.manifest.format, f.manifest.rows])).toEqual([
      ["set/train.jsonl", "openai", 6],
      ["set/train.seed001.jsonl", "seed001", 6],
      ["set/train.sharegpt.jsonl", "sharegpt", 6],
      ["set/train.alpaca.jsonl", "alpaca", 6],
      ["set/core.jsonl", "openai", 3],
      ["set/extended.jsonl", "openai", 6],
      ["set/comprehensive.jsonl", "openai", 6],
      ["set/dpo.jsonl", "dpo", 1],
    ]);
    const train = result.files[0].manifest;
    expect(train.counts).toEqual({
      // 0.35 × 0.9 + 0.15 = 0.465 for a verified episode; + 0.05 where its pattern merged two episodes; the asked
      // question 0.35 × fitness + 0.20 (a person marked it right; no verifier)
      byTier: { bronze: 4, silver: 2 },
      byCategory: { ask: 1, finance: 1, inventory: 1, purchasing: 1, reporting: 1, sales: 1 },
      byLevel: { "1": 3, "2": 2, none: 1 },
      byOutcome: expect.any(Object),
      bySource: { ask: 1, episode: 5 },
    });
    expect(train.lineage.map((l) => l.challengeId)).toEqual([null, ...Array(5).fill(expect.any(String))]);
    expect(result.files.find((f) => f.path.endsWith("extended.jsonl"))!.manifest.stage).toMatchObject({
      name: "extended",
      target: 5000,
      selected: 6,
      scaledDown: true,
      note: "scaled down: 6 of the target 5000 — only 6 curated examples at composite fitness ≥ 0.85",
    });
    for (const f of result.files) {
      expect(sha256(texts.get(f.path)!)).toBe(f.manifest.sha256);
    }
  });

  it("lets no held-out instance through from any source, and the manifest counts why", () => {
    const { leakage } = result.curation.excluded;
    expect(leakage).toEqual({
      held_out_split: 9, // 6 dev/test_id/test_ood episodes, 3 patterns (a failed attempt merges into its passing twin)
      contaminated: 0,
      ood_family: 2, // an episode of a test_ood family recorded as train, and its pattern
      held_out_instance: 2, // a dev instance's episode recorded as train, and its pattern
      held_out_template: 0,
      held_out_intent: 2, // two asked questions: a test_id task, and a dev template with other values
      held_out_injected: 1, // an episode whose prompt held a test_id task as an example
    });
    expect(result.files[0].manifest.excluded?.leakage).toEqual(leakage);
    const everything = [...texts.values()].join("\n");
    for (const c of heldOut) {
      expect(everything).not.toContain(c.task);
      expect(everything).not.toContain(c.id);
    }
    for (const f of result.files) {
      for (const l of f.manifest.lineage) {
        expect(l.challengeId === null || !guard.instances.has(l.challengeId)).toBe(true);
        expect(l.family === null || !guard.oodFamilies.has(l.family)).toBe(true);
      }
    }
    // not vacuous: every train instance is in the set
    expect(result.files[0].manifest.lineage.map((l) => l.challengeId).filter(Boolean).sort()).toEqual(train.map((c) => c.id).sort());
  });

  it("removes every canary in every export format and touches no SQL identifier", () => {
    for (const f of result.files) {
      const text = texts.get(f.path)!;
      for (const canary of Object.values(CANARIES)) expect(text, `${f.path}: ${canary}`).not.toContain(canary);
      expect(text).toContain("contact_email");
      expect(text).toContain("Contact Phone");
    }
    // The episode: SQL (email, name), its result (email, phone, IBAN, user hash, listed name), its text (two keys,
    // name, phone); the asked question: text and SQL (name, email each), its result summary (phone).
    expect(result.files[0].manifest.redactions).toEqual({
      api_key: 2,
      email: 4,
      iban: 1,
      user_id: 1,
      phone: 3,
      name: 5,
      total: 16,
    });
    // Every exported statement is a planted one up to its literals.
    const planted = new Set([CANARY_SQL, ASK_SQL, "SELECT count(*) AS n FROM invoices", ...train.slice(2).map(viewSql)].map((s) =>
      canonicalSql(s, { literals: "mask" })
    ));
    const rows = parseRows(texts.get(result.files[0].path)!, "openai").rows;
    const sqls = rows.flatMap((r) =>
      (r.messages as WireMessage[]).flatMap((m) => (m.tool_calls ?? []).flatMap((c) => JSON.parse(c.function.arguments).sql ?? []))
    );
    expect(sqls).toContain(`SELECT c.contact_email, "Contact Phone", iban_number FROM customers c WHERE c.contact_email = '<email>' AND note = '<name>'`);
    expect(sqls.length).toBe(6);
    for (const s of sqls) expect(planted.has(canonicalSql(s, { literals: "mask" })), s).toBe(true);
  });

  it("round-trips every format: what is read back equals what was written", async () => {
    const render = () => ({ systemPrompt: config.system_prompt, redactor: createRedactor({ names: config.redaction.names }) });
    const records = renderExamples(result.curation.examples, render());
    const pairs = renderPairs(result.curation.pairs, render());
    for (const format of FORMATS) {
      const rows = formatRows(format as DatasetFormat, format === "dpo" ? pairs : records);
      const path = join(dir, "rt", `x.${format}.jsonl`);
      const lineage = format === "dpo" ? pairs.map((p) => p.meta.chosen) : records.map((r) => r.meta);
      const prepared = prepareDataset(path, format, rows, {
        sources: null,
        excluded: null,
        heldOut: null,
        redactions: { ...createRedactor().counts(), total: 0 },
        stage: null,
        rules: null,
        derivedFrom: null,
        lineage,
      });
      await writeDatasets([prepared]);
      const text = await Deno.readTextFile(path);
      expect(parseRows(text, format)).toEqual({ rows, problems: [] });
      expect(await readManifest(path)).toEqual(prepared.manifest);
    }
    // A built set converts to another format exactly as the build wrote it.
    const train = result.files[0].path;
    const sharegpt = await exportDataset(train, "sharegpt", { out: join(dir, "rt", "train.sharegpt.jsonl") });
    expect(await Deno.readTextFile(sharegpt.path)).toBe(texts.get(join(dir, "set", "train.sharegpt.jsonl")));
    expect(sharegpt.manifest).toMatchObject({ derivedFrom: { file: "train.jsonl", sha256: result.files[0].manifest.sha256 } });
  });

  it("validates the built chat file without a problem", async () => {
    const r = await validateChatJsonl(texts.get(result.files[0].path)!, config);
    expect(r).toMatchObject({ ok: true, problems: [], lines: 6, valid: 6 });
    expect(JSON.parse(await Deno.readTextFile(manifestPath(result.files[0].path))).rows).toBe(6);
  });
});
