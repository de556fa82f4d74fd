/**
 * Tournament benches (deno bench -A lab/tournament/tournament_bench.ts):
 *
 * 1. The lab's own overhead per episode — wall time of running an episode and storing it, minus the time spent
 *    inside DuckDB (every call on a DuckDB connection, prepared statement or instance, timed by wrapping the
 *    @duckdb/node-api prototypes: sandbox acquire, the agent's SQL, verification, the store's transaction) and
 *    inside the model (the planted in-process model answers with no latency, so its time is the lab's chat
 *    client alone, reported separately). Target: p50 < 2 ms. Episodes run one at a time so the subtraction is
 *    exact.
 * 2. Throughput of a whole tournament on lab-mini: 5 strategies × 50 train challenges × 3 attempts × 3
 *    generations = 2,250 episodes through the in-process OpenAI-compatible server (`startServer`, the path
 *    `lab tournament` takes: LangChain client → HTTP on localhost → lab-mini in the same process), on the tiny
 *    sandbox, into a fresh store. Target: ≥ 25 episodes/s on a 2-core machine. `LAB_BENCH_CHALLENGES=10`
 *    runs a smaller one.
 */
import { join } from "node:path";
import { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement } from "@duckdb/node-api";
import { buildSandbox } from "../sandbox/generate.ts";
import { SandboxPool } from "../sandbox/episode.ts";
import { runEpisode } from "../agents/runner.ts";
import { loadStrategiesConfig } from "../agents/strategies.ts";
import { createChatModel, getModelConfig, loadModelsConfig } from "../models/mod.ts";
import { startServer } from "../serve/mod.ts";
import { defaultBackends } from "../serve/backends.ts";
import { insertEpisodes, openStore } from "./store.ts";
import { parseTournamentConfig } from "./config.ts";
import { runTournament } from "./tournament.ts";
import { AS_OF, plantedModel, plantedSetup } from "./_test_model.ts";

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))];
const dir = await Deno.makeTempDir({ prefix: "lab-tournament-bench-" });
const sandbox = join(dir, "tiny.duckdb");
await buildSandbox(sandbox, { scale: "tiny", asOf: AS_OF });

// ── DuckDB time: wrap every async method of the node-api classes; nested calls count once. ─────────────────
let duckMs = 0;
let depth = 0;
function timeMethods(proto: object, names: string[]) {
  for (const name of names) {
    const rec = proto as Record<string, unknown>;
    const orig = rec[name];
    if (typeof orig !== "function") continue;
    rec[name] = function (this: unknown, ...args: unknown[]) {
      const t = performance.now();
      depth++;
      const done = () => {
        if (--depth === 0) duckMs += performance.now() - t;
      };
      try {
        const out = (orig as (...a: unknown[]) => unknown).apply(this, args);
        if (out instanceof Promise) return out.finally(done);
        done();
        return out;
      } catch (e) {
        done();
        throw e;
      }
    };
  }
}
timeMethods(DuckDBConnection.prototype, ["run", "runAndReadAll", "runAndRead", "prepare", "streamAndReadAll", "closeSync", "interrupt"]);
timeMethods(DuckDBPreparedStatement.prototype, ["run", "runAndReadAll", "runAndRead", "bind"]);
timeMethods(DuckDBInstance.prototype, ["connect", "closeSync"]);
timeMethods(DuckDBInstance, ["create", "fromCache"]);

// ── 1. Lab overhead per episode ─────────────────────────────────────────────────────────────────────────────
{
  const { strategies, challenges, sqlByTask } = await plantedSetup({ challenges: { max_instances: 40 } });
  const model = plantedModel(sqlByTask);
  await using pool = await SandboxPool.open(sandbox, { size: 1 });
  await using store = await openStore(join(dir, "overhead.duckdb"));
  const population = Object.values(strategies.strategies);
  const samples: { wall: number; duck: number; model: number }[] = [];
  let n = 0;
  for (let round = 0; round < 3; round++) {
    for (const challenge of challenges) {
      for (const strategy of population) {
        duckMs = 0;
        const t0 = performance.now();
        const record = await runEpisode({ challenge, strategy, model, attempt: round, seed: round }, { pool, fitness: strategies.fitness });
        await insertEpisodes(store, "bench", [{ id: `e${n++}`, generation: 1, contaminated: false, record }]);
        const wall = performance.now() - t0;
        // The first round loads each tenant into the pool once: a warm-up, not per-episode cost.
        if (round > 0) samples.push({ wall, duck: duckMs, model: record.modelLatencyMs });
      }
    }
  }
  const over = samples.map((s) => s.wall - s.duck);
  const overNoClient = samples.map((s) => s.wall - s.duck - s.model);
  const p50 = pct(over, 0.5);
  console.log(
    `lab overhead per episode (${samples.length} episodes, planted zero-latency model, run + store, one at a time): ` +
      `p50 ${p50.toFixed(2)} ms (p90 ${pct(over, 0.9).toFixed(2)}) vs target < 2 ms: ${p50 < 2 ? "OK" : "MISSED"}`,
  );
  console.log(
    `  breakdown p50: wall ${pct(samples.map((s) => s.wall), 0.5).toFixed(2)} ms, inside DuckDB ${pct(samples.map((s) => s.duck), 0.5).toFixed(2)} ms, ` +
      `chat client (2 calls, transport instant) ${pct(samples.map((s) => s.model), 0.5).toFixed(2)} ms; ` +
      `overhead without the chat client p50 ${pct(overNoClient, 0.5).toFixed(2)} ms`,
  );
}

// ── 2. Throughput of a 2,250-episode tournament on lab-mini ──────────────────────────────────────────────────
{
  const nChallenges = Number(Deno.env.get("LAB_BENCH_CHALLENGES") ?? 50);
  const config = parseTournamentConfig({
    model: "lab-mini",
    strategies: ["alpha", "beta", "gamma", "delta", "epsilon"],
    challenges: { max_instances: nChallenges },
    attempts: 3,
    generations: 3,
    concurrency: 4,
    seed: 1,
  });
  await using server = await startServer({ port: 0, backends: await defaultBackends() });
  const model = createChatModel(getModelConfig(await loadModelsConfig(), "lab-mini"), { baseUrl: server.url });
  await using pool = await SandboxPool.open(sandbox, { size: config.concurrency });
  duckMs = 0;
  const t0 = performance.now();
  const run = await runTournament(config, {
    db: join(dir, "throughput.duckdb"),
    runId: "bench",
    model,
    pool,
    strategies: await loadStrategiesConfig(),
    stats: { resamples: 200 },
  });
  const secs = (performance.now() - t0) / 1000;
  const eps = run.episodes.stored / secs;
  console.log(
    `tournament throughput (${config.strategies.length} strategies × ${run.challenges.length} challenges × 3 attempts × 3 generations = ` +
      `${run.episodes.stored} episodes, lab-mini via the in-process server, tiny sandbox, concurrency ${config.concurrency}, ` +
      `${navigator.hardwareConcurrency} cores): ${eps.toFixed(1)} episodes/s in ${secs.toFixed(1)} s vs target ≥ 25: ${eps >= 25 ? "OK" : "MISSED"}`,
  );
  console.log(
    `  success ${(run.leaderboard.reduce((a, r) => a + r.success.estimate * r.episodes, 0) / run.episodes.stored * 100).toFixed(0)}%, ` +
      `tokens/episode ${(run.tokens / run.episodes.stored).toFixed(0)}, wall time with a DuckDB call in flight ${(duckMs / 1000).toFixed(1)} s`,
  );
}

await Deno.remove(dir, { recursive: true }).catch(() => {});

Deno.bench("placeholder: the figures above are printed by the measurement blocks", () => {});
