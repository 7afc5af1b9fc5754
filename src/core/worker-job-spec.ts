import { z } from "zod";
import { type DataConfig, dataSchema, type TrainingConfig, trainingSchema } from "./config-schema.js";

/**
 * The job spec the supervisor hands to the Python worker (as a JSON file whose path is the
 * worker's only argument). Version 1. Paths are absolute. `training.epochs` is resolved by the
 * toolkit's dataset-size rule before launch; `batch_size`, `micro_batch_size`,
 * `learning_rate` and `learning_rate_multiplier` may still be `auto`: the worker resolves them
 * from the model's size and reports the resolved spec in its `config` event.
 *
 * It lives next to the run-config schema it is built from (core depends on nothing); the
 * interfaces of src/spec refer to the spec's file (`<run_dir>/job.json`), not to this type.
 */
export interface WorkerJobSpec {
  v: 1;
  run_dir: string;
  model: string;
  data: Omit<DataConfig, "test"> & { validation: string | null };
  training: Omit<TrainingConfig, "epochs"> & { epochs: number };
  /** checkpoint folder to resume from, or null for a fresh run */
  resume_from: string | null;
}

export interface WorkerJobSpecInput {
  runDir: string;
  /** what the worker loads: an absolute path (HF folder or .gguf) or a hub id */
  model: string;
  /** the training file (absolute path) */
  train: string;
  /** the validation file (absolute path), or null */
  validation: string | null;
  /** the run's data settings; its own file fields (train, validation, test) are not read */
  data: Pick<DataConfig, "format" | "chat_template" | "max_seq_len">;
  /** the run's training settings; `epochs` is replaced by the resolved count below */
  training: TrainingConfig;
  /** epochs for this dataset, resolved before launch (data/estimate/resolve-epochs.ts) */
  epochs: number;
  /** checkpoint folder to resume from, or null for a fresh run */
  resumeFrom: string | null;
}

/**
 * The one builder of the worker's job spec: `tunekit train` (a run config) and the server (an API
 * job, src/jobs/worker-job-spec.ts) both build the spec they launch with it, and the server's
 * estimate builds the spec it plans with it.
 */
export function buildWorkerJobSpec(input: WorkerJobSpecInput): WorkerJobSpec {
  return {
    v: 1,
    run_dir: input.runDir,
    model: input.model,
    data: { train: input.train, validation: input.validation, format: input.data.format, chat_template: input.data.chat_template, max_seq_len: input.data.max_seq_len },
    training: { ...input.training, epochs: input.epochs },
    resume_from: input.resumeFrom,
  };
}

/**
 * The same spec in zod, built from the run-config schema so that defaults and bounds are written
 * once. Its JSON Schema (`workerJobSpecJsonSchema`) is committed at WORKER_JOB_SPEC_SCHEMA_PATH,
 * where the worker's tests read it (worker/tests/test_job_spec_contract.py).
 */
export const workerJobSpecSchema = z.strictObject({
  v: z.literal(1).describe("Job spec version."),
  run_dir: z.string().min(1).describe("Absolute folder that receives the run's events, checkpoints and outputs."),
  model: z.string().min(1).describe("Base model: a local HF folder, a `.gguf` file or a hub id."),
  data: dataSchema.omit({ test: true }).extend({ train: z.string().min(1).describe("Training file (absolute path).") }),
  training: trainingSchema.extend({ epochs: z.number().int().min(1).max(100).describe("Epochs, resolved by the supervisor before launch.") }),
  resume_from: z.string().nullable().default(null).describe("Checkpoint folder to resume from, or null for a fresh run."),
});

/** Where the generated JSON Schema lives, relative to the repository (and package) root. */
export const WORKER_JOB_SPEC_SCHEMA_PATH = "worker/tunekit_worker/schemas/job-spec.v1.schema.json";

/** JSON Schema (draft 2020-12) of the worker job spec, as the worker reads it. */
export function workerJobSpecJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://tunekit.dev/schema/worker-job-spec.v1.schema.json",
    ...z.toJSONSchema(workerJobSpecSchema, { io: "input", target: "draft-2020-12" }),
  };
}
