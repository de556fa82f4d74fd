/**
 * Natural selection of patterns (seed 000: poor patterns are removed; seed 001: caps per category).
 *
 * {@linkcode prunePatterns} removes, in this order and in one transaction:
 * 1. **stale** patterns, when asked (`removeStale`);
 * 2. **dominated** patterns. Two patterns compete when they have the same role and normalized intent (they
 *    answer the same request, with different SQL). Compare them on the vector
 *    (turn_pass, not stale, not contaminated, composite_fitness, support): A dominates B when A is at least as
 *    good on every component and strictly better on composite_fitness or support. A dominated pattern is
 *    never retrieved before its dominator, carries no evidence the dominator lacks, and only dilutes the
 *    examples. Equal patterns do not dominate each other (both stay: alternative SQL for the same intent).
 * 3. the **per-category cap**: within each category, patterns ranked by composite_fitness, then support, then
 *    most recently updated, then id; those past the cap go.
 * Protected, never removed by 2 or 3: a person's own question (`is_synthetic = false`) and patterns a person
 * marked right (`marked_pass = true`). They still count towards caps and may dominate others.
 *
 * {@linkcode revalidatePatterns} re-runs stored SQL against the current sandbox through the agents' tools
 * (`callTool`: the SQL guard, role permissions, read-only reads, row caps, timeouts — stored SQL is untrusted
 * model output), each pattern in a fresh episode of its tenant acting as its role, queries in their stored
 * order (so a write's effect is seen by the reads after it, and discarded with the episode). A pattern whose
 * query no longer runs, is refused, or whose result summary differs (numbers compared to 1e-9 relative) is
 * marked stale with the reason; one that passes is marked fresh (`stale = false`) with `validated_at`.
 * Retrieval excludes stale patterns by default.
 * @module
 */
import { type DuckDBConnection, type DuckDBValue, listValue } from "@duckdb/node-api";
import { mapConcurrent, sqlString, withTransaction } from "../util/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import { callTool, createToolContext, type RolesConfig, type ToolLimits } from "../tools/mod.ts";
import { filterSql, type Pattern, type PatternFilter } from "./_query.ts";
import { summarizeResult } from "./_extract.ts";
import type { PatternStore } from "./store.ts";
import { utcNow } from "./_schema.ts";

/** Options for {@linkcode prunePatterns}. */
export interface PruneOptions {
  /** Keep at most this many patterns per category (a number for all, or per category name). @default no cap */
  perCategory?: number | Record<string, number>;
  /** Remove dominated patterns (see the module doc). @default true */
  dominated?: boolean;
  /** Remove patterns marked stale. @default false */
  removeStale?: boolean;
  /** Only prune within these patterns (e.g. one role). @default all */
  filter?: PatternFilter;
  /** Report what would go; change nothing. @default false */
  dryRun?: boolean;
}

/** One removed pattern and why. */
export interface PruneRemoval {
  id: string;
  category: string;
  normalizedIntent: string;
  reason: "stale" | "dominated" | "category_cap";
  /** e.g. `dominated by 3f…: fitness 0.91 ≥ 0.85, support 4 ≥ 1`. */
  detail: string;
}

/** What {@linkcode prunePatterns} did (or would do, with `dryRun`). */
export interface PruneReport {
  before: number;
  after: number;
  removed: PruneRemoval[];
  byReason: { stale: number; dominated: number; category_cap: number };
  dryRun: boolean;
}

/** SQL: the row (of alias `t`) is protected from removal. */
const isProtected = (t: string) => `(NOT ${t}.is_synthetic OR coalesce(${t}.marked_pass, false))`;

/**
 * Prunes the store (see the module doc). One transaction; returns every removal with its reason.
 *
 * @example
 * ```ts
 * const r = await prunePatterns(store, { perCategory: 500 });
 * console.log(r.byReason, r.removed.slice(0, 3));
 * ```
 */
export async function prunePatterns(store: PatternStore, options: PruneOptions = {}): Promise<PruneReport> {
  const caps = options.perCategory;
  if (caps !== undefined) {
    const entries = typeof caps === "number" ? [["*", caps] as const] : Object.entries(caps ?? {});
    if (typeof caps !== "number" && (typeof caps !== "object" || caps === null)) {
      throw new TypeError(
        `prunePatterns: perCategory must be a number or { category: number }, found ${JSON.stringify(caps)}`,
      );
    }
    for (const [k, v] of entries) {
      if (!Number.isInteger(v) || v < 0) {
        throw new RangeError(
          `prunePatterns: perCategory${k === "*" ? "" : `.${k}`} must be an integer ≥ 0, found ${v}`,
        );
      }
    }
  }
  const { where, params } = filterSql(options.filter);
  const scope = where ? `(SELECT * FROM turn_memories ${where})` : "turn_memories";
  const removed: PruneRemoval[] = [];
  const dryRun = options.dryRun ?? false;
  return await store.withConnection((con) =>
    withTransaction(con, async () => {
      const count = async () => Number((await con.runAndReadAll("SELECT count(*) FROM turn_memories")).getRows()[0][0]);
      const before = await count();
      await con.run("CREATE OR REPLACE TEMP TABLE _tm_prune (id VARCHAR PRIMARY KEY)");
      const take = async (reason: PruneRemoval["reason"], sql: string) => {
        const rows = (await con.runAndReadAll(sql, params as DuckDBValue[])).getRowObjectsJson();
        for (const r of rows) {
          removed.push({
            id: String(r.id),
            category: String(r.category),
            normalizedIntent: String(r.normalized_intent),
            reason,
            detail: String(r.detail),
          });
        }
        if (rows.length) {
          await con.run(
            `INSERT INTO _tm_prune SELECT unnest($1::VARCHAR[]) ON CONFLICT DO NOTHING`,
            [listValue(rows.map((r) => String(r.id)))],
          );
        }
      };
      const alive = `id NOT IN (SELECT id FROM _tm_prune)`;
      if (options.removeStale) {
        await take(
          "stale",
          `SELECT id, category, normalized_intent, 'stale: ' || coalesce(stale_reason, 'no reason recorded') AS detail
           FROM ${scope} WHERE stale ORDER BY id`,
        );
      }
      if (options.dominated ?? true) {
        await take(
          "dominated",
          `SELECT b.id, b.category, b.normalized_intent,
                  'dominated by ' || a.id || ': fitness ' || printf('%g', a.composite_fitness) || ' ≥ ' ||
                  printf('%g', b.composite_fitness) ||
                  ', support ' || a.support || ' ≥ ' || b.support ||
                  CASE WHEN a.turn_pass AND NOT b.turn_pass THEN ', passes where it failed' ELSE '' END AS detail
           FROM ${scope} b JOIN ${scope} a
             ON a.role = b.role AND a.normalized_intent = b.normalized_intent AND a.id <> b.id
           WHERE a.${alive} AND b.${alive} AND NOT ${isProtected("b")}
             AND a.turn_pass::INT >= b.turn_pass::INT AND (NOT a.stale)::INT >= (NOT b.stale)::INT
             AND (NOT a.contaminated)::INT >= (NOT b.contaminated)::INT
             AND a.composite_fitness >= b.composite_fitness AND a.support >= b.support
             AND (a.composite_fitness > b.composite_fitness OR a.support > b.support)
           QUALIFY row_number() OVER (PARTITION BY b.id ORDER BY a.composite_fitness DESC, a.support DESC, a.id) = 1
           ORDER BY b.id`,
        );
      }
      if (caps !== undefined) {
        // caps are validated integers and category names are quoted: safe to inline
        const capOf = typeof caps === "number"
          ? `${caps}`
          : `CASE category ${Object.entries(caps).map(([k, v]) => `WHEN ${sqlString(k)} THEN ${v}`).join(" ")} ELSE NULL END`;
        await take(
          "category_cap",
          `WITH ranked AS (
             SELECT id, category, normalized_intent, ${isProtected("s")} AS protected, ${capOf} AS cap,
                    row_number() OVER (PARTITION BY category
                      ORDER BY composite_fitness DESC, support DESC, updated_at DESC, id) AS rank,
                    count(*) OVER (PARTITION BY category) AS total
             FROM ${scope} s WHERE ${alive})
           SELECT id, category, normalized_intent,
                  'rank ' || rank || ' of ' || total || ' in ' || category || ' (cap ' || cap || ')' AS detail
           FROM ranked WHERE cap IS NOT NULL AND rank > cap AND NOT protected ORDER BY category, rank`,
        );
      }
      if (!dryRun && removed.length) await con.run("DELETE FROM turn_memories WHERE id IN (SELECT id FROM _tm_prune)");
      await con.run("DROP TABLE _tm_prune");
      const byReason = { stale: 0, dominated: 0, category_cap: 0 };
      for (const r of removed) byReason[r.reason]++;
      return { before, after: dryRun ? before : await count(), removed, byReason, dryRun };
    })
  );
}

/** Options for {@linkcode revalidatePatterns}. */
export interface RevalidateOptions {
  /** The current sandbox (each pattern runs in a fresh episode of its tenant). */
  pool: SandboxPool;
  /** Which patterns to check. @default all */
  filter?: PatternFilter;
  /** At most this many, best first. @default all */
  limit?: number;
  /** Episodes at a time. @default 2 */
  concurrency?: number;
  /** Tenant for patterns without one (a person's question with no org). @default the sandbox's first org */
  defaultOrgId?: number;
  /** @default configs/roles.yaml */
  roles?: RolesConfig;
  /** Limits of the re-run SQL. @default the tools' defaults (200 rows, 5 s) */
  toolLimits?: Partial<ToolLimits>;
  /** Report only; change nothing. @default false */
  dryRun?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** One pattern's re-validation. */
export interface RevalidateResult {
  id: string;
  ok: boolean;
  /** Why it is stale (absent when ok). */
  reason?: string;
}

/** What {@linkcode revalidatePatterns} did. */
export interface RevalidateReport {
  checked: number;
  fresh: number;
  /** Marked stale now (with the reasons). */
  stale: RevalidateResult[];
  /** Were stale and run again as stored: marked fresh. */
  restored: string[];
  dryRun: boolean;
}

const NUMBER = /-?\d+(?:\.\d+)?(?:e[-+]?\d+)?/gi;

/** True when two result summaries agree: same text apart from numbers, numbers equal to 1e-9 (relative). */
export function sameSummary(a: string, b: string): boolean {
  if (a === b) return true;
  if (a.replace(NUMBER, "#") !== b.replace(NUMBER, "#")) return false;
  const na = a.match(NUMBER) ?? [];
  const nb = b.match(NUMBER) ?? [];
  return na.every((x, i) => {
    const p = Number(x), q = Number(nb[i]);
    return Math.abs(p - q) <= 1e-9 * Math.max(1, Math.abs(p), Math.abs(q));
  });
}

async function checkOne(p: Pattern, options: RevalidateOptions): Promise<RevalidateResult> {
  const orgId = p.orgId ?? options.defaultOrgId ?? options.pool.orgs()[0]?.orgId;
  if (orgId === undefined) return { id: p.id, ok: false, reason: "the sandbox has no organization" };
  let ep;
  try {
    ep = await options.pool.acquire(orgId, { role: p.role });
  } catch (e) {
    return { id: p.id, ok: false, reason: `cannot start an episode: ${(e as Error).message}` };
  }
  try {
    let ctx;
    try {
      ctx = createToolContext(ep, { roles: options.roles, limits: options.toolLimits });
    } catch (e) {
      return { id: p.id, ok: false, reason: (e as Error).message };
    }
    for (const [k, q] of p.successfulQueries.entries()) {
      const r = await callTool(ctx, q.tool, q.tool === "dbWrite" ? { sql: q.sql, confirm: true } : { sql: q.sql });
      const where = `query ${k + 1} (${q.tool})`;
      if (!r.ok) {
        const refused = ctx.log.queries.at(-1)?.refused ? "is refused" : "no longer runs";
        return { id: p.id, ok: false, reason: `${where} ${refused}: ${r.error}` };
      }
      const { ok: _ok, elapsedMs: _ms, ...result } = r;
      const now = summarizeResult(q.tool, result, typeof r.rowCount === "number" ? r.rowCount : undefined);
      if (!sameSummary(q.summary, now)) {
        return { id: p.id, ok: false, reason: `${where} result changed: was ${q.summary}; now ${now}` };
      }
    }
    return { id: p.id, ok: true };
  } finally {
    await ep.release();
  }
}

/**
 * Re-runs stored SQL through the safe tool path and marks what no longer runs or matches as stale (see the
 * module doc). Writes the marks in one transaction after all checks.
 *
 * @example
 * ```ts
 * await using pool = await SandboxPool.open((await ensureSandbox({ scale: "tiny" })).path);
 * const r = await revalidatePatterns(store, { pool, filter: { turnPass: true } });
 * console.log(r.checked, r.stale.map((s) => `${s.id}: ${s.reason}`));
 * ```
 */
export async function revalidatePatterns(store: PatternStore, options: RevalidateOptions): Promise<RevalidateReport> {
  if (!options?.pool) throw new TypeError("revalidatePatterns: pass { pool } (a SandboxPool of the current sandbox)");
  const concurrency = options.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`revalidatePatterns: concurrency must be an integer ≥ 1, found ${concurrency}`);
  }
  const total = options.limit ?? (await store.count(options.filter));
  const patterns = await store.list(options.filter, { limit: total });
  const results = await mapConcurrent(patterns, (p) => checkOne(p, options), {
    concurrency,
    onDone: options.onProgress,
  });
  const wasStale = new Set(patterns.filter((p) => p.stale).map((p) => p.id));
  const dryRun = options.dryRun ?? false;
  if (!dryRun && results.length) {
    const now = utcNow();
    await store.withConnection((con: DuckDBConnection) =>
      withTransaction(con, async () => {
        await con.run("CREATE OR REPLACE TEMP TABLE _tm_valid (id VARCHAR, ok BOOLEAN, reason VARCHAR)");
        for (const r of results) {
          await con.run("INSERT INTO _tm_valid VALUES ($1, $2, $3)", [r.id, r.ok, r.reason ?? null]);
        }
        await con.run(
          `UPDATE turn_memories t SET stale = NOT v.ok, stale_reason = v.reason, validated_at = $1::TIMESTAMP
           FROM _tm_valid v WHERE t.id = v.id`,
          [now],
        );
        await con.run("DROP TABLE _tm_valid");
      })
    );
  }
  return {
    checked: results.length,
    fresh: results.filter((r) => r.ok).length,
    stale: results.filter((r) => !r.ok),
    restored: results.filter((r) => r.ok && wasStale.has(r.id)).map((r) => r.id),
    dryRun,
  };
}
