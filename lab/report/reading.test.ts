/**
 * The "Reading" generator on planted results: a positive lift, a null result, a negative one (fine-tuned + context
 * below fine-tuned alone), a cell without an interval, identical arms, and the lab-mini label.
 */
import { describe, expect, it } from "vitest";
import { compare, liftCell, LAB_MINI_LABEL } from "../evals/mod.ts";
import { plantedEpisode } from "../evals/testing.ts";
import { type Finding, readingOf } from "./mod.ts";

/** `arm` passes `rate` of each family's 4 challenges (12 families), base passes `baseRate`. */
function plantedLift(rate: number, baseRate: number, arm = "finetuned"): Finding {
  const eps = [];
  for (let f = 0; f < 12; f++) {
    for (let c = 0; c < 4; c++) {
      const id = `fam${f}/t0/c${c}`;
      // Spread the passes over families so that the clustered interval is finite and tight.
      eps.push(plantedEpisode("base", id, (c + f) % 4 < baseRate * 4));
      eps.push(plantedEpisode(arm, id, (c + f) % 4 < rate * 4));
    }
  }
  const l = liftCell(compare(eps, { control: "base", arms: [arm] }), arm)!;
  return { arm, versus: "base", estimate: l.estimate, lo: l.lo, hi: l.hi, where: "dev" };
}

describe("readingOf", () => {
  it("reads a planted positive lift as above the control, with its interval", () => {
    const f = plantedLift(0.75, 0.25);
    expect(f.lo).toBeGreaterThan(0);
    const r = readingOf({ findings: [f] });
    expect(r.shows).toEqual([`finetuned is above base on dev by 50.0 points [+${(100 * f.lo!).toFixed(1)}, +${(100 * f.hi!).toFixed(1)}] (95 % interval).`]);
    expect(r.doesNotShow).toEqual([]);
    expect(r.text).toBe(`What this shows: ${r.shows[0]}`);
  });

  it("reads a planted null result as 'no arm differs from base at 95 %' and says what the intervals still allow", () => {
    const a = plantedLift(0.5, 0.5, "context");
    const b: Finding = { arm: "finetuned", versus: "base", estimate: 0.04, lo: -0.05, hi: 0.13, where: "dev" };
    const r = readingOf({ findings: [a, b] });
    expect(r.shows).toEqual(["context and base on dev have the same outcome on every paired case.", "No arm differs from base at 95 % (1 comparison)."]);
    expect(r.doesNotShow).toEqual(["That finetuned and base are equal: the interval still allows differences from −5.0 to +13.0 points."]);
    // Beside a difference, an undistinguished one is read on its own.
    expect(readingOf({ findings: [plantedLift(0.75, 0.25), b] }).shows[1]).toBe("finetuned does not differ from base on dev at 95 % (+4.0 points [−5.0, +13.0]).");
    const c: Finding = { arm: "context", versus: "base", estimate: -0.01, lo: -0.08, hi: 0.06 };
    const both = readingOf({ findings: [b, c] });
    expect(both.shows).toEqual(["No arm differs from base at 95 % (2 comparisons)."]);
    expect(both.doesNotShow).toEqual(["That those arms are equal: the intervals still allow differences from −8.0 to +13.0 points."]);
  });

  it("reads a planted negative result: fine-tuned + context below fine-tuned alone by X [a, b]", () => {
    const f: Finding = { arm: "fine-tuned + context", versus: "fine-tuned alone", estimate: -0.125, lo: -0.2, hi: -0.05, where: "test_id" };
    const up = plantedLift(0.75, 0.25);
    const r = readingOf({ findings: [up, f], label: LAB_MINI_LABEL });
    expect(r.shows[1]).toBe("fine-tuned + context is below fine-tuned alone on test_id by 12.5 points [−20.0, −5.0] (95 % interval).");
    expect(r.doesNotShow).toEqual([`Anything about LLMs (${LAB_MINI_LABEL}).`]);
  });

  it("does not judge a cell without an interval, and adds the report's facts and limits as given", () => {
    const r = readingOf({
      findings: [{ arm: "r1", versus: "base", estimate: 0.1, lo: null, hi: null, note: "6 families: an interval needs ≥ 10" }],
      facts: ["12 patterns came out of 72 episodes."],
      limits: ["Held-out tasks."],
    });
    expect(r.shows).toEqual(["12 patterns came out of 72 episodes."]);
    expect(r.doesNotShow).toEqual(["Whether r1 differs from base: +10.0 points without an interval (6 families: an interval needs ≥ 10).", "Held-out tasks."]);
    expect(readingOf({ findings: [] }).shows).toEqual(["No comparison with an interval was measured."]);
  });
});
