import type { FineTuningJob } from "../../../spec/openai-wire.js";

/** What a hosted fine-tuning job was trained with, resolved from its retrieved object. */
export interface OpenAiJobSettings {
  jobId: string;
  status: string;
  baseModel: string;
  fineTunedModel: string | null;
  method: "supervised" | "dpo";
  nEpochs: number | "auto";
  batchSize: number | "auto";
  learningRateMultiplier: number | "auto";
  /** DPO only */
  beta: number | "auto" | null;
  suffix: string | null;
  seed: number | null;
  trainingFile: string;
  validationFile: string | null;
  trainedTokens: number | null;
  createdAt: number;
  metadata: Record<string, string> | null;
}

/**
 * The settings of a retrieved job. A finished job reports its resolved values (numbers, not
 * `auto`) in `method.<type>.hyperparameters` and in the legacy top-level `hyperparameters`; the
 * method's values win, since a DPO job keeps `beta` only there.
 */
export function openAiJobSettings(job: FineTuningJob): OpenAiJobSettings {
  const method = job.method?.type ?? "supervised";
  const fromMethod = (method === "dpo" ? job.method?.dpo?.hyperparameters : job.method?.supervised?.hyperparameters) ?? {};
  const legacy = job.hyperparameters ?? { batch_size: null, learning_rate_multiplier: "auto", n_epochs: "auto" };
  const pick = <T>(value: T | undefined | null, fallback: T | undefined | null): T | "auto" => (value ?? fallback ?? "auto") as T | "auto";
  return {
    jobId: job.id,
    status: job.status,
    baseModel: job.model,
    fineTunedModel: job.fine_tuned_model,
    method,
    nEpochs: pick(fromMethod.n_epochs, legacy.n_epochs),
    batchSize: pick(fromMethod.batch_size, legacy.batch_size),
    learningRateMultiplier: pick(fromMethod.learning_rate_multiplier, legacy.learning_rate_multiplier),
    beta: method === "dpo" ? pick((fromMethod as { beta?: number | "auto" }).beta, null) : null,
    suffix: job.user_provided_suffix ?? null,
    seed: typeof job.seed === "number" ? job.seed : null,
    trainingFile: job.training_file,
    validationFile: job.validation_file ?? null,
    trainedTokens: job.trained_tokens ?? null,
    createdAt: job.created_at,
    metadata: job.metadata ?? null,
  };
}
