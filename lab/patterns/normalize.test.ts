import { describe, expect, it } from "vitest";
import { normalizeIntent, normalizeIntentWith } from "./normalize.ts";

describe("normalizeIntent", () => {
  it("replaces values by typed placeholders and drops politeness and stopwords", () => {
    expect(normalizeIntent("Please show me total revenue for March 2025 for Acme Corp (invoice INV-00123)"))
      .toBe("total revenue <period> <name> invoice <code>");
  });

  it("maps the same request with different values to the same text", () => {
    const variants = [
      "What was total revenue for March 2025?",
      "What was total revenue for Q3 2024?",
      "what was total revenue for last month",
      "What was total revenue for 2025-10?",
      "What was total revenue for the same month last year?",
    ];
    expect(new Set(variants.map(normalizeIntent))).toEqual(new Set(["total revenue <period>"]));
  });

  it("types dates, periods, amounts, percentages, numbers, codes, quotes and names", () => {
    expect(normalizeIntent(
      "Between 2025-01-31 and March 3rd, pay $1,234.50 or €2.5k (15%) to vendor 'Globex' for 3 orders of SKU42 at East Distribution Center",
    )).toBe("between <date> <date> pay <amount> <amount> <percent> vendor <text> <number> orders <code> <name>");
    expect(normalizeIntent("Revenue in 2024 vs FY2023, H1 and the last 30 days; 2.5 million dollars"))
      .toBe("revenue <period> vs <period> <period> <period> <amount>");
  });

  it("keeps snake_case field names, acronyms and negations", () => {
    expect(normalizeIntent("Return JSON with total_open and buckets days_1_30 for AP; don't touch paid bills"))
      .toBe("json total_open buckets days_1_30 ap not touch paid bills");
  });

  it("treats a capitalised first word as a word and two or more as a name", () => {
    expect(normalizeIntent("Cancel open orders. Main Warehouse is closing.")).toBe("cancel open orders <name> closing");
  });

  it("is deterministic and idempotent on its own output", () => {
    const text = "Give me the 5 largest overdue invoices of Initech as of 2025-11-28.";
    const once = normalizeIntent(text);
    expect(once).toBe("<number> largest overdue invoices <name> <date>");
    expect(normalizeIntent(text)).toBe(once);
    expect(normalizeIntent(once)).toBe(once);
  });

  it("returns an empty string for text without words and rejects a non-string", () => {
    expect(normalizeIntent("  ?! ")).toBe("");
    expect(() => normalizeIntent(42 as unknown as string)).toThrow(TypeError);
  });
});

describe("normalizeIntentWith", () => {
  it("normalizes the model's rewrite by the same rules", async () => {
    const seen: string[] = [];
    const model = (t: string) => {
      seen.push(t);
      return Promise.resolve("Total revenue for the period March 2025");
    };
    expect(await normalizeIntentWith("How much did we invoice in March 2025?", { model })).toBe(
      "total revenue period <period>",
    );
    expect(seen).toEqual(["How much did we invoice in March 2025?"]);
  });

  it("falls back to the rules when the model fails, or rethrows with onModelError 'throw'", async () => {
    const broken = () => Promise.reject(new Error("503 from model"));
    expect(await normalizeIntentWith("Revenue for Q1 2025", { model: broken })).toBe("revenue <period>");
    await expect(normalizeIntentWith("Revenue for Q1 2025", { model: broken, onModelError: "throw" }))
      .rejects.toThrow('Intent model failed on "Revenue for Q1 2025": 503 from model');
    const empty = () => Promise.resolve("  ");
    expect(await normalizeIntentWith("Revenue for Q1 2025", { model: empty })).toBe("revenue <period>");
  });

  it("equals normalizeIntent without a model", async () => {
    expect(await normalizeIntentWith("Top 10 customers by revenue")).toBe(
      normalizeIntent("Top 10 customers by revenue"),
    );
  });
});
