/**
 * The one Example shape curation works on, made from any source — a tournament episode, a pattern, or a person's
 * own question (a pattern with `is_synthetic = false`) — and its conversation as OpenAI chat messages.
 *
 * An example keeps what curation needs (intent, SQL key, quality signals, lineage) and the raw material of its
 * conversation (an episode's messages, a pattern's queries); the wire messages are rendered only for the
 * examples that get exported ({@linkcode exampleMessages}).
 * @module
 */
import type { EpisodeRecord } from "../agents/mod.ts";
import type { ChatMessage } from "../models/mod.ts";
import { isVerificationQuery, normalizeIntent, type Pattern, usedPatterns } from "../patterns/mod.ts";
import { canonicalSql } from "../util/mod.ts";

/** Where an example comes from: a tournament episode, a pattern, or a person's own question. */
export type SourceKind = "episode" | "pattern" | "ask";

/** One successful statement of an example, in order. */
export interface ExampleCall {
  tool: "dbRead" | "dbWrite";
  sql: string;
  /** The stored result summary (patterns). */
  summary?: string;
}

/** Where an example was made: the run, episode, pattern, strategy and model behind it (null where none). */
export interface ExampleProvenance {
  runId: string | null;
  episodeId: string | null;
  patternId: string | null;
  strategyId: string | null;
  model: string | null;
  /** False for a person's own question (seed 000 ranks these first within a tier). */
  synthetic: boolean;
  /** A person wrote or confirmed this answer (a confirmed correction, lab/use): gold whatever its score. */
  humanValidated?: boolean;
}

/**
 * One candidate training example, whatever its source.
 * @internal
 */
export interface Example extends ExampleProvenance {
  /** `episode:<run>/<episode id>`, `pattern:<id>` or `ask:<id>`. */
  id: string;
  source: SourceKind;
  /** The request as asked. */
  task: string;
  /** The request with values as typed placeholders (`normalizeIntent`). */
  normalizedIntent: string;
  role: string;
  category: string;
  level: number | null;
  /** The outcome type (`number`, `table`, `action`…), null when unknown. */
  outcome: string | null;
  family: string | null;
  split: string | null;
  challengeId: string | null;
  contaminated: boolean;
  /** The turn passed (a verified pass, or a person's mark "right"). */
  pass: boolean;
  /** A person's judgement: true right, false wrong, null none. */
  markedPass: boolean | null;
  /** Composite fitness. */
  fitness: number;
  /** The verifier's score; null without a verifier (a person's own question). */
  verifierScore: number | null;
  /** Patterns were injected and the successful SQL reused one. */
  patternUsed: boolean;
  /** Merged observations of the same intent and SQL. */
  support: number;
  /** The successful statements as `<tool>: <canonical SQL>` lines (the pattern store's key). */
  sqlKey: string;
  calls: ExampleCall[];
  /** The whole conversation, system prompt first (episodes); patterns build theirs from `calls`. */
  messages?: ChatMessage[];
  /** Tasks of the examples injected into an episode's prompt (checked for leakage too). */
  injectedTasks?: string[];
}

/** An OpenAI chat tool call. */
export interface WireToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** An OpenAI chat message as fine-tuning files hold it. */
export interface WireMessage {
  role: "system" | "user" | "assistant" | "tool";
  content: string | null;
  tool_calls?: WireToolCall[];
  tool_call_id?: string;
}

const normalized = new Map<string, string>();
/** normalizeIntent, cached per text (episodes of one instance repeat their task). */
function normalizeCached(task: string): string {
  let n = normalized.get(task);
  if (n === undefined) {
    if (normalized.size > 100_000) normalized.clear();
    normalized.set(task, n = normalizeIntent(task));
  }
  return n;
}

/**
 * The successful statements of an episode as the pattern store keeps them: failed, refused and erroring ones
 * dropped, verification wrappers and verbatim repeats of reads dropped; with the `<tool>: <canonical>` key.
 */
function keptCalls(record: EpisodeRecord): { calls: ExampleCall[]; sqlKey: string } {
  const calls: ExampleCall[] = [];
  const keys: string[] = [];
  const lines: string[] = [];
  for (const q of record.queries) {
    const call = record.toolCalls[q.call];
    if (!q.ok || q.refused || q.error !== undefined || call?.ok === false) continue;
    if (q.tool !== "dbRead" && q.tool !== "dbWrite") continue;
    const key = canonicalSql(q.sql);
    if (q.tool === "dbRead" && (isVerificationQuery(key, keys) || keys.includes(key))) continue;
    keys.push(key);
    calls.push({ tool: q.tool, sql: q.sql });
    lines.push(`${q.tool}: ${key}`);
  }
  return { calls, sqlKey: lines.join("\n") };
}

/**
 * A tournament episode as an example (passing or not: failed ones serve only as the rejected side of DPO pairs),
 * with the run it belongs to and its episode id (lineage).
 *
 * @example
 * ```ts
 * const ex = episodeExample(record, { runId: "t-1", episodeId: "g0/alpha/…" });
 * ```
 */
export function episodeExample(record: EpisodeRecord, keys: { runId: string; episodeId: string }): Example {
  const { calls, sqlKey } = keptCalls(record);
  const injected = record.injected ?? [];
  return {
    id: `episode:${keys.runId}/${keys.episodeId}`,
    source: "episode",
    task: record.task,
    normalizedIntent: normalizeCached(record.task),
    role: record.role,
    category: record.challenge.category,
    level: record.challenge.level,
    outcome: record.challenge.outcome || null,
    family: record.challenge.family,
    split: record.challenge.split,
    challengeId: record.challengeId,
    contaminated: record.challenge.split !== "train",
    runId: keys.runId,
    episodeId: keys.episodeId,
    patternId: null,
    strategyId: record.strategyId,
    model: record.model.name,
    synthetic: true,
    pass: record.verdict.pass,
    markedPass: null,
    fitness: record.fitness.composite,
    verifierScore: record.verdict.score,
    patternUsed: injected.length > 0 && usedPatterns(injected, record.queries).length > 0,
    support: 1,
    sqlKey,
    calls,
    messages: record.messages,
    ...(injected.length ? { injectedTasks: injected.map((e) => e.task) } : {}),
  };
}

/**
 * A stored pattern as an example: a person's own question (`isSynthetic = false`) becomes an `ask` example
 * (human-validated when marked right; no verifier), a tournament pattern a `pattern` example (its pass was a
 * verifier's, score 1).
 *
 * @example
 * ```ts
 * const examples = (await store.list({}, { limit: 1000 })).map(patternExample);
 * ```
 */
export function patternExample(p: Pattern): Example {
  const pass = p.turnPass && p.markedPass !== false;
  return {
    id: `${p.isSynthetic ? "pattern" : "ask"}:${p.id}`,
    source: p.isSynthetic ? "pattern" : "ask",
    task: p.intent,
    normalizedIntent: p.normalizedIntent,
    role: p.role,
    category: p.category,
    level: p.level,
    outcome: p.answerShape,
    family: p.family,
    split: p.split,
    challengeId: p.challengeId,
    contaminated: p.contaminated,
    runId: p.runId,
    episodeId: p.episodeId,
    patternId: p.id,
    strategyId: p.strategyId,
    model: p.modelName,
    synthetic: p.isSynthetic,
    pass,
    markedPass: p.markedPass,
    fitness: p.compositeFitness,
    verifierScore: p.isSynthetic ? (p.turnPass ? 1 : 0) : null,
    patternUsed: false,
    support: p.support,
    sqlKey: p.sqlKey,
    calls: p.successfulQueries.map((q) => ({ tool: q.tool, sql: q.sql, summary: q.summary })),
  };
}

function wireCall(c: { id: string; name: string; args: Record<string, unknown> }): WireToolCall {
  return { id: c.id, type: "function", function: { name: c.name, arguments: JSON.stringify(c.args ?? {}) } };
}

/**
 * An example's conversation as OpenAI chat messages. An episode's are its own (tool calls no tool message answers
 * — the calls after a successful submitAnswer, or past the step cap — are left out, and an assistant message left
 * with neither text nor calls goes with them); a pattern's are built from its queries: the system prompt
 * (`{role}` filled in), the request, then per statement an assistant tool call and its result summary.
 */
export function exampleMessages(example: Example, systemPrompt: string): WireMessage[] {
  if (example.messages) {
    const answered = new Set(example.messages.flatMap((m) => (m.role === "tool" && m.toolCallId ? [m.toolCallId] : [])));
    const out: WireMessage[] = [];
    for (const m of example.messages) {
      if (m.role === "assistant") {
        const calls = (m.toolCalls ?? []).filter((c) => answered.has(c.id));
        const content = m.content ?? null;
        if (!calls.length && (content === null || content === "")) continue;
        out.push({ role: "assistant", content, ...(calls.length ? { tool_calls: calls.map(wireCall) } : {}) });
      } else if (m.role === "tool") {
        out.push({ role: "tool", content: m.content ?? "", tool_call_id: m.toolCallId ?? "" });
      } else out.push({ role: m.role, content: m.content ?? "" });
    }
    return out;
  }
  const out: WireMessage[] = [
    { role: "system", content: systemPrompt.replaceAll("{role}", example.role) },
    { role: "user", content: example.task },
  ];
  example.calls.forEach((c, k) => {
    const id = `call_${k}`;
    const args = c.tool === "dbWrite" ? { sql: c.sql, confirm: true } : { sql: c.sql };
    out.push({ role: "assistant", content: null, tool_calls: [wireCall({ id, name: c.tool, args })] });
    out.push({ role: "tool", tool_call_id: id, content: JSON.stringify({ ok: true, summary: c.summary ?? "" }) });
  });
  return out;
}
