import { randomInt } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TunekitError } from "../core/errors.js";
import type { FineTuningJob, FineTuningJobCheckpoint, FineTuningJobEvent, ListPage, Model, SupervisedHyperparameters } from "../spec/openai-wire.js";
import { RUN_FOLDERS } from "../spec/run-folder.js";
import type { Project } from "./api-key-store.js";
import { parseCreateJobParams } from "./create-job-params.js";
import type { FileStore } from "./file-store.js";
import { monotonicNow, newId } from "./ids.js";
import { assertUsable, fileProblem } from "./job-file-checks.js";
import type { JobOutcomes } from "./job-outcome.js";
import { isTerminal, type JobStatus } from "./job-state-machine.js";
import { toJobObject, type JobRow, type JobStore } from "./job-store.js";
import type { ModelCatalog } from "./model-catalog.js";
import type { Page } from "./page-params.js";

/** What the user operations need from the scheduler (Scheduler implements it). */
export interface JobQueue {
  /** look at the queue again */
  wake(): unknown;
  stop(jobId: string, mode: "cancel" | "pause"): Promise<void>;
  /** throws when a job asks for an execution backend the server does not have */
  checkBackend?(requested: string | undefined): void;
}

/**
 * Fine-tuning jobs as users see them: create (validate files, queue), read, list, events,
 * checkpoints, cancel, pause, resume, models. The HTTP routes and the CLI call this.
 */
export class JobService {
  private readonly validations = new Set<Promise<void>>();

  constructor(
    readonly store: JobStore,
    readonly files: FileStore,
    readonly catalog: ModelCatalog,
    private readonly queue: JobQueue,
    private readonly outcomes: Pick<JobOutcomes, "fail">,
  ) {}

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
    this.queue.checkBackend?.(input.options.execution?.backend);
    const training = await this.files.get(project.id, input.trainingFile, "training_file");
    const validation = input.validationFile ? await this.files.get(project.id, input.validationFile, "validation_file") : null;
    assertUsable(training, "training_file");
    if (validation) assertUsable(validation, "validation_file");
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
      // a job that only picks its execution backend has options too
      options: Object.keys(input.options.training).length + Object.keys(input.options.data).length > 0 || input.options.execution?.backend ? JSON.stringify(input.options) : null,
      integrations: input.integrations ? JSON.stringify(input.integrations) : null,
      model_deleted_at: null,
      execution_backend: null,
      execution_nodes: null,
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
      if (found === null)
        throw new TunekitError(`no event \`${afterId}\` in job \`${jobId}\``, {
          kind: "not_found",
          code: "event_not_found",
          field: "after",
          fix: "pass the id of an event of this job",
        });
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
    // whatever status was read above: the scheduler may have launched the job since (stop is a no-op for a job it does not run)
    await this.queue.stop(job.id, "cancel");
    return toJobObject(updated, project.id);
  }

  async pause(project: Project, jobId: string): Promise<FineTuningJob> {
    const job = await this.store.getJob(project.id, jobId);
    const updated = await this.store.transition(job.id, "paused", { message: "Pausing: the worker writes a checkpoint and stops" }, { estimated_finish: null });
    await this.queue.stop(job.id, "pause");
    return toJobObject(updated, project.id);
  }

  async resume(project: Project, jobId: string): Promise<FineTuningJob> {
    const job = await this.store.getJob(project.id, jobId);
    const updated = await this.store.transition(job.id, "queued", {
      message: job.last_checkpoint_path ? "Resumed: queued to continue from the last checkpoint" : "Resumed: queued to train from the start (no checkpoint was written)",
    });
    void this.queue.wake();
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
        throw new TunekitError(`\`${modelId}\` is a base model of this server: only fine-tuned models can be deleted`, {
          kind: "forbidden",
          code: "model_not_deletable",
          field: "model",
          fix: "delete one of your `ft:` models (GET /v1/models)",
        });
      }
      throw new TunekitError(`no model \`${modelId}\``, { kind: "not_found", code: "model_not_found", field: "model", fix: "list models with GET /v1/models" });
    }
    if (job.run_dir) for (const folder of [RUN_FOLDERS.adapter, RUN_FOLDERS.merged, RUN_FOLDERS.export]) rmSync(join(job.run_dir, folder), { recursive: true, force: true });
    await this.store.updateJob(job.id, { model_deleted_at: Date.now() });
    await this.store.addEvent(job.id, { message: `Fine-tuned model deleted: ${modelId}` });
    return { id: modelId, object: "model", deleted: true };
  }

  async model(project: Project, modelId: string): Promise<Model> {
    const found = (await this.models(project)).find((model) => model.id === modelId);
    if (!found) throw new TunekitError(`no model \`${modelId}\``, { kind: "not_found", code: "model_not_found", field: "model", fix: "list models with GET /v1/models" });
    return found;
  }

  /** Resolves when every file validation started so far has ended. */
  async settled(): Promise<void> {
    while (this.validations.size > 0) await Promise.all([...this.validations]);
    await this.files.settled();
  }

  /** At startup: validate pending uploads, and again the jobs a stopped server left validating. */
  async revalidate(): Promise<string[]> {
    await this.files.validatePending();
    const jobs = await this.store.jobsWithStatus("validating_files");
    for (const job of jobs) this.validateInBackground(job.id, (JSON.parse(job.method) as { type: "supervised" | "dpo" }).type);
    return jobs.map((job) => job.id);
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
      await this.outcomes.fail(jobId, problem);
      return;
    }
    const examples = training?.validation?.validExamples;
    await this.store.transition(jobId, "queued", { message: `Files validated${examples !== undefined ? ` (${examples} training examples)` : ""}; job queued` });
    void this.queue.wake();
  }
}
