import { join } from "node:path";
import { TunekitError } from "../core/errors.js";
import { JOB_FILE, resolveWorker, startWorker, workerCommand, type WorkerOutcome } from "../providers/local/python-worker.js";
import type { WorkerEvent } from "../spec/worker-events.js";
import { exitMeaning } from "../spec/worker-exit.js";
import type { JobRunHandle, JobRunner, JobRunOutcome, JobRunRequest } from "./job-runner.js";

export interface LocalJobRunnerOptions {
  /** the worker's Python; default: the `tunekit setup` venv (checked when a job starts) */
  python?: string;
  /** folder holding the `tunekit_worker` package; default: the one shipped with Tunekit */
  workerRoot?: string;
  /** SIGKILL a worker that has not stopped this long after cancel/pause (default 10 minutes) */
  cancelTimeoutMs?: number;
  environment?: NodeJS.ProcessEnv;
}

/** Runs jobs with Tunekit's own Python worker (src/providers/local/python-worker.ts). */
export class LocalJobRunner implements JobRunner {
  constructor(private readonly options: LocalJobRunnerOptions = {}) {}

  start(request: JobRunRequest, onEvent: (event: WorkerEvent) => void): JobRunHandle {
    let python: string;
    let root: string;
    try {
      ({ python, workerRoot: root } = resolveWorker(this.options));
    } catch (error) {
      const message = error instanceof TunekitError ? `${error.message}${error.fix ? `; ${error.fix}` : ""}` : String(error);
      const outcome: JobRunOutcome = {
        status: "failed",
        message,
        errorCode: "worker_environment",
        retryable: false,
        checkpointPath: null,
        adapterPath: null,
        mergedPath: null,
        trainedTokens: null,
      };
      const finished = Promise.resolve(outcome);
      return { finished, cancel: () => finished, pause: () => finished };
    }
    const runDir = request.runDir;
    const worker = startWorker({
      command: workerCommand(python, join(runDir, JOB_FILE), request.spec.training.num_processes),
      runDir,
      spec: request.spec,
      pythonPath: root,
      environment: this.options.environment,
      cancelTimeoutMs: this.options.cancelTimeoutMs,
      onEvent,
      onProtocolError: (problem) => onEvent({ v: 1, type: "log", level: "warn", message: `worker wrote a line that is not a protocol v1 event (${problem.message})` }),
    });
    const finished = worker.finished.then(toRunOutcome);
    return {
      finished,
      cancel: () => worker.cancel().then(toRunOutcome),
      pause: () => worker.cancel().then(toRunOutcome),
    };
  }
}

export function toRunOutcome(outcome: WorkerOutcome): JobRunOutcome {
  const checkpointPath = outcome.cancelled?.checkpoint_path ?? outcome.lastCheckpoint?.path ?? null;
  const common = {
    message: outcome.message,
    checkpointPath,
    adapterPath: outcome.done?.adapter_path ?? null,
    mergedPath: outcome.done?.merged_path ?? null,
    trainedTokens: outcome.done?.summary.trained_tokens ?? null,
  };
  const meaning = exitMeaning(outcome.status, outcome.cancelRequested);
  const row = { status: meaning.jobStatus, errorCode: meaning.errorCode, retryable: meaning.retryable, ...common };
  if (outcome.status === "cancelled" && !outcome.cancelRequested) return { ...row, message: `the worker stopped without being asked to: ${outcome.message}` };
  if (outcome.status !== "failed") return row;
  const tail = outcome.stderrTail.slice(-3).join(" | ");
  return { ...row, errorCode: outcome.error?.code ?? meaning.errorCode, message: tail && !outcome.error ? `${outcome.message}; last stderr: ${tail}` : outcome.message };
}
