/**
 * OpenAI wire types for the files, fine-tuning and models endpoints, version 1. These mirror
 * openai-node 6.x (`FileObject`, `FineTuningJob`, `FineTuningJobEvent`, `FineTuningJobCheckpoint`,
 * `Model`) so the official SDK pointed at a Tunekit server reads our answers unchanged.
 * Tunekit adds the `paused` status (OpenAI has it too since pause/resume shipped).
 * The answers are zod schemas (the OpenAPI document's response schemas come from them), the types
 * are inferred from those.
 */
import { z } from "zod";

export const jobStatusWireSchema = z.enum(["validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled"]);
export type JobStatusWire = z.infer<typeof jobStatusWireSchema>;

export interface ListPage<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  first_id?: string | null;
  last_id?: string | null;
}

/** The schema of `ListPage<item>`, for the OpenAPI document. */
export function listPageSchema<T extends z.ZodType>(item: T) {
  return z.object({
    object: z.literal("list"),
    data: z.array(item),
    has_more: z.boolean(),
    first_id: z.string().nullable().optional(),
    last_id: z.string().nullable().optional(),
  });
}

export const filePurposeSchema = z.enum(["fine-tune", "fine-tune-results", "batch", "assistants", "vision", "user_data", "evals"]);
export type FilePurpose = z.infer<typeof filePurposeSchema>;

export const fileObjectSchema = z.object({
  id: z.string(),
  object: z.literal("file"),
  bytes: z.number().int(),
  created_at: z.number().int(),
  filename: z.string(),
  purpose: filePurposeSchema,
  status: z.enum(["uploaded", "processed", "error"]).describe("deprecated in OpenAI's API but still sent: `processed` once validation passed, `error` when it failed"),
  expires_at: z.number().int().nullable().optional(),
  status_details: z.string().nullable().optional().describe("why validation failed, when `status` is `error`"),
});
export type FileObject = z.infer<typeof fileObjectSchema>;

export const fileDeletedSchema = z.object({ id: z.string(), object: z.literal("file"), deleted: z.boolean() });
export type FileDeleted = z.infer<typeof fileDeletedSchema>;

export type Auto<T> = "auto" | T;
const auto = <T extends z.ZodType>(value: T) => z.union([z.literal("auto"), value]);

export const supervisedHyperparametersSchema = z.object({
  batch_size: auto(z.number().int()).optional(),
  learning_rate_multiplier: auto(z.number()).optional(),
  n_epochs: auto(z.number().int()).optional(),
});
export type SupervisedHyperparameters = z.infer<typeof supervisedHyperparametersSchema>;

export const dpoHyperparametersSchema = supervisedHyperparametersSchema.extend({ beta: auto(z.number()).optional() });
export type DpoHyperparameters = z.infer<typeof dpoHyperparametersSchema>;

export const fineTuningMethodSchema = z.object({
  type: z.enum(["supervised", "dpo"]),
  supervised: z.object({ hyperparameters: supervisedHyperparametersSchema.optional() }).optional(),
  dpo: z.object({ hyperparameters: dpoHyperparametersSchema.optional() }).optional(),
});
export type FineTuningMethod = z.infer<typeof fineTuningMethodSchema>;

export const fineTuningJobErrorSchema = z.object({ code: z.string(), message: z.string(), param: z.string().nullable() });
export type FineTuningJobError = z.infer<typeof fineTuningJobErrorSchema>;

export const fineTuningJobSchema = z.object({
  id: z.string(),
  object: z.literal("fine_tuning.job"),
  created_at: z.number().int(),
  error: fineTuningJobErrorSchema.nullable(),
  fine_tuned_model: z.string().nullable(),
  finished_at: z.number().int().nullable(),
  hyperparameters: z.object({
    batch_size: auto(z.number().int()).nullable(),
    learning_rate_multiplier: auto(z.number()),
    n_epochs: auto(z.number().int()),
  }),
  model: z.string(),
  organization_id: z.string(),
  result_files: z.array(z.string()),
  seed: z.number().int(),
  status: jobStatusWireSchema,
  trained_tokens: z.number().int().nullable(),
  training_file: z.string(),
  validation_file: z.string().nullable(),
  estimated_finish: z.number().int().nullable(),
  integrations: z.array(z.record(z.string(), z.unknown())).nullable().describe("as sent at creation: recorded, not acted on"),
  metadata: z.record(z.string(), z.string()).nullable(),
  method: fineTuningMethodSchema,
  user_provided_suffix: z.string().nullable(),
  execution: z
    .object({
      backend: z.string().nullable().describe("`local`, `ray` or `slurm`; null before the job's first launch"),
      nodes: z.array(z.string()).describe("where each rank of the last attempt ran, rank order: host, with the engine's node id in parentheses"),
    })
    .optional()
    .describe("Tunekit extension: the execution backend and nodes of the job's last attempt"),
});
export type FineTuningJob = z.infer<typeof fineTuningJobSchema>;

export const fineTuningJobEventSchema = z.object({
  id: z.string(),
  object: z.literal("fine_tuning.job.event"),
  created_at: z.number().int(),
  level: z.enum(["info", "warn", "error"]),
  message: z.string(),
  type: z.enum(["message", "metrics"]),
  data: z.record(z.string(), z.unknown()).nullable(),
});
export type FineTuningJobEvent = z.infer<typeof fineTuningJobEventSchema>;

export const checkpointMetricsSchema = z.object({
  step: z.number().int().optional(),
  train_loss: z.number().optional(),
  train_mean_token_accuracy: z.number().optional(),
  valid_loss: z.number().optional(),
  valid_mean_token_accuracy: z.number().optional(),
  full_valid_loss: z.number().optional(),
  full_valid_mean_token_accuracy: z.number().optional(),
});
export type CheckpointMetrics = z.infer<typeof checkpointMetricsSchema>;

export const fineTuningJobCheckpointSchema = z.object({
  id: z.string(),
  object: z.literal("fine_tuning.job.checkpoint"),
  created_at: z.number().int(),
  fine_tuned_model_checkpoint: z.string(),
  fine_tuning_job_id: z.string(),
  metrics: checkpointMetricsSchema,
  step_number: z.number().int(),
});
export type FineTuningJobCheckpoint = z.infer<typeof fineTuningJobCheckpointSchema>;

export const modelSchema = z.object({ id: z.string(), object: z.literal("model"), created: z.number().int(), owned_by: z.string() });
export type Model = z.infer<typeof modelSchema>;

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
export const errorEnvelopeSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z
      .enum(["invalid_request_error", "requests", "server_error"])
      .describe("`invalid_request_error` for 4xx (as OpenAI answers), `requests` for a chat model's full queue (429, as OpenAI's rate limits), `server_error` for 5xx"),
    param: z.string().nullable(),
    code: z.string().nullable(),
  }),
});
export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

export const ID_PREFIX = {
  job: "ftjob-",
  file: "file-",
  event: "ftevent-",
  checkpoint: "ftckpt-",
} as const;
