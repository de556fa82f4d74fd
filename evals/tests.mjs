// The suites' test cases, generated from the catalog (split, levels, families, per_family, seeds) or from external
// challenge folders (`challenges`): promptfoo calls this with the suite's `tests.config` (see SuiteSelection in
// lab/serve/episodes.ts). Under Deno in process, under Node through the lab's server (`POST /lab/tests`).
import { labCall } from "./_node.mjs";

export default async function generateTests(config = {}) {
  const r = globalThis.Deno ? await (await import("./_deno.ts")).generateTests(config) : await labCall("/lab/tests", config);
  return r.tests;
}
