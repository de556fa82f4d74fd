/** TEST-ONLY oracles of level 3 families. */
import type { Oracle } from "./mod.ts";

export const ORACLES_L3: Record<string, Oracle> = {};
