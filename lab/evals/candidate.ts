/**
 * The fine-tuning orchestrator's evaluating state, as a suite: the candidate arm against the baseline arm (the
 * promoted version or the base model), the same strategy, challenges and seeds, compared by {@linkcode compare}
 * — a paired lift on `pass`, clustered by family — so {@linkcode suiteEvaluator} implements the `Evaluate` port of
 * `lab/finetune/` until the promptfoo suites do.
 * @module
 */
import type { Challenge } from "../challenges/mod.ts";
import type { Strategy } from "../agents/mod.ts";
import type { Evaluate, EvaluationRequest, EvaluationResult } from "../finetune/mod.ts";
import { type SuiteDeps, type SuiteResult, runSuite, type Suite } from "./suite.ts";
import { compare, type CompareOptions, liftCell, rateCell } from "./compare.ts";

/** Options for {@linkcode suiteEvaluator}. */
export interface CandidateSuiteOptions {
  /** The challenges both arms run (e.g. `dev` instances). */
  challenges: readonly Challenge[];
  seeds: readonly number[];
  /** The strategy both arms play. */
  strategy: Strategy;
  deps: SuiteDeps;
  /** The comparison's options besides its arms. @default pass, clustered by family */
  compare?: Omit<CompareOptions, "control" | "arms">;
  /** Runs the suite. @default {@linkcode runSuite} */
  run?: (suite: Suite, deps: SuiteDeps) => Promise<SuiteResult>;
  /** @default "candidate-vs-baseline" */
  name?: string;
}

/** The stand-in's result: the lift with its interval, the arms' rates and the comparison's size. */
export interface CandidateEvaluation extends EvaluationResult {
  baselineRate: number;
  candidateRate: number;
  pairs: number;
  clusters: number;
  pValue: number | null;
  note: string | null;
}

/**
 * An `Evaluate` port that runs the baseline and the candidate on the same suite and returns the candidate's paired
 * lift over the baseline (overall), its 95 % interval clustered by family (null below the comparison's minimum of
 * families) and the permutation p-value.
 *
 * @example
 * ```ts
 * const evaluate = suiteEvaluator({ challenges: dev, seeds: [1], strategy, deps: { models: (ref) => modelOf(ref), pool } });
 * const r = await evaluate({ model: "ft:lab-mini:core:0123456789ab", version: "lab-mini-all-v1", baseline: "lab-mini" });
 * ```
 */
export function suiteEvaluator(options: CandidateSuiteOptions): ((req: EvaluationRequest) => Promise<CandidateEvaluation>) & Evaluate {
  const run = options.run ?? runSuite;
  return async (req) => {
    const suite: Suite = {
      name: options.name ?? "candidate-vs-baseline",
      challenges: options.challenges,
      seeds: options.seeds,
      arms: [{ id: "baseline", model: req.baseline, strategy: options.strategy }, { id: "candidate", model: req.model, strategy: options.strategy }],
    };
    const result = await run(suite, options.deps);
    const c = compare(result.episodes, { ...options.compare, control: "baseline", arms: ["candidate"] });
    const lift = liftCell(c, "candidate")!;
    return {
      lift: lift.estimate,
      lo: lift.lo,
      hi: lift.hi,
      baselineRate: rateCell(c, "baseline")!.estimate,
      candidateRate: rateCell(c, "candidate")!.estimate,
      pairs: lift.pairs,
      clusters: lift.clusters,
      pValue: lift.pValue,
      note: lift.note ?? null,
    };
  };
}
