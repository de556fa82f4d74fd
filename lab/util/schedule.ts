/**
 * The lab's one scheduler: a fixed number of lanes take the next item until none is left. Results keep the items'
 * order whatever order they finish in. Also the one wait that an abort cuts short ({@linkcode sleep}).
 * @module
 */

/** Options for {@linkcode mapConcurrent}. */
export interface ScheduleOptions {
  /** Items in flight at once (at least 1, at most the number of items). @default 4 */
  concurrency?: number;
  /** Stops handing out items once aborted; the items in flight finish. */
  signal?: AbortSignal;
  /** Called after each item with the count done so far and the total. */
  onDone?: (done: number, total: number) => void;
}

/**
 * Runs `fn` on every item with at most `concurrency` in flight and returns the results in the items' order. A
 * rejection stops handing out items and rejects once the lanes have stopped. With `signal` aborted, items not yet
 * started are left out: their slots stay `undefined` (check `signal.aborted` before trusting the result).
 *
 * @example
 * ```ts
 * const squares = await mapConcurrent([1, 2, 3], (x) => Promise.resolve(x * x), { concurrency: 2 });
 * // [1, 4, 9]
 * ```
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  fn: (item: T, index: number) => Promise<R>,
  options: ScheduleOptions = {},
): Promise<R[]> {
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`mapConcurrent: concurrency must be an integer ≥ 1, found ${concurrency}`);
  }
  const out = new Array<R>(items.length);
  let next = 0;
  let done = 0;
  let failed = false;
  const lane = async () => {
    while (next < items.length && !failed && !options.signal?.aborted) {
      const i = next++;
      try {
        out[i] = await fn(items[i], i);
      } catch (e) {
        failed = true;
        throw e;
      }
      options.onDone?.(++done, items.length);
    }
  };
  const lanes = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane));
  const rejected = lanes.find((l): l is PromiseRejectedResult => l.status === "rejected");
  if (rejected) throw rejected.reason;
  return out;
}

/**
 * Waits `ms`; rejects with the signal's reason as soon as `signal` aborts (at once if it already has).
 *
 * @example
 * ```ts
 * await sleep(1000, AbortSignal.timeout(5000));
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
