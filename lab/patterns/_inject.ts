/**
 * Patterns as injected examples: {@linkcode patternToExample} (the one conversion, for stored and retrieved
 * patterns alike), {@linkcode toInjectedExamples} (best fitness first), {@linkcode budgetedRenderer} (the runner's
 * `renderExamples` dependency with a token budget) and {@linkcode usedPatterns} (which injected patterns an
 * episode's successful SQL reused: seed 000's pattern reuse rate).
 * @module
 */
import type { ExampleRenderer } from "../agents/mod.ts";
import { formatInjection, type InjectedExample } from "../models/mod.ts";
import { canonicalSql } from "../util/mod.ts";
import type { Pattern } from "./_query.ts";
import type { RetrievedPattern } from "./_search.ts";

/**
 * A pattern as an injected example: task = the pattern's original intent text, its role, its successful
 * queries' tool and SQL (in order), its answer shape. Takes a stored {@linkcode Pattern} or a retrieved one.
 *
 * @example
 * ```ts
 * const examples = (await store.list({ family, turnPass: true }, { limit: 3 })).map(patternToExample);
 * ```
 */
export function patternToExample(p: Pattern | RetrievedPattern): InjectedExample {
  const calls = "calls" in p ? p.calls : p.successfulQueries;
  return {
    id: p.id,
    task: p.intent,
    role: p.role,
    calls: calls.map((c) => ({ tool: c.tool, sql: c.sql })),
    ...(p.answerShape ? { answerShape: p.answerShape } : {}),
  };
}

/**
 * Retrieved patterns as injected examples ({@linkcode patternToExample}), best fitness first (ties: higher
 * similarity); patterns without SQL are left out.
 *
 * @example
 * ```ts
 * const text = formatInjection(toInjectedExamples(await retriever.search({ task, role })), { tokenBudget: 800 });
 * ```
 */
export function toInjectedExamples(patterns: readonly RetrievedPattern[]): InjectedExample[] {
  return [...patterns]
    .sort((a, b) => b.fitness - a.fitness || b.similarity - a.similarity || (a.id < b.id ? -1 : 1))
    .filter((p) => p.calls.length > 0)
    .map(patternToExample);
}

/**
 * The runner's `renderExamples` with a token budget (the default renderer uses formatInjection's 1500): the
 * strategy's header line, then the injection v1 section cut to `tokenBudget` tokens (header not counted).
 *
 * @example
 * ```ts
 * const { injection } = await loadPatternsConfig();
 * await runEpisode(spec, { pool, patterns: retriever.source, renderExamples: budgetedRenderer(injection.token_budget) });
 * ```
 */
export function budgetedRenderer(tokenBudget: number): ExampleRenderer {
  if (!Number.isInteger(tokenBudget) || tokenBudget <= 0) {
    throw new RangeError(`budgetedRenderer: tokenBudget must be a positive integer, got ${tokenBudget}`);
  }
  return (examples, header) => {
    const section = formatInjection([...examples], { tokenBudget });
    return section ? `${header}\n${section}` : "";
  };
}

/** Options for {@linkcode usedPatterns}. */
export interface UsedPatternsOptions {
  /**
   * `"mask"`: string and number literals are replaced by `?` before comparing, so a pattern adapted to other
   * values (the prompt asks agents to adapt, not copy numbers) counts as used; `"keep"`: exact canonical SQL.
   * @default "mask"
   */
  literals?: "mask" | "keep";
}

/**
 * The injected examples an episode used: those with a statement whose canonical SQL ({@linkcode canonicalSql},
 * literals as {@linkcode UsedPatternsOptions.literals} says) equals one of the episode's successful statements.
 * For seed 000's pattern reuse rate (episodes with ≥ 1 used pattern / episodes with injected patterns).
 *
 * @example
 * ```ts
 * const used = usedPatterns(injected, record.queries); // record: EpisodeRecord
 * ```
 */
export function usedPatterns(
  examples: readonly InjectedExample[],
  episodeQueries: readonly { sql: string; ok?: boolean }[],
  options: UsedPatternsOptions = {},
): InjectedExample[] {
  const literals = options.literals ?? "mask";
  const shape = (sql: string) => canonicalSql(sql, { literals });
  const ran = new Set(episodeQueries.filter((q) => q.ok !== false).map((q) => shape(q.sql)));
  return examples.filter((ex) => ex.calls.some((c) => ran.has(shape(c.sql))));
}
