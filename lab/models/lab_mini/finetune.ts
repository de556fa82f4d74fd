/**
 * Fine-tuning of lab-mini (the `Trainer` port): chat JSONL in OpenAI's fine-tuning format → the assistant's
 * dbRead/dbWrite SQL abstracted into new templates with typed literal slots (periods, numbers, strings) aligned
 * with the task → a log-linear template selector (task n-grams × template, plus a "none" class meaning "use the
 * base parser", trained on the base corpus as negatives) fitted by mini-batch gradient descent → a new weights
 * version `ft:lab-mini:<suffix>:<hash12>` written under `outDir` and served at once.
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import type { TrainerEvent } from "../trainer.ts";
import { abstractSql, fillTemplate, gramHashes, type TaskLits, taskLits, type Template } from "./_copy.ts";
import { hash32, prng } from "./_text.ts";
import { generateCorpus } from "./corpus.ts";
import type { CopyPlan } from "./icl.ts";
import type { SchemaMeta } from "./schema_meta.ts";
import { type LabMiniModel, parseModel, serializeModel } from "./weights.ts";

/** A learned template: the calls of one solved task, abstracted. */
export interface TunedTemplate {
  calls: { tool: "dbRead" | "dbWrite"; template: Template }[];
  /** Literal signature of the tasks it fits. */
  sig: string;
  /** Training examples that produced it. */
  support: number;
}

/** The fine-tuned part of a model: templates and the selector's weights. */
export interface TunedHead {
  templates: TunedTemplate[];
  bits: number;
  w: Float32Array | Float64Array;
}

/** A fine-tuned model: the base it started from and the head. */
export interface TunedModel {
  format: "lab-mini-ft/v1";
  id: string;
  base: LabMiniModel;
  head: TunedHead;
  recipe: { seed: number; epochs: number; batchSize: number; lr: number; examples: number; used: number; dropped: Record<string, number>; negatives: number };
  hash: string;
  /** Mean training loss per step (as reported). */
  losses: number[];
}

/** One usable training example. */
export interface ChatExample {
  task: string;
  calls: { tool: "dbRead" | "dbWrite"; sql: string }[];
}

/** What reading a chat JSONL gave: the usable examples and why the others were dropped. */
export interface ReadChatResult {
  examples: ChatExample[];
  total: number;
  dropped: Record<string, number>;
}

const Msg = z.looseObject({
  role: z.string(),
  content: z.union([z.string(), z.array(z.looseObject({ text: z.string().optional() })), z.null()]).optional(),
  tool_calls: z.array(z.looseObject({ function: z.looseObject({ name: z.string(), arguments: z.string() }) })).optional(),
});
const Line = z.looseObject({ messages: z.array(Msg) });

const text = (c: z.infer<typeof Msg>["content"]) => typeof c === "string" ? c : Array.isArray(c) ? c.map((p) => p.text ?? "").join("") : "";

/** Reads chat examples from JSONL text; every line is either used or counted under a reason. */
export function readChatJsonl(jsonl: string): ReadChatResult {
  const examples: ChatExample[] = [];
  const dropped: Record<string, number> = {};
  const drop = (why: string) => dropped[why] = (dropped[why] ?? 0) + 1;
  let total = 0;
  for (const raw of jsonl.split(/\r?\n/)) {
    if (!raw.trim()) continue;
    total++;
    let obj: unknown;
    try {
      obj = JSON.parse(raw);
    } catch {
      drop("invalid JSON");
      continue;
    }
    const line = Line.safeParse(obj);
    if (!line.success) {
      drop("no messages array of {role, content}");
      continue;
    }
    const msgs = line.data.messages;
    const firstAssistant = msgs.findIndex((m) => m.role === "assistant");
    const task = msgs.slice(0, firstAssistant < 0 ? msgs.length : firstAssistant).findLast((m) => m.role === "user");
    if (!task || !text(task.content).trim()) {
      drop("no user message before the assistant");
      continue;
    }
    const calls: ChatExample["calls"] = [];
    let badArgs = false;
    for (const m of msgs) {
      if (m.role !== "assistant") continue;
      for (const c of m.tool_calls ?? []) {
        if (c.function.name !== "dbRead" && c.function.name !== "dbWrite") continue;
        let sql: unknown;
        try {
          sql = JSON.parse(c.function.arguments)?.sql;
        } catch { /* counted below */ }
        if (typeof sql !== "string" || !sql.trim()) badArgs = true;
        else if (!sql.startsWith("SELECT count(*) AS checked_rows FROM (")) calls.push({ tool: c.function.name, sql: sql.trim() });
      }
    }
    if (!calls.length) {
      drop(badArgs ? "tool call arguments without an sql string" : "no dbRead/dbWrite tool call");
      continue;
    }
    examples.push({ task: text(task.content), calls });
  }
  return { examples, total, dropped };
}

// Feature index of (gram, class): a multiplicative mix of the two hashes, top `bits` bits.
const NONE = 0x6e6f6e65;
const idx = (g: number, cls: number, bits: number) => Math.imul((g ^ Math.imul(cls, 0x85ebca6b)) >>> 0, 0x9e3779b1) >>> (32 - bits);
const BIAS = hash32("<bias>");

function classHash(t: TunedTemplate): number {
  return hash32(JSON.stringify(t.calls.map((c) => [c.tool, c.template.sql])));
}

function feats(lits: TaskLits): number[] {
  return [BIAS, ...gramHashes(lits.masked)];
}

function scores(w: ArrayLike<number>, bits: number, f: number[], classes: number[]): number[] {
  return classes.map((c) => {
    let s = 0;
    for (const g of f) s += w[idx(g, c, bits)];
    return s;
  });
}

function softmax(s: number[]): number[] {
  const mx = Math.max(...s);
  const e = s.map((x) => Math.exp(x - mx));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

const headCache = new WeakMap<TunedHead, { hashes: number[]; bySig: Map<string, number[]> }>();

function headIndex(head: TunedHead) {
  let h = headCache.get(head);
  if (!h) {
    const hashes = head.templates.map(classHash);
    const bySig = new Map<string, number[]>();
    head.templates.forEach((t, i) => bySig.set(t.sig, [...(bySig.get(t.sig) ?? []), i]));
    headCache.set(head, h = { hashes, bySig });
  }
  return h;
}

/** The fine-tuned template for a task, when the selector prefers one over the base parser and it fills. */
export function copyFromHead(head: TunedHead, lits: TaskLits): CopyPlan | undefined {
  const { hashes, bySig } = headIndex(head);
  const cands = bySig.get(lits.sig);
  if (!cands?.length) return undefined;
  const f = feats(lits);
  const p = softmax(scores(head.w, head.bits, f, [NONE, ...cands.map((i) => hashes[i])]));
  const order = cands.map((t, k) => [p[k + 1], t] as const).sort((a, b) => b[0] - a[0]);
  for (const [prob, t] of order) {
    if (prob <= p[0]) break;
    const sqls = head.templates[t].calls.map((c) => fillTemplate(c.template, lits));
    if (sqls.some((s) => s === undefined)) continue;
    return { calls: head.templates[t].calls.map((c, i) => ({ tool: c.tool, sql: sqls[i]! })), source: `template ${t}`, score: prob };
  }
  return undefined;
}

/** Options for {@linkcode fineTune}. */
export interface FineTuneOptions {
  /** @default 0 */
  seed?: number;
  /** @default 3 */
  epochs?: number;
  /** @default 16 */
  batchSize?: number;
  /** Step size on the batch-summed gradient. @default 0.1 */
  lr?: number;
  /** Examples of the base corpus used as "none" (base parser) negatives; default min(2000, max(500, examples)). */
  negatives?: number;
  /** log2 of the selector's feature space. @default 18 */
  bits?: number;
  /** @default "lab" */
  suffix?: string;
  validation?: ChatExample[];
  /** Report every k-th step; @default ceil(steps / 500), so a job has at most ~500 step events. */
  reportEvery?: number;
  /** Where counts of read/dropped examples are reported (with `dropped`). */
  read?: { total: number; dropped: Record<string, number> };
  signal?: AbortSignal;
  onEvent?: (e: TrainerEvent) => void;
}

interface Item {
  f: number[];
  cands: number[];
  gold: number;
}

/** Fine-tunes a base model on chat examples; `base` is unchanged. Deterministic for a seed. */
export function fineTune(base: LabMiniModel, examples: ChatExample[], options: FineTuneOptions = {}): TunedModel {
  const seed = options.seed ?? 0, epochs = options.epochs ?? 3, batchSize = options.batchSize ?? 16, lr = options.lr ?? 0.1, bits = options.bits ?? 18;
  const emit = options.onEvent ?? (() => {});
  const meta = base.meta;
  // 1. templates
  const templates: TunedTemplate[] = [];
  const byKey = new Map<string, number>();
  const itemsOf = (exs: ChatExample[], grow: boolean) => {
    const out: { lits: TaskLits; t: number }[] = [];
    let unseen = 0;
    for (const ex of exs) {
      const lits = taskLits(ex.task, meta);
      const calls = ex.calls.map((c) => ({ tool: c.tool, template: abstractSql(c.sql, lits) }));
      const key = `${lits.sig}\u0000${JSON.stringify(calls.map((c) => [c.tool, c.template.sql]))}`;
      let t = byKey.get(key);
      if (t === undefined && grow) {
        byKey.set(key, t = templates.length);
        templates.push({ calls, sig: lits.sig, support: 0 });
      }
      if (t === undefined) {
        unseen++;
        continue;
      }
      if (grow) templates[t].support++;
      out.push({ lits, t });
    }
    return { out, unseen };
  };
  const train = itemsOf(examples, true).out;
  const hashes = templates.map(classHash);
  const bySig = new Map<string, number[]>();
  templates.forEach((t, i) => bySig.set(t.sig, [...(bySig.get(t.sig) ?? []), i]));
  const toItem = (lits: TaskLits, t: number): Item | undefined => {
    const ts = bySig.get(lits.sig) ?? [];
    if (t < 0 && !ts.length) return undefined;
    const cands = [NONE, ...ts.map((i) => hashes[i])];
    return { f: feats(lits), cands, gold: t < 0 ? 0 : 1 + ts.indexOf(t) };
  };
  const items: Item[] = train.map((x) => toItem(x.lits, x.t)!);
  // 2. negatives: generic questions the base parser answers
  const nNeg = options.negatives ?? Math.min(2000, Math.max(500, examples.length));
  let negatives = 0;
  if (nNeg > 0) {
    const per = Math.max(1, Math.ceil(nNeg / Math.max(1, meta.relations.length)));
    for (const ex of generateCorpus(meta, { seed: seed + 7919, perRelation: per }).slice(0, nNeg)) {
      const it = toItem(taskLits(ex.question, meta), -1);
      if (it) {
        items.push(it);
        negatives++;
      }
    }
  }
  const valid = options.validation ? itemsOf(options.validation, false) : undefined;
  const validItems = valid?.out.map((x) => toItem(x.lits, x.t)!) ?? [];
  if (valid) emit({ level: "info", message: `validation: ${validItems.length} of ${options.validation!.length} examples usable${valid.unseen ? `; ${valid.unseen} dropped: their SQL abstracts to a template not in the training file` : ""}` });
  emit({ level: "info", message: `${templates.length} templates from ${train.length} examples; ${negatives} base-corpus negatives` });
  // 3. mini-batch gradient descent
  const w = new Float64Array(1 << bits);
  const rand = prng(seed ^ 0xf17e);
  const order = items.map((_, i) => i);
  const steps = epochs * Math.ceil(items.length / batchSize);
  const every = options.reportEvery ?? Math.max(1, Math.ceil(steps / 500));
  const losses: number[] = [];
  const lossOf = (it: Item) => -Math.log(Math.max(1e-12, softmax(scores(w, bits, it.f, it.cands))[it.gold]));
  let step = 0, acc = 0, accN = 0;
  const grad = new Map<number, number>();
  for (let e = 0; e < epochs; e++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let b = 0; b < order.length; b += batchSize) {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error("aborted");
      grad.clear();
      let loss = 0;
      const end = Math.min(order.length, b + batchSize);
      for (let k = b; k < end; k++) {
        const it = items[order[k]];
        const p = softmax(scores(w, bits, it.f, it.cands));
        loss -= Math.log(Math.max(1e-12, p[it.gold]));
        it.cands.forEach((c, ci) => {
          const g = p[ci] - (ci === it.gold ? 1 : 0);
          if (g === 0) return;
          for (const fh of it.f) {
            const x = idx(fh, c, bits);
            grad.set(x, (grad.get(x) ?? 0) + g);
          }
        });
      }
      for (const [x, g] of grad) w[x] -= lr * g;
      step++;
      acc += loss / (end - b);
      accN++;
      if (step % every === 0 || step === steps) {
        const mean = acc / accN;
        losses.push(mean);
        emit({ level: "info", message: `Step ${step}/${steps}: training loss=${mean.toFixed(4)}`, data: { step, train_loss: mean, epoch: e + 1 } });
        acc = accN = 0;
      }
    }
    if (validItems.length) {
      const vl = validItems.reduce((s, it) => s + lossOf(it), 0) / validItems.length;
      emit({ level: "info", message: `Epoch ${e + 1}: validation loss=${vl.toFixed(4)}`, data: { step, train_loss: losses.at(-1) ?? 0, valid_loss: vl, full_valid_loss: vl, epoch: e + 1 } });
    }
  }
  const w32 = Float32Array.from(w);
  const head: TunedHead = { templates, bits, w: w32 };
  const dropped = options.read?.dropped ?? {};
  const recipe = { seed, epochs, batchSize, lr, examples: options.read?.total ?? examples.length, used: examples.length, dropped, negatives };
  const hash = tunedHash(base.hash, head, recipe);
  const id = `ft:lab-mini:${options.suffix ?? "lab"}:${hash.slice(0, 12)}`;
  return { format: "lab-mini-ft/v1", id, base, head, recipe, hash, losses };
}

const sha256 = (d: string | Uint8Array) => createHash("sha256").update(d).digest("hex");

function tunedHash(baseHash: string, head: TunedHead, recipe: TunedModel["recipe"]): string {
  const w = head.w instanceof Float32Array ? head.w : Float32Array.from(head.w);
  return sha256(baseHash + JSON.stringify(head.templates) + JSON.stringify(recipe) + sha256(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)));
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Serialises a fine-tuned model (base included) to JSON text. */
export function serializeTuned(m: TunedModel): string {
  const w = m.head.w instanceof Float32Array ? m.head.w : Float32Array.from(m.head.w);
  return JSON.stringify({ ...m, base: JSON.parse(serializeModel(m.base)), head: { ...m.head, w: toBase64(new Uint8Array(w.buffer, w.byteOffset, w.byteLength)) } });
}

/** Parses a fine-tuned model file; throws when the content does not match its hash. */
export function parseTuned(textIn: string, where = "model file"): TunedModel {
  const raw = JSON.parse(textIn);
  if (raw?.format !== "lab-mini-ft/v1") throw new Error(`${where}: not a fine-tuned lab-mini model (format ${raw?.format})`);
  const base = parseModel(JSON.stringify(raw.base), `${where} (base)`);
  const bin = atob(raw.head.w);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const head: TunedHead = { templates: raw.head.templates, bits: raw.head.bits, w: new Float32Array(bytes.buffer) };
  const hash = tunedHash(base.hash, head, raw.recipe);
  if (hash !== raw.hash) throw new Error(`${where}: content hash ${hash.slice(0, 12)} does not match the recorded ${String(raw.hash).slice(0, 12)}; the file is corrupt or edited — fine-tune again`);
  return { ...raw, base, head };
}

/** The schema a tuned model knows (its base's). */
export const tunedMeta = (m: TunedModel): SchemaMeta => m.base.meta;
