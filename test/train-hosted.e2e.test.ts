import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectJsonLines } from "./helpers/cli-json-contract.js";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

/**
 * `tunekit train --server URL` and `provider: openai` with `openai.base_url` at a Tunekit server:
 * the CLI validates the data, uploads it, creates the job over the OpenAI fine-tuning API and
 * follows it to the end; the server trains a tiny random Llama with the real worker.
 */
const root = fileURLToPath(new URL("..", import.meta.url));

let scratch: string;
let server: RunningServer;
let key: string;
let client: OpenAI;

function tunekit(args: string[], environment: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(root, "dist", "cli", "main.js"), ...args],
      { cwd: scratch, env: { ...process.env, TUNEKIT_API_KEY: "", TUNEKIT_SERVER: "", ...environment }, timeout: 120_000 },
      (error, stdout, stderr) => {
        done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const examples = Array.from({ length: 24 }, (_, index) =>
  JSON.stringify({
    messages: [
      { role: "user", content: `Color of apple ${index}?` },
      { role: "assistant", content: "Red." },
    ],
  }),
);

beforeAll(async () => {
  if (!haveWorker) return;
  scratch = mkdtempSync(join(tmpdir(), "tunekit-train-hosted-"));
  buildTinyLlama(join(scratch, "tiny-llama"));
  server = await startServer({
    port: 0,
    dataDir: join(scratch, "data"),
    models: [join(scratch, "tiny-llama")],
    backend: new LocalExecutionBackend({ python, workerRoot }),
    trainingDefaults: { device: "cpu", max_steps: 4, checkpoint_every: 2, eval_every: 2, threads: 1 },
    maxSeqLen: 64,
  });
  key = (await server.services.keys.createKey("hosted")).key;
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: key, maxRetries: 0 });
  writeFileSync(join(scratch, "train.jsonl"), `${examples.slice(0, 12).join("\n")}\n`);
  writeFileSync(join(scratch, "valid.jsonl"), `${examples.slice(12).join("\n")}\n`);
  writeFileSync(join(scratch, "bad.jsonl"), `${examples[0]}\n{"messages": [{"role": "user", "content": "no answer"}]}\n`);
  writeFileSync(
    join(scratch, "tunekit.yaml"),
    ["model: tiny-llama", "data:", "  train: train.jsonl", "  validation: valid.jsonl", "training:", "  epochs: 2", "  seed: 11", "output:", "  suffix: hosted", ""].join("\n"),
  );
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe.skipIf(!haveWorker)("tunekit train on a server", () => {
  it("--server uploads both files, creates the job with the config's hyperparameters and follows it to `succeeded` (--json)", async () => {
    const result = await tunekit(["train", "--server", server.url, "--api-key", key, "--json", "--poll-interval", "0.2"]);
    expect(result.code, result.stderr + result.stdout).toBe(0);
    const records = expectJsonLines("train", result.stdout);
    expect(records.filter((record) => record.type === "file").map((record) => (record.file as { filename: string }).filename)).toEqual(["train.jsonl", "valid.jsonl"]);
    const created = records.find((record) => record.type === "job")?.job as { id: string; seed: number; hyperparameters: { n_epochs: number } };
    expect(created.seed).toBe(11);
    expect(created.hyperparameters.n_epochs).toBe(2);
    const events = records.filter((record) => record.type === "event").map((record) => record.event as { id: string; type: string; message: string });
    expect(new Set(events.map((event) => event.id)).size).toBe(events.length);
    expect(events.some((event) => event.type === "metrics")).toBe(true);
    expect(events.at(-1)?.message).toBe("The job has successfully completed");
    const final = records.at(-1) as { type: string; status: string; job: { id: string; fine_tuned_model: string; validation_file: string | null } };
    expect(final).toMatchObject({ type: "result", status: "succeeded" });
    expect(final.job.fine_tuned_model).toMatch(/^ft:tiny-llama:hosted:/);
    expect(final.job.validation_file).toMatch(/^file-/);
    // the server agrees: every event it holds was printed, oldest first
    const held = (await client.fineTuning.jobs.listEvents(final.job.id, { limit: 100 })).data.reverse();
    expect(events.map((event) => event.id)).toEqual(held.map((event) => event.id));
  });

  it("`provider: openai` with `openai.base_url` at the server trains the same way, printing progress for a person", async () => {
    const result = await tunekit(
      ["train", "--set", "provider=openai", "--set", `openai.base_url=${server.url}/v1`, "--set", "openai.poll_interval_s=0.2", "--set", "training.epochs=auto"],
      { OPENAI_API_KEY: key },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/data ok: 12 training examples, 12 validation examples/);
    expect(result.stderr).toMatch(/created ftjob-/);
    expect(result.stderr).toMatch(/step 4\/4/);
    expect(result.stdout).toMatch(/succeeded: ft:tiny-llama:hosted:/);
  });

  it("refuses invalid data before uploading anything, naming the line", async () => {
    const before = (await client.files.list()).data.length;
    const result = await tunekit(["train", "--server", server.url, "--api-key", key, "--set", "data.train=bad.jsonl"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/bad\.jsonl/);
    expect(result.stderr).toMatch(/line 2/);
    expect((await client.files.list()).data.length).toBe(before);
  });

  it("--detach prints the job id and returns; a wrong key is a 401 that says what to do", async () => {
    const detached = await tunekit(["train", "--server", server.url, "--api-key", key, "--detach"]);
    expect(detached.code, detached.stderr).toBe(0);
    const jobId = detached.stdout.split("\n")[0] as string;
    expect(jobId).toMatch(/^ftjob-/);
    expect((await client.fineTuning.jobs.retrieve(jobId)).id).toBe(jobId);
    // free the server for what follows (a job that already ended answers 409)
    await client.fineTuning.jobs.cancel(jobId).catch(() => undefined);
    const denied = await tunekit(["train", "--server", server.url, "--api-key", "wrong"]);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toMatch(/incorrect API key/);
  });
});
