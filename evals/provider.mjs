// The lab's provider for promptfoo: one arm (`config.arm`, see ArmSpec in lab/serve/episodes.ts) runs one episode
// on the lab's agent runner per test case (vars.challenge, vars.seed). Two routes, chosen by the runtime:
// - under Deno (`deno task eval <suite>`, or promptfoo's evaluate()): in process, through evals/_deno.ts;
// - under Node (`npx promptfoo eval -c evals/<suite>.yaml`): over HTTP, `POST /lab/episode` of the lab's server —
//   at LAB_URL when set, else a `deno … serve --port 0` this module starts and stops when the process exits.
// It returns the submitted answer as `output`, `tokenUsage`, `cost`, `latencyMs` and `metadata` (verdict, queries,
// steps, patterns given and used, the SuiteEpisode and a trace summary).
import { labCall } from "./_node.mjs";

export default class LabArmProvider {
  constructor(options = {}) {
    this.config = options.config ?? {};
    this.arm = this.config.arm;
    this.label = options.label ?? this.arm?.id;
  }

  id() {
    return `lab:${this.arm?.id ?? "?"}`;
  }

  async callApi(_prompt, context) {
    const vars = context?.vars ?? {};
    const body = { arm: this.arm, challenge: vars.challenge, seed: vars.seed, attempt: vars.attempt ?? 0, ...(vars.challenges ? { challenges: vars.challenges } : {}) };
    try {
      if (globalThis.Deno) return await (await import("./_deno.ts")).runEpisode(this.arm, vars);
      return await labCall("/lab/episode", body);
    } catch (e) {
      return { error: `lab provider (arm '${this.arm?.id}'): ${e instanceof Error ? e.message : String(e)}` };
    }
  }
}
