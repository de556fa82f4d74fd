/**
 * How the Deno Jupyter kernel displays a value: it calls `value[Symbol.for("Jupyter.display")]()` and sends the
 * returned mime bundle to the frontend (see `Deno.jupyter.$display` in `deno types`). Using the registered symbol
 * instead of `Deno.jupyter.$display` keeps these objects importable outside a kernel (CLI, tests, reports), where
 * touching `Deno.jupyter` throws.
 * @module
 */

/** The symbol the Deno Jupyter kernel looks for; equal to `Deno.jupyter.$display`. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/**
 * A mime bundle: mime type → payload. JSON mime types carry objects, the rest strings.
 * @internal
 */
export interface MediaBundle {
  "text/plain": string;
  "text/html"?: string;
  "image/svg+xml"?: string;
  "application/vnd.vegalite.v5+json"?: { $schema: string; [key: string]: unknown };
  [mimeType: string]: string | object | undefined;
}

/**
 * Anything a Deno notebook cell can display richly by ending with it.
 * @internal
 */
export interface Displayable {
  [JUPYTER_DISPLAY](): MediaBundle;
}

/** Printed by `console.log` under Deno instead of the object's fields. */
export const DENO_INSPECT: unique symbol = Symbol.for("Deno.customInspect") as never;

const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}
