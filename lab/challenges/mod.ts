/**
 * Challenges: ERP tasks in five levels, expanded from family files into instances with stable splits, and
 * judged by execution against the episode's own database.
 *
 * @example
 * ```ts
 * import { loadCatalog } from "./lab/challenges/mod.ts";
 * const dev = await loadCatalog({ split: "dev" });
 * console.log(dev.length, dev[0].task);
 * ```
 * @module
 */
export * from "./types.ts";
export * from "./params.ts";
export * from "./catalog.ts";
export * from "./verify.ts";
export { challengeJsonSchema } from "./_schema.ts";
export * from "./episode.ts";
export * from "./check.ts";
