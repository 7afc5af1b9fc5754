import type { FastifyInstance } from "fastify";
import type { ListPage, Model } from "../../spec/openai-wire.js";
import { projectOf, type Services } from "../route-context.js";

/** /v1/models: trainable base models and the project's fine-tuned models. */
export function registerModelsRoutes(app: FastifyInstance, services: Services): void {
  app.get("/v1/models", { schema: { summary: "List base models this server can train and your fine-tuned models", tags: ["models"] } }, async (request): Promise<ListPage<Model>> => {
    return { object: "list", data: await services.jobs.models(projectOf(request)), has_more: false };
  });

  // model ids hold `:` and `/` (`ft:org/base:suffix:abcd1234`), so the id is the whole rest of the path
  app.get("/v1/models/*", { schema: { summary: "Retrieve a model", tags: ["models"] } }, async (request) => {
    const id = decodeURIComponent((request.params as { "*": string })["*"]);
    return services.jobs.model(projectOf(request), id);
  });
}
