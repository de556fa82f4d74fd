/**
 * lab-mini as a `ChatBackend`: reads the chat (strategy in the system prompt, the task in the last user message,
 * earlier tool calls and their results), parses the task into ranked plans, samples one with temperature/top_p
 * from a seeded PRNG, and emits the next tool call of that plan. After a failed or empty dbRead it moves to a
 * different plan (revision); after a useful result it submits an answer derived from the rows.
 * @module
 */
import { type ChatBackend, type ChatChoice, type ChatMessage, type ChatRequest, countTokens as countTokensUncached, type ToolCall, type ToolDefinition } from "../backend.ts";
import { hash32, prng } from "./_text.ts";
import { taskLits } from "./_copy.ts";
import { copyFromHead, parseTuned, type TunedHead, type TunedModel } from "./finetune.ts";
import { type CopyOptions, copyFromExamples, type CopyPlan } from "./icl.ts";
import { decode, describePlan, parseContext, type Prefs, renderSql, type Scored } from "./parser.ts";
import { type LabMiniModel, parseModel } from "./weights.ts";

// Token counts of texts seen recently: an episode resends the same system prompt, tools and task every turn, and
// js-tiktoken costs ~0.1 ms per short text. Same accounting as `countChatTokens` of ../backend.ts (tested equal).
const tokenMemo = new Map<string, number>();
function countTokens(text: string): number {
  let n = tokenMemo.get(text);
  if (n === undefined) {
    if (tokenMemo.size >= 4096) tokenMemo.clear();
    tokenMemo.set(text, n = countTokensUncached(text));
  }
  return n;
}

function countChatTokens(messages: ChatMessage[], tools: ToolDefinition[] = []): number {
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

/** Reads strategy switches from system/developer text. */
export function readStrategy(system: string): Strategy {
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
  writes: { sql: string; ok: boolean }[];
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

function readHistory(messages: ChatMessage[]): History {
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
        h.writes.push({ sql, ok });
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

/** The answer a result gives: a number for one value, {current, previous, change, change_pct} for a comparison, else rows. */
export function answerFrom(r: Read | { rows: Record<string, unknown>[]; columns: string[] }): unknown {
  const { rows, columns } = r;
  if (rows.length === 1 && columns.includes("current") && columns.includes("previous")) {
    const cur = Number(asNumber(rows[0].current) ?? 0), prev = Number(asNumber(rows[0].previous) ?? 0);
    const change = cur - prev;
    return { current: cur, previous: prev, change, change_pct: prev === 0 ? null : Math.round((change / prev) * 10000) / 100 };
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
  return {
    id,
    contextWindow,
    ownedBy: `lab (lab-mini, weights ${model.hash.slice(0, 12)})`,
    complete(req: ChatRequest) {
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
      if (options.tuned || system.includes("lab injection v")) {
        const lits = taskLits(task, model.meta);
        copy = copyFromExamples(system, task, model.meta, options.copy, lits) ?? (options.tuned ? copyFromHead(options.tuned, lits) : undefined);
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
        const call: ToolCall = { id: `call_${hash32(`${base}:${i}:${seed}`).toString(36)}_${history.calls.length}`, type: "function", function: { name: step.name, arguments: args } };
        choices.push({ message: { role: "assistant", content: null, tool_calls: [call] }, finish_reason: finish });
      }
      return Promise.resolve({ choices, usage: { prompt_tokens: prompt, completion_tokens: completion } });
    },
  };
}

function nextCall(
  ranked: Scored[],
  h: History,
  s: Strategy,
  tools: Set<string>,
  task: string,
  req: ChatRequest,
  rand: () => number,
  maxReads: number,
  copy?: CopyPlan,
): { name: string; args: Record<string, unknown> } | undefined {
  if (h.submitted) return undefined;
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
    for (const c of copy.calls) {
      const done = c.tool === "dbRead" ? answers.find((r) => r.sql.trim() === c.sql) : h.writes.find((r) => r.sql.trim() === c.sql);
      if (!done) {
        allDone = false;
        if (may(c.tool)) return { name: c.tool, args: c.tool === "dbWrite" ? { sql: c.sql, confirm: true } : { sql: c.sql } };
        break;
      }
      if (!done.ok) {
        allDone = false;
        break;
      }
    }
    if (allDone && copy.calls.at(-1)!.tool === "dbWrite") return submit("done", `applied as ${copy.source}: ${copy.calls.at(-1)!.sql}`);
  }
  if (last && useful(last)) {
    if (s.verify && may("dbRead") && !h.reads.some((r) => r.check && r.sql.includes(last.sql))) {
      return { name: "dbRead", args: { sql: `${CHECK_PREFIX}${last.sql}) AS t` } };
    }
    return submit(answerFrom(last), `from: ${last.sql}`);
  }
  const tried = new Set(answers.map((r) => r.sql.trim()));
  const fresh = ranked.map((c) => ({ ...c, sql: renderSql(c.plan) })).filter((c) => !tried.has(c.sql));
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
