/**
 * Leakage control for datasets: nothing from a `dev`, `test_id` or `test_ood` instance, from a held-out template,
 * or from a `test_ood` family gets into a training set. Every source passes the same check — a person's own
 * question included, which has no challenge: it is held out when its normalized intent is a held-out instance's
 * (values are placeholders after normalization, so a held-out template asked with other values matches too).
 * @module
 */
import type { Challenge } from "../challenges/mod.ts";
import { normalizeIntent } from "../patterns/mod.ts";
import type { Example } from "./example.ts";

/** Why an example was held out, in the order the checks run (the first that applies is counted). */
export const LEAK_REASONS = [
  "held_out_split",
  "contaminated",
  "ood_family",
  "held_out_instance",
  "held_out_template",
  "held_out_intent",
  "held_out_injected",
] as const;
/**
 * Why an example was held out.
 * @internal
 */
export type LeakReason = (typeof LEAK_REASONS)[number];

/**
 * What a {@linkcode LeakageGuard} holds out.
 * @internal
 */
export interface HeldOutSummary {
  instances: number;
  templates: number;
  oodFamilies: number;
  intents: number;
}

/** `<family>#t<template>` of a challenge id `<family>/t<template>/<values>/o<org>`. */
function templateOfId(challengeId: string): string | undefined {
  const m = /^(.+?)\/t(\d+)\//.exec(challengeId);
  return m ? `${m[1]}#t${m[2]}` : undefined;
}

/**
 * The held-out side of a challenge catalog, and the one check every example passes.
 *
 * @example
 * ```ts
 * const guard = LeakageGuard.fromCatalog(await loadCatalog());
 * guard.check(example); // undefined, or e.g. "held_out_intent"
 * ```
 */
export class LeakageGuard {
  private constructor(
    readonly instances: ReadonlySet<string>,
    readonly templates: ReadonlySet<string>,
    readonly oodFamilies: ReadonlySet<string>,
    readonly intents: ReadonlySet<string>,
  ) {}

  /** Holds out every instance of `challenges` not on `train`, their templates, intents and `test_ood` families. */
  static fromCatalog(challenges: readonly Challenge[]): LeakageGuard {
    const instances = new Set<string>();
    const templates = new Set<string>();
    const ood = new Set<string>();
    const intents = new Set<string>();
    for (const c of challenges) {
      if (c.split === "train") continue;
      instances.add(c.id);
      templates.add(`${c.family}#t${c.templateIndex}`);
      if (c.split === "test_ood") ood.add(c.family);
      intents.add(normalizeIntent(c.task));
    }
    return new LeakageGuard(instances, templates, ood, intents);
  }

  /** How much is held out. */
  summary(): HeldOutSummary {
    return {
      instances: this.instances.size,
      templates: this.templates.size,
      oodFamilies: this.oodFamilies.size,
      intents: this.intents.size,
    };
  }

  /** Why `example` must stay out of training data, or undefined when it may go in. */
  check(
    example: Pick<
      Example,
      "split" | "contaminated" | "family" | "challengeId" | "normalizedIntent" | "injectedTasks" | "task" | "source"
    >,
  ): LeakReason | undefined {
    if (example.split !== null && example.split !== "train") return "held_out_split";
    if (example.contaminated) return "contaminated";
    if (example.family !== null && this.oodFamilies.has(example.family)) return "ood_family";
    if (example.challengeId !== null) {
      if (this.instances.has(example.challengeId)) return "held_out_instance";
      const t = templateOfId(example.challengeId);
      if (t !== undefined && this.templates.has(t)) return "held_out_template";
    }
    if (this.intents.has(example.normalizedIntent)) return "held_out_intent";
    // A person's question: its stored intent may come from a model normalizer, so the rules decide too.
    if (example.source === "ask" && this.intents.has(normalizeIntent(example.task))) return "held_out_intent";
    if (example.injectedTasks?.some((t) => this.intents.has(normalizeIntent(t)))) return "held_out_injected";
    return undefined;
  }
}
