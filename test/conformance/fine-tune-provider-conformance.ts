import { expect, it } from "vitest";
import { isTunekitError, type TunekitError } from "../../src/core/errors.js";
import type { FineTuneProvider } from "../../src/spec/fine-tune-provider.js";
import type { FineTuningJob } from "../../src/spec/openai-wire.js";

/**
 * The shared conformance suite every FineTuneProvider passes: OpenAI's shapes, statuses, ids,
 * pagination and error contract, over a real fine-tune. Call it inside a `describe`.
 */
export interface ConformanceTarget {
  provider: () => FineTuneProvider;
  /** a base model the provider can fine-tune */
  model: string;
  /** a small valid chat JSONL training file */
  trainingJsonl: string;
  /** longest wait for a job to end */
  timeoutMs: number;
}

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

async function rejection(promise: Promise<unknown>): Promise<TunekitError> {
  try {
    await promise;
  } catch (error) {
    if (isTunekitError(error)) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

async function until(provider: FineTuneProvider, jobId: string, done: (job: FineTuningJob) => boolean, timeoutMs: number): Promise<FineTuningJob> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await provider.getJob(jobId);
    if (done(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function fineTuneProviderConformance(target: ConformanceTarget): void {
  const state: { fileId?: string; jobId?: string } = {};

  it("uploads a training file as an OpenAI file object", async () => {
    const provider = target.provider();
    expect(provider.version).toBe(1);
    const bytes = Buffer.from(target.trainingJsonl);
    const file = await provider.uploadFile({ filename: "train.jsonl", purpose: "fine-tune", content: bytes });
    expect(file).toMatchObject({ object: "file", filename: "train.jsonl", purpose: "fine-tune", bytes: bytes.length });
    expect(file.id).toMatch(/^file-/);
    state.fileId = file.id;
  });

  it("creates a job, reads it back and lists it first", async () => {
    const provider = target.provider();
    const job = await provider.createJob({ model: target.model, training_file: state.fileId as string, suffix: "conf", seed: 7, metadata: { suite: "conformance" } });
    expect(job.id).toMatch(/^ftjob-/);
    expect(job).toMatchObject({ object: "fine_tuning.job", model: target.model, training_file: state.fileId, seed: 7, fine_tuned_model: null });
    expect(["validating_files", "queued", "running"]).toContain(job.status);
    state.jobId = job.id;
    expect((await provider.getJob(job.id)).id).toBe(job.id);
    const listed = await provider.listJobs({ limit: 1 });
    expect(listed.object).toBe("list");
    expect(listed.data.map((item) => item.id)).toEqual([job.id]);
  });

  it("trains the job to `succeeded` with a fine-tuned model id, events and checkpoints", async () => {
    const provider = target.provider();
    const jobId = state.jobId as string;
    const job = await until(provider, jobId, (current) => FINAL.has(current.status), target.timeoutMs);
    expect(job.status, JSON.stringify(job.error)).toBe("succeeded");
    expect(job.fine_tuned_model).toMatch(new RegExp(`^ft:${target.model}:conf:`));
    expect(job.trained_tokens).toBeGreaterThan(0);
    expect(job.finished_at).toBeGreaterThanOrEqual(job.created_at);

    // a provider may write its closing events just after the final status: wait until none arrive
    let previous = "";
    for (let attempt = 0; attempt < 50; attempt += 1) {
      const ids = (await provider.listEvents(jobId, { limit: 100 })).data.map((event) => event.id).join(",");
      if (ids === previous) break;
      previous = ids;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // events: newest first, paged by `after` without overlap or gaps
    const first = await provider.listEvents(jobId, { limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.has_more).toBe(true);
    const rest = await provider.listEvents(jobId, { after: first.data[1]?.id, limit: 100 });
    const all = await provider.listEvents(jobId, { limit: 100 });
    expect([...first.data, ...rest.data].map((event) => event.id)).toEqual(all.data.map((event) => event.id));
    for (const event of all.data) {
      expect(event.id).toMatch(/^ftevent-/);
      expect(event.object).toBe("fine_tuning.job.event");
      expect(["info", "warn", "error"]).toContain(event.level);
    }
    const messages = all.data.map((event) => event.message);
    expect(messages.some((message) => message.startsWith("New fine-tuned model created"))).toBe(true);
    expect(all.data.some((event) => event.type === "metrics")).toBe(true);

    const checkpoints = await provider.listCheckpoints(jobId);
    expect(checkpoints.data.length).toBeGreaterThan(0);
    const newest = checkpoints.data[0]!;
    expect(newest.id).toMatch(/^ftckpt-/);
    expect(newest).toMatchObject({ object: "fine_tuning.job.checkpoint", fine_tuning_job_id: jobId });
    expect(newest.fine_tuned_model_checkpoint).toContain(job.fine_tuned_model as string);
    expect(typeof newest.metrics.train_loss).toBe("number");
  });

  it("answers a cancel of a finished job as a conflict", async () => {
    const error = await rejection(target.provider().cancelJob(state.jobId as string));
    expect(error.kind).toBe("conflict");
  });

  it("answers an unknown job as not found", async () => {
    const error = await rejection(target.provider().getJob("ftjob-doesnotexist0000000000"));
    expect(error.kind).toBe("not_found");
  });

  it("answers bad parameters as a usage error naming the parameter", async () => {
    const error = await rejection(target.provider().createJob({ model: target.model, training_file: state.fileId as string, hyperparameters: { n_epochs: 0 } }));
    expect(error.kind).toBe("usage");
    expect(error.field).toMatch(/n_epochs/);
  });

  it("pauses a running job and resumes it to `succeeded`", async () => {
    const provider = target.provider();
    const job = await provider.createJob({ model: target.model, training_file: state.fileId as string, suffix: "pause" });
    await until(provider, job.id, (current) => current.status === "running", target.timeoutMs);
    const paused = await provider.pauseJob(job.id);
    expect(paused.status).toBe("paused");
    // a paused job cannot be paused again
    expect((await rejection(provider.pauseJob(job.id))).kind).toBe("conflict");
    const resumed = await provider.resumeJob(job.id);
    expect(["queued", "running"]).toContain(resumed.status);
    const finished = await until(provider, job.id, (current) => FINAL.has(current.status), target.timeoutMs);
    expect(finished.status, JSON.stringify(finished.error)).toBe("succeeded");
  });

  it("cancels a job before it finishes", async () => {
    const provider = target.provider();
    const job = await provider.createJob({ model: target.model, training_file: state.fileId as string });
    const cancelled = await provider.cancelJob(job.id);
    expect(cancelled.status).toBe("cancelled");
    expect((await provider.getJob(job.id)).status).toBe("cancelled");
  });
}
