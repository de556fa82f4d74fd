/**
 * The README's figures come from committed results: its figures blocks are regenerated from the results files
 * (lab/evals/labmini_results.json, evals_results.json, self_improve_results.json) and must equal what README.md
 * holds; the honesty experiment's JSON and Markdown are one run, written by a command that needs no hidden flag.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { applyReadmeFigures, README_FIGURE_SOURCES, type ReadmeResults, readmeFiguresFrom, readReadmeResults } from "../report/mod.ts";
import { ROOT } from "../util/mod.ts";

describe("README figures", () => {
  let results: ReadmeResults;
  let readme: string;
  beforeAll(async () => {
    results = await readReadmeResults(ROOT);
    readme = await Deno.readTextFile(`${ROOT}/README.md`);
  });

  it("README.md's figures blocks equal the text the committed results generate", () => {
    const blocks = readmeFiguresFrom(results);
    expect(Object.keys(blocks)).toEqual(["labmini", "own-tournament"]);
    // Fails naming the command to run when a figure was edited by hand or a results file was re-run.
    expect(applyReadmeFigures(readme, blocks), "run 'deno run -A lab/report/readme.ts' and commit README.md").toBe(readme);
  });

  it("a changed result changes the README's text, and a missing block is an error naming it", () => {
    const lifts = results.labmini.pooled.find((p) => p.split === "dev")!.lifts;
    const icl = lifts.find((l) => l.arm === "icl_same" && l.level === "all")!;
    const planted = structuredClone(results);
    planted.labmini.pooled.find((p) => p.split === "dev")!.lifts.find((l) => l.arm === "icl_same" && l.level === "all")!.estimate = icl.estimate + 0.01;
    expect(applyReadmeFigures(readme, readmeFiguresFrom(planted))).not.toBe(readme);
    const withoutBlock = readme.replace(/<!-- figures:begin own-tournament[^\n]*\n/, "");
    expect(() => applyReadmeFigures(withoutBlock, readmeFiguresFrom(results))).toThrow(/no figures block 'own-tournament'/);
  });

  it("states the transfer gap and the regression on train templates when the results carry the train reference", () => {
    const planted = structuredClone(results);
    planted.labmini.pooled.find((p) => p.split === "test_id")!.reference = {
      transfer: [{ level: "all", estimate: -0.031, lo: -0.08, hi: 0.02, families: 20, splitMean: 0.2, trainMean: 0.231 }],
      regression: [{ arm: "base", level: "all", estimate: 0.004, lo: -0.01, hi: 0.02, pairs: 300, clusters: 20 }],
    };
    expect(readmeFiguresFrom(planted).labmini).toMatch(
      /On test_id's held-out templates its base success is −3\.1 \[−8\.0, \+2\.0\] points from the train templates of the same 20 families \(20\.0 % vs 23\.1 %, family means; target within ±5\), and \+0\.4 \[−1\.0, \+2\.0\] points on those train templates vs the previous base weights \(target ≥ −2\)\.$/,
    );
  });

  it("the honesty experiment's JSON and Markdown are one run of a command with default settings", async () => {
    const { labmini } = results;
    // Defaults reproduce the headline: the command names splits, seeds and outputs, not the copy threshold.
    expect(labmini.command).toMatch(/^deno task lab experiment labmini --splits dev,test_id,test_ood --seeds 1,2,3 /);
    expect(labmini.command).not.toContain("--copy-threshold");
    expect(labmini.command).toContain(`--out ${README_FIGURE_SOURCES.labmini}`);
    expect(labmini.settings.copyThreshold).toBe(0.2);
    const md = await Deno.readTextFile(`${ROOT}/lab/evals/LABMINI_RESULTS.md`);
    expect(md).toContain(`with \`${labmini.command}\` on ${labmini.date}.`);
    // Every pooled check of the JSON is the Markdown's row, figure for figure.
    const splits = labmini.pooled.map((p) => p.split);
    for (const row of labmini.pooled[0].checks) {
      const cells = splits.map((s) => {
        const c = labmini.pooled.find((p) => p.split === s)!.checks.find((x) => x.check === row.check);
        return c ? `${c.measured} ${c.pass === null ? "(n/a)" : c.pass ? "✓" : "✗"}` : "–";
      });
      expect(md).toContain(`| ${row.check} | ${row.target} | ${cells.join(" | ")} |`);
    }
  });
});
