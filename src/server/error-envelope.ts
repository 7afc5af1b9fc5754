import { isTunekitError, type ErrorKind } from "../core/errors.js";
import type { ErrorEnvelope } from "../spec/openai-wire.js";

/** The one table from an error's kind to its HTTP status. */
export const STATUS_BY_KIND: Record<ErrorKind, number> = {
  usage: 400,
  config: 400,
  data: 400,
  not_found: 404,
  conflict: 409,
  unauthorized: 401,
  // OpenAI answers a delete of a model you do not own with a permission error
  forbidden: 403,
  too_large: 413,
  rate_limited: 429,
  environment: 500,
  worker: 500,
  internal: 500,
};

export interface HttpErrorAnswer {
  status: number;
  body: ErrorEnvelope;
}

/** The OpenAI error envelope and status for anything a route threw. */
export function toErrorAnswer(error: unknown): HttpErrorAnswer {
  if (isTunekitError(error)) {
    const status = STATUS_BY_KIND[error.kind];
    const message = error.fix ? `${error.message}; fix: ${error.fix}` : error.message;
    return { status, body: envelope(status, message, error.field ?? null, error.code) };
  }
  // fastify and plugin errors carry their own status (body too large, bad JSON, wrong content type)
  const fastifyError = error as { statusCode?: number; code?: string; message?: string };
  if (typeof fastifyError.statusCode === "number" && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    const status = fastifyError.statusCode;
    // a JSON body over the limit (uploads over theirs are TunekitErrors with `file_too_large`)
    if (status === 413)
      return {
        status,
        body: envelope(
          status,
          "the request body is larger than the server's 10 MiB limit for JSON bodies; fix: send less (files go through POST /v1/files)",
          "body",
          "request_too_large",
        ),
      };
    return { status, body: envelope(status, fastifyError.message ?? "bad request", null, fastifyError.code ?? null) };
  }
  return { status: 500, body: envelope(500, `internal server error: ${error instanceof Error ? error.message : String(error)}`, null, "internal_error") };
}

export function envelope(status: number, message: string, param: string | null, code: string | null): ErrorEnvelope {
  // 429 is `requests`, as OpenAI's rate limits
  return { error: { message, type: status >= 500 ? "server_error" : status === 429 ? "requests" : "invalid_request_error", param, code } };
}
