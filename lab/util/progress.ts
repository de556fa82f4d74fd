/**
 * A progress bar for long runs. On a terminal it redraws one line on stderr; elsewhere (CI, notebooks,
 * pipes) it prints a line at most every 10 % so logs stay short. Quiet mode prints nothing.
 *
 * @example
 * ```ts
 * const bar = progressBar("build small");
 * bar.update(0.5, "invoices");
 * bar.done("built in 1.2 s");
 * ```
 */

/** A running progress display. */
export interface ProgressBar {
  /** Report progress in [0, 1] with an optional short message. */
  update(fraction: number, message?: string): void;
  /** Finish the bar with a final message. */
  done(message?: string): void;
}

/** Options for {@linkcode progressBar}. */
export interface ProgressOptions {
  /** Print nothing. @default false */
  quiet?: boolean;
  /** Width of the bar in characters. @default 28 */
  width?: number;
  /** Print nothing until the run has taken this long, so a quick run stays quiet. @default 0 */
  delayMs?: number;
}

/** Starts a progress bar labelled `label` on stderr. */
export function progressBar(label: string, options: ProgressOptions = {}): ProgressBar {
  const quiet = options.quiet ?? false;
  const width = options.width ?? 28;
  const tty = !quiet && Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  const write = (s: string) => {
    if (!quiet) Deno.stderr.writeSync(enc.encode(s));
  };
  const start = performance.now();
  const delayMs = options.delayMs ?? 0;
  let shown = delayMs <= 0;
  let lastDecile = -1;
  return {
    update(fraction, message = "") {
      if (!shown && performance.now() - start < delayMs) return;
      shown = true;
      const f = Math.min(1, Math.max(0, fraction));
      if (tty) {
        const filled = Math.round(f * width);
        const secs = ((performance.now() - start) / 1000).toFixed(1);
        write(`\r${label} [${"█".repeat(filled)}${"░".repeat(width - filled)}] ${(f * 100).toFixed(0).padStart(3)}% ${secs}s ${message}`.slice(0, 120).padEnd(120));
      } else {
        const decile = Math.floor(f * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          write(`${label}: ${(f * 100).toFixed(0)}% ${message}\n`);
        }
      }
    },
    done(message = "done") {
      if (!shown) return;
      const secs = ((performance.now() - start) / 1000).toFixed(2);
      if (tty) write(`\r${" ".repeat(120)}\r`);
      write(`${label}: ${message} (${secs} s)\n`);
    },
  };
}
