/** HTTP helpers of the local server: OpenAI-shaped errors, JSON responses, bounded body reads, zod parsing. */
import { z } from "zod";

/** An error answered to the client in OpenAI's shape `{error:{message,type,param,code}}`. */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    message: string,
    readonly type = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** A JSON response. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** The response of an {@linkcode HttpError}. */
export function errorResponse(e: HttpError): Response {
  return json({ error: { message: e.message, type: e.type, param: e.param, code: e.code } }, e.status, e.headers);
}

/** Reads the request body, refusing (413) more than `maxBytes` whether or not Content-Length is sent. */
export async function readBody(req: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = () => new HttpError(413, `Request body too large: the limit is ${maxBytes} bytes`, "invalid_request_error", null, "request_too_large");
  const declared = Number(req.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) throw tooLarge();
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body) {
    size += chunk.byteLength;
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Parses a JSON body with `schema`; malformed JSON or a schema failure is a 400 naming the field. */
export function parseJson<S extends z.ZodType>(bytes: Uint8Array, schema: S): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new HttpError(400, `We could not parse the JSON body of your request: ${(e as Error).message}`, "invalid_request_error", null, "invalid_json");
  }
  return parseValue(raw, schema);
}

/** Validates a value with `schema`; failure is a 400 whose `param` is the first failing path. */
export function parseValue<S extends z.ZodType>(raw: unknown, schema: S): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = issue.path.length ? issue.path.map(String).join(".") : null;
  throw new HttpError(400, `Invalid request: ${z.prettifyError(r.error).replace(/\n\s*/g, " ")}`, "invalid_request_error", param, issue.code === "invalid_type" && issue.input === undefined ? "missing_required_parameter" : "invalid_value");
}

/** Waits `ms`, ending early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || ms <= 0) return resolve();
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
