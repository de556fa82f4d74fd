import { describe, expect, it } from "vitest";
import { answerShape, diffCorrection, diffTokens, SqlLexError, sqlFeatures, tokenizeSql } from "./mod.ts";

describe("tokenizeSql", () => {
  it("drops comments (nested ones too), folds words and keeps literals and quoted names as written", () => {
    const sql = `SELECT "Total Sum", Sum(x) -- a comment ; 'not a string'
      FROM invoices /* outer /* inner */ still comment */ WHERE note = 'it''s -- kept' AND d >= DATE '2024-01-01'
      AND tag = $$a;b$$ AND e = E'a\\'b' AND n <> 1.5e3 AND j->>'k' IS NOT NULL;`;
    expect(tokenizeSql(sql).map((t) => `${t.kind}:${t.text}`)).toEqual([
      "keyword:select", 'quoted:"Total Sum"', "punct:,", "identifier:sum", "punct:(", "identifier:x", "punct:)",
      "keyword:from", "identifier:invoices", "keyword:where", "identifier:note", "operator:=", "string:'it''s -- kept'",
      "keyword:and", "identifier:d", "operator:>=", "identifier:date", "string:'2024-01-01'",
      "keyword:and", "identifier:tag", "operator:=", "string:$$a;b$$", "keyword:and", "identifier:e", "operator:=",
      "string:E'a\\'b'", "keyword:and", "identifier:n", "operator:<>", "number:1.5e3", "keyword:and", "identifier:j",
      "operator:->>", "string:'k'", "keyword:is", "keyword:not", "keyword:null", "punct:;",
    ]);
  });

  it("names the offset of an unterminated string, quoted name or comment", () => {
    expect(() => tokenizeSql("SELECT 'abc FROM t")).toThrow(new SqlLexError("unterminated string at offset 7 of the SQL; close it"));
    expect(() => tokenizeSql('SELECT "abc FROM t')).toThrow(/unterminated quoted identifier at offset 7/);
    expect(() => tokenizeSql("SELECT 1 /* open /* nested */")).toThrow(/unterminated block comment at offset 9/);
  });
});

describe("diffTokens", () => {
  it("gives a minimal diff with a replaced run as delete then insert", () => {
    expect(diffTokens(["select", "a", "from", "t", "limit", "5"], ["select", "b", "from", "t"])).toEqual([
      { op: "equal", tokens: ["select"] },
      { op: "delete", tokens: ["a"] },
      { op: "insert", tokens: ["b"] },
      { op: "equal", tokens: ["from", "t"] },
      { op: "delete", tokens: ["limit", "5"] },
    ]);
    expect(diffTokens(["x"], ["x"])).toEqual([{ op: "equal", tokens: ["x"] }]);
    expect(diffTokens([], ["a"])).toEqual([{ op: "insert", tokens: ["a"] }]);
  });
});

describe("sqlFeatures", () => {
  it("reads tables (not CTEs or aliases), columns, filters, aggregation, grouping, order and limit", () => {
    expect(sqlFeatures(`WITH open_inv AS (SELECT customer_id, total AS amount FROM invoices WHERE status = 'open')
      SELECT c.name, sum(o.amount) AS owed, count(DISTINCT o.customer_id) n FROM open_inv o JOIN customers c ON c.id = o.customer_id
      WHERE c.created_at > current_date - INTERVAL 30 DAY AND o.amount BETWEEN 1 AND 500
      GROUP BY c.name HAVING sum(o.amount) > 100 ORDER BY owed DESC LIMIT 5`)).toEqual({
      tables: ["customers", "invoices"],
      columns: ["amount", "created_at", "customer_id", "id", "name", "status", "total"],
      filters: [
        "c.created_at > current_date - interval 30 day",
        "c.id = o.customer_id",
        "o.amount between 1 and 500",
        "status = 'open'",
        "sum(o.amount) > 100",
      ],
      aggregates: ["count distinct", "sum"],
      groupBy: ["c.name"],
      orderBy: ["owed desc"],
      limit: "5",
    });
  });
});

describe("diffCorrection", () => {
  it("lists a planted edit whole: filter added, table joined, aggregation changed, limit dropped, answer reshaped", () => {
    const d = diffCorrection({
      originalSql: "SELECT count(*) FROM invoices LIMIT 10",
      finalSql: "SELECT c.name, sum(i.total) FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.status = 'open' GROUP BY c.name",
      originalAnswer: 12,
      finalAnswer: [{ name: "Acme", sum: 10 }, { name: "Birch", sum: 5 }],
    });
    expect(d).toEqual({
      sqlChanged: true,
      answerChanged: true,
      tokens: [
        { op: "equal", tokens: ["select"] },
        { op: "delete", tokens: ["count"] },
        { op: "insert", tokens: ["c", ".", "name", ",", "sum"] },
        { op: "equal", tokens: ["("] },
        { op: "delete", tokens: ["*"] },
        { op: "insert", tokens: ["i", ".", "total"] },
        { op: "equal", tokens: [")", "from", "invoices"] },
        { op: "delete", tokens: ["limit", "10"] },
        {
          op: "insert",
          tokens: ["i", "join", "customers", "c", "on", "c", ".", "id", "=", "i", ".", "customer_id", "where", "i", ".", "status", "=", "'open'", "group", "by", "c", ".", "name"],
        },
      ],
      added: ["c.name, sum", "i.total", "i join customers c on c.id = i.customer_id where i.status = 'open' group by c.name"],
      removed: ["count", "*", "limit 10"],
      editDistance: 35,
      similarity: 0.2222,
      modifications: [
        { kind: "table", change: "added", value: "customers" },
        { kind: "column", change: "added", value: "customer_id" },
        { kind: "column", change: "added", value: "id" },
        { kind: "column", change: "added", value: "name" },
        { kind: "column", change: "added", value: "status" },
        { kind: "column", change: "added", value: "total" },
        { kind: "filter", change: "added", value: "c.id = i.customer_id" },
        { kind: "filter", change: "added", value: "i.status = 'open'" },
        { kind: "aggregation", change: "added", value: "sum" },
        { kind: "aggregation", change: "removed", value: "count" },
        { kind: "group_by", change: "added", value: "c.name" },
        { kind: "limit", change: "removed", value: "10" },
        { kind: "answer_shape", change: "changed", value: "number → rows(2×[name,sum])" },
      ],
    });
  });

  it("sees no change through case, whitespace and comments, and a changed value of the same shape", () => {
    const d = diffCorrection({
      originalSql: "select SUM(total)\nfrom INVOICES -- all",
      finalSql: "SELECT sum(total) FROM invoices",
      originalAnswer: { b: 2, a: 1 },
      finalAnswer: { a: 1, b: 2 },
    });
    expect(d).toEqual({ sqlChanged: false, answerChanged: false, tokens: [{ op: "equal", tokens: ["select", "sum", "(", "total", ")", "from", "invoices"] }], added: [], removed: [], editDistance: 0, similarity: 1, modifications: [] });
    expect(diffCorrection({ originalSql: null, finalSql: null, originalAnswer: 10, finalAnswer: 7 }).modifications).toEqual([
      { kind: "answer_value", change: "changed", value: "10 → 7" },
    ]);
    expect(answerShape(["a", "b"])).toEqual({ kind: "list", rows: 2 });
  });
});
