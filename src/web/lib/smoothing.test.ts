import { describe, expect, it } from "vitest";
import { smooth } from "./smoothing.js";

describe("smooth", () => {
  it("is the raw line at weight 0", () => {
    expect(smooth([3, 1, null, 2], 0)).toEqual([3, 1, null, 2]);
  });

  it("is TensorBoard's debiased EMA: the first point is the first value, not pulled toward 0", () => {
    const out = smooth([10, 0, 10], 0.5);
    expect(out[0]).toBeCloseTo(10);
    // (0.5 * 10 * 0.5 + 0.5 * 0) / (1 - 0.25) = 2.5 / 0.75
    expect(out[1]).toBeCloseTo(2.5 / 0.75);
    expect(out[2]).toBeCloseTo((0.5 * 2.5 + 0.5 * 10) / (1 - 0.125));
  });

  it("keeps gaps as gaps without resetting the average", () => {
    const out = smooth([4, null, Number.NaN, 4], 0.9);
    expect(out[1]).toBeNull();
    expect(out[2]).toBeNull();
    expect(out[3]).toBeCloseTo(4);
  });

  it("smooths a noisy constant toward the constant", () => {
    const noisy = Array.from({ length: 2000 }, (_, index) => 1 + (index % 2 === 0 ? 0.5 : -0.5));
    const out = smooth(noisy, 0.95);
    expect(Math.abs((out.at(-1) as number) - 1)).toBeLessThan(0.05);
  });
});
