import multipart from "@fastify/multipart";
import swagger from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import { TunekitError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import type { Project } from "../jobs/api-key-store.js";
import { authenticate } from "./auth.js";
import { createHttpApp, finishHttpApp } from "./http-app.js";
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
  const app = createHttpApp({ logger: options.logger, rewriteUrl: azureToV1 });
  const { services } = options;

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
  app.addHook("onRequest", async (request) => {
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

  const serveApp = options.webRoot ? await registerWebUi(app, options.webRoot) : null;

  registerFilesRoutes(app, services);
  registerJobsRoutes(app, services);
  registerModelsRoutes(app, services);
  registerTunekitFilesRoutes(app, services);
  registerTunekitJobsRoutes(app, services);
  registerTunekitHostedRoutes(app, services);
  const jobDefaults = options.jobDefaults ?? { training: {}, data: {} };
  registerTunekitServerRoutes(app, services, {
    auth: options.noAuthProject === null,
    defaultMethod: typeof jobDefaults.training.method === "string" ? jobDefaults.training.method : "lora",
    defaults: jobDefaults,
  });
  if (services.chat) registerChatCompletionsRoutes(app, services.chat, (request) => projectOf(request).id);
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  finishHttpApp(app, serveApp);
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
