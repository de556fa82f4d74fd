/**
 * Tournaments: strategies × challenges × attempts × generations with natural selection of strategies (seed 000),
 * stored in the lab's DuckDB file and resumable by run id.
 *
 * - Config: {@linkcode loadTournamentConfig} / {@linkcode parseTournamentConfig} (`configs/tournament.yaml`).
 * - Engine: {@linkcode runTournament} → {@linkcode RunSummary} (generations, rankings, lineage, leaderboard).
 * - Selection: {@linkcode selectNext}, {@linkcode mutate}, {@linkcode crossover} — children are new Strategy values.
 * - Statistics: {@linkcode leaderboard} (Bradley–Terry ratings, success and fitness with challenge-bootstrap
 *   CIs, pass@k / pass^k), {@linkcode generationStats}, {@linkcode learningMetrics} (fitness improvement,
 *   convergence, pattern discovery rate; {@linkcode formatLearning} / {@linkcode learningRows} to show them).
 * - Store: tables runs, strategies, generations, episodes, queries ({@linkcode readEpisodeRows},
 *   {@linkcode queryStore}, {@linkcode listRuns}); opened per transaction, so a notebook and a running tournament
 *   can share the file; resumable after a kill at any moment (every write is one transaction).
 * - Export: {@linkcode exportRun} writes a run as hive-partitioned Parquet (`lab export`).
 *
 * @example
 * ```ts
 * import { formatLeaderboard, LabContext, runTournament } from "./lab/mod.ts";
 * await using ctx = await LabContext.open();
 * const run = await runTournament({ ...ctx.tournament, generations: 2 }, {
 *   db: ctx.db, model: await ctx.model(), strategies: ctx.strategies, pool: await ctx.pool(),
 * });
 * console.log(run.runId, run.generations.map((g) => g.replaced));
 * console.log(formatLeaderboard(run.leaderboard));
 * ```
 * @module
 */
export {
  ChallengeSelection,
  loadTournamentConfig,
  parseTournamentConfig,
  parseTournamentYaml,
  SandboxChoice,
  Selection,
  TOURNAMENT_CONFIG_PATH,
  TOURNAMENT_SCHEMA_PATH,
  type TournamentConfig,
  type TournamentConfigInput,
  TournamentFile,
  tournamentJsonSchema,
} from "./config.ts";
export {
  changedFields,
  crossover,
  hashSeed,
  type Lineage,
  mutate,
  rankStandings,
  rootId,
  selectNext,
  type SelectionResult,
  type Standing,
} from "./evolve.ts";
export { episodeKey, episodeSeed } from "./generation.ts";
export {
  checkChallengeRoles,
  type GenerationSummary,
  loadRunConfigs,
  type LoadRunConfigsOptions,
  openConfigPool,
  type RunConfigs,
  runTournament,
  type RunSummary,
  type RunTournamentOptions,
  formatGenerations,
  selectChallenges,
  type SelectChallengesOptions,
  type TournamentProgress,
} from "./tournament.ts";
export {
  formatLearning,
  formatLeaderboard,
  type GenerationLearning,
  generationStats,
  leaderboard,
  type LeaderboardRow,
  learningMetrics,
  type LearningMetrics,
  type LearningOptions,
  learningRows,
  pairwiseGames,
  patternKey,
  type StatsOptions,
  type StrategyStats,
  strategyStats,
} from "./stats.ts";
export {
  DEFAULT_DB_PATH,
  type EpisodeRow,
  listRuns,
  openStore,
  type OpenStore,
  queryStore,
  readEpisodeRecords,
  readEpisodeRows,
  readRunSnapshot,
  readStoredStrategy,
  readSolutions,
  type EpisodeSolution,
  type RunListing,
  type StoredEpisode,
  type StoreRef,
  withStore,
} from "./store.ts";
export {
  type ChallengeLevel,
  challengeLevels,
  episodeGenerations,
  type FitnessPoint,
  fitnessByGeneration,
  type GenerationSuccess,
  type LevelSuccess,
  successByGeneration,
  successByLevel,
} from "./summaries.ts";
export { DEFAULT_EXPORT_DIR, type ExportResult, exportRun, UnknownRunError } from "./export.ts";
export * from "./calibration.ts";
