import type { FastifyInstance } from "fastify";
import { timingSafeEqual } from "node:crypto";
import { TunekitError } from "../core/errors.js";
import type { ChatService } from "../serve/chat-service.js";
import { createHttpApp, finishHttpApp } from "./http-app.js";
import { registerChatCompletionsRoutes } from "./routes/chat-completions-routes.js";

export interface StandaloneChatServerOptions {
  chat: ChatService;
  /** ids listed by GET /v1/models */
  modelIds: string[];
  /** when set, every /v1 request needs `Authorization: Bearer <apiKey>` */
  apiKey?: string | null;
}

/** `tunekit serve`: only chat completions and /v1/models, for a fixed set of models, no job store. */
export async function buildStandaloneChatServer(options: StandaloneChatServerOptions): Promise<FastifyInstance> {
  const app = createHttpApp();
  const expected = options.apiKey ? Buffer.from(`Bearer ${options.apiKey}`) : null;
  app.addHook("onRequest", async (request) => {
    if (!expected || !request.url.startsWith("/v1/")) return;
    const given = Buffer.from(request.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new TunekitError("missing or wrong API key", { kind: "unauthorized", code: "invalid_api_key", fix: "send `Authorization: Bearer <the --api-key of tunekit serve>`" });
    }
  });
  const created = Math.floor(Date.now() / 1000);
  app.get("/v1/models", async () => ({ object: "list", data: options.modelIds.map((id) => ({ id, object: "model", created, owned_by: "tunekit" })), has_more: false }));
  registerChatCompletionsRoutes(app, options.chat, () => null);
  finishHttpApp(app);
  return app;
}
