import { describe, expect, it } from "vitest";
import { exactSearch, IvfIndex } from "./_ann.ts";
import { mulberry32 } from "../util/mod.ts";

const D = 32;

/** `n` unit vectors around `clusters` random centres (deterministic). */
function clustered(n: number, clusters: number, seed: number, spread = 0.6): Float32Array {
  const rnd = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const centres = Array.from({ length: clusters }, () => Array.from({ length: D }, gauss));
  const out = new Float32Array(n * D);
  for (let i = 0; i < n; i++) {
    const c = centres[Math.floor(rnd() * clusters)];
    let s = 0;
    for (let j = 0; j < D; j++) {
      out[i * D + j] = c[j] + spread * gauss();
      s += out[i * D + j] ** 2;
    }
    for (let j = 0; j < D; j++) out[i * D + j] /= Math.sqrt(s);
  }
  return out;
}

function build(data: Float32Array, options: Parameters<typeof IvfIndex.train>[2] = {}) {
  const index = IvfIndex.train(data.slice(0, Math.min(data.length, 2000 * D)), D, {
    expectedRows: data.length / D,
    ...options,
  });
  index.addMany(data, 0);
  index.compact();
  return index;
}

describe("IvfIndex", () => {
  const data = clustered(6000, 40, 1);
  const queries = clustered(50, 40, 2);
  const q = (i: number) => queries.subarray(i * D, (i + 1) * D);

  it("finds at least 95% of the exact top 5 while scanning a fraction of the rows", () => {
    const index = build(data, { seed: 3 });
    let found = 0, wanted = 0, scanned = 0;
    for (let i = 0; i < 50; i++) {
      const exact = exactSearch(data, D, q(i), { k: 5 });
      const hits = index.search(q(i), { k: 5, nprobe: 16 });
      const kth = exact.scores[4];
      found += hits.scores.filter((s) => s >= kth - 1e-6).length;
      wanted += 5;
      scanned += hits.scanned;
    }
    // 2√6000 ≈ 155 cells, give or take the rounding of the two-level split.
    expect(Math.abs(index.nlist - 155)).toBeLessThanOrEqual(10);
    expect(found / wanted).toBeGreaterThanOrEqual(0.95);
    expect(scanned / 50).toBeLessThan(6000 / 3);
  });

  it("is exact when every cell is probed, with the filter and the minimum score applied", () => {
    const index = build(data, { seed: 3, nlist: 20 });
    const accept = (row: number) => row % 3 !== 0;
    for (let i = 0; i < 10; i++) {
      const exact = exactSearch(data, D, q(i), { k: 7, minScore: 0.2, accept });
      const hits = index.search(q(i), { k: 7, nprobe: 20, minScore: 0.2, accept });
      expect({ rows: hits.rows, scores: hits.scores.map((s) => s.toFixed(5)) })
        .toEqual({ rows: exact.rows, scores: exact.scores.map((s) => s.toFixed(5)) });
    }
  });

  it("builds the same cells and answers from the same seed, and other cells from another", () => {
    const a = build(data, { seed: 5, nlist: 30 }),
      b = build(data, { seed: 5, nlist: 30 }),
      c = build(data, { seed: 6, nlist: 30 });
    expect(a.cellSizes()).toEqual(b.cellSizes());
    expect(a.search(q(0), { k: 5, nprobe: 2 })).toEqual(b.search(q(0), { k: 5, nprobe: 2 }));
    expect(Array.from(a.centroids)).not.toEqual(Array.from(c.centroids));
  });

  it("uses two-level training for many cells and keeps every row", () => {
    const index = build(data, { seed: 1, nlist: 100 });
    expect(index.nlist).toBeGreaterThan(80);
    expect(index.size).toBe(6000);
    expect(index.cellSizes().reduce((a, b) => a + b, 0)).toBe(6000);
  });

  it("returns nothing below the minimum score and refuses a sample of the wrong shape", () => {
    const index = build(data, { seed: 1, nlist: 10 });
    expect(index.search(q(0), { k: 5, minScore: 1.01 })).toMatchObject({ rows: [], scores: [] });
    expect(() => IvfIndex.train(new Float32Array(10), D)).toThrow(/not a multiple of dims 32/);
  });
});
