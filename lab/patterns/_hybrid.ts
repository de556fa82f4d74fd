/**
 * Hybrid ranking: dense candidates (above the cut-off) reordered by reciprocal rank fusion of their dense rank
 * and the BM25 rank of their normalized intents against the query's — LangChain's `BM25Retriever`, IDF over the
 * candidates (so it weighs the words that tell them apart), tokens matched whole:
 * `1/(rrf_k + rank_dense) + lexical_weight/(rrf_k + rank_bm25)`, where a candidate without a shared token gets no
 * lexical term. The fusion only orders; the cut-off decides eligibility.
 * @module
 */
import { Document } from "@langchain/core/documents";
import { BM25Retriever } from "@langchain/community/retrievers/bm25";
import type { RetrievalConfig } from "./_config.ts";
import { byScore, type RetrievedPattern } from "./_search.ts";

/**
 * Distinct words of a normalized intent, each wrapped in `§` so BM25Retriever's substring matching (it counts
 * `includes`/regex hits) matches whole tokens only: `§open§` does not match inside `§open_amount§`.
 */
function lexicalText(normalized: string): string[] {
  const out = new Set<string>();
  for (const w of normalized.toLowerCase().match(/[a-z0-9_]+/g) ?? []) out.add(`§${w}§`);
  return [...out];
}

/**
 * Reorders dense candidates (best first by similarity) by RRF of the dense rank and the BM25 rank of their
 * normalized intents against `normalizedQuery` (see the module doc). Returns new objects with `lexical` and
 * `score` set, best first.
 */
export async function fuseLexical(
  normalizedQuery: string,
  candidates: readonly RetrievedPattern[],
  hybrid: Pick<RetrievalConfig["hybrid"], "rrf_k" | "lexical_weight">,
): Promise<RetrievedPattern[]> {
  if (!candidates.length) return [];
  const dense = [...candidates].sort((a, b) =>
    b.similarity - a.similarity || b.fitness - a.fitness || (a.id < b.id ? -1 : 1)
  );
  const docs = dense.map((p, i) =>
    new Document({ pageContent: lexicalText(p.normalizedIntent).join(" "), metadata: { i } })
  );
  const bm25 = new BM25Retriever({ docs, k: docs.length, includeScore: true });
  const q = lexicalText(normalizedQuery).join(" ");
  const scored = q ? await bm25.invoke(q) : [];
  const lexical = new Float64Array(dense.length);
  for (const d of scored) lexical[d.metadata.i as number] = Number(d.metadata.bm25Score) || 0;
  const lexOrder = Array.from(dense.keys()).filter((i) => lexical[i] > 0).sort((a, b) =>
    lexical[b] - lexical[a] || a - b
  );
  const lexRank = new Map(lexOrder.map((i, r) => [i, r + 1]));
  return dense.map((p, i) => {
    const lr = lexRank.get(i);
    const score = 1 / (hybrid.rrf_k + i + 1) + (lr ? hybrid.lexical_weight / (hybrid.rrf_k + lr) : 0);
    return { ...p, lexical: lexical[i], score };
  }).sort(byScore);
}
