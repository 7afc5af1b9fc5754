import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { chatRequestBodySchema } from "../../serve/chat-request.js";
import { chatCompletionSchema, type ChatService } from "../../serve/chat-service.js";
import { responses } from "../openapi-responses.js";
import { QueueFullError } from "../../serve/request-queue.js";
import { toErrorAnswer } from "../error-envelope.js";

/**
 * POST /v1/chat/completions: OpenAI's request and response shapes, `stream: true` as server-sent
 * chunks ending with `data: [DONE]`. A full model queue answers 429 with Retry-After; a client that
 * goes away aborts its generation, which frees its slot.
 *
 * Azure's shape, `/openai/deployments/{deployment}/chat/completions` (rewritten to
 * `/v1/deployments/...` by the server), answers with the model the deployment names: on a Tunekit
 * server a deployment is a model id.
 */
export function registerChatCompletionsRoutes(app: FastifyInstance, chat: ChatService, projectIdOf: (request: FastifyRequest) => string | null): void {
  const documented = {
    body: z.toJSONSchema(chatRequestBodySchema, { target: "openapi-3.0", io: "input" }),
    response: responses(chatCompletionSchema, "the completion; with `stream: true`, `text/event-stream`: one `chat.completion.chunk` per `data:` line, then `data: [DONE]`"),
  };
  const complete = async (request: FastifyRequest, reply: FastifyReply, body: unknown) => {
    const abort = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) abort.abort(new Error("the client disconnected"));
    };
    reply.raw.on("close", onClose);
    let admitted;
    try {
      admitted = await chat.admit(projectIdOf(request), body, abort.signal);
    } catch (error) {
      reply.raw.off("close", onClose);
      // a full queue is `rate_limited`: the error handler answers 429 (`type: requests`)
      if (error instanceof QueueFullError) reply.header("retry-after", String(error.retryAfterSeconds));
      throw error;
    }
    try {
      if (!admitted.request.stream) {
        const result = await admitted.run(abort.signal, () => {});
        return chat.completion(admitted, result);
      }
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
      const send = (value: unknown) => {
        if (!raw.destroyed) raw.write(`data: ${JSON.stringify(value)}\n\n`);
      };
      send(chat.chunk(admitted, { role: "assistant", content: "" }));
      try {
        const result = await admitted.run(abort.signal, (text) => {
          if (text.length > 0) send(chat.chunk(admitted, { content: text }));
        });
        send(chat.chunk(admitted, {}, result.finishReason));
        if (admitted.request.includeUsage) send(chat.usageChunk(admitted, result));
        if (!raw.destroyed) raw.write("data: [DONE]\n\n");
      } catch (error) {
        // headers are gone: the error travels as an event, like OpenAI's mid-stream errors
        send(toErrorAnswer(error).body);
      }
      raw.end();
      return reply;
    } finally {
      admitted.release();
      reply.raw.off("close", onClose);
    }
  };
  app.post(
    "/v1/chat/completions",
    { schema: { summary: "Create a chat completion (base or `ft:` model), optionally streamed", tags: ["chat"], ...documented } },
    (request, reply) => complete(request, reply, request.body),
  );
  app.post<{ Params: { deployment: string } }>(
    "/v1/deployments/:deployment/chat/completions",
    {
      schema: {
        summary: "Azure OpenAI shape: a chat completion from the model the deployment names",
        tags: ["chat"],
        params: { type: "object", properties: { deployment: { type: "string" } }, required: ["deployment"] },
        response: documented.response,
      },
    },
    (request, reply) => {
      const body = request.body && typeof request.body === "object" ? request.body : {};
      return complete(request, reply, { ...body, model: request.params.deployment });
    },
  );
}
