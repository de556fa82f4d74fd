/** TEST-ONLY oracles of level 5 families. */
import type { Oracle } from "./mod.ts";

export const ORACLES_L5: Record<string, Oracle> = {};
