import { describe, expect, it } from "vitest";
import { parityVerdict } from "./parity.js";

const interval = (mean: number, low: number, high: number, n = 100) => ({ mean, low, high, level: 0.95, n });

describe("parityVerdict", () => {
  it("is equivalent within the tolerance, whatever the interval", () => {
    expect(parityVerdict(interval(0.01, -0.03, 0.05), 0.02, "token-f1")).toMatchObject({ verdict: "equivalent" });
    expect(parityVerdict(interval(-0.02, -0.05, 0.01), 0.02, "token-f1").conclusion).toMatch(/^equivalent: -0\.020 token-f1, within the tolerance of 0\.02/);
  });

  it("is better only past the tolerance with the interval above 0", () => {
    expect(parityVerdict(interval(0.08, 0.03, 0.12), 0.02, "token-f1")).toMatchObject({ verdict: "better", conclusion: expect.stringMatching(/^better, by 0\.080 token-f1/) });
    expect(parityVerdict(interval(0.08, -0.01, 0.17), 0.02, "token-f1")).toMatchObject({ verdict: "equivalent" });
  });

  it("is worse past the tolerance, and says when the interval still reaches 0", () => {
    const firm = parityVerdict(interval(-0.1, -0.15, -0.05), 0.02, "rouge-l");
    expect(firm).toMatchObject({ verdict: "worse" });
    expect(firm.conclusion).toMatch(/^worse, by 0\.100 rouge-l \(95% interval -0\.150 to -0\.050, 100 paired examples\)$/);
    expect(parityVerdict(interval(-0.1, -0.3, 0.05, 8), 0.02, "rouge-l").conclusion).toContain("the interval reaches 0");
  });
});
