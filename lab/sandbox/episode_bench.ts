/**
 * Episode reset cost: acquire + release on the small sandbox, amortised over a warmed pool (one instance per
 * org is loaded once; each episode is BEGIN … ROLLBACK on it). Target: median ≤ 10 ms. Also prints the one-off
 * cost of loading an instance (ATTACH + per-tenant copy + lockdown).
 */
import { existsSync } from "node:fs";
import { ensureSandbox, sandboxPath } from "./mod.ts";
import { SandboxPool } from "./episode.ts";

const spec = { scale: "small" as const };
if (!existsSync(sandboxPath(spec))) console.log(`building ${sandboxPath(spec)} …`);
const { path } = await ensureSandbox(spec);

const t0 = performance.now();
const pool = await SandboxPool.open(path, { size: 1 });
await pool.warm(1, 1);
const loadMs = performance.now() - t0;

const samples: number[] = [];
for (let i = 0; i < 200; i++) {
  const s = performance.now();
  const ep = await pool.acquire(1, { role: "accountant" });
  await ep.release();
  samples.push(performance.now() - s);
}
samples.sort((a, b) => a - b);
const median = samples[samples.length >> 1];
console.log(`episode instance load (one-off per pooled instance, small): ${loadMs.toFixed(1)} ms`);
console.log(
  `episode reset (acquire+release, amortised over a warmed pool of 1 instance): median ${median.toFixed(2)} ms ` +
    `p95 ${samples[Math.floor(samples.length * 0.95)].toFixed(2)} ms — target median ≤ 10 ms: ${median <= 10 ? "OK" : "MISSED"}`,
);

Deno.bench("episode acquire+release (small, pooled)", async () => {
  const ep = await pool.acquire(1, { role: "accountant" });
  await ep.release();
});
