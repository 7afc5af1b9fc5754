import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyStore } from "../src/jobs/api-key-store.js";
import { FileStore } from "../src/jobs/file-store.js";
import { JobOutcomes } from "../src/jobs/job-outcome.js";
import { JobRecovery, type RecoveryScheduler } from "../src/jobs/job-recovery.js";
import { JobStore, type JobRow } from "../src/jobs/job-store.js";
import { openDatabase, type StoreDatabase } from "../src/jobs/store/database.js";
import { workerProcesses } from "../src/providers/local/python-worker.js";

let dataDir: string;
let database: StoreDatabase;
let store: JobStore;
let outcomes: JobOutcomes;
let projectId: string;
const children: ChildProcess[] = [];

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "tunekit-recovery-"));
  database = await openDatabase(dataDir);
  store = new JobStore(database);
  outcomes = new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20));
  projectId = (await new ApiKeyStore(database).ensureProject("alpha")).id;
});
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  await database.destroy();
  rmSync(dataDir, { recursive: true, force: true });
});

/** A scheduler that runs nothing and records what recovery asked of it. */
function recordingScheduler(): RecoveryScheduler & { held: string[]; wakes: number } {
  const scheduler = {
    held: [] as string[],
    wakes: 0,
    isRunning: () => false,
    hold: (jobId: string) => void scheduler.held.push(jobId),
    wake: () => void (scheduler.wakes += 1),
  };
  return scheduler;
}

/** A `running` job whose server died (its owner pid does not exist), without a checkpoint. */
async function orphanedJob(id: string): Promise<JobRow> {
  const runDir = join(dataDir, "runs", id);
  mkdirSync(runDir, { recursive: true });
  writeFileSync(join(runDir, "owner.json"), JSON.stringify({ hostname: hostname(), pid: 2 ** 22 + 1, instance: "dead", since: 0 }));
  const row: JobRow = {
    id,
    project_id: projectId,
    model: "tiny-base",
    training_file: "file-aaaaaaaaaaaaaaaa",
    validation_file: null,
    status: "running",
    hyperparameters: "{}",
    resolved_hyperparameters: null,
    method: JSON.stringify({ type: "supervised" }),
    suffix: null,
    seed: 1,
    metadata: null,
    fine_tuned_model: null,
    error: null,
    created_at: Date.now(),
    started_at: Date.now(),
    finished_at: null,
    trained_tokens: null,
    estimated_finish: null,
    result_files: "[]",
    heartbeat_at: Date.now(),
    run_dir: runDir,
    last_checkpoint_path: null,
    adapter_path: null,
    options: null,
    integrations: null,
    model_deleted_at: null,
    execution_backend: null,
    execution_nodes: null,
  };
  return store.insertJob(row, { message: "created" });
}

/** A process that looks like the job's worker to the /proc scan (`tunekit_worker train <run_dir>/job.json`). */
function fakeWorker(runDir: string, ignoreSigterm: boolean): ChildProcess {
  // says `ready` once its SIGTERM handler is in place (node's start-up takes longer than any fixed sleep on a loaded machine)
  const script = ignoreSigterm ? "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)" : "setInterval(() => {}, 1000)";
  const child = spawn(process.execPath, ["-e", script, "tunekit_worker", "train", join(runDir, "job.json")], { stdio: ["ignore", "pipe", "ignore"] });
  children.push(child);
  return child;
}

function ready(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve()));
}

async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(20);
  }
}

const statusOf = async (id: string) => (await store.getJob(null, id)).status;

describe("JobRecovery", () => {
  it("start runs a first pass, then its sweep takes over a job whose server dies later; stop ends the sweeps", async () => {
    await orphanedJob("ftjob-atstart00000000");
    const recovery = new JobRecovery(store, recordingScheduler(), outcomes, { sweepMs: 20 });
    expect(await recovery.start()).toEqual({ resumed: [], completed: [], failed: ["ftjob-atstart00000000"], waiting: [] });

    await orphanedJob("ftjob-later0000000000");
    await until(async () => (await statusOf("ftjob-later0000000000")) === "failed");
    const failed = await store.getJob(null, "ftjob-later0000000000");
    expect(JSON.parse(failed.error!)).toMatchObject({ code: "server_restarted" });
    const events = (await store.listEvents(projectId, failed.id, { after: null, limit: 10, order: "desc" })).data;
    expect(events[0]).toMatchObject({
      level: "error",
      message: "Job failed: the server stopped while this job ran and no checkpoint had been written",
      data: { code: "server_restarted" },
    });

    await recovery.stop();
    await orphanedJob("ftjob-afterstop000000");
    await sleep(150);
    expect(await statusOf("ftjob-afterstop000000")).toBe("running");
  });

  it("stop waits for the pass in flight", async () => {
    await orphanedJob("ftjob-inflight0000000");
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slowStore = Object.create(store) as JobStore;
    slowStore.jobsWithStatus = async (status) => {
      await gate;
      return store.jobsWithStatus(status);
    };
    const recovery = new JobRecovery(slowStore, recordingScheduler(), outcomes);
    const pass = recovery.recover();
    let stopped = false;
    const stopping = recovery.stop().then(() => (stopped = true));
    await sleep(50);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(await statusOf("ftjob-inflight0000000")).toBe("failed");
    expect((await pass).failed).toEqual(["ftjob-inflight0000000"]);
  });

  it("waits for an old worker that still runs (SIGTERM), holding its job off the queue, and recovers the job once it has exited", async () => {
    const job = await orphanedJob("ftjob-oldworker000000");
    const worker = fakeWorker(job.run_dir!, false);
    await until(async () => worker.pid !== undefined);
    await sleep(200); // the process has exec'd with its command line
    const scheduler = recordingScheduler();
    const recovery = new JobRecovery(store, scheduler, outcomes, { leftoverWorkers: workerProcesses });
    expect((await recovery.recover()).waiting).toEqual([job.id]);
    expect(scheduler.held).toEqual([job.id]);
    await until(async () => (await statusOf(job.id)) === "failed");
    expect(worker.signalCode).toBe("SIGTERM");
    await recovery.stop();
  });

  it("stop ends the wait for an old worker that ignores SIGTERM, leaving its job as it is", async () => {
    const job = await orphanedJob("ftjob-stubborn0000000");
    await ready(fakeWorker(job.run_dir!, true));
    const recovery = new JobRecovery(store, recordingScheduler(), outcomes, { orphanWorkerTimeoutMs: 60_000, leftoverWorkers: workerProcesses });
    expect((await recovery.recover()).waiting).toEqual([job.id]);
    await recovery.stop();
    expect(await statusOf(job.id)).toBe("running");
  });
  it("writes a success with the same events and fields as the scheduler does (JobOutcomes, one transaction with the imports)", async () => {
    const result = { trainedTokens: 40, adapterPath: "/runs/adapter", mergedPath: null };
    const byScheduler = await orphanedJob("ftjob-byscheduler0000");
    const byRecovery = await orphanedJob("ftjob-byrecovery00000");
    await outcomes.succeed(byScheduler, result);
    await outcomes.succeed(byRecovery, result, (outcome) =>
      store.applyRecovery(byRecovery.id, {
        imports: [],
        notes: [],
        deleteEventIds: [],
        deleteCheckpointIds: [],
        to: outcome.to,
        event: outcome.event,
        then: outcome.then,
        patch: outcome.patch,
      }),
    );
    const view = async (id: string) => {
      const job = await store.getJob(null, id);
      const events = (await store.listEvents(projectId, id, { after: null, limit: 10, order: "asc" })).data.map((event) => event.message.replace(id.slice(-8), "<tail>"));
      return {
        status: job.status,
        trained_tokens: job.trained_tokens,
        adapter_path: job.adapter_path,
        heartbeat_at: job.heartbeat_at,
        results: JSON.parse(job.result_files).length,
        events,
      };
    };
    const expected = await view(byScheduler.id);
    expect(expected).toMatchObject({ status: "succeeded", trained_tokens: 40, adapter_path: "/runs/adapter", heartbeat_at: null, results: 1 });
    expect(expected.events.slice(1)).toEqual(["New fine-tuned model created: ft:tiny-base::<tail>", "The job has successfully completed"]);
    expect(await view(byRecovery.id)).toEqual(expected);
  });
});
