/**
 * A tournament on lab-mini called in process (the CLI's path) and through the local server over HTTP: the same
 * episodes and the same selection, on a tiny sandbox with the planted strategies of the tournament tests.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import type { StrategiesConfig } from "../agents/mod.ts";
import { type ChatModel, createChatModel, defaultBackends, getModelConfig, loadModelsConfig } from "../models/mod.ts";
import {
  parseTournamentConfig,
  runTournament,
  type RunTournamentOptions,
  selectChallenges,
  type TournamentConfig,
} from "../tournament/mod.ts";
import { AS_OF, plantedSetup, storedState, testRunOptions } from "../tournament/testing.ts";
import { startServer } from "../serve/mod.ts";

let dir: string;
let pool: SandboxPool;
let strategies: StrategiesConfig;
let config: TournamentConfig;

const options = (db: string, extra: Partial<RunTournamentOptions> & { model: ChatModel }): RunTournamentOptions =>
  testRunOptions(db, { strategies, pool, ...extra });

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-tournament-server-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny", asOf: AS_OF });
  pool = await SandboxPool.open(path, { size: 6 });
  ({ config, strategies } = await plantedSetup());
}, 60_000);
afterAll(async () => {
  pool?.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
});

describe("runTournament through the local server", () => {
  it("runs lab-mini in process (the CLI's path) to the same episodes and selection as through the local server", async () => {
    const backends = await defaultBackends();
    await using server = await startServer({ port: 0, backends });
    const entry = getModelConfig(await loadModelsConfig(), "lab-mini");
    const small = parseTournamentConfig({ ...config, model: "lab-mini", challenges: { ...config.challenges, max_instances: 2 }, attempts: 1 });
    const smallChallenges = await selectChallenges(small);
    const run = (db: string, model: ChatModel) => runTournament(small, options(db, { model, challenges: smallChallenges }));
    const before = server.stats().requests;
    await run(join(dir, "direct.duckdb"), createChatModel(entry, { backend: backends["lab-mini"] }));
    expect(server.stats().requests).toBe(before);
    await run(join(dir, "http.duckdb"), createChatModel(entry, { baseUrl: server.url }));
    expect(server.stats().requests).toBeGreaterThan(before);
    const direct = await storedState(join(dir, "direct.duckdb"));
    expect(direct.episodes).toHaveLength(12);
    expect(direct).toEqual(await storedState(join(dir, "http.duckdb")));
  }, 60_000);
});
