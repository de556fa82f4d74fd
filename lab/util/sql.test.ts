import { describe, expect, it } from "vitest";
import { canonicalSql, sqlString } from "./sql.ts";

describe("canonicalSql", () => {
  it("canonicalizes whitespace, comments and case outside literals only", () => {
    expect(canonicalSql("SELECT  Sum( total ) ,x FROM invoices -- note\nWHERE status = 'Paid' AND \"Odd Col\" > 1;"))
      .toBe("select sum(total), x from invoices where status = 'Paid' and \"Odd Col\" > 1");
    expect(canonicalSql("select 'it''s' /* c */ as s")).toBe("select 'it''s' as s");
  });

  it("masks string and number literals on request, and nothing else", () => {
    expect(canonicalSql("SELECT x1, 'a''b' FROM t WHERE n = 3.5e2 /* c */ ;", { literals: "mask" }))
      .toBe("select x1, ? from t where n = ?");
    expect(canonicalSql(`SELECT "Col 1", t2.a FROM t2 WHERE v > -5 AND w = $1 AND d >= DATE '2025-01-01'`, {
      literals: "mask",
    })).toBe(`select "Col 1", t2.a from t2 where v > ? and w = $1 and d >= date ?`);
    expect(canonicalSql("SELECT 1", { literals: "keep" })).toBe(canonicalSql("SELECT 1"));
  });
});

describe("sqlString", () => {
  it("quotes a string literal", () => {
    expect(sqlString("it's")).toBe("'it''s'");
  });
});
