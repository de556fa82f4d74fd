/** What the commands that run a tournament config share: their options, and Ctrl-C as an abort signal. */
import { DEFAULT_DB_PATH } from "../tournament/mod.ts";
import { displayPath } from "../util/mod.ts";

/** Options every command that runs a tournament config shares: the config, the store and the model's URL. */
export const TOURNAMENT_RUN_OPTIONS = {
  config: { type: "string", description: "Tournament config", default: "configs/tournament.yaml" },
  db: { type: "string", description: "DuckDB store", default: displayPath(DEFAULT_DB_PATH) },
  "base-url": { type: "string", description: "Use the model at this OpenAI-compatible URL instead of serving a local one" },
} as const;

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
