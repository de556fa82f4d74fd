/**
 * Challenge parameters: how a value renders in a task's text and in a verifier's reference SQL.
 *
 * Time parameters are relative ("last month"), so a task's text does not depend on the sandbox's as-of date;
 * their SQL fields (`{period.start}`, `{period.end}` — exclusive —, `{period.prev_start}`, `{period.prev_end}`,
 * `{period.name}`) are computed from the as-of date when the verifier runs. Other parameters render as their
 * value in text and as a SQL literal (`'text'` or a number) in SQL; `{name.raw}` gives the bare value.
 */
import { ConfigError } from "../util/mod.ts";

const MONTH_VALUES: Record<string, { offset: number; text: string; alt: string }> = {
  current_month: { offset: 0, text: "this month", alt: "the month to date" },
  previous_month: { offset: 1, text: "last month", alt: "the prior month" },
  two_months_ago: { offset: 2, text: "two months ago", alt: "the month before last" },
  three_months_ago: { offset: 3, text: "three months ago", alt: "three months back" },
  four_months_ago: { offset: 4, text: "four months ago", alt: "four months back" },
  six_months_ago: { offset: 6, text: "six months ago", alt: "half a year ago" },
  same_month_last_year: { offset: 12, text: "the same month last year", alt: "the same month a year earlier" },
};

const QUARTER_VALUES: Record<string, { offset: number; text: string; alt: string }> = {
  current_quarter: { offset: 0, text: "this quarter", alt: "the quarter to date" },
  previous_quarter: { offset: 1, text: "last quarter", alt: "the prior quarter" },
  two_quarters_ago: { offset: 2, text: "two quarters ago", alt: "the quarter before last" },
  same_quarter_last_year: { offset: 4, text: "the same quarter last year", alt: "the same quarter a year earlier" },
};

/** Parameters whose values are relative periods; every other parameter is a plain value. */
export const PERIOD_PARAMS = { period: MONTH_VALUES, quarter: QUARTER_VALUES } as const;

function ymd(d: Date): string {
  return d.toISOString().slice(0, 10);
}
function monthStart(asOf: string, monthsBack: number): Date {
  const d = new Date(`${asOf}T00:00:00Z`);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - monthsBack, 1));
}
function addMonths(d: Date, n: number): Date {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1));
}

/** Checks that a family's parameter values are known; throws a ConfigError naming the bad value. */
export function checkParamValue(where: string, name: string, value: string | number): void {
  const table = PERIOD_PARAMS[name as keyof typeof PERIOD_PARAMS];
  if (table && !(String(value) in table)) {
    throw new ConfigError(`${where}: params.${name} has unknown value '${value}'; use one of ${Object.keys(table).join(", ")}`);
  }
}

/** The text a parameter value takes in a task. */
export function paramText(name: string, value: string | number): string {
  const table = PERIOD_PARAMS[name as keyof typeof PERIOD_PARAMS];
  return table ? table[String(value)].text : String(value);
}

/** SQL fields of one parameter value at an as-of date: `{name}` and `{name.field}` replacements. */
export function paramSqlFields(name: string, value: string | number, asOf: string): Record<string, string> {
  if (name === "period") {
    const { offset } = MONTH_VALUES[String(value)];
    const start = monthStart(asOf, offset);
    const prev = addMonths(start, -1);
    return {
      [`${name}.start`]: `DATE '${ymd(start)}'`,
      [`${name}.end`]: `DATE '${ymd(addMonths(start, 1))}'`,
      [`${name}.prev_start`]: `DATE '${ymd(prev)}'`,
      [`${name}.prev_end`]: `DATE '${ymd(start)}'`,
      [`${name}.name`]: `'${ymd(start).slice(0, 7)}'`,
    };
  }
  if (name === "quarter") {
    const { offset } = QUARTER_VALUES[String(value)];
    const cur = monthStart(asOf, 0);
    const qStart = new Date(Date.UTC(cur.getUTCFullYear(), Math.floor(cur.getUTCMonth() / 3) * 3 - 3 * offset, 1));
    return {
      [`${name}.start`]: `DATE '${ymd(qStart)}'`,
      [`${name}.end`]: `DATE '${ymd(addMonths(qStart, 3))}'`,
      [`${name}.prev_start`]: `DATE '${ymd(addMonths(qStart, -3))}'`,
      [`${name}.prev_end`]: `DATE '${ymd(qStart)}'`,
    };
  }
  const literal = typeof value === "number" ? String(value) : `'${value.replaceAll("'", "''")}'`;
  return { [name]: literal, [`${name}.raw`]: String(value) };
}

const ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
  "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"];
const TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"];

/** A non-negative integer in English words: 365 → "three hundred sixty-five", 25000 → "twenty-five thousand". */
export function numberWords(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= 1e9) throw new RangeError(`numberWords: ${n} is not an integer in [0, 1e9)`);
  if (n < 20) return ONES[n];
  if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 ? `-${ONES[n % 10]}` : "");
  if (n < 1000) return `${ONES[Math.floor(n / 100)]} hundred${n % 100 ? ` ${numberWords(n % 100)}` : ""}`;
  if (n < 1e6) return `${numberWords(Math.floor(n / 1000))} thousand${n % 1000 ? ` ${numberWords(n % 1000)}` : ""}`;
  return `${numberWords(Math.floor(n / 1e6))} million${n % 1e6 ? ` ${numberWords(n % 1e6)}` : ""}`;
}

/** Business shorthand of a number: 25000 → "25k", 1500000 → "1.5m", 750 → "750". */
export function numberShort(n: number): string {
  if (Math.abs(n) >= 1e6) return `${+(n / 1e6).toFixed(2)}m`;
  if (Math.abs(n) >= 1e3) return `${+(n / 1e3).toFixed(2)}k`;
  return String(n);
}

/** Renderings of one parameter value in a task: `{name}`, and `{name.words}`/`{name.short}` or `{name.alt}`. */
function paramRenderings(name: string, value: string | number): Record<string, string> {
  const table = PERIOD_PARAMS[name as keyof typeof PERIOD_PARAMS];
  if (table) return { "": table[String(value)].text, alt: table[String(value)].alt };
  if (typeof value === "number") return { "": String(value), words: numberWords(value), short: numberShort(value) };
  return { "": String(value) };
}

/** Why `{name…}` placeholders of a template cannot render `value` (an unknown rendering), or undefined. */
export function templateProblem(template: string, name: string, value: string | number): string | undefined {
  const r = paramRenderings(name, value);
  for (const m of template.matchAll(/\{([a-z_]+)(?:\.([a-z_]+))?\}/g)) {
    if (m[1] === name && !((m[2] ?? "") in r)) {
      return `{${name}.${m[2]}} cannot render ${JSON.stringify(value)}; use ${Object.keys(r).map((k) => `{${name}${k ? `.${k}` : ""}}`).join(", ")}`;
    }
  }
  return undefined;
}

/** Fills `{name}` (and `{name.words}`, `{name.short}`, `{name.alt}`) placeholders of a task template. */
export function renderTemplate(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{([a-z_]+)(?:\.([a-z_]+))?\}/g, (m, name: string, kind: string | undefined) => {
    if (!(name in params)) return m;
    return paramRenderings(name, params[name])[kind ?? ""] ?? m;
  });
}

/**
 * Fills `{name}` / `{name.field}` placeholders of a verifier's reference SQL. Fails loudly on an unknown
 * placeholder so a typo in a challenge file cannot silently produce a wrong truth.
 */
export function renderSql(sql: string, params: Record<string, string | number>, asOf: string, where = "sql"): string {
  const fields: Record<string, string> = { "as_of": `DATE '${asOf}'` };
  for (const [n, v] of Object.entries(params)) Object.assign(fields, paramSqlFields(n, v, asOf));
  return sql.replace(/\{([a-z_]+(?:\.[a-z_]+)?)\}/g, (_m, key: string) => {
    if (!(key in fields)) {
      throw new ConfigError(`${where}: unknown placeholder {${key}}; known: ${Object.keys(fields).map((k) => `{${k}}`).join(", ")}`);
    }
    return fields[key];
  });
}

/** Placeholders used in a template (`{name}`), for validation. */
export function placeholders(text: string): string[] {
  return [...text.matchAll(/\{([a-z_]+)(?:\.[a-z_]+)?\}/g)].map((m) => m[1]);
}
