/** Plain-text formatting shared by CLI commands. */
import type { SandboxManifest } from "../sandbox/mod.ts";

/** Right-aligned two-column table. */
export function textTable(rows: [string, string | number][], indent = "  "): string {
  const w = Math.max(...rows.map((r) => r[0].length));
  const v = Math.max(...rows.map((r) => String(typeof r[1] === "number" ? r[1].toLocaleString("en-US") : r[1]).length));
  return rows.map(([k, val]) =>
    `${indent}${k.padEnd(w)}  ${String(typeof val === "number" ? val.toLocaleString("en-US") : val).padStart(v)}`
  ).join("\n");
}

/** The shape of a sandbox: spec, tenants, rows per table. */
export function formatManifest(m: SandboxManifest): string {
  const total = Object.values(m.rowCounts).reduce((a, b) => a + b, 0);
  return [
    `sandbox: scale=${m.spec.scale} seed=${m.spec.seed} as-of=${m.spec.asOf} (built in ${m.buildMs.toFixed(0)} ms)`,
    `tenants: ${m.orgs.map((o) => `${o.org_id} ${o.name} (${(m.rowsPerTenant[o.org_id] ?? 0).toLocaleString("en-US")} rows)`).join(", ")}`,
    `rows per table (all tenants, ${total.toLocaleString("en-US")} in total):`,
    textTable(Object.entries(m.rowCounts)),
  ].join("\n");
}
