/**
 * The parent side of a sandbox worker process (`_worker.ts`): spawns it, sends requests one at a time, and kills
 * it when a request overruns its deadline or the process dies (then every request in flight fails with
 * {@linkcode WorkerLost}). The worker's peak memory is read from `/proc` before it is killed.
 * @module
 */
import { fileURLToPath } from "node:url";

const WORKER = fileURLToPath(new URL("./_worker.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../deno.json", import.meta.url));
const ENCODER = new TextEncoder();

/** The worker process is gone (killed on overrun, or it died); its instance and episode state are lost. */
export class WorkerLost extends Error {
  constructor(message: string, readonly reason: "timeout" | "died") {
    super(message);
    this.name = "WorkerLost";
  }
}

/** An error the worker reported (its engine has already recovered, unless kind is "broken"). */
export class WorkerError extends Error {
  constructor(message: string, readonly kind: string) {
    super(message);
    this.name = "WorkerError";
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** Memory of a worker process, in bytes. */
export interface WorkerMemory {
  rss: number;
  peak: number;
}

/** One sandbox worker process. */
export class WorkerProcess {
  #next = 1;
  readonly #pending = new Map<number, Pending>();
  #buffer = "";
  #alive = true;
  #lastPeak = 0;
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #stderr: string[] = [];
  readonly exited: Promise<void>;

  private constructor() {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-prompt", "--config", CONFIG, "--allow-all", WORKER],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      // Fewer malloc arenas: less address space reserved per thread under the worker's RLIMIT_AS.
      env: { MALLOC_ARENA_MAX: "2" },
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    // An idle worker must not keep the lab's process alive; one with a request in flight must.
    this.#child.unref();
    void this.#read();
    void this.#readErr();
    this.exited = this.#child.status.then(() => this.#lost(new WorkerLost(this.#diedMessage(), "died")));
  }

  /** Spawns a worker process (not yet initialised). */
  static spawn(): WorkerProcess {
    return new WorkerProcess();
  }

  get pid(): number {
    return this.#child.pid;
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Peak resident memory seen for this process (read at each `memory()` and before a kill). */
  get peakBytes(): number {
    return this.#lastPeak;
  }

  /**
   * Sends a request. With `deadlineMs`, the process is killed if no answer arrives in time and the call rejects
   * with {@linkcode WorkerLost} ("timeout").
   */
  request<T>(op: string, args: Record<string, unknown> = {}, deadlineMs?: number): Promise<T> {
    if (!this.#alive) return Promise.reject(new WorkerLost("the sandbox worker process is gone", "died"));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        this.#pending.delete(id);
        if (this.#pending.size === 0 && this.#alive) this.#child.unref();
      };
      if (this.#pending.size === 0) this.#child.ref();
      this.#pending.set(id, {
        resolve: (v) => (done(), resolve(v as T)),
        reject: (e) => (done(), reject(e)),
      });
      if (deadlineMs !== undefined) {
        timer = setTimeout(() => this.kill(new WorkerLost(`no answer within ${deadlineMs} ms; the sandbox worker was killed`, "timeout")), deadlineMs);
      }
      const line = ENCODER.encode(`${JSON.stringify({ id, op, ...args })}\n`);
      this.#writer.write(line).catch((e) => this.#lost(new WorkerLost(`cannot reach the sandbox worker: ${e}`, "died")));
    });
  }

  /** Current and peak resident memory of the process. */
  memory(): WorkerMemory {
    const m = readProcMemory(this.pid);
    this.#lastPeak = Math.max(this.#lastPeak, m.peak);
    return m;
  }

  /** Kills the process; requests in flight reject with `reason`. */
  kill(reason: WorkerLost = new WorkerLost("the sandbox worker was closed", "died")): void {
    if (!this.#alive) return;
    try {
      this.memory();
    } catch {
      // already gone
    }
    this.#lost(reason);
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }

  /** Closes stdin so the worker exits by itself, and kills it if it has not after a moment. */
  close(): void {
    if (!this.#alive) return;
    this.#writer.close().catch(() => {});
    const t = setTimeout(() => this.kill(), 2000);
    void this.exited.then(() => clearTimeout(t));
  }

  #lost(e: WorkerLost): void {
    if (!this.#alive) return;
    this.#alive = false;
    for (const p of [...this.#pending.values()]) p.reject(e);
    this.#pending.clear();
  }

  #diedMessage(): string {
    const err = this.#stderr.join("").trim().split("\n").filter(Boolean).at(-1);
    return `the sandbox worker process exited${err ? `: ${err.slice(0, 300)}` : ""}`;
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.#child.stdout) {
        this.#buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = this.#buffer.indexOf("\n")) >= 0) {
          const line = this.#buffer.slice(0, nl);
          this.#buffer = this.#buffer.slice(nl + 1);
          const msg = JSON.parse(line) as { id: number; ok: boolean; value?: unknown; error?: string; kind?: string };
          const p = this.#pending.get(msg.id);
          if (!p) continue;
          if (msg.ok) p.resolve(msg.value);
          else p.reject(new WorkerError(msg.error ?? "unknown error", msg.kind ?? "internal"));
        }
      }
    } catch {
      // the process went away; `exited` reports it
    }
  }

  async #readErr(): Promise<void> {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of this.#child.stderr) {
        this.#stderr.push(decoder.decode(chunk, { stream: true }));
        if (this.#stderr.length > 50) this.#stderr.splice(0, this.#stderr.length - 50);
      }
    } catch {
      // gone
    }
  }
}

function readProcMemory(pid: number): WorkerMemory {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (f: string) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}
