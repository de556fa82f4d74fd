/**
 * The tournament config (`configs/tournament.yaml`): which model, which strategies, which challenges, how many
 * attempts and generations, and how selection breeds new strategies. Parsed at the boundary: a bad value is a
 * {@linkcode ConfigError} naming the file, the path inside it and the reason (STYLE #2).
 * @module
 */
import { z } from "zod";
import { parseConfigSyntax, parseConfigValue, readConfigText, displayPath, repoPath } from "../util/mod.ts";
import { LEVELS, SPLITS } from "../challenges/mod.ts";

/** Where the committed tournament config lives. */
export const TOURNAMENT_CONFIG_PATH: string = repoPath("configs/tournament.yaml");
/** The committed JSON schema of the tournament config, generated from {@linkcode TournamentFile}. */
export const TOURNAMENT_SCHEMA_PATH: string = repoPath("configs/tournament.schema.json");

const Rate = z.number().min(0, "must be ≥ 0").max(1, "must be ≤ 1");
const PosInt = z.number().int("must be an integer").positive("must be > 0");

/** Which challenges the tournament runs on; the same ones for every strategy and generation. */
export const ChallengeSelection = z.strictObject({
  /** Levels to draw from; empty = all. */
  levels: z.array(z.union(LEVELS.map((l) => z.literal(l)) as [z.ZodLiteral<1>, z.ZodLiteral<2>])).default([]),
  /** Families to draw from; empty = all. */
  families: z.array(z.string().min(1)).default([]),
  /** Instances at most, sampled deterministically by the tournament seed (hash order). */
  max_instances: PosInt.default(12),
});

/** How natural selection breeds the next generation. */
export const Selection = z.strictObject({
  /** Strategies replaced per generation (the weakest by mean composite fitness). */
  replace: z.number().int().min(0, "must be ≥ 0").default(1),
  /** Chance that a child is a crossover of the two strongest (else a mutation of a strong one). */
  crossover: Rate.default(0.3),
  mutation: z.strictObject({
    /** Chance that each sampling parameter (temperature, top_p) is perturbed. */
    sampling: Rate.default(0.5),
    /** Size of a perturbation: the value moves by up to ± this much (clamped to the API's range). */
    step: z.number().positive("must be > 0").max(1, "must be ≤ 1").default(0.2),
    /** Chance that each flag (prefer_views, use_todos, verify_steps) is flipped. */
    flags: Rate.default(0.25),
  }).default({ sampling: 0.5, step: 0.2, flags: 0.25 }),
});

/** The sandbox the episodes run in (built on first use, cached under data/sandbox). */
export const SandboxChoice = z.strictObject({
  scale: z.enum(["tiny", "small", "large"]).default("tiny"),
  seed: z.number().int().min(0).default(42),
  as_of: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date YYYY-MM-DD").default("2025-11-28"),
});

/** The whole tournament config file. */
export const TournamentFile = z.strictObject({
  /** Entry name in configs/models.yaml. */
  model: z.string().min(1).default("lab-mini"),
  /** Strategies file (relative to the repository root unless absolute). */
  strategies_file: z.string().min(1).default("configs/strategies.yaml"),
  /** Ids of the starting population (keys of the strategies file); empty = all of them. */
  strategies: z.array(z.string().min(1)).default([])
    .refine((a) => new Set(a).size === a.length, { message: "lists a strategy twice" }),
  /** Challenge split; episodes on any split but train are marked contaminated. */
  split: z.enum(SPLITS).default("train"),
  challenges: ChallengeSelection.default({ levels: [], families: [], max_instances: 12 }),
  /** Attempts per (strategy, challenge) and generation (k of pass@k). */
  attempts: PosInt.default(2),
  generations: PosInt.default(2),
  /** Seeds challenge sampling, episode seeds and selection. */
  seed: z.number().int().min(0).default(1),
  /** Episodes run at once. */
  concurrency: PosInt.max(256, "must be ≤ 256").default(4),
  sandbox: SandboxChoice.default({ scale: "tiny", seed: 42, as_of: "2025-11-28" }),
  selection: Selection.default({
    replace: 1,
    crossover: 0.3,
    mutation: { sampling: 0.5, step: 0.2, flags: 0.25 },
  }),
}).superRefine((c, ctx) => {
  if (c.strategies.length > 0 && c.selection.replace >= c.strategies.length) {
    ctx.addIssue({
      code: "custom",
      path: ["selection", "replace"],
      message: `must be smaller than the population (${c.strategies.length} strategies), found ${c.selection.replace}`,
    });
  }
});
/**
 * A validated tournament config (defaults filled in).
 * @internal
 */
export type TournamentConfig = z.infer<typeof TournamentFile>;
/** A tournament config as written (every field optional). */
export type TournamentConfigInput = z.input<typeof TournamentFile>;

/**
 * Validates a tournament config object (parsed YAML, or an object a notebook builds); errors name `source`,
 * the path and the reason.
 *
 * @example
 * ```ts
 * const cfg = parseTournamentConfig({ strategies: ["alpha", "beta"], generations: 3 });
 * cfg.attempts; // 2 (the default)
 * ```
 */
export function parseTournamentConfig(raw: unknown, source = "configs/tournament.yaml"): TournamentConfig {
  return parseConfigValue(TournamentFile, raw ?? {}, source);
}

/** Parses and validates a tournament config's YAML text. */
export function parseTournamentYaml(text: string, source = "configs/tournament.yaml"): TournamentConfig {
  return parseTournamentConfig(parseConfigSyntax(text, source), source);
}

/** Loads and validates `configs/tournament.yaml` (or `path`). */
export async function loadTournamentConfig(path: string = TOURNAMENT_CONFIG_PATH): Promise<TournamentConfig> {
  const { text, source } = await readConfigText(path, "tournament config");
  return parseTournamentYaml(text, source);
}

/** The JSON schema of the tournament config (committed as `configs/tournament.schema.json`). */
export function tournamentJsonSchema(): Record<string, unknown> {
  return {
    title: "Lab tournament config (configs/tournament.yaml)",
    ...z.toJSONSchema(TournamentFile, { io: "input" }),
  };
}

if (import.meta.main) {
  // Regenerates the committed schema: deno run -A lab/tournament/config.ts
  const { writeTextAtomic } = await import("../util/atomic.ts");
  await writeTextAtomic(TOURNAMENT_SCHEMA_PATH, JSON.stringify(tournamentJsonSchema(), null, 2) + "\n");
  console.log(`wrote ${displayPath(TOURNAMENT_SCHEMA_PATH)}`);
}
