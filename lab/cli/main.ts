/**
 * The `lab` command: a thin face over the library. Every command has `--help`; bad input prints one line
 * (what, where, what to do) and exits with 2; a user-facing failure exits with 1.
 *
 * Run it as `deno task lab <command> [options]`.
 */
import { commandHelp, type CommandSpec, parseCommandArgs, UsageError } from "./_args.ts";
import { isUserError } from "../util/mod.ts";
import { COMMANDS } from "./commands.ts";

function topHelp(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "lab — a research lab for LLM agents that learn from competition",
    "",
    "Usage: deno task lab <command> [options]      (each command has --help)",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
  ].join("\n");
}

/** Finds the command whose (possibly multi-word) name matches the start of argv, longest first. */
function findCommand(argv: string[]): { cmd: CommandSpec; rest: string[] } | undefined {
  const sorted = [...COMMANDS].sort((a, b) => b.name.split(" ").length - a.name.split(" ").length);
  for (const cmd of sorted) {
    const words = cmd.name.split(" ");
    if (words.every((w, i) => argv[i] === w)) return { cmd, rest: argv.slice(words.length) };
  }
  return undefined;
}

/** Runs the CLI on `argv` and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    console.log(topHelp());
    return argv.length === 0 ? 2 : 0;
  }
  const found = findCommand(argv);
  if (!found) {
    const group = COMMANDS.filter((c) => c.name.startsWith(`${argv[0]} `));
    if (group.length && (argv.length === 1 || argv[1] === "--help" || argv[1] === "-h")) {
      console.log([`Subcommands of '${argv[0]}':`, ...group.map((c) => `  lab ${c.name}  — ${c.summary}`)].join("\n"));
      return argv.length === 1 ? 2 : 0;
    }
    const what = group.length ? `unknown subcommand '${argv.slice(0, 2).join(" ")}'` : `unknown command '${argv[0]}'`;
    console.error(`lab: ${what} — run 'deno task lab --help' to list the commands`);
    return 2;
  }
  const { cmd, rest } = found;
  try {
    const args = parseCommandArgs(cmd, rest);
    if (args.values.help) {
      console.log(commandHelp(cmd));
      return 0;
    }
    return (await cmd.run(args)) ?? 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`lab ${cmd.name}: ${e.message} — see 'deno task lab ${cmd.name} --help'`);
      return 2;
    }
    if (isUserError(e)) {
      console.error(`lab ${cmd.name}: ${e.message.split("\n")[0]}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
