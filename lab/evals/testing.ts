/**
 * Test helpers of `lab/evals/` for tests here and in other folders: a planted {@linkcode SuiteEpisode} with every
 * field the tests do not care about filled in.
 * @module
 */
import type { SuiteEpisode } from "./suite.ts";

/**
 * A planted episode of `arm` on `challengeId` (family = the id's first segment, template = its first two), passed
 * or not; `fields` overrides any other field.
 */
export function plantedEpisode(arm: string, challengeId: string, pass: boolean, fields: Partial<SuiteEpisode> = {}): SuiteEpisode {
  const [family, t = "t0"] = challengeId.split("/");
  return {
    arm,
    challengeId,
    family,
    template: `${family}/${t}`,
    level: 1,
    split: "dev",
    seed: 1,
    attempt: 0,
    model: arm,
    strategyId: "s",
    pass,
    score: pass ? 1 : 0,
    composite: pass ? 0.8 : 0.1,
    tokens: 10,
    costUsd: 0,
    latencyMs: 1,
    queries: 1,
    queriesOk: 1,
    steps: 2,
    optimalSteps: 2,
    answer: pass ? "1" : null,
    stopReason: "submitted",
    examples: 0,
    rendered: 0,
    injected: [],
    used: [],
    ...fields,
  };
}
