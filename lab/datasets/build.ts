/**
 * Building and exporting dataset folders. {@linkcode buildDataset} reads the sources, curates, and writes a
 * folder: the balanced training set (`train.jsonl`, and `train.<format>.jsonl` for other formats), seed 000's
 * staged sets (`core.jsonl`, `extended.jsonl`, `comprehensive.jsonl`) and DPO pairs (`dpo.jsonl`), each with its
 * manifest. Every file is rendered before the first is written, and each is written atomically.
 * {@linkcode exportDataset} converts a built `openai` file into another format, carrying its manifest over.
 * @module
 */
import { basename, dirname, join } from "node:path";
import type { PatternStore } from "../patterns/mod.ts";
import type { StoreRef } from "../tournament/mod.ts";
import { ConfigError, displayPath } from "../util/mod.ts";
import type { DatasetsConfig } from "./config.ts";
import {
  createCurator,
  type Curation,
  type ExampleFilter,
  STAGES,
  type StageName,
  type StageSet,
  stageSets,
} from "./curate.ts";
import type { Example, SourceKind } from "./example.ts";
import {
  type DatasetFormat,
  formatRows,
  parseRows,
  recordsFromChatRows,
  type RenderOptions,
  renderExamples,
  renderPairs,
} from "./formats.ts";
import type { LeakageGuard } from "./leakage.ts";
import {
  type DatasetManifest,
  derivedInput,
  type PreparedDataset,
  prepareDataset,
  readManifest,
  type SourceSummary,
  verifyHash,
  writeDatasets,
} from "./manifest.ts";
import { createRedactor, type RedactionCounts } from "./redact.ts";
import { episodeBatches, patternBatches, storedRuns } from "./sources.ts";

/**
 * Where a build reads.
 * @internal
 */
export interface DatasetSources {
  /** A tournament store: its episodes (of `runs`, default all). */
  db?: StoreRef;
  runs?: readonly string[];
  /** A pattern store: tournament patterns and a person's own questions. */
  patterns?: PatternStore;
  /** Which kinds of example to take. @default all three */
  kinds?: readonly SourceKind[];
  /**
   * Examples another module makes, in batches (lab/use's confirmed corrections: `correctionExamples`); curated
   * like the rest (leakage check included) when their kind is taken.
   */
  extra?: Iterable<readonly Example[]> | AsyncIterable<readonly Example[]>;
}

/**
 * Options for {@linkcode buildDataset}.
 * @internal
 */
export interface BuildOptions {
  /** The folder to write. */
  out: string;
  config: DatasetsConfig;
  guard: LeakageGuard;
  filter?: ExampleFilter;
  /** Formats of the training set. @default ["openai"] */
  formats?: readonly Exclude<DatasetFormat, "dpo">[];
  /** Write the staged sets. @default true */
  stages?: boolean;
  /** Write DPO pairs. @default true */
  dpo?: boolean;
}

/**
 * What a build wrote.
 * @internal
 */
export interface BuildResult {
  curation: Curation;
  stages: Record<StageName, StageSet> | null;
  files: { path: string; manifest: DatasetManifest }[];
}

/** The file of a set in a format: `train.jsonl` (openai) or `train.sharegpt.jsonl`. */
export function datasetFileName(set: string, format: DatasetFormat): string {
  return format === "openai" || format === "dpo" ? `${set}.jsonl` : `${set}.${format}.jsonl`;
}

const withTotal = (c: RedactionCounts) => ({ ...c, total: Object.values(c).reduce((a, b) => a + b, 0) });

/**
 * Reads the sources, curates and writes a dataset folder (see the module doc). Returns the curation, the staged
 * sets and every file written with its manifest.
 *
 * @example
 * ```ts
 * const guard = LeakageGuard.fromCatalog(await loadCatalog());
 * const r = await buildDataset({ db: "data/lab.duckdb", patterns: store }, { out: "data/datasets/curated", config, guard });
 * console.log(r.files.map((f) => `${f.path}: ${f.manifest.rows}`));
 * ```
 */
export async function buildDataset(sources: DatasetSources, options: BuildOptions): Promise<BuildResult> {
  const { config } = options;
  const kinds = new Set(sources.kinds ?? ["episode", "pattern", "ask"]);
  const curator = createCurator({ config, guard: options.guard, ...(options.filter ? { filter: options.filter } : {}) });
  let runs: string[] = [];
  if (sources.db !== undefined && kinds.has("episode")) {
    runs = [...(sources.runs ?? await storedRuns(sources.db))];
    for await (const batch of episodeBatches(sources.db, { runs })) curator.add(batch);
  }
  if (sources.patterns && (kinds.has("pattern") || kinds.has("ask"))) {
    for await (const batch of patternBatches(sources.patterns)) curator.add(batch.filter((e) => kinds.has(e.source)));
  }
  for await (const batch of sources.extra ?? []) curator.add(batch.filter((e) => kinds.has(e.source)));
  const curation = curator.finish();
  const summary: SourceSummary = {
    read: curation.read,
    episodes: sources.db !== undefined && kinds.has("episode")
      ? { store: displayPath(typeof sources.db === "string" ? sources.db : sources.db.path), runs }
      : null,
    patterns: sources.patterns && (kinds.has("pattern") || kinds.has("ask")) ? { store: displayPath(sources.patterns.path) } : null,
  };
  const rules = { quality: config.quality, tiers: config.tiers, dedup: config.dedup, balance: config.balance };
  const base = { sources: summary, excluded: curation.excluded, heldOut: curation.heldOut, rules, derivedFrom: null };
  const render = (): RenderOptions => ({
    systemPrompt: config.system_prompt,
    redactor: createRedactor({ names: config.redaction.names }),
  });

  const prepared: PreparedDataset[] = [];
  const train = render();
  const records = renderExamples(curation.examples, train);
  for (const format of options.formats ?? ["openai"]) {
    prepared.push(prepareDataset(join(options.out, datasetFileName("train", format)), format, formatRows(format, records), {
      ...base,
      redactions: withTotal(train.redactor.counts()),
      stage: null,
      lineage: records.map((r) => r.meta),
    }));
  }
  const stages = options.stages === false ? null : stageSets(curation, config);
  for (const name of stages ? STAGES : []) {
    const s = stages![name];
    const r = render();
    const recs = renderExamples(s.examples, r);
    prepared.push(prepareDataset(join(options.out, datasetFileName(name, "openai")), "openai", formatRows("openai", recs), {
      ...base,
      redactions: withTotal(r.redactor.counts()),
      stage: {
        name,
        target: s.spec.size,
        selected: s.examples.length,
        available: s.available,
        minFitness: s.spec.min_fitness,
        levels: s.spec.levels ?? null,
        scaledDown: s.scaledDown,
        note: s.note,
      },
      lineage: recs.map((x) => x.meta),
    }));
  }
  if (options.dpo !== false) {
    const r = render();
    const pairs = renderPairs(curation.pairs, r);
    prepared.push(prepareDataset(join(options.out, datasetFileName("dpo", "dpo")), "dpo", formatRows("dpo", pairs), {
      ...base,
      redactions: withTotal(r.redactor.counts()),
      stage: null,
      unpaired: curation.unpaired,
      lineage: pairs.map((p) => p.meta.chosen),
    }));
  }
  await writeDatasets(prepared);
  return { curation, stages, files: prepared.map((p) => ({ path: p.path, manifest: p.manifest })) };
}

/** Options for {@linkcode exportDataset}. */
export interface ExportOptions {
  /** The file to write. @default beside the source: `<set>.<format>.jsonl` */
  out?: string;
}

/**
 * A built `openai` set with its manifest, checked before it is converted: the manifest's format, the file's hash
 * against it, and every line. A problem is a one-line ConfigError.
 */
export async function readExportable(
  source: string,
): Promise<{ manifest: DatasetManifest; rows: Record<string, unknown>[] }> {
  const manifest = await readManifest(source);
  if (manifest.format !== "openai") {
    throw new ConfigError(`${displayPath(source)}: only openai-format sets can be exported, this one is ${manifest.format}`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(source);
  } catch (e) {
    throw new ConfigError(`${displayPath(source)}: cannot read the dataset (${(e as Error).message.split("\n")[0]})`);
  }
  if (!verifyHash(text, manifest)) {
    throw new ConfigError(`${displayPath(source)}: the file no longer has the sha256 its manifest records; rebuild it`);
  }
  const { rows, problems } = parseRows(text, "openai");
  if (problems.length) {
    throw new ConfigError(`${displayPath(source)}: line ${problems[0].line}: ${problems[0].message}`);
  }
  return { manifest, rows };
}

/**
 * Converts a built `openai` dataset file into another format, with a manifest carried over from the source's
 * (counts, sources, exclusions, redactions, lineage) and `derivedFrom` naming the source and its hash. Refuses a
 * file whose hash no longer matches its manifest, or that has a problem (named by line).
 *
 * @example
 * ```ts
 * const { path } = await exportDataset("data/datasets/curated/train.jsonl", "sharegpt");
 * ```
 */
export async function exportDataset(
  source: string,
  format: Exclude<DatasetFormat, "dpo">,
  options: ExportOptions = {},
): Promise<{ path: string; manifest: DatasetManifest }> {
  const { manifest, rows } = await readExportable(source);
  const records = recordsFromChatRows(rows, manifest.lineage);
  const set = basename(source).replace(/\.jsonl$/, "");
  const out = options.out ?? join(dirname(source), datasetFileName(set, format));
  const prepared = prepareDataset(out, format, formatRows(format, records), derivedInput(manifest));
  await writeDatasets([prepared]);
  return { path: out, manifest: prepared.manifest };
}
