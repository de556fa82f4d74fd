/**
 * The `lab` command, a face of the lab: `main` runs it with the process's arguments, `COMMANDS` lists every
 * command with its options (the end-to-end tests run `--help` on each).
 * @module
 */
export { COMMANDS } from "./commands.ts";
export { main } from "./main.ts";
