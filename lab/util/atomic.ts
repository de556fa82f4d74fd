/**
 * Write files atomically: to a temp file beside the target, then rename, so a reader never sees a partial
 * file and a failure leaves the old file (or nothing) in place.
 */
import { dirname, join, basename } from "node:path";

/** Path of a fresh temp file in the same directory as `path` (same filesystem, so rename is atomic). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
}

/** Writes `text` to `path` atomically, creating the parent directory. */
export async function writeTextAtomic(path: string, text: string): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}
