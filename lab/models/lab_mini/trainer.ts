/**
 * The lab-mini `Trainer`: reads a chat JSONL (OpenAI fine-tuning format), reports usable/dropped counts,
 * fine-tunes (see `finetune.ts`) from the base weights or from a fine-tuned version, writes the new version and
 * returns a backend serving it.
 *
 * Hyperparameters of a job: `n_epochs` (default 3), `batch_size` (default 16) and `learning_rate_multiplier`
 * (default 1), which scales lab-mini's step size of 0.1 on the batch-summed gradient. A learning rate `lr` of a
 * recipe written for LLMs (seed 000's stages: 1e-5, 5e-6, 1e-6) reaches lab-mini as the multiplier `lr / 1e-5`:
 * step size = 0.1 × lr / 1e-5 = 10⁴ × lr (see README.md, "Fine-tuning").
 * @module
 */
import { join } from "node:path";
import { writeTextAtomic } from "../../util/mod.ts";
import type { ChatBackend } from "../backend.ts";
import type { Trainer, TrainerOptions } from "../trainer.ts";
import { tunedBackend } from "./backend.ts";
import { type FineTuneOptions, fineTune, parseTuned, readChatJsonl, serializeTuned, type TunedModel } from "./finetune.ts";
import { type LabMiniModel, readModel } from "./weights.ts";

/** lab-mini's step size at `learning_rate_multiplier` 1. */
export const LAB_MINI_LR = 0.1;

/** Options for {@linkcode labMiniTrainer}. */
export interface LabMiniTrainerOptions {
  /** Where new weights versions are written, and where fine-tuned versions to continue from are read. @default "data/models/ft" */
  outDir?: string;
  /** Overrides of {@linkcode fineTune} defaults (hyperparameters of a job win). */
  defaults?: Pick<FineTuneOptions, "epochs" | "batchSize" | "lr" | "negatives" | "abstain" | "folds" | "precision" | "bits">;
  /** Builds the backend of a new model (the server registers it). @default tunedBackend */
  backend?: (m: TunedModel) => ChatBackend;
}

/** The file a fine-tuned lab-mini version is written to in `dir`: its id with ':' as '_'. */
export function tunedFile(dir: string, id: string): string {
  return join(dir, `${id.replaceAll(":", "_")}.json`);
}

/** True for the id of a fine-tuned lab-mini version (`ft:lab-mini:<suffix>:<hash12>`). */
export const isTunedId = (id: string): boolean => id.startsWith("ft:lab-mini:");

/**
 * Reads the fine-tuned lab-mini version `id` from `dir`; throws naming the file when it is not there.
 *
 * @example
 * ```ts
 * const stage1 = await readTuned("data/models/ft", "ft:lab-mini:core:0123456789ab");
 * ```
 */
export async function readTuned(dir: string, id: string): Promise<TunedModel> {
  const file = tunedFile(dir, id);
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`no weights for ${id}: ${file} does not exist (fine-tune it on this machine, or copy its file there)`);
    throw e;
  }
  return parseTuned(text, file);
}

/**
 * The `Trainer` for lab-mini: fine-tunes `base` (a model or a model file) — or, when the job's model is a
 * fine-tuned version `ft:lab-mini:…`, that version read from `outDir` — on a chat JSONL, and writes the new
 * version to `<outDir>/<id with ':' as '_'>.json`.
 *
 * @example
 * ```ts
 * await using server = await startServer({ trainers: { "lab-mini": labMiniTrainer(model, { backend: tunedBackend }) }, backends: { "lab-mini": labMiniBackend(model) } });
 * ```
 */
export function labMiniTrainer(base: LabMiniModel | string, options: LabMiniTrainerOptions = {}): Trainer {
  const dir = options.outDir ?? "data/models/ft";
  return async (baseId: string, datasetPath: string, opts: TrainerOptions) => {
    const from = isTunedId(baseId) ? await readTuned(dir, baseId) : typeof base === "string" ? await readModel(base) : base;
    const read = readChatJsonl(await Deno.readTextFile(datasetPath));
    const reasons = Object.entries(read.dropped).map(([k, v]) => `${v} ${k}`).join(", ");
    opts.onEvent({ level: read.examples.length ? "info" : "error", message: `usable examples: ${read.examples.length} of ${read.total} (${read.total ? Math.round(100 * read.examples.length / read.total) : 0} %)${reasons ? `; dropped: ${reasons}` : ""}` });
    if (!read.examples.length) throw new Error(`no usable example in the training file (${read.total} lines${reasons ? `: ${reasons}` : ""}); each line needs a user task and an assistant dbRead/dbWrite tool call with {"sql": …}`);
    const validation = opts.validationPath ? readChatJsonl(await Deno.readTextFile(opts.validationPath)).examples : undefined;
    const hp = opts.hyperparameters ?? {};
    const d = options.defaults ?? {};
    const tuned = fineTune(from, read.examples, {
      ...d,
      seed: opts.seed ?? 0,
      epochs: hp.n_epochs ?? d.epochs,
      batchSize: hp.batch_size ?? d.batchSize,
      lr: (d.lr ?? LAB_MINI_LR) * (hp.learning_rate_multiplier ?? 1),
      suffix: opts.suffix,
      validation,
      read,
      signal: opts.signal,
      onEvent: opts.onEvent,
    });
    const file = tunedFile(dir, tuned.id);
    await writeTextAtomic(file, serializeTuned(tuned));
    opts.onEvent({ level: "info", message: `wrote ${file}` });
    return { model: tuned.id, backend: (options.backend ?? tunedBackend)(tuned) };
  };
}
