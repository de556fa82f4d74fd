/**
 * Evals: the one home for comparing arms. An arm is data (model, strategy, pattern source); a suite is a challenge
 * selection, seeds and arms; {@linkcode runSuite} runs it on the one agent runner and {@linkcode compare} gives rates
 * and paired lifts clustered by family, with a family-level sign-flip permutation test. The lab's comparisons are
 * suites: lab-mini's honesty experiment ({@linkcode runLabMiniHonesty}), the context-injection lift
 * ({@linkcode patternLift}), expert iteration on lab-mini's own tournaments
 * ({@linkcode runSelfImprove}), competition vs a single strategy ({@linkcode competitionVsSingle}), the
 * re-evaluation of a tournament's winners ({@linkcode reevaluateWinners}), and the fine-tuning orchestrator's
 * candidate check ({@linkcode suiteEvaluator}).
 * @module
 */
export * from "./suite.ts";
export * from "./compare.ts";
export * from "./env.ts";
export * from "./competition.ts";
export * from "./label.ts";
export * from "./injection.ts";
export {
  type FeatureCell,
  formatLabMiniHonesty,
  formatLabMiniMarkdown,
  HONESTY_ARMS,
  type HonestyArm,
  type HonestyCheck,
  honestyChecks,
  type HonestyEpisode,
  type EvaluatedSet,
  type LabMiniHonestyOptions,
  type LabMiniHonestyResult,
  lineToExample,
  ORACLE_DISTILL_DATASET,
  pickInstances,
  pooledLifts,
  readHonestyDataset,
  ORIGINAL_WORDING,
  runLabMiniHonesty,
  type ServeBackends,
  summarise,
  type TrainReference,
  trainReference,
  type TrainRun,
  type TransferCell,
  wordingFeatureCells,
} from "./honesty.ts";
export * from "./candidate.ts";
export * from "./self_improve.ts";
export * from "./eval_run.ts";
export * from "./ab.ts";
export * from "./monitor.ts";
export * from "./outcome.ts";
export * from "./gate.ts";
export * from "./shard.ts";
export * from "./evals_results.ts";
