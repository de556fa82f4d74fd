/**
 * Resumable after SIGKILL: the tiny planted tournament of `_kill_child.ts` runs in a child process that is
 * killed with SIGKILL several times (after N stored episodes plus a few milliseconds, so some kills land in the
 * middle of a write or between a generation's last episode and its selection), then runs to completion with
 * the same command. The store must end up exactly as an uninterrupted run's: the same episodes (ids, verdicts,
 * fitness), lineage and selection decisions, timings aside.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { buildSandbox } from "../sandbox/mod.ts";
import { seededRandom } from "../stats/mod.ts";
import { type ChildRun, runChild } from "../util/testing.ts";
import { queryStore } from "./store.ts";
import { AS_OF } from "./_test_model.ts";
import { KILL_RUN_ID } from "./_kill_child.ts";

const CHILD = new URL("./_kill_child.ts", import.meta.url).pathname;
const TOTAL = 48;

let dir: string;
let sandbox: string;

interface KillRun extends ChildRun {
  /** The last `stored <n>` line seen. */
  stored: number;
}

/**
 * Runs the child on `db`; with `killAfter`, sends SIGKILL once it reports that many stored episodes (in the
 * whole run) and then `delayMs` more.
 */
async function child(db: string, killAfter?: number, delayMs = 0): Promise<KillRun> {
  let stored = 0;
  const killAt = (line: string) => {
    const m = /^stored (\d+)\//.exec(line);
    if (m) stored = Number(m[1]);
    return killAfter !== undefined && stored >= killAfter;
  };
  const run = await runChild(CHILD, [db, sandbox], { killAt, delayMs });
  return { stored, ...run };
}

/** The run's stored state without timings. */
async function state(db: string) {
  const episodes = await queryStore(
    db,
    `SELECT id, generation, strategy_id, challenge_id, attempt, seed, pass, score, reason, composite,
            fitness::VARCHAR AS fitness, tokens_total, stop_reason, contaminated,
            trace->'$.verdict' AS verdict, to_json(list_transform(CAST(trace->'$.toolCalls' AS JSON[]),
              c -> json_object('name', c->>'name', 'args', c->'args', 'ok', c->'ok'))) AS calls
     FROM episodes WHERE run_id = $1 ORDER BY id`,
    [KILL_RUN_ID],
  );
  const queries = await queryStore(
    db,
    "SELECT episode_id, idx, call, tool, sql, ok, refused, row_count FROM queries WHERE run_id = $1 ORDER BY episode_id, idx",
    [KILL_RUN_ID],
  );
  const strategies = await queryStore(
    db,
    `SELECT id, generation, operation, parents::VARCHAR AS parents, changed::VARCHAR AS changed,
            strategy::VARCHAR AS strategy FROM strategies WHERE run_id = $1 ORDER BY id`,
    [KILL_RUN_ID],
  );
  const generations = await queryStore(
    db,
    `SELECT generation, population::VARCHAR AS population, ranking::VARCHAR AS ranking, replaced::VARCHAR AS replaced,
            children::VARCHAR AS children, stats::VARCHAR AS stats FROM generations WHERE run_id = $1 ORDER BY generation`,
    [KILL_RUN_ID],
  );
  const runs = await queryStore(db, "SELECT id, status, seed, model_name, config::VARCHAR AS config FROM runs");
  return { episodes, queries, strategies, generations, runs };
}

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-kill-" });
  sandbox = join(dir, "tiny.duckdb");
  await buildSandbox(sandbox, { scale: "tiny", asOf: AS_OF });
}, 60_000);

describe("a tournament killed with SIGKILL", () => {
  it("resumes after several kills to the same episodes, lineage and selection as an uninterrupted run", async () => {
    const seed = 12345;
    console.log("kill seed", seed);
    const rand = seededRandom(seed);
    // Three kill points, increasing (each resumed run must get past the previous one), spread over both
    // generations; each lands 0–20 ms after the reported episode, often inside the next write.
    // Points stay in the first three quarters: the child reports stored episodes through a pipe, and under load it can
    // be several episodes ahead of what the parent has read when the kill lands.
    const points = [0, 1, 2].map((i) => Math.floor(2 + (i + rand()) * (TOTAL * 0.75 - 2) / 3));
    const delays = points.map(() => Math.floor(rand() * 20));
    console.log("kill after", points, "stored episodes, + ms", delays);

    const reference = join(dir, "reference.duckdb");
    const killed = join(dir, "killed.duckdb");
    const [ref, kills] = await Promise.all([
      child(reference),
      (async () => {
        const out: (KillRun & { wal: boolean })[] = [];
        for (const [i, n] of points.entries()) {
          const run = await child(killed, n, delays[i]);
          // A killed run leaves its write-ahead log behind; the next open must replay it.
          out.push({ ...run, wal: existsSync(`${killed}.wal`) });
        }
        return out;
      })(),
    ]);
    expect(ref.stdout, ref.stderr).toMatch(/^done completed 48 ran 0 resumed$/m);
    for (const [i, k] of kills.entries()) {
      expect(k.killed, `kill ${i} (after ${points[i]}): ${k.stdout.slice(-200)}${k.stderr}`).toBe(true);
      expect(k.stored).toBeGreaterThanOrEqual(points[i]);
    }
    expect(kills.some((k) => k.wal)).toBe(true);

    const last = await child(killed);
    expect(last.code, last.stderr).toBe(0);
    const resumed = Number(/^done completed (\d+) ran (\d+) resumed$/m.exec(last.stdout)?.[2]);
    expect(resumed).toBeGreaterThanOrEqual(points.at(-1)!);
    // A kill may land after the last episode was stored (then only selection and the run's end remain), but at
    // least one must have left episodes to re-run, or the test would not exercise resuming them.
    expect(kills.some((k) => k.stored < TOTAL - 1), `stored at the kills: ${kills.map((k) => k.stored).join(", ")}`).toBe(true);

    const [a, b] = [await state(killed), await state(reference)];
    expect(a.episodes).toHaveLength(TOTAL);
    expect(a.strategies.map((s) => s.id)).toEqual(["medium", "strong", "strong.g2.m1", "weak"]);
    expect(a.generations).toHaveLength(2);
    expect(a.runs).toEqual([expect.objectContaining({ id: KILL_RUN_ID, status: "completed" })]);
    expect(a).toEqual(b);
  }, 60_000);
});
