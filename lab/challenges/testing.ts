/**
 * Test support for the challenges folder (its door for tests and benches).
 * @module
 */
import { join } from "node:path";
import { CHALLENGE_DIR } from "./catalog.ts";

/**
 * A temporary folder holding one external challenge family: a copy of the committed `revenue_for_period`
 * renamed `family` (default `my_revenue`), as a researcher's own set would be. The caller removes the folder.
 */
export async function externalFamilyDir(family = "my_revenue"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "lab-external-" });
  const text = await Deno.readTextFile(join(CHALLENGE_DIR, "revenue_for_period.yaml"));
  await Deno.writeTextFile(join(dir, `${family}.yaml`), text.replace(/^family: revenue_for_period$/m, `family: ${family}`));
  return dir;
}
