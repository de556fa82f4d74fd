/**
 * Internals of `lab/sandbox/` that benches in other folders instrument: `WorkerProcess`, the per-episode worker
 * process whose requests a bench times.
 * @module
 */
export { WorkerProcess } from "./_process.ts";
