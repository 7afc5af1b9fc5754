/**
 * Text metrics, each returning a score in [0, 1] for one (prediction, reference) pair.
 * Definitions follow the SQuAD evaluation script (normalisation, token F1) and Google's
 * rouge-score package (ROUGE-L: tokens are lowercase runs of [a-z0-9], F1 of LCS precision/recall).
 */

/** 1 when the answer equals the reference after trimming surrounding whitespace. */
export function exactMatch(prediction: string, reference: string): number {
  return prediction.trim() === reference.trim() ? 1 : 0;
}

/**
 * SQuAD normalisation: lowercase, drop punctuation, drop the articles a/an/the, collapse
 * whitespace. Unicode-aware: punctuation is any \p{P} or \p{S} character. One difference from
 * the SQuAD script: punctuation becomes a space instead of vanishing, so "green-beans" and
 * "green beans" agree (SQuAD would compare "greenbeans").
 */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\p{P}\p{S}]/gu, " ")
    .replace(/\b(a|an|the)\b/gu, " ")
    .split(/\s+/u)
    .filter((token) => token.length > 0)
    .join(" ");
}

/** 1 when the normalised answer equals the normalised reference. */
export function normalizedMatch(prediction: string, reference: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(reference) ? 1 : 0;
}

function normalizedTokens(text: string): string[] {
  const normalized = normalizeAnswer(text);
  return normalized.length === 0 ? [] : normalized.split(" ");
}

/** F1 of two token multisets; two empty lists score 1 (both say nothing), one empty scores 0. */
export function multisetF1(predicted: readonly string[], reference: readonly string[]): number {
  if (predicted.length === 0 && reference.length === 0) return 1;
  if (predicted.length === 0 || reference.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const token of reference) counts.set(token, (counts.get(token) ?? 0) + 1);
  let common = 0;
  for (const token of predicted) {
    const left = counts.get(token) ?? 0;
    if (left > 0) {
      common += 1;
      counts.set(token, left - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / predicted.length;
  const recall = common / reference.length;
  return (2 * precision * recall) / (precision + recall);
}

/** SQuAD token F1 over normalised tokens (bag of words with multiplicity). */
export function tokenF1(prediction: string, reference: string): number {
  return multisetF1(normalizedTokens(prediction), normalizedTokens(reference));
}

/** Length of the longest common subsequence (O(n*m) time, O(m) memory). */
export function longestCommonSubsequence<T>(left: readonly T[], right: readonly T[], equal: (a: T, b: T) => boolean = Object.is): number {
  if (left.length === 0 || right.length === 0) return 0;
  let previous = new Array<number>(right.length + 1).fill(0);
  let current = new Array<number>(right.length + 1).fill(0);
  for (let i = 1; i <= left.length; i++) {
    for (let j = 1; j <= right.length; j++) {
      current[j] = equal(left[i - 1] as T, right[j - 1] as T) ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    }
    [previous, current] = [current, previous];
  }
  return previous[right.length]!;
}

/** F1 of LCS precision (lcs / |predicted|) and recall (lcs / |reference|); order counts. */
export function sequenceF1<T>(predicted: readonly T[], reference: readonly T[], equal?: (a: T, b: T) => boolean): number {
  if (predicted.length === 0 && reference.length === 0) return 1;
  const lcs = longestCommonSubsequence(predicted, reference, equal);
  if (lcs === 0) return 0;
  const precision = lcs / predicted.length;
  const recall = lcs / reference.length;
  return (2 * precision * recall) / (precision + recall);
}

/** rouge-score's default tokenizer: lowercase, every run of [a-z0-9] is a token. */
export function rougeTokens(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

/** ROUGE-L F-measure (beta = 1) over rouge-score tokens. */
export function rougeL(prediction: string, reference: string): number {
  const predicted = rougeTokens(prediction);
  const expected = rougeTokens(reference);
  if (predicted.length === 0 || expected.length === 0) return predicted.length === expected.length ? 1 : 0;
  return sequenceF1(predicted, expected);
}
