/**
 * The cluster-robust t interval of a mean: the lab's interval for rates and paired lifts, where a cluster (a family
 * of challenges) holds many correlated observations of unequal count.
 *
 * The estimate is the pooled mean Σy / N (every episode weighs the same). Its variance is the linearised
 * (ratio-estimator) variance over clusters with the k / (k − 1) small-sample factor,
 * v = k / (k − 1) · Σ_g (Y_g − ȳ·n_g)² / N², and the interval is ȳ ± t(1 − α/2; k − 1) · √v. Simulated A/A
 * suites of 10–30 families with per-family arm effects (`lab/evals/compare.test.ts`) put its coverage at 94–96 %
 * for a nominal 95 %, where the expanded-percentile cluster bootstrap gave 92–94 % and the plain percentile
 * bootstrap 91 %.
 */
import type { ClusteredValue } from "./_bootstrap.ts";
import { groupBy } from "./_bootstrap.ts";
import type { Interval } from "./_describe.ts";
import { studentTQuantile } from "./_distributions.ts";

/** A clustered mean with its cluster-robust t interval. */
export interface ClusteredMeanResult extends Interval {
  /** Standard error (cluster-robust, small-sample corrected); 0 when every cluster agrees exactly. */
  se: number;
  /** Distinct clusters: the interval's degrees of freedom are clusters − 1. */
  clusters: number;
  /** Observations. */
  n: number;
}

/**
 * The mean of `values` with a cluster-robust t interval (see the module notes). Needs at least 2 clusters. With
 * `bounds`, the interval is clipped to the values' possible range (e.g. [0, 1] for a rate).
 *
 * @example
 * ```ts
 * import { clusteredMeanCI } from "../lab/stats/mod.ts";
 * clusteredMeanCI([
 *   { cluster: "inv", value: 1 }, { cluster: "inv", value: 0 }, { cluster: "gl", value: 1 }, { cluster: "ap", value: 0 },
 * ]); // { estimate: 0.5, lo: …, hi: …, se: 0.35, clusters: 3, n: 4 }
 * ```
 */
export function clusteredMeanCI(
  values: readonly ClusteredValue[],
  options: { level?: number; bounds?: [number, number] } = {},
): ClusteredMeanResult {
  const level = options.level ?? 0.95;
  if (!(level > 0 && level < 1)) throw new RangeError(`clusteredMeanCI: options.level must be in (0, 1), found ${level}`);
  values.forEach((v, i) => {
    if (typeof v.value !== "number" || !Number.isFinite(v.value)) {
      throw new RangeError(`clusteredMeanCI: values[${i}].value must be a finite number, found ${v.value}`);
    }
  });
  const groups = groupBy(values, (v) => String(v.cluster));
  const k = groups.length;
  if (k < 2) throw new RangeError(`clusteredMeanCI: needs at least 2 clusters, found ${k}`);
  const n = values.length;
  const estimate = values.reduce((s, v) => s + v.value, 0) / n;
  const ss = groups.reduce((s, g) => s + (g.reduce((t, v) => t + v.value, 0) - estimate * g.length) ** 2, 0);
  const se = Math.sqrt((k / (k - 1)) * ss) / n;
  const half = studentTQuantile(1 - (1 - level) / 2, k - 1) * se;
  const [min, max] = options.bounds ?? [-Infinity, Infinity];
  return { estimate, lo: Math.max(min, estimate - half), hi: Math.min(max, estimate + half), se, clusters: k, n };
}
