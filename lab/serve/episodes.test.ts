/**
 * The eval face of the lab server: `POST /lab/tests` and `POST /lab/episode` (what the promptfoo suites' Node
 * provider calls) answer what the in-process {@linkcode EvalService} answers, and a bad arm is a 400 with the lab's
 * one-line message.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LabContext } from "../context.ts";
import { EvalService, type LocalServer, startServer } from "./mod.ts";

let ctx: LabContext;
let service: EvalService;
let server: LocalServer;
let bare: LocalServer;
beforeAll(async () => {
  ctx = await LabContext.open();
  service = await EvalService.open(ctx, { concurrency: 2 });
  server = await startServer({ evals: () => Promise.resolve(service) });
  bare = await startServer();
});
afterAll(async () => {
  await server?.close(); // closes the service
  await bare?.close();
  await ctx?.close();
});

const base = (server: LocalServer) => server.url.replace(/\/v1$/, "");
async function post(server: LocalServer, path: string, body: unknown) {
  const res = await fetch(`${base(server)}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

describe("the lab server's eval face", () => {
  it("generates the same tests as the service and runs one episode of one arm with its SuiteEpisode, answer and trace", async () => {
    const selection = { split: "dev", levels: [1], per_family: 1, max: 2, seeds: [3] };
    const tests = await post(server, "/lab/tests", selection);
    expect(tests).toEqual({ status: 200, body: await service.tests(selection) });
    const [t] = tests.body.tests;
    const arm = { id: "base", model: "lab-mini", strategy: "beta" };
    const r = await post(server, "/lab/episode", { arm, challenge: t.vars.challenge, seed: 3, attempt: 0 });
    expect(r.status).toBe(200);
    const direct = await service.episode({ arm, challenge: t.vars.challenge, seed: 3, attempt: 0 });
    // The same episode over HTTP and in process, but for its wall time.
    const untimed = (x: typeof direct) => ({ ...x, latencyMs: 0, metadata: { ...x.metadata, episode: { ...x.metadata.episode, latencyMs: 0 } } });
    expect(untimed(r.body)).toEqual(untimed(direct));
    expect(r.body.metadata.episode).toMatchObject({ arm: "base", challengeId: t.vars.challenge, seed: 3, model: "lab-mini", strategyId: "beta" });
    expect(r.body.output).toBe(r.body.metadata.episode.answer ?? "");
    expect(r.body.metadata.trace.tools.at(-1)).toBe(r.body.metadata.episode.stopReason === "submitted" ? "submitAnswer" : expect.any(String));
    expect(r.body.metadata.queries).toEqual({ total: r.body.metadata.episode.queries, ok: r.body.metadata.episode.queriesOk });
  });

  it("answers a bad arm, an unknown challenge and a server without the face with one-line errors", async () => {
    const bad = await post(server, "/lab/episode", { arm: { id: "x", strategy: "nope" }, challenge: "whatever", seed: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^arm 'x': no strategy 'nope' in .*strategies\.yaml; known: alpha, beta/);
    const unknown = await post(server, "/lab/episode", { arm: { id: "b" }, challenge: "no/such/challenge", seed: 1 });
    expect(unknown).toMatchObject({ status: 400, body: { error: { message: "episode request: no challenge 'no/such/challenge' in the catalog" } } });
    const off = await post(bare, "/lab/episode", {});
    expect(off.status).toBe(404);
    expect(off.body.error.message).toMatch(/does not serve the eval face/);
  });
});
