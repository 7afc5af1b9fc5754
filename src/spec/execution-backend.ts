import type { WorkerEvent } from "./worker-events.js";

/**
 * Where a job's worker runs: one interface for every execution backend (`local` spawns the worker on
 * this machine; `ray` and `slurm` are to submit it to a cluster). Version 1. The scheduler launches
 * through it and gets the worker's events (protocol v1) back as they come.
 *
 * A launch is one attempt of a job: its first start, a resume after a pause, a resume after recovery.
 * The attempt id is the idempotency key: launching an attempt the backend already knows returns
 * the handle it gave the first time and never starts a second worker. The server numbers a job's
 * attempts `<job id>/<n>` (n counts its launches, as its events record them).
 *
 * Pause is a cancel that writes a checkpoint; resume is a new attempt whose job spec has
 * `resume_from` set to that checkpoint.
 */
export const EXECUTION_BACKEND_VERSION = 1;

export interface LaunchRequest {
  /** the idempotency key of this launch */
  attemptId: string;
  jobId: string;
  /** folder of the job's runs (checkpoints, adapter, logs); the same across its attempts */
  runDir: string;
  /** the worker job spec (`<run_dir>/job.json`), written before launch with the one spec builder (core/worker-job-spec.ts) */
  specFile: string;
  /** worker processes to start (one per GPU; torchrun when more than one; on a cluster, Ray workers or Slurm nodes) */
  numProcesses: number;
  /** the execution backend the job asked for (`local`, `ray`, `slurm`); absent: the server's default */
  backend?: string;
}

export interface RunOutcome {
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

export interface RunHandle {
  readonly attemptId: string;
  readonly finished: Promise<RunOutcome>;
  /** stop for good; the worker still writes a checkpoint when it can */
  cancel(): Promise<RunOutcome>;
  /** stop after writing a checkpoint that a later attempt resumes from */
  pause(): Promise<RunOutcome>;
}

export type StopMode = "cancel" | "pause";

export interface AttemptStatus {
  attemptId: string;
  /** `unknown`: this backend never launched the attempt (or no longer remembers it) */
  state: "running" | RunOutcome["status"] | "unknown";
  /** set once the attempt has ended */
  outcome: RunOutcome | null;
}

/** What a backend knows of an attempt it keeps in memory: unknown if never launched, running until its outcome is set. */
export function attemptStatusOf(attemptId: string, attempt: { outcome: RunOutcome | null } | undefined): AttemptStatus {
  if (!attempt) return { attemptId, state: "unknown", outcome: null };
  return attempt.outcome ? { attemptId, state: attempt.outcome.status, outcome: attempt.outcome } : { attemptId, state: "running", outcome: null };
}

export interface ExecutionBackend {
  readonly version: typeof EXECUTION_BACKEND_VERSION;
  /** `local`, `ray`, `slurm` */
  readonly name: string;
  launch(request: LaunchRequest, onEvent: (event: WorkerEvent) => void): RunHandle;
  status(attemptId: string): Promise<AttemptStatus>;
  /** stop an attempt (as its handle does); null for an attempt this backend does not know */
  cancel(attemptId: string, mode: StopMode): Promise<RunOutcome | null>;
  /** the worker's own log lines (its stderr) of this attempt, the last `tail` of them; empty for an unknown attempt */
  logs(attemptId: string, options?: { tail?: number }): Promise<string[]>;
  /** release what the backend holds (the local one: its worker fork server); the server calls it when it closes */
  close?(): Promise<void>;
  /**
   * The attempt a dead server launched in this run folder that is still on the backend's engine (a
   * cluster job outlives the server that followed it); null when none is left. Backends whose
   * workers are processes on this host leave this out: recovery finds those with LeftoverWorkers.
   * Rejects when the engine cannot be asked now (recovery then tries again at its next sweep).
   */
  leftoverAttempt?(runDir: string): Promise<LeftoverAttempt | null>;
}

/**
 * An attempt of a dead server still on a cluster engine: recovery stops it, after a checkpoint,
 * before it takes its job over, so that two attempts never train in one run folder.
 */
export interface LeftoverAttempt {
  attemptId: string;
  /** the engine's job, for the job's events: `ray job tunekit-ftjob-abc-1` */
  engineJob: string;
  /** ask its ranks to checkpoint and stop (the engine stops it after the stop timeout); resolves once it has ended */
  stop(): Promise<void>;
}

/** The leftover attempt in a run folder on the backend a job last ran on (the job's execution backend); null when none. */
export type LeftoverAttempts = (runDir: string, backend: string) => Promise<LeftoverAttempt | null>;

/**
 * The workers a dead supervisor left running in a run folder (process ids on this host): recovery
 * stops them and waits until none is left before it takes their job over, so that two workers never
 * share a run folder. The local backend's bridge implements it with a /proc scan.
 */
export type LeftoverWorkers = (runDir: string) => number[];
