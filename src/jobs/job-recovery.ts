import { existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { completeCheckpoints, JOURNAL_FILE, planRecovery, readJournal, retireJournal, retrainedMessage, type DiskCheckpoint, type RecoveryPlan } from "./event-journal.js";
import { checkpointModelId, type JobOutcomes } from "./job-outcome.js";
import type { JobPatch, JobRow, JobStore, NewCheckpoint, NewJobEvent, RecoveryWrite } from "./job-store.js";
import type { LeftoverAttempt, LeftoverAttempts, LeftoverWorkers } from "../spec/execution-backend.js";
import { ownerIsGone, readRunOwner } from "./run-owner.js";
import { mapWorkerEvent } from "./worker-event-mapper.js";
import { BASE_LEARNING_RATE } from "./worker-job-spec.js";

/** What recovery needs from the scheduler of this server (Scheduler implements it). */
export interface RecoveryScheduler {
  isRunning(jobId: string): boolean;
  /** keep a queued job from starting until `until` settles */
  hold(jobId: string, until: Promise<unknown>): void;
  wake(): unknown;
}

export interface JobRecoveryOptions {
  /** a running job whose heartbeat is older than this belongs to a dead server (default 60 s) */
  staleHeartbeatMs?: number;
  /** SIGKILL the worker of an orphaned job that has not exited this long after SIGTERM (default 10 minutes) */
  orphanWorkerTimeoutMs?: number;
  /** how often `start` sweeps for jobs of servers that died later (default 10 s) */
  sweepMs?: number;
  /** the learning rate `learning_rate_multiplier` 1.0 means (RunPreparer.baseLearningRate) */
  baseLearningRate?: number;
  /**
   * the workers a dead server left running in a run folder (the local backend's /proc scan, wired
   * by the composition root); without it none are seen and recovery does not wait for them
   */
  leftoverWorkers?: LeftoverWorkers;
  /**
   * the attempt a dead server left on a cluster engine (the backend router, wired by the
   * composition root); without it recovery does not look for one
   */
  leftoverAttempts?: LeftoverAttempts;
}

/** Jobs by what one recovery pass did with them. */
export interface RecoveryReport {
  resumed: string[];
  completed: string[];
  failed: string[];
  /** their old worker still runs: recovered in the background once it has exited */
  waiting: string[];
}

/**
 * Takes over the jobs of servers that died (this one before a restart, or another one sharing the
 * data dir): resume from the newest complete checkpoint, complete, or fail. The rules are in
 * src/jobs/README.md ("Recovery").
 */
export class JobRecovery {
  private readonly recovering = new Set<string>();
  /** orphaned jobs whose worker is still stopping */
  private readonly waits = new Set<Promise<void>>();
  private pass: Promise<RecoveryReport> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly leftoverWorkers: LeftoverWorkers;

  constructor(
    private readonly store: JobStore,
    private readonly scheduler: RecoveryScheduler,
    private readonly outcomes: JobOutcomes,
    private readonly options: JobRecoveryOptions = {},
  ) {
    this.leftoverWorkers = options.leftoverWorkers ?? (() => []);
  }

  /** Run the first pass now, then sweep every `sweepMs` until `stop`. */
  async start(): Promise<RecoveryReport> {
    this.stopped = false;
    const report = await this.recover();
    if (!this.stopped) {
      this.timer = setInterval(() => void this.sweep(), this.options.sweepMs ?? 10_000);
      this.timer.unref();
    }
    return report;
  }

  /** End the sweeps and the waits for old workers; resolves once the pass in flight has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pass?.catch(() => undefined);
    while (this.waits.size > 0) await Promise.all([...this.waits]);
  }

  /** One pass over the store (a pass already in flight is joined, not doubled). */
  recover(): Promise<RecoveryReport> {
    this.pass ??= this.recoverOnce().finally(() => {
      this.pass = null;
    });
    return this.pass;
  }

  private async sweep(): Promise<void> {
    if (this.stopped || this.pass) return;
    await this.recover().catch((error: unknown) => process.emitWarning(`recovery: ${(error as Error).message}`));
  }

  private async recoverOnce(): Promise<RecoveryReport> {
    const report: RecoveryReport = { resumed: [], completed: [], failed: [], waiting: [] };
    for (const job of await this.store.jobsWithStatus("running")) {
      if (this.scheduler.isRunning(job.id) || this.recovering.has(job.id)) continue;
      if (!this.isOrphaned(job)) continue;
      await this.takeOver(job, report.waiting, async () => {
        report[await this.recoverJob(job)].push(job.id);
      });
    }
    // paused or queued while its worker was stopping, then the server died: the worker's last
    // events are only in its journal; import them before a launch retires the journal
    for (const job of [...(await this.store.jobsWithStatus("paused")), ...(await this.store.jobsWithStatus("queued"))]) {
      const runDir = job.run_dir;
      if (!runDir || this.scheduler.isRunning(job.id) || this.recovering.has(job.id) || !existsSync(join(runDir, JOURNAL_FILE))) continue;
      const owner = readRunOwner(runDir);
      if (owner && !ownerIsGone(owner)) continue;
      await this.takeOver(job, report.waiting, () => this.importStoppedSession(job));
    }
    if (report.resumed.length > 0) void this.scheduler.wake();
    return report;
  }

  /** A `running` job that this server does not run has lost its server (README: "Who is orphaned"). */
  private isOrphaned(job: JobRow): boolean {
    if (job.heartbeat_at === null) return true;
    const owner = job.run_dir ? readRunOwner(job.run_dir) : null;
    if (owner && ownerIsGone(owner)) return true;
    return job.heartbeat_at <= Date.now() - (this.options.staleHeartbeatMs ?? 60_000);
  }

  /** Recover now, or in the background once the job's old worker or cluster attempt has ended (then it is `waiting`). */
  private async takeOver(job: JobRow, waiting: string[], recover: () => Promise<void>): Promise<void> {
    const workers = job.run_dir ? this.leftoverWorkers(job.run_dir) : [];
    let attempt: LeftoverAttempt | null = null;
    if (job.run_dir && job.execution_backend && this.options.leftoverAttempts) {
      try {
        attempt = await this.options.leftoverAttempts(job.run_dir, job.execution_backend);
      } catch (error) {
        // whether its attempt still trains is not known: resuming now could train it twice
        process.emitWarning(`recovery of job ${job.id} waits for the next sweep: its ${job.execution_backend} attempt could not be looked up (${(error as Error).message})`);
        return;
      }
    }
    if (workers.length > 0 || attempt) {
      this.recoverWhenStopped(job.id, job.run_dir as string, workers, attempt);
      waiting.push(job.id);
      return;
    }
    this.recovering.add(job.id);
    try {
      await recover();
    } finally {
      this.recovering.delete(job.id);
    }
  }

  /**
   * Stop what the dead server left: its cluster attempt (a stop request, then the engine), and its
   * workers on this host (SIGTERM, SIGKILL after `orphanWorkerTimeoutMs`); then recover the job. It
   * is held off the queue meanwhile.
   */
  private recoverWhenStopped(jobId: string, runDir: string, pids: number[], attempt: LeftoverAttempt | null): void {
    this.recovering.add(jobId);
    const work = (async () => {
      if (attempt) {
        await this.store.addEvent(jobId, {
          message: `Stopping ${attempt.engineJob} (attempt ${attempt.attemptId}), left training by a server that stopped; the job resumes from its checkpoint`,
        });
        await attempt.stop();
      }
      for (const pid of pids) signalProcess(pid, "SIGTERM");
      const deadline = Date.now() + (this.options.orphanWorkerTimeoutMs ?? 600_000);
      let killed = false;
      for (;;) {
        if (this.stopped) return;
        const alive = this.leftoverWorkers(runDir);
        if (alive.length === 0) break;
        if (Date.now() > deadline && !killed) {
          for (const pid of alive) signalProcess(pid, "SIGKILL");
          killed = true;
        }
        await sleep(100, undefined, { ref: false });
      }
      const job = await this.store.getJob(null, jobId);
      if (this.scheduler.isRunning(jobId)) return;
      if (job.status === "running") {
        if ((await this.recoverJob(job)) === "resumed") void this.scheduler.wake();
      } else if (job.status === "paused" || job.status === "queued") {
        await this.importStoppedSession(job);
      }
    })()
      .catch((error: unknown) => process.emitWarning(`recovery of job ${jobId}: ${(error as Error).message}`))
      .finally(() => {
        this.recovering.delete(jobId);
        this.waits.delete(work);
      });
    this.waits.add(work);
    this.scheduler.hold(jobId, work);
  }

  /** The recovery plan of a job (event-journal.ts planRecovery) and what it writes. */
  private async planRecoveryOf(job: JobRow): Promise<{ plan: RecoveryPlan; imports: RecoveryWrite["imports"]; notes: NewJobEvent[]; patch: JobPatch }> {
    const runDir = job.run_dir;
    const journal = runDir ? readJournal(runDir) : { events: [], unreadableLines: 0 };
    const baseLearningRate = this.options.baseLearningRate ?? BASE_LEARNING_RATE.adapter;
    const plan = planRecovery({
      journal: journal.events,
      storedEvents: (await this.store.jobEvents(job.id)).map((row) => ({
        id: row.id,
        type: row.type,
        level: row.level,
        message: row.message,
        data: row.data ? (JSON.parse(row.data) as Record<string, unknown>) : null,
      })),
      storedCheckpoints: await this.store.checkpointRows(job.id),
      diskCheckpoints: runDir ? completeCheckpoints(runDir) : [],
      toJobEvent: (event) => mapWorkerEvent(event, baseLearningRate).event,
    });
    const toRow = (checkpoint: DiskCheckpoint): NewCheckpoint => ({
      step: checkpoint.step,
      path: checkpoint.path,
      metrics: checkpoint.metrics,
      fineTunedModelCheckpoint: checkpointModelId(job, checkpoint.step),
    });
    const pending = new Map(plan.checkpoints.map((checkpoint) => [checkpoint.step, checkpoint]));
    const patch: JobPatch = { heartbeat_at: null, estimated_finish: null };
    const imports: RecoveryWrite["imports"] = [];
    for (const event of plan.imports) {
      const mapped = mapWorkerEvent(event, baseLearningRate);
      if (mapped.resolvedHyperparameters) patch.resolved_hyperparameters = JSON.stringify(mapped.resolvedHyperparameters);
      const checkpoint = event.type === "checkpoint" ? pending.get(event.step) : undefined;
      if (checkpoint) pending.delete(checkpoint.step);
      const createdAt = event.time === undefined ? undefined : Math.round(event.time * 1000);
      imports.push({ event: mapped.event ? { ...mapped.event, createdAt } : null, checkpoint: checkpoint ? toRow(checkpoint) : null });
    }
    // a complete checkpoint that no event announced (the worker died between writing and telling)
    for (const checkpoint of pending.values()) imports.push({ event: null, checkpoint: toRow(checkpoint) });
    const notes: NewJobEvent[] = [];
    if (plan.imports.length > 0) notes.push({ message: `Recovered ${plan.imports.length} event(s) the worker wrote after the server stopped` });
    const retrained = plan.resumeFrom && !plan.finished ? retrainedMessage(plan.retrainedSteps, plan.resumeFrom.step) : null;
    if (retrained) notes.push({ level: "warn", message: retrained, data: { steps: plan.retrainedSteps } });
    return { plan, imports, notes, patch };
  }

  /** A paused or queued job of a dead server: import its worker's last events and checkpoint; the status stays. */
  private async importStoppedSession(job: JobRow): Promise<void> {
    const { plan, imports, notes } = await this.planRecoveryOf(job);
    const changes = imports.length + plan.dropEventIds.length + plan.dropCheckpointIds.length;
    const resumeFrom = plan.resumeFrom?.path ?? null;
    if (changes > 0 || resumeFrom !== job.last_checkpoint_path) {
      await this.store.applyRecovery(job.id, {
        imports,
        notes,
        deleteEventIds: plan.finished ? [] : plan.dropEventIds,
        deleteCheckpointIds: plan.finished ? [] : plan.dropCheckpointIds,
        patch: resumeFrom ? { last_checkpoint_path: resumeFrom } : {},
      });
    }
    if (job.run_dir) retireJournal(job.run_dir);
  }

  /** An orphaned `running` job whose worker has exited: completed, queued to resume, or failed, in one transaction. */
  private async recoverJob(job: JobRow): Promise<"resumed" | "completed" | "failed"> {
    const { plan, imports, notes, patch } = await this.planRecoveryOf(job);
    const runDir = job.run_dir;
    const retire = () => {
      if (runDir) retireJournal(runDir);
    };
    const outputs = plan.finished ? [plan.finished.adapter_path, plan.finished.merged_path].filter((path): path is string => path !== null) : [];
    if (plan.finished && outputs.length > 0 && outputs.every((path) => existsSync(path))) {
      // the worker finished and wrote its outputs; only the server's bookkeeping was lost
      const resumeFrom = plan.resumeFrom ? { last_checkpoint_path: plan.resumeFrom.path } : {};
      const result = { trainedTokens: plan.finished.summary.trained_tokens, adapterPath: plan.finished.adapter_path, mergedPath: plan.finished.merged_path };
      await this.outcomes.succeed(job, result, async (outcome) => {
        await this.store.applyRecovery(job.id, {
          imports,
          notes,
          deleteEventIds: [],
          deleteCheckpointIds: [],
          to: outcome.to,
          event: outcome.event,
          then: outcome.then,
          patch: { ...patch, ...outcome.patch, ...resumeFrom },
        });
        retire();
      });
      return "completed";
    }
    if (plan.resumeFrom) {
      await this.store.applyRecovery(job.id, {
        imports,
        notes,
        deleteEventIds: plan.dropEventIds,
        deleteCheckpointIds: plan.dropCheckpointIds,
        to: "queued",
        event: {
          level: "warn",
          message: `The server stopped while this job ran; queued to resume from its checkpoint at step ${plan.resumeFrom.step}`,
          data: { step: plan.resumeFrom.step },
        },
        patch: { ...patch, last_checkpoint_path: plan.resumeFrom.path },
      });
      retire();
      return "resumed";
    }
    const error = { code: "server_restarted", message: "the server stopped while this job ran and no checkpoint had been written", param: null };
    await this.outcomes.fail(job.id, error, (outcome) =>
      this.store.applyRecovery(job.id, {
        imports,
        notes,
        deleteEventIds: [],
        deleteCheckpointIds: [],
        to: outcome.to,
        event: outcome.event,
        then: outcome.then,
        patch: { ...patch, ...outcome.patch },
      }),
    );
    retire();
    return "failed";
  }
}

function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
