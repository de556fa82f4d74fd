/**
 * Sandbox: the deterministic multi-tenant ERP database (DuckDB) and the isolated per-episode copies agents
 * work in.
 *
 * @example
 * ```ts
 * import { ensureSandbox, SandboxPool } from "./lab/sandbox/mod.ts";
 * const { path } = await ensureSandbox({ scale: "tiny" });
 * await using pool = await SandboxPool.open(path);
 * await using ep = await pool.acquire(1, { role: "accountant" });
 * ```
 * @module
 */
import { join } from "node:path";
import { repoPath } from "../util/mod.ts";
import { buildSandbox, DEFAULT_SPEC, readManifest, SANDBOX_FORMAT, type SandboxManifest, type SandboxSpec } from "./generate.ts";

export * from "./schema.ts";
export * from "./generate.ts";
export * from "./views.ts";
export * from "./episode.ts";

/** Directory where built sandboxes are cached (gitignored). */
export const SANDBOX_DIR: string = repoPath("data/sandbox");

/** The file a sandbox spec is built into: one file per (scale, seed, as-of date). */
export function sandboxPath(spec: Partial<SandboxSpec> = {}, dir = SANDBOX_DIR): string {
  const s = { ...DEFAULT_SPEC, ...spec };
  return join(dir, `${s.scale}-s${s.seed}-${s.asOf}.duckdb`);
}

/** Options for {@linkcode ensureSandbox}. */
export interface EnsureSandboxOptions {
  /** The folder sandbox files live in. @default "data/sandbox" */
  dir?: string;
  /** Rebuild even when the file exists. @default false */
  rebuild?: boolean;
  /** Called while building, with a short message and the fraction done in [0, 1]. */
  onProgress?: (message: string, fraction: number) => void;
}

/**
 * Returns the sandbox file for `spec`, building it first if it is missing, of an older
 * {@linkcode SANDBOX_FORMAT}, or `rebuild`. Building is deterministic, so a cached file is the same data a
 * rebuild would give.
 */
export async function ensureSandbox(
  spec: Partial<SandboxSpec> = {},
  options: EnsureSandboxOptions = {},
): Promise<{ path: string; manifest: SandboxManifest; built: boolean }> {
  const path = sandboxPath(spec, options.dir);
  if (!options.rebuild) {
    try {
      const manifest = await readManifest(path);
      if (manifest.format === SANDBOX_FORMAT) return { path, manifest, built: false };
    } catch {
      // missing or unreadable: build it (an older format is rebuilt too)
    }
  }
  await Deno.mkdir(options.dir ?? SANDBOX_DIR, { recursive: true });
  const manifest = await buildSandbox(path, spec, { onProgress: options.onProgress });
  return { path, manifest, built: true };
}
