/**
 * lab-mini as a `ChatBackend`: reads the chat (strategy in the system prompt, the task in the last user message,
 * earlier tool calls and their results), parses the task into ranked plans, samples one with temperature/top_p
 * from a seeded PRNG, and emits the next tool call of that plan. After a failed or empty dbRead it moves to a
 * different plan (revision); after a useful result it submits an answer derived from the rows.
 * @module
 */
import { type BackendChatMessage, type BackendChatRequest, type BackendToolCall, type ChatBackend, type ChatChoice, countTokens as countTokensUncached, encoder, type ToolDefinition } from "../backend.ts";
import { hash32, prng } from "./_text.ts";
import { needsResults, resolveResults, snakeWords, taskLits } from "./_copy.ts";
import { type CallResult, runProgram } from "./_answer.ts";
import { copyFromHead, parseTuned, type TunedHead, type TunedModel } from "./finetune.ts";
import { type CopyOptions, copyFromExamples, type CopyPlan } from "./icl.ts";
import { decode, describePlan, parseContext, type Plan, type Prefs, renderSql, type Scored } from "./parser.ts";
import { type LabMiniModel, parseModel } from "./weights.ts";

// Token counts. An episode resends the same system prompt, tools and task every turn: whole texts are memoised.
// A new text is split the way tiktoken splits it (its pre-tokenising pattern) and byte-pair encoding, which works
// on each piece alone, is memoised per piece — words recur across texts, so a new task costs a regex pass and a
// few lookups instead of ~0.1–0.3 ms of js-tiktoken. Same counts as `countTokens` of ../backend.ts (tested equal).
const tokenMemo = new Map<string, number>();
const pieceMemo = new Map<string, number>();
let piecePattern: RegExp | null | undefined;
function countTokens(text: string): number {
  let n = tokenMemo.get(text);
  if (n === undefined) {
    if (tokenMemo.size >= 4096) tokenMemo.clear();
    tokenMemo.set(text, n = countPieces(text));
  }
  return n;
}

function countPieces(text: string): number {
  if (piecePattern === undefined) {
    const pat = (encoder() as unknown as { patStr?: string }).patStr;
    piecePattern = typeof pat === "string" ? new RegExp(pat, "gu") : null;
  }
  // special tokens ("<|endoftext|>") are tiktoken's to handle
  if (!piecePattern || !text || text.includes("<|")) return countTokensUncached(text);
  let n = 0;
  for (const m of text.matchAll(piecePattern)) {
    const piece = m[0];
    let k = pieceMemo.get(piece);
    if (k === undefined) {
      if (pieceMemo.size >= 65536) pieceMemo.clear();
      pieceMemo.set(piece, k = countTokensUncached(piece));
    }
    n += k;
  }
  return n;
}

function countChatTokens(messages: BackendChatMessage[], tools: ToolDefinition[] = []): number {
  let n = 3;
  for (const m of messages) {
    n += 3 + countTokens(m.role) + countTokens(m.content ?? "");
    if (m.name) n += 1 + countTokens(m.name);
    if (m.tool_calls?.length) n += countTokens(JSON.stringify(m.tool_calls.map((c) => c.function)));
  }
  if (tools.length) n += countTokens(JSON.stringify(tools.map((t) => t.function)));
  return n;
}

/** The base model id. */
export const LAB_MINI = "lab-mini";

/** Thrown when a prompt (plus its completion cap) does not fit the context window. */
export class ContextLengthExceededError extends Error {
  override name = "ContextLengthExceededError";
  readonly code = "context_length_exceeded";
  readonly status = 400;
}

/** Options for {@linkcode labMiniBackend}. */
export interface LabMiniOptions {
  /** @default "lab-mini" */
  id?: string;
  /** @default 8192 */
  contextWindow?: number;
  /** dbRead attempts before giving up. @default 4 */
  maxReads?: number;
  /** The fine-tuned head (templates + selector) of a fine-tuned version. */
  tuned?: TunedHead;
  /** The in-context copy mechanism (threshold). */
  copy?: CopyOptions;
}

/** Strategy switches read from the system prompt (documented in README.md). */
export interface Strategy extends Prefs {
  explore: boolean;
  todo: boolean;
  verify: boolean;
}

const strategies = new Map<string, Strategy>();
/** Reads strategy switches from system/developer text. */
export function readStrategy(system: string): Strategy {
  let st = strategies.get(system);
  if (!st) {
    if (strategies.size >= 256) strategies.clear();
    strategies.set(system, st = readStrategyUncached(system));
  }
  return { ...st };
}

function readStrategyUncached(system: string): Strategy {
  const s = system.toLowerCase();
  return {
    views: /prefer(s|red)?\s+(the\s+)?(semantic\s+)?views|use\s+(the\s+)?(semantic\s+)?views/.test(s),
    explore: /explor|schemainfo|inspect the schema|look at the schema/.test(s),
    todo: /todo|to-do|checklist/.test(s),
    verify: /verif|double-check|check your (result|answer)/.test(s),
  };
}

interface Read {
  sql: string;
  ok: boolean;
  rows: Record<string, unknown>[];
  columns: string[];
  check: boolean;
}

interface History {
  calls: string[];
  reads: Read[];
  writes: { sql: string; ok: boolean; rowCount?: number }[];
  submitted: boolean;
}

const CHECK_PREFIX = "SELECT count(*) AS checked_rows FROM (";

function parseJson(text: string | null): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text ?? "");
    return v && typeof v === "object" && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function readHistory(messages: BackendChatMessage[]): History {
  const results = new Map(messages.filter((m) => m.role === "tool").map((m) => [m.tool_call_id ?? "", m.content]));
  const h: History = { calls: [], reads: [], writes: [], submitted: false };
  for (const m of messages) {
    for (const c of m.role === "assistant" ? m.tool_calls ?? [] : []) {
      h.calls.push(c.function.name);
      if (c.function.name === "submitAnswer" && results.has(c.id)) h.submitted = true;
      if (c.function.name !== "dbRead" && c.function.name !== "dbWrite") continue;
      const sql = String(parseJson(c.function.arguments)?.sql ?? "");
      const raw = results.get(c.id) ?? null;
      const r = parseJson(raw);
      const ok = r ? r.ok !== false && !("error" in r) : raw !== null && !/error/i.test(raw);
      if (c.function.name === "dbWrite") {
        h.writes.push({ sql, ok, ...(typeof r?.rowCount === "number" ? { rowCount: r.rowCount } : {}) });
        continue;
      }
      const rows = Array.isArray(r?.rows) ? r.rows as Record<string, unknown>[] : [];
      const columns = Array.isArray(r?.columns) ? (r.columns as unknown[]).map(String) : Object.keys(rows[0] ?? {});
      h.reads.push({ sql, ok, rows, columns, check: sql.startsWith(CHECK_PREFIX) });
    }
  }
  return h;
}

function useful(r: Read): boolean {
  return r.ok && r.rows.length > 0 && r.rows.some((row) => Object.values(row).some((v) => v !== null && v !== undefined));
}

const asNumber = (v: unknown) => typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v)) ? Number(v) : v;

/**
 * The answer a result gives: a number for one value; for one row holding a current and a previous value (columns
 * named `current`/`cur…` and `previous`/`prev…`) a comparison — under the field names the task asks for when it
 * names them (`current_…`, `previous_…`, `change_…`: a change in percent for `…pct`/`…percent`, a plain
 * difference otherwise), else `{current, previous, change, change_pct}`; else the rows.
 */
export function answerFrom(r: Read | { rows: Record<string, unknown>[]; columns: string[] }, fields: readonly string[] = []): unknown {
  const { rows, columns } = r;
  const curCol = columns.find((c) => /^cur(rent)?(_|$)/i.test(c)), prevCol = columns.find((c) => /^prev(ious)?(_|$)/i.test(c));
  if (rows.length === 1 && curCol && prevCol) {
    const cur = Number(asNumber(rows[0][curCol]) ?? 0), prev = Number(asNumber(rows[0][prevCol]) ?? 0);
    const change = cur - prev;
    const pctChange = prev === 0 ? null : Math.round((change / prev) * 1000000) / 10000;
    const asked = fields.filter((f) => /^(current|previous|change)(_|$)/.test(f));
    if (asked.length >= 2) {
      return Object.fromEntries(asked.map((f) => [f, f.startsWith("current") ? cur : f.startsWith("previous") ? prev : /pct|percent/.test(f) ? pctChange : change]));
    }
    return { current: cur, previous: prev, change, change_pct: pctChange };
  }
  if (rows.length === 1 && columns.length === 1) return asNumber(rows[0][columns[0]]);
  return rows;
}

/** Samples an index from log-probabilities with temperature and nucleus (top_p). */
function sample(logps: number[], temperature: number, topP: number, rand: () => number): number {
  if (temperature <= 0 || logps.length === 1) return 0;
  const mx = Math.max(...logps);
  const ps = logps.map((l) => Math.exp((l - mx) / temperature));
  const z = ps.reduce((a, b) => a + b, 0);
  const order = ps.map((p, i) => [p / z, i] as const).sort((a, b) => b[0] - a[0]);
  const kept: (readonly [number, number])[] = [];
  let mass = 0;
  for (const o of order) {
    kept.push(o);
    mass += o[0];
    if (mass >= topP) break;
  }
  let u = rand() * mass;
  for (const [p, i] of kept) if ((u -= p) <= 0) return i;
  return kept.at(-1)![1];
}

/** Creates the lab-mini chat backend from a trained model. */
export function labMiniBackend(model: LabMiniModel, options: LabMiniOptions = {}): ChatBackend {
  const id = options.id ?? LAB_MINI;
  const contextWindow = options.contextWindow ?? 8192;
  const maxReads = options.maxReads ?? 4;
  const decoded = new Map<string, Scored[]>();
  const copies = new Map<string, CopyPlan | undefined>();
  return {
    id,
    contextWindow,
    ownedBy: `lab (lab-mini, weights ${model.hash.slice(0, 12)})`,
    complete(req: BackendChatRequest) {
      const prompt = countChatTokens(req.messages, req.tools);
      if (prompt + (req.max_tokens ?? 0) > contextWindow) {
        return Promise.reject(new ContextLengthExceededError(`This model's maximum context length is ${contextWindow} tokens; the request needs ${prompt + (req.max_tokens ?? 0)} (${prompt} in the messages, ${req.max_tokens ?? 0} in the completion).`));
      }
      const system = req.messages.filter((m) => m.role === "system" || m.role === "developer").map((m) => m.content ?? "").join("\n");
      const task = req.messages.findLast((m) => m.role === "user")?.content ?? "";
      const strategy = readStrategy(system);
      // Decoding is a pure function of (task, view preference): an episode asks it again every turn.
      const key = `${strategy.views ? 1 : 0}\u0000${task}`;
      let ranked = decoded.get(key);
      if (!ranked) {
        if (decoded.size >= 1024) decoded.delete(decoded.keys().next().value!);
        decoded.set(key, ranked = decode(model.weights, model.meta, parseContext(task, model.meta, strategy), 12));
      }
      let copy: CopyPlan | undefined;
      const injected = system.includes("lab injection v");
      if (options.tuned || injected) {
        // also a pure function of (examples, task): memoised like the decode
        const ck = `${injected ? system : ""}\u0000${task}`;
        if (copies.has(ck)) copy = copies.get(ck);
        else {
          const lits = taskLits(task, model.meta);
          copy = copyFromExamples(system, task, model.meta, options.copy, lits) ?? (options.tuned ? copyFromHead(options.tuned, lits) : undefined);
          if (copies.size >= 1024) copies.delete(copies.keys().next().value!);
          copies.set(ck, copy);
        }
      }
      const history = readHistory(req.messages);
      const tools = new Set((req.tools ?? []).map((t) => t.function.name));
      const toolsOff = req.tool_choice === "none" || tools.size === 0;
      const base = hash32(JSON.stringify(req.messages.map((m) => [m.role, m.content, m.tool_calls?.map((c) => c.function)])));
      const seed = req.seed ?? Math.floor(Math.random() * 2 ** 31);
      const choices: ChatChoice[] = [];
      let completion = 0;
      for (let i = 0; i < (req.n ?? 1); i++) {
        const rand = prng(hash32(`${seed}:${i}`, base));
        const step = toolsOff ? undefined : nextCall(ranked, history, strategy, tools, task, req, rand, maxReads, copy);
        if (!step) {
          const best = ranked[0]?.plan;
          const text = history.submitted
            ? "I submitted the answer."
            : copy
            ? `Plan: as ${copy.source} (similarity ${copy.score.toFixed(2)}).\n${copy.calls.map((c) => `${c.tool}: ${c.sql}`).join("\n")}`
            : best ? `Plan: ${describePlan(best)}.\nSQL: ${renderSql(best)}` : "I cannot map this question to the schema I know.";
          completion += countTokens(text);
          choices.push({ message: { role: "assistant", content: text }, finish_reason: "stop" });
          continue;
        }
        let args = JSON.stringify(step.args);
        let finish: ChatChoice["finish_reason"] = "tool_calls";
        const tokens = countTokens(step.name) + countTokens(args);
        if (req.max_tokens !== undefined && tokens > req.max_tokens) {
          args = args.slice(0, Math.max(0, req.max_tokens * 3));
          finish = "length";
        }
        completion += Math.min(tokens, req.max_tokens ?? Infinity);
        const call: BackendToolCall = { id: `call_${hash32(`${base}:${i}:${seed}`).toString(36)}_${history.calls.length}`, type: "function", function: { name: step.name, arguments: args } };
        choices.push({ message: { role: "assistant", content: null, tool_calls: [call] }, finish_reason: finish });
      }
      return Promise.resolve({ choices, usage: { prompt_tokens: prompt, completion_tokens: completion } });
    },
  };
}

// Rendered SQL of decoded plans (decodes are memoised per task, so their plans come back every turn).
const rendered = new WeakMap<Plan, string>();
function sqlOf(p: Plan): string {
  let sql = rendered.get(p);
  if (sql === undefined) rendered.set(p, sql = renderSql(p));
  return sql;
}

function nextCall(
  ranked: Scored[],
  h: History,
  s: Strategy,
  tools: Set<string>,
  task: string,
  req: BackendChatRequest,
  rand: () => number,
  maxReads: number,
  copy?: CopyPlan,
): { name: string; args: Record<string, unknown> } | undefined {
  if (h.submitted) return undefined;
  const fields = snakeWords(task);
  const forced = typeof req.tool_choice === "object" ? req.tool_choice.function.name : undefined;
  const may = (name: string) => tools.has(name) && (!forced || forced === name);
  if (s.todo && may("todoList") && !h.calls.includes("todoList")) {
    const plan = ranked[0] ? describePlan(ranked[0].plan) : "understand the question";
    return { name: "todoList", args: { action: "add", items: [`find the data: ${plan}`, "run the query", ...(s.verify ? ["verify the result"] : []), "submit the answer"] } };
  }
  if ((s.explore || s.views) && !h.calls.some((c) => c === "schemaInfo" || c === "viewsList")) {
    if (s.views && may("viewsList")) return { name: "viewsList", args: {} };
    if (may("schemaInfo")) return { name: "schemaInfo", args: { intent: task.slice(0, 200) } };
  }
  const answers = h.reads.filter((r) => !r.check);
  const last = answers.at(-1);
  const submit = (answer: unknown, summary: string) => may("submitAnswer") ? { name: "submitAnswer", args: { answer, summary } } : undefined;
  // A copied plan (from an injected example or a fine-tuned template) goes first, call by call; once one of its
  // calls fails, the parser's own plans take over (revision).
  if (copy) {
    let allDone = true;
    const results: CallResult[] = [];
    for (const c of copy.calls) {
      // A call that takes values of earlier results (an id read first, then written) is completed now.
      const sql = needsResults(c.sql) ? resolveResults(c.sql, results) : c.sql;
      if (sql === undefined) {
        allDone = false;
        break;
      }
      const done = c.tool === "dbRead" ? answers.find((r) => r.sql.trim() === sql) : h.writes.find((r) => r.sql.trim() === sql);
      if (!done) {
        allDone = false;
        if (may(c.tool)) return { name: c.tool, args: c.tool === "dbWrite" ? { sql, confirm: true } : { sql } };
        break;
      }
      if (!done.ok) {
        allDone = false;
        break;
      }
      results.push("rows" in done ? { rows: done.rows, columns: done.columns, write: false } : { rows: [], columns: [], write: true, rowCount: done.rowCount });
    }
    if (allDone && copy.answer) {
      // The learned answer program; when it cannot run on these results (an empty read), revise like any plan.
      const answer = runProgram(copy.answer, results);
      if (answer !== undefined && answer !== null) return submit(answer, `as ${copy.source}`);
    }
    if (allDone && copy.calls.at(-1)!.tool === "dbWrite") {
      // Without a learned answer: the one value the plan read before writing (a total to act on), else how many
      // rows the last write changed.
      const value = results.find((r) => !r.write && r.rows.length === 1 && r.columns.length === 1 && typeof asNumber(r.rows[0][r.columns[0]]) === "number");
      const answer = value ? asNumber(value.rows[0][value.columns[0]]) : results.at(-1)?.rowCount ?? "done";
      return submit(answer, `applied as ${copy.source}: ${copy.calls.at(-1)!.sql}`);
    }
  }
  if (last && useful(last)) {
    if (s.verify && may("dbRead") && !h.reads.some((r) => r.check && r.sql.includes(last.sql))) {
      return { name: "dbRead", args: { sql: `${CHECK_PREFIX}${last.sql}) AS t` } };
    }
    return submit(answerFrom(last, fields), `from: ${last.sql}`);
  }
  const tried = new Set(answers.map((r) => r.sql.trim()));
  const fresh = ranked.map((c) => ({ ...c, sql: sqlOf(c.plan) })).filter((c) => !tried.has(c.sql));
  if (answers.length >= maxReads || !fresh.length || !may("dbRead")) {
    return submit("no answer found", `${answers.length} queries gave no usable result`);
  }
  const k = sample(fresh.map((c) => c.logp), req.temperature ?? 0, req.top_p ?? 1, rand);
  return { name: "dbRead", args: { sql: fresh[k].sql } };
}

/**
 * Loads a model file and returns its backend.
 *
 * @example
 * ```ts
 * await using server = await startServer({ backends: { "lab-mini": await loadLabMini("data/models/lab-mini-base.json") } });
 * ```
 */
export async function loadLabMini(path: string, options: LabMiniOptions = {}): Promise<ChatBackend> {
  const text = await Deno.readTextFile(path);
  if (text.includes('"format":"lab-mini-ft/v1"')) return tunedBackend(parseTuned(text, path), options);
  return labMiniBackend(parseModel(text, path), options);
}

/** The backend of a fine-tuned version: its base parser plus the learned templates, served under its id. */
export function tunedBackend(m: TunedModel, options: LabMiniOptions = {}): ChatBackend {
  return labMiniBackend(m.base, { id: m.id, ...options, tuned: m.head });
}
