import { availableParallelism, totalmem } from "node:os";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { VERSION } from "../../core/version.js";
import { describeModel } from "../../jobs/model-info.js";
import { chatRequestBodySchema } from "../../serve/chat-request.js";
import { listPageSchema } from "../../spec/openai-wire.js";
import { modelInfoSchema, promptSchema, serverInfoSchema, type ServerInfo } from "../../spec/tunekit-wire.js";
import { TunekitError } from "../../core/errors.js";
import { responses } from "../openapi-responses.js";
import { projectOf, type Services } from "../route-context.js";

const tags = ["tunekit: server"];

/** /v1/tunekit/server, the base-model catalogue with sizes, and the chat prompt a template makes. */
export function registerTunekitServerRoutes(app: FastifyInstance, services: Services, settings: { auth: boolean; defaultMethod: string; defaults: ServerInfo["defaults"] }): void {
  app.get(
    "/v1/tunekit/server",
    { schema: { summary: "This server: version, auth, the calling project, upload limit, chat engine and machine", tags, response: responses(serverInfoSchema, "the server") } },
    async (request): Promise<ServerInfo> => {
      const project = projectOf(request);
      return {
        object: "tunekit.server",
        version: VERSION,
        auth: settings.auth,
        project: { id: project.id, name: project.name },
        max_upload_bytes: services.files.maxUploadBytes,
        engine: services.chat?.engine.name ?? null,
        default_method: settings.defaultMethod,
        defaults: settings.defaults,
        machine: { cpus: availableParallelism(), memory_bytes: totalmem(), platform: `${process.platform}-${process.arch}` },
      };
    },
  );

  app.get(
    "/v1/tunekit/models",
    {
      schema: {
        summary: "Base models this server trains, with parameters, size on disk, context length and architecture",
        tags,
        response: responses(listPageSchema(modelInfoSchema), "the catalogue"),
      },
    },
    async () => {
      const models = await Promise.all(services.jobs.catalog.baseModels().map((model) => describeModel(model)));
      return { object: "list", data: models, has_more: false };
    },
  );

  app.post(
    "/v1/tunekit/chat/prompt",
    {
      schema: {
        summary: "The exact prompt text the model's chat template makes of `messages` (the playground's Show prompt)",
        tags,
        body: z.toJSONSchema(chatRequestBodySchema, { target: "openapi-3.0", io: "input" }),
        response: responses(promptSchema, "the prompt"),
      },
    },
    async (request) => {
      if (!services.chat)
        throw new TunekitError("this server serves no chat models", { kind: "usage", code: "chat_not_available", field: "model", fix: "start `tunekit server` with chat enabled" });
      return services.chat.prompt(projectOf(request).id, request.body);
    },
  );
}
