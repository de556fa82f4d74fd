/**
 * Executing notebooks headless with `jupyter nbconvert`, for the test suite and `lab notebooks run`.
 * @module
 */
import { basename, delimiter, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Holds lab_nbconvert.py, the nbconvert plug-in executeNotebook puts on PYTHONPATH. */
const PLUGIN_DIR = fileURLToPath(new URL("./_nbconvert/", import.meta.url));
const EXECUTOR_CLASS = "LateOutputExecutePreprocessor";
const EXECUTOR = `lab_nbconvert.${EXECUTOR_CLASS}`;
/** nbconvert's "lab" template without require.js and MathJax: the HTML references no file and no URL. */
const OFFLINE_TEMPLATE = join(PLUGIN_DIR, "lab_offline.html.j2");

/** What to do when `jupyter nbconvert` is not installed (Debian/Ubuntu packages; one line, shown as is). */
export const JUPYTER_MISSING =
  "Jupyter is missing: run  sudo apt-get install -y jupyter-nbconvert jupyter-client python3-nbclient python3-ipykernel";

/** Options for {@linkcode executeNotebook}. */
export interface ExecuteNotebookOptions {
  /** Where the rendered HTML goes; the notebook itself is never rewritten. @default a new temporary directory */
  outputDir?: string;
  /** Seconds one cell may run before the run fails. @default 300 */
  cellTimeoutSeconds?: number;
  /** Kernel to run every notebook with, whatever its metadata says. @default "deno" */
  kernel?: string;
  /** The jupyter command, for machines where `jupyter` on PATH is the wrong Python's. @default "jupyter" */
  jupyter?: string;
  signal?: AbortSignal;
}

/** Where a notebook run failed. */
export interface NotebookFailure {
  /** 0-based index of the failing cell, when it could be matched to the notebook. */
  cellIndex?: number;
  cellId?: string;
  /** Source of the failing cell as nbconvert reported it. */
  source?: string;
  /** The cell's error and stack (or why nbconvert stopped), without ANSI colours. */
  error: string;
}

/** The outcome of one notebook run. A failing notebook is a result, not an exception. */
export interface NotebookRun {
  notebook: string;
  ok: boolean;
  /** The rendered HTML file (only written when every cell succeeded). */
  outputPath: string;
  seconds: number;
  failure?: NotebookFailure;
  /** Last lines of nbconvert's stderr, for anything the failure parse missed. */
  stderrTail: string;
}

/** The parts of the nbformat 4 JSON the lab checks. */
export interface NotebookJson {
  nbformat: number;
  nbformat_minor: number;
  metadata: { kernelspec?: { name?: string; language?: string; display_name?: string }; [k: string]: unknown };
  cells: { id?: string; cell_type: string; source: string | string[]; [k: string]: unknown }[];
}

/** Notebooks directly in `dir` (not in subfolders such as `_test/`), sorted by name. */
export async function listNotebooks(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(".ipynb")) found.push(join(dir, entry.name));
  }
  return found.sort();
}

/** Reads and minimally parses a notebook; a malformed one is an error naming the file. */
export async function readNotebook(path: string): Promise<NotebookJson> {
  const text = await Deno.readTextFile(path);
  let nb: NotebookJson;
  try {
    nb = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`${path}: not valid notebook JSON (${(e as Error).message})`);
  }
  if (typeof nb !== "object" || nb === null || !Array.isArray(nb.cells)) {
    throw new SyntaxError(`${path}: not an nbformat 4 notebook (no "cells" array)`);
  }
  return nb;
}

/**
 * What is wrong with a notebook's structure, as messages (empty when fine): every cell needs an `id`
 * (nbformat ≥ 4.5, so diffs and error reports can name cells) and the kernel must be `kernel`.
 */
export async function notebookProblems(path: string, kernel = "deno"): Promise<string[]> {
  const nb = await readNotebook(path);
  const problems: string[] = [];
  if (nb.nbformat !== 4 || nb.nbformat_minor < 5) {
    problems.push(`${path}: nbformat ${nb.nbformat}.${nb.nbformat_minor}; cell ids need 4.5 or later`);
  }
  const name = nb.metadata?.kernelspec?.name;
  if (name !== kernel) problems.push(`${path}: kernelspec.name is ${JSON.stringify(name)}, expected "${kernel}"`);
  nb.cells.forEach((cell, i) => {
    if (typeof cell.id !== "string" || cell.id === "") problems.push(`${path}: cell ${i} has no id`);
  });
  const ids = nb.cells.map((c) => c.id).filter((id): id is string => typeof id === "string");
  for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) {
    problems.push(`${path}: cell id "${id}" is used more than once`);
  }
  return problems;
}

/**
 * Executes a notebook with `jupyter nbconvert --to html`, in the notebook's own folder (so Deno finds the project's
 * `deno.json` and relative imports such as `../lab/mod.ts` resolve), writing the HTML to `outputDir`. Unlike plain
 * `--execute` it keeps outputs the Deno kernel publishes late and keeps chart SVGs intact (see the args below).
 */
export async function executeNotebook(notebook: string, options: ExecuteNotebookOptions = {}): Promise<NotebookRun> {
  const path = resolve(notebook);
  await Deno.stat(path); // a missing notebook must not read as "Jupyter is missing" below
  const outputDir = resolve(options.outputDir ?? await Deno.makeTempDir({ prefix: "lab-notebook-" }));
  const name = basename(path).replace(/\.ipynb$/, "");
  const args = [
    "nbconvert",
    "--to",
    "html",
    // Instead of --execute: nbconvert's ExecutePreprocessor drops outputs the Deno kernel publishes just after it
    // reports idle (see _nbconvert/lab_nbconvert.py).
    `--Exporter.preprocessors=${EXECUTOR}`,
    `--${EXECUTOR_CLASS}.timeout=${options.cellTimeoutSeconds ?? 300}`,
    `--${EXECUTOR_CLASS}.kernel_name=${options.kernel ?? "deno"}`,
    // nbconvert 6.5 (Debian/Ubuntu) passes image/svg+xml through lxml's HTML cleaner, which deletes every element
    // inside <svg>, so charts come out blank. os.fsdecode is an identity on str (and decodes bytes, which nbconvert
    // 7 passes). Our outputs are trusted: the notebooks are ours and the SVG is rendered by vega.
    "--TemplateExporter.filters=clean_html=os.fsdecode",
    // The stock template loads require.js and MathJax from file:///usr/share/javascript (Debian) or a CDN; ours
    // drops both, so the HTML is readable offline, anywhere (charts are inline SVG and no cell writes LaTeX).
    `--template-file=${OFFLINE_TEMPLATE}`,
    "--output-dir",
    outputDir,
    "--output",
    name,
    path,
  ];
  const started = performance.now();
  let result: Deno.CommandOutput;
  try {
    result = await new Deno.Command(options.jupyter ?? "jupyter", {
      args,
      cwd: dirname(path),
      env: {
        PYTHONPATH: [PLUGIN_DIR, Deno.env.get("PYTHONPATH")].filter(Boolean).join(delimiter),
        PYTHONDONTWRITEBYTECODE: "1", // no __pycache__ next to the plug-in in the source tree
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: options.signal,
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(JUPYTER_MISSING, { cause: e });
    throw e;
  }
  const seconds = (performance.now() - started) / 1000;
  const stderr = stripAnsi(new TextDecoder().decode(result.stderr));
  const stderrTail = stderr.trimEnd().split("\n").slice(-40).join("\n");
  const run: NotebookRun = {
    notebook,
    ok: result.success,
    outputPath: join(outputDir, `${name}.html`),
    seconds,
    stderrTail,
  };
  if (!result.success) run.failure = await locateFailure(path, stderr);
  return run;
}

/** One line per failure, for test and CLI output: notebook, cell, error. */
export function formatNotebookFailure(run: NotebookRun): string {
  if (run.ok) return `${run.notebook}: ok (${run.seconds.toFixed(1)}s)`;
  const f = run.failure;
  const where = f?.cellIndex === undefined ? "" : ` cell ${f.cellIndex}${f.cellId ? ` (id "${f.cellId}")` : ""}`;
  const source = f?.source ? `\n--- cell source ---\n${f.source}` : "";
  const error = f?.error ?? "(no error text)";
  return `${run.notebook}:${where} failed\n--- error ---\n${error}${source}\n--- nbconvert stderr (tail) ---\n${run.stderrTail}`;
}

const CELL_ERROR = "An error occurred while executing the following cell:\n------------------\n";

async function locateFailure(path: string, stderr: string): Promise<NotebookFailure> {
  const at = stderr.lastIndexOf(CELL_ERROR);
  if (at < 0) {
    // Timeouts, a dead kernel or a missing kernel spec: the last exception line says which.
    const lines = stderr.trimEnd().split("\n");
    const last = [...lines].reverse().find((l) => /^\w+(\.\w+)*(Error|Exception)\b/.test(l)) ?? lines.at(-1) ?? "";
    return { error: last.trim() || "nbconvert failed without output" };
  }
  const rest = stderr.slice(at + CELL_ERROR.length);
  const end = rest.indexOf("\n------------------\n");
  const source = end < 0 ? undefined : rest.slice(0, end);
  const error = (end < 0 ? rest : rest.slice(end + "\n------------------\n".length)).trim();
  const failure: NotebookFailure = { error, source };
  if (source !== undefined) {
    try {
      const nb = await readNotebook(path);
      const index = nb.cells.findIndex((c) =>
        c.cell_type === "code" && (Array.isArray(c.source) ? c.source.join("") : c.source).trim() === source.trim()
      );
      if (index >= 0) {
        failure.cellIndex = index;
        failure.cellId = nb.cells[index].id;
      }
    } catch {
      // The error text alone still tells the reader what failed.
    }
  }
  return failure;
}

function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}
