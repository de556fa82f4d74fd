/**
 * The datasets config, `configs/datasets.yaml`: quality weights and tiers, near-duplicate thresholds, the
 * per-category cap, seed 000's staged sets, DPO, redaction, the system prompt of pattern examples and the
 * validation defaults. Parsed at the boundary; a problem is a one-line error naming the file and the field.
 * @module
 */
import { z } from "zod";
import { parseConfigText, parseConfigValue, readConfigText, repoPath } from "../util/mod.ts";

const Weight = z.number().min(0, "must be ≥ 0").max(1, "must be ≤ 1");
const Unit = z.number().min(0, "must be ≥ 0").max(1, "must be ≤ 1");
const PosInt = z.number().int().positive("must be a positive integer");

/** One staged set: its target size, its composite-fitness floor and (optionally) its levels. */
export const StageConfig = z.strictObject({
  size: PosInt,
  min_fitness: Unit,
  levels: z.array(z.number().int().min(1).max(5)).min(1, "must list at least one level").optional(),
});
/** One staged set of configs/datasets.yaml. */
export type StageConfig = z.infer<typeof StageConfig>;

/** configs/datasets.yaml. */
export const DatasetsConfig = z.strictObject({
  quality: z.strictObject({
    weights: z.strictObject({
      fitness: Weight.default(0.35),
      verified: Weight.default(0.15),
      human: Weight.default(0.20),
      pattern_used: Weight.default(0.10),
      support: Weight.default(0.05),
      hard_level: Weight.default(0.10),
    }).prefault({}),
    support_min: PosInt.default(2),
    hard_level_min: z.number().int().min(1).max(5).default(4),
  }).prefault({}),
  tiers: z.strictObject({ gold: Unit.default(0.9), silver: Unit.default(0.75), bronze: Unit.default(0.6) })
    .prefault({})
    .refine((t) => t.gold >= t.silver && t.silver >= t.bronze, "must satisfy gold ≥ silver ≥ bronze"),
  dedup: z.strictObject({ intent_jaccard: Unit.default(0.7), sql_jaccard: Unit.default(0.8) }).prefault({}),
  balance: z.strictObject({ per_category_cap: PosInt.default(2000) }).prefault({}),
  stages: z.strictObject({
    core: StageConfig.default({ size: 1000, min_fitness: 0.9, levels: [1, 2] }),
    extended: StageConfig.default({ size: 5000, min_fitness: 0.85 }),
    comprehensive: StageConfig.default({ size: 20000, min_fitness: 0.75 }),
  }).prefault({}),
  dpo: z.strictObject({ min_chosen_fitness: Unit.default(0) }).prefault({}),
  redaction: z.strictObject({ names: z.array(z.string().min(2, "a name needs at least 2 characters")).default([]) })
    .prefault({}),
  system_prompt: z.string().min(1).default("You are an ERP assistant working through tools.\nYour role: {role}."),
  validation: z.strictObject({
    context_window: PosInt.default(65536),
    encoding: z.enum(["cl100k_base", "o200k_base"]).default("cl100k_base"),
    target_epochs: PosInt.default(3),
    min_target_examples: PosInt.default(100),
    max_target_examples: PosInt.default(25000),
    training_usd_per_1m: z.number().min(0, "must be ≥ 0").default(3),
  }).prefault({}),
});
/**
 * A loaded datasets config, defaults filled in.
 * @internal
 */
export type DatasetsConfig = z.infer<typeof DatasetsConfig>;

/** The committed config file. */
export const DATASETS_CONFIG_FILE: string = repoPath("configs/datasets.yaml");

/**
 * Reads and validates configs/datasets.yaml (or `path`); a problem is a one-line ConfigError naming the file.
 *
 * @example
 * ```ts
 * const cfg = await loadDatasetsConfig();
 * console.log(cfg.quality.weights.human, cfg.tiers.gold);
 * ```
 */
export async function loadDatasetsConfig(path: string = DATASETS_CONFIG_FILE): Promise<DatasetsConfig> {
  const { text, source } = await readConfigText(path, "datasets config");
  return parseConfigText(DatasetsConfig, text, source);
}

/**
 * A config from a value (a notebook's object, or `{}` for every default), validated like the file.
 *
 * @example
 * ```ts
 * const cfg = datasetsConfig({ tiers: { bronze: 0.5 } });
 * ```
 */
export function datasetsConfig(value: unknown = {}, source = "datasets config"): DatasetsConfig {
  return parseConfigValue(DatasetsConfig, value, source);
}
