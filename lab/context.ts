/**
 * The composition root: the one place the lab wires itself. {@linkcode LabContext.open} reads every config once
 * (tournament, strategies, models, patterns, roles) and checks them before anything is built or written;
 * {@linkcode LabContext.model} resolves a model by name (the one function that does), {@linkcode LabContext.servedModels}
 * the model ids served under a name (fine-tuned versions) through the context's in-process server; the sandbox pool and the
 * pattern store are opened once, on first use, and closed with the context; the datasets config is read on first
 * use. The CLI, the demo and the notebooks build a context; library functions take the ready objects it hands out.
 *
 * @example
 * ```ts
 * import { LabContext } from "./lab/context.ts";
 * await using ctx = await LabContext.open();
 * const env = await ctx.env();            // { db, model, strategies, pool }
 * const store = await ctx.patternStore();
 * ```
 * @module
 */
import {
  type ChatBackend,
  type ChatModel,
  createChatModel,
  defaultBackends,
  defaultTrainers,
  fineTunedLoader,
  getModelConfig,
  LAB_MINI_FT_DIR,
  loadModelsConfig,
  type ModelsConfig,
  servedChatModel,
} from "./models/mod.ts";
import type { StrategiesConfig } from "./agents/mod.ts";
import { ensureSandbox, SandboxPool } from "./sandbox/mod.ts";
import {
  DEFAULT_DB_PATH,
  loadRunConfigs,
  loadTournamentConfig,
  openConfigPool,
  TOURNAMENT_CONFIG_PATH,
  type TournamentConfig,
} from "./tournament/mod.ts";
import { DEFAULT_PATTERNS_PATH, loadPatternsConfig, PatternStore, type PatternsConfig } from "./patterns/mod.ts";
import type { RolesConfig } from "./tools/mod.ts";
import { DATASETS_CONFIG_FILE, type DatasetsConfig, loadDatasetsConfig } from "./datasets/mod.ts";
import type { EvalEnv } from "./evals/mod.ts";
import { type LocalServer, startServer } from "./serve/mod.ts";

/** Where a context reads and writes. Every path has the lab's default. */
export interface LabContextOptions {
  /** Tournament config. @default configs/tournament.yaml */
  config?: string;
  /** The tournament store. @default data/lab.duckdb */
  db?: string;
  /** The pattern store. @default data/patterns.duckdb */
  patternsDb?: string;
  /** Where sandboxes are built and cached. @default data/sandbox */
  sandboxDir?: string;
  /** Reach every chat model at this OpenAI-compatible URL instead of resolving it from configs/models.yaml. */
  baseUrl?: string;
  /** The datasets config. @default configs/datasets.yaml */
  datasetsConfig?: string;
  /** The fine-tuning side of the context's in-process server ({@linkcode LabContext.server}). */
  serving?: {
    /** Where lab-mini's trainer writes fine-tuned versions and the server loads them from. @default data/models/ft */
    modelsDir?: string;
    /** Where the server keeps its files and jobs (a later server there serves its succeeded jobs' models again). @default a temp dir */
    dataDir?: string;
    /** A model registry (DuckDB file) whose versions the server serves from its start, under provider ids and names. */
    registry?: string;
  };
}

/** The lab, wired once. Dispose it (`await using`) to close what it opened. */
export class LabContext implements AsyncDisposable {
  /** The tournament store's DuckDB file. */
  readonly db: string;
  /** The pattern store's DuckDB file. */
  readonly patternsDb: string;
  #pool?: Promise<SandboxPool>;
  #catalogPool?: Promise<SandboxPool>;
  #store?: Promise<PatternStore>;
  #server?: Promise<LocalServer>;
  #backends?: Promise<Record<string, ChatBackend>>;
  #datasets?: Promise<DatasetsConfig>;
  readonly #models = new Map<string, Promise<ChatModel>>();

  private constructor(
    readonly tournament: TournamentConfig,
    readonly strategies: StrategiesConfig,
    readonly models: ModelsConfig,
    readonly patterns: PatternsConfig,
    readonly roles: RolesConfig,
    readonly options: LabContextOptions,
  ) {
    this.db = options.db ?? DEFAULT_DB_PATH;
    this.patternsDb = options.patternsDb ?? DEFAULT_PATTERNS_PATH;
  }

  /** Reads and checks every config (one-line errors naming the file); builds nothing yet. */
  static async open(options: LabContextOptions = {}): Promise<LabContext> {
    if (options.baseUrl !== undefined && !/^https?:\/\//.test(options.baseUrl)) {
      throw new RangeError(`--base-url must be an http(s) URL, found '${options.baseUrl}'`);
    }
    const tournament = await loadTournamentConfig(options.config ?? TOURNAMENT_CONFIG_PATH);
    const { strategies, roles } = await loadRunConfigs(tournament); // also checks the config's model exists
    const models = await loadModelsConfig();
    const patterns = await loadPatternsConfig();
    return new LabContext(tournament, strategies, models, patterns, roles, options);
  }

  /**
   * The chat model `name` (an entry of configs/models.yaml; default the tournament config's): at `baseUrl` when the
   * context has one; a model of the lab's own server (provider `local`) called in process, or through an in-process
   * server when no built-in backend serves its id (or with `http`, to take the path a hosted model takes); any other
   * provider as configured. One instance per name.
   */
  model(name: string = this.tournament.model, options: { http?: boolean } = {}): Promise<ChatModel> {
    const key = `${name}${options.http ? " http" : ""}`;
    let m = this.#models.get(key);
    if (!m) this.#models.set(key, m = this.#resolve(name, options.http ?? false));
    return m;
  }

  /** `http`: a local model is reached through the in-process server even when it could be called directly. */
  async #resolve(name: string, http: boolean): Promise<ChatModel> {
    const entry = getModelConfig(this.models, name);
    if (this.options.baseUrl !== undefined) return createChatModel(entry, { baseUrl: this.options.baseUrl });
    if (entry.provider !== "local") return createChatModel(entry);
    // The local backends (lab-mini's weights read from disk) are loaded once for every local model of the context.
    const backends = await (this.#backends ??= defaultBackends());
    const backend = Object.values(backends).find((b) => b.id === entry.model);
    if (backend && entry.kind === "chat" && !http) return createChatModel(entry, { backend });
    return createChatModel(entry, { baseUrl: (await this.server()).url });
  }

  /**
   * The context's in-process OpenAI-compatible server, started on first use and closed with the context: the local
   * backends, lab-mini's trainer (fine-tuning jobs write to `serving.modelsDir`), and the fine-tuned versions trained
   * earlier — its data dir's succeeded jobs and the `serving.registry`'s versions — loaded at start.
   */
  server(): Promise<LocalServer> {
    return this.#server ??= (async () => {
      const s = this.options.serving ?? {};
      const modelsDir = s.modelsDir ?? LAB_MINI_FT_DIR;
      return await startServer({
        port: 0,
        backends: await (this.#backends ??= defaultBackends()),
        trainers: defaultTrainers(modelsDir),
        loadModel: fineTunedLoader(modelsDir),
        ...(s.dataDir !== undefined ? { dataDir: s.dataDir } : {}),
        ...(s.registry !== undefined ? { registry: s.registry } : {}),
      });
    })();
  }

  /**
   * The models served under entry `name` of configs/models.yaml, by model id (a fine-tuned version, or the entry's
   * own base): the entry and its URL are resolved once — `options.baseUrl` when given, else the context's `baseUrl`,
   * else for a `local` entry the context's {@linkcode LabContext.server} (started now), else the provider's configured
   * URL —, then each call gives a new client of that id (a suite asks once per model id, as `SuiteDeps.models`).
   *
   * @example
   * ```ts
   * const models = await ctx.servedModels("lab-mini");
   * const tuned = models(version.providerModel); // named "lab-mini:ft:lab-mini:core:…"
   * ```
   */
  async servedModels(name: string, options: { baseUrl?: string } = {}): Promise<(id: string) => ChatModel> {
    const entry = getModelConfig(this.models, name);
    const baseUrl = options.baseUrl ?? this.options.baseUrl ?? (entry.provider === "local" ? (await this.server()).url : undefined);
    return (id) => servedChatModel(entry, id, baseUrl !== undefined ? { baseUrl } : {});
  }

  /** The sandbox pool of the tournament config's sandbox (built on first use), opened once. */
  pool(): Promise<SandboxPool> {
    return this.#pool ??= openConfigPool(this.tournament, this.options.sandboxDir);
  }

  /**
   * A pool on the catalog's own sandbox (tiny scale, the generator's default seed and date: where every catalog
   * instance's verifier was checked), opened once with `size` workers.
   */
  catalogPool(size = 4): Promise<SandboxPool> {
    return this.#catalogPool ??= ensureSandbox({ scale: "tiny" }, this.options.sandboxDir ? { dir: this.options.sandboxDir } : {})
      .then(({ path }) => SandboxPool.open(path, { size }));
  }

  /** The pattern store, opened once. */
  patternStore(): Promise<PatternStore> {
    return this.#store ??= PatternStore.open(this.patternsDb);
  }

  /** The datasets config (curation rules, tiers, stages, validation), read and checked once, on first use. */
  datasets(): Promise<DatasetsConfig> {
    return this.#datasets ??= loadDatasetsConfig(this.options.datasetsConfig ?? DATASETS_CONFIG_FILE);
  }

  /** The ready objects a suite runs with: the store, the model (the config's unless named), the strategies and the pool. */
  async env(options: { signal?: AbortSignal; model?: string } = {}): Promise<EvalEnv> {
    return {
      db: this.db,
      model: await this.model(options.model),
      strategies: this.strategies,
      pool: await this.pool(),
      ...(options.signal ? { signal: options.signal } : {}),
    };
  }

  /** Closes what the context opened (the same as disposing it; for notebooks, where `await using` ends with the cell). */
  async close(): Promise<void> {
    await this[Symbol.asyncDispose]();
  }

  /** Closes what the context opened (sandbox pools, the pattern store, the server). */
  async [Symbol.asyncDispose](): Promise<void> {
    const settle = async <T>(p: Promise<T> | undefined, close: (x: T) => unknown) => {
      if (p) await p.then(close, () => {});
    };
    await settle(this.#pool, (p) => p.close());
    await settle(this.#catalogPool, (p) => p.close());
    await settle(this.#store, (s) => s.close());
    await settle(this.#server, (s) => s.close());
  }
}
