/**
 * The store is shared between processes: a tournament opens the DuckDB file only for short transactions, so
 * another process (a notebook kernel, another CLI command) can read and write it during the run, and each side
 * waits for the other's lock — for a bounded time — instead of failing.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { buildSandbox } from "../sandbox/mod.ts";
import { openStore, queryStore, withStore } from "./store.ts";
import { AS_OF } from "./_test_model.ts";
import { SHARED_RUN_ID } from "./_shared_child.ts";

const CHILD = new URL("./_shared_child.ts", import.meta.url).pathname;
const STORE = new URL("./store.ts", import.meta.url).href;
const TOTAL = 108;

let dir: string;
let sandbox: string;

beforeAll(async () => {
  dir = await Deno.makeTempDir({ prefix: "lab-shared-store-" });
  sandbox = join(dir, "tiny.duckdb");
  await buildSandbox(sandbox, { scale: "tiny", asOf: AS_OF });
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a store shared by a running tournament and another process", () => {
  it("lets the other process read and write the file while the tournament runs, and the run still completes", async () => {
    const db = join(dir, "shared.duckdb");
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CHILD, db, sandbox],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });

    // This process is the notebook: it reads the run's progress, writes notes of its own, and once holds the
    // file for 400 ms (the tournament's writes wait and retry meanwhile).
    const counts: number[] = [];
    let writes = 0, held = false;
    for (let i = 0; !exited; i++) {
      const [{ n }] = await queryStore(db, "SELECT count(*)::INTEGER AS n FROM episodes WHERE run_id = $1", [SHARED_RUN_ID])
        .catch(() => [{ n: -1 }]); // before the child created the tables
      counts.push(Number(n));
      if (i % 4 === 0) {
        await withStore(db, async (con) => {
          await con.run("CREATE TABLE IF NOT EXISTS notebook_notes (i INTEGER, seen INTEGER)");
          await con.run("INSERT INTO notebook_notes VALUES ($1, $2)", [i, Number(n)]);
        }, { write: true });
        writes++;
      }
      if (!held && Number(n) > TOTAL / 3) {
        held = true;
        await using _store = await openStore(db);
        await sleep(400);
      }
      await sleep(25);
    }
    const [stdout, stderr] = await out;
    expect((await status).code, stderr).toBe(0);
    expect(stdout).toMatch(new RegExp(`^done completed ${TOTAL}$`, "m"));

    // The reads saw the run in progress: several counts strictly between nothing and everything, never falling.
    const during = [...new Set(counts.filter((n) => n > 0 && n < TOTAL))];
    expect(during.length, `counts seen: ${[...new Set(counts)].join(", ")}`).toBeGreaterThanOrEqual(3);
    const seen = counts.filter((n) => n >= 0);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(held).toBe(true);

    const [{ n, done }] = await queryStore(
      db,
      "SELECT count(*)::INTEGER AS n, (SELECT status FROM runs WHERE id = $1) AS done FROM episodes WHERE run_id = $1",
      [SHARED_RUN_ID],
    );
    expect({ n, done }).toEqual({ n: TOTAL, done: "completed" });
    expect(await queryStore(db, "SELECT count(*)::INTEGER AS n FROM notebook_notes")).toEqual([{ n: writes }]);
  }, 60_000);

  it("gives up on a lock held past LAB_STORE_LOCK_TIMEOUT_MS with a message naming the file and what to do", async () => {
    const db = join(dir, "held.duckdb");
    await using _store = await openStore(db);
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["eval", `import { queryStore } from "${STORE}"; await queryStore(${JSON.stringify(db)}, "SELECT 1");`],
      env: { NO_COLOR: "1", LAB_STORE_LOCK_TIMEOUT_MS: "300" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    expect(r.code).not.toBe(0);
    expect(err).toContain(`Cannot open the lab store ${db}`);
    expect(err).toMatch(/another process has held it for \d+\.\d s; close the connection/);
  }, 30_000);
});
