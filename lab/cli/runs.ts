/**
 * `lab runs list | show | compare`: seed 002's experiment tracking over what the lab already stores, read directly
 * (no index of its own, so nothing can go stale): tournament runs in the tournament store, eval-suite runs
 * (`data/evals/<suite>/*.json`), experiment results (`lab experiment self-improve --out`, `lab experiment labmini
 * --json`), datasets (`lab dataset build` folders with manifests) and fine-tuned versions in the model registry.
 *
 * Each entry: kind, id, when, its config's sha256 and where the config lives, git commit, seeds, model ids, headline
 * metrics and its report (`data/reports/<kind>-<id>.html`, whether it exists and the `lab report` command that
 * writes it). `compare` sets two entries of one kind side by side: the config key by key, the metrics with their
 * change and, for two suite runs, each arm's paired change over their common cases with its 95 % interval
 * clustered by family (`compare` of `lab/evals`).
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { basename, join, relative, resolve } from "node:path";
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { UsageError } from "./_args.ts";
import { compare, type EvalRun, liftCell, type SuiteEpisode, TEST_ID_METRIC } from "../evals/mod.ts";
import { type DatasetManifest, STAGES } from "../datasets/mod.ts";
import { DEFAULT_REGISTRY_PATH, Registry } from "../finetune/mod.ts";
import { DEFAULT_DB_PATH, queryStore } from "../tournament/mod.ts";
import { ConfigError, displayPath, repoPath } from "../util/mod.ts";

/** The kinds of entry, in listing order. */
const KINDS = ["run", "suite", "experiment", "dataset", "model"] as const;
type Kind = typeof KINDS[number];
const KIND_NAMES: Record<Kind, string> = {
  run: "tournament run",
  suite: "eval-suite run",
  experiment: "experiment",
  dataset: "dataset",
  model: "model version",
};

/** One entry of the index. */
interface RunEntry {
  kind: Kind;
  id: string;
  /** ISO 8601 (or the date the source records), null when the source keeps none. */
  createdAt: string | null;
  /** A run's or a version's status, else null. */
  status: string | null;
  /** The file or store it was read from. */
  source: string;
  /** sha256 of the config as canonical JSON (keys sorted), and where the config is kept. */
  config: { hash: string; path: string };
  commit: string | null;
  seeds: number[];
  models: string[];
  /** Headline metrics first. Rates and lifts are fractions (0.25 = 25 %, +0.1 = +10 points). */
  metrics: Record<string, number | null>;
  report: { path: string; exists: boolean; command: string };
  /** Model versions: the reviewers' decisions on it (`lab review`). */
  reviews?: { at: string; decision: string; reviewer: string; note: string; promoted: boolean }[];
}

/** An entry and what `show` and `compare` read beyond it. */
interface Indexed {
  entry: RunEntry;
  config: unknown;
  /** Suite runs: the EvalRun file (re-read for the paired change). */
  file?: string;
}

/** Where the index reads from. */
interface Sources {
  db: string;
  evals: string;
  experiments: string[];
  datasets: string;
  registry: string;
  reports: string;
}

const DEFAULTS = {
  db: displayPath(DEFAULT_DB_PATH),
  evals: displayPath(repoPath("data", "evals")),
  experiments: displayPath(repoPath("lab", "evals", "self_improve_results.json")),
  datasets: displayPath(repoPath("data", "datasets")),
  registry: displayPath(DEFAULT_REGISTRY_PATH),
  reports: displayPath(repoPath("data", "reports")),
};

const SOURCE_OPTIONS = {
  db: { type: "string", description: "The tournament store (tournament runs)", default: DEFAULTS.db },
  evals: { type: "string", description: "The folder of eval-suite runs (<suite>/*.json EvalRun files)", default: DEFAULTS.evals },
  experiments: {
    type: "string",
    description: "Experiment results: JSON files of 'lab experiment self-improve --out' or 'lab experiment labmini --json', or folders of them, comma-separated",
    default: DEFAULTS.experiments,
  },
  datasets: { type: "string", description: "The folder of datasets ('lab dataset build' folders with manifests)", default: DEFAULTS.datasets },
  registry: { type: "string", description: "The model registry (fine-tuned versions)", default: DEFAULTS.registry },
  reports: { type: "string", description: "Where reports are written (their paths and whether they exist)", default: DEFAULTS.reports },
} as const;

/** The sources of the command line; a source given (not the default) that does not exist is a usage error. */
function sourcesOf(args: ParsedArgs): Sources {
  const given = (name: keyof typeof DEFAULTS) => {
    const v = String(args.values[name]);
    if (v !== DEFAULTS[name] && name !== "reports" && name !== "experiments" && !existsSync(v)) {
      throw new UsageError(`--${name} ${v}: no such ${name === "db" ? "tournament store" : name === "registry" ? "model registry" : "folder"}`);
    }
    return v;
  };
  const experiments = String(args.values.experiments).split(",").map((s) => s.trim()).filter(Boolean);
  if (String(args.values.experiments) !== DEFAULTS.experiments) {
    const missing = experiments.find((p) => !existsSync(p));
    if (missing) throw new UsageError(`--experiments: no such file or folder '${missing}'`);
  }
  return { db: given("db"), evals: given("evals"), experiments, datasets: given("datasets"), registry: given("registry"), reports: given("reports") };
}

/** JSON with object keys sorted, so equal configs hash equal. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v ?? null);
}
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** The report file of an entry and the `lab report` command that writes it there. */
function reportOf(kind: Kind, id: string, arg: string, extra: string, reports: string): RunEntry["report"] {
  const slug = id.replace(/\.(json|jsonl)$/, "").replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[._]+|_+$/g, "").slice(-80) || "report";
  const path = displayPath(resolve(reports, `${kind}-${slug}.html`));
  const quote = (s: string) => (/^[\w./:@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return { path, exists: existsSync(path), command: `deno task lab report ${kind} ${quote(arg)}${extra} --out ${quote(path)}` };
}

const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Tournament runs, read from the store with one query (a missing store holds none). */
async function tournamentRuns(s: Sources): Promise<Indexed[]> {
  if (!existsSync(s.db)) return [];
  const rows = await queryStore(
    s.db,
    `SELECT r.id, r.status, strftime(r.created_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS created_at, r.config::VARCHAR AS config, r.git_commit, r.seed,
            r.model_name, r.model_id, count(e.id)::INTEGER AS episodes, avg(e.pass::INTEGER) AS success, avg(e.composite) AS fitness,
            count(DISTINCT e.generation)::INTEGER AS generations, count(DISTINCT e.strategy_id)::INTEGER AS strategies,
            count(DISTINCT e.challenge_id)::INTEGER AS challenges, coalesce(sum(e.tokens_total), 0)::BIGINT AS tokens, coalesce(sum(e.cost_usd), 0) AS cost
     FROM runs r LEFT JOIN episodes e ON e.run_id = r.id GROUP BY ALL ORDER BY r.id`,
  );
  const byStrategy = await queryStore(s.db, "SELECT run_id, strategy_id, avg(pass::INTEGER) AS success FROM episodes GROUP BY ALL ORDER BY run_id, strategy_id");
  const extra = s.db === DEFAULTS.db ? "" : ` --db ${s.db}`;
  return rows.map((r) => {
    const id = String(r.id);
    const config = JSON.parse(String(r.config));
    const metrics: Record<string, number | null> = {
      success: n(r.success),
      meanFitness: n(r.fitness),
      episodes: Number(r.episodes),
      generations: Number(r.generations),
      strategies: Number(r.strategies),
      challenges: Number(r.challenges),
      tokens: Number(r.tokens),
      costUsd: Number(r.cost),
    };
    for (const x of byStrategy.filter((x) => x.run_id === id)) metrics[`${x.strategy_id}.success`] = n(x.success);
    const model = String(r.model_id) === String(r.model_name) ? String(r.model_id) : `${r.model_name} (${r.model_id})`;
    return {
      entry: {
        kind: "run",
        id,
        createdAt: String(r.created_at),
        status: String(r.status),
        source: displayPath(s.db),
        config: { hash: sha256(canonical(config)), path: `${displayPath(s.db)}#runs/${id}` },
        commit: r.git_commit === null ? null : String(r.git_commit),
        seeds: [Number(r.seed)],
        models: [model],
        metrics,
        report: reportOf("run", id, id, extra, s.reports),
      },
      config,
    };
  });
}

async function readJson(path: string): Promise<unknown> {
  const text = await Deno.readTextFile(path);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${displayPath(path)}: not valid JSON (${(e as Error).message.split("\n")[0]}); fix or move it out of the folder`);
  }
}

const isEvalRun = (x: unknown): x is EvalRun =>
  !!x && typeof x === "object" && typeof (x as EvalRun).suite === "string" && !!(x as EvalRun).pins && Array.isArray((x as EvalRun).episodes);

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** Eval-suite runs: every EvalRun file directly in `<evals>/<suite>/` (other JSON there, such as gate results, is not a run). */
async function suiteRuns(s: Sources): Promise<Indexed[]> {
  if (!existsSync(s.evals)) return [];
  const out: Indexed[] = [];
  const dirs = [...Deno.readDirSync(s.evals)].filter((d) => d.isDirectory).map((d) => d.name).sort();
  for (const suiteDir of dirs) {
    const files = [...Deno.readDirSync(join(s.evals, suiteDir))].filter((f) => f.isFile && f.name.endsWith(".json")).map((f) => f.name).sort();
    for (const name of files) {
      const file = join(s.evals, suiteDir, name);
      const run = await readJson(file);
      if (!isEvalRun(run)) continue;
      const id = `${suiteDir}/${name.slice(0, -".json".length)}`;
      const eps = run.episodes as SuiteEpisode[];
      const metrics: Record<string, number | null> = {};
      const splits = [...new Set(eps.map((e) => e.split))];
      const arms = [...new Set(eps.map((e) => e.arm))];
      for (const split of splits) {
        for (const arm of arms) {
          const mine = eps.filter((e) => e.split === split && e.arm === arm);
          if (mine.length) metrics[`${split}.${arm}.success`] = mean(mine.map((e) => (e.pass ? 1 : 0)));
        }
      }
      Object.assign(metrics, {
        episodes: eps.length,
        families: new Set(eps.map((e) => e.family)).size,
        tokens: eps.reduce((t, e) => t + e.tokens, 0),
        costUsd: eps.reduce((t, e) => t + e.costUsd, 0),
      });
      const config = { suite: run.suite, pins: run.pins, shard: run.shard };
      out.push({
        entry: {
          kind: "suite",
          id,
          createdAt: run.createdAt ?? null,
          status: null,
          source: displayPath(file),
          config: { hash: sha256(canonical(config)), path: displayPath(file) },
          commit: run.commit ?? null,
          seeds: [...new Set(eps.map((e) => e.seed))].sort((a, b) => a - b),
          models: [...new Set(Object.values(run.pins.models ?? {}))].sort(),
          metrics,
          report: reportOf("suite", id, displayPath(file), "", s.reports),
        },
        config,
        file,
      });
    }
  }
  return out;
}

interface Cell {
  arm: string;
  level: number | "all";
  estimate: number;
}
interface SelfImproveLike {
  comparisons: Record<string, { rates: Cell[]; lifts: Cell[] }>;
  rounds: unknown[];
  settings: { seed?: number } & Record<string, unknown>;
  models: Record<string, string | Record<string, string>>;
  commit?: string;
  date?: string;
}
interface HonestyLike {
  split: string;
  seed: number;
  cells: Cell[];
  lifts: Cell[];
  episodes: unknown[];
  instances?: unknown;
  models: Record<string, unknown>;
}
const isHonesty = (x: unknown): x is HonestyLike =>
  !!x && typeof x === "object" && Array.isArray((x as HonestyLike).cells) && Array.isArray((x as HonestyLike).lifts) && typeof (x as HonestyLike).split === "string" &&
  Array.isArray((x as HonestyLike).episodes);
const isSelfImprove = (x: unknown): x is SelfImproveLike =>
  !!x && typeof x === "object" && !!(x as SelfImproveLike).comparisons && typeof (x as SelfImproveLike).comparisons === "object" && Array.isArray((x as SelfImproveLike).rounds) &&
  !!(x as SelfImproveLike).settings;

const modelIds = (models: Record<string, unknown>) =>
  [...new Set(Object.values(models).flatMap((m) => (typeof m === "string" ? [m] : m && typeof m === "object" ? Object.values(m).map(String) : [])))].sort();

/** One experiment results file, or null when the JSON is not one (`strict`: an error naming the file). */
function experimentOf(file: string, raw: unknown, s: Sources, strict: boolean): Indexed | null {
  const id = basename(file).replace(/\.json$/, "");
  const metrics: Record<string, number | null> = {};
  const add = (prefix: string, rates: Cell[], lifts: Cell[]) => {
    for (const r of rates.filter((r) => r.level === "all")) metrics[`${prefix}.${r.arm}.success`] = r.estimate;
    for (const l of lifts.filter((l) => l.level === "all")) metrics[`${prefix}.${l.arm}.lift`] = l.estimate;
  };
  let config: unknown, createdAt: string | null = null, commit: string | null = null, seeds: number[], models: string[];
  if (isSelfImprove(raw)) {
    for (const [split, c] of Object.entries(raw.comparisons)) add(split, c.rates ?? [], c.lifts ?? []);
    config = raw.settings;
    createdAt = raw.date ?? null;
    commit = raw.commit ?? null;
    seeds = typeof raw.settings.seed === "number" ? [raw.settings.seed] : [];
    models = modelIds(raw.models);
  } else if (isHonesty(raw) || (Array.isArray(raw) && raw.length && raw.every(isHonesty))) {
    const results = (Array.isArray(raw) ? raw : [raw]) as HonestyLike[];
    for (const r of results) add(results.filter((x) => x.split === r.split).length > 1 ? `${r.split}.s${r.seed}` : r.split, r.cells, r.lifts);
    config = results.map(({ episodes: _e, cells: _c, lifts: _l, instances: _i, ...rest }) => rest);
    seeds = [...new Set(results.map((r) => r.seed))].sort((a, b) => a - b);
    models = modelIds(Object.assign({}, ...results.map((r) => r.models)));
  } else {
    if (strict) throw new ConfigError(`${displayPath(file)}: not an experiment result; expected the JSON of 'lab experiment self-improve --out' or 'lab experiment labmini --json'`);
    return null;
  }
  return {
    entry: {
      kind: "experiment",
      id,
      createdAt,
      status: null,
      source: displayPath(file),
      config: { hash: sha256(canonical(config)), path: displayPath(file) },
      commit,
      seeds,
      models,
      metrics,
      report: reportOf("experiment", id, displayPath(file), "", s.reports),
    },
    config,
  };
}

/** Experiment results: each file given, and the experiment JSON files of each folder given. */
async function experiments(s: Sources): Promise<Indexed[]> {
  const out: Indexed[] = [];
  for (const p of s.experiments) {
    if (!existsSync(p)) continue; // only the default may be missing (sourcesOf checks the rest)
    if (Deno.statSync(p).isFile) {
      out.push(experimentOf(p, await readJson(p), s, true)!);
      continue;
    }
    for (const f of [...Deno.readDirSync(p)].filter((f) => f.isFile && f.name.endsWith(".json")).map((f) => f.name).sort()) {
      const x = experimentOf(join(p, f), await readJson(join(p, f)), s, false);
      if (x) out.push(x);
    }
  }
  return out;
}

/** Datasets: the folder itself and each folder in it that holds manifests (`*.manifest.json`). */
async function datasets(s: Sources): Promise<Indexed[]> {
  if (!existsSync(s.datasets)) return [];
  const folders = [s.datasets, ...[...Deno.readDirSync(s.datasets)].filter((d) => d.isDirectory).map((d) => join(s.datasets, d.name)).sort()];
  const out: Indexed[] = [];
  for (const dir of folders) {
    const files = [...Deno.readDirSync(dir)].filter((f) => f.isFile && f.name.endsWith(".manifest.json")).map((f) => f.name).sort();
    if (!files.length) continue;
    const manifests: DatasetManifest[] = [];
    for (const f of files) manifests.push(await readJson(join(dir, f)) as DatasetManifest);
    const bad = manifests.findIndex((m) => !m || typeof m !== "object" || typeof m.file !== "string" || !m.counts);
    if (bad >= 0) throw new ConfigError(`${displayPath(join(dir, files[bad]))}: not a dataset manifest (file, counts); rebuild the set with 'lab dataset build'`);
    const main = manifests.find((m) => m.stage === null && m.format !== "dpo") ?? manifests[0];
    const id = dir === s.datasets ? basename(resolve(dir)) : relative(s.datasets, dir);
    const metrics: Record<string, number | null> = { rows: main.rows };
    for (const t of ["gold", "silver", "bronze"]) metrics[`tier.${t}`] = main.counts.byTier?.[t] ?? 0;
    for (const st of STAGES) {
      const m = manifests.find((x) => x.stage?.name === st);
      if (m) metrics[`stage.${st}.selected`] = m.stage!.selected;
    }
    const dpo = manifests.find((m) => m.format === "dpo");
    if (dpo) metrics["dpo.pairs"] = dpo.rows;
    if (main.excluded) {
      const { leakage, ...rest } = main.excluded;
      metrics["excluded.leakage"] = Object.values(leakage ?? {}).reduce((a, b) => a + b, 0);
      for (const [k, v] of Object.entries(rest)) metrics[`excluded.${k}`] = v;
    }
    metrics.files = manifests.length;
    const config = { rules: main.rules, sources: main.sources };
    out.push({
      entry: {
        kind: "dataset",
        id,
        createdAt: main.createdAt ?? null,
        status: null,
        source: displayPath(dir),
        config: { hash: sha256(canonical(config)), path: displayPath(join(dir, `${main.file.replace(/\.jsonl$/, "")}.manifest.json`)) },
        commit: null,
        seeds: [],
        models: [],
        metrics,
        report: reportOf("dataset", id, displayPath(dir), "", s.reports),
      },
      config,
    });
  }
  return out;
}

/** Fine-tuned versions in the registry (a missing registry holds none; it is not created). */
async function models(s: Sources): Promise<Indexed[]> {
  if (!existsSync(s.registry)) return [];
  const registry = await Registry.open(s.registry);
  const reviews = await registry.reviews();
  const extra = s.registry === DEFAULTS.registry ? "" : ` --registry ${s.registry}`;
  return (await registry.list()).sort((a, b) => (a.name < b.name ? -1 : 1)).map((v) => {
    const metrics: Record<string, number | null> = {};
    for (const [k, x] of Object.entries(v.metrics)) if (typeof x === "number") metrics[k] = x;
    const t = v.metrics[TEST_ID_METRIC] as { rate?: number; lift?: { estimate?: number } } | undefined;
    if (typeof t?.rate === "number") metrics["test_id.success"] = t.rate;
    if (typeof t?.lift?.estimate === "number") metrics["test_id.lift"] = t.lift.estimate;
    const config = { base: v.base, category: v.category, provider: v.provider, trainedFrom: v.trainedFrom, datasetHash: v.datasetHash, stage: v.stage, parent: v.parent, jobId: v.jobId };
    return {
      entry: {
        kind: "model" as const,
        id: v.name,
        createdAt: v.createdAt,
        status: v.status,
        source: displayPath(s.registry),
        config: { hash: sha256(canonical(config)), path: `${displayPath(s.registry)}#versions/${v.name}` },
        commit: null,
        seeds: [],
        models: [v.providerModel],
        metrics,
        report: reportOf("model", v.name, v.name, extra, s.reports),
        reviews: reviews.filter((r) => r.version === v.name).map((r) => ({ at: r.at, decision: r.decision, reviewer: r.reviewer, note: r.note, promoted: r.promoted })),
      },
      config,
    };
  });
}

const READERS: Record<Kind, (s: Sources) => Promise<Indexed[]>> = { run: tournamentRuns, suite: suiteRuns, experiment: experiments, dataset: datasets, model: models };

/** Every entry of the kinds asked for, kind by kind, newest first within a kind. */
async function index(s: Sources, kinds: readonly Kind[] = KINDS): Promise<Indexed[]> {
  const all: Indexed[] = [];
  for (const k of kinds) {
    const xs = await READERS[k](s);
    xs.sort((a, b) => (b.entry.createdAt ?? "").localeCompare(a.entry.createdAt ?? "") || a.entry.id.localeCompare(b.entry.id));
    all.push(...xs);
  }
  return all;
}

/** The entry `ref` names: `<id>` when only one kind has it, or `<kind>:<id>`. */
function find(all: Indexed[], ref: string, s: Sources): Indexed {
  const m = /^([a-z]+):(.+)$/.exec(ref);
  const kind = m && (KINDS as readonly string[]).includes(m[1]) ? m[1] as Kind : null;
  const id = kind ? m![2] : ref;
  const hits = all.filter((x) => x.entry.id === id && (!kind || x.entry.kind === kind));
  if (hits.length === 1) return hits[0];
  if (hits.length > 1) throw new UsageError(`'${ref}' names ${hits.map((h) => `${h.entry.kind}:${id}`).join(" and ")}: write one of those`);
  const where = `${displayPath(s.db)}, ${displayPath(s.evals)}, ${s.experiments.join(", ")}, ${displayPath(s.datasets)}, ${displayPath(s.registry)}`;
  throw new UsageError(`no ${kind ? KIND_NAMES[kind] : "run, suite run, experiment, dataset or model version"} '${id}' in ${where}; 'lab runs list' shows the ids`);
}

/** Every leaf of a config under a dotted key (arrays of plain values are one leaf). */
function flatten(v: unknown, prefix = "", out = new Map<string, unknown>()): Map<string, unknown> {
  const plain = (x: unknown) => x === null || typeof x !== "object";
  if (Array.isArray(v) && !v.every(plain)) v.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out));
  else if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) {
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) flatten(x, prefix ? `${prefix}.${k}` : k, out);
    }
  } else out.set(prefix || "(config)", v);
  return out;
}

/** Config keys whose values differ (`a` or `b` absent where one side lacks the key). */
function configDiff(a: unknown, b: unknown): { key: string; a?: unknown; b?: unknown }[] {
  const fa = flatten(a), fb = flatten(b);
  const keys = [...new Set([...fa.keys(), ...fb.keys()])].sort();
  return keys.filter((k) => canonical(fa.get(k)) !== canonical(fb.get(k)) || fa.has(k) !== fb.has(k)).map((k) => ({
    key: k,
    ...(fa.has(k) ? { a: fa.get(k) } : {}),
    ...(fb.has(k) ? { b: fb.get(k) } : {}),
  }));
}

/** One arm's paired change between two suite runs on one split. */
interface PairedRow {
  split: string;
  arm: string;
  pairs: number;
  families: number;
  a: number;
  b: number;
  change: number;
  lo: number | null;
  hi: number | null;
  pValue: number | null;
  note?: string;
}

/** Per (split, arm): the pass change b − a over the cases both runs have, its 95 % interval clustered by family. */
async function pairedChange(a: Indexed, b: Indexed): Promise<{ rows: PairedRow[]; cases: { a: number; b: number; common: number } }> {
  const ea = ((await readJson(a.file!)) as EvalRun).episodes, eb = ((await readJson(b.file!)) as EvalRun).episodes;
  const key = (e: SuiteEpisode) => `${e.split}\u0000${e.arm}\u0000${e.challengeId}\u0000${e.seed}`;
  const kb = new Set(eb.map(key));
  const rows: PairedRow[] = [];
  const groups = [...new Set(ea.map((e) => `${e.split}\u0000${e.arm}`))].filter((g) => eb.some((e) => `${e.split}\u0000${e.arm}` === g));
  for (const g of groups) {
    const [split, arm] = g.split("\u0000");
    const pick = (eps: SuiteEpisode[], as: string) => eps.filter((e) => e.split === split && e.arm === arm).map((e) => ({ ...e, arm: as }));
    const c = liftCell(compare([...pick(ea, "a"), ...pick(eb, "b")], { control: "a", arms: ["b"] }), "b");
    if (!c) continue;
    rows.push({
      split,
      arm,
      pairs: c.pairs,
      families: c.clusters,
      a: c.controlMean,
      b: c.armMean,
      change: c.estimate,
      lo: c.lo,
      hi: c.hi,
      pValue: c.pValue,
      ...(c.note ? { note: c.note } : {}),
    });
  }
  return { rows, cases: { a: ea.length, b: eb.length, common: ea.filter((e) => kb.has(key(e))).length } };
}

const isRate = (k: string) => /(success|lift|rate|passAt\w*)$/.test(k);
const isLift = (k: string) => /lift$/.test(k);

/** A metric for reading: rates in %, lifts in signed points, else a plain number. */
function fmtMetric(k: string, v: number | null | undefined): string {
  if (v === null || v === undefined) return "—";
  if (isLift(k)) return `${v >= 0 ? "+" : "−"}${(100 * Math.abs(v)).toFixed(1)} pts`;
  if (isRate(k)) return `${(100 * v).toFixed(1)} %`;
  return Number.isInteger(v) ? String(v) : Math.abs(v) < 0.01 ? v.toPrecision(3) : v.toFixed(3);
}
function fmtChange(k: string, v: number | null): string {
  if (v === null) return "—";
  if (isRate(k)) return `${v >= 0 ? "+" : "−"}${(100 * Math.abs(v)).toFixed(1)} pts`;
  return `${v >= 0 ? "+" : "−"}${fmtMetric("", Math.abs(v))}`;
}
const pts = (v: number) => `${v >= 0 ? "+" : "−"}${(100 * Math.abs(v)).toFixed(1)}`;
const short = (c: string | null) => (c ? c.slice(0, 7) + (c.length > 40 ? " (dirty)" : "") : "—");
const value = (x: unknown) => (x === undefined ? "(absent)" : typeof x === "string" ? x : JSON.stringify(x));

function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]))).join("  ").trimEnd()).join("\n");
}

function showText(x: Indexed): string {
  const e = x.entry;
  const lines = [
    `${KIND_NAMES[e.kind]} ${e.id}${e.status ? ` (${e.status})` : ""}`,
    `  created   ${e.createdAt ?? "not recorded"}`,
    `  source    ${e.source}`,
    `  commit    ${e.commit ?? "not recorded"}`,
    `  seeds     ${e.seeds.join(", ") || "not recorded"}`,
    `  models    ${e.models.join(", ") || "—"}`,
    `  config    sha256 ${e.config.hash} (${e.config.path})`,
    `  report    ${e.report.path}${e.report.exists ? "" : ` (not written yet: ${e.report.command})`}`,
    "  metrics",
    ...Object.entries(e.metrics).map(([k, v]) => `    ${k}: ${fmtMetric(k, v)}`),
  ];
  if (e.reviews) lines.push("  reviews", ...(e.reviews.length ? e.reviews.map((r) => `    ${r.at} ${r.decision === "approve" ? "approved" : "rejected"} by ${r.reviewer}: ${r.note}${r.promoted ? " (promoted it)" : ""}`) : ["    none ('lab review')"]));
  lines.push("  config values", ...[...flatten(x.config)].map(([k, v]) => `    ${k}: ${value(v)}`));
  return lines.join("\n");
}

const kindOf = (args: ParsedArgs) => args.values.kind as Kind | undefined;

/** `lab runs list`, `lab runs show`, `lab runs compare`. */
export const RUNS_COMMANDS: CommandSpec[] = [
  {
    name: "runs list",
    summary: "List tournament runs, eval-suite runs, experiments, datasets and fine-tuned versions: when, commit, seeds, models, headline metrics, report",
    options: {
      kind: { type: "string", description: "Only this kind", choices: KINDS },
      json: { type: "boolean", description: "Print the entries as JSON" },
      ...SOURCE_OPTIONS,
    },
    examples: ["deno task lab runs list", "deno task lab runs list --kind suite --json", "deno task lab runs list --db data/other.duckdb --kind run"],
    async run(args) {
      if (args.positionals.length) throw new UsageError(`runs list takes no argument, found '${args.positionals[0]}' (filter with --kind)`);
      const s = sourcesOf(args);
      const kind = kindOf(args);
      const all = await index(s, kind ? [kind] : KINDS);
      if (args.values.json) {
        console.log(JSON.stringify(all.map((x) => x.entry), null, 2));
        return;
      }
      if (!all.length) {
        console.log(`no ${kind ? KIND_NAMES[kind] : "run, experiment, dataset or model version"} in ${displayPath(s.db)}, ${displayPath(s.evals)}, ${s.experiments.join(", ")}, ${displayPath(s.datasets)}, ${displayPath(s.registry)}`);
        return;
      }
      const rows = [["kind", "id", "created", "commit", "seeds", "models", "headline", "report"]];
      for (const { entry: e } of all) {
        const headline = Object.entries(e.metrics).slice(0, 3).map(([k, v]) => `${k} ${fmtMetric(k, v)}`).join(", ");
        const models = e.models.length > 2 ? `${e.models.slice(0, 2).join(", ")} +${e.models.length - 2}` : e.models.join(", ") || "—";
        rows.push([e.kind, e.id, e.createdAt ?? "—", short(e.commit), e.seeds.join(",") || "—", models, headline, `${e.report.path}${e.report.exists ? "" : " (not written)"}`]);
      }
      console.log(table(rows));
      console.log(`\n${all.length} entries; 'lab runs show <id>' for one, 'lab runs compare <id> <id>' for two of a kind`);
    },
  },
  {
    name: "runs show",
    summary: "Show one run, suite run, experiment, dataset or model version: config, commit, seeds, models, every metric, its report",
    usage: "runs show <id | kind:id> [options]",
    positionals: ["id"],
    options: { json: { type: "boolean", description: "Print the entry and its config as JSON" }, ...SOURCE_OPTIONS },
    examples: ["deno task lab runs show labmini/dev", "deno task lab runs show suite:gate/latest --json", "deno task lab runs show lab-mini-all-v2"],
    async run(args) {
      if (args.positionals.length !== 1) throw new UsageError(`give one id ('lab runs list' shows them)${args.positionals.length ? `, found ${args.positionals.length}` : ""}`);
      const s = sourcesOf(args);
      const x = find(await index(s), args.positionals[0], s);
      console.log(args.values.json ? JSON.stringify({ ...x.entry, config: { ...x.entry.config, value: x.config } }, null, 2) : showText(x));
    },
  },
  {
    name: "runs compare",
    summary: "Two runs of one kind side by side: config differences key by key, metrics with their change, and for suite runs each arm's paired change (95 % CI clustered by family)",
    usage: "runs compare <id-a> <id-b> [options]",
    positionals: ["id-a", "id-b"],
    options: { json: { type: "boolean", description: "Print the comparison as JSON" }, ...SOURCE_OPTIONS },
    examples: ["deno task lab runs compare labmini/dev labmini/test_id", "deno task lab runs compare run:t-0123456789ab run:t-ba9876543210 --json"],
    async run(args) {
      if (args.positionals.length !== 2) throw new UsageError(`give two ids to compare ('lab runs list' shows them), found ${args.positionals.length}`);
      const s = sourcesOf(args);
      const all = await index(s);
      const a = find(all, args.positionals[0], s), b = find(all, args.positionals[1], s);
      if (a.entry.kind !== b.entry.kind) {
        throw new UsageError(`${a.entry.id} is a ${KIND_NAMES[a.entry.kind]} and ${b.entry.id} a ${KIND_NAMES[b.entry.kind]}: compare two of the same kind`);
      }
      if (a === b) throw new UsageError(`both ids name ${a.entry.kind}:${a.entry.id}: give two different ones`);
      const side = (x: Indexed) => ({ id: x.entry.id, createdAt: x.entry.createdAt, status: x.entry.status, commit: x.entry.commit, seeds: x.entry.seeds, models: x.entry.models, configHash: x.entry.config.hash, report: x.entry.report.path });
      const keys = [...new Set([...Object.keys(a.entry.metrics), ...Object.keys(b.entry.metrics)])];
      const results = keys.map((k) => {
        const va = a.entry.metrics[k] ?? null, vb = b.entry.metrics[k] ?? null;
        return { metric: k, a: va, b: vb, change: va === null || vb === null ? null : vb - va };
      });
      const paired = a.entry.kind === "suite" ? await pairedChange(a, b) : null;
      const out = {
        kind: a.entry.kind,
        a: side(a),
        b: side(b),
        config: configDiff(a.config, b.config),
        results,
        ...(paired ? { paired: paired.rows, cases: paired.cases } : {}),
      };
      if (args.values.json) {
        console.log(JSON.stringify(out, null, 2));
        return;
      }
      const lines = [
        `${KIND_NAMES[out.kind]}s: a = ${out.a.id}, b = ${out.b.id}`,
        table([
          ["", "a", "b"],
          ["created", out.a.createdAt ?? "—", out.b.createdAt ?? "—"],
          ["commit", short(out.a.commit), short(out.b.commit)],
          ["seeds", out.a.seeds.join(",") || "—", out.b.seeds.join(",") || "—"],
          ["models", out.a.models.join(", ") || "—", out.b.models.join(", ") || "—"],
          ["config", out.a.configHash.slice(0, 12), out.b.configHash.slice(0, 12)],
        ]),
        "",
        out.config.length ? `config: ${out.config.length} difference${out.config.length === 1 ? "" : "s"}` : "config: the same",
        ...out.config.map((d) => `  ${d.key}: ${value(d.a)} → ${value(d.b)}`),
        "",
        "results (b − a):",
        table([["metric", "a", "b", "change"], ...results.map((r) => [r.metric, fmtMetric(r.metric, r.a), fmtMetric(r.metric, r.b), fmtChange(r.metric, r.change)])]),
      ];
      if (paired) {
        lines.push("", `paired pass change b − a per arm, over the (arm, challenge, seed) cases both runs have (${paired.cases.common} of ${paired.cases.a} and ${paired.cases.b}); 95 % intervals clustered by family:`);
        lines.push(
          paired.rows.length
            ? table([["split", "arm", "pairs", "families", "a", "b", "change [95 % CI]", "p"], ...paired.rows.map((r) => [
              r.split,
              r.arm,
              String(r.pairs),
              String(r.families),
              fmtMetric("success", r.a),
              fmtMetric("success", r.b),
              r.lo === null || r.hi === null ? `${fmtChange("success", r.change)} (no interval: ${r.note})` : `${pts(r.change)} [${pts(r.lo)}, ${pts(r.hi)}] pts`,
              r.pValue === null ? "—" : r.pValue.toFixed(3),
            ])])
            : "  none: the two runs share no (split, arm, challenge, seed) case",
        );
      }
      console.log(lines.join("\n"));
    },
  },
];
