/**
 * dbRead round trip (guard checks + streaming + JSON conversion) of a typical monthly aggregate.
 * Target p50 < 5 ms on small; large (built into data/sandbox/ on first run, ~15–35 s) is reported without a target.
 */
import { ensureSandbox, SandboxPool } from "../sandbox/mod.ts";
import { callTool, createToolContext } from "./tools.ts";

const SQL = `SELECT date_trunc('month', invoice_date)::DATE AS month, count(*) AS invoices, sum(total) AS revenue
FROM sales_invoices WHERE status IN ('posted', 'partial', 'paid') GROUP BY 1 ORDER BY 1`;

async function measure(label: string, path: string, targetMs?: number): Promise<void> {
  await using pool = await SandboxPool.open(path, { size: 1 });
  await using ep = await pool.acquire(1, { role: "analyst" });
  const ctx = createToolContext(ep);
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const s = performance.now();
    const r = await callTool(ctx, "dbRead", { sql: SQL });
    if (!r.ok) throw new Error(r.error);
    samples.push(performance.now() - s);
  }
  samples.sort((a, b) => a - b);
  const p50 = samples[samples.length >> 1];
  console.log(
    `dbRead monthly aggregate (${label}): p50 ${p50.toFixed(2)} ms p95 ${samples[Math.floor(samples.length * 0.95)].toFixed(2)} ms` +
      (targetMs === undefined ? " — no target (reported)" : ` — target p50 < ${targetMs} ms: ${p50 < targetMs ? "OK" : "MISSED"}`),
  );
}

const { path } = await ensureSandbox({ scale: "small" });
await measure("small", path, 5);
await measure("large", (await ensureSandbox({ scale: "large" })).path);

const pool = await SandboxPool.open(path, { size: 1 });
const ep = await pool.acquire(1, { role: "analyst" });
const ctx = createToolContext(ep);
Deno.bench("dbRead monthly aggregate (small)", async () => {
  await callTool(ctx, "dbRead", { sql: SQL });
});
