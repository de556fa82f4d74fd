/**
 * The sandbox worker process: hosts one {@linkcode Engine} and answers newline-delimited JSON requests on stdin
 * (`{ id, op, ...args }`) with `{ id, ok: true, value }` or `{ id, ok: false, error, kind }` on stdout, one at a
 * time. Started by {@linkcode WorkerProcess}; killed and replaced by it when a request overruns its deadline.
 *
 * After loading, the process caps its own address space (`setrlimit(RLIMIT_AS)`) at its current size plus a
 * margin, so no allocation by DuckDB (folding constants while preparing included) can take the machine's memory:
 * an allocation past the cap fails inside DuckDB ("Out of Memory Error") or ends this process.
 * @module
 */
import { Engine, EngineError, type EngineInit, errorText } from "./_engine.ts";

function vm(field: "VmSize"): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(Deno.readTextFileSync("/proc/self/status"));
  return m ? Number(m[1]) * 1024 : 0;
}

const RLIMIT_AS = 9;

function capAddressSpace(marginBytes: number): number {
  if (marginBytes <= 0 || Deno.build.os !== "linux") return 0;
  const cap = vm("VmSize") + marginBytes;
  const libc = Deno.dlopen("libc.so.6", { setrlimit: { parameters: ["i32", "buffer"], result: "i32" } });
  const limits = new BigUint64Array([BigInt(cap), BigInt(cap)]);
  const rc = libc.symbols.setrlimit(RLIMIT_AS, new Uint8Array(limits.buffer));
  if (rc !== 0) throw new Error(`setrlimit(RLIMIT_AS) failed with ${rc}`);
  return cap;
}

type Request = { id: number; op: string } & Record<string, unknown>;

let engine: Engine | undefined;

function need(): Engine {
  if (!engine) throw new Error("worker not initialised");
  return engine;
}

async function handle(req: Request): Promise<unknown> {
  const a = req as unknown as Record<string, never>;
  switch (req.op) {
    case "init": {
      engine = await Engine.create(a.init as EngineInit);
      const addressCap = capAddressSpace((a.init as EngineInit).addressMarginBytes);
      return { pid: Deno.pid, addressCap, base: engine.base };
    }
    case "end":
      return await need().end();
    case "query":
      return await need().query(a.sql, a.params, a.on);
    case "analyze":
      return await need().analyze(a.sql, a.purpose ?? "write");
    case "stream":
      return await need().stream(a.sql, a.caps);
    case "write":
      return await need().write(a.sql, a.timeoutMs);
    case "accept":
      await need().accept(a.sql, a.audit);
      return need().lastHashes;
    case "reject":
      return await need().reject();
    case "replay":
      return await need().replay(a.entries, a.expected);
    case "snapshot":
      return await need().snapshot();
    default:
      throw new Error(`unknown op '${req.op}'`);
  }
}

const encoder = new TextEncoder();
function send(msg: unknown): void {
  const line = JSON.stringify(msg, (_k, v) => (typeof v === "bigint" ? Number(v) : v));
  const bytes = encoder.encode(`${line}\n`);
  for (let off = 0; off < bytes.length;) off += Deno.stdout.writeSync(bytes.subarray(off));
}

if (import.meta.main) {
  let buffered = "";
  const decoder = new TextDecoder();
  for await (const chunk of Deno.stdin.readable) {
    buffered += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.trim()) continue;
      const req = JSON.parse(line) as Request;
      try {
        send({ id: req.id, ok: true, value: (await handle(req)) ?? null });
      } catch (e) {
        send({ id: req.id, ok: false, error: errorText(e), kind: e instanceof EngineError ? e.kind : "internal" });
      }
    }
  }
  engine?.close();
}
