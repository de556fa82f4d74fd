/**
 * Errors a user can act on. Their message is one line saying what, where and what to do; the CLI prints
 * it as is and exits non-zero. Anything else reaching the top level is a bug in the lab.
 */

/** A problem with input the user supplied (a config file, a challenge file, an argument). */
export class LabError extends Error {
  /** The error's name, `"LabError"`. */
  override name = "LabError";
}

/** A config or data file failed validation. */
export class ConfigError extends LabError {
  /** The error's name, `"ConfigError"`. */
  override name = "ConfigError";
}

/** True when `e` is an error whose message is meant for the user as is. */
export function isUserError(e: unknown): e is Error {
  return e instanceof LabError || e instanceof RangeError || (e instanceof Error && e.name === "UsageError");
}
