/**
 * `lab review <version> --approve|--reject --note "…"`: a reviewer's decision on a model version's promotion
 * recommendation (seed 002's human review), recorded in the registry's audit trail (status unchanged) with a
 * `review.approved` or `review.rejected` event. Approving a version awaiting promotion promotes it (issue 15:
 * promotion is `lab finetune promote` or an approving review). The model report (`lab report model`) shows the reviews.
 */
import { existsSync } from "node:fs";
import type { CommandSpec } from "./_args.ts";
import { UsageError } from "./_args.ts";
import { DEFAULT_REGISTRY_PATH, Registry } from "../finetune/mod.ts";
import { displayPath, LabError } from "../util/mod.ts";

/** `lab review`. */
export const REVIEW_COMMANDS: CommandSpec[] = [{
  name: "review",
  summary: "Record a reviewer's approve or reject, with a note, on a model version's promotion recommendation (registry audit trail)",
  usage: 'review <version> --approve|--reject --note "…" [--reviewer name] [--registry file]',
  positionals: ["version"],
  options: {
    approve: {
      type: "boolean",
      description: "Approve the recommendation: a version awaiting promotion is promoted (the promoted one before it retired); any other status is left as it is",
    },
    reject: { type: "boolean", description: "Reject it: the status is left as it is (roll back a promoted version with 'lab finetune rollback')" },
    note: { type: "string", description: "Why (required): what you read and what decided it" },
    reviewer: { type: "string", description: "Who reviewed (default: $USER, else lab)" },
    registry: { type: "string", description: "The model registry (DuckDB)", default: displayPath(DEFAULT_REGISTRY_PATH) },
    json: { type: "boolean", description: "Print the recorded review and the version as JSON" },
  },
  examples: [
    'deno task lab review lab-mini-all-v3 --approve --note "A/B lift +12 [4, 20]; failed traces read, none a verifier bug" --reviewer ana',
    'deno task lab review lab-mini-all-v4 --reject --note "test_id lift crosses 0" --reviewer ana',
    "deno task lab report model lab-mini-all-v3     # the report shows the reviews",
  ],
  async run(args) {
    const [name, ...rest] = args.positionals;
    if (!name) throw new UsageError("give the version to review, e.g. lab-mini-all-v2 ('lab finetune list' shows them)");
    if (rest.length) throw new UsageError(`one version at a time, found also ${rest.join(" ")}`);
    const approve = args.values.approve === true, reject = args.values.reject === true;
    if (approve === reject) throw new UsageError(approve ? "give --approve or --reject, not both" : "give the decision: --approve or --reject");
    const note = typeof args.values.note === "string" ? args.values.note.trim() : "";
    if (!note) throw new UsageError(`give --note "…" saying why you ${approve ? "approve" : "reject"} ${name}`);
    const reviewer = typeof args.values.reviewer === "string" ? args.values.reviewer.trim() : undefined;
    if (reviewer === "") throw new UsageError("--reviewer must name someone, found ''");
    const path = String(args.values.registry);
    // Registry.open creates a missing file: a review must land in an existing registry.
    if (!existsSync(path)) throw new UsageError(`no model registry at ${path}: pass --registry <file> ('lab finetune run' creates one)`);
    const registry = await Registry.open(path);
    try {
      await registry.get(name);
    } catch (e) {
      if (e instanceof LabError) throw new UsageError(e.message.split("\n")[0]);
      throw e;
    }
    const r = await registry.review(name, approve ? "approve" : "reject", note, reviewer);
    if (args.values.json) {
      console.log(JSON.stringify({ review: r.review, status: r.version.status, retired: r.retired?.name ?? null }, null, 2));
      return;
    }
    const { review } = r;
    const what = review.promoted
      ? `; it was awaiting promotion, so it is now promoted${r.retired ? ` (${r.retired.name} retired)` : ""}`
      : `; status ${r.version.status} unchanged`;
    console.log(`${approve ? "approved" : "rejected"} ${name} (review #${review.seq} by ${review.reviewer})${what}`);
    console.log(`the report shows it: deno task lab report model ${name}${path === displayPath(DEFAULT_REGISTRY_PATH) ? "" : ` --registry ${path}`}`);
  },
}];
