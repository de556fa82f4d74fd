import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PatternStore } from "../patterns/mod.ts";
import { queryStore } from "../tournament/mod.ts";
import { challenge, record } from "../datasets/testing.ts";
import { editPatterns, formatEditReport, reasonForm, simulateCorrection } from "./mod.ts";

describe("edit patterns", () => {
  let store: PatternStore;
  let dir: string;
  let db: string;
  beforeAll(async () => {
    store = await PatternStore.open(":memory:");
    dir = await Deno.makeTempDir();
    db = `${dir}/lab.duckdb`;
    const c = challenge({ id: "ar/t1/x/o1", task: "How many open invoices?", split: "train", category: "finance" });
    const planted: [string, string, string][] = [
      ["alpha", "SELECT count(*) AS n FROM invoices", "SELECT count(*) AS n FROM invoices WHERE status = 'open'"],
      ["alpha", "SELECT count(*) AS n FROM invoices LIMIT 5", "SELECT count(*) AS n FROM invoices WHERE status = 'open'"],
      ["alpha", "SELECT count(*) AS n FROM invoices", "SELECT count(*) AS n FROM invoices"],
      ["beta", "SELECT count(*) AS n FROM invoices", "SELECT sum(total) AS n FROM invoices i JOIN customers c ON c.id = i.customer_id"],
    ];
    for (const [i, [strategy, sql, fixed]] of planted.entries()) {
      await simulateCorrection(store, { challenge: c, record: { ...record(c, { strategy, sql: [sql] }), id: `ep-${i}` }, sql: fixed });
    }
    await queryStore(db, "SELECT 1"); // creates the tournament tables
    await queryStore(db, `INSERT INTO episodes (run_id, id, strategy_id, model_name, pass, reason, trace) VALUES
      ('t-1', 'e1', 'alpha', 'lab-mini', false, '2 of 4 rows differ', '{"challenge":{"category":"finance"}}'),
      ('t-1', 'e2', 'alpha', 'lab-mini', false, '3 of 5 rows differ', '{"challenge":{"category":"finance"}}'),
      ('t-1', 'e3', 'alpha', 'lab-mini', false, 'no answer submitted', '{"challenge":{"category":"purchasing"}}'),
      ('t-1', 'e4', 'beta', 'lab-mini', true, 'ok', '{"challenge":{"category":"finance"}}')`);
  });
  afterAll(async () => {
    await store.close();
    await Deno.remove(dir, { recursive: true });
  });

  it("counts what planted corrections add and remove per strategy, with the failure reasons by form", async () => {
    const r = await editPatterns(store, { by: "strategy", simulated: "simulated", db, top: 3 });
    const none = { added: [], removed: [] };
    expect(r).toEqual({
      by: "strategy",
      simulated: "simulated",
      corrections: 4,
      edited: 3,
      failures: 3,
      groups: [
        {
          key: "alpha",
          corrections: 3,
          edited: 2,
          fragments: {
            added: [{ value: "where status = 'open'", count: 2, frequency: 1 }],
            removed: [{ value: "limit 5", count: 1, frequency: 0.5 }],
          },
          modifications: {
            table: none,
            column: { added: [{ value: "status", count: 2, frequency: 1 }], removed: [] },
            filter: { added: [{ value: "status = 'open'", count: 2, frequency: 1 }], removed: [] },
            aggregation: none,
            group_by: none,
            order_by: none,
            limit: { added: [], removed: [{ value: "5", count: 1, frequency: 0.5 }] },
            answer_shape: none,
            answer_value: none,
          },
          failures: 3,
          failureReasons: [{ value: "# of # rows differ", count: 2, frequency: 0.6667 }, { value: "no answer submitted", count: 1, frequency: 0.3333 }],
        },
        {
          key: "beta",
          corrections: 1,
          edited: 1,
          fragments: {
            added: [{ value: "i join customers c on c.id = i.customer_id", count: 1, frequency: 1 }, { value: "sum", count: 1, frequency: 1 }, { value: "total", count: 1, frequency: 1 }],
            removed: [{ value: "*", count: 1, frequency: 1 }, { value: "count", count: 1, frequency: 1 }],
          },
          modifications: {
            table: { added: [{ value: "customers", count: 1, frequency: 1 }], removed: [] },
            column: { added: [{ value: "customer_id", count: 1, frequency: 1 }, { value: "id", count: 1, frequency: 1 }, { value: "total", count: 1, frequency: 1 }], removed: [] },
            filter: { added: [{ value: "c.id = i.customer_id", count: 1, frequency: 1 }], removed: [] },
            aggregation: { added: [{ value: "sum", count: 1, frequency: 1 }], removed: [{ value: "count", count: 1, frequency: 1 }] },
            group_by: none,
            order_by: none,
            limit: none,
            answer_shape: none,
            answer_value: none,
          },
          failures: 0,
          failureReasons: [],
        },
      ],
    });
    const byCategory = await editPatterns(store, { by: "category", simulated: "simulated", db });
    expect(byCategory.groups.map((g) => [g.key, g.corrections, g.edited, g.failures])).toEqual([["finance", 4, 3, 2], ["purchasing", 0, 0, 1]]);
    expect(formatEditReport(r).split("\n").slice(0, 4)).toEqual([
      "edits by strategy (simulated corrections): 4 corrections, 3 edited; 3 failed episodes",
      "  alpha: 3 corrections, 2 edited, 3 failures",
      "    SQL added: where status = 'open' (2, 100%)",
      "    SQL removed: limit 5 (1, 50%)",
    ]);
  });

  it("reads real corrections only by default, and groups reasons by their form", async () => {
    expect((await editPatterns(store, { by: "model" })).groups).toEqual([]);
    expect(reasonForm("expected 'Acme Ltd' got \"Birch\" in 12.50  rows")).toBe("expected '…' got '…' in # rows");
  });
});
