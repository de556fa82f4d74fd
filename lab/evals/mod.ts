/**
 * Experiments: runs that answer one question with paired evidence across arms, built on the runner, the models
 * and the statistics. First: lab-mini's honesty experiment (in-context examples and fine-tuning against their
 * controls), see {@linkcode runLabMiniHonesty}.
 *
 * @example
 * ```ts
 * import { formatLabMiniHonesty, runLabMiniHonesty } from "./lab/evals/mod.ts";
 * import { startServer } from "./lab/serve/mod.ts";
 * import { LAB_MINI_BASE_WEIGHTS } from "./lab/serve/backends.ts";
 * const r = await runLabMiniHonesty({
 *   split: "dev", levels: [1, 2], perLevel: 6, seed: 1, temperature: 0, baseWeights: LAB_MINI_BASE_WEIGHTS,
 *   serve: (backends) => startServer({ port: 0, backends }),
 * });
 * console.log(formatLabMiniHonesty(r));
 * ```
 * @module
 */
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
  type LiftCell,
  lineToExample,
  ORACLE_DISTILL_DATASET,
  pickInstances,
  pooledLifts,
  readHonestyDataset,
  runLabMiniHonesty,
  type ServeBackends,
  summarise,
} from "./labmini.ts";
