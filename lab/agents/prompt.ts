/**
 * What the model is told: the system prompt (role, as-of date, a short schema summary, the strategy's
 * instructions, optional examples) and the user message (the task text). Nothing else of a challenge reaches
 * the model — no family, outcome type, verifier, reference steps, split or id; `prompt.test.ts` checks it.
 * @module
 */
import { TABLES, VIEWS } from "../sandbox/mod.ts";
import { defaultRoles, type RolesConfig } from "../tools/mod.ts";
import { type ChatMessage, formatInjection, type InjectedExample } from "../models/mod.ts";
import type { Strategy } from "./strategies.ts";

export type { InjectedExample };

/**
 * Turns examples into prompt text; replace it (`deps.renderExamples`) to use another format.
 * @internal
 */
export type ExampleRenderer = (examples: readonly InjectedExample[], header: string) => string;

/**
 * The default example renderer: the strategy's header line, then the examples in the injection format v1
 * (owned by `lab/models/injection.ts`, which lab-mini reads), best first, within a token budget.
 *
 * @example
 * ```ts
 * renderExamples([{ task: "Total revenue last month?", role: "cfo", calls: [{ tool: "dbRead", sql: "SELECT …" }] }], "Examples:");
 * ```
 */
export const renderExamples: ExampleRenderer = (examples, header) => {
  const section = formatInjection([...examples]);
  return section ? `${header}\n${section}` : "";
};

/** The schema summary: one line per table and per view. */
export function schemaSummary(): string {
  const firstSentence = (s: string) => s.replace(/\s+/g, " ").trim();
  return [
    "Tables:",
    ...TABLES.map((t) => `- ${t.name}: ${firstSentence(t.description)}`),
    "Views (ready-made joins and aggregates; read them with dbRead, list their columns with viewsList):",
    ...VIEWS.map((v) => `- ${v.name}: ${firstSentence(v.description)}`),
  ].join("\n");
}

/**
 * What a prompt is built from: the strategy and the three challenge facts the model may see.
 * @internal
 */
export interface PromptInput {
  strategy: Strategy;
  /** The task text. */
  task: string;
  /** The acting role. */
  role: string;
  /** The as-of date (YYYY-MM-DD). */
  asOf: string;
  examples?: readonly InjectedExample[];
  /** @default renderExamples */
  renderExamples?: ExampleRenderer;
  /** Role descriptions. @default configs/roles.yaml */
  roles?: RolesConfig;
}

/** The strategy's instruction lines: its own text, then the fragment of every flag it turns on. */
export function strategyInstructions(strategy: Strategy): string[] {
  const flags: Record<keyof Strategy["prompt"]["fragments"], boolean> = {
    prefer_views: strategy.tools.prefer_views,
    use_todos: strategy.tools.use_todos,
    verify_steps: strategy.verification.verify_steps,
  };
  return [
    strategy.instructions.trim(),
    ...Object.entries(flags).filter(([, on]) => on).map(([k]) =>
      strategy.prompt.fragments[k as keyof typeof flags].trim()
    ),
  ];
}

/**
 * The system prompt.
 *
 * @example
 * ```ts
 * const text = systemPrompt({ strategy, task: challenge.task, role: challenge.role, asOf: "2025-11-28" });
 * ```
 */
export function systemPrompt(input: PromptInput): string {
  const roles = input.roles ?? defaultRoles();
  const about = roles.roles[input.role]?.description;
  const parts = [
    input.strategy.prompt.preamble.trim(),
    `Your role: ${input.role}${
      about ? ` (${about.trim().replace(/\.$/, "")})` : ""
    }.\nAs-of date (today): ${input.asOf}.`,
    schemaSummary(),
    `How to work:\n${strategyInstructions(input.strategy).map((l) => `- ${l}`).join("\n")}`,
  ];
  const k = input.strategy.examples.k;
  const examples = (input.examples ?? []).slice(0, k);
  const rendered = (input.renderExamples ?? renderExamples)(examples, input.strategy.prompt.examples_header.trim());
  if (rendered) parts.push(rendered);
  return parts.join("\n\n");
}

/** The opening messages of an episode: the system prompt and the task as the user's message. */
export function openingMessages(input: PromptInput): ChatMessage[] {
  return [
    { role: "system", content: systemPrompt(input) },
    { role: "user", content: input.task },
  ];
}
