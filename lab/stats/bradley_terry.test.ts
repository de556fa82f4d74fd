import { describe, expect, it } from "vitest";
import { bradleyTerry, type PairwiseOutcome, seededRandom } from "./mod.ts";

/** Round-robin games on `challenges` challenges between players of planted Elo ratings; ties with `tieRate`. */
function simulate(planted: Record<string, number>, challenges: number, seed: number, tieRate = 0): PairwiseOutcome[] {
  const rand = seededRandom(seed);
  const names = Object.keys(planted);
  const out: PairwiseOutcome[] = [];
  for (let c = 0; c < challenges; c++) {
    for (let i = 0; i < names.length; i++) {
      for (let j = i + 1; j < names.length; j++) {
        const pWin = 1 / (1 + 10 ** ((planted[names[j]] - planted[names[i]]) / 400));
        const result = rand() < tieRate ? 0.5 : rand() < pWin ? 1 : 0;
        out.push({ challenge: `ch-${c}`, a: names[i], b: names[j], result });
      }
    }
  }
  return out;
}

const byPlayer = (rows: ReturnType<typeof bradleyTerry>) => Object.fromEntries(rows.map((r) => [r.player, r]));

describe("bradleyTerry", () => {
  it("recovers a planted ordering from simulated games, with intervals covering the planted ratings", () => {
    const planted = { e: 1200, c: 1500, a: 1800, d: 1350, b: 1650 };
    const rows = bradleyTerry(simulate(planted, 60, 42, 0.1), { resamples: 200, seed: 1 });
    expect(rows.map((r) => r.player)).toEqual(["a", "b", "c", "d", "e"]);
    expect(rows.reduce((s, r) => s + r.rating, 0) / rows.length).toBeCloseTo(1500, 9);
    for (const r of rows) {
      expect(r.rating).toBeGreaterThan(r.lo);
      expect(r.rating).toBeLessThan(r.hi);
      expect(Math.abs(r.rating - planted[r.player as keyof typeof planted])).toBeLessThan(100);
      expect(r.wins + r.losses + r.ties).toBe(4 * 60);
    }
  });
  it("matches the maximum-likelihood ratio when the prior is negligible", () => {
    // a scores 3 of 4 against b: p_a / p_b = 3, a gap of 400·log10(3) ≈ 190.8 Elo.
    const outcomes: PairwiseOutcome[] = [
      { challenge: "1", a: "a", b: "b", result: 1 },
      { challenge: "2", a: "b", b: "a", result: 0 },
      { challenge: "3", a: "a", b: "b", result: 0.5 },
      { challenge: "4", a: "a", b: "b", result: 0.5 },
    ];
    const r = byPlayer(bradleyTerry(outcomes, { prior: 1e-9, resamples: 10 }));
    expect(r.a.rating - r.b.rating).toBeCloseTo(400 * Math.log10(3), 5);
    expect(r.a).toMatchObject({ wins: 2, losses: 0, ties: 2 });
    expect(r.b).toMatchObject({ wins: 0, losses: 2, ties: 2 });
  });
  it("counts a tie as half a win to each side", () => {
    // Two ties between x and y carry the same evidence as one win each.
    const tied: PairwiseOutcome[] = [
      { challenge: "1", a: "x", b: "y", result: 0.5 },
      { challenge: "2", a: "y", b: "x", result: 0.5 },
      { challenge: "3", a: "y", b: "z", result: 1 },
    ];
    const split: PairwiseOutcome[] = [
      { challenge: "1", a: "x", b: "y", result: 1 },
      { challenge: "2", a: "x", b: "y", result: 0 },
      { challenge: "3", a: "y", b: "z", result: 1 },
    ];
    const t = byPlayer(bradleyTerry(tied, { resamples: 10 }));
    const s = byPlayer(bradleyTerry(split, { resamples: 10 }));
    for (const p of ["x", "y", "z"]) expect(t[p].rating).toBeCloseTo(s[p].rating, 8);
    expect(t.x).toMatchObject({ wins: 0, losses: 0, ties: 2 });
    expect(t.y).toMatchObject({ wins: 1, losses: 0, ties: 2 });
    const allTies = bradleyTerry(tied.slice(0, 2), { resamples: 50 });
    for (const r of allTies) expect(r).toMatchObject({ rating: expect.closeTo(1500, 6), lo: expect.closeTo(1500, 6) });
  });
  it("keeps an undefeated player finite, and the weaker the prior the higher it rates", () => {
    const outcomes: PairwiseOutcome[] = [];
    for (let c = 0; c < 10; c++) {
      outcomes.push({ challenge: `${c}`, a: "champ", b: "p", result: 1 });
      outcomes.push({ challenge: `${c}`, a: "q", b: "champ", result: 0 });
      outcomes.push({ challenge: `${c}`, a: "p", b: "q", result: c % 2 ? 1 : 0.5 });
    }
    const ratings = [1, 0.1, 0.01].map((prior) => byPlayer(bradleyTerry(outcomes, { prior, resamples: 100 })).champ);
    for (const r of ratings) {
      expect([r.rating, r.lo, r.hi].every(Number.isFinite)).toBe(true);
      expect(r).toMatchObject({ wins: 20, losses: 0, ties: 0 });
    }
    expect(ratings[0].rating).toBeLessThan(ratings[1].rating);
    expect(ratings[1].rating).toBeLessThan(ratings[2].rating);
  });
  it("is deterministic for a seed", () => {
    const outcomes = simulate({ a: 1550, b: 1500, c: 1450 }, 20, 3);
    const first = bradleyTerry(outcomes, { resamples: 100, seed: 9 });
    expect(bradleyTerry(outcomes, { resamples: 100, seed: 9 })).toEqual(first);
    expect(bradleyTerry(outcomes, { resamples: 100, seed: 10 })).not.toEqual(first);
  });
  it("is calibrated: for identical players the 95% interval covers no difference about 95% of the time", () => {
    // With two players and mean-centring, a's rating is 1500 + (a − b)/2, so a's interval covers 1500 exactly
    // when the interval of the rating difference covers 0.
    let covered = 0;
    const runs = 200;
    for (let sim = 0; sim < runs; sim++) {
      const rows = byPlayer(
        bradleyTerry(simulate({ a: 1500, b: 1500 }, 40, 5000 + sim, 0.2), { resamples: 200, seed: sim }),
      );
      if (rows.a.lo <= 1500 + 1e-6 && rows.a.hi >= 1500 - 1e-6) covered++;
    }
    expect(covered / runs).toBeGreaterThanOrEqual(0.88);
    expect(covered / runs).toBeLessThanOrEqual(0.99);
  });
  it("refuses malformed games and says which", () => {
    const ok: PairwiseOutcome = { challenge: "1", a: "x", b: "y", result: 1 };
    expect(() => bradleyTerry([])).toThrow(/outcomes is empty/);
    expect(() => bradleyTerry([ok, { ...ok, result: 2 as 1 }])).toThrow(/outcomes\[1\].result must be 1, 0.5 or 0/);
    expect(() => bradleyTerry([{ ...ok, b: "x" }])).toThrow(/outcomes\[0\] must pit two different players/);
    expect(() => bradleyTerry([ok], { prior: 0 })).toThrow(/options.prior must be a positive number/);
  });
});
