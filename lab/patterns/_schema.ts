/**
 * The pattern store's table, after seed 000's `turn_memories` (the contract between the store, retrieval,
 * pruning and export). One row = the ordered successful SQL queries one episode ran for an intent; identical
 * (role, normalized_intent, sql_key) triples merge into one row with a support count.
 * @module
 */

/** Dimensions of every stored embedding. */
export const EMBEDDING_DIMS = 256;

/** The columns of `turn_memories`, in table order (export, import and the bulk insert rely on this order). */
export const PATTERN_COLUMNS = [
  "id",
  "normalized_intent",
  "intent",
  "role",
  "category",
  "level",
  "tool_sequence",
  "successful_queries",
  "sql_key",
  "answer_shape",
  "turn_fitness",
  "query_avg_fitness",
  "composite_fitness",
  "embedding",
  "embedder",
  "created_at",
  "updated_at",
  "is_synthetic",
  "turn_pass",
  "marked_pass",
  "contaminated",
  "stale",
  "stale_reason",
  "validated_at",
  "support",
  "passes",
  "run_id",
  "episode_id",
  "strategy_id",
  "model_name",
  "model_id",
  "challenge_id",
  "family",
  "split",
  "org_id",
] as const;

/** DDL of the pattern tables (idempotent). */
export const PATTERN_SCHEMA: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS turn_memories (
    id VARCHAR PRIMARY KEY,              -- stable: hash of (role, normalized_intent, sql_key)
    normalized_intent VARCHAR NOT NULL,  -- normalizeIntent(task)
    intent VARCHAR NOT NULL,             -- the task as asked (of the best-fitness episode)
    role VARCHAR NOT NULL,
    category VARCHAR NOT NULL,           -- challenge category ('ask' for a person's own question)
    level INTEGER,                       -- challenge level (NULL for 'ask')
    tool_sequence VARCHAR[] NOT NULL,    -- names of the successful tool calls in call order
    successful_queries JSON NOT NULL,    -- [{tool, sql, summary, rows, ms}] in order; never a failed query
    sql_key VARCHAR NOT NULL,            -- canonical form of the successful SQL (whitespace, case outside literals)
    answer_shape VARCHAR,                -- number | rows | comparison | action | ...
    turn_fitness DOUBLE NOT NULL,
    query_avg_fitness DOUBLE NOT NULL,   -- mean fitness of the stored (successful) queries
    composite_fitness DOUBLE NOT NULL,   -- 0.6 × query_avg_fitness + 0.4 × turn_fitness (weights from config)
    embedding FLOAT[256] NOT NULL,       -- embedder(normalized_intent)
    embedder VARCHAR NOT NULL,           -- id of the embedder that made it
    created_at TIMESTAMP NOT NULL,        -- UTC, when first stored
    updated_at TIMESTAMP NOT NULL,        -- UTC, last merge or mark
    is_synthetic BOOLEAN NOT NULL,       -- true for tournament episodes, false for a person's question (ask)
    turn_pass BOOLEAN NOT NULL,          -- some merged episode passed (or the person's mark); retrieval uses only true
    marked_pass BOOLEAN,                 -- a person's mark (NULL = none); overrides every episode's verdict
    contaminated BOOLEAN NOT NULL,       -- learned (also) on a split other than train
    stale BOOLEAN NOT NULL DEFAULT false,-- re-validation found it no longer runs / no longer matches
    stale_reason VARCHAR,                -- why re-validation marked it stale
    validated_at TIMESTAMP,              -- last re-validation
    support INTEGER NOT NULL DEFAULT 1,  -- episodes merged into this row
    passes INTEGER NOT NULL DEFAULT 0,   -- of which passed
    run_id VARCHAR, episode_id VARCHAR, strategy_id VARCHAR, model_name VARCHAR, model_id VARCHAR,
    challenge_id VARCHAR, family VARCHAR, split VARCHAR,
    org_id INTEGER                       -- the tenant the SQL ran on (re-validation runs it there again)
  )`,
  // Every episode merged into a pattern (lineage of support; makes the sink idempotent by run and episode id).
  // Not exported with the patterns; pruning a pattern keeps its rows, so a re-sent episode does not revive it.
  `CREATE TABLE IF NOT EXISTS pattern_episodes (
    run_id VARCHAR NOT NULL,             -- '' when the episode came without a run
    episode_id VARCHAR NOT NULL,
    pattern_id VARCHAR NOT NULL,
    turn_pass BOOLEAN NOT NULL,
    composite_fitness DOUBLE NOT NULL,
    stored_at TIMESTAMP NOT NULL,
    PRIMARY KEY (run_id, episode_id)
  )`,
  // Store-wide settings that derived columns depend on (the composite weights).
  `CREATE TABLE IF NOT EXISTS pattern_meta (key VARCHAR PRIMARY KEY, value JSON NOT NULL)`,
];
