/**
 * TEST-SUPPORT: the oracle harness shared by the oracle test files — a tiny sandbox, the catalog, and helpers
 * that run an episode, the oracle's answer, or a given answer through the verifier.
 */
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../../sandbox/mod.ts";
import { createToolContext, type ToolContext } from "../../tools/mod.ts";
import { type Challenge, loadCatalog, valuesKey, type Verdict, verify, verifyContextOf } from "../mod.ts";
import { outcomeOf } from "../episode.ts";
import { runOracle } from "./mod.ts";

/** What the oracle tests work with. */
export interface OracleHarness {
  pool: SandboxPool;
  all: Challenge[];
  /** Runs `fn` in a fresh episode of the instance's tenant and role, then verifies (as `verifyAs`). */
  episode(c: Challenge, fn: (ctx: ToolContext) => Promise<void>, verifyAs?: Challenge): Promise<{ verdict: Verdict; ctx: ToolContext }>;
  /** The oracle's submitted answer for `c`. */
  oracleAnswer(c: Challenge): Promise<unknown>;
  /** Verifies a given answer (and no writes) against `c`. */
  judgeAnswer(c: Challenge, answer: unknown): Promise<Verdict>;
  close(): void;
}

/** Builds a tiny sandbox in a temp dir and loads the catalog. */
export async function openOracleHarness(): Promise<OracleHarness> {
  const dir = await Deno.makeTempDir({ prefix: "lab-oracle-" });
  const path = join(dir, "tiny.duckdb");
  await buildSandbox(path, { scale: "tiny" });
  const pool = await SandboxPool.open(path, { size: 1 });
  const all = await loadCatalog();
  const episode: OracleHarness["episode"] = async (c, fn, verifyAs = c) => {
    await using ep = await pool.acquire(c.orgId, { role: c.role });
    const ctx = createToolContext(ep);
    await fn(ctx);
    const verdict = await verify(verifyAs, outcomeOf(ctx), verifyContextOf(ctx));
    return { verdict, ctx };
  };
  return {
    pool,
    all,
    episode,
    async oracleAnswer(c) {
      let answer: unknown;
      await episode(c, async (ctx) => {
        await runOracle(c, ctx);
        answer = ctx.answer?.answer;
      });
      return answer;
    },
    async judgeAnswer(c, answer) {
      return (await episode(c, (ctx) => {
        if (answer !== undefined) ctx.answer = { answer: answer as never };
        return Promise.resolve();
      })).verdict;
    },
    close: () => pool.close(),
  };
}

/**
 * Runs the oracle once per (family, values, tenant) of `level` — the wordings of one piece of work share its
 * solution, so the cost does not grow with the templates — and checks every wording renders completely:
 * failures, and oracle steps vs the recorded optimal steps of every instance.
 */
export async function oracleOnLevel(h: OracleHarness, level: number): Promise<{
  failures: string[];
  steps: Record<string, number>;
  recorded: Record<string, number | undefined>;
}> {
  const failures: string[] = [];
  const steps: Record<string, number> = {};
  const recorded: Record<string, number | undefined> = {};
  const groups = new Map<string, Challenge[]>();
  for (const c of h.all.filter((c) => c.level === level)) {
    const key = valuesKey(c);
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  for (const group of groups.values()) {
    const c = group[0];
    const { verdict, ctx } = await h.episode(c, async (ctx) => void await runOracle(c, ctx));
    if (!verdict.pass) failures.push(`${c.id}: ${verdict.reason}`);
    for (const g of group) {
      if (/\{[a-z_.]+\}/.test(g.task)) failures.push(`${g.id}: the task does not render completely: ${g.task}`);
      steps[g.id] = ctx.log.calls.length;
      recorded[g.id] = g.optimalSteps;
    }
  }
  return { failures, steps, recorded };
}
