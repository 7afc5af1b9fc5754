import type { FastifyInstance } from "fastify";
import { isTunekitError, TunekitError } from "../../core/errors.js";
import { fileDeletedSchema, fileObjectSchema, listPageSchema, type FileObject } from "../../spec/openai-wire.js";
import { responses } from "../openapi-responses.js";
import { parsePageParams } from "../../jobs/page-params.js";
import type { ReceivedUpload } from "../../jobs/file-store.js";
import { projectOf, type IdParams, type PageQuery, type Services } from "../route-context.js";

const fileIdParams = { type: "object", properties: { id: { type: "string", description: "file id (`file-...`)" } }, required: ["id"] } as const;

/** /v1/files: upload (multipart, streamed to disk), list, retrieve, content, delete. */
export function registerFilesRoutes(app: FastifyInstance, services: Services): void {
  app.post(
    "/v1/files",
    {
      schema: {
        summary: "Upload a file (multipart/form-data: `file`, `purpose=fine-tune`)",
        tags: ["files"],
        consumes: ["multipart/form-data"],
        response: responses(fileObjectSchema, "the stored file"),
      },
    },
    async (request, reply) => {
      const project = projectOf(request);
      if (!/^multipart\/form-data;.*\bboundary=/i.test(request.headers["content-type"] ?? "")) {
        throw new TunekitError("an upload is `multipart/form-data` with a boundary", {
          kind: "usage",
          code: "invalid_multipart",
          field: "file",
          fix: "send the file as a multipart form (curl -F file=@train.jsonl -F purpose=fine-tune; FormData; the SDKs' files.create)",
        });
      }
      let received: ReceivedUpload | null = null;
      let filename = "";
      let purpose: string | undefined;
      try {
        for await (const part of request.parts({ limits: { fileSize: services.files.maxUploadBytes + 1, files: 1, fields: 8 } })) {
          if (part.type === "file") {
            if (part.fieldname !== "file" || received) {
              part.file.resume();
              continue;
            }
            filename = part.filename;
            received = await services.files.receive(part.file);
          } else if (part.fieldname === "purpose") {
            purpose = String(part.value);
          }
        }
      } catch (error) {
        if (received) services.files.discard(received);
        // the multipart parser's own errors (a body cut short, an empty boundary) are plain Errors: the client's, not the server's
        const fromParser = error instanceof Error && !isTunekitError(error) && typeof (error as { statusCode?: unknown }).statusCode !== "number" && !("syscall" in error);
        if (fromParser)
          throw new TunekitError(`the multipart body is malformed: ${error.message}`, {
            kind: "usage",
            code: "invalid_multipart",
            field: "file",
            fix: "send a complete multipart/form-data body with a non-empty boundary (curl -F file=@train.jsonl -F purpose=fine-tune)",
            cause: error,
          });
        throw error;
      }
      if (!received) {
        throw new TunekitError("`file` is missing from the multipart form", {
          kind: "usage",
          code: "missing_file",
          field: "file",
          fix: "send the dataset as the `file` part of a multipart/form-data body",
        });
      }
      const file: FileObject = await services.files.store(project.id, received, { filename, purpose });
      return reply.code(200).send(file);
    },
  );

  app.get<{ Querystring: PageQuery & { purpose?: string } }>(
    "/v1/files",
    { schema: { summary: "List files", tags: ["files"], response: responses(listPageSchema(fileObjectSchema), "a page of files") } },
    async (request) => {
      const { query } = request;
      return services.files.list(projectOf(request).id, parsePageParams(query, { limit: 10_000, maxLimit: 10_000 }), typeof query.purpose === "string" ? query.purpose : undefined);
    },
  );

  app.get<{ Params: IdParams }>(
    "/v1/files/:id",
    { schema: { summary: "Retrieve a file", tags: ["files"], params: fileIdParams, response: responses(fileObjectSchema, "the file") } },
    async (request) => {
      return (await services.files.get(projectOf(request).id, request.params.id)).object;
    },
  );

  app.get<{ Params: IdParams }>("/v1/files/:id/content", { schema: { summary: "Download a file's content", tags: ["files"], params: fileIdParams } }, async (request, reply) => {
    const { path } = await services.files.contentPath(projectOf(request).id, request.params.id);
    return reply.type("application/octet-stream").send(services.files.openContent(path));
  });

  app.delete<{ Params: IdParams }>(
    "/v1/files/:id",
    { schema: { summary: "Delete a file", tags: ["files"], params: fileIdParams, response: responses(fileDeletedSchema, "the deleted file") } },
    async (request) => {
      return services.files.delete(projectOf(request).id, request.params.id);
    },
  );
}
