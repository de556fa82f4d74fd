/**
 * Loopback round trip of a small chat completion through the local server (fetch → parse → placeholder →
 * JSON). Target p50 < 5 ms.
 */
import { startServer } from "./mod.ts";

const TARGET_MS = 5;
const BODY = JSON.stringify({ model: "lab-mini-placeholder", messages: [{ role: "user", content: "How many open invoices?" }], max_tokens: 32 });

// Not `await using`: a module-scope disposal would close the server before Deno.bench runs. The process
// exits with the server open, so the data dir is ours to remove.
const dataDir = await Deno.makeTempDir({ prefix: "lab-serve-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dataDir, { recursive: true }));
const server = await startServer({ dataDir });
const url = `${server.url}/chat/completions`;
const roundTrip = async () => {
  const r = await fetch(url, { method: "POST", body: BODY, headers: { "content-type": "application/json" } });
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  await r.json();
};
for (let i = 0; i < 50; i++) await roundTrip(); // warm up (tiktoken ranks load on first use)
const samples: number[] = [];
for (let i = 0; i < 500; i++) {
  const s = performance.now();
  await roundTrip();
  samples.push(performance.now() - s);
}
samples.sort((a, b) => a - b);
const p50 = samples[samples.length >> 1];
const p95 = samples[Math.floor(samples.length * 0.95)];
console.log(`serve chat round trip (loopback): measured p50 ${p50.toFixed(2)} ms, p95 ${p95.toFixed(2)} ms vs target < ${TARGET_MS} ms: ${p50 < TARGET_MS ? "OK" : "MISSED"}`);

Deno.bench("serve: chat completion round trip (loopback fetch)", async () => {
  await roundTrip();
});
