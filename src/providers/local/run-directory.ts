import { existsSync, readFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { TunekitError } from "../../core/errors.js";
import type { WorkerJobSpec } from "../../core/worker-job-spec.js";
import { latestCompleteCheckpoint, RUN_FILES } from "../../spec/run-folder.js";

const JOB_FILE = RUN_FILES.job;

/** Where a `tunekit train` run goes (the layout of a run folder is spec/run-folder.ts). */

/** `SmolLM2-135M-Instruct` from a hub id, a folder or a `.gguf` file. */
export function modelStem(model: string): string {
  const last = basename(model.replace(/[\\/]+$/, "")) || "model";
  const stem = last
    .replace(/\.gguf$/i, "")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[-.]+|-+$/g, "");
  return stem || "model";
}

/** Local time as YYYYmmdd-HHMMSS. */
export function runTimestamp(now: Date): string {
  const pad = (value: number) => String(value).padStart(2, "0");
  return `${now.getFullYear()}${pad(now.getMonth() + 1)}${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`;
}

/**
 * <output.dir>/<output.name>, or <output.dir>/<model stem>-<timestamp> (with -2, -3... when two
 * runs start in the same second). A named run folder that already holds a job is refused.
 */
export function newRunDirectory(outputDir: string, name: string | null, model: string, now: Date = new Date()): string {
  if (name !== null) {
    const runDir = resolve(outputDir, name);
    if (existsSync(join(runDir, JOB_FILE))) {
      throw new TunekitError(`run folder ${runDir} already holds a run`, {
        kind: "conflict",
        code: "run_exists",
        field: "output.name",
        fix: `continue it with \`tunekit train --resume ${runDir}\`, or pick another \`output.name\` (or null for a timestamped folder)`,
      });
    }
    return runDir;
  }
  const base = `${modelStem(model)}-${runTimestamp(now)}`;
  let candidate = resolve(outputDir, base);
  for (let suffix = 2; existsSync(candidate); suffix++) candidate = resolve(outputDir, `${base}-${suffix}`);
  return candidate;
}

/** The newest complete checkpoint folder (highest step) in <run_dir>/checkpoints, or null (the rule: spec/run-folder.ts). */
export function latestCheckpoint(runDir: string): string | null {
  return latestCompleteCheckpoint(runDir)?.path ?? null;
}

/** Read <run_dir>/job.json back for `--resume`. */
export function readJobSpec(runDir: string): WorkerJobSpec {
  const path = join(runDir, JOB_FILE);
  if (!existsSync(path)) {
    throw new TunekitError(`${runDir} is not a run folder (no ${JOB_FILE})`, {
      kind: "usage",
      code: "not_a_run",
      field: "--resume",
      fix: "pass the folder `tunekit train` printed when the run started (under `output.dir`, default runs/)",
    });
  }
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new TunekitError(`${path} is not valid JSON: ${(error as Error).message}`, {
      kind: "usage",
      code: "bad_job_file",
      field: "--resume",
      fix: "the run folder is damaged; start a new run with `tunekit train -c <config>`",
    });
  }
  const record = spec as Partial<WorkerJobSpec> | null;
  if (
    !record ||
    typeof record !== "object" ||
    record.v !== 1 ||
    typeof record.model !== "string" ||
    typeof record.data?.train !== "string" ||
    typeof record.training !== "object"
  ) {
    throw new TunekitError(`${path} is not a version 1 job spec`, {
      kind: "usage",
      code: "bad_job_file",
      field: "--resume",
      fix: "resume with the Tunekit version that started the run, or start a new run",
    });
  }
  return record as WorkerJobSpec;
}
