// The lab's verifier as a promptfoo assertion: the verdict the lab computed by execution (provider metadata), with
// named metrics — pass, score, query_success (queries that ran without an error / queries) and steps_vs_optimal
// (optimal steps / steps taken, capped at 1). No threshold: the verdict passes or it does not.
export default function labVerdict(_output, context) {
  const m = context?.providerResponse?.metadata;
  if (!m?.verdict) return { pass: false, score: 0, reason: "no lab verdict in the provider's metadata (is the provider evals/provider.mjs?)" };
  const { verdict, queries, steps } = m;
  const namedScores = { pass: verdict.pass ? 1 : 0, score: verdict.score };
  if (queries?.total > 0) namedScores.query_success = queries.ok / queries.total;
  if (steps?.optimal && steps.taken > 0) namedScores.steps_vs_optimal = Math.min(1, steps.optimal / steps.taken);
  return { pass: verdict.pass, score: verdict.score, reason: verdict.reason, namedScores };
}
