/**
 * Checks (and on request installs) what notebooks need: Jupyter's nbconvert and a Deno kernel spec named `deno`.
 *
 * `deno jupyter --install` writes `~/.local/share/jupyter/kernels/deno/kernel.json` whose argv[0] is the absolute
 * path of the deno binary that ran it. We run it with `Deno.execPath()`, i.e. this project's
 * `node_modules/deno/deno`, which `npm ci` recreates at the same path in a fresh clone. The kernel needs no flag to
 * find `deno.json`: Jupyter starts it in the notebook's folder and Deno walks up from there to the project's
 * `deno.json` (`nodeModulesDir: "manual"`), so npm imports resolve from the project's `node_modules`.
 * @module
 */

/** The kernel name notebooks declare in `metadata.kernelspec.name`. */
export const KERNEL_NAME = "deno";

/** Result of {@linkcode ensureJupyter}: `message` is one line saying what is wrong and what to run. */
export type JupyterCheck = { ok: true } | { ok: false; message: string };

interface KernelSpec {
  argv: string[];
  language?: string;
}

/**
 * Ensures `jupyter nbconvert` runs and a usable `deno` kernel spec is installed; with `install`, (re)installs the
 * kernel spec when it is missing or points at a deno binary that no longer exists. Takes about 1 s when all is done.
 */
export async function ensureJupyter(options: { install: boolean }): Promise<JupyterCheck> {
  // Each jupyter command costs ~1 s of Python start-up, so the two checks run side by side.
  const [nbconvert, firstProblem] = await Promise.all([run("jupyter", ["nbconvert", "--version"]), kernelProblem()]);
  // The report door is loaded when needed: its charting dependencies are heavy (and warn under Deno) for every other command.
  if (!nbconvert.ok) return { ok: false, message: (await import("../report/mod.ts")).JUPYTER_MISSING };

  let problem = firstProblem;
  if (problem === undefined) return { ok: true };
  if (!options.install) {
    return { ok: false, message: `${problem}: run  npx deno jupyter --install --force` };
  }
  // --force: a stale spec (e.g. from a deleted checkout) is otherwise left in place.
  const install = await run(Deno.execPath(), ["jupyter", "--install", "--force", "--name", KERNEL_NAME]);
  if (!install.ok) {
    return {
      ok: false,
      message: `Installing the Deno kernel failed (${
        lastLine(install.output)
      }): run  npx deno jupyter --install --force`,
    };
  }
  problem = await kernelProblem();
  return problem === undefined ? { ok: true } : { ok: false, message: `${problem} even after installing it` };
}

/** Why the installed `deno` kernel spec cannot run notebooks, or undefined when it can. */
async function kernelProblem(): Promise<string | undefined> {
  const listed = await run("jupyter", ["kernelspec", "list", "--json"]);
  if (!listed.ok) return `"jupyter kernelspec list" failed (${lastLine(listed.output)})`;
  let specs: Record<string, { spec?: KernelSpec; resource_dir?: string }>;
  try {
    specs = JSON.parse(listed.stdout).kernelspecs ?? {};
  } catch {
    return `"jupyter kernelspec list --json" printed something that is not JSON`;
  }
  const spec = specs[KERNEL_NAME]?.spec;
  if (spec === undefined) return `The Jupyter kernel "${KERNEL_NAME}" is not installed`;
  const binary = spec.argv?.[0];
  if (typeof binary !== "string" || !spec.argv.includes("jupyter")) {
    return `The Jupyter kernel "${KERNEL_NAME}" (${specs[KERNEL_NAME].resource_dir}) is not a Deno kernel`;
  }
  // Run the binary rather than stat it: proves it exists, is executable and is a Deno 2 (package.json support).
  const version = await run(binary, ["--version"]);
  const major = /^deno (\d+)\./.exec(version.stdout)?.[1];
  if (!version.ok || major === undefined) {
    return `The Jupyter kernel "${KERNEL_NAME}" points at ${binary}, which does not run`;
  }
  if (Number(major) < 2) {
    return `The Jupyter kernel "${KERNEL_NAME}" runs deno ${major}.x from ${binary}; Deno 2 is needed`;
  }
  return undefined;
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; stdout: string; output: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    return { ok: out.success, stdout, output: stdout + new TextDecoder().decode(out.stderr) };
  } catch (e) {
    // A missing or non-executable program is an answer here, not a crash.
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.PermissionDenied) {
      return { ok: false, stdout: "", output: (e as Error).message };
    }
    throw e;
  }
}

function lastLine(text: string): string {
  return text.trim().split("\n").at(-1) ?? "";
}
