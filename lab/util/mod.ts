/**
 * Utilities every folder of the lab may use (the bottom layer): atomic file writes, config files with one-line
 * errors, the lab's error types, repository paths, progress bars, seeded randomness, the one scheduler and an
 * abortable sleep, canonical SQL text and the one way of opening DuckDB files (lock retry, per-call or held,
 * transactions).
 * @module
 */
export * from "./atomic.ts";
export * from "./config.ts";
export * from "./duckdb.ts";
export * from "./errors.ts";
export * from "./paths.ts";
export * from "./progress.ts";
export * from "./random.ts";
export * from "./schedule.ts";
export * from "./sql.ts";
