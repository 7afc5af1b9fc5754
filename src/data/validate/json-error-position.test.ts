import { describe, expect, it } from "vitest";
import { findJsonSyntaxError } from "./json-error-position.js";

describe("findJsonSyntaxError", () => {
  it.each([
    ['{"a": 1,}', 8, "key in double quotes"],
    ['{"a": [1, 2}', 11, "`,` or `]`"],
    ["{'a': 1}", 1, "key in double quotes"],
    ['{"a": tru}', 9, "unexpected"],
    ['{"a": 1} {"b": 2}', 9, "after the JSON value"],
    ['{"a": "x', 8, "string not closed"],
    ['{"a": "\\q"}', 7, "bad escape"],
    ['{"a" 1}', 5, "`:`"],
    ["", 0, "ends too early"],
    ['\ufeff{"a": 1}', 0, "unexpected U+FEFF"],
  ])("%s fails at offset %i", (text, offset, reason) => {
    const error = findJsonSyntaxError(text);
    expect(error?.offset).toBe(offset);
    expect(error?.reason).toContain(reason);
    expect(() => JSON.parse(text)).toThrow();
  });

  it("accepts what JSON.parse accepts", () => {
    for (const text of ['{"a": [1, -2.5e3, true, false, null, "\\u00e9\\n"]}', "  []  ", '"x"', "0"]) {
      expect(() => JSON.parse(text)).not.toThrow();
      expect(findJsonSyntaxError(text)).toBeNull();
    }
  });
});
