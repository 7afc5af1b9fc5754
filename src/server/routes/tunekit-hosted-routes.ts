import { Readable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { createJobParamsSchema } from "../../jobs/create-job-params.js";
import { parsePageParams } from "../../jobs/page-params.js";
import { fineTuningJobCheckpointSchema, fineTuningJobEventSchema, fineTuningJobSchema, listPageSchema } from "../../spec/openai-wire.js";
import { hostedEstimateSchema, hostedProviderInfoSchema } from "../../spec/tunekit-wire.js";
import { errorResponses, responses } from "../openapi-responses.js";
import { projectOf, type PageQuery, type Services } from "../route-context.js";

const tags = ["tunekit: hosted fine-tuning"];
const providerParams = {
  type: "object",
  properties: { provider: { type: "string", description: "`openai`, `azure`, ... (GET /v1/tunekit/hosted)" } },
  required: ["provider"],
} as const;
const jobParams = {
  type: "object",
  properties: { ...providerParams.properties, id: { type: "string", description: "the provider's job id" } },
  required: ["provider", "id"],
} as const;
type ProviderParams = { provider: string };
type JobParams = ProviderParams & { id: string };

/**
 * /v1/tunekit/hosted/{provider}/...: fine-tuning on a hosted provider from this server's validated
 * files, and chat with its models, for the web UI and scripts. The provider keeps each job; this
 * server checks that it belongs to the calling project.
 */
export function registerTunekitHostedRoutes(app: FastifyInstance, services: Services): void {
  const { hosted } = services;
  const createBody = z.toJSONSchema(createJobParamsSchema, { target: "openapi-3.0", io: "input" });

  app.get(
    "/v1/tunekit/hosted",
    {
      schema: {
        summary: "Hosted fine-tuning providers this server drives, with the base models each fine-tunes",
        tags,
        response: responses(listPageSchema(hostedProviderInfoSchema), "the providers"),
      },
    },
    async () => ({
      object: "list",
      data: hosted.list(),
      has_more: false,
    }),
  );

  app.post<{ Params: ProviderParams }>(
    "/v1/tunekit/hosted/:provider/jobs",
    {
      schema: {
        summary: "Create a job on the provider from this server's files (uploaded to the provider on first use)",
        tags,
        params: providerParams,
        body: createBody,
        response: responses(fineTuningJobSchema.loose(), "the provider's job"),
      },
    },
    async (request) => hosted.create(projectOf(request), request.params.provider, request.body),
  );

  app.post<{ Params: ProviderParams }>(
    "/v1/tunekit/hosted/:provider/estimate",
    {
      schema: {
        summary: "What the same job costs on the provider (billed tokens of the file, price table)",
        tags,
        params: providerParams,
        body: createBody,
        response: responses(hostedEstimateSchema, "the estimate"),
      },
    },
    async (request) => hosted.estimate(projectOf(request), request.params.provider, request.body),
  );

  app.get<{ Params: ProviderParams; Querystring: PageQuery }>(
    "/v1/tunekit/hosted/:provider/jobs",
    {
      schema: {
        summary: "This project's jobs on the provider, newest first",
        tags,
        params: providerParams,
        response: responses(listPageSchema(fineTuningJobSchema.loose()), "a page of jobs"),
      },
    },
    async (request) => hosted.listJobs(projectOf(request), request.params.provider, parsePageParams(request.query)),
  );

  app.get<{ Params: JobParams }>(
    "/v1/tunekit/hosted/:provider/jobs/:id",
    { schema: { summary: "One of this project's jobs on the provider", tags, params: jobParams, response: responses(fineTuningJobSchema.loose(), "the job") } },
    async (request) => {
      const { provider, id } = request.params;
      return hosted.getJob(projectOf(request), provider, id);
    },
  );

  app.get<{ Params: JobParams; Querystring: PageQuery }>(
    "/v1/tunekit/hosted/:provider/jobs/:id/events",
    {
      schema: {
        summary: "The job's events on the provider, newest first",
        tags,
        params: jobParams,
        response: responses(listPageSchema(fineTuningJobEventSchema.loose()), "a page of events"),
      },
    },
    async (request) => {
      const { provider, id } = request.params;
      return hosted.listEvents(projectOf(request), provider, id, parsePageParams(request.query));
    },
  );

  app.get<{ Params: JobParams; Querystring: PageQuery }>(
    "/v1/tunekit/hosted/:provider/jobs/:id/checkpoints",
    {
      schema: {
        summary: "The job's checkpoints on the provider, newest first",
        tags,
        params: jobParams,
        response: responses(listPageSchema(fineTuningJobCheckpointSchema.loose()), "a page of checkpoints"),
      },
    },
    async (request) => {
      const { provider, id } = request.params;
      return hosted.listCheckpoints(projectOf(request), provider, id, parsePageParams(request.query, { limit: 10 }));
    },
  );

  for (const action of ["cancel", "pause", "resume"] as const) {
    app.post<{ Params: JobParams }>(
      `/v1/tunekit/hosted/:provider/jobs/:id/${action}`,
      {
        schema: {
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} one of this project's jobs on the provider`,
          tags,
          params: jobParams,
          response: responses(fineTuningJobSchema.loose(), "the job after the change"),
        },
      },
      async (request) => {
        const { provider, id } = request.params;
        return hosted.act(projectOf(request), provider, id, action);
      },
    );
  }

  app.post<{ Params: ProviderParams; Body: Record<string, unknown> | null | undefined }>(
    "/v1/tunekit/hosted/:provider/chat/completions",
    {
      schema: {
        summary: "Chat completions of the provider's base models and of this project's hosted fine-tuned models (OpenAI's request and answer, streamed with `stream: true`)",
        tags,
        params: providerParams,
        response: errorResponses(),
      },
    },
    async (request, reply) => {
      const aborter = new AbortController();
      reply.raw.on("close", () => {
        if (!reply.raw.writableFinished) aborter.abort();
      });
      const body = request.body && typeof request.body === "object" ? request.body : {};
      const answer = await hosted.chat(projectOf(request), request.params.provider, body, aborter.signal);
      reply
        .code(answer.status)
        .header("content-type", answer.headers.get("content-type") ?? "application/json")
        .header("cache-control", "no-cache");
      return reply.send(answer.body ? Readable.fromWeb(answer.body as import("node:stream/web").ReadableStream) : "");
    },
  );
}
