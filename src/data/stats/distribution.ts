/** Summary of a list of numbers, the numbers the OpenAI cookbook prints (p10/p90 as numpy's quantile). */
export interface Distribution {
  min: number;
  max: number;
  mean: number;
  median: number;
  p10: number;
  p90: number;
}

/** Quantile with linear interpolation between closest ranks (numpy's default). `sorted` must be ascending. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  const lower = sorted[below]!;
  return lower + (position - below) * (sorted[above]! - lower);
}

/** min / max / mean / median / p10 / p90; null for an empty list. */
export function summarize(values: readonly number[]): Distribution | null {
  if (values.length === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
    mean: sum / sorted.length,
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
  };
}
