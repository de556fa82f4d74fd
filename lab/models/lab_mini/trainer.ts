/**
 * The lab-mini `Trainer`: reads a chat JSONL (OpenAI fine-tuning format), reports usable/dropped counts,
 * fine-tunes (see `finetune.ts`), writes the new version and returns a backend serving it.
 * @module
 */
import { join } from "node:path";
import type { ChatBackend } from "../backend.ts";
import type { Trainer, TrainerOptions } from "../trainer.ts";
import { tunedBackend } from "./backend.ts";
import { type FineTuneOptions, fineTune, readChatJsonl, serializeTuned, type TunedModel } from "./finetune.ts";
import { type LabMiniModel, readModel } from "./weights.ts";

/** Options for {@linkcode labMiniTrainer}. */
export interface LabMiniTrainerOptions {
  /** Where new weights versions are written. @default "data/models/ft" */
  outDir?: string;
  /** Overrides of {@linkcode fineTune} defaults (hyperparameters of a job win). */
  defaults?: Pick<FineTuneOptions, "epochs" | "batchSize" | "lr" | "negatives" | "abstain" | "folds" | "precision" | "bits">;
  /** Builds the backend of a new model (the server registers it). @default tunedBackend */
  backend?: (m: TunedModel) => ChatBackend;
}

/**
 * The `Trainer` for lab-mini: fine-tunes `base` (a model or a model file) on a chat JSONL and writes the new
 * version to `<outDir>/<id with ':' as '_'>.json`.
 *
 * @example
 * ```ts
 * await using server = await startServer({ trainers: { "lab-mini": labMiniTrainer(model, { backend: tunedBackend }) }, backends: { "lab-mini": labMiniBackend(model) } });
 * ```
 */
export function labMiniTrainer(base: LabMiniModel | string, options: LabMiniTrainerOptions = {}): Trainer {
  return async (_baseId: string, datasetPath: string, opts: TrainerOptions) => {
    const model = typeof base === "string" ? await readModel(base) : base;
    const read = readChatJsonl(await Deno.readTextFile(datasetPath));
    const reasons = Object.entries(read.dropped).map(([k, v]) => `${v} ${k}`).join(", ");
    opts.onEvent({ level: read.examples.length ? "info" : "error", message: `usable examples: ${read.examples.length} of ${read.total} (${read.total ? Math.round(100 * read.examples.length / read.total) : 0} %)${reasons ? `; dropped: ${reasons}` : ""}` });
    if (!read.examples.length) throw new Error(`no usable example in the training file (${read.total} lines${reasons ? `: ${reasons}` : ""}); each line needs a user task and an assistant dbRead/dbWrite tool call with {"sql": …}`);
    const validation = opts.validationPath ? readChatJsonl(await Deno.readTextFile(opts.validationPath)).examples : undefined;
    const hp = opts.hyperparameters ?? {};
    const d = options.defaults ?? {};
    const tuned = fineTune(model, read.examples, {
      ...d,
      seed: opts.seed ?? 0,
      epochs: hp.n_epochs ?? d.epochs,
      batchSize: hp.batch_size ?? d.batchSize,
      lr: (d.lr ?? 0.1) * (hp.learning_rate_multiplier ?? 1),
      suffix: opts.suffix,
      validation,
      read,
      signal: opts.signal,
      onEvent: opts.onEvent,
    });
    const dir = options.outDir ?? "data/models/ft";
    await Deno.mkdir(dir, { recursive: true });
    const file = join(dir, `${tuned.id.replaceAll(":", "_")}.json`);
    await Deno.writeTextFile(file, serializeTuned(tuned));
    opts.onEvent({ level: "info", message: `wrote ${file}` });
    return { model: tuned.id, backend: (options.backend ?? tunedBackend)(tuned) };
  };
}

