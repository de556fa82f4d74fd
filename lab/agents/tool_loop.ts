/**
 * The runner's tool loop: per step, one model call with the strategy's allowed tools, sampling and a seed derived
 * from (episode seed, step); the tool calls of the reply (or of the majority reply, with self-consistency) run
 * through `callTool` and their results go back to the model as tool messages (JSON, cut to a size cap). The loop
 * stops on a successful submitAnswer or at the first cap, failure or abort (see {@linkcode StopReason}).
 * @module
 */
import {
  type AssistantMessage,
  BudgetExceeded,
  canonicalJson,
  type ChatMessage,
  type ChatModel,
  type ChatResult,
  ModelCallError,
  type ToolCall,
} from "../models/mod.ts";
import { callTool, type OpenAiToolSchema, openAiToolSchemas, type ToolContext } from "../tools/mod.ts";
import type { QueryTrace, StepRecord, StopReason, ToolCallTrace, VoteRecord } from "./runner.ts";
import type { Strategy } from "./strategies.ts";

type Budgets = Strategy["budgets"];

/** Why the loop stopped, for the record and for people. */
export interface Stop {
  reason: StopReason;
  detail: string;
}

/** What the loop works with. */
export interface ToolLoopInput {
  strategy: Strategy;
  model: ChatModel;
  /** The episode seed. */
  seed: number;
  ctx: ToolContext;
  /** The opening messages; the loop appends every later turn to this list. */
  messages: ChatMessage[];
  /** `performance.now()` at the episode's start: the time cap counts from it. */
  startedMs: number;
  signal?: AbortSignal;
}

/** What the loop produced: the conversation's traces, its totals and why it stopped. */
export interface ToolLoopResult {
  /** The same list as the input's `messages`, with every turn appended. */
  messages: ChatMessage[];
  steps: StepRecord[];
  toolCalls: ToolCallTrace[];
  queries: QueryTrace[];
  /** Every model error, in order, prefixed with its step. */
  modelErrors: string[];
  tokensIn: number;
  tokensOut: number;
  costUsd: number;
  /** Time spent in model calls (not rounded). */
  modelMs: number;
  stop: Stop;
}

/** The seed of model call `step` of an episode seeded `seed` (FNV-1a of both, 31 bits so any API takes it). */
export function stepSeed(seed: number, step: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}:${step}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 1;
}

/**
 * Self-consistency vote: groups choices by their tool-call list (canonical JSON of name and arguments, ids
 * ignored; every reply without a tool call is one group) and takes the group with most votes; a tie goes to
 * the group whose first choice came earliest. Returns the first choice of the winning group.
 *
 * @example
 * ```ts
 * const v = majorityVote([a, b, a]); // v.chosen === 0, v.tally[0].votes === 2
 * ```
 */
export function majorityVote(choices: readonly AssistantMessage[]): VoteRecord {
  const groups = new Map<string, number[]>();
  choices.forEach((c, i) => {
    const key = c.toolCalls?.length
      ? canonicalJson(
        c.toolCalls.map((t) => ({ name: t.name, args: t.args ?? null, rawArgs: t.args ? undefined : t.rawArgs })),
      )
      : "(no tool call)";
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  const tally = [...groups.entries()].map(([key, idx]) => ({ key, votes: idx.length, choices: idx }))
    .sort((a, b) => b.votes - a.votes || a.choices[0] - b.choices[0]);
  return { n: choices.length, chosen: tally[0]?.choices[0] ?? 0, tally };
}

/** Rounds a duration to hundredths of a millisecond. */
export const round2 = (x: number): number => Math.round(x * 100) / 100;

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[cut ${text.length - max} of ${text.length} chars]`;
}

// The tool schemas offered for a set of allowed tools: built from zod once per process, not once per episode
// (converting the schemas costs more than a fast model's whole episode). Treated as read-only by every transport.
let allToolSchemas: OpenAiToolSchema[] | undefined;
const toolSchemasByAllowed = new Map<string, OpenAiToolSchema[]>();
function toolSchemasFor(allowed: ReadonlySet<string>): OpenAiToolSchema[] {
  const key = [...allowed].join("\u0000");
  let out = toolSchemasByAllowed.get(key);
  if (!out) {
    allToolSchemas ??= openAiToolSchemas();
    out = allToolSchemas.filter((t) => allowed.has(t.function.name));
    toolSchemasByAllowed.set(key, out);
  }
  return out;
}

/** The loop's running state: the result being built, plus the count of replies without a tool call. */
type LoopState = Omit<ToolLoopResult, "stop"> & { textReplies: number };

/** A tool call of the reply taken, with its id filled in. */
type TakenCall = ToolCall & { id: string };

/**
 * Runs the tool loop of one episode until it stops. Expected failures (model errors, malformed or refused tool
 * calls, caps) end up in the result; an error that is none of them is a bug and is thrown.
 */
export async function runToolLoop(input: ToolLoopInput): Promise<ToolLoopResult> {
  const { strategy, ctx, signal } = input;
  const budgets = strategy.budgets;
  const allowed = new Set<string>(strategy.tools.allowed);
  const tools = toolSchemasFor(allowed);
  const state: LoopState = {
    messages: input.messages,
    steps: [],
    toolCalls: [],
    queries: [],
    modelErrors: [],
    tokensIn: 0,
    tokensOut: 0,
    costUsd: 0,
    modelMs: 0,
    textReplies: 0,
  };
  const deadline = input.startedMs + budgets.max_seconds * 1000;
  let stop: Stop | undefined;
  while (!stop) {
    const remaining = deadline - performance.now();
    stop = capReached(state, budgets, remaining, signal);
    if (stop) break;
    const call = await callModel(state, input, tools, remaining);
    if ("stop" in call) {
      stop = call.stop;
      break;
    }
    const calls = takeReply(state, call.result, call.seed, strategy);
    if (!calls.length) {
      stop = nudgeOrStop(state, strategy);
      continue;
    }
    stop = await runToolCalls(state, calls, ctx, allowed, budgets);
    if (!stop && state.modelErrors.length > budgets.max_model_errors) {
      stop = {
        reason: "model_errors",
        detail: `${state.modelErrors.length} model errors (tolerated: ${budgets.max_model_errors})`,
      };
    }
  }
  const { textReplies: _t, ...result } = state;
  return { ...result, stop };
}

/** The stop before a model call: an abort, the step, token or time cap (`remaining` ms to the deadline). */
function capReached(state: LoopState, budgets: Budgets, remaining: number, signal?: AbortSignal): Stop | undefined {
  if (signal?.aborted) return { reason: "aborted", detail: "the run was aborted" };
  if (state.toolCalls.length >= budgets.max_steps) {
    return { reason: "step_cap", detail: `reached the step cap of ${budgets.max_steps} tool calls` };
  }
  const tokens = state.tokensIn + state.tokensOut;
  if (tokens >= budgets.max_tokens) {
    return { reason: "token_cap", detail: `used ${tokens} of ${budgets.max_tokens} tokens` };
  }
  if (remaining <= 0) return { reason: "time_cap", detail: `reached the time cap of ${budgets.max_seconds} s` };
  return undefined;
}

/**
 * One model call, bounded by the time left and the run's signal; adds its usage, cost, time and model errors
 * to `state`. A failure the loop expects becomes the stop.
 */
async function callModel(
  state: LoopState,
  input: ToolLoopInput,
  tools: OpenAiToolSchema[],
  remaining: number,
): Promise<{ result: ChatResult; seed: number } | { stop: Stop }> {
  const { strategy, signal: runSignal } = input;
  const index = state.steps.length;
  const timeSignal = AbortSignal.timeout(Math.max(1, Math.ceil(remaining)));
  const signal = runSignal ? AbortSignal.any([runSignal, timeSignal]) : timeSignal;
  const seed = stepSeed(input.seed, index);
  const tCall = performance.now();
  let result: ChatResult;
  try {
    result = await input.model.invoke({
      // A snapshot of the list (later turns are appended to `messages`); messages themselves are never changed.
      messages: state.messages.slice(),
      tools,
      toolChoice: strategy.sampling.tool_choice,
      temperature: strategy.sampling.temperature,
      topP: strategy.sampling.top_p,
      seed,
      ...(strategy.sampling.max_tokens ? { maxTokens: strategy.sampling.max_tokens } : {}),
      ...(strategy.sampling.n > 1 ? { n: strategy.sampling.n } : {}),
      signal,
    });
  } catch (e) {
    state.modelMs += performance.now() - tCall;
    if (e instanceof BudgetExceeded) return { stop: { reason: "run_budget", detail: e.message } };
    if (e instanceof ModelCallError) {
      state.modelErrors.push(`step ${index}: ${e.message}`);
      return { stop: { reason: "model_failed", detail: e.message } };
    }
    if (runSignal?.aborted) return { stop: { reason: "aborted", detail: "the run was aborted during a model call" } };
    if (timeSignal.aborted) {
      const detail = `reached the time cap of ${strategy.budgets.max_seconds} s during a model call`;
      return { stop: { reason: "time_cap", detail } };
    }
    throw e;
  }
  state.modelMs += result.latencyMs;
  state.tokensIn += result.usage.inputTokens;
  state.tokensOut += result.usage.outputTokens;
  state.costUsd += result.costUsd;
  state.modelErrors.push(...result.modelErrors.map((m) => `step ${index}: ${m}`));
  return { result, seed };
}

/**
 * Takes the reply of a model call (the majority choice with self-consistency), records its step and appends it
 * to the conversation. Returns its tool calls, each with an id.
 */
function takeReply(state: LoopState, result: ChatResult, seed: number, strategy: Strategy): TakenCall[] {
  const index = state.steps.length;
  const vote = strategy.sampling.n > 1 && result.choices.length > 1 ? majorityVote(result.choices) : undefined;
  const reply = vote ? result.choices[vote.chosen] : result.message;
  const calls = (reply.toolCalls ?? []).map((c, i) => ({ ...c, id: c.id || `call_${index}_${i}` }));
  state.steps.push({
    index,
    seed,
    usage: result.usage,
    latencyMs: round2(result.latencyMs),
    costUsd: result.costUsd,
    cached: result.cached,
    modelErrors: result.modelErrors,
    ...(reply.finishReason ? { finishReason: reply.finishReason } : {}),
    toolCalls: calls.length,
    ...(vote ? { vote } : {}),
  });
  state.messages.push({
    role: "assistant",
    content: reply.content ?? null,
    ...(calls.length ? { toolCalls: calls.map((c) => ({ id: c.id, name: c.name, args: c.args ?? {} })) } : {}),
  });
  return calls;
}

/** A reply without a tool call: the strategy's nudge, or the stop once such replies exceed their budget. */
function nudgeOrStop(state: LoopState, strategy: Strategy): Stop | undefined {
  state.textReplies++;
  if (state.textReplies > strategy.budgets.max_text_replies) {
    return { reason: "no_tool_call", detail: `the model replied ${state.textReplies} times without calling a tool` };
  }
  state.messages.push({ role: "user", content: strategy.prompt.nudge.trim() });
  return undefined;
}

/**
 * Runs the tool calls of one reply in order, tracing each and appending its result to the conversation; stops
 * at the step cap, on an accepted submitAnswer or when the episode's database was lost.
 */
async function runToolCalls(
  state: LoopState,
  calls: readonly TakenCall[],
  ctx: ToolContext,
  allowed: ReadonlySet<string>,
  budgets: Budgets,
): Promise<Stop | undefined> {
  for (const call of calls) {
    if (state.toolCalls.length >= budgets.max_steps) {
      return { reason: "step_cap", detail: `reached the step cap of ${budgets.max_steps} tool calls` };
    }
    const { trace, content } = await runToolCall(state, call, ctx, allowed);
    state.toolCalls.push(trace);
    state.messages.push({
      role: "tool",
      toolCallId: call.id,
      content: truncate(JSON.stringify(content), budgets.max_tool_result_chars),
    });
    if (call.name === "submitAnswer" && trace.ok) {
      return { reason: "submitted", detail: "the model submitted an answer" };
    }
    if (ctx.episode.broken) {
      return { reason: "sandbox_error", detail: trace.error ?? "the episode's database was lost" };
    }
  }
  return undefined;
}

/**
 * One tool call: a malformed one (bad JSON, a tool not offered) is answered with the tools to call instead;
 * any other runs, and its SQL statements join `state.queries`. Returns its trace and what the model is sent.
 */
async function runToolCall(
  state: LoopState,
  call: TakenCall,
  ctx: ToolContext,
  allowed: ReadonlySet<string>,
): Promise<{ trace: ToolCallTrace; content: Record<string, unknown> }> {
  const trace: ToolCallTrace = {
    step: state.steps.length - 1,
    id: call.id,
    name: call.name,
    args: call.args ?? null,
    ok: false,
    ms: 0,
  };
  if (call.rawArgs !== undefined) trace.rawArgs = call.rawArgs;
  if (call.error !== undefined) {
    Object.assign(trace, { error: call.error, malformed: true });
    return {
      trace,
      content: { ok: false, error: `${call.error}; call one of: ${[...allowed].join(", ")} with JSON arguments` },
    };
  }
  const before = ctx.log.queries.length;
  const { elapsedMs, ...rest } = await callTool(ctx, call.name, call.args ?? {});
  trace.ms = elapsedMs;
  trace.ok = rest.ok;
  if (!rest.ok) trace.error = rest.error;
  trace.result = rest;
  for (const q of ctx.log.queries.slice(before)) state.queries.push({ ...q, call: state.toolCalls.length });
  return { trace, content: rest };
}
