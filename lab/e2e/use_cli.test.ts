/** `lab ask --correct/--confirm` and `lab use edits` through the CLI: a round trip, and bad input as one line with exit 2. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PatternStore } from "../patterns/mod.ts";
import { recordAsk } from "../use/mod.ts";
import { lab } from "./testing.ts";

describe("lab ask --correct and lab use edits", () => {
  let dir: string, patterns: string, askId: string;
  beforeAll(async () => {
    dir = await Deno.makeTempDir();
    patterns = `${dir}/patterns.duckdb`;
    await using store = await PatternStore.open(patterns);
    const record = {
      strategyId: "gamma",
      model: { name: "lab-mini", id: "lab-mini@1" },
      costUsd: 0,
      latencyMs: 5,
      queries: [{ call: 0, tool: "dbRead" as const, sql: "SELECT count(*) FROM invoices", ok: true, ms: 1 }],
    };
    askId = (await recordAsk(store, { question: "How many open invoices?", role: "analyst", answer: 9, record })).id;
    await Deno.writeTextFile(`${dir}/fixed.sql`, "SELECT count(*) FROM invoices WHERE status = 'open'");
  });
  afterAll(async () => {
    await Deno.remove(dir, { recursive: true });
  });

  it("corrects, confirms and reports the edit", async () => {
    const c = await lab("ask", "--patterns", patterns, "--correct", askId, "--sql", `${dir}/fixed.sql`, "--answer", "4", "--note", "open only");
    expect(c).toEqual({
      code: 0,
      err: "",
      out: [
        `correction of ask ${askId} (How many open invoices?): unverified — confirm it with 'lab ask --confirm ${askId}'`,
        "  SQL edited: 4 tokens (similarity 0.7778); answer changed",
        "  + where status = 'open'",
        "  column added: status",
        "  filter added: status = 'open'",
        "  answer_value changed: 9 → 4",
      ].join("\n"),
    });
    const f = await lab("ask", "--patterns", patterns, "--confirm", askId, "--json");
    expect(f.code).toBe(0);
    expect(JSON.parse(f.out)).toMatchObject({ askId, status: "confirmed", finalSql: "SELECT count(*) FROM invoices WHERE status = 'open'", finalAnswer: 4 });
    // The confirmed correction is a gold, human-validated example of `lab dataset build` (its asks source).
    const b = await lab("dataset", "build", "--patterns", patterns, "--db", `${dir}/none.duckdb`, "--sources", "asks", "--out", `${dir}/ds`, "--json");
    expect(b.code, b.err).toBe(0);
    const lines = (await Deno.readTextFile(`${dir}/ds/train.jsonl`)).trim().split("\n");
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("status = 'open'");
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/ds/train.manifest.json`));
    expect(manifest.lineage.map((l: { source: string; tier: string; humanValidated?: boolean }) => [l.source, l.tier, l.humanValidated])).toEqual([["ask", "gold", true]]);
    const e = await lab("use", "edits", "--patterns", patterns, "--no-failures", "--json");
    expect(e.code).toBe(0);
    expect(JSON.parse(e.out)).toMatchObject({ by: "strategy", corrections: 1, edited: 1, groups: [{ key: "gamma", modifications: { filter: { added: [{ value: "status = 'open'", count: 1, frequency: 1 }] } } }] });
  });

  it("refuses bad input in one line with exit 2", async () => {
    const cases: [string[], string][] = [
      [["--correct", askId], "lab ask: --correct needs the correct answer (--answer <json>), the corrected SQL (--sql <file or ->), or both — see 'deno task lab ask --help'"],
      [["--correct", askId, "--answer", "{oops"], "lab ask: --answer must be JSON"],
      [["--correct", "ask-nope", "--answer", "1"], `lab ask: no ask or asked pattern with id 'ask-nope' in ${patterns}; 'lab ask' prints the id of each answer — see`],
      [["--correct", askId, "--sql", `${dir}/missing.sql`], `lab ask: --sql: cannot read '${dir}/missing.sql'`],
      [["--answer", "1", "a question"], "lab ask: --answer goes with --correct <id>"],
    ];
    for (const [argv, message] of cases) {
      const r = await lab("ask", "--patterns", patterns, ...argv);
      expect({ code: r.code, lines: r.err.split("\n").length, start: r.err.slice(0, message.length) }).toEqual({ code: 2, lines: 1, start: message });
    }
    const u = await lab("use", "edits", "--patterns", patterns, "--by", "colour");
    expect({ code: u.code, err: u.err }).toEqual({ code: 2, err: "lab use edits: --by must be one of strategy, category, model, found 'colour' — see 'deno task lab use edits --help'" });
  });
});
