/**
 * `lab dataset build | stats | validate | export | export-trainer`: curated training sets from the command line —
 * build a folder from the tournament store and the pattern store, look at a set's manifest, validate a file
 * (line-numbered problems, tokens, epochs, cost), convert a built set into another format, and export it for an
 * external trainer (Together, Fireworks, Axolotl, Unsloth, Ollama).
 */
import { existsSync } from "node:fs";
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { intOption, UsageError } from "./_args.ts";
import { LabContext } from "../context.ts";
import { correctionExamples } from "../use/mod.ts";
import { loadCatalog } from "../challenges/mod.ts";
import { DEFAULT_PATTERNS_PATH } from "../patterns/mod.ts";
import { DEFAULT_DB_PATH } from "../tournament/mod.ts";
import { getModelConfig, loadModelsConfig } from "../models/mod.ts";
import {
  buildDataset,
  DEFAULT_BASE,
  DEFAULT_LORA,
  type DatasetFormat,
  DATASETS_CONFIG_FILE,
  type DatasetManifest,
  type ExampleFilter,
  exportDataset,
  exportForTrainer,
  FORMATS,
  LeakageGuard,
  loadDatasetsConfig,
  parseRows,
  readManifest,
  STAGES,
  type StageName,
  type Trainer,
  TRAINERS,
  type SourceKind,
  TIERS,
  type Tier,
  validateChatJsonl,
  type ValidationReport,
  verifyHash,
} from "../datasets/mod.ts";
import { ConfigError, displayPath, repoPath } from "../util/mod.ts";

const TRAIN_FORMATS = FORMATS.filter((f) => f !== "dpo");
const SOURCES: Record<string, SourceKind> = { episodes: "episode", patterns: "pattern", asks: "ask" };
const JSON_OUT = { json: { type: "boolean", description: "Print the result as JSON" } } as const;
const CONFIG = {
  config: { type: "string", description: "Datasets config", default: displayPath(DATASETS_CONFIG_FILE) },
} as const;

/** A comma-separated option as a list (undefined when not given), each value checked. */
function listOption(args: ParsedArgs, name: string, allowed?: readonly string[]): string[] | undefined {
  const raw = args.values[name];
  if (typeof raw !== "string") return undefined;
  const values = raw.split(",").map((v) => v.trim()).filter(Boolean);
  if (!values.length) throw new UsageError(`--${name} needs at least one value`);
  const bad = allowed ? values.filter((v) => !allowed.includes(v)) : [];
  if (bad.length) throw new UsageError(`--${name}: '${bad[0]}' is not one of ${allowed!.join(", ")}`);
  return values;
}

function oneFile(args: ParsedArgs): string {
  if (args.positionals.length !== 1) {
    throw new UsageError(`expects one dataset file, found ${args.positionals.length ? `'${args.positionals.join(" ")}'` : "none"}`);
  }
  const path = args.positionals[0];
  if (!existsSync(path)) throw new UsageError(`no file at ${path}`);
  return path;
}

function filterFrom(args: ParsedArgs): ExampleFilter {
  const levels = listOption(args, "level")?.map((v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 5) throw new UsageError(`--level: '${v}' is not a level 1–5`);
    return n;
  });
  const f: ExampleFilter = {};
  const tiers = listOption(args, "tier", TIERS) as Tier[] | undefined;
  if (tiers) f.tiers = tiers;
  const categories = listOption(args, "category");
  if (categories) f.categories = categories;
  if (levels) f.levels = levels;
  const strategies = listOption(args, "strategy");
  if (strategies) f.strategies = strategies;
  const models = listOption(args, "model");
  if (models) f.models = models;
  const runs = listOption(args, "run");
  if (runs) f.runs = runs;
  return f;
}

const counts = (c: Record<string, number>) => Object.entries(c).map(([k, n]) => `${k} ${n}`).join(", ") || "none";

/** A manifest as people read it. */
function formatManifest(path: string, m: DatasetManifest, hashOk: boolean): string {
  const lines = [
    `${displayPath(path)}: ${m.rows} rows (${m.format}), sha256 ${m.sha256.slice(0, 16)}… ${hashOk ? "(matches)" : "(DOES NOT MATCH the file)"}`,
    `  tiers: ${counts(m.counts.byTier)}`,
    `  categories: ${counts(m.counts.byCategory)}`,
    `  levels: ${counts(Object.fromEntries(Object.entries(m.counts.byLevel).map(([k, n]) => [k === "none" ? k : `L${k}`, n])))}`,
    `  outcomes: ${counts(m.counts.byOutcome)}`,
    `  sources: ${counts(m.counts.bySource)}`,
  ];
  if (m.stage) lines.push(`  stage ${m.stage.name}: ${m.stage.note}`);
  if (m.sources) {
    lines.push(`  read: ${counts(m.sources.read)}` +
      (m.sources.episodes ? `; episodes from ${m.sources.episodes.store} (${m.sources.episodes.runs.length} runs)` : "") +
      (m.sources.patterns ? `; patterns from ${m.sources.patterns.store}` : ""));
  }
  if (m.excluded) {
    const { leakage, ...rest } = m.excluded;
    lines.push(`  excluded, leakage: ${counts(leakage)}`, `  excluded, other: ${counts(rest as unknown as Record<string, number>)}`);
  }
  if (m.heldOut) lines.push(`  held out: ${counts(m.heldOut as unknown as Record<string, number>)}`);
  const { total, ...kinds } = m.redactions;
  lines.push(`  redactions: ${total} (${counts(kinds)})`);
  if (m.derivedFrom) lines.push(`  converted from ${m.derivedFrom.file} (sha256 ${m.derivedFrom.sha256.slice(0, 16)}…)`);
  return lines.join("\n");
}

/** A validation report as people read it (at most `max` problems listed). */
function formatReport(path: string, r: ValidationReport, max = 50): string {
  const lines = r.problems.slice(0, max).map((p) => `${displayPath(path)}:${p.line}: ${p.code}: ${p.message}`);
  if (r.problems.length > max) lines.push(`… and ${r.problems.length - max} more problems`);
  const t = r.tokens;
  lines.push(
    `${r.ok ? "ok" : `${r.problems.length} problems`}: ${r.valid} of ${r.lines} examples valid` +
      (r.ok ? "" : ` (${counts(r.byCode as Record<string, number>)})`),
    `tokens (${r.encoding}): total ${t.total}, per example min ${t.min} / mean ${t.mean} / p50 ${t.p50} / p95 ${t.p95} / max ${t.max}; ` +
      `${t.overLimit} over the context window of ${r.contextWindow}`,
    `training: ${r.epochs} epochs × ${r.billingTokensPerEpoch} billed tokens ≈ $${r.estimatedCostUsd.toFixed(2)}`,
  );
  return lines.join("\n");
}

export const DATASET_COMMANDS: CommandSpec[] = [
  {
    name: "dataset build",
    summary: "Curate a training set from tournaments, patterns and marked answers: tiers, dedup, balance, redaction, stages, DPO",
    options: {
      out: { type: "string", description: "Folder to write", default: displayPath(repoPath("data/datasets/curated")) },
      db: { type: "string", description: "Tournament store (episodes)", default: displayPath(DEFAULT_DB_PATH) },
      patterns: { type: "string", description: "Pattern store (patterns and asked questions)", default: displayPath(DEFAULT_PATTERNS_PATH) },
      sources: { type: "string", description: "Which sources, comma-separated: episodes, patterns, asks (default: those whose store exists)" },
      format: { type: "string", description: `Formats of the training set, comma-separated: ${TRAIN_FORMATS.join(", ")} or all`, default: "openai" },
      tier: { type: "string", description: `Only these tiers (${TIERS.join(", ")})` },
      category: { type: "string", description: "Only these categories" },
      level: { type: "string", description: "Only these levels (1–5)" },
      strategy: { type: "string", description: "Only these strategies" },
      model: { type: "string", description: "Only these models (configs/models.yaml names)" },
      run: { type: "string", description: "Only these runs (of the tournament store: only these are read)" },
      challenges: { type: "string", description: "Also hold out the held-out instances of this challenge file or folder" },
      "no-stages": { type: "boolean", description: "Leave out the staged sets (core, extended, comprehensive)" },
      "no-dpo": { type: "boolean", description: "Leave out the DPO pairs" },
      ...CONFIG,
      ...JSON_OUT,
    },
    examples: [
      "deno task lab dataset build",
      "deno task lab dataset build --out data/datasets/finance --category finance --format openai,sharegpt",
      "deno task lab dataset build --sources patterns,asks --tier gold,silver --no-dpo   # asks: marked-right answers and confirmed corrections",
    ],
    async run(args) {
      if (args.positionals.length) throw new UsageError(`takes no positional arguments, found '${args.positionals.join(" ")}'`);
      const filter = filterFrom(args);
      const formatArg = listOption(args, "format", [...TRAIN_FORMATS, "all"])!;
      const formats = (formatArg.includes("all") ? TRAIN_FORMATS : formatArg) as Exclude<DatasetFormat, "dpo">[];
      const explicit = listOption(args, "sources", Object.keys(SOURCES));
      const db = String(args.values.db), patterns = String(args.values.patterns);
      const wanted = explicit ?? Object.keys(SOURCES);
      const stores = { episodes: db, patterns, asks: patterns } as Record<string, string>;
      const kinds = wanted.filter((s) => {
        if (existsSync(stores[s])) return true;
        if (explicit) {
          throw new UsageError(`no ${s === "episodes" ? "tournament" : "pattern"} store at ${stores[s]}: pass --${s === "episodes" ? "db" : "patterns"}, or leave ${s} out of --sources`);
        }
        return false;
      });
      if (!kinds.length) {
        throw new UsageError(`neither ${db} nor ${patterns} exists: run a tournament ('lab tournament') and 'lab patterns ingest' first`);
      }
      await using ctx = await LabContext.open({ db, patternsDb: patterns, datasetsConfig: String(args.values.config) });
      const config = await ctx.datasets();
      const extra = args.values.challenges as string | undefined;
      const guard = LeakageGuard.fromCatalog(await loadCatalog(extra ? { extra: [extra] } : {}));
      const usesPatterns = kinds.includes("patterns") || kinds.includes("asks");
      const r = await buildDataset({
        ...(kinds.includes("episodes") ? { db, ...(filter.runs ? { runs: filter.runs } : {}) } : {}),
        ...(usesPatterns ? { patterns: await ctx.patternStore() } : {}),
        // Confirmed corrections of `lab ask` answers (lab/use): human-validated gold, through the same leakage check.
        ...(kinds.includes("asks") ? { extra: [(await correctionExamples(await ctx.patternStore())).examples] } : {}),
        kinds: kinds.map((k) => SOURCES[k]),
      }, {
        out: String(args.values.out),
        config,
        guard,
        filter,
        formats,
        stages: !args.values["no-stages"],
        dpo: !args.values["no-dpo"],
      });
      const c = r.curation;
      const summary = {
        out: String(args.values.out),
        read: c.read,
        excluded: c.excluded,
        files: r.files.map((f) => ({ path: f.path, format: f.manifest.format, rows: f.manifest.rows, sha256: f.manifest.sha256, stage: f.manifest.stage?.note ?? null })),
      };
      if (args.values.json) console.log(JSON.stringify(summary, null, 2));
      else {
        const { leakage, ...rest } = c.excluded;
        console.log([
          `read ${counts(c.read)}; held out by leakage control: ${counts(leakage)}`,
          `excluded: ${counts(rest as unknown as Record<string, number>)}`,
          ...r.files.map((f) => `wrote ${displayPath(f.path)}: ${f.manifest.rows} rows${f.manifest.stage?.scaledDown ? ` (${f.manifest.stage.note})` : ""}`),
        ].join("\n"));
      }
    },
  },
  {
    name: "dataset stats",
    summary: "What a built dataset file holds: counts by tier, category, level, source; exclusions, redactions, hash check",
    positionals: ["file"],
    options: { ...JSON_OUT },
    examples: ["deno task lab dataset stats data/datasets/curated/train.jsonl"],
    async run(args) {
      const path = oneFile(args);
      const m = await readManifest(path);
      const ok = verifyHash(await Deno.readTextFile(path), m);
      const { lineage: _lineage, ...rest } = m;
      if (args.values.json) console.log(JSON.stringify({ ...rest, hashOk: ok }, null, 2));
      else console.log(formatManifest(path, m, ok));
      if (!ok) {
        throw new ConfigError(`${displayPath(path)}: the file no longer has the sha256 its manifest records; rebuild it`);
      }
    },
  },
  {
    name: "dataset validate",
    summary: "Check a dataset file: format (roles, tool calls and their ids, known tools), tokens vs the context window, epochs, cost",
    positionals: ["file"],
    options: {
      format: { type: "string", description: "The file's format (default: its manifest's, else openai)", choices: FORMATS },
      "context-window": { type: "string", description: "Tokens an example may have (default: the config's)" },
      model: { type: "string", description: "Take the context window from this configs/models.yaml entry" },
      epochs: { type: "string", description: "Epochs to bill (default: the OpenAI cookbook's rule)" },
      price: { type: "string", description: "USD per 1M training tokens (default: the config's)" },
      ...CONFIG,
      ...JSON_OUT,
    },
    examples: [
      "deno task lab dataset validate data/datasets/curated/train.jsonl",
      "deno task lab dataset validate my.jsonl --model openai-gpt-4o-mini --price 3",
    ],
    async run(args) {
      const path = oneFile(args);
      const config = await loadDatasetsConfig(String(args.values.config));
      let format = args.values.format as DatasetFormat | undefined;
      if (!format) format = existsSync(path.replace(/\.jsonl$/, "") + ".manifest.json") ? (await readManifest(path)).format : "openai";
      const text = await Deno.readTextFile(path);
      let contextWindow: number | undefined;
      if (args.values.model !== undefined) {
        contextWindow = getModelConfig(await loadModelsConfig(), String(args.values.model)).context_window;
      }
      if (args.values["context-window"] !== undefined) contextWindow = intOption(args, "context-window", 1);
      const price = args.values.price === undefined ? undefined : Number(args.values.price);
      if (price !== undefined && !(price >= 0)) throw new UsageError(`--price must be a number ≥ 0, found '${args.values.price}'`);
      let report: ValidationReport | { ok: boolean; problems: ReturnType<typeof parseRows>["problems"]; rows: number };
      if (format === "openai") {
        report = await validateChatJsonl(text, config, {
          ...(contextWindow ? { contextWindow } : {}),
          ...(args.values.epochs !== undefined ? { epochs: intOption(args, "epochs", 1) } : {}),
          ...(price !== undefined ? { usdPer1m: price } : {}),
        });
        if (args.values.json) console.log(JSON.stringify(report, null, 2));
        else console.log(formatReport(path, report));
      } else {
        const { rows, problems } = parseRows(text, format);
        report = { ok: problems.length === 0, problems, rows: rows.length };
        if (args.values.json) console.log(JSON.stringify(report, null, 2));
        else {
          console.log([
            ...problems.map((p) => `${displayPath(path)}:${p.line}: ${p.code}: ${p.message}`),
            `${problems.length ? `${problems.length} problems` : "ok"}: ${rows.length} ${format} rows`,
          ].join("\n"));
        }
      }
      return report.ok ? 0 : 1;
    },
  },
  {
    name: "dataset export",
    summary: "Convert a built (openai) dataset file into seed001, sharegpt or alpaca, with its manifest",
    positionals: ["file"],
    options: {
      format: { type: "string", description: "Target format", choices: TRAIN_FORMATS.filter((f) => f !== "openai") },
      out: { type: "string", description: "File to write (default: beside the source, <set>.<format>.jsonl)" },
      ...JSON_OUT,
    },
    examples: ["deno task lab dataset export data/datasets/curated/train.jsonl --format sharegpt"],
    async run(args) {
      const path = oneFile(args);
      const format = args.values.format as Exclude<DatasetFormat, "dpo" | "openai"> | undefined;
      if (!format) throw new UsageError("--format is required (seed001, sharegpt or alpaca)");
      const r = await exportDataset(path, format, args.values.out ? { out: String(args.values.out) } : {});
      if (args.values.json) console.log(JSON.stringify({ path: r.path, rows: r.manifest.rows, sha256: r.manifest.sha256 }, null, 2));
      else console.log(`wrote ${displayPath(r.path)}: ${r.manifest.rows} rows (${format}), converted from ${displayPath(path)}`);
    },
  },
  {
    name: "dataset export-trainer",
    summary: "Export a built (openai) dataset for an external trainer: together, fireworks, axolotl, unsloth or ollama (not trainable offline here)",
    positionals: ["file"],
    options: {
      trainer: { type: "string", description: "The trainer (required)", choices: TRAINERS },
      out: { type: "string", description: "Folder to write (default: <set>.trainers/ beside the dataset)" },
      base: { type: "string", description: "Base model, Hugging Face id (axolotl, unsloth)", default: DEFAULT_BASE.hf },
      "ollama-base": { type: "string", description: "Base model, Ollama name (the Modelfile's FROM)", default: DEFAULT_BASE.ollama },
      stage: { type: "string", description: "Seed 000 stage whose epochs and learning rate apply (default: the dataset's, else core)", choices: STAGES },
      data: { type: "string", description: "Data written beside the axolotl/unsloth config", choices: ["sharegpt", "alpaca"], default: "sharegpt" },
      "lora-r": { type: "string", description: "LoRA rank", default: String(DEFAULT_LORA.r) },
      "lora-alpha": { type: "string", description: "LoRA alpha", default: String(DEFAULT_LORA.alpha) },
      "lora-dropout": { type: "string", description: "LoRA dropout", default: String(DEFAULT_LORA.dropout) },
      "target-modules": { type: "string", description: "LoRA target modules, comma-separated", default: DEFAULT_LORA.targetModules.join(",") },
      ...JSON_OUT,
    },
    examples: [
      "deno task lab dataset export-trainer data/datasets/curated/core.jsonl --trainer axolotl",
      "deno task lab dataset export-trainer data/datasets/curated/core.jsonl --trainer ollama --ollama-base llama3.2:3b --base unsloth/Llama-3.2-3B-Instruct",
    ],
    async run(args) {
      const path = oneFile(args);
      const trainer = args.values.trainer as Trainer | undefined;
      if (!trainer) throw new UsageError(`--trainer is required (${TRAINERS.join(", ")})`);
      const num = (name: string) => {
        const v = Number(args.values[name]);
        if (!Number.isFinite(v)) throw new UsageError(`--${name} must be a number, found '${args.values[name]}'`);
        return v;
      };
      const r = await exportForTrainer(path, trainer, {
        ...(args.values.out ? { out: String(args.values.out) } : {}),
        base: { hf: String(args.values.base), ollama: String(args.values["ollama-base"]) },
        ...(args.values.stage ? { stage: args.values.stage as StageName } : {}),
        data: args.values.data as "sharegpt" | "alpaca",
        lora: {
          r: num("lora-r"),
          alpha: num("lora-alpha"),
          dropout: num("lora-dropout"),
          targetModules: listOption(args, "target-modules") ?? [],
        },
      });
      if (args.values.json) console.log(JSON.stringify({ trainer, dir: r.dir, paths: r.paths, entry: r.entry }, null, 2));
      else {
        console.log([
          ...r.paths.map((p) => `wrote ${displayPath(p)}`),
          `stage ${r.entry.stage} (${r.entry.stageFrom}): ${r.entry.epochs} epoch${r.entry.epochs === 1 ? "" : "s"} at lr ${r.entry.learningRate}; base ${trainer === "ollama" ? r.entry.base.ollama : r.entry.base.hf}`,
          "not trained here: the lab runs offline, with no GPU and no internet",
        ].join("\n"));
      }
    },
  },
];
