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

/** A level-1 test family with four wordings of one `{period}` parameter and the given outcome and verifier
 * (YAML lines indented under `verifier:`). */
export function testFamilyYaml(id: string, outcome: string, verifier: string): string {
  return `
family: ${id}
level: 1
category: finance
role: cfo
outcome: ${outcome}
description: A test family.
templates:
  - "What was revenue {period}?"
  - "Revenue {period}, please."
  - "Tell me the revenue {period}."
  - "How much did we sell {period}?"
params:
  period: [current_month, previous_month, two_months_ago]
verifier:
${verifier}`;
}
