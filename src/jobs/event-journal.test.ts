import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeCompleteCheckpoint } from "../../test/helpers/checkpoint-folder.js";
import type { WorkerEvent } from "../spec/worker-events.js";
import { ApiKeyStore } from "./api-key-store.js";
import { completeCheckpoints, JOURNAL_FILE, LAUNCH_MESSAGES, planRecovery, readJournal, RETIRED_JOURNAL_FILE, retireJournal, type StoredEvent } from "./event-journal.js";
import { FileStore } from "./file-store.js";
import { JobOutcomes } from "./job-outcome.js";
import { JobRecovery, type RecoveryScheduler } from "./job-recovery.js";
import { JobStore, type JobRow } from "./job-store.js";
import { openDatabase } from "./store/database.js";
import { mapWorkerEvent } from "./worker-event-mapper.js";

let runDir: string;

beforeEach(() => {
  runDir = mkdtempSync(join(tmpdir(), "tunekit-journal-"));
});
afterEach(() => rmSync(runDir, { recursive: true, force: true }));

const TOTAL = 10;
const loss = (step: number) => 3 - step / 10;

function checkpointPath(step: number): string {
  return join(runDir, "checkpoints", `step-${String(step).padStart(6, "0")}`);
}

function writeCheckpoint(step: number, leaveOut: string | null = null): string {
  const path = writeCompleteCheckpoint(checkpointPath(step), step, { metrics_history: [{ step, train_loss: loss(step), train_mean_token_accuracy: 0.5 }], last_eval: {} });
  if (leaveOut) unlinkSync(join(path, leaveOut));
  return path;
}

function metrics(step: number): WorkerEvent {
  return {
    v: 1,
    type: "metrics",
    time: 1000 + step,
    step,
    total_steps: TOTAL,
    epoch: step / TOTAL,
    train_loss: loss(step),
    train_mean_token_accuracy: 0.5,
    learning_rate: 1e-3,
    grad_norm: 1,
    tokens_per_second: 100,
    trained_tokens_seen: step * 10,
    elapsed_s: step,
  };
}

function checkpoint(step: number): WorkerEvent {
  return { v: 1, type: "checkpoint", time: 1000 + step + 0.5, step, epoch: step / TOTAL, path: checkpointPath(step), metrics: { train_loss: loss(step) } };
}

/** A worker session: started, then steps 1..`lastStep` with a checkpoint every 2 steps, then `tail`. */
function session(lastStep: number, tail: WorkerEvent[] = []): WorkerEvent[] {
  const events: WorkerEvent[] = [{ v: 1, type: "started", time: 999, run_dir: runDir, pid: 4242, device: "cpu (fp32)", world_size: 1, resumed_from: null }];
  for (let step = 1; step <= lastStep; step += 1) {
    events.push(metrics(step));
    if (step % 2 === 0) events.push(checkpoint(step));
  }
  return [...events, ...tail];
}

const toJobEvent = (event: WorkerEvent) => mapWorkerEvent(event).event;

/** What the store holds when the scheduler recorded the first `count` worker events of a session. */
function stored(events: WorkerEvent[], count: number): StoredEvent[] {
  const rows: StoredEvent[] = [
    { id: "ftevent-created", type: "message", level: "info", message: "Validating training file", data: null },
    { id: "ftevent-launch", type: "message", level: "info", message: LAUNCH_MESSAGES.started, data: null },
  ];
  events.slice(0, count).forEach((event, index) => {
    const mapped = toJobEvent(event);
    if (mapped) rows.push({ id: `ftevent-${index}`, type: mapped.type ?? "message", level: mapped.level ?? "info", message: mapped.message, data: mapped.data ?? null });
  });
  return rows;
}

function lines(events: WorkerEvent[]): string {
  return events.map((event) => `${JSON.stringify(event)}\n`).join("");
}

describe("the worker's event journal", () => {
  it("reads every whole event, skips a line cut by a kill, and is retired aside", () => {
    writeFileSync(join(runDir, JOURNAL_FILE), `${lines([metrics(1), metrics(2)])}{"v":1,"type":"metr`);
    const journal = readJournal(runDir);
    expect(journal.events.map((event) => (event as { step: number }).step)).toEqual([1, 2]);
    expect(journal.unreadableLines).toBe(1);
    retireJournal(runDir);
    expect(existsSync(join(runDir, JOURNAL_FILE))).toBe(false);
    expect(readFileSync(join(runDir, RETIRED_JOURNAL_FILE), "utf8")).toContain('"step":2');
    expect(readJournal(runDir).events).toEqual([]);
  });

  it("lists only checkpoints complete on disk: not a staging folder, not one missing a file, not one whose state names another step", () => {
    writeCheckpoint(2);
    writeCheckpoint(4);
    writeCheckpoint(6, "optimizer.pt");
    mkdirSync(`${checkpointPath(8)}.tmp`, { recursive: true });
    const wrongStep = writeCheckpoint(10);
    writeFileSync(join(wrongStep, "trainer_state.json"), JSON.stringify({ step: 9 }));
    expect(completeCheckpoints(runDir).map((found) => [found.step, found.path, found.metrics.train_loss])).toEqual([
      [2, checkpointPath(2), loss(2)],
      [4, checkpointPath(4), loss(4)],
    ]);
  });

  it("after kill -9 of the server: imports what the worker journaled after it (step 5, checkpoint 6, cancelled) and resumes from step 6", () => {
    const journal = session(6, [{ v: 1, type: "cancelled", time: 1100, step: 6, checkpoint_path: checkpointPath(6) }]);
    [2, 4, 6].forEach((step) => writeCheckpoint(step));
    // the store got everything up to the metrics of step 4 and its checkpoint: 1 + 4 metrics + 2 checkpoints
    const storedEvents = stored(journal, 7);
    const plan = planRecovery({
      journal,
      storedEvents,
      storedCheckpoints: [
        { id: "ftckpt-2", step: 2 },
        { id: "ftckpt-4", step: 4 },
      ],
      diskCheckpoints: completeCheckpoints(runDir),
      toJobEvent,
    });
    expect(plan.resumeFrom?.step).toBe(6);
    expect(plan.imports.map((event) => `${event.type}:${(event as { step?: number }).step}`)).toEqual(["metrics:5", "metrics:6", "checkpoint:6", "cancelled:6"]);
    expect(plan.checkpoints.map((found) => found.step)).toEqual([6]);
    expect(plan.dropEventIds).toEqual([]);
    expect(plan.retrainedSteps).toEqual([]);
  });

  it("when the worker died too: resumes from the last complete checkpoint and drops the metrics of the steps trained again", () => {
    const journal = session(7);
    [2, 4, 6].forEach((step) => writeCheckpoint(step, step === 6 ? "rng.pt" : null)); // step 6 was being written
    const storedEvents = stored(journal, 8); // metrics 1..5 and checkpoints 2, 4 reached the store
    const plan = planRecovery({
      journal,
      storedEvents,
      storedCheckpoints: [
        { id: "ftckpt-2", step: 2 },
        { id: "ftckpt-4", step: 4 },
      ],
      diskCheckpoints: completeCheckpoints(runDir),
      toJobEvent,
    });
    expect(plan.resumeFrom?.step).toBe(4);
    const stepFive = storedEvents.find((event) => event.message.startsWith("Step 5/"));
    expect(plan.dropEventIds).toEqual([stepFive!.id]);
    expect(plan.imports).toEqual([]); // steps 6 and 7 and checkpoint 6 happen again after the resume
    expect(plan.retrainedSteps).toEqual([5, 6, 7]);
  });

  it("after a clean stop the store has the whole session: nothing to import, nothing to drop", () => {
    const journal = session(4, [{ v: 1, type: "cancelled", time: 1100, step: 4, checkpoint_path: checkpointPath(4) }]);
    [2, 4].forEach((step) => writeCheckpoint(step));
    const storedEvents = [
      ...stored(journal, journal.length),
      { id: "ftevent-stopped", type: "message", level: "info", message: "Server stopped; the job resumes ...", data: null },
    ];
    const plan = planRecovery({
      journal,
      storedEvents,
      storedCheckpoints: [
        { id: "ftckpt-2", step: 2 },
        { id: "ftckpt-4", step: 4 },
      ],
      diskCheckpoints: completeCheckpoints(runDir),
      toJobEvent,
    });
    expect(plan).toMatchObject({ imports: [], checkpoints: [], dropEventIds: [], retrainedSteps: [] });
    expect(plan.resumeFrom?.step).toBe(4);
  });

  it("without a checkpoint there is nothing to resume from; what the worker wrote is still imported (but never a `done` it did not finish for the store)", () => {
    const journal = session(1, [{ v: 1, type: "error", time: 1200, code: "internal", message: "boom" }]);
    const plan = planRecovery({ journal, storedEvents: stored(journal, 1), storedCheckpoints: [], diskCheckpoints: [], toJobEvent });
    expect(plan.resumeFrom).toBeNull();
    expect(plan.imports.map((event) => event.type)).toEqual(["metrics", "error"]);
  });
});

function jobRow(projectId: string, id: string): JobRow {
  return {
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
}

/** No scheduler runs in these tests: nothing is running here, holds and wakes do nothing. */
const noScheduler: RecoveryScheduler = { isRunning: () => false, hold: () => undefined, wake: () => undefined };

describe("JobRecovery with a journal", () => {
  it("imports journaled events and checkpoints, drops re-trained metrics, and queues the job to resume, in one step", async () => {
    const dataDir = join(runDir, "data");
    const database = await openDatabase(dataDir);
    const project = await new ApiKeyStore(database).ensureProject("alpha");
    const store = new JobStore(database);
    const service = new JobRecovery(store, noScheduler, new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20)));
    const jobId = "ftjob-journal000000000";
    const row: JobRow = { ...jobRow(project.id, jobId), last_checkpoint_path: checkpointPath(2) };
    await store.insertJob(row, { message: LAUNCH_MESSAGES.started });
    // the server recorded steps 1..3 and checkpoint 2, then died (its owner pid does not exist any more);
    // the worker went on to step 4, checkpoint 4, and a `cancelled` only the journal saw
    const journal = session(4, [{ v: 1, type: "cancelled", time: 1100, step: 4, checkpoint_path: checkpointPath(4) }]);
    for (const event of journal.slice(0, 5)) {
      const mapped = mapWorkerEvent(event);
      if (event.type === "checkpoint") await store.addCheckpoint(row, { step: event.step, path: event.path, metrics: { step: event.step }, fineTunedModelCheckpoint: "x" });
      if (mapped.event) await store.addEvent(jobId, mapped.event);
    }
    writeFileSync(join(runDir, "owner.json"), JSON.stringify({ hostname: hostname(), pid: 2 ** 22 + 1, instance: "dead", since: 0 }));
    writeCheckpoint(2);
    writeCheckpoint(4);
    writeFileSync(join(runDir, JOURNAL_FILE), lines(journal));

    const recovered = await service.recover();
    expect(recovered.resumed).toEqual([jobId]);
    const job = await store.getJob(null, jobId);
    expect(job.status).toBe("queued");
    expect(job.last_checkpoint_path).toBe(checkpointPath(4));
    const page = { after: null, limit: 100, order: "asc" as const };
    const events = (await store.listEvents(project.id, jobId, page)).data;
    const steps = events.filter((event) => event.type === "metrics").map((event) => (event.data as { step: number }).step);
    expect(steps).toEqual([1, 2, 3, 4]);
    expect(events.map((event) => event.message)).toEqual(expect.arrayContaining(["Checkpoint created at step 4", "Worker stopped at step 4 after writing a checkpoint"]));
    expect(events.at(-1)?.message).toBe("The server stopped while this job ran; queued to resume from its checkpoint at step 4");
    expect((await store.listCheckpoints(project.id, jobId, page)).data.map((found) => found.step_number).sort()).toEqual([2, 4]);
    // the journal is retired: the next launch journals afresh, and a second recovery finds nothing new
    expect(existsSync(join(runDir, JOURNAL_FILE))).toBe(false);
    await database.destroy();
  });

  it("a job paused while its server died keeps its status and gets the checkpoint its worker wrote on the way out", async () => {
    const dataDir = join(runDir, "data");
    const database = await openDatabase(dataDir);
    const project = await new ApiKeyStore(database).ensureProject("alpha");
    const store = new JobStore(database);
    const service = new JobRecovery(store, noScheduler, new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20)));
    const jobId = "ftjob-pausedjob0000000";
    const row: JobRow = { ...jobRow(project.id, jobId), last_checkpoint_path: checkpointPath(2) };
    await store.insertJob(row, { message: LAUNCH_MESSAGES.started });
    const journal = session(3, [checkpoint(3), { v: 1, type: "cancelled", time: 1100, step: 3, checkpoint_path: checkpointPath(3) }]);
    for (const event of journal.slice(0, 4)) {
      if (event.type === "checkpoint") await store.addCheckpoint(row, { step: event.step, path: event.path, metrics: { step: event.step }, fineTunedModelCheckpoint: "x" });
      await store.addEvent(jobId, mapWorkerEvent(event).event!);
    }
    await store.transition(jobId, "paused", { message: "Pausing: the worker writes a checkpoint and stops" });
    writeCheckpoint(2);
    writeCheckpoint(3);
    writeFileSync(join(runDir, JOURNAL_FILE), lines(journal));
    writeFileSync(join(runDir, "owner.json"), JSON.stringify({ hostname: hostname(), pid: 2 ** 22 + 1, instance: "dead", since: 0 }));

    await service.recover();
    const job = await store.getJob(null, jobId);
    expect(job.status).toBe("paused");
    expect(job.last_checkpoint_path).toBe(checkpointPath(3));
    const events = (await store.listEvents(project.id, jobId, { after: null, limit: 100, order: "asc" })).data;
    expect(events.filter((event) => event.type === "metrics").map((event) => (event.data as { step: number }).step)).toEqual([1, 2, 3]);
    expect(events.map((event) => event.message)).toContain("Worker stopped at step 3 after writing a checkpoint");
    expect((await store.checkpointRows(jobId)).map((found) => found.step)).toEqual([2, 3]);
    expect(existsSync(join(runDir, JOURNAL_FILE))).toBe(false);
    await database.destroy();
  });

  it("completes a job whose worker finished (journaled `done`, outputs on disk) before the server could record it, without training again", async () => {
    const dataDir = join(runDir, "data");
    const database = await openDatabase(dataDir);
    const project = await new ApiKeyStore(database).ensureProject("alpha");
    const store = new JobStore(database);
    const service = new JobRecovery(store, noScheduler, new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20)));
    const jobId = "ftjob-finished00000000";
    await store.insertJob(jobRow(project.id, jobId), { message: LAUNCH_MESSAGES.started });
    const adapter = join(runDir, "adapter");
    mkdirSync(adapter, { recursive: true });
    writeCheckpoint(2);
    writeCheckpoint(4);
    const done: WorkerEvent = {
      v: 1,
      type: "done",
      time: 1200,
      adapter_path: adapter,
      merged_path: null,
      summary: {
        trained_tokens: 40,
        train_runtime_s: 4,
        tokens_per_second: 10,
        steps: 4,
        final_train_loss: loss(4),
        final_valid_loss: null,
        final_valid_mean_token_accuracy: null,
      },
    };
    const journal = session(4, [done]);
    for (const event of journal.slice(0, 3)) await store.addEvent(jobId, mapWorkerEvent(event).event!);
    writeFileSync(join(runDir, JOURNAL_FILE), lines(journal));
    writeFileSync(join(runDir, "owner.json"), JSON.stringify({ hostname: hostname(), pid: 2 ** 22 + 1, instance: "dead", since: 0 }));

    const recovered = await service.recover();
    expect(recovered.completed).toEqual([jobId]);
    const job = await store.getJob(null, jobId);
    expect(job).toMatchObject({ status: "succeeded", trained_tokens: 40, adapter_path: adapter, fine_tuned_model: `ft:tiny-base::${jobId.slice(-8)}` });
    expect(JSON.parse(job.result_files)).toHaveLength(1);
    const events = (await store.listEvents(project.id, jobId, { after: null, limit: 100, order: "asc" })).data;
    expect(events.filter((event) => event.type === "metrics").map((event) => (event.data as { step: number }).step)).toEqual([1, 2, 3, 4]);
    expect(events.filter((event) => event.message.startsWith("Training finished"))).toHaveLength(1);
    expect(events.at(-1)?.message).toBe("The job has successfully completed");
    await database.destroy();
  });

  it("leaves alone a job whose owner is alive and whose heartbeat is fresh, and takes over one whose owner process is gone", async () => {
    const dataDir = join(runDir, "data");
    const database = await openDatabase(dataDir);
    const project = await new ApiKeyStore(database).ensureProject("alpha");
    const store = new JobStore(database);
    const service = new JobRecovery(store, noScheduler, new JobOutcomes(store, new FileStore(database, dataDir, 1 << 20)));
    const base = {
      project_id: project.id,
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
      last_checkpoint_path: null,
      adapter_path: null,
      options: null,
      integrations: null,
      model_deleted_at: null,
      execution_backend: null,
      execution_nodes: null,
    };
    const aliveDir = join(runDir, "alive");
    const deadDir = join(runDir, "dead");
    await store.insertJob({ ...base, id: "ftjob-owneralive00000", run_dir: aliveDir }, { message: "created" });
    await store.insertJob({ ...base, id: "ftjob-ownergone000000", run_dir: deadDir }, { message: "created" });
    mkdirSync(deadDir, { recursive: true });
    mkdirSync(aliveDir, { recursive: true });
    // an owner pid of this host that exists: pid 1 (init) is always there
    writeFileSync(join(aliveDir, "owner.json"), JSON.stringify({ hostname: hostname(), pid: 1, instance: "other", since: 0 }));
    writeFileSync(join(deadDir, "owner.json"), JSON.stringify({ hostname: hostname(), pid: 2 ** 22 + 1, instance: "dead", since: 0 }));

    const recovered = await service.recover();
    expect(recovered.failed).toEqual(["ftjob-ownergone000000"]); // no checkpoint: failed, with the reason
    expect((await store.getJob(null, "ftjob-owneralive00000")).status).toBe("running");
    expect(JSON.parse((await store.getJob(null, "ftjob-ownergone000000")).error!)).toMatchObject({ code: "server_restarted" });
    await database.destroy();
  });
});
