/** Where CLI commands reach the configured model. */
import { UsageError } from "./_args.ts";
import { type ChatModel, createChatModel, getModelConfig, loadModelsConfig } from "../models/mod.ts";
import { type LocalServer, startServer } from "../serve/mod.ts";
import { defaultBackends } from "../serve/backends.ts";
import { DEFAULT_DB_PATH } from "../tournament/mod.ts";
import { displayPath } from "../util/mod.ts";

/** Options every command that runs a tournament config shares: the config, the store and the model's URL. */
export const TOURNAMENT_RUN_OPTIONS = {
  config: { type: "string", description: "Tournament config", default: "configs/tournament.yaml" },
  db: { type: "string", description: "DuckDB store", default: displayPath(DEFAULT_DB_PATH) },
  "base-url": { type: "string", description: "Use the model at this OpenAI-compatible URL instead of serving a local one" },
} as const;

/** How a command reaches its model: a chat model to pass on, or a base URL (and a server the caller closes). */
export interface ModelEndpoint {
  /** A ready chat model (a local model called in process); when set, `baseUrl` is unused. */
  model?: ChatModel;
  baseUrl?: string;
  server?: LocalServer;
}

/**
 * How to reach `modelName`: `--base-url` when given; for a model of the lab's own server (provider `local`), the
 * model itself called in process (no HTTP: lab-mini answers in well under a millisecond, so a server round trip
 * would cost more than the model), or — for a local id no built-in backend serves — an in-process server on a
 * free port, which the caller closes (`await using`).
 */
export async function modelEndpoint(modelName: string, baseUrl: string | undefined): Promise<ModelEndpoint> {
  if (baseUrl !== undefined) {
    if (!/^https?:\/\//.test(baseUrl)) throw new UsageError(`--base-url must be an http(s) URL, found '${baseUrl}'`);
    return { baseUrl };
  }
  const entry = getModelConfig(await loadModelsConfig(), modelName);
  if (entry.provider !== "local") return {};
  const backends = await defaultBackends();
  const backend = Object.values(backends).find((b) => b.id === entry.model);
  if (backend && entry.kind === "chat") return { model: createChatModel(entry, { backend }) };
  const server = await startServer({ port: 0, backends });
  return { baseUrl: server.url, server };
}

/**
 * An abort signal raised by Ctrl-C (SIGINT) for a long run, so it stops cleanly and stays resumable; dispose it
 * (`using`) to remove the listener.
 */
export function interruptOnCtrlC(): { signal: AbortSignal } & Disposable {
  const ac = new AbortController();
  const onSignal = () => ac.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  return { signal: ac.signal, [Symbol.dispose]: () => Deno.removeSignalListener("SIGINT", onSignal) };
}
