/**
 * The eval face of the lab: what the promptfoo suites of `evals/` run. {@linkcode EvalService} generates a suite's
 * test cases from the catalog (split, levels, families, instances per family) or from an external challenge folder,
 * resolves an arm spec (base, context from the pattern store, a fine-tuned version, or both) into a lab
 * {@linkcode Arm}, and runs one episode of one arm on the lab's agent runner ({@linkcode runSuite}), returning the
 * {@linkcode SuiteEpisode} with the answer, a trace summary and the patterns given and used. The Deno provider calls
 * it in process; the lab server exposes it as `POST /lab/tests` and `POST /lab/episode` for the Node provider.
 * @module
 */
import { z } from "zod";
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { existsSync } from "node:fs";
import type { LabContext } from "../context.ts";
import { type Challenge, loadCatalog, SPLITS } from "../challenges/mod.ts";
import type { EpisodeRecord, PatternSource, Strategy } from "../agents/mod.ts";
import {
  Budget,
  type ChatModel,
  createChatModel,
  createResponseCache,
  fineTunedLoader,
  getModelConfig,
  LAB_MINI_BASE_WEIGHTS,
  LAB_MINI_FT_DIR,
  labMiniTrainer,
  type ModelConfig,
} from "../models/mod.ts";
import { budgetedRenderer, ingestRun, PatternRetriever, PatternStore } from "../patterns/mod.ts";
import { DEFAULT_REGISTRY_PATH, Registry } from "../finetune/mod.ts";
import { type Arm, type EvalPins, runSuite, type SuiteEpisode } from "../evals/mod.ts";
import { hashSeed, parseTournamentConfig, runTournament } from "../tournament/mod.ts";
import { ConfigError, displayPath, repoPath } from "../util/mod.ts";

/** Where a context arm retrieves from. */
const ContextSpec = z.strictObject({
  /** The pattern store (DuckDB file). @default the lab context's (data/patterns.duckdb) */
  store: z.string().min(1).optional(),
  /**
   * When the store has no eligible pattern, learn first: the lab context's tournament config (configs/tournament.yaml
   * unless the CLI's --config) runs on `train` and its episodes are ingested — offline and deterministic. @default false
   */
  learn: z.boolean().default(false),
});

/** A lab-mini version fine-tuned offline from a committed chat JSONL (deterministic by dataset, seed and epochs). */
const FinetuneSpec = z.strictObject({
  dataset: z.string().min(1),
  seed: z.number().int().default(1),
  epochs: z.number().int().positive().default(3),
  suffix: z.string().regex(/^[a-z0-9-]{1,32}$/, "lower-case letters, digits and '-'").default("evals"),
});

/** One arm of a suite, as the suites' YAML gives it (`providers[].config.arm`). */
export const ArmSpec = z.strictObject({
  /** Unique within the suite; the label of its episodes. */
  id: z.string().regex(/^[A-Za-z0-9_.+-]{1,64}$/, "letters, digits and _ . + -"),
  /** A configs/models.yaml entry. @default lab-mini */
  model: z.string().min(1).default("lab-mini"),
  /** A model-registry version (name or provider id) or a fine-tuned lab-mini id `ft:lab-mini:…`; replaces `model`'s id. */
  version: z.string().min(1).optional(),
  /** Fine-tune lab-mini offline on this dataset (replaces `model`'s id). */
  finetune: FinetuneSpec.optional(),
  /** A configs/strategies.yaml strategy. @default beta */
  strategy: z.string().min(1).default("beta"),
  /** Retrieve examples from the pattern store. @default false */
  context: z.union([z.boolean(), ContextSpec]).default(false),
  /** A hosted model's money cap for this arm, in US dollars. @default the service's (none) */
  budget_usd: z.number().positive().optional(),
  /** A hosted model's record/replay folder (commit it to replay in CI without a key). @default data/cache/models */
  recordings: z.string().min(1).optional(),
}).refine((a) => !(a.version && a.finetune), { message: "give either 'version' or 'finetune', not both" });
/** An arm spec as parsed (defaults applied). */
export type ArmSpec = z.infer<typeof ArmSpec>;

/** How a suite's test cases are chosen. */
export const SuiteSelection = z.strictObject({
  /** The catalog split (ignored with `challenges`). @default dev */
  split: z.enum(SPLITS).default("dev"),
  /** Levels to keep; empty = all. */
  levels: z.array(z.number().int().min(1).max(5)).default([]),
  /** Families to keep; empty = all. */
  families: z.array(z.string()).default([]),
  /** Instances per family, picked deterministically by `pick_seed`. @default 1 */
  per_family: z.number().int().positive().default(1),
  /** Cap on the number of instances (after per_family). */
  max: z.number().int().positive().optional(),
  /** Episode seeds: every arm runs every instance once per seed. @default [1] */
  seeds: z.array(z.number().int()).min(1).default([1]),
  /** Seed of the instance pick. @default 1 */
  pick_seed: z.number().int().default(1),
  /** External challenge files or folders (a researcher's own set, any split) instead of the catalog. */
  challenges: z.array(z.string().min(1)).optional(),
});
/** A selection as parsed (defaults applied). */
export type SuiteSelection = z.infer<typeof SuiteSelection>;

/** One promptfoo test case: the task is the prompt variable, the rest says which episode to run. */
export interface SuiteTest {
  /** `<challenge id> s<seed>`. */
  description: string;
  /** promptfoo's test variables: the task (the prompt) and the episode to run. */
  vars: {
    task: string;
    challenge: string;
    family: string;
    level: number;
    split: string;
    seed: number;
    attempt: number;
    /** The external paths the challenge comes from (absolute), when not from the catalog. */
    challenges?: string[];
  };
}

/** What {@linkcode EvalService.tests} generated. */
export interface GeneratedTests {
  /** One per (instance, seed), in instance-id order. */
  tests: SuiteTest[];
  /** sha256 of the selected instances (id, task, verifier, split): a changed catalog changes it. */
  catalogHash: string;
}

/** One episode to run: an arm on one instance with one seed. */
export const EpisodeRequest = z.strictObject({
  arm: z.unknown(),
  challenge: z.string().min(1),
  seed: z.number().int(),
  /** Index of the seed in the suite's seeds. @default 0 */
  attempt: z.number().int().min(0).default(0),
  challenges: z.array(z.string().min(1)).optional(),
});
/** An episode request as sent. */
export type EpisodeRequest = z.input<typeof EpisodeRequest>;

/** What one episode gave, in promptfoo's provider-response shape: `output`, `tokenUsage`, `cost`, `latencyMs`, `metadata`. */
export interface EpisodeResult {
  /** The submitted answer (JSON), or "" when nothing was submitted. */
  output: string;
  /** Tokens of the episode's model calls (numRequests: its steps). */
  tokenUsage: { total: number; prompt: number; completion: number; numRequests: number };
  /** US dollars. */
  cost: number;
  /** The episode's wall time, verification included. */
  latencyMs: number;
  /** What the lab computed (the assertion reads `verdict`; `episode` converts runs to EvalRun exactly). */
  metadata: {
    /** The lab verifier's judgement of the episode. */
    verdict: { pass: boolean; score: number; reason: string };
    /** Queries run, and those that ran without an error. */
    queries: { total: number; ok: number };
    /** Agent steps taken, and the challenge's optimal step count when known. */
    steps: { taken: number; optimal: number | null };
    /** Ids of the injected examples, and of those the episode used. */
    patterns: { given: string[]; used: string[] };
    /** The episode in the one record shape (exactly what {@linkcode runSuite} gives). */
    episode: SuiteEpisode;
    /** A summary of the trace. */
    trace: {
      stopReason: string;
      stopDetail: string;
      /** Tool names in call order. */
      tools: string[];
      queries: { sql: string; ok: boolean }[];
      modelErrors: string[];
    };
  };
}

/** An arm resolved against the lab: the suite arm, its model, and what it was pinned to. */
export interface ResolvedArm {
  /** The suite arm (strategy, pattern source, renderer). */
  arm: Arm;
  /** Its chat model, ready. */
  chat: ChatModel;
  /** The model id it runs (e.g. `ft:lab-mini:oracle:…`). */
  modelId: string;
  /** sha256 of the context arm's pattern snapshot, or null. */
  patternSnapshot: string | null;
}

/** Options for {@linkcode EvalService.open}. */
export interface EvalServiceOptions {
  /** Sandbox workers (episodes in flight). @default 4 */
  concurrency?: number;
  /** The model registry versions are looked up in. @default data/registry.duckdb */
  registry?: string;
  /** Where offline-built lab-mini versions are written and read. @default data/models/ft */
  ftDir?: string;
  /** Record/replay folder of hosted models' responses. @default data/cache/models */
  cacheDir?: string;
  /** Money cap of the hosted models of this service, in US dollars. @default none */
  budgetUsd?: number;
  /** Close the lab context with the service (when the service opened it for itself). @default false */
  ownContext?: boolean;
}

/** A path of a suite file, relative to the repository root (where the suites are written from). */
const fromRoot = (p: string) => resolve(repoPath(), p);

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A hosted entry needs a key; local and self-hosted ones without `api_key_env` do not. */
function needsKey(entry: ModelConfig): string | undefined {
  const env = (entry as { api_key_env?: string }).api_key_env;
  return env && !Deno.env.get(env) ? env : undefined;
}

/** The lab, wired for the eval suites. Dispose it to close the stores and pools it opened. */
export class EvalService implements AsyncDisposable {
  readonly #arms = new Map<string, Promise<ResolvedArm>>();
  readonly #catalogs = new Map<string, Promise<Challenge[]>>();
  readonly #stores = new Map<string, Promise<PatternStore>>();
  readonly #retrievers: PatternRetriever[] = [];
  readonly #learned = new Map<string, Promise<void>>();
  readonly #budget: Budget;

  private constructor(readonly ctx: LabContext, readonly options: EvalServiceOptions) {
    this.#budget = new Budget(options.budgetUsd === undefined ? {} : { maxCostUsd: options.budgetUsd });
  }

  /** Wraps a ready lab context (the caller keeps owning it). */
  static open(ctx: LabContext, options: EvalServiceOptions = {}): Promise<EvalService> {
    return Promise.resolve(new EvalService(ctx, options));
  }

  /** The instances of a selection (catalog, or external paths), loaded once per source. */
  #catalog(paths: readonly string[] | undefined): Promise<Challenge[]> {
    const key = JSON.stringify(paths ?? null);
    let p = this.#catalogs.get(key);
    if (!p) this.#catalogs.set(key, p = paths?.length ? loadCatalog({ extra: paths.map(fromRoot), origin: "extra" }) : loadCatalog());
    return p;
  }

  /**
   * The test cases of a selection: per family, `per_family` instances picked by a seeded hash (sorted by id), times
   * the seeds. External paths (`challenges`) replace the catalog: their instances of any split.
   */
  async tests(raw: unknown, where = "tests.config"): Promise<GeneratedTests> {
    const parsed = SuiteSelection.safeParse(raw ?? {});
    if (!parsed.success) throw new ConfigError(`${where}: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`);
    const sel = parsed.data;
    const external = sel.challenges?.length ? sel.challenges.map(fromRoot) : undefined;
    for (const p of external ?? []) if (!existsSync(p)) throw new ConfigError(`${where}.challenges: ${p} does not exist; give a challenge file or folder`);
    const all = (await this.#catalog(external)).filter((c) => external || c.split === sel.split);
    const set = external ? `external (${external.map(displayPath).join(", ")})` : sel.split;
    const known = new Set(all.map((c) => c.family));
    sel.families.forEach((f, i) => {
      if (!known.has(f)) throw new ConfigError(`${where}.families[${i}]: no family '${f}' has ${set} instances`);
    });
    const levels = new Set(sel.levels);
    const fams = new Set(sel.families);
    const pool = all.filter((c) => (!levels.size || levels.has(c.level)) && (!fams.size || fams.has(c.family)));
    if (!pool.length) throw new ConfigError(`${where}: the selection matches no ${set} instance (levels ${sel.levels.join(",") || "all"})`);
    const byFamily = new Map<string, Challenge[]>();
    for (const c of pool) byFamily.set(c.family, [...byFamily.get(c.family) ?? [], c]);
    let picked = [...byFamily.values()].flatMap((cs) =>
      cs.map((c) => ({ c, h: hashSeed(`evals:${sel.pick_seed}:${c.id}`) })).sort((a, b) => a.h - b.h || (a.c.id < b.c.id ? -1 : 1)).slice(0, sel.per_family).map((x) => x.c)
    );
    picked.sort((a, b) => (a.id < b.id ? -1 : 1));
    if (sel.max !== undefined) picked = picked.slice(0, sel.max);
    const catalogHash = sha256(JSON.stringify(picked.map((c) => [c.id, c.task, c.split, c.verifier])));
    const tests = picked.flatMap((c) =>
      sel.seeds.map((seed, attempt): SuiteTest => ({
        description: `${c.id} s${seed}`,
        vars: { task: c.task, challenge: c.id, family: c.family, level: c.level, split: c.split, seed, attempt, ...(external ? { challenges: external } : {}) },
      }))
    );
    return { tests, catalogHash };
  }

  /** Resolves an arm spec once (same spec → same resolved arm). Errors name the arm and what to do. */
  arm(raw: unknown): Promise<ResolvedArm> {
    const parsed = ArmSpec.safeParse(raw);
    if (!parsed.success) {
      const id = (raw as { id?: unknown } | undefined)?.id;
      return Promise.reject(new ConfigError(`arm ${typeof id === "string" ? `'${id}'` : "(no id)"}: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`));
    }
    const key = JSON.stringify(parsed.data);
    let p = this.#arms.get(key);
    if (!p) {
      this.#arms.set(key, p = this.#resolve(parsed.data));
      p.catch(() => this.#arms.delete(key));
    }
    return p;
  }

  async #resolve(spec: ArmSpec): Promise<ResolvedArm> {
    const where = `arm '${spec.id}'`;
    const s0 = this.ctx.strategies.strategies[spec.strategy];
    if (!s0) throw new ConfigError(`${where}: no strategy '${spec.strategy}' in ${this.ctx.strategies.source}; known: ${Object.keys(this.ctx.strategies.strategies).join(", ")}`);
    // Every arm plays the same strategy with k ≥ 1 examples; only a context arm has a source, so arms pair exactly.
    const strategy: Strategy = { ...s0, examples: { ...s0.examples, k: Math.max(1, s0.examples.k) } };
    let entry: ModelConfig;
    try {
      entry = getModelConfig(this.ctx.models, spec.model);
    } catch (e) {
      throw new ConfigError(`${where}: ${(e as Error).message}`);
    }
    let chat: ChatModel;
    let modelId = entry.model;
    if (spec.version || spec.finetune) {
      if (entry.provider !== "local" || entry.model !== "lab-mini") throw new ConfigError(`${where}: 'version' and 'finetune' serve lab-mini versions offline; for a hosted fine-tuned model add a configs/models.yaml entry and name it in 'model'`);
      modelId = spec.finetune ? await this.#build(spec.finetune, where) : await this.#version(spec.version!, where);
      const backend = await fineTunedLoader(this.options.ftDir ?? LAB_MINI_FT_DIR)(modelId);
      chat = createChatModel({ ...entry, model: modelId, name: `${spec.model}:${modelId}` }, { backend });
    } else if (entry.provider === "local") {
      chat = await this.ctx.model(spec.model);
    } else {
      chat = this.#hosted(entry, where, spec);
    }
    let patterns: PatternSource | undefined;
    let patternSnapshot: string | null = null;
    if (spec.context) {
      const path = typeof spec.context === "object" && spec.context.store ? fromRoot(spec.context.store) : this.ctx.patternsDb;
      const store = await this.#store(path);
      if (typeof spec.context === "object" && spec.context.learn) await this.#learn(path, store);
      const eligible = await store.list({ turnPass: true, contaminated: false, stale: false }, { limit: 1_000_000 });
      if (!eligible.length) {
        throw new ConfigError(
          `${where}: the pattern store ${displayPath(path)} has no eligible pattern (passed, uncontaminated), so the context arm would equal the base: ` +
            `fill it first (deno task lab patterns lift, or lab tournament then lab patterns ingest)`,
        );
      }
      patternSnapshot = sha256(eligible.map((p) => `${p.id}:${p.compositeFitness}`).sort().join("\n"));
      const retriever = await PatternRetriever.open(store, { configPath: null, config: this.ctx.patterns.retrieval });
      this.#retrievers.push(retriever);
      // An external instance's split is the loader's; asked as "external", retrieval hides nothing but the catalog's
      // own rules (the patterns were learned on the catalog, whose families an external set cannot share).
      patterns = (q) => retriever.source(q.split === "train" || q.split === "dev" || q.split === "test_id" || q.split === "test_ood" ? q : { ...q, split: "external" });
    }
    const arm: Arm = {
      id: spec.id,
      model: modelId,
      strategy,
      ...(patterns ? { patterns, renderExamples: budgetedRenderer(this.ctx.patterns.injection.token_budget) } : {}),
    };
    return { arm, chat, modelId, patternSnapshot };
  }

  /** A hosted model with the record/replay cache: without its key it replays, and refuses when nothing is recorded. */
  #hosted(entry: ModelConfig, where: string, spec: ArmSpec): ChatModel {
    const dir = spec.recordings ? fromRoot(spec.recordings) : this.options.cacheDir ?? repoPath("data/cache/models");
    const missing = needsKey(entry);
    if (missing) {
      const recorded = existsSync(dir) && [...Deno.readDirSync(dir)].length > 0;
      if (!recorded) {
        throw new ConfigError(
          `${where}: model '${entry.name}' needs ${missing} to record its responses and ${displayPath(dir)} holds no recording to replay: ` +
            `export ${missing}=… and run the suite once to record, then commit ${displayPath(dir)}`,
        );
      }
    }
    const cache = createResponseCache({ dir, mode: missing ? "read" : "read-write" });
    const budget = spec.budget_usd === undefined ? this.#budget : new Budget({ maxCostUsd: spec.budget_usd });
    return createChatModel(entry, { cache, budget });
  }

  /** A registry version's provider id (or a lab-mini version id as is). */
  async #version(name: string, where: string): Promise<string> {
    if (name.startsWith("ft:lab-mini:")) return name;
    const path = this.options.registry ?? DEFAULT_REGISTRY_PATH;
    if (!existsSync(path)) throw new ConfigError(`${where}: version '${name}': no model registry at ${displayPath(path)}; fine-tune first (lab finetune run) or give 'finetune'`);
    const registry = await Registry.open(path);
    try {
      return (await registry.get(name)).providerModel;
    } catch (e) {
      throw new ConfigError(`${where}: version '${name}': ${(e as Error).message}`);
    }
  }

  /** Builds (or reuses) the lab-mini version fine-tuned on a dataset; the id is a hash of the weights, so it is reproducible. */
  async #build(ft: z.infer<typeof FinetuneSpec>, where: string): Promise<string> {
    const dataset = fromRoot(ft.dataset);
    if (!existsSync(dataset)) throw new ConfigError(`${where}: finetune.dataset ${ft.dataset} does not exist`);
    const dir = this.options.ftDir ?? LAB_MINI_FT_DIR;
    // The recipe → id map, so a re-run reuses the version instead of training again.
    const recipe = sha256(JSON.stringify([sha256(await Deno.readTextFile(dataset)), ft.seed, ft.epochs, ft.suffix, sha256(await Deno.readTextFile(LAB_MINI_BASE_WEIGHTS))]));
    const index = join(dir, `evals-recipe-${recipe.slice(0, 16)}.txt`);
    if (existsSync(index)) {
      const id = (await Deno.readTextFile(index)).trim();
      if (existsSync(join(dir, `${id.replaceAll(":", "_")}.json`))) return id;
    }
    const trainer = labMiniTrainer(LAB_MINI_BASE_WEIGHTS, { outDir: dir });
    const r = await trainer("lab-mini", dataset, { seed: ft.seed, suffix: ft.suffix, hyperparameters: { n_epochs: ft.epochs }, onEvent: () => {} });
    const tmp = `${index}.${crypto.randomUUID()}.tmp`;
    await Deno.writeTextFile(tmp, r.model);
    await Deno.rename(tmp, index);
    return r.model;
  }

  /** Fills an empty store once from a train tournament of the context's config (idempotent: a re-run adds nothing). */
  #learn(path: string, store: PatternStore): Promise<void> {
    let p = this.#learned.get(path);
    if (!p) {
      this.#learned.set(path, p = (async () => {
        if (await store.count({ turnPass: true, contaminated: false, stale: false })) return;
        const config = parseTournamentConfig({ ...this.ctx.tournament, split: "train" }, "the context arm's tournament");
        const env = await this.ctx.env();
        const run = await runTournament(config, { db: env.db, model: env.model, pool: env.pool, strategies: env.strategies });
        if (run.status !== "completed") throw new Error(`the context arm's train tournament ${run.runId} did not complete (${run.status})`);
        await ingestRun(store, env.db, run.runId);
      })());
    }
    return p;
  }

  #store(path: string): Promise<PatternStore> {
    if (path === this.ctx.patternsDb) return this.ctx.patternStore();
    let p = this.#stores.get(path);
    if (!p) this.#stores.set(path, p = PatternStore.open(path));
    return p;
  }

  /** Runs one episode of one arm (see {@linkcode EpisodeRequest}) on the catalog's sandbox. */
  async episode(raw: unknown, signal?: AbortSignal): Promise<EpisodeResult> {
    const parsed = EpisodeRequest.safeParse(raw);
    if (!parsed.success) throw new ConfigError(`episode request: ${z.prettifyError(parsed.error).replaceAll("\n", "; ")}`);
    const req = parsed.data;
    const resolved = await this.arm(req.arm);
    const challenge = (await this.#catalog(req.challenges)).find((c) => c.id === req.challenge);
    if (!challenge) throw new ConfigError(`episode request: no challenge '${req.challenge}' in ${req.challenges?.length ? req.challenges.map(displayPath).join(", ") : "the catalog"}`);
    let record: EpisodeRecord | undefined;
    const r = await runSuite({ name: `eval ${resolved.arm.id}`, challenges: [challenge], seeds: [req.seed], arms: [resolved.arm] }, {
      models: () => resolved.chat,
      pool: await this.ctx.catalogPool(this.options.concurrency ?? 4),
      fitness: this.ctx.strategies.fitness,
      concurrency: 1,
      ...(signal ? { signal } : {}),
      onRecord: (_arm, rec) => void (record = rec),
    });
    // runSuite numbers attempts within its own seeds; the suite's attempt is the seed's index in the suite.
    const episode = { ...r.episodes[0], attempt: req.attempt };
    const rec = record!;
    return {
      output: episode.answer ?? "",
      tokenUsage: { total: rec.tokens.total, prompt: rec.tokens.input, completion: rec.tokens.output, numRequests: rec.steps.length },
      cost: rec.costUsd,
      latencyMs: rec.latencyMs,
      metadata: {
        verdict: { pass: rec.verdict.pass, score: rec.verdict.score, reason: rec.verdict.reason },
        queries: { total: episode.queries, ok: episode.queriesOk },
        steps: { taken: episode.steps, optimal: episode.optimalSteps },
        patterns: { given: episode.injected, used: episode.used },
        episode,
        trace: {
          stopReason: rec.stopReason,
          stopDetail: rec.stopDetail,
          tools: rec.toolCalls.map((t) => t.name),
          queries: rec.queries.map((q) => ({ sql: q.sql, ok: q.ok })),
          modelErrors: rec.modelErrors,
        },
      },
    };
  }

  /** The pins of a run of these arms on tests with `catalogHash` (arm specs resolved here). */
  async pins(arms: readonly unknown[], catalogHash: string): Promise<EvalPins> {
    const resolved = await Promise.all(arms.map((a) => this.arm(a)));
    const snapshots = [...new Set(resolved.map((r) => r.patternSnapshot).filter((s): s is string => s !== null))].sort();
    return {
      catalogHash,
      models: Object.fromEntries(resolved.map((r) => [r.arm.id, r.modelId])),
      patternSnapshot: snapshots.length ? (snapshots.length === 1 ? snapshots[0] : sha256(snapshots.join("\n"))) : null,
      strategies: Object.fromEntries(resolved.map((r) => [r.arm.id, r.arm.strategy.id])),
    };
  }

  /** Closes the retrievers and the pattern stores it opened, and the lab context when it owns it. */
  async close(): Promise<void> {
    for (const r of this.#retrievers.splice(0)) await r.close();
    for (const p of this.#stores.values()) await p.then((s) => s.close(), () => {});
    this.#stores.clear();
    if (this.options.ownContext) await this.ctx.close();
  }

  /** The same as {@linkcode EvalService.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
