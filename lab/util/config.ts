/**
 * Parsing config and data files at the boundary: YAML or JSON text → a zod schema → a typed value, or a
 * {@linkcode ConfigError} whose one line names the file, the path inside it and the reason
 * (e.g. `configs/models.yaml: models.x.base_url: must be a URL, found 'localhost'`).
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { ConfigError } from "./errors.ts";
import { displayPath } from "./paths.ts";

/** A zod issue path as people write it: `models.x.limits[0].rpm`. */
export function formatIssuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, p) => typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p),
    "",
  ) || "(top level)";
}

/** The first problem of a failed parse, as `<path>: <reason>`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  // A bad record key nests the reason (e.g. the key pattern's message) one level down.
  const inner = issue.code === "invalid_key" ? issue.issues[0]?.message : undefined;
  return `${formatIssuePath(issue.path)}: ${inner ?? issue.message}`;
}

/** Validates an already parsed value (parsed YAML, or an object a notebook builds) against `schema`. */
export function parseConfigValue<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.output<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(`${source}: ${firstIssue(parsed.error)}`);
  return parsed.data;
}

/** Parses YAML (or JSON when `source` ends in .json) text; throws a one-line ConfigError. */
export function parseConfigSyntax(text: string, source: string): unknown {
  const json = source.endsWith(".json");
  try {
    return json ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${source}: not valid ${json ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** Parses YAML (or JSON when `source` ends in .json) text against `schema`; throws a one-line ConfigError. */
export function parseConfigText<S extends z.ZodType>(schema: S, text: string, source: string): z.output<S> {
  return parseConfigValue(schema, parseConfigSyntax(text, source), source);
}

/** Reads a config file's text; `what` names it in the error when it cannot be read. */
export async function readConfigText(path: string, what: string): Promise<{ text: string; source: string }> {
  try {
    return { text: await Deno.readTextFile(path), source: displayPath(path) };
  } catch (e) {
    throw new ConfigError(`${displayPath(path)}: cannot read the ${what} (${(e as Error).message})`);
  }
}

/** Reads and parses a config file; `what` names it in the error when it cannot be read. */
export function readConfigFileSync<S extends z.ZodType>(schema: S, path: string, what: string): z.output<S> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`${displayPath(path)}: cannot read the ${what} (${(e as Error).message})`);
  }
  return parseConfigText(schema, text, displayPath(path));
}

/** Async {@linkcode readConfigFileSync}. */
export async function readConfigFile<S extends z.ZodType>(schema: S, path: string, what: string): Promise<z.output<S>> {
  const { text, source } = await readConfigText(path, what);
  return parseConfigText(schema, text, source);
}
