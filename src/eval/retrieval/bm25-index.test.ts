import { describe, expect, it } from "vitest";
import { Bm25Index, bm25Tokens } from "./bm25-index.js";

const corpus = [
  "the cat sat on the mat", // 0
  "dogs chase cats in the park", // 1
  "a recipe for apple pie with cinnamon", // 2
  "apple apple apple orchard harvest", // 3
  "the mat was red", // 4
];

describe("BM25", () => {
  it("tokenises lowercase letters and digits in any script", () => {
    expect(bm25Tokens("Crème brûlée, 2 cups!")).toEqual(["crème", "brûlée", "2", "cups"]);
  });

  it("matches hand-computed scores (k1 = 1.2, b = 0.75)", () => {
    const index = new Bm25Index(corpus);
    // N = 5, "mat" is in documents 0 and 4: idf = ln(1 + (5 - 2 + 0.5) / (2 + 0.5)) = ln(2.4)
    expect(index.idf("mat")).toBeCloseTo(Math.log(2.4), 12);
    // lengths 6, 6, 7, 5, 4 -> avgdl = 28 / 5 = 5.6; document 4: tf 1, |d| = 4
    const expected = (Math.log(2.4) * 1 * 2.2) / (1 + 1.2 * (1 - 0.75 + (0.75 * 4) / 5.6));
    expect(index.score("mat", 4)).toBeCloseTo(expected, 12);
    expect(index.score("unknown words", 0)).toBe(0);
  });

  it("ranks a small known corpus", () => {
    const index = new Bm25Index(corpus);
    // document 4 is shorter than document 0, so "mat" ranks it first
    expect(index.search("mat", 2).map((hit) => hit.index)).toEqual([4, 0]);
    // term frequency saturates but still wins: the orchard (3 x apple) beats the pie (1 x apple)
    expect(index.search("apple", 2).map((hit) => hit.index)).toEqual([3, 2]);
    expect(index.search("apple pie cinnamon", 1)[0]?.index).toBe(2);
    expect(index.search("mat", 5, 4).map((hit) => hit.index)).toEqual([0, 1, 2, 3]);
  });
});
