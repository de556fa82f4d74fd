/**
 * Arms and suites, and the one way to run them. An {@linkcode Arm} is data: which model, which strategy, which
 * pattern source (or none). A {@linkcode Suite} is a challenge selection, episode seeds and arms. {@linkcode runSuite}
 * runs every arm on every challenge once per seed on the lab's one agent runner and one scheduler, and returns one
 * {@linkcode SuiteEpisode} per episode: the one record shape every comparison reads.
 * @module
 */
import type { Challenge } from "../challenges/mod.ts";
import {
  type EpisodeRecord,
  type ExampleRenderer,
  type PatternSource,
  runEpisode,
  type StrategiesConfig,
  type Strategy,
} from "../agents/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import { usedPatterns } from "../patterns/mod.ts";
import { mapConcurrent } from "../util/mod.ts";

/** One arm of a suite. */
export interface Arm {
  /** Unique within the suite; the label of its episodes. */
  id: string;
  /**
   * The model it runs: a name {@linkcode SuiteDeps.models} resolves (a configs/models.yaml entry or a served model
   * id), or one model per challenge level (e.g. a version fine-tuned without that level's families).
   */
  model: string | { byLevel: Record<number, string> };
  /** The strategy its agent plays. */
  strategy: Strategy;
  /** Examples injected into every episode. @default none */
  patterns?: PatternSource;
  /** Renders the injected examples. @default the runner's (injection format v1) */
  renderExamples?: ExampleRenderer;
  /** Runs only these challenge ids (e.g. the families a version was not trained on). @default every challenge */
  only?: readonly string[];
  /**
   * Picks the model reference and strategy per challenge (a learned router, `lab/use`); undefined falls back to
   * the arm's own `model` and `strategy`. Called once per (challenge, seed); it must be deterministic so the arm's
   * episodes pair with the other arms'. @default none
   */
  route?: (challenge: Challenge) => { model: string; strategy: Strategy } | undefined;
}

/** What a suite runs. */
export interface Suite {
  /** Names the suite in results and reports. */
  name: string;
  /** The challenges every arm runs. */
  challenges: readonly Challenge[];
  /** Episode seeds: every arm runs every challenge once per seed, so the arms' episodes pair by (challenge, seed). */
  seeds: readonly number[];
  /** The arms compared. */
  arms: readonly Arm[];
}

/** One episode of a suite: the one record shape comparisons read. */
export interface SuiteEpisode {
  /** The arm's id. */
  arm: string;
  /** The challenge's id. */
  challengeId: string;
  /** The challenge's family (the lab's cluster). */
  family: string;
  /** `<family>/t<template index>`: the wording the instance was rendered from. */
  template: string;
  /** The challenge's level. */
  level: number;
  /** The challenge's split. */
  split: string;
  /** The episode seed. */
  seed: number;
  /** Index of the seed in the suite's seeds. */
  attempt: number;
  /** The model id the arm resolved for this challenge. */
  model: string;
  /** The arm's strategy id. */
  strategyId: string;
  /** Whether the verdict passed. */
  pass: boolean;
  /** The verdict's score in [0, 1]. */
  score: number;
  /** Composite fitness. */
  composite: number;
  /** Total tokens the episode used. */
  tokens: number;
  /** What the episode cost, in US dollars. */
  costUsd: number;
  /** Wall time of the episode, in milliseconds. */
  latencyMs: number;
  /** Queries the episode ran. */
  queries: number;
  /** Queries that ran without an error (query success rate = queriesOk / queries). */
  queriesOk: number;
  /** Agent steps taken. */
  steps: number;
  /** The challenge's optimal step count, when known. */
  optimalSteps: number | null;
  /** The submitted answer as JSON, or null when nothing was submitted. */
  answer: string | null;
  /** Why the episode stopped. */
  stopReason: string;
  /** Examples handed to the prompt builder. */
  examples: number;
  /** Examples actually rendered in the system prompt (a token budget may drop long ones). */
  rendered: number;
  /** Ids of the injected examples that have one. */
  injected: string[];
  /** Ids of the injected examples the episode used (a successful statement of the example ran). */
  used: string[];
}

/**
 * What {@linkcode runSuite} runs with: ready objects, built once by the caller (see `lab/context.ts`).
 * @internal
 */
export interface SuiteDeps {
  /** Resolves an arm's model reference. Called once per distinct reference. */
  models: (ref: string) => ChatModel;
  pool: SandboxPool;
  fitness?: StrategiesConfig["fitness"];
  /** Episodes in flight. @default 4 */
  concurrency?: number;
  /** Aborting stops the suite (it throws: a partial suite does not pair). */
  signal?: AbortSignal;
  onEpisode?: (done: number, total: number) => void;
  /** Receives every episode's full record, in completion order. */
  onRecord?: (arm: string, record: EpisodeRecord) => void;
}

/** The episodes of a suite, in (arm, challenge, seed) order. */
export interface SuiteResult {
  /** The suite's name. */
  suite: string;
  /** The arms' ids, in suite order. */
  arms: string[];
  /** The challenges' ids, in suite order. */
  challenges: string[];
  /** The episode seeds. */
  seeds: number[];
  /** Every episode. */
  episodes: SuiteEpisode[];
}

const RENDERED_EXAMPLE = /^### Example \d+$/gm;

/** The model reference an arm uses on a challenge. */
export function armModel(arm: Arm, challenge: Challenge): string {
  if (typeof arm.model === "string") return arm.model;
  const ref = arm.model.byLevel[challenge.level];
  if (!ref) throw new RangeError(`arm '${arm.id}' has no model for level ${challenge.level}`);
  return ref;
}

/** Checks a suite: unique arm ids, seeds and challenge ids, and at least one of each. */
export function checkSuite(suite: Suite): void {
  const where = `suite '${suite.name}'`;
  if (!suite.arms.length) throw new RangeError(`${where} has no arms`);
  if (!suite.challenges.length) throw new RangeError(`${where} has no challenges; check the selection (split, levels, families, --challenges)`);
  if (!suite.seeds.length) throw new RangeError(`${where} has no seeds`);
  const dup = <T>(xs: readonly T[]) => xs.find((x, i) => xs.indexOf(x) !== i);
  const arm = dup(suite.arms.map((a) => a.id));
  if (arm !== undefined) throw new RangeError(`${where}: arm id '${arm}' is used twice`);
  const seed = dup(suite.seeds);
  if (seed !== undefined) throw new RangeError(`${where}: seed ${seed} is listed twice`);
  const id = dup(suite.challenges.map((c) => c.id));
  if (id !== undefined) throw new RangeError(`${where}: challenge ${id} is listed twice`);
}

function toEpisode(arm: Arm, c: Challenge, model: string, strategy: Strategy, attempt: number, rec: EpisodeRecord): SuiteEpisode {
  const injected = rec.injected ?? [];
  const ids = (xs: readonly { id?: string }[]) => xs.flatMap((x) => (x.id ? [x.id] : []));
  return {
    arm: arm.id,
    challengeId: c.id,
    family: c.family,
    template: `${c.family}/t${c.templateIndex}`,
    level: c.level,
    split: c.split,
    seed: rec.seed,
    attempt,
    model,
    strategyId: strategy.id,
    pass: rec.verdict.pass,
    score: rec.verdict.score,
    composite: rec.fitness.composite,
    tokens: rec.tokens.total,
    costUsd: rec.costUsd,
    latencyMs: rec.latencyMs,
    queries: rec.queries.length,
    queriesOk: rec.queries.filter((q) => q.ok).length,
    steps: rec.steps.length,
    optimalSteps: rec.challenge.optimalSteps,
    answer: rec.answer ? JSON.stringify(rec.answer.answer) : null,
    stopReason: rec.stopReason,
    examples: rec.examples,
    rendered: (String(rec.messages[0]?.content ?? "").match(RENDERED_EXAMPLE) ?? []).length,
    injected: ids(injected),
    used: ids(usedPatterns(injected, rec.queries.filter((q) => q.ok))),
  };
}

/**
 * Runs every arm on every challenge (or its `only` subset) once per seed and returns the episodes in (arm, challenge,
 * seed) order. Expected failures are recorded in the episodes; an abort throws, since a partial suite would not pair.
 *
 * @example
 * ```ts
 * const r = await runSuite(
 *   { name: "smoke", challenges: dev, seeds: [1, 2], arms: [{ id: "alpha", model: "lab-mini", strategy: alpha }] },
 *   { models: (ref) => ctx.model(ref), pool },
 * );
 * r.episodes.filter((e) => e.pass).length;
 * ```
 */
export async function runSuite(suite: Suite, deps: SuiteDeps): Promise<SuiteResult> {
  checkSuite(suite);
  const models = new Map<string, ChatModel>();
  const modelOf = (ref: string) => {
    let m = models.get(ref);
    if (!m) models.set(ref, m = deps.models(ref));
    return m;
  };
  const tasks = suite.arms.flatMap((arm) => {
    const only = arm.only ? new Set(arm.only) : undefined;
    return suite.challenges
      .filter((c) => !only || only.has(c.id))
      .flatMap((challenge) =>
        suite.seeds.map((seed, attempt) => {
          const routed = arm.route?.(challenge);
          return { arm, challenge, seed, attempt, ref: routed?.model ?? armModel(arm, challenge), strategy: routed?.strategy ?? arm.strategy };
        })
      );
  });
  const episodes = await mapConcurrent(tasks, async (t) => {
    const rec = await runEpisode(
      { challenge: t.challenge, strategy: t.strategy, model: modelOf(t.ref), attempt: t.attempt, seed: t.seed },
      {
        pool: deps.pool,
        fitness: deps.fitness,
        signal: deps.signal,
        ...(t.arm.patterns ? { patterns: t.arm.patterns } : {}),
        ...(t.arm.renderExamples ? { renderExamples: t.arm.renderExamples } : {}),
      },
    );
    deps.onRecord?.(t.arm.id, rec);
    return toEpisode(t.arm, t.challenge, t.ref, t.strategy, t.attempt, rec);
  }, { concurrency: deps.concurrency ?? 4, signal: deps.signal, onDone: deps.onEpisode });
  if (deps.signal?.aborted) throw new DOMException(`suite '${suite.name}' aborted`, "AbortError");
  return {
    suite: suite.name,
    arms: suite.arms.map((a) => a.id),
    challenges: suite.challenges.map((c) => c.id),
    seeds: [...suite.seeds],
    episodes,
  };
}
