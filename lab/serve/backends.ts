/**
 * The models `lab serve` offers by default: the embedded `lab-mini` (committed base weights) and the
 * deterministic `lab-mini-placeholder`.
 */
import type { ChatBackend } from "../models/backend.ts";
import { placeholderBackend } from "../models/placeholder.ts";
import { loadLabMini } from "../models/lab_mini/mod.ts";
import { repoPath } from "../util/paths.ts";

/** The committed base weights of lab-mini (see data/models/lab-mini-base.manifest.json for the recipe). */
export const LAB_MINI_BASE_WEIGHTS: string = repoPath("data/models/lab-mini-base.json");

/** The default chat backends by model id. */
export async function defaultBackends(): Promise<Record<string, ChatBackend>> {
  const placeholder = placeholderBackend();
  const labMini = await loadLabMini(LAB_MINI_BASE_WEIGHTS);
  return { [placeholder.id]: placeholder, [labMini.id]: labMini };
}
