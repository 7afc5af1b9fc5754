import { statSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { TunekitError } from "../../core/errors.js";
import {
  attemptStatusOf,
  EXECUTION_BACKEND_VERSION,
  type AttemptStatus,
  type ExecutionBackend,
  type LaunchRequest,
  type RunHandle,
  type RunOutcome,
  type StopMode,
} from "../../spec/execution-backend.js";
import { RUN_FILES } from "../../spec/run-folder.js";
import type { WorkerEvent } from "../../spec/worker-events.js";
import { exitMeaning } from "../../spec/worker-exit.js";
import { PythonWorkerBridge, trainEnvironment, type ProtocolError, type PythonWorkerOptions, type ResolvedWorker, type WorkerOutcome } from "./python-worker.js";
import { FORK_SERVER_VARIABLE, WorkerForkServer } from "./worker-fork-server.js";

export interface LocalExecutionBackendOptions extends PythonWorkerOptions {
  /** SIGKILL a worker that has not stopped this long after cancel/pause (default 10 minutes) */
  cancelTimeoutMs?: number;
  /** ended attempts kept for status, logs and repeated launches (default 100; running ones are always kept) */
  keepEndedAttempts?: number;
  /**
   * Fork single-process runs from one worker fork server (worker-fork-server.ts), started with the
   * first launch and ended by close(): what a long-lived server wants (default false: `tunekit
   * train` runs one job). An inherited TUNEKIT_FORKSERVER names a running one to use instead.
   */
  forkServer?: boolean;
}

/** What `tunekit train` watches besides the events. */
export interface LocalLaunchObservers {
  /** a stdout line that is not a v1 event; default: a `warn` log event through onEvent */
  onProtocolError?: (error: ProtocolError) => void;
  /** each line the worker writes on stderr */
  onStderr?: (line: string) => void;
}

export interface LocalRunHandle extends RunHandle {
  /** how the worker process ended (exit code, signal, stderr tail, protocol errors): what `tunekit train` reports */
  readonly workerOutcome: Promise<WorkerOutcome>;
  /** SIGKILL now, without waiting (the supervisor itself is going away) */
  kill(): void;
}

interface Attempt {
  request: LaunchRequest;
  handle: LocalRunHandle;
  outcome: RunOutcome | null;
  /** where this attempt's lines start in <run_dir>/worker.log (earlier attempts of the job wrote before it) */
  logStart: number;
}

/** The most of an attempt's worker.log that logs() reads. */
const LOG_READ_LIMIT = 1 << 20;

/**
 * The `local` execution backend: the worker runs on this machine, spawned through the Python-worker
 * bridge (python-worker.ts) with `<run_dir>/job.json` as its argument (torchrun for several
 * processes). The server's scheduler and `tunekit train` both launch through it. "Local" in
 * providers/local means this and nothing else: the worker runs here.
 */
export class LocalExecutionBackend implements ExecutionBackend {
  readonly version = EXECUTION_BACKEND_VERSION;
  readonly name = "local";
  private readonly worker: PythonWorkerBridge;
  private readonly attempts = new Map<string, Attempt>();
  private forkServer: WorkerForkServer | null = null;

  constructor(private readonly options: LocalExecutionBackendOptions = {}) {
    this.worker = new PythonWorkerBridge({ python: options.python, workerRoot: options.workerRoot, environment: options.environment });
  }

  /** Start the attempt's worker; an attempt already launched here gets its first handle back and no second worker. */
  launch(request: LaunchRequest, onEvent: (event: WorkerEvent) => void, observers: LocalLaunchObservers = {}): LocalRunHandle {
    const known = this.attempts.get(request.attemptId);
    if (known) return known.handle;
    const logStart = fileSizeSync(join(request.runDir, RUN_FILES.workerLog));
    const attempt: Attempt = { request, handle: this.start(request, onEvent, observers), outcome: null, logStart };
    this.attempts.set(request.attemptId, attempt);
    void attempt.handle.finished.then((outcome) => {
      attempt.outcome = outcome;
      this.forgetEndedAttempts();
    });
    return attempt.handle;
  }

  async status(attemptId: string): Promise<AttemptStatus> {
    return attemptStatusOf(attemptId, this.attempts.get(attemptId));
  }

  async cancel(attemptId: string, mode: StopMode): Promise<RunOutcome | null> {
    const attempt = this.attempts.get(attemptId);
    if (!attempt) return null;
    return mode === "cancel" ? attempt.handle.cancel() : attempt.handle.pause();
  }

  async logs(attemptId: string, options: { tail?: number } = {}): Promise<string[]> {
    const attempt = this.attempts.get(attemptId);
    if (!attempt) return [];
    const text = await readFrom(join(attempt.request.runDir, RUN_FILES.workerLog), attempt.logStart);
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines.slice(-(options.tail ?? 100));
  }

  private start(request: LaunchRequest, onEvent: (event: WorkerEvent) => void, observers: LocalLaunchObservers): LocalRunHandle {
    let resolved: ResolvedWorker;
    try {
      resolved = this.worker.resolve();
    } catch (error) {
      return environmentFailure(request.attemptId, error);
    }
    const worker = this.worker.train(
      request,
      {
        onEvent,
        onProtocolError:
          observers.onProtocolError ??
          ((problem) => onEvent({ v: 1, type: "log", level: "warn", message: `worker wrote a line that is not a protocol v1 event (${problem.message})` })),
        onStderr: observers.onStderr,
        cancelTimeoutMs: this.options.cancelTimeoutMs,
      },
      resolved,
      this.forkServerEnvironment(resolved, request.numProcesses),
    );
    return {
      attemptId: request.attemptId,
      workerOutcome: worker.finished,
      finished: worker.finished.then(toRunOutcome),
      cancel: () => worker.cancel().then(toRunOutcome),
      pause: () => worker.cancel().then(toRunOutcome),
      kill: () => worker.kill(),
    };
  }

  /** The fork server this backend started, if any (its forked-run count, or why it is not in use). */
  get forkServerState(): { ready: boolean; forkedRuns: number; problem: string | null } | null {
    return this.forkServer ? { ready: this.forkServer.ready !== null, forkedRuns: this.forkServer.forkedRuns, problem: this.forkServer.problem } : null;
  }

  /** End the fork server, if one was started (runs in flight finish first). */
  async close(): Promise<void> {
    await this.forkServer?.close();
  }

  /** TUNEKIT_FORKSERVER for a single-process run once this backend's fork server is ready (the first runs spawn while it starts). */
  private forkServerEnvironment(resolved: ResolvedWorker, numProcesses: number): NodeJS.ProcessEnv {
    const base = this.options.environment ?? process.env;
    if (!this.options.forkServer || numProcesses > 1 || base[FORK_SERVER_VARIABLE]) return {};
    this.forkServer ??= new WorkerForkServer({ python: resolved.python, environment: trainEnvironment(base, resolved.workerRoot) });
    void this.forkServer.start();
    const socket = this.forkServer.ready;
    return socket ? { [FORK_SERVER_VARIABLE]: socket } : {};
  }

  private forgetEndedAttempts(): void {
    const ended = [...this.attempts].filter(([, attempt]) => attempt.outcome !== null);
    for (const [attemptId] of ended.slice(0, Math.max(0, ended.length - (this.options.keepEndedAttempts ?? 100)))) this.attempts.delete(attemptId);
  }
}

/** A worker that cannot start because its Python environment is missing: not retryable, with the fix. */
function environmentFailure(attemptId: string, error: unknown): LocalRunHandle {
  const message = error instanceof TunekitError ? `${error.message}${error.fix ? `; ${error.fix}` : ""}` : String(error);
  const outcome: RunOutcome = {
    status: "failed",
    message,
    errorCode: "worker_environment",
    retryable: false,
    checkpointPath: null,
    adapterPath: null,
    mergedPath: null,
    trainedTokens: null,
  };
  const workerOutcome: WorkerOutcome = {
    status: "failed",
    exitCode: null,
    signal: null,
    message,
    stderrTail: [],
    protocolErrors: [],
    done: null,
    cancelled: null,
    error: null,
    lastCheckpoint: null,
    cancelRequested: false,
  };
  const finished = Promise.resolve(outcome);
  return { attemptId, finished, workerOutcome: Promise.resolve(workerOutcome), cancel: () => finished, pause: () => finished, kill: () => undefined };
}

/** What an ended worker means for its job: the one table of spec/worker-exit.ts. */
export function toRunOutcome(outcome: WorkerOutcome): RunOutcome {
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

function fileSizeSync(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The file from `start` on (at most its last LOG_READ_LIMIT bytes); empty when it does not exist. */
async function readFrom(path: string, start: number): Promise<string> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch {
    return "";
  }
  const from = Math.max(start, size - LOG_READ_LIMIT);
  if (size <= from) return "";
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(size - from);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } finally {
    await file.close();
  }
}
