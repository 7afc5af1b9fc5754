import { z } from "zod";
import { errorEnvelopeSchema } from "../spec/openai-wire.js";

/**
 * zod writes a nullable union as `{ nullable: true, anyOf: [...] }`; OpenAPI 3.0.3 gives `nullable`
 * meaning only beside `type`, so the flag moves into each branch (`"auto" | integer | null`).
 */
function nullableIntoBranches(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableIntoBranches);
  if (!node || typeof node !== "object") return node;
  const entries = Object.entries(node as Record<string, unknown>).map(([key, value]) => [key, nullableIntoBranches(value)] as const);
  const schema = Object.fromEntries(entries) as Record<string, unknown>;
  if (schema.nullable === true && schema.type === undefined && Array.isArray(schema.anyOf)) {
    delete schema.nullable;
    schema.anyOf = (schema.anyOf as Array<Record<string, unknown>>).map((branch) => ({ ...branch, nullable: true }));
  }
  return schema;
}

const openApi = (schema: z.ZodType) => nullableIntoBranches(z.toJSONSchema(schema, { target: "openapi-3.0" })) as Record<string, unknown>;
const errorResponse = { description: "error envelope (`error.message`, `type`, `param`, `code`)", ...openApi(errorEnvelopeSchema) };

/**
 * Route `response` schemas for the OpenAPI document, from the zod wire schemas: the 2xx answer and the
 * error envelope for 4xx and 5xx. The server serializes with JSON.stringify (build-server sets the
 * serializer), so these document the answers without filtering them.
 */
export function responses(schema: z.ZodType, description: string, status = 200): Record<string, unknown> {
  return { [status]: { description, ...openApi(schema) }, ...errorResponses() };
}

/** The error envelope for 4xx and 5xx, for a route whose success is not JSON (a log, a stream). */
export function errorResponses(): Record<string, unknown> {
  return { "4xx": errorResponse, "5xx": errorResponse };
}
