/**
 * The models config (`configs/models.yaml`): named models, each an OpenAI-compatible endpoint with its provider
 * kind, model id, base URL, the NAME of the env var holding its key, list prices and limits. Parsed with zod at
 * the boundary; a failure names the file, the path inside it and the reason.
 * @module
 */
import { z } from "zod";
import { ConfigError, parseConfigText, readConfigText, displayPath, repoPath } from "../util/mod.ts";

/** Where the committed models config lives. */
export const MODELS_CONFIG_PATH: string = repoPath("configs/models.yaml");
/** The committed JSON schema of the models config, generated from {@linkcode ModelsConfigFile}. */
export const MODELS_SCHEMA_PATH: string = repoPath("configs/models.schema.json");

/** Provider kinds the lab knows. All speak the OpenAI chat-completions API. */
export const PROVIDERS = ["openai", "deepseek", "together", "fireworks", "deepinfra", "ollama", "vllm", "llamacpp", "local"] as const;
/** A provider kind. */
export type Provider = typeof PROVIDERS[number];
/** Providers that run on the researcher's machine: no key needed, no cost. */
export const SELF_HOSTED: ReadonlySet<Provider> = new Set(["ollama", "vllm", "llamacpp", "local"]);

function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}

const Url = z.string().refine(isHttpUrl, {
  error: (iss) => `must be a URL, found '${String(iss.input)}'`,
});

/** Env var NAME, never a key: a key pasted here would end up committed. */
const EnvVarName = z.string().refine((v) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(v), {
  error: (iss) =>
    `must be the NAME of an environment variable (e.g. OPENAI_API_KEY), found '${String(iss.input).slice(0, 6)}…'; never put a key in this file`,
});

const NonNegative = z.number().min(0, "must be ≥ 0");
const PositiveInt = z.number().int("must be an integer").positive("must be > 0");

/** Prices in USD per 1M tokens. */
export const Pricing = z.strictObject({
  input_per_1m: NonNegative,
  output_per_1m: NonNegative,
});
/** Prices in USD per 1M tokens. */
export type Pricing = z.infer<typeof Pricing>;

/** Client-side limits, set a little under the provider's account limits. */
export const Limits = z.strictObject({
  /** Requests in flight at most. */
  concurrency: PositiveInt.default(4),
  /** Requests started per minute at most (token bucket). */
  requests_per_minute: PositiveInt.optional(),
  /** Tokens (estimated input + max output) per minute at most (token bucket). */
  tokens_per_minute: PositiveInt.optional(),
});
/** Client-side limits. */
export type Limits = z.infer<typeof Limits>;

/** One model entry. */
export const ModelEntry = z.strictObject({
  provider: z.enum(PROVIDERS),
  /** The model id at the provider. */
  model: z.string().min(1, "must be a non-empty model id"),
  /** chat (default) or embedding. */
  kind: z.enum(["chat", "embedding"]).default("chat"),
  base_url: Url,
  /** The NAME of the env var holding the API key. Optional for self-hosted providers. */
  api_key_env: EnvVarName.optional(),
  pricing: Pricing.default({ input_per_1m: 0, output_per_1m: 0 }),
  context_window: PositiveInt,
  limits: Limits.default({ concurrency: 4 }),
  /** Per-attempt timeout. */
  timeout_ms: PositiveInt.default(60_000),
  /** Retries after the first attempt on 429, 5xx, timeouts and connection resets. */
  max_retries: z.number().int().min(0, "must be ≥ 0").default(5),
  /** Tokenizer for counting when a response has no usage. @default o200k_base for openai, else cl100k_base */
  tokenizer: z.enum(["o200k_base", "cl100k_base"]).optional(),
  /** Embedding dimensions (embedding models only). */
  dimensions: PositiveInt.optional(),
}).superRefine((m, ctx) => {
  if (!SELF_HOSTED.has(m.provider) && !m.api_key_env) {
    ctx.addIssue({
      code: "custom",
      path: ["api_key_env"],
      message: `is required for provider '${m.provider}' (the NAME of the env var holding the key)`,
    });
  }
});
/** One model entry as written in the file. */
export type ModelEntry = z.infer<typeof ModelEntry>;

/** The whole models config file. */
export const ModelsConfigFile = z.strictObject({
  models: z.record(
    z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, "model names are lowercase letters, digits, '.', '_' and '-'"),
    ModelEntry,
  ),
});
/** The whole models config file. */
export type ModelsConfigFile = z.infer<typeof ModelsConfigFile>;

/**
 * A model entry with its name.
 * @internal
 */
export interface ModelConfig extends ModelEntry {
  /** The entry's name in the config. */
  name: string;
}

/**
 * A loaded models config.
 * @internal
 */
export interface ModelsConfig {
  /** The file it came from (for messages). */
  source: string;
  models: Record<string, ModelConfig>;
}

/** Parses and validates a models config's text; errors name the file, the path inside it and the reason. */
export function parseModelsConfig(text: string, source = "configs/models.yaml"): ModelsConfig {
  const data = parseConfigText(ModelsConfigFile, text, source);
  const models = Object.fromEntries(
    Object.entries(data.models).map(([name, m]) => [name, { ...m, name }]),
  );
  return { source, models };
}

/** Loads and validates `configs/models.yaml` (or `path`). */
export async function loadModelsConfig(path: string = MODELS_CONFIG_PATH): Promise<ModelsConfig> {
  const { text, source } = await readConfigText(path, "models config");
  return parseModelsConfig(text, source);
}

/** The named model of a config; an unknown name is a ConfigError listing the known ones. */
export function getModelConfig(config: ModelsConfig, name: string): ModelConfig {
  const m = config.models[name];
  if (!m) {
    throw new ConfigError(
      `${config.source}: no model named '${name}'; known models: ${Object.keys(config.models).join(", ")}`,
    );
  }
  return m;
}

/** USD cost of `inputTokens` + `outputTokens` at a model's list prices. */
export function costUsd(pricing: Pricing, inputTokens: number, outputTokens: number): number {
  return (inputTokens * pricing.input_per_1m + outputTokens * pricing.output_per_1m) / 1_000_000;
}

/** The JSON schema of the models config (committed as `configs/models.schema.json`). */
export function modelsJsonSchema(): Record<string, unknown> {
  return { title: "Lab models config (configs/models.yaml)", ...z.toJSONSchema(ModelsConfigFile, { io: "input" }) };
}

if (import.meta.main) {
  // Regenerates the committed schema: deno run -A lab/models/config.ts
  const { writeTextAtomic } = await import("../util/atomic.ts");
  await writeTextAtomic(MODELS_SCHEMA_PATH, JSON.stringify(modelsJsonSchema(), null, 2) + "\n");
  console.log(`wrote ${displayPath(MODELS_SCHEMA_PATH)}`);
}
