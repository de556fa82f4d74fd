/**
 * Corrections (seeds 000 and 004): a person's correction of a `lab ask` answer — the correct answer, the edited SQL,
 * or both — kept beside the asks in the pattern store's DuckDB file (`asks` and `corrections` tables), with its
 * diff ({@linkcode diffCorrection}) and the acceptance rate over asks.
 *
 * - **Asks** are logged as they are answered ({@linkcode recordAsk}: question, role, tenant, strategy, model, the
 *   answer, the SQL that produced it, cost and latency). An ask stored before this log existed is picked up from its
 *   pattern (its answer unknown) when it is corrected.
 * - **A correction** starts `unverified`: nothing checks a person's own question, so it only becomes a training
 *   example once a person confirms it ({@linkcode confirmCorrection}, `lab ask --confirm <id>`). A confirmed
 *   correction with SQL is a gold, human-validated example ({@linkcode correctionExamples}); the datasets module's
 *   leakage guard still decides whether it may go in (a question matching a held-out intent stays out).
 * - **Simulated corrections** ({@linkcode simulateCorrection}, for tests and notebooks) come from `train` tasks
 *   only and carry `simulated = true`; every reader takes real ones only unless asked for simulated ones.
 * - **Acceptance** of an ask: `accepted` (marked right, or corrected to the same SQL and answer), `edited`
 *   (corrected to something else), `rejected` (marked wrong and not corrected), `pending` (no judgement).
 *
 * Each write is one transaction on the pattern store's connection (one DuckDB instance per file).
 * @module
 */
import type { DuckDBConnection } from "@duckdb/node-api";
import type { EpisodeRecord } from "../agents/mod.ts";
import type { Challenge } from "../challenges/mod.ts";
import type { Example } from "../datasets/mod.ts";
import { normalizeIntent, type PatternStore } from "../patterns/mod.ts";
import { canonicalSql, fnv1a, withTransaction } from "../util/mod.ts";
import { answerShape, type CorrectionDiff, diffCorrection, SqlLexError, stableJson, tokenizeSql } from "./diff.ts";

/** DDL of the asks log and the corrections (idempotent). */
const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS asks (
    id VARCHAR PRIMARY KEY,           -- ask-<hex> (real) or sim-<hex> (simulated)
    asked_at TIMESTAMP NOT NULL,      -- UTC
    question VARCHAR NOT NULL,
    role VARCHAR NOT NULL,
    org_id INTEGER,
    strategy_id VARCHAR,
    model_name VARCHAR,
    model_id VARCHAR,
    answer JSON,                      -- the submitted answer (NULL: none, or unknown for an ask logged from its pattern)
    sql VARCHAR,                      -- the last successful statement: the one whose result answered
    queries JSON NOT NULL,            -- every successful statement, in order
    pattern_id VARCHAR,               -- the pattern its queries were kept as (NULL: not stored)
    cost_usd DOUBLE,
    latency_ms DOUBLE,
    simulated BOOLEAN NOT NULL,       -- a simulated use of a train task (tests, notebooks), never a person's
    split VARCHAR,                    -- simulated: 'train'; real: NULL
    challenge_id VARCHAR,
    family VARCHAR,
    category VARCHAR NOT NULL,        -- 'ask' for a person's own question
    level INTEGER
  )`,
  `CREATE TABLE IF NOT EXISTS corrections (
    ask_id VARCHAR PRIMARY KEY,       -- one correction per ask (a new one replaces it, unverified again)
    created_at TIMESTAMP NOT NULL,
    status VARCHAR NOT NULL,          -- 'unverified' until a person confirms it, then 'confirmed'
    confirmed_at TIMESTAMP,
    simulated BOOLEAN NOT NULL,
    original_sql VARCHAR,
    original_answer JSON,
    final_sql VARCHAR,                -- NULL: the SQL was not corrected
    final_answer JSON,                -- NULL with answer_given = false: the answer was not corrected
    answer_given BOOLEAN NOT NULL,
    note VARCHAR,
    diff JSON NOT NULL                -- CorrectionDiff: token runs, fragments, modifications
  )`,
  // A simulated person's accept or reject without a correction (a real person marks the ask's pattern instead).
  "CREATE TABLE IF NOT EXISTS ask_marks (ask_id VARCHAR PRIMARY KEY, pass BOOLEAN NOT NULL)",
];

/** A correction's status: nothing verifies a person's own answer until a person confirms it. */
export type CorrectionStatus = "unverified" | "confirmed";

/** An ask as logged. */
export interface AskEntry {
  id: string;
  /** UTC ISO time. */
  askedAt: string;
  question: string;
  role: string;
  orgId: number | null;
  strategyId: string | null;
  model: string | null;
  modelId: string | null;
  answer: unknown;
  sql: string | null;
  queries: string[];
  patternId: string | null;
  costUsd: number | null;
  latencyMs: number | null;
  simulated: boolean;
  split: string | null;
  challengeId: string | null;
  family: string | null;
  category: string;
  level: number | null;
}

/** A stored correction with the ask it corrects. */
export interface Correction {
  /** The ask's id (one correction per ask). */
  askId: string;
  createdAt: string;
  status: CorrectionStatus;
  confirmedAt: string | null;
  simulated: boolean;
  originalSql: string | null;
  originalAnswer: unknown;
  /** The corrected SQL (null: not corrected). */
  finalSql: string | null;
  /** The corrected answer (undefined: not corrected). */
  finalAnswer?: unknown;
  note: string | null;
  diff: CorrectionDiff;
  ask: AskEntry;
}

/** What a person corrects: the answer, the SQL, or both, with a note. */
export interface CorrectionInput {
  /** The correct answer (any JSON value, `null` included). */
  answer?: unknown;
  /** The correct SQL (one statement; it is stored and diffed, never run). */
  sql?: string;
  note?: string;
}

/** The input of {@linkcode recordAsk}: the question and what the agent did (an {@linkcode EpisodeRecord}'s fields). */
export interface RecordAskInput {
  question: string;
  role: string;
  orgId?: number;
  /** The answer the agent submitted (null: none). */
  answer: unknown;
  /** The episode (its strategy, model, queries, cost, latency). */
  record: Pick<EpisodeRecord, "strategyId" | "model" | "queries" | "costUsd" | "latencyMs">;
  /** The pattern its queries were kept as. */
  patternId?: string;
  /** @default now */
  askedAt?: Date;
}

const utc = (d: Date) => d.toISOString().replace("T", " ").replace("Z", "");
const iso = (v: unknown) => (v === null || v === undefined ? null : `${String(v).replace(" ", "T")}${String(v).endsWith("Z") ? "" : "Z"}`);
const parseJson = (v: unknown): unknown => (v === null || v === undefined ? null : JSON.parse(String(v)));

const prepared = new WeakSet<PatternStore>();

/** Runs `fn` on the store's connection, with the tables created (and in one transaction when `write`). */
async function onStore<T>(store: PatternStore, fn: (con: DuckDBConnection) => Promise<T>, write = false): Promise<T> {
  return await store.withConnection(async (con) => {
    if (!prepared.has(store)) {
      for (const ddl of SCHEMA) await con.run(ddl);
      prepared.add(store);
    }
    return write ? await withTransaction(con, () => fn(con)) : await fn(con);
  });
}

/** The successful statements of an episode, in order, and the last one (the one whose result answered). */
function successfulSql(queries: EpisodeRecord["queries"]): { sql: string | null; queries: string[] } {
  const ok = queries.filter((q) => q.ok && !q.refused && q.error === undefined && (q.tool === "dbRead" || q.tool === "dbWrite"));
  return { sql: ok.length ? ok[ok.length - 1].sql : null, queries: ok.map((q) => q.sql) };
}

async function insertAsk(con: DuckDBConnection, a: AskEntry): Promise<void> {
  await con.run(
    `INSERT INTO asks VALUES ($1, $2::TIMESTAMP, $3, $4, $5, $6, $7, $8, $9::JSON, $10, $11::JSON, $12, $13, $14, $15, $16, $17, $18, $19, $20)`,
    [
      a.id, utc(new Date(a.askedAt)), a.question, a.role, a.orgId, a.strategyId, a.model, a.modelId,
      a.answer === undefined ? null : stableJson(a.answer), a.sql, JSON.stringify(a.queries), a.patternId, a.costUsd,
      a.latencyMs, a.simulated, a.split, a.challengeId, a.family, a.category, a.level,
    ],
  );
}

function askFromRow(r: Record<string, unknown>): AskEntry {
  return {
    id: String(r.id),
    askedAt: iso(r.asked_at)!,
    question: String(r.question),
    role: String(r.role),
    orgId: r.org_id === null ? null : Number(r.org_id),
    strategyId: (r.strategy_id as string | null) ?? null,
    model: (r.model_name as string | null) ?? null,
    modelId: (r.model_id as string | null) ?? null,
    answer: parseJson(r.answer),
    sql: (r.sql as string | null) ?? null,
    queries: parseJson(r.queries) as string[],
    patternId: (r.pattern_id as string | null) ?? null,
    costUsd: r.cost_usd === null ? null : Number(r.cost_usd),
    latencyMs: r.latency_ms === null ? null : Number(r.latency_ms),
    simulated: Boolean(r.simulated),
    split: (r.split as string | null) ?? null,
    challengeId: (r.challenge_id as string | null) ?? null,
    family: (r.family as string | null) ?? null,
    category: String(r.category),
    level: r.level === null ? null : Number(r.level),
  };
}

function askInput(input: RecordAskInput): AskEntry {
  if (typeof input?.question !== "string" || !input.question.trim()) throw new TypeError("recordAsk: the question is empty");
  if (typeof input.role !== "string" || !input.role) throw new TypeError("recordAsk: role must be a non-empty string");
  const { sql, queries } = successfulSql(input.record.queries);
  const askedAt = input.askedAt ?? new Date();
  return {
    id: `ask-${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
    askedAt: askedAt.toISOString(),
    question: input.question.trim(),
    role: input.role,
    orgId: input.orgId ?? null,
    strategyId: input.record.strategyId,
    model: input.record.model.name,
    modelId: input.record.model.id,
    answer: input.answer ?? null,
    sql,
    queries,
    patternId: input.patternId ?? null,
    costUsd: input.record.costUsd,
    latencyMs: input.record.latencyMs,
    simulated: false,
    split: null,
    challengeId: null,
    family: null,
    category: "ask",
    level: null,
  };
}

/**
 * Logs a person's ask as the agent answered it (see the module doc). Returns the entry; its id is what
 * `lab ask --correct <id>` takes.
 *
 * @example
 * ```ts
 * const r = await askQuestion(question, { model, pool, strategy, store });
 * const ask = await recordAsk(store, { question, role: "analyst", answer: r.answer, record: r.record, patternId: r.patternId });
 * ```
 */
export async function recordAsk(store: PatternStore, input: RecordAskInput): Promise<AskEntry> {
  const entry = askInput(input);
  await onStore(store, (con) => insertAsk(con, entry), true);
  return entry;
}

/** Checks a correction's input; a problem is a one-line RangeError naming the field. */
function checkInput(input: CorrectionInput): void {
  if (input === null || typeof input !== "object") throw new TypeError("correction: pass { answer?, sql?, note? }");
  const hasAnswer = "answer" in input && input.answer !== undefined;
  if (!hasAnswer && input.sql === undefined) {
    throw new RangeError("correction: give the correct answer (--answer <json>), the corrected SQL (--sql <file>), or both");
  }
  if (input.sql !== undefined) {
    if (typeof input.sql !== "string" || !input.sql.trim()) throw new RangeError("correction: the corrected SQL is empty; give one statement");
    try {
      const toks = tokenizeSql(input.sql);
      if (!toks.some((t) => t.text !== ";")) throw new SqlLexError("it has no statement");
      const semis = toks.findIndex((t) => t.text === ";");
      if (semis >= 0 && toks.slice(semis).some((t) => t.text !== ";")) throw new SqlLexError("it holds more than one statement; give one");
    } catch (e) {
      if (e instanceof SqlLexError) throw new RangeError(`correction: the corrected SQL cannot be read: ${e.message}`);
      throw e;
    }
  }
  if (input.note !== undefined && typeof input.note !== "string") throw new TypeError("correction: note must be a string");
}

/** The ask with id `id` (an ask id, or the id of an asked pattern: its latest ask, or one logged from the pattern). */
async function resolveAsk(con: DuckDBConnection, store: PatternStore, id: string): Promise<AskEntry> {
  const rows = (await con.runAndReadAll(
    "SELECT * FROM asks WHERE id = $1 OR pattern_id = $1 ORDER BY (id = $1) DESC, asked_at DESC, id LIMIT 1",
    [id],
  )).getRowObjectsJson();
  if (rows.length) return askFromRow(rows[0] as Record<string, unknown>);
  const p = (await con.runAndReadAll(
    `SELECT intent, role, org_id, model_name, model_id, successful_queries::VARCHAR AS q, created_at
     FROM turn_memories WHERE id = $1 AND NOT is_synthetic`,
    [id],
  )).getRowObjectsJson()[0] as Record<string, unknown> | undefined;
  if (!p) {
    throw new RangeError(`no ask or asked pattern with id '${id}' in ${store.path}; 'lab ask' prints the id of each answer`);
  }
  // An ask stored before the log existed: its SQL is its pattern's, its answer unknown.
  const queries = (JSON.parse(String(p.q)) as { sql: string }[]).map((q) => q.sql);
  const entry: AskEntry = {
    id: `ask-${fnv1a(`pattern\u0000${id}`).toString(16).padStart(8, "0")}`,
    askedAt: iso(p.created_at)!,
    question: String(p.intent),
    role: String(p.role),
    orgId: p.org_id === null ? null : Number(p.org_id),
    strategyId: null,
    model: (p.model_name as string | null) ?? null,
    modelId: (p.model_id as string | null) ?? null,
    answer: null,
    sql: queries.length ? queries[queries.length - 1] : null,
    queries,
    patternId: id,
    costUsd: null,
    latencyMs: null,
    simulated: false,
    split: null,
    challengeId: null,
    family: null,
    category: "ask",
    level: null,
  };
  await insertAsk(con, entry);
  return entry;
}

async function upsertCorrection(con: DuckDBConnection, ask: AskEntry, input: CorrectionInput, confirm: boolean, now: Date): Promise<void> {
  const answerGiven = "answer" in input && input.answer !== undefined;
  const diff = diffCorrection({
    originalSql: ask.sql,
    finalSql: input.sql ?? ask.sql,
    originalAnswer: ask.answer,
    finalAnswer: answerGiven ? input.answer : ask.answer,
  });
  await con.run("DELETE FROM corrections WHERE ask_id = $1", [ask.id]);
  await con.run(
    `INSERT INTO corrections VALUES ($1, $2::TIMESTAMP, $3, $4::TIMESTAMP, $5, $6, $7::JSON, $8, $9::JSON, $10, $11, $12::JSON)`,
    [
      ask.id, utc(now), confirm ? "confirmed" : "unverified", confirm ? utc(now) : null, ask.simulated, ask.sql,
      stableJson(ask.answer), input.sql ?? null, answerGiven ? stableJson(input.answer) : null, answerGiven,
      input.note ?? null, JSON.stringify(diff),
    ],
  );
}

const CORRECTION_SELECT = `SELECT c.*, c.diff::VARCHAR AS diff_text, c.original_answer::VARCHAR AS oa, c.final_answer::VARCHAR AS fa,
  a.id, a.asked_at, a.question, a.role, a.org_id, a.strategy_id, a.model_name, a.model_id, a.answer::VARCHAR AS answer,
  a.sql, a.queries::VARCHAR AS queries, a.pattern_id, a.cost_usd, a.latency_ms, a.simulated AS ask_simulated, a.split,
  a.challenge_id, a.family, a.category, a.level
  FROM corrections c JOIN asks a ON a.id = c.ask_id`;

function correctionFromRow(r: Record<string, unknown>): Correction {
  return {
    askId: String(r.ask_id),
    createdAt: iso(r.created_at)!,
    status: r.status as CorrectionStatus,
    confirmedAt: iso(r.confirmed_at),
    simulated: Boolean(r.simulated),
    originalSql: (r.original_sql as string | null) ?? null,
    originalAnswer: parseJson(r.oa),
    finalSql: (r.final_sql as string | null) ?? null,
    ...(r.answer_given ? { finalAnswer: parseJson(r.fa) } : {}),
    note: (r.note as string | null) ?? null,
    diff: JSON.parse(String(r.diff_text)) as CorrectionDiff,
    ask: askFromRow(r),
  };
}

async function readCorrection(con: DuckDBConnection, askId: string): Promise<Correction> {
  const rows = (await con.runAndReadAll(`${CORRECTION_SELECT} WHERE c.ask_id = $1`, [askId])).getRowObjectsJson();
  return correctionFromRow(rows[0] as Record<string, unknown>);
}

/** Options of {@linkcode correctAsk}. */
export interface CorrectOptions {
  /** The person confirms it now (it is a training example at once). @default false: "unverified" */
  confirm?: boolean;
  /** @default now */
  now?: Date;
}

/**
 * Stores a person's correction of an ask (`id`: the ask's id, or its pattern's id as `lab ask` printed it) in one
 * transaction, replacing an earlier correction of the same ask. Returns it with its diff. Bad input (neither an
 * answer nor SQL, SQL that cannot be read, more than one statement) or an unknown id is a one-line RangeError and
 * nothing is written.
 *
 * @example
 * ```ts
 * const c = await correctAsk(store, "ask-1a2b3c4d5e6f7a8b", { sql: "SELECT sum(total) FROM invoices WHERE status = 'open'" });
 * console.log(c.status, c.diff.modifications); // "unverified", [{ kind: "filter", change: "added", value: "status = 'open'" }, …]
 * ```
 */
export async function correctAsk(store: PatternStore, id: string, input: CorrectionInput, options: CorrectOptions = {}): Promise<Correction> {
  if (typeof id !== "string" || !id) throw new TypeError("correctAsk: id must be an ask id or a pattern id");
  checkInput(input);
  return await onStore(store, async (con) => {
    const ask = await resolveAsk(con, store, id);
    await upsertCorrection(con, ask, input, options.confirm === true, options.now ?? new Date());
    return await readCorrection(con, ask.id);
  }, true);
}

/**
 * A person confirms a correction (`id`: the ask's id or its pattern's): from now on it is a gold, human-validated
 * training example. Idempotent. An id without a correction is a one-line RangeError.
 *
 * @example
 * ```ts
 * await confirmCorrection(store, c.askId);
 * ```
 */
export async function confirmCorrection(store: PatternStore, id: string, options: { now?: Date } = {}): Promise<Correction> {
  if (typeof id !== "string" || !id) throw new TypeError("confirmCorrection: id must be an ask id or a pattern id");
  return await onStore(store, async (con) => {
    const rows = (await con.runAndReadAll(
      `SELECT c.ask_id FROM corrections c JOIN asks a ON a.id = c.ask_id WHERE c.ask_id = $1 OR a.pattern_id = $1
       ORDER BY (c.ask_id = $1) DESC, a.asked_at DESC LIMIT 1`,
      [id],
    )).getRowObjectsJson();
    if (!rows.length) {
      throw new RangeError(`no correction of '${id}' in ${store.path}; correct it first: lab ask --correct ${id} --sql <file> | --answer <json>`);
    }
    const askId = String(rows[0].ask_id);
    await con.run(
      "UPDATE corrections SET status = 'confirmed', confirmed_at = COALESCE(confirmed_at, $2::TIMESTAMP) WHERE ask_id = $1",
      [askId, utc(options.now ?? new Date())],
    );
    return await readCorrection(con, askId);
  }, true);
}

/** The input of {@linkcode simulateCorrection}: a `train` task, the agent's episode on it, and the correction. */
export interface SimulatedCorrectionInput extends CorrectionInput {
  /** The task (its split must be `train`). */
  challenge: Pick<Challenge, "id" | "task" | "role" | "split" | "family" | "category" | "level" | "orgId">;
  /** The agent's episode on it (its answer and SQL are the original side). */
  record: Pick<EpisodeRecord, "id" | "strategyId" | "model" | "queries" | "costUsd" | "latencyMs" | "answer">;
  /** The simulated person confirms it. @default false */
  confirm?: boolean;
  /** When the simulated ask happened (a notebook moves the clock day by day). @default now */
  at?: Date;
  /** The simulated person accepts or rejects without correcting (then `answer`/`sql` are not given). */
  verdict?: "accepted" | "rejected";
}

/**
 * A simulated use: logs the episode as an ask (`simulated = true`) and, unless `verdict` says the simulated person
 * only accepted or rejected it, its correction — in one transaction. Only `train` tasks may be simulated (a
 * RangeError otherwise), so nothing held out ever enters through a simulation. The ask's id is derived from the
 * episode's, so simulating the same episode again is refused.
 *
 * @example
 * ```ts
 * await simulateCorrection(store, { challenge, record, sql: referenceSql, confirm: true });
 * ```
 */
export async function simulateCorrection(store: PatternStore, input: SimulatedCorrectionInput): Promise<AskEntry & { correction?: Correction }> {
  const ch = input.challenge;
  if (ch?.split !== "train") {
    throw new RangeError(`simulateCorrection: '${ch?.id}' is a ${ch?.split} task; simulated corrections come from train tasks only`);
  }
  if (input.verdict === undefined) checkInput(input);
  else if (input.sql !== undefined || input.answer !== undefined) {
    throw new RangeError("simulateCorrection: a verdict ('accepted' | 'rejected') takes no answer or SQL; give one or the other");
  }
  const { sql, queries } = successfulSql(input.record.queries);
  const at = input.at ?? new Date();
  const entry: AskEntry = {
    id: `sim-${fnv1a(input.record.id).toString(16).padStart(8, "0")}${fnv1a(input.record.id, 0x9e3779b9).toString(16).padStart(8, "0")}`,
    askedAt: at.toISOString(),
    question: ch.task,
    role: ch.role,
    orgId: ch.orgId,
    strategyId: input.record.strategyId,
    model: input.record.model.name,
    modelId: input.record.model.id,
    answer: input.record.answer?.answer ?? null,
    sql,
    queries,
    patternId: null,
    costUsd: input.record.costUsd,
    latencyMs: input.record.latencyMs,
    simulated: true,
    split: "train",
    challengeId: ch.id,
    family: ch.family,
    category: ch.category,
    level: ch.level,
  };
  return await onStore(store, async (con) => {
    const exists = (await con.runAndReadAll("SELECT 1 FROM asks WHERE id = $1", [entry.id])).getRows().length > 0;
    if (exists) throw new RangeError(`simulateCorrection: episode '${input.record.id}' was simulated before (ask ${entry.id})`);
    await insertAsk(con, entry);
    if (input.verdict !== undefined) {
      await con.run("INSERT INTO ask_marks VALUES ($1, $2)", [entry.id, input.verdict === "accepted"]);
      return entry;
    }
    await upsertCorrection(con, entry, input, input.confirm === true, at);
    return { ...entry, correction: await readCorrection(con, entry.id) };
  }, true);
}

/** Which corrections or asks a reader takes: real ones (default), simulated ones, or both (labelled). */
export type SimulatedFilter = "real" | "simulated" | "all";

const simulatedWhere = (alias: string, f: SimulatedFilter = "real") =>
  f === "all" ? "TRUE" : f === "simulated" ? `${alias}.simulated` : `NOT ${alias}.simulated`;

/** Options of {@linkcode listCorrections}. */
export interface ListCorrectionsOptions {
  /** @default "real" */
  simulated?: SimulatedFilter;
  status?: CorrectionStatus;
}

/**
 * The stored corrections, oldest first (real ones only unless `simulated` says otherwise).
 *
 * @example
 * ```ts
 * const unverified = await listCorrections(store, { status: "unverified" });
 * ```
 */
export async function listCorrections(store: PatternStore, options: ListCorrectionsOptions = {}): Promise<Correction[]> {
  return await onStore(store, async (con) =>
    (await con.runAndReadAll(
      `${CORRECTION_SELECT} WHERE ${simulatedWhere("c", options.simulated)} AND ($1::VARCHAR IS NULL OR c.status = $1)
       ORDER BY a.asked_at, c.ask_id`,
      [options.status ?? null],
    )).getRowObjectsJson().map((r) => correctionFromRow(r as Record<string, unknown>))
  );
}

/** How a person received an ask. */
export type AskOutcome = "accepted" | "edited" | "rejected" | "pending";

/** An ask with how it was received (for acceptance rates and analytics by time, strategy, model). */
export interface AskOutcomeRow {
  askId: string;
  askedAt: string;
  strategyId: string | null;
  model: string | null;
  category: string;
  level: number | null;
  simulated: boolean;
  costUsd: number | null;
  latencyMs: number | null;
  outcome: AskOutcome;
}

/**
 * Every logged ask with its outcome (see the module doc): a correction decides (edited, or accepted when it changed
 * nothing), else a person's mark of its pattern (right: accepted, wrong: rejected), else pending.
 *
 * @example
 * ```ts
 * const rows = await askOutcomes(store);
 * acceptanceRates(rows); // { asks: 12, accepted: 5, edited: 4, rejected: 1, pending: 2, rates: { … } }
 * ```
 */
export async function askOutcomes(store: PatternStore, options: { simulated?: SimulatedFilter } = {}): Promise<AskOutcomeRow[]> {
  return await onStore(store, async (con) => {
    const rows = (await con.runAndReadAll(
      `SELECT a.id, a.asked_at, a.strategy_id, a.model_name, a.category, a.level, a.simulated, a.cost_usd, a.latency_ms,
              c.ask_id IS NOT NULL AS corrected,
              (c.diff->>'$.sqlChanged')::BOOLEAN OR (c.diff->>'$.answerChanged')::BOOLEAN AS changed,
              COALESCE(m.pass, t.marked_pass) AS mark
       FROM asks a LEFT JOIN corrections c ON c.ask_id = a.id
       LEFT JOIN ask_marks m ON m.ask_id = a.id
       LEFT JOIN turn_memories t ON t.id = a.pattern_id
       WHERE ${simulatedWhere("a", options.simulated)} ORDER BY a.asked_at, a.id`,
    )).getRowObjectsJson();
    return rows.map((r) => ({
      askId: String(r.id),
      askedAt: iso(r.asked_at)!,
      strategyId: (r.strategy_id as string | null) ?? null,
      model: (r.model_name as string | null) ?? null,
      category: String(r.category),
      level: r.level === null ? null : Number(r.level),
      simulated: Boolean(r.simulated),
      costUsd: r.cost_usd === null ? null : Number(r.cost_usd),
      latencyMs: r.latency_ms === null ? null : Number(r.latency_ms),
      outcome: r.corrected ? (r.changed ? "edited" : "accepted") : r.mark === true ? "accepted" : r.mark === false ? "rejected" : "pending",
    }));
  });
}

/** Acceptance over asks: counts, and rates over the judged ones (accepted + edited + rejected). */
export interface AcceptanceRates {
  asks: number;
  accepted: number;
  edited: number;
  rejected: number;
  pending: number;
  /** Shares of the judged asks (0 when none was judged). */
  rates: { accepted: number; edited: number; rejected: number };
}

/**
 * Acceptance rates of ask outcomes (seed 004's "acceptance rate": accepted unchanged, edited, rejected).
 *
 * @example
 * ```ts
 * acceptanceRates(await askOutcomes(store)).rates.accepted; // e.g. 0.5
 * ```
 */
export function acceptanceRates(rows: readonly Pick<AskOutcomeRow, "outcome">[]): AcceptanceRates {
  const n = { accepted: 0, edited: 0, rejected: 0, pending: 0 };
  for (const r of rows) n[r.outcome]++;
  const judged = n.accepted + n.edited + n.rejected;
  const rate = (k: number) => (judged ? Math.round((k / judged) * 1e4) / 1e4 : 0);
  return { asks: rows.length, ...n, rates: { accepted: rate(n.accepted), edited: rate(n.edited), rejected: rate(n.rejected) } };
}

/** What {@linkcode correctionExamples} returns: the examples, and the corrections that could not be one. */
export interface CorrectionExamples {
  /** Confirmed corrections with SQL, as gold, human-validated examples. */
  examples: Example[];
  /** Corrections still unverified (not examples until a person confirms them). */
  unverified: number;
  /** Confirmed corrections of the answer only: no SQL that produces it, so no example. */
  answerOnly: number;
}

/** A statement's tool: a write for INSERT/UPDATE/DELETE/MERGE, a read otherwise. */
const toolOf = (sql: string): "dbRead" | "dbWrite" =>
  /^(insert|update|delete|merge)\b/.test(canonicalSql(sql).replace(/^\(+/, "")) ? "dbWrite" : "dbRead";

/**
 * The confirmed corrections as examples for the datasets module ({@linkcode buildDataset}'s `extra` source): each a
 * person's own question (`source: "ask"`) with the corrected SQL (or the original, when only the answer was
 * corrected and it was confirmed right), its answer as the statement's result summary, `humanValidated: true` (gold
 * whatever its score), real ones non-synthetic. Real only unless `simulated` says otherwise — a simulated one is
 * labelled `synthetic` and carries its train task's lineage. The leakage guard runs at curation, like any example.
 *
 * @example
 * ```ts
 * const { examples } = await correctionExamples(store);
 * await buildDataset({ patterns: store, extra: [examples] }, { out, config, guard });
 * ```
 */
export async function correctionExamples(store: PatternStore, options: { simulated?: SimulatedFilter } = {}): Promise<CorrectionExamples> {
  const all = await listCorrections(store, options);
  const examples: Example[] = [];
  let unverified = 0, answerOnly = 0;
  for (const c of all) {
    if (c.status !== "confirmed") {
      unverified++;
      continue;
    }
    // Only the answer corrected: the SQL that gave the wrong answer is not a worked example of the right one.
    const sql = c.finalSql ?? (c.diff.answerChanged ? null : c.originalSql);
    if (sql === null) {
      answerOnly++;
      continue;
    }
    const answer = "finalAnswer" in c ? c.finalAnswer : c.originalAnswer;
    const tool = toolOf(sql);
    examples.push({
      id: `correction:${c.askId}`,
      source: "ask",
      task: c.ask.question,
      normalizedIntent: normalizeIntent(c.ask.question),
      role: c.ask.role,
      category: c.ask.category,
      level: c.ask.level,
      outcome: answerShape(answer).kind,
      family: c.ask.family,
      split: c.ask.split,
      challengeId: c.ask.challengeId,
      contaminated: false,
      runId: c.simulated ? "simulated-use" : "ask",
      episodeId: null,
      patternId: c.ask.patternId,
      strategyId: c.ask.strategyId,
      model: c.ask.model,
      synthetic: c.simulated,
      humanValidated: true,
      pass: true,
      markedPass: true,
      fitness: 1,
      verifierScore: null,
      patternUsed: false,
      support: 1,
      sqlKey: `${tool}: ${canonicalSql(sql)}`,
      calls: [{ tool, sql, summary: `answer: ${stableJson(answer)}` }],
    });
  }
  return { examples, unverified, answerOnly };
}
