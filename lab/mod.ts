/**
 * The lab's public surface: notebooks and external scripts import from here only. It names what a notebook
 * needs — sandboxes and tools, challenges, agents and models, tournaments, patterns, datasets, fine-tuning and the
 * model registry, evals, reports — and
 * nothing else; library code and tests import a folder through its own `mod.ts`.
 *
 * Every name here is documented and `deno doc --lint lab/mod.ts` is clean (`lab/mod.test.ts` holds it). A type
 * these signatures use but this door does not name (an options bag, a result record, a config) is tagged
 * `@internal` where it is defined; import it from its folder's `mod.ts` when a script must name it.
 *
 * @example
 * ```ts
 * import { ensureSandbox, SandboxPool, createToolContext, callTool, loadCatalog, htmlTable } from "../lab/mod.ts";
 * const { path } = await ensureSandbox({ scale: "tiny" });
 * await using pool = await SandboxPool.open(path);
 * await using ep = await pool.acquire(1, { role: "analyst" });
 * const ctx = createToolContext(ep);
 * const r = await callTool(ctx, "dbRead", { sql: "SELECT * FROM v_monthly_revenue ORDER BY month" });
 * const catalog = await loadCatalog({ split: "dev", level: 1 });
 * console.log(r, htmlTable(catalog.map((c) => ({ id: c.id, family: c.family }))));
 * ```
 * @module
 */

// The context a notebook opens once: paths, configs, models and stores, wired together.
export { LabContext, type LabContextOptions } from "./context.ts";

// Errors and small utilities.
export { ConfigError, LabError, type ProgressBar, progressBar, type ProgressOptions, repoPath } from "./util/mod.ts";

// Sandboxes: the synthetic company database and a pool of per-episode copies of it.
export {
  ensureSandbox,
  type EnsureSandboxOptions,
  type SandboxManifest,
  SandboxPool,
  type SandboxSpec,
  type Scale,
  TABLES,
  VIEWS,
} from "./sandbox/mod.ts";

// Tools: what an agent (or a notebook) may call against an episode's sandbox.
export { callTool, createToolContext, type ToolResult } from "./tools/mod.ts";

// Challenges: the catalog of task instances, their levels, and the judge.
export {
  type Challenge,
  countInstances,
  judgeSolution,
  type Level,
  LEVEL_NAMES,
  LEVELS,
  loadCatalog,
  readOracleFixture,
  type Verdict,
} from "./challenges/mod.ts";

// Models: configured chat models, and the trainers the lab's server fine-tunes lab-mini with.
export { createChatModel, defaultTrainers, getModelConfig, loadModelsConfig } from "./models/mod.ts";

// Agents: strategies and the one episode runner.
export { getStrategy, openingMessages, runEpisode, type Strategy } from "./agents/mod.ts";

// Tournaments: evolving strategies over generations, and the summaries notebooks plot.
export {
  challengeLevels,
  episodeGenerations,
  type EpisodeRow,
  fitnessByGeneration,
  formatLeaderboard,
  learningRows,
  loadTournamentConfig,
  readEpisodeRows,
  runTournament,
  successByGeneration,
  successByLevel,
} from "./tournament/mod.ts";

// Patterns: what winning episodes teach, stored, retrieved and summarised.
export {
  askQuestion,
  fitnessHistogram,
  learnedFamilyChallenge,
  PatternRetriever,
  patternsByGeneration,
  patternsByLevelCategory,
  PatternStore,
  toArrow,
} from "./patterns/mod.ts";

// Datasets: curated training sets from what the lab learned — tiers, leakage control, staged sets, validation.
export {
  balanceRows,
  buildDataset,
  buildSummary,
  formatBuildSummary,
  LeakageGuard,
  readManifest,
  redactionRows,
  stageRows,
  TIERS,
  tierRows,
  validateChatJsonl,
} from "./datasets/mod.ts";

// Fine-tuning: progressive stages through an OpenAI-shaped fine-tuning API, and the model registry.
export { fineTuneClient, Registry, runStages, seed000Stages } from "./finetune/mod.ts";

// Evals: suites of arms over episodes, paired comparisons, and the lab's standing experiments.
export {
  type Arm,
  type ClusterBy,
  compare,
  type Comparison,
  competitionVsSingle,
  formatCompetition,
  formatLabMiniHonesty,
  formatPatternLift,
  formatSelfImprove,
  liftChartRows,
  type Metric,
  patternLift,
  reevaluateWinners,
  runLabMiniHonesty,
  readSelfImprove,
  runSuite,
  selfImproveCurveRows,
  type Suite,
  type SuiteEpisode,
  type SuiteResult,
} from "./evals/mod.ts";

// Reports: tables and charts rendered inline in a notebook.
export {
  barChart,
  type Chart,
  chart,
  type HtmlTable,
  htmlTable,
  lineChart,
  type Rows,
  type VegaLiteSpec,
} from "./report/mod.ts";

// The local OpenAI-compatible server is a face (no lab module imports it); notebooks, like the CLI, may start it.
export { type LocalServer, startServer } from "./serve/mod.ts";
