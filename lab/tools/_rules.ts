/**
 * Business rules a write must keep, checked after it ran inside the episode transaction (rejected → rolled back).
 *
 * Rows touched = the symmetric difference between the table before and after the statement. Rules:
 * - tenant scope: every new or changed row has the episode's org_id;
 * - closed periods are immutable: no journal entry (or its lines) dated or posted in a closed period is
 *   inserted, changed or deleted, and a closed fiscal period cannot be edited or reopened;
 * - every posted entry touched balances (sum of debits = sum of credits): insert all lines in one INSERT, or
 *   keep the entry 'draft' until its lines balance;
 * - inventory never goes negative.
 * @module
 */
import type { SqlRow } from "../sandbox/mod.ts";

/** One table a write changed: its name, a temp table with its rows before the write, a trusted query. */
export interface RuleCheck {
  table: string;
  before: string;
  orgId: number;
  query(sql: string): Promise<SqlRow[]>;
}

/** Returns why the write must be rejected, or undefined. */
export async function validateWrite(c: RuleCheck): Promise<string | undefined> {
  const after = `main.${c.table}`;
  const added = `(SELECT * FROM ${after} EXCEPT ALL SELECT * FROM ${c.before})`;
  const removed = `(SELECT * FROM ${c.before} EXCEPT ALL SELECT * FROM ${after})`;
  const touched = `(SELECT * FROM ${added} UNION ALL SELECT * FROM ${removed})`;
  const first = async (sql: string) => (await c.query(sql))[0];

  const foreign = await first(`SELECT count(*) AS n, min(org_id) AS o FROM ${added} WHERE org_id IS DISTINCT FROM ${c.orgId}`);
  if (Number(foreign.n) > 0) {
    return `${foreign.n} row(s) would have org_id ${foreign.o}: this episode may only write rows of org_id ${c.orgId}`;
  }

  if (c.table === "fiscal_periods") {
    const r = await first(`SELECT string_agg(name, ', ') AS names FROM ${removed} WHERE status = 'closed'`);
    if (r.names) return `period ${r.names} is closed and cannot be changed or reopened`;
  }

  if (c.table === "journal_entries" || c.table === "journal_lines") {
    const entries = `(SELECT DISTINCT entry_id FROM ${touched})`;
    // Lines: their entry is unchanged by this statement, so read it from the current journal_entries.
    const src = c.table === "journal_entries"
      ? `(SELECT entry_id, entry_date, period_id FROM ${touched})`
      : `(SELECT entry_id, entry_date, period_id FROM main.journal_entries WHERE entry_id IN ${entries})`;
    const closed = await first(`
      SELECT string_agg(DISTINCT e.entry_id::VARCHAR, ', ') AS ids, string_agg(DISTINCT p.name, ', ') AS periods
      FROM ${src} e JOIN main.fiscal_periods p
        ON p.status = 'closed' AND (p.period_id = e.period_id OR e.entry_date BETWEEN p.start_date AND p.end_date)`);
    if (closed.ids) {
      return `journal entry ${closed.ids} is in closed period ${closed.periods}: closed periods cannot be changed; post an adjusting entry in the open period instead`;
    }
    const unbalanced = await first(`
      SELECT string_agg(entry_id::VARCHAR || ' (debits ' || d || ', credits ' || k || ')', '; ') AS msg FROM (
        SELECT e.entry_id, coalesce(sum(l.debit), 0) AS d, coalesce(sum(l.credit), 0) AS k
        FROM main.journal_entries e LEFT JOIN main.journal_lines l ON l.org_id = e.org_id AND l.entry_id = e.entry_id
        WHERE e.status = 'posted' AND e.entry_id IN ${entries}
        GROUP BY e.entry_id HAVING d <> k)`);
    if (unbalanced.msg) {
      return `posted journal entry ${unbalanced.msg} does not balance: insert all lines in one INSERT, or keep the entry 'draft' until debits equal credits`;
    }
  }

  if (c.table === "inventory_levels") {
    const neg = await first(
      `SELECT count(*) AS n FROM ${added} WHERE qty_on_hand < 0 OR qty_reserved < 0`,
    );
    if (Number(neg.n) > 0) return `${neg.n} inventory row(s) would go negative: quantities on hand cannot be below 0`;
  }
  return undefined;
}
