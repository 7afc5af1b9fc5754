import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { OpenApiContract } from "./helpers/openapi-contract.js";

function chatLine(index: number): string {
  return JSON.stringify({
    messages: [
      { role: "system", content: "You extract ingredients." },
      { role: "user", content: `Recipe ${index}: mix ${index} eggs with flour and sugar.` },
      { role: "assistant", content: `eggs (${index}), flour, sugar` },
    ],
  });
}

const trainingJsonl = Array.from({ length: 12 }, (_, index) => chatLine(index)).join("\n") + "\n";

let dataDir: string;
let server: RunningServer;
let client: OpenAI;
let otherClient: OpenAI;
let apiKey: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tunekit-server-"));
  // maxConcurrentJobs 0: jobs are validated and queued but none starts training
  server = await startServer({ port: 0, dataDir, models: ["tiny-base"], maxConcurrentJobs: 0, maxUploadMb: 0.05 });
  const { key } = await server.services.keys.createKey("alpha");
  apiKey = key;
  const { key: otherKey } = await server.services.keys.createKey("beta");
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0 });
  otherClient = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: otherKey, maxRetries: 0 });
});

afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function upload(content: string, name = "train.jsonl", sdk = client) {
  return sdk.files.create({ file: await toFile(Buffer.from(content), name), purpose: "fine-tune" });
}

async function waitForStatus(jobId: string, status: string, sdk = client) {
  for (let attempt = 0; attempt < 200; attempt += 1) {
    const job = await sdk.fineTuning.jobs.retrieve(jobId);
    if (job.status === status) return job;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`job ${jobId} never became ${status}`);
}

describe("files through the official openai SDK", () => {
  it("uploads, lists, retrieves, downloads and deletes a file", async () => {
    const file = await upload(trainingJsonl);
    expect(file).toMatchObject({ object: "file", purpose: "fine-tune", filename: "train.jsonl", bytes: Buffer.byteLength(trainingJsonl), status: "processed" });
    expect(file.id).toMatch(/^file-[0-9A-Za-z]+$/);

    const listed = [];
    for await (const item of client.files.list()) listed.push(item.id);
    expect(listed).toContain(file.id);

    expect((await client.files.retrieve(file.id)).bytes).toBe(file.bytes);
    expect(await (await client.files.content(file.id)).text()).toBe(trainingJsonl);

    expect(await client.files.delete(file.id)).toEqual({ id: file.id, object: "file", deleted: true });
    await expect(client.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
  });

  it("marks a file with broken lines as `error` and says which line", async () => {
    const file = await upload(`${chatLine(1)}\n{"messages": [\n`, "broken.jsonl");
    expect(file.status).toBe("error");
    expect(file.status_details).toMatch(/line 2/);
  });

  it("answers 413 for an upload over --max-upload-mb and keeps nothing", async () => {
    const before = (await client.files.list()).data.length;
    const big = chatLine(0).padEnd(60_000, " ");
    const error = await upload(big).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(413);
    expect((await client.files.list()).data.length).toBe(before);
  });

  it("answers 400 naming `purpose` for a wrong purpose", async () => {
    const error = (await client.files.create({ file: await toFile(Buffer.from(trainingJsonl), "x.jsonl"), purpose: "batch" }).catch((caught: unknown) => caught)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(error.status).toBe(400);
    expect(error.param).toBe("purpose");
  });
});

describe("fine-tuning jobs through the official openai SDK", () => {
  it("creates a job that goes validating_files -> queued, then cancels it; a second cancel is 409", async () => {
    const file = await upload(trainingJsonl);
    const created = await client.fineTuning.jobs.create({
      model: "tiny-base",
      training_file: file.id,
      suffix: "recipes",
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 2 } } },
      metadata: { team: "a" },
    });
    expect(created).toMatchObject({
      object: "fine_tuning.job",
      status: "validating_files",
      model: "tiny-base",
      training_file: file.id,
      fine_tuned_model: null,
      user_provided_suffix: "recipes",
      metadata: { team: "a" },
    });
    expect(created.id).toMatch(/^ftjob-/);
    expect(created.hyperparameters).toEqual({ batch_size: "auto", learning_rate_multiplier: "auto", n_epochs: 2 });

    await waitForStatus(created.id, "queued");
    const cancelled = await client.fineTuning.jobs.cancel(created.id);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.finished_at).not.toBeNull();

    const again = (await client.fineTuning.jobs.cancel(created.id).catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;
    expect(again.status).toBe(409);
    expect(again.error).toMatchObject({ type: "invalid_request_error", code: "invalid_state_transition" });
    const paused = (await client.fineTuning.jobs.pause(created.id).catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;
    expect(paused.status).toBe(409);

    const events = [];
    for await (const event of client.fineTuning.jobs.listEvents(created.id)) events.push(event);
    expect(events.map((event) => event.message).reverse()).toEqual([
      `Validating training file: ${file.id}`,
      "Files validated (12 training examples); job queued",
      "Fine-tuning job cancelled",
    ]);
    expect(events.every((event) => event.id.startsWith("ftevent-") && event.object === "fine_tuning.job.event")).toBe(true);
  });

  it("refuses a job whose training file the server marked `error`, with the file's problems (400)", async () => {
    const file = await upload(`${chatLine(1)}\nnot json\n`, "bad.jsonl");
    const refused = (await client.fineTuning.jobs.create({ model: "tiny-base", training_file: file.id }).catch((caught: unknown) => caught)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(refused.status).toBe(400);
    expect(refused.error).toMatchObject({ code: "invalid_training_file", param: "training_file" });
    expect(refused.message).toMatch(/line 2/);
  });

  it("pages events with after/limit/has_more", async () => {
    const file = await upload(trainingJsonl);
    const job = await client.fineTuning.jobs.create({ model: "tiny-base", training_file: file.id });
    await waitForStatus(job.id, "queued");
    await client.fineTuning.jobs.cancel(job.id);
    const first = await client.fineTuning.jobs.listEvents(job.id, { limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    const second = await client.fineTuning.jobs.listEvents(job.id, { limit: 2, after: first.data[1]!.id });
    expect(second.data).toHaveLength(1);
    expect(second.has_more).toBe(false);
    expect(second.data[0]!.message).toBe(`Validating training file: ${file.id}`);
  });

  it("lists jobs newest first with pagination", async () => {
    const page = await client.fineTuning.jobs.list({ limit: 1 });
    expect(page.data).toHaveLength(1);
    expect(page.has_more).toBe(true);
    const all = [];
    for await (const job of client.fineTuning.jobs.list({ limit: 1 })) all.push(job);
    const created = all.map((job) => job.created_at);
    expect([...created].sort((a, b) => b - a)).toEqual(created);
    expect(new Set(all.map((job) => job.id)).size).toBe(all.length);
  });

  it("answers 400 with `param` for bad parameters", async () => {
    const file = await upload(trainingJsonl);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ model: "tiny-base", training_file: file.id, hyperparameters: { n_epochs: 0 } }, "hyperparameters.n_epochs"],
      [{ model: "no-such-model", training_file: file.id }, "model"],
      [{ model: "tiny-base", training_file: file.id, suffix: "has spaces" }, "suffix"],
      [{ model: "tiny-base", training_file: file.id, epochs: 3 }, "epochs"],
    ];
    for (const [body, param] of cases) {
      const error = (await client.fineTuning.jobs.create(body as never).catch((caught: unknown) => caught)) as InstanceType<typeof OpenAI.APIError>;
      expect(error.status, JSON.stringify(body)).toBe(400);
      expect(error.param).toBe(param);
    }
    const missing = (await client.fineTuning.jobs.create({ model: "tiny-base", training_file: "file-doesnotexist000" }).catch((caught: unknown) => caught)) as InstanceType<
      typeof OpenAI.APIError
    >;
    expect(missing.status).toBe(404);
    expect(missing.param).toBe("training_file");
  });

  it("answers 401 without a key or with a wrong one", async () => {
    const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "tk-wrong", maxRetries: 0 });
    await expect(wrong.files.list()).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });
    const response = await fetch(`${server.url}/v1/fine_tuning/jobs`);
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { type: "invalid_request_error", code: "missing_api_key", param: "Authorization" } });
  });

  it("keeps projects apart: another project's ids answer 404", async () => {
    const file = await upload(trainingJsonl);
    const job = await client.fineTuning.jobs.create({ model: "tiny-base", training_file: file.id });
    await expect(otherClient.files.retrieve(file.id)).rejects.toMatchObject({ status: 404 });
    await expect(otherClient.files.delete(file.id)).rejects.toMatchObject({ status: 404 });
    await expect(otherClient.fineTuning.jobs.retrieve(job.id)).rejects.toMatchObject({ status: 404 });
    await expect(otherClient.fineTuning.jobs.cancel(job.id)).rejects.toMatchObject({ status: 404 });
    await expect(otherClient.fineTuning.jobs.create({ model: "tiny-base", training_file: file.id })).rejects.toMatchObject({ status: 404, param: "training_file" });
    expect((await otherClient.fineTuning.jobs.list()).data).toEqual([]);
    await waitForStatus(job.id, "queued");
    await client.fineTuning.jobs.cancel(job.id);
  });

  it("refuses to delete a file a live job uses (409)", async () => {
    const file = await upload(trainingJsonl);
    const job = await client.fineTuning.jobs.create({ model: "tiny-base", training_file: file.id });
    await expect(client.files.delete(file.id)).rejects.toMatchObject({ status: 409 });
    await waitForStatus(job.id, "queued");
    await client.fineTuning.jobs.cancel(job.id);
    expect((await client.files.delete(file.id)).deleted).toBe(true);
  });

  it("streams events as server-sent events until the job ends", async () => {
    const file = await upload(trainingJsonl);
    const job = await client.fineTuning.jobs.create({ model: "tiny-base", training_file: file.id });
    await waitForStatus(job.id, "queued");
    const response = await fetch(`${server.url}/v1/fine_tuning/jobs/${job.id}/events?stream=true`, { headers: { authorization: `Bearer ${client.apiKey}` } });
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    const cancelLater = setTimeout(() => void client.fineTuning.jobs.cancel(job.id), 300);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value);
    }
    clearTimeout(cancelLater);
    const blocks = text.split("\n\n").filter(Boolean);
    const payloads = blocks.map((block) =>
      block
        .split("\n")
        .find((line) => line.startsWith("data: "))!
        .slice("data: ".length),
    );
    expect(payloads.at(-1)).toBe("[DONE]");
    // each event message carries the event's id, which a reconnect sends back (`Last-Event-ID` or `after`)
    expect(blocks.slice(0, -1).map((block) => block.split("\n")[0])).toEqual(payloads.slice(0, -1).map((payload) => `id: ${(JSON.parse(payload) as { id: string }).id}`));
    const messages = payloads.slice(0, -1).map((payload) => (JSON.parse(payload) as { message: string }).message);
    expect(messages[0]).toBe(`Validating training file: ${file.id}`);
    expect(messages.at(-1)).toBe("Fine-tuning job cancelled");
  });
});

describe("server lifecycle", () => {
  it("closing the server ends open event streams instead of waiting for their jobs", async () => {
    const ownDir = mkdtempSync(join(tmpdir(), "tunekit-server-close-"));
    const own = await startServer({ port: 0, dataDir: ownDir, models: ["tiny-base"], maxConcurrentJobs: 0, noAuth: true });
    try {
      const sdk = new OpenAI({ baseURL: `${own.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const file = await sdk.files.create({ file: await toFile(Buffer.from(trainingJsonl), "t.jsonl"), purpose: "fine-tune" });
      const job = await sdk.fineTuning.jobs.create({ model: "tiny-base", training_file: file.id });
      const response = await fetch(`${own.url}/v1/fine_tuning/jobs/${job.id}/events?stream=true`);
      const reading = response.text();
      const started = Date.now();
      await own.close();
      expect(Date.now() - started).toBeLessThan(3000);
      expect(await reading).toContain(`Validating training file: ${file.id}`);
    } finally {
      await own.close();
      rmSync(ownDir, { recursive: true, force: true });
    }
  });
});

describe("models and the OpenAPI document", () => {
  it("lists the configured base models", async () => {
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toContain("tiny-base");
    expect((await client.models.retrieve("tiny-base")).object).toBe("model");
  });

  it("serves /openapi.json with every route", async () => {
    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(document.openapi).toMatch(/^3\./);
    for (const path of [
      "/v1/files",
      "/v1/files/{id}/content",
      "/v1/fine_tuning/jobs",
      "/v1/fine_tuning/jobs/{id}/events",
      "/v1/fine_tuning/jobs/{id}/checkpoints",
      "/v1/fine_tuning/jobs/{id}/pause",
      "/v1/models",
    ]) {
      expect(Object.keys(document.paths)).toContain(path);
    }
  });

  it("answers as /openapi.json documents: every route's body fits its response schema, errors fit the envelope", async () => {
    const contract = await OpenApiContract.fetch(server.url);
    const call = async (method: string, documented: string, url: string, expectedStatus: number, body?: unknown) => {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${apiKey}` } };
      if (body instanceof FormData) init.body = body;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers = { ...init.headers, "content-type": "application/json" };
      }
      const response = await fetch(`${server.url}${url}`, init);
      const json = (await response.json()) as Record<string, unknown>;
      expect(response.status, `${method} ${url}: ${JSON.stringify(json)}`).toBe(expectedStatus);
      contract.expectDocumented(method, documented, response.status, json);
      return json;
    };
    const form = () => {
      const data = new FormData();
      data.set("purpose", "fine-tune");
      data.set("file", new Blob([trainingJsonl]), "contract.jsonl");
      return data;
    };
    const file = await call("POST", "/v1/files", "/v1/files", 200, form());
    const spare = await call("POST", "/v1/files", "/v1/files", 200, form());
    await call("GET", "/v1/files", "/v1/files", 200);
    await call("GET", "/v1/files/{id}", `/v1/files/${file.id}`, 200);
    await call("GET", "/v1/files/{id}", "/v1/files/file-missing", 404);
    await call("DELETE", "/v1/files/{id}", `/v1/files/${spare.id}`, 200);

    const job = await call("POST", "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs", 200, {
      model: "tiny-base",
      training_file: file.id,
      suffix: "contract",
      metadata: { run: "contract" },
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 2 } } },
    });
    await call("POST", "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs", 400, { model: "tiny-base", training_file: file.id, hyperparameters: { n_epochs: -1 } });
    await waitForStatus(String(job.id), "queued");
    await call("GET", "/v1/fine_tuning/jobs", "/v1/fine_tuning/jobs?limit=3", 200);
    await call("GET", "/v1/fine_tuning/jobs/{id}", `/v1/fine_tuning/jobs/${job.id}`, 200);
    const events = await call("GET", "/v1/fine_tuning/jobs/{id}/events", `/v1/fine_tuning/jobs/${job.id}/events`, 200);
    expect((events.data as unknown[]).length).toBeGreaterThan(0);
    await call("GET", "/v1/fine_tuning/jobs/{id}/checkpoints", `/v1/fine_tuning/jobs/${job.id}/checkpoints`, 200);
    await call("POST", "/v1/fine_tuning/jobs/{id}/pause", `/v1/fine_tuning/jobs/${job.id}/pause`, 409);
    await call("POST", "/v1/fine_tuning/jobs/{id}/cancel", `/v1/fine_tuning/jobs/${job.id}/cancel`, 200);
    await call("POST", "/v1/fine_tuning/jobs/{id}/cancel", `/v1/fine_tuning/jobs/${job.id}/cancel`, 409);

    await call("GET", "/v1/models", "/v1/models", 200);
    await call("GET", "/v1/models/{*}", "/v1/models/tiny-base", 200);
    await call("GET", "/v1/models/{*}", "/v1/models/no-such-model", 404);
  });

  it("the contract check fails for a body its schema does not allow", async () => {
    const contract = await OpenApiContract.fetch(server.url);
    expect(() =>
      contract.expectDocumented("GET", "/v1/files/{id}", 200, {
        id: "file-1",
        object: "file",
        bytes: "12",
        created_at: 1,
        filename: "a",
        purpose: "fine-tune",
        status: "processed",
      }),
    ).toThrow(/bytes/);
    expect(() => contract.expectDocumented("GET", "/v1/files/{id}", 404, { error: { message: "gone" } })).toThrow(/type/);
  });
});
