/**
 * Test support shared by the tournament tests, the kill-and-resume child and the benches: a deterministic
 * in-process "planted" model and the small population it is planted for.
 *
 * The model solves a task (by running the verifier's own reference SQL and submitting the number) only when the
 * system prompt carries a marker — a planted strong strategy — and half the time (by seed) for a medium one.
 * Every reply is a function of the request alone, so concurrent episodes cannot disturb each other and a
 * resumed run sees exactly what an uninterrupted one would.
 * @module
 */
import { type Challenge, renderSql } from "../challenges/mod.ts";
import { loadStrategiesConfig, type StrategiesConfig } from "../agents/mod.ts";
import { type ChatModel, createChatModel, ModelEntry, type TransportRequest } from "../models/mod.ts";
import { parseTournamentConfig, type TournamentConfig, type TournamentConfigInput } from "./config.ts";
import { selectChallenges } from "./tournament.ts";

/** The marker of the planted strong strategy's instructions. */
export const STRONG = "Consult the ledger compass first.";
/** The marker of the medium strategy (solves when the step seed is even). */
export const MEDIUM = "Trust the coin.";
/** The as-of date of the test sandboxes. */
export const AS_OF = "2025-11-28";

/** Reference SQL by task text: what the planted model runs for a task it "knows". */
export type SqlByTask = ReadonlyMap<string, string>;

/** The reference SQL of each challenge that has one (number verifiers), keyed by its task text. */
export function referenceSql(challenges: readonly Challenge[], asOf = AS_OF): Map<string, string> {
  return new Map(
    challenges.flatMap((c) => {
      const reference = (c.verifier as { reference?: unknown }).reference;
      return typeof reference === "string" ? [[c.task, renderSql(reference, c.params, asOf)] as const] : [];
    }),
  );
}

function reply(sqlByTask: SqlByTask, req: TransportRequest): { name: string; args: Record<string, unknown> } {
  const system = String(req.messages[0].content);
  const task = String(req.messages.find((m) => m.role === "user")?.content);
  const turns = req.messages.filter((m) => m.role === "assistant").length;
  if (turns === 0) {
    const good = system.includes(STRONG) || (system.includes(MEDIUM) && (req.seed ?? 0) % 2 === 0);
    return { name: "dbRead", args: { sql: good ? sqlByTask.get(task) ?? "SELECT 0 AS n" : "SELECT 0 AS n" } };
  }
  const last = JSON.parse(String(req.messages.findLast((m) => m.role === "tool")?.content ?? "{}"));
  const value = last.rows?.[0] ? Object.values(last.rows[0])[0] : 0;
  return { name: "submitAnswer", args: { answer: Number(value) } };
}

/**
 * The real chat client over an in-process transport with no latency. Unlike `scriptedModel` (whose tool-call
 * ids count calls across the whole model, which concurrency reorders), ids here depend on the conversation only.
 * `onRequest` runs before each reply (tests abort or count there).
 */
export function plantedModel(sqlByTask: SqlByTask, onRequest?: () => void): ChatModel {
  const entry = ModelEntry.parse({
    provider: "local",
    model: "planted",
    base_url: "http://127.0.0.1:9/v1",
    context_window: 128000,
    max_retries: 0,
  });
  return createChatModel({ ...entry, name: "planted" }, {
    transport: (req) => {
      onRequest?.();
      const turn = req.messages.filter((m) => m.role === "assistant").length;
      const call = reply(sqlByTask, req);
      return Promise.resolve({
        choices: [{ toolCalls: [{ id: `call_${turn}`, ...call }], finishReason: "tool_calls" }],
        usage: { inputTokens: JSON.stringify(req.messages).length >> 2, outputTokens: JSON.stringify(call).length >> 2 },
      });
    },
  });
}

/** The planted population: `strong` (always solves), `medium` (by seed), `weak` (never). */
export async function plantedStrategies(): Promise<StrategiesConfig> {
  const base = await loadStrategiesConfig();
  const mk = (id: string, instructions: string, temperature: number) => ({
    ...base.strategies.alpha,
    id,
    instructions,
    sampling: { ...base.strategies.alpha.sampling, temperature },
  });
  return {
    ...base,
    strategies: {
      strong: mk("strong", `Work carefully. ${STRONG}`, 0.1),
      medium: mk("medium", `Work quickly. ${MEDIUM}`, 0.5),
      weak: mk("weak", "Guess.", 0.9),
    },
  };
}

/** A tournament config over the planted population (overrides on top of the test defaults). */
export function plantedConfig(overrides: TournamentConfigInput = {}): TournamentConfig {
  return parseTournamentConfig({
    strategies: ["weak", "medium", "strong"],
    challenges: { families: ["invoice_count_for_period", "cash_book_balance_end_of_period"], max_instances: 6 },
    attempts: 2,
    generations: 2,
    seed: 3,
    concurrency: 6,
    selection: { replace: 1, crossover: 0 },
    ...overrides,
  });
}

/** Everything a planted run needs besides a sandbox pool and a store. */
export async function plantedSetup(overrides: TournamentConfigInput = {}): Promise<{
  config: TournamentConfig;
  strategies: StrategiesConfig;
  challenges: Challenge[];
  sqlByTask: Map<string, string>;
}> {
  const config = plantedConfig(overrides);
  const challenges = await selectChallenges(config);
  return { config, strategies: await plantedStrategies(), challenges, sqlByTask: referenceSql(challenges) };
}
