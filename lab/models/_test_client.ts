/**
 * Test support for the models client: a question as chat messages, the models config with its entries pointed at
 * the placeholder model, and retry timings short enough for tests.
 * @module
 */
import type { ChatModelOptions } from "./chat.ts";
import { getModelConfig, loadModelsConfig, type ModelConfig, type ModelsConfig } from "./config.ts";

/** A one-message conversation: the user asks `content`. */
export const ask = (content = "How many open invoices are there?") => [{ role: "user" as const, content }];

/** The models config and its entries pointed at the placeholder model. */
export interface PlaceholderModels {
  cfg: ModelsConfig;
  /** The entry `name` of `cfg` pointed at the placeholder model, with `over` on top. */
  entry: (name: string, over?: Partial<ModelConfig>) => ModelConfig;
}

/** Loads the models config (configs/models.yaml) for tests that call its models through the placeholder. */
export async function loadPlaceholderModels(): Promise<PlaceholderModels> {
  const cfg = await loadModelsConfig();
  return { cfg, entry: (name, over = {}) => ({ ...getModelConfig(cfg, name), model: "lab-mini-placeholder", ...over }) };
}

/** Retries with short, seeded delays (20 ms base, 2 s cap). */
export const FAST_RETRY: ChatModelOptions["retry"] = { baseDelayMs: 20, maxDelayMs: 2000, seed: 1 };
