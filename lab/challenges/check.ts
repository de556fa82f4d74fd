/**
 * Checking verifier SQL by execution: every query of every instance's verifier runs on a sandbox through the
 * verifier's own path (an episode's starting state, {@linkcode episodeVerifyContext}), so SQL that does not parse,
 * names a missing table or column, or returns nothing where the verifier reads a row is caught by
 * `lab challenges validate` instead of by a tournament that scores every agent zero on it.
 * @module
 */
import type { SandboxPool } from "../sandbox/mod.ts";
import { type VerifierQuery, verifierQueries } from "./catalog.ts";
import { episodeVerifyContext } from "./episode.ts";
import { renderSql } from "./params.ts";
import type { Challenge } from "./types.ts";
import { type Row, toNumber } from "./verify.ts";
import { displayPath } from "../util/mod.ts";

/** A verifier query that fails on the sandbox, or returns nothing where the verifier reads a row. */
export interface VerifierSqlProblem {
  /** The challenge file. */
  source: string;
  family: string;
  /** The first instance it failed on (the family's later instances are not checked). */
  instance: string;
  /** Where the query sits in the file, e.g. `verifier.effects[0].reference`. */
  query: string;
  kind: "error" | "empty";
  /** One line: the database's error, or what the verifier missed. */
  reason: string;
}

/** Options for {@linkcode checkVerifierSql}. */
export interface CheckVerifierSqlOptions {
  /** Called after each instance with the instances checked so far and their total. */
  onProgress?: (done: number, total: number) => void;
}

/** What {@linkcode checkVerifierSql} found. */
export interface VerifierSqlReport {
  instances: number;
  families: number;
  /** Queries checked, each counted once per instance (a family's instances after its first problem are skipped). */
  queries: number;
  /** Distinct (tenant, rendered SQL) queries executed: instances of a family often share one. */
  executed: number;
  /** At most one per family (its first failing instance), in input order. */
  problems: VerifierSqlProblem[];
}

type Outcome = { rows: Row[] } | { error: string };

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n").map((l) => l.trim()).find(Boolean) ?? "unknown error";
}

/** What the result lacks for the verifier, or undefined when the verifier can read it. */
function missing(q: VerifierQuery, rows: Row[]): string | undefined {
  if (q.needs === "any") return undefined;
  // A value read on the end state is a workflow checkpoint's boolean; every other value is a number.
  const what = q.needs === "row" ? "a row" : q.state === "current" ? "one boolean" : "a number";
  if (rows.length === 0) return `returns no row, but the verifier reads ${what} from it`;
  if (q.needs === "value") {
    const v = Object.values(rows[0])[0];
    const ok = q.state === "current" ? typeof v === "boolean" : toNumber(v) !== undefined;
    if (!ok) return `returns ${v === null || v === undefined ? "NULL" : `'${String(v)}'`}, but the verifier reads ${what} from it`;
  }
  return undefined;
}

/**
 * Runs every verifier query of `challenges` on their tenants in `pool` (one episode per tenant, no writes) and
 * reports the queries that fail or return nothing the verifier can read. A problem is data, not an exception: the
 * caller decides how to report it.
 *
 * @example
 * ```ts
 * await using pool = await SandboxPool.open((await ensureSandbox({ scale: "tiny" })).path, { size: 1 });
 * const report = await checkVerifierSql(await loadCatalog(), pool);
 * for (const p of report.problems) console.log(`${p.source}: ${p.family}: ${p.query}: ${p.reason}`);
 * ```
 */
export async function checkVerifierSql(
  challenges: readonly Challenge[],
  pool: SandboxPool,
  options: CheckVerifierSqlOptions = {},
): Promise<VerifierSqlReport> {
  const byOrg = new Map<number, { c: Challenge; index: number }[]>();
  challenges.forEach((c, index) => {
    if (!byOrg.has(c.orgId)) byOrg.set(c.orgId, []);
    byOrg.get(c.orgId)!.push({ c, index });
  });
  const found = new Map<string, { index: number; problem: VerifierSqlProblem }>();
  let done = 0, queries = 0, executed = 0;
  // Tenants run at once (each on its own instance); within one, queries run in order on one episode.
  await Promise.all([...byOrg].map(async ([orgId, items]) => {
    await using ep = await pool.acquire(orgId, { role: items[0].c.role });
    const ctx = episodeVerifyContext(ep);
    const cache = new Map<string, Outcome>();
    const run = async (sql: string): Promise<Outcome> => {
      let hit = cache.get(sql);
      if (!hit) {
        executed++;
        try {
          // No writes, so the end state a checkpoint reads is the starting state: every query runs on the pristine
          // connection (as the runner's verify context does for a write-free episode), never in the agent's transaction.
          hit = { rows: await ctx.pristine(sql) };
        } catch (e) {
          hit = { error: firstLine(e) };
        }
        cache.set(sql, hit);
      }
      return hit;
    };
    for (const { c, index } of items) {
      const earlier = found.get(c.family);
      if (!earlier || earlier.index > index) {
        for (const q of verifierQueries(c.verifier)) {
          queries++;
          const path = `verifier.${q.path}`;
          const out = await run(renderSql(q.sql, c.params, ctx.asOf, `${c.source}: ${path}`));
          const reason = "error" in out ? out.error : missing(q, out.rows);
          if (reason !== undefined) {
            const problem = { source: c.source, family: c.family, instance: c.id, query: path, kind: "error" in out ? "error" as const : "empty" as const, reason };
            const other = found.get(c.family);
            if (!other || other.index > index) found.set(c.family, { index, problem });
            break;
          }
        }
      }
      options.onProgress?.(++done, challenges.length);
    }
  }));
  return {
    instances: challenges.length,
    families: new Set(challenges.map((c) => c.family)).size,
    queries,
    executed,
    problems: [...found.values()].sort((a, b) => a.index - b.index).map((f) => f.problem),
  };
}

/**
 * A problem as one line saying what, where and what to do, e.g. `bad.yaml: family 'x': on x/t0/-/o1,
 * verifier.reference fails: Catalog Error: Table with name nope does not exist!; fix the SQL`.
 */
export function formatVerifierSqlProblem(p: VerifierSqlProblem): string {
  const at = `${displayPath(p.source)}: family '${p.family}': on ${p.instance}, ${p.query}`;
  return p.kind === "error" ? `${at} fails: ${p.reason}; fix the SQL` : `${at} ${p.reason}; fix the query or the family's parameters`;
}
