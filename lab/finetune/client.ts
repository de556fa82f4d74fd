/**
 * A fine-tuning client: upload a file, create a job, follow its events, get the model — the OpenAI fine-tuning
 * API's steps, spoken to any endpoint that offers them. Three API shapes:
 *
 * - `openai`: OpenAI's `/files` and `/fine_tuning/jobs` — OpenAI itself and the lab's own server (lab-mini's
 *   trainer). The learning rate is a multiplier of the provider's own default (`lr / REFERENCE_LR`); a stage
 *   continues from the previous one by naming its model (`ft:…`) as the job's model.
 * - `together`: Together's `/files/upload` and `/fine-tunes`; an absolute `learning_rate`; a stage continues with
 *   `from_checkpoint: <previous job id>`.
 * - `fireworks`: Fireworks' datasets and `supervisedFineTuningJobs` under `/accounts/{account}`; an absolute
 *   `learningRate`; a stage continues with `warmStartFrom: <previous output model>`; no event list (progress only).
 *
 * Requests that meet 429, 5xx or a dropped connection are retried (3 times, backoff from 250 ms). Only the
 * `openai` shape is exercised end to end (against the lab's server); the other two are checked against the
 * request and response shapes of their providers' references, without network.
 * @module
 */
import { basename } from "node:path";
import { LabError } from "../util/mod.ts";
import type { JobStatus } from "./jobs.ts";

/**
 * The learning rate seed 000's stages are written in that a multiplier of 1 stands for: stage learning rates
 * reach `openai`-shaped APIs (and lab-mini) as `learning_rate_multiplier = lr / REFERENCE_LR`.
 */
export const REFERENCE_LR = 1e-5;

/** The API shapes a client speaks. */
export type FineTuneApiShape = "openai" | "together" | "fireworks";

/**
 * A fine-tuning endpoint: where it is, which API shape it speaks, where its key comes from.
 * @internal
 */
export interface FineTuneEndpoint {
  api: FineTuneApiShape;
  baseUrl: string;
  /** Environment variable holding the API key; none for the lab's server. */
  apiKeyEnv?: string;
  /** Environment variable holding the account id (Fireworks). */
  accountEnv?: string;
  /** What differs at this provider, for people. */
  note: string;
}

/** The endpoints the lab knows, by provider name. */
export const FINETUNE_ENDPOINTS = {
  lab: {
    api: "openai",
    baseUrl: "http://127.0.0.1:8787/v1",
    note: "the lab's server (lab serve): lab-mini's trainer, offline; learning_rate_multiplier × 0.1 is lab-mini's step size",
  },
  openai: {
    api: "openai",
    baseUrl: "https://api.openai.com/v1",
    apiKeyEnv: "OPENAI_API_KEY",
    note: "OpenAI is winding down self-serve fine-tuning: available to existing users while it lasts; the learning rate is only a multiplier of OpenAI's own",
  },
  together: {
    api: "together",
    baseUrl: "https://api.together.xyz/v1",
    apiKeyEnv: "TOGETHER_API_KEY",
    note: "LoRA by default; absolute learning_rate; stages continue with from_checkpoint; output model id in output_name",
  },
  fireworks: {
    api: "fireworks",
    baseUrl: "https://api.fireworks.ai/v1",
    apiKeyEnv: "FIREWORKS_API_KEY",
    accountEnv: "FIREWORKS_ACCOUNT_ID",
    note: "datasets instead of files; LoRA; absolute learningRate; stages continue with warmStartFrom; no event list",
  },
} as const satisfies Record<string, FineTuneEndpoint>;

/**
 * A provider the lab knows.
 * @internal
 */
export type FineTuneProvider = keyof typeof FINETUNE_ENDPOINTS;

/** A job as the client reports it, whatever the provider's shape. */
export interface RemoteJob {
  id: string;
  status: JobStatus;
  /** The model it trains (the base, or the version it continues from). */
  model: string;
  fineTunedModel: string | null;
  trainingFile: string;
  error: string | null;
  /** The provider's code for the error (the lab's server: `training_failed`, `no_trainer`, `server_restarted`, …). */
  errorCode: string | null;
  trainedTokens: number | null;
}

/** An event of a job; `data` carries metrics (`step`, `train_loss`, `valid_loss`, …) when it has them. */
export interface RemoteEvent {
  id: string;
  createdAt: number;
  level: string;
  message: string;
  data?: Record<string, unknown>;
}

/**
 * True for a job lost with its server (the lab's server marks the jobs it was running `server_restarted` or
 * `server_shutdown`): it did not fail on its merits, so a resumed run trains the stage again with a new job.
 */
export function isLostJob(j: RemoteJob): boolean {
  return j.status === "failed" && (j.errorCode === "server_restarted" || j.errorCode === "server_shutdown");
}

/** What a job is created from. */
export interface CreateJobParams {
  /** The root base model. */
  model: string;
  /** The previous stage to continue from: its model and its job. */
  from?: { model: string; jobId: string };
  trainingFile: string;
  validationFile?: string;
  suffix?: string;
  seed?: number;
  epochs: number;
  /** An absolute learning rate (seed 000's stages: 1e-5, 5e-6, 1e-6). */
  learningRate: number;
  batchSize?: number;
}

/**
 * The fine-tuning steps of one endpoint.
 * @internal
 */
export interface FineTuneClient {
  /** The provider's name (`lab`, `openai`, …). */
  readonly provider: string;
  /** Uploads a JSONL training file under `filename`; returns its id. */
  upload(path: string, filename?: string): Promise<string>;
  /** The id of a file uploaded earlier under `filename`, if the provider still has it. */
  findFile(filename: string): Promise<string | undefined>;
  createJob(params: CreateJobParams): Promise<RemoteJob>;
  /**
   * The job created earlier on `trainingFile`, if any — one not lost with its server when there is one — so a
   * resumed orchestrator does not create it twice.
   */
  findJob(trainingFile: string): Promise<RemoteJob | undefined>;
  retrieveJob(id: string): Promise<RemoteJob>;
  /** All events of a job so far, oldest first. */
  events(id: string): Promise<RemoteEvent[]>;
  cancelJob(id: string): Promise<RemoteJob>;
}

/**
 * Options for {@linkcode fineTuneClient}.
 * @internal
 */
export interface FineTuneClientOptions {
  /** The API key; default: the endpoint's `apiKeyEnv` (none needed for the lab's server). */
  apiKey?: string;
  /** Fireworks' account id; default: the endpoint's `accountEnv`. */
  account?: string;
  /** The provider's name in the registry. @default the endpoint's key, or "lab" for a bare URL */
  provider?: string;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Retries of a request that meets 429, 5xx or a dropped connection. @default 3 */
  retries?: number;
}

/** An HTTP error of a fine-tuning API: the status and the provider's message. */
export class FineTuneHttpError extends LabError {
  override name = "FineTuneHttpError";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface Http {
  json(method: string, path: string, body?: unknown): Promise<Record<string, unknown>>;
  form(path: string, form: FormData): Promise<Record<string, unknown>>;
}

function http(baseUrl: string, key: string | undefined, options: FineTuneClientOptions): Http {
  const f = options.fetch ?? globalThis.fetch;
  const retries = options.retries ?? 3;
  const root = baseUrl.replace(/\/+$/, "");
  const send = async (method: string, path: string, body: BodyInit | undefined, type?: string): Promise<Record<string, unknown>> => {
    const url = path.startsWith("http") ? path : `${root}${path}`;
    for (let attempt = 0;; attempt++) {
      let res: Response;
      try {
        res = await f(url, { method, body, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(type ? { "content-type": type } : {}) } });
      } catch (e) {
        if (attempt >= retries) throw new FineTuneHttpError(0, `${method} ${url}: ${(e as Error).message} (after ${attempt + 1} attempts)`);
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
        continue;
      }
      const text = await res.text();
      if (res.ok) return text ? JSON.parse(text) : {};
      if ((res.status === 429 || res.status >= 500) && attempt < retries) {
        const after = Number(res.headers.get("retry-after"));
        await new Promise((r) => setTimeout(r, Number.isFinite(after) && after > 0 ? after * 1000 : 250 * 2 ** attempt));
        continue;
      }
      let message = text.slice(0, 300);
      try {
        const j = JSON.parse(text);
        message = j?.error?.message ?? j?.message ?? j?.error ?? message;
      } catch { /* not JSON */ }
      throw new FineTuneHttpError(res.status, `${method} ${url} answered ${res.status}: ${message}`);
    }
  };
  return {
    json: (method, path, body) => send(method, path, body === undefined ? undefined : JSON.stringify(body), body === undefined ? undefined : "application/json"),
    form: (path, form) => send("POST", path, form),
  };
}

async function fileBlob(path: string): Promise<Blob> {
  return new Blob([await Deno.readFile(path)], { type: "application/jsonl" });
}

const num = (v: unknown) => typeof v === "number" && Number.isFinite(v) ? v : null;
const secs = (v: unknown) => typeof v === "number" ? v : typeof v === "string" ? Math.floor(Date.parse(v) / 1000) || 0 : 0;

// ---------------------------------------------------------------------------------------------------------------
// The openai shape: OpenAI and the lab's server.

function openAiJob(j: Record<string, unknown>): RemoteJob {
  const err = j.error as { message?: string; code?: string } | null | undefined;
  return {
    id: String(j.id),
    status: String(j.status) as JobStatus,
    model: String(j.model),
    fineTunedModel: (j.fine_tuned_model as string | null) ?? null,
    trainingFile: String(j.training_file),
    error: err?.message ?? null,
    errorCode: err?.code ?? null,
    trainedTokens: num(j.trained_tokens),
  };
}

function openAiShape(h: Http, provider: string): FineTuneClient {
  return {
    provider,
    async upload(path, filename = basename(path)) {
      const form = new FormData();
      form.append("purpose", "fine-tune");
      form.append("file", await fileBlob(path), filename);
      return String((await h.form("/files", form)).id);
    },
    async findFile(filename) {
      const list = (await h.json("GET", "/files?purpose=fine-tune")).data as { id: string; filename: string }[];
      return list.find((f) => f.filename === filename)?.id;
    },
    async createJob(p) {
      const hyperparameters = {
        n_epochs: p.epochs,
        learning_rate_multiplier: p.learningRate / REFERENCE_LR,
        ...(p.batchSize ? { batch_size: p.batchSize } : {}),
      };
      return openAiJob(
        await h.json("POST", "/fine_tuning/jobs", {
          model: p.from?.model ?? p.model,
          training_file: p.trainingFile,
          ...(p.validationFile ? { validation_file: p.validationFile } : {}),
          ...(p.suffix ? { suffix: p.suffix } : {}),
          ...(p.seed !== undefined ? { seed: p.seed } : {}),
          method: { type: "supervised", supervised: { hyperparameters } },
        }),
      );
    },
    async findJob(trainingFile) {
      const hits: RemoteJob[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await h.json("GET", `/fine_tuning/jobs?limit=100${after ? `&after=${encodeURIComponent(after)}` : ""}`);
        const data = page.data as Record<string, unknown>[];
        hits.push(...data.filter((j) => j.training_file === trainingFile).map(openAiJob));
        if (!page.has_more || !data.length) break;
        after = String(data.at(-1)!.id);
      }
      return hits.find((j) => !isLostJob(j)) ?? hits[0];
    },
    retrieveJob: async (id) => openAiJob(await h.json("GET", `/fine_tuning/jobs/${encodeURIComponent(id)}`)),
    async events(id) {
      const out: RemoteEvent[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await h.json("GET", `/fine_tuning/jobs/${encodeURIComponent(id)}/events?limit=1000${after ? `&after=${encodeURIComponent(after)}` : ""}`);
        const data = page.data as { id: string; created_at: number; level: string; message: string; data?: Record<string, unknown> }[];
        out.push(...data.map((e) => ({ id: e.id, createdAt: e.created_at, level: e.level, message: e.message, ...(e.data ? { data: e.data } : {}) })));
        if (!page.has_more || !data.length) break;
        after = data.at(-1)!.id;
      }
      return out.reverse(); // the API lists newest first
    },
    cancelJob: async (id) => openAiJob(await h.json("POST", `/fine_tuning/jobs/${encodeURIComponent(id)}/cancel`)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The together shape.

const TOGETHER_STATUS: Record<string, JobStatus> = {
  pending: "queued",
  queued: "queued",
  running: "running",
  compressing: "running",
  uploading: "running",
  cancel_requested: "running",
  cancelled: "cancelled",
  error: "failed",
  user_error: "failed",
  completed: "succeeded",
};

function togetherJob(j: Record<string, unknown>): RemoteJob {
  const status = TOGETHER_STATUS[String(j.status)] ?? "running";
  return {
    id: String(j.id),
    status,
    model: String(j.model),
    fineTunedModel: status === "succeeded" ? String(j.output_name ?? j.model_output_name ?? "") || null : null,
    trainingFile: String(j.training_file),
    error: status === "failed" ? String(j.error ?? j.message ?? j.status) : null,
    errorCode: status === "failed" ? String(j.status) : null,
    trainedTokens: num(j.token_count),
  };
}

function togetherShape(h: Http, provider: string): FineTuneClient {
  return {
    provider,
    async upload(path, filename = basename(path)) {
      const form = new FormData();
      form.append("purpose", "fine-tune");
      form.append("file_name", filename);
      form.append("file", await fileBlob(path), filename);
      return String((await h.form("/files/upload", form)).id);
    },
    async findFile(filename) {
      const list = (await h.json("GET", "/files")).data as { id: string; filename: string }[];
      return list.find((f) => f.filename === filename)?.id;
    },
    async createJob(p) {
      return togetherJob(
        await h.json("POST", "/fine-tunes", {
          model: p.model,
          training_file: p.trainingFile,
          ...(p.validationFile ? { validation_file: p.validationFile } : {}),
          ...(p.suffix ? { suffix: p.suffix } : {}),
          n_epochs: p.epochs,
          learning_rate: p.learningRate,
          ...(p.batchSize ? { batch_size: p.batchSize } : {}),
          ...(p.from ? { from_checkpoint: p.from.jobId } : {}),
        }),
      );
    },
    async findJob(trainingFile) {
      const hit = ((await h.json("GET", "/fine-tunes")).data as Record<string, unknown>[]).find((j) => j.training_file === trainingFile);
      return hit ? togetherJob(hit) : undefined;
    },
    retrieveJob: async (id) => togetherJob(await h.json("GET", `/fine-tunes/${encodeURIComponent(id)}`)),
    async events(id) {
      const data = (await h.json("GET", `/fine-tunes/${encodeURIComponent(id)}/events`)).data as Record<string, unknown>[];
      return data.map((e, i) => {
        const step = num(e.step);
        const loss = num(e.train_loss ?? e.loss);
        return {
          id: `${id}:${i}`,
          createdAt: secs(e.created_at),
          level: String(e.level ?? "info"),
          message: String(e.message ?? e.type ?? ""),
          ...(step !== null && loss !== null ? { data: { step, train_loss: loss } } : {}),
        };
      });
    },
    cancelJob: async (id) => togetherJob(await h.json("POST", `/fine-tunes/${encodeURIComponent(id)}/cancel`)),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The fireworks shape.

const FIREWORKS_STATE: Record<string, JobStatus> = {
  JOB_STATE_CREATING: "validating_files",
  JOB_STATE_VALIDATING: "validating_files",
  JOB_STATE_PENDING: "queued",
  JOB_STATE_RUNNING: "running",
  JOB_STATE_WRITING_RESULTS: "running",
  JOB_STATE_COMPLETED: "succeeded",
  JOB_STATE_FAILED: "failed",
  JOB_STATE_EXPIRED: "failed",
  JOB_STATE_CANCELLED: "cancelled",
};

function fireworksJob(j: Record<string, unknown>): RemoteJob {
  const status = FIREWORKS_STATE[String(j.state)] ?? "running";
  const st = j.status as { message?: string; code?: string } | undefined;
  return {
    id: String(j.name),
    status,
    model: String(j.warmStartFrom || j.baseModel || ""),
    fineTunedModel: status === "succeeded" ? String(j.outputModel ?? "") || null : null,
    trainingFile: String(j.dataset),
    error: status === "failed" ? st?.message ?? String(j.state) : null,
    errorCode: status === "failed" ? st?.code ?? String(j.state) : null,
    trainedTokens: num((j.jobProgress as { inputTokens?: unknown } | undefined)?.inputTokens),
  };
}

/** A Fireworks resource id: lower case, `[a-z0-9-]`, at most 63 characters. */
const fireworksId = (name: string) => name.toLowerCase().replace(/\.jsonl?$/, "").replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 63);

function fireworksShape(h: Http, provider: string, account: string): FineTuneClient {
  const acct = `/accounts/${encodeURIComponent(account)}`;
  const findFile = async (filename: string) => {
    try {
      return String((await h.json("GET", `${acct}/datasets/${fireworksId(filename)}`)).name);
    } catch (e) {
      if (e instanceof FineTuneHttpError && e.status === 404) return undefined;
      throw e;
    }
  };
  return {
    provider,
    findFile,
    async upload(path, filename = basename(path)) {
      const id = fireworksId(filename);
      await h.json("POST", `${acct}/datasets`, { datasetId: id, dataset: { userUploaded: {} } });
      const form = new FormData();
      form.append("file", await fileBlob(path), filename);
      await h.form(`${acct}/datasets/${id}:upload`, form);
      return `accounts/${account}/datasets/${id}`;
    },
    async createJob(p) {
      return fireworksJob(
        await h.json("POST", `${acct}/supervisedFineTuningJobs`, {
          dataset: p.trainingFile,
          ...(p.from ? { warmStartFrom: p.from.model } : { baseModel: p.model }),
          ...(p.validationFile ? { evaluationDataset: p.validationFile } : {}),
          ...(p.suffix ? { displayName: p.suffix } : {}),
          epochs: p.epochs,
          learningRate: p.learningRate,
          ...(p.batchSize ? { batchSize: p.batchSize } : {}),
        }),
      );
    },
    async findJob(trainingFile) {
      const jobs = ((await h.json("GET", `${acct}/supervisedFineTuningJobs?pageSize=200`)).supervisedFineTuningJobs ?? []) as Record<string, unknown>[];
      const hit = jobs.find((j) => j.dataset === trainingFile);
      return hit ? fireworksJob(hit) : undefined;
    },
    retrieveJob: async (id) => fireworksJob(await h.json("GET", `/${id}`)),
    events: () => Promise.resolve([]),
    cancelJob: async (id) => fireworksJob(await h.json("POST", `/${id}:cancel`)),
  };
}

/**
 * A client for `endpoint`: a provider the lab knows (`"lab"`, `"openai"`, `"together"`, `"fireworks"`), an
 * endpoint of your own, or the base URL of any server with OpenAI's fine-tuning API (the lab's server in tests).
 * A missing API key or account is an error naming the environment variable to set.
 *
 * @example
 * ```ts
 * const client = fineTuneClient(server.url);                  // the lab's server
 * const together = fineTuneClient("together");                // TOGETHER_API_KEY from the environment
 * const file = await client.upload("data/datasets/core.jsonl");
 * const job = await client.createJob({ model: "lab-mini", trainingFile: file, epochs: 5, learningRate: 1e-5 });
 * ```
 */
export function fineTuneClient(endpoint: FineTuneProvider | FineTuneEndpoint | string, options: FineTuneClientOptions = {}): FineTuneClient {
  let ep: FineTuneEndpoint;
  let name: string;
  if (typeof endpoint !== "string") [ep, name] = [endpoint, options.provider ?? "custom"];
  else if (Object.hasOwn(FINETUNE_ENDPOINTS, endpoint)) [ep, name] = [FINETUNE_ENDPOINTS[endpoint as FineTuneProvider], endpoint];
  else if (/^https?:\/\//.test(endpoint)) [ep, name] = [{ api: "openai", baseUrl: endpoint, note: "an OpenAI-compatible server" }, options.provider ?? "lab"];
  else throw new RangeError(`unknown fine-tuning endpoint '${endpoint}': use one of ${Object.keys(FINETUNE_ENDPOINTS).join(", ")} or a base URL (http://…/v1)`);
  const key = options.apiKey ?? (ep.apiKeyEnv ? Deno.env.get(ep.apiKeyEnv) : undefined);
  if (ep.apiKeyEnv && !key) throw new LabError(`${name} fine-tuning needs an API key: export ${ep.apiKeyEnv}=<key>`);
  const h = http(ep.baseUrl, key, options);
  if (ep.api === "together") return togetherShape(h, name);
  if (ep.api === "fireworks") {
    const account = options.account ?? (ep.accountEnv ? Deno.env.get(ep.accountEnv) : undefined);
    if (!account) throw new LabError(`${name} fine-tuning needs an account id: export ${ep.accountEnv ?? "FIREWORKS_ACCOUNT_ID"}=<account>`);
    return fireworksShape(h, name, account);
  }
  return openAiShape(h, name);
}
