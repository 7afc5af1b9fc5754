import { multisetF1, sequenceF1 } from "./text-metrics.js";

/**
 * JSON metrics. An answer is read as JSON after trimming it and, when the whole answer is one
 * Markdown code fence (```json ... ```), taking the fence's body: chat models often wrap JSON so.
 */

export type ArrayMatch = "set" | "sequence";

export type JsonParse = { ok: true; value: unknown } | { ok: false };

export function parseJsonAnswer(text: string): JsonParse {
  let body = text.trim();
  const fenced = /^```[a-zA-Z0-9_-]*\s*\n([\s\S]*?)\n?```$/u.exec(body);
  if (fenced) body = (fenced[1] ?? "").trim();
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    return { ok: false };
  }
}

/** 1 when the answer parses as JSON. */
export function jsonValid(prediction: string): number {
  return parseJsonAnswer(prediction).ok ? 1 : 0;
}

/** Canonical JSON text: object keys sorted, so equal values give equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return `{${entries.map(([key, inner]) => `${JSON.stringify(key)}:${canonicalJson(inner)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Array F1. Elements are compared by canonical JSON (strings after trimming and lowercasing).
 *  - `set`: multiset F1, order ignored: common = sum over values of min(count in answer, count in
 *    reference); P = common / |answer|, R = common / |reference|, F1 = 2PR / (P + R).
 *  - `sequence`: the same with common = the longest common subsequence, so order counts.
 * Two empty arrays score 1.
 */
export function arrayF1(predicted: readonly unknown[], reference: readonly unknown[], match: ArrayMatch): number {
  const key = (value: unknown) => (typeof value === "string" ? JSON.stringify(value.trim().toLowerCase()) : canonicalJson(value));
  const left = predicted.map(key);
  const right = reference.map(key);
  return match === "set" ? multisetF1(left, right) : sequenceF1(left, right);
}

/**
 * Score of one JSON value against a reference value, in [0, 1]:
 *  - objects: the mean over the reference's keys of each field's score (a missing key scores 0;
 *    keys only in the answer are ignored); nested objects recurse, so every leaf counts in its
 *    parent's share;
 *  - arrays: `arrayF1`;
 *  - scalars: 1 when equal (strings compared exactly), else 0.
 */
export function jsonValueScore(predicted: unknown, reference: unknown, match: ArrayMatch): number {
  if (isPlainObject(reference)) {
    const keys = Object.keys(reference);
    if (keys.length === 0) return isPlainObject(predicted) ? 1 : 0;
    if (!isPlainObject(predicted)) return 0;
    let sum = 0;
    for (const key of keys) sum += key in predicted ? jsonValueScore(predicted[key], reference[key], match) : 0;
    return sum / keys.length;
  }
  if (Array.isArray(reference)) return Array.isArray(predicted) ? arrayF1(predicted, reference, match) : 0;
  return canonicalJson(predicted) === canonicalJson(reference) ? 1 : 0;
}

/**
 * Per-field accuracy of a JSON answer against a JSON reference (see `jsonValueScore`); 0 when the
 * answer is not JSON. Null when the reference itself is not JSON (the metric does not apply).
 */
export function jsonFields(prediction: string, reference: string, match: ArrayMatch): number | null {
  const expected = parseJsonAnswer(reference);
  if (!expected.ok) return null;
  const answer = parseJsonAnswer(prediction);
  if (!answer.ok) return 0;
  return jsonValueScore(answer.value, expected.value, match);
}
