import type { FineTuningJobEvent, ListPage } from "../spec/openai-wire.js";
import type { FileStore } from "./file-store.js";
import { isTerminal, type JobStatus } from "./job-state-machine.js";
import type { JobPatch, JobRow, JobStore, NewJobEvent } from "./job-store.js";

/** `ft:<base>:<suffix>:<job-id-tail>`; the suffix slot is empty when the job has none. */
export function fineTunedModelId(job: Pick<JobRow, "id" | "model" | "suffix">): string {
  return `ft:${job.model}:${job.suffix ?? ""}:${job.id.slice(-8)}`;
}

/** The `fine_tuned_model_checkpoint` of a job's checkpoint at `step`. */
export function checkpointModelId(job: Pick<JobRow, "id" | "model" | "suffix">, step: number): string {
  return `${fineTunedModelId(job)}:ckpt-step-${step}`;
}

/** What a finished worker left: the job's outputs. */
export interface RunResult {
  trainedTokens: number | null;
  adapterPath: string | null;
  mergedPath: string | null;
}

/** A job's `error` (OpenAI's shape). */
export interface JobFailure {
  code: string;
  message: string;
  param: string | null;
}

/** A final status change: the status, its event and the job fields it sets. */
export interface OutcomeWrite {
  to: "succeeded" | "failed";
  event: NewJobEvent;
  /** events after `event`, written with it */
  then?: NewJobEvent[];
  patch: JobPatch;
}

/** Applies an outcome to the store; recovery passes one that also imports the worker's journal, in one transaction. */
export type OutcomeWriter = (outcome: OutcomeWrite) => Promise<unknown>;

/**
 * The one place a job's success or failure is written, whoever saw it end: the scheduler (its
 * worker exited), recovery (the worker finished while no server listened) or file validation.
 */
export class JobOutcomes {
  constructor(
    private readonly store: JobStore,
    private readonly files: FileStore,
  ) {}

  /**
   * Mark the job succeeded with its fine-tuned model and say so, then write its result file. Both
   * events go in with the status: an event stream ends once the job has ended and nothing is left,
   * so an event written after the status would be missed by a stream that looked in between.
   */
  async succeed(job: JobRow, result: RunResult, write: OutcomeWriter = (outcome) => this.transition(job.id, outcome)): Promise<void> {
    const model = fineTunedModelId(job);
    await write({
      to: "succeeded",
      event: { message: `New fine-tuned model created: ${model}` },
      then: [{ message: "The job has successfully completed" }],
      patch: {
        fine_tuned_model: model,
        finished_at: Date.now(),
        trained_tokens: result.trainedTokens,
        adapter_path: result.adapterPath ?? result.mergedPath,
        estimated_finish: null,
        heartbeat_at: null,
      },
    });
    await this.writeResultFile(job).catch((error: unknown) =>
      this.store.addEvent(job.id, { level: "warn", message: `could not write the result file: ${(error as Error).message}` }),
    );
  }

  /** Mark the job failed with `error`; a job that already ended is left as it is. */
  async fail(jobId: string, error: JobFailure, write: OutcomeWriter = (outcome) => this.transition(jobId, outcome)): Promise<void> {
    const job = await this.store.getJob(null, jobId);
    if (isTerminal(job.status as JobStatus)) return;
    await write({
      to: "failed",
      event: { level: "error", message: `Job failed: ${error.message}`, data: { code: error.code, ...(error.param !== null && { param: error.param }) } },
      patch: { error: JSON.stringify(error), finished_at: Date.now(), estimated_finish: null, heartbeat_at: null },
    });
  }

  /** OpenAI's result file `step_metrics.csv`, from the job's metrics events; its id goes to `result_files`. */
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

  private async transition(jobId: string, outcome: OutcomeWrite): Promise<void> {
    await this.store.transition(jobId, outcome.to, outcome.event, outcome.patch, outcome.then);
  }
}
