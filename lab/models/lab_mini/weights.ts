/**
 * Training and weights of lab-mini: `pretrain(schemaSource)` generates the generic corpus from schema metadata
 * and fits the parser by SGD; a model file is JSON (weights as base64 Float32, the schema metadata it was trained
 * on, the recipe) with a SHA-256 content hash.
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { prng } from "./_text.ts";
import { type Example, generateCorpus } from "./corpus.ts";
import { decode, parseContext, type Plan, sgdStep, type Weights } from "./parser.ts";
import { readSchemaMeta, type ReadSchemaOptions, SchemaMeta } from "./schema_meta.ts";

/** A trained model: weights, the schema it knows, and how it was made. */
export interface LabMiniModel {
  format: "lab-mini/v1";
  /** `lab-mini:<first 12 hex of hash>` for base weights. */
  id: string;
  recipe: { schemaHash: string; seed: number; epochs: number; examples: number; bits: number; lr: number };
  meta: SchemaMeta;
  weights: Weights;
  /** SHA-256 of the content (recipe, meta, weights). */
  hash: string;
  /** Loss per epoch (mean cross-entropy per example). */
  losses: number[];
}

/** Where schema metadata comes from: a DuckDB file path, or the metadata itself. */
export type SchemaSource = string | SchemaMeta;

/** Options for {@linkcode pretrain}. */
export interface PretrainOptions {
  /** @default 0 */
  seed?: number;
  /** @default 6 */
  epochs?: number;
  /** Examples per relation. @default 80 */
  perRelation?: number;
  /** log2 of the feature space. @default 18 */
  bits?: number;
  /** @default 0.2 */
  lr?: number;
  /** Passed to the catalog reader. */
  read?: ReadSchemaOptions;
  onEpoch?: (epoch: number, loss: number) => void;
}

const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

function contentHash(recipe: LabMiniModel["recipe"], meta: SchemaMeta, w: Float32Array): string {
  return sha256(JSON.stringify(recipe) + JSON.stringify(meta) + sha256(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)));
}

/** Hash of schema metadata (part of the recipe). */
export function schemaHash(meta: SchemaMeta): string {
  return sha256(JSON.stringify(meta)).slice(0, 16);
}

/** Fits weights on examples by SGD (seeded shuffling); returns the mean loss per epoch. */
export function fit(weights: Weights, meta: SchemaMeta, examples: Example[], options: { seed: number; epochs: number; lr: number; onEpoch?: (e: number, l: number) => void }): number[] {
  const rand = prng(options.seed ^ 0x5eed);
  const data = examples.map((ex) => {
    const ctx = parseContext(ex.question, meta);
    return { ctx, gold: { ...ex.plan, periods: ctx.norm.periods, n: ctx.norm.n } as Plan };
  });
  const losses: number[] = [];
  const order = data.map((_, i) => i);
  for (let e = 0; e < options.epochs; e++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const lr = options.lr / (1 + e);
    let total = 0;
    for (const i of order) total += sgdStep(weights, meta, data[i].ctx, data[i].gold, lr);
    losses.push(total / Math.max(1, data.length));
    options.onEpoch?.(e + 1, losses.at(-1)!);
  }
  return losses;
}

/**
 * Pretrains base weights: reads schema metadata (a DuckDB file's catalog, or metadata given as data),
 * generates the generic corpus and fits the parser. Deterministic for a seed.
 *
 * @example
 * ```ts
 * const model = await pretrain("data/sandbox/tiny.duckdb", { seed: 1 });
 * await saveModel(model, "data/models/lab-mini.json");
 * ```
 */
export async function pretrain(source: SchemaSource, options: PretrainOptions = {}): Promise<LabMiniModel> {
  const meta = typeof source === "string" ? await readSchemaMeta(source, options.read) : SchemaMeta.parse(source);
  const seed = options.seed ?? 0, epochs = options.epochs ?? 6, bits = options.bits ?? 18, lr = options.lr ?? 0.2;
  const examples = generateCorpus(meta, { seed, perRelation: options.perRelation ?? 80 });
  const weights: Weights = { bits, w: new Float64Array(1 << bits) };
  const losses = fit(weights, meta, examples, { seed, epochs, lr, onEpoch: options.onEpoch });
  const w32 = Float32Array.from(weights.w);
  const recipe = { schemaHash: schemaHash(meta), seed, epochs, examples: examples.length, bits, lr };
  const hash = contentHash(recipe, meta, w32);
  return { format: "lab-mini/v1", id: `lab-mini:${hash.slice(0, 12)}`, recipe, meta, weights: { bits, w: w32 }, hash, losses };
}

const ModelFile = z.object({
  format: z.literal("lab-mini/v1"),
  id: z.string(),
  recipe: z.object({ schemaHash: z.string(), seed: z.number(), epochs: z.number(), examples: z.number(), bits: z.number().int().min(8).max(24), lr: z.number() }),
  meta: SchemaMeta,
  weights: z.string(),
  hash: z.string(),
  losses: z.array(z.number()),
});

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Serialises a model to JSON text. */
export function serializeModel(m: LabMiniModel): string {
  const w = m.weights.w instanceof Float32Array ? m.weights.w : Float32Array.from(m.weights.w);
  return JSON.stringify({ ...m, weights: toBase64(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)) });
}

/** Parses a model file's text; throws when the content does not match its hash. */
export function parseModel(text: string, where = "model file"): LabMiniModel {
  const parsed = ModelFile.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${where}: not a lab-mini model: ${z.prettifyError(parsed.error)}`);
  const f = parsed.data;
  const bin = atob(f.weights);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const w = new Float32Array(bytes.buffer);
  if (w.length !== 1 << f.recipe.bits) throw new Error(`${where}: ${w.length} weights, expected 2^${f.recipe.bits}`);
  const hash = contentHash(f.recipe, f.meta, w);
  if (hash !== f.hash) throw new Error(`${where}: content hash ${hash.slice(0, 12)} does not match the recorded ${f.hash.slice(0, 12)}; the file is corrupt or edited — pretrain it again`);
  return { ...f, weights: { bits: f.recipe.bits, w } };
}

/** Writes a model file. */
export async function saveModel(m: LabMiniModel, path: string): Promise<void> {
  await Deno.writeTextFile(path, serializeModel(m));
}

/** Reads a model file. */
export async function readModel(path: string): Promise<LabMiniModel> {
  return parseModel(await Deno.readTextFile(path), path);
}

/** Top-1 plan accuracy of a model on examples (exact match of the plan's decisions). */
export function planAccuracy(m: LabMiniModel, examples: Example[]): number {
  let ok = 0;
  for (const ex of examples) {
    const ctx = parseContext(ex.question, m.meta);
    const best = decode(m.weights, m.meta, ctx, 4)[0]?.plan;
    const g = ex.plan;
    if (best && best.sketch === g.sketch && best.rel === g.rel && best.agg === g.agg && best.measure === g.measure && best.dim === g.dim &&
      best.filter?.col === g.filter?.col && best.filter?.val === g.filter?.val && !best.filter?.neg === !g.filter?.neg &&
      String(best.filter?.vals) === String(g.filter?.vals) && best.cmp?.col === g.cmp?.col && best.dateCol === g.dateCol) ok++;
  }
  return ok / Math.max(1, examples.length);
}
