/**
 * Tournament benches (deno bench -A lab/e2e/tournament_bench.ts), across the sandbox, agents, tournament, models and
 * the local server:
 *
 * 1. The lab's own overhead per episode — wall time of running an episode and storing it, minus the time spent
 *    inside DuckDB (every method of the @duckdb/node-api classes an episode goes through — instance, connection,
 *    prepared and extracted statements, results and their readers and chunks, appender — timed by wrapping their
 *    prototypes: sandbox acquire, the agent's SQL, verification, the store's transaction) and
 *    inside the model (the planted in-process model answers with no latency, so its time is the lab's chat
 *    client alone, reported separately). Target: p50 < 2 ms. Episodes run one at a time so the subtraction is
 *    exact.
 * 2. Throughput of a whole tournament on lab-mini: 5 strategies × 50 train challenges × 3 attempts × 3
 *    generations = 2,250 episodes, on the tiny sandbox, into a fresh store written the way `lab tournament`
 *    writes it (a short transaction per batch, the file closed in between). The model is reached the way
 *    `lab tournament` reaches a local model: lab-mini called in process (`createChatModel(entry, { backend })`,
 *    no HTTP). Target: ≥ 25 episodes/s on a 2-core machine. The process's CPU time and the machine's load
 *    average are printed with it: other work on the machine slows the figure down.
 * 3. The same through the local OpenAI-compatible server (LangChain client → HTTP on localhost → lab-mini in the
 *    same process), the path for a model served elsewhere: a reference figure, on 10 challenges (450 episodes)
 *    unless `LAB_BENCH_HTTP_CHALLENGES` says otherwise.
 *
 * `LAB_BENCH_CHALLENGES=10` runs a smaller throughput tournament.
 */
import { join } from "node:path";
import process from "node:process";
import {
  DuckDBAppender,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBExtractedStatements,
  DuckDBInstance,
  DuckDBMaterializedResult,
  DuckDBPreparedStatement,
  DuckDBResult,
  DuckDBResultReader,
} from "@duckdb/node-api";
import { buildSandbox, SandboxPool } from "../sandbox/mod.ts";
import { WorkerProcess } from "../sandbox/testing.ts";
import { runEpisode, loadStrategiesConfig } from "../agents/mod.ts";
import { type ChatModel, createChatModel, defaultBackends, getModelConfig, loadModelsConfig } from "../models/mod.ts";
import { startServer } from "../serve/mod.ts";
import { openStore, parseTournamentConfig, runTournament } from "../tournament/mod.ts";
import { AS_OF, insertEpisodes, plantedModel, plantedSetup } from "../tournament/testing.ts";

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
// Every method of the classes an episode and the store go through (the client library's own JS — converting
// result chunks to values, binding parameters — counts as DuckDB's: it is the database client's work).
for (const cls of [
  DuckDBInstance,
  DuckDBConnection,
  DuckDBPreparedStatement,
  DuckDBExtractedStatements,
  DuckDBResult,
  DuckDBMaterializedResult,
  DuckDBResultReader,
  DuckDBDataChunk,
  DuckDBAppender,
]) {
  const proto = cls.prototype as object;
  timeMethods(
    proto,
    Object.getOwnPropertyNames(proto).filter((n) =>
      n !== "constructor" && typeof Object.getOwnPropertyDescriptor(proto, n)?.value === "function"
    ),
  );
}
timeMethods(DuckDBInstance, ["create", "fromCache"]);
// Episodes run their DuckDB in sandbox worker processes (issue 11): a request to a worker is DuckDB's time plus
// the round trip to the process (JSON over a pipe), reported together as "inside the sandbox worker".
timeMethods(WorkerProcess.prototype, ["request"]);

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
    `  breakdown p50: wall ${pct(samples.map((s) => s.wall), 0.5).toFixed(2)} ms, inside DuckDB and the sandbox worker (incl. its round trips) ${pct(samples.map((s) => s.duck), 0.5).toFixed(2)} ms, ` +
      `chat client (2 calls, transport instant) ${pct(samples.map((s) => s.model), 0.5).toFixed(2)} ms; ` +
      `overhead without the chat client p50 ${pct(overNoClient, 0.5).toFixed(2)} ms`,
  );
}

// ── 2 and 3. Throughput of a 2,250-episode tournament on lab-mini ─────────────────────────────────────────────
{
  const backends = await defaultBackends();
  await using server = await startServer({ port: 0, backends });
  const entry = getModelConfig(await loadModelsConfig(), "lab-mini");
  const strategies = await loadStrategiesConfig();
  const throughput = async (label: string, nChallenges: number, model: ChatModel, target: boolean) => {
    const config = parseTournamentConfig({
      model: "lab-mini",
      strategies: ["alpha", "beta", "gamma", "delta", "epsilon"],
      challenges: { max_instances: nChallenges },
      attempts: 3,
      generations: 3,
      concurrency: 4,
      seed: 1,
    });
    await using pool = await SandboxPool.open(sandbox, { size: config.concurrency });
    duckMs = 0;
    const load = Deno.loadavg()[0];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const run = await runTournament(config, {
      db: join(dir, `throughput-${label}.duckdb`),
      runId: "bench",
      model,
      pool,
      strategies,
      stats: { resamples: 200 },
    });
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const eps = run.episodes.stored / secs;
    console.log(
      `tournament throughput, ${label} (${config.strategies.length} strategies × ${run.challenges.length} challenges × 3 attempts × ` +
        `3 generations = ${run.episodes.stored} episodes, tiny sandbox, concurrency ${config.concurrency}, ` +
        `${navigator.hardwareConcurrency} cores): ${eps.toFixed(1)} episodes/s in ${secs.toFixed(1)} s` +
        (target ? ` vs target ≥ 25: ${eps >= 25 ? "OK" : "MISSED"}` : " (reference, no target)"),
    );
    console.log(
      `  success ${(run.leaderboard.reduce((a, r) => a + r.success.estimate * r.episodes, 0) / run.episodes.stored * 100).toFixed(0)}%, ` +
        `tokens/episode ${(run.tokens / run.episodes.stored).toFixed(0)}, wall time with a DuckDB call in flight ${(duckMs / 1000).toFixed(1)} s, ` +
        `process CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s, load average ${load.toFixed(1)} at the start`,
    );
  };
  await throughput("lab-mini in process (the CLI's path)", Number(Deno.env.get("LAB_BENCH_CHALLENGES") ?? 50),
    createChatModel(entry, { backend: backends["lab-mini"] }), true);
  await throughput("lab-mini via the local server over HTTP", Number(Deno.env.get("LAB_BENCH_HTTP_CHALLENGES") ?? 10),
    createChatModel(entry, { baseUrl: server.url }), false);
}

await Deno.remove(dir, { recursive: true }).catch(() => {});

Deno.bench("placeholder: the figures above are printed by the measurement blocks", () => {});
