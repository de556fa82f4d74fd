/**
 * `lab model pretrain`: pretrains lab-mini's base weights from a DuckDB file's catalog (default: the tiny
 * sandbox) and writes the weights file plus a manifest with the recipe and content hash.
 */
import { dirname } from "node:path";
import type { CommandSpec } from "./_args.ts";
import { intOption } from "./_args.ts";
import { ensureSandbox } from "../sandbox/mod.ts";
import { LAB_MINI_BASE_WEIGHTS, pretrain, saveModel } from "../models/mod.ts";
import { displayPath } from "../util/mod.ts";

export const MODEL_COMMANDS: CommandSpec[] = [
  {
    name: "model pretrain",
    summary: "Pretrain lab-mini's base weights from a database's schema metadata (generic generated corpus)",
    options: {
      db: { type: "string", description: "DuckDB file whose catalog is read (default: the tiny sandbox, built if missing)" },
      out: { type: "string", description: "Weights file (a manifest is written beside it)", default: displayPath(LAB_MINI_BASE_WEIGHTS) },
      seed: { type: "string", description: "Corpus and training seed", default: "1" },
      epochs: { type: "string", description: "SGD epochs", default: "6" },
    },
    examples: ["deno task lab model pretrain", "deno task lab model pretrain --db my.duckdb --out /tmp/m.json --seed 3"],
    async run(args) {
      const seed = intOption(args, "seed", 0), epochs = intOption(args, "epochs", 1);
      const db = (args.values.db as string | undefined) ?? (await ensureSandbox({ scale: "tiny" })).path;
      const out = String(args.values.out);
      const t0 = performance.now();
      const model = await pretrain(db, { seed, epochs, onEpoch: (e, l) => console.log(`epoch ${e}/${epochs}  loss ${l.toFixed(4)}`) });
      await Deno.mkdir(dirname(out), { recursive: true });
      await saveModel(model, out);
      const size = (await Deno.stat(out)).size;
      const manifest = {
        id: model.id,
        file: out.split("/").at(-1),
        hash: model.hash,
        bytes: size,
        recipe: { ...model.recipe, db: db.split("/").at(-1), command: `lab model pretrain --seed ${seed} --epochs ${epochs}` },
        relations: model.meta.relations.length,
        losses: model.losses,
      };
      await Deno.writeTextFile(out.replace(/\.json$/, "") + ".manifest.json", JSON.stringify(manifest, null, 2) + "\n");
      console.log(`${model.id}: ${model.meta.relations.length} relations, ${model.recipe.examples} examples, ${(size / 1e6).toFixed(1)} MB → ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    },
  },
];
