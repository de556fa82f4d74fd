/**
 * Sandbox build time per scale. Targets: tiny < 1 s (tests build it), small < 5 s (demo), large < 120 s
 * (≥ 10 M rows, benchmarks only; `n: 1, warmup: 0`, though Deno 2.9 still makes extra calls — 2–3 observed — so
 * large is built more than once). Prints a "measured vs target" summary at the end: the verdict uses the median of all
 * calls of a scale, and the slowest call (usually the first, cold one) is shown next to it. (`fn` must be an
 * `async` function: Deno.bench decides whether to await by the function kind, not by the returned value.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSandbox, type Scale } from "./generate.ts";

const TARGET_MS = { tiny: 1_000, small: 5_000, large: 120_000 } satisfies Record<Scale, number>;
const dir = mkdtempSync(join(tmpdir(), "lab-sandbox-bench-"));
const runs: Record<Scale, { ms: number[]; rows: number }> = {
  tiny: { ms: [], rows: 0 },
  small: { ms: [], rows: 0 },
  large: { ms: [], rows: 0 },
};

async function build(scale: Scale): Promise<void> {
  const t0 = performance.now();
  const m = await buildSandbox(join(dir, `${scale}.duckdb`), { scale });
  const ms = performance.now() - t0;
  runs[scale].ms.push(ms);
  runs[scale].rows = Object.values(m.rowCounts).reduce((a, b) => a + b, 0);
}

Deno.bench({ name: "buildSandbox tiny", group: "build", n: 10, warmup: 1, fn: async () => await build("tiny") });
Deno.bench({ name: "buildSandbox small", group: "build", n: 3, warmup: 0, fn: async () => await build("small") });
Deno.bench({
  name: "buildSandbox large (≥ 10 M rows)",
  group: "build",
  n: 1,
  warmup: 0,
  fn: async () => await build("large"),
});

globalThis.addEventListener("unload", () => {
  for (const scale of Object.keys(TARGET_MS) as Scale[]) {
    const { ms, rows } = runs[scale];
    if (ms.length === 0) continue;
    const sorted = [...ms].sort((a, b) => a - b);
    const median = sorted[sorted.length >> 1];
    const s = (x: number) => `${(x / 1000).toFixed(2)} s`;
    console.log(
      `sandbox build ${scale} (${rows.toLocaleString("en-US")} rows): measured median ${s(median)} ` +
        `(slowest ${s(sorted.at(-1)!)}, ${ms.length} calls) vs target < ${s(TARGET_MS[scale])}: ` +
        (median < TARGET_MS[scale] ? "OK" : "MISSED"),
    );
  }
  rmSync(dir, { recursive: true, force: true });
});
