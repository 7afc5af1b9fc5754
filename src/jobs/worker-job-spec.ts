import { readFileSync } from "node:fs";
import { defaultConfig, type TrainingConfig } from "../core/config-schema.js";
import { resolveEpochs } from "../data/estimate/resolve-epochs.js";
import { buildWorkerJobSpec, type WorkerJobSpec } from "../core/worker-job-spec.js";
import type { DpoHyperparameters } from "../spec/openai-wire.js";
import type { JobOptions } from "./create-job-params.js";

/**
 * The worker's `auto` table (worker/tunekit_worker/auto_hyperparameters.json, shipped with the
 * package): one file, read by both sides. `learning_rate_multiplier` 1 means the rate the worker
 * picks for the job's method and model size; the worker applies the multiplier, since only it
 * knows the parameter count, and reports the resolved one in its `config` event.
 */
interface AutoHyperparameterTable {
  size_classes: Array<{ below_parameters: number | null; adapter_learning_rate: number; full_learning_rate: number; batch_size_cap: number }>;
  dpo_learning_rate_divisor: number;
}

export const AUTO_HYPERPARAMETERS = JSON.parse(readFileSync(new URL("../../worker/tunekit_worker/auto_hyperparameters.json", import.meta.url), "utf8")) as AutoHyperparameterTable;

/** The learning rate `learning_rate_multiplier` 1 means: the worker's `auto` rate for this method and model size. */
export function baseLearningRate(method: string, parameterCount: number): number {
  const row = AUTO_HYPERPARAMETERS.size_classes.find((entry) => entry.below_parameters === null || parameterCount < entry.below_parameters);
  if (!row) throw new Error("auto_hyperparameters.json: the last size class must have no upper bound");
  if (method === "full") return row.full_learning_rate;
  return method === "dpo" ? row.adapter_learning_rate / AUTO_HYPERPARAMETERS.dpo_learning_rate_divisor : row.adapter_learning_rate;
}

/** The base rates of models under 1B parameters (for worker events that carry no parameter count). */
export const BASE_LEARNING_RATE = { adapter: baseLearningRate("lora", 0), full: baseLearningRate("full", 0) } as const;

export interface JobWorkerSpecInput {
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

/**
 * The worker's job spec for one API job: the job's OpenAI hyperparameters and `tunekit` options
 * over the server's settings, as run settings for the one spec builder (core/worker-job-spec.ts)
 * that `tunekit train` uses too.
 */
export function jobWorkerSpec(input: JobWorkerSpecInput): WorkerJobSpec {
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
  return buildWorkerJobSpec({
    runDir: input.runDir,
    model: input.modelSource,
    train: input.trainingPath,
    validation: input.validationPath,
    data: {
      format: "auto",
      chat_template: input.jobOptions?.data.chat_template ?? null,
      max_seq_len: input.jobOptions?.data.max_seq_len ?? input.maxSeqLen ?? defaults.data.max_seq_len,
    },
    training: {
      ...training,
      method,
      batch_size: input.hyperparameters.batch_size ?? "auto",
      // a multiplier scales the worker's `auto` rate for the model's size and the method (it wins over `learning_rate`)
      learning_rate: multiplier === "auto" ? training.learning_rate : "auto",
      learning_rate_multiplier: multiplier,
      // OpenAI's DPO `beta`; `auto` keeps the server's setting
      dpo_beta: typeof input.hyperparameters.beta === "number" ? input.hyperparameters.beta : training.dpo_beta,
      seed: input.seed,
    },
    epochs: resolveEpochs(Math.max(1, input.trainingExamples), input.hyperparameters.n_epochs ?? "auto"),
    resumeFrom: input.resumeFrom,
  });
}
