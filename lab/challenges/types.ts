/**
 * The challenge file format: one YAML file per challenge family, validated by zod at the boundary. The JSON
 * schema in `data/challenges/challenge.schema.json` is generated from {@linkcode ChallengeFamilyFile}.
 */
import { z } from "zod";

/** Seed 000's five levels of ERP work. */
export const LEVELS = [1, 2, 3, 4, 5] as const;
/** A challenge level, 1 (basic operations) to 5 (workflow automation). */
export type Level = (typeof LEVELS)[number];
/** A short name for each level, for tables and chart labels. */
export const LEVEL_NAMES: Record<Level, string> = {
  1: "basic operations",
  2: "comparative analysis",
  3: "multi-step operations with writes",
  4: "complex reporting",
  5: "workflow automation",
};

export const CATEGORIES = ["finance", "sales", "inventory", "purchasing", "reporting"] as const;
/**
 * A challenge category (business area).
 * @internal
 */
export type Category = (typeof CATEGORIES)[number];

export const OUTCOMES = ["number", "comparison", "table", "action", "report", "workflow"] as const;
/**
 * The kind of outcome a challenge asks for.
 * @internal
 */
export type OutcomeType = (typeof OUTCOMES)[number];

export const SPLITS = ["train", "dev", "test_id", "test_ood"] as const;
/**
 * A catalog split (train, dev, in- and out-of-distribution test).
 * @internal
 */
export type Split = (typeof SPLITS)[number];

const Sql = z.string().min(1, "must be a non-empty SQL string");
const Tolerance = z.object({
  /** Relative tolerance, e.g. 0.005 = 0.5 %. */
  relative: z.number().min(0).max(1).default(0.005),
  /** Absolute tolerance in the value's unit. */
  absolute: z.number().min(0).default(0.01),
}).strict();

/** A field compared by value: a reference column with its tolerance (numbers) or exact match (text). */
const FieldSpec = z.object({
  name: z.string().min(1),
  /** Other keys an answer may use for this field. */
  aliases: z.array(z.string()).default([]),
  tolerance: Tolerance.optional(),
}).strict();

export const NumberVerifier = z.object({
  kind: z.literal("number"),
  reference: Sql,
  tolerance: Tolerance.default({ relative: 0.005, absolute: 0.01 }),
}).strict();

export const ComparisonVerifier = z.object({
  kind: z.literal("comparison"),
  /** One row; each field is a column of it. */
  reference: Sql,
  fields: z.array(FieldSpec).min(2),
}).strict();

export const TableVerifier = z.object({
  kind: z.literal("table"),
  reference: Sql,
  /** Columns identifying a row (compared exactly, after normalisation). */
  key: z.array(FieldSpec).min(1),
  /** Other columns compared per matched row. */
  values: z.array(FieldSpec).default([]),
  /** Whether the answer's row order matters (e.g. "top 5 by revenue"). */
  ordered: z.boolean().default(false),
}).strict();

/** An expected change of one table, computed from the pristine state. */
export const Effect = z.object({
  table: z.string().min(1),
  change: z.enum(["insert", "update", "delete"]),
  /** Rows the change must produce, over the `match` columns (on the starting state). */
  reference: Sql,
  /** Columns compared between changed rows and reference rows (numbers to the cent, text case-insensitively). */
  match: z.array(z.string()).min(1),
}).strict();

export const ActionVerifier = z.object({
  kind: z.literal("action"),
  effects: z.array(Effect).min(1),
  /** Tables that may change besides those in `effects` (audit_log always may). */
  allow: z.array(z.string()).default([]),
  /** Optional numeric answer also checked (e.g. "how many orders did you create?"). */
  answer: z.object({ reference: Sql, tolerance: Tolerance.default({ relative: 0, absolute: 0.01 }) }).strict()
    .optional(),
}).strict();

export const ReportSection = z.object({
  name: z.string().min(1),
  aliases: z.array(z.string()).default([]),
  /** `number`: one value; `row`: one row of fields; `rows`: a row set keyed by `key`. */
  shape: z.enum(["number", "row", "rows"]),
  reference: Sql,
  fields: z.array(FieldSpec).default([]),
  key: z.array(FieldSpec).default([]),
  tolerance: Tolerance.default({ relative: 0.005, absolute: 0.01 }),
}).strict();

export const ReportVerifier = z.object({
  kind: z.literal("report"),
  sections: z.array(ReportSection).min(2),
}).strict();

export const Checkpoint = z.object({
  name: z.string().min(1),
  /** SQL on the END state returning one boolean; `{pristine:<name>}` placeholders are not supported. */
  check: Sql,
  /** Shown when the checkpoint fails. */
  hint: z.string().min(1),
}).strict();

export const WorkflowVerifier = z.object({
  kind: z.literal("workflow"),
  checkpoints: z.array(Checkpoint).min(2),
  /** Expected changes, as for actions. */
  effects: z.array(Effect).default([]),
  /** Tables that may change besides those in `effects` (audit_log always may). */
  allow: z.array(z.string()).default([]),
}).strict();

export const VerifierSpec = z.discriminatedUnion("kind", [
  NumberVerifier,
  ComparisonVerifier,
  TableVerifier,
  ActionVerifier,
  ReportVerifier,
  WorkflowVerifier,
]);
/**
 * How a challenge instance is verified (one of the verifier kinds).
 * @internal
 */
export type VerifierSpec = z.infer<typeof VerifierSpec>;

const ParamValue = z.union([z.string().min(1), z.number()]);

/** Wording features a template can be tagged with (for coverage checks and robustness reports). */
export const WORDING_FEATURES = [
  "question",
  "request",
  "colleague_note",
  "jargon",
  "numbers_in_words",
  "shorthand",
  "relative_period",
  "comparison",
] as const;
/**
 * A wording feature a template can be tagged with.
 * @internal
 */
export type WordingFeature = (typeof WORDING_FEATURES)[number];

/**
 * A template: a plain string (the catalog's first wordings), or a wording written independently of the catalog
 * and of lab-mini's corpus, tagged with its features.
 */
export const TemplateEntry = z.union([
  z.string().min(10),
  z.object({
    text: z.string().min(10),
    features: z.array(z.enum(WORDING_FEATURES)).min(1),
    /** Written from the family's description and verifier alone (checked for overlap by a test). */
    origin: z.literal("independent").default("independent"),
  }).strict(),
]);
export type TemplateEntry = z.infer<typeof TemplateEntry>;

/** One challenge family as written in `data/challenges/*.yaml`. */
export const ChallengeFamilyFile = z.object({
  family: z.string().regex(/^[a-z][a-z0-9_]*$/, "must be snake_case (a-z, 0-9, _)"),
  level: z.union(LEVELS.map((l) => z.literal(l)) as [z.ZodLiteral<1>, z.ZodLiteral<2>, ...z.ZodLiteral<Level>[]]),
  category: z.enum(CATEGORIES),
  role: z.string().regex(/^[a-z_]+$/),
  outcome: z.enum(OUTCOMES),
  description: z.string().min(1),
  /**
   * ≥ 4 paraphrases (the committed catalog has ≥ 8); `{param}` placeholders are filled from `params`
   * (`{n.words}`, `{threshold.short}`, `{period.alt}` … give other renderings; see `params.ts`).
   */
  templates: z.array(TemplateEntry).min(4, "needs at least 4 paraphrase templates"),
  /** Parameter name → its values (≥ 3 each, so dev and test can use values train never sees). */
  params: z.record(z.string().regex(/^[a-z_]+$/), z.array(ParamValue).min(3, "needs at least 3 values")).default({}),
  verifier: VerifierSpec,
}).strict();
export type ChallengeFamilyFile = z.infer<typeof ChallengeFamilyFile>;

/** One concrete task: a family, a template, parameter values and a tenant. */
export interface Challenge {
  /** Stable id: `<family>/t<template>/<param values>/o<org>`. */
  id: string;
  /** The challenge family (one YAML file) the instance comes from. */
  family: string;
  /** Its level, 1–5. */
  level: Level;
  /** Its business area. */
  category: Category;
  /** The role the agent acts as (a configs/roles.yaml entry). */
  role: string;
  /** The task text an agent sees. */
  task: string;
  /** The kind of outcome the task asks for. */
  outcome: OutcomeType;
  /** The catalog split it belongs to. */
  split: Split;
  /** Tenant the episode runs on. */
  orgId: number;
  /** Index of the family's template the task was rendered from. */
  templateIndex: number;
  /** The template with its parameters as placeholders (for the no-shared-template check). */
  template: string;
  /** Wording features of the template (empty for the catalog's first, untagged wordings). */
  features: WordingFeature[];
  /** Whether the template was written independently of the catalog's first wordings and lab-mini's corpus. */
  templateOrigin: "original" | "independent";
  /** The parameter values the template was filled with. */
  params: Record<string, string | number>;
  /** How a solution is judged. */
  verifier: VerifierSpec;
  /** Tool calls of the reference oracle's solution (from `data/challenges/_optimal_steps.json`). */
  optimalSteps: number | undefined;
  /** File the family came from. */
  source: string;
}

/** The one shape of every judgement in the lab. */
export interface Verdict {
  /** Whether the solution passed. */
  pass: boolean;
  /** In [0, 1], with partial credit per component. */
  score: number;
  /** A reason a person can read. */
  reason: string;
  /** Verifier-specific facts behind the verdict (expected and found values, checks). */
  details?: Record<string, unknown>;
}
