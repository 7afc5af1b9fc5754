import { randomBytes } from "node:crypto";
import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import { STATUS_CODES } from "node:http";
import Fastify, { type FastifyInstance, type FastifyReply } from "fastify";
import { TunekitError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import type { Project } from "../jobs/api-key-store.js";
import { authenticate } from "./auth.js";
import { envelope, toErrorAnswer } from "./error-envelope.js";
import { projectOf, type Services } from "./route-context.js";
import { registerChatCompletionsRoutes } from "./routes/chat-completions-routes.js";
import { registerFilesRoutes } from "./routes/files-routes.js";
import { registerJobsRoutes } from "./routes/jobs-routes.js";
import { registerModelsRoutes } from "./routes/models-routes.js";
import { registerTunekitFilesRoutes } from "./routes/tunekit-files-routes.js";
import { registerTunekitHostedRoutes } from "./routes/tunekit-hosted-routes.js";
import { registerTunekitJobsRoutes } from "./routes/tunekit-jobs-routes.js";
import { registerTunekitServerRoutes } from "./routes/tunekit-server-routes.js";
import { registerWebUi } from "./web-ui.js";

export interface BuildServerOptions {
  services: Services;
  /** the project every request acts for when auth is off; null = every /v1 route needs a key */
  noAuthProject: Project | null;
  logger?: boolean;
  /** the built web UI (dist/web); absent or not built: the server answers the API only */
  webRoot?: string;
  /** the server's run-config settings that jobs get when they leave a field out (`--config`, `--set`) */
  jobDefaults?: { training: Record<string, unknown>; data: Record<string, unknown> };
}

/**
 * The HTTP layer: OpenAI-shaped routes over the services, bearer-key auth on /v1, OpenAI's error
 * envelope for every failure, and the OpenAPI document at /openapi.json.
 */
export async function buildServer(options: BuildServerOptions): Promise<FastifyInstance> {
  // close() ends every connection: a browser's idle or preconnected sockets would otherwise hold a
  // shutdown (or a restart on the same port) for the 72 s keep-alive timeout
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: 10 << 20,
    forceCloseConnections: true,
    rewriteUrl: (request) => azureToV1(request.url ?? "/"),
    // OpenAI's SDKs read `x-request-id` into `_request_id` (users quote it in bug reports)
    genReqId: () => `req_${randomBytes(12).toString("hex")}`,
    // errors the framework answers before any route (a malformed URL): OpenAI's envelope too
    frameworkErrors: (error, _request, reply) => {
      const status = typeof (error as { statusCode?: number }).statusCode === "number" ? (error as { statusCode: number }).statusCode : 400;
      void (reply as unknown as FastifyReply).code(status).send(envelope(status, error.code === "FST_ERR_BAD_URL" ? "the URL is not valid: a percent-encoded part does not decode to UTF-8" : error.message, null, error.code === "FST_ERR_BAD_URL" ? "invalid_url" : (error.code ?? null)));
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
      if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
      socket.destroy(error);
    },
  });
  const { services } = options;
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
      done(new TunekitError(`the request body is not valid JSON: ${(error as Error).message}`, { kind: "usage", code: "invalid_json", field: "body", fix: "send one JSON object, with `content-type: application/json`" }), undefined);
    }
  });
  // which methods each route pattern answers, for 405 and its Allow header
  const routeMethods: Array<{ pattern: RegExp; methods: string[] }> = [];
  app.addHook("onRoute", (route) => {
    if (!route.url.startsWith("/v1")) return;
    const pattern = new RegExp(`^${route.url.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/:[A-Za-z_]+/g, "[^/]+")}$`);
    routeMethods.push({ pattern, methods: (Array.isArray(route.method) ? route.method : [route.method]).map(String) });
  });

  // the services validate (zod, with messages naming the parameter); route schemas document the API
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  // response schemas document the answers (openapi-responses.ts); they must not filter or coerce them
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "Tunekit fine-tuning API", description: "OpenAI-compatible files, fine-tuning and models endpoints.", version: VERSION },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: options.noAuthProject ? [] : [{ bearer: [] }],
    },
  });
  await app.register(multipart, { throwFileSizeLimit: true });

  app.decorateRequest("project", null);
  app.addHook("onRequest", async (request, reply) => {
    // on the raw response, so that streamed (hijacked) answers carry it too
    reply.raw.setHeader("x-request-id", request.id);
    if (!request.url.startsWith("/v1/") && request.url !== "/v1") return;
    if (isAzureUrl(request.originalUrl) && !new URLSearchParams(request.originalUrl.split("?")[1] ?? "").get("api-version")) {
      throw new TunekitError("missing `api-version` query parameter (Azure OpenAI URL shape)", {
        kind: "usage",
        code: "missing_api_version",
        field: "api-version",
        fix: "add `?api-version=2024-10-21` (the AzureOpenAI client sends its `apiVersion`)",
      });
    }
    request.project = options.noAuthProject ?? (await authenticate(services.keys, request.headers.authorization, request.headers["api-key"]));
  });

  app.setErrorHandler((error, _request, reply) => {
    const answer = toErrorAnswer(error);
    if (answer.status === 409) reply.header("x-should-retry", "false");
    if (answer.status >= 500) app.log.error(error);
    void reply.code(answer.status).send(answer.body);
  });
  const serveApp = options.webRoot ? await registerWebUi(app, options.webRoot) : null;
  app.setNotFoundHandler((request, reply) => {
    if (serveApp?.(request, reply)) return;
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

  registerFilesRoutes(app, services);
  registerJobsRoutes(app, services);
  registerModelsRoutes(app, services);
  registerTunekitFilesRoutes(app, services);
  registerTunekitJobsRoutes(app, services);
  registerTunekitHostedRoutes(app, services);
  const jobDefaults = options.jobDefaults ?? { training: {}, data: {} };
  registerTunekitServerRoutes(app, services, { auth: options.noAuthProject === null, defaultMethod: typeof jobDefaults.training.method === "string" ? jobDefaults.training.method : "lora", defaults: jobDefaults });
  if (services.chat) registerChatCompletionsRoutes(app, services.chat, (request) => projectOf(request).id);
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  app.get("/health", { schema: { hide: true } }, async () => ({ status: "ok", version: VERSION }));
  return app;
}

function isAzureUrl(url: string): boolean {
  return url === "/openai" || url.startsWith("/openai/") || url.startsWith("/openai?");
}

/**
 * Azure OpenAI's URL shape on the same routes: `/openai/<path>?api-version=...` is `/v1/<path>`
 * (files, fine_tuning, models, and `deployments/{name}/chat/completions`). The AzureOpenAI client
 * of the `openai` SDK talks to a Tunekit server this way, with an `api-key` header.
 */
export function azureToV1(url: string): string {
  return isAzureUrl(url) ? `/v1${url.slice("/openai".length)}` : url;
}
