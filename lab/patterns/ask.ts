/**
 * Real use (seed 000's `onFinish` capture): the agent answers a person's own question against the sandbox, and
 * what it ran is stored as a pattern with `is_synthetic = false`. There is no verifier for such a question, so
 * the episode's verdict says "unverified" and the pattern only becomes eligible for retrieval once the person
 * marks the answer right ({@linkcode PatternStore.mark}, or `pass` up front).
 * @module
 */
import type { Challenge, Category, Level, Split, Verdict } from "../challenges/mod.ts";
import {
  type EpisodeRecord,
  type PatternSource,
  runEpisode,
  type ExampleRenderer,
  type Strategy,
} from "../agents/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import { fnv1a } from "../util/mod.ts";
import type { AddReport, PatternStore } from "./store.ts";

/**
 * Options for {@linkcode askQuestion}.
 * @internal
 */
export interface AskOptions {
  model: ChatModel;
  pool: SandboxPool;
  strategy: Strategy;
  /** The role the agent acts as (its permissions). @default "analyst" */
  role?: string;
  /** The tenant to ask about. @default 1 */
  orgId?: number;
  /** Stores the answer's successful queries as a pattern (is_synthetic = false). @default not stored */
  store?: PatternStore;
  /** Examples to inject (e.g. a PatternRetriever's source). @default none */
  patterns?: PatternSource;
  renderExamples?: ExampleRenderer;
  /** The person's judgement, when known now; otherwise mark it later. @default not judged */
  pass?: boolean;
  /** @default 1 */
  seed?: number;
  signal?: AbortSignal;
}

/**
 * What {@linkcode askQuestion} returns.
 * @internal
 */
export interface AskResult {
  /** The full episode (its verdict is "unverified"). */
  record: EpisodeRecord;
  /** The submitted answer, if any. */
  answer: unknown;
  /** The stored pattern's id (undefined when nothing was stored: no store, or no successful query). */
  patternId?: string;
  report?: AddReport;
}

const UNVERIFIED: Verdict = {
  pass: false,
  score: 0,
  reason: "unverified: a person's own question has no verifier; mark the answer right or wrong",
};

/** The task a person asks, shaped as the runner's challenge (the model sees only task, role and as-of date). */
function adHocChallenge(question: string, role: string, orgId: number): Challenge {
  return {
    id: `ask/${fnv1a(`${role}\u0000${question}`).toString(16)}/o${orgId}`,
    family: "ask",
    // No level, category or split applies; these placeholders never reach the prompt.
    level: 1 as Level,
    category: "ask" as Category,
    role,
    task: question,
    outcome: "table",
    split: "ask" as Split,
    orgId,
    templateIndex: 0,
    template: question,
    features: [],
    templateOrigin: "original",
    params: {},
    verifier: { type: "table" } as unknown as Challenge["verifier"],
    optimalSteps: undefined,
    source: "ask",
  };
}

/**
 * Runs the agent on a person's question and (with `store`) keeps what worked.
 *
 * @example
 * ```ts
 * await using store = await PatternStore.open(DEFAULT_PATTERNS_PATH);
 * const r = await askQuestion("Which customers owe us the most?", { model, pool, strategy, store });
 * console.log(r.answer, r.patternId);
 * if (r.patternId) await store.mark(r.patternId, { turnPass: true }); // the person checked it
 * ```
 */
export async function askQuestion(question: string, options: AskOptions): Promise<AskResult> {
  if (typeof question !== "string" || !question.trim()) throw new TypeError("askQuestion: the question is empty; ask something");
  const role = options.role ?? "analyst";
  const orgId = options.orgId ?? 1;
  const record = await runEpisode(
    { challenge: adHocChallenge(question.trim(), role, orgId), strategy: options.strategy, model: options.model, attempt: 0, seed: options.seed ?? 1 },
    {
      pool: options.pool,
      verify: () => Promise.resolve(UNVERIFIED),
      ...(options.patterns ? { patterns: options.patterns } : {}),
      ...(options.renderExamples ? { renderExamples: options.renderExamples } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
  );
  const answer = record.answer?.answer ?? null;
  if (!options.store) return { record, answer };
  const { id, report } = await options.store.addAsk({
    question: question.trim(),
    role,
    queries: record.queries.map((q) => ({
      tool: q.tool,
      sql: q.sql,
      ok: q.ok,
      ...(q.refused ? { refused: true } : {}),
      ...(q.error !== undefined ? { error: q.error } : {}),
      ...(q.rowCount !== undefined ? { rowCount: q.rowCount } : {}),
      ms: q.ms,
      ...(record.toolCalls[q.call]?.result ? { result: record.toolCalls[q.call].result } : {}),
    })),
    ...(options.pass !== undefined ? { pass: options.pass } : {}),
    orgId,
    model: record.model,
  });
  return { record, answer, ...(id ? { patternId: id } : {}), report };
}
