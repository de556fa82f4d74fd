/**
 * A record/replay cache of model responses, content-addressed by the sha256 of the canonical JSON of the request
 * (model, messages, tools, parameters, seed). With it on, re-running an experiment makes no model calls.
 *
 * An entry stores its request and a checksum of its response; an entry whose JSON is bad, whose request does not
 * hash to its file name, or whose response does not match its checksum is reported as corrupt, ignored and
 * overwritten by the next write. Writes are atomic (temp file + rename).
 * @module
 */
import { createHash } from "node:crypto";
import { writeTextAtomic, displayPath, repoPath } from "../util/mod.ts";

/** Where responses are cached unless told otherwise (gitignored). */
export const DEFAULT_CACHE_DIR: string = repoPath("data/cache/models");

/** JSON with object keys sorted at every level, so equal values serialize equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as Record<string, unknown>).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortKeys(x);
    }
    return out;
  }
  return v;
}

/** sha256 hex of a string. */
export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Options for {@linkcode createResponseCache}. */
export interface ResponseCacheOptions {
  /** @default data/cache/models */
  dir?: string;
  /**
   * `read-write` replays hits and records misses; `read` only replays; `write` only records (refresh).
   * @default "read-write"
   */
  mode?: "read-write" | "read" | "write";
  /** Called with a one-line message for each corrupt entry found. @default console.warn */
  onWarning?: (message: string) => void;
}

/** Counters of a cache. */
export interface CacheStats {
  hits: number;
  misses: number;
  writes: number;
  corrupt: number;
}

/** A response cache; share one between models freely (keys include the model). */
export interface ResponseCache {
  readonly dir: string;
  readonly mode: "read-write" | "read" | "write";
  /** The key of a request: sha256 of its canonical JSON. */
  key(request: unknown): string;
  /** The recorded response of `request`, if a valid entry exists. */
  get<T>(request: unknown): Promise<T | undefined>;
  /** Records `response` for `request`. */
  put(request: unknown, response: unknown): Promise<void>;
  stats(): CacheStats;
}

interface Entry {
  key: string;
  request: unknown;
  response: unknown;
  checksum: string;
}

/**
 * Creates a response cache in `dir`.
 *
 * @example
 * ```ts
 * const cache = createResponseCache({ dir: "data/cache/models" });
 * const model = createChatModel(cfg, { cache });
 * ```
 */
export function createResponseCache(options: ResponseCacheOptions = {}): ResponseCache {
  const dir = options.dir ?? DEFAULT_CACHE_DIR;
  const mode = options.mode ?? "read-write";
  const warn = options.onWarning ?? ((m: string) => console.warn(m));
  const stats: CacheStats = { hits: 0, misses: 0, writes: 0, corrupt: 0 };
  const pathOf = (key: string) => `${dir}/${key.slice(0, 2)}/${key}.json`;
  const key = (request: unknown) => sha256(canonicalJson(request));
  return {
    dir,
    mode,
    key,
    async get<T>(request: unknown): Promise<T | undefined> {
      if (mode === "write") return undefined;
      const k = key(request);
      const path = pathOf(k);
      let text: string;
      try {
        text = await Deno.readTextFile(path);
      } catch {
        stats.misses++;
        return undefined;
      }
      let problem: string | undefined;
      let entry: Entry | undefined;
      try {
        entry = JSON.parse(text) as Entry;
        if (!entry || typeof entry !== "object") problem = "not a JSON object";
        else if (entry.key !== k || sha256(canonicalJson(entry.request)) !== k) problem = "request hash mismatch";
        else if (sha256(canonicalJson(entry.response)) !== entry.checksum) problem = "response checksum mismatch";
      } catch (e) {
        problem = `bad JSON (${(e as Error).message.split("\n")[0]})`;
      }
      if (problem) {
        stats.corrupt++;
        stats.misses++;
        warn(`model cache: ignoring corrupt entry ${displayPath(path)}: ${problem}; it will be overwritten`);
        return undefined;
      }
      stats.hits++;
      return entry!.response as T;
    },
    async put(request: unknown, response: unknown): Promise<void> {
      if (mode === "read") return;
      const k = key(request);
      // Round-trip through JSON so the checksum is of exactly what a later read parses.
      const res = JSON.parse(JSON.stringify(response));
      const entry: Entry = { key: k, request: JSON.parse(canonicalJson(request)), response: res, checksum: sha256(canonicalJson(res)) };
      await writeTextAtomic(pathOf(k), JSON.stringify(entry));
      stats.writes++;
    },
    stats: () => ({ ...stats }),
  };
}
