import { api } from "./api.js";
import type { FineTuningJob } from "./wire.js";

export type JobAction = "cancel" | "pause" | "resume";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

export function isTerminal(status: string): boolean {
  return TERMINAL.has(status);
}

/** The actions a job in this status accepts (the server's state machine decides; this only hides the impossible ones). */
export function actionsFor(status: string): JobAction[] {
  if (status === "running") return ["pause", "cancel"];
  if (status === "paused") return ["resume", "cancel"];
  if (status === "queued" || status === "validating_files") return ["cancel"];
  return [];
}

export function runJobAction(jobId: string, action: JobAction): Promise<FineTuningJob> {
  return api<FineTuningJob>(`/v1/fine_tuning/jobs/${encodeURIComponent(jobId)}/${action}`, { method: "POST" });
}

export const ACTION_LABELS: Record<JobAction, string> = { cancel: "Cancel", pause: "Pause", resume: "Resume" };
