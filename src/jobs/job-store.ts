import { TunekitError } from "../core/errors.js";
import type { FineTunedModelLookup, FineTunedModelRecord } from "../spec/fine-tuned-model-lookup.js";
import type {
  CheckpointMetrics,
  FineTuningJob,
  FineTuningJobCheckpoint,
  FineTuningJobError,
  FineTuningJobEvent,
  FineTuningMethod,
  ListPage,
  SupervisedHyperparameters,
} from "../spec/openai-wire.js";
import { isWellFormedId, monotonicNow, newId, toUnixSeconds } from "./ids.js";
import { assertTransition, type JobStatus } from "./job-state-machine.js";
import { slicePage, type Page } from "./page-params.js";
import type { CheckpointsTable, JobEventsTable, JobsTable, StoreDatabase } from "./store/database.js";

export interface NewJobEvent {
  level?: FineTuningJobEvent["level"];
  type?: FineTuningJobEvent["type"];
  message: string;
  data?: Record<string, unknown> | null;
  /** unix ms; default now (recovery passes the time the worker wrote an imported event) */
  createdAt?: number;
}

export interface NewCheckpoint {
  step: number;
  path: string;
  metrics: CheckpointMetrics;
  fineTunedModelCheckpoint: string;
}

/** What recovery writes for a job whose server died, in one transaction (JobStore.applyRecovery). */
export interface RecoveryWrite {
  /** events the store lacks (from the worker's journal), in order; a checkpoint entry also adds its row */
  imports: Array<{ event: NewJobEvent | null; checkpoint: NewCheckpoint | null }>;
  deleteEventIds: string[];
  deleteCheckpointIds: string[];
  /** events written after the imports, before the status change */
  notes: NewJobEvent[];
  /** the new status and its event; absent: the status stays */
  to?: JobStatus;
  event?: NewJobEvent;
  /** events after the status change's own, in the same transaction (a stream that sees the job end has them all) */
  then?: NewJobEvent[];
  patch: JobPatch;
}

export type JobRow = JobsTable;

export type JobPatch = Partial<Omit<JobsTable, "id" | "project_id" | "status" | "created_at">>;

/**
 * Rows of jobs, job events and checkpoints. Status changes go through `transition`, which checks
 * the state machine and writes the change and its event in one transaction.
 */
export class JobStore implements FineTunedModelLookup {
  constructor(readonly database: StoreDatabase) {}

  async insertJob(row: JobsTable, event: NewJobEvent): Promise<JobRow> {
    await this.database.transaction().execute(async (transaction) => {
      await transaction.insertInto("jobs").values(row).execute();
      await insertEvent(transaction, row.id, event);
    });
    return row;
  }

  /** A job of the project (or of any project when projectId is null); 404 otherwise. */
  async getJob(projectId: string | null, jobId: string, field = "fine_tuning_job_id"): Promise<JobRow> {
    let row: JobRow | undefined;
    if (isWellFormedId("job", jobId)) {
      let query = this.database.selectFrom("jobs").selectAll().where("id", "=", jobId);
      if (projectId !== null) query = query.where("project_id", "=", projectId);
      row = await query.executeTakeFirst();
    }
    if (!row) {
      throw new TunekitError(`no fine-tuning job \`${jobId}\``, {
        kind: "not_found",
        code: "job_not_found",
        field,
        fix: "list your jobs with `tunekit jobs list` (GET /v1/fine_tuning/jobs)",
      });
    }
    return row;
  }

  /** Newest first, like OpenAI. */
  async listJobs(projectId: string, page: Page, metadata?: Record<string, string>, statuses?: readonly JobStatus[]): Promise<{ rows: JobRow[]; hasMore: boolean }> {
    let query = this.database.selectFrom("jobs").selectAll().where("project_id", "=", projectId);
    if (statuses && statuses.length > 0) query = query.where("status", "in", [...statuses]);
    if (page.after) {
      const cursor = await this.getJob(projectId, page.after, "after");
      query = query.where((where) =>
        where.or([where("created_at", "<", cursor.created_at), where.and([where("created_at", "=", cursor.created_at), where("id", "<", cursor.id)])]),
      );
    }
    let rows = await query.orderBy("created_at", "desc").orderBy("id", "desc").execute();
    if (metadata && Object.keys(metadata).length > 0) {
      rows = rows.filter((row) => {
        const stored = row.metadata ? (JSON.parse(row.metadata) as Record<string, string>) : {};
        return Object.entries(metadata).every(([key, value]) => stored[key] === value);
      });
    }
    const { data, hasMore } = slicePage(rows.slice(0, page.limit + 1), page.limit);
    return { rows: data, hasMore };
  }

  async jobsWithStatus(status: JobStatus): Promise<JobRow[]> {
    return this.database.selectFrom("jobs").selectAll().where("status", "=", status).orderBy("created_at", "asc").orderBy("id", "asc").execute();
  }

  async updateJob(jobId: string, patch: JobPatch): Promise<void> {
    if (Object.keys(patch).length === 0) return;
    await this.database.updateTable("jobs").set(patch).where("id", "=", jobId).execute();
  }

  /**
   * Move a job to `to` through the state machine (409 when the edge is not whitelisted), apply
   * `patch` and record `event`, then the events of `then`, atomically (a reader who sees the new
   * status sees them too). Returns the updated row.
   */
  async transition(jobId: string, to: JobStatus, event: NewJobEvent, patch: JobPatch = {}, then: NewJobEvent[] = []): Promise<JobRow> {
    return this.database.transaction().execute(async (transaction) => {
      const row = await transaction.selectFrom("jobs").selectAll().where("id", "=", jobId).executeTakeFirstOrThrow();
      assertTransition(jobId, row.status as JobStatus, to);
      await transaction
        .updateTable("jobs")
        .set({ ...patch, status: to })
        .where("id", "=", jobId)
        .execute();
      await insertEvent(transaction, jobId, event);
      for (const next of then) await insertEvent(transaction, jobId, next);
      return { ...row, ...patch, status: to };
    });
  }

  async addEvent(jobId: string, event: NewJobEvent): Promise<FineTuningJobEvent> {
    const row = await this.database.transaction().execute((transaction) => insertEvent(transaction, jobId, event));
    return toEventObject(row);
  }

  /** Newest first (OpenAI's order); `after` is an event id, the page continues with older events. */
  async listEvents(projectId: string, jobId: string, page: Page): Promise<ListPage<FineTuningJobEvent>> {
    await this.getJob(projectId, jobId);
    let query = this.database.selectFrom("job_events").selectAll().where("job_id", "=", jobId);
    if (page.after) {
      const cursor = await this.database.selectFrom("job_events").select("sequence").where("job_id", "=", jobId).where("id", "=", page.after).executeTakeFirst();
      if (!cursor)
        throw new TunekitError(`no event \`${page.after}\` in job \`${jobId}\``, {
          kind: "not_found",
          code: "event_not_found",
          field: "after",
          fix: "pass the id of an event of this job",
        });
      query = page.order === "desc" ? query.where("sequence", "<", cursor.sequence) : query.where("sequence", ">", cursor.sequence);
    }
    const rows = await query
      .orderBy("sequence", page.order)
      .limit(page.limit + 1)
      .execute();
    const { data, hasMore } = slicePage(rows.map(toEventObject), page.limit);
    return { object: "list", data, has_more: hasMore };
  }

  /** Events with a sequence above `sequence`, oldest first (for streaming). */
  async eventsSince(jobId: string, sequence: number): Promise<Array<{ sequence: number; event: FineTuningJobEvent }>> {
    const rows = await this.database
      .selectFrom("job_events")
      .selectAll()
      .where("job_id", "=", jobId)
      .where("sequence", ">", sequence)
      .orderBy("sequence", "asc")
      .limit(500)
      .execute();
    return rows.map((row) => ({ sequence: row.sequence, event: toEventObject(row) }));
  }

  async eventSequence(jobId: string, eventId: string): Promise<number | null> {
    const row = await this.database.selectFrom("job_events").select("sequence").where("job_id", "=", jobId).where("id", "=", eventId).executeTakeFirst();
    return row?.sequence ?? null;
  }

  async addCheckpoint(job: JobRow, checkpoint: NewCheckpoint): Promise<FineTuningJobCheckpoint> {
    const row = await this.database.transaction().execute(async (transaction) => {
      const inserted = await insertCheckpoint(transaction, job.id, checkpoint);
      await transaction.updateTable("jobs").set({ last_checkpoint_path: checkpoint.path }).where("id", "=", job.id).execute();
      return inserted;
    });
    return toCheckpointObject(row);
  }

  /** Every event of the job, oldest first (recovery compares them with the worker's journal). */
  async jobEvents(jobId: string): Promise<JobEventsTable[]> {
    return this.database.selectFrom("job_events").selectAll().where("job_id", "=", jobId).orderBy("sequence", "asc").execute();
  }

  /** Every checkpoint row of the job, oldest step first. */
  async checkpointRows(jobId: string): Promise<CheckpointsTable[]> {
    return this.database.selectFrom("checkpoints").selectAll().where("job_id", "=", jobId).orderBy("step", "asc").orderBy("created_at", "asc").execute();
  }

  /**
   * Recovery of a job whose server died, atomically: drop the events and checkpoint rows the
   * resume undoes, import what the worker journaled after the server died, write the notes, then
   * move the job through the state machine with `patch`. A crash midway leaves the job as it was.
   */
  async applyRecovery(jobId: string, write: RecoveryWrite): Promise<JobRow> {
    return this.database.transaction().execute(async (transaction) => {
      const row = await transaction.selectFrom("jobs").selectAll().where("id", "=", jobId).executeTakeFirstOrThrow();
      if (write.to) assertTransition(jobId, row.status as JobStatus, write.to);
      if (write.deleteEventIds.length > 0) await transaction.deleteFrom("job_events").where("job_id", "=", jobId).where("id", "in", write.deleteEventIds).execute();
      if (write.deleteCheckpointIds.length > 0) await transaction.deleteFrom("checkpoints").where("job_id", "=", jobId).where("id", "in", write.deleteCheckpointIds).execute();
      for (const entry of write.imports) {
        if (entry.checkpoint) await insertCheckpoint(transaction, jobId, entry.checkpoint);
        if (entry.event) await insertEvent(transaction, jobId, entry.event);
      }
      for (const note of write.notes) await insertEvent(transaction, jobId, note);
      const status = write.to ?? row.status;
      if (Object.keys(write.patch).length > 0 || write.to)
        await transaction
          .updateTable("jobs")
          .set({ ...write.patch, status })
          .where("id", "=", jobId)
          .execute();
      if (write.event) await insertEvent(transaction, jobId, write.event);
      for (const next of write.then ?? []) await insertEvent(transaction, jobId, next);
      return { ...row, ...write.patch, status };
    });
  }

  /** Newest first. */
  async listCheckpoints(projectId: string, jobId: string, page: Page): Promise<ListPage<FineTuningJobCheckpoint>> {
    await this.getJob(projectId, jobId);
    let query = this.database.selectFrom("checkpoints").selectAll().where("job_id", "=", jobId);
    if (page.after) {
      const cursor = await this.database.selectFrom("checkpoints").select(["created_at", "id"]).where("job_id", "=", jobId).where("id", "=", page.after).executeTakeFirst();
      if (!cursor)
        throw new TunekitError(`no checkpoint \`${page.after}\` in job \`${jobId}\``, {
          kind: "not_found",
          code: "checkpoint_not_found",
          field: "after",
          fix: "pass the id of a checkpoint of this job",
        });
      query = query.where((where) =>
        where.or([where("created_at", "<", cursor.created_at), where.and([where("created_at", "=", cursor.created_at), where("id", "<", cursor.id)])]),
      );
    }
    const rows = await query
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(page.limit + 1)
      .execute();
    const { data, hasMore } = slicePage(rows.map(toCheckpointObject), page.limit);
    return { object: "list", data, has_more: hasMore, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  }

  async latestCheckpoint(jobId: string): Promise<CheckpointsTable | null> {
    return (await this.database.selectFrom("checkpoints").selectAll().where("job_id", "=", jobId).orderBy("step", "desc").orderBy("created_at", "desc").executeTakeFirst()) ?? null;
  }

  /**
   * Training throughput measured on this server for a base model: the last metrics events (newest
   * first) of its jobs, with each job's options (to tell methods apart). Any project: the machine
   * is the same.
   */
  async measuredThroughput(model: string, limit = 50): Promise<Array<{ jobId: string; options: string | null; tokensPerSecond: number; createdAt: number }>> {
    const rows = await this.database
      .selectFrom("job_events")
      .innerJoin("jobs", "jobs.id", "job_events.job_id")
      .select(["jobs.id as job_id", "jobs.options as options", "job_events.data as data", "job_events.created_at as created_at"])
      .where("jobs.model", "=", model)
      .where("job_events.type", "=", "metrics")
      .orderBy("job_events.created_at", "desc")
      .limit(limit)
      .execute();
    const measured = [];
    for (const row of rows) {
      const value = row.data ? (JSON.parse(row.data) as { tokens_per_second?: unknown }).tokens_per_second : undefined;
      if (typeof value === "number" && value > 0) measured.push({ jobId: row.job_id, options: row.options, tokensPerSecond: value, createdAt: row.created_at });
    }
    return measured;
  }

  /** The data of the job's newest event whose data has `key` (the worker's resolved config, its data summary). */
  async latestEventData(jobId: string, key: string): Promise<Record<string, unknown> | null> {
    const row = await this.database
      .selectFrom("job_events")
      .select("data")
      .where("job_id", "=", jobId)
      .where("data", "like", `%"${key}":%`)
      .orderBy("sequence", "desc")
      .executeTakeFirst();
    return row?.data ? (JSON.parse(row.data) as Record<string, unknown>) : null;
  }

  /** How many of the job's events carry one of these messages (the scheduler numbers its launches with it). */
  async countEvents(jobId: string, messages: readonly string[]): Promise<number> {
    if (messages.length === 0) return 0;
    const row = await this.database
      .selectFrom("job_events")
      .select((expression) => expression.fn.countAll<number>().as("count"))
      .where("job_id", "=", jobId)
      .where("message", "in", [...messages])
      .executeTakeFirst();
    return Number(row?.count ?? 0);
  }

  /** Queued jobs of every project in launch order (the scheduler starts the oldest first). */
  async queueOrder(): Promise<string[]> {
    return (await this.database.selectFrom("jobs").select("id").where("status", "=", "queued").orderBy("created_at", "asc").orderBy("id", "asc").execute()).map((row) => row.id);
  }

  /** The job (and checkpoint) a fine-tuned model id names: the store's side of serve's FineTunedModelLookup. */
  async find(projectId: string | null, id: string): Promise<FineTunedModelRecord | null> {
    let jobs = this.database.selectFrom("jobs").select(["id", "model", "run_dir", "status"]).where("fine_tuned_model", "=", id).where("model_deleted_at", "is", null);
    if (projectId !== null) jobs = jobs.where("project_id", "=", projectId);
    const job = await jobs.executeTakeFirst();
    if (job) return { id, jobId: job.id, status: job.status, baseModel: job.model, runDir: job.run_dir, checkpointPath: null };
    let checkpoints = this.database
      .selectFrom("checkpoints")
      .innerJoin("jobs", "jobs.id", "checkpoints.job_id")
      .select(["jobs.id as job_id", "jobs.model as model", "jobs.run_dir as run_dir", "jobs.status as status", "checkpoints.path as path"])
      .where("checkpoints.fine_tuned_model_checkpoint", "=", id);
    if (projectId !== null) checkpoints = checkpoints.where("jobs.project_id", "=", projectId);
    const checkpoint = await checkpoints.executeTakeFirst();
    return checkpoint
      ? { id, jobId: checkpoint.job_id, status: checkpoint.status, baseModel: checkpoint.model, runDir: checkpoint.run_dir, checkpointPath: checkpoint.path }
      : null;
  }

  /** The project's job whose fine-tuned model is `modelId` (and not deleted), or null. */
  async jobOfModel(projectId: string, modelId: string): Promise<JobRow | null> {
    return (
      (await this.database
        .selectFrom("jobs")
        .selectAll()
        .where("project_id", "=", projectId)
        .where("fine_tuned_model", "=", modelId)
        .where("model_deleted_at", "is", null)
        .executeTakeFirst()) ?? null
    );
  }

  /** Fine-tuned models of the project's succeeded jobs, newest first. */
  async fineTunedModels(projectId: string): Promise<Array<{ id: string; created: number }>> {
    const rows = await this.database
      .selectFrom("jobs")
      .select(["fine_tuned_model", "finished_at", "created_at"])
      .where("project_id", "=", projectId)
      .where("status", "=", "succeeded")
      .where("fine_tuned_model", "is not", null)
      .where("model_deleted_at", "is", null)
      .orderBy("created_at", "desc")
      .execute();
    return rows.map((row) => ({ id: row.fine_tuned_model as string, created: toUnixSeconds(row.finished_at ?? row.created_at) }));
  }
}

type Transaction = Parameters<Parameters<ReturnType<StoreDatabase["transaction"]>["execute"]>[0]>[0];

async function insertCheckpoint(transaction: Transaction, jobId: string, checkpoint: NewCheckpoint): Promise<CheckpointsTable> {
  const row: CheckpointsTable = {
    id: newId("checkpoint"),
    job_id: jobId,
    step: checkpoint.step,
    created_at: monotonicNow(),
    path: checkpoint.path,
    metrics: JSON.stringify(checkpoint.metrics),
    fine_tuned_model_checkpoint: checkpoint.fineTunedModelCheckpoint,
  };
  await transaction.insertInto("checkpoints").values(row).execute();
  return row;
}

async function insertEvent(transaction: Transaction, jobId: string, event: NewJobEvent): Promise<JobEventsTable> {
  const last = await transaction.selectFrom("job_events").select("sequence").where("job_id", "=", jobId).orderBy("sequence", "desc").limit(1).executeTakeFirst();
  const row: JobEventsTable = {
    id: newId("event"),
    job_id: jobId,
    sequence: (last?.sequence ?? 0) + 1,
    created_at: event.createdAt ?? monotonicNow(),
    level: event.level ?? "info",
    type: event.type ?? "message",
    message: event.message,
    data: event.data ? JSON.stringify(event.data) : null,
  };
  await transaction.insertInto("job_events").values(row).execute();
  return row;
}

export function toEventObject(row: JobEventsTable): FineTuningJobEvent {
  return {
    id: row.id,
    object: "fine_tuning.job.event",
    created_at: toUnixSeconds(row.created_at),
    level: row.level as FineTuningJobEvent["level"],
    message: row.message,
    type: row.type as FineTuningJobEvent["type"],
    data: row.data ? (JSON.parse(row.data) as Record<string, unknown>) : null,
  };
}

export function toCheckpointObject(row: CheckpointsTable): FineTuningJobCheckpoint {
  return {
    id: row.id,
    object: "fine_tuning.job.checkpoint",
    created_at: toUnixSeconds(row.created_at),
    fine_tuned_model_checkpoint: row.fine_tuned_model_checkpoint,
    fine_tuning_job_id: row.job_id,
    metrics: { step: row.step, ...(JSON.parse(row.metrics) as CheckpointMetrics) },
    step_number: row.step,
  };
}

export function toJobObject(row: JobRow, organizationId: string): FineTuningJob {
  const requested = JSON.parse(row.hyperparameters) as FineTuningJob["hyperparameters"];
  const resolved = row.resolved_hyperparameters ? (JSON.parse(row.resolved_hyperparameters) as SupervisedHyperparameters) : {};
  const hyperparameters = { ...requested, ...resolved };
  const method = JSON.parse(row.method) as FineTuningMethod;
  const methodWithResolved: FineTuningMethod =
    method.type === "dpo"
      ? { type: "dpo", dpo: { hyperparameters: { ...method.dpo?.hyperparameters, ...resolved } } }
      : { type: "supervised", supervised: { hyperparameters: { ...method.supervised?.hyperparameters, ...resolved } } };
  return {
    id: row.id,
    object: "fine_tuning.job",
    created_at: toUnixSeconds(row.created_at),
    error: row.error ? (JSON.parse(row.error) as FineTuningJobError) : null,
    fine_tuned_model: row.fine_tuned_model,
    finished_at: row.finished_at === null ? null : toUnixSeconds(row.finished_at),
    hyperparameters,
    model: row.model,
    organization_id: organizationId,
    result_files: JSON.parse(row.result_files) as string[],
    seed: row.seed,
    status: row.status as FineTuningJob["status"],
    trained_tokens: row.trained_tokens,
    training_file: row.training_file,
    validation_file: row.validation_file,
    estimated_finish: row.estimated_finish === null ? null : toUnixSeconds(row.estimated_finish),
    integrations: row.integrations ? (JSON.parse(row.integrations) as Array<Record<string, unknown>>) : null,
    metadata: row.metadata ? (JSON.parse(row.metadata) as Record<string, string>) : null,
    method: methodWithResolved,
    user_provided_suffix: row.suffix,
    execution: { backend: row.execution_backend, nodes: row.execution_nodes ? (JSON.parse(row.execution_nodes) as string[]) : [] },
  };
}
