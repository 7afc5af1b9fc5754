import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ApiKeyStore } from "./api-key-store.js";
import { FileStore } from "./file-store.js";
import { JobOutcomes } from "./job-outcome.js";
import { JobRecovery } from "./job-recovery.js";
import { JobService } from "./job-service.js";
import { JobStore, type JobRow } from "./job-store.js";
import { ModelCatalog } from "./model-catalog.js";
import { RunPreparer } from "./run-preparer.js";
import { openDatabase } from "./store/database.js";
import { writeCompleteCheckpoint } from "../../test/helpers/checkpoint-folder.js";

let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "tunekit-store-"));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

function jobRow(projectId: string, id: string, overrides: Partial<JobRow> = {}): JobRow {
  return {
    id,
    project_id: projectId,
    model: "tiny-base",
    training_file: "file-aaaaaaaaaaaaaaaa",
    validation_file: null,
    status: "running",
    hyperparameters: JSON.stringify({ batch_size: "auto", learning_rate_multiplier: "auto", n_epochs: "auto" }),
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
    heartbeat_at: null,
    run_dir: null,
    last_checkpoint_path: null,
    adapter_path: null,
    options: null,
    integrations: null,
    model_deleted_at: null,
    execution_backend: null,
    execution_nodes: null,
    ...overrides,
  };
}

/** The files of a complete worker checkpoint at `step` (recovery resumes only from complete ones). */
function writeCheckpointAt(runDir: string, step: number): string {
  return writeCompleteCheckpoint(join(runDir, "checkpoints", `step-${String(step).padStart(6, "0")}`), step, { metrics_history: [{ step, train_loss: 1.25 }], last_eval: {} });
}

describe("job store", () => {
  it("survives a reopen: keys, files, jobs, events and checkpoints are still there", async () => {
    let database = await openDatabase(dataDir);
    const keys = new ApiKeyStore(database);
    const { key } = await keys.createKey("alpha");
    const project = await keys.ensureProject("alpha");
    const files = new FileStore(database, dataDir, 1 << 20);
    const file = await files.upload(project.id, { filename: "t.jsonl", purpose: "fine-tune", content: [Buffer.from('{"text": "hello"}\n')] });
    const store = new JobStore(database);
    const job = await store.insertJob(jobRow(project.id, "ftjob-reopen00000000"), { message: "created" });
    await store.addEvent(job.id, { message: "second" });
    await store.addCheckpoint(job, {
      step: 3,
      path: "/runs/x/checkpoint-3",
      metrics: { step: 3, train_loss: 1.5 },
      fineTunedModelCheckpoint: "ft:tiny-base::00000000:ckpt-step-3",
    });
    await database.destroy();

    database = await openDatabase(dataDir);
    const reopened = new JobStore(database);
    expect((await new ApiKeyStore(database).authenticate(key))?.name).toBe("alpha");
    expect((await new FileStore(database, dataDir, 1 << 20).get(project.id, file.id)).object).toEqual(file);
    const page = { after: null, limit: 10, order: "asc" as const };
    expect((await reopened.listEvents(project.id, job.id, page)).data.map((event) => event.message)).toEqual(["created", "second"]);
    expect((await reopened.listCheckpoints(project.id, job.id, page)).data[0]?.metrics).toEqual({ step: 3, train_loss: 1.5 });
    expect((await reopened.getJob(project.id, job.id)).last_checkpoint_path).toBe("/runs/x/checkpoint-3");
    // the database runs in WAL mode with full fsync (2 = FULL)
    expect((await sql<{ journal_mode: string }>`pragma journal_mode`.execute(database)).rows[0]?.journal_mode).toBe("wal");
    expect((await sql<{ synchronous: number }>`pragma synchronous`.execute(database)).rows[0]?.synchronous).toBe(2);
    await database.destroy();
  });

  it("numbers each job's events 1, 2, 3 ... and a refused transition writes nothing", async () => {
    const database = await openDatabase(dataDir);
    const project = await new ApiKeyStore(database).ensureProject("alpha");
    const store = new JobStore(database);
    await store.insertJob(jobRow(project.id, "ftjob-sequence0000000", { status: "queued" }), { message: "one" });
    await store.insertJob(jobRow(project.id, "ftjob-sequence0000001", { status: "queued" }), { message: "other job" });
    await store.transition("ftjob-sequence0000000", "running", { message: "two" });
    await store.transition("ftjob-sequence0000000", "succeeded", { message: "three" });
    await expect(store.transition("ftjob-sequence0000000", "cancelled", { message: "never" })).rejects.toMatchObject({ kind: "conflict" });
    const rows = await database.selectFrom("job_events").select(["sequence", "message"]).where("job_id", "=", "ftjob-sequence0000000").orderBy("sequence", "asc").execute();
    expect(rows).toEqual([
      { sequence: 1, message: "one" },
      { sequence: 2, message: "two" },
      { sequence: 3, message: "three" },
    ]);
    expect((await store.getJob(null, "ftjob-sequence0000000")).status).toBe("succeeded");
    await database.destroy();
  });

  it("a job's event stream that sees it succeed has every event of its success, however long the result file takes", async () => {
    const database = await openDatabase(dataDir);
    const project = await new ApiKeyStore(database).ensureProject("alpha");
    const store = new JobStore(database);
    // the result file is written after the status change; on a loaded machine that takes a while
    const files = new (class extends FileStore {
      override async storeGenerated(...args: Parameters<FileStore["storeGenerated"]>) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        return super.storeGenerated(...args);
      }
    })(database, dataDir, 1 << 20);
    const job = await store.insertJob(jobRow(project.id, "ftjob-streamend000000"), { message: "Fine-tuning job started" });
    await store.addEvent(job.id, { type: "metrics", message: "Step 1/1: training loss=1.0", data: { step: 1, train_loss: 1 } });
    const queue = { enqueue: async () => undefined, stop: async () => undefined, cancel: async () => undefined } as unknown as ConstructorParameters<typeof JobService>[3];
    const outcomes = new JobOutcomes(store, files);
    const service = new JobService(store, files, new ModelCatalog({}), queue, outcomes);
    const streamed: string[] = [];
    const stream = (async () => {
      for await (const event of service.streamEvents(project, job.id, null, new AbortController().signal, 20)) streamed.push(event.message);
    })();
    await outcomes.succeed(job, { trainedTokens: 10, adapterPath: null, mergedPath: null });
    await stream;
    expect(streamed.slice(-2)).toEqual([expect.stringMatching(/^New fine-tuned model created: /), "The job has successfully completed"]);
    expect(JSON.parse((await store.getJob(project.id, job.id)).result_files)).toHaveLength(1);
    await database.destroy();
  });

  it("recovery resumes a dead server's running job from its checkpoint and fails one without", async () => {
    const database = await openDatabase(dataDir);
    const project = await new ApiKeyStore(database).ensureProject("alpha");
    const store = new JobStore(database);
    const files = new FileStore(database, dataDir, 1 << 20);
    const service = new JobRecovery(store, { isRunning: () => false, hold: () => undefined, wake: () => undefined }, new JobOutcomes(store, files), { staleHeartbeatMs: 30_000 });
    const runs = new RunPreparer(store, files, new ModelCatalog({ models: ["tiny-base"] }), { dataDir });
    const old = Date.now() - 120_000;
    const file = await files.upload(project.id, { filename: "t.jsonl", purpose: "fine-tune", content: [Buffer.from('{"text": "hello"}\n')] });
    const runDir = join(dataDir, "runs", "ftjob-withcheckpoint0");
    const checkpoint = writeCheckpointAt(runDir, 10);
    await store.insertJob(jobRow(project.id, "ftjob-withcheckpoint0", { heartbeat_at: old, run_dir: runDir, last_checkpoint_path: checkpoint, training_file: file.id }), {
      message: "created",
    });
    await store.insertJob(jobRow(project.id, "ftjob-nocheckpoint000", { heartbeat_at: old }), { message: "created" });
    await store.insertJob(jobRow(project.id, "ftjob-stillalive00000", { heartbeat_at: Date.now() }), { message: "created" });

    const recovered = await service.recover();
    expect(recovered.resumed).toEqual(["ftjob-withcheckpoint0"]);
    expect(recovered.failed).toEqual(["ftjob-nocheckpoint000"]);
    expect((await store.getJob(null, "ftjob-withcheckpoint0")).status).toBe("queued");
    const failed = await store.getJob(null, "ftjob-nocheckpoint000");
    expect(failed.status).toBe("failed");
    expect(JSON.parse(failed.error ?? "{}")).toMatchObject({ code: "server_restarted" });
    // a fresh heartbeat means another server still runs it
    expect((await store.getJob(null, "ftjob-stillalive00000")).status).toBe("running");

    const request = await runs.prepare(await store.getJob(null, "ftjob-withcheckpoint0"));
    expect(request.spec.resume_from).toBe(checkpoint);
    await database.destroy();
  });
});
