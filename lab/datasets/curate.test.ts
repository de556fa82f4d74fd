import { describe, expect, it } from "vitest";
import { normalizeIntent } from "../patterns/mod.ts";
import { mulberry32 } from "../util/mod.ts";
import {
  balance,
  curate,
  datasetsConfig,
  type Example,
  LeakageGuard,
  NearDuplicateIndex,
  qualityScore,
  shingles,
  stageSets,
  tierOf,
} from "./mod.ts";
import { challenge, example } from "./testing.ts";

const CATALOG = [
  challenge({ id: "held/t0/x/o1", family: "held", task: "What were overdue payables on March 31, 2025?", split: "dev" }),
  challenge({ id: "held/t1/x/o1", family: "held", task: "List overdue payables older than 30 days", split: "test_id" }),
  challenge({ id: "oodfam/t0/x/o1", family: "oodfam", task: "Reconcile the bank account for the period", split: "test_ood" }),
  challenge({ id: "held/t2/y/o1", family: "held", task: "Show the payables aging", split: "train" }),
];
const guard = LeakageGuard.fromCatalog(CATALOG);

describe("quality", () => {
  it("adds seed 001's factors to 0.35 × fitness, caps the sum at 1 and tiers it", () => {
    const cfg = datasetsConfig();
    const cases: [string, Partial<Example>][] = [
      ["verified, level 1", { fitness: 0.9 }],
      ["verified, level 4, support 2", { fitness: 1, level: 4, support: 2 }],
      ["verified, level 4, support 2, reused a pattern", { fitness: 1, level: 4, support: 2, patternUsed: true }],
      ["a person's question marked right", { fitness: 0.96, synthetic: false, verifierScore: null, markedPass: true, level: null }],
      ["everything", { fitness: 1, level: 5, support: 3, patternUsed: true, markedPass: true }],
    ];
    const scored = cases.map(([what, f]) => {
      const q = qualityScore(example({ id: what, ...f }), cfg.quality);
      return { what, score: q.score, tier: tierOf(q.score, cfg.tiers) ?? "rejected" };
    });
    expect(scored).toEqual([
      { what: "verified, level 1", score: 0.465, tier: "rejected" },
      { what: "verified, level 4, support 2", score: 0.65, tier: "bronze" },
      { what: "verified, level 4, support 2, reused a pattern", score: 0.75, tier: "silver" },
      { what: "a person's question marked right", score: 0.536, tier: "rejected" },
      { what: "everything", score: 0.95, tier: "gold" },
    ]);
    const heavy = datasetsConfig({ quality: { weights: { fitness: 0.6, human: 0.5 } } });
    expect(qualityScore(example({ id: "x", fitness: 1, markedPass: true }), heavy.quality).score).toBe(1);
  });
});

describe("curate", () => {
  const SQL_A =
    "dbRead: select customer_id, sum(total) as revenue from invoices where status = 'paid' group by customer_id order by revenue desc";
  const A = example({ id: "pattern:A", normalizedIntent: "gold intent alpha", sqlKey: SQL_A, fitness: 1, level: 5, markedPass: true, support: 3, patternUsed: true });
  const planted: Example[] = [
    A,
    // an exact duplicate (the episode the pattern came from) and a near-duplicate (one more word, a LIMIT)
    { ...A, id: "episode:run-1/a", source: "episode", fitness: 0.8, markedPass: null, support: 1, patternUsed: false },
    { ...A, id: "pattern:C", normalizedIntent: "gold intent alpha now", sqlKey: `${A.sqlKey} limit 100`, fitness: 0.95 },
    example({ id: "pattern:D", category: "sales", normalizedIntent: "silver d", sqlKey: "dbRead: select d from s", fitness: 1, level: 4, markedPass: true }),
    example({ id: "ask:E", source: "ask", synthetic: false, category: "sales", normalizedIntent: "silver e", sqlKey: "dbRead: select e from s", fitness: 0.9, verifierScore: null, markedPass: true, patternUsed: true, level: 4, support: 2, split: null }),
    example({ id: "pattern:F", category: "sales", normalizedIntent: "bronze f", sqlKey: "dbRead: select f from s", fitness: 1, level: 4, support: 2 }),
    example({ id: "pattern:G", normalizedIntent: "rejected g", sqlKey: "dbRead: select g from t" }),
    example({ id: "pattern:H", normalizedIntent: "failed h", pass: false, verifierScore: 0 }),
    example({ id: "ask:I", source: "ask", synthetic: false, normalizedIntent: "wrong i", pass: false, markedPass: false, verifierScore: null, split: null }),
    example({ id: "pattern:J", normalizedIntent: "no sql j", calls: [], sqlKey: "" }),
    example({ id: "pattern:K1", split: "dev" }),
    example({ id: "pattern:K2", split: null, contaminated: true }),
    example({ id: "pattern:K3", family: "oodfam" }),
    example({ id: "episode:run-1/k4", source: "episode", challengeId: "held/t0/x/o1", family: "held" }),
    example({ id: "episode:run-1/k5", source: "episode", challengeId: "held/t1/z/o2", family: "held" }),
    example({ id: "ask:K6", source: "ask", synthetic: false, split: null, family: null, task: "What were overdue payables on April 30, 2026?", normalizedIntent: normalizeIntent("What were overdue payables on April 30, 2026?") }),
    example({ id: "episode:run-1/k7", source: "episode", injectedTasks: ["List overdue payables older than 45 days"] }),
  ];
  const config = datasetsConfig({ balance: { per_category_cap: 2 } });

  it("accounts for every example: leakage, failed turns, duplicates, quality, balance; seed 000's order", () => {
    const c = curate(planted, { config, guard });
    expect(c.pool.map((e) => [e.id, e.tier, e.quality])).toEqual([
      ["pattern:A", "gold", 0.95],
      ["ask:E", "silver", 0.765], // a person's example first within its tier, despite D's higher quality
      ["pattern:D", "silver", 0.8],
      ["pattern:F", "bronze", 0.65],
    ]);
    expect(c.pool[0]).toMatchObject({ groupSupport: 3, merged: { exact: 1, near: 1 } });
    expect(c.examples.map((e) => e.id)).toEqual(["pattern:A", "ask:E", "pattern:D"]);
    expect(c.read).toEqual({ episode: 4, pattern: 10, ask: 3 });
    expect(c.excluded).toEqual({
      leakage: {
        held_out_split: 1,
        contaminated: 1,
        ood_family: 1,
        held_out_instance: 1,
        held_out_template: 1,
        held_out_intent: 1,
        held_out_injected: 1,
      },
      failedTurn: 1,
      markedWrong: 1,
      noSql: 1,
      filtered: 0,
      rejectedQuality: 1,
      exactDuplicate: 1,
      nearDuplicate: 1,
      overCategoryCap: 1,
    });
    const excluded = Object.values(c.excluded.leakage).reduce((a, b) => a + b, 0) + c.excluded.failedTurn +
      c.excluded.markedWrong + c.excluded.noSql + c.excluded.filtered + c.excluded.rejectedQuality +
      c.excluded.exactDuplicate + c.excluded.nearDuplicate;
    expect(excluded + c.pool.length).toBe(planted.length);
  });

  it("filters by category and tier, counting what the filters left out", () => {
    const c = curate(planted, { config, guard, filter: { categories: ["sales"], tiers: ["silver"] } });
    expect(c.pool.map((e) => e.id)).toEqual(["ask:E", "pattern:D"]);
    expect(c.excluded.filtered).toBe(5); // A, its two duplicates and G (finance); F (bronze)
  });

  it("pairs a train instance's best passing attempt with its worst failing one", () => {
    const attempt = (id: string, challengeId: string, pass: boolean, fitness: number) =>
      example({ id, source: "episode", challengeId, pass, fitness, verifierScore: pass ? 1 : 0.3 });
    const c = curate([
      attempt("episode:r/1", "fam/t3/a/o1", true, 0.9),
      attempt("episode:r/2", "fam/t3/a/o1", true, 0.95),
      attempt("episode:r/3", "fam/t3/a/o1", false, 0.3),
      attempt("episode:r/4", "fam/t3/a/o1", false, 0.1),
      attempt("episode:r/5", "fam/t3/b/o1", true, 0.9),
      attempt("episode:r/6", "held/t0/x/o1", true, 0.9),
      attempt("episode:r/7", "held/t0/x/o1", false, 0.1),
    ], { config, guard });
    expect(c.pairs.map((p) => [p.challengeId, p.chosen.id, p.rejected.id])).toEqual([
      ["fam/t3/a/o1", "episode:r/2", "episode:r/4"],
    ]);
    expect(c.unpaired).toBe(1);
    expect(c.excluded.failedTurn).toBe(2);
  });
});

describe("near-duplicates", () => {
  const rand = mulberry32(11);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const WORDS = Array.from({ length: 300 }, (_, i) => `w${i.toString(36)}x`);
  const TABLES = ["invoices", "bills", "payments", "customers", "vendors", "products", "journal_lines", "bank_transactions"];
  const COLS = ["total", "amount", "status", "region", "due_date", "qty", "price", "segment", "category", "balance"];
  const base = (i: number) => {
    const intent: string[] = [];
    while (intent.length < 6 + (i % 4)) {
      const w = pick(WORDS);
      if (!intent.includes(w)) intent.push(w);
    }
    const [t, a, b, c, d] = [pick(TABLES), pick(COLS), pick(COLS), pick(COLS), pick(COLS)];
    const sql = `select ${c}, sum(${a}) as s${i} from ${t} where ${b} = 'v${i}' and ${d} > ${i} group by ${c} order by s${i} desc`;
    return { intent, sql, i };
  };
  const EDITS: ((x: ReturnType<typeof base>) => { intent: string[]; sql: string })[] = [
    (x) => ({ intent: x.intent, sql: x.sql.replaceAll(`s${x.i}`, `total_${x.i}`) }), // alias renamed
    (x) => ({ intent: x.intent, sql: `${x.sql} limit 100` }), // a LIMIT added
    (x) => ({ intent: [...x.intent, `new${x.i}`], sql: x.sql }), // one more word
    (x) => ({ intent: x.intent.map((w, k) => (k === 1 ? `new${x.i}` : w)), sql: x.sql }), // one word replaced
    (x) => ({ intent: x.intent, sql: x.sql.replace(`'v${x.i}'`, `'v${x.i}b'`) }), // another value
  ];
  const bases = Array.from({ length: 300 }, (_, i) => base(i));
  const variants = bases.flatMap((b) => EDITS.map((edit) => ({ of: b.i, ...edit(b) })));
  const sh = (intent: string[], sql: string) => shingles(intent.join(" "), `dbRead: ${sql}`);

  it("finds ≥ 95 % of planted near-duplicates, each of its own original, and merges no two originals", () => {
    const index = new NearDuplicateIndex({ intentJaccard: 0.7, sqlJaccard: 0.8 });
    expect(bases.map((b) => index.offer(sh(b.intent, b.sql))).filter((j) => j >= 0)).toEqual([]);
    const found = variants.map((v) => index.offer(sh(v.intent, v.sql)));
    const recall = found.filter((j, k) => j === variants[k].of).length / variants.length;
    expect(recall).toBeGreaterThanOrEqual(0.95);
    expect(found.filter((j, k) => j >= 0 && j !== variants[k].of)).toEqual([]);
  });

  it("keeps different wordings of one request that run the same SQL", () => {
    const index = new NearDuplicateIndex({ intentJaccard: 0.7, sqlJaccard: 0.8 });
    const b = bases[0];
    index.offer(sh(b.intent, b.sql));
    expect(index.offer(sh(bases[1].intent, b.sql))).toBe(-1);
  });

  it("removes them in curation, keeping the best ranked of each cluster", () => {
    const ex = (id: string, intent: string[], sql: string, fitness: number) =>
      example({ id, normalizedIntent: intent.join(" "), sqlKey: `dbRead: ${sql}`, fitness, level: 4, support: 2 });
    const c = curate([
      ...variants.slice(0, 50).map((v, k) => ex(`pattern:v${k}`, v.intent, v.sql, 0.9)),
      ...bases.slice(0, 10).map((b) => ex(`pattern:b${b.i}`, b.intent, b.sql, 1)),
    ], { config: datasetsConfig(), guard });
    expect(c.pool.map((e) => e.id).sort()).toEqual(bases.slice(0, 10).map((b) => `pattern:b${b.i}`).sort());
    expect(c.excluded.nearDuplicate).toBe(50);
  });
});

describe("balance and staged sets", () => {
  it("takes round robin over (level, outcome) strata within each category, up to the cap", () => {
    const rows = [
      { id: 1, category: "a", level: 1, outcome: "number" },
      { id: 2, category: "a", level: 1, outcome: "number" },
      { id: 3, category: "a", level: 1, outcome: "number" },
      { id: 4, category: "a", level: 2, outcome: "table" },
      { id: 5, category: "a", level: 3, outcome: "action" },
      { id: 6, category: "b", level: 1, outcome: "number" },
    ];
    expect(balance(rows, 3).map((r) => r.id)).toEqual([1, 4, 5, 6]);
    expect(balance(rows, 4).map((r) => r.id)).toEqual([1, 2, 4, 5, 6]);
  });

  it("draws each stage from the pool at its fitness floor and levels, and says when it is scaled down", () => {
    const pool = [
      { id: "1", category: "a", level: 1, fitness: 0.95 },
      { id: "2", category: "a", level: 2, fitness: 0.92 },
      { id: "3", category: "a", level: 3, fitness: 0.95 },
      { id: "4", category: "b", level: 1, fitness: 0.88 },
      { id: "5", category: "b", level: 1, fitness: 0.8 },
      { id: "6", category: "c", level: 2, fitness: 0.99 },
    ].map((p) => ({ ...example({ id: p.id }), ...p, outcome: "number" })) as never;
    const cfg = datasetsConfig({
      stages: {
        core: { size: 2, min_fitness: 0.9, levels: [1, 2] },
        extended: { size: 10, min_fitness: 0.85 },
        comprehensive: { size: 4, min_fitness: 0.75 },
      },
    });
    const s = stageSets({ pool }, cfg);
    expect(Object.values(s).map((x) => ({ name: x.name, ids: x.examples.map((e) => e.id), scaledDown: x.scaledDown, note: x.note })))
      .toEqual([
        { name: "core", ids: ["1", "6"], scaledDown: false, note: "2 examples at composite fitness ≥ 0.9, levels 1, 2, balanced across 2 categories" },
        {
          name: "extended",
          ids: ["1", "2", "3", "4", "6"],
          scaledDown: true,
          note: "scaled down: 5 of the target 10 — only 5 curated examples at composite fitness ≥ 0.85",
        },
        { name: "comprehensive", ids: ["1", "2", "4", "6"], scaledDown: false, note: "4 examples at composite fitness ≥ 0.75, balanced across 3 categories" },
      ]);
  });
});
