/**
 * Tunekit's own endpoints under /v1/tunekit (the web UI is one of their clients), against a real
 * server, the real Python worker and a tiny random Llama: the dataset toolkit on uploaded files,
 * the config check with its copy-as commands (each one run for real: the tunekit CLI, curl, the
 * openai SDK for Node and for Python), the estimate, the model catalogue, job views and the worker
 * log, the template's prompt, checkpoint serving, and SSE resume. Answers are checked against the
 * server's own /openapi.json.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parquetWriteFile } from "hyparquet-writer";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { OpenApiContract } from "./helpers/openapi-contract.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

const THINGS = ["apple", "sky", "grass", "banana", "coal", "snow", "plum", "carrot", "lemon", "cherry", "night", "cloud"];
const line = (thing: string) =>
  JSON.stringify({
    messages: [
      { role: "user", content: `What color is the ${thing}?` },
      { role: "assistant", content: `The ${thing} is red.` },
    ],
  });
const GOOD = THINGS.map(line).join("\n") + "\n";

let workDir: string;
let server: RunningServer;
let client: OpenAI;
let contract: OpenApiContract;
let apiKey: string;

async function call<T>(method: string, path: string, documented: string, body?: unknown): Promise<{ status: number; body: T }> {
  const response = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = (await response.json()) as T;
  contract.expectDocumented(method, documented, response.status, answer);
  return { status: response.status, body: answer };
}

/** A command run the way a user pastes it (asynchronously: the server answering it runs in this process). */
function run(command: string, args: string[], environment: NodeJS.ProcessEnv): Promise<{ status: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(command, args, { env: environment, encoding: "utf8", timeout: 120_000 }, (error, stdout, stderr) =>
      done({ status: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function upload(name: string, content: string | Buffer): Promise<OpenAI.FileObject> {
  return client.files.create({ file: await toFile(Buffer.from(content), name), purpose: "fine-tune" });
}

async function waitForJob(jobId: string, statuses: string[]): Promise<OpenAI.FineTuning.FineTuningJob> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = await client.fineTuning.jobs.retrieve(jobId);
    if (statuses.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} is ${job.status}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

describe.skipIf(!haveWorker)("/v1/tunekit against a real server and worker", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-api-"));
    buildTinyLlama(join(workDir, "tiny-llama"));
    server = await startServer({
      port: 0,
      dataDir: join(workDir, "data"),
      models: [join(workDir, "tiny-llama")],
      backend: new LocalExecutionBackend({ python, workerRoot }),
      trainingDefaults: { device: "cpu", threads: 1, eval_every: 2, checkpoint_every: 2 },
      maxSeqLen: 64,
      serve: { threads: 1 },
      webRoot: null,
    });
    apiKey = (await server.services.keys.createKey("api-tests")).key;
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 });
    contract = await OpenApiContract.fetch(server.url);
  });

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("describes the server and its base models with size and context length", async () => {
    const info = await call<{ auth: boolean; project: { name: string }; max_upload_bytes: number; engine: string; defaults: { data: { max_seq_len: number } } }>(
      "GET",
      "/v1/tunekit/server",
      "/v1/tunekit/server",
    );
    expect(info.body).toMatchObject({ auth: true, project: { name: "api-tests" }, max_upload_bytes: 512 << 20, engine: "llama-cpp", defaults: { data: { max_seq_len: 64 } } });
    const models = await call<{ data: Array<Record<string, unknown>> }>("GET", "/v1/tunekit/models", "/v1/tunekit/models");
    const config = JSON.parse(readFileSync(join(workDir, "tiny-llama", "config.json"), "utf8")) as {
      max_position_embeddings: number;
      hidden_size: number;
      num_hidden_layers: number;
    };
    expect(models.body.data).toEqual([
      expect.objectContaining({
        id: "tiny-llama",
        kind: "hf-folder",
        context_length: config.max_position_embeddings,
        hidden_size: config.hidden_size,
        layers: config.num_hidden_layers,
        parameters: expect.any(Number),
        bytes: expect.any(Number),
      }),
    ]);
    expect(models.body.data[0]?.parameters as number).toBeGreaterThan(1000);
  });

  it("reports every problem of a file with its line, column and fix, and shows the raw lines", async () => {
    const file = await upload("bad.jsonl", `${GOOD}{"messages": [}\n${line("apple")}\n`);
    expect(file.status).toBe("error");
    const report = await call<{
      ok: boolean;
      format: string;
      counts: Record<string, { count: number; severity: string }>;
      problems: Array<{ line: number; code: string; column?: number; fix: string; severity: string }>;
    }>("GET", `/v1/tunekit/files/${file.id}/report`, "/v1/tunekit/files/{id}/report");
    expect(report.body).toMatchObject({
      ok: false,
      format: "chat",
      counts: { invalid_json: { count: 1, severity: "error" }, duplicate_example: { count: 1, severity: "warning" } },
    });
    expect(report.body.problems).toContainEqual(
      expect.objectContaining({ line: 13, code: "invalid_json", column: 15, severity: "error", fix: expect.stringMatching(/double quotes/) }),
    );
    expect(report.body.problems).toContainEqual(expect.objectContaining({ line: 14, code: "duplicate_example", fix: expect.any(String) }));
    const lines = await call<{ lines: string[]; end_of_file: boolean }>("GET", `/v1/tunekit/files/${file.id}/lines?start=13&count=5`, "/v1/tunekit/files/{id}/lines");
    expect(lines.body).toEqual({ start: 13, lines: ['{"messages": [}', line("apple")], end_of_file: true });
    const tooMany = await call<{ error: { param: string } }>("GET", `/v1/tunekit/files/${file.id}/lines?start=1&count=501`, "/v1/tunekit/files/{id}/lines");
    expect(tooMany).toMatchObject({ status: 400, body: { error: { param: "count" } } });
  });

  it("fixes write a new file and never touch the original", async () => {
    const content = `\uFEFF${GOOD}{"messages": [}\n${line("apple")}\n`;
    const file = await upload("bom.jsonl", content);
    const fixed = await call<{ file: OpenAI.FileObject; report: { kept: number; removed: Record<string, number>; bomStripped: boolean } }>(
      "POST",
      `/v1/tunekit/files/${file.id}/fix`,
      "/v1/tunekit/files/{id}/fix",
      { drop_invalid: true, drop_duplicates: true, strip_bom: true },
    );
    expect(fixed.body.report).toMatchObject({ kept: 12, removed: { invalid: 1, duplicate: 1 }, bomStripped: true });
    expect(fixed.body.file).toMatchObject({ filename: "bom.fixed.jsonl", status: "processed" });
    const bytes = async (id: string) => Buffer.from(await (await client.files.content(id)).arrayBuffer());
    expect((await bytes(fixed.body.file.id)).equals(Buffer.from(GOOD))).toBe(true);
    expect((await bytes(file.id)).equals(Buffer.from(content))).toBe(true);
    // over the context of a model, and overlap with a validation file
    const validation = await upload("validation.jsonl", THINGS.slice(0, 10).map(line).join("\n") + "\n");
    const long = JSON.stringify({
      messages: [
        { role: "user", content: "word ".repeat(400) },
        { role: "assistant", content: "ok" },
      ],
    });
    const mixed = await upload("mixed.jsonl", `${THINGS.map((thing) => line(`big ${thing}`)).join("\n")}\n${long}\n${line("apple")}\n`);
    const trimmed = await call<{ report: { kept: number; removed: Record<string, number> } }>("POST", `/v1/tunekit/files/${mixed.id}/fix`, "/v1/tunekit/files/{id}/fix", {
      drop_over_context: { model: "tiny-llama", max_tokens: 64 },
      remove_overlap_with: validation.id,
    });
    expect(trimmed.body.report).toMatchObject({ kept: 12, removed: { over_context: 1, validation_overlap: 1 } });
    const nothing = await call<{ error: { code: string } }>("POST", `/v1/tunekit/files/${file.id}/fix`, "/v1/tunekit/files/{id}/fix", {});
    expect(nothing).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
    const unknown = await call<{ error: { param: string } }>("POST", `/v1/tunekit/files/${file.id}/fix`, "/v1/tunekit/files/{id}/fix", { drop_everything: true });
    expect(unknown).toMatchObject({ status: 400, body: { error: { param: "drop_everything" } } });
  });

  it("maps a CSV's columns: suggestion, live preview, and a new chat JSONL file", async () => {
    const csv = ["question,answer,notes", ...THINGS.map((thing) => `"What color is the ${thing}?","It is red,\nsurely.",x`)].join("\r\n");
    const file = await upload("support.csv", csv);
    expect(file).toMatchObject({ status: "error", status_details: expect.stringMatching(/CSV file, not JSON Lines/) });
    const report = await call<{ needs_conversion: boolean; source_format: string }>("GET", `/v1/tunekit/files/${file.id}/report`, "/v1/tunekit/files/{id}/report");
    expect(report.body).toMatchObject({ needs_conversion: true, source_format: "csv" });
    const columns = await call<{ columns: string[]; rows: unknown[]; suggested: unknown }>("GET", `/v1/tunekit/files/${file.id}/columns`, "/v1/tunekit/files/{id}/columns");
    expect(columns.body).toMatchObject({
      columns: ["question", "answer", "notes"],
      suggested: { layout: "mapped", columns: { user: ["question"], assistant: ["answer"], system: [] } },
    });
    expect(columns.body.rows).toHaveLength(5);
    const mapping = { layout: "mapped", columns: { user: ["question"], assistant: ["answer"] }, system: "Name colors." };
    const preview = await call<{ examples: Array<{ example: { messages: Array<{ role: string; content: string }> } }> }>(
      "POST",
      `/v1/tunekit/files/${file.id}/preview`,
      "/v1/tunekit/files/{id}/preview",
      mapping,
    );
    expect(preview.body.examples[0]?.example.messages).toEqual([
      { role: "system", content: "Name colors." },
      { role: "user", content: "What color is the apple?" },
      { role: "assistant", content: "It is red,\nsurely." },
    ]);
    const converted = await call<{ file: OpenAI.FileObject; report: { written: number } }>(
      "POST",
      `/v1/tunekit/files/${file.id}/convert`,
      "/v1/tunekit/files/{id}/convert",
      mapping,
    );
    expect(converted.body).toMatchObject({ file: { filename: "support.chat.jsonl", status: "processed" }, report: { written: 12 } });
    const missing = await call<{ error: { param: string } }>("POST", `/v1/tunekit/files/${file.id}/preview`, "/v1/tunekit/files/{id}/preview", {
      layout: "mapped",
      columns: { user: ["question"] },
    });
    expect(missing).toMatchObject({ status: 400, body: { error: { param: "columns.assistant" } } });
    // Parquet: the same mapping from its schema's columns
    const parquetPath = join(workDir, "faq.parquet");
    parquetWriteFile({
      filename: parquetPath,
      columnData: [
        { name: "q", data: THINGS.map((thing) => `Color of the ${thing}?`), type: "STRING" },
        { name: "a", data: THINGS.map(() => "Red."), type: "STRING" },
      ],
    });
    const parquet = await upload("faq.parquet", readFileSync(parquetPath));
    expect((await call<{ source_format: string }>("GET", `/v1/tunekit/files/${parquet.id}/report`, "/v1/tunekit/files/{id}/report")).body.source_format).toBe("parquet");
    expect((await call<{ columns: string[] }>("GET", `/v1/tunekit/files/${parquet.id}/columns`, "/v1/tunekit/files/{id}/columns")).body.columns).toEqual(["q", "a"]);
    const fromParquet = await call<{ file: OpenAI.FileObject; report: { written: number } }>("POST", `/v1/tunekit/files/${parquet.id}/convert`, "/v1/tunekit/files/{id}/convert", {
      layout: "mapped",
      columns: { user: ["q"], assistant: ["a"] },
    });
    expect(fromParquet.body).toMatchObject({ file: { filename: "faq.chat.jsonl", status: "processed" }, report: { written: 12 } });
    // a JSON array needs a mapping too; binary and empty files are named as such
    const array = await upload("rows.json", JSON.stringify(THINGS.map((thing) => ({ prompt: `Color of ${thing}?`, completion: "red" }))));
    expect((await call<{ source_format: string }>("GET", `/v1/tunekit/files/${array.id}/report`, "/v1/tunekit/files/{id}/report")).body.source_format).toBe("json");
    const binary = await upload("weights.jsonl", Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00]));
    expect(binary.status_details).toMatch(/ZIP archive/);
    const empty = await fetch(`${server.url}/v1/files`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}` },
      body: (() => {
        const form = new FormData();
        form.append("purpose", "fine-tune");
        form.append("file", new Blob([]), "empty.jsonl");
        return form;
      })(),
    });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "empty_file", message: expect.stringMatching(/empty \(0 bytes\)/) });
  });

  it("splits deterministically and counts tokens with the model's own tokenizer", async () => {
    const all = await upload("all.jsonl", [...THINGS, ...THINGS.map((thing) => `dark ${thing}`)].map(line).join("\n") + "\n");
    const first = await call<{ train: OpenAI.FileObject; validation: OpenAI.FileObject; report: { examples: number } }>(
      "POST",
      `/v1/tunekit/files/${all.id}/split`,
      "/v1/tunekit/files/{id}/split",
      { validation: 0.25, seed: 7 },
    );
    const again = await call<{ train: OpenAI.FileObject; validation: OpenAI.FileObject }>("POST", `/v1/tunekit/files/${all.id}/split`, "/v1/tunekit/files/{id}/split", {
      validation: 0.25,
      seed: 7,
    });
    const text = async (id: string) => (await client.files.content(id)).text();
    expect(await text(first.body.validation.id)).toBe(await text(again.body.validation.id));
    expect((await text(first.body.validation.id)).trim().split("\n")).toHaveLength(6);
    expect((await text(first.body.train.id)).trim().split("\n")).toHaveLength(18);
    const stats = await call<{ examples: number; contextLength: number; totalTokens: number; histogram: unknown[] }>(
      "GET",
      `/v1/tunekit/files/${all.id}/stats?model=tiny-llama`,
      "/v1/tunekit/files/{id}/stats",
    );
    expect(stats.body).toMatchObject({ examples: 24, contextLength: expect.any(Number) });
    expect(stats.body.totalTokens).toBeGreaterThan(24 * 5);
    expect(stats.body.histogram.length).toBeGreaterThan(0);
  });

  it("checks a run config with field and line, and each copy-as command makes the same job", async () => {
    const schema = (await (await fetch(`${server.url}/v1/tunekit/config/schema`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as {
      properties: Record<string, unknown>;
    };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["model", "data", "training", "output"]));
    const train = await upload("train.jsonl", GOOD);
    const bad = await call<{ ok: boolean; problems: Array<{ field: string; line: number }> }>("POST", "/v1/tunekit/config/check", "/v1/tunekit/config/check", {
      yaml: `model: tiny-llama\ndata:\n  train: ${train.id}\ntraining:\n  lora:\n    r: 0\n  epochz: 2\n`,
    });
    expect(bad.body.ok).toBe(false);
    expect(bad.body.problems).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: "training.lora.r", line: 6 }), expect.objectContaining({ field: "training.epochz", line: 7 })]),
    );
    const path = await call<{ problems: Array<{ code: string; field: string }> }>("POST", "/v1/tunekit/config/check", "/v1/tunekit/config/check", {
      config: { model: "tiny-llama", data: { train: "data/train.jsonl" } },
    });
    expect(path.body.problems).toContainEqual(expect.objectContaining({ code: "not_a_file_id", field: "data.train" }));

    const yaml = `model: tiny-llama\ndata:\n  train: ${train.id}\n  max_seq_len: 48\ntraining:\n  method: lora\n  epochs: 2\n  max_steps: 4\n  lora:\n    r: 4\n    target_modules: [q_proj, v_proj]\n  seed: 11\noutput:\n  suffix: copied\n`;
    const checked = await call<{ ok: boolean; request: Record<string, unknown>; commands: { cli: string; curl: string; node: string; python: string } }>(
      "POST",
      "/v1/tunekit/config/check",
      "/v1/tunekit/config/check",
      { yaml },
    );
    expect(checked.body.ok).toBe(true);
    expect(checked.body.request).toEqual({
      model: "tiny-llama",
      training_file: train.id,
      suffix: "copied",
      seed: 11,
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 2 } } },
      tunekit: { training: { method: "lora", max_steps: 4, lora: { r: 4, target_modules: ["q_proj", "v_proj"] } }, data: { max_seq_len: 48 } },
    });
    const { commands } = checked.body;
    const environment = { ...process.env, TUNEKIT_API_KEY: apiKey };
    const created: string[] = [];
    const jobId = (output: string) => {
      const id = /ftjob-[A-Za-z0-9]+/.exec(output)?.[0];
      expect(id, output).toBeDefined();
      return id as string;
    };
    // the tunekit CLI, as printed (npx tunekit is this package's bin)
    const cli = await run("bash", ["-c", commands.cli.replace(/^npx tunekit/, `node ${resolve("dist/cli/main.js")}`) + ` --api-key ${apiKey}`], environment);
    expect(cli.status, cli.stderr).toBe(0);
    created.push(jobId(cli.stdout));
    const curl = await run("bash", ["-c", commands.curl], environment);
    expect(curl.status, curl.stderr).toBe(0);
    created.push(jobId(curl.stdout));
    const nodeFile = join(resolve(".tunekit"), `copy-as-${Date.now()}.mts`);
    writeFileSync(nodeFile, commands.node);
    try {
      const node = await run(resolve("node_modules/.bin/tsx"), [nodeFile], environment);
      expect(node.status, node.stderr).toBe(0);
      created.push(jobId(node.stdout));
    } finally {
      rmSync(nodeFile, { force: true });
    }
    const pythonRun = await run(python, ["-c", commands.python], environment);
    expect(pythonRun.status, pythonRun.stderr).toBe(0);
    created.push(jobId(pythonRun.stdout));

    const details = await Promise.all(
      created.map(
        async (id) =>
          (
            await call<{ job: { model: string; training_file: string; user_provided_suffix: string | null; seed: number; method: { type: string } }; options: unknown }>(
              "GET",
              `/v1/tunekit/jobs/${id}`,
              "/v1/tunekit/jobs/{id}",
            )
          ).body,
      ),
    );
    const shape = (detail: (typeof details)[number]) => ({
      model: detail.job.model,
      training_file: detail.job.training_file,
      suffix: detail.job.user_provided_suffix,
      seed: detail.job.seed,
      method: detail.job.method.type,
      options: detail.options,
    });
    expect(new Set(details.map((detail) => JSON.stringify(shape(detail)))).size).toBe(1);
    expect(shape(details[0]!)).toEqual({
      model: "tiny-llama",
      training_file: train.id,
      suffix: "copied",
      seed: 11,
      method: "supervised",
      options: { training: { method: "lora", max_steps: 4, lora: { r: 4, target_modules: ["q_proj", "v_proj"] } }, data: { max_seq_len: 48 } },
    });
    // they train as asked: 4 steps, rank 4 on q and v only, sequences of 48
    const done = await waitForJob(created[0]!, ["succeeded", "failed"]);
    expect(done.status, JSON.stringify(done.error)).toBe("succeeded");
    const resolved = (
      await call<{ resolved: { training: { lora: { r: number; target_modules: string[] }; max_steps: number }; data: { max_seq_len: number } } }>(
        "GET",
        `/v1/tunekit/jobs/${created[0]}`,
        "/v1/tunekit/jobs/{id}",
      )
    ).body.resolved;
    expect(resolved).toMatchObject({ training: { max_steps: 4, lora: { r: 4, target_modules: ["q_proj", "v_proj"] } }, data: { max_seq_len: 48 } });
    for (const id of created) await waitForJob(id, ["succeeded"]);
  });

  it("a job's own run-config fields are checked like tunekit.yaml, and OpenAI's own parameters stay OpenAI's", async () => {
    const train = await upload("train.jsonl", GOOD);
    const wrong = await client.fineTuning.jobs
      .create({ model: "tiny-llama", training_file: train.id, tunekit: { training: { lora: { r: 0 } } } } as never)
      .catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect(wrong).toBeInstanceOf(OpenAI.BadRequestError);
    expect((wrong as InstanceType<typeof OpenAI.APIError>).param).toBe("tunekit.training.lora.r");
    const owned = await client.fineTuning.jobs
      .create({ model: "tiny-llama", training_file: train.id, tunekit: { training: { epochs: 3 } } } as never)
      .catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect((owned as InstanceType<typeof OpenAI.APIError>).param).toBe("tunekit.training.epochs");
    expect((owned as InstanceType<typeof OpenAI.APIError>).message).toMatch(/method.<type>.hyperparameters.n_epochs/);
  });

  it("estimates a job before it is made: the worker's plan, memory, and time from throughput measured here", async () => {
    const train = await upload("train.jsonl", GOOD);
    const request = {
      model: "tiny-llama",
      training_file: train.id,
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 3, batch_size: 4 } } },
      tunekit: { training: { max_steps: null } },
    };
    const estimate = await call<{
      steps: number;
      steps_per_epoch: number;
      epochs: number;
      batch_size: number;
      examples: number;
      memory: { fits: boolean; peak_bytes: number };
      time: { seconds: number | null; basis: string };
      hosted: Array<{ model: string; cost: number }>;
    }>("POST", "/v1/tunekit/estimate", "/v1/tunekit/estimate", request);
    expect(estimate.body).toMatchObject({ examples: 12, batch_size: 4, steps_per_epoch: 3, steps: 9, epochs: 3, memory: { fits: true } });
    expect(estimate.body.memory.peak_bytes).toBeGreaterThan(0);
    expect(estimate.body.hosted.map((entry) => entry.model)).toContain("gpt-4o-mini-2024-07-18");
    // earlier jobs of this base model on this server measured its throughput (the copy-as test trained four)
    expect(estimate.body.time.seconds).not.toBeNull();
    expect(estimate.body.time.basis).toMatch(/^measured: \d+ trained tokens\/s in job ftjob-/);
    const refused = await call<{ error: { param: string } }>("POST", "/v1/tunekit/estimate", "/v1/tunekit/estimate", { ...request, model: "nope" });
    expect(refused).toMatchObject({ status: 400, body: { error: { param: "model" } } });
  });

  it("job views: the jobs table fields, the detail with fingerprints, and the worker log from an offset", async () => {
    const list = await call<{ data: Array<{ id: string; status: string; tunekit: { method: string; queue_position: number | null; duration_s: number | null } }> }>(
      "GET",
      "/v1/tunekit/jobs?status=succeeded",
      "/v1/tunekit/jobs",
    );
    expect(list.body.data.length).toBeGreaterThanOrEqual(4);
    expect(
      list.body.data.every(
        (job) => job.status === "succeeded" && job.tunekit.method === "lora" && job.tunekit.queue_position === null && typeof job.tunekit.duration_s === "number",
      ),
    ).toBe(true);
    const badStatus = await call<{ error: { param: string } }>("GET", "/v1/tunekit/jobs?status=done", "/v1/tunekit/jobs");
    expect(badStatus).toMatchObject({ status: 400, body: { error: { param: "status" } } });
    const jobId = list.body.data[0]!.id;
    const detail = await call<{ files: Array<{ id: string; sha256: string; examples: number }>; log_bytes: number; data_summary: { total_steps: number } }>(
      "GET",
      `/v1/tunekit/jobs/${jobId}`,
      "/v1/tunekit/jobs/{id}",
    );
    const training = detail.body.files[0]!;
    const content = Buffer.from(await (await client.files.content(training.id)).arrayBuffer());
    expect(training).toMatchObject({ sha256: createHash("sha256").update(content).digest("hex"), examples: 12 });
    expect(detail.body.data_summary.total_steps).toBe(4);
    const log = await fetch(`${server.url}/v1/tunekit/jobs/${jobId}/log`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(log.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await log.text();
    expect(Buffer.byteLength(text)).toBe(detail.body.log_bytes);
    expect(text).toMatch(/\[tunekit-worker\] info: .* parameters/);
    const rest = await (await fetch(`${server.url}/v1/tunekit/jobs/${jobId}/log?offset=10`, { headers: { authorization: `Bearer ${apiKey}` } })).text();
    expect(rest).toBe(Buffer.from(text).subarray(10).toString());
    const past = await call<{ error: { param: string } }>("GET", `/v1/tunekit/jobs/${jobId}/log?offset=${detail.body.log_bytes + 1}`, "/v1/tunekit/jobs/{id}/log");
    expect(past).toMatchObject({ status: 400, body: { error: { param: "offset" } } });
  });

  it("an event stream resumes after Last-Event-ID, each message carrying its id", async () => {
    const jobId = (await client.fineTuning.jobs.list({ limit: 20 })).data.find((job) => job.status === "succeeded")!.id;
    const all: Array<{ id: string }> = [];
    for await (const event of client.fineTuning.jobs.listEvents(jobId, { limit: 100 })) all.push(event);
    all.reverse();
    const cut = all[Math.floor(all.length / 2)]!;
    const response = await fetch(`${server.url}/v1/fine_tuning/jobs/${jobId}/events?stream=true`, { headers: { authorization: `Bearer ${apiKey}`, "last-event-id": cut.id } });
    const blocks = (await response.text()).split("\n\n").filter(Boolean);
    const ids = blocks.filter((block) => block.startsWith("id: ")).map((block) => block.split("\n")[0]!.slice(4));
    expect(ids).toEqual(all.slice(all.indexOf(cut) + 1).map((event) => event.id));
    expect(blocks.at(-1)).toBe("data: [DONE]");
  });

  it("the prompt the chat template makes, and a checkpoint served like a model", async () => {
    const prompt = await call<{ prompt: string; prompt_tokens: number }>("POST", "/v1/tunekit/chat/prompt", "/v1/tunekit/chat/prompt", {
      model: "tiny-llama",
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "What color is the sky?" },
      ],
    });
    expect(prompt.body.prompt).toBe("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat color is the sky?<|im_end|>\n<|im_start|>assistant\n");
    expect(prompt.body.prompt_tokens).toBeGreaterThan(5);
    const job = (await client.fineTuning.jobs.list({ limit: 10 })).data.find((candidate) => candidate.status === "succeeded")!;
    const checkpoint = (await client.fineTuning.jobs.checkpoints.list(job.id)).data.at(-1)!;
    expect(checkpoint.fine_tuned_model_checkpoint).toMatch(/:ckpt-step-\d+$/);
    const answer = await client.chat.completions.create({
      model: checkpoint.fine_tuned_model_checkpoint,
      messages: [{ role: "user", content: "What color is the sky?" }],
      max_tokens: 4,
    });
    expect(answer.model).toBe(checkpoint.fine_tuned_model_checkpoint);
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("OpenAI's fields Tunekit does not act on are recorded; DELETE /v1/models removes a fine-tuned model as OpenAI does", async () => {
    const train = await upload("train.jsonl", GOOD);
    const integrations = [{ type: "wandb", wandb: { project: "colors", tags: ["tunekit"] } }];
    const job = await client.fineTuning.jobs.create({
      model: "tiny-llama",
      training_file: train.id,
      suffix: "to-delete",
      seed: 5,
      integrations,
      metadata: { team: "a" },
      tunekit: { training: { max_steps: 2 } },
    } as never);
    expect(job.integrations).toEqual(integrations);
    expect((await client.fineTuning.jobs.retrieve(job.id)).integrations).toEqual(integrations);
    const done = await waitForJob(job.id, ["succeeded"]);
    const model = done.fine_tuned_model!;
    const runDir = (await server.services.jobs.store.getJob(null, job.id)).run_dir!;
    expect(existsSync(join(runDir, "adapter"))).toBe(true);
    expect((await client.models.retrieve(model)).id).toBe(model);
    const deleted = await client.models.delete(model);
    expect(deleted).toMatchObject({ id: model, deleted: true });
    expect(existsSync(join(runDir, "adapter"))).toBe(false);
    await expect(client.models.retrieve(model)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(client.models.delete(model)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    expect((await client.models.list()).data.map((entry) => entry.id)).not.toContain(model);
    await expect(client.chat.completions.create({ model, messages: [{ role: "user", content: "hi" }] })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    // the job stays, with its history
    expect((await client.fineTuning.jobs.retrieve(job.id)).status).toBe("succeeded");
    const base = await client.models.delete("tiny-llama").catch((error: unknown) => error as InstanceType<typeof OpenAI.APIError>);
    expect(base).toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it("hosted fine-tuning through a server whose provider is this server: copy-as with --hosted, estimate, actions, chat, and refusals", async () => {
    const { configSchema } = await import("../src/core/config-schema.js");
    const { createHostedProvider } = await import("../src/providers/hosted-provider.js");
    const providerKey = (await server.services.keys.createKey("front-server")).key;
    const front = await startServer({
      port: 0,
      dataDir: join(workDir, "front"),
      models: ["local-only"],
      maxConcurrentJobs: 0,
      webRoot: null,
      hosted: [createHostedProvider("openai", configSchema.parse({ openai: { base_url: `${server.url}/v1` } }), { OPENAI_API_KEY: providerKey }, ["tiny-llama"])],
    });
    try {
      const frontKey = (await front.services.keys.createKey("team")).key;
      const frontContract = await OpenApiContract.fetch(front.url);
      const frontCall = async <T>(method: string, path: string, documented: string, body?: unknown) => {
        const response = await fetch(`${front.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${frontKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const answer = (await response.json()) as T;
        frontContract.expectDocumented(method, documented, response.status, answer);
        return { status: response.status, body: answer };
      };
      const frontClient = new OpenAI({ baseURL: `${front.url}/v1`, apiKey: frontKey, maxRetries: 0 });
      const train = await frontClient.files.create({ file: await toFile(Buffer.from(GOOD), "train.jsonl"), purpose: "fine-tune" });
      const providers = await frontCall<{ data: Array<{ name: string; models: string[]; chat: boolean }> }>("GET", "/v1/tunekit/hosted", "/v1/tunekit/hosted");
      expect(providers.body.data).toEqual([{ name: "openai", label: expect.stringMatching(/^OpenAI \(127\.0\.0\.1:\d+\)$/), models: ["tiny-llama"], chat: true }]);
      const checked = await frontCall<{
        ok: boolean;
        endpoint: string;
        request: Record<string, unknown>;
        commands: { cli: string };
        problems: Array<{ field: string; severity: string }>;
      }>("POST", "/v1/tunekit/config/check", "/v1/tunekit/config/check", {
        yaml: `provider: openai\nmodel: tiny-llama\ndata:\n  train: ${train.id}\ntraining:\n  epochs: 2\n  lora:\n    r: 4\noutput:\n  suffix: remote\n`,
      });
      expect(checked.body).toMatchObject({
        ok: true,
        endpoint: "/v1/tunekit/hosted/openai/jobs",
        request: { model: "tiny-llama", training_file: train.id, suffix: "remote", method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 2 } } } },
      });
      expect(checked.body.request.tunekit).toBeUndefined();
      expect(checked.body.problems).toContainEqual(expect.objectContaining({ field: "training.lora", severity: "warning" }));
      // the CLI command, as the page prints it
      const cli = await run("bash", ["-c", checked.body.commands.cli.replace(/^npx tunekit/, `node ${resolve("dist/cli/main.js")}`) + ` --api-key ${frontKey}`], process.env);
      expect(cli.status, cli.stderr).toBe(0);
      const jobId = /ftjob-[A-Za-z0-9]+/.exec(cli.stdout)![0];
      const remote = await new OpenAI({ baseURL: `${server.url}/v1`, apiKey: providerKey, maxRetries: 0 }).fineTuning.jobs.retrieve(jobId);
      expect(remote).toMatchObject({ model: "tiny-llama", user_provided_suffix: "remote", metadata: { tunekit_training_file: train.id } });
      const estimate = await frontCall<{ examples: number; epochs: number }>(
        "POST",
        "/v1/tunekit/hosted/openai/estimate",
        "/v1/tunekit/hosted/{provider}/estimate",
        checked.body.request,
      );
      expect(estimate.body).toMatchObject({ examples: 12, epochs: 2 });
      const done = await (async () => {
        for (;;) {
          const job = (
            await frontCall<{ status: string; fine_tuned_model: string | null }>("GET", `/v1/tunekit/hosted/openai/jobs/${jobId}`, "/v1/tunekit/hosted/{provider}/jobs/{id}")
          ).body;
          if (["succeeded", "failed", "cancelled"].includes(job.status)) return job;
          await new Promise((wait) => setTimeout(wait, 200));
        }
      })();
      expect(done.status).toBe("succeeded");
      const events = await frontCall<{ data: Array<{ type: string }> }>(
        "GET",
        `/v1/tunekit/hosted/openai/jobs/${jobId}/events?limit=100`,
        "/v1/tunekit/hosted/{provider}/jobs/{id}/events",
      );
      expect(events.body.data.some((event) => event.type === "metrics")).toBe(true);
      const checkpoints = await frontCall<{ data: unknown[] }>("GET", `/v1/tunekit/hosted/openai/jobs/${jobId}/checkpoints`, "/v1/tunekit/hosted/{provider}/jobs/{id}/checkpoints");
      expect(checkpoints.body.data.length).toBeGreaterThan(0);
      const late = await frontCall<{ error: { code: string } }>("POST", `/v1/tunekit/hosted/openai/jobs/${jobId}/cancel`, "/v1/tunekit/hosted/{provider}/jobs/{id}/cancel");
      expect(late.status).toBe(409);
      // chat: the project's fine-tuned model answers, streamed, through the official SDK's raw post
      const chat = await fetch(`${front.url}/v1/tunekit/hosted/openai/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${frontKey}`, "content-type": "application/json" },
        body: JSON.stringify({ model: done.fine_tuned_model, messages: [{ role: "user", content: "What color is the sky?" }], max_tokens: 4, stream: true }),
      });
      expect(chat.status).toBe(200);
      expect(chat.headers.get("content-type")).toMatch(/text\/event-stream/);
      expect((await chat.text()).trim().endsWith("data: [DONE]")).toBe(true);
      const stranger = await frontCall<{ error: { code: string } }>("POST", "/v1/tunekit/hosted/openai/chat/completions", "/v1/tunekit/hosted/{provider}/chat/completions", {
        model: "ft:tiny-llama:someone-else:abcdefgh",
        messages: [{ role: "user", content: "hi" }],
      });
      expect(stranger).toMatchObject({ status: 404, body: { error: { code: "model_not_found" } } });
      const extension = await frontCall<{ error: { param: string } }>("POST", "/v1/tunekit/hosted/openai/jobs", "/v1/tunekit/hosted/{provider}/jobs", {
        model: "tiny-llama",
        training_file: train.id,
        tunekit: { training: { max_steps: 3 } },
      });
      expect(extension).toMatchObject({ status: 400, body: { error: { param: "tunekit" } } });
      const unknown = await frontCall<{ error: { code: string } }>("GET", "/v1/tunekit/hosted/azure/jobs", "/v1/tunekit/hosted/{provider}/jobs");
      expect(unknown).toMatchObject({ status: 404, body: { error: { code: "provider_not_found" } } });
    } finally {
      await front.close();
    }
  });

  it("documents every /v1/tunekit route in /openapi.json", async () => {
    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    const tunekit = Object.keys(document.paths).filter((path) => path.startsWith("/v1/tunekit/"));
    expect(tunekit.sort()).toEqual(
      [
        "/v1/tunekit/chat/prompt",
        "/v1/tunekit/config/check",
        "/v1/tunekit/config/schema",
        "/v1/tunekit/estimate",
        "/v1/tunekit/files/{id}/columns",
        "/v1/tunekit/files/{id}/convert",
        "/v1/tunekit/files/{id}/fix",
        "/v1/tunekit/files/{id}/lines",
        "/v1/tunekit/files/{id}/preview",
        "/v1/tunekit/files/{id}/report",
        "/v1/tunekit/files/{id}/split",
        "/v1/tunekit/files/{id}/stats",
        "/v1/tunekit/hosted",
        "/v1/tunekit/hosted/{provider}/chat/completions",
        "/v1/tunekit/hosted/{provider}/estimate",
        "/v1/tunekit/hosted/{provider}/jobs",
        "/v1/tunekit/hosted/{provider}/jobs/{id}",
        "/v1/tunekit/hosted/{provider}/jobs/{id}/cancel",
        "/v1/tunekit/hosted/{provider}/jobs/{id}/checkpoints",
        "/v1/tunekit/hosted/{provider}/jobs/{id}/events",
        "/v1/tunekit/hosted/{provider}/jobs/{id}/pause",
        "/v1/tunekit/hosted/{provider}/jobs/{id}/resume",
        "/v1/tunekit/jobs",
        "/v1/tunekit/jobs/{id}",
        "/v1/tunekit/jobs/{id}/log",
        "/v1/tunekit/models",
        "/v1/tunekit/server",
      ].sort(),
    );
  });
});
