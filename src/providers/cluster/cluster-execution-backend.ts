import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TunekitError } from "../../core/errors.js";
import type { ClusterEngine, ClusterJobStatus, ClusterSubmission } from "../../spec/cluster-engine.js";
import {
  attemptStatusOf,
  EXECUTION_BACKEND_VERSION,
  type AttemptStatus,
  type ExecutionBackend,
  type LaunchRequest,
  type LeftoverAttempt,
  type RunHandle,
  type RunOutcome,
  type StopMode,
} from "../../spec/execution-backend.js";
import { latestCompleteCheckpoint, RUN_FILES } from "../../spec/run-folder.js";
import type { DoneEvent, WorkerEvent } from "../../spec/worker-events.js";
import { exitMeaning, statusOfExitCode, workerStatusOf } from "../../spec/worker-exit.js";
import { EngineLogMirror } from "./engine-log-mirror.js";
import { JournalTail } from "./journal-tail.js";

export interface ClusterBackendOptions {
  /** between engine polls and journal reads (execution.<backend>.poll_interval_s) */
  pollIntervalMs: number;
  /** how long an attempt may stay pending on the engine before it is stopped and fails (start_timeout_s) */
  startTimeoutMs: number;
  /** how long a stop request may take to end in a checkpoint before the engine is told to stop the job (stop_timeout_s) */
  stopTimeoutMs: number;
  /** how long to keep reading the journal after the engine says the job ended (shared storage may lag), default 3 s */
  settleMs?: number;
}

/** The backend's options from a cluster's settings (execution.ray or execution.slurm). */
export function clusterBackendOptions(settings: { poll_interval_s: number; start_timeout_s: number; stop_timeout_s: number }): ClusterBackendOptions {
  return { pollIntervalMs: settings.poll_interval_s * 1000, startTimeoutMs: settings.start_timeout_s * 1000, stopTimeoutMs: settings.stop_timeout_s * 1000 };
}

/** What `<run_dir>/attempts/<n>.json` records: which engine job an attempt is, so that a restarted server finds it. */
export interface AttemptRecord {
  attempt_id: string;
  backend: string;
  engine_key: string;
  engine_job_id: string;
  submitted_at: number;
  /** the event journal's size at submission: this attempt's events start there (a resumed run's journal holds the earlier attempts' first) */
  journal_offset?: number;
}

interface Attempt {
  request: LaunchRequest;
  handle: RunHandle;
  engineJobId: string | null;
  outcome: RunOutcome | null;
  stop: StopMode | null;
  /** asks the watch loop to look now (after a stop request) */
  wake: () => void;
}

/** What an engine is given for a launch: the request under its engine key. */
export function clusterSubmissionOf(request: LaunchRequest): ClusterSubmission {
  return {
    attemptId: request.attemptId,
    jobId: request.jobId,
    engineKey: engineKeyOf(request.attemptId),
    runDir: request.runDir,
    specFile: request.specFile,
    numWorkers: request.numProcesses,
  };
}

/** Ray's submission_id and Slurm's job name for an attempt: `ftjob-abc/2` -> `tunekit-ftjob-abc-2`. */
export function engineKeyOf(attemptId: string): string {
  return `tunekit-${attemptId.replace(/[^A-Za-z0-9_-]/g, "-")}`;
}

/**
 * An execution backend on a cluster engine (spec/cluster-engine.ts: Ray, Slurm). The engine
 * schedules; this class is the reconciler. A launch checks the settings against the cluster,
 * submits the attempt under its engine key, records the engine's job id in the run folder, then
 * polls: the engine for the job's state, and the run folder's event journal, which the rank-0
 * worker writes on shared storage, for the events. Nothing is held open for the hours of training,
 * so a server restart or a dropped connection loses nothing.
 *
 * Cancel and pause write `<run_dir>/stop-request.json`; every rank sees it at its next step, the
 * ranks agree, write a checkpoint and exit with the cancelled code. When that has not happened
 * within the stop timeout (a hung rank, a job still pending), the engine stops the job.
 */
export class ClusterExecutionBackend implements ExecutionBackend {
  readonly version = EXECUTION_BACKEND_VERSION;
  readonly name: string;
  private readonly attempts = new Map<string, Attempt>();

  constructor(
    private readonly engine: ClusterEngine,
    private readonly options: ClusterBackendOptions,
  ) {
    this.name = engine.name;
  }

  launch(request: LaunchRequest, onEvent: (event: WorkerEvent) => void): RunHandle {
    const known = this.attempts.get(request.attemptId);
    if (known) return known.handle;
    let resolveFinished!: (outcome: RunOutcome) => void;
    const finished = new Promise<RunOutcome>((resolve) => (resolveFinished = resolve));
    const attempt: Attempt = {
      request,
      engineJobId: null,
      outcome: null,
      stop: null,
      wake: () => undefined,
      handle: {
        attemptId: request.attemptId,
        finished,
        cancel: () => this.requestStop(attempt, "cancel"),
        pause: () => this.requestStop(attempt, "pause"),
      },
    };
    this.attempts.set(request.attemptId, attempt);
    void this.run(attempt, onEvent)
      .catch((error: unknown) => failure(`the ${this.name} backend failed to follow the job: ${(error as Error).message}`, "cluster_error", true))
      .then((outcome) => {
        attempt.outcome = outcome;
        resolveFinished(outcome);
      });
    return attempt.handle;
  }

  async status(attemptId: string): Promise<AttemptStatus> {
    return attemptStatusOf(attemptId, this.attempts.get(attemptId));
  }

  async cancel(attemptId: string, mode: StopMode): Promise<RunOutcome | null> {
    const attempt = this.attempts.get(attemptId);
    return attempt ? this.requestStop(attempt, mode) : null;
  }

  async logs(attemptId: string, options: { tail?: number } = {}): Promise<string[]> {
    const attempt = this.attempts.get(attemptId);
    if (!attempt?.engineJobId) return [];
    return this.engine.logs(attempt.engineJobId, options.tail ?? 100);
  }

  async close(): Promise<void> {
    await this.engine.close?.();
  }

  async leftoverAttempt(runDir: string): Promise<LeftoverAttempt | null> {
    const record = newestAttemptRecord(runDir, this.name);
    // one this server follows is not left over
    if (!record || this.attempts.get(record.attempt_id)?.outcome === null) return null;
    const { state } = await this.engine.status(record.engine_job_id);
    if (isEnded(state)) return null;
    // "unknown": not known to have ended (Slurm's controller did not answer) or gone (a Ray cluster
    // that was restarted); an engine that has no job under the attempt's key has nothing left
    if (state === "unknown" && (await this.engine.find(record.engine_key)) === null) return null;
    return {
      attemptId: record.attempt_id,
      engineJob: `${this.name} job ${record.engine_job_id}`,
      stop: async () => {
        // the stop request on shared storage reaches the ranks whatever the engine says; a job still
        // pending has no ranks to see it, and one that does not stop in time is stopped on the engine
        writeStopRequest(runDir, "pause", record.attempt_id);
        if (state === "pending" || !(await this.waitEnded(record.engine_job_id))) {
          await this.engine.stop(record.engine_job_id).catch(() => undefined);
          await this.waitEnded(record.engine_job_id);
        }
      },
    };
  }

  private requestStop(attempt: Attempt, mode: StopMode): Promise<RunOutcome> {
    if (!attempt.outcome && !attempt.stop) {
      attempt.stop = mode;
      writeStopRequest(attempt.request.runDir, mode, attempt.request.attemptId);
      attempt.wake();
    }
    return attempt.handle.finished;
  }

  /** Submit (or find) the attempt's engine job and follow it to its end. */
  private async run(attempt: Attempt, onEvent: (event: WorkerEvent) => void): Promise<RunOutcome> {
    const { request } = attempt;
    const engineKey = engineKeyOf(request.attemptId);
    // a stop request left by an earlier attempt must not stop this one
    if (!attempt.stop) rmSync(join(request.runDir, RUN_FILES.stopRequest), { force: true });
    const recorded = readAttemptRecord(request.runDir, request.attemptId);
    let engineJobId = recorded?.engine_job_id ?? null;
    let journalOffset = recorded?.journal_offset ?? 0;
    if (engineJobId === null) {
      if (attempt.stop) return { ...failure("stopped before it was submitted", null, true), status: "stopped" };
      // the settings first (an address refused without a token is never sent anything), then a
      // submission an earlier server made under this attempt's key, adopted instead of a second one
      try {
        await this.engine.check(request.numProcesses);
      } catch (error) {
        if (!(error instanceof TunekitError)) throw error;
        const where = error.field ? ` (\`${error.field}\`)` : "";
        return failure(`${error.message}${where}${error.fix ? `; ${error.fix}` : ""}`, "bad_execution_settings", false);
      }
      engineJobId = await this.engine.find(engineKey);
    }
    if (engineJobId === null) {
      journalOffset = new JournalTail(request.runDir).size();
      engineJobId = await this.engine.submit(clusterSubmissionOf(request));
      writeAttemptRecord(request.runDir, {
        attempt_id: request.attemptId,
        backend: this.name,
        engine_key: engineKey,
        engine_job_id: engineJobId,
        submitted_at: Date.now(),
        journal_offset: journalOffset,
      });
    }
    attempt.engineJobId = engineJobId;
    return this.follow(attempt, engineJobId, onEvent, journalOffset);
  }

  private async follow(attempt: Attempt, engineJobId: string, onEvent: (event: WorkerEvent) => void, journalOffset: number): Promise<RunOutcome> {
    const journal = new JournalTail(attempt.request.runDir, journalOffset);
    const seen = new SeenEvents();
    const log = new EngineLogMirror(
      this.engine,
      engineJobId,
      attempt.request.runDir,
      `== attempt ${attempt.request.attemptId}: ${this.name} job ${engineJobId}`,
      Math.max(2000, this.options.pollIntervalMs),
    );
    const deliver = () => {
      for (const event of journal.read()) {
        seen.note(event);
        onEvent(event);
      }
    };
    const submittedAt = Date.now();
    let stopRequestedAt: number | null = null;
    let engineStopped = false;
    let status: ClusterJobStatus;
    for (;;) {
      deliver();
      status = await this.engine.status(engineJobId);
      if (isEnded(status.state)) break;
      await log.update();
      const now = Date.now();
      if (attempt.stop && stopRequestedAt === null) stopRequestedAt = now;
      // not started until the ranks say so: a Ray job's driver runs at once while its trainer may wait
      // for a placement group the cluster cannot give it, and a Slurm job waits in the queue
      const pendingTooLong = (status.state === "pending" || !seen.started) && now - submittedAt > this.options.startTimeoutMs;
      const stopOverdue = stopRequestedAt !== null && (status.state === "pending" || !seen.started || now - stopRequestedAt > this.options.stopTimeoutMs);
      if (!engineStopped && (pendingTooLong || stopOverdue)) {
        engineStopped = true;
        await this.engine.stop(engineJobId);
        if (pendingTooLong && !attempt.stop) {
          // a job that starts long after its timeout would hold resources nobody waits for
          await this.waitEnded(engineJobId);
          await log.update(true);
          return failure(
            `the ${this.name} cluster did not start the attempt within ${Math.round(this.options.startTimeoutMs / 1000)} s (${status.message ?? status.state}); it was stopped so that it cannot start later`,
            "cluster_start_timeout",
            true,
          );
        }
      }
      await this.sleep(attempt);
    }
    // the engine says it ended: read what the journal still gets (shared storage may show it late)
    const settleUntil = Date.now() + (this.options.settleMs ?? 3000);
    deliver();
    while (!seen.final && Date.now() < settleUntil) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      deliver();
    }
    await log.update(true);
    return this.outcomeOf(attempt, status, seen, engineJobId);
  }

  /** poll the engine until the job has ended (true) or the stop timeout has passed (false) */
  private async waitEnded(engineJobId: string): Promise<boolean> {
    const until = Date.now() + this.options.stopTimeoutMs;
    for (;;) {
      const state = (await this.engine.status(engineJobId).catch(() => null))?.state;
      if (state && isEnded(state)) return true;
      if (Date.now() >= until) return false;
      await new Promise((resolve) => setTimeout(resolve, this.options.pollIntervalMs));
    }
  }

  private sleep(attempt: Attempt): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.options.pollIntervalMs);
      attempt.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async outcomeOf(attempt: Attempt, status: ClusterJobStatus, seen: SeenEvents, engineJobId: string): Promise<RunOutcome> {
    const cancelRequested = attempt.stop !== null;
    const workerStatus = workerStatusOf(status.state === "succeeded" ? 0 : statusOfExitCode(status.exitCode) ? status.exitCode : null, null, {
      done: seen.done !== null,
      cancelled: seen.cancelled || (cancelRequested && status.state === "stopped"),
      errorCode: seen.errorCode,
      cancelRequested,
    });
    const meaning = exitMeaning(workerStatus, cancelRequested);
    const newest = latestCompleteCheckpoint(attempt.request.runDir)?.path ?? null;
    const outcome: RunOutcome = {
      status: meaning.jobStatus,
      message: "",
      errorCode: meaning.errorCode,
      retryable: meaning.retryable,
      checkpointPath: seen.cancelledCheckpoint ?? newest,
      adapterPath: seen.done?.adapter_path ?? null,
      mergedPath: seen.done?.merged_path ?? null,
      trainedTokens: seen.done?.summary.trained_tokens ?? null,
    };
    const engineSays = `${this.name} job ${engineJobId}: ${status.state}${status.message ? ` (${status.message})` : ""}`;
    if (outcome.status === "succeeded") return { ...outcome, message: "training finished" };
    if (outcome.status === "stopped") return { ...outcome, message: outcome.checkpointPath ? "stopped after writing a checkpoint" : `stopped (${engineSays})` };
    if (seen.errorMessage) return { ...outcome, errorCode: seen.errorCode ?? outcome.errorCode, message: seen.errorMessage };
    const tail = (await this.engine.logs(engineJobId, 3).catch(() => [])).join(" | ");
    const lost = workerStatus === "failed" ? "the attempt ended without a result (a node lost or a rank killed)" : "the worker stopped without being asked to";
    return {
      ...outcome,
      errorCode: workerStatus === "failed" ? "cluster_attempt_failed" : outcome.errorCode,
      message: `${lost}; ${engineSays}${tail ? `; last log lines: ${tail}` : ""}`,
    };
  }
}

class SeenEvents {
  started = false;
  done: DoneEvent | null = null;
  cancelled = false;
  cancelledCheckpoint: string | null = null;
  errorCode: string | null = null;
  errorMessage: string | null = null;

  get final(): boolean {
    return this.done !== null || this.cancelled || this.errorCode !== null;
  }

  note(event: WorkerEvent): void {
    if (event.type === "started") this.started = true;
    if (event.type === "done") this.done = event;
    if (event.type === "cancelled") {
      this.cancelled = true;
      this.cancelledCheckpoint = event.checkpoint_path;
    }
    if (event.type === "error") {
      this.errorCode = event.code;
      this.errorMessage = event.message;
    }
  }
}

function isEnded(state: ClusterJobStatus["state"]): boolean {
  return state === "succeeded" || state === "failed" || state === "stopped";
}

function failure(message: string, errorCode: string | null, retryable: boolean): RunOutcome {
  return { status: "failed", message, errorCode, retryable, checkpointPath: null, adapterPath: null, mergedPath: null, trainedTokens: null };
}

/** `<run_dir>/stop-request.json`: every rank sees it at its next step, and they checkpoint and exit */
function writeStopRequest(runDir: string, mode: StopMode, attemptId: string): void {
  writeFileSync(join(runDir, RUN_FILES.stopRequest), `${JSON.stringify({ mode, attempt_id: attemptId, requested_at: Date.now() })}\n`);
}

function attemptRecordPath(runDir: string, attemptId: string): string {
  return join(runDir, "attempts", `${attemptId.split("/").at(-1) ?? attemptId}.json`);
}

/** The engine job an attempt was submitted as, from its run folder; null when it was not. */
export function readAttemptRecord(runDir: string, attemptId: string): AttemptRecord | null {
  const record = readRecordFile(attemptRecordPath(runDir, attemptId));
  return record?.attempt_id === attemptId ? record : null;
}

/** The newest attempt this backend recorded in a run folder (the highest attempt number), null when none. */
function newestAttemptRecord(runDir: string, backend: string): AttemptRecord | null {
  const folder = join(runDir, "attempts");
  const numbers = (existsSync(folder) ? readdirSync(folder) : []).flatMap((name) => /^(\d+)\.json$/.exec(name)?.[1] ?? []).map(Number);
  for (const number of numbers.sort((x, y) => y - x)) {
    const record = readRecordFile(join(folder, `${number}.json`));
    if (record?.backend === backend) return record;
  }
  return null;
}

/** null for a missing file, or one being written (the attempt of a live launch) */
function readRecordFile(path: string): AttemptRecord | null {
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as AttemptRecord;
  } catch {
    return null;
  }
}

function writeAttemptRecord(runDir: string, record: AttemptRecord): void {
  mkdirSync(join(runDir, "attempts"), { recursive: true });
  writeFileSync(attemptRecordPath(runDir, record.attempt_id), `${JSON.stringify(record, null, 2)}\n`);
}
