import { describe, expect, it } from "vitest";
import { join } from "node:path";
import {
  CATEGORIES,
  type Challenge,
  challengeJsonSchema,
  expandInstances,
  LEVELS,
  loadCatalog,
  loadFamilies,
  parseFamily,
  SPLITS,
} from "./mod.ts";
import { testFamilyYaml } from "./testing.ts";

const GOOD = testFamilyYaml(
  "demo_family",
  "number",
  "  kind: number\n  reference: SELECT sum(subtotal) FROM sales_invoices WHERE invoice_date >= {period.start}\n",
);

function errorOf(text: string, source = "x.yaml"): string {
  try {
    parseFamily(text, source);
  } catch (e) {
    return (e as Error).message;
  }
  return "no error";
}

describe("challenge loader", () => {
  it("accepts a well-formed family", () => {
    expect(parseFamily(GOOD, "x.yaml")).toMatchObject({ family: "demo_family", level: 1, origin: "catalog" });
  });

  it("rejects malformed files naming the file, the path inside it and the reason", () => {
    expect(errorOf("family: [unclosed")).toMatch(/^x\.yaml: not valid YAML/);
    expect(errorOf(GOOD.replace("level: 1", "level: 7"))).toMatch(/^x\.yaml: level: /);
    expect(errorOf(GOOD.replace(`  - "How much did we sell {period}?"\n`, ""))).toBe(
      "x.yaml: templates: needs at least 4 paraphrase templates",
    );
    expect(errorOf(GOOD.replace("{period.start}", "{period.begin}"))).toMatch(
      /^x\.yaml: verifier\.reference: unknown placeholder \{period\.begin\}/,
    );
    expect(errorOf(GOOD.replace("two_months_ago]", "fortnight]"))).toMatch(
      /^x\.yaml: params\.period has unknown value 'fortnight'/,
    );
    expect(errorOf(GOOD.replace("Revenue {period}, please.", "Revenue {quarter}, please."))).toMatch(
      /^x\.yaml: templates\[1\]: unknown placeholder \{quarter\}/,
    );
    expect(errorOf(GOOD.replace("Revenue {period}, please.", "Revenue now, please."))).toMatch(
      /^x\.yaml: templates\[1\]: must mention every parameter/,
    );
    expect(errorOf(GOOD.replace("kind: number", "kind: guess"))).toMatch(/^x\.yaml: verifier\.kind: /);
  });

  it("rejects a family id defined twice, naming both files", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(join(dir, "a.yaml"), GOOD);
    await Deno.writeTextFile(join(dir, "b.yaml"), GOOD);
    await expect(loadFamilies([dir])).rejects.toThrow(/b\.yaml: family 'demo_family' is already defined in .*a\.yaml/);
  });

  it("loads extra files from any path without moving committed families between splits", async () => {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(join(dir, "held_out.yaml"), GOOD);
    const base = await loadCatalog();
    const withExtra = await loadCatalog({ extra: [dir] });
    const extra = withExtra.filter((c) => c.family === "demo_family");
    expect(extra.length).toBeGreaterThan(0);
    expect(withExtra.filter((c) => c.family !== "demo_family")).toEqual(base);
  });
});

describe("the committed catalog", async () => {
  const all: Challenge[] = await loadCatalog();
  const families = await loadFamilies();

  it("has ≥ 40 families over five levels and every category, and ≥ 250 instances", () => {
    expect(families.length).toBeGreaterThanOrEqual(40);
    expect(new Set(families.map((f) => f.level))).toEqual(new Set(LEVELS));
    expect(new Set(families.map((f) => f.category))).toEqual(new Set(CATEGORIES));
    expect(all.length).toBeGreaterThanOrEqual(250);
    for (const f of families) expect(f.templates.length, f.family).toBeGreaterThanOrEqual(4);
  });

  it("holds out ≥ 2 whole families per level in test_ood and ≥ 10 dev and test_id instances per level", () => {
    for (const level of LEVELS) {
      const at = all.filter((c) => c.level === level);
      const ood = new Set(at.filter((c) => c.split === "test_ood").map((c) => c.family));
      expect(ood.size, `level ${level}`).toBeGreaterThanOrEqual(2);
      for (const fam of ood) expect(at.filter((c) => c.family === fam).every((c) => c.split === "test_ood")).toBe(true);
      expect(at.filter((c) => c.split === "dev").length, `level ${level} dev`).toBeGreaterThanOrEqual(10);
      expect(at.filter((c) => c.split === "test_id").length, `level ${level} test_id`).toBeGreaterThanOrEqual(10);
    }
  });

  it("never shares a paraphrase template between two splits", () => {
    const splitsOf = new Map<string, Set<string>>();
    for (const c of all) {
      const key = c.template.trim().toLowerCase().replace(/\s+/g, " ");
      splitsOf.set(key, (splitsOf.get(key) ?? new Set()).add(c.split));
    }
    const shared = [...splitsOf].filter(([, s]) => s.size > 1).map(([t, s]) => `${t} (${[...s].join(", ")})`);
    expect(shared).toEqual([]);
  });

  it("builds dev and test_id only from parameter values train never uses, for train families", () => {
    const trainValues = new Map<string, Set<string>>();
    for (const c of all.filter((c) => c.split === "train")) {
      for (const [k, v] of Object.entries(c.params)) trainValues.set(`${c.family}.${k}`, (trainValues.get(`${c.family}.${k}`) ?? new Set()).add(String(v)));
    }
    const leaks = all
      .filter((c) => c.split === "dev" || c.split === "test_id")
      .flatMap((c) => Object.entries(c.params).filter(([k, v]) => trainValues.get(`${c.family}.${k}`)?.has(String(v))).map(([k, v]) => `${c.id}: ${k}=${v}`));
    expect(leaks).toEqual([]);
    const trainFamilies = new Set(all.filter((c) => c.split === "train").map((c) => c.family));
    for (const c of all.filter((c) => c.split === "dev" || c.split === "test_id")) expect(trainFamilies.has(c.family)).toBe(true);
  });

  it("assigns splits stably: the same files give the same ids and splits", async () => {
    const again = expandInstances(await loadFamilies());
    expect(again.map((c) => [c.id, c.split])).toEqual(all.map((c) => [c.id, c.split]));
    expect(new Set(all.map((c) => c.id)).size).toBe(all.length);
    expect(new Set(all.map((c) => c.split))).toEqual(new Set(SPLITS));
  });
});

describe("the challenge file JSON schema", () => {
  it("is committed and up to date with the zod schema the loader uses", async () => {
    const committed = JSON.parse(await Deno.readTextFile("data/challenges/challenge.schema.json"));
    expect(committed).toEqual(challengeJsonSchema());
  });
});

describe("the oracle stays out of the lab's importable surface", () => {
  it("is imported only by tests and the oracle's own files", async () => {
    const offenders: string[] = [];
    const walk = async (dir: string) => {
      for await (const e of Deno.readDir(dir)) {
        const p = join(dir, e.name);
        if (e.isDirectory) await walk(p);
        else if (p.endsWith(".ts") && !p.endsWith(".test.ts") && !p.includes("/_oracle/")) {
          if (/from\s+["'][^"']*_oracle\//.test(await Deno.readTextFile(p))) offenders.push(p);
        }
      }
    };
    await walk("lab");
    expect(offenders).toEqual([]);
  });
});
