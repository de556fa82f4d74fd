/**
 * The report of a dataset built by `lab dataset build`: a folder of JSONL files with their manifests (or one file
 * and its manifest). Tiers, staged sets, exclusions and why, redactions, balance by category and level, the
 * sources read and each file's hash checked against its manifest.
 * @module
 */
import { basename, join } from "node:path";
import { existsSync } from "node:fs";
import { type DatasetManifest, manifestPath, readManifest, STAGES, TIERS, verifyHash } from "../datasets/mod.ts";
import { ConfigError, displayPath } from "../util/mod.ts";
import { barChart } from "./_chart.ts";
import { num } from "./_common.ts";
import type { ReportDoc, Section } from "./_page.ts";
import { readingOf } from "./reading.ts";

/** The data files of a dataset folder (those with a manifest), or the one file given. */
async function dataFiles(path: string): Promise<string[]> {
  let stat: Deno.FileInfo;
  try {
    stat = await Deno.stat(path);
  } catch {
    throw new ConfigError(`${displayPath(path)}: no such dataset folder or file; build one with 'lab dataset build --out <folder>'`);
  }
  if (stat.isFile) return [path];
  const files: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.isFile && e.name.endsWith(".manifest.json")) files.push(join(path, `${e.name.slice(0, -".manifest.json".length)}.jsonl`));
  }
  if (!files.length) throw new ConfigError(`${displayPath(path)}: no dataset manifest (*.manifest.json) in the folder; build one with 'lab dataset build --out <folder>'`);
  const order = (f: string) => {
    const set = basename(f).split(".")[0];
    const i = ["train", ...STAGES, "dpo"].indexOf(set);
    return i < 0 ? 99 : i;
  };
  return files.sort((a, b) => order(a) - order(b) || (a < b ? -1 : 1));
}

/** The report of the dataset folder (or file) at `path`. */
export async function datasetReport(path: string, built: ReportDoc["built"]): Promise<ReportDoc> {
  const files = await dataFiles(path);
  const sets: { path: string; manifest: DatasetManifest; hash: "ok" | "mismatch" | "file missing" }[] = [];
  for (const f of files) {
    if (!existsSync(manifestPath(f))) throw new ConfigError(`${displayPath(f)}: no manifest beside it (${basename(manifestPath(f))}); build the set with 'lab dataset build'`);
    const manifest = await readManifest(f);
    const text = await Deno.readTextFile(f).catch(() => null);
    sets.push({ path: f, manifest, hash: text === null ? "file missing" : verifyHash(text, manifest) ? "ok" : "mismatch" });
  }
  const main = sets.find((s) => s.manifest.stage === null && s.manifest.format !== "dpo") ?? sets[0];
  const m = main.manifest;
  const stages = sets.filter((s) => s.manifest.stage);
  const excluded = m.excluded;
  const sections: Section[] = [];
  const tierCategory = new Map<string, number>();
  for (const e of m.lineage) {
    const k = `${e.tier ?? "none"}|${e.category}`;
    tierCategory.set(k, (tierCategory.get(k) ?? 0) + 1);
  }
  sections.push({
    title: `Headline: tiers and staged sets`,
    blocks: [
      {
        kind: "table",
        caption: `${m.file}: examples by quality tier`,
        columns: ["tier", "examples"],
        rows: [...TIERS, "none"].filter((t) => t !== "none" || m.counts.byTier.none).map((t) => [t, num(`${m.file}.tier.${t}`, m.counts.byTier[t] ?? 0, String(m.counts.byTier[t] ?? 0))]),
      },
      ...(m.lineage.length
        ? [{
          kind: "chart" as const,
          title: "Tiers by category",
          spec: barChart([...tierCategory].map(([k, n]) => ({ category: k.split("|")[1], tier: k.split("|")[0], examples: n })), { x: "category", y: "examples", color: "tier", title: `${m.file}: examples by category and tier` }),
        }]
        : [{ kind: "text" as const, text: `${m.file} holds no example, so there is no tier chart: every example read was left out (see Exclusions).` }]),
      {
        kind: "table",
        caption: "Staged sets (seed 000's progressive fine-tuning stages)",
        columns: ["stage", "selected", "target", "available", "min fitness", "levels", "scaled down", "note"],
        rows: stages.length
          ? stages.map(({ manifest: { stage } }) => [
            stage!.name,
            num(`stage.${stage!.name}.selected`, stage!.selected, String(stage!.selected)),
            String(stage!.target),
            String(stage!.available),
            String(stage!.minFitness),
            stage!.levels?.join(", ") ?? "all",
            stage!.scaledDown ? "yes" : "no",
            stage!.note,
          ])
          : [["—", "", "", "", "", "", "", "no staged set in this dataset"]],
      },
      {
        kind: "table",
        caption: "Files (each hash checked against its manifest)",
        columns: ["file", "format", "rows", "bytes", "sha256", "hash check"],
        rows: sets.map((s) => [s.manifest.file, s.manifest.format, num(`${s.manifest.file}.rows`, s.manifest.rows, String(s.manifest.rows)), String(s.manifest.bytes), s.manifest.sha256.slice(0, 16), s.hash]),
      },
    ],
  });
  if (excluded) {
    const leak = Object.values(excluded.leakage).reduce((a, b) => a + b, 0);
    sections.push({
      title: "Exclusions",
      blocks: [{
        kind: "table",
        caption: "Examples left out, by reason",
        columns: ["reason", "examples"],
        rows: ([
          ["held out (leakage control)", leak, "heldOut"],
          ["failed turns (DPO rejected side only)", excluded.failedTurn, "failedTurn"],
          ["marked wrong by a person", excluded.markedWrong, "markedWrong"],
          ["no successful statement", excluded.noSql, "noSql"],
          ["outside the filters", excluded.filtered, "filtered"],
          ["quality below bronze", excluded.rejectedQuality, "belowBronze"],
          ["exact duplicates", excluded.exactDuplicate, "exactDuplicate"],
          ["near-duplicates", excluded.nearDuplicate, "nearDuplicate"],
          ["over the category cap", excluded.overCategoryCap, "overCategoryCap"],
        ] as const).map(([text, n, key]) => [text, num(`excluded.${key}`, n, String(n))]),
      }],
    });
  }
  sections.push({
    title: "Balance and redaction",
    blocks: [
      { kind: "table", caption: `${m.file}: by category`, columns: ["category", "examples"], rows: Object.entries(m.counts.byCategory).map(([k, n]) => [k, String(n)]) },
      { kind: "table", caption: `${m.file}: by level`, columns: ["level", "examples"], rows: Object.entries(m.counts.byLevel).map(([k, n]) => [k, String(n)]) },
      { kind: "table", caption: `${m.file}: by source`, columns: ["source", "examples"], rows: Object.entries(m.counts.bySource).map(([k, n]) => [k, String(n)]) },
      { kind: "table", caption: "Redactions (personal data and secrets replaced)", columns: ["kind", "count"], rows: Object.entries(m.redactions).map(([k, n]) => [k, String(n)]) },
    ],
  });
  const read = m.sources ? Object.values(m.sources.read).reduce((a, b) => a + b, 0) : null;
  const facts: string[] = [];
  if (read !== null) facts.push(`${m.rows} of ${read} examples read are in ${m.file} (${TIERS.map((t) => `${t} ${m.counts.byTier[t] ?? 0}`).join(", ")}).`);
  else facts.push(`${m.file} holds ${m.rows} examples (${TIERS.map((t) => `${t} ${m.counts.byTier[t] ?? 0}`).join(", ")}).`);
  if (excluded) {
    const reasons = Object.entries({ "below bronze": excluded.rejectedQuality, "failed turns": excluded.failedTurn, duplicates: excluded.exactDuplicate + excluded.nearDuplicate, "held out": Object.values(excluded.leakage).reduce((a, b) => a + b, 0) })
      .filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
    if (reasons.length) facts.push(`The largest reason for leaving examples out: ${reasons[0][0]} (${reasons[0][1]}).`);
  }
  for (const s of stages) if (s.manifest.stage!.scaledDown) facts.push(`Stage ${s.manifest.stage!.name}: ${s.manifest.stage!.note}.`);
  const mismatched = sets.filter((s) => s.hash !== "ok");
  if (mismatched.length) facts.push(`${mismatched.map((s) => `${s.manifest.file}: ${s.hash}`).join("; ")} — the file changed after its manifest was written.`);
  const limits = ["Whether training on this set helps: that is a fine-tuning run's and an eval suite's question (lab report model / suite)."];
  return {
    kind: "dataset",
    id: displayPath(path),
    title: `Dataset ${displayPath(path)}`,
    question: "What did curation keep from the lab's episodes and patterns, at which quality, and what did it leave out and why?",
    label: null,
    header: [
      ["source", displayPath(path)],
      ["created", m.createdAt],
      ["git commit", "not recorded in dataset manifests"],
      ["read from", m.sources ? [m.sources.episodes ? `episodes of ${m.sources.episodes.store} (runs ${m.sources.episodes.runs.join(", ") || "none"})` : null, m.sources.patterns ? `patterns of ${m.sources.patterns.store}` : null].filter(Boolean).join("; ") || "—" : "—"],
      ["held out", m.heldOut ? `${m.heldOut.instances} instances, ${m.heldOut.templates} templates, ${m.heldOut.oodFamilies} test_ood families, ${m.heldOut.intents} intents` : "—"],
      ["rules", m.rules ? `tiers ${JSON.stringify(m.rules.tiers)}; balance ${JSON.stringify(m.rules.balance)}` : "—"],
      ["seeds, model ids, sandbox", "not part of a dataset (see the runs it was read from)"],
      ["derived from", m.derivedFrom ? `${m.derivedFrom.file} (${m.derivedFrom.sha256.slice(0, 16)})` : "—"],
    ],
    config: m.rules,
    sections,
    reading: readingOf({ findings: [], facts, limits }),
    traces: [],
    tracesNote: "A dataset has no episodes of its own: its lines come from the runs and pattern stores named in the header.",
    built,
  };
}
