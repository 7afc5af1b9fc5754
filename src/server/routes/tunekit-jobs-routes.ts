import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { configJsonSchema } from "../../core/config-schema.js";
import { createJobParamsSchema } from "../../jobs/create-job-params.js";
import { checkJobConfig } from "../../jobs/job-request.js";
import type { JobStatus } from "../../jobs/job-state-machine.js";
import { parsePageParams } from "../../jobs/page-params.js";
import { configCheckRequestSchema, configCheckSchema, jobDetailSchema, jobListSchema, trainingEstimateSchema } from "../../spec/tunekit-wire.js";
import { errorResponses, responses } from "../openapi-responses.js";
import { integerParameter, parseBody } from "../parse-body.js";
import { projectOf, type IdParams, type PageQuery, type Services } from "../route-context.js";

const jobIdParams = { type: "object", properties: { id: { type: "string", description: "job id (`ftjob-...`)" } }, required: ["id"] } as const;
const tags = ["tunekit: jobs"];

/**
 * /v1/tunekit jobs views and the run-config tools: jobs with method, queue position and duration,
 * a job's resolved config, data fingerprints and worker log; the config JSON Schema, a config check
 * that also gives the create-job request and the same job as CLI / curl / SDK code, and the
 * estimate of a request before it is made.
 */
export function registerTunekitJobsRoutes(app: FastifyInstance, services: Services): void {
  const { insight, estimator } = services;
  const logs = new Set<AbortController>();
  app.addHook("preClose", async () => {
    for (const log of logs) log.abort();
  });

  app.get<{ Querystring: PageQuery & { status?: string } }>(
    "/v1/tunekit/jobs",
    {
      schema: {
        summary: "Jobs, newest first, each with its method, queue position and duration (`status=running,queued` filters)",
        tags,
        querystring: {
          type: "object",
          properties: { status: { type: "string", description: "comma-separated statuses" }, after: { type: "string" }, limit: { type: "integer", minimum: 1, maximum: 100 } },
        },
        response: responses(jobListSchema, "a page of jobs"),
      },
    },
    async (request) => {
      const { query } = request;
      const statuses = typeof query.status === "string" && query.status !== "" ? (query.status.split(",").map((status) => status.trim()) as JobStatus[]) : undefined;
      return insight.list(projectOf(request), parsePageParams(query), statuses);
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/tunekit/jobs/:id",
    {
      schema: {
        summary: "A job with its resolved hyperparameters, data fingerprints and queue position",
        tags,
        params: jobIdParams,
        response: responses(jobDetailSchema, "the job"),
      },
    },
    async (request) => insight.detail(projectOf(request), request.params.id),
  );

  app.get<{ Params: IdParams; Querystring: { offset?: string; follow?: string | boolean } }>(
    "/v1/tunekit/jobs/:id/log",
    {
      schema: {
        summary: "The worker's log (text/plain) from byte `offset`; with `follow=true` it stays open and streams new lines until the job ends",
        tags,
        params: jobIdParams,
        querystring: { type: "object", properties: { offset: { type: "integer", minimum: 0, default: 0 }, follow: { type: "boolean", default: false } } },
        response: errorResponses(),
      },
    },
    async (request, reply) => {
      const { query } = request;
      const project = projectOf(request);
      const jobId = request.params.id;
      const aborter = new AbortController();
      const chunks = insight.log(project, jobId, integerParameter(query.offset, "offset", 0), query.follow === "true" || query.follow === true, aborter.signal);
      // the first read checks the job and the offset, so a bad one answers 4xx as JSON
      const first = await chunks.next();
      reply.hijack();
      reply.raw.writeHead(200, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-cache", "x-content-type-options": "nosniff" });
      reply.raw.on("close", () => aborter.abort());
      logs.add(aborter);
      try {
        if (!first.done) {
          reply.raw.write(first.value);
          for await (const chunk of chunks) reply.raw.write(chunk);
        }
      } catch (error) {
        request.log.error(error);
      } finally {
        logs.delete(aborter);
        reply.raw.end();
      }
    },
  );

  app.get(
    "/v1/tunekit/config/schema",
    { schema: { summary: "JSON Schema of tunekit.yaml, generated from the zod config schema (the web form is built from it)", tags } },
    async () => configJsonSchema(),
  );

  app.post(
    "/v1/tunekit/config/check",
    {
      schema: {
        summary:
          "Check a run config (YAML or object) as a server job: problems with field and line, the create-job request, and the same job as a tunekit command, curl and openai SDK code",
        tags,
        body: z.toJSONSchema(configCheckRequestSchema, { target: "openapi-3.0", io: "input" }),
        response: responses(configCheckSchema, "the check"),
      },
    },
    async (request) => {
      const input = parseBody(configCheckRequestSchema, request.body, 'send `{"yaml": "..."}` or `{"config": {...}}`');
      return checkJobConfig(input, { url: publicUrl(request.headers.host, request.protocol), hosted: services.hosted.list().map((provider) => provider.name) });
    },
  );

  app.post(
    "/v1/tunekit/estimate",
    {
      schema: {
        summary:
          "What a create-job request would do on this server before it is made: steps, epochs, tokens, time from measured throughput, memory, and the hosted price of the same data",
        tags,
        body: z.toJSONSchema(createJobParamsSchema, { target: "openapi-3.0", io: "input" }),
        response: responses(trainingEstimateSchema, "the estimate"),
      },
    },
    async (request) => estimator.estimate(projectOf(request).id, request.body),
  );
}

/** The server's address as the client reached it (for copy-paste commands). */
function publicUrl(host: string | undefined, protocol: string): string {
  return `${protocol}://${host ?? "127.0.0.1:8000"}`;
}
