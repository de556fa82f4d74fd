/**
 * The in-process side of the promptfoo suites' provider and test generator under Deno (`deno task eval`, or
 * promptfoo's `evaluate()` on a suite from a notebook; `evals/_deno.ts` re-exports it): one {@linkcode EvalService} for the process, either handed over by the
 * command that owns it ({@linkcode useEvalService}) or opened on first use on the lab's defaults and closed when the
 * process unloads.
 * @module
 */
import { LabContext } from "../context.ts";
import { type EpisodeResult, EvalService, type GeneratedTests } from "../serve/mod.ts";

let shared: Promise<EvalService> | undefined;
let owned = false;

/** Makes `service` the one the suites' provider and test generator use in this process (its owner closes it). */
export function useEvalService(service: EvalService | undefined): void {
  shared = service ? Promise.resolve(service) : undefined;
  owned = false;
}

/** The process's eval service: the one handed over, or one opened on the lab's defaults (closed at unload). */
export function evalService(): Promise<EvalService> {
  if (!shared) {
    owned = true;
    shared = LabContext.open().then((ctx) => EvalService.open(ctx, { ownContext: true }));
    globalThis.addEventListener("unload", () => void closeOwned());
  }
  return shared;
}

/** Closes the service this module opened itself (none handed over). */
export async function closeOwned(): Promise<void> {
  if (owned && shared) {
    const s = shared;
    shared = undefined;
    owned = false;
    await s.then((x) => x.close(), () => {});
  }
}

/** Runs one episode of `arm` on the test's instance (promptfoo's provider response, metadata included). */
export async function runEpisode(arm: unknown, vars: Record<string, unknown>): Promise<EpisodeResult> {
  return await (await evalService()).episode({
    arm,
    challenge: vars.challenge,
    seed: vars.seed,
    attempt: vars.attempt ?? 0,
    ...(vars.challenges ? { challenges: vars.challenges } : {}),
  });
}

/** The test cases of a selection (see `SuiteSelection` of lab/serve). */
export async function generateTests(config: unknown): Promise<GeneratedTests> {
  return await (await evalService()).tests(config);
}
