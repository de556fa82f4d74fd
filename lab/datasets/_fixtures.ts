/**
 * Planted fixtures of the datasets tests and bench: episode records on catalog instances (with their messages,
 * tool calls, queries, verdict and fitness), examples with chosen fields, and canary PII and secrets.
 * @module
 */
import type { EpisodeRecord, InjectedExample } from "../agents/mod.ts";
import type { Challenge } from "../challenges/mod.ts";
import type { ChatMessage } from "../models/mod.ts";
import type { Example } from "./example.ts";

/** Planted personal data and secrets; none may survive an export. */
export const CANARIES = {
  email: "jane.roe@example.com",
  phone: "+44 20 7946 0958",
  usPhone: "(415) 555-0132",
  iban: "DE89 3704 0044 0532 0130 00",
  apiKey: "sk-proj-4f9Qx2LmT8vB1nR7cW3yZ6pKa0",
  awsKey: "AKIAIOSFODNN7EXAMPLE",
  userHash: "5f4dcc3b5aa765d61d8327deb882cf99",
  name: "Maria Schmidt",
  listedName: "Quentin Vasquez-Oyelaran",
} as const;

/** What an episode fixture may vary. */
export interface RecordSpec {
  strategy?: string;
  model?: string;
  attempt?: number;
  pass?: boolean;
  /** @default 1 when passing, else 0.4 */
  score?: number;
  /** @default 0.9 when passing, else 0.2 */
  composite?: number;
  /** Statements run, in order. @default one count over invoices */
  sql?: string[];
  /** Rows every dbRead returns. */
  rows?: Record<string, unknown>[];
  /** Text of the final assistant message (beside its submitAnswer call). */
  text?: string;
  injected?: InjectedExample[];
  /** Override the challenge's split as recorded (a mislabelled record). */
  split?: string;
}

/** An episode record of `c`: system prompt, task, one dbRead per statement, then submitAnswer. */
export function record(c: Challenge, spec: RecordSpec = {}): EpisodeRecord {
  const pass = spec.pass ?? true;
  const sqls = spec.sql ?? ["SELECT count(*) AS n FROM invoices"];
  const rows = spec.rows ?? [{ n: 42 }];
  const messages: ChatMessage[] = [
    { role: "system", content: `You are an ERP agent.\nYour role: ${c.role}.\nAs-of date (today): 2025-11-28.` },
    { role: "user", content: c.task },
  ];
  const toolCalls: EpisodeRecord["toolCalls"] = [];
  const queries: EpisodeRecord["queries"] = [];
  sqls.forEach((sql, k) => {
    const id = `call_${k}`;
    const result = { ok: true, columns: Object.keys(rows[0] ?? {}), rows, rowCount: rows.length, truncated: false };
    messages.push({ role: "assistant", content: null, toolCalls: [{ id, name: "dbRead", args: { sql } }] });
    messages.push({ role: "tool", toolCallId: id, content: JSON.stringify(result) });
    toolCalls.push({ step: k, id, name: "dbRead", args: { sql }, ok: true, result, ms: 1 });
    queries.push({ tool: "dbRead", sql, ok: true, rowCount: rows.length, ms: 1, call: k });
  });
  const sid = `call_${sqls.length}`;
  messages.push({ role: "assistant", content: spec.text ?? null, toolCalls: [{ id: sid, name: "submitAnswer", args: { answer: 42 } }] });
  messages.push({ role: "tool", toolCallId: sid, content: JSON.stringify({ ok: true }) });
  toolCalls.push({ step: sqls.length, id: sid, name: "submitAnswer", args: { answer: 42 }, ok: true, result: { ok: true }, ms: 1 });
  const score = spec.score ?? (pass ? 1 : 0.4);
  const composite = spec.composite ?? (pass ? 0.9 : 0.2);
  const strategy = spec.strategy ?? "alpha";
  const model = spec.model ?? "lab-mini";
  const attempt = spec.attempt ?? 0;
  return {
    id: `${c.id}#${strategy}#${model}#s1#a${attempt}`,
    challengeId: c.id,
    challenge: {
      family: c.family,
      level: c.level,
      category: c.category,
      outcome: c.outcome,
      split: spec.split ?? c.split,
      orgId: c.orgId,
      optimalSteps: null,
    },
    role: c.role,
    asOf: "2025-11-28",
    task: c.task,
    strategyId: strategy,
    model: { name: model, id: model },
    seed: 1,
    attempt,
    examples: spec.injected?.length ?? 0,
    ...(spec.injected ? { injected: spec.injected } : {}),
    messages,
    steps: [],
    toolCalls,
    queries,
    tokens: { input: 100, output: 20, total: 120 },
    costUsd: 0,
    modelErrors: [],
    answer: { answer: 42 },
    verdict: { pass, score, reason: pass ? "correct" : "wrong number" },
    fitness: {
      composite,
      turn: { fitness: composite, score, stepsEfficiency: 1, tokensEfficiency: 1, safety: 1 },
      queryAverage: composite,
      queries: sqls.map(() => ({ fitness: composite, ok: true, usesViews: false, rowsEfficiency: 1 })),
    },
    stopReason: "submitted",
    stopDetail: "the model submitted an answer",
    startedAt: "2025-11-28T00:00:00.000Z",
    latencyMs: 5,
    modelLatencyMs: 3,
  };
}

/** An example with chosen fields (defaults: a passing, verified train pattern of a level-1 finance family). */
export function example(fields: Partial<Example> & Pick<Example, "id">): Example {
  return {
    source: "pattern",
    task: "total revenue last month",
    normalizedIntent: "total revenue <period>",
    role: "cfo",
    category: "finance",
    level: 1,
    outcome: "number",
    family: "fam",
    split: "train",
    challengeId: null,
    contaminated: false,
    runId: "run-1",
    episodeId: null,
    patternId: null,
    strategyId: "alpha",
    model: "lab-mini",
    synthetic: true,
    pass: true,
    markedPass: null,
    fitness: 0.9,
    verifierScore: 1,
    patternUsed: false,
    support: 1,
    sqlKey: "dbRead: select sum(total) from invoices",
    calls: [{ tool: "dbRead", sql: "SELECT sum(total) FROM invoices" }],
    ...fields,
  };
}

/** A catalog instance with chosen fields (for small planted catalogs). */
export function challenge(fields: Partial<Challenge> & Pick<Challenge, "id" | "task" | "split">): Challenge {
  const m = /^(.+?)\/t(\d+)\//.exec(fields.id);
  return {
    family: m?.[1] ?? "fam",
    level: 1,
    category: "finance",
    role: "cfo",
    outcome: "number",
    orgId: 1,
    templateIndex: Number(m?.[2] ?? 0),
    template: fields.task,
    features: [],
    templateOrigin: "original",
    params: {},
    verifier: { kind: "number", sql: "SELECT 1" } as unknown as Challenge["verifier"],
    optimalSteps: undefined,
    source: "planted.yaml",
    ...fields,
  };
}
