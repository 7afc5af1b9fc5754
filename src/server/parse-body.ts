import { z } from "zod";
import { TunekitError, type ProblemDetail } from "../core/errors.js";

/** Validate a request body (or query) with its zod schema; every problem is reported, `field` names the first. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, fix: string): z.output<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  const problems: ProblemDetail[] = parsed.error.issues.map((issue) => {
    const keys = (issue as { keys?: string[] }).keys;
    const field = [...issue.path.map(String), ...(issue.code === "unrecognized_keys" && keys?.[0] ? [keys[0]] : [])].join(".") || "body";
    return { code: issue.code, field, message: issue.code === "unrecognized_keys" ? `unknown parameter \`${field}\`` : `\`${field}\`: ${issue.message}` };
  });
  const first = problems[0] as ProblemDetail;
  throw new TunekitError(problems.length === 1 ? first.message : `${problems.length} problems in the request: ${problems.map((problem) => problem.message).join("; ")}`, {
    kind: "usage",
    code: "invalid_request",
    field: first.field,
    problems,
    fix,
  });
}

/** A query parameter that must be a whole number, or its default. */
export function integerParameter(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed)) throw new TunekitError(`\`${name}\` must be a whole number, got \`${String(value)}\``, { kind: "usage", code: "invalid_request", field: name, fix: `pass e.g. \`${name}=${fallback}\`` });
  return parsed;
}
