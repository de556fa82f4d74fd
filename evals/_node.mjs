// The Node route to the lab: HTTP calls to the lab's server at LAB_URL (e.g. http://127.0.0.1:8787; LAB_TOKEN is sent
// as its bearer token when the server was started with --token-env), or to a
// `deno run -A lab/cli/main.ts serve --port 0` started on first use and stopped when this process exits.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
let server;

function startLab() {
  return new Promise((resolve, reject) => {
    const deno = join(ROOT, "node_modules", ".bin", "deno");
    const child = spawn(deno, ["run", "-A", "lab/cli/main.ts", "serve", "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const stop = () => child.exitCode === null && child.kill("SIGTERM");
    process.once("exit", stop);
    for (const sig of ["SIGINT", "SIGTERM"]) process.once(sig, () => (stop(), process.exit(130)));
    let out = "", err = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+?)\/v1/.exec(out);
      if (m) {
        // Listening: the server must not keep this process alive once promptfoo is done.
        child.unref();
        child.stdout.unref?.();
        child.stderr.unref?.();
        resolve(m[1]);
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.once("error", (e) => reject(new Error(`cannot start the lab server (${deno}): ${e.message}; run npm install first`)));
    child.once("exit", (code) => reject(new Error(`the lab server exited (${code}) before listening: ${err.trim().split("\n").pop() ?? ""}`)));
  });
}

/** The lab server's base URL (no /v1). */
export function labUrl() {
  if (process.env.LAB_URL) return Promise.resolve(process.env.LAB_URL.replace(/\/v1\/?$/, "").replace(/\/$/, ""));
  return (server ??= startLab());
}

/** POSTs JSON to the lab server; an error answer becomes an Error with the lab's one-line message. */
export async function labCall(path, body) {
  const base = await labUrl();
  const headers = { "content-type": "application/json", ...(process.env.LAB_TOKEN ? { authorization: `Bearer ${process.env.LAB_TOKEN}` } : {}) };
  const res = await fetch(`${base}${path}`, { method: "POST", headers, body: JSON.stringify(body) });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data?.error?.message ?? `${path}: HTTP ${res.status}`);
  return data;
}
