/**
 * Strategies as data (`configs/strategies.yaml`): prompt fragments, sampling, tool preferences, budgets and
 * verification behaviour that turn a Model into an Agent. The runner reads only these values — there is no
 * per-strategy code — so a new strategy is a new YAML entry, and a tournament can evolve one by returning a
 * changed copy (STYLE #6).
 *
 * The same file carries the fitness weights under `fitness:` (see `fitness.ts`), so one schema covers
 * everything a tournament selects on.
 * @module
 */
import { z } from "zod";
import { ConfigError, parseConfigText, readConfigText, displayPath, repoPath } from "../util/mod.ts";
import type { ToolName } from "../tools/mod.ts";

/** Where the committed strategies config lives. */
export const STRATEGIES_CONFIG_PATH: string = repoPath("configs/strategies.yaml");
/** The committed JSON schema of the strategies config, generated from {@linkcode StrategiesFile}. */
export const STRATEGIES_SCHEMA_PATH: string = repoPath("configs/strategies.schema.json");

/** The six tools, in the order `openAiToolSchemas()` lists them. */
export const TOOL_NAMES = [
  "dbRead",
  "dbWrite",
  "schemaInfo",
  "viewsList",
  "todoList",
  "submitAnswer",
] as const satisfies readonly ToolName[];

const Unit = z.number().min(0, "must be ≥ 0").max(1, "must be ≤ 1");
const PositiveInt = z.number().int("must be an integer").positive("must be > 0");

/** Sampling parameters sent with every model call of the strategy. */
export const Sampling = z.strictObject({
  /** OpenAI temperature. */
  temperature: z.number().min(0, "must be ≥ 0").max(2, "must be ≤ 2"),
  /** OpenAI top_p (nucleus sampling). */
  top_p: z.number().gt(0, "must be > 0").max(1, "must be ≤ 1"),
  /**
   * Self-consistency: samples `n` choices per step and takes the majority tool-call list (by canonical JSON of
   * name + arguments, ids ignored; ties go to the earliest choice). 1 = no vote.
   */
  n: z.number().int("must be an integer").min(1, "must be ≥ 1").max(16, "must be ≤ 16").default(1),
  /** Completion tokens per model call at most (`max_tokens`); unset = the provider's default. */
  max_tokens: PositiveInt.optional(),
  /** OpenAI `tool_choice`. */
  tool_choice: z.enum(["auto", "required"]).default("auto"),
});

/** Which tools the model is offered and how it is told to use them. */
export const ToolPreferences = z.strictObject({
  /** Tools offered to the model (a subset of the six; submitAnswer is required). */
  allowed: z.array(z.enum(TOOL_NAMES)).min(1).default([...TOOL_NAMES])
    .refine((a) => a.includes("submitAnswer"), { message: "must include submitAnswer (the only way to answer)" })
    .refine((a) => new Set(a).size === a.length, { message: "lists a tool twice" }),
  /** Adds the `prefer_views` fragment to the prompt. */
  prefer_views: z.boolean().default(false),
  /** Adds the `use_todos` fragment to the prompt. */
  use_todos: z.boolean().default(false),
});

/** What the strategy does before it submits. */
export const Verification = z.strictObject({
  /** Adds the `verify_steps` fragment: re-check results before submitting. */
  verify_steps: z.boolean().default(false),
});

/** Caps of one episode; reaching one stops the episode (recorded as its stop reason). */
export const Budgets = z.strictObject({
  /** Tool calls at most (malformed calls count). */
  max_steps: PositiveInt,
  /** Input + output tokens over the whole episode at most (checked before each model call). */
  max_tokens: PositiveInt,
  /** Wall time of the episode at most, in seconds (a model call in flight is cancelled). */
  max_seconds: z.number().positive("must be > 0"),
  /** Model errors (malformed tool calls, unknown tools) tolerated; one more stops the episode. */
  max_model_errors: z.number().int().min(0, "must be ≥ 0").default(3),
  /** Replies without a tool call answered with the nudge before the episode stops. */
  max_text_replies: z.number().int().min(0, "must be ≥ 0").default(1),
  /** Tool results are sent to the model as JSON cut to this many characters. */
  max_tool_result_chars: PositiveInt.default(6000),
});

/** Injected examples (from a PatternSource, when one is wired). */
export const ExamplesSpec = z.strictObject({
  /** Examples asked for and injected at most; 0 turns injection off for this strategy. */
  k: z.number().int().min(0, "must be ≥ 0").max(20, "must be ≤ 20").default(3),
});

const StrategyId = z.string().regex(/^[a-z][a-z0-9_-]*$/, "strategy ids are lowercase letters, digits, '_' and '-'");
const FlagChange = z.strictObject({ from: z.boolean(), to: z.boolean() });

/**
 * Where a learned strategy came from (`lab/use/prompts.ts`): its parent, the failure mode its prompt edit targets,
 * the edit itself, and the evidence it was promoted on (its `dev` lift, Holm-corrected, and the one pre-declared
 * `test_id` confirmation). Absent on hand-written strategies; the runner never reads it.
 */
export const Lineage = z.strictObject({
  /** The parent strategy's id. */
  parent: StrategyId,
  /** The failure mode the edit targets (an id of `lab/use/prompts.ts` FAILURE_MODES). */
  failure_mode: z.string().min(1),
  /** `rules` or `model:<configs/models.yaml entry>`. */
  generator: z.string().min(1),
  /** The edit: text added to the parent's instructions and flags turned on or off. */
  fragment_diff: z.strictObject({
    instructions_added: z.string().min(1),
    flags: z.strictObject({ prefer_views: FlagChange.optional(), use_todos: FlagChange.optional(), verify_steps: FlagChange.optional() }).default({}),
  }),
  /** What the failure mode was detected from (counts, the tournament run). */
  evidence: z.strictObject({
    failures: z.number().int().min(0),
    edits: z.number().int().min(0),
    share: z.number().min(0).max(1),
    run: z.string().nullable(),
  }),
  /** The paired lift over the parent on `dev` (pass rate, clustered by family), Holm-corrected over `variants_tried`. */
  dev: z.strictObject({
    lift: z.number(),
    lo: z.number().nullable(),
    hi: z.number().nullable(),
    p_value: z.number().nullable(),
    p_holm: z.number(),
    pairs: z.number().int().min(0),
    clusters: z.number().int().min(0),
    variants_tried: z.number().int().positive(),
  }).optional(),
  /** The one pre-declared confirmation on `test_id`: the declaration (made before the run) and its result. */
  test: z.strictObject({
    declared_at: z.string().min(1),
    hypothesis: z.string().min(1),
    alternative: z.literal("greater"),
    alpha: z.number().gt(0).lt(1),
    instances: z.number().int().positive(),
    seeds: z.array(z.number().int()).min(1),
    lift: z.number(),
    lo: z.number().nullable(),
    hi: z.number().nullable(),
    p_value: z.number().nullable(),
    confirmed: z.boolean(),
  }).optional(),
  /** When the variant was promoted (ISO time). */
  promoted_at: z.string().optional(),
});
/** Where a learned strategy came from. */
export type Lineage = z.infer<typeof Lineage>;

/** One strategy as written in the file. */
export const StrategyEntry = z.strictObject({
  /** One line for tables and reports. */
  description: z.string().min(1, "must be a non-empty description"),
  /** The strategy's own instructions, added to the system prompt as written. */
  instructions: z.string().min(1, "must be non-empty instructions text"),
  sampling: Sampling,
  tools: ToolPreferences.default({ allowed: [...TOOL_NAMES], prefer_views: false, use_todos: false }),
  verification: Verification.default({ verify_steps: false }),
  budgets: Budgets,
  examples: ExamplesSpec.default({ k: 3 }),
  /** Set on learned strategies only (see {@linkcode Lineage}). */
  lineage: Lineage.optional(),
});
/**
 * One strategy as written in the file.
 * @internal
 */
export type StrategyEntry = z.infer<typeof StrategyEntry>;

/** Prompt text shared by every strategy; the flags of a strategy pick fragments by name. */
export const PromptSpec = z.strictObject({
  /** Opens every system prompt. */
  preamble: z.string().min(1),
  /** Instruction text per flag (`tools.prefer_views`, `tools.use_todos`, `verification.verify_steps`). */
  fragments: z.strictObject({
    prefer_views: z.string().min(1),
    use_todos: z.string().min(1),
    verify_steps: z.string().min(1),
  }),
  /** Heads the injected examples. */
  examples_header: z.string().min(1),
  /** Sent as a user message when the model replies without calling a tool. */
  nudge: z.string().min(1),
});
/**
 * Prompt text shared by every strategy.
 * @internal
 */
export type PromptSpec = z.infer<typeof PromptSpec>;

function weights<K extends string>(keys: readonly K[], what: string) {
  return z.strictObject(Object.fromEntries(keys.map((k) => [k, Unit])) as Record<K, typeof Unit>).superRefine(
    (o, ctx) => {
      const sum = Object.values<number>(o as Record<string, number>).reduce((a, x) => a + x, 0);
      if (Math.abs(sum - 1) > 1e-6) {
        ctx.addIssue({
          code: "custom",
          message: `${what} weights (${keys.join(" + ")}) must sum to 1, found ${+sum.toFixed(6)}`,
        });
      }
    },
  );
}

/** Fitness weights (see `fitness.ts` for the formulas). */
export const FitnessWeights = z.strictObject({
  /** composite = query · query average + turn · turn fitness (seed 000: 0.6 / 0.4). */
  composite: weights(["query", "turn"] as const, "composite"),
  /** turn = score × (w.score + w.steps·e_steps + w.tokens·e_tokens + w.safety·e_safety). */
  turn: z.strictObject({
    weights: weights(["score", "steps", "tokens", "safety"] as const, "turn"),
    /** Episodes using at most this many tokens get full token credit; more decays as target / tokens. */
    tokens_target: PositiveInt,
    /** Safety credit lost per refused query (clamped at 0). */
    safety_penalty: Unit,
  }),
  /** query = 0 when failed or refused, else w.ok + w.views·uses_views + w.efficiency·e_rows. */
  query: z.strictObject({
    weights: weights(["ok", "views", "efficiency"] as const, "query"),
    /** Reads returning at most this many rows are fully efficient; more decays linearly to 0 at the row cap. */
    rows_target: PositiveInt,
  }),
});
/** Fitness weights. */
export type FitnessWeights = z.infer<typeof FitnessWeights>;

/** The whole strategies config file. */
export const StrategiesFile = z.strictObject({
  prompt: PromptSpec,
  strategies: z.record(
    z.string().regex(/^[a-z][a-z0-9_-]*$/, "strategy ids are lowercase letters, digits, '_' and '-'"),
    StrategyEntry,
  ).refine((s) => Object.keys(s).length > 0, { message: "needs at least one strategy" }),
  fitness: FitnessWeights,
});
/** The whole strategies config file. */
export type StrategiesFile = z.infer<typeof StrategiesFile>;

/** A strategy, ready to run: its entry, its id and the shared prompt text. */
export interface Strategy extends StrategyEntry {
  /** The entry's key in the config. */
  id: string;
  /** The shared prompt text (preamble, fragments, nudge) of the file it came from. */
  prompt: PromptSpec;
}

/**
 * A loaded strategies config.
 * @internal
 */
export interface StrategiesConfig {
  /** The file it came from (for messages). */
  source: string;
  /** By id, in file order. */
  strategies: Record<string, Strategy>;
  fitness: FitnessWeights;
}

/**
 * Parses and validates a strategies config's text; errors name the file, the path inside it and the reason.
 *
 * @example
 * ```ts
 * const cfg = parseStrategiesConfig(await Deno.readTextFile("configs/strategies.yaml"));
 * console.log(Object.keys(cfg.strategies)); // ["alpha", "beta", "gamma", "delta", "epsilon"]
 * ```
 */
export function parseStrategiesConfig(text: string, source = "configs/strategies.yaml"): StrategiesConfig {
  const data = parseConfigText(StrategiesFile, text, source);
  const { prompt, fitness } = data;
  const strategies = Object.fromEntries(
    Object.entries(data.strategies).map(([id, s]) => [id, { ...s, id, prompt }]),
  );
  return { source, strategies, fitness };
}

/** Loads and validates `configs/strategies.yaml` (or `path`). */
export async function loadStrategiesConfig(path: string = STRATEGIES_CONFIG_PATH): Promise<StrategiesConfig> {
  const { text, source } = await readConfigText(path, "strategies config");
  return parseStrategiesConfig(text, source);
}

/** The named strategy; an unknown id is a ConfigError listing the known ones. */
export function getStrategy(config: StrategiesConfig, id: string): Strategy {
  const s = config.strategies[id];
  if (!s) {
    throw new ConfigError(
      `${config.source}: no strategy named '${id}'; known strategies: ${Object.keys(config.strategies).join(", ")}`,
    );
  }
  return s;
}

/** The JSON schema of the strategies config (committed as `configs/strategies.schema.json`). */
export function strategiesJsonSchema(): Record<string, unknown> {
  return {
    title: "Lab strategies config (configs/strategies.yaml)",
    ...z.toJSONSchema(StrategiesFile, { io: "input" }),
  };
}

if (import.meta.main) {
  // Regenerates the committed schema: deno run -A lab/agents/strategies.ts
  const { writeTextAtomic } = await import("../util/atomic.ts");
  await writeTextAtomic(STRATEGIES_SCHEMA_PATH, JSON.stringify(strategiesJsonSchema(), null, 2) + "\n");
  console.log(`wrote ${displayPath(STRATEGIES_SCHEMA_PATH)}`);
}
