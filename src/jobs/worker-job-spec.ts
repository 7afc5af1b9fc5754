import { defaultConfig, type TrainingConfig } from "../core/config-schema.js";
import { resolveEpochs } from "../data/estimate/resolve-epochs.js";
import type { WorkerJobSpec } from "../spec/job-spec.js";
import type { DpoHyperparameters } from "../spec/openai-wire.js";
import type { JobOptions } from "./create-job-params.js";

/**
 * `learning_rate_multiplier` scales these base rates (the worker's rate for models under 1B
 * parameters); `auto` lets the worker pick from the model's size.
 */
export const BASE_LEARNING_RATE = { adapter: 2e-4, full: 2e-5 } as const;

export interface WorkerJobSpecInput {
  runDir: string;
  modelSource: string;
  trainingPath: string;
  validationPath: string | null;
  /** valid examples of the training file (decides `auto` epochs) */
  trainingExamples: number;
  methodType: "supervised" | "dpo";
  /** the job's hyperparameters (DPO jobs add `beta`) */
  hyperparameters: DpoHyperparameters;
  seed: number;
  resumeFrom: string | null;
  /** server-wide training settings (device, max_seq_len, checkpoint_every ...) */
  trainingDefaults?: Partial<TrainingConfig>;
  maxSeqLen?: number;
  /** the job's own run-config settings (the request's `tunekit` extension); they win over the server's */
  jobOptions?: JobOptions;
}

/** The worker's job spec for one API job. */
export function buildWorkerJobSpec(input: WorkerJobSpecInput): WorkerJobSpec {
  const defaults = defaultConfig();
  const own = input.jobOptions?.training ?? {};
  const training: TrainingConfig = {
    ...defaults.training,
    ...input.trainingDefaults,
    ...own,
    lora: { ...defaults.training.lora, ...input.trainingDefaults?.lora, ...own.lora },
  };
  const method: TrainingConfig["method"] = input.methodType === "dpo" ? "dpo" : training.method === "dpo" ? "lora" : training.method;
  const multiplier = input.hyperparameters.learning_rate_multiplier ?? "auto";
  const base = method === "full" ? BASE_LEARNING_RATE.full : BASE_LEARNING_RATE.adapter;
  return {
    v: 1,
    run_dir: input.runDir,
    model: input.modelSource,
    data: {
      train: input.trainingPath,
      validation: input.validationPath,
      format: "auto",
      chat_template: input.jobOptions?.data.chat_template ?? null,
      max_seq_len: input.jobOptions?.data.max_seq_len ?? input.maxSeqLen ?? defaults.data.max_seq_len,
    },
    training: {
      ...training,
      method,
      epochs: resolveEpochs(Math.max(1, input.trainingExamples), input.hyperparameters.n_epochs ?? "auto"),
      batch_size: input.hyperparameters.batch_size ?? "auto",
      learning_rate: multiplier === "auto" ? training.learning_rate : base * multiplier,
      // OpenAI's DPO `beta`; `auto` keeps the server's setting
      dpo_beta: typeof input.hyperparameters.beta === "number" ? input.hyperparameters.beta : training.dpo_beta,
      seed: input.seed,
    },
    resume_from: input.resumeFrom,
  };
}
