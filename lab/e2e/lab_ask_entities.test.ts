// Entity choice: everyday counts and totals are answered from the table they are about, through `lab ask`'s own
// surface (askQuestion, the default strategy gamma — "prefer views" — and lab-mini's committed base weights on the
// small sandbox, the one `lab ask` uses). A view of another grain (revenue per month, balances per account) must not answer
// "how many customers".
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DuckDBInstance } from "@duckdb/node-api";
import { ensureSandbox, SandboxPool } from "../sandbox/mod.ts";
import { getStrategy, loadStrategiesConfig, type Strategy } from "../agents/mod.ts";
import { askQuestion } from "../patterns/mod.ts";
import { type ChatModel, createChatModel, getModelConfig, LAB_MINI_BASE_WEIGHTS, loadLabMini, loadModelsConfig } from "../models/mod.ts";

// The question, the relation its first dbRead must read, and the reference SQL of its answer (org 1).
const CASES: [string, string, string][] = [
  ["How many customers are there?", "customers", "SELECT count(*) FROM customers WHERE org_id = 1"],
  ["How many vendors do we have?", "vendors", "SELECT count(*) FROM vendors WHERE org_id = 1"],
  ["How many products are there?", "products", "SELECT count(*) FROM products WHERE org_id = 1"],
  ["How many warehouses?", "warehouses", "SELECT count(*) FROM warehouses WHERE org_id = 1"],
  ["How many suppliers do we have?", "vendors", "SELECT count(*) FROM vendors WHERE org_id = 1"],
  ["Number of open purchase orders", "purchase_orders", "SELECT count(*) FROM purchase_orders WHERE org_id = 1 AND status = 'open'"],
  ["How many active products do we have?", "products", "SELECT count(*) FROM products WHERE org_id = 1 AND is_active"],
  ["Total of unpaid vendor bills", "vendor_bills", "SELECT sum(total) FROM vendor_bills WHERE org_id = 1 AND status <> 'paid'"],
];

// LAB_MINI_ENTITY_WEIGHTS: try other weights (e.g. a pretraining in /tmp) against the same cases.
const WEIGHTS = Deno.env.get("LAB_MINI_ENTITY_WEIGHTS") || LAB_MINI_BASE_WEIGHTS;

let pool: SandboxPool;
let strategy: Strategy;
let model: ChatModel;
const reference: number[] = [];

beforeAll(async () => {
  const { path } = await ensureSandbox({ scale: "small" });
  const db = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
  const con = await db.connect();
  for (const [, , sql] of CASES) reference.push(Number((await con.runAndReadAll(sql)).getRows()[0][0]));
  con.closeSync();
  db.closeSync();
  pool = await SandboxPool.open(path, { size: 1 });
  strategy = getStrategy(await loadStrategiesConfig(), "gamma");
  model = createChatModel(getModelConfig(await loadModelsConfig(), "lab-mini"), { backend: await loadLabMini(WEIGHTS) });
});

afterAll(async () => {
  await pool?.close();
});

describe("lab ask with lab-mini: what a count or total is about", () => {
  it("answers everyday counts and totals from the right table with the reference value", async () => {
    const got = [];
    for (const [question] of CASES) {
      const r = await askQuestion(question, { model, pool, strategy, orgId: 1 });
      const first = r.record.queries[0]?.sql ?? "";
      got.push({ question, relation: /\bFROM\s+"?(\w+)"?/i.exec(first)?.[1], answer: Math.round(Number(r.answer) * 100) / 100 });
    }
    expect(got).toEqual(CASES.map(([question, relation], i) => ({ question, relation, answer: Math.round(reference[i] * 100) / 100 })));
  });
});
