/**
 * Episode → pattern: what one episode (or a person's question) contributes, before normalization, embedding and
 * merging. Records are validated at this boundary (they may come from JSON files, other processes, notebooks).
 *
 * - **Never a failed query**: failed, refused and erroring queries are dropped (and counted); an episode
 *   without a successful query contributes nothing.
 * - **Verification wrappers** are dropped too: `SELECT count(*) AS checked_rows FROM (…)` (the verify-steps
 *   habit), any `SELECT count(*) FROM (<an earlier query of the episode>)`, and a read repeated verbatim.
 * - **The SQL key** is the canonical SQL ({@linkcode canonicalSql}) of the kept queries, each with its tool.
 * @module
 */
import { z } from "zod";
import { queryFitness } from "../agents/mod.ts";
import { canonicalSql } from "../util/mod.ts";
import type { PatternProvenance, StoredQuery } from "./_query.ts";

/**
 * A person's own question and the queries that answered it, for `PatternStore.addAsk`.
 * @internal
 */
export interface AskInput {
  question: string;
  role: string;
  /** The queries run for it, in order; failed ones are dropped like an episode's. */
  queries: {
    tool: "dbRead" | "dbWrite";
    sql: string;
    ok?: boolean;
    refused?: boolean;
    error?: string;
    rowCount?: number;
    ms?: number;
    /** The tool's result (rows/columns or table/action), for the summary. */
    result?: Record<string, unknown>;
  }[];
  /** The person's judgement of the answer; unset = not judged yet (`turn_pass` false until marked). */
  pass?: boolean;
  answerShape?: string;
  /** Tenant the queries ran on (re-validation runs them there). @default null */
  orgId?: number;
  /** @default "ask" */
  runId?: string;
  model?: { name: string; id: string };
}

// ---------------------------------------------------------------------------------------------------------
// Pure helpers

const CHECK_WRAPPER = /^select count\(\*\) as "?[a-z_]*check[a-z_]*"? from \(/;
const COUNT_WRAPPER = /^select count\(\*\)(?: as "?[a-z_0-9]+"?)? from \((.*)\)(?: as)?(?: "?[a-z_0-9]+"?)?$/s;

/**
 * True when a query only checks an earlier one: `SELECT count(*) AS checked_rows FROM (…)` (any alias with
 * "check"), or `SELECT count(*) FROM (<one of earlier>)`. Both take canonical SQL ({@linkcode canonicalSql}).
 */
export function isVerificationQuery(canonical: string, earlier: readonly string[] = []): boolean {
  if (CHECK_WRAPPER.test(canonical)) return true;
  const m = COUNT_WRAPPER.exec(canonical);
  return !!m && earlier.includes(m[1].trim());
}

const cut = (s: string, max: number) => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/**
 * The stored summary of a query's result: row count and the first row (JSON, cut to 160 characters) of a
 * read; action, table and row count of a write. Re-validation recomputes it and compares.
 */
export function summarizeResult(
  tool: "dbRead" | "dbWrite",
  result: Record<string, unknown> | undefined,
  rowCount?: number,
): string {
  if (tool === "dbWrite") {
    const n = typeof result?.rowCount === "number" ? result.rowCount : rowCount;
    return result?.action && result?.table
      ? `${result.action} ${result.table}: ${n ?? "?"} rows`
      : `${n ?? "?"} rows written`;
  }
  const rows = Array.isArray(result?.rows) ? result.rows as unknown[] : undefined;
  const n = typeof result?.rowCount === "number" ? result.rowCount : rows?.length ?? rowCount;
  const count = `${n ?? "?"}${result?.truncated ? "+" : ""} row${n === 1 ? "" : "s"}`;
  if (!rows?.length) return count;
  const first = cut(JSON.stringify(rows[0], (_k, v) => (typeof v === "bigint" ? v.toString() : v)), 160);
  return n === 1 ? `${count}: ${first}` : `${count}, first: ${first}`;
}

/** 128-bit-ish stable id (two 53-bit cyrb53 hashes, hex). */
export function patternId(role: string, normalizedIntent: string, sqlKey: string): string {
  const text = `${role}\u0000${normalizedIntent}\u0000${sqlKey}`;
  return cyrb53(text, 0x9e3779b9).toString(16).padStart(14, "0") +
    cyrb53(text, 0x85ebca6b).toString(16).padStart(14, "0");
}

function cyrb53(str: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed, h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < str.length; i++) {
    const ch = str.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** Rounded to 6 decimals (the stored fitness figures). */
export const round6 = (x: number): number => Math.round(x * 1e6) / 1e6;

// ---------------------------------------------------------------------------------------------------------
// Input validation

const QueryIn = z.object({
  tool: z.string(),
  sql: z.string(),
  ok: z.boolean(),
  refused: z.boolean().optional(),
  error: z.string().optional(),
  rowCount: z.number().optional(),
  ms: z.number().optional(),
  call: z.number().int().optional(),
});

/** The fields of an `EpisodeRecord` the store reads. */
const EpisodeIn = z.object({
  id: z.string().min(1),
  challengeId: z.string(),
  challenge: z.object({
    family: z.string(),
    level: z.number().int(),
    category: z.string().min(1),
    outcome: z.string(),
    split: z.string().min(1),
    orgId: z.number().int(),
  }),
  role: z.string().min(1),
  task: z.string(),
  strategyId: z.string(),
  model: z.object({ name: z.string(), id: z.string() }),
  toolCalls: z.array(z.object({
    name: z.string(),
    ok: z.boolean(),
    malformed: z.boolean().optional(),
    // checked by shape only: z.record would copy every result (rows included) of every episode
    result: z.custom<Record<string, unknown>>(
      (v) => v === undefined || (typeof v === "object" && v !== null && !Array.isArray(v)),
      {
        message: "expected an object",
      },
    ).optional(),
  })),
  queries: z.array(QueryIn),
  verdict: z.object({ pass: z.boolean(), score: z.number() }),
  fitness: z.object({
    turn: z.object({ fitness: z.number() }),
    queries: z.array(z.object({ fitness: z.number() })),
  }),
});
type EpisodeIn = z.infer<typeof EpisodeIn>;

const AskIn = z.object({
  question: z.string().min(1),
  role: z.string().min(1),
  queries: z.array(
    QueryIn.extend({ ok: z.boolean().optional(), result: z.record(z.string(), z.unknown()).optional() }),
  ),
  pass: z.boolean().optional(),
  answerShape: z.string().optional(),
  orgId: z.number().int().optional(),
  runId: z.string().optional(),
  model: z.object({ name: z.string(), id: z.string() }).optional(),
});

function issueLine(where: string, error: z.ZodError): string {
  const i = error.issues[0];
  const path = i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("");
  const more = error.issues.length > 1 ? ` (and ${error.issues.length - 1} more)` : "";
  return `${where}${path}: ${i.message}${more}`;
}

// ---------------------------------------------------------------------------------------------------------
// Extraction

/** A pattern before normalization and embedding (what one episode or ask contributes). */
export interface Draft extends PatternProvenance {
  task: string;
  role: string;
  category: string;
  level: number | null;
  toolSequence: string[];
  queries: StoredQuery[];
  sqlKey: string;
  answerShape: string | null;
  turnFitness: number;
  queryAvgFitness: number;
  isSynthetic: boolean;
  turnPass: boolean;
  markedPass: boolean | null;
  contaminated: boolean;
}

/** What one episode or ask gave: its draft (none without a successful query) and the queries left out. */
export interface Extraction {
  draft?: Draft;
  /** Failed, refused or erroring queries left out. */
  failed: number;
  /** Verification wrappers and verbatim repeats left out. */
  verification: number;
}

interface Kept {
  tools: string[];
  queries: StoredQuery[];
  fitness: number[];
  keys: string[];
  failed: number;
  verification: number;
}

/** Keeps the successful queries of a trace (see the module doc) and the names of the successful tool calls. */
function extractQueries(
  calls: readonly { name: string; ok: boolean; malformed?: boolean; result?: Record<string, unknown> }[],
  queries: readonly z.infer<typeof QueryIn>[],
  queryFit: (i: number) => number,
): Kept {
  const out: Kept = { tools: [], queries: [], fitness: [], keys: [], failed: 0, verification: 0 };
  const byCall = new Map<number, number[]>();
  const orphan: number[] = [];
  queries.forEach((q, i) => {
    if (q.call === undefined || !calls[q.call]) orphan.push(i);
    else byCall.set(q.call, [...(byCall.get(q.call) ?? []), i]);
  });
  const keep = (qi: number): boolean => {
    const q = queries[qi];
    const call = q.call !== undefined ? calls[q.call] : undefined;
    if (
      !q.ok || q.refused || q.error !== undefined || (q.tool !== "dbRead" && q.tool !== "dbWrite") || call?.ok === false
    ) {
      out.failed++;
      return false;
    }
    const key = canonicalSql(q.sql);
    if (q.tool === "dbRead" && (isVerificationQuery(key, out.keys) || out.keys.includes(key))) {
      out.verification++;
      return false;
    }
    out.keys.push(key);
    out.queries.push({
      tool: q.tool,
      sql: q.sql,
      summary: summarizeResult(q.tool, call?.result, q.rowCount),
      rows: q.rowCount ?? null,
      ms: q.ms ?? 0,
    });
    out.fitness.push(queryFit(qi));
    return true;
  };
  calls.forEach((c, ci) => {
    const qs = byCall.get(ci);
    if (qs) {
      // a dbRead/dbWrite call: its name goes in the sequence only when its query is kept
      for (const qi of qs) if (keep(qi)) out.tools.push(c.name);
    } else if (c.ok && !c.malformed && c.name !== "dbRead" && c.name !== "dbWrite") out.tools.push(c.name);
  });
  for (const qi of orphan) if (keep(qi)) out.tools.push(queries[qi].tool);
  return out;
}

/** The fields every draft takes from its kept queries. */
function fromKept(k: Kept): Pick<Draft, "toolSequence" | "queries" | "sqlKey" | "queryAvgFitness"> {
  return {
    toolSequence: k.tools,
    queries: k.queries,
    sqlKey: k.queries.map((q, i) => `${q.tool}: ${k.keys[i]}`).join("\n"),
    queryAvgFitness: round6(mean(k.fitness)),
  };
}

function draftFromEpisode(r: EpisodeIn, runId: string | null): Extraction {
  const aligned = r.fitness.queries.length === r.queries.length;
  const k = extractQueries(
    r.toolCalls,
    r.queries,
    (i) =>
      aligned
        ? r.fitness.queries[i].fitness
        : queryFitness({ ...r.queries[i], tool: r.queries[i].tool as "dbRead" }).fitness,
  );
  const counts = { failed: k.failed, verification: k.verification };
  if (!k.queries.length) return counts;
  return {
    ...counts,
    draft: {
      task: r.task,
      role: r.role,
      category: r.challenge.category,
      level: r.challenge.level,
      ...fromKept(k),
      answerShape: r.challenge.outcome || null,
      turnFitness: r.fitness.turn.fitness,
      isSynthetic: true,
      turnPass: r.verdict.pass,
      markedPass: null,
      contaminated: r.challenge.split !== "train",
      runId,
      episodeId: r.id,
      strategyId: r.strategyId,
      modelName: r.model.name,
      modelId: r.model.id,
      challengeId: r.challengeId,
      family: r.challenge.family,
      split: r.challenge.split,
      orgId: r.challenge.orgId,
    },
  };
}

/**
 * The drafts of a batch of episode records, one extraction per record in order. Throws a TypeError naming the
 * record and field of the first invalid one (nothing of the batch is to be stored then).
 */
export function extractEpisodes(records: readonly unknown[], runId: string | null): Extraction[] {
  return records.map((record, i) => {
    const parsed = EpisodeIn.safeParse(record);
    if (!parsed.success) {
      throw new TypeError(
        `Cannot store episodes: ${
          issueLine(`records[${i}]`, parsed.error)
        }; nothing was stored (pass EpisodeRecords from runEpisode)`,
      );
    }
    return draftFromEpisode(parsed.data, runId);
  });
}

/**
 * The draft of a person's own question (`is_synthetic = false`, category `ask`; its turn fitness is the
 * person's mark). Throws a TypeError naming the field of invalid input.
 */
export function extractAsk(input: AskInput): Extraction {
  const parsed = AskIn.safeParse(input);
  if (!parsed.success) throw new TypeError(`Cannot store the question: ${issueLine("ask", parsed.error)}`);
  const a = parsed.data;
  const queries = a.queries.map((q) => ({ ...q, ok: q.ok ?? q.error === undefined }));
  const calls = queries.map((q) => ({ name: q.tool, ok: q.ok && !q.refused, result: q.result }));
  const k = extractQueries(
    calls,
    queries.map((q, i) => ({ ...q, call: i })),
    (i) => queryFitness({ ...queries[i], tool: queries[i].tool as "dbRead" }, 200).fitness,
  );
  const counts = { failed: k.failed, verification: k.verification };
  if (!k.queries.length) return counts;
  return {
    ...counts,
    draft: {
      task: a.question,
      role: a.role,
      category: "ask",
      level: null,
      ...fromKept(k),
      answerShape: a.answerShape ?? null,
      turnFitness: a.pass ? 1 : 0,
      isSynthetic: false,
      turnPass: a.pass === true,
      markedPass: a.pass ?? null,
      contaminated: false,
      runId: a.runId ?? "ask",
      episodeId: null,
      strategyId: null,
      modelName: a.model?.name ?? null,
      modelId: a.model?.id ?? null,
      challengeId: null,
      family: null,
      split: null,
      orgId: a.orgId ?? null,
    },
  };
}
