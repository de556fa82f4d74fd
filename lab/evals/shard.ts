/**
 * Running a suite on many machines: `--shard i/n` runs a deterministic slice of a suite's cases, and
 * {@linkcode mergeRuns} combines the shards' {@linkcode EvalRun}s into the whole run the outcome table and the gate
 * read.
 *
 * **The slice is whole challenges.** A challenge goes to shard `fnv1a(challenge id) mod n + 1`, with every seed and
 * every arm of it, so (challenge, seed) pairs across arms never straddle shards and the slice of a suite is again a
 * suite ({@linkcode shardSuite} filters its challenges). Families are not kept whole: the statistics cluster by
 * family only after the merge, and whole families (12–42 in the catalog, of unequal size) would balance the load
 * badly over many machines. The hash of the id alone makes a challenge's shard independent of the rest of the
 * selection, of the machine and of the order of the catalog.
 * @module
 */
import { z } from "zod";
import { ConfigError, firstIssue, fnv1a } from "../util/mod.ts";
import { EvalPinsSchema, type EvalRun, SuiteEpisodeSchema } from "./eval_run.ts";
import type { Suite } from "./suite.ts";
import { pinsDifference } from "./gate.ts";

/** A shard: 1-based `index` of `count`. */
export interface Shard {
  /** 1-based index of the shard. */
  index: number;
  /** Number of shards. */
  count: number;
}

/**
 * Parses `"i/n"` (1 ≤ i ≤ n); a RangeError says what was found and what to write.
 *
 * @example
 * ```ts
 * parseShard("2/8"); // { index: 2, count: 8 }
 * ```
 */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || !(count >= 1) || !(index >= 1 && index <= count)) {
    throw new RangeError(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 2/8), found '${text}'`);
  }
  return { index, count };
}

/** The shard (1-based) a challenge belongs to among `count` shards. */
export function shardOf(challengeId: string, count: number): number {
  if (!(Number.isInteger(count) && count >= 1)) {
    throw new RangeError(`shardOf: count must be an integer ≥ 1, found ${count}`);
  }
  return (fnv1a(challengeId) % count) + 1;
}

/**
 * The slice of `suite` a shard runs: the challenges whose id hashes to it, with every seed and arm. Throws when the
 * shard would hold no challenge (more shards than the suite can fill).
 *
 * @example
 * ```ts
 * const part = shardSuite(suite, parseShard("1/4")); // about a quarter of suite.challenges, same seeds and arms
 * ```
 */
export function shardSuite(suite: Suite, shard: Shard): Suite {
  const challenges = suite.challenges.filter((c) => shardOf(c.id, shard.count) === shard.index);
  if (!challenges.length) {
    throw new RangeError(
      `shard ${shard.index}/${shard.count} of suite '${suite.name}' holds none of its ${suite.challenges.length} challenges; use fewer shards`,
    );
  }
  return { ...suite, name: suite.name, challenges };
}


/** The schema of a stored {@linkcode EvalRun} (what `deno task eval` writes). */
const EvalRunSchema: z.ZodType<EvalRun> = z.object({
  suite: z.string().min(1),
  createdAt: z.string(),
  commit: z.string().nullable(),
  pins: EvalPinsSchema,
  shard: z.object({ index: z.number().int().min(1), count: z.number().int().min(1) }).nullable(),
  episodes: z.array(SuiteEpisodeSchema),
});

/** Checks a parsed JSON value is an {@linkcode EvalRun}; a {@linkcode ConfigError} names `source` and the first problem. */
export function parseEvalRun(raw: unknown, source: string): EvalRun {
  const parsed = EvalRunSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${source}: not an eval run: ${firstIssue(parsed.error)}`);
  const run = parsed.data;
  if (run.shard && run.shard.index > run.shard.count) {
    throw new ConfigError(`${source}: shard ${run.shard.index}/${run.shard.count} is out of range`);
  }
  return run;
}

/** Reads an {@linkcode EvalRun} JSON file; one-line {@linkcode ConfigError}s say which file and what is wrong. */
export async function readEvalRun(path: string): Promise<EvalRun> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`${path}: cannot read the eval run (${(e as Error).message.split("\n")[0]})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not valid JSON: ${(e as Error).message.split("\n")[0]}`);
  }
  return parseEvalRun(raw, path);
}

/**
 * Merges the runs of every shard of one suite into the whole run: same suite, same pins and same commit, shards
 * 1..n each exactly once, every episode in the shard its challenge hashes to, no case (arm, challenge, seed) twice.
 * The merged run's `createdAt` is the latest shard's, its `shard` null, its episodes in shard order.
 *
 * @example
 * ```ts
 * const run = mergeRuns(await Promise.all(files.map(readEvalRun)));
 * ```
 */
export function mergeRuns(runs: readonly EvalRun[]): EvalRun {
  if (!runs.length) throw new RangeError("mergeRuns: no runs to merge; pass the runs of every shard");
  const first = runs[0];
  const label = (r: EvalRun) => r.shard ? `shard ${r.shard.index}/${r.shard.count}` : "a whole run";
  for (const r of runs) {
    if (!r.shard) {
      throw new RangeError(
        `mergeRuns: ${label(r)} of suite '${r.suite}' is not a shard; merge only the shards of one run`,
      );
    }
    if (r.suite !== first.suite) {
      throw new RangeError(`mergeRuns: ${label(r)} is of suite '${r.suite}', ${label(first)} of '${first.suite}'`);
    }
    const pins = pinsDifference(r.pins, first.pins, label(r), label(first));
    if (pins) throw new RangeError(`mergeRuns: pins differ: ${pins}; rerun the shards with the same pins`);
    if (r.commit !== first.commit) {
      throw new RangeError(
        `mergeRuns: ${label(r)} was made at commit ${r.commit}, ${
          label(first)
        } at ${first.commit}; rerun the shards at one commit`,
      );
    }
  }
  const count = first.shard!.count;
  const other = runs.find((r) => r.shard!.count !== count);
  if (other) throw new RangeError(`mergeRuns: ${label(other)} and ${label(first)} split the suite differently`);
  const seen = new Map<number, EvalRun>();
  for (const r of runs) {
    if (seen.has(r.shard!.index)) throw new RangeError(`mergeRuns: shard ${r.shard!.index}/${count} is given twice`);
    seen.set(r.shard!.index, r);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((i) => !seen.has(i));
  if (missing.length) {
    throw new RangeError(
      `mergeRuns: shard${missing.length > 1 ? "s" : ""} ${
        missing.map((i) => `${i}/${count}`).join(", ")
      } missing; pass every shard's run`,
    );
  }
  const ordered = [...seen].sort((a, b) => a[0] - b[0]).map(([, r]) => r);
  const cases = new Set<string>();
  for (const r of ordered) {
    for (const e of r.episodes) {
      const home = shardOf(e.challengeId, count);
      if (home !== r.shard!.index) {
        throw new RangeError(
          `mergeRuns: ${
            label(r)
          } holds ${e.challengeId}, which belongs to shard ${home}/${count}; the shards were not cut by shardSuite`,
        );
      }
      const k = `${e.arm}\u0000${e.challengeId}\u0000${e.seed}`;
      if (cases.has(k)) {
        throw new RangeError(`mergeRuns: case ${e.arm}/${e.challengeId}/seed ${e.seed} appears twice in ${label(r)}`);
      }
      cases.add(k);
    }
  }
  return {
    suite: first.suite,
    createdAt: ordered.map((r) => r.createdAt).sort().at(-1)!,
    commit: first.commit,
    pins: structuredClone(first.pins),
    shard: null,
    episodes: ordered.flatMap((r) => r.episodes),
  };
}
