import { describe, expect, it } from "vitest";
import { HashIndex } from "./hash-index.js";
import { MINHASH_SIZE, NEAR_DUPLICATE_THRESHOLD, NearDuplicateIndex, minHashSignature } from "./near-duplicates.js";

function signature(text: string): Uint32Array {
  const target = new Uint32Array(MINHASH_SIZE);
  expect(minHashSignature(text, target)).toBe(true);
  return target;
}

const words = "the quick brown fox jumps over the lazy dog while the farmer sleeps under an old oak tree near the river bank and dreams of rain".split(" ");

describe("near duplicates", () => {
  it("ignores case, punctuation and spacing, and is deterministic", () => {
    expect(signature("Hello, World! How are you?")).toEqual(signature("hello world   how are YOU"));
    expect(minHashSignature("  ,.;  ", new Uint32Array(MINHASH_SIZE))).toBe(false);
  });

  it("finds a text with one word changed and not unrelated texts", () => {
    const index = new NearDuplicateIndex(100);
    // 56 words, 54 shingles: changing one word changes 3, Jaccard 51/57 = 0.89
    const long = [...words, ...words.map((word) => `${word}s`)];
    const base = long.join(" ");
    expect(index.checkAndAdd(signature(base), 0, 1)).toBeNull();
    expect(index.checkAndAdd(signature("a completely different sentence about trains, tickets and timetables in winter"), 0, 2)).toBeNull();
    const edited = [...long];
    edited[10] = "cat";
    const match = index.checkAndAdd(signature(edited.join(" ")), 0, 3);
    expect(match?.line).toBe(1);
    expect(match?.similarity).toBeGreaterThanOrEqual(NEAR_DUPLICATE_THRESHOLD);
  });

  it("does not match texts that share less than half their shingles", () => {
    let falseMatches = 0;
    const index = new NearDuplicateIndex(1000);
    for (let example = 0; example < 300; example++) {
      // each text: 30 words, the first 10 shared by all (a common system prompt), the rest its own
      const text = [...words.slice(0, 10), ...Array.from({ length: 20 }, (_, word) => `w${example}x${word}`)].join(" ");
      if (index.checkAndAdd(signature(text), 0, example + 1) !== null) falseMatches++;
    }
    expect(falseMatches).toBe(0);
  });

  it("stops indexing at its bound and says so, still answering for indexed examples", () => {
    const index = new NearDuplicateIndex(2);
    index.checkAndAdd(signature("first text about apples and pears in the garden"), 0, 1);
    index.checkAndAdd(signature("second text about boats and sails on the lake"), 0, 2);
    expect(index.full).toBe(false);
    expect(index.checkAndAdd(signature("third text about trains and stations in the city"), 0, 3)).toBeNull();
    expect(index.full).toBe(true);
    expect(index.checkAndAdd(signature("first text about apples and pears in the garden!"), 0, 4)?.line).toBe(1);
    expect(index.checkAndAdd(signature("third text about trains and stations in the city"), 0, 5)).toBeNull();
  });
});

describe("HashIndex", () => {
  it("keeps the first value per key, grows, and stops storing at its bound", () => {
    const index = new HashIndex(5000, 16);
    for (let value = 0; value < 5000; value++) expect(index.getOrSet({ high: value * 7, low: value ^ 0x5555 }, value)).toBe(-1);
    expect(index.size).toBe(5000);
    for (let value = 0; value < 5000; value += 97) expect(index.getOrSet({ high: value * 7, low: value ^ 0x5555 }, 1)).toBe(value);
    expect(index.getOrSet({ high: 1, low: 1 }, 1)).toBe(-1);
    expect(index.full).toBe(true);
    expect(index.get({ high: 1, low: 1 })).toBe(-1);
  });
});
