/**
 * The lab-mini label, written once: every result a lab-mini model produced carries it, so no figure of the lab's
 * small embedded baseline passes for a claim about LLMs.
 * @module
 */

/** The label of results produced by lab-mini. */
export const LAB_MINI_LABEL = "lab-mini results (a small model trained in the lab), not claims about LLMs";

/** {@linkcode LAB_MINI_LABEL} when the model (by name or id) is lab-mini, else null. */
export function modelLabel(model: { name: string; id: string }): string | null {
  return /lab-mini/.test(`${model.name} ${model.id}`) ? LAB_MINI_LABEL : null;
}
