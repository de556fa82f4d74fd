/**
 * Test helpers of `lab/util/` for tests in any folder: a Deno script run in a child process that can be killed with
 * SIGKILL when its output reaches a given line.
 * @module
 */

/** How a child process ended, and what it printed. */
export interface ChildRun {
  /** It ended by SIGKILL. */
  killed: boolean;
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runChild}. */
export interface RunChildOptions {
  /** Sees every line of the child's stdout, in order; the first line it is true for sends SIGKILL (once). */
  killAt?: (line: string) => boolean;
  /** Milliseconds from that line to the kill (through a timer: the output goes on being read); without it, at once. */
  delayMs?: number;
}

/**
 * Runs `deno run -A <script> <args>` (NO_COLOR set), reading its stdout line by line until it ends.
 *
 * @example
 * ```ts
 * const r = await runChild(CHILD, [db], { killAt: (line) => /^stored 3\//.test(line), delayMs: 5 });
 * ```
 */
export async function runChild(
  script: string,
  args: readonly string[],
  options: RunChildOptions = {},
): Promise<ChildRun> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const kill = () => {
    try {
      proc.kill("SIGKILL");
    } catch { /* already gone */ }
  };
  const stderr = new Response(proc.stderr).text();
  let stdout = "", buf = "", sent = false;
  const dec = new TextDecoder();
  for await (const chunk of proc.stdout) {
    buf += dec.decode(chunk, { stream: true });
    const lines = buf.split("\n");
    buf = lines.pop()!;
    for (const line of lines) {
      stdout += line + "\n";
      if (options.killAt?.(line) && !sent) {
        sent = true;
        if (options.delayMs === undefined) kill();
        else setTimeout(kill, options.delayMs);
      }
    }
  }
  const status = await proc.status;
  return { killed: status.signal === "SIGKILL", code: status.code, stdout, stderr: await stderr };
}
