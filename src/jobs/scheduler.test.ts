import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { defaultConfig } from "../core/config-schema.js";
import { buildWorkerJobSpec } from "../core/worker-job-spec.js";
import { EXECUTION_BACKEND_VERSION, type ExecutionBackend, type LaunchRequest, type RunHandle, type RunOutcome } from "../spec/execution-backend.js";
import type { WorkerEvent } from "../spec/worker-events.js";
import { ApiKeyStore } from "./api-key-store.js";
import { FileStore } from "./file-store.js";
import { JobOutcomes } from "./job-outcome.js";
import { JobStore, type JobRow } from "./job-store.js";
import { RETRY_MESSAGE, Scheduler, type PreparedLaunch, type RunPreparation } from "./scheduler.js";
import { openDatabase, type StoreDatabase } from "./store/database.js";
import { writeCompleteCheckpoint } from "../../test/helpers/checkpoint-folder.js";

let dataDir: string;
let database: StoreDatabase;
let store: JobStore;
let scheduler: Scheduler | null = null;

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tunekit-scheduler-"));
  database = await openDatabase(dataDir);
  store = new JobStore(database);
});
afterEach(async () => {
  await scheduler?.close();
  scheduler = null;
  await database.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

const stopped: RunOutcome = {
  status: "stopped",
  message: "paused",
  errorCode: null,
  retryable: true,
  checkpointPath: "/runs/step-000004",
  adapterPath: null,
  mergedPath: null,
  trainedTokens: null,
};

/** An execution backend that records its launches; each worker runs until it is paused or cancelled. */
function recordingBackend(): ExecutionBackend & { launches: LaunchRequest[] } {
  const launches: LaunchRequest[] = [];
  return {
    version: EXECUTION_BACKEND_VERSION,
    name: "recording",
    launches,
    launch(request: LaunchRequest, _onEvent: (event: WorkerEvent) => void): RunHandle {
      launches.push(request);
      let end!: (outcome: RunOutcome) => void;
      const finished = new Promise<RunOutcome>((resolve) => (end = resolve));
      const stop = () => (end(stopped), finished);
      return { attemptId: request.attemptId, finished, cancel: stop, pause: stop };
    },
    status: async (attemptId) => ({ attemptId, state: "unknown", outcome: null }),
    cancel: async () => null,
    logs: async () => [],
  };
}

/** Prepares every job as a run folder under the data dir, with a spec it does not write. */
const preparation: RunPreparation = {
  async prepare(job: JobRow): Promise<PreparedLaunch> {
    const runDir = join(dataDir, "runs", job.id);
    const defaults = defaultConfig();
    const spec = buildWorkerJobSpec({
      runDir,
      model: "tiny-base",
      train: "/t.jsonl",
      validation: null,
      data: defaults.data,
      training: defaults.training,
      epochs: 1,
      resumeFrom: job.last_checkpoint_path,
    });
    return { jobId: job.id, runDir, specFile: join(runDir, "job.json"), numProcesses: 1, spec };
  },
  baseLearningRate: () => null,
};

async function queuedJob(projectId: string, id: string): Promise<JobRow> {
  return store.insertJob(
    {
      id,
      project_id: projectId,
      model: "tiny-base",
      training_file: "file-aaaaaaaaaaaaaaaa",
      validation_file: null,
      status: "queued",
      hyperparameters: "{}",
      resolved_hyperparameters: null,
      method: JSON.stringify({ type: "supervised" }),
      suffix: null,
      seed: 1,
      metadata: null,
      fine_tuned_model: null,
      error: null,
      created_at: Date.now(),
      started_at: null,
      finished_at: null,
      trained_tokens: null,
      estimated_finish: null,
      result_files: "[]",
      heartbeat_at: null,
      run_dir: null,
      last_checkpoint_path: null,
      adapter_path: null,
      options: null,
      integrations: null,
      model_deleted_at: null,
      execution_backend: null,
      execution_nodes: null,
    },
    { message: "queued" },
  );
}

async function until(condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("Scheduler launches through the execution backend", () => {
  it("numbers a job's attempts <job id>/<n>: its first start, then each resume", async () => {
    const projectId = (await new ApiKeyStore(database).ensureProject("alpha")).id;
    const backend = recordingBackend();
    scheduler = new Scheduler(store, backend, { runs: preparation, outcomes: new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20)) });
    const job = await queuedJob(projectId, "ftjob-attempts000000");
    scheduler.start();
    await until(() => backend.launches.length === 1);
    expect(backend.launches[0]).toEqual({
      attemptId: "ftjob-attempts000000/1",
      jobId: job.id,
      runDir: join(dataDir, "runs", job.id),
      specFile: join(dataDir, "runs", job.id, "job.json"),
      numProcesses: 1,
    });

    // pause and resume as JobService does: a new attempt, resuming from the checkpoint the first one wrote
    await store.transition(job.id, "paused", { message: "Pausing" });
    await scheduler.stop(job.id, "pause");
    await scheduler.idle();
    expect((await store.getJob(null, job.id)).last_checkpoint_path).toBe(stopped.checkpointPath);
    await store.transition(job.id, "queued", { message: "Resumed" });
    await scheduler.wake();
    await until(() => backend.launches.length === 2);
    expect(backend.launches[1]!.attemptId).toBe("ftjob-attempts000000/2");
    const events = await store.jobEvents(job.id);
    expect(events.map((event) => event.message)).toEqual(expect.arrayContaining(["Fine-tuning job started", "Fine-tuning job resumed"]));
  });
});

describe("Scheduler and a cancelled job", () => {
  it("records nothing the stopping worker says after the cancellation: the job's events end with it", async () => {
    const projectId = (await new ApiKeyStore(database).ensureProject("alpha")).id;
    let say: ((event: WorkerEvent) => void) | null = null;
    const backend: ExecutionBackend = {
      ...recordingBackend(),
      launch(request, onEvent) {
        say = onEvent;
        let end!: (outcome: RunOutcome) => void;
        const finished = new Promise<RunOutcome>((resolve) => (end = resolve));
        // a worker that was just starting: it reports its start while it stops
        const stop = () => {
          onEvent({ v: 1, type: "started", run_dir: request.runDir, pid: 4242, device: "cpu (fp32)", world_size: 1, resumed_from: null });
          end({ ...stopped, message: "cancelled" });
          return finished;
        };
        return { attemptId: request.attemptId, finished, cancel: stop, pause: stop };
      },
    };
    scheduler = new Scheduler(store, backend, { runs: preparation, outcomes: new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20)) });
    const job = await queuedJob(projectId, "ftjob-cancelled00000");
    scheduler.start();
    await until(() => say !== null);
    await store.transition(job.id, "cancelled", { message: "Fine-tuning job cancelled" });
    await scheduler.stop(job.id, "cancel");
    await scheduler.idle();
    const messages = (await store.jobEvents(job.id)).map((event) => event.message);
    expect(messages.at(-1)).toBe("Fine-tuning job cancelled");
    expect(messages.some((message) => message.startsWith("Training started"))).toBe(false);
    expect((await store.getJob(null, job.id)).status).toBe("cancelled");
  });
});

describe("Scheduler and a failed attempt", () => {
  /** A backend whose attempts fail as a lost node does (retryable), after the first one wrote a marked checkpoint; the last attempt succeeds when `succeedAt` is reached. */
  function flakyBackend(succeedAt: number | null): ExecutionBackend & { launches: LaunchRequest[] } {
    const base = recordingBackend();
    return {
      ...base,
      name: "ray",
      launch(request, onEvent) {
        base.launches.push(request);
        if (base.launches.length === 1) writeCompleteCheckpoint(join(request.runDir, "checkpoints", "step-000004"), 4);
        onEvent({
          v: 1,
          type: "started",
          run_dir: request.runDir,
          pid: 1,
          device: "cpu (fp32)",
          world_size: 2,
          resumed_from: null,
          nodes: [
            { rank: 0, host: "head", node_id: "a1" },
            { rank: 1, host: "worker", node_id: "b2" },
          ],
        });
        const outcome: RunOutcome =
          base.launches.length === succeedAt
            ? { ...stopped, status: "succeeded", message: "done", checkpointPath: null, retryable: false }
            : { ...stopped, status: "failed", message: "node b2 died", errorCode: "cluster_attempt_failed", checkpointPath: null };
        return { attemptId: request.attemptId, finished: Promise.resolve(outcome), cancel: async () => outcome, pause: async () => outcome };
      },
    };
  }

  it("queues the job again from the newest marked checkpoint while it has retries, then fails it; the job records backend and nodes", async () => {
    const projectId = (await new ApiKeyStore(database).ensureProject("alpha")).id;
    const backend = flakyBackend(null);
    const outcomes = new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20));
    scheduler = new Scheduler(store, backend, { runs: preparation, outcomes, maxRetries: { ray: 2 } });
    const job = await queuedJob(projectId, "ftjob-retried0000000");
    scheduler.start();
    await until(async () => (await store.getJob(null, job.id)).status === "failed");
    await scheduler.idle();
    expect(backend.launches.map((launch) => launch.attemptId)).toEqual(["ftjob-retried0000000/1", "ftjob-retried0000000/2", "ftjob-retried0000000/3"]);
    const checkpoint = join(dataDir, "runs", job.id, "checkpoints", "step-000004");
    const row = await store.getJob(null, job.id);
    expect(row.last_checkpoint_path).toBe(checkpoint);
    expect(row.execution_backend).toBe("ray");
    expect(JSON.parse(row.execution_nodes!)).toEqual(["head (a1)", "worker (b2)"]);
    const events = await store.jobEvents(job.id);
    const retries = events.filter((event) => event.message === RETRY_MESSAGE);
    expect(retries.map((event) => JSON.parse(event.data!) as unknown)).toEqual([
      { retry: 1, max_retries: 2, resume_from: checkpoint, error_code: "cluster_attempt_failed" },
      { retry: 2, max_retries: 2, resume_from: checkpoint, error_code: "cluster_attempt_failed" },
    ]);
    expect(JSON.parse(row.error!)).toMatchObject({ code: "cluster_attempt_failed", message: "node b2 died" });
  });

  it("a retried attempt that succeeds makes the job succeed; without retries the first failure fails it", async () => {
    const projectId = (await new ApiKeyStore(database).ensureProject("alpha")).id;
    const outcomes = new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20));
    const backend = flakyBackend(2);
    scheduler = new Scheduler(store, backend, { runs: preparation, outcomes, maxRetries: { ray: 3 } });
    const job = await queuedJob(projectId, "ftjob-recovers000000");
    scheduler.start();
    await until(async () => (await store.getJob(null, job.id)).status === "succeeded");
    expect(backend.launches).toHaveLength(2);
    await scheduler.close();

    const once = flakyBackend(null);
    scheduler = new Scheduler(store, once, { runs: preparation, outcomes });
    const other = await queuedJob(projectId, "ftjob-noretries00000");
    scheduler.start();
    await until(async () => (await store.getJob(null, other.id)).status === "failed");
    expect(once.launches).toHaveLength(1);
  });
});
