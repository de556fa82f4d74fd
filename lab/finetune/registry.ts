/**
 * The model registry, a DuckDB file (default `data/registry.duckdb`): fine-tuned versions named
 * `lab-{base}-{category}-v{n}`, each linked to its provider model id, dataset hash, job, stage, parent version
 * and metrics, with a status and an audit trail of every status change; the lifecycle events
 * (`fine_tuning.completed`, `failed`, `cancelled`, `ready_for_promotion`, `promoted`, `rolled_back`) as rows; and
 * the fine-tuning jobs the lab started, by run and stage, so an orchestrator that is killed finds its jobs again.
 *
 * Promotion keeps one promoted version per (base, category): promoting one retires the one before it; rolling back
 * the promoted version restores the one promoted before it (if any). The file is opened for each call and closed
 * after, so the CLI, the server and an orchestrator can share it; each change is one transaction.
 * @module
 */
import { createHash } from "node:crypto";
import type { DuckDBConnection, DuckDBValue } from "@duckdb/node-api";
import { LabError, repoPath, withDuckDB, withTransaction } from "../util/mod.ts";

/** The registry's default file. */
export const DEFAULT_REGISTRY_PATH: string = repoPath("data/registry.duckdb");

/**
 * Where a version is in its life.
 * @internal
 */
export type VersionStatus = "candidate" | "shadow" | "awaiting_promotion" | "promoted" | "retired" | "rolled_back";
/** Every status, in lifecycle order. */
export const VERSION_STATUSES: readonly VersionStatus[] = ["candidate", "shadow", "awaiting_promotion", "promoted", "retired", "rolled_back"];

/**
 * The kinds of lifecycle events (seed 001's, plus `cancelled`, plus a reviewer's decision: `review.approved`,
 * `review.rejected`).
 * @internal
 */
export type LifecycleEventType =
  | "fine_tuning.completed"
  | "fine_tuning.failed"
  | "fine_tuning.cancelled"
  | "fine_tuning.ready_for_promotion"
  | "fine_tuning.promoted"
  | "fine_tuning.rolled_back"
  | "review.approved"
  | "review.rejected";

/**
 * A reviewer's decision on a version's promotion recommendation.
 * @internal
 */
export type ReviewDecision = "approve" | "reject";

/**
 * A recorded review (a `review.approved` or `review.rejected` event).
 * @internal
 */
export interface Review {
  seq: number;
  at: string;
  version: string;
  decision: ReviewDecision;
  reviewer: string;
  note: string;
  /** The version's status when it was reviewed. */
  status: VersionStatus;
  /** Whether the approval promoted it (an approved version awaiting promotion is promoted). */
  promoted: boolean;
}

/**
 * A registered model version.
 * @internal
 */
export interface ModelVersion {
  /** `lab-{base}-{category}-v{n}`. */
  name: string;
  /** The root base model id (`lab-mini`, `gpt-4o-mini-2024-07-18`, …). */
  base: string;
  category: string;
  n: number;
  /** Where it was trained: `lab`, `openai`, `together`, `fireworks`. */
  provider: string;
  /** The provider's id of the model (`ft:lab-mini:core:0123456789ab`). */
  providerModel: string;
  /** The model's content hash as the provider names it (the last part of an `ft:` id), else a hash of its id. */
  modelHash: string;
  /** The model the job started from: the base, or the parent version's provider model. */
  trainedFrom: string;
  datasetHash: string;
  jobId: string | null;
  stage: string | null;
  /** The version it continued from (the previous stage), if any. */
  parent: string | null;
  parentHash: string | null;
  metrics: Record<string, unknown>;
  status: VersionStatus;
  createdAt: string;
  updatedAt: string;
}

/**
 * What registering a version needs; the name and number are given by the registry.
 * @internal
 */
export type NewVersion = Omit<ModelVersion, "name" | "n" | "modelHash" | "status" | "createdAt" | "updatedAt" | "parentHash"> & {
  /** @default "candidate" */
  status?: VersionStatus;
};

/**
 * A lifecycle event row.
 * @internal
 */
export interface LifecycleEvent {
  seq: number;
  at: string;
  type: LifecycleEventType;
  version: string | null;
  jobId: string | null;
  data: Record<string, unknown>;
}

/**
 * One status change of a version.
 * @internal
 */
export interface AuditEntry {
  seq: number;
  at: string;
  version: string;
  from: VersionStatus | null;
  to: VersionStatus;
  actor: string;
  reason: string;
}

/**
 * A fine-tuning job the lab started for one stage of a run (what an orchestrator resumes from).
 * @internal
 */
export interface StageJob {
  runId: string;
  category: string;
  stage: string;
  /** Position of the stage in its run. */
  idx: number;
  provider: string;
  datasetHash: string;
  /** The uploaded training file, once uploaded. */
  fileId: string | null;
  /** The provider's job id, once created. */
  jobId: string | null;
  /** `pending` → `uploaded` → `created` → `registered` | `failed` | `cancelled`. */
  status: "pending" | "uploaded" | "created" | "registered" | "failed" | "cancelled";
  providerModel: string | null;
  version: string | null;
  error: string | null;
}

/**
 * Who changed a status, and why.
 * @internal
 */
export interface ChangeOptions {
  /** @default $USER, else "lab" */
  actor?: string;
  reason?: string;
}

const SCHEMA = [
  "CREATE SEQUENCE IF NOT EXISTS registry_seq",
  `CREATE TABLE IF NOT EXISTS versions (
    name VARCHAR PRIMARY KEY, base VARCHAR NOT NULL, category VARCHAR NOT NULL, n INTEGER NOT NULL,
    provider VARCHAR NOT NULL, provider_model VARCHAR NOT NULL, model_hash VARCHAR NOT NULL, trained_from VARCHAR NOT NULL,
    dataset_hash VARCHAR NOT NULL, job_id VARCHAR, stage VARCHAR, parent VARCHAR, parent_hash VARCHAR,
    metrics JSON NOT NULL, status VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS events (
    seq BIGINT PRIMARY KEY, happened_at TIMESTAMP NOT NULL, type VARCHAR NOT NULL, version VARCHAR, job_id VARCHAR, data JSON NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS audit (
    seq BIGINT PRIMARY KEY, happened_at TIMESTAMP NOT NULL, version VARCHAR NOT NULL, from_status VARCHAR, to_status VARCHAR NOT NULL,
    actor VARCHAR NOT NULL, reason VARCHAR NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS stage_jobs (
    run_id VARCHAR NOT NULL, category VARCHAR NOT NULL, stage VARCHAR NOT NULL, idx INTEGER NOT NULL, provider VARCHAR NOT NULL,
    dataset_hash VARCHAR NOT NULL, file_id VARCHAR, job_id VARCHAR, status VARCHAR NOT NULL, provider_model VARCHAR,
    version VARCHAR, error VARCHAR, updated_at TIMESTAMP NOT NULL, PRIMARY KEY (run_id, category, stage))`,
];

const VERSION_COLUMNS = `name, base, category, n, provider, provider_model, model_hash, trained_from, dataset_hash, job_id, stage,
  parent, parent_hash, metrics::VARCHAR AS metrics, status, strftime(created_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS created_at,
  strftime(updated_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS updated_at`;

type Row = Record<string, unknown>;
const str = (v: unknown) => v === null || v === undefined ? null : String(v);

function toVersion(r: Row): ModelVersion {
  return {
    name: String(r.name),
    base: String(r.base),
    category: String(r.category),
    n: Number(r.n),
    provider: String(r.provider),
    providerModel: String(r.provider_model),
    modelHash: String(r.model_hash),
    trainedFrom: String(r.trained_from),
    datasetHash: String(r.dataset_hash),
    jobId: str(r.job_id),
    stage: str(r.stage),
    parent: str(r.parent),
    parentHash: str(r.parent_hash),
    metrics: JSON.parse(String(r.metrics)),
    status: String(r.status) as VersionStatus,
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
  };
}

function toStageJob(r: Row): StageJob {
  return {
    runId: String(r.run_id),
    category: String(r.category),
    stage: String(r.stage),
    idx: Number(r.idx),
    provider: String(r.provider),
    datasetHash: String(r.dataset_hash),
    fileId: str(r.file_id),
    jobId: str(r.job_id),
    status: String(r.status) as StageJob["status"],
    providerModel: str(r.provider_model),
    version: str(r.version),
    error: str(r.error),
  };
}

async function rows(con: DuckDBConnection, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await con.runAndReadAll(sql, params as DuckDBValue[])).getRowObjectsJson() as Row[];
}

/** The short name of a base model in version names: its id without a leading `lab-`, in `[a-z0-9.-]`. */
export function baseShortName(base: string): string {
  return base.replace(/^lab-/, "").toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^-+|-+$/g, "") || "model";
}

/** A category as it appears in version names: lower case, `[a-z0-9_]`. */
export function categorySlug(category: string): string {
  const s = category.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  if (!s) throw new RangeError(`category '${category}' has no letter or digit: name it with [a-z0-9_]`);
  return s;
}

/** The name of version `n` of (base, category): `lab-{base}-{category}-v{n}`. */
export function versionName(base: string, category: string, n: number): string {
  return `lab-${baseShortName(base)}-${categorySlug(category)}-v${n}`;
}

/** The content hash a provider model id carries (the last part of `ft:…:<hash>`), else the first 12 hex of its sha256. */
export function modelHashOf(providerModel: string): string {
  const m = /^ft:.*:([^:]+)$/.exec(providerModel);
  return m ? m[1] : createHash("sha256").update(providerModel).digest("hex").slice(0, 12);
}

const defaultActor = () => Deno.env.get("USER") || "lab";

/**
 * The model registry on one DuckDB file (see the module doc).
 *
 * @example
 * ```ts
 * const registry = await Registry.open("data/registry.duckdb");
 * const v = await registry.register({ base: "lab-mini", category: "all", provider: "lab", providerModel: "ft:lab-mini:core:0123456789ab",
 *   trainedFrom: "lab-mini", datasetHash: "…", jobId: "ftjob-…", stage: "core", parent: null, metrics: { train_loss: 0.1 } });
 * await registry.promote(v.name, { reason: "dev lift +12 points" });
 * await registry.rollback(v.name, { reason: "regression on test_id" });
 * ```
 */
export class Registry {
  private constructor(readonly path: string) {}

  /** Opens (creating the tables of) the registry at `path`. */
  static async open(path: string = DEFAULT_REGISTRY_PATH): Promise<Registry> {
    const registry = new Registry(path);
    await registry.#read(async () => {});
    return registry;
  }

  #read<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    return withDuckDB(this.path, fn, { name: "the model registry", schema: SCHEMA, lockHint: "another lab command is using the registry; retry when it ends" });
  }

  #write<T>(fn: (con: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.#read((con) => withTransaction(con, fn));
  }

  /** Versions, newest first, optionally of one base, category or status. */
  async list(filter: { base?: string; category?: string; status?: VersionStatus } = {}): Promise<ModelVersion[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    for (const [col, v] of [["base", filter.base], ["category", filter.category && categorySlug(filter.category)], ["status", filter.status]] as const) {
      if (v === undefined) continue;
      params.push(v);
      where.push(`${col} = $${params.length}`);
    }
    const sql = `SELECT ${VERSION_COLUMNS} FROM versions ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY base, category, n DESC`;
    return (await this.#read((con) => rows(con, sql, params))).map(toVersion);
  }

  /** The version named `name`; a missing one is a {@linkcode LabError} saying where to look. */
  async get(name: string): Promise<ModelVersion> {
    return await this.#read((con) => this.#get(con, name));
  }

  async #get(con: DuckDBConnection, name: string): Promise<ModelVersion> {
    const [r] = await rows(con, `SELECT ${VERSION_COLUMNS} FROM versions WHERE name = $1`, [name]);
    if (!r) throw new LabError(`no version '${name}' in the registry ${this.path}: 'lab finetune list' shows the versions`);
    return toVersion(r);
  }

  /** The promoted version of (base, category), if any. */
  async promoted(base: string, category: string): Promise<ModelVersion | undefined> {
    return await this.#read((con) => this.#promoted(con, base, categorySlug(category)));
  }

  async #promoted(con: DuckDBConnection, base: string, category: string): Promise<ModelVersion | undefined> {
    const [r] = await rows(con, `SELECT ${VERSION_COLUMNS} FROM versions WHERE base = $1 AND category = $2 AND status = 'promoted'`, [base, category]);
    return r ? toVersion(r) : undefined;
  }

  /** Registers a new version of (base, category), numbered after the last one, and records `fine_tuning.completed`. */
  async register(v: NewVersion, options: ChangeOptions = {}): Promise<ModelVersion> {
    return await this.#write((con) => this.#register(con, v, options));
  }

  async #register(con: DuckDBConnection, v: NewVersion, options: ChangeOptions): Promise<ModelVersion> {
    const category = categorySlug(v.category);
    const [{ n }] = await rows(con, "SELECT coalesce(max(n), 0) + 1 AS n FROM versions WHERE base = $1 AND category = $2", [v.base, category]);
    const name = versionName(v.base, category, Number(n));
    const parentHash = v.parent ? (await this.#get(con, v.parent)).modelHash : null;
    const status = v.status ?? "candidate";
    await con.run(
      `INSERT INTO versions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::JSON, $15, now(), now())`,
      [name, v.base, category, Number(n), v.provider, v.providerModel, modelHashOf(v.providerModel), v.trainedFrom, v.datasetHash, v.jobId, v.stage, v.parent, parentHash, JSON.stringify(v.metrics), status] as DuckDBValue[],
    );
    await this.#audit(con, name, null, status, options, options.reason ?? `registered from job ${v.jobId ?? "(none)"}`);
    await this.#event(con, "fine_tuning.completed", name, v.jobId, { providerModel: v.providerModel, stage: v.stage, parent: v.parent });
    return await this.#get(con, name);
  }

  /**
   * Promotes `name`: the version promoted before it for the same (base, category) is retired, so one stays
   * promoted. Records `fine_tuning.promoted` and both status changes.
   */
  async promote(name: string, options: ChangeOptions = {}): Promise<{ promoted: ModelVersion; retired: ModelVersion | null }> {
    return await this.#write((con) => this.#promote(con, name, options));
  }

  async #promote(con: DuckDBConnection, name: string, options: ChangeOptions): Promise<{ promoted: ModelVersion; retired: ModelVersion | null }> {
    const v = await this.#get(con, name);
    if (v.status === "promoted") throw new LabError(`${name} is already the promoted version of ${v.base}/${v.category}`);
    const current = await this.#promoted(con, v.base, v.category);
    if (current) await this.#setStatus(con, current, "retired", options, `replaced by ${name}`);
    await this.#setStatus(con, v, "promoted", options, options.reason ?? "promoted");
    await this.#event(con, "fine_tuning.promoted", name, v.jobId, { replaced: current?.name ?? null, reason: options.reason ?? null });
    return { promoted: await this.#get(con, name), retired: current ? await this.#get(con, current.name) : null };
  }

  /**
   * Records a reviewer's decision on `name`'s promotion recommendation, in one transaction: an audit row (status
   * unchanged, actor the reviewer, reason `review approved|rejected: <note>`) and a `review.approved` or
   * `review.rejected` event. Approving a version that is `awaiting_promotion` promotes it (issue 15: promotion is
   * `lab finetune promote` or an approving review), retiring the promoted version before it; any other approval, and
   * every rejection, leaves the status as it is.
   *
   * @example
   * ```ts
   * const r = await registry.review("lab-mini-all-v2", "approve", "A/B lift +12 [4, 20]; traces read", "ana");
   * r.promoted; // true when it was awaiting promotion
   * ```
   */
  async review(name: string, decision: ReviewDecision, note: string, reviewer: string = defaultActor()): Promise<{ review: Review; version: ModelVersion; retired: ModelVersion | null }> {
    if (decision !== "approve" && decision !== "reject") throw new RangeError(`review decision must be approve or reject, found '${decision}'`);
    if (!note.trim()) throw new RangeError(`a review of ${name} needs a note saying why`);
    if (!reviewer.trim()) throw new RangeError(`a review of ${name} needs the reviewer's name`);
    return await this.#write(async (con) => {
      const v = await this.#get(con, name);
      const word = decision === "approve" ? "approved" : "rejected";
      await this.#audit(con, name, v.status, v.status, { actor: reviewer }, `review ${word}: ${note}`);
      const promotes = decision === "approve" && v.status === "awaiting_promotion";
      const type = decision === "approve" ? "review.approved" : "review.rejected";
      await this.#event(con, type, name, v.jobId, { reviewer, note, status: v.status, promoted: promotes });
      const [{ seq }] = await rows(con, "SELECT max(seq) AS seq FROM events WHERE type = $1 AND version = $2", [type, name]);
      const done = promotes ? await this.#promote(con, name, { actor: reviewer, reason: `approved by ${reviewer}: ${note}` }) : null;
      const [ev] = await rows(con, `SELECT strftime(happened_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS at FROM events WHERE seq = $1`, [Number(seq)]);
      return {
        review: { seq: Number(seq), at: String(ev.at), version: name, decision, reviewer, note, status: v.status, promoted: promotes },
        version: done?.promoted ?? v,
        retired: done?.retired ?? null,
      };
    });
  }

  /** The recorded reviews in the order they happened, optionally of one version. */
  async reviews(version?: string): Promise<Review[]> {
    const evs = (await this.events(version !== undefined ? { version } : {})).filter((e) => e.type === "review.approved" || e.type === "review.rejected");
    return evs.map((e) => ({
      seq: e.seq,
      at: e.at,
      version: e.version ?? "",
      decision: e.type === "review.approved" ? "approve" : "reject",
      reviewer: String(e.data.reviewer ?? ""),
      note: String(e.data.note ?? ""),
      status: String(e.data.status ?? "") as VersionStatus,
      promoted: e.data.promoted === true,
    }));
  }

  /**
   * Rolls back the promoted version `name`: it becomes `rolled_back`, and the version promoted before it (the
   * latest earlier promotion of its (base, category) that is now retired) is promoted again — or none is, when
   * there was no earlier promotion. Records `fine_tuning.rolled_back`.
   */
  async rollback(name: string, options: ChangeOptions = {}): Promise<{ rolledBack: ModelVersion; restored: ModelVersion | null }> {
    return await this.#write(async (con) => {
      const v = await this.#get(con, name);
      if (v.status !== "promoted") {
        throw new LabError(`${name} is ${v.status}, not promoted: roll back the promoted version of ${v.base}/${v.category} ('lab finetune list --status promoted')`);
      }
      const [previous] = await rows(
        con,
        `SELECT a.version, max(a.seq) AS seq FROM audit a JOIN versions v ON v.name = a.version
         WHERE a.to_status = 'promoted' AND v.base = $1 AND v.category = $2 AND v.name <> $3 AND v.status = 'retired'
         GROUP BY a.version ORDER BY seq DESC LIMIT 1`,
        [v.base, v.category, name],
      );
      await this.#setStatus(con, v, "rolled_back", options, options.reason ?? "rolled back");
      const restored = previous ? await this.#get(con, String(previous.version)) : null;
      if (restored) await this.#setStatus(con, restored, "promoted", options, `restored by the rollback of ${name}`);
      await this.#event(con, "fine_tuning.rolled_back", name, v.jobId, { restored: restored?.name ?? null, reason: options.reason ?? null });
      return { rolledBack: await this.#get(con, name), restored: restored ? await this.#get(con, restored.name) : null };
    });
  }

  /**
   * Moves `name` to `candidate`, `shadow`, `awaiting_promotion` or `retired` (promotion and rollback have their own
   * methods); `awaiting_promotion` records `fine_tuning.ready_for_promotion`. The promoted version is changed only
   * by promoting another or rolling it back.
   */
  async mark(name: string, status: "candidate" | "shadow" | "awaiting_promotion" | "retired", options: ChangeOptions = {}): Promise<ModelVersion> {
    return await this.#write(async (con) => {
      const v = await this.#get(con, name);
      if (v.status === "promoted") throw new LabError(`${name} is promoted: promote another version or roll it back ('lab finetune rollback ${name}')`);
      if (v.status === status) return v;
      await this.#setStatus(con, v, status, options, options.reason ?? status.replace("_", " "));
      if (status === "awaiting_promotion") await this.#event(con, "fine_tuning.ready_for_promotion", name, v.jobId, { reason: options.reason ?? null });
      return await this.#get(con, name);
    });
  }

  /**
   * Merges `metrics` into the version's metrics (e.g. its `test_id` re-estimate after a promotion) and audits the
   * change (status unchanged, the reason names the keys).
   */
  async recordMetrics(name: string, metrics: Record<string, unknown>, options: ChangeOptions = {}): Promise<ModelVersion> {
    return await this.#write(async (con) => {
      const v = await this.#get(con, name);
      await con.run("UPDATE versions SET metrics = $1::JSON, updated_at = now() WHERE name = $2", [JSON.stringify({ ...v.metrics, ...metrics }), name]);
      await this.#audit(con, name, v.status, v.status, options, options.reason ?? `metrics recorded: ${Object.keys(metrics).join(", ")}`);
      return await this.#get(con, name);
    });
  }

  /** Records a lifecycle event that changes no version (a failed or cancelled job). */
  async recordEvent(type: LifecycleEventType, version: string | null, jobId: string | null, data: Record<string, unknown> = {}): Promise<void> {
    await this.#write((con) => this.#event(con, type, version, jobId, data));
  }

  /** Lifecycle events in the order they happened, optionally of one version or job. */
  async events(filter: { version?: string; jobId?: string } = {}): Promise<LifecycleEvent[]> {
    const where = filter.version !== undefined ? "WHERE version = $1" : filter.jobId !== undefined ? "WHERE job_id = $1" : "";
    const params = filter.version !== undefined ? [filter.version] : filter.jobId !== undefined ? [filter.jobId] : [];
    const rs = await this.#read((con) =>
      rows(con, `SELECT seq, strftime(happened_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS at, type, version, job_id, data::VARCHAR AS data FROM events ${where} ORDER BY seq`, params)
    );
    return rs.map((r) => ({ seq: Number(r.seq), at: String(r.at), type: String(r.type) as LifecycleEventType, version: str(r.version), jobId: str(r.job_id), data: JSON.parse(String(r.data)) }));
  }

  /** The audit trail (every status change) in order, optionally of one version. */
  async audit(version?: string): Promise<AuditEntry[]> {
    const rs = await this.#read((con) =>
      rows(
        con,
        `SELECT seq, strftime(happened_at, '%Y-%m-%dT%H:%M:%S.%gZ') AS at, version, from_status, to_status, actor, reason FROM audit ${version !== undefined ? "WHERE version = $1" : ""} ORDER BY seq`,
        version !== undefined ? [version] : [],
      )
    );
    return rs.map((r) => ({ seq: Number(r.seq), at: String(r.at), version: String(r.version), from: str(r.from_status) as VersionStatus | null, to: String(r.to_status) as VersionStatus, actor: String(r.actor), reason: String(r.reason) }));
  }

  /** The stage jobs of a run (all runs without `runId`), in run and stage order. */
  async stageJobs(runId?: string): Promise<StageJob[]> {
    const rs = await this.#read((con) => rows(con, `SELECT * FROM stage_jobs ${runId !== undefined ? "WHERE run_id = $1" : ""} ORDER BY run_id, category, idx`, runId !== undefined ? [runId] : []));
    return rs.map(toStageJob);
  }

  /** The stage job of (run, category, stage), if one was recorded. */
  async stageJob(runId: string, category: string, stage: string): Promise<StageJob | undefined> {
    const [r] = await this.#read((con) => rows(con, "SELECT * FROM stage_jobs WHERE run_id = $1 AND category = $2 AND stage = $3", [runId, category, stage]));
    return r ? toStageJob(r) : undefined;
  }

  /** Records (or updates) a stage job. */
  async saveStageJob(job: StageJob): Promise<void> {
    await this.#write((con) => this.#saveStageJob(con, job));
  }

  async #saveStageJob(con: DuckDBConnection, j: StageJob): Promise<void> {
    await con.run(
      `INSERT OR REPLACE INTO stage_jobs VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, now())`,
      [j.runId, j.category, j.stage, j.idx, j.provider, j.datasetHash, j.fileId, j.jobId, j.status, j.providerModel, j.version, j.error] as DuckDBValue[],
    );
  }

  /**
   * Ends a stage job in one transaction: a succeeded job registers its version (and, with `ready`, marks it
   * awaiting promotion); a failed or cancelled one records its event. Returns the job as stored.
   */
  async finishStageJob(
    job: StageJob,
    outcome: { version: NewVersion; ready?: boolean } | { failed: "failed" | "cancelled"; error: string | null },
    options: ChangeOptions = {},
  ): Promise<{ job: StageJob; version: ModelVersion | null }> {
    return await this.#write(async (con) => {
      if ("version" in outcome) {
        let v = await this.#register(con, outcome.version, options);
        if (outcome.ready) {
          await this.#setStatus(con, v, "awaiting_promotion", options, "the last stage of its run");
          await this.#event(con, "fine_tuning.ready_for_promotion", v.name, v.jobId, { run: job.runId, stage: job.stage });
          v = await this.#get(con, v.name);
        }
        const done: StageJob = { ...job, status: "registered", providerModel: v.providerModel, version: v.name, error: null };
        await this.#saveStageJob(con, done);
        return { job: done, version: v };
      }
      const done: StageJob = { ...job, status: outcome.failed, error: outcome.error };
      await this.#event(con, outcome.failed === "failed" ? "fine_tuning.failed" : "fine_tuning.cancelled", null, job.jobId, {
        run: job.runId,
        category: job.category,
        stage: job.stage,
        error: outcome.error,
      });
      await this.#saveStageJob(con, done);
      return { job: done, version: null };
    });
  }

  async #setStatus(con: DuckDBConnection, v: ModelVersion, to: VersionStatus, options: ChangeOptions, reason: string): Promise<void> {
    await con.run("UPDATE versions SET status = $1, updated_at = now() WHERE name = $2", [to, v.name]);
    await this.#audit(con, v.name, v.status, to, options, reason);
  }

  async #audit(con: DuckDBConnection, version: string, from: VersionStatus | null, to: VersionStatus, options: ChangeOptions, reason: string): Promise<void> {
    await con.run("INSERT INTO audit VALUES (nextval('registry_seq'), now(), $1, $2, $3, $4, $5)", [version, from, to, options.actor ?? defaultActor(), reason] as DuckDBValue[]);
  }

  async #event(con: DuckDBConnection, type: LifecycleEventType, version: string | null, jobId: string | null, data: Record<string, unknown>): Promise<void> {
    await con.run("INSERT INTO events VALUES (nextval('registry_seq'), now(), $1, $2, $3, $4::JSON)", [type, version, jobId, JSON.stringify(data)] as DuckDBValue[]);
  }
}
