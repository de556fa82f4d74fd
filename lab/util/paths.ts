/**
 * Where the lab's files live, resolved from this module rather than the working directory, so the CLI (run from
 * the repo root) and notebooks (run from notebooks/) find the same files.
 */
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");

/** An absolute path inside the repository. */
export function repoPath(...parts: string[]): string {
  return [ROOT, ...parts].join("/");
}

/** A path as a person wants to read it: relative to the working directory when inside it. */
export function displayPath(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}
