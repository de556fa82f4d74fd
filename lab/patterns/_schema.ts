/**
 * The pattern store's tables, after seed 000's `turn_memories` (the contract between the store, retrieval,
 * pruning and export), each column listed once: the DDL, {@linkcode PATTERN_COLUMNS} and the column types the
 * bulk insert and the Arrow export use are derived from these lists. One row of `turn_memories` = the ordered
 * successful SQL queries one episode ran for an intent; identical (role, normalized_intent, sql_key) triples
 * merge into one row with a support count.
 * @module
 */

/** Dimensions of every stored embedding. */
export const EMBEDDING_DIMS = 256;

/** The current time as the UTC `TIMESTAMP` text the tables hold (`created_at`, `updated_at`, `validated_at`). */
export const utcNow = (): string => new Date().toISOString().replace("T", " ").replace("Z", "");

/** A column: name, SQL type, constraints, what it holds. */
type Column = readonly [name: string, type: string, constraints: string, note: string];

const TURN_MEMORIES = [
  ["id", "VARCHAR", "PRIMARY KEY", "stable: hash of (role, normalized_intent, sql_key)"],
  ["normalized_intent", "VARCHAR", "NOT NULL", "normalizeIntent(task)"],
  ["intent", "VARCHAR", "NOT NULL", "the task as asked (of the best-fitness episode)"],
  ["role", "VARCHAR", "NOT NULL", ""],
  ["category", "VARCHAR", "NOT NULL", "challenge category ('ask' for a person's own question)"],
  ["level", "INTEGER", "", "challenge level (NULL for 'ask')"],
  ["tool_sequence", "VARCHAR[]", "NOT NULL", "names of the successful tool calls in call order"],
  ["successful_queries", "JSON", "NOT NULL", "[{tool, sql, summary, rows, ms}] in order; never a failed query"],
  ["sql_key", "VARCHAR", "NOT NULL", "canonicalSql of the successful queries (whitespace, case outside literals)"],
  ["answer_shape", "VARCHAR", "", "number | rows | comparison | action | ..."],
  ["turn_fitness", "DOUBLE", "NOT NULL", ""],
  ["query_avg_fitness", "DOUBLE", "NOT NULL", "mean fitness of the stored (successful) queries"],
  ["composite_fitness", "DOUBLE", "NOT NULL", "query × query_avg_fitness + turn × turn_fitness (weights from config)"],
  ["embedding", `FLOAT[${EMBEDDING_DIMS}]`, "NOT NULL", "embedder(normalized_intent)"],
  ["embedder", "VARCHAR", "NOT NULL", "id of the embedder that made it"],
  ["created_at", "TIMESTAMP", "NOT NULL", "UTC, when first stored"],
  ["updated_at", "TIMESTAMP", "NOT NULL", "UTC, last merge or mark"],
  ["is_synthetic", "BOOLEAN", "NOT NULL", "true for tournament episodes, false for a person's question (ask)"],
  ["turn_pass", "BOOLEAN", "NOT NULL", "some merged episode passed (or the person's mark); retrieval uses only true"],
  ["marked_pass", "BOOLEAN", "", "a person's mark (NULL = none); overrides every episode's verdict"],
  ["contaminated", "BOOLEAN", "NOT NULL", "learned (also) on a split other than train"],
  ["stale", "BOOLEAN", "NOT NULL DEFAULT false", "re-validation found it no longer runs / no longer matches"],
  ["stale_reason", "VARCHAR", "", "why re-validation marked it stale"],
  ["validated_at", "TIMESTAMP", "", "last re-validation"],
  ["support", "INTEGER", "NOT NULL DEFAULT 1", "episodes merged into this row"],
  ["passes", "INTEGER", "NOT NULL DEFAULT 0", "of which passed"],
  ["run_id", "VARCHAR", "", "lineage of the best-fitness episode: run, episode, strategy, model, challenge"],
  ["episode_id", "VARCHAR", "", ""],
  ["strategy_id", "VARCHAR", "", ""],
  ["model_name", "VARCHAR", "", ""],
  ["model_id", "VARCHAR", "", ""],
  ["challenge_id", "VARCHAR", "", ""],
  ["family", "VARCHAR", "", ""],
  ["split", "VARCHAR", "", ""],
  ["org_id", "INTEGER", "", "the tenant the SQL ran on (re-validation runs it there again)"],
] as const satisfies readonly Column[];

/** A column of `turn_memories`. */
export type PatternColumn = typeof TURN_MEMORIES[number][0];

/** The columns of `turn_memories`, in table order (export, import and the bulk insert rely on this order). */
export const PATTERN_COLUMNS: readonly PatternColumn[] = TURN_MEMORIES.map(([name]) => name);

/** The SQL type of each column of `turn_memories` (`VARCHAR`, `INTEGER`, `JSON`, `FLOAT[256]`, …). */
export const PATTERN_COLUMN_TYPES: Readonly<Record<PatternColumn, string>> = Object.fromEntries(
  TURN_MEMORIES.map(([name, type]) => [name, type]),
) as Record<PatternColumn, string>;

/**
 * Every episode merged into a pattern (lineage of support; makes the sink idempotent by run and episode id).
 * Not exported with the patterns; pruning a pattern keeps its rows, so a re-sent episode does not revive it.
 */
const PATTERN_EPISODES = [
  ["run_id", "VARCHAR", "NOT NULL", "'' when the episode came without a run"],
  ["episode_id", "VARCHAR", "NOT NULL", ""],
  ["pattern_id", "VARCHAR", "NOT NULL", ""],
  ["turn_pass", "BOOLEAN", "NOT NULL", ""],
  ["composite_fitness", "DOUBLE", "NOT NULL", ""],
  ["stored_at", "TIMESTAMP", "NOT NULL", ""],
] as const satisfies readonly Column[];

/** The columns of `pattern_episodes` a batch brings (all but `stored_at`, which the store sets), as `name TYPE`. */
export const EPISODE_KEY_COLUMNS: readonly (readonly [string, string])[] = PATTERN_EPISODES
  .filter(([name]) => name !== "stored_at")
  .map(([name, type]) => [name, type]);

/** Store-wide settings that derived columns depend on (the composite weights). */
const PATTERN_META = [
  ["key", "VARCHAR", "PRIMARY KEY", ""],
  ["value", "JSON", "NOT NULL", ""],
] as const satisfies readonly Column[];

/** `CREATE TABLE IF NOT EXISTS` of a column list (each column's note as an SQL comment) and `extra` clauses. */
function createTable(table: string, columns: readonly Column[], extra: readonly string[] = []): string {
  const items = [
    ...columns.map(([name, type, constraints, note]) => ({
      sql: `${name} ${type}${constraints ? ` ${constraints}` : ""}`,
      note,
    })),
    ...extra.map((sql) => ({ sql, note: "" })),
  ];
  const lines = items.map(({ sql, note }, i) => `${sql}${i < items.length - 1 ? "," : ""}${note ? ` -- ${note}` : ""}`);
  return `CREATE TABLE IF NOT EXISTS ${table} (\n  ${lines.join("\n  ")}\n)`;
}

/** DDL of the pattern tables (idempotent). */
export const PATTERN_SCHEMA: readonly string[] = [
  createTable("turn_memories", TURN_MEMORIES),
  createTable("pattern_episodes", PATTERN_EPISODES, ["PRIMARY KEY (run_id, episode_id)"]),
  createTable("pattern_meta", PATTERN_META),
];
