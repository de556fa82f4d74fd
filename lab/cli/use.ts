/**
 * `lab use …`: learning from use (issue 17). `lab use edits` — what people change most in the agent's answers
 * (SQL fragments, tables, columns, filters, aggregation, answer shape) per strategy, category or model, with the
 * verifiers' most common failure reasons.
 */
import { type CommandSpec, intOption, type ParsedArgs, UsageError } from "./_args.ts";
import { runContext } from "./_endpoint.ts";
import { resolve } from "node:path";
import { getStrategy, parseStrategiesConfig } from "../agents/mod.ts";
import { type Challenge, loadCatalog } from "../challenges/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import { DEFAULT_PATTERNS_PATH, PatternStore } from "../patterns/mod.ts";
import { DEFAULT_DB_PATH, listRuns, readEpisodeRows } from "../tournament/mod.ts";
import { formatEstimate, freshSeeds, liftCell, splitChallenges, storedStrategy } from "../evals/mod.ts";
import {
  armSummaries,
  BanditRouter,
  cheapestAtEqualSuccess,
  type DeclaredTest,
  detectFailureModes,
  EDIT_GROUPINGS,
  type EditGrouping,
  editPatterns,
  evaluateVariants,
  failureReasons,
  fallbackTable,
  formatEditReport,
  generateVariants,
  listCorrections,
  loadRouter,
  modelWriter,
  paretoFrontier,
  type PromptEvaluation,
  promoteVariants,
  replayLog,
  routerArmId,
  type RouterVsFixedResult,
  routerVsFixed,
  ruleWriter,
  saveRouter,
  type SimulatedFilter,
  tournamentLog,
  writePromoted,
} from "../use/mod.ts";
import { ConfigError, displayPath, repoPath } from "../util/mod.ts";

/** Refuses a tournament store that does not exist (nothing is created): `hint` says what else the user can do. */
async function requireTournamentStore(db: string, hint = "pass --db <file>"): Promise<void> {
  try {
    await Deno.stat(db);
  } catch {
    throw new UsageError(`no tournament store at ${db}: run a tournament (lab tournament) or ${hint}`);
  }
}

/** The `lab use` commands. */
export const USE_COMMANDS: CommandSpec[] = [
  ROUTE_COMMAND(),
  PROMPTS_COMMAND(),
  {
    name: "use edits",
    summary: "What people change most in the agent's answers (per strategy, category or model), with the verifiers' failure reasons",
    options: {
      by: { type: "string", description: "Group by", choices: EDIT_GROUPINGS, default: "strategy" },
      patterns: { type: "string", description: "Pattern store holding the asks and corrections (DuckDB file)", default: displayPath(DEFAULT_PATTERNS_PATH) },
      db: { type: "string", description: "Tournament store whose failed episodes give the failure reasons", default: displayPath(DEFAULT_DB_PATH) },
      "no-failures": { type: "boolean", description: "Leave out the failure reasons (do not read the tournament store)" },
      simulated: { type: "string", description: "Which corrections: a person's (real), simulated ones, or both", choices: ["real", "simulated", "all"], default: "real" },
      top: { type: "string", description: "Items listed per kind", default: "10" },
      json: { type: "boolean", description: "Print the report as JSON" },
    },
    examples: [
      "deno task lab use edits",
      "deno task lab use edits --by category --json",
      "deno task lab use edits --by model --simulated all --no-failures",
    ],
    async run(args) {
      const top = intOption(args, "top", 1);
      const db = args.values["no-failures"] ? undefined : String(args.values.db);
      if (db !== undefined) await requireTournamentStore(db, "pass --db <file>; --no-failures leaves the failure reasons out");
      await using store = await PatternStore.open(String(args.values.patterns));
      const r = await editPatterns(store, {
        by: args.values.by as EditGrouping,
        top,
        simulated: args.values.simulated as SimulatedFilter,
        ...(db !== undefined ? { db } : {}),
      });
      console.log(args.values.json ? JSON.stringify(r, null, 2) : formatEditReport(r, { top }));
    },
  },
];

/** `lab use route`: learned routing (seed 003) — replay, fallbacks, the cost/quality frontier, optional suites. */
function ROUTE_COMMAND(): CommandSpec {
  return {
    name: "use route",
    summary: "Learned routing: replay tournament logs through a Thompson-sampling router (regret vs the best fixed arm), fallbacks, cost/quality frontier",
    options: {
      "train-run": { type: "string", description: "Tournament run ids to learn from, comma-separated (arms = model × strategy; default: the newest run in --db)" },
      db: { type: "string", description: "The tournament store", default: displayPath(DEFAULT_DB_PATH) },
      state: {
        type: "string",
        description: "The router's state (JSON), read and updated so it learns across runs",
        default: displayPath(repoPath("data", "use", "router.json")),
      },
      "no-save": { type: "boolean", description: "Do not update --state" },
      seed: { type: "string", description: "Seed of the replay order and of the router's draws", default: "1" },
      passes: { type: "string", description: "Replay passes over the log (each in a fresh seeded order)", default: "1" },
      cost: { type: "string", description: "What an arm's cost counts (a local model costs no dollars)", choices: ["tokens", "usd"], default: "tokens" },
      "tie-break": { type: "string", description: "Cost-aware tie-breaking margin ε: among draws within ε of the best, the cheapest arm", default: "0" },
      eval: { type: "boolean", description: "Also run the suites: fixed arms on dev (best single arm, cheapest at equal success), then best, cheapest and the router on test_id" },
      config: { type: "string", description: "Tournament config of --eval (model, sandbox, levels and families)", default: "configs/tournament.yaml" },
      instances: { type: "string", description: "--eval: instances per split", default: "12" },
      seeds: { type: "string", description: "--eval: episode seeds per instance", default: "1" },
      json: { type: "boolean", description: "Print the result as JSON" },
    },
    examples: [
      "deno task lab use route",
      "deno task lab use route --train-run t-1c9b94653baf --json",
      "deno task lab use route --train-run t-a,t-b --eval --instances 20",
    ],
    run: routeCommand,
  };
}

async function routeCommand(args: ParsedArgs): Promise<number> {
  const db = String(args.values.db);
  await requireTournamentStore(db);
  const seed = intOption(args, "seed", 0);
  const passes = intOption(args, "passes", 1);
  const eps = Number(args.values["tie-break"]);
  if (!(eps >= 0)) throw new UsageError(`--tie-break must be a number ≥ 0, found '${args.values["tie-break"]}'`);
  const costUnit = args.values.cost as "tokens" | "usd";
  const runs = await listRuns(db);
  if (!runs.length) throw new UsageError(`${db} holds no tournament run: run one with lab tournament`);
  const ids = typeof args.values["train-run"] === "string"
    ? args.values["train-run"].split(",").map((s) => s.trim()).filter(Boolean)
    : [runs[0].id];
  if (!ids.length) throw new UsageError("--train-run needs at least one run id");
  const unknown = ids.find((id) => !runs.some((r) => r.id === id));
  if (unknown) throw new UsageError(`--train-run: no run '${unknown}' in ${db} (runs: ${runs.map((r) => r.id).join(", ")}; lab runs list shows them)`);
  const sources = await Promise.all(ids.map(async (id) => ({ model: runs.find((r) => r.id === id)!.modelName, rows: await readEpisodeRows(db, id) })));
  const catalog = new Map((await loadCatalog()).map((c): [string, Challenge] => [c.id, c]));
  let log;
  try {
    log = tournamentLog(sources, catalog, { costUnit });
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(`--train-run ${ids.join(",")}: ${e.message.replace(/^tournamentLog: /, "")}`);
    throw e;
  }
  const replay = replayLog(log, { seed, passes, costTieBreak: eps });
  const summaries = armSummaries(log);
  const frontier = paretoFrontier(summaries);
  const { best, cheapest } = cheapestAtEqualSuccess(summaries);
  const fallbacks = fallbackTable(log);

  // The persisted router learns every arm's outcome of each run it has not seen (a tournament log is full information).
  const statePath = resolve(String(args.values.state));
  const previous = await loadRouter(statePath);
  const router = previous ?? BanditRouter.create(log.arms.map(({ cost, ...a }) => ({ ...a, costUsd: cost })), { seed, costTieBreak: eps });
  const known = new Set(router.arms.map((a) => a.id));
  const missing = log.arms.find((a) => !known.has(a.id));
  if (missing) {
    throw new UsageError(`${args.values.state} routes ${[...known].join(", ")}, not ${missing.id}: pass another --state (or delete it) to learn these arms`);
  }
  const learned = ids.filter((id) => !router.trainedOn.includes(id));
  const inLog = new Map(log.instances.map((i) => [i.id, i]));
  const seen = new Set<string>();
  for (const id of learned) {
    const source = sources[ids.indexOf(id)];
    for (const r of [...source.rows].sort((a, b) => a.id.localeCompare(b.id))) {
      const inst = inLog.get(`${r.challengeId}#s${r.seed}`);
      const arm = routerArmId(source.model, r.strategyId);
      if (!inst || !known.has(arm) || seen.has(`${arm}@${inst.id}`)) continue;
      seen.add(`${arm}@${inst.id}`);
      router.update(inst.context, arm, { pass: r.pass, costUsd: costUnit === "usd" ? r.costUsd : r.tokensTotal });
    }
  }
  for (const id of learned) router.markTrained(id);
  if (!args.values["no-save"] && learned.length) await saveRouter(statePath, router);

  let evaluation: RouterVsFixedResult | undefined;
  if (args.values.eval) {
    const instances = intOption(args, "instances", 1);
    const seedCount = intOption(args, "seeds", 1);
    await using ctx = await runContext({ values: { config: args.values.config, db }, positionals: [] });
    const env = await ctx.env();
    const models = new Map<string, ChatModel>();
    for (const a of router.arms) if (!models.has(a.model)) models.set(a.model, await ctx.model(a.model));
    const strategies = new Map<string, Awaited<ReturnType<typeof storedStrategy>>>();
    for (const a of router.arms) {
      if (strategies.has(a.strategyId)) continue;
      const run = ids.find((id) => sources[ids.indexOf(id)].rows.some((r) => r.strategyId === a.strategyId)) ?? ids[0];
      strategies.set(a.strategyId, await storedStrategy(db, run, a.strategyId, env.strategies));
    }
    const used = new Set(sources.flatMap((s) => s.rows.map((r) => r.seed)));
    evaluation = await routerVsFixed({
      router,
      strategy: (id) => strategies.get(id)!,
      dev: await splitChallenges(ctx.tournament, "dev", instances),
      test: await splitChallenges(ctx.tournament, "test_id", instances),
      seeds: freshSeeds(seedCount, { salt: `route:${ids.join(",")}`, exclude: used }),
      costUnit,
    }, { models: (ref) => models.get(ref) ?? env.model, pool: env.pool, fitness: env.strategies.fitness, concurrency: ctx.tournament.concurrency });
  }

  const out = {
    runs: ids,
    costUnit,
    instances: log.instances.length,
    contexts: [...new Set(log.instances.map((i) => `${i.context.category}/L${i.context.level}`))].sort(),
    dropped: log.dropped,
    replay: {
      seed,
      rounds: replay.rounds,
      routerSuccess: replay.routerSuccess,
      best: replay.best,
      bestShare: replay.bestShare,
      regret: replay.regret.at(-1)!,
      pseudoRegret: replay.pseudoRegret.at(-1)!,
      contextRegret: replay.contextRegret.at(-1)!,
      curve: [0.25, 0.5, 0.75, 1].map((q) => {
        const t = Math.max(1, Math.round(q * replay.rounds));
        return { round: t, regret: replay.regret[t - 1], pseudoRegret: replay.pseudoRegret[t - 1], contextRegret: replay.contextRegret[t - 1] };
      }),
      arms: replay.arms,
    },
    frontier,
    best: best.id,
    cheapestAtEqualSuccess: cheapest.id,
    fallbacks: fallbacks.best,
    state: { path: displayPath(statePath), learned, trainedOn: [...router.trainedOn], saved: !args.values["no-save"] && learned.length > 0 },
    ...(evaluation ? { eval: { dev: evaluation.dev, test: evaluation.test, routed: evaluation.routed, lift: liftCell(evaluation.comparison, "router") ?? null } } : {}),
  };
  if (args.values.json) {
    console.log(JSON.stringify(out, null, 2));
    return 0;
  }
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [
    `router replay on ${ids.join(", ")}: ${log.instances.length} instances × ${passes} pass(es), ${log.arms.length} arms, ${out.contexts.length} contexts (cost: mean ${costUnit})`,
    ...(log.dropped.length ? [`  dropped (did not play every instance): ${log.dropped.join("; ")}`] : []),
    `  router success ${pct(replay.routerSuccess)} vs best fixed arm ${replay.best.id} ${pct(replay.best.success)}: ` +
    `regret ${out.replay.regret} (pseudo ${out.replay.pseudoRegret.toFixed(2)}), vs the best arm per context ${out.replay.contextRegret}; best arm's share of pulls ${pct(replay.bestShare)}`,
    `  regret curve: ${out.replay.curve.map((c) => `${c.round}: ${c.regret}`).join(", ")}`,
    `  ${"arm".padEnd(28)} success  mean ${costUnit.padEnd(6)}  pulls`,
    ...replay.arms.map((a) => `  ${a.id.padEnd(28)} ${pct(a.success).padStart(7)}  ${a.cost.toFixed(costUnit === "usd" ? 4 : 0).padStart(11)}  ${a.pulls}`),
    `Pareto frontier (success ↑, cost ↓): ${frontier.map((a) => `${a.id} (${pct(a.success)}, ${a.cost.toFixed(costUnit === "usd" ? 4 : 0)})`).join(" → ")}`,
    `best arm ${best.id}; cheapest at equal success ${cheapest.id}`,
    "fallbacks (first arm → the arm that most often recovers what it failed):",
    ...Object.entries(fallbacks.best).map(([first, r]) => `  ${first} → ${r ? `${r.fallback} (${r.recovered}/${r.failed} recovered)` : "none recovers any"}`),
    out.state.saved
      ? `router state: learned ${learned.join(", ")}; wrote ${out.state.path}`
      : `router state: ${args.values["no-save"] ? "not saved (--no-save)" : `already trained on ${ids.join(", ")}; ${out.state.path} unchanged`}`,
  ];
  if (evaluation) {
    const lift = liftCell(evaluation.comparison, "router");
    lines.push(
      `eval: best single arm on dev ${evaluation.dev.best}, cheapest at equal dev success ${evaluation.dev.cheapest}`,
      ...evaluation.test.arms.map((a) => `  test_id ${a.id.padEnd(9)} ${pct(a.success)} of ${a.n}, mean ${costUnit} ${a.cost.toFixed(costUnit === "usd" ? 4 : 0)}`),
      `  router − best on test_id: ${lift ? formatEstimate(lift, { signed: true }) : "n/a"} (paired, clustered by family)`,
      `  router picked: ${Object.entries(evaluation.routed).map(([a, n]) => `${a} ×${n}`).join(", ")}`,
    );
  }
  console.log(lines.join("\n"));
  return 0;
}

/** `lab use prompts`: learned prompts (seed 004) — failure modes → prompt variants → dev (Holm) → one test_id test each → promotion. */
function PROMPTS_COMMAND(): CommandSpec {
  return {
    name: "use prompts",
    summary: "Learned prompts: a strategy's frequent failure modes → prompt variants → paired dev lifts (Holm) → one pre-declared test_id test → promotion",
    options: {
      strategy: { type: "string", description: "The parent strategy (an id of the tournament config's strategies file)", default: "beta" },
      "from-run": { type: "string", description: "Tournament run whose failed episodes give the verdict reasons (default: the newest run in --db)" },
      db: { type: "string", description: "The tournament store", default: displayPath(DEFAULT_DB_PATH) },
      patterns: { type: "string", description: "Pattern store holding corrections (edit patterns); skipped when the file does not exist", default: displayPath(DEFAULT_PATTERNS_PATH) },
      simulated: { type: "string", description: "Which corrections count: a person's (real), simulated ones, or both", choices: ["real", "simulated", "all"], default: "real" },
      variants: { type: "string", description: "Variants at most (one per failure mode, most frequent first)", default: "3" },
      "min-count": { type: "string", description: "Fewest failures + edits a failure mode needs", default: "2" },
      "per-level": { type: "string", description: "dev and test_id instances per challenge level", default: "20" },
      seeds: { type: "string", description: "Episode seeds per instance (fresh: none of the run's)", default: "1" },
      alpha: { type: "string", description: "α of the Holm-corrected dev choice and of each one-sided test_id test", default: "0.05" },
      "writer-model": { type: "string", description: "A configs/models.yaml entry that writes the variants' sentences (default: the rule table)" },
      "no-eval": { type: "boolean", description: "Only detect failure modes and write variants (no suites)" },
      config: { type: "string", description: "Tournament config (model, sandbox, levels and families, strategies file)", default: "configs/tournament.yaml" },
      write: { type: "string", description: "Add the promoted strategies to this strategies file (atomically); default: print the YAML to add" },
      json: { type: "boolean", description: "Print the result as JSON" },
    },
    examples: [
      "deno task lab use prompts --strategy beta --no-eval",
      "deno task lab use prompts --strategy beta --per-level 20 --variants 4",
      "deno task lab use prompts --strategy gamma --from-run t-1c9b94653baf --write configs/strategies.yaml",
    ],
    run: promptsCommand,
  };
}

async function promptsCommand(args: ParsedArgs): Promise<number> {
  const db = String(args.values.db);
  await requireTournamentStore(db);
  const maxVariants = intOption(args, "variants", 1);
  const minCount = intOption(args, "min-count", 1);
  const perLevel = intOption(args, "per-level", 1);
  const seedCount = intOption(args, "seeds", 1);
  const alpha = Number(args.values.alpha);
  if (!(alpha > 0 && alpha < 1)) throw new UsageError(`--alpha must be a number in (0, 1), found '${args.values.alpha}'`);
  const writePath = typeof args.values.write === "string" ? resolve(args.values.write) : undefined;
  let target: { text: string; ids: string[] } | undefined;
  if (writePath) {
    try {
      const text = await Deno.readTextFile(writePath);
      target = { text, ids: Object.keys(parseStrategiesConfig(text, String(args.values.write)).strategies) };
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(`--write: ${e.message}`);
      throw new UsageError(`--write ${args.values.write}: cannot read it (${(e as Error).message.split("\n")[0]}); pass an existing strategies file`);
    }
  }
  const runs = await listRuns(db);
  if (!runs.length) throw new UsageError(`${db} holds no tournament run: run one with lab tournament`);
  const runId = typeof args.values["from-run"] === "string" ? args.values["from-run"] : runs[0].id;
  const run = runs.find((r) => r.id === runId);
  if (!run) throw new UsageError(`--from-run: no run '${runId}' in ${db} (runs: ${runs.map((r) => r.id).join(", ")}; lab runs list shows them)`);

  await using ctx = await runContext({ values: { config: args.values.config, db, patterns: args.values.patterns }, positionals: [] });
  let parent;
  try {
    parent = getStrategy(ctx.strategies, String(args.values.strategy));
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`--strategy: ${e.message}`);
    throw e;
  }
  const failures = await failureReasons(db, { runs: [run.id] });
  let corrections: Awaited<ReturnType<typeof listCorrections>> = [];
  const hasPatterns = await Deno.stat(String(args.values.patterns)).then(() => true, () => false);
  if (hasPatterns) corrections = await listCorrections(await ctx.patternStore(), { simulated: args.values.simulated as SimulatedFilter });
  const report = detectFailureModes(failures, corrections, { strategy: parent.id, minCount });
  const writerName = typeof args.values["writer-model"] === "string" ? args.values["writer-model"] : undefined;
  const writer = writerName ? modelWriter(await ctx.model(writerName)) : ruleWriter;
  const variants = await generateVariants(parent, report, {
    variants: maxVariants,
    writer,
    run: run.id,
    taken: [...Object.keys(ctx.strategies.strategies), ...(target?.ids ?? [])],
  });

  const json = Boolean(args.values.json);
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  say(`failure modes of ${parent.id} in run ${run.id} (${run.modelName}): ${report.failures} failed episodes, ${report.edits} edited corrections${hasPatterns ? "" : " (no pattern store)"}`);
  for (const m of report.modes) say(`  ${m.id.padEnd(22)} ${String(m.failures + m.edits).padStart(4)}  ${pct(m.share).padStart(6)}  ${m.title}`);
  if (report.unmatched.length) say(`  unmatched reasons (no rule): ${report.unmatched.map((u) => `${u.value} (${u.count})`).join("; ")}`);
  for (const v of variants) {
    const flags = Object.entries(v.lineage.fragment_diff.flags).map(([k, c]) => `${k} ${c!.from}→${c!.to}`).join(", ");
    say(`variant ${v.strategy.id} [${v.lineage.generator}]: + "${v.lineage.fragment_diff.instructions_added}"${flags ? `; flags: ${flags}` : ""}`);
  }
  let evaluation: PromptEvaluation | undefined;
  let declaredTests: DeclaredTest[] = [];
  if (!variants.length) say(`no variant to try: no failure mode of ${parent.id} reaches --min-count ${minCount} with an edit the parent lacks`);
  else if (!args.values["no-eval"]) {
    const levels: typeof ctx.tournament.challenges.levels = ctx.tournament.challenges.levels.length ? ctx.tournament.challenges.levels : [1, 2, 3, 4, 5] as typeof ctx.tournament.challenges.levels;
    const select = async (split: "dev" | "test_id") =>
      (await Promise.all(levels.map((l) => splitChallenges({ ...ctx.tournament, challenges: { ...ctx.tournament.challenges, levels: [l] } }, split, perLevel)))).flat();
    const [dev, test] = [await select("dev"), await select("test_id")];
    const used = new Set((await readEpisodeRows(db, run.id)).map((r) => r.seed));
    const seeds = freshSeeds(seedCount, { salt: `prompts:${run.id}:${parent.id}`, exclude: used });
    const env = await ctx.env();
    const model = await ctx.model(run.modelName);
    say(`dev: ${dev.length} instances (levels ${levels.join(", ")}, ≤ ${perLevel} each), test_id: ${test.length}, seeds ${seeds.join(", ")}, model ${run.modelName}`);
    evaluation = await evaluateVariants(parent, variants, {
      model: run.modelName,
      dev,
      test,
      seeds,
      alpha,
      deps: { models: () => model, pool: env.pool, fitness: env.strategies.fitness, concurrency: ctx.tournament.concurrency },
      onDeclare: (tests) => {
        declaredTests = [...tests];
        for (const t of tests) say(`declared before the test_id run (${t.declaredAt}): ${t.hypothesis}; one-sided, α = ${t.alpha}, ${t.instances.length} instances × ${t.seeds.length} seed(s)`);
      },
    });
    say(`dev: each variant − ${parent.id} (pass, paired, 95% interval clustered by family; p two-sided sign-flip, Holm over ${variants.length})`);
    for (const d of evaluation.dev) {
      say(`  ${d.id.padEnd(30)} ${pct(d.parentRate)} → ${pct(d.variantRate)}  ${formatEstimate({ estimate: d.lift, lo: d.lo, hi: d.hi, ...(d.note ? { note: d.note } : {}) }, { signed: true })}  p ${d.pValue?.toFixed(4) ?? "n/a"}  Holm ${d.pHolm.toFixed(4)}${d.winner ? "  WINNER" : ""}`);
    }
    if (!evaluation.tests.length) say(`no dev winner at α = ${alpha} after Holm: nothing to confirm on test_id, nothing promoted`);
    for (const t of evaluation.tests) {
      say(`test_id ${t.variant}: ${formatEstimate({ estimate: t.lift, lo: t.lo, hi: t.hi, note: "too few families" }, { signed: true })}, one-sided p ${t.pOneSided?.toFixed(4) ?? "n/a"} → ${t.confirmed ? "confirmed" : "not confirmed"}`);
    }
  }
  const promoted = evaluation?.promoted ?? [];
  let promotion;
  if (writePath && promoted.length) {
    try {
      promotion = await writePromoted(writePath, promoted);
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(`--write: ${e.message}`);
      throw e;
    }
    say(`wrote ${promotion.ids.join(", ")} into ${displayPath(writePath)}`);
  } else if (promoted.length) {
    promotion = promoteVariants(target?.text ?? await Deno.readTextFile(ctx.strategies.source), promoted, ctx.strategies.source);
    say(`promoted (add under strategies: in ${ctx.strategies.source}, or pass --write <file>):\n${promotion.added}`);
  }
  if (json) {
    console.log(JSON.stringify({
      run: run.id,
      model: run.modelName,
      report,
      variants: variants.map((v) => ({ id: v.strategy.id, lineage: v.lineage })),
      ...(evaluation ? { evaluation: { ...evaluation, promoted: evaluation.promoted.map((p) => ({ id: p.strategy.id, lineage: p.lineage })) }, declared: declaredTests } : {}),
      ...(promotion ? { promotion: { ids: promotion.ids, written: writePath ? displayPath(writePath) : null, added: promotion.added } } : {}),
    }, null, 2));
  }
  return 0;
}
