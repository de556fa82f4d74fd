import { z } from "zod";
import { ChallengeFamilyFile } from "./types.ts";

/** The JSON schema of a challenge family file (committed as data/challenges/challenge.schema.json). */
export function challengeJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://github.com/lab/challenge.schema.json",
    title: "Challenge family",
    ...z.toJSONSchema(ChallengeFamilyFile, { io: "input" }),
  };
}
