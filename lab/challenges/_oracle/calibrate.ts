/**
 * TEST-SUPPORT script: runs the reference oracle on every instance (tiny sandbox) and writes
 * - data/challenges/_optimal_steps.json — tool calls of the oracle's solution per (family, values, tenant)
 *   (optimal_steps; every wording of that work shares it);
 * - data/challenges/_oracle_fixture.json — for one train instance per level, the oracle's answer and writes,
 *   which notebooks replay to show a verdict without importing the oracle.
 *
 * Usage: deno task oracle:calibrate [--level N]   (with --level, only that level's instances are run and their
 * entries merged into the files; without it, the files are rewritten from scratch)
 */
import { join } from "node:path";
import { buildSandbox, SandboxPool } from "../../sandbox/mod.ts";
import { createToolContext } from "../../tools/mod.ts";
import { CHALLENGE_DIR, loadCatalog, valuesKey, verifyEpisode } from "../mod.ts";
import { writeTextAtomic, progressBar } from "../../util/mod.ts";
import { runOracle } from "./mod.ts";

const dir = await Deno.makeTempDir({ prefix: "lab-calibrate-" });
const path = join(dir, "tiny.duckdb");
await buildSandbox(path, { scale: "tiny" });
await using pool = await SandboxPool.open(path, { size: 1 });
const levelArg = Deno.args.indexOf("--level");
const level = levelArg >= 0 ? Number(Deno.args[levelArg + 1]) : undefined;
if (level !== undefined && ![1, 2, 3, 4, 5].includes(level)) {
  console.error("calibrate: --level must be 1..5");
  Deno.exit(2);
}
const stepsPath = join(CHALLENGE_DIR, "_optimal_steps.json");
const fixturePath = join(CHALLENGE_DIR, "_oracle_fixture.json");
const readJson = async <T>(p: string, fallback: T): Promise<T> => {
  try {
    return JSON.parse(await Deno.readTextFile(p));
  } catch {
    return fallback;
  }
};
const all = (await loadCatalog()).filter((c) => level === undefined || c.level === level);
const families = new Set(all.map((c) => c.family));
const steps: Record<string, number> = level === undefined ? {} : Object.fromEntries(
  Object.entries(await readJson<Record<string, number>>(stepsPath, {})).filter(([id]) => !families.has(id.split("/")[0])),
);
const fixture: Record<string, unknown>[] = level === undefined
  ? []
  : (await readJson<{ instances: Record<string, unknown>[] }>(fixturePath, { instances: [] })).instances.filter((f) => f.level !== level);
const failures: string[] = [];
const bar = progressBar("oracle");
// One run per (family, values, tenant): the wordings of one piece of work share its solution.
const seen = new Set<string>();
for (const [i, c] of all.entries()) {
  const key = valuesKey(c);
  if (seen.has(key)) continue;
  seen.add(key);
  await using ep = await pool.acquire(c.orgId, { role: c.role });
  const ctx = createToolContext(ep);
  try {
    await runOracle(c, ctx);
  } catch (e) {
    failures.push(`${c.id}: ${(e as Error).message}`);
    continue;
  }
  const v = await verifyEpisode(c, ctx);
  if (!v.pass) failures.push(`${c.id}: ${v.reason}`);
  steps[key] = ctx.log.calls.length;
  if (c.split === "train" && !fixture.some((f) => f.level === c.level)) {
    fixture.push({
      level: c.level,
      id: c.id,
      task: c.task,
      answer: ctx.answer?.answer ?? null,
      writes: ctx.log.queries.filter((q) => q.tool === "dbWrite" && q.ok).map((q) => q.sql),
    });
  }
  bar.update((i + 1) / all.length, c.family);
}
bar.done(`${all.length} instances, ${failures.length} failures`);
if (failures.length) {
  console.error(failures.join("\n"));
  Deno.exit(1);
}
const sorted = Object.fromEntries(Object.entries(steps).sort(([a], [b]) => (a < b ? -1 : 1)));
await writeTextAtomic(stepsPath, JSON.stringify(sorted, null, 1) + "\n");
await writeTextAtomic(
  fixturePath,
  JSON.stringify({ sandbox: { scale: "tiny" }, instances: fixture.sort((a, b) => Number(a.level) - Number(b.level)) }, null, 2) + "\n",
);
await Deno.remove(dir, { recursive: true });
console.log(`wrote ${CHALLENGE_DIR}/_optimal_steps.json and _oracle_fixture.json`);
