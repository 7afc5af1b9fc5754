import { TunekitError } from "../../core/errors.js";

/** Compile `eval.regex` once, naming the field when the pattern is not valid JavaScript syntax. */
export function compileAnswerPattern(pattern: string | null): RegExp {
  if (pattern === null || pattern.length === 0) {
    throw new TunekitError("The `regex` metric needs a pattern in `eval.regex`", {
      kind: "config",
      code: "missing_regex",
      field: "eval.regex",
      fix: "Set `eval.regex` to the pattern a good answer matches (e.g. '^\\[.*\\]$'), or drop `regex` from `eval.metrics`.",
    });
  }
  try {
    return new RegExp(pattern, "u");
  } catch (error) {
    throw new TunekitError(`\`eval.regex\` is not a valid regular expression: ${error instanceof Error ? error.message : String(error)}`, {
      kind: "config",
      code: "invalid_regex",
      field: "eval.regex",
      fix: "Write the pattern in JavaScript RegExp syntax (the `u` flag is on).",
      cause: error,
    });
  }
}

/** 1 when the trimmed answer contains a match of the pattern (anchor it with ^...$ for a full match). */
export function regexMatch(prediction: string, pattern: RegExp): number {
  return pattern.test(prediction.trim()) ? 1 : 0;
}
