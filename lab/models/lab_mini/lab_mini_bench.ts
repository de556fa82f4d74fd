/**
 * lab-mini benches (deno bench -A lab/models/lab_mini/lab_mini_bench.ts), on the toy fleet schema:
 * 1. Completions per second in process for a typical three-message request (system, user, the assistant's
 *    first dbRead and its result → the next turn), base / with 3 injected examples / fine-tuned: target ≥ 2,000/s.
 * 2. Fine-tuning time for 20K examples × 1 epoch, 5K × 3 and 1K × 5 (reading the JSONL included): target < 60 s
 *    in total — each from the base, and as seed 000's progressive stages (core 1K × 5 at lr 1e-5 → extended 5K × 3
 *    at 5e-6 from the core model → comprehensive 20K × 1 at 1e-6 from the extended model; learning rates mapped to
 *    lab-mini's step size × 10⁴, as `labMiniTrainer` does with the multiplier lr / 1e-5).
 */
import type { BackendChatRequest, ChatBackend } from "../backend.ts";
import { formatInjection } from "../injection.ts";
import { labMiniBackend, tunedBackend } from "./backend.ts";
import { fineTune, readChatJsonl, serializeTuned, type TunedModel } from "./finetune.ts";
import { LAB_MINI_LR } from "./trainer.ts";
import { chatLine, familyTasks, fleet } from "./testdata/fleet.ts";

const dir = await Deno.makeTempDir({ prefix: "lab-mini-bench-" });
const { model, db } = await fleet(dir);
const TOOLS = ["dbRead", "submitAnswer"].map((name) => ({ type: "function" as const, function: { name, parameters: { type: "object", properties: {} } } }));
const tasks = familyTasks(5, 40);
const examples = familyTasks(6, 1).map((t) => ({ task: t.task, calls: [{ tool: "dbRead" as const, sql: t.sql }], answerShape: "number" }));
const injection = formatInjection(examples.slice(0, 3), { tokenBudget: 1000 });
const tuned = fineTune(model, familyTasks(7, 40).map((t) => ({ task: t.task, calls: [{ tool: "dbRead" as const, sql: t.sql }] })), { seed: 1 });

function request(i: number, system: string): BackendChatRequest {
  const t = tasks[i % tasks.length];
  return {
    model: "lab-mini",
    messages: [
      { role: "system", content: system },
      { role: "user", content: t.task },
      { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "dbRead", arguments: JSON.stringify({ sql: t.sql }) } }] },
    ],
    tools: TOOLS,
    seed: i,
  };
}

// Warm: the 200 tasks were seen before (an episode resends its task every turn; decodes and token counts are
// memoised). Cold: every task is new (a fresh backend, unique task texts) — the parser's full cost.
async function throughput(name: string, make: () => ChatBackend, system: string): Promise<void> {
  const backend = make();
  for (let i = 0; i < 200; i++) await backend.complete(request(i, system));
  const n = 3000;
  let t0 = performance.now();
  for (let i = 0; i < n; i++) await backend.complete(request(i, system));
  const warm = n / ((performance.now() - t0) / 1000);
  const cold = make();
  const unique = Array.from({ length: 1000 }, (_, i) => {
    const r = request(i, system);
    r.messages[1].content += ` (${i})`;
    return r;
  });
  t0 = performance.now();
  for (const r of unique) await cold.complete(r);
  const coldPerS = unique.length / ((performance.now() - t0) / 1000);
  console.log(`lab-mini completions/s (${name}): warm ${warm.toFixed(0)}, cold ${coldPerS.toFixed(0)} measured vs ≥ 2000 target ${warm >= 2000 ? "✓" : "✗"} (warm) ${coldPerS >= 2000 ? "✓" : "✗"} (cold)`);
}

await throughput("base", () => labMiniBackend(model), "You answer questions with SQL.");
await throughput("3 injected examples", () => labMiniBackend(model), `You answer questions with SQL.\n\n${injection}`);
await throughput("fine-tuned", () => tunedBackend(tuned), "You answer questions with SQL.");

let total = 0;
for (const [n, epochs] of [[20_000, 1], [5_000, 3], [1_000, 5]] as const) {
  const jsonl = familyTasks(100 + n, Math.ceil(n / 5)).slice(0, n).map((t, i) => chatLine(t, i)).join("\n");
  const t0 = performance.now();
  const read = readChatJsonl(jsonl);
  const m = fineTune(model, read.examples, { seed: 1, epochs, read });
  const s = (performance.now() - t0) / 1000;
  total += s;
  console.log(`fine-tune ${n} × ${epochs}: ${s.toFixed(2)} s (${m.head.templates.length} templates, final loss ${m.losses.at(-1)!.toFixed(4)})`);
}
console.log(`fine-tuning 20K×1 + 5K×3 + 1K×5: ${total.toFixed(1)} s measured vs < 60 s target ${total < 60 ? "✓" : "✗"}`);

// Seed 000's progressive stages, each continuing from the previous stage's model (reading, training and
// serialising each version included).
let progressive = 0;
let from: typeof model | TunedModel = model;
for (const [name, n, epochs, lr] of [["core", 1_000, 5, 1e-5], ["extended", 5_000, 3, 5e-6], ["comprehensive", 20_000, 1, 1e-6]] as const) {
  const jsonl = familyTasks(200 + n, Math.ceil(n / 5)).slice(0, n).map((t, i) => chatLine(t, i)).join("\n");
  const t0 = performance.now();
  const read = readChatJsonl(jsonl);
  const m: TunedModel = fineTune(from, read.examples, { seed: 1, epochs, lr: LAB_MINI_LR * lr / 1e-5, suffix: name, read });
  const bytes = serializeTuned(m).length;
  const s = (performance.now() - t0) / 1000;
  progressive += s;
  console.log(`stage ${name} ${n} × ${epochs} at lr ${lr} (step ${m.recipe.lr.toFixed(3)}): ${s.toFixed(2)} s (${m.head.templates.length} templates, parent ${m.parent?.id ?? "base"}, ${(bytes / 1e6).toFixed(1)} MB)`);
  from = m;
}
console.log(`progressive stages 1K×5 → 5K×3 → 20K×1: ${progressive.toFixed(1)} s measured vs < 60 s target ${progressive < 60 ? "✓" : "✗"}`);

Deno.bench("lab-mini completion (base, three messages)", async () => {
  await labMiniBackend(model).complete(request(1, "You answer questions with SQL."));
});

globalThis.addEventListener("unload", () => {
  db.closeSync();
  Deno.removeSync(dir, { recursive: true });
});
