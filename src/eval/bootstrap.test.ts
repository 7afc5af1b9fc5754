import { describe, expect, it } from "vitest";
import { bootstrapMean, quantile } from "./bootstrap.js";
import { sampleIndices, seededRandom } from "./seeded-random.js";

describe("bootstrap confidence intervals", () => {
  const scores = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1];

  it("is deterministic for a seed and changes with the seed", () => {
    const first = bootstrapMean(scores, { samples: 2000, level: 0.95, seed: 7 });
    const again = bootstrapMean(scores, { samples: 2000, level: 0.95, seed: 7 });
    expect(again).toEqual(first);
    expect(first.mean).toBeCloseTo(0.7, 12);
    // continuous scores: resample means rarely tie, so another seed moves the bounds
    const graded = scores.map((score, index) => score * 0.5 + index / 40);
    const seven = bootstrapMean(graded, { samples: 500, level: 0.95, seed: 7 });
    const eight = bootstrapMean(graded, { samples: 500, level: 0.95, seed: 8 });
    expect(bootstrapMean(graded, { samples: 500, level: 0.95, seed: 7 })).toEqual(seven);
    expect([eight.low, eight.high]).not.toEqual([seven.low, seven.high]);
  });

  it("brackets the mean with about the normal-approximation width", () => {
    const interval = bootstrapMean(scores, { samples: 5000, level: 0.95, seed: 1 });
    // normal approximation: 0.7 +- 1.96 * sqrt(0.7 * 0.3 / 20) = 0.7 +- 0.2008
    expect(interval.low).toBeLessThan(0.7);
    expect(interval.high).toBeGreaterThan(0.7);
    expect(interval.low).toBeGreaterThan(0.45);
    expect(interval.high).toBeLessThanOrEqual(0.9);
    expect(interval.high - interval.low).toBeGreaterThan(0.3);
    expect(interval.high - interval.low).toBeLessThan(0.5);
  });

  it("collapses for constant scores and is NaN for no scores", () => {
    expect(bootstrapMean([1, 1, 1], { samples: 100, level: 0.9, seed: 1 })).toEqual({ mean: 1, low: 1, high: 1, level: 0.9, n: 3 });
    expect(Number.isNaN(bootstrapMean([], { samples: 100, level: 0.9, seed: 1 }).mean)).toBe(true);
  });

  it("interpolates quantiles linearly", () => {
    expect(quantile([0, 10, 20, 30], 0.5)).toBe(15);
    expect(quantile([0, 10, 20, 30], 0.025)).toBeCloseTo(0.75, 12);
  });
});

describe("seeded sampling", () => {
  it("mulberry32 repeats for a seed, differs between seeds and stays in [0, 1)", () => {
    const random = seededRandom(42);
    const first = Array.from({ length: 1000 }, () => random());
    const again = seededRandom(42);
    expect(Array.from({ length: 1000 }, () => again())).toEqual(first);
    const other = seededRandom(43);
    expect(other()).not.toBe(first[0]);
    for (const value of first) expect(value >= 0 && value < 1).toBe(true);
    const mean = first.reduce((sum, value) => sum + value, 0) / first.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.05);
  });

  it("draws k distinct indices and skips the excluded one", () => {
    const picked = sampleIndices(10, 5, seededRandom(3), 4);
    expect(new Set(picked).size).toBe(5);
    expect(picked).not.toContain(4);
    expect(sampleIndices(3, 10, seededRandom(3))).toHaveLength(3);
  });
});
