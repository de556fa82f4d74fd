/**
 * What the commands that run a tournament config share: their options, the lab context they open from them, and
 * Ctrl-C as an abort signal.
 */
import type { ParsedArgs } from "./_args.ts";
import { LabContext } from "../context.ts";
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

/**
 * The lab context of a command from the options it has among `--config`, `--db`, `--patterns` and `--base-url`
 * (every config is read and checked here, before a model server starts or a store is written).
 */
export async function runContext(args: ParsedArgs): Promise<LabContext> {
  const option = (name: string) => (args.values[name] === undefined ? undefined : String(args.values[name]));
  return await LabContext.open({
    config: option("config"),
    db: option("db"),
    patternsDb: option("patterns"),
    baseUrl: option("base-url"),
  });
}
