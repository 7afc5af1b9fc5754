import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { configSchema } from "../../core/config-schema.js";
import { isTunekitError, type TunekitError } from "../../core/errors.js";
import { createOpenAIProvider } from "./openai-fine-tune-provider.js";

/**
 * Retries and backoff, against a real HTTP endpoint that answers like an overloaded OpenAI:
 * the provider's SDK client must retry 429 and 5xx (waiting what Retry-After says) and give up
 * after `max_retries` with an error that says what to do.
 */
type Handler = (request: IncomingMessage, response: ServerResponse, attempt: number) => void;
let server: Server | null = null;

async function endpoint(handler: Handler): Promise<{ url: string; requests: Array<{ method: string; url: string; at: number }> }> {
  const requests: Array<{ method: string; url: string; at: number }> = [];
  server = createServer((request, response) => {
    requests.push({ method: request.method ?? "", url: request.url ?? "", at: Date.now() });
    request.resume();
    request.on("end", () => handler(request, response, requests.length));
  });
  await new Promise<void>((done) => server!.listen(0, "127.0.0.1", done));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, requests };
}

afterEach(async () => {
  await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  server = null;
});

const job = { id: "ftjob-abc", object: "fine_tuning.job", status: "running", model: "gpt-4o-mini-2024-07-18", created_at: 1, training_file: "file-1" };

function provider(url: string, maxRetries: number) {
  return createOpenAIProvider(configSchema.parse({ provider: "openai", openai: { base_url: url, max_retries: maxRetries } }), { OPENAI_API_KEY: "sk-test" });
}

async function rejection(promise: Promise<unknown>): Promise<TunekitError> {
  const error = await promise.then(
    () => null,
    (caught: unknown) => caught,
  );
  if (!isTunekitError(error)) throw new Error(`expected a TunekitError, got ${String(error)}`);
  return error;
}

describe("openai provider: retries with backoff", () => {
  it("retries 429 and 503 answers, waiting the Retry-After the server asks for, then succeeds", async () => {
    const { url, requests } = await endpoint((_request, response, attempt) => {
      if (attempt === 1)
        return response
          .writeHead(429, { "content-type": "application/json", "retry-after": "1" })
          .end(JSON.stringify({ error: { message: "Rate limit reached", type: "requests", code: "rate_limit_exceeded", param: null } }));
      if (attempt === 2)
        return response
          .writeHead(503, { "content-type": "application/json", "retry-after-ms": "50" })
          .end(JSON.stringify({ error: { message: "overloaded", type: "server_error", param: null, code: null } }));
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(job));
    });
    const found = await provider(url, 3).getJob("ftjob-abc");
    expect(found.id).toBe("ftjob-abc");
    expect(requests.map((request) => `${request.method} ${request.url}`)).toEqual(Array(3).fill("GET /v1/fine_tuning/jobs/ftjob-abc"));
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(950);
    expect(requests[2]!.at - requests[1]!.at).toBeGreaterThanOrEqual(45);
  });

  it("gives up after `max_retries` with an error that names the cause and the fix", async () => {
    const { url, requests } = await endpoint((_request, response) => {
      response
        .writeHead(429, { "content-type": "application/json", "retry-after-ms": "10" })
        .end(JSON.stringify({ error: { message: "You exceeded your current quota", type: "insufficient_quota", code: "insufficient_quota", param: null } }));
    });
    const error = await rejection(provider(url, 2).listJobs());
    expect(requests).toHaveLength(3);
    expect(error.kind).toBe("environment");
    expect(error.code).toBe("insufficient_quota");
    expect(error.message).toContain("You exceeded your current quota");
    expect(error.fix).toMatch(/max_retries/);
  });

  it("does not retry a 400 and keeps its `param`", async () => {
    const { url, requests } = await endpoint((_request, response) => {
      response
        .writeHead(400, { "content-type": "application/json" })
        .end(JSON.stringify({ error: { message: "invalid n_epochs", type: "invalid_request_error", code: "invalid_value", param: "hyperparameters.n_epochs" } }));
    });
    const error = await rejection(provider(url, 3).createJob({ model: "gpt-4o-mini-2024-07-18", training_file: "file-1", hyperparameters: { n_epochs: 0 } }));
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({ kind: "usage", field: "hyperparameters.n_epochs", code: "invalid_value" });
  });

  it("refuses to start without the API key, naming the variable", () => {
    expect(() => createOpenAIProvider(configSchema.parse({ provider: "openai" }), {})).toThrow(/OPENAI_API_KEY/);
  });
});
