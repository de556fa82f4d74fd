/**
 * TEST-SUPPORT script: "oracle distillation" — runs the reference oracle on every `train` instance (tiny
 * sandbox) and writes `data/datasets/oracle_distill_train.jsonl`, one line per instance in OpenAI's chat
 * fine-tuning format:
 *   system (role, as-of date) → user (the task text) → per dbRead/dbWrite of the oracle, in order, an assistant
 *   tool call and its tool result → the final assistant submitAnswer call and its result;
 * plus a metadata field `lab: { id, family, level }` (lab-mini's `readChatJsonl` ignores unknown fields; other
 * trainers' exporters should strip it).
 *
 * Only `train` instances are run: dev/test instances must never reach a dataset. The output is deterministic
 * (catalog order, tiny sandbox of the default seed and as-of date, no timings, call ids numbered).
 *
 * Until the tournament and curation issues land, this is where lab-mini's honesty experiment gets its data;
 * results computed from it are labelled "oracle distillation" (an upper bound: the oracle never fails).
 *
 * Usage: npx deno run -A lab/challenges/_oracle/distill.ts [--out data/datasets/oracle_distill_train.jsonl]
 */
import { ensureSandbox, SandboxPool } from "../../sandbox/mod.ts";
import { createToolContext } from "../../tools/mod.ts";
import { loadCatalog, verifyEpisode } from "../mod.ts";
import { writeTextAtomic, repoPath } from "../../util/mod.ts";
import { runOracle } from "./mod.ts";

/** Where the dataset is written. */
export const ORACLE_DISTILL_FILE: string = repoPath("data/datasets/oracle_distill_train.jsonl");

/** Rows of a dbRead result kept in the tool message (the rest is counted). */
const MAX_RESULT_ROWS = 20;

interface Captured {
  columns: string[];
  rows: Record<string, unknown>[];
  truncated: boolean;
}

/** Runs the oracle on every train instance and returns the JSONL text (one line per instance). */
export async function distillTrain(options: { onProgress?: (done: number, total: number) => void } = {}): Promise<string> {
  const { path } = await ensureSandbox({ scale: "tiny" });
  await using pool = await SandboxPool.open(path, { size: 1 });
  const train = await loadCatalog({ split: "train" });
  const lines: string[] = [];
  for (const [i, c] of train.entries()) {
    await using ep = await pool.acquire(c.orgId, { role: c.role });
    // Capture what dbRead streams back (the tool context logs SQL and row counts only).
    const captured: Captured[] = [];
    const stream = ep.stream.bind(ep);
    (ep as { stream: typeof ep.stream }).stream = async (...args: Parameters<typeof ep.stream>) => {
      const r = await stream(...args);
      captured.push({
        columns: r.columns,
        rows: r.rows.map((row) => Object.fromEntries(r.columns.map((col, k) => [col, row[k]]))),
        truncated: r.truncated,
      });
      return r;
    };
    const ctx = createToolContext(ep);
    await runOracle(c, ctx);
    const verdict = await verifyEpisode(c, ctx);
    if (!verdict.pass) throw new Error(`oracle failed ${c.id}: ${verdict.reason}; fix the oracle before distilling`);
    const messages: Record<string, unknown>[] = [
      { role: "system", content: `You are an ERP assistant working through tools.\nYour role: ${c.role}.\nAs-of date (today): ${ep.asOf}.` },
      { role: "user", content: c.task },
    ];
    let read = 0;
    ctx.log.queries.forEach((q, k) => {
      if (!q.ok) throw new Error(`oracle ${c.id}: ${q.tool} failed: ${q.error}`);
      const id = `call_${k}`;
      const args = q.tool === "dbWrite" ? { sql: q.sql, confirm: true } : { sql: q.sql };
      messages.push({ role: "assistant", content: null, tool_calls: [{ id, type: "function", function: { name: q.tool, arguments: JSON.stringify(args) } }] });
      let result: Record<string, unknown>;
      if (q.tool === "dbRead") {
        const r = captured[read++];
        result = { ok: true, columns: r.columns, rows: r.rows.slice(0, MAX_RESULT_ROWS), rowCount: r.rows.length, truncated: r.truncated || r.rows.length > MAX_RESULT_ROWS };
      } else result = { ok: true, rowCount: q.rowCount ?? 0 };
      messages.push({ role: "tool", tool_call_id: id, content: JSON.stringify(result) });
    });
    const submitId = `call_${ctx.log.queries.length}`;
    messages.push({
      role: "assistant",
      content: null,
      tool_calls: [{ id: submitId, type: "function", function: { name: "submitAnswer", arguments: JSON.stringify({ answer: ctx.answer?.answer ?? null }) } }],
    });
    messages.push({ role: "tool", tool_call_id: submitId, content: JSON.stringify({ ok: true }) });
    lines.push(JSON.stringify({ messages, lab: { id: c.id, family: c.family, level: c.level } }));
    options.onProgress?.(i + 1, train.length);
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const outArg = Deno.args.indexOf("--out");
  const out = outArg >= 0 ? Deno.args[outArg + 1] : ORACLE_DISTILL_FILE;
  const t0 = performance.now();
  const text = await distillTrain({
    onProgress: (d, n) => {
      if (d % 50 === 0 || d === n) console.error(`oracle distillation: ${d}/${n}`);
    },
  });
  await Deno.mkdir(repoPath("data/datasets"), { recursive: true });
  await writeTextAtomic(out, text);
  console.log(`wrote ${out}: ${text.trim().split("\n").length} lines in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
