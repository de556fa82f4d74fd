import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureJupyter } from "../lab/cli/_jupyter.ts";
import { executeNotebook, formatNotebookFailure, listNotebooks, notebookProblems } from "../lab/report/mod.ts";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const notebooks = await listNotebooks(HERE);
const fixture = (name: string) => join(HERE, "_test", name);
// A whole notebook may take minutes; each cell is bounded by nbconvert's own 300 s timeout.
const NOTEBOOK_TIMEOUT = 15 * 60_000;

/** Every src, href (also xlink:href) and CSS url() of a page that is not a data: URI or an in-page anchor. */
function externalReferences(html: string): string[] {
  const attrs = [...html.matchAll(/\b(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)].map((m) => m[1] ?? m[2] ?? m[3]);
  const urls = [...html.matchAll(/url\(\s*["']?([^"')]*)/gi)].map((m) => m[1]);
  return [...attrs, ...urls].filter((ref) => !/^(data:|#)/i.test(ref.trim()));
}

/** The text of the Markdown a notebook's cells generated (display outputs, not markdown cells), tags removed. */
function generatedMarkdown(html: string): string[] {
  return [...html.matchAll(/class="[^"]*jp-OutputArea-output[^"]*" data-mime-type="text\/markdown">([\s\S]*?)<\/div>/g)]
    .map((m) => m[1].replace(/<[^>]+>/g, "").trim())
    .filter((text) => text !== "");
}

let outputDir = "";

beforeAll(async () => {
  const check = await ensureJupyter({ install: true });
  if (!check.ok) throw new Error(check.message);
  outputDir = await Deno.makeTempDir({ prefix: "lab-notebooks-test-" });
});

afterAll(async () => {
  if (outputDir) await Deno.remove(outputDir, { recursive: true });
});

describe("notebooks/*.ipynb", () => {
  it("includes the smoke notebook", () => {
    expect(notebooks.map((p) => basename(p))).toContain("00_smoke.ipynb");
  });

  it.each(notebooks.map((p) => [basename(p), p]))(
    "%s gives every cell an id and runs on the deno kernel",
    async (_, p) => {
      expect(await notebookProblems(p)).toEqual([]);
    },
  );

  it.each(notebooks.map((p) => [basename(p), p]))("%s executes headless without a cell error", async (_, p) => {
    const before = await Deno.readTextFile(p);
    const run = await executeNotebook(p, { outputDir });
    if (!run.ok) expect.fail(formatNotebookFailure(run));
    expect(await Deno.readTextFile(p)).toBe(before); // executed copies go to outputDir only
    const html = await Deno.readTextFile(run.outputPath);
    // Readable offline and anywhere: no script, stylesheet, image or link outside the page.
    expect(externalReferences(html)).toEqual([]);
    // Says what its numbers mean: at least one Markdown reading generated from the results.
    expect(generatedMarkdown(html)).not.toEqual([]);
  }, NOTEBOOK_TIMEOUT);

  it("finds a page's references outside it, and only those", () => {
    const page = `<script src="file:///usr/share/javascript/mathjax/MathJax.js"></script><a href="#top">x</a>
      <img src='data:image/png;base64,AA'><link href=https://cdn.example/x.css><use xlink:href="sprite.svg#i"/>
      <style>.a { background: url(data:image/svg+xml,%3csvg%3e) } .b { background: url("fonts/x.woff") }</style>`;
    expect(externalReferences(page)).toEqual([
      "file:///usr/share/javascript/mathjax/MathJax.js",
      "https://cdn.example/x.css",
      "sprite.svg#i",
      "fonts/x.woff",
    ]);
  });
});

describe("executeNotebook", () => {
  it("reports the failing cell by index and id with its error, and leaves the notebook untouched", async () => {
    const before = await Deno.readTextFile(fixture("fails.ipynb"));
    const run = await executeNotebook(fixture("fails.ipynb"), { outputDir });
    expect(run).toMatchObject({
      ok: false,
      failure: {
        cellIndex: 2,
        cellId: "boom",
        source: 'function explode(): never {\n  throw new Error("expected failure <b>");\n}\nexplode();',
      },
    });
    expect(run.failure?.error).toMatch(/^Error: expected failure <b>\n\s+at explode/);
    expect(formatNotebookFailure(run)).toContain(`${fixture("fails.ipynb")}: cell 2 (id "boom") failed`);
    expect(await Deno.readTextFile(fixture("fails.ipynb"))).toBe(before);
  }, NOTEBOOK_TIMEOUT);

  it("keeps every cell's output although the Deno kernel sometimes publishes it after going idle", async () => {
    const run = await executeNotebook(fixture("many_outputs.ipynb"), { outputDir });
    if (!run.ok) expect.fail(formatNotebookFailure(run));
    const html = await Deno.readTextFile(run.outputPath);
    const shown = [...html.matchAll(/<td style="[^"]*">(\d+)<\/td>/g)].map((m) => Number(m[1]));
    expect(shown).toEqual(Array.from({ length: 40 }, (_, i) => i));
  }, NOTEBOOK_TIMEOUT);

  it("writes charts as inline SVG with their marks into the HTML", async () => {
    const run = await executeNotebook(join(HERE, "00_smoke.ipynb"), { outputDir });
    if (!run.ok) expect.fail(formatNotebookFailure(run));
    const html = await Deno.readTextFile(run.outputPath);
    const svgs = html.match(/<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[\s\S]*?<\/svg>/g) ?? [];
    expect(svgs).toHaveLength(2);
    expect(svgs[0]).toContain('aria-roledescription="line mark"');
    expect(svgs[1]).toContain('aria-roledescription="bar"');
  }, NOTEBOOK_TIMEOUT);
});
