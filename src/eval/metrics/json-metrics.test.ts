import { describe, expect, it } from "vitest";
import { arrayF1, jsonFields, jsonValid, parseJsonAnswer } from "./json-metrics.js";

describe("JSON validity", () => {
  it("accepts plain JSON and one surrounding code fence, nothing else", () => {
    expect(jsonValid('["salt", "pepper"]')).toBe(1);
    expect(jsonValid('```json\n{"a": 1}\n```')).toBe(1);
    expect(jsonValid("Here it is: [1]")).toBe(0);
    expect(jsonValid("['salt']")).toBe(0);
    expect(parseJsonAnswer(' {"a":[1,2]} ')).toEqual({ ok: true, value: { a: [1, 2] } });
  });
});

describe("array F1 (hand-computed)", () => {
  it("set F1 ignores order and counts duplicates once per occurrence", () => {
    // answer [salt, pepper, flour], reference [pepper, salt, sugar, eggs]: common 2, P 2/3, R 2/4
    // F1 = 2 * (2/3) * (1/2) / (2/3 + 1/2) = (2/3) / (7/6) = 4/7
    expect(arrayF1(["salt", "pepper", "flour"], ["pepper", "salt", "sugar", "eggs"], "set")).toBeCloseTo(4 / 7, 10);
    expect(arrayF1(["Salt "], ["salt"], "set")).toBe(1);
    expect(arrayF1([], [], "set")).toBe(1);
    expect(arrayF1(["a", "a"], ["a"], "set")).toBeCloseTo(2 / 3, 10); // P 1/2, R 1
  });

  it("sequence F1 counts order through the longest common subsequence", () => {
    // [b, a, c] vs [a, b, c]: LCS 2 (a c or b c), P = R = 2/3
    expect(arrayF1(["b", "a", "c"], ["a", "b", "c"], "sequence")).toBeCloseTo(2 / 3, 10);
    expect(arrayF1(["b", "a", "c"], ["a", "b", "c"], "set")).toBe(1);
  });
});

describe("per-field accuracy", () => {
  it("averages fields of the reference, recursing into objects and arrays", () => {
    const reference = JSON.stringify({ name: "Ada", age: 36, tags: ["x", "y"], address: { city: "London", zip: "N1" } });
    // name 1, age 0 (36 vs "36"), tags set F1 of [x] vs [x, y] = 2/3, address: (1 + 0) / 2 = 0.5
    const answer = JSON.stringify({ name: "Ada", age: "36", tags: ["x"], address: { city: "London" }, extra: true });
    expect(jsonFields(answer, reference, "set")).toBeCloseTo((1 + 0 + 2 / 3 + 0.5) / 4, 10);
    expect(jsonFields("not json", reference, "set")).toBe(0);
    expect(jsonFields("[1]", "plain text reference", "set")).toBeNull();
    expect(jsonFields('["salt","pepper"]', '["salt","pepper"]', "sequence")).toBe(1);
  });
});
