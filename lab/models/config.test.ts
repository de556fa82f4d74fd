import { describe, expect, it } from "vitest";
import { ConfigError } from "../util/mod.ts";
import {
  costUsd,
  getModelConfig,
  loadModelsConfig,
  MODELS_SCHEMA_PATH,
  modelsJsonSchema,
  parseModelsConfig,
  PROVIDERS,
} from "./config.ts";

const entry = (over: string) => `
models:
  openai-gpt4o:
    provider: openai
    model: gpt-4o
    base_url: https://api.openai.com/v1
    api_key_env: OPENAI_API_KEY
    context_window: 128000
${over}`;

describe("configs/models.yaml", () => {
  it("loads the committed file with every provider kind and the ready entries", async () => {
    const cfg = await loadModelsConfig();
    const providers = new Set(Object.values(cfg.models).map((m) => m.provider));
    expect([...providers].sort()).toEqual([...PROVIDERS].sort());
    expect(getModelConfig(cfg, "deepseek-chat")).toMatchObject({
      provider: "deepseek",
      model: "deepseek-chat",
      base_url: "https://api.deepseek.com/v1",
      api_key_env: "DEEPSEEK_API_KEY",
    });
    expect(getModelConfig(cfg, "local")).toMatchObject({
      provider: "local",
      model: "lab-mini-placeholder",
      base_url: "http://127.0.0.1:8787/v1",
      pricing: { input_per_1m: 0, output_per_1m: 0 },
    });
    expect(getModelConfig(cfg, "ollama-qwen2.5-7b").base_url).toBe("http://127.0.0.1:11434/v1");
    expect(getModelConfig(cfg, "vllm-qwen2.5-7b").base_url).toBe("http://127.0.0.1:8000/v1");
    expect(getModelConfig(cfg, "llamacpp").base_url).toBe("http://127.0.0.1:8080/v1");
    for (const m of Object.values(cfg.models)) {
      if (["ollama", "vllm", "llamacpp", "local"].includes(m.provider)) expect(m.pricing).toEqual({ input_per_1m: 0, output_per_1m: 0 });
      else expect(m.api_key_env).toMatch(/^[A-Z_]+$/);
    }
  });

  it("reports a bad base URL with file, path and the value found", () => {
    expect(() => parseModelsConfig(entry("").replace("https://api.openai.com/v1", "localhost"))).toThrow(
      new ConfigError("configs/models.yaml: models.openai-gpt4o.base_url: must be a URL, found 'localhost'"),
    );
  });

  it("requires api_key_env for hosted providers and refuses a pasted key", () => {
    expect(() => parseModelsConfig(entry("").replace("    api_key_env: OPENAI_API_KEY\n", ""))).toThrow(
      /models\.openai-gpt4o\.api_key_env: is required for provider 'openai'/,
    );
    expect(() => parseModelsConfig(entry("").replace("OPENAI_API_KEY", "sk-proj-abc123def"))).toThrow(
      /models\.openai-gpt4o\.api_key_env: must be the NAME of an environment variable .*found 'sk-pro…'; never put a key/,
    );
  });

  it("reports wrong types, unknown keys and unknown providers with their path", () => {
    expect(() => parseModelsConfig(entry("    limits: { concurrency: 0 }"))).toThrow(/models\.openai-gpt4o\.limits\.concurrency: must be > 0/);
    expect(() => parseModelsConfig(entry("    pricing: { input_per_1m: -1, output_per_1m: 1 }"))).toThrow(/models\.openai-gpt4o\.pricing\.input_per_1m: must be ≥ 0/);
    expect(() => parseModelsConfig(entry("    baseURL: x"))).toThrow(/^configs\/models\.yaml: models\.openai-gpt4o: .*baseURL/);
    expect(() => parseModelsConfig(entry("").replace("provider: openai", "provider: anthropic"))).toThrow(/models\.openai-gpt4o\.provider:/);
    expect(() => parseModelsConfig("models: [")).toThrow(/^configs\/models\.yaml: not valid YAML/);
  });

  it("names the known models when asked for an unknown one", async () => {
    const cfg = await loadModelsConfig();
    expect(() => getModelConfig(cfg, "gpt-5")).toThrow(/no model named 'gpt-5'; known models: .*deepseek-chat/);
  });

  it("computes cost from per-1M-token prices", () => {
    expect(costUsd({ input_per_1m: 0.15, output_per_1m: 0.6 }, 1_000_000, 500_000)).toBeCloseTo(0.45, 10);
    expect(costUsd({ input_per_1m: 0, output_per_1m: 0 }, 123, 456)).toBe(0);
  });

  it("has a committed JSON schema up to date with the zod schema", async () => {
    const committed = JSON.parse(await Deno.readTextFile(MODELS_SCHEMA_PATH));
    expect(committed).toEqual(modelsJsonSchema());
  });
});
