/**
 * The "Reading" of a report: what its numbers show and what they do not, generated from the numbers alone (a pure
 * function, so the same result always reads the same and a planted result reads as it should).
 * @module
 */

/** One paired difference a report reads: `arm` against `versus`, in rate units (0.05 = 5 points). */
export interface Finding {
  /** What is compared, as the reader knows it ("fine-tuned + context"). */
  arm: string;
  /** What it is compared with ("base", "fine-tuned alone"). */
  versus: string;
  /** The difference, arm − versus, in rate units. */
  estimate: number;
  /** Lower bound of its 95 % interval, or null when there is none (see `note`). */
  lo: number | null;
  /** Upper bound of its 95 % interval, or null. */
  hi: number | null;
  /** Why there is no interval. */
  note?: string;
  /** Where it was measured ("dev", "test_id"); shown in the sentence. */
  where?: string;
}

/** What {@linkcode readingOf} reads. */
export interface ReadingInput {
  /** The paired differences, in the order they should be read. */
  findings: readonly Finding[];
  /** The comparison every finding without its own is against, for the sentence when none differs. @default "base" */
  control?: string;
  /** Statements the report adds as they are (already generated from its numbers): what the numbers show. */
  facts?: readonly string[];
  /** Statements of what the numbers do not show, added as they are. */
  limits?: readonly string[];
  /** The lab-mini label when the results are lab-mini's: the reading then says they are not claims about LLMs. */
  label?: string | null;
}

/** What {@linkcode readingOf} found: sentences of what the numbers show and what they do not, and both as one paragraph. */
export interface Reading {
  /** What the numbers show. */
  shows: string[];
  /** What they do not show. */
  doesNotShow: string[];
  /** "What this shows: … What it does not show: …" as one paragraph. */
  text: string;
}

const points = (x: number) => (100 * x).toFixed(1);
const signed = (x: number) => `${x >= 0 ? "+" : "−"}${points(Math.abs(x))}`;
const interval = (f: Finding) => `[${signed(f.lo!)}, ${signed(f.hi!)}]`;
const at = (f: Finding) => (f.where ? ` on ${f.where}` : "");

/** The direction of a finding at 95 %: above, below, or not distinguishable (or no interval). */
export function direction(f: Pick<Finding, "lo" | "hi">): "above" | "below" | "neither" | "no interval" {
  if (f.lo === null || f.hi === null) return "no interval";
  if (f.lo > 0) return "above";
  if (f.hi < 0) return "below";
  return "neither";
}

/**
 * Generates the reading of a report from its paired differences: a difference whose 95 % interval excludes 0 is
 * read as "X is above/below Y by d points [lo, hi]"; when none does, "no arm differs from <control> at 95 %", with
 * the widest difference the intervals still allow; one without an interval is read as not judged, with its note.
 *
 * @example
 * ```ts
 * const r = readingOf({ findings: [{ arm: "fine-tuned", versus: "base", estimate: 0.2, lo: 0.1, hi: 0.3 }] });
 * r.shows[0]; // "fine-tuned is above base by 20.0 points [+10.0, +30.0] (95 % interval)."
 * ```
 */
export function readingOf(input: ReadingInput): Reading {
  const shows: string[] = [];
  const doesNotShow: string[] = [];
  const control = input.control ?? "base";
  // Identical outcomes on every pair ([0, 0]) are a fact of their own, not an interval that "allows" a difference.
  const same = (f: Finding) => f.estimate === 0 && f.lo === 0 && f.hi === 0;
  for (const f of input.findings.filter(same)) {
    shows.push(`${f.arm} and ${f.versus}${at(f)} have the same outcome on every paired case.`);
  }
  const judged = input.findings.filter((f) => direction(f) !== "no interval" && !same(f));
  for (const f of input.findings) {
    const d = direction(f);
    if (d === "above" || d === "below") {
      shows.push(
        `${f.arm} is ${d} ${f.versus}${at(f)} by ${points(Math.abs(f.estimate))} points ${interval(f)} (95 % interval).`,
      );
    }
  }
  const undistinguished = judged.filter((f) => direction(f) === "neither");
  if (judged.length && undistinguished.length === judged.length) {
    const allOnControl = judged.every((f) => f.versus === control);
    shows.push(
      allOnControl
        ? `No arm differs from ${control} at 95 % (${judged.length} comparison${judged.length === 1 ? "" : "s"}).`
        : `None of the ${judged.length} differences is distinguishable from 0 at 95 %.`,
    );
  } else {
    for (const f of undistinguished) {
      shows.push(`${f.arm} does not differ from ${f.versus}${at(f)} at 95 % (${signed(f.estimate)} points ${interval(f)}).`);
    }
  }
  if (undistinguished.length) {
    const lo = Math.min(...undistinguished.map((f) => f.lo!));
    const hi = Math.max(...undistinguished.map((f) => f.hi!));
    doesNotShow.push(
      `That ${undistinguished.length === 1 ? `${undistinguished[0].arm} and ${undistinguished[0].versus} are` : "those arms are"} ` +
        `equal: the interval${undistinguished.length === 1 ? " still allows" : "s still allow"} differences from ${signed(lo)} to ${signed(hi)} points.`,
    );
  }
  for (const f of input.findings.filter((x) => direction(x) === "no interval")) {
    doesNotShow.push(
      `Whether ${f.arm} differs from ${f.versus}${at(f)}: ${signed(f.estimate)} points without an interval${f.note ? ` (${f.note})` : ""}.`,
    );
  }
  shows.push(...(input.facts ?? []));
  doesNotShow.push(...(input.limits ?? []));
  if (input.label) doesNotShow.push(`Anything about LLMs (${input.label}).`);
  if (!shows.length) shows.push("No comparison with an interval was measured.");
  const text = `What this shows: ${shows.join(" ")}` + (doesNotShow.length ? ` What it does not show: ${doesNotShow.join(" ")}` : "");
  return { shows, doesNotShow, text };
}
