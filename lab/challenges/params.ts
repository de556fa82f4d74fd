/**
 * Challenge parameters: how a value renders in a task's text and in a verifier's reference SQL.
 *
 * Time parameters are relative ("last month"), so a task's text does not depend on the sandbox's as-of date;
 * their SQL fields (`{period.start}`, `{period.end}` — exclusive —, `{period.prev_start}`, `{period.prev_end}`,
 * `{period.name}`) are computed from the as-of date when the verifier runs. Other parameters render as their
 * value in text and as a SQL literal (`'text'` or a number) in SQL; `{name.raw}` gives the bare value.
 */
import { ConfigError } from "../util/errors.ts";

const MONTH_VALUES: Record<string, { offset: number; text: string }> = {
  current_month: { offset: 0, text: "this month" },
  previous_month: { offset: 1, text: "last month" },
  two_months_ago: { offset: 2, text: "two months ago" },
  three_months_ago: { offset: 3, text: "three months ago" },
  four_months_ago: { offset: 4, text: "four months ago" },
  six_months_ago: { offset: 6, text: "six months ago" },
  same_month_last_year: { offset: 12, text: "the same month last year" },
};

const QUARTER_VALUES: Record<string, { offset: number; text: string }> = {
  current_quarter: { offset: 0, text: "this quarter" },
  previous_quarter: { offset: 1, text: "last quarter" },
  two_quarters_ago: { offset: 2, text: "two quarters ago" },
  same_quarter_last_year: { offset: 4, text: "the same quarter last year" },
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

/** Fills `{name}` placeholders of a task template with parameter text. */
export function renderTemplate(template: string, params: Record<string, string | number>): string {
  return template.replace(/\{([a-z_]+)\}/g, (m, name: string) => name in params ? paramText(name, params[name]) : m);
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
