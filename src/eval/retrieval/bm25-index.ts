/**
 * Okapi BM25 over a small in-memory corpus (hand-written: the npm BM25 packages are unmaintained
 * or pull in whole NLP toolkits, and the formula is a dozen lines).
 *
 *   score(q, d) = sum over distinct query terms t of
 *                 idf(t) * tf(t, d) * (k1 + 1) / (tf(t, d) + k1 * (1 - b + b * |d| / avgdl))
 *   idf(t)      = ln(1 + (N - n(t) + 0.5) / (n(t) + 0.5))      (Lucene's non-negative idf)
 *
 * with k1 = 1.2 and b = 0.75 (Robertson's defaults), N documents, n(t) documents holding t,
 * |d| the document's length in tokens and avgdl the mean length. Tokens: lowercase runs of
 * letters and digits (any script).
 */
export function bm25Tokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export interface RankedDocument {
  index: number;
  score: number;
}

export class Bm25Index {
  readonly k1: number;
  readonly b: number;
  private readonly termCounts: Array<Map<string, number>>;
  private readonly lengths: number[];
  private readonly documentFrequency = new Map<string, number>();
  private readonly averageLength: number;

  constructor(documents: readonly string[], options: { k1?: number; b?: number } = {}) {
    this.k1 = options.k1 ?? 1.2;
    this.b = options.b ?? 0.75;
    this.termCounts = documents.map((document) => {
      const counts = new Map<string, number>();
      for (const token of bm25Tokens(document)) counts.set(token, (counts.get(token) ?? 0) + 1);
      return counts;
    });
    this.lengths = this.termCounts.map((counts) => [...counts.values()].reduce((sum, count) => sum + count, 0));
    for (const counts of this.termCounts) {
      for (const term of counts.keys()) this.documentFrequency.set(term, (this.documentFrequency.get(term) ?? 0) + 1);
    }
    const total = this.lengths.reduce((sum, length) => sum + length, 0);
    this.averageLength = documents.length === 0 ? 0 : total / documents.length;
  }

  get size(): number {
    return this.termCounts.length;
  }

  idf(term: string): number {
    const containing = this.documentFrequency.get(term) ?? 0;
    return Math.log(1 + (this.size - containing + 0.5) / (containing + 0.5));
  }

  score(query: string, index: number): number {
    const counts = this.termCounts[index]!;
    const lengthNorm = this.averageLength === 0 ? 1 : this.lengths[index]! / this.averageLength;
    let score = 0;
    for (const term of new Set(bm25Tokens(query))) {
      const frequency = counts.get(term) ?? 0;
      if (frequency === 0) continue;
      score += (this.idf(term) * frequency * (this.k1 + 1)) / (frequency + this.k1 * (1 - this.b + this.b * lengthNorm));
    }
    return score;
  }

  /** The k best documents for a query, best first; ties keep corpus order. `exclude` drops one index. */
  search(query: string, k: number, exclude?: number): RankedDocument[] {
    const ranked: RankedDocument[] = [];
    for (let index = 0; index < this.size; index++) {
      if (index !== exclude) ranked.push({ index, score: this.score(query, index) });
    }
    ranked.sort((left, right) => right.score - left.score || left.index - right.index);
    return ranked.slice(0, k);
  }
}
