/**
 * One orchestrator call in its own process against a fine-tuning server, for the kill-and-resume test
 * (lab/e2e/orchestrator_server.test.ts):
 *
 *   deno run -A lab/finetune/_orchestrator_child.ts <base-url> <registry.duckdb> <dataset folder> <work dir>
 *
 * Base model `lab-fake`, thresholds 0/1/0, autoFineTune and autoPromote on, polling every 10 ms. The evaluation
 * is a stand-in that waits 200 ms and returns a lift of +0.2 [0.1, 0.3] for every candidate. Prints one line per
 * transition (`state <to>`), stage step (`created <stage> <job>`) and evaluation (`evaluate <model>`), so the parent
 * can kill it between or inside steps, and `done <state> <version>` at the end.
 * @module
 */
import { fineTuneClient } from "./client.ts";
import { datasetFolderCollector, finetuneConfig, orchestrateOnce } from "./orchestrator.ts";
import { Registry } from "./registry.ts";

if (import.meta.main) {
  const [url, registryPath, folder, workDir] = Deno.args;
  if (!workDir) {
    console.error("usage: deno run -A lab/finetune/_orchestrator_child.ts <base-url> <registry.duckdb> <dataset folder> <work dir>");
    Deno.exit(2);
  }
  const config = finetuneConfig({
    orchestrator: { base: "lab-fake", thresholds: { min_gold: 0, min_total: 1, min_avg_quality: 0 }, auto_promote: true, work_dir: workDir, poll_ms: 10 },
  }).orchestrator;
  const r = await orchestrateOnce({
    registry: await Registry.open(registryPath),
    collect: datasetFolderCollector(folder),
    client: () => fineTuneClient(url),
    evaluate: async (c) => {
      console.log(`evaluate ${c.model}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { lift: 0.2, lo: 0.1, hi: 0.3 };
    },
  }, {
    config,
    onTransition: (c) => console.log(`state ${c.state}`),
    onProgress: (e) => {
      if (e.kind === "created") console.log(`created ${e.stage} ${e.jobId}`);
      else if (e.kind === "finished") console.log(`finished ${e.stage} ${e.status}`);
    },
  });
  console.log(`done ${r.cycle?.state ?? "-"} ${r.cycle?.version ?? "-"}`);
}
