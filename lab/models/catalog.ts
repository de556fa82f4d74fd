/**
 * The catalog of the lab's local models: the chat backends served by default — the embedded `lab-mini` from its
 * committed base weights and the deterministic `lab-mini-placeholder` —, the trainers that fine-tune them, and the
 * loader of fine-tuned lab-mini versions written earlier (so a restarted server serves them again).
 * `lab serve`, the CLI's in-process models and the tests take their models from here.
 * @module
 */
import { repoPath } from "../util/mod.ts";
import type { ChatBackend } from "./backend.ts";
import { placeholderBackend } from "./placeholder.ts";
import type { Trainer } from "./trainer.ts";
import { isTunedId, labMiniTrainer, loadLabMini, readTuned, tunedBackend } from "./lab_mini/mod.ts";

/** The committed base weights of lab-mini (see data/models/lab-mini-base.manifest.json for the recipe). */
export const LAB_MINI_BASE_WEIGHTS: string = repoPath("data/models/lab-mini-base.json");

/** Where fine-tuned lab-mini versions are written (gitignored). */
export const LAB_MINI_FT_DIR: string = repoPath("data/models/ft");

/** The default chat backends by model id: `lab-mini` (committed base weights) and `lab-mini-placeholder`. */
export async function defaultBackends(): Promise<Record<string, ChatBackend>> {
  const placeholder = placeholderBackend();
  const labMini = await loadLabMini(LAB_MINI_BASE_WEIGHTS);
  return { [placeholder.id]: placeholder, [labMini.id]: labMini };
}

/**
 * The default trainers by base model id: lab-mini fine-tunes from its committed base weights, or from a
 * fine-tuned version `ft:lab-mini:…` found in `outDir` (see {@linkcode trainerFor}).
 */
export function defaultTrainers(outDir: string = LAB_MINI_FT_DIR): Record<string, Trainer> {
  return { "lab-mini": labMiniTrainer(LAB_MINI_BASE_WEIGHTS, { outDir }) };
}

/** Loads a model the lab trained earlier by its id; undefined for an id it does not know how to load. */
export type ModelLoader = (id: string) => Promise<ChatBackend | undefined>;

/**
 * The loader of fine-tuned lab-mini versions (`ft:lab-mini:…`) written to `dir`; other ids are not its own
 * (undefined), and a lab-mini version whose file is missing is an error naming the file.
 *
 * @example
 * ```ts
 * const load = fineTunedLoader();
 * const backend = await load("ft:lab-mini:core:0123456789ab"); // served under its id
 * ```
 */
export function fineTunedLoader(dir: string = LAB_MINI_FT_DIR): ModelLoader {
  return async (id) => isTunedId(id) ? tunedBackend(await readTuned(dir, id)) : undefined;
}
