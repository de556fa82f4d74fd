/**
 * The architecture, held by a test (issue 13): imports between the folders of `lab/` go one way, and through a
 * folder's door.
 *
 * - Direction: util and stats at the bottom, then sandbox → tools → challenges → models → agents → tournament →
 *   patterns → datasets → finetune → evals (with use: learning from use) → report; `cli/`, `serve/` and `e2e/` (tests across folders) are
 *   faces: a face may import any folder, other faces included (the CLI starts the server), while no other
 *   folder imports a face. A module may import from the folders before its own, never after.
 * - Doors: another folder is imported through its `mod.ts` (or, for tests and benches, its `testing.ts`), never
 *   through an inner file.
 */
import { describe, expect, it } from "vitest";
import { dirname, join, relative, resolve } from "node:path";
import { existsSync } from "node:fs";

const LAB = new URL(".", import.meta.url).pathname;

/** Layers, bottom first; folders in one layer may import each other. */
const LAYERS: string[][] = [
  ["util", "stats"],
  ["sandbox"],
  ["tools"],
  ["challenges"],
  ["models"],
  ["agents"],
  ["tournament"],
  ["patterns"],
  ["datasets"],
  ["finetune"],
  ["evals", "use"],
  ["report"],
];
const FACES = new Set(["cli", "serve", "e2e"]);
const rank = (folder: string) => LAYERS.findIndex((l) => l.includes(folder));

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* sources(p);
    else if (e.name.endsWith(".ts")) yield p;
  }
}

/** Every relative import of a file (static and `export … from`). */
function importsOf(text: string): string[] {
  return [...text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s+["'](\.[^"']+)["']/gm)].map((m) => m[1]);
}

/** The rule an import breaks, or undefined. */
function violation(from: string, to: string): string | undefined {
  const src = relative(LAB, from).split("/");
  const dst = relative(LAB, to).split("/");
  if (src.length < 2 || dst.length < 2 || dst[0].startsWith("..")) return undefined; // lab/mod.ts, outside lab/
  const [a, b] = [src[0], dst[0]];
  if (a === b) return undefined;
  const isTest = /(\.test|_bench)\.ts$/.test(from) || a === "e2e";
  if (FACES.has(b) && !FACES.has(a)) return `imports the face ${b}/`;
  const door = dst.length === 2 && (dst[1] === "mod.ts" || (isTest && dst[1] === "testing.ts"));
  if (!FACES.has(a) && rank(b) > rank(a)) return `imports ${b}/, which comes after ${a}/`;
  if (!door) return "reaches an inner file (use the folder's mod.ts)";
  return undefined;
}

describe("architecture", () => {
  it("keeps imports one way and through doors", async () => {
    const found: string[] = [];
    for await (const file of sources(LAB)) {
      for (const spec of importsOf(await Deno.readTextFile(file))) {
        const target = resolve(dirname(file), spec);
        // An import written inside a string (a notebook cell a module generates) resolves to no file: not an import.
        if (!existsSync(target)) continue;
        const why = violation(file, target);
        if (why) found.push(`${relative(LAB, file)} → ${relative(LAB, target)}: ${why}`);
      }
    }
    found.sort();
    expect(found, "imports against the direction or past a door").toEqual([]);
  });

  it("knows every folder of lab/", async () => {
    const folders: string[] = [];
    for await (const e of Deno.readDir(LAB)) if (e.isDirectory) folders.push(e.name);
    expect(folders.filter((f) => rank(f) < 0 && !FACES.has(f)).sort()).toEqual([]);
  });
});
