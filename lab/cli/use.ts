/**
 * `lab use …`: learning from use (issue 17). `lab use edits` — what people change most in the agent's answers
 * (SQL fragments, tables, columns, filters, aggregation, answer shape) per strategy, category or model, with the
 * verifiers' most common failure reasons.
 */
import type { CommandSpec } from "./_args.ts";
import { intOption, UsageError } from "./_args.ts";
import { DEFAULT_PATTERNS_PATH, PatternStore } from "../patterns/mod.ts";
import { DEFAULT_DB_PATH } from "../tournament/mod.ts";
import { EDIT_GROUPINGS, type EditGrouping, editPatterns, formatEditReport, type SimulatedFilter } from "../use/mod.ts";
import { displayPath, repoPath } from "../util/mod.ts";
import { resolve } from "node:path";
import type { ParsedArgs } from "./_args.ts";
import { runContext } from "./_endpoint.ts";
import { type Challenge, loadCatalog } from "../challenges/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import { listRuns, readEpisodeRows } from "../tournament/mod.ts";
import { formatEstimate, freshSeeds, liftCell, splitChallenges, storedStrategy } from "../evals/mod.ts";
import {
  armSummaries,
  BanditRouter,
  cheapestAtEqualSuccess,
  fallbackTable,
  loadRouter,
  paretoFrontier,
  replayLog,
  routerArmId,
  type RouterVsFixedResult,
  routerVsFixed,
  saveRouter,
  tournamentLog,
} from "../use/mod.ts";

/** The `lab use` commands. */
export const USE_COMMANDS: CommandSpec[] = [
  ROUTE_COMMAND(),
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
      if (db !== undefined) {
        try {
          await Deno.stat(db);
        } catch {
          throw new UsageError(`no tournament store at ${db}: run a tournament, pass --db <file>, or --no-failures`);
        }
      }
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
  try {
    await Deno.stat(db);
  } catch {
    throw new UsageError(`no tournament store at ${db}: run a tournament (lab tournament) or pass --db <file>`);
  }
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
