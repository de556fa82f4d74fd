/**
 * Injected faults: a seeded PRNG decides, per request, which faults fire. Every request draws the same number
 * of values in the same order whether or not a fault fires, so the same seed and request order give the same
 * faults.
 */
import type { FaultOptions } from "./server.ts";
import { mulberry32 } from "../util/mod.ts";

/** The faults drawn for one request. */
export interface FaultDraw {
  rate429: boolean;
  rate500: boolean;
  stall: boolean;
  malformedToolArgs: boolean;
  truncateStream: boolean;
}

/** Draws the faults of successive requests from `options`. */
export function faultDrawer(options: FaultOptions = {}): () => FaultDraw {
  const next = mulberry32(options.seed ?? 0);
  return () => ({
    rate429: next() < (options.rate429 ?? 0),
    rate500: next() < (options.rate500 ?? 0),
    stall: next() < (options.stallRate ?? 0),
    malformedToolArgs: next() < (options.malformedToolArgsRate ?? 0),
    truncateStream: next() < (options.truncateStreamRate ?? 0),
  });
}
