/**
 * Sandbox build time per scale. Targets: tiny < 1 s (tests build it), small < 5 s (demo), large < 120 s
 * (≥ 10 M rows, benchmarks only; built once, no warmup). Prints a "measured vs target" summary at the end,
 * using the slowest run of each scale so the verdict is not flattered by a warm cache. (`fn` must be an
 * `async` function: Deno.bench decides whether to await by the function kind, not by the returned value.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSandbox, type Scale } from "./generate.ts";

const TARGET_MS = { tiny: 1_000, small: 5_000, large: 120_000 } satisfies Record<Scale, number>;
const dir = mkdtempSync(join(tmpdir(), "lab-sandbox-bench-"));
const worst: Partial<Record<Scale, { ms: number; rows: number }>> = {};

async function build(scale: Scale): Promise<void> {
  const t0 = performance.now();
  const m = await buildSandbox(join(dir, `${scale}.duckdb`), { scale });
  const ms = performance.now() - t0;
  const rows = Object.values(m.rowCounts).reduce((a, b) => a + b, 0);
  if (ms > (worst[scale]?.ms ?? 0)) worst[scale] = { ms, rows };
}

Deno.bench({ name: "buildSandbox tiny", group: "build", n: 10, warmup: 1, fn: async () => await build("tiny") });
Deno.bench({ name: "buildSandbox small", group: "build", n: 3, warmup: 0, fn: async () => await build("small") });
Deno.bench({ name: "buildSandbox large (≥ 10 M rows)", group: "build", n: 1, warmup: 0, fn: async () => await build("large") });

globalThis.addEventListener("unload", () => {
  for (const scale of Object.keys(TARGET_MS) as Scale[]) {
    const w = worst[scale];
    if (!w) continue;
    const verdict = w.ms < TARGET_MS[scale] ? "OK" : "MISSED";
    console.log(
      `sandbox build ${scale}: measured ${(w.ms / 1000).toFixed(2)} s for ${w.rows.toLocaleString("en-US")} rows ` +
        `(slowest run) vs target < ${TARGET_MS[scale] / 1000} s: ${verdict}`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
});
