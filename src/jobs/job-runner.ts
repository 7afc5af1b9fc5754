import type { WorkerJobSpec } from "../core/worker-job-spec.js";
import type { WorkerEvent } from "../spec/worker-events.js";

/**
 * What the scheduler needs from a training backend: start a job, get its worker events (protocol
 * v1) as they come, stop it. Version 1. Pause is a cancel that writes a checkpoint; resume is a
 * new start with `spec.resume_from` set to that checkpoint.
 */
export interface JobRunRequest {
  jobId: string;
  /** folder of this job's runs (checkpoints, adapter, logs); the same across resumes */
  runDir: string;
  spec: WorkerJobSpec;
}

export interface JobRunOutcome {
  /** `stopped`: cancel()/pause() was called and the worker ended because of it */
  status: "succeeded" | "failed" | "stopped";
  /** one sentence for the user */
  message: string;
  /** machine-readable failure code (`bad_config`, `diverged`, `worker_failed` ...), null on success */
  errorCode: string | null;
  /** true when running the same job again may succeed (crash, kill); false for bad config */
  retryable: boolean;
  /** the newest resumable checkpoint the worker wrote */
  checkpointPath: string | null;
  adapterPath: string | null;
  mergedPath: string | null;
  trainedTokens: number | null;
}

export interface JobRunHandle {
  readonly finished: Promise<JobRunOutcome>;
  /** stop for good; the worker still writes a checkpoint when it can */
  cancel(): Promise<JobRunOutcome>;
  /** stop after writing a checkpoint that a later start resumes from */
  pause(): Promise<JobRunOutcome>;
}

export interface JobRunner {
  start(request: JobRunRequest, onEvent: (event: WorkerEvent) => void): JobRunHandle;
}
