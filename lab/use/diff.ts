/**
 * The diff logger's pure half (seed 004): a person's correction of an agent's answer, as a token-level diff of
 * the SQL and a list of modifications (tables, columns, filters, aggregation, grouping, answer shape).
 *
 * **The lexer.** `@duckdb/node-api` (1.x) does not expose DuckDB's tokenizer (`Parser::Tokenize`, which Python
 * has as `duckdb.tokenize`), so {@linkcode tokenizeSql} is the lab's own lexer, following DuckDB's lexical rules:
 * `'…'` strings (`''` inside), `E'…'` strings (backslash escapes), `$$…$$` and `$tag$…$tag$` strings, `"…"` quoted
 * identifiers (`""` inside), `--` line comments and nested `/* … *\/` block comments (dropped), numbers (`1`, `.5`,
 * `1e3`, `0x1F`, `1_000`), operators (longest match of `::`, `<=`, `>=`, `<>`, `!=`, `||`, `->>`, `->`, `**`, `//`)
 * and punctuation. Unquoted words are case-folded (as DuckDB folds them); literals and quoted identifiers are kept
 * as written. The agent's SQL is data here: it is never executed or bound, and nothing here decides what a
 * statement may read or write (that is DuckDB's own reading, in `lab/tools`).
 *
 * **Modifications** come from a shallow reading of the token stream ({@linkcode sqlFeatures}): tables after
 * `FROM`/`JOIN` (CTE names and aliases left out), columns (identifiers that are not tables, aliases or function
 * names; `t.col` counts as `col`), the predicates of `WHERE`/`HAVING`/`ON` split at top-level `AND`, aggregate
 * functions, `GROUP BY` keys, `ORDER BY` and `LIMIT`. It is an approximation for counting what people change,
 * not a parser: a statement it cannot read still gets its token diff.
 * @module
 */

/** The kind of a token. */
export type SqlTokenKind = "keyword" | "identifier" | "quoted" | "string" | "number" | "operator" | "punct";

/** One token of a statement: its kind and its text (words case-folded, literals as written). */
export interface SqlToken {
  kind: SqlTokenKind;
  text: string;
}

/** Words the lexer marks as keywords (the reserved words and the clause words the feature reader needs). */
const KEYWORDS = new Set(
  ("all and any as asc between by case cast collate create cross delete desc distinct else end except exists " +
    "false filter first following from full group having ilike in inner insert intersect interval into is join " +
    "last lateral left like limit natural not null nulls offset on or order outer over partition preceding " +
    "qualify range recursive returning right rows select semi anti set similar some table then true unbounded " +
    "union update using values when where window with within current row default asof positional")
    .split(" "),
);

/** Aggregate functions DuckDB has (the common ones; the reader counts them as aggregation). */
const AGGREGATES = new Set(
  ("count count_star sum avg mean min max median mode string_agg group_concat listagg list array_agg arg_min " +
    "arg_max argmin argmax min_by max_by any_value first last stddev stddev_pop stddev_samp variance var_pop " +
    "var_samp bool_and bool_or bit_and bit_or count_if sum_no_overflow product quantile quantile_cont " +
    "quantile_disc approx_count_distinct approx_quantile histogram entropy kurtosis skewness corr covar_pop " +
    "covar_samp fsum favg").split(" "),
);

/** Names DuckDB reads as values, not columns. */
const NILADIC = new Set(["current_date", "current_time", "current_timestamp", "localtime", "localtimestamp", "current_user", "current_schema"]);

const OPERATORS = ["->>", "::", "<=", ">=", "<>", "!=", "||", "->", "**", "//", "==", "=", "<", ">", "+", "-", "*", "/", "%", "^", "~", "!", "&", "|", "@"];
const PUNCT = new Set(["(", ")", ",", ";", ".", "[", "]", "{", "}", ":", "?"]);

/** A lexing problem: where and what (the statement is data a person typed; the CLI turns this into a one-liner). */
export class SqlLexError extends RangeError {
  override name = "SqlLexError";
}

const isWordStart = (c: string) => /[A-Za-z_\u0080-\uffff]/.test(c);
const isWord = (c: string) => /[A-Za-z0-9_$\u0080-\uffff]/.test(c);

/**
 * The tokens of a statement (see the module doc). Comments and whitespace are dropped. An unterminated string,
 * quoted identifier or block comment is a {@linkcode SqlLexError} naming its offset.
 *
 * @example
 * ```ts
 * tokenizeSql("SELECT Sum(total) -- all\nFROM invoices WHERE note = 'it''s'").map((t) => t.text);
 * // ["select", "sum", "(", "total", ")", "from", "invoices", "where", "note", "=", "'it''s'"]
 * ```
 */
export function tokenizeSql(sql: string): SqlToken[] {
  if (typeof sql !== "string") throw new TypeError("tokenizeSql: sql must be a string");
  const out: SqlToken[] = [];
  const n = sql.length;
  let i = 0;
  const unterminated = (what: string, at: number): never => {
    throw new SqlLexError(`unterminated ${what} at offset ${at} of the SQL; close it`);
  };
  /** The end (exclusive) of a run quoted by `q` starting at `i` (the opening quote), doubled quotes inside. */
  const quotedEnd = (start: number, q: string, backslash = false): number => {
    let j = start + 1;
    while (j < n) {
      const c = sql[j];
      if (backslash && c === "\\") j += 2;
      else if (c === q) {
        if (sql[j + 1] === q) j += 2;
        else return j + 1;
      } else j++;
    }
    return unterminated(q === "'" ? "string" : "quoted identifier", start);
  };
  while (i < n) {
    const c = sql[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "-" && sql[i + 1] === "-") {
      const e = sql.indexOf("\n", i);
      i = e < 0 ? n : e + 1;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      // Block comments nest in DuckDB (as in PostgreSQL).
      let depth = 1, j = i + 2;
      while (j < n && depth) {
        if (sql[j] === "/" && sql[j + 1] === "*") (depth++, j += 2);
        else if (sql[j] === "*" && sql[j + 1] === "/") (depth--, j += 2);
        else j++;
      }
      if (depth) unterminated("block comment", i);
      i = j;
      continue;
    }
    if (c === "'") {
      const e = quotedEnd(i, "'");
      out.push({ kind: "string", text: sql.slice(i, e) });
      i = e;
      continue;
    }
    if ((c === "E" || c === "e") && sql[i + 1] === "'") {
      const e = quotedEnd(i + 1, "'", true);
      out.push({ kind: "string", text: sql.slice(i, e) });
      i = e;
      continue;
    }
    if (c === '"') {
      const e = quotedEnd(i, '"');
      out.push({ kind: "quoted", text: sql.slice(i, e) });
      i = e;
      continue;
    }
    if (c === "$") {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (m) {
        const end = sql.indexOf(m[0], i + m[0].length);
        if (end < 0) unterminated("dollar-quoted string", i);
        out.push({ kind: "string", text: sql.slice(i, end + m[0].length) });
        i = end + m[0].length;
        continue;
      }
      const p = /^\$\d+/.exec(sql.slice(i, i + 16)); // a prepared-statement parameter
      if (p) {
        out.push({ kind: "operator", text: p[0] });
        i += p[0].length;
        continue;
      }
    }
    const num = /^(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)/.exec(sql.slice(i, i + 64));
    if (num && (i === 0 || !isWord(sql[i - 1]))) {
      out.push({ kind: "number", text: num[0] });
      i += num[0].length;
      continue;
    }
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWord(sql[j])) j++;
      const w = sql.slice(i, j).toLowerCase();
      out.push({ kind: KEYWORDS.has(w) ? "keyword" : "identifier", text: w });
      i = j;
      continue;
    }
    const op = OPERATORS.find((o) => sql.startsWith(o, i));
    if (op) {
      out.push({ kind: "operator", text: op });
      i += op.length;
      continue;
    }
    if (PUNCT.has(c)) {
      out.push({ kind: "punct", text: c });
      i++;
      continue;
    }
    throw new SqlLexError(`unexpected character '${c}' at offset ${i} of the SQL`);
  }
  return out;
}

/** One run of a token diff: tokens both statements share, or tokens only the final (`insert`) or original (`delete`) has. */
export interface DiffOp {
  op: "equal" | "insert" | "delete";
  tokens: string[];
}

/** Statements longer than this (tokens, after the common prefix and suffix) are diffed as one replaced block. */
const MAX_DIFF_TOKENS = 3000;

/**
 * A minimal token diff (longest common subsequence) from `a` to `b`, as runs; a deleted run comes before the
 * inserted run that replaces it. Runs of the same kind are merged.
 *
 * @example
 * ```ts
 * diffTokens(["select", "a", "from", "t"], ["select", "b", "from", "t"]);
 * // [{op:"equal",tokens:["select"]},{op:"delete",tokens:["a"]},{op:"insert",tokens:["b"]},{op:"equal",tokens:["from","t"]}]
 * ```
 */
export function diffTokens(a: readonly string[], b: readonly string[]): DiffOp[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const x = a.slice(pre, a.length - suf), y = b.slice(pre, b.length - suf);
  const ops: DiffOp[] = [];
  const push = (op: DiffOp["op"], t: string) => {
    const last = ops[ops.length - 1];
    if (last?.op === op) last.tokens.push(t);
    else ops.push({ op, tokens: [t] });
  };
  a.slice(0, pre).forEach((t) => push("equal", t));
  if (x.length > MAX_DIFF_TOKENS || y.length > MAX_DIFF_TOKENS) {
    x.forEach((t) => push("delete", t));
    y.forEach((t) => push("insert", t));
  } else {
    // lcs[i][j] = LCS length of x[i..] and y[j..], in one flat array.
    const m = x.length, k = y.length, w = k + 1;
    const lcs = new Uint16Array((m + 1) * w);
    for (let i = m - 1; i >= 0; i--) {
      for (let j = k - 1; j >= 0; j--) {
        lcs[i * w + j] = x[i] === y[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
      }
    }
    let i = 0, j = 0;
    // Deletions first, then insertions, within a changed stretch (so a replacement reads "- old + new").
    const pendingIns: string[] = [];
    const flushIns = () => {
      pendingIns.forEach((t) => push("insert", t));
      pendingIns.length = 0;
    };
    while (i < m || j < k) {
      if (i < m && j < k && x[i] === y[j]) {
        flushIns();
        push("equal", x[i]);
        i++, j++;
      } else if (j < k && (i === m || lcs[i * w + j + 1] > lcs[(i + 1) * w + j])) pendingIns.push(y[j++]);
      else push("delete", x[i++]);
    }
    flushIns();
  }
  a.slice(a.length - suf).forEach((t) => push("equal", t));
  return ops;
}

/** What {@linkcode sqlFeatures} reads of a statement. */
export interface SqlFeatures {
  /** Tables read or written (lower case, schema-qualified when written so), sorted, distinct. */
  tables: string[];
  /** Column names referenced (lower case, without their table qualifier), sorted, distinct. */
  columns: string[];
  /** Predicates of WHERE, HAVING and JOIN … ON, split at top-level AND, as token text joined by spaces, sorted. */
  filters: string[];
  /** Aggregate functions called (`sum`, `count`, … and `count distinct`), sorted, distinct. */
  aggregates: string[];
  /** GROUP BY keys as token text, sorted. */
  groupBy: string[];
  /** ORDER BY keys as token text, in order. */
  orderBy: string[];
  /** The LIMIT's token text, or null. */
  limit: string | null;
}

const CLAUSE_END = new Set(["group", "order", "limit", "having", "qualify", "window", "union", "except", "intersect", "offset", "returning", "where", "join", "left", "right", "inner", "full", "cross", "natural", "on", "using", "asof", "positional", "semi", "anti"]);
const JOINERS = new Set(["join"]);

/** Text of tokens as a fragment: joined by spaces, with no space around `.`, before `,`/`)` or after `(`. */
export function fragmentText(tokens: readonly string[]): string {
  let s = "";
  tokens.forEach((t, i) => {
    const prev = tokens[i - 1];
    const tight = i === 0 || t === "." || prev === "." || t === "," || t === ")" || prev === "(" ||
      (t === "(" && prev !== undefined && /^[a-z_][a-z0-9_$]*$/.test(prev) && !KEYWORDS.has(prev)) || t === "::" || prev === "::";
    s += (tight ? "" : " ") + t;
  });
  return s;
}

const sortedUnique = (xs: Iterable<string>) => [...new Set(xs)].sort();

/**
 * The tables, columns, filters, aggregation, grouping, ordering and limit of a statement (see the module doc).
 *
 * @example
 * ```ts
 * sqlFeatures("SELECT c.name, sum(i.total) FROM invoices i JOIN customers c ON c.id = i.customer_id WHERE i.status = 'open' GROUP BY c.name");
 * // { tables: ["customers","invoices"], columns: ["customer_id","id","name","status","total"],
 * //   filters: ["c.id = i.customer_id","i.status = 'open'"], aggregates: ["sum"], groupBy: ["c.name"], orderBy: [], limit: null }
 * ```
 */
export function sqlFeatures(sql: string): SqlFeatures {
  const toks = tokenizeSql(sql);
  const t = (i: number) => toks[i]?.text;
  const tables = new Set<string>();
  const ctes = new Set<string>();
  const aliases = new Set<string>();
  const functions = new Set<number>();
  const aggregates = new Set<string>();
  const filters: string[] = [];
  const groupBy: string[] = [];
  const orderBy: string[] = [];
  let limit: string | null = null;
  // Depth of each token (parentheses), to find clause ends and top-level ANDs.
  const depth: number[] = [];
  let d = 0;
  for (const tok of toks) {
    if (tok.text === ")") d--;
    depth.push(d);
    if (tok.text === "(") d++;
  }
  /** The end (exclusive) of the clause starting at `from`: a clause word, `)` or `;` at the same depth. */
  const clauseEnd = (from: number, stops: ReadonlySet<string>): number => {
    const base = depth[from] ?? 0;
    let j = from;
    while (j < toks.length) {
      if (depth[j] < base || (depth[j] === base && (toks[j].text === ";" || (toks[j].kind === "keyword" && stops.has(toks[j].text))))) break;
      j++;
    }
    return j;
  };
  /** Splits tokens [from, to) at top-level `and` (a `between … and` stays whole) into fragments. */
  const splitAnd = (from: number, to: number): string[] => {
    const parts: string[] = [];
    let start = from, between = false;
    for (let j = from; j < to; j++) {
      if (depth[j] !== depth[from]) continue;
      if (t(j) === "between") between = true;
      else if (t(j) === "and") {
        if (between) between = false;
        else {
          if (j > start) parts.push(fragmentText(toks.slice(start, j).map((x) => x.text)));
          start = j + 1;
        }
      }
    }
    if (to > start) parts.push(fragmentText(toks.slice(start, to).map((x) => x.text)));
    return parts;
  };
  const keys = (from: number, to: number): string[] => {
    const out: string[] = [];
    let start = from;
    for (let j = from; j <= to; j++) {
      if (j === to || (t(j) === "," && depth[j] === depth[from])) {
        if (j > start) out.push(fragmentText(toks.slice(start, j).map((x) => x.text)));
        start = j + 1;
      }
    }
    return out;
  };
  /** A (possibly dotted) name starting at i: [name, next index]. */
  const name = (i: number): [string, number] | undefined => {
    if (toks[i]?.kind !== "identifier" && toks[i]?.kind !== "quoted") return undefined;
    let s = toks[i].text, j = i + 1;
    while (t(j) === "." && (toks[j + 1]?.kind === "identifier" || toks[j + 1]?.kind === "quoted")) {
      s += "." + toks[j + 1].text;
      j += 2;
    }
    return [s, j];
  };
  /** Reads `name [AS] alias` table items starting at i (after FROM, JOIN, UPDATE, INTO or a FROM-list comma). */
  const tableItem = (i: number) => {
    const nm = name(i);
    if (!nm) return;
    if (t(nm[1]) === "(") return; // a table function: read_csv(…) — not a table
    tables.add(nm[0]);
    let j = nm[1];
    if (t(j) === "as") j++;
    if (toks[j]?.kind === "identifier" || toks[j]?.kind === "quoted") aliases.add(toks[j].text);
  };
  for (let i = 0; i < toks.length; i++) {
    const w = t(i);
    const kind = toks[i].kind;
    if (kind === "identifier" && t(i + 1) === "(") {
      functions.add(i);
      if (AGGREGATES.has(w)) aggregates.add(w === "count" && t(i + 2) === "distinct" ? "count distinct" : w);
    }
    if (kind !== "keyword") {
      // `x AS (` in WITH: a CTE name; `expr AS alias`: a column alias.
      continue;
    }
    if (w === "as" && toks[i + 1] && (toks[i + 1].kind === "identifier" || toks[i + 1].kind === "quoted")) {
      aliases.add(toks[i + 1].text);
    } else if (w === "as" && t(i + 1) === "(" && toks[i - 1]) {
      ctes.add(toks[i - 1].text);
    } else if (w === "from" || JOINERS.has(w) || w === "into" || (w === "update" && i === 0) || (w === "table" && t(i - 1) === "create")) {
      tableItem(i + 1);
      if (w === "from") {
        // A FROM list: `FROM a x, b y`.
        const end = clauseEnd(i + 1, CLAUSE_END);
        for (let j = i + 1; j < end; j++) if (t(j) === "," && depth[j] === depth[i]) tableItem(j + 1);
      }
    } else if (w === "where" || w === "having" || w === "on" || w === "qualify") {
      const end = clauseEnd(i + 1, CLAUSE_END);
      filters.push(...splitAnd(i + 1, end));
    } else if (w === "group" && t(i + 1) === "by") {
      groupBy.push(...keys(i + 2, clauseEnd(i + 2, CLAUSE_END)));
    } else if (w === "order" && t(i + 1) === "by" && depth[i] === 0) {
      orderBy.push(...keys(i + 2, clauseEnd(i + 2, CLAUSE_END)));
    } else if (w === "limit" && depth[i] === 0) {
      limit = fragmentText(toks.slice(i + 1, clauseEnd(i + 1, CLAUSE_END)).map((x) => x.text));
    }
  }
  for (const c of ctes) tables.delete(c);
  const columns = new Set<string>();
  toks.forEach((tok, i) => {
    if (tok.kind !== "identifier" && tok.kind !== "quoted") return;
    if (functions.has(i) || t(i + 1) === ".") return; // a function, or a qualifier (`t.` of `t.col`)
    if (t(i - 1) === "as" || ctes.has(tok.text)) return;
    if (t(i - 1) === "." ) {
      columns.add(tok.text);
      return;
    }
    const nm = name(i);
    if (nm && tables.has(nm[0])) return;
    if (aliases.has(tok.text) || tables.has(tok.text)) return;
    if (t(i - 1) === "::" || toks[i + 1]?.kind === "string") return; // a type: x::DATE, DATE '2024-01-01'
    if (NILADIC.has(tok.text) || (t(i - 2) === "interval" && toks[i - 1]?.kind !== "punct")) return; // current_date; INTERVAL 30 DAY
    // `expr alias` without AS in a select list: a name right after a value, before `,` or FROM.
    const prev = toks[i - 1];
    if (prev && (prev.kind === "identifier" || prev.kind === "quoted" || prev.kind === "number" || prev.kind === "string" || prev.text === ")") &&
      (t(i + 1) === "," || t(i + 1) === "from")) return;
    columns.add(tok.text);
  });
  // A qualified table name's parts (`main.invoices`) are not columns.
  for (const tb of tables) for (const part of tb.split(".")) columns.delete(part);
  return {
    tables: sortedUnique(tables),
    columns: sortedUnique(columns),
    filters: [...filters].sort(),
    aggregates: sortedUnique(aggregates),
    groupBy: [...groupBy].sort(),
    orderBy,
    limit,
  };
}

/** The shape of an answer: what kind of value, and for rows their count and columns. */
export interface AnswerShape {
  kind: "none" | "number" | "text" | "boolean" | "rows" | "list" | "object";
  rows?: number;
  columns?: string[];
}

/**
 * The shape of an answer value: `none` (null/undefined), a scalar kind, `rows` (an array of objects: count and the
 * sorted union of keys), `list` (another array: its length) or `object` (its sorted keys as columns).
 *
 * @example
 * ```ts
 * answerShape([{ name: "A", total: 3 }, { name: "B", total: 2 }]); // { kind: "rows", rows: 2, columns: ["name", "total"] }
 * ```
 */
export function answerShape(value: unknown): AnswerShape {
  if (value === null || value === undefined) return { kind: "none" };
  if (typeof value === "number" || typeof value === "bigint") return { kind: "number" };
  if (typeof value === "boolean") return { kind: "boolean" };
  if (typeof value === "string") return { kind: "text" };
  if (Array.isArray(value)) {
    if (value.length && value.every((r) => r !== null && typeof r === "object" && !Array.isArray(r))) {
      return { kind: "rows", rows: value.length, columns: sortedUnique(value.flatMap((r) => Object.keys(r as object))) };
    }
    return { kind: "list", rows: value.length };
  }
  return { kind: "object", columns: Object.keys(value as object).sort() };
}

/** The text of a shape: `number`, `rows(3×[name,total])`, `list(4)`, `object[a,b]`. */
export function shapeText(s: AnswerShape): string {
  if (s.kind === "rows") return `rows(${s.rows}×[${(s.columns ?? []).join(",")}])`;
  if (s.kind === "list") return `list(${s.rows})`;
  if (s.kind === "object") return `object[${(s.columns ?? []).join(",")}]`;
  return s.kind;
}

/** What a modification is about. */
export const MODIFICATION_KINDS = ["table", "column", "filter", "aggregation", "group_by", "order_by", "limit", "answer_shape", "answer_value"] as const;
/** What a modification is about. */
export type ModificationKind = (typeof MODIFICATION_KINDS)[number];

/** One change a person made: what (kind), how (added, removed, changed) and the value (a table, a predicate…). */
export interface Modification {
  kind: ModificationKind;
  change: "added" | "removed" | "changed";
  /** The item added or removed; for `changed`, `before → after`. */
  value: string;
}

/** A correction's diff: the token diff of the SQL, the fragments added and removed, and the modifications. */
export interface CorrectionDiff {
  /** The SQL changed (canonical tokens differ). False when either side has no SQL. */
  sqlChanged: boolean;
  /** The answer changed (as JSON with sorted keys). */
  answerChanged: boolean;
  /** Token runs from the original SQL to the final one (empty when either side has no SQL). */
  tokens: DiffOp[];
  /** Inserted runs as fragments, in order. */
  added: string[];
  /** Deleted runs as fragments, in order. */
  removed: string[];
  /** Tokens inserted plus deleted. */
  editDistance: number;
  /** 2 × common tokens / (tokens of both), 1 when identical. */
  similarity: number;
  modifications: Modification[];
  /** The final SQL could not be read as tokens (the message); the diff is then of the answers only. */
  lexError?: string;
}

/** JSON with sorted object keys (so `{a,b}` and `{b,a}` are the same answer). */
export function stableJson(v: unknown): string {
  return JSON.stringify(v ?? null, (_k, x) =>
    x !== null && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, (x as Record<string, unknown>)[k]]))
      : typeof x === "bigint" ? Number(x) : x);
}

function setChanges(kind: ModificationKind, before: readonly string[], after: readonly string[]): Modification[] {
  const b = new Set(before), a = new Set(after);
  return [
    ...[...a].filter((x) => !b.has(x)).sort().map((value) => ({ kind, change: "added" as const, value })),
    ...[...b].filter((x) => !a.has(x)).sort().map((value) => ({ kind, change: "removed" as const, value })),
  ];
}

/** The two sides of a correction. A side without SQL is `null`. */
export interface CorrectionSides {
  originalSql: string | null;
  finalSql: string | null;
  originalAnswer: unknown;
  finalAnswer: unknown;
}

/**
 * The diff of a correction (see the module doc): token runs, fragments added and removed, and the
 * modifications of tables, columns, filters, aggregation, grouping, ordering, limit and answer shape and value.
 *
 * @example
 * ```ts
 * const d = diffCorrection({ originalSql: "SELECT sum(total) FROM invoices", finalSql: "SELECT sum(total) FROM invoices WHERE status = 'paid'", originalAnswer: 10, finalAnswer: 7 });
 * d.modifications; // [{kind:"column",change:"added",value:"status"},{kind:"filter",change:"added",value:"status = 'paid'"},{kind:"answer_value",change:"changed",value:"10 → 7"}]
 * ```
 */
export function diffCorrection(sides: CorrectionSides): CorrectionDiff {
  const mods: Modification[] = [];
  let tokens: DiffOp[] = [];
  let lexError: string | undefined;
  let sqlChanged = false;
  if (sides.originalSql !== null && sides.finalSql !== null) {
    try {
      const a = tokenizeSql(sides.originalSql), b = tokenizeSql(sides.finalSql);
      tokens = diffTokens(a.map((x) => x.text), b.map((x) => x.text));
      sqlChanged = tokens.some((o) => o.op !== "equal");
      if (sqlChanged) {
        const fa = sqlFeatures(sides.originalSql), fb = sqlFeatures(sides.finalSql);
        mods.push(
          ...setChanges("table", fa.tables, fb.tables),
          ...setChanges("column", fa.columns, fb.columns),
          ...setChanges("filter", fa.filters, fb.filters),
          ...setChanges("aggregation", fa.aggregates, fb.aggregates),
          ...setChanges("group_by", fa.groupBy, fb.groupBy),
        );
        const oa = fa.orderBy.join(", "), ob = fb.orderBy.join(", ");
        if (oa !== ob) mods.push({ kind: "order_by", change: !oa ? "added" : !ob ? "removed" : "changed", value: !oa ? ob : !ob ? oa : `${oa} → ${ob}` });
        if (fa.limit !== fb.limit) {
          mods.push({ kind: "limit", change: fa.limit === null ? "added" : fb.limit === null ? "removed" : "changed", value: fa.limit === null ? fb.limit! : fb.limit === null ? fa.limit : `${fa.limit} → ${fb.limit}` });
        }
      }
    } catch (e) {
      if (!(e instanceof SqlLexError)) throw e;
      lexError = e.message;
      tokens = [];
    }
  }
  const answerChanged = stableJson(sides.originalAnswer) !== stableJson(sides.finalAnswer);
  if (answerChanged) {
    const sa = shapeText(answerShape(sides.originalAnswer)), sb = shapeText(answerShape(sides.finalAnswer));
    if (sa !== sb) mods.push({ kind: "answer_shape", change: "changed", value: `${sa} → ${sb}` });
    else {
      const short = (v: unknown) => {
        const s = stableJson(v);
        return s.length > 80 ? `${s.slice(0, 77)}...` : s;
      };
      mods.push({ kind: "answer_value", change: "changed", value: `${short(sides.originalAnswer)} → ${short(sides.finalAnswer)}` });
    }
  }
  const added = tokens.filter((o) => o.op === "insert").map((o) => fragmentText(o.tokens));
  const removed = tokens.filter((o) => o.op === "delete").map((o) => fragmentText(o.tokens));
  const common = tokens.filter((o) => o.op === "equal").reduce((s, o) => s + o.tokens.length, 0);
  const ins = tokens.filter((o) => o.op === "insert").reduce((s, o) => s + o.tokens.length, 0);
  const del = tokens.filter((o) => o.op === "delete").reduce((s, o) => s + o.tokens.length, 0);
  const total = 2 * common + ins + del;
  return {
    sqlChanged,
    answerChanged,
    tokens,
    added,
    removed,
    editDistance: ins + del,
    similarity: total ? Math.round((2 * common / total) * 1e4) / 1e4 : 1,
    modifications: mods,
    ...(lexError ? { lexError } : {}),
  };
}
