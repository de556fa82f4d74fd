import { describe, expect, it } from "vitest";
import { canonicalSql, repoPath } from "../util/mod.ts";
import { createRedactor } from "./mod.ts";
import { CANARIES } from "./testing.ts";

describe("redaction", () => {
  it("replaces each kind of personal data and secret with its placeholder, and counts them", () => {
    const r = createRedactor({ names: [CANARIES.listedName] });
    const text = [
      `Mail ${CANARIES.email} or call ${CANARIES.phone} / ${CANARIES.usPhone} / 415-555-0199.`,
      `Pay to ${CANARIES.iban}; key ${CANARIES.apiKey}, AWS ${CANARIES.awsKey}, api_key=abcd1234efgh5678.`,
      `Authorization: Bearer eyJhbGciOiJIUzI1NiJ9abcdefgh; user ${CANARIES.userHash}.`,
      `${CANARIES.name} and Mrs. Okafor met ${CANARIES.listedName}.`,
    ].join("\n");
    expect(r.text(text)).toBe([
      "Mail <email> or call <phone> / <phone> / <phone>.",
      "Pay to <iban>; key <api_key>, AWS <api_key>, api_key=<api_key>.",
      "Authorization: Bearer <api_key>; user <user_id>.",
      "<name> and <name> met <name>.",
    ].join("\n"));
    expect(r.counts()).toEqual({ api_key: 4, email: 1, iban: 1, user_id: 1, phone: 3, name: 3 });
  });

  it("leaves dates, amounts, codes, company names and the lab's ids alone", () => {
    const r = createRedactor();
    const text =
      "On 2025-03-31 invoice INV-2024-0042 for $1,234,567.89 (PO-2024-7, SKU42) from Apex Bay LLC; Q3 2025; pattern 3f9c0a1b2c3d4e5f6a7b8c9d0e1f; 30 days; order 12345678.";
    expect(r.text(text)).toBe(text);
    expect(Object.values(r.counts()).every((n) => n === 0)).toBe(true);
  });

  it("finds nothing to redact in the oracle's 1,071 real traces of the sandbox (no false positives)", async () => {
    const r = createRedactor();
    const lines = (await Deno.readTextFile(repoPath("data/datasets/oracle_distill_train.jsonl"))).trim().split("\n");
    const changed = lines.filter((line) => {
      const { messages } = JSON.parse(line);
      return JSON.stringify(r.messages(messages)) !== JSON.stringify(messages);
    });
    expect({ lines: lines.length, changed: changed.length, counts: r.counts() }).toEqual({
      lines: 1071,
      changed: 0,
      counts: { api_key: 0, email: 0, iban: 0, user_id: 0, phone: 0, name: 0 },
    });
  });

  it("redacts only string literals and comments of SQL, never an identifier", () => {
    const r = createRedactor();
    const sql = `SELECT c.contact_email, "Contact Phone", iban_number, api_key_hash -- owner ${CANARIES.email}
      FROM customers c /* ${CANARIES.name} */ WHERE c.contact_email = '${CANARIES.email}' AND "Contact Phone" = '${CANARIES.phone}'
        AND note = 'it''s ${CANARIES.name}' AND user_hash = '${CANARIES.userHash}'`;
    const out = r.sql(sql);
    expect(out).toBe(`SELECT c.contact_email, "Contact Phone", iban_number, api_key_hash -- owner <email>
      FROM customers c /* <name> */ WHERE c.contact_email = '<email>' AND "Contact Phone" = '<phone>'
        AND note = 'it''s <name>' AND user_hash = '<user_id>'`);
    // Same statement up to its literals: every identifier, keyword and operator as written.
    expect(canonicalSql(out, { literals: "mask" })).toBe(canonicalSql(sql, { literals: "mask" }));
    expect(r.sql(`SELECT $tag$${CANARIES.iban}$tag$ AS "IBAN"`)).toBe('SELECT $tag$<iban>$tag$ AS "IBAN"');
  });

  it("redacts the values of a JSON tool result, never its keys, and leaves an untouched result byte for byte", () => {
    const r = createRedactor();
    const result = JSON.stringify({ columns: ["contact_email", "phone"], rows: [{ contact_email: CANARIES.email, phone: CANARIES.phone }] });
    expect(JSON.parse(r.toolResult(result))).toEqual({
      columns: ["contact_email", "phone"],
      rows: [{ contact_email: "<email>", phone: "<phone>" }],
    });
    const clean = '{"rows":[{"n":1.0}],"rowCount":1}';
    expect(r.toolResult(clean)).toBe(clean);
    expect(r.toolResult(`{"cut": "${CANARIES.email}…`)).toBe('{"cut": "<email>…');
  });
});
