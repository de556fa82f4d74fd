/**
 * Argument parsing for the `lab` CLI: every command declares its options once, which gives both the parser
 * configuration and the `--help` text. Bad input becomes a {@linkcode UsageError}: one line saying what,
 * where and what to do.
 */
import { parseArgs } from "node:util";

/** A user mistake on the command line; printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** One option of a command. */
export interface OptionSpec {
  type: "string" | "boolean";
  description: string;
  short?: string;
  /** Shown in help; applied by the command itself. */
  default?: string | boolean;
  /** For strings: the allowed values. */
  choices?: readonly string[];
}

/** A command of the CLI. */
export interface CommandSpec {
  name: string;
  summary: string;
  usage?: string;
  options: Record<string, OptionSpec>;
  /** Names of positional arguments, for help. */
  positionals?: string[];
  examples?: string[];
  run(args: ParsedArgs): Promise<number | void>;
}

/** Parsed values: options by name, positionals in order. */
export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses argv for one command, applying defaults and checking choices. */
export function parseCommandArgs(cmd: CommandSpec, argv: string[]): ParsedArgs {
  const options: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const [name, o] of Object.entries(cmd.options)) options[name] = o.short ? { type: o.type, short: o.short } : { type: o.type };
  options.help = { type: "boolean", short: "h" };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    const msg = (e as Error).message.replace(/\. To specify a positional argument.*$/s, "");
    throw new UsageError(`${msg.split("\n")[0]}`);
  }
  const values: Record<string, string | boolean | undefined> = { ...parsed.values };
  for (const [name, o] of Object.entries(cmd.options)) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
    const v = values[name];
    if (o.choices && typeof v === "string" && !o.choices.includes(v)) {
      throw new UsageError(`--${name} must be one of ${o.choices.join(", ")}, found '${v}'`);
    }
  }
  return { values, positionals: parsed.positionals };
}

/** Help text of one command. */
export function commandHelp(cmd: CommandSpec, prog = "lab"): string {
  const lines = [
    `${prog} ${cmd.name} — ${cmd.summary}`,
    "",
    `Usage: ${prog} ${cmd.usage ?? `${cmd.name}${cmd.positionals?.map((p) => ` <${p}>`).join("") ?? ""} [options]`}`,
    "",
    "Options:",
  ];
  const rows = Object.entries(cmd.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ""}--${name}${o.type === "string" ? " <value>" : ""}`;
    const extra = [
      o.choices ? `one of: ${o.choices.join(", ")}` : "",
      o.default !== undefined ? `default: ${o.default}` : "",
    ].filter(Boolean).join("; ");
    return [flag, `${o.description}${extra ? ` (${extra})` : ""}`];
  });
  rows.push(["-h, --help", "Show this help"]);
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [f, d] of rows) lines.push(`  ${f.padEnd(w)}  ${d}`);
  if (cmd.examples?.length) {
    lines.push("", "Examples:");
    for (const e of cmd.examples) lines.push(`  ${e}`);
  }
  return lines.join("\n");
}

/** Reads an integer option, with a one-line error naming the option. */
export function intOption(args: ParsedArgs, name: string, min = Number.MIN_SAFE_INTEGER): number {
  const raw = args.values[name];
  const n = typeof raw === "string" ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer${min > Number.MIN_SAFE_INTEGER ? ` ≥ ${min}` : ""}, found '${raw}'`);
  }
  return n;
}

/** Reads a string option. */
export function strOption(args: ParsedArgs, name: string): string {
  const v = args.values[name];
  if (typeof v !== "string") throw new UsageError(`--${name} is required`);
  return v;
}
