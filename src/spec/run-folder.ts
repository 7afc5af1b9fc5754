import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The run folder a job's worker writes, version 1: its names and the one rule for a complete
 * checkpoint. The Python side is worker/tunekit_worker/run_folder.py; test/run-folder-contract.test.ts
 * checks that both sides agree.
 *
 * ```
 * <run_dir>/
 *   job.json                       the resolved job spec the worker runs
 *   events.jsonl                   the supervisor's copy of the worker's stdout events
 *   worker.log                     the worker's stderr
 *   event-journal.jsonl            the worker's own copy of its events (event-journal.previous.jsonl once retired)
 *   owner.json                     which server process launched it
 *   checkpoints/step-NNNNNN/       trainer_state.json, optimizer.pt, scheduler.pt, rng.pt, *.safetensors
 *   adapter/ (LoRA) merged/ (merged or full weights) export/ (GGUF and other exports)
 *   summary.json                   written once training finished
 * ```
 */
export const RUN_FILES = {
  job: "job.json",
  events: "events.jsonl",
  workerLog: "worker.log",
  journal: "event-journal.jsonl",
  retiredJournal: "event-journal.previous.jsonl",
  owner: "owner.json",
  summary: "summary.json",
  /** written by a cluster backend (providers/cluster): the ranks stop after a checkpoint once it exists */
  stopRequest: "stop-request.json",
} as const;

export const RUN_FOLDERS = {
  checkpoints: "checkpoints",
  adapter: "adapter",
  merged: "merged",
  export: "export",
} as const;

/**
 * Write a job spec (core/worker-job-spec.ts, built by its one builder) as `<run_dir>/job.json`, the
 * file a launch names; returns its path. The run folder is created when it does not exist.
 */
export function writeJobFile(runDir: string, spec: unknown): string {
  mkdirSync(runDir, { recursive: true });
  const path = join(runDir, RUN_FILES.job);
  writeFileSync(path, `${JSON.stringify(spec, null, 2)}\n`);
  return path;
}

/** What a PEFT adapter folder (adapter/ or a LoRA checkpoint) holds besides its weights. */
export const ADAPTER_CONFIG_FILE = "adapter_config.json";

/**
 * The files of a checkpoint besides its safetensors weights. The worker writes them into
 * `step-NNNNNN.tmp`, trainer_state.json last, and renames the folder into place.
 */
export const CHECKPOINT_FILES = {
  trainerState: "trainer_state.json",
  optimizer: "optimizer.pt",
  scheduler: "scheduler.pt",
  rng: "rng.pt",
} as const;

/**
 * Written into a checkpoint folder last, once it is in place and its files are fsynced:
 * `{"step": N, "files": {name: bytes}}`. On shared storage a reader on another node may see the
 * folder before its files; the marker says which files, at which sizes, make the checkpoint.
 */
export const COMPLETE_MARKER = "checkpoint-complete.json";

/** The marker of a checkpoint folder's files as they are now (what the worker writes; tests use it too). */
export function completionMarker(path: string, step: number): { step: number; files: Record<string, number> } {
  const files: Record<string, number> = {};
  for (const name of readdirSync(path).sort()) {
    if (name === COMPLETE_MARKER) continue;
    const stats = statSync(join(path, name));
    if (stats.isFile()) files[name] = stats.size;
  }
  return { step, files };
}

function markerMatches(path: string, step: number): boolean {
  const marker = JSON.parse(readFileSync(join(path, COMPLETE_MARKER), "utf8")) as { step?: unknown; files?: unknown } | null;
  if (!marker || typeof marker !== "object" || marker.step !== step || !marker.files || typeof marker.files !== "object") return false;
  return Object.entries(marker.files as Record<string, unknown>).every(([name, size]) => !name.includes("/") && statSync(join(path, name)).size === size);
}

/** `step-000050`. */
export function checkpointFolderName(step: number): string {
  return `step-${String(step).padStart(6, "0")}`;
}

/** `<run_dir>/checkpoints/step-000050`. */
export function checkpointPath(runDir: string, step: number): string {
  return join(runDir, RUN_FOLDERS.checkpoints, checkpointFolderName(step));
}

/** The step of a checkpoint folder name (`step-000050` -> 50); null for anything else (`step-000050.tmp`). */
export function checkpointStep(name: string): number | null {
  const match = /^step-(\d+)$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** What a checkpoint's trainer_state.json holds that the TypeScript side reads. */
export interface CheckpointTrainerState {
  step: number;
  metrics_history?: Array<Record<string, number>>;
  last_eval?: Record<string, number>;
  [key: string]: unknown;
}

export interface CompleteCheckpoint {
  step: number;
  path: string;
  state: CheckpointTrainerState;
}

function nonEmptyFile(path: string): boolean {
  try {
    const stats = statSync(path);
    return stats.isFile() && stats.size > 0;
  } catch {
    return false;
  }
}

/**
 * The one rule for a complete checkpoint: a folder `checkpoints/step-NNNNNN` (not a `.tmp` staging
 * folder) with its completion marker (COMPLETE_MARKER, written last, naming step NNNNNN and every
 * file at its size), whose trainer_state.json reads back as JSON naming step NNNNNN, and whose
 * optimizer, scheduler and RNG states and at least one safetensors file are present and not empty.
 * Null when `path` is not a complete checkpoint.
 */
export function readCompleteCheckpoint(path: string, step: number): CompleteCheckpoint | null {
  try {
    if (!statSync(path).isDirectory() || !markerMatches(path, step)) return null;
    const files = readdirSync(path);
    if (!Object.values(CHECKPOINT_FILES).every((file) => nonEmptyFile(join(path, file)))) return null;
    if (!files.some((file) => file.endsWith(".safetensors") && nonEmptyFile(join(path, file)))) return null;
    const state = JSON.parse(readFileSync(join(path, CHECKPOINT_FILES.trainerState), "utf8")) as CheckpointTrainerState | null;
    if (!state || typeof state !== "object" || state.step !== step) return null;
    return { step, path, state };
  } catch {
    return null; // unreadable: not a checkpoint to resume from
  }
}

/** The complete checkpoints of a run folder, oldest first. */
export function completeCheckpointFolders(runDir: string): CompleteCheckpoint[] {
  const folder = join(runDir, RUN_FOLDERS.checkpoints);
  if (!existsSync(folder)) return [];
  const found: CompleteCheckpoint[] = [];
  for (const name of readdirSync(folder)) {
    const step = checkpointStep(name);
    if (step === null) continue;
    const checkpoint = readCompleteCheckpoint(join(folder, name), step);
    if (checkpoint) found.push(checkpoint);
  }
  return found.sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint of a run folder (highest step), or null. */
export function latestCompleteCheckpoint(runDir: string): CompleteCheckpoint | null {
  return completeCheckpointFolders(runDir).at(-1) ?? null;
}
