/**
 * SQL text: {@linkcode canonicalSql}, the one form in which the lab decides that two statements are the same
 * (the pattern store keys patterns by it, retrieval matches reused statements by it, the tournament counts
 * discovered patterns by it), and {@linkcode sqlString}, a string literal.
 * @module
 */

/** Options for {@linkcode canonicalSql}. */
export interface CanonicalSqlOptions {
  /**
   * `"keep"`: string and number literals stay as written (the pattern store's key). `"mask"`: each becomes `?`, so
   * the same statement for another period, customer or amount is the same (retrieval's reuse rate, the
   * tournament's pattern discovery rate).
   * @default "keep"
   */
  literals?: "keep" | "mask";
}

/** A number literal (optionally signed, with a fraction and an exponent), or a quoted identifier to leave alone. */
const NUMBER_OR_IDENTIFIER = /"(?:[^"]|"")*"|(?<![\w$.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?!\w)/gi;

/**
 * Canonical SQL, for deciding that two statements are the same: comments dropped, whitespace collapsed (and
 * removed next to `(`, `)` and `,`, one space after a comma), lower case, trailing `;` removed — all outside
 * string literals and quoted identifiers, which are kept exactly (or, with `literals: "mask"`, string and number
 * literals become `?`).
 *
 * @example
 * ```ts
 * canonicalSql("SELECT  Sum(total) FROM invoices\nWHERE status = 'Paid';"); // "select sum(total) from invoices where status = 'Paid'"
 * canonicalSql("SELECT x1, 'a''b' FROM t WHERE n = 3.5e2;", { literals: "mask" }); // "select x1, ? from t where n = ?"
 * ```
 */
export function canonicalSql(sql: string, options: CanonicalSqlOptions = {}): string {
  const mask = options.literals === "mask";
  // A hot loop (two calls per episode, 100 K episodes per batch): runs of plain characters are copied and
  // lower-cased as one slice; only quotes, comments, whitespace, parentheses and commas are looked at singly.
  const SQ = 39, DQ = 34, DASH = 45, SLASH = 47, STAR = 42, LP = 40, RP = 41, COMMA = 44, NL = 10, QMARK = 63;
  const n = sql.length;
  let out = "";
  let i = 0;
  let space = false;
  let last = 0; // last char code written
  const isSpace = (c: number) => c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      space = true;
      i++;
      continue;
    }
    if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      while (i < n && sql.charCodeAt(i) !== NL) i++;
      space = true;
      continue;
    }
    if (c === SLASH && sql.charCodeAt(i + 1) === STAR) {
      const end = sql.indexOf("*/", i + 2);
      i = end < 0 ? n : end + 2;
      space = true;
      continue;
    }
    if (c === RP || c === COMMA) space = false;
    else if (last === COMMA) space = true; // exactly one space after a comma
    if (space && out.length && last !== LP) out += " ";
    space = false;
    if (c === SQ || c === DQ) {
      let j = i + 1;
      while (j < n) {
        if (sql.charCodeAt(j) === c) {
          if (sql.charCodeAt(j + 1) === c) j += 2;
          else break;
        } else j++;
      }
      if (mask && c === SQ) {
        out += "?";
        last = QMARK;
      } else {
        out += sql.slice(i, j + 1);
        last = c;
      }
      i = j + 1;
      continue;
    }
    if (c === LP || c === RP || c === COMMA) {
      out += sql[i];
      last = c;
      i++;
      continue;
    }
    let j = i + 1;
    while (j < n) {
      const d = sql.charCodeAt(j);
      if (isSpace(d) || d === SQ || d === DQ || d === LP || d === RP || d === COMMA || d === DASH || d === SLASH) break;
      j++;
    }
    out += sql.slice(i, j).toLowerCase();
    last = sql.charCodeAt(j - 1);
    i = j;
  }
  let e = out.length;
  while (e > 0 && (out.charCodeAt(e - 1) === 59 || out.charCodeAt(e - 1) === 32)) e--;
  out = out.slice(0, e);
  return mask ? out.replace(NUMBER_OR_IDENTIFIER, (m) => (m.charCodeAt(0) === DQ ? m : "?")) : out;
}

/**
 * A SQL string literal: `s` in single quotes, its quotes doubled.
 *
 * @example
 * ```ts
 * sqlString("it's"); // "'it''s'"
 * ```
 */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}
