/**
 * Provenance and independence of the catalog's wordings against lab-mini (word 4-grams, lower case):
 * - Provenance: every 4-word sequence shared between lab-mini's pretraining corpus (or its source) and any task
 *   text of the catalog must be justified as generic English in the committed allowlist
 *   (`data/challenges/_provenance_allowlist.yaml`); a new shared sequence fails, naming it and where it occurs.
 * - Independence: each template written independently of the catalog (tagged `origin: independent`) shares at
 *   most {@linkcode MAX_CORPUS_OVERLAP} of its 4-grams with lab-mini's corpus and source, and at most
 *   {@linkcode MAX_SIBLING_OVERLAP} with the other templates of its family (placeholders count as one word; runs
 *   through an answer field name the verifier requires do not count against siblings).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { buildSandbox } from "../../sandbox/mod.ts";
import { loadCatalog, loadFamilies } from "../../challenges/mod.ts";
import { readSchemaMeta } from "./schema_meta.ts";
import { generateCorpus } from "./corpus.ts";

/** Share of an independent template's 4-grams that may also occur in lab-mini's corpus or source. */
const MAX_CORPUS_OVERLAP = 0.1;
/** Share of an independent template's 4-grams that may also occur in its sibling templates. */
const MAX_SIBLING_OVERLAP = 0.35;
const ALLOWLIST = new URL("../../../data/challenges/_provenance_allowlist.yaml", import.meta.url);

const words = (t: string) => t.toLowerCase().replace(/\{([a-z_]+)(?:\.[a-z_]+)?\}/g, " p_$1 ").split(/[^a-z0-9_]+/).filter(Boolean);
function grams(text: string): Set<string> {
  const w = words(text);
  const out = new Set<string>();
  for (let i = 0; i + 4 <= w.length; i++) out.add(w.slice(i, i + 4).join(" "));
  return out;
}
const share = (g: Set<string>, other: Set<string>) => (g.size ? [...g].filter((x) => other.has(x)).length / g.size : 0);

let dir: string;
let corpusGrams: Set<string>;

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-mini-provenance-" });
  const db = join(dir, "tiny.duckdb");
  await buildSandbox(db, { scale: "tiny" });
  const manifest = JSON.parse(await Deno.readTextFile(new URL("../../../data/models/lab-mini-base.manifest.json", import.meta.url)));
  const meta = await readSchemaMeta(db);
  const questions = generateCorpus(meta, { seed: manifest.recipe.seed, perRelation: 80 }).map((e) => e.question);
  expect(questions.length).toBe(manifest.recipe.examples);
  corpusGrams = new Set(questions.flatMap((q) => [...grams(q)]));
  const here = new URL(".", import.meta.url).pathname;
  for await (const e of Deno.readDir(here)) {
    if (!e.name.endsWith(".ts") || e.name.endsWith(".test.ts")) continue;
    for (const g of grams(await Deno.readTextFile(join(here, e.name)))) corpusGrams.add(g);
  }
});
afterAll(async () => {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("provenance of lab-mini's corpus against the catalog", () => {
  it("shares no 4-word sequence with any task text that the allowlist does not justify", async () => {
    const allow = parseYaml(await Deno.readTextFile(ALLOWLIST)) as { shared: Record<string, string> };
    const shared = new Map<string, string>();
    for (const c of await loadCatalog()) {
      for (const g of grams(c.task)) if (corpusGrams.has(g) && !shared.has(g)) shared.set(g, c.id);
    }
    if (Deno.env.get("LAB_PROVENANCE_DUMP")) console.log(JSON.stringify([...shared.keys()].sort()));
    console.log(`shared 4-grams between lab-mini's corpus/source and the catalog's task texts: ${shared.size}`);
    const unjustified = [...shared].filter(([g]) => !allow.shared[g]?.trim()).map(([g, id]) => `'${g}' (e.g. ${id})`);
    expect(unjustified, "justify each in data/challenges/_provenance_allowlist.yaml as generic English, or remove it from the corpus").toEqual([]);
    const stale = Object.keys(allow.shared).filter((g) => !shared.has(g));
    expect(stale, "allowlist entries no longer shared: remove them").toEqual([]);
  });
});

describe("independence of the new wordings", () => {
  it(`keeps each independent template's 4-gram overlap ≤ ${MAX_CORPUS_OVERLAP} with lab-mini and ≤ ${MAX_SIBLING_OVERLAP} with its siblings`, async () => {
    const rows: { family: string; template: number; corpus: number; siblings: number }[] = [];
    for (const f of await loadFamilies()) {
      f.templates.forEach((t, i) => {
        if (f.wordings[i].origin !== "independent") return;
        const g = grams(t);
        // Runs through an answer field name (customer_id, change_pct …) are shared by necessity: the verifier
        // names the fields, so they do not count against a sibling.
        const own = new Set([...g].filter((x) => !x.split(" ").some((w) => w.includes("_") && !w.startsWith("p_"))));
        const siblings = new Set(f.templates.flatMap((s, j) => (j === i ? [] : [...grams(s)])));
        rows.push({ family: f.family, template: i, corpus: share(g, corpusGrams), siblings: share(own, siblings) });
      });
    }
    expect(rows.length).toBeGreaterThanOrEqual(42 * 3);
    const worst = (k: "corpus" | "siblings") => rows.reduce((a, b) => (b[k] > a[k] ? b : a));
    console.log(
      `independent templates: ${rows.length}; worst overlap with lab-mini ${worst("corpus").corpus.toFixed(3)} ` +
        `(${worst("corpus").family}[${worst("corpus").template}]), with siblings ${worst("siblings").siblings.toFixed(3)} ` +
        `(${worst("siblings").family}[${worst("siblings").template}])`,
    );
    expect(rows.filter((r) => r.corpus > MAX_CORPUS_OVERLAP)).toEqual([]);
    expect(rows.filter((r) => r.siblings > MAX_SIBLING_OVERLAP)).toEqual([]);
  });
});
