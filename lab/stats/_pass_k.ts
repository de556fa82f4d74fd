/**
 * pass@k and pass^k from n trials per task. pass@k asks "does at least one of k tries succeed?" (capability);
 * pass^k asks "do all k tries succeed?" (reliability, as in tau-bench). Both are unbiased estimates from n ≥ k
 * trials of which c succeeded, averaged over tasks.
 */

/** Trial counts of one task: `n` trials, `c` of them successful. */
export interface TaskTrials {
  /** Number of trials, a positive integer. */
  n: number;
  /** Number of successful trials, an integer in [0, n]. */
  c: number;
}

function checkTrials(where: string, t: TaskTrials, k: number): void {
  if (!Number.isInteger(t.n) || t.n < 1) throw new RangeError(`${where}: n must be a positive integer, found ${t.n}`);
  if (!Number.isInteger(t.c) || t.c < 0 || t.c > t.n) {
    throw new RangeError(`${where}: c must be an integer in [0, ${t.n}], found ${t.c}`);
  }
  if (!Number.isInteger(k) || k < 1 || k > t.n) {
    throw new RangeError(`${where}: k must be an integer in [1, n=${t.n}], found ${k}; run at least k trials per task`);
  }
}

/**
 * Unbiased pass@k of one task (Chen et al. 2021): 1 − C(n−c, k) / C(n, k), the chance that k trials drawn without
 * replacement from the n include a success. Computed as 1 − ∏_{i=n−c+1}^{n} (1 − k/i), which never forms the huge
 * binomial coefficients.
 *
 * @example
 * ```ts
 * import { passAtK } from "../lab/stats/mod.ts";
 * passAtK({ n: 5, c: 2 }, 2); // 0.7 = 1 − C(3,2)/C(5,2)
 * ```
 */
export function passAtK(trials: TaskTrials, k: number): number {
  checkTrials("passAtK", trials, k);
  const { n, c } = trials;
  if (n - c < k) return 1;
  let allFail = 1;
  for (let i = n - c + 1; i <= n; i++) allFail *= 1 - k / i;
  return 1 - allFail;
}

/**
 * pass^k of one task as tau-bench defines it: C(c, k) / C(n, k), the chance that k trials drawn without replacement
 * from the n all succeed — an unbiased estimate of p^k. Computed as ∏_{i=0}^{k−1} (c − i) / (n − i).
 *
 * @example
 * ```ts
 * import { passHatK } from "../lab/stats/mod.ts";
 * passHatK({ n: 5, c: 3 }, 2); // 0.3 = C(3,2)/C(5,2)
 * ```
 */
export function passHatK(trials: TaskTrials, k: number): number {
  checkTrials("passHatK", trials, k);
  const { n, c } = trials;
  if (c < k) return 0;
  let all = 1;
  for (let i = 0; i < k; i++) all *= (c - i) / (n - i);
  return all;
}

function averageOver(where: string, tasks: readonly TaskTrials[], per: (t: TaskTrials) => number): number {
  if (tasks.length === 0) throw new RangeError(`${where}: tasks is empty; pass at least one task`);
  let sum = 0;
  tasks.forEach((t, i) => {
    try {
      sum += per(t);
    } catch (e) {
      throw new RangeError(`${where}: tasks[${i}]: ${(e as Error).message}`);
    }
  });
  return sum / tasks.length;
}

/**
 * pass@k averaged over tasks, each task weighted equally whatever its number of trials.
 *
 * @example
 * ```ts
 * import { meanPassAtK } from "../lab/stats/mod.ts";
 * meanPassAtK([{ n: 5, c: 2 }, { n: 5, c: 0 }], 2); // 0.35
 * ```
 */
export function meanPassAtK(tasks: readonly TaskTrials[], k: number): number {
  return averageOver("meanPassAtK", tasks, (t) => passAtK(t, k));
}

/**
 * pass^k averaged over tasks (tau-bench's reliability curve is this for k = 1, 2, …).
 *
 * @example
 * ```ts
 * import { meanPassHatK } from "../lab/stats/mod.ts";
 * meanPassHatK([{ n: 5, c: 3 }, { n: 5, c: 5 }], 2); // 0.65
 * ```
 */
export function meanPassHatK(tasks: readonly TaskTrials[], k: number): number {
  return averageOver("meanPassHatK", tasks, (t) => passHatK(t, k));
}

/**
 * Counts trials per task from episode records, in first-seen task order: the input {@linkcode meanPassAtK} and
 * {@linkcode meanPassHatK} expect.
 *
 * @example
 * ```ts
 * import { countTrials } from "../lab/stats/mod.ts";
 * countTrials([{ cluster: "t1", pass: true }, { cluster: "t1", pass: false }, { cluster: "t2", pass: true }]);
 * // [{ cluster: "t1", n: 2, c: 1 }, { cluster: "t2", n: 1, c: 1 }]
 * ```
 */
export function countTrials(
  records: readonly { cluster: string; pass: boolean }[],
): (TaskTrials & { cluster: string })[] {
  const byTask = new Map<string, TaskTrials & { cluster: string }>();
  for (const r of records) {
    const t = byTask.get(r.cluster) ?? { cluster: r.cluster, n: 0, c: 0 };
    t.n++;
    if (r.pass) t.c++;
    byTask.set(r.cluster, t);
  }
  return [...byTask.values()];
}
