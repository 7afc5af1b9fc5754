/**
 * Wire types of Tunekit's own endpoints under /v1/tunekit (what OpenAI's API has no equivalent
 * for: the dataset toolkit on uploaded files, estimates, the model catalogue, job insight). The web
 * UI is a client of these like any script. Version 1. Answers are zod schemas (the OpenAPI
 * document's response schemas come from them); the types are inferred from those.
 */
import { z } from "zod";
import { fileObjectSchema, fineTuningJobSchema } from "./openai-wire.js";

const severity = z.enum(["error", "warning"]);
const recordFormat = z.enum(["csv", "tsv", "json", "jsonl", "parquet"]);

export const serverInfoSchema = z.object({
  object: z.literal("tunekit.server"),
  version: z.string(),
  /** false when the server runs with --no-auth */
  auth: z.boolean(),
  project: z.object({ id: z.string(), name: z.string() }),
  max_upload_bytes: z.number().int(),
  engine: z.string().nullable().describe("the chat completions engine, null when the server serves no chat"),
  default_method: z.string(),
  defaults: z
    .object({ training: z.record(z.string(), z.unknown()), data: z.record(z.string(), z.unknown()) })
    .describe("the server's own run-config settings (its --config / --set): what a job gets for the fields it leaves out, where they differ from the schema's defaults"),
  machine: z.object({ cpus: z.number().int(), memory_bytes: z.number().int(), platform: z.string() }),
});
export type ServerInfo = z.infer<typeof serverInfoSchema>;

export const modelInfoSchema = z.object({
  id: z.string(),
  source: z.string(),
  kind: z.enum(["hf-folder", "gguf", "hub"]),
  architecture: z.string().nullable(),
  parameters: z.number().int().nullable(),
  bytes: z.number().int().nullable(),
  context_length: z.number().int().nullable(),
  hidden_size: z.number().int().nullable(),
  layers: z.number().int().nullable(),
  vocab_size: z.number().int().nullable(),
  weights: z.string().nullable().describe("GGUF weight type (Q4_1, F16 ...) or the safetensors dtype"),
  created: z.number().int(),
});
export type ModelInfo = z.infer<typeof modelInfoSchema>;

export const problemViewSchema = z.object({
  line: z.number().int().nullable(),
  code: z.string(),
  severity,
  message: z.string(),
  fix: z.string(),
  column: z.number().int().optional().describe("1-based column where the line goes wrong (invalid JSON, invalid UTF-8)"),
  file: z.string().optional().describe("set for problems of a validation file"),
});
export type ProblemView = z.infer<typeof problemViewSchema>;

export const fileReportSchema = z.object({
  file_id: z.string(),
  ok: z.boolean(),
  format: z.string().nullable().describe("chat, prompt-completion, preference or text"),
  format_source: z.string(),
  source_format: recordFormat.nullable().describe("jsonl, or a table / JSON array that needs a column mapping first"),
  needs_conversion: z.boolean(),
  examples: z.number().int(),
  valid_examples: z.number().int(),
  lines: z.number().int(),
  counts: z.record(z.string(), z.object({ count: z.number().int(), severity, title: z.string() })),
  problems: z.array(problemViewSchema),
  problems_omitted: z.number().int().describe("problems counted but not listed (1,000 are kept a code)"),
  duplicates: z.object({ exact: z.number().int(), near: z.number().int() }),
});
export type FileReportView = z.infer<typeof fileReportSchema>;

export const fileLinesSchema = z.object({ start: z.number().int(), lines: z.array(z.string()), end_of_file: z.boolean() });

export const recordMappingSchema = z.strictObject({
  layout: z.enum(["mapped", "alpaca", "sharegpt"]).default("mapped").describe("`mapped`: columns fill the messages; `alpaca` / `sharegpt`: records name their own roles"),
  columns: z
    .strictObject({ system: z.array(z.string()).optional(), user: z.array(z.string()).optional(), assistant: z.array(z.string()).optional() })
    .optional()
    .describe("source columns per message role, joined with a blank line when several"),
  system: z.string().optional().describe("system message for examples that have none"),
});
export type RecordMapping = z.infer<typeof recordMappingSchema>;

export const fileColumnsSchema = z.object({
  source_format: recordFormat,
  columns: z.array(z.string()),
  rows: z.array(z.record(z.string(), z.unknown())),
  suggested: recordMappingSchema,
});

const chatExampleSchema = z.object({ messages: z.array(z.object({ role: z.string(), content: z.unknown() })) }).loose();
export const mappingPreviewSchema = z.object({
  examples: z.array(z.object({ row: z.number().int(), example: chatExampleSchema.nullable(), problems: z.array(z.object({ message: z.string(), fix: z.string() })) })),
});

export const conversionSchema = z.object({
  file: fileObjectSchema,
  report: z.object({
    written: z.number().int(),
    skipped: z.number().int(),
    problems: z.array(
      z.object({ row: z.number().int(), line: z.number().int().optional(), column: z.string().optional(), code: z.string(), message: z.string(), fix: z.string() }).loose(),
    ),
    problems_omitted: z.number().int(),
  }),
});

export const fixRequestSchema = z.strictObject({
  drop_invalid: z.boolean().optional().describe("drop lines with errors, and blank lines"),
  drop_duplicates: z.boolean().optional().describe("drop exact repeats of an earlier example"),
  drop_near_duplicates: z.boolean().optional().describe("drop near-duplicates (MinHash, estimated Jaccard >= 0.8)"),
  drop_over_context: z
    .strictObject({ model: z.string().min(1), max_tokens: z.number().int().positive().optional() })
    .nullable()
    .optional()
    .describe("drop examples longer than this model's context (or `max_tokens`)"),
  remove_overlap_with: z.string().nullable().optional().describe("a validation file id: drop training examples whose prompt is in it"),
  strip_bom: z.boolean().optional(),
});
export type FixRequest = z.infer<typeof fixRequestSchema>;

const fixReasons = z.object({
  invalid: z.number().int(),
  blank: z.number().int(),
  duplicate: z.number().int(),
  near_duplicate: z.number().int(),
  over_context: z.number().int(),
  validation_overlap: z.number().int(),
});
export const fixResultSchema = z.object({
  file: fileObjectSchema,
  report: z.object({
    lines: z.number().int(),
    kept: z.number().int(),
    removed: fixReasons,
    removedLines: z.array(z.object({ line: z.number().int(), reason: z.string() })),
    bomStripped: z.boolean(),
  }),
});

export const splitRequestSchema = z.strictObject({
  validation: z.number().gt(0).lt(1).default(0.1).describe("fraction of examples for the validation file"),
  seed: z.number().int().min(0).default(42),
});
export const splitResultSchema = z.object({
  train: fileObjectSchema,
  validation: fileObjectSchema,
  report: z.object({ examples: z.number().int(), groups: z.number().int(), warnings: z.array(z.string()) }),
});

const distribution = z.object({ min: z.number(), max: z.number(), mean: z.number(), median: z.number(), p10: z.number(), p90: z.number() }).nullable();
export const datasetStatsSchema = z.object({
  file: z.string(),
  model: z.string(),
  method: z.string(),
  contextLength: z.number().int().nullable(),
  examples: z.number().int(),
  formats: z.record(z.string(), z.number().int()),
  skipped: z.object({
    count: z.number().int(),
    lines: z.array(z.object({ line: z.number().int(), reason: z.string(), code: z.string().optional(), fix: z.string().optional() })),
    hint: z.string().nullable(),
  }),
  messagesPerExample: distribution,
  tokensPerExample: distribution,
  trainedTokensPerExample: distribution,
  totalTokens: z.number().int(),
  totalTrainedTokens: z.number().int(),
  overContextLength: z.number().int().nullable(),
  histogram: z.array(z.object({ from: z.number(), to: z.number(), count: z.number().int() }).loose()),
  nonPreferred: z
    .object({ pairs: z.number().int(), tokensPerExample: distribution.nullable(), totalTokens: z.number().int(), totalTrainedTokens: z.number().int() })
    .nullable()
    .optional()
    .describe("preference data: the prompt with the non-preferred answer, which DPO reads too; null otherwise"),
});
export type DatasetStatsView = z.infer<typeof datasetStatsSchema>;

export const jobSummarySchema = z.object({
  method: z.string().describe("lora, qlora, full or dpo: the job's own setting, else the server's"),
  queue_position: z.number().int().nullable().describe("1 = next to start; null when not queued"),
  duration_s: z.number().int().nullable(),
});
export type JobSummary = z.infer<typeof jobSummarySchema>;

export const jobListSchema = z.object({ object: z.literal("list"), data: z.array(fineTuningJobSchema.extend({ tunekit: jobSummarySchema })), has_more: z.boolean() });

export const jobDetailSchema = jobSummarySchema.extend({
  job: fineTuningJobSchema,
  options: z.object({ training: z.record(z.string(), z.unknown()), data: z.record(z.string(), z.unknown()) }).describe("the request's `tunekit` extension"),
  resolved: z.record(z.string(), z.unknown()).nullable().describe("the worker's fully resolved job spec, null before training starts"),
  data_summary: z.record(z.string(), z.unknown()).nullable(),
  files: z.array(
    z.object({
      role: z.enum(["training", "validation"]),
      id: z.string(),
      filename: z.string().nullable(),
      bytes: z.number().int().nullable(),
      sha256: z.string().nullable(),
      examples: z.number().int().nullable(),
    }),
  ),
  log_bytes: z.number().int(),
});
export type JobDetail = z.infer<typeof jobDetailSchema>;

export const trainingEstimateSchema = z.object({
  model: z.string(),
  method: z.string(),
  examples: z.number().int(),
  valid_examples: z.number().int(),
  epochs: z.number(),
  steps: z.number().int(),
  steps_per_epoch: z.number().int(),
  batch_size: z.number().int(),
  micro_batch_size: z.number().int(),
  learning_rate: z.number(),
  parameters: z.number().int(),
  trainable_parameters: z.number().int(),
  tokens: z.object({
    per_epoch: z.number().int(),
    trained_per_epoch: z.number().int(),
    trained_total: z.number().int(),
    truncated_examples: z.number().int(),
    max_seq_len: z.number().int(),
  }),
  time: z
    .object({ seconds: z.number().nullable(), tokens_per_second: z.number().nullable(), basis: z.string() })
    .describe("from throughput measured by earlier jobs of this base model on this server"),
  memory: z.object({ device: z.string(), peak_bytes: z.number().int(), available_bytes: z.number().int(), fits: z.boolean(), basis: z.string() }),
  hosted: z
    .array(z.object({ model: z.string(), cost: z.number(), currency: z.string(), billed_tokens: z.number().int() }))
    .describe("the same data on hosted fine-tuning, for comparison"),
});
export type TrainingEstimateView = z.infer<typeof trainingEstimateSchema>;

export const configCheckRequestSchema = z.strictObject({
  yaml: z.string().optional().describe("tunekit.yaml text"),
  config: z.record(z.string(), z.unknown()).optional().describe("the same as an object"),
});

export const configCheckSchema = z.object({
  ok: z.boolean(),
  problems: z.array(
    z.object({
      code: z.string(),
      severity,
      message: z.string(),
      field: z.string().optional(),
      line: z.number().int().optional(),
      fix: z.string().optional().describe("how to write the value"),
    }),
  ),
  config: z.record(z.string(), z.unknown()),
  request: z.record(z.string(), z.unknown()).nullable().describe("the create-job body for this config; null while it has errors"),
  endpoint: z.string().describe("where the body goes: /v1/fine_tuning/jobs, or /v1/tunekit/hosted/{provider}/jobs for `provider: openai`"),
  estimate_endpoint: z.string(),
  commands: z.object({ cli: z.string(), curl: z.string(), node: z.string(), python: z.string() }).nullable(),
});

export const promptSchema = z.object({ model: z.string(), prompt: z.string(), prompt_tokens: z.number().int() });

export const hostedProviderInfoSchema = z.object({
  name: z.string().describe("`openai`, `azure`, ...: the provider in /v1/tunekit/hosted/{provider}/... and the run config's `provider`"),
  label: z.string(),
  models: z.array(z.string()).describe("base models offered for fine-tuning"),
  chat: z.boolean().describe("whether its models answer chat completions through this server"),
});
export type HostedProviderInfo = z.infer<typeof hostedProviderInfoSchema>;

export const hostedEstimateSchema = z.object({
  provider: z.string(),
  model: z.string(),
  examples: z.number().int(),
  epochs: z.number().int(),
  billed_tokens: z.number().int().nullable(),
  cost: z.number().nullable(),
  currency: z.string(),
  basis: z.string(),
});
export type HostedEstimate = z.infer<typeof hostedEstimateSchema>;
