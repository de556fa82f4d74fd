/**
 * Seed 000's three stages run in their own process against a fine-tuning server, for the kill-and-resume test
 * (lab/e2e/finetune_server.test.ts):
 *
 *   deno run -A lab/finetune/_stages_child.ts <base-url> <registry.duckdb> <core.jsonl> <extended.jsonl> <comprehensive.jsonl>
 *
 * Base model `lab-mini`, run id `kill-run`, polling every 10 ms. Prints one line per step (`uploaded <stage>`,
 * `created <stage> <job>`, `finished <stage> <status> <version>`) so the parent can kill it between or inside
 * steps, and `done <status> <final version>` at the end. Running it again on the same registry resumes the run.
 * @module
 */
import { fineTuneClient } from "./client.ts";
import { Registry } from "./registry.ts";
import { runStages, seed000Stages } from "./stages.ts";

/** The run id the child uses. */
export const KILL_RUN_ID = "kill-run";

if (import.meta.main) {
  const [url, registryPath, core, extended, comprehensive] = Deno.args;
  if (!comprehensive) {
    console.error("usage: deno run -A lab/finetune/_stages_child.ts <base-url> <registry.duckdb> <core.jsonl> <extended.jsonl> <comprehensive.jsonl>");
    Deno.exit(2);
  }
  const registry = await Registry.open(registryPath);
  const r = await runStages(fineTuneClient(url), seed000Stages({ core, extended, comprehensive }), {
    base: "lab-mini",
    registry,
    runId: KILL_RUN_ID,
    pollMs: 10,
    onProgress: (e) => {
      if (e.kind === "uploaded") console.log(`uploaded ${e.stage}`);
      else if (e.kind === "created") console.log(`created ${e.stage} ${e.jobId}`);
      else if (e.kind === "finished") console.log(`finished ${e.stage} ${e.status} ${e.version}`);
      else if (e.kind === "resumed") console.log(`resumed ${e.stage} ${e.status}`);
    },
  });
  console.log(`done ${r.status} ${r.final?.name ?? "-"}`);
}
