import { describe, expect, it } from "vitest";
import { exactMatch, longestCommonSubsequence, normalizeAnswer, normalizedMatch, rougeL, tokenF1 } from "./text-metrics.js";

describe("exact and normalised match", () => {
  it("exact match ignores only surrounding whitespace", () => {
    expect(exactMatch("  Paris\n", "Paris")).toBe(1);
    expect(exactMatch("paris", "Paris")).toBe(0);
  });

  it("normalises case, punctuation, articles and spaces the SQuAD way", () => {
    expect(normalizeAnswer("The  Eiffel-Tower!")).toBe("eiffel tower");
    expect(normalizedMatch("the Eiffel Tower.", "Eiffel tower")).toBe(1);
    expect(normalizedMatch("Eiffel", "Eiffel tower")).toBe(0);
  });
});

describe("token F1 (hand-computed)", () => {
  it("scores overlap with multiplicity", () => {
    // prediction tokens: [cat, sat, on, mat] (the removed); reference: [cat, sat, on, red, mat]
    // common = 4, precision = 4/4, recall = 4/5, F1 = 2*1*0.8/1.8 = 0.8889
    expect(tokenF1("The cat sat on the mat", "A cat sat on the red mat")).toBeCloseTo(8 / 9, 10);
    // [red, red, red] vs [red, blue]: common = 1, P = 1/3, R = 1/2, F1 = 0.4
    expect(tokenF1("red red red", "red blue")).toBeCloseTo(0.4, 10);
    expect(tokenF1("dog", "cat")).toBe(0);
    expect(tokenF1("", "")).toBe(1);
    expect(tokenF1("", "cat")).toBe(0);
  });
});

describe("ROUGE-L (hand-computed)", () => {
  it("uses the longest common subsequence", () => {
    expect(longestCommonSubsequence([..."ABCBDAB"], [..."BDCABA"])).toBe(4);
    // ref: police killed the gunman (4); pred: police kill the gunman (4); LCS = police the gunman = 3
    // P = R = 3/4, F = 0.75 (the example of Lin 2004)
    expect(rougeL("police kill the gunman", "police killed the gunman")).toBeCloseTo(0.75, 10);
    // pred: the gunman kill police (4); LCS with the reference = "the gunman" = 2, F = 0.5
    expect(rougeL("the gunman kill police", "police killed the gunman")).toBeCloseTo(0.5, 10);
    // different lengths: pred 3 tokens, ref 5 tokens, LCS 3: P = 1, R = 0.6, F = 0.75
    expect(rougeL("a c e", "a b c d e")).toBeCloseTo(0.75, 10);
    expect(rougeL("Same words, same ORDER", "same words same order")).toBe(1);
    expect(rougeL("x", "y")).toBe(0);
  });
});
