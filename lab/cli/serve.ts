/**
 * `lab serve`: the local OpenAI-compatible server, in the foreground until Ctrl-C (SIGINT) or SIGTERM, then a
 * graceful shutdown that prints the request stats. It serves again the fine-tuned lab-mini versions of the model
 * registry and of its data folder's succeeded jobs.
 */
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { intOption, UsageError } from "./_args.ts";
import { EvalService, startServer, type FaultOptions } from "../serve/mod.ts";
import { LabContext } from "../context.ts";
import { defaultBackends, defaultTrainers, fineTunedLoader } from "../models/mod.ts";
import { DEFAULT_REGISTRY_PATH } from "../finetune/mod.ts";
import { displayPath } from "../util/mod.ts";

function rateOption(args: ParsedArgs, name: string): number | undefined {
  const raw = args.values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !(n >= 0 && n <= 1)) throw new UsageError(`--${name} must be a share between 0 and 1, found '${raw}'`);
  return n;
}

function optionalInt(args: ParsedArgs, name: string, min: number): number | undefined {
  return args.values[name] === undefined ? undefined : intOption(args, name, min);
}

export const SERVE_COMMANDS: CommandSpec[] = [
  {
    name: "serve",
    summary: "Serve the lab's models behind an OpenAI-compatible API (until Ctrl-C)",
    options: {
      port: { type: "string", description: "Port (0 picks a free one)", default: "8787" },
      host: { type: "string", description: "Interface to listen on", default: "127.0.0.1" },
      "token-env": { type: "string", description: "Require 'Authorization: Bearer <token>', the token read from this environment variable" },
      "data-dir": { type: "string", description: "Folder for uploaded files and fine-tuning jobs (default: a temp dir removed on exit)" },
      registry: { type: "string", description: "Model registry whose fine-tuned versions are served (when the file exists)", default: displayPath(DEFAULT_REGISTRY_PATH) },
      "latency-ms": { type: "string", description: "Latency added to every request, in ms" },
      "rate-429": { type: "string", description: "Share of chat/embedding requests answered 429 with Retry-After" },
      "retry-after": { type: "string", description: "Seconds sent in Retry-After for injected 429s", default: "1" },
      "rate-500": { type: "string", description: "Share of chat/embedding requests answered 500" },
      "concurrency-limit": { type: "string", description: "Requests in flight over this are counted and answered 429" },
      "fault-seed": { type: "string", description: "Seed of the fault draws (same seed + order → same faults)", default: "0" },
    },
    examples: [
      "deno task serve",
      "LAB_TOKEN=secret deno task serve --port 0 --token-env LAB_TOKEN",
      "deno task serve --rate-429 0.2 --latency-ms 50 --fault-seed 7",
    ],
    async run(args) {
      let token: string | undefined;
      const tokenEnv = args.values["token-env"];
      if (typeof tokenEnv === "string") {
        token = Deno.env.get(tokenEnv);
        if (!token) throw new UsageError(`--token-env names ${tokenEnv}, which is not set or empty: export ${tokenEnv}=<token> first`);
      }
      const retryAfter = Number(args.values["retry-after"]);
      if (!(retryAfter >= 0)) throw new UsageError(`--retry-after must be a number of seconds ≥ 0, found '${args.values["retry-after"]}'`);
      const faults: FaultOptions = {
        latencyMs: optionalInt(args, "latency-ms", 0),
        rate429: rateOption(args, "rate-429"),
        retryAfterSeconds: retryAfter,
        rate500: rateOption(args, "rate-500"),
        concurrencyLimit: optionalInt(args, "concurrency-limit", 1),
        seed: intOption(args, "fault-seed", 0),
      };
      const server = await startServer({
        hostname: String(args.values.host),
        port: intOption(args, "port", 0),
        token,
        dataDir: args.values["data-dir"] as string | undefined,
        faults,
        backends: await defaultBackends(),
        trainers: defaultTrainers(),
        loadModel: fineTunedLoader(),
        registry: String(args.values.registry),
        // The eval face (POST /lab/episode) of the promptfoo suites' Node provider, wired on first use.
        evals: async () => EvalService.open(await LabContext.open(), { ownContext: true, registry: String(args.values.registry) }),
      });
      console.log(`lab serve: listening on ${server.url}${token ? " (bearer token required)" : ""} — Ctrl-C to stop`);
      const stop = Promise.withResolvers<string>();
      const onInt = () => stop.resolve("SIGINT");
      const onTerm = () => stop.resolve("SIGTERM");
      Deno.addSignalListener("SIGINT", onInt);
      Deno.addSignalListener("SIGTERM", onTerm);
      const signal = await stop.promise;
      Deno.removeSignalListener("SIGINT", onInt);
      Deno.removeSignalListener("SIGTERM", onTerm);
      console.log(`lab serve: ${signal}, finishing in-flight requests…`);
      await server.close();
      const s = server.stats();
      const faultText = Object.entries(s.faults).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
      console.log(`lab serve: stopped — ${s.requests} requests, max ${s.maxInFlight} in flight, ${s.overLimit} over the limit, faults: ${faultText}`);
    },
  },
];
