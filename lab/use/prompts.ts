/**
 * Learned prompts (seed 004's PromptOptimizer and A/B test, issue 17): find a strategy's frequent failure modes in
 * the verifiers' verdict reasons (failed tournament episodes) and in people's edits (corrections), write prompt
 * variants of the strategy that target them, evaluate each against its parent on `dev` (paired, clustered by family,
 * p-values Holm-corrected for the number of variants tried), choose winners on `dev` only, confirm each winner with
 * ONE pre-declared one-sided test on `test_id`, and promote the confirmed ones into a strategies file as new
 * strategies with their lineage.
 *
 * Variants are written by a documented rule table ({@linkcode FAILURE_MODES}: failure-mode forms → the sentence added
 * to the parent's instructions and the flags turned on or off), or by a model ({@linkcode modelWriter}) when one is
 * configured; a model's text that names how tasks are judged or catalogued is rejected and the rule's text used.
 *
 * Rule texts avoid lab-mini's switch words (views, todo, checklist, verify, explore): lab-mini reads switches from
 * the system prompt by keyword, so a variant changes lab-mini's behaviour only through the flags its rule sets —
 * the same contract the committed strategies keep (`lab/agents/strategies.test.ts`).
 * @module
 */
import { parseDocument, stringify } from "yaml";
import type { Challenge } from "../challenges/mod.ts";
import { SPLITS } from "../challenges/mod.ts";
import { type Lineage, parseStrategiesConfig, type Strategy, type StrategyEntry } from "../agents/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import { rootId } from "../tournament/mod.ts";
import { compare, type CompareOptions, liftCell, runSuite, type Suite, type SuiteDeps, type SuiteResult } from "../evals/mod.ts";
import { ConfigError, writeTextAtomic } from "../util/mod.ts";
import type { Correction } from "./corrections.ts";
import type { Modification } from "./diff.ts";
import { type FailureRow, type Frequency, reasonForm } from "./edits.ts";

/** The flags a strategy turns prompt fragments on with. */
export type PromptFlag = "prefer_views" | "use_todos" | "verify_steps";

/** One row of the rule table: how a failure mode shows, and the prompt edit that targets it. */
export interface FailureModeRule {
  /** One line for tables and reports. */
  title: string;
  /** Matches a failed episode's raw verdict reason that shows the mode. @default none */
  verdict?: RegExp;
  /** Matches a person's modification that shows the mode. @default none */
  edit?: (m: Modification) => boolean;
  /** The sentence added to the parent's instructions. */
  fragment: string;
  /** Flags the variant sets (their shared fragments join the prompt). @default none */
  flags?: Partial<Record<PromptFlag, boolean>>;
}

const DATE_LIKE = /current_date|now\(\)|interval|date_trunc|\bdate\b|_at\b|_date\b|_on\b|\bmonth|\byear|\bquarter|\bweek/i;
const isPeriodFilter = (m: Modification) => m.kind === "filter" && m.change === "added" && DATE_LIKE.test(m.value);

/**
 * The rule table: failure-mode forms (verdict reasons of `lab/challenges/verify.ts`, people's modifications of
 * `lab/use/diff.ts`) → the prompt edit of the variant that targets them. Modes are not exclusive: a reason with
 * missing and unexpected rows shows both. Order is the tie-break when two modes are equally frequent.
 */
export const FAILURE_MODES = {
  wrong_relation: {
    title: "wrong view or table counted",
    edit: (m) => m.kind === "table",
    fragment:
      "Prefer base tables for entity counts, since a joined view can repeat or drop rows; when two relations could answer, compare their row counts for the task's condition before choosing one.",
    flags: { prefer_views: false },
  },
  missing_period_filter: {
    title: "missing period filter",
    edit: isPeriodFilter,
    fragment:
      "When the task names a period (this month, last quarter, the last 30 days), filter the date column explicitly against current_date with that period's first and last day.",
  },
  period_bounds: {
    title: "period comparison wrong (current, previous, change)",
    verdict: /\b(?:current|previous|change): (?:answered|missing from the answer)/,
    fragment:
      "For a comparison of two periods, compute both with the same date boundaries shifted by one period (date_trunc on current_date), and give the change as current minus previous.",
  },
  overcount: {
    title: "number too large (rows counted that should not be)",
    verdict: /(?:^|[:;] )(?!current:|previous:|change:)[\w ]+: answered [^;]*?\(off by (?!-)/,
    fragment:
      "Before you count or sum, apply every condition the task states (status, period, owner) as a WHERE filter, and count distinct entities when a join can repeat rows.",
    flags: { verify_steps: true },
  },
  undercount: {
    title: "number too small (rows filtered or joined away)",
    verdict: /(?:^|[:;] )(?!current:|previous:|change:)[\w ]+: answered [^;]*?\(off by -/,
    edit: (m) => m.kind === "filter" && m.change === "removed",
    fragment:
      "Filter no more than the task says: keep rows with missing optional values, and use a LEFT JOIN when parents without children still count.",
  },
  missing_filter: {
    title: "missing filter (not a period)",
    edit: (m) => m.kind === "filter" && m.change === "added" && !DATE_LIKE.test(m.value),
    fragment: "Turn every condition in the task (a status, a customer, a category) into a WHERE predicate on the matching column.",
  },
  answer_shape: {
    title: "answer in the wrong shape",
    verdict: /not a list of rows|no number in the answer/,
    edit: (m) => m.kind === "answer_shape",
    fragment:
      "Match the answer's shape to the question: a list request gets a JSON list of row objects with named columns, a single figure gets a number, several named figures get an object.",
  },
  answer_keys: {
    title: "named values missing from the answer",
    verdict: /missing from the answer|is missing from the report|\d+ rows? without /,
    fragment: "Name every value the task asks for as a key of the submitted object, using the task's own words for the keys.",
  },
  no_answer: {
    title: "nothing submitted",
    verdict: /no answer was submitted/,
    fragment: "Always finish by calling submitAnswer with your best result, well before the step budget runs out.",
  },
  missing_rows: {
    title: "expected rows missing",
    verdict: /expected rows missing/,
    fragment: "Return every row that meets the task's condition, not a sample: no LIMIT unless the task asks for a top N.",
  },
  extra_rows: {
    title: "unexpected rows",
    verdict: /\d+ unexpected rows? \(|\d+ duplicate rows?/,
    fragment: "Return only the rows that meet the task's condition, each entity once (GROUP BY or DISTINCT on its key).",
  },
  wrong_values: {
    title: "wrong values in rows",
    verdict: /wrong values for/,
    fragment:
      "Take each reported figure from the column that holds it (billed vs paid, net vs gross, quantity vs amount) and recompute one row by hand before you submit.",
    flags: { verify_steps: true },
  },
  row_order: {
    title: "rows not in the requested order",
    verdict: /not in the requested order/,
    edit: (m) => m.kind === "order_by",
    fragment: "When the task asks for the highest, lowest, oldest or newest first, add ORDER BY in that direction and submit the rows in that order.",
  },
  row_limit: {
    title: "wrong number of rows returned (limit)",
    edit: (m) => m.kind === "limit",
    fragment: "Return exactly as many rows as the task asks: LIMIT n for a top n, no LIMIT when it asks for all.",
  },
  wrong_aggregate: {
    title: "wrong aggregate or grouping",
    edit: (m) => m.kind === "aggregation" || m.kind === "group_by",
    fragment: "Use the aggregate the task asks for (count of entities vs rows, sum vs average) and group by exactly the entity it reports per.",
  },
  wrong_columns: {
    title: "wrong columns",
    edit: (m) => m.kind === "column",
    fragment: "Select the columns the task names, under the names the task uses, and nothing else.",
  },
  unwanted_writes: {
    title: "changes the task did not ask for",
    verdict: /unexpected changes:/,
    fragment: "Change only the rows and tables the task asks to change; before a write, SELECT exactly the rows it will touch.",
  },
  incomplete_steps: {
    title: "steps of the task left undone",
    verdict: /: not done —/,
    fragment: "Do every step the task lists, in order, and submit only after the last one is done.",
    flags: { use_todos: true },
  },
} as const satisfies Record<string, FailureModeRule>;

/** A failure mode's id (a key of {@linkcode FAILURE_MODES}). */
export type FailureModeId = keyof typeof FAILURE_MODES;
const MODE_IDS = Object.keys(FAILURE_MODES) as FailureModeId[];

/** Words a prompt fragment must not contain: how tasks are judged or catalogued (the runner's prompt contract). */
export const FORBIDDEN_PROMPT_WORDS: readonly RegExp[] = [
  /optimal|verifier|outcome|\bsplit\b|\blevel\b|oracle|reference|benchmark|catalog/i,
  ...SPLITS.map((s) => new RegExp(`\\b${s}\\b`, "i")),
];

/** Why `text` cannot be a prompt fragment, or null when it can: non-empty, one paragraph, ≤ 400 characters, no forbidden word. */
export function fragmentProblem(text: string): string | null {
  const t = text.trim();
  if (!t) return "it is empty";
  if (t.length > 400) return `it is ${t.length} characters long (at most 400)`;
  if (/\n\s*\n/.test(t)) return "it has more than one paragraph";
  const bad = FORBIDDEN_PROMPT_WORDS.map((r) => t.match(r)).find((m) => m);
  return bad ? `it says '${bad[0]}' (prompts must not hint at how tasks are judged or catalogued)` : null;
}

/** One detected failure mode of a strategy. */
export interface DetectedMode {
  id: FailureModeId;
  title: string;
  /** Failed episodes whose verdict reason shows it (with their counts). */
  failures: number;
  /** Edited corrections with a modification that shows it (each counts once). */
  edits: number;
  /** (failures + edits) / (failed episodes + edited corrections). */
  share: number;
  /** The reason forms and modifications that showed it, most frequent first (at most 3). */
  forms: Frequency[];
}

/** What {@linkcode detectFailureModes} found. */
export interface FailureModeReport {
  /** The strategy the evidence was read for (its root id), or null for every strategy. */
  strategy: string | null;
  /** Failed episodes read. */
  failures: number;
  /** Edited corrections read. */
  edits: number;
  /** Modes with at least `minCount` evidence, most frequent first (ties: table order). */
  modes: DetectedMode[];
  /** Reason forms no rule matched, most frequent first (at most 5): candidates for a new rule. */
  unmatched: Frequency[];
}

/** Options of {@linkcode detectFailureModes}. */
export interface DetectOptions {
  /** Only evidence of this strategy and the strategies a tournament evolved from it (same root id). @default every strategy */
  strategy?: string;
  /** Fewest failures + edits a mode needs to be reported. @default 2 */
  minCount?: number;
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;
const bump = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);
const top = (m: Map<string, number>, n: number, k: number): Frequency[] =>
  [...m.entries()].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : a > b ? 1 : 0)).slice(0, k)
    .map(([value, count]) => ({ value, count, frequency: n ? round4(count / n) : 0 }));

/**
 * A strategy's frequent failure modes: failed episodes' verdict reasons (as {@linkcode failureReasons} reads them)
 * and edited corrections' modifications, matched against {@linkcode FAILURE_MODES}.
 *
 * @example
 * ```ts
 * const report = detectFailureModes(await failureReasons("data/lab.duckdb", { runs: [run] }), [], { strategy: "beta" });
 * report.modes[0]; // { id: "overcount", title: "number too large …", failures: 40, edits: 0, share: 0.3, forms: [...] }
 * ```
 */
export function detectFailureModes(
  failures: readonly FailureRow[],
  corrections: readonly Correction[],
  options: DetectOptions = {},
): FailureModeReport {
  const minCount = options.minCount ?? 2;
  if (!Number.isInteger(minCount) || minCount < 1) throw new RangeError(`minCount must be a positive integer, found ${minCount}`);
  const mine = (id: string | null) => options.strategy === undefined || (id !== null && rootId(id) === options.strategy);
  const counts = new Map(MODE_IDS.map((id) => [id, { failures: 0, edits: 0, forms: new Map<string, number>() }]));
  const unmatched = new Map<string, number>();
  let failed = 0, edited = 0;
  for (const f of failures) {
    if (!mine(f.strategyId)) continue;
    const n = f.count ?? 1;
    failed += n;
    let hit = false;
    for (const id of MODE_IDS) {
      const rule: FailureModeRule = FAILURE_MODES[id];
      if (!rule.verdict?.test(f.reason)) continue;
      hit = true;
      const c = counts.get(id)!;
      c.failures += n;
      bump(c.forms, reasonForm(f.reason), n);
    }
    if (!hit) bump(unmatched, reasonForm(f.reason), n);
  }
  for (const c of corrections) {
    if (!mine(c.ask.strategyId) || (!c.diff.sqlChanged && !c.diff.answerChanged)) continue;
    edited++;
    for (const id of MODE_IDS) {
      const rule: FailureModeRule = FAILURE_MODES[id];
      const ms = rule.edit ? c.diff.modifications.filter(rule.edit) : [];
      if (!ms.length) continue;
      const k = counts.get(id)!;
      k.edits++;
      for (const m of new Set(ms.map((m) => `${m.kind} ${m.change}: ${m.value}`))) bump(k.forms, m);
    }
  }
  const total = failed + edited;
  const modes: DetectedMode[] = MODE_IDS
    .map((id) => ({ id, c: counts.get(id)! }))
    .filter(({ c }) => c.failures + c.edits >= minCount)
    .map(({ id, c }) => ({
      id,
      title: FAILURE_MODES[id].title,
      failures: c.failures,
      edits: c.edits,
      share: total ? round4((c.failures + c.edits) / total) : 0,
      forms: top(c.forms, c.failures + c.edits, 3),
    }))
    .sort((a, b) => b.failures + b.edits - (a.failures + a.edits) || MODE_IDS.indexOf(a.id) - MODE_IDS.indexOf(b.id));
  return { strategy: options.strategy ?? null, failures: failed, edits: edited, modes, unmatched: top(unmatched, failed, 5) };
}

/** What a variant writer is asked: the parent, the mode it targets and the rule's own edit. */
export interface WriteRequest {
  parent: Strategy;
  mode: DetectedMode;
  rule: FailureModeRule;
}

/** A prompt edit: the sentence added to the instructions and who wrote it. */
export interface WrittenFragment {
  text: string;
  /** `rules`, `model:<name>`, or `rules (model:<name> rejected: why)`. */
  generator: string;
}

/** Writes the sentence a variant adds (a port: the rule table by default, a model with {@linkcode modelWriter}). */
export type VariantWriter = (request: WriteRequest) => Promise<WrittenFragment>;

/** The rule table's writer: the rule's own fragment. */
export const ruleWriter: VariantWriter = (r) => Promise.resolve({ text: r.rule.fragment, generator: "rules" });

/**
 * A writer that asks `model` for the sentence (one chat call, temperature 0, seeded). Text that fails
 * {@linkcode fragmentProblem} — or a failed call — falls back to the rule's fragment, and the generator says why.
 *
 * @example
 * ```ts
 * const writer = modelWriter(await ctx.model("openai-gpt-4o-mini"));
 * const variants = await generateVariants(parent, report, { writer });
 * ```
 */
export function modelWriter(model: ChatModel, options: { seed?: number } = {}): VariantWriter {
  return async ({ parent, mode, rule }) => {
    const name = `model:${model.name}`;
    const ask = [
      "You improve the instructions of a SQL agent that answers questions on an ERP database with tools.",
      `Its current instructions: ${parent.instructions.trim()}`,
      `Its most frequent mistake: ${mode.title}. Examples of how it shows: ${mode.forms.map((f) => f.value).join(" | ")}.`,
      `A rule of thumb that targets it: ${rule.fragment}`,
      "Reply with ONE sentence (at most 60 words) to add to the instructions that prevents this mistake. Plain text only.",
    ].join("\n");
    let text: string;
    try {
      const r = await model.invoke({ messages: [{ role: "user", content: ask }], temperature: 0, seed: options.seed ?? 1, maxTokens: 200 });
      text = String(r.message.content ?? "").trim().replace(/^["']|["']$/g, "");
    } catch (e) {
      return { text: rule.fragment, generator: `rules (${name} failed: ${(e as Error).message.split("\n")[0]})` };
    }
    const problem = fragmentProblem(text);
    return problem ? { text: rule.fragment, generator: `rules (${name} rejected: ${problem})` } : { text, generator: name };
  };
}

/** A prompt variant of a strategy: the strategy it runs as, and where it came from. */
export interface PromptVariant {
  /** The variant, ready to run (its `lineage` set). */
  strategy: Strategy;
  /** Its lineage (also `strategy.lineage`). */
  lineage: Lineage;
}

/** Options of {@linkcode generateVariants}. */
export interface GenerateOptions {
  /** Variants at most, one per mode, most frequent modes first. @default 3 */
  variants?: number;
  /** @default {@linkcode ruleWriter} */
  writer?: VariantWriter;
  /** The tournament run the evidence came from (recorded in the lineage). @default null */
  run?: string | null;
  /** Ids already taken (a variant's id gets a numeric suffix instead). @default the parent's */
  taken?: Iterable<string>;
}

const FLAG_PATH: Record<PromptFlag, (s: Strategy) => boolean> = {
  prefer_views: (s) => s.tools.prefer_views,
  use_todos: (s) => s.tools.use_todos,
  verify_steps: (s) => s.verification.verify_steps,
};

/**
 * Prompt variants of `parent`, one per detected mode (most frequent first) whose edit changes something: the
 * written sentence appended to the instructions, and the rule's flags. A learner: `parent` is unchanged.
 *
 * @example
 * ```ts
 * const [v] = await generateVariants(cfg.strategies.beta, report, { variants: 2, run: "t-1c9b94653baf" });
 * v.strategy.id;                 // "beta-overcount"
 * v.lineage.fragment_diff;       // { instructions_added: "Before you count…", flags: { verify_steps: { from: false, to: true } } }
 * ```
 */
export async function generateVariants(parent: Strategy, report: FailureModeReport, options: GenerateOptions = {}): Promise<PromptVariant[]> {
  const max = options.variants ?? 3;
  if (!Number.isInteger(max) || max < 1) throw new RangeError(`variants must be a positive integer, found ${max}`);
  const writer = options.writer ?? ruleWriter;
  const taken = new Set([parent.id, ...(options.taken ?? [])]);
  const out: PromptVariant[] = [];
  for (const mode of report.modes) {
    if (out.length >= max) break;
    const rule: FailureModeRule = FAILURE_MODES[mode.id];
    const flags = Object.fromEntries(
      Object.entries(rule.flags ?? {}).flatMap(([k, to]) => {
        const from = FLAG_PATH[k as PromptFlag](parent);
        return from === to ? [] : [[k, { from, to }]];
      }),
    ) as Partial<Record<PromptFlag, { from: boolean; to: boolean }>>;
    const written = await writer({ parent, mode, rule });
    const problem = fragmentProblem(written.text);
    if (problem) throw new RangeError(`the ${written.generator} text for '${mode.id}' cannot be a prompt fragment: ${problem}`);
    const text = written.text.trim();
    if (parent.instructions.includes(text)) continue; // the parent already says it
    let id = `${parent.id}-${mode.id.replaceAll("_", "-")}`;
    for (let i = 2; taken.has(id); i++) id = `${parent.id}-${mode.id.replaceAll("_", "-")}-${i}`;
    taken.add(id);
    const lineage: Lineage = {
      parent: parent.id,
      failure_mode: mode.id,
      generator: written.generator,
      fragment_diff: { instructions_added: text, flags },
      evidence: { failures: mode.failures, edits: mode.edits, share: mode.share, run: options.run ?? null },
    };
    const strategy: Strategy = {
      ...parent,
      id,
      description: `${parent.description.replace(/\.$/, "")}; learned: ${mode.title}.`,
      instructions: `${parent.instructions.trim()} ${text}`,
      tools: { ...parent.tools, ...(flags.prefer_views ? { prefer_views: flags.prefer_views.to } : {}), ...(flags.use_todos ? { use_todos: flags.use_todos.to } : {}) },
      verification: { ...parent.verification, ...(flags.verify_steps ? { verify_steps: flags.verify_steps.to } : {}) },
      lineage,
    };
    out.push({ strategy, lineage });
  }
  return out;
}

/**
 * Holm's step-down adjusted p-values, in the input order: sorted ascending, the i-th (from 1) becomes
 * max over j ≤ i of min(1, (m − j + 1)·p(j)). A null p-value (a cell without one) counts as 1.
 *
 * @example
 * ```ts
 * holm([0.01, 0.04, 0.03, 0.005]); // [0.03, 0.06, 0.06, 0.02]
 * ```
 */
export function holm(pValues: readonly (number | null)[]): number[] {
  const m = pValues.length;
  const ps = pValues.map((p, i) => {
    const v = p ?? 1;
    if (!(v >= 0 && v <= 1)) throw new RangeError(`holm: pValues[${i}] must be in [0, 1], found ${p}`);
    return v;
  });
  const order = ps.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach(([p, i], rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    out[i] = round12(running);
  });
  return out;
}
const round12 = (x: number) => Math.round(x * 1e12) / 1e12;

/** One variant's paired lift over its parent on `dev`. */
export interface DevResult {
  id: string;
  failureMode: string;
  parentRate: number;
  variantRate: number;
  lift: number;
  lo: number | null;
  hi: number | null;
  /** Two-sided sign-flip p-value over families (null with < 2 families). */
  pValue: number | null;
  /** Holm-adjusted over every variant tried. */
  pHolm: number;
  pairs: number;
  clusters: number;
  /** A winner: lift > 0 and Holm-adjusted p < α. */
  winner: boolean;
  note: string | null;
}

/** The one test declared for a winner before the `test_id` run. */
export interface DeclaredTest {
  variant: string;
  parent: string;
  declaredAt: string;
  hypothesis: string;
  metric: "pass";
  alternative: "greater";
  alpha: number;
  clusterBy: "family";
  /** The `test_id` instances and seeds, fixed at declaration. */
  instances: string[];
  seeds: number[];
}

/** A declared test with its result. */
export interface TestResult extends DeclaredTest {
  lift: number;
  lo: number | null;
  hi: number | null;
  /** One-sided p-value (H1: the variant passes more): half the two-sided sign-flip p when the lift is > 0, else 1 − half. */
  pOneSided: number | null;
  pairs: number;
  clusters: number;
  confirmed: boolean;
}

/** What {@linkcode evaluateVariants} found. */
export interface PromptEvaluation {
  parent: string;
  alpha: number;
  /** Every variant's `dev` result, in variant order. */
  dev: DevResult[];
  /** The tests declared (one per `dev` winner), then their results. */
  tests: TestResult[];
  /** Winners confirmed on `test_id`, with lineage carrying both results: what {@linkcode promoteVariants} writes. */
  promoted: PromptVariant[];
}

/** Options of {@linkcode evaluateVariants}. */
export interface EvaluateVariantsOptions {
  /** The model reference both arms run. */
  model: string;
  /** `dev` instances (winners are chosen on them only). */
  dev: readonly Challenge[];
  /** `test_id` instances (one pre-declared test per winner). */
  test: readonly Challenge[];
  /** Episode seeds of both suites. */
  seeds: readonly number[];
  deps: SuiteDeps;
  /** α of the Holm-corrected `dev` choice and of each one-sided `test_id` test. @default 0.05 */
  alpha?: number;
  /** Runs a suite. @default {@linkcode runSuite} */
  run?: (suite: Suite, deps: SuiteDeps) => Promise<SuiteResult>;
  /** Receives each declaration before the `test_id` run (e.g. to store or print it). */
  onDeclare?: (tests: readonly DeclaredTest[]) => void | Promise<void>;
  /** The comparison's permutation settings. @default 2000 flips, seed 0 */
  permutations?: CompareOptions["permutations"];
  /** @default () => new Date() */
  now?: () => Date;
}

/**
 * Each variant against its parent on `dev` (one suite: the parent and every variant on the same instances and
 * seeds; paired lifts on pass, clustered by family), Holm-corrected over the variants tried; winners (lift > 0,
 * adjusted p < α) get ONE pre-declared one-sided test each on `test_id`, declared (and handed to `onDeclare`) before
 * that suite runs; the confirmed ones come back with their lineage complete, ready to promote.
 *
 * @example
 * ```ts
 * const r = await evaluateVariants(parent, variants, { model: "lab-mini", dev, test, seeds: [11], deps: { models, pool } });
 * r.dev.map((d) => [d.id, d.lift, d.pHolm]);
 * ```
 */
export async function evaluateVariants(parent: Strategy, variants: readonly PromptVariant[], options: EvaluateVariantsOptions): Promise<PromptEvaluation> {
  const alpha = options.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), found ${alpha}`);
  if (!variants.length) throw new RangeError(`no variants of '${parent.id}' to evaluate`);
  const run = options.run ?? runSuite;
  const now = options.now ?? (() => new Date());
  const armOf = (s: Strategy) => ({ id: s.id, model: options.model, strategy: s });
  const cmp = { permutations: options.permutations };

  const devRun = await run({ name: `prompts-dev:${parent.id}`, challenges: options.dev, seeds: options.seeds, arms: [armOf(parent), ...variants.map((v) => armOf(v.strategy))] }, options.deps);
  const dc = compare(devRun.episodes, { ...cmp, control: parent.id, arms: variants.map((v) => v.strategy.id) });
  const cells = variants.map((v) => liftCell(dc, v.strategy.id));
  const adjusted = holm(cells.map((c) => c?.pValue ?? null));
  const dev: DevResult[] = variants.map((v, i) => {
    const c = cells[i];
    const lift = c?.estimate ?? 0;
    return {
      id: v.strategy.id,
      failureMode: v.lineage.failure_mode,
      parentRate: c?.controlMean ?? 0,
      variantRate: c?.armMean ?? 0,
      lift,
      lo: c?.lo ?? null,
      hi: c?.hi ?? null,
      pValue: c?.pValue ?? null,
      pHolm: adjusted[i],
      pairs: c?.pairs ?? 0,
      clusters: c?.clusters ?? 0,
      winner: lift > 0 && adjusted[i] < alpha,
      note: c ? c.note ?? null : "no paired episodes",
    };
  });

  const winners = variants.filter((_, i) => dev[i].winner);
  if (!winners.length) return { parent: parent.id, alpha, dev, tests: [], promoted: [] };
  const declaredAt = now().toISOString();
  const declared: DeclaredTest[] = winners.map((w) => ({
    variant: w.strategy.id,
    parent: parent.id,
    declaredAt,
    hypothesis: `pass rate of ${w.strategy.id} > pass rate of ${parent.id} on test_id (paired by instance and seed, clustered by family)`,
    metric: "pass",
    alternative: "greater",
    alpha,
    clusterBy: "family",
    instances: options.test.map((c) => c.id),
    seeds: [...options.seeds],
  }));
  await options.onDeclare?.(declared);
  const testRun = await run({ name: `prompts-test:${parent.id}`, challenges: options.test, seeds: options.seeds, arms: [armOf(parent), ...winners.map((w) => armOf(w.strategy))] }, options.deps);
  const tc = compare(testRun.episodes, { ...cmp, control: parent.id, arms: winners.map((w) => w.strategy.id) });
  const tests: TestResult[] = declared.map((d) => {
    const c = liftCell(tc, d.variant);
    const lift = c?.estimate ?? 0;
    const p2 = c?.pValue ?? null;
    const pOneSided = p2 === null ? null : round12(lift > 0 ? p2 / 2 : 1 - p2 / 2);
    return {
      ...d,
      lift,
      lo: c?.lo ?? null,
      hi: c?.hi ?? null,
      pOneSided,
      pairs: c?.pairs ?? 0,
      clusters: c?.clusters ?? 0,
      confirmed: pOneSided !== null && pOneSided < d.alpha && lift > 0,
    };
  });
  const promoted = winners.flatMap((w) => {
    const d = dev.find((x) => x.id === w.strategy.id)!;
    const t = tests.find((x) => x.variant === w.strategy.id)!;
    if (!t.confirmed) return [];
    const lineage: Lineage = {
      ...w.lineage,
      dev: { lift: d.lift, lo: d.lo, hi: d.hi, p_value: d.pValue, p_holm: d.pHolm, pairs: d.pairs, clusters: d.clusters, variants_tried: variants.length },
      test: {
        declared_at: t.declaredAt,
        hypothesis: t.hypothesis,
        alternative: "greater",
        alpha: t.alpha,
        instances: t.instances.length,
        seeds: t.seeds,
        lift: t.lift,
        lo: t.lo,
        hi: t.hi,
        p_value: t.pOneSided,
        confirmed: t.confirmed,
      },
      promoted_at: now().toISOString(),
    };
    return [{ strategy: { ...w.strategy, lineage }, lineage }];
  });
  return { parent: parent.id, alpha, dev, tests, promoted };
}

/** A strategy as written in a strategies file: its entry without the id and the shared prompt text. */
export function strategyEntry(s: Strategy): StrategyEntry {
  const { id: _id, prompt: _prompt, ...entry } = s;
  return entry;
}

/** What {@linkcode promoteVariants} produced. */
export interface Promotion {
  /** The whole file with the promoted strategies added (comments kept). */
  text: string;
  /** Only the added entries, as YAML under `strategies:` (what to paste by hand). */
  added: string;
  /** The ids added. */
  ids: string[];
}

/**
 * A strategies file's text with `promoted` added under `strategies:` (lineage included, comments and the rest kept),
 * checked by the strategies loader before it is returned. An id the file already has is an error.
 *
 * @example
 * ```ts
 * const p = promoteVariants(await Deno.readTextFile("configs/strategies.yaml"), r.promoted);
 * console.log(p.added);
 * ```
 */
export function promoteVariants(text: string, promoted: readonly PromptVariant[], source = "configs/strategies.yaml"): Promotion {
  const doc = parseDocument(text);
  if (doc.errors.length) throw new ConfigError(`${source}: ${doc.errors[0].message.split("\n")[0]}`);
  const existing = doc.getIn(["strategies"]) as { has?: (k: string) => boolean } | undefined;
  if (!existing?.has) throw new ConfigError(`${source}: no 'strategies:' map to add to`);
  const added: Record<string, unknown> = {};
  for (const v of promoted) {
    if (existing.has(v.strategy.id)) {
      throw new ConfigError(`${source}: already has a strategy '${v.strategy.id}'; remove it or promote under another id`);
    }
    const entry = JSON.parse(JSON.stringify(strategyEntry(v.strategy)));
    doc.setIn(["strategies", v.strategy.id], entry);
    added[v.strategy.id] = entry;
  }
  const out = doc.toString({ lineWidth: 0 });
  parseStrategiesConfig(out, source); // the loader must accept what is written
  return { text: out, added: promoted.length ? stringify(added, { lineWidth: 0 }) : "", ids: promoted.map((v) => v.strategy.id) };
}

/**
 * Adds `promoted` to the strategies file at `path` (see {@linkcode promoteVariants}), atomically: a temp file, then
 * a rename; on any error the file is unchanged.
 *
 * @example
 * ```ts
 * await writePromoted("configs/strategies.yaml", r.promoted);
 * ```
 */
export async function writePromoted(path: string, promoted: readonly PromptVariant[]): Promise<Promotion> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(`cannot read the strategies file ${path}: ${(e as Error).message}; pass an existing file to --write`);
  }
  const p = promoteVariants(text, promoted, path);
  if (promoted.length) await writeTextAtomic(path, p.text);
  return p;
}
