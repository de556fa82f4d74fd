/**
 * Learned routing (seed 003: "the orchestrator learns, not the models"): a contextual bandit that learns which arm —
 * a model × strategy — to send each kind of task to. Contexts are (category, level); each context × arm holds a
 * Beta posterior over the arm's success rate, and {@linkcode BanditRouter.choose} samples every posterior once and
 * picks the largest draw (Thompson sampling).
 *
 * - Seeded: the draws of decision t come from `hashSeed(route:<seed>:<t>)`, so the same seed and the same history
 *   give the same choices, also across a save and a load (the state keeps the decision count).
 * - Cost-aware tie-breaking (optional, `costTieBreak` ε ≥ 0): among the arms whose draw is within ε of the best
 *   draw, the one with the lowest mean observed cost wins (its configured cost before it has any). With ε = 0 (the
 *   default) only exact ties break on cost, which continuous draws almost never produce: routing is plain Thompson
 *   sampling. ε trades a bounded loss of success (at most ε per decision, on the sampled scale) for cost.
 * - Persisted as JSON ({@linkcode saveRouter} / {@linkcode loadRouter}, written atomically), so it learns across runs;
 *   the state records the sources it was trained on so the same log is not counted twice.
 * @module
 */
import { z } from "zod";
import { seededRandom, type Random } from "../stats/mod.ts";
import { hashSeed } from "../tournament/mod.ts";
import { ConfigError, writeTextAtomic } from "../util/mod.ts";

/** The context a task is routed by: its category and level. */
export interface RouteContext {
  /** The challenge's category (business area). */
  category: string;
  /** The challenge's level (1–5). */
  level: number;
}

/** One arm: a model × strategy. */
export interface RouterArm {
  /** `<model>×<strategy id>` ({@linkcode routerArmId}). */
  id: string;
  /** The model reference (a configs/models.yaml entry or a served model id). */
  model: string;
  /** The strategy id. */
  strategyId: string;
  /** Expected cost per task in US dollars, used for tie-breaking until the arm has observed costs. @default 0 */
  costUsd?: number;
}

/** A Beta posterior with its observed cost. */
export interface ArmPosterior {
  /** 1 + successes under the default prior. */
  alpha: number;
  /** 1 + failures under the default prior. */
  beta: number;
  /** Outcomes observed. */
  n: number;
  /** Sum of observed costs (US dollars). */
  costUsd: number;
}

/** Options of a new {@linkcode BanditRouter}. */
export interface RouterOptions {
  /** Seed of the Thompson draws. @default 0 */
  seed?: number;
  /** Beta prior of every (context, arm). @default { alpha: 1, beta: 1 } */
  prior?: { alpha: number; beta: number };
  /** Cost-aware tie-breaking margin ε on the sampled success scale (see the module doc). @default 0 */
  costTieBreak?: number;
}

/** One routing decision. */
export interface RouteDecision {
  /** The chosen arm's id. */
  arm: string;
  /** The decision's index in the router's history (its draws' seed). */
  t: number;
  /** Estimated probability that this policy picks this arm in this context ({@linkcode ChooseOptions.propensity}). */
  propensity?: number;
}

/** Options of {@linkcode BanditRouter.choose}. */
export interface ChooseOptions {
  /**
   * Also estimate the propensity of the choice with this many extra Thompson draws (a live router logs it, so its
   * logs can be evaluated off-policy with inverse-propensity weighting). Clamped below by 1 / (draws + 1).
   * @default 0 (no propensity)
   */
  propensity?: number;
}

/** The router's persisted state (JSON). */
export interface RouterState {
  /** The state format's version. */
  version: 1;
  /** Seed of the Thompson draws. */
  seed: number;
  /** Beta prior of every (context, arm). */
  prior: { alpha: number; beta: number };
  /** Cost-aware tie-breaking margin ε. */
  costTieBreak: number;
  /** The arms, in order. */
  arms: RouterArm[];
  /** Decisions taken so far (the next decision's draw index). */
  decisions: number;
  /** Posteriors by context key ({@linkcode contextKey}) then arm id; missing entries are the prior. */
  posteriors: Record<string, Record<string, ArmPosterior>>;
  /** Sources already learned from (e.g. tournament run ids), so a log is not counted twice. */
  trainedOn: string[];
}

const Posterior = z.strictObject({
  alpha: z.number().positive(),
  beta: z.number().positive(),
  n: z.number().int().nonnegative(),
  costUsd: z.number().nonnegative(),
});
const StateSchema = z.strictObject({
  version: z.literal(1),
  seed: z.number().int(),
  prior: z.strictObject({ alpha: z.number().positive(), beta: z.number().positive() }),
  costTieBreak: z.number().nonnegative(),
  arms: z.array(z.strictObject({
    id: z.string().min(1),
    model: z.string().min(1),
    strategyId: z.string().min(1),
    costUsd: z.number().nonnegative().optional(),
  })).min(1),
  decisions: z.number().int().nonnegative(),
  posteriors: z.record(z.string(), z.record(z.string(), Posterior)),
  trainedOn: z.array(z.string()),
});

/** The id of the arm playing `strategyId` on `model`. */
export function routerArmId(model: string, strategyId: string): string {
  return `${model}×${strategyId}`;
}

/** The key of a context in the router's state: `<category>/L<level>`. */
export function contextKey(ctx: RouteContext): string {
  return `${ctx.category}/L${ctx.level}`;
}

/** A Gamma(shape, 1) draw (Marsaglia–Tsang; shape < 1 boosted). */
function gamma(shape: number, rand: Random): number {
  if (shape < 1) return gamma(shape + 1, rand) * Math.pow(rand() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number, v: number;
    do {
      const u1 = rand() || Number.MIN_VALUE;
      x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rand());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (u < 1 - 0.0331 * x ** 4 || Math.log(u || Number.MIN_VALUE) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * A Beta(α, β) draw.
 *
 * @example
 * ```ts
 * betaSample(3, 1, seededRandom(1)); // a number in (0, 1), near 0.75 on average
 * ```
 */
export function betaSample(alpha: number, beta: number, rand: () => number): number {
  const x = gamma(alpha, rand);
  const y = gamma(beta, rand);
  return x / (x + y);
}

/**
 * Thompson-sampling router over Beta posteriors per (category, level) × arm. Online by nature, it updates in place;
 * {@linkcode BanditRouter.clone} gives an independent copy (e.g. to replay a log without touching a trained router).
 *
 * @example
 * ```ts
 * const router = BanditRouter.create([{ id: "lab-mini×alpha", model: "lab-mini", strategyId: "alpha" }, …], { seed: 7 });
 * const ctx = { category: "finance", level: 1 };
 * const { arm } = router.choose(ctx);
 * router.update(ctx, arm, { pass: true, costUsd: 0 });
 * await saveRouter("data/use/router.json", router);
 * ```
 */
export class BanditRouter {
  #state: RouterState;

  private constructor(state: RouterState) {
    this.#state = state;
  }

  /** A router that knows nothing yet (every posterior is the prior). */
  static create(arms: readonly RouterArm[], options: RouterOptions = {}): BanditRouter {
    if (!arms.length) throw new RangeError("BanditRouter.create: give at least one arm");
    const dup = arms.find((a, i) => arms.findIndex((b) => b.id === a.id) !== i);
    if (dup) throw new RangeError(`BanditRouter.create: arm id '${dup.id}' is listed twice`);
    const prior = options.prior ?? { alpha: 1, beta: 1 };
    if (!(prior.alpha > 0 && prior.beta > 0)) throw new RangeError(`BanditRouter.create: prior alpha and beta must be > 0, found ${prior.alpha}, ${prior.beta}`);
    const eps = options.costTieBreak ?? 0;
    if (!(eps >= 0)) throw new RangeError(`BanditRouter.create: costTieBreak must be ≥ 0, found ${eps}`);
    return new BanditRouter({
      version: 1,
      seed: options.seed ?? 0,
      prior: { ...prior },
      costTieBreak: eps,
      arms: arms.map((a) => ({ ...a })),
      decisions: 0,
      posteriors: {},
      trainedOn: [],
    });
  }

  /** A router from its persisted state, checked (a bad state is a {@linkcode ConfigError} naming `where`). */
  static fromState(raw: unknown, where = "router state"): BanditRouter {
    const parsed = StateSchema.safeParse(raw);
    if (!parsed.success) throw new ConfigError(`${where}: ${z.prettifyError(parsed.error).split("\n").join(" ")}; delete it to start a new router`);
    return new BanditRouter(structuredClone(parsed.data));
  }

  /** A deep copy of the state (JSON-ready). */
  toState(): RouterState {
    return structuredClone(this.#state);
  }

  /** An independent copy. */
  clone(): BanditRouter {
    return new BanditRouter(this.toState());
  }

  /** The arms, in order. */
  get arms(): readonly RouterArm[] {
    return this.#state.arms;
  }

  /** Sources learned from. */
  get trainedOn(): readonly string[] {
    return this.#state.trainedOn;
  }

  /** Records that a source (e.g. a tournament run id) has been learned from. */
  markTrained(source: string): void {
    if (!this.#state.trainedOn.includes(source)) this.#state.trainedOn.push(source);
  }

  /** The posterior of an arm in a context (the prior when it has seen nothing). */
  posterior(ctx: RouteContext, arm: string): ArmPosterior {
    this.#arm(arm);
    return { ...(this.#state.posteriors[contextKey(ctx)]?.[arm] ?? { ...this.#state.prior, n: 0, costUsd: 0 }) };
  }

  #arm(id: string): RouterArm {
    const a = this.#state.arms.find((x) => x.id === id);
    if (!a) throw new RangeError(`router has no arm '${id}' (arms: ${this.#state.arms.map((x) => x.id).join(", ")})`);
    return a;
  }

  #cost(ctx: RouteContext, arm: RouterArm): number {
    const p = this.#state.posteriors[contextKey(ctx)]?.[arm.id];
    return p && p.n > 0 ? p.costUsd / p.n : arm.costUsd ?? 0;
  }

  /** One Thompson pick from `rand`: the arm index. */
  #pick(ctx: RouteContext, rand: Random): number {
    const draws = this.#state.arms.map((a) => {
      const p = this.#state.posteriors[contextKey(ctx)]?.[a.id] ?? this.#state.prior;
      return betaSample(p.alpha, p.beta, rand);
    });
    const top = Math.max(...draws);
    let best = -1;
    for (let i = 0; i < draws.length; i++) {
      if (draws[i] < top - this.#state.costTieBreak) continue;
      if (best < 0 || this.#cost(ctx, this.#state.arms[i]) < this.#cost(ctx, this.#state.arms[best])) best = i;
      else if (this.#cost(ctx, this.#state.arms[i]) === this.#cost(ctx, this.#state.arms[best]) && draws[i] > draws[best]) best = i;
    }
    return best;
  }

  /** Picks an arm for a task of this context (Thompson sampling) and advances the decision count. */
  choose(ctx: RouteContext, options: ChooseOptions = {}): RouteDecision {
    const t = this.#state.decisions++;
    const rand = seededRandom(hashSeed(`route:${this.#state.seed}:${t}`));
    const i = this.#pick(ctx, rand);
    const arm = this.#state.arms[i].id;
    const k = options.propensity ?? 0;
    if (!(k > 0)) return { arm, t };
    const side = seededRandom(hashSeed(`propensity:${this.#state.seed}:${t}`));
    let hits = 0;
    for (let j = 0; j < k; j++) if (this.#pick(ctx, side) === i) hits++;
    return { arm, t, propensity: Math.max(hits, 1) / (k + 1) };
  }

  /**
   * The arm with the highest posterior mean in a context (ties: lower cost, then arm order): the router frozen for
   * evaluation, deterministic and without exploration.
   */
  best(ctx: RouteContext): string {
    let best: RouterArm | undefined;
    let bestMean = -1;
    for (const a of this.#state.arms) {
      const p = this.#state.posteriors[contextKey(ctx)]?.[a.id] ?? this.#state.prior;
      const m = p.alpha / (p.alpha + p.beta);
      if (m > bestMean || (m === bestMean && best && this.#cost(ctx, a) < this.#cost(ctx, best))) {
        best = a;
        bestMean = m;
      }
    }
    return best!.id;
  }

  /** Learns one outcome of an arm in a context. */
  update(ctx: RouteContext, arm: string, outcome: { pass: boolean; costUsd?: number }): void {
    this.#arm(arm);
    const key = contextKey(ctx);
    const byArm = this.#state.posteriors[key] ??= {};
    const p = byArm[arm] ??= { ...this.#state.prior, n: 0, costUsd: 0 };
    if (outcome.pass) p.alpha += 1;
    else p.beta += 1;
    p.n += 1;
    p.costUsd += outcome.costUsd ?? 0;
  }
}

/** Writes a router's state as JSON, atomically (temp file + rename). */
export async function saveRouter(path: string, router: BanditRouter): Promise<void> {
  await writeTextAtomic(path, JSON.stringify(router.toState(), null, 2) + "\n");
}

/** Reads a router saved by {@linkcode saveRouter}; undefined when the file does not exist. */
export async function loadRouter(path: string): Promise<BanditRouter | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${path}: not JSON (${(e as Error).message}); delete it to start a new router`);
  }
  return BanditRouter.fromState(raw, path);
}
