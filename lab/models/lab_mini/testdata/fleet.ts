/**
 * A toy vehicle-fleet schema (unrelated to the ERP sandbox) and task families the base parser cannot express —
 * multi-condition filters with numeric comparisons, joins, a join + group-by — each a (task, SQL) generator with
 * parameters, for the in-context-learning and fine-tuning tests and the bench; and what those tests share: the
 * fleet in a temp directory, the tools they offer, chat lines the trainer cannot use, and the accuracy measure.
 * Test data only.
 * @module
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { join } from "node:path";
import type { BackendChatRequest, ChatBackend } from "../../backend.ts";
import { type Period, periodBounds, prng } from "../_text.ts";
import { type LabMiniModel, pretrain } from "../weights.ts";

export const FLEET_SQL = `
CREATE TABLE vehicles (vehicle_id INTEGER, make VARCHAR, fuel_type VARCHAR, purchase_price DOUBLE, purchased_on DATE);
INSERT INTO vehicles SELECT i, ['volvo','scania','iveco','tesla'][1 + i % 4], ['diesel','electric','petrol'][1 + i % 3],
  20000 + (i * 7919) % 50000, current_date - CAST((i * 37) % 900 AS INTEGER) FROM range(1, 61) t(i);
CREATE TABLE trips (trip_id INTEGER, vehicle_id INTEGER, driver VARCHAR, region VARCHAR, distance_km DOUBLE,
  fuel_liters DOUBLE, started_on DATE, ended_on DATE);
INSERT INTO trips SELECT i, 1 + (i * 13) % 60, ['ana','ben','chen','dara','eli'][1 + i % 5], ['north','south','coast'][1 + (i * 7) % 3],
  10 + (i * 131) % 800, 2 + (i * 17) % 90, current_date - CAST((i * 3) % 500 AS INTEGER), current_date - CAST((i * 3) % 500 AS INTEGER) + 1
  FROM range(1, 801) t(i);
CREATE TABLE repairs (repair_id INTEGER, vehicle_id INTEGER, kind VARCHAR, cost DOUBLE, repaired_on DATE);
INSERT INTO repairs SELECT i, 1 + (i * 7) % 60, ['tyres','brakes','engine','paint'][1 + i % 4], 50 + (i * 613) % 3000,
  current_date - CAST((i * 11) % 700 AS INTEGER) FROM range(1, 201) t(i);
`;

/** Builds the fleet database in `dir` and pretrains lab-mini on it. */
export async function fleet(dir: string, seed = 3): Promise<{ dbPath: string; model: LabMiniModel; db: DuckDBInstance }> {
  const dbPath = join(dir, "fleet.duckdb");
  const build = await DuckDBInstance.create(dbPath);
  const c = await build.connect();
  await c.run(FLEET_SQL);
  c.closeSync();
  build.closeSync();
  const model = await pretrain(dbPath, { seed });
  const db = await DuckDBInstance.create(dbPath, { access_mode: "READ_ONLY" });
  return { dbPath, model, db };
}

/** The fleet of {@linkcode fleet} in a new temp directory; `close` closes the database and removes the directory. */
export interface TempFleet {
  dir: string;
  model: LabMiniModel;
  db: DuckDBInstance;
  close: () => Promise<void>;
}

/** Builds the fleet in a new temp directory named with `prefix` (see {@linkcode fleet}). */
export async function tempFleet(prefix: string): Promise<TempFleet> {
  const dir = await Deno.makeTempDir({ prefix });
  const { model, db } = await fleet(dir);
  return {
    dir,
    model,
    db,
    close: async () => {
      db.closeSync();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** OpenAI tool definitions without parameters, one per name. */
export function toolDefs(...names: string[]) {
  return names.map((name) => ({ type: "function" as const, function: { name, parameters: { type: "object", properties: {} } } }));
}

/** The tools the fleet tests offer lab-mini: dbRead and submitAnswer. */
export const SQL_TOOLS = toolDefs("dbRead", "submitAnswer");

/**
 * Chat JSONL lines that parse (the server accepts them at upload) and the trainer cannot use: an assistant that
 * answers without a tool call, and a dbRead whose arguments are not JSON.
 */
export const UNUSABLE_CHAT_LINES: readonly string[] = [
  JSON.stringify({ messages: [{ role: "user", content: "How many trips?" }, { role: "assistant", content: "I do not know." }] }),
  JSON.stringify({ messages: [{ role: "user", content: "How many trips?" }, { role: "assistant", content: null, tool_calls: [{ id: "x", type: "function", function: { name: "dbRead", arguments: "{oops" } }] }] }),
];

/** Share of tasks whose first dbRead, asked of `backend` with {@linkcode SQL_TOOLS}, gives the gold result on `db`. */
export async function sqlAccuracy(backend: ChatBackend, tasks: { task: string; sql: string }[], db: DuckDBInstance): Promise<number> {
  let ok = 0;
  for (const t of tasks) {
    const req: BackendChatRequest = { model: backend.id, messages: [{ role: "system", content: "You answer with SQL." }, { role: "user", content: t.task }], tools: SQL_TOOLS, seed: 1 };
    const sql = JSON.parse((await backend.complete(req)).choices[0].message.tool_calls![0].function.arguments).sql;
    const got = await run(db, sql);
    if (got !== undefined && got === await run(db, t.sql)) ok++;
  }
  return ok / tasks.length;
}

/** Runs a query; its rows as sorted JSON (row order without ORDER BY is not deterministic); `undefined` when it fails. */
export async function run(db: DuckDBInstance, sql: string): Promise<string | undefined> {
  const c = await db.connect();
  try {
    return JSON.stringify((await c.runAndReadAll(sql)).getRowObjectsJson().map((r) => JSON.stringify(r)).sort());
  } catch {
    return undefined;
  } finally {
    c.closeSync();
  }
}

export interface FamilyTask {
  family: string;
  task: string;
  sql: string;
}

const DRIVERS = ["ana", "ben", "chen", "dara", "eli"];
const REGIONS = ["north", "south", "coast"];
const MAKES = ["volvo", "scania", "iveco", "tesla"];
const PERIODS: [string, Period][] = [
  ["this year", { kind: "relative", unit: "year", offset: 0 }],
  ["last year", { kind: "relative", unit: "year", offset: 1 }],
  ["this quarter", { kind: "relative", unit: "quarter", offset: 0 }],
  ["last quarter", { kind: "relative", unit: "quarter", offset: 1 }],
  ["in the last 90 days", { kind: "days", days: 90 }],
  ["in the last 200 days", { kind: "days", days: 200 }],
];

/** The families: each draws parameters from `rand` and returns a task and its gold SQL. */
export const FAMILIES: Record<string, (rand: () => number) => FamilyTask> = {
  multi: (r) => {
    const d = pick(r, DRIVERS), g = pick(r, REGIONS), n = 50 + Math.floor(r() * 700);
    const task = r() < 0.5 ? `How many trips did ${d} drive in the ${g} region that were longer than ${n} km?` : `Count trips by driver ${d} in region ${g} with distance over ${n} km.`;
    return { family: "multi", task, sql: `SELECT count(*) AS value FROM trips WHERE driver = '${d}' AND region = '${g}' AND distance_km > ${n}` };
  },
  joinsum: (r) => {
    const m = pick(r, MAKES);
    const task = r() < 0.5 ? `What is the total repair cost for ${m} vehicles?` : `Total cost of repairs on ${m} vehicles`;
    return { family: "joinsum", task, sql: `SELECT sum(r.cost) AS value FROM repairs r JOIN vehicles v ON r.vehicle_id = v.vehicle_id WHERE v.make = '${m}'` };
  },
  joincount: (r) => {
    const m = pick(r, MAKES);
    const task = r() < 0.5 ? `How many trips were made with ${m} vehicles?` : `Number of trips driven in ${m} vehicles`;
    return { family: "joincount", task, sql: `SELECT count(*) AS value FROM trips t JOIN vehicles v ON t.vehicle_id = v.vehicle_id WHERE v.make = '${m}'` };
  },
  longfuel: (r) => {
    const n = 100 + Math.floor(r() * 600);
    const [phrase, p] = pick(r, PERIODS);
    const [s, e] = periodBounds(p);
    const task = r() < 0.5 ? `Average fuel liters of trips longer than ${n} km ${phrase}` : `What was the mean fuel use in liters for trips over ${n} km ${phrase}?`;
    return { family: "longfuel", task, sql: `SELECT avg(fuel_liters) AS value FROM trips WHERE distance_km > ${n} AND started_on >= ${s} AND started_on < ${e}` };
  },
  topmakes: (r) => {
    const k = pick(r, [2, 3]), g = pick(r, REGIONS);
    const task = r() < 0.5 ? `Which ${k} makes had the most trips in the ${g} region?` : `Name the ${k} vehicle makes with the most trips in region ${g}`;
    return { family: "topmakes", task, sql: `SELECT v.make, count(*) AS value FROM trips t JOIN vehicles v ON t.vehicle_id = v.vehicle_id WHERE t.region = '${g}' GROUP BY v.make ORDER BY value DESC, v.make LIMIT ${k}` };
  },
};

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** `perFamily` tasks of every family, drawn with `seed`. */
export function familyTasks(seed: number, perFamily: number): FamilyTask[] {
  const r = prng(seed);
  const out: FamilyTask[] = [];
  for (const f of Object.values(FAMILIES)) for (let i = 0; i < perFamily; i++) out.push(f(r));
  return out;
}

/** A chat JSONL line (OpenAI fine-tuning format) solving a task with one dbRead. */
export function chatLine(t: { task: string; sql: string }, i = 0): string {
  return JSON.stringify({
    messages: [
      { role: "system", content: "You answer questions about the fleet database with SQL." },
      { role: "user", content: t.task },
      { role: "assistant", content: null, tool_calls: [{ id: `c${i}`, type: "function", function: { name: "dbRead", arguments: JSON.stringify({ sql: t.sql }) } }] },
      { role: "tool", tool_call_id: `c${i}`, content: "{\"ok\":true,\"rows\":[{\"value\":1}]}" },
      { role: "assistant", content: null, tool_calls: [{ id: `s${i}`, type: "function", function: { name: "submitAnswer", arguments: "{\"answer\":1}" } }] },
    ],
    tools: [{ type: "function", function: { name: "dbRead", parameters: { type: "object", properties: { sql: { type: "string" } } } } }],
  });
}
