/**
 * The OpenAI contract of `tunekit server` through the official Python SDK and through `curl`.
 *
 * test/python/openai_sdk_contract.py drives a real server (a tiny random Llama, trained by the real
 * worker, served by node-llama-cpp) with `openai.OpenAI` and `openai.AzureOpenAI` on every endpoint:
 * files, jobs (auto-paging, events, checkpoints, pause, resume, cancel), models, chat completions
 * (plain, streamed, structured) and each typed error. It runs asynchronously (the server lives in
 * this process), asserts as it goes and prints a JSON summary that is checked here against the
 * server. Then `curl` speaks the raw wire: a multipart upload, a JSON job, server-sent events, and
 * error bodies with their status.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { OpenApiContract } from "./helpers/openapi-contract.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

const runFile = promisify(execFile);
const contractScript = resolve("test/python/openai_sdk_contract.py");
const MODEL = "tiny-llama";
const AZURE_API_VERSION = "2024-10-21";

function succeeds(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

// chat needs the worker's GGUF export too; the script needs the `openai` package in the venv
const havePythonSdk = haveWorker && existsSync(join(workerRoot, "tunekit_worker", "export.py")) && succeeds(python, ["-c", "import openai"]);
const haveCurl = succeeds("curl", ["--version"]);

/** What the Python script prints on its last stdout line. */
interface PythonSdkSummary {
  sdk: string;
  version: string;
  training_file_id: string;
  deleted_file_id: string;
  files_listed: number;
  succeeded_job_id: string;
  fine_tuned_model: string;
  trained_tokens: number;
  events_listed: number;
  checkpoints_listed: number;
  paused_job_id: string;
  paused_job_events: number;
  jobs_listed: number;
  chat_completion_id: string;
  chat_text: string;
  stream_chunks: number;
  structured_answer: { color: string; ripe: boolean };
  parsed_answer: { color: string; ripe: boolean };
  retry_after: number;
  azure_chat_model: string;
  azure_job_status: string;
  errors: Record<string, string | null>;
  seconds: number;
}

interface CurlAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

let workDir: string;
let server: RunningServer;
let apiKey: string;
let contract: OpenApiContract;

/** The environment for the script: none of the caller's OpenAI or Azure settings leak into the SDK. */
function scriptEnvironment(): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { PYTHONUNBUFFERED: "1" };
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(OPENAI_|AZURE_OPENAI_)/.test(name)) environment[name] = value;
  }
  return environment;
}

async function runContractScript(): Promise<{ summary: PythonSdkSummary; log: string }> {
  try {
    const { stdout, stderr } = await runFile(python, [contractScript, server.url, apiKey, MODEL], { env: scriptEnvironment(), timeout: 170_000, maxBuffer: 16 << 20 });
    const lastLine = stdout.trim().split("\n").at(-1) ?? "";
    return { summary: JSON.parse(lastLine) as PythonSdkSummary, log: stderr };
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string; code?: number | string; signal?: string };
    throw new Error(
      `the Python SDK contract failed (exit ${String(failed.code ?? failed.signal)}):\n${(failed.stderr ?? "").slice(-6000)}\n${(failed.stdout ?? "").slice(-2000)}`,
      { cause: error },
    );
  }
}

/** `curl` with the response headers on stdout (`-D -`), split into status, headers and body. */
async function curl(args: string[]): Promise<CurlAnswer> {
  const { stdout } = await runFile("curl", ["-sS", "--max-time", "60", "-D", "-", ...args], { maxBuffer: 16 << 20 });
  let rest = stdout;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) throw new Error(`curl printed no header block: ${stdout.slice(0, 300)}`);
    const block = rest.slice(0, end).split("\r\n");
    rest = rest.slice(end + 4);
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(block[0] ?? "")?.[1]);
    // an interim `100 Continue` comes before the real answer's headers
    if (status === 100) continue;
    const headers: Record<string, string> = {};
    for (const line of block.slice(1)) {
      const colon = line.indexOf(":");
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers, body: rest };
  }
}

function bearer(): string[] {
  return ["-H", `Authorization: Bearer ${apiKey}`];
}

async function getJson(path: string): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${apiKey}` } });
  return { status: response.status, body: await response.json() };
}

/** An error body is OpenAI's envelope and nothing more. */
function expectEnvelope(answer: CurlAnswer, status: number, code: string, param: string | null): ErrorBody {
  expect(answer.status, answer.body).toBe(status);
  expect(answer.headers["content-type"]).toMatch(/^application\/json/);
  const body = JSON.parse(answer.body) as ErrorBody;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
  expect(body.error).toMatchObject({ type: status >= 500 ? "server_error" : "invalid_request_error", code, param });
  expect(body.error.message.length).toBeGreaterThan(0);
  return body;
}

function chatLine(thing: string): string {
  return JSON.stringify({
    messages: [
      { role: "user", content: `What color is the ${thing}?` },
      { role: "assistant", content: `The ${thing} is red.` },
    ],
  });
}

describe.skipIf(!havePythonSdk)("the OpenAI contract through the official Python SDK and curl", () => {
  let summary: PythonSdkSummary;

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-python-sdk-"));
    // before the server starts: a synchronous child process would block it
    buildTinyLlama(join(workDir, MODEL));
    server = await startServer({
      port: 0,
      dataDir: join(workDir, "data"),
      models: [join(workDir, MODEL)],
      webRoot: null,
      backend: new LocalExecutionBackend({ python, workerRoot }),
      trainingDefaults: { device: "cpu", threads: 1, max_steps: 4, checkpoint_every: 2, eval_every: 2 },
      maxSeqLen: 64,
      // one slot and a queue of one per model: the script provokes a 429 by holding the slot
      serve: { parallelism: 1, maxQueue: 1, contextSize: 2048, threads: 1, worker: { python, workerRoot } },
    });
    apiKey = (await server.services.keys.createKey("python-sdk")).key;
    contract = await OpenApiContract.fetch(server.url);
  }, 120_000);

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("passes every check of test/python/openai_sdk_contract.py, and the server agrees with its summary", async () => {
    const run = await runContractScript();
    summary = run.summary;
    expect(summary.sdk).toBe("openai-python");
    expect(Object.keys(summary.errors).sort()).toEqual(["AuthenticationError", "BadRequestError", "ConflictError", "NotFoundError", "RateLimitError", "chat BadRequestError"]);
    expect(summary.errors).toMatchObject({
      AuthenticationError: "invalid_api_key",
      ConflictError: "file_in_use",
      RateLimitError: "rate_limit_exceeded",
      "chat BadRequestError": "temperature",
    });
    expect(summary.retry_after).toBeGreaterThanOrEqual(1);

    // the jobs the SDK saw, as the server holds them (and as /openapi.json documents them)
    const trained = await getJson(`/v1/fine_tuning/jobs/${summary.succeeded_job_id}`);
    contract.expectDocumented("GET", "/v1/fine_tuning/jobs/{id}", 200, trained.body);
    expect(trained.body).toMatchObject({
      status: "succeeded",
      fine_tuned_model: summary.fine_tuned_model,
      trained_tokens: summary.trained_tokens,
      seed: 7,
      user_provided_suffix: "sdkpy",
    });
    expect((await getJson(`/v1/fine_tuning/jobs/${summary.paused_job_id}`)).body).toMatchObject({ status: "cancelled" });
    const events = await getJson(`/v1/fine_tuning/jobs/${summary.succeeded_job_id}/events?limit=100`);
    contract.expectDocumented("GET", "/v1/fine_tuning/jobs/{id}/events", 200, events.body);
    expect((events.body as { data: unknown[] }).data).toHaveLength(summary.events_listed);
    // a cancelled worker may still report an event or two after the script counted them
    expect(((await getJson(`/v1/fine_tuning/jobs/${summary.paused_job_id}/events?limit=100`)).body as { data: unknown[] }).data.length).toBeGreaterThanOrEqual(
      summary.paused_job_events,
    );
    expect(((await getJson(`/v1/fine_tuning/jobs/${summary.succeeded_job_id}/checkpoints?limit=100`)).body as { data: unknown[] }).data).toHaveLength(summary.checkpoints_listed);
    expect(((await getJson("/v1/fine_tuning/jobs?limit=100")).body as { data: unknown[] }).data).toHaveLength(summary.jobs_listed);
    const models = (await getJson("/v1/models")).body as { data: Array<{ id: string }> };
    expect(models.data.map((model) => model.id)).toEqual(expect.arrayContaining([MODEL, summary.fine_tuned_model]));
    // both files the script made are gone (the training file once its jobs had ended)
    expect((await getJson(`/v1/files/${summary.training_file_id}`)).status).toBe(404);
    expect((await getJson(`/v1/files/${summary.deleted_file_id}`)).status).toBe(404);

    expect(summary.chat_completion_id).toMatch(/^chatcmpl-/);
    expect(summary.stream_chunks).toBeGreaterThanOrEqual(3);
    expect(["red", "blue", "green"]).toContain(summary.structured_answer.color);
    expect(summary.azure_chat_model).toBe(MODEL);
    expect(summary.azure_job_status).toBe("succeeded");
    // the request the client abandoned freed its slot: nothing runs or waits any more
    const queue = server.services.chat!.queueOf(MODEL);
    expect({ active: queue.active, queued: queue.queued }).toEqual({ active: 0, queued: 0 });
  }, 180_000);

  it.skipIf(!haveCurl)(
    "speaks the raw wire with curl: multipart upload, JSON job, event stream, chat stream, error bodies",
    async () => {
      const dataset = join(workDir, "curl-colors.jsonl");
      const datasetText = `${["apple", "sky", "coal", "snow", "plum", "grass", "lemon", "cherry", "carrot", "banana", "pear", "lime"].map(chatLine).join("\n")}\n`;
      writeFileSync(dataset, datasetText);
      const upload = await curl([...bearer(), "-F", "purpose=fine-tune", "-F", `file=@${dataset}`, `${server.url}/v1/files`]);
      expect(upload.status, upload.body).toBe(200);
      const file = JSON.parse(upload.body) as { id: string; bytes: number; filename: string; status: string };
      contract.expectDocumented("POST", "/v1/files", 200, file);
      expect(file).toMatchObject({ bytes: Buffer.byteLength(datasetText), filename: "curl-colors.jsonl", status: "processed" });

      const created = await curl([
        ...bearer(),
        "-H",
        "Content-Type: application/json",
        "-d",
        JSON.stringify({ model: MODEL, training_file: file.id, suffix: "curl" }),
        `${server.url}/v1/fine_tuning/jobs`,
      ]);
      expect(created.status, created.body).toBe(200);
      const job = JSON.parse(created.body) as { id: string; status: string };
      contract.expectDocumented("POST", "/v1/fine_tuning/jobs", 200, job);
      expect(job.status).toBe("validating_files");

      // a POST without a body or a content type, as curl sends it
      const cancelled = await curl([...bearer(), "-X", "POST", `${server.url}/v1/fine_tuning/jobs/${job.id}/cancel`]);
      expect(cancelled.status, cancelled.body).toBe(200);
      expect(JSON.parse(cancelled.body)).toMatchObject({ id: job.id, status: "cancelled" });
      const again = await curl([...bearer(), "-X", "POST", `${server.url}/v1/fine_tuning/jobs/${job.id}/cancel`]);
      expectEnvelope(again, 409, "invalid_state_transition", "status");
      expect(again.headers["x-should-retry"]).toBe("false");

      // the events of an ended job as server-sent events: `id:` + `data:` per event, oldest first, then [DONE]
      const events = await curl([...bearer(), "-N", `${server.url}/v1/fine_tuning/jobs/${job.id}/events?stream=true`]);
      expect(events.status).toBe(200);
      expect(events.headers["content-type"]).toMatch(/^text\/event-stream/);
      const blocks = events.body.split("\n\n").filter((block) => block.trim() !== "" && !block.startsWith(":"));
      expect(blocks.at(-1)).toBe("data: [DONE]");
      const streamed = blocks.slice(0, -1).map((block) => {
        const [idLine, dataLine] = block.split("\n");
        const event = JSON.parse(dataLine!.slice("data: ".length)) as { id: string; object: string; message: string };
        expect(idLine).toBe(`id: ${event.id}`);
        expect(event.object).toBe("fine_tuning.job.event");
        return event.message;
      });
      expect(streamed[0]).toBe(`Validating training file: ${file.id}`);
      expect(streamed.at(-1)).toBe("Fine-tuning job cancelled");

      // a chat completion streamed on the wire: chunks, then data: [DONE]
      const chat = await curl([
        ...bearer(),
        "-N",
        "-H",
        "Content-Type: application/json",
        "-d",
        JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "What color is the sky?" }], max_tokens: 4, temperature: 0, stream: true }),
        `${server.url}/v1/chat/completions`,
      ]);
      expect(chat.status, chat.body).toBe(200);
      expect(chat.headers["content-type"]).toMatch(/^text\/event-stream/);
      const chatLines = chat.body.split("\n").filter((line) => line !== "");
      expect(chatLines.at(-1)).toBe("data: [DONE]");
      const chunks = chatLines.slice(0, -1).map((line) => JSON.parse(line.slice("data: ".length)) as { object: string; choices: Array<{ finish_reason: string | null }> });
      expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk")).toBe(true);
      expect(["stop", "length"]).toContain(chunks.at(-1)!.choices[0]!.finish_reason);

      // error bodies with their status: OpenAI's envelope, documented in /openapi.json
      const unknownJob = await curl([...bearer(), `${server.url}/v1/fine_tuning/jobs/ftjob-doesnotexist000000`]);
      contract.expectDocumented("GET", "/v1/fine_tuning/jobs/{id}", 404, expectEnvelope(unknownJob, 404, "job_not_found", "fine_tuning_job_id"));
      const badJson = await curl([...bearer(), "-H", "Content-Type: application/json", "-d", '{"model": ', `${server.url}/v1/fine_tuning/jobs`]);
      contract.expectDocumented("POST", "/v1/fine_tuning/jobs", 400, expectEnvelope(badJson, 400, "invalid_json", "body"));
      const badTemperature = await curl([
        ...bearer(),
        "-H",
        "Content-Type: application/json",
        "-d",
        JSON.stringify({ model: MODEL, messages: [{ role: "user", content: "hi" }], temperature: 5 }),
        `${server.url}/v1/chat/completions`,
      ]);
      contract.expectDocumented("POST", "/v1/chat/completions", 400, expectEnvelope(badTemperature, 400, "invalid_request", "temperature"));
      const noKey = await curl([`${server.url}/v1/files`]);
      expectEnvelope(noKey, 401, "missing_api_key", "Authorization");
      const wrongAzureKey = await curl(["-H", "api-key: tk-wrong", `${server.url}/openai/files?api-version=${AZURE_API_VERSION}`]);
      expectEnvelope(wrongAzureKey, 401, "invalid_api_key", "Authorization");
      const noApiVersion = await curl(["-H", `api-key: ${apiKey}`, `${server.url}/openai/files`]);
      expectEnvelope(noApiVersion, 400, "missing_api_version", "api-version");
      // the Azure shape with the right key answers the same files as /v1
      const azureFiles = await curl(["-H", `api-key: ${apiKey}`, `${server.url}/openai/files?api-version=${AZURE_API_VERSION}`]);
      expect(azureFiles.status, azureFiles.body).toBe(200);
      expect((JSON.parse(azureFiles.body) as { data: Array<{ id: string }> }).data.map((entry) => entry.id)).toContain(file.id);

      const deleted = await curl([...bearer(), "-X", "DELETE", `${server.url}/v1/files/${file.id}`]);
      expect(deleted.status, deleted.body).toBe(200);
      expect(JSON.parse(deleted.body)).toEqual({ id: file.id, object: "file", deleted: true });
      expectEnvelope(await curl([...bearer(), "-X", "DELETE", `${server.url}/v1/files/${file.id}`]), 404, "file_not_found", "file_id");
    },
    60_000,
  );
});
