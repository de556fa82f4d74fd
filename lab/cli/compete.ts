/**
 * `lab compete`: does competition help? The tournament of `configs/tournament.yaml` (with selection) against a
 * single strategy on the same episode budget, then both final strategies on the same dev instances with the same
 * fresh seeds; prints the lift with a paired 95% interval and a sign-flip p-value over families, and McNemar. Both training runs
 * are stored in the lab's DuckDB file and resume when re-run. A local model is called in process for the run.
 */
import type { CommandSpec } from "./_args.ts";
import { intOption } from "./_args.ts";
import { selectChallenges } from "../tournament/mod.ts";
import { type CompetitionProgress, competitionVsSingle, formatCompetition } from "../evals/mod.ts";
import { interruptOnCtrlC, runContext, TOURNAMENT_RUN_OPTIONS } from "./_endpoint.ts";
import { progressBar, displayPath } from "../util/mod.ts";

export const COMPETE_COMMANDS: CommandSpec[] = [
  {
    name: "compete",
    summary: "Does competition help? Tournament vs a single strategy on the same budget, both evaluated on dev",
    options: {
      ...TOURNAMENT_RUN_OPTIONS,
      budget: { type: "string", description: "Training episodes per arm (default: the config's tournament size)" },
      single: { type: "string", description: "The single arm's strategy (default: gamma when in the population, else the first)" },
      "dev-instances": { type: "string", description: "Dev (or external) instances (config's levels and families; default: its max_instances)" },
      challenges: {
        type: "string",
        description: "Train and re-evaluate on your own challenge file or folder instead of train and dev (its instances of any split)",
      },
      "dev-seeds": { type: "string", description: "Fresh seeds per dev instance", default: "2" },
      json: { type: "boolean", description: "Print the full result as JSON" },
    },
    examples: [
      "deno task lab compete --config configs/tournament.yaml --budget 240",
      "deno task lab compete --budget 120 --dev-instances 12 --json",
      "deno task lab compete --budget 120 --challenges ../my-challenges",
    ],
    async run(args) {
      const configPath = String(args.values.config);
      const budget = args.values.budget === undefined ? undefined : intOption(args, "budget", 1);
      const devInstances = args.values["dev-instances"] === undefined ? undefined : intOption(args, "dev-instances", 1);
      const devSeeds = intOption(args, "dev-seeds", 1);
      // Every config is read and checked before a model server starts or a run is registered in the store.
      await using ctx = await runContext(args);
      const config = ctx.tournament;
      const external = args.values.challenges as string | undefined;
      // A bad external file stops the command before a model server starts or a run is registered.
      if (external) await selectChallenges(config, displayPath(configPath), { external: [external] });

      using ctrlC = interruptOnCtrlC();
      const tty = Deno.stderr.isTerminal() && !args.values.json;
      const bar = tty ? progressBar("compete") : undefined;
      const onProgress = (p: CompetitionProgress) => {
        if (p.arm === "dev") bar?.update(p.done / p.total, `dev ${p.done}/${p.total}`);
        else if (p.event.kind === "episode") bar?.update(p.event.done / p.event.total, `${p.arm} ${p.event.done}/${p.event.total}`);
      };
      const r = await competitionVsSingle(await ctx.env({ signal: ctrlC.signal }), {
        config,
        budget,
        single: args.values.single as string | undefined,
        devInstances,
        devSeeds,
        ...(external ? { external: [external] } : {}),
        onProgress,
      });
      bar?.done(`done in ${(r.elapsedMs / 1000).toFixed(0)} s`);
      console.log(args.values.json ? JSON.stringify(r, null, 2) : formatCompetition(r));
    },
  },
];
