import { Ajv, type ValidateFunction } from "ajv";
import { expect } from "vitest";

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: object }> }> }>>;
}

/**
 * Checks real answers against the server's own /openapi.json: the response schema documented for
 * that path, method and status (or its `4xx`/`5xx` range) must accept the body. Ajv reads
 * OpenAPI 3.0's `nullable`.
 */
export class OpenApiContract {
  private readonly ajv = new Ajv({ strict: false, allErrors: true });
  private readonly compiled = new Map<string, ValidateFunction>();

  constructor(private readonly document: OpenApiDocument) {}

  static async fetch(baseUrl: string): Promise<OpenApiContract> {
    return new OpenApiContract((await (await fetch(`${baseUrl}/openapi.json`)).json()) as OpenApiDocument);
  }

  /** `path` as the document writes it (`/v1/files/{id}`). */
  expectDocumented(method: string, path: string, status: number, body: unknown): void {
    const responses = this.document.paths[path]?.[method.toLowerCase()]?.responses;
    expect(responses, `${method} ${path} is in /openapi.json with responses`).toBeDefined();
    const range = `${String(status)[0]}XX`;
    const response = responses![String(status)] ?? responses![range] ?? responses![range.toLowerCase()];
    const schema = response?.content?.["application/json"]?.schema;
    expect(schema, `${method} ${path} documents a JSON body for ${status}`).toBeDefined();
    const key = `${method} ${path} ${status}`;
    const validate = this.compiled.get(key) ?? this.ajv.compile(schema!);
    this.compiled.set(key, validate);
    const problems = validate(body) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || "(body)"} ${error.message} ${JSON.stringify(error.params)}`);
    expect(problems, `${key} ${JSON.stringify(body).slice(0, 300)}: ${problems.join("; ")}`).toEqual([]);
  }
}
