/**
 * Datasets bench (`deno bench -A lab/datasets/datasets_bench.ts`), printing measured vs target:
 *
 * 1 M patterns → a tiered, deduplicated, balanced JSONL (target < 20 s, peak RSS < 1.5 GB). The patterns are
 * generated here, 5 K at a time (as `patternBatches` reads a store), as a pattern store would list them: 40 families × 8 wordings × 50 period values ×
 * 4 ways of writing the SQL × 8 thresholds × 2 roles, so rows repeat each other as a tournament's do (the two roles
 * are exact duplicates; other values are near-duplicates); levels 1–5, support 1–4, 5 % marked right by a person,
 * 3 % a person's own questions, 3 % from held-out splits or `test_ood` families. Each batch goes through the
 * curator (leakage check against the real catalog, exact duplicates, quality and tiers); then near-duplicates,
 * balance (default config: ≤ 2,000 per category), rendering with redaction, and the atomic write with its manifest.
 * Generating the rows is timed apart and left out of the measured figure.
 *
 * `LAB_BENCH_DATASET=200000` runs a smaller one.
 */
import { join } from "node:path";
import { loadCatalog } from "../challenges/mod.ts";
import type { Pattern } from "../patterns/mod.ts";
import {
  createCurator,
  createRedactor,
  formatRows,
  LeakageGuard,
  loadDatasetsConfig,
  patternExample,
  prepareDataset,
  renderExamples,
  writeDatasets,
} from "./mod.ts";

const N = Number(Deno.env.get("LAB_BENCH_DATASET") ?? 1_000_000);
const BATCH = 5_000;
const TARGET_S = 20;
const TARGET_RSS_GB = 1.5;

/** Process CPU time in seconds (user + system), to read wall times on a shared machine. */
function cpuSeconds(): number {
  try {
    const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}
/** Peak resident set size of the process so far, in GB (VmHWM). */
function peakRssGb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) / 1024 / 1024 : Deno.memoryUsage().rss / 1024 ** 3;
}
const load = () => `load ${Deno.loadavg()[0].toFixed(1)} on ${navigator.hardwareConcurrency} cores`;

const CATEGORIES = ["finance", "sales", "inventory", "purchasing", "reporting"];
const MEASURES = ["revenue", "receivables", "payables", "margin", "stock value", "cash", "refunds", "spend"];
const WORDINGS = [
  ["What was total {m} {f} for {p}?", "total {m} {f} <period>"],
  ["Give me the {m} {f} of {p} as one figure", "{m} {f} <period> one figure"],
  ["How much {m} {f} did we book in {p}?", "much {m} {f} book <period>"],
  ["Report {m} {f} for {p} by region", "report {m} {f} <period> region"],
  ["Compute {m} {f} {p} against the prior period", "compute {m} {f} <period> against prior period"],
  ["{p}: {m} {f}, please", "<period> {m} {f}"],
  ["Need the {m} {f} number for {p} asap", "need {m} {f} number <period> asap"],
  ["Quick one — {m} {f} in {p}?", "quick one {m} {f} <period>"],
];
const fill = (s: string, m: string, f: string, p: string) => s.replace("{m}", m).replace("{f}", f).replace("{p}", p);

/** Row `i` of the generated store (see the module doc). */
function pattern(i: number, oodFamilies: readonly string[]): Pattern {
  let k = i;
  const role = k % 2 ? "cfo" : "analyst";
  k = Math.floor(k / 2);
  const fam = k % 40;
  k = Math.floor(k / 40);
  const w = k % 8;
  k = Math.floor(k / 8);
  const v = k % 50;
  k = Math.floor(k / 50);
  const s = k % 4;
  const t = Math.floor(k / 4) % 8;
  const category = CATEGORIES[fam % 5];
  const measure = MEASURES[fam % MEASURES.length];
  const famWord = `f${fam}`;
  const period = `2025-${String(1 + (v % 12)).padStart(2, "0")}-${String(1 + v).padStart(2, "0")}`;
  const h = (Math.imul(i + 1, 2654435761) >>> 0) / 4294967296;
  const asked = h < 0.03;
  const heldOut = h >= 0.03 && h < 0.06;
  const facts = `v_${category}_facts`;
  const where = `where family = ${fam} and period = '${period}' and amount > ${1000 + t}`;
  const key = [
    `select sum(amount) as total from ${facts} ${where}`,
    `select sum(amount) as total_amount from ${facts} ${where}`,
    `select sum(amount) as total from ${facts} ${where} order by total desc limit 10`,
    `select region, sum(amount) as total from ${facts} ${where} group by region`,
  ][s];
  const composite = Math.round((0.7 + 0.3 * ((h * 7919) % 1)) * 1e6) / 1e6;
  const marked = (h * 104729) % 1 < 0.05;
  return {
    id: `p${i}`,
    normalizedIntent: fill(WORDINGS[w][1], measure, famWord, "<period>"),
    intent: fill(WORDINGS[w][0], measure, famWord, period),
    role,
    category: asked ? "ask" : category,
    level: asked ? null : 1 + ((fam >> 1) % 5),
    toolSequence: ["dbRead"],
    successfulQueries: [{ tool: "dbRead", sql: key.toUpperCase(), summary: `1 row: {"total":${1000 + fam * 7 + v}}`, rows: 1, ms: 2 }],
    sqlKey: `dbRead: ${key}`,
    answerShape: "number",
    turnFitness: composite,
    queryAvgFitness: composite,
    compositeFitness: composite,
    embedder: "lab-hash-256-v1",
    createdAt: "2025-11-28 12:00:00",
    updatedAt: "2025-11-28 12:00:00",
    isSynthetic: !asked,
    turnPass: (h * 31) % 1 > 0.05,
    markedPass: marked || asked ? true : null,
    contaminated: false,
    stale: false,
    staleReason: null,
    validatedAt: null,
    support: 1 + (i % 4),
    passes: 1,
    runId: asked ? "ask" : `run-${i % 16}`,
    episodeId: asked ? null : `e${i}`,
    strategyId: asked ? null : ["alpha", "beta", "gamma", "delta", "epsilon"][i % 5],
    modelName: "lab-mini",
    modelId: "lab-mini",
    challengeId: null,
    family: heldOut && h < 0.04 ? oodFamilies[i % oodFamilies.length] : asked ? null : `fam_${fam}`,
    split: asked ? null : heldOut && h >= 0.04 ? (h < 0.05 ? "dev" : "test_id") : "train",
    orgId: 1 + (i % 3),
  };
}

const dir = await Deno.makeTempDir({ prefix: "lab-datasets-bench-" });
const config = await loadDatasetsConfig();
const guard = LeakageGuard.fromCatalog(await loadCatalog());
const ood = [...guard.oodFamilies];
const curator = createCurator({ config, guard });

const rssBefore = Deno.memoryUsage().rss / 1024 ** 3;
const peakBefore = peakRssGb();
// Reset the peak to the current RSS (Linux: 5 → clear_refs), so the figure is the pipeline's, not type-checking's.
try {
  Deno.writeTextFileSync("/proc/self/clear_refs", "5");
} catch { /* not Linux: the peak includes start-up */ }
const t0 = performance.now();
const c0 = cpuSeconds();
let generating = 0;
for (let start = 0; start < N; start += BATCH) {
  const g0 = performance.now();
  const batch: Pattern[] = [];
  for (let i = start; i < Math.min(N, start + BATCH); i++) batch.push(pattern(i, ood));
  generating += performance.now() - g0;
  curator.add(batch.map(patternExample));
}
const tAdd = performance.now();
if (Deno.env.get("LAB_BENCH_DEBUG")) console.log("rss after add", Deno.memoryUsage(), peakRssGb());
const curation = curator.finish();
const tFinish = performance.now();
if (Deno.env.get("LAB_BENCH_DEBUG")) console.log("rss after finish", Deno.memoryUsage(), peakRssGb());
const records = renderExamples(curation.examples, {
  systemPrompt: config.system_prompt,
  redactor: createRedactor({ names: config.redaction.names }),
});
const path = join(dir, "train.jsonl");
const prepared = prepareDataset(path, "openai", formatRows("openai", records), {
  sources: { read: curation.read, episodes: null, patterns: { store: "(generated)" } },
  excluded: curation.excluded,
  heldOut: curation.heldOut,
  redactions: { ...createRedactor().counts(), total: 0 },
  stage: null,
  rules: { quality: config.quality, tiers: config.tiers, dedup: config.dedup, balance: config.balance },
  derivedFrom: null,
  lineage: records.map((r) => r.meta),
});
await writeDatasets([prepared]);
const tEnd = performance.now();
const cpu = cpuSeconds() - c0;
const rss = peakRssGb();

const secs = (tEnd - t0 - generating) / 1000;
const e = curation.excluded;
const leaked = Object.values(e.leakage).reduce((a, b) => a + b, 0);
console.log(
  `${N} patterns → tiered, deduplicated, balanced JSONL: ${secs.toFixed(1)} s vs target < ${TARGET_S} s: ${
    secs < TARGET_S ? "OK" : "MISSED"
  }; peak RSS ${rss.toFixed(2)} GB vs target < ${TARGET_RSS_GB} GB: ${rss < TARGET_RSS_GB ? "OK" : "MISSED"} ` +
    `(RSS ${rssBefore.toFixed(2)} GB when it started; the process's peak before it, type-checking included, ${peakBefore.toFixed(2)} GB)`,
);
console.log(
  `  phases: leakage check + exact duplicates + quality ${((tAdd - t0 - generating) / 1000).toFixed(1)} s, ` +
    `tiers + near-duplicates + balance ${((tFinish - tAdd) / 1000).toFixed(1)} s (${curation.nearDuplicateComparisons} ` +
    `candidate pairs), render + redact + write ${((tEnd - tFinish) / 1000).toFixed(1)} s; generating the rows ` +
    `${(generating / 1000).toFixed(1)} s (not counted); CPU ${cpu.toFixed(1)} s in all, ${load()}`,
);
console.log(
  `  ${N} read → held out ${leaked}, failed ${e.failedTurn}, rejected (< bronze) ${e.rejectedQuality}, exact duplicates ` +
    `${e.exactDuplicate}, near-duplicates ${e.nearDuplicate} → pool ${curation.pool.length} → balanced ${curation.examples.length} ` +
    `(over the category cap ${e.overCategoryCap}); ${prepared.manifest.rows} lines, ${(prepared.manifest.bytes / 1e6).toFixed(1)} MB`,
);
await Deno.remove(dir, { recursive: true });

Deno.bench("placeholder: the figures above are printed by the measurement block", () => {});
