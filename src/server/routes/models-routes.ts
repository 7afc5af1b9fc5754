import type { FastifyInstance } from "fastify";
import { listPageSchema, modelSchema, type ListPage, type Model } from "../../spec/openai-wire.js";
import { responses } from "../openapi-responses.js";
import { projectOf, type Services } from "../route-context.js";

/** /v1/models: trainable base models and the project's fine-tuned models. */
export function registerModelsRoutes(app: FastifyInstance, services: Services): void {
  app.get("/v1/models", { schema: { summary: "List base models this server can train and your fine-tuned models", tags: ["models"], response: responses(listPageSchema(modelSchema), "base and fine-tuned models") } }, async (request): Promise<ListPage<Model>> => {
    return { object: "list", data: await services.jobs.models(projectOf(request)), has_more: false };
  });

  // model ids hold `:` and `/` (`ft:org/base:suffix:abcd1234`), so the id is the whole rest of the path
  app.get("/v1/models/*", { schema: { summary: "Retrieve a model", tags: ["models"], response: responses(modelSchema, "the model") } }, async (request) => {
    const id = decodeURIComponent((request.params as { "*": string })["*"]);
    return services.jobs.model(projectOf(request), id);
  });
}
