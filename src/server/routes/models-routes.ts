import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { TunekitError } from "../../core/errors.js";
import { listPageSchema, modelSchema, type ListPage, type Model } from "../../spec/openai-wire.js";

const modelDeletedSchema = z.object({ id: z.string(), object: z.literal("model"), deleted: z.boolean() });

/** the rest of a `/v1/models/*` path */
type ModelParams = { "*": string };

/** The model id of a `/v1/models/*` path (ids hold `:` and `/`); malformed percent-encoding is a 400, not a 500. */
function modelIdOf(params: ModelParams): string {
  const raw = params["*"];
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new TunekitError("the model id in the path is not valid percent-encoding", {
      kind: "usage",
      code: "invalid_url",
      field: "model",
      fix: "encode the id with encodeURIComponent",
    });
  }
}
import { responses } from "../openapi-responses.js";
import { projectOf, type Services } from "../route-context.js";

/** /v1/models: trainable base models and the project's fine-tuned models. */
export function registerModelsRoutes(app: FastifyInstance, services: Services): void {
  app.get(
    "/v1/models",
    {
      schema: {
        summary: "List base models this server can train and your fine-tuned models",
        tags: ["models"],
        response: responses(listPageSchema(modelSchema), "base and fine-tuned models"),
      },
    },
    async (request): Promise<ListPage<Model>> => {
      return { object: "list", data: await services.jobs.models(projectOf(request)), has_more: false };
    },
  );

  // model ids hold `:` and `/` (`ft:org/base:suffix:abcd1234`), so the id is the whole rest of the path
  app.get<{ Params: ModelParams }>(
    "/v1/models/*",
    { schema: { summary: "Retrieve a model", tags: ["models"], response: responses(modelSchema, "the model") } },
    async (request) => {
      return services.jobs.model(projectOf(request), modelIdOf(request.params));
    },
  );

  app.delete<{ Params: ModelParams }>(
    "/v1/models/*",
    { schema: { summary: "Delete a fine-tuned model (its adapter and exports; the job stays)", tags: ["models"], response: responses(modelDeletedSchema, "the deleted model") } },
    async (request) => {
      return services.jobs.deleteModel(projectOf(request), modelIdOf(request.params));
    },
  );
}
