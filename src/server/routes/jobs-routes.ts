import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { createJobParamsSchema } from "../../jobs/create-job-params.js";
import { parsePageParams } from "../../jobs/page-params.js";
import { fineTuningJobCheckpointSchema, fineTuningJobEventSchema, fineTuningJobSchema, listPageSchema } from "../../spec/openai-wire.js";
import { responses } from "../openapi-responses.js";
import { projectOf, type IdParams, type PageQuery, type Query, type Services } from "../route-context.js";

const jobIdParams = { type: "object", properties: { id: { type: "string", description: "job id (`ftjob-...`)" } }, required: ["id"] } as const;
const pageQuery = {
  type: "object",
  properties: {
    after: { type: "string", description: "id of the last item of the previous page" },
    limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
  },
} as const;

/** /v1/fine_tuning/jobs and its sub-resources. Each route calls one JobService method. */
export function registerJobsRoutes(app: FastifyInstance, services: Services): void {
  const { jobs } = services;
  const createBody = z.toJSONSchema(createJobParamsSchema, { target: "openapi-3.0", io: "input" });
  // open event streams end when the server closes (they would hold `close()` until their job ends)
  const streams = new Set<AbortController>();
  app.addHook("preClose", async () => {
    for (const stream of streams) stream.abort();
  });

  app.post(
    "/v1/fine_tuning/jobs",
    { schema: { summary: "Create a fine-tuning job", tags: ["fine-tuning"], body: createBody, response: responses(fineTuningJobSchema, "the new job") } },
    async (request) => {
      return jobs.create(projectOf(request), request.body);
    },
  );

  // `metadata[key]=value` filters ride beside `after` and `limit`
  app.get<{ Querystring: PageQuery & Query }>(
    "/v1/fine_tuning/jobs",
    {
      schema: {
        summary: "List fine-tuning jobs, newest first",
        tags: ["fine-tuning"],
        querystring: pageQuery,
        response: responses(listPageSchema(fineTuningJobSchema), "a page of jobs"),
      },
    },
    async (request) => {
      const { query } = request;
      return jobs.list(projectOf(request), parsePageParams(query), metadataFilter(query));
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/fine_tuning/jobs/:id",
    { schema: { summary: "Retrieve a fine-tuning job", tags: ["fine-tuning"], params: jobIdParams, response: responses(fineTuningJobSchema, "the job") } },
    async (request) => {
      return jobs.get(projectOf(request), request.params.id);
    },
  );

  for (const action of ["cancel", "pause", "resume"] as const) {
    app.post<{ Params: IdParams }>(
      `/v1/fine_tuning/jobs/:id/${action}`,
      {
        schema: {
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} a fine-tuning job`,
          tags: ["fine-tuning"],
          params: jobIdParams,
          response: responses(fineTuningJobSchema, "the job after the change"),
        },
      },
      async (request) => {
        return jobs[action](projectOf(request), request.params.id);
      },
    );
  }

  app.get<{ Params: IdParams; Querystring: PageQuery & { stream?: string | boolean } }>(
    "/v1/fine_tuning/jobs/:id/events",
    {
      schema: {
        summary:
          "List a job's events (newest first), or follow them with `stream=true` (server-sent events, oldest first, each with its event `id`; resume with `after` or `Last-Event-ID`)",
        tags: ["fine-tuning"],
        params: jobIdParams,
        querystring: { ...pageQuery, properties: { ...pageQuery.properties, stream: { type: "boolean" } } },
        response: responses(
          listPageSchema(fineTuningJobEventSchema),
          "a page of events (with `stream=true`: `text/event-stream`, one event per `data:` line, then `data: [DONE]`)",
        ),
      },
    },
    async (request, reply) => {
      const { query } = request;
      const project = projectOf(request);
      const jobId = request.params.id;
      if (query.stream !== "true" && query.stream !== true) return jobs.listEvents(project, jobId, parsePageParams(query));
      const aborter = new AbortController();
      // a reconnect resumes after the last event it got: `after`, or the SSE `Last-Event-ID` header
      const lastEventId = request.headers["last-event-id"];
      const after = typeof query.after === "string" && query.after !== "" ? query.after : typeof lastEventId === "string" && lastEventId !== "" ? lastEventId : null;
      const events = jobs.streamEvents(project, jobId, after, aborter.signal);
      // the first read checks the job and the cursor, so a bad id still answers 404 as JSON
      const first = await events.next();
      reply.hijack();
      reply.raw.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
      reply.raw.on("close", () => aborter.abort());
      streams.add(aborter);
      // a comment line now and then keeps proxies from closing a quiet stream
      const keepAlive = setInterval(() => reply.raw.write(": keep-alive\n\n"), 15_000);
      try {
        // each message carries its event id, so that a client resumes exactly after the last one it got
        if (!first.done) {
          reply.raw.write(`id: ${first.value.id}\ndata: ${JSON.stringify(first.value)}\n\n`);
          for await (const event of events) reply.raw.write(`id: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`);
        }
        reply.raw.end(aborter.signal.aborted ? undefined : "data: [DONE]\n\n");
      } catch (error) {
        // headers are out: the stream can only end; the client sees no [DONE] and may reconnect with `after`
        request.log.error(error);
        reply.raw.end();
      } finally {
        clearInterval(keepAlive);
        streams.delete(aborter);
      }
    },
  );

  app.get<{ Params: IdParams; Querystring: PageQuery }>(
    "/v1/fine_tuning/jobs/:id/checkpoints",
    {
      schema: {
        summary: "List a job's checkpoints, newest first",
        tags: ["fine-tuning"],
        params: jobIdParams,
        querystring: pageQuery,
        response: responses(listPageSchema(fineTuningJobCheckpointSchema), "a page of checkpoints"),
      },
    },
    async (request) => {
      return jobs.listCheckpoints(projectOf(request), request.params.id, parsePageParams(request.query, { limit: 10 }));
    },
  );
}

/** `metadata[key]=value` query parameters (OpenAI's list filter). */
function metadataFilter(query: Query): Record<string, string> | undefined {
  const filter: Record<string, string> = {};
  for (const [key, value] of Object.entries(query)) {
    const match = /^metadata\[(.+)\]$/.exec(key);
    if (match?.[1] && typeof value === "string") filter[match[1]] = value;
  }
  return Object.keys(filter).length > 0 ? filter : undefined;
}
