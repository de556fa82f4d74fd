/**
 * The files store behind `/v1/files`: bytes and metadata under `<dataDir>/files/`, written atomically. A file
 * uploaded with purpose "fine-tune" must be JSONL of chat examples; a bad line is refused with its number.
 */
import { join } from "node:path";
import { z } from "zod";
import { writeTextAtomic } from "../util/mod.ts";
import { HttpError } from "./_http.ts";

/** OpenAI's file object. */
export interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: "processed";
  status_details: null;
  expires_at: null;
}

/** The purposes OpenAI accepts. */
export const FILE_PURPOSES = ["fine-tune", "assistants", "batch", "vision", "user_data", "evals"] as const;

const ExampleMessage = z.looseObject({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(z.unknown()), z.null()]).optional(),
  tool_calls: z.array(z.unknown()).optional(),
});
const Example = z.looseObject({ messages: z.array(ExampleMessage).min(1), tools: z.array(z.unknown()).optional() });

/** Checks a fine-tune file: every non-empty line a chat example with at least one assistant message. */
export function validateFineTuneJsonl(text: string): number {
  let count = 0;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (!line) continue;
    const at = `line ${i + 1}`;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      throw new HttpError(400, `Invalid fine-tune file: ${at} is not valid JSON (${(e as Error).message}); each line must be one {"messages":[…]} object`, "invalid_request_error", "file", "invalid_file_format");
    }
    const r = Example.safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new HttpError(400, `Invalid fine-tune file: ${at}: ${issue.path.join(".") || "example"}: ${issue.message}`, "invalid_request_error", "file", "invalid_file_format");
    }
    if (!r.data.messages.some((m) => m.role === "assistant")) {
      throw new HttpError(400, `Invalid fine-tune file: ${at}: the example has no assistant message to learn from`, "invalid_request_error", "file", "invalid_file_format");
    }
    count++;
  }
  if (!count) throw new HttpError(400, "Invalid fine-tune file: it holds no examples", "invalid_request_error", "file", "invalid_file_format");
  return count;
}

/** Uploaded files, persisted under `dir`. */
export class FileStore {
  #files = new Map<string, FileObject>();
  private constructor(readonly dir: string) {}

  /** Opens the store, loading the files already in `dir`. */
  static async open(dir: string): Promise<FileStore> {
    const store = new FileStore(dir);
    await Deno.mkdir(dir, { recursive: true });
    for await (const e of Deno.readDir(dir)) {
      if (!e.isFile || !e.name.endsWith(".json")) continue;
      const meta = JSON.parse(await Deno.readTextFile(join(dir, e.name))) as FileObject;
      store.#files.set(meta.id, meta);
    }
    return store;
  }

  /** Path of a file's bytes. */
  path(id: string): string {
    return join(this.dir, `${id}.data`);
  }

  async create(filename: string, purpose: string, bytes: Uint8Array): Promise<FileObject> {
    if (purpose === "fine-tune") validateFineTuneJsonl(new TextDecoder().decode(bytes));
    const id = `file-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
    const meta: FileObject = {
      id, object: "file", bytes: bytes.byteLength, created_at: Math.floor(Date.now() / 1000), filename, purpose,
      status: "processed", status_details: null, expires_at: null,
    };
    const tmp = `${this.path(id)}.tmp`;
    await Deno.writeFile(tmp, bytes);
    await Deno.rename(tmp, this.path(id));
    await writeTextAtomic(join(this.dir, `${id}.json`), JSON.stringify(meta));
    this.#files.set(id, meta);
    return meta;
  }

  /** Files newest first, optionally of one purpose, paged by `after` (an id). */
  list(options: { purpose?: string; after?: string; limit?: number; order?: "asc" | "desc" } = {}): { data: FileObject[]; has_more: boolean } {
    let all = [...this.#files.values()].filter((f) => !options.purpose || f.purpose === options.purpose);
    all.sort((a, b) => a.created_at - b.created_at || a.id.localeCompare(b.id));
    if (options.order !== "asc") all.reverse();
    if (options.after) {
      const i = all.findIndex((f) => f.id === options.after);
      all = i >= 0 ? all.slice(i + 1) : all;
    }
    const limit = options.limit ?? 10000;
    return { data: all.slice(0, limit), has_more: all.length > limit };
  }

  get(id: string): FileObject {
    const f = this.#files.get(id);
    if (!f) throw new HttpError(404, `No such File object: ${id}`, "invalid_request_error", "id", "file_not_found");
    return f;
  }

  async content(id: string): Promise<Uint8Array> {
    this.get(id);
    return await Deno.readFile(this.path(id));
  }

  async delete(id: string): Promise<{ id: string; object: "file"; deleted: true }> {
    this.get(id);
    this.#files.delete(id);
    await Deno.remove(join(this.dir, `${id}.json`)).catch(() => {});
    await Deno.remove(this.path(id)).catch(() => {});
    return { id, object: "file", deleted: true };
  }
}
