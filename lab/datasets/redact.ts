/**
 * PII and secret redaction for exported examples: e-mail addresses, phone numbers, IBAN-like account numbers,
 * API keys and tokens, hashed user ids, and person names (a configured list, plus a given name followed by a
 * capitalised surname, or a title and a surname). Each becomes a typed placeholder (`<email>`, `<phone>`, …) and
 * is counted.
 *
 * SQL identifiers are never redacted: in SQL, only string literals and comments are read (table and column
 * names, quoted identifiers included, stay as written), and in JSON tool results only string values (keys are
 * column names). The sandbox has no people tables — customers and vendors are generated company names, which
 * SQL filters on — so names come from the config's list and the given-name rule.
 * @module
 */
import type { WireMessage } from "./example.ts";

/** What is redacted. */
export const REDACTION_KINDS = ["api_key", "email", "iban", "user_id", "phone", "name"] as const;
/** A kind of redacted value. */
export type RedactionKind = (typeof REDACTION_KINDS)[number];
/** Redactions by kind. */
export type RedactionCounts = Record<RedactionKind, number>;

/** No redactions yet. */
export function emptyRedactionCounts(): RedactionCounts {
  return { api_key: 0, email: 0, iban: 0, user_id: 0, phone: 0, name: 0 };
}

/** Given names unlikely to be ERP words (no May, June, Bill, Mark, Grant, Penny…). */
const GIVEN_NAMES = [
  "Aaron", "Adam", "Alice", "Amanda", "Andrew", "Anna", "Anne", "Barbara", "Brian", "Carlos", "Catherine", "Charles",
  "Christopher", "Claire", "Daniel", "David", "Deborah", "Diana", "Elena", "Elizabeth", "Emily", "Emma", "Eric",
  "Fatima", "Francesca", "George", "Hannah", "Helen", "Henry", "Isabel", "James", "Jane", "Jennifer", "Jessica",
  "John", "Jonathan", "Joseph", "Julia", "Karen", "Katherine", "Kevin", "Laura", "Linda", "Lisa", "Maria", "Marie",
  "Martin", "Mary", "Matthew", "Michael", "Michelle", "Mohammed", "Nancy", "Nicole", "Oliver", "Olivia", "Patricia",
  "Paul", "Peter", "Rachel", "Rebecca", "Richard", "Robert", "Sarah", "Sophie", "Stephen", "Steven", "Susan",
  "Thomas", "Timothy", "Victoria", "William", "Yuki", "Zoe",
];

/** Titles before a surname; not "Dr": in ledgers "Dr Accounts Receivable" is a debit. */
const TITLE = String.raw`(?:Mr|Mrs|Ms|Miss|Prof)\.?`;
const SURNAME = String.raw`[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?`;

/** [kind, pattern, replacement]; applied in order (keys before phones: a key's digits are not a phone number). */
const RULES: readonly [RedactionKind, RegExp, string][] = [
  ["api_key", /\b(?:sk|rk|pk)-(?:proj-|live-|test-|ant-)?[A-Za-z0-9_-]{16,}/g, "<api_key>"],
  ["api_key", /\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g, "<api_key>"],
  ["api_key", /\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, "<api_key>"],
  ["api_key", /\bgh[pousr]_[A-Za-z0-9]{30,}\b/g, "<api_key>"],
  ["api_key", /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, "<api_key>"],
  ["api_key", /\bAIza[0-9A-Za-z_-]{35}\b/g, "<api_key>"],
  ["api_key", /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, "<api_key>"],
  ["api_key", /\b(Bearer\s+)[A-Za-z0-9._~+/-]{16,}=*/g, "$1<api_key>"],
  [
    "api_key",
    /\b((?:api[_-]?key|secret|access[_-]?token|auth[_-]?token|token|password|passwd)["']?\s*[:=]\s*["']?)(?!<)[^\s"',;]{7,}[^\s"',;.!?)]/gi,
    "$1<api_key>",
  ],
  ["email", /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g, "<email>"],
  ["iban", /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g, "<iban>"],
  ["user_id", /\b(?:[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})\b/gi, "<user_id>"],
  ["phone", /(?<![\w+])\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){1,4}\b/g, "<phone>"],
  ["phone", /(?<![\w-])\(\d{3}\) ?\d{3}[ .-]\d{4}\b/g, "<phone>"],
  ["phone", /(?<![\w.-])\d{3}[.-]\d{3}[.-]\d{4}\b(?![.-]\d)/g, "<phone>"],
  ["name", new RegExp(String.raw`\b${TITLE} ${SURNAME}\b`, "g"), "<name>"],
  ["name", new RegExp(String.raw`\b(?:${GIVEN_NAMES.join("|")}) ${SURNAME}\b`, "g"), "<name>"],
];

/** Options for {@linkcode createRedactor}. */
export interface RedactorOptions {
  /** Person names to redact wherever they occur as whole words (e.g. the config's `redaction.names`). */
  names?: readonly string[];
}

/** A redactor and the counts of what it replaced so far. */
export interface Redactor {
  /** Free text: every rule. */
  text(s: string): string;
  /** SQL: string literals and comments only; identifiers, keywords and numbers stay. */
  sql(s: string): string;
  /** A tool result: JSON string values (never keys); text that is not JSON is redacted as text. */
  toolResult(s: string): string;
  /** A conversation: contents, tool call arguments (`sql` as SQL) and tool results. Returns new messages. */
  messages(messages: readonly WireMessage[]): WireMessage[];
  /** What was replaced so far, by kind. */
  counts(): RedactionCounts;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A redactor (see the module doc).
 *
 * @example
 * ```ts
 * const r = createRedactor({ names: ["Jane Roe"] });
 * r.sql("SELECT email FROM customers WHERE email = 'jane@example.com'"); // "... WHERE email = '<email>'"
 * r.counts().email; // 1
 * ```
 */
export function createRedactor(options: RedactorOptions = {}): Redactor {
  const counts = emptyRedactionCounts();
  const names = (options.names ?? []).filter((n) => n.trim().length >= 2);
  const rules: [RedactionKind, RegExp, string][] = [...RULES];
  if (names.length) {
    const alt = [...names].sort((a, b) => b.length - a.length).map(escapeRe).join("|");
    rules.push(["name", new RegExp(String.raw`(?<![\w])(?:${alt})(?![\w])`, "g"), "<name>"]);
  }

  // Cheap exit: every built-in rule needs a digit, '@' or an upper-case letter (listed names may not).
  const maybe = names.length ? /\S/ : /[\d@A-Z]/;
  let total = 0;
  const text = (s: string): string => {
    if (!maybe.test(s)) return s;
    let out = s;
    for (const [kind, re, to] of rules) {
      re.lastIndex = 0;
      if (!re.test(out)) continue;
      re.lastIndex = 0;
      out = out.replace(re, (...m) => {
        counts[kind]++;
        total++;
        return to.replace("$1", typeof m[1] === "string" ? m[1] : "");
      });
    }
    return out;
  };

  const sql = (s: string): string => {
    if (!maybe.test(s)) return s;
    let out = "";
    let i = 0;
    const n = s.length;
    while (i < n) {
      const c = s[i];
      if (c === "'" || (c === "$" && /^\$[A-Za-z_]*\$/.test(s.slice(i, i + 40)))) {
        // A string literal ('…' with '' escapes, or $tag$…$tag$): its contents are values.
        let end: number, open: number, close: string;
        if (c === "'") {
          let j = i + 1;
          while (j < n && !(s[j] === "'" && s[j + 1] !== "'")) j += s[j] === "'" ? 2 : 1;
          [open, end, close] = [i + 1, j, "'"];
        } else {
          const tag = /^\$[A-Za-z_]*\$/.exec(s.slice(i, i + 40))![0];
          const j = s.indexOf(tag, i + tag.length);
          [open, end, close] = [i + tag.length, j < 0 ? n : j, tag];
        }
        out += s.slice(i, open) + text(s.slice(open, end)) + (end < n ? close : "");
        i = end + close.length;
      } else if (c === '"') {
        // A quoted identifier: kept as written.
        let j = i + 1;
        while (j < n && !(s[j] === '"' && s[j + 1] !== '"')) j += s[j] === '"' ? 2 : 1;
        out += s.slice(i, j + 1);
        i = j + 1;
      } else if (c === "-" && s[i + 1] === "-") {
        const j = s.indexOf("\n", i);
        const end = j < 0 ? n : j;
        out += "--" + text(s.slice(i + 2, end));
        i = end;
      } else if (c === "/" && s[i + 1] === "*") {
        const j = s.indexOf("*/", i + 2);
        const end = j < 0 ? n : j;
        out += "/*" + text(s.slice(i + 2, end)) + (j < 0 ? "" : "*/");
        i = j < 0 ? n : j + 2;
      } else {
        let j = i + 1;
        while (j < n && !"'\"$-/".includes(s[j])) j++;
        out += s.slice(i, j);
        i = j;
      }
    }
    return out;
  };

  const value = (v: unknown): unknown => {
    if (typeof v === "string") return text(v);
    if (Array.isArray(v)) return v.map(value);
    if (v && typeof v === "object") {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, value(x)]));
    }
    return v;
  };

  // JSON is re-serialised only when something in it was redacted, so untouched results stay byte for byte.
  const toolResult = (s: string): string => {
    if (!maybe.test(s)) return s;
    let parsed: unknown;
    try {
      parsed = JSON.parse(s);
    } catch {
      return text(s);
    }
    const before = total;
    const out = value(parsed);
    return total === before ? s : JSON.stringify(out);
  };

  const args = (json: string): string => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      return text(json);
    }
    const before = total;
    let out: unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) out = value(parsed);
    else {
      out = Object.fromEntries(
        Object.entries(parsed as Record<string, unknown>).map(([k, v]) => [k, k === "sql" && typeof v === "string" ? sql(v) : value(v)]),
      );
    }
    return total === before ? json : JSON.stringify(out);
  };

  const messages = (ms: readonly WireMessage[]): WireMessage[] =>
    ms.map((m) => {
      const content = m.content === null ? null : m.role === "tool" ? toolResult(m.content) : text(m.content);
      return {
        ...m,
        content,
        ...(m.tool_calls
          ? {
            tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function, arguments: args(c.function.arguments) } })),
          }
          : {}),
      };
    });

  return { text, sql, toolResult, messages, counts: () => ({ ...counts }) };
}
