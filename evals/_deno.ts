/**
 * The in-process route of `provider.mjs` and `tests.mjs` under Deno: the lab's one eval service per process
 * (lab/cli/_eval_service.ts, shared with `lab eval run`, which hands its service over).
 * @module
 */
export { generateTests, runEpisode, useEvalService } from "../lab/cli/_eval_service.ts";
