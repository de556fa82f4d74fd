/** TEST-ONLY oracles of level 4 families. */
import type { Oracle } from "./mod.ts";

export const ORACLES_L4: Record<string, Oracle> = {};
