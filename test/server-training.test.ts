import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalExecutionBackend } from "../src/providers/local/local-execution-backend.js";
import { startServer, type RunningServer } from "../src/server/tunekit-server.js";
import { OpenApiContract } from "./helpers/openapi-contract.js";
import { buildTinyLlama, haveWorker, python, workerRoot } from "./helpers/tiny-llama.js";

const trainingJsonl =
  Array.from({ length: 16 }, (_, index) =>
    JSON.stringify({
      messages: [
        { role: "user", content: `What color is the apple number ${index}?` },
        { role: "assistant", content: `The apple is red.` },
      ],
    }),
  ).join("\n") + "\n";

let workDir: string;

async function start(maxSteps: number): Promise<RunningServer> {
  const started = await startServer({
    port: 0,
    dataDir: join(workDir, "data"),
    noAuth: true,
    models: [join(workDir, "tiny-llama")],
    backend: new LocalExecutionBackend({ python, workerRoot }),
    trainingDefaults: { device: "cpu", max_steps: maxSteps, checkpoint_every: 2, eval_every: 2, threads: 1 },
    maxSeqLen: 64,
  });
  client = new OpenAI({ baseURL: `${started.url}/v1`, apiKey: "unused", maxRetries: 0 });
  return started;
}

async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value) return value;
    await new Promise((done) => setTimeout(done, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function messages(jobId: string): Promise<string[]> {
  return (await client.fineTuning.jobs.listEvents(jobId, { limit: 100 })).data.reverse().map((event) => event.message);
}

async function metricSteps(jobId: string): Promise<number[]> {
  return (await client.fineTuning.jobs.listEvents(jobId, { limit: 100 })).data
    .reverse()
    .filter((event) => event.type === "metrics" && (event.data as { train_loss?: number } | null)?.train_loss !== undefined)
    .map((event) => (event.data as { step: number }).step);
}
let server: RunningServer;
let client: OpenAI;

describe.skipIf(!haveWorker)("a real tiny training run through the server", () => {
  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), "tunekit-train-"));
    // a tiny random Llama + BPE tokenizer, built the way the worker's own tests build it
    buildTinyLlama(join(workDir, "tiny-llama"));
    server = await start(4);
  });

  afterAll(async () => {
    await server?.close();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("trains two jobs one at a time in creation order to `succeeded`, with metrics events, checkpoints, a result file and a fine-tuned model id", async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from(trainingJsonl), "train.jsonl"), purpose: "fine-tune" });
    const job = await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id, validation_file: file.id, suffix: "colors" });
    // a second job waits for the only training slot: jobs run one at a time, in creation order
    const second = await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id });
    const firstSeenRunning: Record<string, number> = {};
    let finished = job;
    let secondNow = second;
    const ended = (status: string) => ["succeeded", "failed", "cancelled"].includes(status);
    for (let attempt = 0; attempt < 2400 && !(ended(finished.status) && ended(secondNow.status)); attempt += 1) {
      await new Promise((done) => setTimeout(done, 50));
      [finished, secondNow] = await Promise.all([client.fineTuning.jobs.retrieve(job.id), client.fineTuning.jobs.retrieve(second.id)]);
      expect(finished.status === "running" && secondNow.status === "running").toBe(false);
      for (const current of [finished, secondNow]) if (current.status === "running") firstSeenRunning[current.id] ??= attempt;
    }
    expect(secondNow.status).toBe("succeeded");
    expect(firstSeenRunning[job.id]).toBeLessThan(firstSeenRunning[second.id]!);
    const events = (await client.fineTuning.jobs.listEvents(job.id, { limit: 100 })).data.reverse();
    expect(finished.status, events.map((event) => event.message).join("\n")).toBe("succeeded");
    expect(finished.fine_tuned_model).toBe(`ft:tiny-llama:colors:${job.id.slice(-8)}`);
    expect(finished.trained_tokens).toBeGreaterThan(0);
    expect(typeof finished.hyperparameters.batch_size).toBe("number");

    const metrics = events.filter((event) => event.type === "metrics" && (event.data as { train_loss?: number } | null)?.train_loss !== undefined);
    expect(metrics.length).toBe(4);
    expect(events.map((event) => event.message)).toContain("The job has successfully completed");

    const checkpoints = (await client.fineTuning.jobs.checkpoints.list(job.id)).data;
    expect(checkpoints.length).toBeGreaterThanOrEqual(1);
    expect(checkpoints[0]).toMatchObject({ object: "fine_tuning.job.checkpoint", fine_tuning_job_id: job.id });
    expect(checkpoints[0]!.id).toMatch(/^ftckpt-/);
    expect(checkpoints[0]!.fine_tuned_model_checkpoint).toBe(`${finished.fine_tuned_model}:ckpt-step-${checkpoints[0]!.step_number}`);
    expect(checkpoints[0]!.metrics.train_loss).toBeGreaterThan(0);

    // a trained job's answers (fine-tuned model, trained tokens, metrics events, checkpoints) fit /openapi.json
    const contract = await OpenApiContract.fetch(server.url);
    const raw = async (path: string) => (await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${client.apiKey}` } })).json();
    contract.expectDocumented("GET", "/v1/fine_tuning/jobs/{id}", 200, await raw(`/v1/fine_tuning/jobs/${job.id}`));
    contract.expectDocumented("GET", "/v1/fine_tuning/jobs/{id}/events", 200, await raw(`/v1/fine_tuning/jobs/${job.id}/events?limit=100`));
    contract.expectDocumented("GET", "/v1/fine_tuning/jobs/{id}/checkpoints", 200, await raw(`/v1/fine_tuning/jobs/${job.id}/checkpoints`));
    contract.expectDocumented("GET", "/v1/models", 200, await raw("/v1/models"));

    // OpenAI's result file: per-step metrics as CSV
    expect(finished.result_files).toHaveLength(1);
    const csv = (await (await client.files.content(finished.result_files[0]!)).text()).trim().split("\n");
    expect(csv[0]).toBe("step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy");
    expect(csv.slice(1).map((line) => Number(line.split(",")[0]))).toEqual([1, 2, 3, 4]);
    expect((await client.files.retrieve(finished.result_files[0]!)).purpose).toBe("fine-tune-results");

    const models = (await client.models.list()).data.map((model) => model.id);
    expect(models).toEqual(expect.arrayContaining(["tiny-llama", finished.fine_tuned_model!]));
  });

  it("pauses a running job at a checkpoint and resumes it from there to the end", async () => {
    await server.close();
    server = await start(12);
    const file = await client.files.create({ file: await toFile(Buffer.from(trainingJsonl), "train.jsonl"), purpose: "fine-tune" });
    const job = await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id });
    await waitFor("a first checkpoint", async () => (await client.fineTuning.jobs.checkpoints.list(job.id)).data.length > 0);
    const paused = await client.fineTuning.jobs.pause(job.id);
    expect(paused.status).toBe("paused");
    await waitFor("the worker to stop", async () => (await messages(job.id)).some((message) => message.startsWith("Paused after writing a checkpoint")));
    const stepsBeforeResume = await metricSteps(job.id);
    expect(stepsBeforeResume.at(-1)).toBeLessThan(12);
    await expect(client.fineTuning.jobs.pause(job.id)).rejects.toMatchObject({ status: 409 });

    expect((await client.fineTuning.jobs.resume(job.id)).status).toBe("queued");
    const finished = await waitFor("the job to end", async () => {
      const current = await client.fineTuning.jobs.retrieve(job.id);
      return ["succeeded", "failed", "cancelled"].includes(current.status) ? current : null;
    });
    expect(finished.status, (await messages(job.id)).join("\n")).toBe("succeeded");
    expect((await messages(job.id)).filter((message) => message.startsWith("Resumed training from checkpoint"))).toHaveLength(1);
    // the resumed run continues after the checkpoint instead of starting again at step 1
    const steps = await metricSteps(job.id);
    const resumedSteps = steps.slice(stepsBeforeResume.length);
    expect(resumedSteps[0]).toBeGreaterThan(1);
    expect(steps.at(-1)).toBe(12);
  });

  it("a job running when the server stops resumes from its checkpoint when the server starts again", async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from(trainingJsonl), "train.jsonl"), purpose: "fine-tune" });
    const job = await client.fineTuning.jobs.create({ model: "tiny-llama", training_file: file.id });
    await waitFor("a first checkpoint", async () => (await client.fineTuning.jobs.checkpoints.list(job.id)).data.length > 0);
    await server.close();
    server = await start(12);
    expect(server.recovered.resumed).toContain(job.id);
    const finished = await waitFor("the job to end", async () => {
      const current = await client.fineTuning.jobs.retrieve(job.id);
      return ["succeeded", "failed", "cancelled"].includes(current.status) ? current : null;
    });
    expect(finished.status, (await messages(job.id)).join("\n")).toBe("succeeded");
    expect((await messages(job.id)).filter((message) => message.startsWith("Resumed training from checkpoint"))).toHaveLength(1);
  });
});
