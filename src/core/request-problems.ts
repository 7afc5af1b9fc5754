import type { z } from "zod";
import { TunekitError, type ProblemDetail } from "./errors.js";

/**
 * An API request that its zod schema refused, as one TunekitError: every problem is listed, each
 * naming its parameter (`method.supervised.hyperparameters.n_epochs`, or the unknown one), and
 * `field` is the first.
 */
export function invalidRequest(error: z.ZodError, fix: string): TunekitError {
  const problems: ProblemDetail[] = error.issues.map((issue) => {
    const field = issue.path.map(String).join(".") || "body";
    const keys = (issue as { keys?: string[] }).keys;
    const named = (key: string) => (field === "body" ? key : `${field}.${key}`);
    if (issue.code === "unrecognized_keys" && keys?.[0]) {
      return { code: issue.code, message: `unknown parameter${keys.length > 1 ? "s" : ""} ${keys.map((key) => `\`${named(key)}\``).join(", ")}`, field: named(keys[0]) };
    }
    return { code: issue.code, message: `\`${field}\`: ${issue.message}`, field };
  });
  const first = problems[0] as ProblemDetail;
  return new TunekitError(problems.length === 1 ? first.message : `${problems.length} problems in the request: ${problems.map((problem) => problem.message).join("; ")}`, {
    kind: "usage",
    code: "invalid_request",
    field: first.field,
    problems,
    fix,
  });
}
