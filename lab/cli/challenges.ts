/** `lab challenges …` commands. */
import { type CommandSpec, type ParsedArgs, UsageError } from "./_args.ts";
import {
  CATEGORIES,
  type Challenge,
  CHALLENGE_DIR,
  checkVerifierSql,
  formatVerifierSqlProblem,
  type Level,
  LEVEL_NAMES,
  LEVELS,
  loadCatalog,
  SPLITS,
  type Split,
  challengeJsonSchema,
} from "../challenges/mod.ts";
import { textTable } from "./_format.ts";
import { ensureSandbox, SANDBOX_DIR, SandboxPool, type Scale } from "../sandbox/mod.ts";
import { ConfigError, progressBar, writeTextAtomic, displayPath, repoPath } from "../util/mod.ts";

/** The committed JSON schema of challenge files. */
export const CHALLENGE_SCHEMA_FILE: string = repoPath("data/challenges/challenge.schema.json");

const filterOptions = {
  level: { type: "string", description: "Only this level (1-5)", choices: LEVELS.map(String) },
  category: { type: "string", description: "Only this category", choices: CATEGORIES },
  split: { type: "string", description: "Only this split", choices: SPLITS },
  family: { type: "string", description: "Only this family id" },
  challenges: { type: "string", description: "Extra challenge file or folder (e.g. a held-out set outside the repo)" },
  json: { type: "boolean", description: "Print JSON" },
} as const;

async function load(args: ParsedArgs): Promise<Challenge[]> {
  const v = args.values;
  return await loadCatalog({
    level: v.level ? Number(v.level) as Level : undefined,
    category: v.category as string | undefined,
    split: v.split as Split | undefined,
    family: v.family as string | undefined,
    extra: v.challenges ? [v.challenges as string] : [],
  });
}

/** Counts by level, category and split, as text. */
export function catalogCounts(cs: readonly Challenge[]): string {
  const count = <K extends string | number>(key: (c: Challenge) => K, keys: readonly K[]) =>
    keys.map((k) => [String(k), cs.filter((c) => key(c) === k).length] as [string, number]);
  const families = new Set(cs.map((c) => c.family)).size;
  return [
    `${cs.length} instances of ${families} families`,
    "by level:",
    textTable(count((c) => c.level, LEVELS).map(([k, n]) => [`${k} ${LEVEL_NAMES[Number(k) as Level]}`, n])),
    "by category:",
    textTable(count((c) => c.category, CATEGORIES)),
    "by split:",
    textTable(count((c) => c.split, SPLITS)),
  ].join("\n");
}

export const CHALLENGE_COMMANDS: CommandSpec[] = [
  {
    name: "challenges list",
    summary: "List challenge instances (filter by level, category, split, family)",
    options: filterOptions,
    examples: ["deno task lab challenges list --level 3 --split dev", "deno task lab challenges list --json"],
    async run(args) {
      const cs = await load(args);
      if (args.values.json) {
        console.log(JSON.stringify(cs.map(({ verifier: _v, ...c }) => c), null, 2));
        return;
      }
      for (const c of cs) console.log(`${c.id.padEnd(58)} L${c.level} ${c.category.padEnd(10)} ${c.split.padEnd(8)} ${c.task}`);
      console.log(`\n${cs.length} instances`);
    },
  },
  {
    name: "challenges show",
    summary: "Show one challenge instance with its verifier",
    positionals: ["id"],
    options: { challenges: filterOptions.challenges, json: filterOptions.json },
    async run(args) {
      const id = args.positionals[0];
      if (!id) throw new UsageError("missing the instance id (see 'deno task lab challenges list')");
      const cs = await load(args);
      const c = cs.find((x) => x.id === id);
      if (!c) throw new UsageError(`no challenge instance '${id}' (see 'deno task lab challenges list')`);
      if (args.values.json) console.log(JSON.stringify(c, null, 2));
      else {
        console.log(
          `${c.id}\n  family: ${c.family} (${c.source})\n  level ${c.level} (${LEVEL_NAMES[c.level]}), ${c.category}, role ${c.role}, split ${c.split}, org ${c.orgId}\n  outcome: ${c.outcome}, optimal steps: ${c.optimalSteps ?? "unknown"}\n  task: ${c.task}\n  verifier:\n${JSON.stringify(c.verifier, null, 2).replace(/^/gm, "    ")}`,
        );
      }
    },
  },
  {
    name: "challenges validate",
    summary: "Validate challenge files (default: the committed catalog), run every verifier query on the sandbox, print counts",
    positionals: ["path"],
    options: {
      challenges: {
        type: "string",
        description: "Extra challenge file or folder, validated together with the committed catalog (as list and show load it)",
      },
      scale: { type: "string", description: "Sandbox the verifier queries run on", choices: ["tiny", "small", "large"], default: "tiny" },
      dir: { type: "string", description: "Folder of built sandboxes", default: displayPath(SANDBOX_DIR) },
      json: filterOptions.json,
    },
    examples: [
      "deno task lab challenges validate",
      "deno task lab challenges validate --challenges ../held-out",
      "deno task lab challenges validate data/challenges/revenue_for_period.yaml --scale small",
    ],
    async run(args) {
      const path = args.positionals[0];
      const extra = args.values.challenges as string | undefined;
      if (path !== undefined && extra !== undefined) {
        throw new UsageError("pass a path to validate on its own or --challenges to validate with the catalog, not both");
      }
      const cs = path ? await loadCatalog({ dir: path }) : await loadCatalog({ dir: CHALLENGE_DIR, extra: extra ? [extra] : [] });
      const scale = args.values.scale as Scale;
      // Bars stay quiet when quick: a few files, or a cached sandbox. The whole catalog takes a second or two on tiny.
      const build = progressBar(`sandbox ${scale}`, { delayMs: 1000 });
      const { path: sandbox } = await ensureSandbox({ scale }, { dir: String(args.values.dir), onProgress: (m, f) => build.update(f, m) });
      build.done(`built ${displayPath(sandbox)}`);
      await using pool = await SandboxPool.open(sandbox, { size: 1 });
      const bar = progressBar("verifier SQL", { delayMs: 1000 });
      const sql = await checkVerifierSql(cs, pool, { onProgress: (done, total) => bar.update(done / total, `${done}/${total} instances`) });
      bar.done(`${sql.executed} distinct queries for ${sql.instances} instances`);
      if (sql.problems.length) {
        const [first, ...rest] = sql.problems;
        const more = rest.length ? ` (also broken: ${rest.map((p) => `${p.family} in ${displayPath(p.source)}`).join(", ")})` : "";
        throw new ConfigError(`${formatVerifierSqlProblem(first)}${more}`);
      }
      const checked = { scale, queries: sql.queries, distinct: sql.executed };
      const where = (path ? [path] : [CHALLENGE_DIR, ...(extra ? [extra] : [])]).map(displayPath).join(" + ");
      if (args.values.json) {
        const by = (f: (c: Challenge) => string | number) =>
          Object.fromEntries([...new Set(cs.map(f))].map((k) => [k, cs.filter((c) => f(c) === k).length]));
        console.log(JSON.stringify({ ok: true, instances: cs.length, byLevel: by((c) => c.level), byCategory: by((c) => c.category), bySplit: by((c) => c.split), verifierSql: checked }, null, 2));
      } else {
        console.log(
          `ok: ${where}\n${catalogCounts(cs)}\nverifier SQL: ${checked.queries} queries (${checked.distinct} distinct) ran on the ${scale} sandbox; none failed or came back empty`,
        );
      }
    },
  },
  {
    name: "challenges schema",
    summary: "Print the JSON schema of challenge files (or write it to data/challenges/challenge.schema.json)",
    options: { write: { type: "boolean", description: "Write the committed schema file instead of printing" } },
    async run(args) {
      const text = JSON.stringify(challengeJsonSchema(), null, 2) + "\n";
      if (args.values.write) {
        await writeTextAtomic(CHALLENGE_SCHEMA_FILE, text);
        console.log(`wrote ${displayPath(CHALLENGE_SCHEMA_FILE)}`);
      } else console.log(text.trimEnd());
    },
  },
];
