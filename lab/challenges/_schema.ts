import { z } from "zod";
import { ChallengeFamilyFile } from "./types.ts";

/** The JSON schema of a challenge family file (committed as data/challenges/challenge.schema.json). */
export function challengeJsonSchema(): Record<string, unknown> {
  return {
    title: "Challenge family",
    ...z.toJSONSchema(ChallengeFamilyFile, { io: "input" }),
  };
}
