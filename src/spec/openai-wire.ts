/**
 * OpenAI wire types for the files, fine-tuning and models endpoints, version 1. These mirror
 * openai-node 6.x (`FileObject`, `FineTuningJob`, `FineTuningJobEvent`, `FineTuningJobCheckpoint`,
 * `Model`) so the official SDK pointed at a Tunekit server reads our answers unchanged.
 * Tunekit adds the `paused` status (OpenAI has it too since pause/resume shipped).
 */

export type JobStatusWire = "validating_files" | "queued" | "running" | "paused" | "succeeded" | "failed" | "cancelled";

export interface ListPage<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  first_id?: string | null;
  last_id?: string | null;
}

export type FilePurpose = "fine-tune" | "fine-tune-results" | "batch" | "assistants" | "vision" | "user_data" | "evals";

export interface FileObject {
  id: string;
  object: "file";
  bytes: number;
  created_at: number;
  filename: string;
  purpose: FilePurpose;
  /** deprecated in OpenAI's API but still sent: `processed` once validation passed, `error` when it failed */
  status: "uploaded" | "processed" | "error";
  expires_at?: number | null;
  /** why validation failed, when `status` is `error` */
  status_details?: string | null;
}

export interface FileDeleted {
  id: string;
  object: "file";
  deleted: boolean;
}

export type Auto<T> = "auto" | T;

export interface SupervisedHyperparameters {
  batch_size?: Auto<number>;
  learning_rate_multiplier?: Auto<number>;
  n_epochs?: Auto<number>;
}

export interface DpoHyperparameters extends SupervisedHyperparameters {
  beta?: Auto<number>;
}

export interface FineTuningMethod {
  type: "supervised" | "dpo";
  supervised?: { hyperparameters?: SupervisedHyperparameters };
  dpo?: { hyperparameters?: DpoHyperparameters };
}

export interface FineTuningJobError {
  code: string;
  message: string;
  param: string | null;
}

export interface FineTuningJob {
  id: string;
  object: "fine_tuning.job";
  created_at: number;
  error: FineTuningJobError | null;
  fine_tuned_model: string | null;
  finished_at: number | null;
  hyperparameters: {
    batch_size: Auto<number> | null;
    learning_rate_multiplier: Auto<number>;
    n_epochs: Auto<number>;
  };
  model: string;
  organization_id: string;
  result_files: string[];
  seed: number;
  status: JobStatusWire;
  trained_tokens: number | null;
  training_file: string;
  validation_file: string | null;
  estimated_finish: number | null;
  integrations: null;
  metadata: Record<string, string> | null;
  method: FineTuningMethod;
  user_provided_suffix: string | null;
}

export interface FineTuningJobEvent {
  id: string;
  object: "fine_tuning.job.event";
  created_at: number;
  level: "info" | "warn" | "error";
  message: string;
  type: "message" | "metrics";
  data: Record<string, unknown> | null;
}

export interface CheckpointMetrics {
  step?: number;
  train_loss?: number;
  train_mean_token_accuracy?: number;
  valid_loss?: number;
  valid_mean_token_accuracy?: number;
  full_valid_loss?: number;
  full_valid_mean_token_accuracy?: number;
}

export interface FineTuningJobCheckpoint {
  id: string;
  object: "fine_tuning.job.checkpoint";
  created_at: number;
  fine_tuned_model_checkpoint: string;
  fine_tuning_job_id: string;
  metrics: CheckpointMetrics;
  step_number: number;
}

export interface Model {
  id: string;
  object: "model";
  created: number;
  owned_by: string;
}

/** Body of POST /v1/fine_tuning/jobs. */
export interface FineTuningJobCreateParams {
  model: string;
  training_file: string;
  validation_file?: string | null;
  hyperparameters?: SupervisedHyperparameters;
  method?: FineTuningMethod;
  suffix?: string | null;
  seed?: number | null;
  metadata?: Record<string, string> | null;
}

/** The error envelope every non-2xx answer carries. */
export interface ErrorEnvelope {
  error: {
    message: string;
    /** `invalid_request_error` for every 4xx (as OpenAI answers), `server_error` for 5xx */
    type: "invalid_request_error" | "server_error";
    param: string | null;
    code: string | null;
  };
}

export const ID_PREFIX = {
  job: "ftjob-",
  file: "file-",
  event: "ftevent-",
  checkpoint: "ftckpt-",
} as const;
