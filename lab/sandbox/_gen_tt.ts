import { buildSandbox } from "./generate.ts";
for (let i = 0; i < 3; i++) {
  let t = performance.now(); const parts: string[] = [];
  await buildSandbox("/tmp/tt.duckdb", { scale: (Deno.args[0] ?? "tiny") as "tiny" }, { onProgress: (m) => { const n = performance.now(); parts.push(`${m}:${(n - t).toFixed(0)}`); t = n; } });
  console.log(parts.join(" "));
}
