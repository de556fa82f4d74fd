import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DuckDBInstance } from "@duckdb/node-api";
import type { BackendChatRequest } from "../backend.ts";
import { formatInjection, type InjectedExample } from "../injection.ts";
import { labMiniBackend } from "./backend.ts";
import { generateCorpus } from "./corpus.ts";
import { renderSql } from "./parser.ts";
import { normalise, prng } from "./_text.ts";
import type { LabMiniModel } from "./weights.ts";
import { familyTasks, type FamilyTask, run, SQL_TOOLS, tempFleet } from "./testdata/fleet.ts";

let model: LabMiniModel;
let db: DuckDBInstance;
let close: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ model, db, close } = await tempFleet("lab-mini-icl-"));
}, 60_000);
afterAll(() => close?.());

const toExample = (t: FamilyTask): InjectedExample => ({ task: t.task, role: "analyst", calls: [{ tool: "dbRead", sql: t.sql }], answerShape: "number" });

function req(task: string, examples: InjectedExample[]): BackendChatRequest {
  const system = `You answer questions about the fleet database with SQL.${examples.length ? `\n\n${formatInjection(examples, { tokenBudget: 2000 })}` : ""}`;
  return { model: "lab-mini", messages: [{ role: "system", content: system }, { role: "user", content: task }], tools: SQL_TOOLS, seed: 1 };
}

async function firstSql(task: string, examples: InjectedExample[]): Promise<string> {
  const r = await labMiniBackend(model).complete(req(task, examples));
  return JSON.parse(r.choices[0].message.tool_calls![0].function.arguments).sql;
}

/** Share of tasks whose first dbRead gives the gold result. */
async function accuracy(tasks: { task: string; sql: string }[], examplesFor: (t: { task: string; sql: string }, i: number) => InjectedExample[]): Promise<number> {
  let ok = 0;
  for (const [i, t] of tasks.entries()) {
    const got = await run(db, await firstSql(t.task, examplesFor(t, i)));
    if (got !== undefined && got === await run(db, t.sql)) ok++;
  }
  return ok / tasks.length;
}

describe("lab-mini in-context learning (injection v1)", () => {
  it("solves held-out tasks of families the parser cannot express when 1-3 similar examples are injected; unrelated examples do not help", async () => {
    const pool = familyTasks(11, 12);
    const held = familyTasks(99, 8); // the injected examples always have other parameter values (other SQL)
    const rand = prng(5);
    const k = () => 1 + Math.floor(rand() * 3);
    const similar = (t: FamilyTask) => pool.filter((p) => p.family === t.family && p.sql !== t.sql).slice(0, k()).map(toExample);
    const unrelated = (t: FamilyTask) => pool.filter((p) => p.family !== t.family).filter((_, i) => i % 7 === 0).slice(0, k()).map(toExample);
    const base = await accuracy(held, () => []);
    const lifted = await accuracy(held, (t) => similar(t as FamilyTask));
    const control = await accuracy(held, (t) => unrelated(t as FamilyTask));
    console.log(`ICL on ${held.length} held-out fleet tasks: base ${(base * 100).toFixed(1)} %, similar examples ${(lifted * 100).toFixed(1)} %, unrelated examples ${(control * 100).toFixed(1)} %`);
    expect(lifted - base).toBeGreaterThanOrEqual(0.3);
    expect(Math.abs(control - base)).toBeLessThanOrEqual(0.05);
  }, 60_000);

  it("does not hurt questions the parser answers when unrelated examples are injected", async () => {
    const pool = familyTasks(11, 4).map(toExample);
    const qs = generateCorpus(model.meta, { seed: 4321, perRelation: 20 }).map((e) => {
      const n = normalise(e.question);
      return { task: e.question, sql: renderSql({ ...e.plan, periods: n.periods, n: n.n }) };
    });
    const base = await accuracy(qs, () => []);
    const withExamples = await accuracy(qs, (_, i) => [pool[i % pool.length], pool[(i + 3) % pool.length]]);
    console.log(`generic questions: base ${(base * 100).toFixed(1)} %, with unrelated examples ${(withExamples * 100).toFixed(1)} %`);
    expect(withExamples).toBeGreaterThanOrEqual(base - 0.03);
  }, 60_000);

  it("re-fills the copied SQL from the task: names, numbers and periods", async () => {
    const ex: InjectedExample = toExample({ family: "longfuel", task: "Average fuel liters of trips longer than 300 km last quarter", sql: "SELECT avg(fuel_liters) AS value FROM trips WHERE distance_km > 300 AND started_on >= date_trunc('quarter', current_date) - INTERVAL 3 MONTH AND started_on < date_trunc('quarter', current_date)" });
    expect(await firstSql("Average fuel liters of trips longer than 450 km this year", [ex])).toBe(
      "SELECT avg(fuel_liters) AS value FROM trips WHERE distance_km > 450 AND started_on >= date_trunc('year', current_date) AND started_on < date_trunc('year', current_date) + INTERVAL 12 MONTH",
    );
    const ex2 = toExample({ family: "multi", task: "Count trips by driver ana in region coast with distance over 100 km.", sql: "SELECT count(*) AS value FROM trips WHERE driver = 'ana' AND region = 'coast' AND distance_km > 100" });
    expect(await firstSql("Count trips by driver eli in region north with distance over 640 km.", [ex2])).toBe(
      "SELECT count(*) AS value FROM trips WHERE driver = 'eli' AND region = 'north' AND distance_km > 640",
    );
  });
});
