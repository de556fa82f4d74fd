/**
 * Evals: the one home for comparing arms. An arm is data (model, strategy, pattern source); a suite is a challenge
 * selection, seeds and arms; {@linkcode runSuite} runs it on the one agent runner and {@linkcode compare} gives rates
 * and paired lifts clustered by family, with a family-level sign-flip permutation test.
 * @module
 */
export * from "./suite.ts";
export * from "./compare.ts";
export {
  type ArmCell,
  formatLabMiniHonesty,
  formatLabMiniMarkdown,
  HONESTY_ARMS,
  type HonestyCheck,
  honestyChecks,
  type HonestyArm,
  type HonestyEpisode,
  type LabMiniHonestyOptions,
  type EvaluatedSet,
  type LabMiniHonestyResult,
  type LiftCell as HonestyLiftCell,
  lineToExample,
  ORACLE_DISTILL_DATASET,
  pickInstances,
  pooledLifts,
  readHonestyDataset,
  runLabMiniHonesty,
  type ServeBackends,
  summarise,
} from "./labmini.ts";
