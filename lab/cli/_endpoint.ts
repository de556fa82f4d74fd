/** Where CLI commands reach the configured model. */
import { UsageError } from "./_args.ts";
import { getModelConfig, loadModelsConfig } from "../models/mod.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { defaultBackends } from "../serve/backends.ts";
import { DEFAULT_DB_PATH } from "../tournament/mod.ts";
import { displayPath } from "../util/paths.ts";

/** Options every command that runs a tournament config shares: the config, the store and the model's URL. */
export const TOURNAMENT_RUN_OPTIONS = {
  config: { type: "string", description: "Tournament config", default: "configs/tournament.yaml" },
  db: { type: "string", description: "DuckDB store", default: displayPath(DEFAULT_DB_PATH) },
  "base-url": { type: "string", description: "Use the model at this OpenAI-compatible URL instead of serving a local one" },
} as const;

/**
 * The base URL to reach `modelName` at: `--base-url` when given; for a model of the lab's own server (provider
 * `local`), an in-process server on a free port — the caller closes `server` (`await using`).
 */
export async function modelEndpoint(
  modelName: string,
  baseUrl: string | undefined,
): Promise<{ baseUrl?: string; server?: LocalServer }> {
  if (baseUrl !== undefined) {
    if (!/^https?:\/\//.test(baseUrl)) throw new UsageError(`--base-url must be an http(s) URL, found '${baseUrl}'`);
    return { baseUrl };
  }
  if (getModelConfig(await loadModelsConfig(), modelName).provider !== "local") return {};
  const server = await startServer({ port: 0, backends: await defaultBackends() });
  return { baseUrl: server.url, server };
}
