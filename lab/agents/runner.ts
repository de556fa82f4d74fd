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
import { type Challenge, type Verdict, verifyEpisode } from "../challenges/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import {
  createToolContext,
  type QueryRecord,
  type RolesConfig,
  type SubmittedAnswer,
  type ToolContext,
  type ToolLimits,
} from "../tools/mod.ts";
import type { ChatMessage, ChatModel, Usage } from "../models/mod.ts";
import { DEFAULT_FITNESS, type EpisodeFitness, episodeFitness } from "./fitness.ts";
import { type ExampleRenderer, type InjectedExample, openingMessages } from "./prompt.ts";
import type { FitnessWeights, Strategy } from "./strategies.ts";
import { round2, runToolLoop, type Stop, type ToolLoopResult } from "./tool_loop.ts";

export { majorityVote, stepSeed } from "./tool_loop.ts";

/**
 * Port: examples for a task, implemented by `lab/patterns` (the runner never imports it). `split` lets the
 * source keep held-out tasks out of what it returns; it is never shown to the model.
 * @internal
 */
export type PatternSource = (query: { task: string; role: string; split?: string }) => Promise<InjectedExample[]>;

/**
 * Port: stores a finished episode, implemented by `lab/patterns` (or a test's array).
 * @internal
 */
export type EpisodeSink = (episode: EpisodeRecord) => Promise<void>;

/**
 * What to run.
 * @internal
 */
export interface EpisodeSpec {
  challenge: Challenge;
  strategy: Strategy;
  model: ChatModel;
  /** Attempt number of this (challenge, strategy, model) in a tournament; recorded, not used. */
  attempt: number;
  /** Episode seed: each model call gets `stepSeed(seed, step)`. */
  seed: number;
}

/**
 * What the runner works with.
 * @internal
 */
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

/**
 * One attempt: the full trace, the verdict and the fitness.
 * @internal
 */
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

/** Removes the timing fields of a record (for comparing runs). Returns a new value. */
export function stripTimings(record: EpisodeRecord): Omit<EpisodeRecord, "startedAt" | "latencyMs" | "modelLatencyMs"> {
  const { startedAt: _s, latencyMs: _l, modelLatencyMs: _m, ...rest } = structuredClone(record);
  for (const s of rest.steps) s.latencyMs = 0;
  for (const t of rest.toolCalls) t.ms = 0;
  for (const q of rest.queries) q.ms = 0;
  return rest;
}

const renderNothing: ExampleRenderer = () => "";

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
  const { challenge, strategy } = spec;
  const startedMs = performance.now();
  const startedAt = new Date().toISOString();
  await using ep = await deps.pool.acquire(challenge.orgId, { role: challenge.role });
  const ctx = createToolContext(ep, { limits: deps.toolLimits, roles: deps.roles });
  const examples = await injectedExamples(spec, deps);
  const messages = openingMessages({
    strategy,
    task: challenge.task,
    role: challenge.role,
    asOf: ep.asOf,
    examples,
    // The default renderer writes nothing for no examples, but counts tokens to find that out.
    renderExamples: deps.renderExamples ?? (examples.length ? undefined : renderNothing),
    roles: deps.roles,
  });
  const loop = await runToolLoop({
    strategy,
    model: spec.model,
    seed: spec.seed,
    ctx,
    messages,
    startedMs,
    signal: deps.signal,
  });
  const { verdict, stop } = await judgeEpisode(spec, deps, ctx, loop);
  const fitness = episodeFitness(
    {
      verdict,
      steps: loop.toolCalls.length,
      optimalSteps: challenge.optimalSteps,
      tokens: loop.tokensIn + loop.tokensOut,
      safetyViolations: safetyViolations(loop),
    },
    loop.queries,
    { weights: deps.fitness ?? DEFAULT_FITNESS, rowCap: ctx.limits.rowCap },
  );
  return {
    ...recordHead(spec, ep.asOf, examples),
    messages: loop.messages,
    steps: loop.steps,
    toolCalls: loop.toolCalls,
    queries: loop.queries,
    tokens: { input: loop.tokensIn, output: loop.tokensOut, total: loop.tokensIn + loop.tokensOut },
    costUsd: loop.costUsd,
    modelErrors: loop.modelErrors,
    answer: ctx.answer ?? null,
    verdict,
    fitness,
    stopReason: stop.reason,
    stopDetail: stop.detail,
    startedAt,
    latencyMs: round2(performance.now() - startedMs),
    modelLatencyMs: round2(loop.modelMs),
  };
}

/** The examples injected into the prompt: up to the strategy's `examples.k` from the pattern source, if any. */
async function injectedExamples(spec: EpisodeSpec, deps: RunEpisodeDeps): Promise<InjectedExample[]> {
  const { challenge, strategy } = spec;
  if (strategy.examples.k <= 0 || !deps.patterns) return [];
  const found = await deps.patterns({ task: challenge.task, role: challenge.role, split: challenge.split });
  return found.slice(0, strategy.examples.k);
}

const safetyViolations = (loop: ToolLoopResult) => loop.queries.filter((q) => q.refused).length;

/**
 * The verdict on a finished tool loop: by `deps.verify`, or by the challenge's verifier on the episode's
 * database (its pristine queries shared through the pool). A lost database cannot be judged: the episode is then
 * a sandbox error, never a pass (and never a crash of the run), and that becomes its stop.
 */
async function judgeEpisode(
  spec: EpisodeSpec,
  deps: RunEpisodeDeps,
  ctx: ToolContext,
  loop: ToolLoopResult,
): Promise<{ verdict: Verdict; stop: Stop }> {
  const lost = (detail: string): { verdict: Verdict; stop: Stop } => ({
    verdict: {
      pass: false,
      score: 0,
      reason: `sandbox error: ${detail}`,
      details: { sandboxError: true, safetyViolations: safetyViolations(loop) },
    },
    stop: { reason: "sandbox_error", detail },
  });
  if (ctx.episode.broken) return lost(loop.stop.detail);
  try {
    const verdict = deps.verify
      ? await deps.verify(spec.challenge, ctx)
      : await verifyEpisode(spec.challenge, ctx, { pool: deps.pool });
    return { verdict, stop: loop.stop };
  } catch (e) {
    if (!ctx.episode.broken) throw e;
    return lost(e instanceof Error ? e.message : String(e));
  }
}

/** The fields of a record that say what was run: ids, the challenge's metadata, the seed and the examples. */
function recordHead(spec: EpisodeSpec, asOf: string, examples: InjectedExample[]) {
  const { challenge, strategy, model, seed, attempt } = spec;
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
    asOf,
    task: challenge.task,
    strategyId: strategy.id,
    model: { name: model.name, id: model.config.model },
    seed,
    attempt,
    examples: examples.length,
    ...(examples.length ? { injected: examples } : {}),
  };
}
