import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { CheckpointMetrics } from "../spec/openai-wire.js";
import { completeCheckpointFolders, RUN_FILES } from "../spec/run-folder.js";
import { parseWorkerEvent, type DoneEvent, type WorkerEvent } from "../spec/worker-events.js";
import type { NewJobEvent } from "./job-store.js";
import { checkpointMetrics } from "./worker-event-mapper.js";

/**
 * The worker's event journal: `<run_dir>/event-journal.jsonl`, where the worker appends every event
 * it emits (worker/tunekit_worker/events.py EventJournal) besides writing it on stdout. When the
 * server dies, the worker gets SIGTERM (PR_SET_PDEATHSIG), finishes its step, writes a checkpoint
 * and exits; stdout has nobody to read it then, the journal keeps it. On the next start, recovery
 * compares the journal with the job store and plans what to import and where to resume.
 *
 * A journal holds one worker session: the scheduler retires it (renames it to
 * `event-journal.previous.jsonl`) before it launches the job again, and recovery retires it once it
 * is imported. So the journal's events are exactly those of the launch after the store's last
 * launch event.
 */
export const JOURNAL_FILE = RUN_FILES.journal;
export const RETIRED_JOURNAL_FILE = RUN_FILES.retiredJournal;

/** The messages of the scheduler's launch events: the store's events of a session start after one of them. */
export const LAUNCH_MESSAGES = { started: "Fine-tuning job started", resumed: "Fine-tuning job resumed" } as const;

export interface JournalContents {
  events: WorkerEvent[];
  /** lines that are not valid v1 events (a line cut by a kill at the end) */
  unreadableLines: number;
}

export function readJournal(runDir: string): JournalContents {
  const path = join(runDir, JOURNAL_FILE);
  if (!existsSync(path)) return { events: [], unreadableLines: 0 };
  const events: WorkerEvent[] = [];
  let unreadableLines = 0;
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      events.push(parseWorkerEvent(line));
    } catch {
      unreadableLines += 1;
    }
  }
  return { events, unreadableLines };
}

/** Move the journal aside (its events are in the store now); the next worker starts a fresh one. */
export function retireJournal(runDir: string): void {
  const path = join(runDir, JOURNAL_FILE);
  if (existsSync(path)) renameSync(path, join(runDir, RETIRED_JOURNAL_FILE));
}

export interface DiskCheckpoint {
  step: number;
  path: string;
  /** train_* metrics of its last step and the last valid_* evaluation, from its trainer_state.json */
  metrics: CheckpointMetrics;
}

/**
 * Checkpoints of the run that are complete on disk, oldest first (the one rule of
 * spec/run-folder.ts), with the metrics of their trainer_state.json.
 */
export function completeCheckpoints(runDir: string): DiskCheckpoint[] {
  return completeCheckpointFolders(runDir).map(({ step, path, state }) => ({
    step,
    path,
    metrics: checkpointMetrics(step, { ...(state.metrics_history?.at(-1) ?? {}), ...(state.last_eval ?? {}) }),
  }));
}

/** A job event as the store holds it. */
export interface StoredEvent {
  id: string;
  type: string;
  level: string;
  message: string;
  data: Record<string, unknown> | null;
}

export interface StoredCheckpoint {
  id: string;
  step: number;
}

export interface RecoveryInput {
  /** the journal of the last worker session */
  journal: WorkerEvent[];
  /** every event of the job in the store, oldest first */
  storedEvents: StoredEvent[];
  storedCheckpoints: StoredCheckpoint[];
  /** complete checkpoints on disk, oldest first */
  diskCheckpoints: DiskCheckpoint[];
  /** how the scheduler turns a worker event into a job event (mapWorkerEvent) */
  toJobEvent(event: WorkerEvent): NewJobEvent | null;
}

export interface RecoveryPlan {
  /** the newest complete checkpoint: the job resumes from it; null: nothing to resume from */
  resumeFrom: DiskCheckpoint | null;
  /** the worker's `done` event: it finished (outputs written) before the server could record it */
  finished: DoneEvent | null;
  /** journal events the store lacks, in order, that stay true after resuming (none past the resume step) */
  imports: WorkerEvent[];
  /** checkpoint rows to add: imported checkpoint events, and the resume checkpoint when the store has no row for it */
  checkpoints: DiskCheckpoint[];
  /** metrics events of steps after the resume step: those steps are trained again */
  dropEventIds: string[];
  /** checkpoint rows after the resume step (not complete on disk, so nothing can resume from them) */
  dropCheckpointIds: string[];
  /** steps that ran after the resume checkpoint (in the store or only in the journal), trained again */
  retrainedSteps: number[];
}

function key(event: { type?: string; level?: string; message: string }): string {
  return `${event.type ?? "message"}\u0000${event.level ?? "info"}\u0000${event.message}`;
}

function stepOf(event: StoredEvent): number | null {
  const step = event.data?.step;
  return typeof step === "number" ? step : null;
}

/**
 * What recovery does with a job whose server died: resume from the newest checkpoint complete on
 * disk (K), import the journal's events the store lacks up to K, and drop what K undoes. When the
 * journal ends the session with `done`, the job is finished: import everything, drop nothing.
 *
 * Which journal events the store has: the scheduler records a session's events in order, one at a
 * time, after the store's last launch event; so the journal's events are matched in order against
 * the store's events since that launch (by type, level and message: messages carry steps and
 * losses), and everything after the last match is missing.
 */
export function planRecovery(input: RecoveryInput): RecoveryPlan {
  const resumeFrom = input.diskCheckpoints.at(-1) ?? null;
  let finished: DoneEvent | null = null;
  for (const event of input.journal) if (event.type === "done") finished = event;
  // a finished session undoes nothing: every step is in its outputs
  const resumeStep = finished ? null : (resumeFrom?.step ?? null);
  const after = (step: number) => resumeStep !== null && step > resumeStep;

  let launch = -1;
  input.storedEvents.forEach((event, index) => {
    if (event.message === LAUNCH_MESSAGES.started || event.message === LAUNCH_MESSAGES.resumed) launch = index;
  });
  const journalKeys = input.journal.map((event) => {
    const mapped = input.toJobEvent(event);
    return mapped ? key(mapped) : null;
  });
  let next = 0; // the first journal event not yet seen in the store
  for (const stored of input.storedEvents.slice(launch + 1)) {
    const wanted = key(stored);
    for (let index = next; index < journalKeys.length; index += 1) {
      if (journalKeys[index] === wanted) {
        next = index + 1;
        break;
      }
    }
  }

  const storedCheckpointSteps = new Set(input.storedCheckpoints.map((checkpoint) => checkpoint.step));
  const imports: WorkerEvent[] = [];
  const checkpoints: DiskCheckpoint[] = [];
  for (const event of input.journal.slice(next)) {
    if (event.type === "done" && !finished) continue;
    if ((event.type === "metrics" || event.type === "eval" || event.type === "checkpoint") && after(event.step)) continue;
    imports.push(event);
    if (event.type === "checkpoint" && !storedCheckpointSteps.has(event.step)) {
      checkpoints.push({ step: event.step, path: event.path, metrics: checkpointMetrics(event.step, event.metrics) });
      storedCheckpointSteps.add(event.step);
    }
  }
  if (resumeFrom && !storedCheckpointSteps.has(resumeFrom.step)) checkpoints.push(resumeFrom);

  const dropEventIds: string[] = [];
  const retrained = new Set<number>();
  if (resumeStep !== null) {
    for (const event of input.storedEvents) {
      const step = stepOf(event);
      if (event.type !== "metrics" || step === null || !after(step)) continue;
      dropEventIds.push(event.id);
      if (event.data?.train_loss !== undefined) retrained.add(step);
    }
    for (const event of input.journal) if (event.type === "metrics" && after(event.step)) retrained.add(event.step);
  }
  return {
    resumeFrom,
    finished,
    imports,
    checkpoints,
    dropEventIds,
    dropCheckpointIds: input.storedCheckpoints.filter((checkpoint) => after(checkpoint.step)).map((checkpoint) => checkpoint.id),
    retrainedSteps: [...retrained].sort((a, b) => a - b),
  };
}

/** "Steps 7..9 ran after the checkpoint at step 6 and are trained again" (or "Step 7 ran ..."). */
export function retrainedMessage(steps: number[], resumeStep: number): string | null {
  if (steps.length === 0) return null;
  const first = steps[0]!;
  const last = steps.at(-1)!;
  const contiguous = last - first + 1 === steps.length;
  const which = steps.length === 1 ? `Step ${first}` : contiguous ? `Steps ${first}..${last}` : `Steps ${steps.join(", ")}`;
  return `${which} ran after the checkpoint at step ${resumeStep} and ${steps.length === 1 ? "is" : "are"} trained again`;
}
