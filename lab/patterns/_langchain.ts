/**
 * The pattern store as a LangChain retriever ({@linkcode PatternDocumentRetriever}).
 * @module
 */
import { BaseRetriever, type BaseRetrieverInput } from "@langchain/core/retrievers";
import { Document } from "@langchain/core/documents";
import type { PatternRetriever } from "./retrieve.ts";

/** Fields of {@linkcode PatternDocumentRetriever}. */
export interface PatternDocumentRetrieverInput extends BaseRetrieverInput {
  retriever: PatternRetriever;
  /** The role queries are asked for. */
  role: string;
  /** The split being evaluated (its patterns are excluded). @default none */
  split?: string;
}

/**
 * The pattern store as a LangChain retriever: `invoke(task)` → `Document`s whose `pageContent` is the pattern's
 * intent and whose metadata holds id, role, similarity, fitness, score, calls, answer shape, family and split.
 *
 * @example
 * ```ts
 * const lc = new PatternDocumentRetriever({ retriever, role: "accountant", split: "dev" });
 * const docs = await lc.invoke("Which invoices are overdue?");
 * ```
 */
export class PatternDocumentRetriever extends BaseRetriever {
  static override lc_name(): string {
    return "PatternDocumentRetriever";
  }
  override lc_namespace = ["lab", "patterns", "retrieve"];
  readonly retriever: PatternRetriever;
  readonly role: string;
  readonly split?: string;

  constructor(fields: PatternDocumentRetrieverInput) {
    super(fields);
    this.retriever = fields.retriever;
    this.role = fields.role;
    this.split = fields.split;
  }

  override async _getRelevantDocuments(query: string): Promise<Document[]> {
    const hits = await this.retriever.search({ task: query, role: this.role, split: this.split });
    return hits.map((p) =>
      new Document({
        id: p.id,
        pageContent: p.intent,
        metadata: {
          id: p.id,
          role: p.role,
          normalizedIntent: p.normalizedIntent,
          similarity: p.similarity,
          fitness: p.fitness,
          score: p.score,
          calls: p.calls,
          answerShape: p.answerShape,
          family: p.family,
          split: p.split,
          support: p.support,
        },
      })
    );
  }
}
