/**
 * Dataset files and their manifests. A dataset is a JSONL file and, beside it, `<name>.manifest.json`: the file's
 * sha256, its counts by tier, category, level, outcome type and source, the sources read, what was excluded and
 * why (leakage included), redaction counts, the staged set it is (if any), the config's rules, and one lineage
 * entry per line. Both are written atomically (a reader never sees a partial file).
 * @module
 */
import { createHash } from "node:crypto";
import { basename } from "node:path";
import { ConfigError, displayPath, writeTextAtomic } from "../util/mod.ts";
import type { DatasetsConfig } from "./config.ts";
import type { ExclusionCounts } from "./curate.ts";
import type { DatasetFormat, LineageEntry } from "./formats.ts";
import type { HeldOutSummary } from "./leakage.ts";
import type { RedactionCounts } from "./redact.ts";
import type { SourceKind } from "./example.ts";

/** The manifest's schema id. */
export const MANIFEST_SCHEMA = "lab.dataset/1";

/** Counts of a dataset's lines by a field's value. */
export type Counts = Record<string, number>;

/** What a build read. */
export interface SourceSummary {
  /** Examples read, by source. */
  read: Record<SourceKind, number>;
  /** The tournament store and the runs whose episodes were read (null: not read). */
  episodes: { store: string; runs: string[] } | null;
  /** The pattern store read (patterns and a person's questions), or null. */
  patterns: { store: string } | null;
}

/** A staged set's record in its manifest. */
export interface StageInfo {
  name: string;
  target: number;
  selected: number;
  available: number;
  minFitness: number;
  levels: number[] | null;
  scaledDown: boolean;
  note: string;
}

/**
 * A dataset file's manifest.
 * @internal
 */
export interface DatasetManifest {
  schema: typeof MANIFEST_SCHEMA;
  format: DatasetFormat;
  /** The data file's name (beside the manifest). */
  file: string;
  sha256: string;
  bytes: number;
  rows: number;
  createdAt: string;
  counts: { byTier: Counts; byCategory: Counts; byLevel: Counts; byOutcome: Counts; bySource: Counts };
  sources: SourceSummary | null;
  excluded: ExclusionCounts | null;
  heldOut: HeldOutSummary | null;
  /** Redactions in this file, by kind, and their total. */
  redactions: RedactionCounts & { total: number };
  stage: StageInfo | null;
  /** DPO pairs: instances with attempts but no pair. */
  unpaired?: number;
  /** The rules the set was made with. */
  rules: Pick<DatasetsConfig, "quality" | "tiers" | "dedup" | "balance"> | null;
  /** The file this one was converted from (`lab dataset export`). */
  derivedFrom: { file: string; sha256: string } | null;
  lineage: LineageEntry[];
}

/** What a writer adds to the data: everything but the fields computed from the file. */
export type ManifestInput = Omit<
  DatasetManifest,
  "schema" | "format" | "file" | "sha256" | "bytes" | "rows" | "createdAt" | "counts"
>;

/**
 * The manifest input of a file converted from the set `manifest` describes: that set's sources, exclusions,
 * redactions, stage, rules and lineage, with the set itself as `derivedFrom`.
 */
export function derivedInput(manifest: DatasetManifest): ManifestInput {
  return {
    sources: manifest.sources,
    excluded: manifest.excluded,
    heldOut: manifest.heldOut,
    redactions: manifest.redactions,
    stage: manifest.stage,
    rules: manifest.rules,
    derivedFrom: { file: manifest.file, sha256: manifest.sha256 },
    lineage: manifest.lineage,
  };
}

/** The manifest beside a data file: `x.jsonl` → `x.manifest.json`. */
export function manifestPath(dataPath: string): string {
  return `${dataPath.replace(/\.jsonl$/, "")}.manifest.json`;
}

/** sha256 of text (UTF-8), hex. */
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function countBy(lineage: readonly LineageEntry[], key: (e: LineageEntry) => unknown): Counts {
  const out: Counts = {};
  for (const e of lineage) {
    const k = String(key(e) ?? "none");
    out[k] = (out[k] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

/** The counts of a lineage by tier, category, level, outcome type and source. */
export function lineageCounts(lineage: readonly LineageEntry[]): DatasetManifest["counts"] {
  return {
    byTier: countBy(lineage, (e) => e.tier),
    byCategory: countBy(lineage, (e) => e.category),
    byLevel: countBy(lineage, (e) => e.level),
    byOutcome: countBy(lineage, (e) => e.outcome),
    bySource: countBy(lineage, (e) => e.source),
  };
}

/** JSONL text of rows (one JSON value per line, a final newline; empty text for no rows). */
export function jsonlText(rows: readonly unknown[]): string {
  return rows.length ? `${rows.map((r) => JSON.stringify(r)).join("\n")}\n` : "";
}

/** A data file's text and its manifest, ready to write (nothing written yet). */
export interface PreparedDataset {
  path: string;
  text: string;
  manifest: DatasetManifest;
}

/**
 * The text and manifest of a dataset file (not written: a build prepares every file before it writes one).
 * `input.lineage` must have one entry per row.
 */
export function prepareDataset(
  path: string,
  format: DatasetFormat,
  rows: readonly unknown[],
  input: ManifestInput,
): PreparedDataset {
  if (input.lineage.length !== rows.length) {
    throw new RangeError(`${displayPath(path)}: ${rows.length} rows but ${input.lineage.length} lineage entries`);
  }
  const text = jsonlText(rows);
  return {
    path,
    text,
    manifest: {
      schema: MANIFEST_SCHEMA,
      format,
      file: basename(path),
      sha256: sha256(text),
      bytes: new TextEncoder().encode(text).length,
      rows: rows.length,
      createdAt: new Date().toISOString(),
      counts: lineageCounts(input.lineage),
      ...input,
    },
  };
}

/**
 * Writes prepared datasets: each data file, then its manifest, atomically (temp file + rename).
 *
 * @example
 * ```ts
 * await writeDatasets([prepareDataset("data/datasets/x/train.jsonl", "openai", rows, info)]);
 * ```
 */
export async function writeDatasets(prepared: readonly PreparedDataset[]): Promise<void> {
  for (const p of prepared) {
    await writeTextAtomic(p.path, p.text);
    await writeTextAtomic(manifestPath(p.path), `${JSON.stringify(p.manifest, null, 2)}\n`);
  }
}

/**
 * Reads the manifest beside `dataPath` (a one-line ConfigError when it is missing or not a lab manifest).
 *
 * @example
 * ```ts
 * const m = await readManifest("data/datasets/x/train.jsonl");
 * console.log(m.counts.byTier, m.redactions.total);
 * ```
 */
export async function readManifest(dataPath: string): Promise<DatasetManifest> {
  const path = manifestPath(dataPath);
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(path));
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "not found" : (e as Error).message.split("\n")[0];
    throw new ConfigError(`${displayPath(path)}: cannot read the dataset manifest (${why}); build the set with 'lab dataset build'`);
  }
  const m = raw as Partial<DatasetManifest>;
  if (m?.schema !== MANIFEST_SCHEMA || !Array.isArray(m.lineage) || typeof m.sha256 !== "string") {
    throw new ConfigError(`${displayPath(path)}: not a lab dataset manifest (schema ${MANIFEST_SCHEMA} expected)`);
  }
  return m as DatasetManifest;
}

/** Whether a data file's text still has the hash its manifest records. */
export function verifyHash(text: string, manifest: Pick<DatasetManifest, "sha256">): boolean {
  return sha256(text) === manifest.sha256;
}
