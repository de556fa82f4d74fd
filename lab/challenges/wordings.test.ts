/**
 * The catalog's wordings: at least 8 templates per family, two held out for `dev` and two for `test_id`, and
 * each family's tagged templates cover the wording features a measurement needs (question, request, a note from
 * a colleague, jargon; numbers in words where the family has a number; a relative period where it has a period;
 * comparison phrasing where the family's outcome is a comparison).
 * Prints the counts by level, split and template.
 */
import { describe, expect, it } from "vitest";
import { loadCatalog, loadFamilies } from "./catalog.ts";
import type { Split } from "./types.ts";

const families = await loadFamilies();
const catalog = await loadCatalog();

describe("wordings", () => {
  it("gives every family at least 8 templates: 2 for test_id, 2 for dev and the rest for train", () => {
    for (const f of families) {
      expect(f.templates.length, f.family).toBeGreaterThanOrEqual(8);
      const splits = new Map<number, Split>();
      for (const c of catalog.filter((c) => c.family === f.family)) splits.set(c.templateIndex, c.split);
      const count = (s: Split) => [...splits.values()].filter((x) => x === s).length;
      if (count("test_ood") > 0) {
        expect(count("test_ood"), f.family).toBe(f.templates.length);
        continue;
      }
      expect([count("test_id"), count("dev"), count("train")], f.family).toEqual([2, 2, f.templates.length - 4]);
    }
  });

  it("covers question, request, colleague note and jargon in every family, numbers in words and relative periods where they apply", () => {
    for (const f of families) {
      const tagged = new Set(f.wordings.flatMap((w) => w.features));
      const need = ["question", "request", "colleague_note", "jargon"];
      if (Object.values(f.params).some((values) => values.every((v) => typeof v === "number"))) need.push("numbers_in_words");
      if ("period" in f.params || "quarter" in f.params) need.push("relative_period");
      if (f.outcome === "comparison") need.push("comparison");
      expect(need.filter((n) => !tagged.has(n as never)), f.family).toEqual([]);
    }
  });

  it("uses the tags honestly: numbers in words render as words, relative periods use the alternative period wording or a relative base", () => {
    for (const f of families) {
      f.templates.forEach((t, i) => {
        const features = f.wordings[i].features;
        if (features.includes("numbers_in_words")) {
          expect(t, `${f.family}[${i}]`).toMatch(/\{[a-z_]+\.words\}|\b(thousand|hundred|twenty|thirty|forty|fifty|sixty|ninety|million)\b/i);
        }
        if (features.includes("shorthand")) expect(t, `${f.family}[${i}]`).toMatch(/\{[a-z_]+\.short\}/);
        if (features.includes("relative_period")) {
          expect(t, `${f.family}[${i}]`).toMatch(/\{(period|quarter)\.alt\}|prior|before|earlier|previous|preceding|predecessor|a year ago|year-over-year|last year|\bMoM\b|\bQoQ\b|\bYoY\b/i);
        }
        // Two periods or things side by side: named as such, or as the change or difference between them.
        if (features.includes("comparison")) {
          expect(t, `${f.family}[${i}]`).toMatch(/\bvs\b|versus|compar|against|relative to|-over-|\b(MoM|QoQ|YoY)\b|change|difference|baseline|next to|preced|prior|previous|before/i);
        }
      });
    }
  });

  it("prints the counts by level, split and template", () => {
    const rows: Record<string, Record<string, number>> = {};
    for (const c of catalog) {
      const r = rows[`L${c.level}`] ??= {};
      r[c.split] = (r[c.split] ?? 0) + 1;
    }
    const templates: Record<string, Record<string, number>> = {};
    const seen = new Set<string>();
    for (const c of catalog) {
      const key = `${c.family}#${c.templateIndex}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const r = templates[`L${c.level}`] ??= {};
      r[c.split] = (r[c.split] ?? 0) + 1;
      r[c.templateOrigin] = (r[c.templateOrigin] ?? 0) + 1;
    }
    console.log("instances by level and split");
    console.table(rows);
    console.log("templates by level, split and origin");
    console.table(templates);
    expect(Object.keys(rows).sort()).toEqual(["L1", "L2", "L3", "L4", "L5"]);
  });
});
