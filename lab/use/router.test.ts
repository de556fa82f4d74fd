/**
 * The Thompson-sampling router: it converges to a planted best arm with sublinear regret, learns a different best arm
 * per context, is deterministic by seed (also across a save and a load), breaks near-ties on cost when asked, and
 * estimates its own propensities.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { seededRandom } from "../stats/mod.ts";
import { BanditRouter, betaSample, loadRouter, type RouteContext, type RouterArm, saveRouter } from "./mod.ts";

const ARMS: RouterArm[] = ["a", "b", "c", "d"].map((s) => ({ id: `m×${s}`, model: "m", strategyId: s }));
const CTX: RouteContext = { category: "finance", level: 1 };
const dir = Deno.makeTempDirSync({ prefix: "lab-router-test-" });
afterAll(() => Deno.removeSync(dir, { recursive: true }));

/** Plays `rounds` decisions against Bernoulli arms with success rates `p` (by arm id); returns choices. */
function play(router: BanditRouter, p: (ctx: RouteContext) => Record<string, number>, rounds: number, seed: number, ctxs = [CTX]) {
  const rand = seededRandom(seed);
  const choices: string[] = [];
  for (let t = 0; t < rounds; t++) {
    const ctx = ctxs[t % ctxs.length];
    const { arm } = router.choose(ctx);
    router.update(ctx, arm, { pass: rand() < p(ctx)[arm] });
    choices.push(arm);
  }
  return choices;
}

describe("BanditRouter", () => {
  it("converges to a planted best arm: > 80 % of pulls and a second half with less regret than the first", () => {
    const p = { "m×a": 0.3, "m×b": 0.5, "m×c": 0.7, "m×d": 0.45 };
    for (const seed of [1, 2, 3]) {
      const router = BanditRouter.create(ARMS, { seed });
      const choices = play(router, () => p, 1000, 100 + seed);
      const share = choices.filter((a) => a === "m×c").length / choices.length;
      expect(share).toBeGreaterThan(0.8);
      const pseudo = (xs: string[]) => xs.reduce((s, a) => s + 0.7 - p[a as keyof typeof p], 0);
      const first = pseudo(choices.slice(0, 500));
      const second = pseudo(choices.slice(500));
      expect(second).toBeLessThan(first / 2); // sublinear: R(T) − R(T/2) ≪ R(T/2)
      expect(router.best(CTX)).toBe("m×c");
    }
  });

  it("learns a different best arm per (category, level)", () => {
    const sales: RouteContext = { category: "sales", level: 2 };
    const p = (ctx: RouteContext) =>
      ctx.category === "finance" ? { "m×a": 0.8, "m×b": 0.2, "m×c": 0.2, "m×d": 0.2 } : { "m×a": 0.2, "m×b": 0.2, "m×c": 0.2, "m×d": 0.8 };
    const router = BanditRouter.create(ARMS, { seed: 5 });
    play(router, p, 800, 9, [CTX, sales]);
    expect([router.best(CTX), router.best(sales)]).toEqual(["m×a", "m×d"]);
    expect(router.posterior(CTX, "m×a").n + router.posterior(CTX, "m×b").n + router.posterior(CTX, "m×c").n + router.posterior(CTX, "m×d").n).toBe(400);
  });

  it("makes the same choices with the same seed, other choices with another, and continues identically after save and load", async () => {
    const p = () => ({ "m×a": 0.5, "m×b": 0.5, "m×c": 0.5, "m×d": 0.5 });
    const a = play(BanditRouter.create(ARMS, { seed: 11 }), p, 200, 3);
    const b = play(BanditRouter.create(ARMS, { seed: 11 }), p, 200, 3);
    const c = play(BanditRouter.create(ARMS, { seed: 12 }), p, 200, 3);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);

    const whole = BanditRouter.create(ARMS, { seed: 11 });
    const wholeChoices = play(whole, p, 100, 3);
    const half = BanditRouter.create(ARMS, { seed: 11 });
    play(half, p, 50, 3);
    half.markTrained("t-1");
    const path = join(dir, "router.json");
    await saveRouter(path, half);
    const loaded = (await loadRouter(path))!;
    expect(loaded.toState()).toEqual(half.toState());
    expect(loaded.trainedOn).toEqual(["t-1"]);
    // The outcomes' generator is replayed to its 50th draw so the continuation sees the same outcomes.
    const rand = seededRandom(3);
    const rest: string[] = [];
    for (let t = 0; t < 100; t++) {
      const u = rand();
      if (t < 50) continue;
      const { arm } = loaded.choose(CTX);
      loaded.update(CTX, arm, { pass: u < 0.5 });
      rest.push(arm);
    }
    expect(rest).toEqual(wholeChoices.slice(50));
  });

  it("breaks near-ties on cost with costTieBreak and not without", () => {
    const arms: RouterArm[] = [{ id: "m×dear", model: "m", strategyId: "dear", costUsd: 10 }, { id: "m×cheap", model: "m", strategyId: "cheap", costUsd: 1 }];
    const share = (eps: number) => {
      const r = BanditRouter.create(arms, { seed: 4, costTieBreak: eps });
      for (const id of ["m×dear", "m×cheap"]) for (let i = 0; i < 30; i++) r.update(CTX, id, { pass: i % 2 === 0, costUsd: id === "m×dear" ? 10 : 1 });
      let cheap = 0;
      for (let t = 0; t < 400; t++) if (r.choose(CTX).arm === "m×cheap") cheap++;
      return cheap / 400;
    };
    expect(share(0.25)).toBeGreaterThan(0.95);
    expect(share(0)).toBeGreaterThan(0.4);
    expect(share(0)).toBeLessThan(0.6);
  });

  it("estimates the propensity of its choice close to the frequency it makes that choice", () => {
    const r = BanditRouter.create(ARMS.slice(0, 2), { seed: 8 });
    for (let i = 0; i < 6; i++) r.update(CTX, "m×a", { pass: i < 4 });
    for (let i = 0; i < 6; i++) r.update(CTX, "m×b", { pass: i < 2 });
    const decisions = Array.from({ length: 300 }, () => r.choose(CTX, { propensity: 400 }));
    const freqA = decisions.filter((d) => d.arm === "m×a").length / decisions.length;
    const propA = decisions.find((d) => d.arm === "m×a")!.propensity!;
    expect(Math.abs(propA - freqA)).toBeLessThan(0.07);
    expect(freqA).toBeGreaterThan(0.7);
  });

  it("samples Beta draws with the right mean", () => {
    const rand = seededRandom(2);
    const xs = Array.from({ length: 4000 }, () => betaSample(3, 1, rand));
    expect(xs.reduce((s, x) => s + x, 0) / xs.length).toBeCloseTo(0.75, 1);
    const small = Array.from({ length: 4000 }, () => betaSample(0.5, 0.5, rand));
    expect(small.reduce((s, x) => s + x, 0) / small.length).toBeCloseTo(0.5, 1);
  });

  it("refuses a bad saved state with its path, and reads a missing file as no router", async () => {
    const path = join(dir, "bad.json");
    await Deno.writeTextFile(path, JSON.stringify({ version: 1, seed: 0 }));
    await expect(loadRouter(path)).rejects.toThrow(new RegExp(`^${path}: .*delete it to start a new router`));
    await Deno.writeTextFile(path, "{");
    await expect(loadRouter(path)).rejects.toThrow(/not JSON/);
    expect(await loadRouter(join(dir, "none.json"))).toBeUndefined();
    expect(() => BanditRouter.create(ARMS).update(CTX, "m×z", { pass: true })).toThrow(/router has no arm 'm×z'/);
  });
});
