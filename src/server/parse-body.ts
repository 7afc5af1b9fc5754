import { z } from "zod";
import { TunekitError } from "../core/errors.js";
import { invalidRequest } from "../core/request-problems.js";

/** Validate a request body (or query) with its zod schema; every problem is reported, `field` names the first. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown, fix: string): z.output<T> {
  const parsed = schema.safeParse(body ?? {});
  if (parsed.success) return parsed.data;
  throw invalidRequest(parsed.error, fix);
}

/** A query parameter that must be a whole number, or its default. */
export function integerParameter(value: unknown, name: string, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed))
    throw new TunekitError(`\`${name}\` must be a whole number, got \`${String(value)}\``, {
      kind: "usage",
      code: "invalid_request",
      field: name,
      fix: `pass e.g. \`${name}=${fallback}\``,
    });
  return parsed;
}
