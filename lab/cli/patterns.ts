/**
 * `lab patterns …` and `lab ask`: the pattern memory from the command line — learn from a tournament run,
 * look inside, search, prune, re-validate, exchange as Parquet, measure the injection lift, and ask the agent a
 * question of your own (its answer's queries become a pattern once you mark it right).
 */
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { intOption, UsageError } from "./_args.ts";
import { interruptOnCtrlC, runContext, TOURNAMENT_RUN_OPTIONS } from "./_endpoint.ts";
import { getStrategy } from "../agents/mod.ts";
import { loadTournamentConfig } from "../tournament/mod.ts";
import {
  askQuestion,
  DEFAULT_PATTERNS_PATH,
  exportParquet,
  importParquet,
  ingestRun,
  PatternRetriever,
  PatternStore,
  prunePatterns,
  readParquetExport,
  revalidatePatterns,
} from "../patterns/mod.ts";
import { SPLITS, type Split } from "../challenges/mod.ts";
import { formatPatternLift, patternLift } from "../evals/mod.ts";
import { displayPath, progressBar } from "../util/mod.ts";
import { confirmCorrection, correctAsk, type Correction, type CorrectionInput, recordAsk } from "../use/mod.ts";

const STORE = { patterns: { type: "string", description: "Pattern store (DuckDB file)", default: displayPath(DEFAULT_PATTERNS_PATH) } } as const;
const JSON_OUT = { json: { type: "boolean", description: "Print the result as JSON" } } as const;

function one(args: ParsedArgs, what: string): string {
  if (args.positionals.length !== 1) {
    throw new UsageError(`expects one ${what}, found ${args.positionals.length ? `'${args.positionals.join(" ")}'` : "none"}`);
  }
  return args.positionals[0];
}

const print = (args: ParsedArgs, value: unknown, text: () => string) =>
  console.log(args.values.json ? JSON.stringify(value, null, 2) : text());

async function openStore(args: ParsedArgs) {
  return await PatternStore.open(String(args.values.patterns));
}

export const PATTERN_COMMANDS: CommandSpec[] = [
  {
    name: "patterns ingest",
    summary: "Store a tournament run's episodes as patterns (idempotent: a run ingested twice adds nothing)",
    positionals: ["run"],
    options: { db: TOURNAMENT_RUN_OPTIONS.db, ...STORE, ...JSON_OUT },
    examples: ["deno task lab patterns ingest t-1a2b3c4d5e6f"],
    async run(args) {
      const runId = one(args, "run id");
      await using store = await openStore(args);
      const r = await ingestRun(store, String(args.values.db), runId);
      print(args, r, () =>
        `run ${runId}: ${r.episodes} episodes → ${r.inserted} new patterns, ${r.merged} merged, ${r.duplicates} already stored; ` +
        `${r.failedQueriesSkipped} failed queries and ${r.verificationQueriesSkipped} verification queries left out; ` +
        `${r.withoutPattern} episodes had no successful query`);
    },
  },
  {
    name: "patterns stats",
    summary: "What the store holds: patterns by category and level, passing, contaminated, stale, synthetic",
    options: { ...STORE, ...JSON_OUT },
    async run(args) {
      await using store = await openStore(args);
      const rows = await store.withConnection(async (c) =>
        (await c.runAndReadAll(
          `SELECT category, coalesce(level::VARCHAR, '—') AS level, count(*)::INTEGER AS patterns,
             count(*) FILTER (turn_pass)::INTEGER AS passing, count(*) FILTER (contaminated)::INTEGER AS contaminated,
             count(*) FILTER (stale)::INTEGER AS stale, count(*) FILTER (NOT is_synthetic)::INTEGER AS asked,
             round(avg(composite_fitness), 3)::DOUBLE AS mean_fitness, sum(support)::INTEGER AS support
           FROM turn_memories GROUP BY ALL ORDER BY category, level`,
        )).getRowObjectsJson()
      );
      print(args, rows, () =>
        rows.length
          ? rows.map((r) => Object.entries(r).map(([k, v]) => `${k}=${v}`).join("  ")).join("\n")
          : `${displayPath(store.path)} holds no patterns yet: run a tournament and 'lab patterns ingest <run>'`);
    },
  },
  {
    name: "patterns search",
    summary: "Retrieve patterns for a task, as the agent would get them (cut-off, fitness filter, leakage control)",
    positionals: ["task"],
    options: {
      ...STORE,
      role: { type: "string", description: "The asking role", default: "analyst" },
      split: { type: "string", description: "The split being evaluated (its patterns are never returned)", choices: SPLITS },
      limit: { type: "string", description: "How many", default: "5" },
      ...JSON_OUT,
    },
    examples: ['deno task lab patterns search "Total revenue last month" --role cfo --split dev'],
    async run(args) {
      const task = one(args, "task (quote it)");
      await using store = await openStore(args);
      await using retriever = await PatternRetriever.open(store);
      const hits = await retriever.search(
        { task, role: String(args.values.role), ...(args.values.split ? { split: String(args.values.split) } : {}) },
        { limit: intOption(args, "limit", 1) },
      );
      print(args, hits, () =>
        hits.length
          ? hits.map((h, i) =>
            `${i + 1}. sim ${h.similarity.toFixed(3)} fitness ${h.fitness.toFixed(3)} support ${h.support} [${h.category}, L${h.level ?? "—"}] ${h.intent}\n` +
            h.calls.map((c) => `     ${c.tool}: ${c.sql}`).join("\n")
          ).join("\n")
          : "no pattern passes the cut-off and the fitness filter for this task");
    },
  },
  {
    name: "patterns mark",
    summary: "Mark a pattern's answer right or wrong (a person's judgement; only right ones are retrieved)",
    positionals: ["id", "right|wrong"],
    options: { ...STORE },
    examples: ["deno task lab patterns mark 3f9c0a1b2c3d4e5f right"],
    async run(args) {
      const [id, verdict] = args.positionals;
      if (args.positionals.length !== 2 || !["right", "wrong"].includes(verdict)) {
        throw new UsageError("expects a pattern id and 'right' or 'wrong', e.g. lab patterns mark <id> right");
      }
      await using store = await openStore(args);
      await store.mark(id, { turnPass: verdict === "right" });
      console.log(`pattern ${id} marked ${verdict}`);
    },
  },
  {
    name: "patterns prune",
    summary: "Natural selection on patterns: per-category cap, dominated patterns, stale ones",
    options: {
      ...STORE,
      "per-category": { type: "string", description: "Keep at most this many per category", default: "500" },
      "dry-run": { type: "boolean", description: "Report what would go, change nothing" },
      ...JSON_OUT,
    },
    async run(args) {
      await using store = await openStore(args);
      const r = await prunePatterns(store, { perCategory: intOption(args, "per-category", 1), dryRun: Boolean(args.values["dry-run"]) });
      print(args, r, () => JSON.stringify(r, null, 2));
    },
  },
  {
    name: "patterns revalidate",
    summary: "Re-run stored SQL against the current sandbox; mark patterns that no longer run or match as stale",
    options: {
      ...STORE,
      config: TOURNAMENT_RUN_OPTIONS.config,
      limit: { type: "string", description: "Check at most this many patterns" },
      "dry-run": { type: "boolean", description: "Report, change nothing" },
      ...JSON_OUT,
    },
    async run(args) {
      await using ctx = await runContext(args);
      const store = await ctx.patternStore();
      const bar = Deno.stderr.isTerminal() && !args.values.json ? progressBar("revalidate") : undefined;
      const r = await revalidatePatterns(store, {
        pool: await ctx.pool(),
        dryRun: Boolean(args.values["dry-run"]),
        ...(args.values.limit !== undefined ? { limit: intOption(args, "limit", 1) } : {}),
        onProgress: (done: number, total: number) => bar?.update(done / Math.max(1, total), `${done}/${total}`),
      });
      bar?.done("done");
      print(args, r, () => JSON.stringify(r, null, 2));
    },
  },
  {
    name: "patterns export",
    summary: "Write the store as Parquet, hive-partitioned by run and category",
    positionals: ["dir"],
    options: { ...STORE, overwrite: { type: "boolean", description: "Replace an existing export" }, ...JSON_OUT },
    async run(args) {
      const dir = one(args, "output folder");
      await using store = await openStore(args);
      const r = await exportParquet(store, dir, { overwrite: Boolean(args.values.overwrite) });
      print(args, r, () => `exported ${r.rows} patterns to ${displayPath(dir)}`);
    },
  },
  {
    name: "patterns import",
    summary: "Read a Parquet export back into the store (one transaction)",
    positionals: ["dir"],
    options: {
      ...STORE,
      "on-conflict": { type: "string", description: "When an id exists", choices: ["error", "skip", "replace"], default: "error" },
      ...JSON_OUT,
    },
    async run(args) {
      const dir = one(args, "Parquet folder");
      // Checked before the store is opened, so a broken export leaves no new store file behind.
      await readParquetExport(dir);
      await using store = await openStore(args);
      const r = await importParquet(store, dir, { onConflict: args.values["on-conflict"] as "error" | "skip" | "replace" });
      print(args, r, () => `imported from ${displayPath(dir)}: ${JSON.stringify(r)}`);
    },
  },
  {
    name: "patterns lift",
    summary: "Does injection help? Learn patterns on train, then the same held-out instances with injection off and on",
    options: {
      ...TOURNAMENT_RUN_OPTIONS,
      ...STORE,
      strategy: { type: "string", description: "The strategy evaluated with and without injection", default: "gamma" },
      "train-instances": { type: "string", description: "Train instances of the tournament (default: the config's max_instances)" },
      generations: { type: "string", description: "Tournament generations (default: the config's)" },
      instances: { type: "string", description: "Instances per held-out split", default: "24" },
      seeds: { type: "string", description: "Fresh seeds per instance", default: "2" },
      splits: { type: "string", description: "Held-out splits, comma-separated (default: dev,test_id,test_ood)" },
      challenges: {
        type: "string",
        description: "Evaluate on your own challenge file or folder instead of the held-out splits (its instances of any split, reported as 'external'); learning stays on train",
      },
      limit: { type: "string", description: "Patterns retrieved per task (default: configs/patterns.yaml retrieval.limit)" },
      "no-upper-bound": { type: "boolean", description: "Skip the family-label upper bound" },
      ...JSON_OUT,
    },
    examples: [
      "deno task lab patterns lift --instances 24 --seeds 2",
      "deno task lab patterns lift --train-instances 243 --generations 2 --instances 72 --limit 1",
      "deno task lab patterns lift --splits dev --json",
      "deno task lab patterns lift --challenges ../my-challenges --instances 12",
    ],
    async run(args) {
      const file = await loadTournamentConfig(String(args.values.config));
      const config = {
        ...file,
        ...(args.values.generations !== undefined ? { generations: intOption(args, "generations", 1) } : {}),
        challenges: {
          ...file.challenges,
          ...(args.values["train-instances"] !== undefined ? { max_instances: intOption(args, "train-instances", 1) } : {}),
        },
      };
      const external = args.values.challenges as string | undefined;
      if (external !== undefined && args.values.splits !== undefined) {
        throw new UsageError("pass --splits or --challenges (evaluated instead of the held-out splits), not both");
      }
      const splits = String(args.values.splits ?? "dev,test_id,test_ood").split(",").map((s) => s.trim()).filter(Boolean);
      for (const s of splits) {
        if (!(SPLITS as readonly string[]).includes(s) || s === "train") {
          throw new UsageError(`--splits: '${s}' is not a held-out split; use some of dev, test_id, test_ood`);
        }
      }
      // Every config is read and checked before a model server starts or a run is registered in the store.
      await using ctx = await runContext(args);
      using ctrlC = interruptOnCtrlC();
      const bar = Deno.stderr.isTerminal() && !args.values.json ? progressBar("pattern lift") : undefined;
      const r = await patternLift(await ctx.env({ signal: ctrlC.signal }), {
        config,
        store: await ctx.patternStore(),
        patternsConfig: ctx.patterns,
        strategy: String(args.values.strategy),
        instances: intOption(args, "instances", 1),
        seeds: intOption(args, "seeds", 1),
        ...(external ? { external: [external] } : { splits: splits as Split[] }),
        upperBound: !args.values["no-upper-bound"],
        ...(args.values.limit !== undefined ? { retrieval: { limit: intOption(args, "limit", 1) } } : {}),
        onProgress: (p) => bar?.update(p.done / Math.max(1, p.total), `${p.phase} ${p.done}/${p.total}`),
      });
      bar?.done(`done in ${(r.elapsedMs / 1000).toFixed(0)} s`);
      print(args, r, () => formatPatternLift(r));
    },
  },
  {
    name: "ask",
    summary: "Ask the agent your own question against the sandbox; what worked is kept as a pattern (mark it right)",
    positionals: ["question"],
    options: {
      ...STORE,
      config: TOURNAMENT_RUN_OPTIONS.config,
      model: { type: "string", description: "Model entry in configs/models.yaml (default: the tournament config's)" },
      "base-url": TOURNAMENT_RUN_OPTIONS["base-url"],
      strategy: { type: "string", description: "Strategy", default: "gamma" },
      role: { type: "string", description: "The role you ask as (its permissions apply)", default: "analyst" },
      org: { type: "string", description: "Tenant (org_id)", default: "1" },
      mark: { type: "string", description: "Your judgement of the answer, if you know it now", choices: ["right", "wrong"] },
      inject: { type: "boolean", description: "Give the agent retrieved patterns as examples" },
      "no-store": { type: "boolean", description: "Do not keep the answer's queries as a pattern" },
      correct: { type: "string", description: "Correct the answer of ask <id> (the id 'lab ask' printed, or its pattern id) instead of asking" },
      answer: { type: "string", description: "With --correct: the correct answer, as JSON (e.g. 1234.5 or '[{\"name\":\"A\"}]')" },
      sql: { type: "string", description: "With --correct: a file holding the corrected SQL, or - to read it from stdin (stored and diffed, never run)" },
      note: { type: "string", description: "With --correct: a note on what was wrong" },
      confirm: { type: "string", description: "Confirm the correction of ask <id> (it becomes a gold, human-validated training example); with --correct, confirm it at once" },
      ...JSON_OUT,
    },
    examples: [
      'deno task lab ask "Which five customers owe us the most?"',
      'deno task lab ask "Revenue this month" --role cfo --mark right',
      "deno task lab ask --correct ask-1a2b3c4d5e6f7a8b --sql fixed.sql --note 'only open invoices'",
      "deno task lab ask --correct ask-1a2b3c4d5e6f7a8b --answer 1234.5",
      "deno task lab ask --confirm ask-1a2b3c4d5e6f7a8b",
    ],
    async run(args) {
      if (args.values.correct !== undefined || args.values.confirm !== undefined) return await correction(args);
      for (const o of ["answer", "sql", "note"]) {
        if (args.values[o] !== undefined) throw new UsageError(`--${o} goes with --correct <id>; e.g. lab ask --correct <id> --${o} …`);
      }
      const question = one(args, "question (quote it)");
      await using ctx = await runContext(args);
      const model = await ctx.model(args.values.model === undefined ? undefined : String(args.values.model));
      const strategy = getStrategy(ctx.strategies, String(args.values.strategy));
      const pool = await ctx.pool();
      const store = await ctx.patternStore();
      // A person asking may reuse their own marked-right answers (split-less patterns) as well as train patterns.
      await using retriever = args.values.inject ? await PatternRetriever.open(store, { config: { include_unsplit: true } }) : undefined;
      const r = await askQuestion(question, {
        model,
        pool,
        strategy,
        role: String(args.values.role),
        orgId: intOption(args, "org", 1),
        ...(args.values["no-store"] ? {} : { store }),
        ...(retriever ? { patterns: retriever.source } : {}),
        ...(args.values.mark ? { pass: args.values.mark === "right" } : {}),
      });
      // The ask's log entry keeps the answer and its SQL, so a correction can be diffed against them.
      const ask = args.values["no-store"]
        ? undefined
        : await recordAsk(store, { question, role: String(args.values.role), orgId: intOption(args, "org", 1), answer: r.answer, record: r.record, ...(r.patternId ? { patternId: r.patternId } : {}) });
      print(args, { askId: ask?.id ?? null, answer: r.answer, patternId: r.patternId ?? null, report: r.report ?? null, record: r.record }, () =>
        [
          ...r.record.toolCalls.map((t, i) => `  ${i + 1}. ${t.name}(${JSON.stringify(t.args).slice(0, 160)}) → ${t.ok ? "ok" : `error: ${t.error}`}`),
          `answer: ${JSON.stringify(r.answer)}${r.record.answer?.summary ? ` — ${r.record.answer.summary}` : ""}`,
          `(${r.record.model.name}, strategy ${r.record.strategyId}, stop: ${r.record.stopReason}; not verified — only you can judge it)`,
          r.patternId
            ? `kept as pattern ${r.patternId}${args.values.mark ? ` (marked ${args.values.mark})` : `: mark it with 'lab patterns mark ${r.patternId} right|wrong'`}`
            : args.values["no-store"] ? "not stored (--no-store)" : "nothing stored: no query succeeded",
          ...(ask ? [`ask ${ask.id}: correct it with 'lab ask --correct ${ask.id} --sql <file> | --answer <json>'`] : []),
        ].join("\n"));
    },
  },
];

/** `lab ask --correct <id> …` and `lab ask --confirm <id>`: a person's correction of an answer, or its confirmation. */
async function correction(args: ParsedArgs): Promise<void> {
  if (args.positionals.length) {
    throw new UsageError(`--correct and --confirm take no question, found '${args.positionals.join(" ")}'`);
  }
  const correct = args.values.correct as string | undefined;
  const confirm = args.values.confirm as string | undefined;
  if (correct !== undefined && confirm !== undefined && confirm !== correct) {
    throw new UsageError(`--correct ${correct} and --confirm ${confirm} name different asks; confirm the one you correct`);
  }
  const id = (correct ?? confirm)!;
  if (!id.trim()) throw new UsageError("--correct/--confirm need the ask's id (lab ask prints it)");
  let c: Correction;
  if (correct === undefined) {
    for (const o of ["answer", "sql", "note"]) {
      if (args.values[o] !== undefined) throw new UsageError(`--${o} goes with --correct <id>, not --confirm alone`);
    }
    await using store = await openStore(args);
    c = await asUsage(confirmCorrection(store, id));
  } else {
    const input: CorrectionInput = {};
    if (args.values.answer !== undefined) {
      try {
        input.answer = JSON.parse(String(args.values.answer));
      } catch (e) {
        throw new UsageError(`--answer must be JSON (a number, "text" in quotes, [..] or {..}): ${(e as Error).message.split("\n")[0]}`);
      }
    }
    if (args.values.sql !== undefined) input.sql = await readSql(String(args.values.sql));
    if (args.values.note !== undefined) input.note = String(args.values.note);
    if (input.answer === undefined && input.sql === undefined) {
      throw new UsageError("--correct needs the correct answer (--answer <json>), the corrected SQL (--sql <file or ->), or both");
    }
    await using store = await openStore(args);
    c = await asUsage(correctAsk(store, id, input, { confirm: confirm !== undefined }));
  }
  print(args, c, () =>
    [
      `correction of ask ${c.askId} (${c.ask.question}): ${c.status === "confirmed" ? "confirmed — a gold, human-validated training example" : `unverified — confirm it with 'lab ask --confirm ${c.askId}'`}`,
      `  SQL ${c.diff.sqlChanged ? `edited: ${c.diff.editDistance} tokens (similarity ${c.diff.similarity})` : "unchanged"}; answer ${c.diff.answerChanged ? "changed" : "unchanged"}`,
      ...c.diff.removed.map((f) => `  - ${f}`),
      ...c.diff.added.map((f) => `  + ${f}`),
      ...c.diff.modifications.map((m) => `  ${m.kind} ${m.change}: ${m.value}`),
      ...(c.diff.lexError ? [`  (the original SQL could not be read as tokens: ${c.diff.lexError})`] : []),
    ].join("\n"));
}

/** A correction's input problem (unreadable SQL, an unknown id) is the user's to fix: a usage error (exit 2). */
async function asUsage<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
}

/** The SQL of `--sql`: a file's text, or stdin's for `-`. */
async function readSql(path: string): Promise<string> {
  try {
    if (path === "-") return await new Response(Deno.stdin.readable).text();
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError(`--sql: cannot read '${path}' (${(e as Error).message.split("\n")[0]}); give a file holding the SQL, or - for stdin`);
  }
}
