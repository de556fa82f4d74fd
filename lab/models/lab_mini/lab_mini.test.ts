import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { join } from "node:path";
import { type BackendChatMessage, type BackendChatRequest, countChatTokens } from "../backend.ts";
import { ContextLengthExceededError, labMiniBackend } from "./backend.ts";
import { generateCorpus } from "./corpus.ts";
import { renderSql } from "./parser.ts";
import { type LabMiniModel, pretrain, readModel, saveModel, schemaHash } from "./weights.ts";
import { buildSandbox, TABLES } from "../../sandbox/mod.ts";
import { loadCatalog } from "../../challenges/mod.ts";
import { normalise } from "./_text.ts";

// A schema unrelated to the ERP sandbox: a vehicle fleet. Dates are relative to today so periods hit rows.
const FLEET_SQL = `
CREATE TABLE vehicles (vehicle_id INTEGER, make VARCHAR, fuel_type VARCHAR, purchase_price DOUBLE, purchased_on DATE);
INSERT INTO vehicles SELECT i, ['volvo','scania','iveco','tesla'][1 + i % 4], ['diesel','electric','petrol'][1 + i % 3],
  20000 + (i * 7919) % 50000, current_date - CAST((i * 37) % 900 AS INTEGER) FROM range(1, 61) t(i);
CREATE TABLE trips (trip_id INTEGER, vehicle_id INTEGER, driver VARCHAR, region VARCHAR, distance_km DOUBLE,
  fuel_liters DOUBLE, started_on DATE, ended_on DATE);
INSERT INTO trips SELECT i, 1 + i % 60, ['ana','ben','chen','dara','eli'][1 + i % 5], ['north','south','coast'][1 + (i * 7) % 3],
  10 + (i * 131) % 800, 2 + (i * 17) % 90, current_date - CAST((i * 3) % 500 AS INTEGER), current_date - CAST((i * 3) % 500 AS INTEGER) + 1
  FROM range(1, 801) t(i);
CREATE TABLE repairs (repair_id INTEGER, vehicle_id INTEGER, kind VARCHAR, cost DOUBLE, repaired_on DATE);
INSERT INTO repairs SELECT i, 1 + i % 60, ['tyres','brakes','engine','paint'][1 + i % 4], 50 + (i * 613) % 3000,
  current_date - CAST((i * 11) % 700 AS INTEGER) FROM range(1, 201) t(i);
CREATE VIEW v_trip_log AS SELECT * FROM trips;
`;

let dir: string;
let dbPath: string;
let model: LabMiniModel;
let db: DuckDBInstance;
const TOOLS = ["dbRead", "dbWrite", "schemaInfo", "viewsList", "todoList", "submitAnswer"].map((name) => ({
  type: "function" as const,
  function: { name, parameters: { type: "object", properties: {} } },
}));

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const c = await db.connect();
  try {
    return (await c.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    c.closeSync();
  }
}

function ask(question: string, extra: Partial<BackendChatRequest> = {}, history: BackendChatMessage[] = []): BackendChatRequest {
  return { model: "lab-mini", messages: [{ role: "system", content: "You answer questions with SQL." }, { role: "user", content: question }, ...history], tools: TOOLS, ...extra };
}

const firstCall = (r: Awaited<ReturnType<ReturnType<typeof labMiniBackend>["complete"]>>) => r.choices[0].message.tool_calls?.[0];

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-mini-test-" });
  dbPath = join(dir, "fleet.duckdb");
  const build = await DuckDBInstance.create(dbPath);
  const c = await build.connect();
  await c.run(FLEET_SQL);
  c.closeSync();
  build.closeSync();
  model = await pretrain(dbPath, { seed: 3 });
  db = await DuckDBInstance.create(dbPath, { access_mode: "READ_ONLY" });
}, 60_000);

afterAll(async () => {
  db?.closeSync();
  await Deno.remove(dir, { recursive: true });
});

describe("lab-mini", () => {
  it("answers held-out generated questions on a schema it was never written for (≥ 70 % right values)", async () => {
    const train = new Set(generateCorpus(model.meta, { seed: 3, perRelation: 80 }).map((e) => e.question));
    const held = generateCorpus(model.meta, { seed: 1234, perRelation: 40 }).filter((e) => !train.has(e.question)).slice(0, 80);
    expect(held.length).toBeGreaterThan(40);
    const backend = labMiniBackend(model);
    let right = 0;
    for (const ex of held) {
      const call = firstCall(await backend.complete(ask(ex.question, { seed: 1 })));
      expect(call?.function.name).toBe("dbRead");
      const sql = JSON.parse(call!.function.arguments).sql as string;
      const norm = normalise(ex.question);
      const gold = await query(renderSql({ ...ex.plan, periods: norm.periods, n: norm.n }));
      let got: Record<string, unknown>[] | undefined;
      try {
        got = await query(sql);
      } catch { /* a wrong query counts as wrong */ }
      if (got && JSON.stringify(got) === JSON.stringify(gold)) right++;
    }
    const accuracy = right / held.length;
    console.log(`lab-mini fleet held-out accuracy: ${right}/${held.length} = ${(accuracy * 100).toFixed(1)} %`);
    expect(accuracy).toBeGreaterThanOrEqual(0.7);
  });

  it("runs a whole episode: dbRead, then submitAnswer with the value from the result", async () => {
    const backend = labMiniBackend(model);
    const q = "What is the total cost of repairs?";
    const first = firstCall(await backend.complete(ask(q)))!;
    const sql = JSON.parse(first.function.arguments).sql;
    const rows = await query(sql);
    const history: BackendChatMessage[] = [
      { role: "assistant", content: null, tool_calls: [first] },
      { role: "tool", tool_call_id: first.id, content: JSON.stringify({ ok: true, columns: ["value"], rows, rowCount: 1 }) },
    ];
    const second = firstCall(await backend.complete(ask(q, {}, history)))!;
    expect(second.function.name).toBe("submitAnswer");
    expect(JSON.parse(second.function.arguments).answer).toBe(rows[0].value);
    expect(Number(rows[0].value)).toBe((await query("SELECT sum(cost) AS s FROM repairs"))[0].s);
  });

  it("revises after a failed or empty dbRead: the next call is a different query", async () => {
    const backend = labMiniBackend(model);
    const q = "How many trips are there last month?";
    const first = firstCall(await backend.complete(ask(q, { seed: 5 })))!;
    for (const content of [JSON.stringify({ ok: false, error: "Binder Error: column not found" }), JSON.stringify({ ok: true, columns: ["value"], rows: [], rowCount: 0 })]) {
      const next = firstCall(await backend.complete(ask(q, { seed: 5 }, [
        { role: "assistant", content: null, tool_calls: [first] },
        { role: "tool", tool_call_id: first.id, content },
      ])))!;
      expect(next.function.name).toBe("dbRead");
      expect(JSON.parse(next.function.arguments).sql).not.toBe(JSON.parse(first.function.arguments).sql);
    }
  });

  it("is deterministic for a seed, and samples different plans under temperature 1 with different seeds", async () => {
    const backend = labMiniBackend(model);
    const q = "Top 3 region of trips by total distance km this year";
    const req = ask(q, { seed: 7, temperature: 1, n: 3 });
    expect(await backend.complete(req)).toEqual(await backend.complete(req));
    const sqls = new Set<string>();
    for (let seed = 0; seed < 30; seed++) {
      sqls.add(firstCall(await backend.complete(ask(q, { seed, temperature: 1 })))!.function.arguments);
    }
    expect(sqls.size).toBeGreaterThan(1);
    const greedy = new Set<string>();
    for (let seed = 0; seed < 5; seed++) greedy.add(firstCall(await backend.complete(ask(q, { seed, temperature: 0 })))!.function.arguments);
    expect(greedy.size).toBe(1);
  });

  it("refuses a prompt past its context window with context_length_exceeded, and counts prompt tokens", async () => {
    const backend = labMiniBackend(model, { contextWindow: 512 });
    const long = ask("How many trips? " + "please ".repeat(600));
    await expect(backend.complete(long)).rejects.toBeInstanceOf(ContextLengthExceededError);
    await expect(backend.complete(long)).rejects.toMatchObject({ code: "context_length_exceeded" });
    const ok = ask("How many trips?");
    expect((await backend.complete(ok)).usage.prompt_tokens).toBe(countChatTokens(ok.messages, ok.tools));
  });

  it("follows strategy switches: explore first, keep a todo list", async () => {
    const backend = labMiniBackend(model);
    const req = ask("How many repairs are there?");
    req.messages[0] = { role: "system", content: "Keep a todo list. Explore the schema before querying." };
    expect(firstCall(await backend.complete(req))!.function.name).toBe("todoList");
    const afterTodo = firstCall(await backend.complete({ ...req, messages: [...req.messages, { role: "assistant", content: null, tool_calls: [{ id: "t1", type: "function", function: { name: "todoList", arguments: "{}" } }] }, { role: "tool", tool_call_id: "t1", content: "{\"ok\":true}" }] }))!;
    expect(afterTodo.function.name).toBe("schemaInfo");
  });

  it("uses views measurably more often with a 'prefer views' strategy (same questions, same seed)", async () => {
    const backend = labMiniBackend(model);
    // held-out generated questions about the table the view covers: either relation answers them
    const qs = generateCorpus(model.meta, { seed: 99, perRelation: 60 }).filter((e) => e.plan.rel === "trips").map((e) => e.question);
    expect(qs.length).toBeGreaterThan(30);
    const viewShare = async (system: string) => {
      let views = 0;
      for (const q of qs) {
        const req = ask(q, { seed: 1 });
        req.messages[0] = { role: "system", content: system };
        req.tools = TOOLS.filter((t) => t.function.name === "dbRead" || t.function.name === "submitAnswer");
        const call = firstCall(await backend.complete(req))!;
        expect(call.function.name).toBe("dbRead");
        if (/FROM "v_trip_log"/.test(JSON.parse(call.function.arguments).sql)) views++;
      }
      return views / qs.length;
    };
    const plain = await viewShare("You answer questions with SQL.");
    const prefer = await viewShare("You answer questions with SQL. Prefer the semantic views: read from a view whenever one covers the question.");
    console.log(`view use on ${qs.length} questions about a table a view covers: ${(100 * plain).toFixed(1)} % without, ${(100 * prefer).toFixed(1)} % with 'prefer views'`);
    expect(prefer - plain).toBeGreaterThanOrEqual(0.2);
    // and with the tool available, the strategy lists the views first
    const req = ask(qs[0]);
    req.messages[0] = { role: "system", content: "Prefer the semantic views." };
    expect(firstCall(await backend.complete(req))!.function.name).toBe("viewsList");
  });

  it("pretrains reproducibly: same seed, same weights hash; a different seed, a different hash", async () => {
    const again = await pretrain(dbPath, { seed: 3 });
    expect(again.hash).toBe(model.hash);
    expect((await pretrain(dbPath, { seed: 4, epochs: 1 })).hash).not.toBe(model.hash);
    expect(model.losses.at(-1)!).toBeLessThan(model.losses[0]);
    const file = join(dir, "m.json");
    await saveModel(model, file);
    expect((await readModel(file)).hash).toBe(model.hash);
    expect((await Deno.stat(file)).size).toBeLessThan(20_000_000);
  }, 60_000);

  it("pretrains with the challenge folders unreadable (--deny-read), giving the same weights", async () => {
    const probe = new URL("./_pretrain_probe.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "--deny-read=data/challenges,lab/challenges", probe, dbPath, "3"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    expect(new TextDecoder().decode(out.stderr).includes("NotCapable") || out.code !== 0).toBe(false);
    expect(new TextDecoder().decode(out.stdout).trim()).toBe(model.hash);
  }, 60_000);

  it("contains no ERP table names in its sources", async () => {
    const here = new URL(".", import.meta.url).pathname;
    const names = TABLES.map((t) => t.name);
    expect(names.length).toBeGreaterThan(5);
    for await (const e of Deno.readDir(here)) {
      if (!e.name.endsWith(".ts") || e.name.endsWith(".test.ts")) continue;
      const text = (await Deno.readTextFile(join(here, e.name))).toLowerCase();
      for (const n of names) expect(text.match(new RegExp(`\\b${n}\\b`)), `${e.name} names '${n}'`).toBeNull();
      expect(text).not.toMatch(/lab\/challenges|sandbox\/schema/);
    }
  });

  it("contains no challenge family id, distinctive ERP column name or catalog task phrase in its sources", async () => {
    const here = new URL(".", import.meta.url).pathname;
    const catalog = await loadCatalog();
    const families = [...new Set(catalog.map((c) => c.family))];
    // column names with an underscore are specific ("credit_limit"); one-word ones ("name", "total") are English
    // (`table_name` is also a column of DuckDB's own catalog, which schema_meta.ts reads)
    const columns = [...new Set(TABLES.flatMap((t) => t.columns.map((c) => c.name)).filter((n) => n.includes("_") && n !== "table_name"))];
    // six-word runs of every task text of the catalog
    const words = (t: string) => t.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
    const phrases = new Set<string>();
    for (const c of catalog) {
      const w = words(c.task);
      for (let i = 0; i + 6 <= w.length; i++) phrases.add(w.slice(i, i + 6).join(" "));
    }
    expect(families.length).toBeGreaterThan(20);
    expect(columns.length).toBeGreaterThan(20);
    for await (const e of Deno.readDir(here)) {
      if (!e.name.endsWith(".ts") || e.name.endsWith(".test.ts")) continue;
      const text = (await Deno.readTextFile(join(here, e.name))).toLowerCase();
      for (const f of families) expect(text.includes(f), `${e.name} names the family '${f}'`).toBe(false);
      for (const c of columns) expect(text.match(new RegExp(`\\b${c}\\b`)), `${e.name} names the column '${c}'`).toBeNull();
      const w = words(text);
      for (let i = 0; i + 6 <= w.length; i++) expect(phrases.has(w.slice(i, i + 6).join(" ")), `${e.name}: '${w.slice(i, i + 6).join(" ")}'`).toBe(false);
    }
  });
});

describe("the committed base weights", () => {
  it("are reproduced by re-running their recipe on a freshly built tiny sandbox", async () => {
    const manifest = JSON.parse(await Deno.readTextFile(new URL("../../../data/models/lab-mini-base.manifest.json", import.meta.url)));
    const tmp = await Deno.makeTempDir({ prefix: "lab-mini-base-" });
    const db = join(tmp, "tiny.duckdb");
    await buildSandbox(db, { scale: "tiny" });
    const again = await pretrain(db, { seed: manifest.recipe.seed, epochs: manifest.recipe.epochs });
    expect({ hash: again.hash, schemaHash: schemaHash(again.meta) }).toEqual({
      hash: manifest.hash,
      schemaHash: manifest.recipe.schemaHash,
    });
    expect((await readModel(new URL(`../../../data/models/${manifest.file}`, import.meta.url).pathname)).hash).toBe(manifest.hash);
    await Deno.remove(tmp, { recursive: true });
  }, 120_000);
});
