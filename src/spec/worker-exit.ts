import { WorkerExitCode } from "./worker-events.js";

/**
 * The one table from how a worker ended to what that means everywhere: the job status and
 * retryability the server's scheduler records (RunOutcome of spec/execution-backend.ts), and the
 * exit status of `tunekit train`. The worker's exit codes are WorkerExitCode
 * (worker/tunekit_worker/events.py ExitCode); the supervisor turns exit code, signal and the
 * worker's last events into a WorkerStatus with `workerStatusOf`.
 */
export type WorkerStatus = "done" | "failed" | "bad_config" | "cancelled" | "diverged";

export interface WorkerExitMeaning {
  /** the worker's own exit code for this ending */
  workerExitCode: number;
  /** what the job becomes: `stopped` when cancel()/pause() asked for it */
  jobStatus: "succeeded" | "failed" | "stopped";
  /** machine-readable failure code of the job (a `failed` worker's own `error` code comes first) */
  errorCode: string | null;
  /** running the same job again may succeed */
  retryable: boolean;
  /** exit status of `tunekit train` (130 = stopped by Ctrl-C, as shells expect) */
  cliExitCode: number;
}

export const WORKER_EXIT_TABLE: Readonly<Record<WorkerStatus, WorkerExitMeaning>> = {
  done: { workerExitCode: WorkerExitCode.done, jobStatus: "succeeded", errorCode: null, retryable: false, cliExitCode: 0 },
  failed: { workerExitCode: WorkerExitCode.failed, jobStatus: "failed", errorCode: "worker_failed", retryable: true, cliExitCode: 1 },
  bad_config: { workerExitCode: WorkerExitCode.badConfig, jobStatus: "failed", errorCode: "bad_config", retryable: false, cliExitCode: 2 },
  cancelled: { workerExitCode: WorkerExitCode.cancelled, jobStatus: "stopped", errorCode: null, retryable: true, cliExitCode: 130 },
  diverged: { workerExitCode: WorkerExitCode.diverged, jobStatus: "failed", errorCode: "diverged", retryable: false, cliExitCode: 1 },
};

/**
 * A worker that stopped with the `cancelled` code although nobody asked it to (SIGTERM from outside,
 * the machine shutting down): the job failed, and running it again resumes from the checkpoint.
 */
export const UNREQUESTED_CANCEL: WorkerExitMeaning = { ...WORKER_EXIT_TABLE.cancelled, jobStatus: "failed", errorCode: "worker_interrupted" };

/** What a worker status means for a job (the cancelled row depends on whether a cancel was asked for). */
export function exitMeaning(status: WorkerStatus, cancelRequested: boolean): WorkerExitMeaning {
  return status === "cancelled" && !cancelRequested ? UNREQUESTED_CANCEL : WORKER_EXIT_TABLE[status];
}

/** The exit status of `tunekit train`: a run stopped by Ctrl-C exits as cancelled unless it had finished. */
export function trainExitCode(status: WorkerStatus, interrupted: boolean): number {
  return WORKER_EXIT_TABLE[interrupted && status !== "done" ? "cancelled" : status].cliExitCode;
}

/** The worker status of an exit code the worker chose; null for a generic failure (and under torchrun, which exits 1 for any child failure). */
export function statusOfExitCode(exitCode: number | null): WorkerStatus | null {
  if (exitCode === null || exitCode === WORKER_EXIT_TABLE.failed.workerExitCode) return null;
  for (const [status, meaning] of Object.entries(WORKER_EXIT_TABLE) as Array<[WorkerStatus, WorkerExitMeaning]>) if (meaning.workerExitCode === exitCode) return status;
  return null;
}

/**
 * The outcome of a finished worker. The exit code decides; under torchrun (which exits 1 for any
 * child failure) the worker's own `done`/`cancelled`/`error` events refine a generic failure.
 */
export function workerStatusOf(
  exitCode: number | null,
  signal: string | null,
  seen: { done: boolean; cancelled: boolean; errorCode: string | null; cancelRequested: boolean },
): WorkerStatus {
  // a `done` event means the adapter and summary were written: a crash while exiting does not undo that
  if (signal) return seen.done ? "done" : seen.cancelRequested ? "cancelled" : "failed";
  const status = statusOfExitCode(exitCode);
  if (status === "done") return seen.done ? "done" : "failed";
  if (status !== null) return status;
  if (seen.done) return "done";
  if (seen.cancelled) return "cancelled";
  if (seen.errorCode === "bad_config") return "bad_config";
  if (seen.errorCode === "nan_loss") return "diverged";
  return "failed";
}
