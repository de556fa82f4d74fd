/**
 * TEST-ONLY reference oracle: solves every challenge instance through the same tools an agent has, with SQL
 * written independently of the verifiers' reference queries. Nothing in the lab's importable surface may
 * import this folder (a test enforces it); models never see it.
 *
 * Each level's file exports a map family id → {@linkcode Oracle}.
 */
import type { Challenge } from "../types.ts";
import { callTool, type ToolContext, type ToolResult } from "../../tools/mod.ts";
import { ORACLES_L1 } from "./l1.ts";
import { ORACLES_L2 } from "./l2.ts";
import { ORACLES_L3 } from "./l3.ts";
import { ORACLES_L4 } from "./l4.ts";
import { ORACLES_L5 } from "./l5.ts";

/** A row returned by dbRead. */
export type Row = Record<string, unknown>;

/** The oracle's handle on an episode: the agent's tools, plus the instance it solves. */
export interface OracleTools {
  challenge: Challenge;
  /** The raw value of a parameter of the instance (e.g. "previous_month", "north", 30). */
  param(name: string): string | number;
  /** dbRead; returns the rows, throws when the tool refuses or fails (an oracle bug). */
  read(sql: string): Promise<Row[]>;
  /** dbWrite with confirm: true; returns rows affected; throws when refused (an oracle bug). */
  write(sql: string): Promise<number>;
  /** Any tool, raw. */
  call(name: string, args: unknown): Promise<ToolResult>;
  /** submitAnswer. */
  submit(answer: unknown, summary?: string): Promise<void>;
}

/** Solves one instance. */
export type Oracle = (t: OracleTools) => Promise<void>;

/** Hooks for perturbation tests: skip the n-th write (1-based). */
export interface OracleRunOptions {
  skipWrite?: number;
}

/** Runs the oracle of `challenge.family` on an episode's tool context; returns the number of writes made. */
export async function runOracle(challenge: Challenge, ctx: ToolContext, options: OracleRunOptions = {}): Promise<{ writes: number }> {
  const oracle = ORACLES[challenge.family];
  if (!oracle) throw new Error(`no oracle for family ${challenge.family}`);
  let writes = 0;
  const must = async (name: string, args: unknown) => {
    const r = await callTool(ctx, name, args);
    if (!r.ok) throw new Error(`oracle ${challenge.id}: ${name} failed: ${r.error}\nargs: ${JSON.stringify(args)}`);
    return r;
  };
  const t: OracleTools = {
    challenge,
    param(name) {
      if (!(name in challenge.params)) throw new Error(`oracle ${challenge.id}: no param ${name}`);
      return challenge.params[name];
    },
    async read(sql) {
      const r = await must("dbRead", { sql });
      if (r.truncated) throw new Error(`oracle ${challenge.id}: result truncated; aggregate in SQL`);
      return r.rows as Row[];
    },
    async write(sql) {
      writes++;
      if (options.skipWrite === writes) return 0;
      const r = await must("dbWrite", { sql, confirm: true });
      return Number(r.rowCount ?? 0);
    },
    call: (name, args) => callTool(ctx, name, args),
    async submit(answer, summary) {
      await must("submitAnswer", summary ? { answer, summary } : { answer });
    },
  };
  await oracle(t);
  return { writes };
}

/** Every family's oracle. */
export const ORACLES: Record<string, Oracle> = {
  ...ORACLES_L1,
  ...ORACLES_L2,
  ...ORACLES_L3,
  ...ORACLES_L4,
  ...ORACLES_L5,
};
