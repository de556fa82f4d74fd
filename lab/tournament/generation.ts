/**
 * One generation of a tournament run: the episodes it still lacks, played by a fixed number of lanes and
 * written to the store in batches ({@linkcode EpisodeWriter}), then its ranking and selection.
 * @module
 */
import type { Challenge } from "../challenges/mod.ts";
import type { SandboxPool } from "../sandbox/mod.ts";
import {
  type EpisodeRecord,
  type EpisodeSink,
  type FitnessWeights,
  type PatternSource,
  runEpisode,
  type Strategy,
} from "../agents/mod.ts";
import type { ChatModel } from "../models/mod.ts";
import type { ToolLimits } from "../tools/mod.ts";
import { mapConcurrent } from "../util/mod.ts";
import type { TournamentConfig } from "./config.ts";
import { hashSeed, rankStandings, type SelectionResult, selectNext, type Standing } from "./evolve.ts";
import { type EpisodeRow, insertEpisodes, readEpisodeRows, type StoredEpisode, upsertGeneration } from "./store.ts";
import { generationStats, type StatsOptions } from "./stats.ts";
import type { GenerationSummary, TournamentProgress } from "./tournament.ts";

/** The seed of one (generation, challenge, attempt): the same for every strategy. */
export function episodeSeed(seed: number, generation: number, challengeId: string, attempt: number): number {
  return hashSeed(`ep:${seed}:${generation}:${challengeId}:${attempt}`);
}

/** The deterministic id of an episode in a run. */
export function episodeKey(
  generation: number,
  challengeId: string,
  strategyId: string,
  seed: number,
  attempt: number,
): string {
  return `g${generation}#${challengeId}#${strategyId}#s${seed}#a${attempt}`;
}

/** One episode a generation plays. */
export interface EpisodeTask {
  key: string;
  challenge: Challenge;
  strategy: Strategy;
  attempt: number;
  seed: number;
}

/**
 * The episodes of generation `g` not yet stored (`stored` holds the stored keys), by challenge, then attempt, then
 * strategy in population order.
 */
export function generationTasks(
  config: TournamentConfig,
  g: number,
  challenges: readonly Challenge[],
  population: readonly Strategy[],
  stored: ReadonlySet<string>,
): EpisodeTask[] {
  const tasks: EpisodeTask[] = [];
  for (const challenge of challenges) {
    for (let attempt = 0; attempt < config.attempts; attempt++) {
      const seed = episodeSeed(config.seed, g, challenge.id, attempt);
      for (const strategy of population) {
        const key = episodeKey(g, challenge.id, strategy.id, seed, attempt);
        if (!stored.has(key)) tasks.push({ key, challenge, strategy, attempt, seed });
      }
    }
  }
  return tasks;
}

/** A finished episode waiting for the store, and what to report once it is committed. */
interface PendingEpisode {
  stored: StoredEpisode;
  report: () => void;
}

/**
 * Writes finished episodes to a run's store, serialized and batched: an episode waits for the next flush (at most
 * `flushMs` after the last one began) and goes in one transaction with every other episode finished by then
 * (whole episodes only, so a kill never leaves half of one). An episode's `report` runs once it is committed. The
 * first failed write is kept in {@linkcode EpisodeWriter.error}; nothing is written after it.
 */
export class EpisodeWriter {
  #pending: PendingEpisode[] = [];
  #writing: Promise<void> = Promise.resolve();
  #lastFlush = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #error: unknown;

  constructor(readonly store: string, readonly runId: string, readonly flushMs: number) {}

  /** The error of the failed write, if one failed. */
  get error(): unknown {
    return this.#error;
  }

  /** Queues an episode for the next flush (scheduled when none is). */
  save(item: PendingEpisode): void {
    this.#pending.push(item);
    this.#timer ??= setTimeout(() => this.flush(), Math.max(0, this.#lastFlush + this.flushMs - performance.now()));
  }

  /** Writes every queued episode now (after the write in progress); resolves when written or failed. */
  flush(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#writing = this.#writing.then(async () => {
      if (!this.#pending.length || this.#error) return;
      const batch = this.#pending;
      this.#pending = [];
      this.#lastFlush = performance.now();
      try {
        await insertEpisodes(this.store, this.runId, batch.map((b) => b.stored));
      } catch (e) {
        this.#error = e;
        return;
      }
      for (const b of batch) b.report();
    });
    return this.#writing;
  }
}

/** The run's counts of committed episodes, for progress events. */
export interface RunTally {
  /** Episodes stored, resumed ones included. */
  done: number;
  passed: number;
  tokens: number;
  cost: number;
  /** Episodes this session ran and stored. */
  ranNow: number;
}

/** The tally of the episodes a run had stored before this session. */
export function tallyOf(before: readonly EpisodeRow[]): RunTally {
  return {
    done: before.length,
    passed: before.filter((r) => r.pass).length,
    tokens: before.reduce((a, r) => a + r.tokensTotal, 0),
    cost: before.reduce((a, r) => a + r.costUsd, 0),
    ranNow: 0,
  };
}

/** What playing a generation works with (the same for every generation of a run). */
export interface GenerationPlay {
  model: ChatModel;
  pool: SandboxPool;
  /** Episodes in flight at once. */
  concurrency: number;
  fitness: FitnessWeights;
  signal?: AbortSignal;
  patterns?: PatternSource;
  /** Sees every episode the store gets (see {@linkcode storedOnlySink}). */
  sink?: EpisodeSink;
  toolLimits?: Partial<ToolLimits>;
  onProgress?: (event: TournamentProgress) => void;
  writer: EpisodeWriter;
  tally: RunTally;
  /** Episodes of the whole run. */
  total: number;
  /** `performance.now()` at the run's start. */
  startedMs: number;
}

/** A sink that passes on only what the store gets: an episode an abort may have cut short is left for the re-run. */
export function storedOnlySink(sink: EpisodeSink | undefined, signal?: AbortSignal): EpisodeSink | undefined {
  return sink && ((record) => record.stopReason === "aborted" || signal?.aborted ? Promise.resolve() : sink(record));
}

/**
 * Plays a generation's tasks, `play.concurrency` at a time in task order, and hands each finished episode to the
 * writer; flushes the writer at the end (also on an error). Stops starting episodes once the signal is aborted;
 * an episode that ends after the abort may have been cut short (in any of several ways), so it is not stored and
 * the re-run plays it again. Throws the writer's error, if a write failed.
 */
export async function playGeneration(play: GenerationPlay, g: number, tasks: readonly EpisodeTask[]): Promise<void> {
  const sessionStart = performance.now();
  const playOne = async (t: EpisodeTask) => {
    const record = await runEpisode(
      { challenge: t.challenge, strategy: t.strategy, model: play.model, attempt: t.attempt, seed: t.seed },
      {
        pool: play.pool,
        fitness: play.fitness,
        signal: play.signal,
        patterns: play.patterns,
        sink: play.sink,
        toolLimits: play.toolLimits,
      },
    );
    if (record.stopReason === "aborted" || play.signal?.aborted) return;
    play.writer.save({
      stored: { id: t.key, generation: g, contaminated: t.challenge.split !== "train", record },
      report: () => reportEpisode(play, g, t.key, record, sessionStart),
    });
    if (play.writer.error) throw play.writer.error;
  };
  try {
    await mapConcurrent(tasks, playOne, { concurrency: play.concurrency, signal: play.signal });
  } finally {
    await play.writer.flush();
  }
  if (play.writer.error) throw play.writer.error;
}

/** Counts a committed episode in the tally and reports it, with an ETA from this generation's pace. */
function reportEpisode(
  play: GenerationPlay,
  g: number,
  episodeId: string,
  record: EpisodeRecord,
  sessionStart: number,
): void {
  const { tally, total } = play;
  tally.done++;
  tally.ranNow++;
  if (record.verdict.pass) tally.passed++;
  tally.tokens += record.tokens.total;
  tally.cost += record.costUsd;
  const pace = (performance.now() - sessionStart) / Math.max(1, tally.ranNow);
  play.onProgress?.({
    kind: "episode",
    generation: g,
    done: tally.done,
    total,
    passed: tally.passed,
    successRate: tally.passed / tally.done,
    tokens: tally.tokens,
    costUsd: tally.cost,
    elapsedMs: performance.now() - play.startedMs,
    etaMs: pace * (total - tally.done),
    episodeId,
  });
}

/** Each strategy's episodes, mean composite fitness and success rate over `rows`, in population order. */
export function standingsOf(population: readonly Strategy[], rows: readonly EpisodeRow[]): Standing[] {
  return population.map((s) => {
    const mine = rows.filter((r) => r.strategyId === s.id);
    const n = mine.length;
    return {
      strategyId: s.id,
      episodes: n,
      meanFitness: n ? mine.reduce((a, r) => a + r.composite, 0) / n : 0,
      successRate: n ? mine.filter((r) => r.pass).length / n : 0,
    };
  });
}

/** What closing a generation decided: its summary and the next population with its newcomers. */
export interface ClosedGeneration {
  summary: GenerationSummary;
  next: SelectionResult;
}

/**
 * Closes generation `g` of a stored run: ranks the population on the generation's stored episodes, selects the
 * next population (none after the last generation), stores the generation's summary and statistics, and reports
 * it.
 */
export async function closeGeneration(
  store: string,
  runId: string,
  config: TournamentConfig,
  g: number,
  population: readonly Strategy[],
  statsOptions: StatsOptions,
  onProgress?: (event: TournamentProgress) => void,
): Promise<ClosedGeneration> {
  const rows = await readEpisodeRows(store, runId, g);
  const ranking = rankStandings(standingsOf(population, rows));
  const next: SelectionResult = g < config.generations
    ? selectNext(population, ranking, g + 1, config.selection, config.seed)
    : { population: [...population], replaced: [], children: [] };
  const stats = generationStats(rows, statsOptions).get(g) ?? [];
  const summary: GenerationSummary = {
    generation: g,
    population: population.map((s) => s.id),
    ranking,
    replaced: next.replaced,
    children: next.children.map((c) => ({ id: c.strategy.id, lineage: c.lineage })),
    stats,
  };
  await upsertGeneration(store, runId, { ...summary, stats });
  onProgress?.({
    kind: "generation",
    generation: g,
    ranking,
    replaced: next.replaced,
    children: summary.children.map((c) => c.id),
  });
  return { summary, next };
}
