/**
 * Test helpers of the end-to-end tests: the `lab` command run in this process.
 * @module
 */
import { vi } from "vitest";
import { main } from "../cli/mod.ts";

/** Runs `lab <argv>` in this process; its exit code and what it printed (console.log as `out`, console.error `err`). */
export async function lab(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [], err: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a) => void out.push(a.join(" ")));
  const error = vi.spyOn(console, "error").mockImplementation((...a) => void err.push(a.join(" ")));
  try {
    return { code: await main(argv), out: out.join("\n"), err: err.join("\n") };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}
