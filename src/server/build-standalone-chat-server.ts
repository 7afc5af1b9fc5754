import Fastify, { type FastifyInstance } from "fastify";
import { timingSafeEqual } from "node:crypto";
import { TunekitError } from "../../core/errors.js";
import { VERSION } from "../../core/version.js";
import type { ChatService } from "../../serve/chat-service.js";
import { envelope, toErrorAnswer } from "../error-envelope.js";
import { registerChatCompletionsRoutes } from "./chat-completions-routes.js";

export interface StandaloneChatServerOptions {
  chat: ChatService;
  /** ids listed by GET /v1/models */
  modelIds: string[];
  /** when set, every /v1 request needs `Authorization: Bearer <apiKey>` */
  apiKey?: string | null;
}

/** `tunekit serve`: only chat completions and /v1/models, for a fixed set of models, no job store. */
export async function buildStandaloneChatServer(options: StandaloneChatServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 10 << 20 });
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  // the route's response schema documents the answer; it must not filter it (see openapi-responses.ts)
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const expected = options.apiKey ? Buffer.from(`Bearer ${options.apiKey}`) : null;
  app.addHook("onRequest", async (request) => {
    if (!expected || !request.url.startsWith("/v1/")) return;
    const given = Buffer.from(request.headers.authorization ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new TunekitError("missing or wrong API key", { kind: "usage", code: "invalid_api_key", fix: "send `Authorization: Bearer <the --api-key of tunekit serve>`" });
    }
  });
  app.setErrorHandler((error, _request, reply) => {
    const answer = toErrorAnswer(error);
    void reply.code(answer.status).send(answer.body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(envelope(404, `no route for ${request.method} ${request.url.split("?")[0]}`, null, "unknown_url"));
  });
  const created = Math.floor(Date.now() / 1000);
  app.get("/v1/models", async () => ({ object: "list", data: options.modelIds.map((id) => ({ id, object: "model", created, owned_by: "tunekit" })), has_more: false }));
  registerChatCompletionsRoutes(app, options.chat, () => null);
  app.get("/health", async () => ({ status: "ok", version: VERSION }));
  return app;
}
