import { describe, expect, it } from "vitest";
import { TunekitError } from "../../core/errors.js";
import { mappedColumns, parseColumnMapping } from "./column-mapping.js";

describe("parseColumnMapping", () => {
  it("returns null without --map (default column names apply)", () => {
    expect(parseColumnMapping([])).toBeNull();
  });

  it("maps columns to fields, resolving the prompt/completion aliases and keeping --map order", () => {
    const mapping = parseColumnMapping(["title=prompt", "body=user", "answer=completion", "persona=system"]);
    expect(mapping).toEqual({ system: ["persona"], user: ["title", "body"], assistant: ["answer"] });
    expect(mappedColumns(mapping!)).toEqual(["persona", "title", "body", "answer"]);
  });

  it("accepts column names holding `=` (the field is after the last one)", () => {
    expect(parseColumnMapping(["a=b=user", "c=assistant"])?.user).toEqual(["a=b"]);
  });

  it("reports every malformed entry at once as a usage error (exit 2)", () => {
    let error: unknown;
    try {
      parseColumnMapping(["question", "answer=bot", "x=user", "x=assistant"]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(TunekitError);
    const tunekitError = error as TunekitError;
    expect(tunekitError.exitCode).toBe(2);
    expect(tunekitError.problems.map((problem) => problem.code)).toEqual(["invalid_map", "unknown_field", "duplicate_column"]);
    expect(tunekitError.problems[1]?.message).toContain("`bot`");
  });

  it("requires a column for both the user and the assistant message", () => {
    expect(() => parseColumnMapping(["question=user"])).toThrow(/no column is mapped to `assistant`/);
  });
});
