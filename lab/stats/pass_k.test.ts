import { describe, expect, it } from "vitest";
import { countTrials, meanPassAtK, meanPassHatK, passAtK, passHatK } from "./mod.ts";

/** All k-subsets of {0..n-1}. */
function* subsets(n: number, k: number, start = 0, acc: number[] = []): Generator<number[]> {
  if (acc.length === k) {
    yield acc;
    return;
  }
  for (let i = start; i < n; i++) yield* subsets(n, k, i + 1, [...acc, i]);
}

/** Brute force: trials 0..c-1 succeed; the share of k-subsets with any (or all) successes. */
function bruteForce(n: number, c: number, k: number): { any: number; all: number } {
  let total = 0;
  let any = 0;
  let all = 0;
  for (const s of subsets(n, k)) {
    total++;
    if (s.some((i) => i < c)) any++;
    if (s.every((i) => i < c)) all++;
  }
  return { any: any / total, all: all / total };
}

describe("passAtK and passHatK", () => {
  it("equal brute-force enumeration of k-subsets for every n ≤ 8, c, k", () => {
    for (let n = 1; n <= 8; n++) {
      for (let c = 0; c <= n; c++) {
        for (let k = 1; k <= n; k++) {
          const want = bruteForce(n, c, k);
          expect(passAtK({ n, c }, k)).toBeCloseTo(want.any, 12);
          expect(passHatK({ n, c }, k)).toBeCloseTo(want.all, 12);
        }
      }
    }
  });
  it("gives hand-computed values", () => {
    expect(passAtK({ n: 5, c: 2 }, 2)).toBeCloseTo(0.7, 15); // 1 − C(3,2)/C(5,2)
    expect(passHatK({ n: 5, c: 3 }, 2)).toBeCloseTo(0.3, 15); // C(3,2)/C(5,2)
    expect(passAtK({ n: 10, c: 3 }, 1)).toBeCloseTo(0.3, 15); // k = 1 is the pass rate
    expect(passHatK({ n: 10, c: 3 }, 1)).toBeCloseTo(0.3, 15);
  });
  it("stays finite and in [0, 1] for large n where binomial coefficients overflow", () => {
    const p = passAtK({ n: 2000, c: 7 }, 100);
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(1);
    // 1 − ∏_{i=1994}^{2000}(1 − 100/i), evaluated independently in log space
    let log = 0;
    for (let i = 1994; i <= 2000; i++) log += Math.log1p(-100 / i);
    expect(p).toBeCloseTo(1 - Math.exp(log), 12);
    expect(passHatK({ n: 2000, c: 1990 }, 300)).toBeGreaterThan(0);
  });
  it("refuses k larger than the number of trials", () => {
    expect(() => passAtK({ n: 3, c: 1 }, 5)).toThrow(/k must be an integer in \[1, n=3\]/);
    expect(() => passHatK({ n: 3, c: 4 }, 1)).toThrow(/c must be an integer in \[0, 3\]/);
  });
});

describe("meanPassAtK and meanPassHatK", () => {
  it("average per task, and name the task that is invalid", () => {
    expect(meanPassAtK([{ n: 5, c: 2 }, { n: 5, c: 0 }], 2)).toBeCloseTo(0.35, 15);
    expect(meanPassHatK([{ n: 5, c: 3 }, { n: 5, c: 5 }], 2)).toBeCloseTo(0.65, 15);
    expect(() => meanPassAtK([{ n: 5, c: 2 }, { n: 1, c: 0 }], 2)).toThrow(/tasks\[1\]: passAtK: k must be/);
    expect(() => meanPassHatK([], 1)).toThrow(/tasks is empty/);
  });
  it("pass^k falls and pass@k rises with k", () => {
    const tasks = [{ n: 8, c: 6 }, { n: 8, c: 3 }, { n: 8, c: 8 }];
    const at = [1, 2, 4, 8].map((k) => meanPassAtK(tasks, k));
    const hat = [1, 2, 4, 8].map((k) => meanPassHatK(tasks, k));
    expect(at).toEqual([...at].sort((x, y) => x - y));
    expect(hat).toEqual([...hat].sort((x, y) => y - x));
    expect(at[0]).toBeCloseTo(hat[0], 15);
  });
});

describe("countTrials", () => {
  it("tallies trials per task in first-seen order", () => {
    expect(countTrials([
      { cluster: "t2", pass: true },
      { cluster: "t1", pass: false },
      { cluster: "t2", pass: false },
      { cluster: "t1", pass: true },
      { cluster: "t2", pass: true },
    ])).toEqual([{ cluster: "t2", n: 3, c: 2 }, { cluster: "t1", n: 2, c: 1 }]);
  });
});
