/**
 * The lab's one agent runner: challenge × strategy × model × seed → a full trace, a verdict and a fitness.
 *
 * The loop: the system prompt (role, as-of date, schema summary, the strategy's instructions, optional injected
 * examples) and the task as the user message; then, per step, one model call with the strategy's allowed tools,
 * its sampling parameters and a seed derived from (episode seed, step); the tool calls of the reply (or of the
 * majority reply, with self-consistency) are executed through `callTool` and their results go back to the model
 * as tool messages (JSON, cut to a size cap). The episode stops on a successful submitAnswer, or at the step,
 * token or time cap, when model errors exceed their budget, when the model keeps replying without a tool call,
 * when the model fails for good, when the run's budget is spent, or when aborted. Then `verifyEpisode` judges it.
 *
 * Expected failures are data (STYLE #5): malformed tool calls, refused queries, SQL errors, model failures,
 * timeouts and caps are recorded in the {@linkcode EpisodeRecord}; only a bug in the lab throws.
 *
 * Deterministic: with a deterministic model, the same (challenge, strategy, model, seed) gives the same record
 * except the timing fields ({@linkcode stripTimings} removes them). Tool results sent to the model carry no
 * timings, so a model that hashes its input (the placeholder) sees the same conversation every run.
 * @module
 */
import { type Challenge, type Verdict, outcomeOf, verify, type VerifyContext } from "../challenges/mod.ts";
import type { Episode, SandboxPool, SqlRow } from "../sandbox/mod.ts";
import {
  callTool,
  createToolContext,
  openAiToolSchemas,
  type OpenAiToolSchema,
  type QueryRecord,
  type SubmittedAnswer,
  type ToolContext,
  type ToolLimits,
  type RolesConfig,
} from "../tools/mod.ts";
import {
  type ChatModel,
  type AssistantMessage,
  type ChatMessage,
  type ChatResult,
  type Usage,
  canonicalJson,
  BudgetExceeded,
  ModelCallError,
} from "../models/mod.ts";
import { DEFAULT_FITNESS, type EpisodeFitness, episodeFitness } from "./fitness.ts";
import { type ExampleRenderer, type InjectedExample, openingMessages } from "./prompt.ts";
import type { FitnessWeights, Strategy } from "./strategies.ts";

/**
 * Port: examples for a task, implemented by `lab/patterns` (the runner never imports it). `split` lets the
 * source keep held-out tasks out of what it returns; it is never shown to the model.
 */
export type PatternSource = (query: { task: string; role: string; split?: string }) => Promise<InjectedExample[]>;

/** Port: stores a finished episode, implemented by `lab/patterns` (or a test's array). */
export type EpisodeSink = (episode: EpisodeRecord) => Promise<void>;

/** What to run. */
export interface EpisodeSpec {
  challenge: Challenge;
  strategy: Strategy;
  model: ChatModel;
  /** Attempt number of this (challenge, strategy, model) in a tournament; recorded, not used. */
  attempt: number;
  /** Episode seed: each model call gets `stepSeed(seed, step)`. */
  seed: number;
}

/** What the runner works with. */
export interface RunEpisodeDeps {
  pool: SandboxPool;
  /** Injected examples (up to the strategy's `examples.k`). @default none */
  patterns?: PatternSource;
  /** Receives the record before `runEpisode` returns. @default none */
  sink?: EpisodeSink;
  /** Aborting stops the episode (stop reason `aborted`); the record is still returned. */
  signal?: AbortSignal;
  /** @default the weights of configs/strategies.yaml as committed ({@linkcode DEFAULT_FITNESS}) */
  fitness?: FitnessWeights;
  /** Renders injected examples into the prompt. @default renderExamples (injection format v1) */
  renderExamples?: ExampleRenderer;
  /** Limits of the agent's SQL. @default the tools' defaults (200 rows, 5 s) */
  toolLimits?: Partial<ToolLimits>;
  /** @default configs/roles.yaml */
  roles?: RolesConfig;
  /**
   * Judges the episode instead of the challenge's verifier (e.g. a person's own question, which has none).
   * @default the challenge's verifier
   */
  verify?: (challenge: Challenge, ctx: ToolContext) => Promise<Verdict>;
}

/** Why an episode ended. */
export type StopReason =
  | "submitted"
  | "step_cap"
  | "token_cap"
  | "time_cap"
  | "model_errors"
  | "no_tool_call"
  | "model_failed"
  | "run_budget"
  | "aborted"
  /** The episode's database was lost and could not be restored (recorded as an error; the instance is rebuilt). */
  | "sandbox_error";

/** Self-consistency: how the n choices of a step voted. */
export interface VoteRecord {
  n: number;
  /** Index of the choice taken. */
  chosen: number;
  /** Distinct tool-call lists (canonical JSON, ids ignored), most votes first. */
  tally: { key: string; votes: number; choices: number[] }[];
}

/** One model call. */
export interface StepRecord {
  index: number;
  /** The seed sent with the call. */
  seed: number;
  usage: Usage;
  /** Timing. */
  latencyMs: number;
  costUsd: number;
  cached: boolean;
  /** Expected model failures the client reported for this call (malformed tool calls, unknown tools). */
  modelErrors: string[];
  finishReason?: string;
  /** Tool calls in the reply taken. */
  toolCalls: number;
  vote?: VoteRecord;
}

/** One tool call the model made. */
export interface ToolCallTrace {
  /** The model call it came from. */
  step: number;
  id: string;
  name: string;
  /** Parsed arguments (null when they were not valid JSON). */
  args: Record<string, unknown> | null;
  /** The arguments as sent, when they did not parse. */
  rawArgs?: string;
  ok: boolean;
  error?: string;
  /** The tool's result (without its timing); absent for a malformed call, which never reached the tool. */
  result?: Record<string, unknown>;
  /** A model error (bad JSON, a tool not offered) rather than a tool error. */
  malformed?: boolean;
  /** Timing. */
  ms: number;
}

/** One SQL statement the agent sent, with the tool call it came from. */
export interface QueryTrace extends QueryRecord {
  /** Index into `toolCalls`. */
  call: number;
}

/** One attempt: the full trace, the verdict and the fitness. */
export interface EpisodeRecord {
  /** `<challenge id>#<strategy>#<model>#s<seed>#a<attempt>`. */
  id: string;
  challengeId: string;
  /** Challenge metadata (the record may hold it; the prompt never does). */
  challenge: {
    family: string;
    level: number;
    category: string;
    outcome: string;
    split: string;
    orgId: number;
    optimalSteps: number | null;
  };
  role: string;
  asOf: string;
  task: string;
  strategyId: string;
  /** The model's entry name in configs/models.yaml and its provider id. */
  model: { name: string; id: string };
  seed: number;
  attempt: number;
  /** Injected examples (how many were put in the prompt). */
  examples: number;
  /** The injected examples themselves (ids when the source gives them), for pattern reuse analytics. */
  injected?: InjectedExample[];
  /** Every message of the conversation, system prompt first. */
  messages: ChatMessage[];
  steps: StepRecord[];
  toolCalls: ToolCallTrace[];
  queries: QueryTrace[];
  tokens: { input: number; output: number; total: number };
  costUsd: number;
  /** Every model error of the episode, in order (also per step). */
  modelErrors: string[];
  answer: SubmittedAnswer | null;
  verdict: Verdict;
  fitness: EpisodeFitness;
  stopReason: StopReason;
  /** What stopped it, for people. */
  stopDetail: string;
  /** Timing: ISO start time. */
  startedAt: string;
  /** Timing: wall time of the episode including verification. */
  latencyMs: number;
  /** Timing: time spent in model calls. */
  modelLatencyMs: number;
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

/** Removes the timing fields of a record (for comparing runs). Returns a new value. */
export function stripTimings(record: EpisodeRecord): Omit<EpisodeRecord, "startedAt" | "latencyMs" | "modelLatencyMs"> {
  const { startedAt: _s, latencyMs: _l, modelLatencyMs: _m, ...rest } = structuredClone(record);
  for (const s of rest.steps) s.latencyMs = 0;
  for (const t of rest.toolCalls) t.ms = 0;
  for (const q of rest.queries) q.ms = 0;
  return rest;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…[cut ${text.length - max} of ${text.length} chars]`;
}

const round2 = (x: number) => Math.round(x * 100) / 100;

const renderNothing: ExampleRenderer = () => "";

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

// Results of the verifier's queries on the pristine state, per pool, by (org, SQL): an organization's starting
// state never changes, so the reference queries and table hashes one challenge needs are run once for all the
// strategies, attempts and generations that play it, not once per episode. Results are frozen: shared rows must
// not be changed by whoever reads them.
const pristineCache = new WeakMap<SandboxPool, Map<string, Promise<readonly SqlRow[]>>>();
const PRISTINE_CACHE_MAX = 8192;

function cachedPristine(pool: SandboxPool, ep: Episode): (sql: string) => Promise<SqlRow[]> {
  let cache = pristineCache.get(pool);
  if (!cache) pristineCache.set(pool, cache = new Map());
  const c = cache;
  return (sql) => {
    const key = `${ep.orgId}\u0000${sql}`;
    let hit = c.get(key);
    if (!hit) {
      if (c.size >= PRISTINE_CACHE_MAX) c.clear();
      hit = ep.queryPristine(sql).then((rows) => Object.freeze(rows.map((r) => Object.freeze(r))));
      hit.catch(() => c.delete(key));
      c.set(key, hit);
    }
    return hit as Promise<SqlRow[]>;
  };
}

/**
 * The verifier's view of an episode: the pristine state through the pool's cache, and the current state — which
 * is the pristine one when the episode made no accepted write (reads cannot change it, rejected writes leave no
 * trace), so a read-only episode's table diff costs no query at all.
 */
function verifyContext(pool: SandboxPool, ep: Episode): VerifyContext {
  const pristine = cachedPristine(pool, ep);
  return {
    asOf: ep.asOf,
    pristine,
    current: (sql) => ep.writes.length ? ep.query(sql) : pristine(sql),
  };
}

/**
 * Runs one episode: acquires a fresh copy of the challenge's tenant, runs the tool loop, verifies by
 * execution, computes fitness, hands the record to the sink and returns it.
 *
 * @example
 * ```ts
 * const cfg = await loadStrategiesConfig();
 * const model = createChatModel(getModelConfig(await loadModelsConfig(), "local"), { baseUrl: server.url });
 * const rec = await runEpisode({ challenge, strategy: cfg.strategies.alpha, model, attempt: 0, seed: 1 }, { pool, fitness: cfg.fitness });
 * console.log(rec.stopReason, rec.verdict.pass, rec.fitness.composite);
 * ```
 */
export async function runEpisode(spec: EpisodeSpec, deps: RunEpisodeDeps): Promise<EpisodeRecord> {
  const record = await runInSandbox(spec, deps);
  // The sandbox copy is released before the sink runs: storing must not hold a pool instance.
  await deps.sink?.(record);
  return record;
}

async function runInSandbox(spec: EpisodeSpec, deps: RunEpisodeDeps): Promise<EpisodeRecord> {
  const { challenge, strategy, model, seed, attempt } = spec;
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const budgets = strategy.budgets;
  await using ep = await deps.pool.acquire(challenge.orgId, { role: challenge.role });
  const ctx = createToolContext(ep, { limits: deps.toolLimits, roles: deps.roles });

  const examples = strategy.examples.k > 0 && deps.patterns
    ? (await deps.patterns({ task: challenge.task, role: challenge.role, split: challenge.split })).slice(
      0,
      strategy.examples.k,
    )
    : [];
  const messages: ChatMessage[] = openingMessages({
    strategy,
    task: challenge.task,
    role: challenge.role,
    asOf: ep.asOf,
    examples,
    // The default renderer writes nothing for no examples, but counts tokens to find that out.
    renderExamples: deps.renderExamples ?? (examples.length ? undefined : renderNothing),
    roles: deps.roles,
  });
  const allowed = new Set<string>(strategy.tools.allowed);
  const tools = toolSchemasFor(allowed);

  const steps: StepRecord[] = [];
  const toolCalls: ToolCallTrace[] = [];
  const queries: QueryTrace[] = [];
  const modelErrors: string[] = [];
  let tokensIn = 0, tokensOut = 0, cost = 0, modelMs = 0, textReplies = 0;
  let stop: { reason: StopReason; detail: string } | undefined;
  const deadline = t0 + budgets.max_seconds * 1000;

  while (!stop) {
    if (deps.signal?.aborted) {
      stop = { reason: "aborted", detail: "the run was aborted" };
      break;
    }
    if (toolCalls.length >= budgets.max_steps) {
      stop = { reason: "step_cap", detail: `reached the step cap of ${budgets.max_steps} tool calls` };
      break;
    }
    if (tokensIn + tokensOut >= budgets.max_tokens) {
      stop = { reason: "token_cap", detail: `used ${tokensIn + tokensOut} of ${budgets.max_tokens} tokens` };
      break;
    }
    const remaining = deadline - performance.now();
    if (remaining <= 0) {
      stop = { reason: "time_cap", detail: `reached the time cap of ${budgets.max_seconds} s` };
      break;
    }
    const index = steps.length;
    const timeSignal = AbortSignal.timeout(Math.max(1, Math.ceil(remaining)));
    const signal = deps.signal ? AbortSignal.any([deps.signal, timeSignal]) : timeSignal;
    const callSeed = stepSeed(seed, index);
    let result: ChatResult;
    const tCall = performance.now();
    try {
      result = await model.invoke({
        // A snapshot of the list (later turns are appended to `messages`); messages themselves are never changed.
        messages: messages.slice(),
        tools,
        toolChoice: strategy.sampling.tool_choice,
        temperature: strategy.sampling.temperature,
        topP: strategy.sampling.top_p,
        seed: callSeed,
        ...(strategy.sampling.max_tokens ? { maxTokens: strategy.sampling.max_tokens } : {}),
        ...(strategy.sampling.n > 1 ? { n: strategy.sampling.n } : {}),
        signal,
      });
    } catch (e) {
      modelMs += performance.now() - tCall;
      if (e instanceof BudgetExceeded) stop = { reason: "run_budget", detail: e.message };
      else if (e instanceof ModelCallError) {
        modelErrors.push(`step ${index}: ${e.message}`);
        stop = { reason: "model_failed", detail: e.message };
      } else if (deps.signal?.aborted) stop = { reason: "aborted", detail: "the run was aborted during a model call" };
      else if (timeSignal.aborted) {
        stop = { reason: "time_cap", detail: `reached the time cap of ${budgets.max_seconds} s during a model call` };
      } else throw e;
      break;
    }
    modelMs += result.latencyMs;
    tokensIn += result.usage.inputTokens;
    tokensOut += result.usage.outputTokens;
    cost += result.costUsd;
    modelErrors.push(...result.modelErrors.map((m) => `step ${index}: ${m}`));

    const vote = strategy.sampling.n > 1 && result.choices.length > 1 ? majorityVote(result.choices) : undefined;
    const reply = vote ? result.choices[vote.chosen] : result.message;
    const calls = (reply.toolCalls ?? []).map((c, i) => ({ ...c, id: c.id || `call_${index}_${i}` }));
    steps.push({
      index,
      seed: callSeed,
      usage: result.usage,
      latencyMs: round2(result.latencyMs),
      costUsd: result.costUsd,
      cached: result.cached,
      modelErrors: result.modelErrors,
      ...(reply.finishReason ? { finishReason: reply.finishReason } : {}),
      toolCalls: calls.length,
      ...(vote ? { vote } : {}),
    });
    messages.push({
      role: "assistant",
      content: reply.content ?? null,
      ...(calls.length ? { toolCalls: calls.map((c) => ({ id: c.id, name: c.name, args: c.args ?? {} })) } : {}),
    });

    if (!calls.length) {
      textReplies++;
      if (textReplies > budgets.max_text_replies) {
        stop = { reason: "no_tool_call", detail: `the model replied ${textReplies} times without calling a tool` };
        break;
      }
      messages.push({ role: "user", content: strategy.prompt.nudge.trim() });
      continue;
    }

    for (const call of calls) {
      if (toolCalls.length >= budgets.max_steps) {
        stop = { reason: "step_cap", detail: `reached the step cap of ${budgets.max_steps} tool calls` };
        break;
      }
      const trace: ToolCallTrace = {
        step: index,
        id: call.id,
        name: call.name,
        args: call.args ?? null,
        ok: false,
        ms: 0,
      };
      if (call.rawArgs !== undefined) trace.rawArgs = call.rawArgs;
      let content: Record<string, unknown>;
      if (call.error !== undefined) {
        Object.assign(trace, { error: call.error, malformed: true });
        content = { ok: false, error: `${call.error}; call one of: ${[...allowed].join(", ")} with JSON arguments` };
      } else {
        const before = ctx.log.queries.length;
        const { elapsedMs, ...rest } = await callTool(ctx, call.name, call.args ?? {});
        trace.ms = elapsedMs;
        trace.ok = rest.ok;
        if (!rest.ok) trace.error = rest.error;
        trace.result = rest;
        content = rest;
        for (const q of ctx.log.queries.slice(before)) queries.push({ ...q, call: toolCalls.length });
      }
      toolCalls.push(trace);
      messages.push({
        role: "tool",
        toolCallId: call.id,
        content: truncate(JSON.stringify(content), budgets.max_tool_result_chars),
      });
      if (call.name === "submitAnswer" && trace.ok) {
        stop = { reason: "submitted", detail: "the model submitted an answer" };
        break;
      }
      if (ep.broken) {
        stop = { reason: "sandbox_error", detail: trace.error ?? "the episode's database was lost" };
        break;
      }
    }
    if (!stop && modelErrors.length > budgets.max_model_errors) {
      stop = {
        reason: "model_errors",
        detail: `${modelErrors.length} model errors (tolerated: ${budgets.max_model_errors})`,
      };
    }
  }

  // A lost episode database cannot be judged: the episode is an error, never a pass (and never a crash of the run).
  const lost = (detail: string): Verdict => ({
    pass: false,
    score: 0,
    reason: `sandbox error: ${detail}`,
    details: { sandboxError: true, safetyViolations: queries.filter((q) => q.refused).length },
  });
  let verdict: Verdict;
  if (ep.broken) {
    stop = { reason: "sandbox_error", detail: stop?.detail ?? "the episode's database was lost" };
    verdict = lost(stop.detail);
  } else {
    try {
      verdict = deps.verify
        ? await deps.verify(challenge, ctx)
        : await verify(challenge, outcomeOf(ctx), verifyContext(deps.pool, ep));
    } catch (e) {
      if (!ep.broken) throw e;
      stop = { reason: "sandbox_error", detail: e instanceof Error ? e.message : String(e) };
      verdict = lost(stop.detail);
    }
  }
  const fitness = episodeFitness(
    {
      verdict,
      steps: toolCalls.length,
      optimalSteps: challenge.optimalSteps,
      tokens: tokensIn + tokensOut,
      safetyViolations: queries.filter((q) => q.refused).length,
    },
    queries,
    { weights: deps.fitness ?? DEFAULT_FITNESS, rowCap: ctx.limits.rowCap },
  );
  return {
    id: `${challenge.id}#${strategy.id}#${model.name}#s${seed}#a${attempt}`,
    challengeId: challenge.id,
    challenge: {
      family: challenge.family,
      level: challenge.level,
      category: challenge.category,
      outcome: challenge.outcome,
      split: challenge.split,
      orgId: challenge.orgId,
      optimalSteps: challenge.optimalSteps ?? null,
    },
    role: challenge.role,
    asOf: ep.asOf,
    task: challenge.task,
    strategyId: strategy.id,
    model: { name: model.name, id: model.config.model },
    seed,
    attempt,
    examples: examples.length,
    ...(examples.length ? { injected: examples } : {}),
    messages,
    steps,
    toolCalls,
    queries,
    tokens: { input: tokensIn, output: tokensOut, total: tokensIn + tokensOut },
    costUsd: cost,
    modelErrors,
    answer: ctx.answer ?? null,
    verdict,
    fitness,
    stopReason: stop!.reason,
    stopDetail: stop!.detail,
    startedAt,
    latencyMs: round2(performance.now() - t0),
    modelLatencyMs: round2(modelMs),
  };
}
