/**
 * The models `lab serve` offers by default: the embedded `lab-mini` (committed base weights) and the
 * deterministic `lab-mini-placeholder`; and lab-mini's trainer, so `/v1/fine_tuning/jobs` can fine-tune it.
 */
import { type ChatBackend, placeholderBackend, type Trainer } from "../models/mod.ts";
import { labMiniTrainer, loadLabMini } from "../models/lab_mini/mod.ts";
import { repoPath } from "../util/mod.ts";

/** The committed base weights of lab-mini (see data/models/lab-mini-base.manifest.json for the recipe). */
export const LAB_MINI_BASE_WEIGHTS: string = repoPath("data/models/lab-mini-base.json");

/** The default chat backends by model id. */
export async function defaultBackends(): Promise<Record<string, ChatBackend>> {
  const placeholder = placeholderBackend();
  const labMini = await loadLabMini(LAB_MINI_BASE_WEIGHTS);
  return { [placeholder.id]: placeholder, [labMini.id]: labMini };
}

/** Where fine-tuned lab-mini versions are written (gitignored). */
export const LAB_MINI_FT_DIR: string = repoPath("data/models/ft");

/** The default trainers by base model id: lab-mini fine-tunes from its committed base weights. */
export function defaultTrainers(outDir: string = LAB_MINI_FT_DIR): Record<string, Trainer> {
  return { "lab-mini": labMiniTrainer(LAB_MINI_BASE_WEIGHTS, { outDir }) };
}
