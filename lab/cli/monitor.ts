/**
 * `lab monitor`: the regression alerts of learning from use (issue 17) over what the lab stored — asks (the pattern
 * store's log, real time), tournament episodes (the lab's DuckDB file, run time) and eval-suite runs
 * (`data/evals/<suite>/*.json`, run time). Each check's new episode of degradation is written once as a row of
 * `alerts` in the lab's DuckDB file. Exit codes for cron and CI: 1 when an unacknowledged alert reaches into
 * `--since … --as-of`, 0 when none does, 2 on a usage or config error. `--weekly --out file.md` also writes the
 * weekly report (Markdown, and JSON beside it). `lab monitor ack <id>` acknowledges an alert.
 */
import { existsSync } from "node:fs";
import type { CommandSpec, ParsedArgs } from "./_args.ts";
import { UsageError } from "./_args.ts";
import { loadFamilies } from "../challenges/mod.ts";
import { PatternStore } from "../patterns/mod.ts";
import { DEFAULT_PATTERNS_PATH } from "../patterns/mod.ts";
import { DEFAULT_DB_PATH } from "../tournament/mod.ts";
import {
  acknowledgeAlert,
  addDays,
  type AlertRow,
  askRecords,
  loadUseConfig,
  monitorUse,
  type MonitorResult,
  suiteRecords,
  tournamentRecords,
  type UseConfig,
  USE_CONFIG_PATH,
  type UseRecord,
  weeklyMarkdown,
  weeklyReport,
} from "../use/mod.ts";
import { ConfigError, displayPath, repoPath, writeTextAtomic } from "../util/mod.ts";

const DB = { type: "string", description: "The lab's DuckDB file: tournament episodes, and the alerts table", default: displayPath(DEFAULT_DB_PATH) } as const;

function dayOption(args: ParsedArgs, name: string, fallback: string): string {
  const v = args.values[name];
  if (v === undefined) return fallback;
  const s = String(v);
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s) || Number.isNaN(Date.parse(s))) throw new UsageError(`--${name} must be a date YYYY-MM-DD, found '${s}'`);
  return s;
}

/** `--since` is a date or `<n>d` (the last n days up to `--as-of`). */
function sinceOption(args: ParsedArgs, asOf: string): string {
  const v = args.values.since;
  if (typeof v === "string" && /^\d+d$/.test(v)) {
    const n = Number(v.slice(0, -1));
    if (n < 1) throw new UsageError(`--since must be at least 1d, found '${v}'`);
    return addDays(asOf, -(n - 1));
  }
  const since = dayOption(args, "since", addDays(asOf, -6));
  if (since > asOf) throw new UsageError(`--since ${since} is after --as-of ${asOf}`);
  return since;
}

async function config(args: ParsedArgs): Promise<UseConfig> {
  try {
    return await loadUseConfig(String(args.values.config));
  } catch (e) {
    // Exit 1 means "an alert": a bad config is a usage error (2), so cron never mistakes one for the other.
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

async function readRecords(args: ParsedArgs, c: UseConfig): Promise<UseRecord[]> {
  const categories = Object.fromEntries((await loadFamilies()).map((f) => [f.family, f.category]));
  const out: UseRecord[] = [];
  const patterns = String(args.values.patterns), db = String(args.values.db), evals = String(args.values.evals);
  if (c.alerts.sources.includes("ask") && existsSync(patterns)) {
    await using store = await PatternStore.open(patterns, { mode: "per-call" });
    out.push(...await askRecords(store, { simulated: args.values.asks as "real" | "simulated" | "all" }));
  }
  if (c.alerts.sources.includes("tournament")) out.push(...await tournamentRecords(db, { categories }));
  if (c.alerts.sources.includes("suite")) out.push(...await suiteRecords(evals, { categories }));
  return out;
}

const scopeText = (a: Pick<AlertRow, "scopeKind" | "scopeValue">) => (a.scopeKind === "all" ? "all" : `${a.scopeKind}=${a.scopeValue}`);

function formatResult(r: MonitorResult, records: number): string {
  const lines = [`checked ${r.series.length} series over ${records} outcomes, days ${r.since} … ${r.asOf}`];
  for (const s of r.series.filter((s) => s.scope.kind === "all" || s.latest.fired)) {
    lines.push(`  ${s.latest.fired ? "FIRING" : "ok    "} ${s.source} ${s.scope.kind === "all" ? "all" : `${s.scope.kind}=${s.scope.value}`}: ${s.latest.reason}`);
  }
  if (!r.alerts.length) lines.push("no alert in the period");
  for (const a of r.alerts) {
    lines.push(
      `  alert ${a.id} ${a.day} ${a.source} ${scopeText(a)}: success ${(100 * a.baselineRate).toFixed(1)} % → ${(100 * a.windowRate).toFixed(1)} %, drop ${(100 * a.drop).toFixed(1)} [${(100 * a.dropLo).toFixed(1)}, ${(100 * a.dropHi).toFixed(1)}] points${a.acknowledged ? " (acknowledged)" : r.written.some((w) => w.id === a.id) ? " (new)" : ""}`,
    );
  }
  if (r.unacknowledged.length) lines.push(`${r.unacknowledged.length} unacknowledged: 'lab monitor ack <id>' once handled`);
  return lines.join("\n");
}

/** `lab monitor` and `lab monitor ack`. */
export const MONITOR_COMMANDS: CommandSpec[] = [
  {
    name: "monitor",
    summary: "Check success for drops beyond noise (asks, tournament and suite episodes); store alerts; exit 1 on an unacknowledged alert",
    usage: "monitor [--since <date|Nd>] [--as-of <date>] [--json] [--weekly --out file.md]",
    options: {
      since: { type: "string", description: "First day whose alerts count: YYYY-MM-DD or Nd (the last N days)", default: "7d" },
      "as-of": { type: "string", description: "The last day checked, YYYY-MM-DD (default: today, UTC)" },
      config: { type: "string", description: "The use config (thresholds)", default: displayPath(USE_CONFIG_PATH) },
      db: DB,
      patterns: { type: "string", description: "The pattern store holding the asks log", default: displayPath(DEFAULT_PATTERNS_PATH) },
      evals: { type: "string", description: "The folder of eval-suite runs (<suite>/*.json)", default: displayPath(repoPath("data", "evals")) },
      asks: { type: "string", description: "Which asks count", choices: ["real", "simulated", "all"], default: "real" },
      weekly: { type: "boolean", description: "Also write the weekly report (needs --out)" },
      out: { type: "string", description: "With --weekly: the Markdown file (its JSON goes beside it, .json)" },
      json: { type: "boolean", description: "Print the result as JSON" },
    },
    examples: [
      "deno task lab monitor                      # cron: exit 1 when an unacknowledged alert reaches into the last 7 days",
      "deno task lab monitor --since 30d --json",
      "deno task lab monitor --weekly --out data/reports/week.md",
    ],
    async run(args) {
      if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
      const weekly = args.values.weekly === true, out = args.values.out as string | undefined;
      if (weekly && !out) throw new UsageError("--weekly needs --out <file.md>");
      if (!weekly && out) throw new UsageError("--out goes with --weekly");
      if (out && !out.endsWith(".md")) throw new UsageError(`--out must be a Markdown file (.md), found '${out}'`);
      const asOf = dayOption(args, "as-of", new Date().toISOString().slice(0, 10));
      const since = sinceOption(args, asOf);
      const c = await config(args);
      const records = await readRecords(args, c);
      const r = await monitorUse(records, { db: String(args.values.db), asOf, since, config: c.alerts });
      const report = weekly ? weeklyReport(records, r, c) : undefined;
      if (report && out) {
        await writeTextAtomic(out, weeklyMarkdown(report));
        await writeTextAtomic(`${out.slice(0, -3)}.json`, `${JSON.stringify(report, null, 2)}\n`);
      }
      const code = r.unacknowledged.length ? 1 : 0;
      if (args.values.json) {
        console.log(JSON.stringify({
          asOf, since, exitCode: code, records: records.length,
          series: r.series.map((s) => ({ source: s.source, scope: s.scope, latest: s.latest, episodes: s.episodes.map(({ check: _c, ...e }) => e) })),
          written: r.written.map((a) => a.id), alerts: r.alerts, ...(report ? { weekly: report } : {}),
        }, null, 2));
      } else {
        console.log(formatResult(r, records.length));
        if (out) console.log(`weekly report → ${out} (+ ${out.slice(0, -3)}.json)`);
      }
      return code;
    },
  },
  {
    name: "monitor ack",
    summary: "Acknowledge an alert: a person has seen it, so 'lab monitor' stops failing on it",
    positionals: ["alert id"],
    options: {
      note: { type: "string", description: "What was found or done" },
      db: DB,
    },
    examples: ['deno task lab monitor ack alert-1a2b3c4d5e6f7a8b --note "sandbox rebuilt; known"'],
    async run(args) {
      const [id, ...rest] = args.positionals;
      if (!id) throw new UsageError("give the alert id ('lab monitor --json' lists them)");
      if (rest.length) throw new UsageError(`one alert at a time, found also ${rest.join(" ")}`);
      let a: AlertRow;
      try {
        a = await acknowledgeAlert(String(args.values.db), id, args.values.note === undefined ? {} : { note: String(args.values.note) });
      } catch (e) {
        if (e instanceof RangeError) throw new UsageError(e.message);
        throw e;
      }
      console.log(`acknowledged ${a.id} (${a.day}, ${a.source} ${scopeText(a)})`);
    },
  },
];
