import { join } from "node:path";
import type { TrainingConfig } from "../core/config-schema.js";
import { TunekitError } from "../core/errors.js";
import type { DpoHyperparameters, SupervisedHyperparameters } from "../spec/openai-wire.js";
import { writeJobFile } from "../spec/run-folder.js";
import { jobOptionsOf } from "./create-job-params.js";
import type { FileStore } from "./file-store.js";
import type { JobRow, JobStore } from "./job-store.js";
import type { ModelCatalog } from "./model-catalog.js";
import type { PreparedLaunch, RunPreparation } from "./scheduler.js";
import { BASE_LEARNING_RATE, jobWorkerSpec } from "./worker-job-spec.js";

export interface RunPreparerOptions {
  dataDir: string;
  /** server-wide training settings passed to every worker (device, max_steps, checkpoint_every ...) */
  trainingDefaults?: Partial<TrainingConfig>;
  maxSeqLen?: number;
  /**
   * The training processes of a launch on `backend` (a job's own, or undefined for the server's
   * default): Ray's `num_workers`, Slurm's nodes; null keeps the spec's `training.num_processes`.
   */
  processesOf?: (backend: string | undefined) => number | null;
}

/**
 * Turns a queued job into the launch the scheduler starts: model, files, resume checkpoint, and its
 * spec, built with the one spec builder and written to `<run_dir>/job.json`.
 */
export class RunPreparer implements RunPreparation {
  constructor(
    private readonly store: JobStore,
    private readonly files: FileStore,
    private readonly catalog: ModelCatalog,
    private readonly options: RunPreparerOptions,
  ) {}

  async prepare(job: JobRow): Promise<PreparedLaunch> {
    const base = this.catalog.resolve(job.model);
    if (!base) throw new TunekitError(`model \`${job.model}\` is no longer available on this server`, { kind: "usage", code: "model_not_available", field: "model" });
    const training = await this.files.get(job.project_id, job.training_file, "training_file");
    const method = JSON.parse(job.method) as {
      type: "supervised" | "dpo";
      supervised?: { hyperparameters?: SupervisedHyperparameters };
      dpo?: { hyperparameters?: DpoHyperparameters };
    };
    const hyperparameters = JSON.parse(job.hyperparameters) as SupervisedHyperparameters;
    const runDir = job.run_dir ?? join(this.options.dataDir, "runs", job.id);
    const checkpoint = job.last_checkpoint_path ?? (await this.store.latestCheckpoint(job.id))?.path ?? null;
    const spec = jobWorkerSpec({
      runDir,
      modelSource: base.source,
      trainingPath: this.files.pathOf(job.training_file),
      validationPath: job.validation_file ? this.files.pathOf(job.validation_file) : null,
      trainingExamples: training.validation?.validExamples ?? 0,
      methodType: method.type,
      hyperparameters: method.type === "dpo" ? { ...hyperparameters, ...method.dpo?.hyperparameters } : hyperparameters,
      seed: job.seed,
      resumeFrom: checkpoint,
      trainingDefaults: this.options.trainingDefaults,
      maxSeqLen: this.options.maxSeqLen,
      jobOptions: jobOptionsOf(job),
    });
    const specFile = writeJobFile(runDir, spec);
    const backend = jobOptionsOf(job).execution?.backend;
    return { jobId: job.id, runDir, specFile, numProcesses: this.options.processesOf?.(backend) ?? spec.training.num_processes, spec, ...(backend ? { backend } : {}) };
  }

  /** The learning rate `learning_rate_multiplier` 1.0 means, for worker events that carry no parameter count. */
  baseLearningRate(): number {
    return baseLearningRateOf(this.options.trainingDefaults);
  }
}

export function baseLearningRateOf(trainingDefaults: Partial<TrainingConfig> | undefined): number {
  return trainingDefaults?.method === "full" ? BASE_LEARNING_RATE.full : BASE_LEARNING_RATE.adapter;
}
