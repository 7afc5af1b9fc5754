import { describe, expect, it } from "vitest";
import { quantile, summarize } from "./distribution.js";
import { histogramBins, renderHistogram } from "./histogram.js";

describe("summarize", () => {
  it("gives min, max, mean, median and numpy-style p10/p90", () => {
    // sorted 1..10: median between 5 and 6; p10 at rank 0.9 -> 1.9; p90 at rank 8.1 -> 9.1
    expect(summarize([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])).toEqual({ min: 1, max: 10, mean: 5.5, median: 5.5, p10: 1.9, p90: expect.closeTo(9.1, 12) });
    expect(summarize([7])).toEqual({ min: 7, max: 7, mean: 7, median: 7, p10: 7, p90: 7 });
    expect(summarize([])).toBeNull();
  });

  it("sorts numerically, not as strings", () => {
    expect(summarize([100, 9, 20])).toMatchObject({ min: 9, max: 100, median: 20 });
    expect(quantile([1, 3], 0.5)).toBe(2);
  });
});

describe("histogram", () => {
  it("puts every value in one equal-width bin and draws proportional bars", () => {
    const bins = histogramBins([0, 1, 2, 3, 9], 2);
    expect(bins).toEqual([
      { from: 0, to: 5, count: 4 },
      { from: 5, to: 10, count: 1 },
    ]);
    expect(renderHistogram(bins, 8).split("\n")).toEqual(["0 - 4 | ######## 4", "5 - 9 | ## 1"]);
    expect(histogramBins([5, 5, 5], 10)).toEqual([{ from: 5, to: 6, count: 3 }]);
    expect(renderHistogram([])).toBe("(no examples)");
  });
});
