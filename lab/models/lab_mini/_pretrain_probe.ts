/** Pretrains on a DuckDB file and prints the weights hash: `deno run _pretrain_probe.ts <db> [seed]` (used by a test under --deny-read). */
import { pretrain } from "./mod.ts";
const m = await pretrain(Deno.args[0], { seed: Number(Deno.args[1] ?? 1) });
console.log(m.hash);
