import { randomUUID } from "node:crypto";
import { TunekitError } from "../core/errors.js";
import type { WorkerJobSpec } from "../core/worker-job-spec.js";
import type { ExecutionBackend, LaunchRequest, RunHandle, RunOutcome } from "../spec/execution-backend.js";
import type { WorkerEvent } from "../spec/worker-events.js";
import { isTerminal, type JobStatus } from "./job-state-machine.js";
import type { JobRow, JobStore } from "./job-store.js";
import { LAUNCH_MESSAGES, retireJournal } from "./event-journal.js";
import { registerLiveInstance, unregisterLiveInstance, writeRunOwner } from "./run-owner.js";
import { checkpointModelId, type JobFailure, type JobOutcomes } from "./job-outcome.js";
import { mapWorkerEvent } from "./worker-event-mapper.js";
import { latestCompleteCheckpoint } from "../spec/run-folder.js";

/** A job ready to launch: its spec written to `specFile`; the scheduler adds the attempt id. */
export interface PreparedLaunch extends Omit<LaunchRequest, "attemptId"> {
  spec: WorkerJobSpec;
}

/** How the scheduler gets a queued job's launch (run-preparer.ts implements it). */
export interface RunPreparation {
  /** resolve files, model and resume checkpoint of a job that is about to run, and write its spec */
  prepare(job: JobRow): Promise<PreparedLaunch>;
  /** the learning rate `learning_rate_multiplier` 1.0 means for this job (to report the resolved multiplier) */
  baseLearningRate(job: JobRow): number | null;
}

export interface SchedulerOptions {
  /** training jobs at a time (default 1); 0 holds every job in the queue */
  maxConcurrentJobs?: number;
  /** how often running jobs get their heartbeat written (default 10 s) */
  heartbeatMs?: number;
  runs: RunPreparation;
  /** writes a job's final status (job-outcome.ts) */
  outcomes: Pick<JobOutcomes, "succeed" | "fail">;
  /** the execution backends jobs may ask for (`tunekit.execution.backend`); default: only the backend's own name */
  backendNames?: readonly string[];
  /**
   * Attempts after a retryable failure (a lost node, a killed rank), per backend name; each resumes
   * from the newest marked checkpoint in the run folder. Default 0 (the job fails).
   */
  maxRetries?: Readonly<Record<string, number>>;
}

/** The message of the event that queues a job again after a failed attempt (counted to bound the retries). */
export const RETRY_MESSAGE = "Fine-tuning job queued again after a failed attempt";

interface RunningJob {
  handle: RunHandle | null;
  /** the execution backend of this attempt */
  backend: string;
  /** what the user asked for while it ran */
  stopping: "cancel" | "pause" | "shutdown" | null;
  totalSteps: number | null;
  startedAt: number;
}

/**
 * Starts queued jobs in creation order while fewer than `maxConcurrentJobs` run, through the
 * execution backend (spec/execution-backend.ts), feeds their worker events into the store and moves
 * them to their final status when the worker ends. Each launch is an attempt `<job id>/<n>`, n
 * counting the job's launches (its `started`/`resumed` events, which are never deleted).
 */
export class Scheduler {
  /** names this scheduler in the run dirs of the jobs it launches (<run_dir>/owner.json) */
  readonly instanceId = randomUUID();
  private readonly running = new Map<string, RunningJob>();
  private readonly held = new Set<string>();
  private readonly maxConcurrentJobs: number;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> = Promise.resolve();
  private closed = false;
  /** settled when every started job has been finished (for tests and shutdown) */
  private readonly finishing = new Set<Promise<void>>();

  constructor(
    private readonly store: JobStore,
    private readonly backend: ExecutionBackend,
    private readonly options: SchedulerOptions,
  ) {
    this.maxConcurrentJobs = options.maxConcurrentJobs ?? 1;
  }

  start(): void {
    registerLiveInstance(this.instanceId);
    const interval = this.options.heartbeatMs ?? 10_000;
    this.heartbeatTimer = setInterval(() => void this.beat(), interval);
    this.heartbeatTimer.unref();
    this.wake();
  }

  /** A TunekitError naming `tunekit.execution.backend` when a job asks for a backend this server does not have. */
  checkBackend(requested: string | undefined): void {
    const names = this.options.backendNames ?? [this.backend.name];
    if (requested === undefined || names.includes(requested)) return;
    throw new TunekitError(`this server has no \`${requested}\` execution backend (it has ${names.map((name) => `\`${name}\``).join(", ")})`, {
      kind: "usage",
      code: "unknown_execution_backend",
      field: "tunekit.execution.backend",
      fix: `ask for one of ${names.join(", ")}, or start the server with a --config whose \`execution.backend\` is \`${requested}\``,
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get runningJobIds(): string[] {
    return [...this.running.keys()];
  }

  isRunning(jobId: string): boolean {
    return this.running.has(jobId);
  }

  /** Keep a queued job from starting until `until` settles (its run dir is being recovered). */
  hold(jobId: string, until: Promise<unknown>): void {
    this.held.add(jobId);
    void until.finally(() => {
      this.held.delete(jobId);
      if (!this.closed) void this.wake();
    });
  }

  /** Look at the queue again (after a job was queued or a slot freed). */
  wake(): Promise<void> {
    this.ticking = this.ticking
      .then(() => this.fill())
      .catch((error: unknown) => {
        process.emitWarning(`scheduler: ${(error as Error).message}`);
      });
    return this.ticking;
  }

  /** Stop a running job: cancel for good, or pause with a checkpoint to resume from. */
  async stop(jobId: string, mode: "cancel" | "pause"): Promise<void> {
    const entry = this.running.get(jobId);
    if (!entry) return;
    entry.stopping = mode;
    if (entry.handle) void (mode === "cancel" ? entry.handle.cancel() : entry.handle.pause());
  }

  /**
   * Stop the scheduler. Running workers are asked to checkpoint and stop; their jobs stay
   * `running` with no heartbeat, so the next start resumes them from that checkpoint.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    for (const entry of this.running.values()) {
      entry.stopping ??= "shutdown";
      if (entry.handle) void entry.handle.pause();
    }
    await this.ticking;
    await Promise.all([...this.finishing]);
    unregisterLiveInstance(this.instanceId);
  }

  /** Resolves when no job started by this scheduler is still finishing. */
  async idle(): Promise<void> {
    await this.ticking;
    while (this.finishing.size > 0) await Promise.all([...this.finishing]);
  }

  private async fill(): Promise<void> {
    while (!this.closed && this.running.size < this.maxConcurrentJobs) {
      const queued = (await this.store.jobsWithStatus("queued")).find((job) => !this.running.has(job.id) && !this.held.has(job.id));
      if (!queued) return;
      await this.launch(queued);
    }
  }

  private async launch(queued: JobRow): Promise<void> {
    const entry: RunningJob = { handle: null, backend: this.backend.name, stopping: null, totalSteps: null, startedAt: Date.now() };
    this.running.set(queued.id, entry);
    let job: JobRow;
    try {
      if (queued.run_dir) {
        // claim the run dir before the job is `running` again, and start this launch's journal afresh (README: Recovery)
        writeRunOwner(queued.run_dir, this.instanceId);
        retireJournal(queued.run_dir);
      }
      const resuming = queued.last_checkpoint_path !== null;
      job = await this.store.transition(
        queued.id,
        "running",
        { message: resuming ? LAUNCH_MESSAGES.resumed : LAUNCH_MESSAGES.started },
        { started_at: queued.started_at ?? Date.now(), heartbeat_at: Date.now() },
      );
    } catch (error) {
      this.running.delete(queued.id);
      // cancelled between the queue read and the start: not an error, look at the next job
      if (error instanceof TunekitError && error.kind === "conflict") return;
      throw error;
    }
    let request: LaunchRequest;
    try {
      const { spec: _spec, ...prepared } = await this.options.runs.prepare(job);
      if (prepared.runDir !== queued.run_dir) writeRunOwner(prepared.runDir, this.instanceId);
      await this.store.updateJob(job.id, { run_dir: prepared.runDir });
      const attempt = await this.store.countEvents(job.id, Object.values(LAUNCH_MESSAGES));
      request = { attemptId: `${job.id}/${attempt}`, ...prepared };
      entry.backend = request.backend ?? this.backend.name;
      await this.store.updateJob(job.id, { execution_backend: entry.backend, execution_nodes: null });
    } catch (error) {
      this.running.delete(job.id);
      await this.fail(job.id, { code: "job_setup_failed", message: (error as Error).message, param: null });
      return;
    }
    const eventChain: { tail: Promise<void> } = { tail: Promise.resolve() };
    const onEvent = (event: WorkerEvent) => {
      eventChain.tail = eventChain.tail.then(() => this.record(job, entry, event)).catch((error: unknown) => process.emitWarning(`job ${job.id}: ${(error as Error).message}`));
    };
    entry.handle = this.backend.launch(request, onEvent);
    if (entry.stopping && entry.stopping !== "shutdown") void (entry.stopping === "cancel" ? entry.handle.cancel() : entry.handle.pause());
    const finishing = entry.handle.finished
      .then(async (outcome) => {
        await eventChain.tail;
        await this.finish(job.id, entry, outcome);
      })
      .catch((error: unknown) => this.fail(job.id, { code: "internal", message: (error as Error).message, param: null }).catch(() => undefined))
      .finally(() => {
        this.running.delete(job.id);
        this.finishing.delete(finishing);
        if (!this.closed) void this.wake();
      });
    this.finishing.add(finishing);
  }

  private async record(job: JobRow, entry: RunningJob, event: WorkerEvent): Promise<void> {
    const mapped = mapWorkerEvent(event, this.options.runs.baseLearningRate(job));
    if (event.type === "started" && event.nodes) {
      await this.store.updateJob(job.id, {
        execution_nodes: JSON.stringify(event.nodes.map((node) => (node.node_id && node.node_id !== node.host ? `${node.host} (${node.node_id})` : node.host))),
      });
    }
    if (mapped.totalSteps !== null) entry.totalSteps = mapped.totalSteps;
    if (mapped.resolvedHyperparameters) await this.store.updateJob(job.id, { resolved_hyperparameters: JSON.stringify(mapped.resolvedHyperparameters) });
    if (mapped.checkpoint) {
      await this.store.addCheckpoint(job, { ...mapped.checkpoint, fineTunedModelCheckpoint: checkpointModelId(job, mapped.checkpoint.step) });
    }
    if (event.type === "metrics" && event.step > 0 && event.total_steps > event.step) {
      const remainingMs = (event.elapsed_s * 1000 * (event.total_steps - event.step)) / event.step;
      await this.store.updateJob(job.id, { estimated_finish: Date.now() + Math.round(remainingMs) });
    }
    // a cancelled job's events end with its cancellation: what the stopping worker still says stays in its run folder
    if (mapped.event && entry.stopping !== "cancel") await this.store.addEvent(job.id, mapped.event);
  }

  private async finish(jobId: string, entry: RunningJob, outcome: RunOutcome): Promise<void> {
    const job = await this.store.getJob(null, jobId);
    if (outcome.checkpointPath && outcome.checkpointPath !== job.last_checkpoint_path) await this.store.updateJob(jobId, { last_checkpoint_path: outcome.checkpointPath });
    const status = job.status as JobStatus;
    if (entry.stopping === "shutdown") {
      // stays `running` without a heartbeat: recovery resumes it on the next start
      await this.store.updateJob(jobId, { heartbeat_at: null });
      await this.store.addEvent(jobId, {
        message: `Server stopped; the job resumes from ${outcome.checkpointPath ? "its last checkpoint" : "the start"} when the server starts again`,
      });
      return;
    }
    if (entry.stopping === "pause" && !isTerminal(status)) {
      // paused (or already resumed and queued again): the next start continues from this checkpoint
      await this.store.addEvent(jobId, {
        level: outcome.checkpointPath ? "info" : "warn",
        message: outcome.checkpointPath ? "Paused after writing a checkpoint; resume continues from it" : "Paused without a checkpoint; resume starts the training again",
      });
      return;
    }
    // cancelled (or otherwise moved) while the worker was stopping: nothing left to decide
    if (entry.stopping !== null || isTerminal(status) || status !== "running") return;
    if (outcome.status === "succeeded") {
      await this.options.outcomes.succeed(job, outcome);
      return;
    }
    if (outcome.status === "failed" && outcome.retryable && (await this.retry(job, entry, outcome))) return;
    await this.fail(jobId, { code: outcome.errorCode ?? "worker_failed", message: outcome.message, param: outcome.errorCode === "bad_config" ? "hyperparameters" : null });
  }

  /** Queue a job whose attempt failed but may succeed again, while it has retries left; false when it has none. */
  private async retry(job: JobRow, entry: RunningJob, outcome: RunOutcome): Promise<boolean> {
    const limit = this.options.maxRetries?.[entry.backend] ?? 0;
    const used = await this.store.countEvents(job.id, [RETRY_MESSAGE]);
    if (used >= limit) return false;
    // the newest checkpoint with its completion marker; one without it may be cut short
    const checkpoint = (job.run_dir ? latestCompleteCheckpoint(job.run_dir)?.path : null) ?? job.last_checkpoint_path;
    await this.store.addEvent(job.id, { level: "warn", message: `Attempt failed on ${entry.backend}: ${outcome.message}` });
    await this.store.transition(
      job.id,
      "queued",
      { message: RETRY_MESSAGE, data: { retry: used + 1, max_retries: limit, resume_from: checkpoint, error_code: outcome.errorCode } },
      { last_checkpoint_path: checkpoint, heartbeat_at: null },
    );
    return true;
  }

  private fail(jobId: string, error: JobFailure): Promise<void> {
    return this.options.outcomes.fail(jobId, error);
  }

  private async beat(): Promise<void> {
    const now = Date.now();
    for (const jobId of this.running.keys()) {
      await this.store.updateJob(jobId, { heartbeat_at: now }).catch(() => undefined);
    }
  }
}
