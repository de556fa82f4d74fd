/**
 * `lab tournament`: runs (or resumes) a tournament from `configs/tournament.yaml`, with a progress bar on a
 * terminal (episodes done/total, ETA, success rate, spend) and JSON lines otherwise, then prints the leaderboard
 * and the learning metrics (fitness per generation, convergence, pattern discovery rate).
 * A model served by the lab itself (provider `local`) is called in process (no HTTP) for the run.
 */
import type { CommandSpec } from "./_args.ts";
import {
  formatGenerations,
  formatLeaderboard,
  formatLearning,
  runTournament,
  selectChallenges,
  type TournamentProgress,
} from "../tournament/mod.ts";
import { interruptOnCtrlC, runContext, TOURNAMENT_RUN_OPTIONS } from "./_endpoint.ts";
import { progressBar, displayPath } from "../util/mod.ts";

function fmtMs(ms: number): string {
  const s = Math.round(ms / 1000);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, "0")}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

export const TOURNAMENT_COMMANDS: CommandSpec[] = [
  {
    name: "tournament",
    summary: "Run (or resume) a tournament: strategies × challenges × attempts × generations with selection",
    options: {
      ...TOURNAMENT_RUN_OPTIONS,
      challenges: {
        type: "string",
        description: "Run on your own challenge file or folder instead: its instances of any split, selected by the config's levels, families and max_instances",
      },
      "run-id": { type: "string", description: "Run id; an existing run with this id is resumed (default: a hash of the config)" },
      json: { type: "boolean", description: "Print the run summary as JSON instead of the leaderboard table" },
    },
    examples: [
      "deno task lab tournament --config configs/tournament.yaml",
      "deno task lab tournament --run-id t-smoke --db data/lab.duckdb --json",
      "deno task lab tournament --challenges ../my-challenges",
    ],
    async run(args) {
      const configPath = String(args.values.config);
      // Every config is read and checked before a model server starts or the run is registered in the store.
      await using ctx = await runContext(args);
      const config = ctx.tournament;
      const external = args.values.challenges as string | undefined;
      const challenges = external ? await selectChallenges(config, displayPath(configPath), { external: [external] }) : undefined;

      using ctrlC = interruptOnCtrlC();
      const tty = Deno.stderr.isTerminal();
      const bar = tty ? progressBar("tournament") : undefined;
      const onProgress = (e: TournamentProgress) => {
        if (!tty) {
          console.error(JSON.stringify(e.kind === "episode" ? { ...e, etaMs: Math.round(e.etaMs) } : e));
          return;
        }
        if (e.kind === "episode") {
          bar!.update(
            e.done / e.total,
            `${e.done}/${e.total} eta ${fmtMs(e.etaMs)} · pass ${(e.successRate * 100).toFixed(0)}% · $${e.costUsd.toFixed(4)} · ${e.tokens} tok`,
          );
        }
      };
      const run = await runTournament(config, {
        db: ctx.db,
        runId: args.values["run-id"] as string | undefined,
        strategies: ctx.strategies,
        ...(challenges ? { challenges } : {}),
        model: await ctx.model(),
        pool: await ctx.pool(),
        signal: ctrlC.signal,
        onProgress,
        source: displayPath(configPath),
      });
      bar?.done(`${run.status}: ${run.episodes.stored}/${run.episodes.total} episodes (${run.episodes.resumed} resumed)`);
      if (args.values.json) {
        console.log(JSON.stringify(run, null, 2));
      } else {
        console.log(`run ${run.runId} in ${displayPath(run.db)}: ${run.status}, model ${run.model.name} (${run.model.id})`);
        if (external) {
          console.log(`challenges: ${run.challenges.length} instances of the external set ${displayPath(external)} (whatever their split): ${run.challenges.join(", ")}`);
        }
        if (run.generations.length) console.log(formatGenerations(run.generations));
        console.log("");
        console.log(formatLeaderboard(run.leaderboard));
        console.log("");
        console.log(formatLearning(run.learning));
        if (run.status === "aborted") console.log(`\naborted: re-run the same command with --run-id ${run.runId} to resume`);
      }
      return run.status === "aborted" ? 130 : 0;
    },
  },
];
