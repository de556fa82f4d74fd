/**
 * The injection format, version 1: how solved examples are written into a system prompt. `patterns/` writes it
 * (through {@linkcode formatInjection}); `lab-mini` reads it (through {@linkcode parseInjection}); any other
 * model simply reads it as text.
 *
 * ```text
 * ## Examples (lab injection v1)
 * Solved examples of similar tasks, best first: the task, the role, the tool calls that solved it, the answer shape.
 *
 * ### Example 1
 * Task: How many trips did ana drive in the coast region?
 * Role: analyst
 * dbRead: SELECT count(*) AS value FROM trips WHERE driver = 'ana' AND region = 'coast'
 * Answer shape: number
 * ```
 *
 * Rules (v1):
 * - The section starts at a line `## Examples (lab injection v<N>)` and ends at the next level-1/2 heading
 *   (`# ` or `## `) or the end of the text. A version other than 1 is an error: the reader is older than the
 *   writer.
 * - Each example starts with `### Example <k>`; its fields are lines `Task:`, `Role:` (optional), one line per
 *   tool call in order (`dbRead: <sql>` or `dbWrite: <sql>`), and `Answer shape:` (optional; e.g. `number`,
 *   `rows`, `comparison`, `action`). Unknown lines are ignored (forward compatible).
 * - Every value is one line: runs of whitespace (newlines included) collapse to one space when written. SQL
 *   whose string literals hold newlines is therefore changed; such SQL should not be injected.
 *
 * @example
 * ```ts
 * const text = formatInjection([{ task: "How many trips?", calls: [{ tool: "dbRead", sql: "SELECT count(*) FROM trips" }] }], { tokenBudget: 500 });
 * parseInjection(`You are an analyst.\n\n${text}`); // → the same example
 * ```
 * @module
 */
import { countTokens } from "./backend.ts";

/** The version this module writes and reads. */
export const INJECTION_VERSION = 1;

/** The heading that opens an injected section. */
export const INJECTION_HEADING = `## Examples (lab injection v${INJECTION_VERSION})`;

/** One tool call of an injected example. */
export interface InjectedCall {
  tool: "dbRead" | "dbWrite";
  sql: string;
}

/**
 * One solved example.
 * @internal
 */
export interface InjectedExample {
  /** Where it came from (e.g. a pattern id); recorded with the episode, never written into the prompt. */
  id?: string;
  task: string;
  role?: string;
  calls: InjectedCall[];
  /** e.g. `number`, `rows`, `comparison`, `action`. */
  answerShape?: string;
}

/** Options for {@linkcode formatInjection}. */
export interface FormatInjectionOptions {
  /** Max tokens (cl100k, js-tiktoken) of the whole section; examples past it are left out. @default 1500 */
  tokenBudget?: number;
}

const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

function block(ex: InjectedExample, k: number): string {
  const lines = [`### Example ${k}`, `Task: ${oneLine(ex.task)}`];
  if (ex.role) lines.push(`Role: ${oneLine(ex.role)}`);
  for (const c of ex.calls) lines.push(`${c.tool}: ${oneLine(c.sql)}`);
  if (ex.answerShape) lines.push(`Answer shape: ${oneLine(ex.answerShape)}`);
  return lines.join("\n");
}

/**
 * Writes examples (best first) as an injection v1 section, stopping before the first example that would pass
 * the token budget. Returns `""` when not even one example fits.
 */
export function formatInjection(examples: InjectedExample[], options: FormatInjectionOptions = {}): string {
  const budget = options.tokenBudget ?? 1500;
  let text = `${INJECTION_HEADING}\nSolved examples of similar tasks, best first: the task, the role, the tool calls that solved it, the answer shape.`;
  let used = countTokens(text);
  let n = 0;
  for (const ex of examples) {
    const part = `\n\n${block(ex, n + 1)}`;
    const cost = countTokens(part);
    if (used + cost > budget) break;
    text += part;
    used += cost;
    n++;
  }
  return n ? text : "";
}

/** Thrown when a text holds an injection section of a version this reader does not know. */
export class InjectionVersionError extends Error {
  override name = "InjectionVersionError";
}

/**
 * Reads the injected examples from a text (usually the system prompt); `[]` when it holds no section.
 * Throws {@linkcode InjectionVersionError} for a section of another version.
 */
export function parseInjection(text: string): InjectedExample[] {
  const lines = text.split(/\r?\n/);
  const out: InjectedExample[] = [];
  let inside = false;
  let cur: InjectedExample | undefined;
  const flush = () => {
    if (cur && cur.task) out.push(cur);
    cur = undefined;
  };
  for (const raw of lines) {
    const line = raw.trim();
    const head = /^## Examples \(lab injection v(\d+)\)\s*$/.exec(line);
    if (head) {
      if (Number(head[1]) !== INJECTION_VERSION) {
        throw new InjectionVersionError(`injection section of version ${head[1]}; this reader knows v${INJECTION_VERSION} only — update lab/models/injection.ts or write v${INJECTION_VERSION}`);
      }
      flush();
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (/^#{1,2} /.test(line)) {
      flush();
      inside = false;
      continue;
    }
    if (/^### Example\b/.test(line)) {
      flush();
      cur = { task: "", calls: [] };
      continue;
    }
    if (!cur) continue;
    const m = /^(Task|Role|dbRead|dbWrite|Answer shape):\s?(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].trim();
    if (m[1] === "Task") cur.task = v;
    else if (m[1] === "Role") cur.role = v;
    else if (m[1] === "Answer shape") cur.answerShape = v;
    else cur.calls.push({ tool: m[1] as "dbRead" | "dbWrite", sql: v });
  }
  flush();
  return out;
}
