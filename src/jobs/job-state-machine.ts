import { TunekitError } from "../core/errors.js";

/**
 * The one state machine of a fine-tuning job. Every status change goes through `assertTransition`;
 * the whitelist below is the only place that says which edges exist.
 */
export const JOB_STATUSES = ["validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"] as const;

export type JobStatus = (typeof JOB_STATUSES)[number];

export const TERMINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "cancelled"];

const ALLOWED: Record<JobStatus, readonly JobStatus[]> = {
  validating_files: ["queued", "failed", "cancelled"],
  // queued -> failed: the scheduler could not start the worker
  queued: ["running", "failed", "cancelled"],
  // running -> queued: a dead server's job is re-queued to resume from its last checkpoint
  running: ["succeeded", "failed", "cancelled", "paused", "queued"],
  // paused -> queued: resume waits for a free training slot, then continues from the checkpoint
  paused: ["queued", "cancelled", "failed"],
  succeeded: [],
  failed: [],
  cancelled: [],
};

/** The verb users say for a target status, for error messages. */
const ACTION: Partial<Record<JobStatus, string>> = {
  cancelled: "cancel",
  paused: "pause",
  queued: "resume",
};

export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return ALLOWED[from].includes(to);
}

/** Throws a `conflict` TunekitError (HTTP 409) when the edge is not whitelisted. */
export function assertTransition(jobId: string, from: JobStatus, to: JobStatus): void {
  if (canTransition(from, to)) return;
  const verb = ACTION[to];
  const what = verb ? `cannot ${verb} job \`${jobId}\`: it is \`${from}\`` : `job \`${jobId}\` cannot go from \`${from}\` to \`${to}\``;
  const allowed = ALLOWED[from];
  throw new TunekitError(what, {
    kind: "conflict",
    code: "invalid_state_transition",
    field: "status",
    fix:
      allowed.length === 0 ? "the job has finished; create a new job instead" : `from \`${from}\` the job can only become ${allowed.map((status) => `\`${status}\``).join(", ")}`,
  });
}
