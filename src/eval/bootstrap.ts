import { seededRandom } from "./seeded-random.js";

export interface ConfidenceInterval {
  mean: number;
  low: number;
  high: number;
  /** confidence level, e.g. 0.95 */
  level: number;
  /** examples the mean is over */
  n: number;
}

/** The q-quantile of sorted values with linear interpolation (numpy's default "linear" method). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  const weight = position - below;
  return sorted[below]! * (1 - weight) + sorted[above]! * weight;
}

/**
 * Percentile bootstrap interval of the mean: draw `samples` resamples of the scores with
 * replacement (mulberry32 seeded with `seed`), take each resample's mean, and report the
 * (1 - level) / 2 and (1 + level) / 2 quantiles of those means. Deterministic for a seed.
 */
export function bootstrapMean(scores: readonly number[], options: { samples: number; level: number; seed: number }): ConfidenceInterval {
  const n = scores.length;
  if (n === 0) return { mean: Number.NaN, low: Number.NaN, high: Number.NaN, level: options.level, n };
  const mean = scores.reduce((sum, value) => sum + value, 0) / n;
  const random = seededRandom(options.seed);
  const means = new Array<number>(options.samples);
  for (let sample = 0; sample < options.samples; sample++) {
    let sum = 0;
    for (let draw = 0; draw < n; draw++) sum += scores[Math.floor(random() * n)]!;
    means[sample] = sum / n;
  }
  means.sort((left, right) => left - right);
  return {
    mean,
    low: quantile(means, (1 - options.level) / 2),
    high: quantile(means, (1 + options.level) / 2),
    level: options.level,
    n,
  };
}
