import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { TunekitError } from "../../core/errors.js";
import {
  conversionSchema,
  datasetStatsSchema,
  fileColumnsSchema,
  fileLinesSchema,
  fileReportSchema,
  fixRequestSchema,
  fixResultSchema,
  mappingPreviewSchema,
  recordMappingSchema,
  splitRequestSchema,
  splitResultSchema,
} from "../../spec/tunekit-wire.js";
import { responses } from "../openapi-responses.js";
import { integerParameter, parseBody } from "../parse-body.js";
import { projectOf, type IdParams, type Services } from "../route-context.js";

const fileIdParams = { type: "object", properties: { id: { type: "string", description: "file id (`file-...`)" } }, required: ["id"] } as const;
const body = (schema: z.ZodType) => z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" });
const tags = ["tunekit: data"];

/**
 * /v1/tunekit/files/{id}/...: the dataset toolkit on an uploaded file. Reading routes (report,
 * lines, columns, preview, stats) and routes that write a new file of the project (convert, fix,
 * split) and never change the original.
 */
export function registerTunekitFilesRoutes(app: FastifyInstance, services: Services): void {
  const { workbench } = services;

  app.get<{ Params: IdParams }>(
    "/v1/tunekit/files/:id/report",
    {
      schema: {
        summary: "The whole validation report of a fine-tune file: counts per problem code and every problem with its line, message and fix",
        tags,
        params: fileIdParams,
        response: responses(fileReportSchema, "the report"),
      },
    },
    async (request) => workbench.report(projectOf(request).id, request.params.id),
  );

  app.get<{ Params: IdParams; Querystring: { start?: string; count?: string } }>(
    "/v1/tunekit/files/:id/lines",
    {
      schema: {
        summary: "Raw lines of a file (the line viewer)",
        tags,
        params: fileIdParams,
        querystring: { type: "object", properties: { start: { type: "integer", minimum: 1, default: 1 }, count: { type: "integer", minimum: 1, maximum: 500, default: 50 } } },
        response: responses(fileLinesSchema, "the lines"),
      },
    },
    async (request) => {
      const { query } = request;
      return workbench.lines(projectOf(request).id, request.params.id, integerParameter(query.start, "start", 1), integerParameter(query.count, "count", 50));
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/tunekit/files/:id/columns",
    {
      schema: {
        summary: "Columns and first rows of a CSV, TSV, Parquet or JSON-array file, with a suggested mapping",
        tags,
        params: fileIdParams,
        response: responses(fileColumnsSchema, "the columns"),
      },
    },
    async (request) => workbench.columns(projectOf(request).id, request.params.id),
  );

  app.post<{ Params: IdParams }>(
    "/v1/tunekit/files/:id/preview",
    {
      schema: {
        summary: "The chat examples a column mapping makes of the first rows",
        tags,
        params: fileIdParams,
        body: body(recordMappingSchema),
        response: responses(mappingPreviewSchema, "the examples"),
      },
    },
    async (request) =>
      workbench.preview(
        projectOf(request).id,
        request.params.id,
        parseBody(recordMappingSchema, request.body, "send `{layout, columns: {user: [...], assistant: [...]}, system}`"),
      ),
  );

  app.post<{ Params: IdParams }>(
    "/v1/tunekit/files/:id/convert",
    {
      schema: {
        summary: "Write a new chat JSONL file from a table with a column mapping",
        tags,
        params: fileIdParams,
        body: body(recordMappingSchema),
        response: responses(conversionSchema, "the new file and what was skipped"),
      },
    },
    async (request) =>
      workbench.convert(
        projectOf(request).id,
        request.params.id,
        parseBody(recordMappingSchema, request.body, "send `{layout, columns: {user: [...], assistant: [...]}, system}`"),
      ),
  );

  app.post<{ Params: IdParams }>(
    "/v1/tunekit/files/:id/fix",
    {
      schema: {
        summary: "Write a new file without invalid lines, duplicates, over-long examples or validation overlap; the original stays",
        tags,
        params: fileIdParams,
        body: body(fixRequestSchema),
        response: responses(fixResultSchema, "the new file and what was removed"),
      },
    },
    async (request) => workbench.fix(projectOf(request).id, request.params.id, parseBody(fixRequestSchema, request.body, 'set the fixes to apply, e.g. `{"drop_invalid": true}`')),
  );

  app.post<{ Params: IdParams }>(
    "/v1/tunekit/files/:id/split",
    {
      schema: {
        summary: "Deterministic train/validation split into two new files",
        tags,
        params: fileIdParams,
        body: body(splitRequestSchema),
        response: responses(splitResultSchema, "the two files"),
      },
    },
    async (request) => workbench.split(projectOf(request).id, request.params.id, parseBody(splitRequestSchema, request.body, 'send e.g. `{"validation": 0.1, "seed": 42}`')),
  );

  app.get<{ Params: IdParams; Querystring: { model?: string } }>(
    "/v1/tunekit/files/:id/stats",
    {
      schema: {
        summary: "Token statistics with a base model's tokenizer and chat template (histogram, trained tokens per example, examples over the context)",
        tags,
        params: fileIdParams,
        querystring: { type: "object", properties: { model: { type: "string", description: "a base model id of this server, or an OpenAI model name" } }, required: ["model"] },
        response: responses(datasetStatsSchema, "the statistics"),
      },
    },
    async (request) => {
      const { model } = request.query;
      if (typeof model !== "string" || model === "")
        throw new TunekitError("`model` is missing", { kind: "usage", code: "invalid_request", field: "model", fix: "pass `model=<base model id>` (GET /v1/tunekit/models)" });
      return workbench.stats(projectOf(request).id, request.params.id, model);
    },
  );
}
