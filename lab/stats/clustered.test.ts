import { describe, expect, it } from "vitest";
import { clusteredMeanCI } from "./mod.ts";

describe("clusteredMeanCI", () => {
  const values = [
    { cluster: "a", value: 1 },
    { cluster: "a", value: 0 },
    { cluster: "b", value: 1 },
    { cluster: "c", value: 0 },
  ];

  it("is the pooled mean ± t(k − 1) × the cluster-robust standard error", () => {
    // Cluster totals minus mean × size: 0, 0.5, −0.5; v = 3/2 × 0.5 / 4² = 0.046875; t(0.975; 2) = 4.302653.
    const se = Math.sqrt(0.046875);
    const r = clusteredMeanCI(values);
    expect(r.estimate).toBe(0.5);
    expect(r.se).toBeCloseTo(se, 12);
    expect(r.lo).toBeCloseTo(0.5 - 4.302653 * se, 5);
    expect(r.hi).toBeCloseTo(0.5 + 4.302653 * se, 5);
    expect([r.clusters, r.n]).toEqual([3, 4]);
  });

  it("clips to bounds, and is exact when every cluster agrees", () => {
    expect(clusteredMeanCI(values, { bounds: [0, 1] })).toMatchObject({ lo: 0, hi: 1 });
    expect(clusteredMeanCI([{ cluster: "a", value: 0 }, { cluster: "b", value: 0 }])).toEqual({ estimate: 0, lo: 0, hi: 0, se: 0, clusters: 2, n: 2 });
  });

  it("refuses fewer than two clusters, a bad level and non-finite values", () => {
    expect(() => clusteredMeanCI([{ cluster: "a", value: 1 }])).toThrow(/at least 2 clusters, found 1/);
    expect(() => clusteredMeanCI(values, { level: 1 })).toThrow(/level must be in \(0, 1\)/);
    expect(() => clusteredMeanCI([...values, { cluster: "d", value: Infinity }])).toThrow(/values\[4\]\.value must be a finite number/);
  });
});
