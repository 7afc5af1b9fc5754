import { describe, expect, it } from "vitest";
import { billedTokens, billedTokensPerEpoch, trainingCost } from "./billed-tokens.js";
import { parseEpochsOption, resolveEpochs } from "./resolve-epochs.js";

describe("resolveEpochs (cookbook rule for auto)", () => {
  it("raises epochs for small datasets so examples x epochs reaches 100, at most 25", () => {
    expect(resolveEpochs(1)).toBe(25); // 100 // 1 = 100 -> capped at 25
    expect(resolveEpochs(4)).toBe(25); // 100 // 4 = 25
    expect(resolveEpochs(5)).toBe(20);
    expect(resolveEpochs(10)).toBe(10);
    expect(resolveEpochs(33)).toBe(3); // 99 < 100 -> 100 // 33 = 3
    expect(resolveEpochs(30)).toBe(3); // 90 < 100 -> 100 // 30 = 3
    expect(resolveEpochs(20)).toBe(5);
  });

  it("keeps 3 epochs in the middle and lowers them for large datasets, at least 1", () => {
    expect(resolveEpochs(34)).toBe(3);
    expect(resolveEpochs(8333)).toBe(3); // 24999 <= 25000
    expect(resolveEpochs(8334)).toBe(2); // 25002 > 25000 -> 25000 // 8334 = 2
    expect(resolveEpochs(12500)).toBe(2);
    expect(resolveEpochs(12501)).toBe(1);
    expect(resolveEpochs(1_000_000)).toBe(1);
  });

  it("uses a requested number as is and rejects nonsense", () => {
    expect(resolveEpochs(5, 7)).toBe(7);
    expect(() => resolveEpochs(5, 0)).toThrow(/training.epochs/);
    expect(() => resolveEpochs(0, "auto")).toThrow(/no usable examples/);
    expect(parseEpochsOption("auto")).toBe("auto");
    expect(parseEpochsOption("4")).toBe(4);
    expect(() => parseEpochsOption("2.5")).toThrow(/--epochs/);
  });
});

describe("billed tokens", () => {
  it("caps each example at the max training context and multiplies by epochs", () => {
    const tokens = [10, 70_000, 65_536, 100];
    expect(billedTokensPerEpoch(tokens, 65_536)).toBe(10 + 65_536 + 65_536 + 100);
    expect(billedTokens(tokens, 65_536, 3)).toBe(3 * 131_182);
    expect(billedTokensPerEpoch(tokens, null)).toBe(135_646);
    expect(trainingCost(2_000_000, 3)).toBe(6);
  });
});
