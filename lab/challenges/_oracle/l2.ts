/** TEST-ONLY oracles of level 2 families. */
import type { Oracle } from "./mod.ts";

export const ORACLES_L2: Record<string, Oracle> = {};
