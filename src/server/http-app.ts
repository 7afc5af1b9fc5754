import { randomBytes } from "node:crypto";
import { STATUS_CODES } from "node:http";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { TunekitError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { envelope, toErrorAnswer } from "./error-envelope.js";

export interface HttpAppOptions {
  logger?: boolean;
  /** rewrite a URL before routing (the main server maps Azure's `/openai/...` onto `/v1/...`) */
  rewriteUrl?: (url: string) => string;
}

/** A not-found fallback that may answer instead (the web UI's index.html); true when it did. */
export type NotFoundFallback = (request: FastifyRequest, reply: FastifyReply) => boolean;

/** which methods each /v1 route pattern answers, for 405 and its Allow header */
const routeMethodsOf = new WeakMap<FastifyInstance, Array<{ pattern: RegExp; methods: string[] }>>();

/**
 * The app setup every Tunekit HTTP server shares (`tunekit server` and `tunekit serve`): request
 * ids, JSON bodies, OpenAI's error envelope for every failure (the framework's and Node's HTTP
 * parser's included), and the serializer. Finish it with `finishHttpApp` once the routes are in.
 */
export function createHttpApp(options: HttpAppOptions = {}): FastifyInstance {
  const { rewriteUrl } = options;
  // close() ends every connection: a browser's idle or preconnected sockets would otherwise hold a
  // shutdown (or a restart on the same port) for the 72 s keep-alive timeout
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 10 << 20,
    forceCloseConnections: true,
    ...(rewriteUrl && { rewriteUrl: (request: { url?: string }) => rewriteUrl(request.url ?? "/") }),
    // OpenAI's SDKs read `x-request-id` into `_request_id` (users quote it in bug reports)
    genReqId: () => `req_${randomBytes(12).toString("hex")}`,
    // errors the framework answers before any route (a malformed URL): OpenAI's envelope too
    frameworkErrors: (error, _request, reply) => {
      const status = typeof (error as { statusCode?: number }).statusCode === "number" ? (error as { statusCode: number }).statusCode : 400;
      void (reply as unknown as FastifyReply)
        .code(status)
        .send(
          envelope(
            status,
            error.code === "FST_ERR_BAD_URL" ? "the URL is not valid: a percent-encoded part does not decode to UTF-8" : error.message,
            null,
            error.code === "FST_ERR_BAD_URL" ? "invalid_url" : (error.code ?? null),
          ),
        );
    },
    // errors Node's HTTP parser raises before Fastify sees a request (a URL and headers over the
    // 16 KiB header limit: 431, bytes that are not HTTP: 400): OpenAI's envelope instead of Fastify's own body
    clientErrorHandler: (error, socket) => {
      if (error.code === "ECONNRESET" || socket.destroyed) return;
      const [status, message, code] =
        error.code === "HPE_HEADER_OVERFLOW"
          ? [431, "the request's URL and headers are larger than the server's limit (16 KiB); fix: send long values in a JSON body", "request_header_too_large"]
          : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
            ? [408, "the request did not arrive in time", "request_timeout"]
            : [400, "the request is not valid HTTP", "invalid_http"];
      const body = JSON.stringify(envelope(status, message, null, code));
      if (socket.writable)
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
        );
      socket.destroy(error);
    },
  });
  // the official Python SDK sends `content-type: application/json` with an empty body on cancel,
  // pause, resume and delete: an empty JSON body is no body
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (error) {
      done(
        new TunekitError(`the request body is not valid JSON: ${(error as Error).message}`, {
          kind: "usage",
          code: "invalid_json",
          field: "body",
          fix: "send one JSON object, with `content-type: application/json`",
        }),
        undefined,
      );
    }
  });
  const routeMethods: Array<{ pattern: RegExp; methods: string[] }> = [];
  routeMethodsOf.set(app, routeMethods);
  app.addHook("onRoute", (route) => {
    if (!route.url.startsWith("/v1")) return;
    const pattern = new RegExp(
      `^${route.url
        .replace(/[.+?^${}()|[\]\\]/g, "\\$&")
        .replace(/\*/g, ".*")
        .replace(/:[A-Za-z_]+/g, "[^/]+")}$`,
    );
    routeMethods.push({ pattern, methods: (Array.isArray(route.method) ? route.method : [route.method]).map(String) });
  });
  // the services validate (zod, with messages naming the parameter); route schemas document the API
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  // response schemas document the answers (openapi-responses.ts); they must not filter or coerce them
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.addHook("onRequest", async (request, reply) => {
    // on the raw response, so that streamed (hijacked) answers carry it too
    reply.raw.setHeader("x-request-id", request.id);
  });
  app.setErrorHandler((error, _request, reply) => {
    const answer = toErrorAnswer(error);
    if (answer.status === 409) reply.header("x-should-retry", "false");
    if (answer.status >= 500) app.log.error(error);
    void reply.code(answer.status).send(answer.body);
  });
  return app;
}

/** The routes every server ends with: GET /health, and 405 (with Allow) or 404 in OpenAI's envelope. */
export function finishHttpApp(app: FastifyInstance, fallback: NotFoundFallback | null = null): void {
  const routeMethods = routeMethodsOf.get(app) ?? [];
  app.setNotFoundHandler((request, reply) => {
    if (fallback?.(request, reply)) return;
    const path = request.url.split("?")[0] ?? "";
    const allowed = [...new Set(routeMethods.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods))].filter((method) => method !== "HEAD");
    if (allowed.length > 0) {
      void reply
        .code(405)
        .header("allow", allowed.join(", "))
        .send(envelope(405, `${request.method} is not allowed on ${path}; it answers ${allowed.join(", ")}`, null, "method_not_allowed"));
      return;
    }
    void reply.code(404).send(envelope(404, `no route for ${request.method} ${path}`, null, "unknown_url"));
  });
  app.get("/health", { schema: { hide: true } }, async () => ({ status: "ok", version: VERSION }));
}
