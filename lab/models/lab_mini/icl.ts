/**
 * In-context learning of lab-mini: examples injected into the system prompt (injection format v1, see
 * `../injection.ts`) are parsed; the example most similar to the task (cosine of hashed uni/bigrams of the
 * tasks with their literals masked) is copied when the similarity reaches a calibrated threshold and the task
 * has the same literal signature: its SQL is abstracted into a template aligned with the example's literals and
 * re-filled from the task (periods re-computed with the model's time normaliser, numbers and strings by
 * alignment). Below the threshold the examples change nothing, so unrelated examples do not hurt.
 * @module
 */
import { type InjectedExample, parseInjection } from "../injection.ts";
import { abstractSql, cosine, fillTemplate, type SimVector, simVector, type TaskLits, taskLits, type Template } from "./_copy.ts";
import type { SchemaMeta } from "./schema_meta.ts";
import type { AnswerProgram } from "./_answer.ts";

/** A plan copied from an example or a fine-tuned template: tool calls with filled SQL. */
export interface CopyPlan {
  calls: { tool: "dbRead" | "dbWrite"; sql: string }[];
  /** Where it comes from (`example 2`, `template 5`). */
  source: string;
  /** Similarity (ICL) or probability (fine-tuned template). */
  score: number;
  /** How the answer is made from the calls' results (a fine-tuned template's learned program). */
  answer?: AnswerProgram;
}

/** Options of the copy mechanism. */
export interface CopyOptions {
  /**
   * Minimum similarity to copy. Calibrated on the toy fleet families (testdata/fleet.ts): a task and an example
   * of the same family and phrasing with other parameters score 0.86–1; a paraphrase of the same family only
   * 0.27–0.4 (not copied: the lexical similarity cannot see paraphrases); other families ≤ 0.44. @default 0.62
   */
  threshold?: number;
}

interface Prepared {
  ex: InjectedExample;
  lits: TaskLits;
  vec: SimVector;
  templates: Template[];
}

const cache = new Map<string, Prepared[]>();
const metaIds = new WeakMap<SchemaMeta, number>();
let nextMeta = 0;

function prepare(system: string, meta: SchemaMeta): Prepared[] {
  if (!system.includes("lab injection v")) return [];
  let mid = metaIds.get(meta);
  if (mid === undefined) metaIds.set(meta, mid = nextMeta++);
  const key = `${mid}\u0000${system}`;
  let p = cache.get(key);
  if (p) return p;
  let examples: InjectedExample[] = [];
  try {
    examples = parseInjection(system);
  } catch {
    examples = []; // another version: read as plain text, like any model would
  }
  p = examples.filter((ex) => ex.calls.length).map((ex) => {
    const lits = taskLits(ex.task, meta);
    return { ex, lits, vec: simVector(lits.masked), templates: ex.calls.map((c) => abstractSql(c.sql, lits)) };
  });
  if (cache.size > 256) cache.delete(cache.keys().next().value!);
  cache.set(key, p);
  return p;
}

/** The plan copied from the most similar injected example, if any is similar enough and fills. */
export function copyFromExamples(system: string, task: string, meta: SchemaMeta, options: CopyOptions = {}, lits?: TaskLits): CopyPlan | undefined {
  const prepared = prepare(system, meta);
  if (!prepared.length) return undefined;
  const threshold = options.threshold ?? 0.62;
  const tl = lits ?? taskLits(task, meta);
  const vec = simVector(tl.masked);
  let best: CopyPlan | undefined;
  prepared.forEach((p, k) => {
    if (p.lits.sig !== tl.sig) return;
    const sim = cosine(vec, p.vec);
    if (sim < threshold || (best && sim <= best.score)) return;
    const sqls = p.templates.map((t) => fillTemplate(t, tl, { crossUnit: true }));
    if (sqls.some((s) => s === undefined)) return;
    best = { calls: p.ex.calls.map((c, i) => ({ tool: c.tool, sql: sqls[i]! })), source: `example ${k + 1}`, score: sim };
  });
  return best;
}
