import { randomInt } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TrainingConfig } from "../core/config-schema.js";
import { TunekitError } from "../core/errors.js";
import type { DpoHyperparameters, FineTuningJob, FineTuningJobCheckpoint, FineTuningJobEvent, ListPage, Model, SupervisedHyperparameters } from "../spec/openai-wire.js";
import type { Project } from "./api-key-store.js";
import { parseCreateJobParams, type JobOptions } from "./create-job-params.js";
import { describeProblems, type FileStore, type StoredFile } from "./file-store.js";
import { monotonicNow, newId } from "./ids.js";
import type { JobRunRequest } from "./job-runner.js";
import { isTerminal, type JobStatus } from "./job-state-machine.js";
import { completeCheckpoints, JOURNAL_FILE, planRecovery, readJournal, retireJournal, retrainedMessage, type DiskCheckpoint, type RecoveryPlan } from "./event-journal.js";
import { toJobObject, type JobPatch, type JobRow, type JobStore, type NewCheckpoint, type NewJobEvent, type RecoveryWrite } from "./job-store.js";
import { ownerIsGone, readRunOwner, workerProcesses } from "./run-owner.js";
import { mapWorkerEvent } from "./worker-event-mapper.js";
import type { ModelCatalog } from "./model-catalog.js";
import type { Page } from "./page-params.js";
import type { Scheduler } from "./scheduler.js";
import { BASE_LEARNING_RATE, buildWorkerJobSpec } from "./worker-job-spec.js";

export interface JobServiceOptions {
  dataDir: string;
  /** server-wide training settings passed to every worker (device, max_steps, checkpoint_every ...) */
  trainingDefaults?: Partial<TrainingConfig>;
  maxSeqLen?: number;
  /** a running job whose heartbeat is older than this belongs to a dead server (default 60 s) */
  staleHeartbeatMs?: number;
  /** SIGKILL the worker of an orphaned job that has not exited this long after SIGTERM (default 10 minutes) */
  orphanWorkerTimeoutMs?: number;
}

/** `ft:<base>:<suffix>:<job-id-tail>`; the suffix slot is empty when the job has none. */
export function fineTunedModelId(job: Pick<JobRow, "id" | "model" | "suffix">): string {
  return `ft:${job.model}:${job.suffix ?? ""}:${job.id.slice(-8)}`;
}

/**
 * Fine-tuning jobs: create (validate files, queue), read, list, events, checkpoints, cancel,
 * pause, resume, and recovery after a restart. The HTTP routes and the CLI call this.
 */
export class JobService {
  private scheduler: Scheduler | null = null;
  private readonly validations = new Set<Promise<void>>();
  /** orphaned jobs whose worker is still stopping (recoverWhenWorkersExit) */
  private readonly recoveries = new Set<Promise<void>>();
  private readonly recovering = new Set<string>();

  constructor(
    readonly store: JobStore,
    readonly files: FileStore,
    readonly catalog: ModelCatalog,
    private readonly options: JobServiceOptions,
  ) {}

  attachScheduler(scheduler: Scheduler): void {
    this.scheduler = scheduler;
  }

  async create(project: Project, body: unknown): Promise<FineTuningJob> {
    const input = parseCreateJobParams(body);
    const base = this.catalog.resolve(input.model);
    if (!base) {
      const known = this.catalog.baseModels().map((model) => `\`${model.id}\``);
      throw new TunekitError(`model \`${input.model}\` is not available for fine-tuning on this server`, {
        kind: "usage",
        code: "model_not_available",
        field: "model",
        fix: known.length > 0 ? `use one of ${known.join(", ")} (GET /v1/models)` : "start the server with `--model <folder|.gguf|hub id>` or put models in its `--models-dir`",
      });
    }
    const training = await this.files.get(project.id, input.trainingFile, "training_file");
    const validation = input.validationFile ? await this.files.get(project.id, input.validationFile, "validation_file") : null;
    for (const [file, field] of [[training, "training_file"], [validation, "validation_file"]] as const) {
      if (file && file.object.purpose !== "fine-tune") {
        throw new TunekitError(`file \`${file.object.id}\` has purpose \`${file.object.purpose}\`, not \`fine-tune\``, { kind: "usage", code: "invalid_file_purpose", field, fix: "upload the data again with `purpose=fine-tune`" });
      }
      // a file whose validation already found errors is refused now (400), not failed a moment later;
      // one still being validated is checked when its validation ends (validateFiles)
      const problem = file && file.object.status === "error" ? validationProblem(file, field) : null;
      if (problem) {
        throw new TunekitError(problem.message, {
          kind: "data",
          code: problem.code,
          field,
          problems: (file?.validation?.errors ?? []).map((error) => ({ code: error.code, message: error.message, field, ...(error.line !== null && { line: error.line }), file: file?.object.filename })),
          fix: `see every problem with \`tunekit files show ${file?.object.id}\` (GET /v1/tunekit/files/${file?.object.id}/report), write a cleaned copy with \`tunekit data fix\`, upload it and create the job with the new file id`,
        });
      }
    }
    const id = newId("job");
    const hyperparameters: SupervisedHyperparameters = {
      batch_size: input.hyperparameters.batch_size,
      learning_rate_multiplier: input.hyperparameters.learning_rate_multiplier,
      n_epochs: input.hyperparameters.n_epochs,
    };
    const method = input.methodType === "dpo" ? { type: "dpo", dpo: { hyperparameters: input.hyperparameters } } : { type: "supervised", supervised: { hyperparameters } };
    const row: JobRow = {
      id,
      project_id: project.id,
      model: input.model,
      training_file: training.object.id,
      validation_file: validation?.object.id ?? null,
      status: "validating_files",
      hyperparameters: JSON.stringify(hyperparameters),
      resolved_hyperparameters: null,
      method: JSON.stringify(method),
      suffix: input.suffix,
      seed: input.seed ?? randomInt(0, 2_147_483_647),
      metadata: input.metadata ? JSON.stringify(input.metadata) : null,
      fine_tuned_model: null,
      error: null,
      created_at: monotonicNow(),
      started_at: null,
      finished_at: null,
      trained_tokens: null,
      estimated_finish: null,
      result_files: "[]",
      heartbeat_at: null,
      run_dir: null,
      last_checkpoint_path: null,
      adapter_path: null,
      options: Object.keys(input.options.training).length + Object.keys(input.options.data).length > 0 ? JSON.stringify(input.options) : null,
      integrations: input.integrations ? JSON.stringify(input.integrations) : null,
      model_deleted_at: null,
    };
    await this.store.insertJob(row, { message: `Validating training file: ${training.object.id}${validation ? ` and validation file: ${validation.object.id}` : ""}` });
    this.validateInBackground(id, input.methodType);
    return toJobObject(row, project.id);
  }

  async get(project: Project, jobId: string): Promise<FineTuningJob> {
    return toJobObject(await this.store.getJob(project.id, jobId), project.id);
  }

  async list(project: Project, page: Page, metadata?: Record<string, string>): Promise<ListPage<FineTuningJob>> {
    const { rows, hasMore } = await this.store.listJobs(project.id, page, metadata);
    return { object: "list", data: rows.map((row) => toJobObject(row, project.id)), has_more: hasMore };
  }

  listEvents(project: Project, jobId: string, page: Page): Promise<ListPage<FineTuningJobEvent>> {
    return this.store.listEvents(project.id, jobId, page);
  }

  listCheckpoints(project: Project, jobId: string, page: Page): Promise<ListPage<FineTuningJobCheckpoint>> {
    return this.store.listCheckpoints(project.id, jobId, page);
  }

  /**
   * Events oldest first: those after `afterId` (or all), then new ones as they are written,
   * until the job has finished and nothing is left, or `signal` aborts.
   */
  async *streamEvents(project: Project, jobId: string, afterId: string | null, signal: AbortSignal, pollMs = 250): AsyncGenerator<FineTuningJobEvent> {
    await this.store.getJob(project.id, jobId);
    let sequence = 0;
    if (afterId) {
      const found = await this.store.eventSequence(jobId, afterId);
      if (found === null) throw new TunekitError(`no event \`${afterId}\` in job \`${jobId}\``, { kind: "not_found", code: "event_not_found", field: "after", fix: "pass the id of an event of this job" });
      sequence = found;
    }
    while (!signal.aborted) {
      const job = await this.store.getJob(project.id, jobId);
      const batch = await this.store.eventsSince(jobId, sequence);
      for (const item of batch) {
        sequence = item.sequence;
        yield item.event;
      }
      if (batch.length === 0 && isTerminal(job.status as JobStatus)) return;
      if (batch.length === 0) await sleep(pollMs, undefined, { signal }).catch(() => undefined); // an abort ends the wait
    }
  }

  async cancel(project: Project, jobId: string): Promise<FineTuningJob> {
    const job = await this.store.getJob(project.id, jobId);
    const updated = await this.store.transition(job.id, "cancelled", { message: "Fine-tuning job cancelled" }, { finished_at: Date.now(), estimated_finish: null });
    if (job.status === "running") await this.scheduler?.stop(job.id, "cancel");
    return toJobObject(updated, project.id);
  }

  async pause(project: Project, jobId: string): Promise<FineTuningJob> {
    const job = await this.store.getJob(project.id, jobId);
    const updated = await this.store.transition(job.id, "paused", { message: "Pausing: the worker writes a checkpoint and stops" }, { estimated_finish: null });
    await this.scheduler?.stop(job.id, "pause");
    return toJobObject(updated, project.id);
  }

  async resume(project: Project, jobId: string): Promise<FineTuningJob> {
    const job = await this.store.getJob(project.id, jobId);
    const updated = await this.store.transition(job.id, "queued", { message: job.last_checkpoint_path ? "Resumed: queued to continue from the last checkpoint" : "Resumed: queued to train from the start (no checkpoint was written)" });
    void this.scheduler?.wake();
    return toJobObject(updated, project.id);
  }

  /** Base models this server can train plus the project's fine-tuned models. */
  async models(project: Project): Promise<Model[]> {
    const base = this.catalog.baseModels().map((model): Model => ({ id: model.id, object: "model", created: model.created, owned_by: "tunekit" }));
    const tuned = (await this.store.fineTunedModels(project.id)).map((model): Model => ({ id: model.id, object: "model", created: model.created, owned_by: project.name }));
    return [...base, ...tuned];
  }

  /**
   * DELETE /v1/models/{model}, as OpenAI: a fine-tuned model of the project is removed (its adapter,
   * merged weights and serving exports go; its job and checkpoints stay) and answers 404 afterwards.
   */
  async deleteModel(project: Project, modelId: string): Promise<{ id: string; object: "model"; deleted: boolean }> {
    const job = await this.store.jobOfModel(project.id, modelId);
    if (!job) {
      if (this.catalog.resolve(modelId)) {
        throw new TunekitError(`\`${modelId}\` is a base model of this server: only fine-tuned models can be deleted`, { kind: "usage", code: "model_not_deletable", field: "model", fix: "delete one of your `ft:` models (GET /v1/models)" });
      }
      throw new TunekitError(`no model \`${modelId}\``, { kind: "not_found", code: "model_not_found", field: "model", fix: "list models with GET /v1/models" });
    }
    if (job.run_dir) for (const folder of ["adapter", "merged", "export"]) rmSync(join(job.run_dir, folder), { recursive: true, force: true });
    await this.store.updateJob(job.id, { model_deleted_at: Date.now() });
    await this.store.addEvent(job.id, { message: `Fine-tuned model deleted: ${modelId}` });
    return { id: modelId, object: "model", deleted: true };
  }

  async model(project: Project, modelId: string): Promise<Model> {
    const found = (await this.models(project)).find((model) => model.id === modelId);
    if (!found) throw new TunekitError(`no model \`${modelId}\``, { kind: "not_found", code: "model_not_found", field: "model", fix: "list models with GET /v1/models" });
    return found;
  }

  /** The worker request for a job the scheduler is starting. */
  async prepareRun(job: JobRow): Promise<JobRunRequest> {
    const base = this.catalog.resolve(job.model);
    if (!base) throw new TunekitError(`model \`${job.model}\` is no longer available on this server`, { kind: "usage", code: "model_not_available", field: "model" });
    const training = await this.files.get(job.project_id, job.training_file, "training_file");
    const method = JSON.parse(job.method) as { type: "supervised" | "dpo"; supervised?: { hyperparameters?: SupervisedHyperparameters }; dpo?: { hyperparameters?: DpoHyperparameters } };
    const hyperparameters = JSON.parse(job.hyperparameters) as SupervisedHyperparameters;
    const runDir = job.run_dir ?? join(this.options.dataDir, "runs", job.id);
    const checkpoint = job.last_checkpoint_path ?? (await this.store.latestCheckpoint(job.id))?.path ?? null;
    const spec = buildWorkerJobSpec({
      runDir,
      modelSource: base.source,
      trainingPath: this.files.pathOf(job.training_file),
      validationPath: job.validation_file ? this.files.pathOf(job.validation_file) : null,
      trainingExamples: training.validation?.validExamples ?? 0,
      methodType: method.type,
      hyperparameters: method.type === "dpo" ? { ...hyperparameters, ...method.dpo?.hyperparameters } : hyperparameters,
      seed: job.seed,
      resumeFrom: checkpoint,
      trainingDefaults: this.options.trainingDefaults,
      maxSeqLen: this.options.maxSeqLen,
      jobOptions: jobOptionsOf(job),
    });
    return { jobId: job.id, runDir, spec };
  }

  /**
   * OpenAI's result file: `step_metrics.csv` (step, train_loss, train_accuracy, valid_loss,
   * valid_mean_token_accuracy) from the job's metrics events; its id goes to `result_files`.
   */
  async writeResultFile(job: JobRow): Promise<string> {
    const rows = new Map<number, Record<string, number>>();
    let after: string | null = null;
    for (;;) {
      const page: ListPage<FineTuningJobEvent> = await this.store.listEvents(job.project_id, job.id, { after, limit: 100, order: "asc" });
      for (const event of page.data) {
        const data = event.data as Record<string, unknown> | null;
        if (event.type !== "metrics" || !data || typeof data.step !== "number") continue;
        const row = rows.get(data.step) ?? {};
        for (const [key, value] of Object.entries(data)) if (typeof value === "number") row[key] = value;
        rows.set(data.step, row);
      }
      if (!page.has_more) break;
      after = page.data.at(-1)?.id ?? null;
    }
    const columns: Array<[string, string]> = [
      ["step", "step"],
      ["train_loss", "train_loss"],
      ["train_accuracy", "train_mean_token_accuracy"],
      ["valid_loss", "valid_loss"],
      ["valid_mean_token_accuracy", "valid_mean_token_accuracy"],
    ];
    const lines = [columns.map(([name]) => name).join(",")];
    for (const step of [...rows.keys()].sort((a, b) => a - b)) {
      const row = rows.get(step) as Record<string, number>;
      lines.push(columns.map(([, key]) => (row[key] === undefined ? "" : String(row[key]))).join(","));
    }
    const file = await this.files.storeGenerated(job.project_id, { filename: "step_metrics.csv", purpose: "fine-tune-results", content: `${lines.join("\n")}\n` });
    await this.store.updateJob(job.id, { result_files: JSON.stringify([file.id]) });
    return file.id;
  }

  baseLearningRate(): number {
    return this.options.trainingDefaults?.method === "full" ? BASE_LEARNING_RATE.full : BASE_LEARNING_RATE.adapter;
  }

  /**
   * After a restart, and periodically: `running` jobs whose server is gone are taken over (see
   * `isOrphaned` for the rule). Their worker, if it still runs, is asked to stop and waited for in
   * the background; then the job resumes from its newest complete checkpoint with the events the
   * worker journaled after the server died (`recoverJob`), or fails when no checkpoint exists.
   * Paused and queued jobs of a dead server get their worker's journaled events too
   * (`importStoppedSession`). Jobs caught validating are validated again (only at startup: `revalidate: false` for the
   * periodic sweep).
   */
  async recover(options: { revalidate?: boolean } = {}): Promise<{ resumed: string[]; completed: string[]; failed: string[]; waiting: string[]; revalidated: string[] }> {
    const resumed: string[] = [];
    const completed: string[] = [];
    const failed: string[] = [];
    const waiting: string[] = [];
    for (const job of await this.store.jobsWithStatus("running")) {
      if (this.scheduler?.isRunning(job.id) || this.recovering.has(job.id)) continue;
      if (!this.isOrphaned(job)) continue;
      await this.takeOver(job, waiting, async () => {
        const outcome = await this.recoverJob(job);
        ({ resumed, completed, failed })[outcome].push(job.id);
      });
    }
    // paused (or paused, then resumed) while its worker was stopping, and then the server died:
    // the worker's checkpoint and last events are only in its journal. Import them before the job
    // can be launched again (a launch retires the journal).
    for (const job of [...(await this.store.jobsWithStatus("paused")), ...(await this.store.jobsWithStatus("queued"))]) {
      const runDir = job.run_dir;
      if (!runDir || this.scheduler?.isRunning(job.id) || this.recovering.has(job.id) || !existsSync(join(runDir, JOURNAL_FILE))) continue;
      const owner = readRunOwner(runDir);
      if (owner && !ownerIsGone(owner)) continue;
      await this.takeOver(job, waiting, () => this.importStoppedSession(job));
    }
    const revalidated: string[] = [];
    if (resumed.length > 0) void this.scheduler?.wake();
    if (options.revalidate === false) return { resumed, completed, failed, waiting, revalidated };
    await this.files.validatePending();
    for (const job of await this.store.jobsWithStatus("validating_files")) {
      this.validateInBackground(job.id, (JSON.parse(job.method) as { type: "supervised" | "dpo" }).type);
      revalidated.push(job.id);
    }
    return { resumed, completed, failed, waiting, revalidated };
  }

  /**
   * Is a `running` job that this server does not run left without a server? Yes when
   * 1. its heartbeat is null: its server stopped cleanly and said so;
   * 2. its owner (<run_dir>/owner.json, written by the scheduler that launched it) was a process on
   *    this host that no longer exists, or a closed scheduler of this process. This is what a
   *    restart after `kill -9` sees: the heartbeat is seconds old, but its writer is dead, so there
   *    is no reason to wait for it to go stale. A pid can be reused by an unrelated process; then
   *    the owner looks alive and rule 3 decides, late but safely;
   * 3. its heartbeat is older than `staleHeartbeatMs` (default 60 s): the only evidence about an
   *    owner on another host sharing the data dir, or one that never wrote its owner file.
   * A live owner is never second-guessed before its heartbeat is stale: two servers must not
   * train the same job.
   */
  private isOrphaned(job: JobRow): boolean {
    if (job.heartbeat_at === null) return true;
    const owner = job.run_dir ? readRunOwner(job.run_dir) : null;
    if (owner && ownerIsGone(owner)) return true;
    return job.heartbeat_at <= Date.now() - (this.options.staleHeartbeatMs ?? 60_000);
  }

  /**
   * One job of a dead server: while its old worker still runs, recovery waits for it in the
   * background (the job is listed in `waiting`); otherwise `recover` runs now, with the job marked
   * as recovering so that no other sweep touches it.
   */
  private async takeOver(job: JobRow, waiting: string[], recover: () => Promise<void>): Promise<void> {
    const workers = job.run_dir ? workerProcesses(job.run_dir) : [];
    if (workers.length > 0) {
      this.recoverWhenWorkersExit(job.id, job.run_dir as string, workers);
      waiting.push(job.id);
      return;
    }
    this.recovering.add(job.id);
    try {
      await recover();
    } finally {
      this.recovering.delete(job.id);
    }
  }

  /**
   * The worker of an orphaned job may still run: it got SIGTERM when its server died and is
   * finishing its step and writing a checkpoint (a torchrun launcher does not get that signal: it
   * gets it here). Recover the job when every worker process of its run dir has exited (SIGKILL
   * after `orphanWorkerTimeoutMs`), so that the journal and checkpoints are final and two workers
   * never share a run dir.
   */
  private recoverWhenWorkersExit(jobId: string, runDir: string, pids: number[]): void {
    this.recovering.add(jobId);
    const work = (async () => {
      for (const pid of pids) signalProcess(pid, "SIGTERM");
      const deadline = Date.now() + (this.options.orphanWorkerTimeoutMs ?? 600_000);
      let killed = false;
      for (;;) {
        if (this.scheduler?.isClosed) return;
        const alive = workerProcesses(runDir);
        if (alive.length === 0) break;
        if (Date.now() > deadline && !killed) {
          for (const pid of alive) signalProcess(pid, "SIGKILL");
          killed = true;
        }
        await sleep(100, undefined, { ref: false });
      }
      const job = await this.store.getJob(null, jobId);
      if (this.scheduler?.isRunning(jobId)) return;
      if (job.status === "running") {
        if ((await this.recoverJob(job)) === "resumed") void this.scheduler?.wake();
      } else if (job.status === "paused" || job.status === "queued") {
        await this.importStoppedSession(job);
      }
    })()
      .catch((error: unknown) => process.emitWarning(`recovery of job ${jobId}: ${(error as Error).message}`))
      .finally(() => {
        this.recovering.delete(jobId);
        this.recoveries.delete(work);
      });
    this.recoveries.add(work);
    this.scheduler?.hold(jobId, work); // not launched again while its old worker stops
  }

  /**
   * The recovery plan of a job (event-journal.ts planRecovery) and what it writes: imported events
   * with their checkpoint rows, notes for the user, and the job fields to update.
   */
  private async planRecoveryOf(job: JobRow): Promise<{ plan: RecoveryPlan; imports: RecoveryWrite["imports"]; notes: NewJobEvent[]; patch: JobPatch }> {
    const runDir = job.run_dir;
    const journal = runDir ? readJournal(runDir) : { events: [], unreadableLines: 0 };
    const baseLearningRate = this.baseLearningRate();
    const plan = planRecovery({
      journal: journal.events,
      storedEvents: (await this.store.jobEvents(job.id)).map((row) => ({ id: row.id, type: row.type, level: row.level, message: row.message, data: row.data ? (JSON.parse(row.data) as Record<string, unknown>) : null })),
      storedCheckpoints: await this.store.checkpointRows(job.id),
      diskCheckpoints: runDir ? completeCheckpoints(runDir) : [],
      toJobEvent: (event) => mapWorkerEvent(event, baseLearningRate).event,
    });
    const checkpointId = (step: number) => `${fineTunedModelId(job)}:ckpt-step-${step}`;
    const toRow = (checkpoint: DiskCheckpoint): NewCheckpoint => ({ step: checkpoint.step, path: checkpoint.path, metrics: checkpoint.metrics, fineTunedModelCheckpoint: checkpointId(checkpoint.step) });
    const pending = new Map(plan.checkpoints.map((checkpoint) => [checkpoint.step, checkpoint]));
    const patch: JobPatch = { heartbeat_at: null, estimated_finish: null };
    const imports: RecoveryWrite["imports"] = [];
    for (const event of plan.imports) {
      const mapped = mapWorkerEvent(event, baseLearningRate);
      if (mapped.resolvedHyperparameters) patch.resolved_hyperparameters = JSON.stringify(mapped.resolvedHyperparameters);
      const checkpoint = event.type === "checkpoint" ? pending.get(event.step) : undefined;
      if (checkpoint) pending.delete(checkpoint.step);
      const createdAt = event.time === undefined ? undefined : Math.round(event.time * 1000);
      imports.push({ event: mapped.event ? { ...mapped.event, createdAt } : null, checkpoint: checkpoint ? toRow(checkpoint) : null });
    }
    // a complete checkpoint that no event announced (the worker died between writing and telling)
    for (const checkpoint of pending.values()) imports.push({ event: null, checkpoint: toRow(checkpoint) });
    const notes: NewJobEvent[] = [];
    if (plan.imports.length > 0) notes.push({ message: `Recovered ${plan.imports.length} event(s) the worker wrote after the server stopped` });
    const retrained = plan.resumeFrom && !plan.finished ? retrainedMessage(plan.retrainedSteps, plan.resumeFrom.step) : null;
    if (retrained) notes.push({ level: "warn", message: retrained, data: { steps: plan.retrainedSteps } });
    return { plan, imports, notes, patch };
  }

  /**
   * A paused or queued job whose server died while its worker stopped: import the worker's last
   * events and point the job at its newest complete checkpoint; the status stays as it is.
   */
  private async importStoppedSession(job: JobRow): Promise<void> {
    const { plan, imports, notes } = await this.planRecoveryOf(job);
    const changes = imports.length + plan.dropEventIds.length + plan.dropCheckpointIds.length;
    const resumeFrom = plan.resumeFrom?.path ?? null;
    if (changes > 0 || resumeFrom !== job.last_checkpoint_path) {
      await this.store.applyRecovery(job.id, {
        imports,
        notes,
        deleteEventIds: plan.finished ? [] : plan.dropEventIds,
        deleteCheckpointIds: plan.finished ? [] : plan.dropCheckpointIds,
        patch: resumeFrom ? { last_checkpoint_path: resumeFrom } : {},
      });
    }
    if (job.run_dir) retireJournal(job.run_dir);
  }

  /**
   * Take over an orphaned job whose worker has exited: read the worker's journal, import the
   * events the store lacks (checkpoint events become checkpoint rows), drop metrics of steps after
   * the newest checkpoint complete on disk (the resumed run trains them again, once, into the
   * final model), and queue the job to resume from that checkpoint; or fail it, with the reason,
   * when there is none. A worker that finished (its `done` is journaled, its outputs are on disk)
   * before the server recorded it makes the job `succeeded` without training anything again.
   * One transaction; the journal is retired after it.
   */
  private async recoverJob(job: JobRow): Promise<"resumed" | "completed" | "failed"> {
    const { plan, imports, notes, patch } = await this.planRecoveryOf(job);
    const runDir = job.run_dir;
    const outputs = plan.finished ? [plan.finished.adapter_path, plan.finished.merged_path].filter((path): path is string => path !== null) : [];
    if (plan.finished && outputs.length > 0 && outputs.every((path) => existsSync(path))) {
      // the worker finished and wrote its outputs; only the server's bookkeeping was lost
      const model = fineTunedModelId(job);
      await this.store.applyRecovery(job.id, {
        imports,
        notes,
        deleteEventIds: [],
        deleteCheckpointIds: [],
        to: "succeeded",
        event: { message: `New fine-tuned model created: ${model}` },
        patch: { ...patch, fine_tuned_model: model, finished_at: Date.now(), trained_tokens: plan.finished.summary.trained_tokens, adapter_path: outputs[0], ...(plan.resumeFrom ? { last_checkpoint_path: plan.resumeFrom.path } : {}) },
      });
      if (runDir) retireJournal(runDir);
      await this.writeResultFile(await this.store.getJob(null, job.id)).catch((error: unknown) => this.store.addEvent(job.id, { level: "warn", message: `could not write the result file: ${(error as Error).message}` }));
      await this.store.addEvent(job.id, { message: "The job has successfully completed" });
      return "completed";
    }
    if (plan.resumeFrom) {
      await this.store.applyRecovery(job.id, {
        imports,
        notes,
        deleteEventIds: plan.dropEventIds,
        deleteCheckpointIds: plan.dropCheckpointIds,
        to: "queued",
        event: { level: "warn", message: `The server stopped while this job ran; queued to resume from its checkpoint at step ${plan.resumeFrom.step}`, data: { step: plan.resumeFrom.step } },
        patch: { ...patch, last_checkpoint_path: plan.resumeFrom.path },
      });
    } else {
      const error = { code: "server_restarted", message: "the server stopped while this job ran and no checkpoint had been written", param: null };
      await this.store.applyRecovery(job.id, {
        imports,
        notes,
        deleteEventIds: [],
        deleteCheckpointIds: [],
        to: "failed",
        event: { level: "error", message: `Job failed: ${error.message}` },
        patch: { ...patch, error: JSON.stringify(error), finished_at: Date.now() },
      });
    }
    if (runDir) retireJournal(runDir);
    return plan.resumeFrom ? "resumed" : "failed";
  }

  /** Resolves when every file validation started so far has ended. */
  async settled(): Promise<void> {
    while (this.validations.size > 0 || this.recoveries.size > 0) await Promise.all([...this.validations, ...this.recoveries]);
    await this.files.settled();
  }

  private validateInBackground(jobId: string, methodType: "supervised" | "dpo"): void {
    const work = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.validateFiles(jobId, methodType))
      .catch((error: unknown) => process.emitWarning(`job ${jobId}: ${(error as Error).message}`))
      .finally(() => this.validations.delete(work));
    this.validations.add(work);
  }

  /** Wait for the job's files to be validated (uploads validate in the background), then queue or fail the job. */
  private async validateFiles(jobId: string, methodType: "supervised" | "dpo"): Promise<void> {
    const before = await this.store.getJob(null, jobId);
    const fileIds = [before.training_file, before.validation_file].filter((id): id is string => id !== null);
    await Promise.all(fileIds.map((id) => this.files.whenValidated(id)));
    const read = (id: string, field: string) => this.files.get(before.project_id, id, field).catch(() => null);
    const training = await read(before.training_file, "training_file");
    const validation = before.validation_file ? await read(before.validation_file, "validation_file") : null;
    const problem = fileProblem(training, "training_file", methodType) ?? (before.validation_file ? fileProblem(validation, "validation_file", methodType) : null);
    const job = await this.store.getJob(null, jobId);
    if ((job.status as JobStatus) !== "validating_files") return; // cancelled meanwhile
    if (problem) {
      await this.store.transition(jobId, "failed", { level: "error", message: `Job failed: ${problem.message}`, data: { code: problem.code, param: problem.param } }, { error: JSON.stringify(problem), finished_at: Date.now() });
      return;
    }
    const examples = training?.validation?.validExamples;
    await this.store.transition(jobId, "queued", { message: `Files validated${examples !== undefined ? ` (${examples} training examples)` : ""}; job queued` });
    void this.scheduler?.wake();
  }
}

/** The `tunekit` extension a job was created with (empty for plain OpenAI requests). */
export function jobOptionsOf(job: Pick<JobRow, "options">): JobOptions {
  return job.options ? (JSON.parse(job.options) as JobOptions) : { training: {}, data: {} };
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function fileProblem(file: StoredFile | null, param: "training_file" | "validation_file", methodType: "supervised" | "dpo"): { code: string; message: string; param: string } | null {
  const label = param === "training_file" ? "training" : "validation";
  if (!file) return { code: "file_not_found", message: `the ${label} file was deleted before validation`, param };
  const report = file.validation;
  if (!report) return { code: "invalid_file", message: `the ${label} file \`${file.object.id}\` has no validation report`, param };
  const invalid = validationProblem(file, param);
  if (invalid) return invalid;
  if (methodType === "dpo" && report.format !== "preference") {
    return { code: `invalid_${label}_file`, message: `DPO needs preference data (input, preferred_output, non_preferred_output); ${label} file \`${file.object.id}\` is in \`${report.format}\` format`, param };
  }
  if (methodType === "supervised" && report.format === "preference") {
    return { code: `invalid_${label}_file`, message: `${label} file \`${file.object.id}\` holds preference pairs; use \`method: {type: "dpo"}\` for them`, param };
  }
  return null;
}

/** The file's validation found errors (a validation file needs one example, not a training file's ten); null when it passed. */
function validationProblem(file: StoredFile, param: "training_file" | "validation_file"): { code: string; message: string; param: string } | null {
  const label = param === "training_file" ? "training" : "validation";
  const report = file.validation;
  if (!report) return null;
  // the upload was checked as a training file (10 examples at least); a validation file needs only one
  const onlyTooFew = param === "validation_file" && report.examples >= 1 && report.errorCount === report.errors.filter((problem) => problem.code === "too_few_examples").length;
  if (report.ok || onlyTooFew) return null;
  return { code: `invalid_${label}_file`, message: `${label} file \`${file.object.id}\` (${file.object.filename}) has problems: ${describeProblems(report)}`, param };
}
