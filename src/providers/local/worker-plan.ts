import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkerJobSpec } from "../../spec/job-spec.js";
import { RUN_FILES } from "../../spec/run-folder.js";
import type { TrainingPlanner, WorkerPlan } from "../../spec/worker-plan.js";
import { runWorkerJson, type WorkerCommandOptions } from "./worker-command.js";

/** The local worker's `plan` command as a TrainingPlanner (the estimate of a job before it runs). */
export function localTrainingPlanner(options: Omit<WorkerCommandOptions, "label" | "signal"> = {}): TrainingPlanner {
  return async (spec: WorkerJobSpec, signal?: AbortSignal): Promise<WorkerPlan> => {
    const folder = await mkdtemp(join(tmpdir(), "tunekit-plan-"));
    try {
      const path = join(folder, RUN_FILES.job);
      await writeFile(path, JSON.stringify(spec));
      return await runWorkerJson<WorkerPlan>(["plan", path], { ...options, label: "plan", signal });
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  };
}
