/**
 * Agents: the lab's one agent runner. A Strategy (data in `configs/strategies.yaml`: prompt fragments,
 * sampling, tool preferences, budgets, verification behaviour, optional self-consistency) makes an Agent out of
 * a Model; {@linkcode runEpisode} runs it on one Challenge in a fresh sandbox copy and returns the full trace,
 * the verdict and the fitness. Tournaments, lab-mini and evals all run episodes through it.
 *
 * Ports (implemented by `lab/patterns`, wired by notebooks and the CLI): {@linkcode PatternSource} gives
 * examples to inject, {@linkcode EpisodeSink} stores finished episodes.
 *
 * @example
 * ```ts
 * import { ensureSandbox, SandboxPool, loadCatalog, createChatModel, getModelConfig, loadModelsConfig } from "./lab/mod.ts";
 * import { loadStrategiesConfig, runEpisode } from "./lab/agents/mod.ts";
 * const { path } = await ensureSandbox({ scale: "tiny" });
 * await using pool = await SandboxPool.open(path);
 * const [challenge] = await loadCatalog({ split: "dev", level: 1 });
 * const cfg = await loadStrategiesConfig();
 * const model = createChatModel(getModelConfig(await loadModelsConfig(), "local"));
 * const rec = await runEpisode({ challenge, strategy: cfg.strategies.delta, model, attempt: 0, seed: 7 }, { pool, fitness: cfg.fitness });
 * console.log(rec.stopReason, rec.verdict, rec.fitness.composite, rec.toolCalls.map((c) => c.name));
 * ```
 * @module
 */
export {
  type EpisodeRecord,
  type EpisodeSink,
  type EpisodeSpec,
  majorityVote,
  type PatternSource,
  type QueryTrace,
  runEpisode,
  type RunEpisodeDeps,
  type StepRecord,
  stepSeed,
  type StopReason,
  stripTimings,
  type ToolCallTrace,
  type VoteRecord,
} from "./runner.ts";
export {
  Budgets,
  ExamplesSpec,
  FitnessWeights,
  getStrategy,
  Lineage,
  loadStrategiesConfig,
  parseStrategiesConfig,
  PromptSpec,
  Sampling,
  STRATEGIES_CONFIG_PATH,
  STRATEGIES_SCHEMA_PATH,
  type StrategiesConfig,
  StrategiesFile,
  strategiesJsonSchema,
  type Strategy,
  StrategyEntry,
  TOOL_NAMES,
  ToolPreferences,
  Verification,
} from "./strategies.ts";
export {
  DEFAULT_FITNESS,
  type EpisodeFitness,
  episodeFitness,
  type QueryFitness,
  queryFitness,
  type TurnFitness,
  turnFitness,
  type TurnInput,
  usesViews,
} from "./fitness.ts";
export {
  type ExampleRenderer,
  type InjectedExample,
  openingMessages,
  type PromptInput,
  renderExamples,
  schemaSummary,
  strategyInstructions,
  systemPrompt,
} from "./prompt.ts";
export { type Script, type ScriptedCall, type ScriptedModel, scriptedModel, type ScriptedReply } from "./testing.ts";
