/**
 * The lab's local OpenAI-compatible server (see `mod.ts` for the public door). One `Deno.serve` handler with
 * a small route table; every body is parsed with zod at the boundary and every error is OpenAI-shaped. The
 * models come from `lab/models/`, the fine-tuning jobs and the registry from `lab/finetune/`. At start the server
 * serves again the models its succeeded jobs trained and the registry's versions (under their provider ids and
 * their version names), loaded by `loadModel`.
 */
import { z } from "zod";
import { existsSync } from "node:fs";
import { type ChatBackend, LAB_EMBED_MODEL, type ModelLoader, placeholderBackend, type Trainer } from "../models/mod.ts";
import { JobError, JobRunner, Registry } from "../finetune/mod.ts";
import { errorResponse, HttpError, json, parseJson, readBody, sleep } from "./_http.ts";
import { type FaultDraw, faultDrawer } from "./_faults.ts";
import { chatResponse, ChatBody, checkContext, toChatRequest } from "./_chat.ts";
import { EmbeddingsBody, embeddingsResponse } from "./_embed.ts";
import { FILE_PURPOSES, FileStore } from "./_files.ts";
import type { EvalService } from "./episodes.ts";
import { isUserError } from "../util/mod.ts";

/** Faults the server injects, to test clients' retries, timeouts and parsing. Rates are shares in [0, 1]. */
export interface FaultOptions {
  /** Added to every request. @default 0 */
  latencyMs?: number;
  /** Share of requests answered 429 with Retry-After. */
  rate429?: number;
  /** Seconds sent in Retry-After (rounded up) and retry-after-ms (exact). @default 1 */
  retryAfterSeconds?: number;
  /** Share of requests answered 500. */
  rate500?: number;
  /** Share of requests that stall `stallMs` before answering (past a client's timeout). */
  stallRate?: number;
  /** @default 30000 */
  stallMs?: number;
  /** Share of tool-call answers whose arguments are not valid JSON. */
  malformedToolArgsRate?: number;
  /** Share of SSE streams cut before `[DONE]` (no finish_reason, no usage). */
  truncateStreamRate?: number;
  /** Requests in flight over this limit are counted (stats.overLimit) and answered 429. */
  concurrencyLimit?: number;
  /** Seed of the fault PRNG: same seed + same request order → same faults. @default 0 */
  seed?: number;
}

/**
 * Options for {@linkcode startServer}.
 * @internal
 */
export interface ServeOptions {
  /** @default "127.0.0.1" */
  hostname?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** When set, requests must send `Authorization: Bearer <token>`. */
  token?: string;
  /** Largest accepted request body. @default 10 MB */
  maxBodyBytes?: number;
  /** Where files and jobs are kept. @default a temp dir, removed on close */
  dataDir?: string;
  faults?: FaultOptions;
  /** Chat models by id. @default the placeholder `lab-mini-placeholder` */
  backends?: Record<string, ChatBackend>;
  /** Trainers by base model id; a job for a model without one fails. @default none */
  trainers?: Record<string, Trainer>;
  /** Loads models trained earlier (the succeeded jobs' and the registry's), served again at start. @default none */
  loadModel?: ModelLoader;
  /** A model registry (DuckDB file) whose versions are served at start, under their provider ids and names. */
  registry?: string;
  /**
   * Serves the eval face (`POST /lab/tests`, `POST /lab/episode`: what the promptfoo suites' Node provider calls),
   * opened on the first such request and closed with the server. @default not served
   */
  evals?: () => Promise<EvalService>;
  /** Closes the server when aborted. */
  signal?: AbortSignal;
}

/**
 * Counters of a running server.
 * @internal
 */
export interface ServerStats {
  requests: number;
  inFlight: number;
  maxInFlight: number;
  overLimit: number;
  /** Injected faults by name: rate429, rate500, stall, malformedToolArgs, truncateStream. */
  faults: Record<string, number>;
}

/** A running server. */
export interface LocalServer extends AsyncDisposable {
  /** Base URL for OpenAI clients, e.g. `http://127.0.0.1:PORT/v1`. */
  url: string;
  /** The port it listens on. */
  port: number;
  /** Its counters so far. */
  stats(): ServerStats;
  /** Graceful: stop accepting, finish in-flight requests, stop running jobs. */
  close(): Promise<void>;
}

interface Ctx {
  req: Request;
  params: string[];
  url: URL;
  body(): Promise<Uint8Array<ArrayBuffer>>;
  faults: FaultDraw | undefined;
}
interface Route {
  method: string;
  pattern: RegExp;
  /** Faults (other than latency) apply. */
  faulty?: boolean;
  handle(ctx: Ctx): Promise<Response> | Response;
}

const ListQuery = z.object({
  after: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10000).optional(),
  purpose: z.string().optional(),
  order: z.enum(["asc", "desc"]).optional(),
});

function query(url: URL) {
  const r = ListQuery.safeParse(Object.fromEntries(url.searchParams));
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new HttpError(400, `Invalid query parameter ${issue.path.join(".")}: ${issue.message}`, "invalid_request_error", issue.path.join("."), "invalid_value");
  }
  return r.data;
}

const Hyper = z.union([z.literal("auto"), z.number().positive()]);
const Hypers = z.looseObject({ batch_size: Hyper.optional(), learning_rate_multiplier: Hyper.optional(), n_epochs: Hyper.optional() });

/** The body of `POST /v1/fine_tuning/jobs`. */
const JobBody = z.looseObject({
  model: z.string().min(1),
  training_file: z.string().min(1),
  validation_file: z.string().nullish(),
  suffix: z.string().max(64).nullish(),
  seed: z.number().int().nullish(),
  hyperparameters: Hypers.nullish(),
  /** OpenAI's current form of the hyperparameters (`hyperparameters` is its deprecated one); supervised only. */
  method: z.looseObject({ type: z.literal("supervised"), supervised: z.looseObject({ hyperparameters: Hypers.nullish() }).nullish() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
});

/** The OpenAI-shaped error of a request the fine-tuning jobs refused: 404 for an unknown job, else 400. */
const jobHttpError = (e: JobError) => new HttpError(e.reason === "not_found" ? 404 : 400, e.message, "invalid_request_error", e.param, e.code);

const modelNotFound = (id: string) =>
  new HttpError(404, `The model '${id}' does not exist or you do not have access to it. GET /v1/models lists the models served here.`, "invalid_request_error", "model", "model_not_found");

/**
 * Serves again what was trained before: the models of the runner's succeeded jobs and the registry's versions (a
 * version also under its name, `lab-mini-all-v2`). A model `load` does not know is left out; one it fails to load
 * is reported on stderr and left out (the server still starts).
 */
async function restoreModels(
  load: ModelLoader,
  jobs: JobRunner,
  registryPath: string | undefined,
  served: (id: string) => ChatBackend | undefined,
  register: (b: ChatBackend) => void,
): Promise<void> {
  const wanted = new Map<string, string[]>(); // provider model id → aliases
  for (const j of jobs.list(undefined, Number.MAX_SAFE_INTEGER).data) if (j.status === "succeeded" && j.fine_tuned_model) wanted.set(j.fine_tuned_model, []);
  if (registryPath && existsSync(registryPath)) {
    for (const v of await (await Registry.open(registryPath)).list()) wanted.set(v.providerModel, [...wanted.get(v.providerModel) ?? [], v.name]);
  }
  for (const [id, aliases] of wanted) {
    let backend = served(id);
    if (!backend) {
      try {
        backend = await load(id);
      } catch (e) {
        console.error(`lab serve: ${id} is not served: ${(e as Error).message.split("\n")[0]}`);
        continue;
      }
      if (!backend) continue;
      register(backend);
    }
    for (const alias of aliases) if (!served(alias)) register({ ...backend, id: alias });
  }
}

/**
 * Starts the local OpenAI-compatible server.
 *
 * @example
 * ```ts
 * await using server = await startServer();
 * const client = new OpenAI({ baseURL: server.url, apiKey: "local" });
 * const r = await client.chat.completions.create({ model: "lab-mini-placeholder", messages: [{ role: "user", content: "hi" }] });
 * ```
 */
export async function startServer(options: ServeOptions = {}): Promise<LocalServer> {
  const faults = options.faults ?? {};
  const maxBody = options.maxBodyBytes ?? 10 * 1024 * 1024;
  const tempDir = options.dataDir ? undefined : await Deno.makeTempDir({ prefix: "lab-serve-" });
  const dataDir = options.dataDir ?? tempDir!;
  const backends = new Map<string, { backend: ChatBackend; created: number }>();
  const register = (b: ChatBackend) => backends.set(b.id, { backend: b, created: Math.floor(Date.now() / 1000) });
  for (const b of Object.values(options.backends ?? { placeholder: placeholderBackend() })) register(b);
  const files = await FileStore.open(`${dataDir}/files`);
  const jobs = await JobRunner.open(`${dataDir}/jobs`, { files, trainers: options.trainers ?? {}, register });
  if (options.loadModel) await restoreModels(options.loadModel, jobs, options.registry, (id) => backends.get(id)?.backend, register);
  const startedAt = Math.floor(Date.now() / 1000);

  // Not req.signal: in Deno it also aborts after every successful response (legacy behaviour, with a warning).
  // Stalls and latency end early when the server closes, so a graceful close never waits for them.
  const closing = new AbortController();
  const stats: ServerStats = { requests: 0, inFlight: 0, maxInFlight: 0, overLimit: 0, faults: {} };
  const countFault = (name: string) => void (stats.faults[name] = (stats.faults[name] ?? 0) + 1);
  const draw = faultDrawer(faults);

  const modelObject = (id: string) => {
    if (id === LAB_EMBED_MODEL) return { id, object: "model", created: startedAt, owned_by: "lab (hashed n-gram embeddings)" };
    const b = backends.get(id);
    if (!b) throw modelNotFound(id);
    return { id, object: "model", created: b.created, owned_by: b.backend.ownedBy ?? "lab" };
  };

  let evals: Promise<EvalService> | undefined;
  const evalService = () => {
    if (!options.evals) throw new HttpError(404, "This server does not serve the eval face: start it with `deno task serve` (lab serve)", "invalid_request_error", null, "unknown_url");
    return evals ??= options.evals();
  };
  /** The eval face's answers: a user error (bad arm, unknown challenge) is a 400 with the lab's one-line message. */
  const evalCall = async (fn: (s: EvalService) => Promise<unknown>) => {
    try {
      return json(await fn(await evalService()));
    } catch (e) {
      if (isUserError(e)) throw new HttpError(400, (e as Error).message, "invalid_request_error", null, "invalid_value");
      throw e;
    }
  };
  const bodyJson = async (body: () => Promise<Uint8Array<ArrayBuffer>>) => {
    try {
      return JSON.parse(new TextDecoder().decode(await body()));
    } catch {
      throw new HttpError(400, "The body must be JSON", "invalid_request_error", null, "invalid_json");
    }
  };

  const routes: Route[] = [
    { method: "GET", pattern: /^\/health$/, handle: () => json({ status: "ok" }) },
    { method: "POST", pattern: /^\/lab\/tests$/, handle: ({ body }) => evalCall(async (s) => s.tests(await bodyJson(body))) },
    { method: "POST", pattern: /^\/lab\/episode$/, handle: ({ body }) => evalCall(async (s) => s.episode(await bodyJson(body), closing.signal)) },
    { method: "GET", pattern: /^\/v1\/models$/, handle: () => json({ object: "list", data: [...backends.keys(), LAB_EMBED_MODEL].map(modelObject) }) },
    { method: "GET", pattern: /^\/v1\/models\/(.+)$/, handle: ({ params }) => json(modelObject(params[0])) },
    {
      method: "POST",
      pattern: /^\/v1\/chat\/completions$/,
      faulty: true,
      async handle({ body, faults: draws }) {
        const parsed = parseJson(await body(), ChatBody);
        const entry = backends.get(parsed.model);
        if (!entry) {
          if (parsed.model === LAB_EMBED_MODEL) throw new HttpError(400, `'${LAB_EMBED_MODEL}' is an embedding model: use /v1/embeddings`, "invalid_request_error", "model", "invalid_value");
          throw modelNotFound(parsed.model);
        }
        const chatReq = toChatRequest(parsed);
        checkContext(chatReq, entry.backend);
        const result = await entry.backend.complete(chatReq);
        const env = { id: `chatcmpl-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`, created: Math.floor(Date.now() / 1000), model: parsed.model };
        return chatResponse(result, parsed, env, draws!, countFault);
      },
    },
    {
      method: "POST",
      pattern: /^\/v1\/embeddings$/,
      faulty: true,
      async handle({ body }) {
        const parsed = parseJson(await body(), EmbeddingsBody);
        if (parsed.model !== LAB_EMBED_MODEL) {
          if (backends.has(parsed.model)) throw new HttpError(400, `'${parsed.model}' is a chat model: embeddings come from '${LAB_EMBED_MODEL}'`, "invalid_request_error", "model", "invalid_value");
          throw modelNotFound(parsed.model);
        }
        return json(embeddingsResponse(parsed));
      },
    },
    { method: "GET", pattern: /^\/v1\/files$/, handle: ({ url }) => json({ object: "list", ...files.list(query(url)) }) },
    {
      method: "POST",
      pattern: /^\/v1\/files$/,
      async handle({ req, body }) {
        const type = req.headers.get("content-type") ?? "";
        if (!type.startsWith("multipart/form-data")) throw new HttpError(400, "Upload a file as multipart/form-data with fields 'file' and 'purpose'", "invalid_request_error", null, "invalid_content_type");
        let form: FormData;
        try {
          form = await new Request("http://local/", { method: "POST", headers: { "content-type": type }, body: await body() }).formData();
        } catch (e) {
          if (e instanceof HttpError) throw e;
          throw new HttpError(400, `Could not parse the multipart body: ${(e as Error).message}`, "invalid_request_error", null, "invalid_multipart");
        }
        const file = form.get("file");
        const purpose = form.get("purpose");
        if (!(file instanceof File)) throw new HttpError(400, "Missing the 'file' field of the upload", "invalid_request_error", "file", "missing_required_parameter");
        if (typeof purpose !== "string" || !(FILE_PURPOSES as readonly string[]).includes(purpose)) {
          throw new HttpError(400, `'purpose' must be one of ${FILE_PURPOSES.join(", ")}, found '${purpose ?? ""}'`, "invalid_request_error", "purpose", "invalid_value");
        }
        return json(await files.create(file.name || "upload", purpose, new Uint8Array(await file.arrayBuffer())));
      },
    },
    { method: "GET", pattern: /^\/v1\/files\/([^/]+)$/, handle: ({ params }) => json(files.get(params[0])) },
    { method: "DELETE", pattern: /^\/v1\/files\/([^/]+)$/, handle: async ({ params }) => json(await files.delete(params[0])) },
    {
      method: "GET",
      pattern: /^\/v1\/files\/([^/]+)\/content$/,
      handle: async ({ params }) => new Response(await files.content(params[0]) as Uint8Array<ArrayBuffer>, { headers: { "content-type": "application/octet-stream" } }),
    },
    {
      method: "GET",
      pattern: /^\/v1\/fine_tuning\/jobs$/,
      handle: ({ url }) => {
        const q = query(url);
        return json({ object: "list", ...jobs.list(q.after, q.limit) });
      },
    },
    {
      method: "POST",
      pattern: /^\/v1\/fine_tuning\/jobs$/,
      async handle({ body }) {
        const { method, ...request } = parseJson(await body(), JobBody);
        return json(jobs.create({ ...request, hyperparameters: request.hyperparameters ?? method?.supervised?.hyperparameters }));
      },
    },
    { method: "GET", pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)$/, handle: ({ params }) => json(jobs.get(params[0])) },
    { method: "POST", pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)\/cancel$/, handle: ({ params }) => json(jobs.cancel(params[0])) },
    {
      method: "GET",
      pattern: /^\/v1\/fine_tuning\/jobs\/([^/]+)\/events$/,
      handle: ({ params, url }) => {
        const q = query(url);
        return json({ object: "list", ...jobs.events(params[0], q.after, q.limit) });
      },
    },
  ];

  async function dispatch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const matching = routes.map((r) => ({ r, m: r.pattern.exec(path) })).filter((x) => x.m);
    if (!matching.length) throw new HttpError(404, `Unknown route ${req.method} ${url.pathname}: this server speaks the OpenAI API under /v1`, "invalid_request_error", null, "unknown_url");
    const hit = matching.find((x) => x.r.method === req.method);
    if (!hit) {
      const allow = [...new Set(matching.map((x) => x.r.method))].join(", ");
      throw new HttpError(405, `Method ${req.method} is not allowed on ${url.pathname}; allowed: ${allow}`, "invalid_request_error", null, "method_not_allowed", { allow });
    }
    if (options.token !== undefined && path !== "/health") {
      const auth = req.headers.get("authorization");
      if (!auth) throw new HttpError(401, "You didn't provide an API key: send 'Authorization: Bearer <token>' with the token the server was started with", "invalid_request_error", null, "missing_api_key");
      if (auth !== `Bearer ${options.token}`) throw new HttpError(401, "Incorrect API key provided: use the token the server was started with", "invalid_request_error", null, "invalid_api_key");
    }
    let bytes: Promise<Uint8Array<ArrayBuffer>> | undefined;
    const body = () => bytes ??= readBody(req, maxBody);
    let draws: FaultDraw | undefined;
    if (hit.r.faulty) {
      await body(); // read before a stall: the client may be gone by the time the stall ends
      if (faults.concurrencyLimit !== undefined && stats.inFlight > faults.concurrencyLimit) {
        stats.overLimit++;
        throw rateLimited(`Too many concurrent requests: the limit is ${faults.concurrencyLimit} in flight`);
      }
      draws = draw();
      if (draws.rate429) {
        countFault("rate429");
        throw rateLimited("Rate limit reached (injected fault); retry after the Retry-After delay");
      }
      if (draws.rate500) {
        countFault("rate500");
        throw new HttpError(500, "The server had an error while processing your request (injected fault)", "server_error", null, null);
      }
      if (draws.stall) {
        countFault("stall");
        await sleep(faults.stallMs ?? 30_000, closing.signal);
      }
    }
    // Simulated model latency applies to requests that are served; rejections (over the concurrency limit, 429,
    // 500) are answered at once, as a gateway in front of a model would.
    if (faults.latencyMs) await sleep(faults.latencyMs, closing.signal);
    return await hit.r.handle({ req, url, params: hit.m!.slice(1).map(decodeURIComponent), faults: draws, body });
  }

  function rateLimited(message: string): HttpError {
    const secs = faults.retryAfterSeconds ?? 1;
    return new HttpError(429, message, "requests", null, "rate_limit_exceeded", { "retry-after": String(Math.ceil(secs)), "retry-after-ms": String(Math.round(secs * 1000)) });
  }

  async function handler(req: Request): Promise<Response> {
    stats.requests++;
    stats.inFlight++;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    try {
      return await dispatch(req);
    } catch (e) {
      if (e instanceof HttpError) return errorResponse(e);
      if (e instanceof JobError) return errorResponse(jobHttpError(e));
      // The client went away mid-request: nobody reads this answer.
      if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.ConnectionReset) return new Response(null, { status: 499 });
      console.error("lab serve: unexpected error:", e);
      return errorResponse(new HttpError(500, `Internal error in the lab server: ${(e as Error).message}`, "server_error"));
    } finally {
      stats.inFlight--;
    }
  }

  const server = Deno.serve({ hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 0, onListen() {} }, handler);
  const port = server.addr.port;
  const host = server.addr.hostname.includes(":") ? `[${server.addr.hostname}]` : server.addr.hostname;
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      closing.abort();
      await server.shutdown();
      await jobs.close();
      if (evals) await evals.then((s) => s.close(), () => {});
      if (tempDir) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    })();
  options.signal?.addEventListener("abort", () => void close(), { once: true });
  return {
    url: `http://${host}:${port}/v1`,
    port,
    stats: () => ({ ...stats, faults: { ...stats.faults } }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
