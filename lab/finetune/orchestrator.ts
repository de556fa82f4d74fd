/**
 * The fine-tuning orchestrator (seed 001): one cycle at a time goes collecting → ready → training → evaluating →
 * awaiting_promotion → deployed | failed. Each call of {@linkcode orchestrateOnce} (an hourly cron:
 * `lab finetune orchestrate --once`) advances the open cycle as far as it can and returns.
 *
 * - **collecting**: the curated dataset's counts (gold, total, average quality) are checked against the
 *   thresholds; a cycle opens only on data unlike the last cycle's (by the training files' sha256).
 * - **ready**: the thresholds are met and the stage files are copied into the cycle's folder (what training
 *   reads, whatever later builds write); with `autoFineTune` off it waits for `--fine-tune`.
 * - **training**: seed 000's stages through {@linkcode runStages} under the cycle's run id, so a killed call resumes
 *   its jobs.
 * - **evaluating**: the {@linkcode Evaluate} port compares the candidate with the promoted version (else the base);
 *   with `autoRollback` it first checks the promoted version against the base and rolls it back when its lift's
 *   interval lies below 0.
 * - **awaiting_promotion** → **deployed**: promoted at once when `autoPromote` is on and the lift's interval lies
 *   above 0; otherwise a person promotes (`lab finetune promote`) and the next call records it. A candidate that
 *   is rolled back, retired or passed over by another promotion ends its cycle `failed`.
 *
 * Cycles and their transitions are rows of the registry's DuckDB file (tables `orchestrator_cycles`,
 * `orchestrator_transitions`). Every step writes its outcome before the next starts, and each step is idempotent,
 * so a call killed at any point (SIGKILL included) and called again ends in the same state.
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import { LabError, parseConfigSyntax, parseConfigValue, readConfigText, repoPath, withDuckDB, withTransaction } from "../util/mod.ts";
import { type Curation, readManifest } from "../datasets/mod.ts";
import type { FineTuneClient } from "./client.ts";
import { categorySlug, type ModelVersion, type Registry } from "./registry.ts";
import { datasetHash, runStages, SEED_000_STAGES, type Stage, type StageProgress } from "./stages.ts";

/** The orchestrator's states, in lifecycle order. */
export const ORCHESTRATOR_STATES = ["collecting", "ready", "training", "evaluating", "awaiting_promotion", "deployed", "failed"] as const;
/** Where a cycle is. */
export type OrchestratorState = (typeof ORCHESTRATOR_STATES)[number];

const Unit = z.number().min(0, "must be ≥ 0").max(1, "must be ≤ 1");
const Count = z.number().int("must be an integer").min(0, "must be ≥ 0");
const Thresholds = z.strictObject({ min_gold: Count, min_total: Count, min_avg_quality: Unit });

/** The `orchestrator:` section of configs/finetune.yaml. */
export const OrchestratorConfig = z.strictObject({
  base: z.string().min(1).default("lab-mini"),
  category: z.string().min(1).default("all"),
  /** Seed 001's thresholds. */
  thresholds: Thresholds.default({ min_gold: 500, min_total: 2000, min_avg_quality: 0.85 }),
  /** Scaled for the demo's tiny tournaments (`--demo`). */
  demo_thresholds: Thresholds.default({ min_gold: 0, min_total: 20, min_avg_quality: 0.6 }),
  auto_fine_tune: z.boolean().default(true),
  auto_promote: z.boolean().default(false),
  auto_rollback: z.boolean().default(true),
  /** Where each cycle's stage files are copied. */
  work_dir: z.string().min(1).default("data/orchestrator"),
  poll_ms: z.number().int().positive("must be a positive integer").default(1000),
});
/** A loaded orchestrator config, defaults filled in. */
export type OrchestratorConfig = z.infer<typeof OrchestratorConfig>;

const Share = z.number().gt(0, "must be > 0").max(1, "must be ≤ 1");
const Positive = z.number().int("must be an integer").positive("must be a positive integer");

/**
 * The `ab:` section of configs/finetune.yaml: seed 001's A/B shadow test (lab/evals/ab.ts), the defaults of
 * `lab finetune ab` and `lab finetune orchestrate --eval ab`. The defaults are seed 001's (`DEFAULT_SHADOW_RATE`,
 * `DEFAULT_STREAM_LENGTH` and `SEED_001_AB_CRITERIA` of lab/evals, which this module may not import: a test holds
 * them equal).
 */
export const AbConfig = z.strictObject({
  /** The share of stream tasks the candidate shadows. */
  rate: Share.default(0.2),
  /** Stream tasks at most before the test gives up with need_more_data. */
  stream_length: Positive.default(5000),
  /** The fixed horizon: the decision is taken on exactly this many non-tied comparisons. */
  min_non_tied: Positive.default(100),
  /** The candidate's win rate needed for promotion (below 0.5 a losing candidate could pass). */
  min_win_rate: z.number().min(0.5, "must be ≥ 0.5").max(1, "must be ≤ 1").default(0.65),
  /** The sign test's two-sided p-value must be below this. */
  alpha: z.number().gt(0, "must be > 0").lt(1, "must be < 1").default(0.05),
});
/** A loaded `ab:` section. */
export type AbConfig = z.infer<typeof AbConfig>;

/**
 * The `monitor:` section: the rolling check of a promoted version's success (lab/evals/monitor.ts), the defaults of
 * `lab finetune monitor`; seed 001's (`MONITOR_DEFAULTS` of lab/evals, held equal by a test).
 */
export const MonitorConfig = z.strictObject({
  /** Episodes in the rolling window. */
  window: z.number().int("must be an integer").min(2, "must be ≥ 2").default(50),
  /** The drop below the version's test_id success that counts, in success-rate units. */
  threshold: z.number().min(0, "must be ≥ 0").max(1, "must be ≤ 1").default(0.1),
  /** The two-sided level of the window's interval. */
  level: z.number().gt(0, "must be > 0").lt(1, "must be < 1").default(0.95),
});
/** A loaded `monitor:` section. */
export type MonitorConfig = z.infer<typeof MonitorConfig>;

/** configs/finetune.yaml. */
export const FinetuneConfig = z.strictObject({ orchestrator: OrchestratorConfig.prefault({}), ab: AbConfig.prefault({}), monitor: MonitorConfig.prefault({}) });
/** A loaded configs/finetune.yaml. */
export type FinetuneConfig = z.infer<typeof FinetuneConfig>;

/** The committed fine-tuning config. */
export const FINETUNE_CONFIG_FILE: string = repoPath("configs/finetune.yaml");

/** Reads and validates configs/finetune.yaml (or `path`); a problem is a one-line ConfigError naming the file and field. */
export async function loadFinetuneConfig(path: string = FINETUNE_CONFIG_FILE): Promise<FinetuneConfig> {
  const { text, source } = await readConfigText(path, "fine-tuning config");
  return parseConfigValue(FinetuneConfig, parseConfigSyntax(text, source) ?? {}, source);
}

/** A config from a value (`{}` for every default), validated like the file. */
export function finetuneConfig(value: unknown = {}, source = "fine-tuning config"): FinetuneConfig {
  return parseConfigValue(FinetuneConfig, value, source);
}

/** The counts the thresholds are checked on. */
export interface DatasetStats {
  gold: number;
  total: number;
  avgQuality: number;
}

/** What collecting found: the counts and the stage files (chat JSONL) training would use. */
export interface CollectedDataset {
  stats: DatasetStats;
  files: { core?: string; extended?: string; comprehensive?: string };
}

/** Collects the current curated dataset (e.g. from `lab dataset build`'s folder). */
export type Collect = () => Promise<CollectedDataset>;

/** The counts of a curation's balanced training set. */
export function curationStats(curation: Pick<Curation, "examples">): DatasetStats {
  const xs = curation.examples;
  return {
    gold: xs.filter((x) => x.tier === "gold").length,
    total: xs.length,
    avgQuality: xs.length ? xs.reduce((a, x) => a + x.quality, 0) / xs.length : 0,
  };
}

/** What the evaluating state asks: the candidate's model and the model it is compared with. */
export interface EvaluationRequest {
  /** The provider's model id of the candidate (what the arm runs). */
  model: string;
  /** The registry's name of the candidate, when it has one. */
  version: string | null;
  /** The model the candidate is compared with: the promoted version's provider id, else the base model. */
  baseline: string;
}

/** A candidate's lift over its baseline, with its 95 % interval (null when there are too few clusters). */
export interface EvaluationResult {
  lift: number;
  lo: number | null;
  hi: number | null;
  [detail: string]: unknown;
}

/** The evaluating state's port (the stand-in runs a `lab/evals` suite on `dev`). */
export type Evaluate = (candidate: EvaluationRequest) => Promise<EvaluationResult>;

/** Which way an interval lies: above 0, below 0, or across it (or none). */
export function liftSign(r: Pick<EvaluationResult, "lo" | "hi">): "above" | "below" | "none" {
  if (r.lo !== null && r.lo > 0) return "above";
  if (r.hi !== null && r.hi < 0) return "below";
  return "none";
}

/** One orchestration cycle as stored. */
export interface Cycle {
  id: string;
  n: number;
  state: OrchestratorState;
  base: string;
  category: string;
  stats: DatasetStats | null;
  /** sha256 of the stage files' hashes, by stage. */
  datasetHash: string | null;
  /** The snapshotted stage files, by stage (from `ready` on). */
  files: Record<string, string>;
  runId: string | null;
  version: string | null;
  baseline: string | null;
  /** The promoted version's check against the base (autoRollback). */
  regression: (EvaluationResult & { version: string; rolledBack: boolean }) | null;
  evaluation: EvaluationResult | null;
  reason: string;
  createdAt: string;
  updatedAt: string;
}

/** One state change of a cycle. */
export interface Transition {
  seq: number;
  cycle: string;
  from: OrchestratorState | null;
  to: OrchestratorState;
  reason: string;
  at: string;
}

const SCHEMA = [
  "CREATE SEQUENCE IF NOT EXISTS orchestrator_seq",
  `CREATE TABLE IF NOT EXISTS orchestrator_cycles (
    id VARCHAR PRIMARY KEY, n INTEGER NOT NULL, state VARCHAR NOT NULL, base VARCHAR NOT NULL, category VARCHAR NOT NULL,
    stats JSON, dataset_hash VARCHAR, files JSON NOT NULL, run_id VARCHAR, version VARCHAR, baseline VARCHAR,
    regression JSON, evaluation JSON, reason VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS orchestrator_transitions (
    seq BIGINT PRIMARY KEY, cycle VARCHAR NOT NULL, from_state VARCHAR, to_state VARCHAR NOT NULL, reason VARCHAR NOT NULL, happened_at TIMESTAMP NOT NULL)`,
];

type Row = Record<string, unknown>;
const json = <T>(v: unknown): T | null => v === null || v === undefined ? null : JSON.parse(String(v)) as T;
const TS = (col: string) => `strftime(${col}, '%Y-%m-%dT%H:%M:%S.%gZ')`;
const CYCLE_COLUMNS = `id, n, state, base, category, stats::VARCHAR AS stats, dataset_hash, files::VARCHAR AS files, run_id, version, baseline,
  regression::VARCHAR AS regression, evaluation::VARCHAR AS evaluation, reason, ${TS("created_at")} AS created_at, ${TS("updated_at")} AS updated_at`;

function toCycle(r: Row): Cycle {
  return {
    id: String(r.id),
    n: Number(r.n),
    state: String(r.state) as OrchestratorState,
    base: String(r.base),
    category: String(r.category),
    stats: json(r.stats),
    datasetHash: r.dataset_hash === null ? null : String(r.dataset_hash),
    files: json(r.files) ?? {},
    runId: r.run_id === null ? null : String(r.run_id),
    version: r.version === null ? null : String(r.version),
    baseline: r.baseline === null ? null : String(r.baseline),
    regression: json(r.regression),
    evaluation: json(r.evaluation),
    reason: String(r.reason),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
  };
}

async function rows(con: DuckDBConnection, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await con.runAndReadAll(sql, params as DuckDBValue[])).getRowObjectsJson() as Row[];
}

/** The orchestrator's tables in the registry's DuckDB file. */
export class CycleStore {
  constructor(readonly path: string) {}

  #con<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    return withDuckDB(this.path, (con) => withTransaction(con, fn), {
      name: "the model registry",
      schema: SCHEMA,
      lockHint: "another lab command is using the registry; retry when it ends",
    });
  }

  /** Every cycle of (base, category), oldest first (all with no filter). */
  async cycles(filter: { base?: string; category?: string } = {}): Promise<Cycle[]> {
    const where: string[] = [], params: unknown[] = [];
    if (filter.base !== undefined) where.push(`base = $${params.push(filter.base)}`);
    if (filter.category !== undefined) where.push(`category = $${params.push(categorySlug(filter.category))}`);
    const sql = `SELECT ${CYCLE_COLUMNS} FROM orchestrator_cycles ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY base, category, n`;
    return (await this.#con((con) => rows(con, sql, params))).map(toCycle);
  }

  /** The transitions of a cycle (all without `cycle`), in order. */
  async transitions(cycle?: string): Promise<Transition[]> {
    const rs = await this.#con((con) =>
      rows(con, `SELECT seq, cycle, from_state, to_state, reason, ${TS("happened_at")} AS at FROM orchestrator_transitions ${cycle ? "WHERE cycle = $1" : ""} ORDER BY seq`, cycle ? [cycle] : [])
    );
    return rs.map((r) => ({ seq: Number(r.seq), cycle: String(r.cycle), from: r.from_state === null ? null : String(r.from_state) as OrchestratorState, to: String(r.to_state) as OrchestratorState, reason: String(r.reason), at: String(r.at) }));
  }

  /** Opens cycle n+1 of (base, category) in `collecting`, with its first transition. */
  async open(base: string, category: string, stats: DatasetStats, hash: string, reason: string): Promise<Cycle> {
    return await this.#con(async (con) => {
      const [{ n }] = await rows(con, "SELECT coalesce(max(n), 0) + 1 AS n FROM orchestrator_cycles WHERE base = $1 AND category = $2", [base, category]);
      const id = `${base}/${category}/${n}`;
      await con.run(
        `INSERT INTO orchestrator_cycles VALUES ($1, $2, 'collecting', $3, $4, $5::JSON, $6, '{}'::JSON, NULL, NULL, NULL, NULL, NULL, $7, now(), now())`,
        [id, Number(n), base, category, JSON.stringify(stats), hash, reason] as DuckDBValue[],
      );
      await con.run("INSERT INTO orchestrator_transitions VALUES (nextval('orchestrator_seq'), $1, NULL, 'collecting', $2, now())", [id, reason]);
      return toCycle((await rows(con, `SELECT ${CYCLE_COLUMNS} FROM orchestrator_cycles WHERE id = $1`, [id]))[0]);
    });
  }

  /** Updates a cycle's fields and, when its state changes, records the transition (one transaction). */
  async update(cycle: Cycle, patch: Partial<Omit<Cycle, "id" | "n" | "base" | "category" | "createdAt" | "updatedAt">>): Promise<Cycle> {
    const next: Cycle = { ...cycle, ...patch };
    return await this.#con(async (con) => {
      await con.run(
        `UPDATE orchestrator_cycles SET state = $2, stats = $3::JSON, dataset_hash = $4, files = $5::JSON, run_id = $6, version = $7, baseline = $8,
         regression = $9::JSON, evaluation = $10::JSON, reason = $11, updated_at = now() WHERE id = $1`,
        [
          next.id,
          next.state,
          next.stats && JSON.stringify(next.stats),
          next.datasetHash,
          JSON.stringify(next.files),
          next.runId,
          next.version,
          next.baseline,
          next.regression && JSON.stringify(next.regression),
          next.evaluation && JSON.stringify(next.evaluation),
          next.reason,
        ] as DuckDBValue[],
      );
      if (next.state !== cycle.state) {
        await con.run("INSERT INTO orchestrator_transitions VALUES (nextval('orchestrator_seq'), $1, $2, $3, $4, now())", [next.id, cycle.state, next.state, next.reason]);
      }
      return toCycle((await rows(con, `SELECT ${CYCLE_COLUMNS} FROM orchestrator_cycles WHERE id = $1`, [next.id]))[0]);
    });
  }
}

/** What {@linkcode orchestrateOnce} needs. */
export interface OrchestratorDeps {
  registry: Registry;
  /** Collects the current curated dataset. */
  collect: Collect;
  /** The fine-tuning provider (called only in `training`). */
  client: () => Promise<FineTuneClient> | FineTuneClient;
  evaluate: Evaluate;
}

/** Options for {@linkcode orchestrateOnce}. */
export interface OrchestrateOptions {
  config: OrchestratorConfig;
  /** Uses `demo_thresholds`. */
  demo?: boolean;
  /** Trains a ready cycle even with `auto_fine_tune` off. */
  fineTune?: boolean;
  /** Who the registry's audit names. @default "orchestrator" */
  actor?: string;
  signal?: AbortSignal;
  onTransition?: (cycle: Cycle, from: OrchestratorState) => void;
  onProgress?: (e: StageProgress) => void;
}

/** What one call did. */
export interface OrchestrateResult {
  /** The cycle it worked on last (null when there is none yet). */
  cycle: Cycle | null;
  /** Cycles awaiting promotion whose state it settled (deployed or failed). */
  settled: Cycle[];
  /** One line: what happened or what is waited for. */
  message: string;
}

const OPEN: ReadonlySet<OrchestratorState> = new Set(["collecting", "ready", "training", "evaluating"]);
const fmt = (x: number) => (x >= 0 ? "+" : "") + x.toFixed(3);
/** A lift as one line: `+0.120 [0.050, 0.190]`. */
export function formatLift(r: Pick<EvaluationResult, "lift" | "lo" | "hi">): string {
  return `${fmt(r.lift)} ${r.lo === null || r.hi === null ? "(no interval)" : `[${r.lo.toFixed(3)}, ${r.hi.toFixed(3)}]`}`;
}

function shortfalls(s: DatasetStats, t: z.infer<typeof Thresholds>): string[] {
  return [
    s.gold < t.min_gold ? `${s.gold} gold < ${t.min_gold}` : "",
    s.total < t.min_total ? `${s.total} examples < ${t.min_total}` : "",
    s.avgQuality < t.min_avg_quality ? `average quality ${s.avgQuality.toFixed(3)} < ${t.min_avg_quality}` : "",
  ].filter(Boolean);
}

async function hashOf(files: CollectedDataset["files"]): Promise<{ hash: string; stages: Stage[] }> {
  const stages = SEED_000_STAGES.flatMap((s) => {
    const file = files[s.name as keyof CollectedDataset["files"]];
    return file ? [{ ...s, file }] : [];
  });
  if (!stages.length) throw new LabError("the collected dataset has no stage file (core, extended, comprehensive): build it with 'lab dataset build'");
  const hashes = await Promise.all(stages.map((s) => datasetHash(s.file)));
  return { hash: createHash("sha256").update(stages.map((s, i) => `${s.name}:${hashes[i]}`).join("\n")).digest("hex"), stages };
}

/**
 * Advances the orchestration of (config.base, config.category) as far as it can go now (see the module doc):
 * settles cycles awaiting promotion, opens a cycle on new data, and moves the open cycle through its states until
 * one waits (thresholds unmet, fine-tuning off, a person's promotion) or ends. Safe to call again at any time.
 *
 * @example
 * ```ts
 * const r = await orchestrateOnce({ registry, collect, client: () => fineTuneClient(url), evaluate }, { config: (await loadFinetuneConfig()).orchestrator });
 * console.log(r.message);
 * ```
 */
export async function orchestrateOnce(deps: OrchestratorDeps, options: OrchestrateOptions): Promise<OrchestrateResult> {
  const { registry } = deps, { config } = options;
  const store = new CycleStore(registry.path);
  const base = config.base, category = categorySlug(config.category);
  const thresholds = options.demo ? config.demo_thresholds : config.thresholds;
  const move = async (c: Cycle, patch: Parameters<CycleStore["update"]>[1]): Promise<Cycle> => {
    const next = await store.update(c, patch);
    if (next.state !== c.state) options.onTransition?.(next, c.state);
    return next;
  };

  // Cycles awaiting a person's promotion: promoted → deployed; rolled back, retired or passed over → failed.
  const settled: Cycle[] = [];
  let cycles = await store.cycles({ base, category });
  for (const c of cycles.filter((c) => c.state === "awaiting_promotion")) {
    const v = await registry.get(c.version!);
    if (v.status === "promoted") settled.push(await move(c, { state: "deployed", reason: `${v.name} promoted` }));
    else if (v.status === "rolled_back" || v.status === "retired") settled.push(await move(c, { state: "failed", reason: `${v.name} was ${v.status.replace("_", " ")} before promotion` }));
    else {
      const promoted = await registry.promoted(base, category);
      if (promoted && promoted.createdAt > v.createdAt) settled.push(await move(c, { state: "failed", reason: `passed over: the newer ${promoted.name} is promoted` }));
    }
  }
  cycles = await store.cycles({ base, category });

  let cycle = cycles.find((c) => OPEN.has(c.state)) ?? null;
  if (!cycle) {
    const collected = await deps.collect();
    const { hash } = await hashOf(collected.files);
    const last = cycles.at(-1);
    if (last && last.datasetHash === hash) {
      return { cycle: last, settled, message: `no new data since cycle ${last.id} (${last.state}): nothing to do` };
    }
    cycle = await store.open(base, category, collected.stats, hash, "new data");
    options.onTransition?.(cycle, "collecting");
  }

  for (;;) {
    options.signal?.throwIfAborted();
    switch (cycle.state) {
      case "collecting": {
        const collected = await deps.collect();
        const { hash, stages } = await hashOf(collected.files);
        const short = shortfalls(collected.stats, thresholds);
        if (short.length) {
          const reason = `thresholds not met: ${short.join("; ")}`;
          cycle = await move(cycle, { stats: collected.stats, datasetHash: hash, reason });
          return { cycle, settled, message: `cycle ${cycle.id} collecting: ${reason}` };
        }
        const dir = join(repoPathOf(config.work_dir), base.replace(/[^\w.-]+/g, "_"), category, String(cycle.n));
        await mkdir(dir, { recursive: true });
        const files: Record<string, string> = {};
        for (const s of stages) {
          files[s.name] = join(dir, `${s.name}.jsonl`);
          await copyFile(s.file, files[s.name]);
        }
        const { hash: copied } = await hashOf(files);
        if (copied !== hash) throw new LabError(`the dataset changed while it was copied into ${dir}: run again`);
        const s = collected.stats;
        cycle = await move(cycle, { state: "ready", stats: s, datasetHash: hash, files, reason: `${s.gold} gold, ${s.total} examples, average quality ${s.avgQuality.toFixed(3)}` });
        break;
      }
      case "ready": {
        if (!config.auto_fine_tune && !options.fineTune) {
          return { cycle, settled, message: `cycle ${cycle.id} ready: auto_fine_tune is off ('lab finetune orchestrate --once --fine-tune' trains it)` };
        }
        cycle = await move(cycle, { state: "training", runId: `orch-${base.replace(/[^\w.-]+/g, "_")}-${category}-${cycle.n}-${cycle.datasetHash!.slice(0, 8)}`, reason: "fine-tuning" });
        break;
      }
      case "training": {
        const stages: Stage[] = SEED_000_STAGES.flatMap((s) => cycle!.files[s.name] ? [{ ...s, file: cycle!.files[s.name] }] : []);
        const r = await runStages(await deps.client(), stages, {
          base,
          category,
          registry,
          runId: cycle.runId!,
          ready: false,
          pollMs: config.poll_ms,
          ...(options.signal ? { signal: options.signal } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        });
        if (r.status !== "succeeded") {
          const stage = r.stages.at(-1)!;
          cycle = await move(cycle, { state: "failed", reason: `stage ${stage.stage} ${r.status}${stage.error ? `: ${stage.error}` : ""}` });
          break;
        }
        const promoted = await registry.promoted(base, category);
        cycle = await move(cycle, { state: "evaluating", version: r.final!.name, baseline: promoted?.name ?? null, reason: `trained ${r.final!.name}` });
        break;
      }
      case "evaluating": {
        cycle = await evaluateCycle(cycle, deps, options, move);
        break;
      }
      case "awaiting_promotion":
        return { cycle, settled, message: `cycle ${cycle.id} awaits promotion: ${cycle.reason} ('lab finetune promote ${cycle.version}')` };
      case "deployed":
      case "failed":
        return { cycle, settled, message: `cycle ${cycle.id} ${cycle.state}: ${cycle.reason}` };
    }
  }

  function repoPathOf(p: string): string {
    return p.startsWith("/") ? p : repoPath(p);
  }
}

async function evaluateCycle(
  cycle: Cycle,
  deps: OrchestratorDeps,
  options: OrchestrateOptions,
  move: (c: Cycle, patch: Parameters<CycleStore["update"]>[1]) => Promise<Cycle>,
): Promise<Cycle> {
  const { registry } = deps, { config } = options;
  const actor = { actor: options.actor ?? "orchestrator" };
  const candidate = await registry.get(cycle.version!);
  // autoRollback: the version promoted when training ended, checked against the base first.
  if (config.auto_rollback && cycle.baseline && !cycle.regression) {
    const promoted = await registry.get(cycle.baseline);
    const r = await deps.evaluate({ model: promoted.providerModel, version: promoted.name, baseline: config.base });
    cycle = await move(cycle, { regression: { ...r, version: promoted.name, rolledBack: liftSign(r) === "below" }, reason: `checked ${promoted.name} against ${config.base}: ${formatLift(r)}` });
  }
  if (cycle.regression?.rolledBack) {
    const v = await registry.get(cycle.regression.version);
    if (v.status === "promoted") await registry.rollback(v.name, { ...actor, reason: `autoRollback: lift over ${config.base} ${formatLift(cycle.regression)}` });
  }
  const current: ModelVersion | undefined = cycle.regression?.rolledBack ? await registry.promoted(config.base, config.category) : (cycle.baseline ? await registry.get(cycle.baseline) : undefined);
  if (!cycle.evaluation) {
    const r = await deps.evaluate({ model: candidate.providerModel, version: candidate.name, baseline: current?.providerModel ?? config.base });
    cycle = await move(cycle, { evaluation: r, reason: `${candidate.name} vs ${current?.name ?? config.base}: ${formatLift(r)}` });
  }
  const r = cycle.evaluation!;
  const lift = `lift over ${current?.name ?? config.base} ${formatLift(r)}`;
  // An A/B evaluator (lab/evals/ab.ts) decides: keep_A or need_more_data ends the cycle without a promotion.
  const decision = typeof r.recommendation === "string" ? r.recommendation : null;
  const reasons = Array.isArray(r.reasons) ? `: ${r.reasons.join("; ")}` : "";
  if (decision !== null && decision !== "promote_B") {
    // keep_A retires the candidate; need_more_data leaves it a shadow (a longer stream can decide: --eval-stream).
    await registry.mark(candidate.name, decision === "keep_A" ? "retired" : "shadow", { ...actor, reason: `A/B ${decision}${reasons}` });
    return await move(cycle, { state: "failed", reason: `${lift}; A/B ${decision}${reasons}` });
  }
  // What speaks for the candidate: the A/B's promote_B (with its reasons), else a lift whose interval lies above 0.
  const favoured = decision === "promote_B" || liftSign(r) === "above";
  const verdict = decision === "promote_B" ? `A/B promote_B${reasons}; ${lift}` : lift;
  if (config.auto_promote && favoured) {
    if ((await registry.get(candidate.name)).status !== "promoted") await registry.promote(candidate.name, { ...actor, reason: `autoPromote: ${verdict}` });
    return await move(cycle, { state: "deployed", reason: `promoted ${candidate.name} automatically: ${verdict}` });
  }
  await registry.mark(candidate.name, "awaiting_promotion", { ...actor, reason: verdict });
  const why = favoured ? "auto_promote is off" : "the interval does not lie above 0";
  return await move(cycle, { state: "awaiting_promotion", reason: `${verdict}; ${why}` });
}

/**
 * Collects a folder `lab dataset build` wrote: the counts of `train.jsonl` (its manifest's gold tier, rows and the
 * average quality of its lineage) and its staged sets (`core.jsonl`, `extended.jsonl`, `comprehensive.jsonl`).
 */
export function datasetFolderCollector(folder: string): Collect {
  return async () => {
    const manifest = await readManifest(join(folder, "train.jsonl"));
    const qualities = manifest.lineage.flatMap((l) => (typeof l.quality === "number" ? [l.quality] : []));
    const files: CollectedDataset["files"] = {};
    for (const s of SEED_000_STAGES) {
      const path = join(folder, `${s.name}.jsonl`);
      if (existsSync(path)) files[s.name as keyof CollectedDataset["files"]] = path;
    }
    return {
      stats: { gold: manifest.counts?.byTier?.gold ?? 0, total: manifest.rows, avgQuality: qualities.length ? qualities.reduce((a, b) => a + b, 0) / qualities.length : 0 },
      files,
    };
  };
}
