import { z } from "zod";
import { dataSchema, executionSchema, trainingSchema, type ExecutionConfig, type TrainingConfig } from "../core/config-schema.js";
import { TunekitError } from "../core/errors.js";
import { invalidRequest } from "../core/request-problems.js";
import type { FineTuningJobCreateParams, SupervisedHyperparameters } from "../spec/openai-wire.js";

const auto = <T extends z.ZodType>(inner: T) => z.union([z.literal("auto"), inner]);

const hyperparametersSchema = z.strictObject({
  batch_size: auto(z.number().int().min(1).max(256)).optional().describe("Examples per optimizer step, or `auto`."),
  learning_rate_multiplier: auto(z.number().positive().max(10)).optional().describe("Scales the base learning rate, or `auto`."),
  n_epochs: auto(z.number().int().min(1).max(50)).optional().describe("Passes over the training file, or `auto` (dataset-size rule)."),
});

const dpoHyperparametersSchema = hyperparametersSchema.extend({
  beta: auto(z.number().positive().max(2)).optional().describe("DPO beta, or `auto`."),
});

/**
 * Fields of the run config's `training` that a server job takes from OpenAI's own parameters;
 * the `tunekit` extension refuses them and names the parameter to use.
 */
export const OPENAI_OWNED_TRAINING_FIELDS = {
  epochs: "method.<type>.hyperparameters.n_epochs",
  batch_size: "method.<type>.hyperparameters.batch_size",
  learning_rate_multiplier: "method.<type>.hyperparameters.learning_rate_multiplier",
  dpo_beta: "method.dpo.hyperparameters.beta",
  seed: "seed",
} as const;

/**
 * Tunekit's extension of a job: the rest of the run config's `training` (method lora / qlora /
 * full, learning rate, LoRA rank, max steps ...) and `data.max_seq_len` / `data.chat_template`,
 * validated by the same zod schema as tunekit.yaml. Only the fields given are kept: the server's
 * `--config` settings fill the others.
 */
export const jobOptionsSchema = z
  .strictObject({
    training: trainingSchema
      .omit({ epochs: true, batch_size: true, learning_rate_multiplier: true, dpo_beta: true, seed: true })
      .refine((training) => training.method !== "dpo", { message: "DPO is `method.type: dpo`, not `tunekit.training.method`", path: ["method"] })
      .optional()
      .describe("Run-config `training` fields (tunekit.yaml): method lora | qlora | full, learning_rate, lora, max_steps, ..."),
    data: dataSchema.pick({ max_seq_len: true, chat_template: true }).optional().describe("Run-config `data.max_seq_len` and `data.chat_template`."),
    execution: executionSchema
      .pick({ backend: true })
      .partial()
      .optional()
      .describe("Run-config `execution.backend`: where this job trains (`local`, `ray`, `slurm`); the server's config holds each backend's settings."),
  })
  .describe("Tunekit extension: tunekit.yaml `training` and `data` fields this server job uses (the OpenAI SDKs send it as an extra body field).");

export interface JobOptions {
  training: Partial<Omit<TrainingConfig, keyof typeof OPENAI_OWNED_TRAINING_FIELDS>>;
  data: { max_seq_len?: number; chat_template?: string | null };
  execution?: { backend?: ExecutionConfig["backend"] };
}

/** Body of POST /v1/fine_tuning/jobs: the single source for validation and the OpenAPI document. */
export const createJobParamsSchema = z.strictObject({
  model: z.string().min(1).describe("Base model id from GET /v1/models."),
  training_file: z.string().min(1).describe("Id of an uploaded file with purpose `fine-tune`."),
  validation_file: z.string().min(1).nullable().optional().describe("Id of an uploaded validation file."),
  hyperparameters: hyperparametersSchema.optional().describe("Deprecated by OpenAI in favour of `method`; still accepted."),
  method: z
    .strictObject({
      type: z.enum(["supervised", "dpo"]),
      supervised: z.strictObject({ hyperparameters: hyperparametersSchema.optional() }).optional(),
      dpo: z.strictObject({ hyperparameters: dpoHyperparametersSchema.optional() }).optional(),
    })
    .optional()
    .describe("Training method: `supervised` (default) or `dpo` on preference data."),
  suffix: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, "use letters, digits, `-`, `_` and `.` only")
    .nullable()
    .optional()
    .describe("Up to 64 characters added to the fine-tuned model id."),
  seed: z.number().int().min(0).max(2_147_483_647).nullable().optional().describe("Random seed; omitted for a random one."),
  metadata: z
    .record(z.string().max(64), z.string().max(512))
    .refine((value) => Object.keys(value).length <= 16, "at most 16 keys")
    .nullable()
    .optional()
    .describe("Up to 16 string key/value pairs."),
  integrations: z
    .array(z.looseObject({ type: z.string().min(1).describe("e.g. `wandb`") }))
    .max(16)
    .nullable()
    .optional()
    .describe("OpenAI's integrations (e.g. Weights & Biases): recorded on the job and returned, not acted on by Tunekit."),
  tunekit: jobOptionsSchema.optional(),
});

export interface CreateJobInput {
  model: string;
  trainingFile: string;
  validationFile: string | null;
  methodType: "supervised" | "dpo";
  hyperparameters: Required<SupervisedHyperparameters> & { beta?: "auto" | number };
  suffix: string | null;
  seed: number | null;
  metadata: Record<string, string> | null;
  /** recorded and returned as sent (Tunekit reports to no integration) */
  integrations: Array<Record<string, unknown>> | null;
  options: JobOptions;
}

/** Validate a create-job body; every problem is reported, `field` names the first bad parameter. */
export function parseCreateJobParams(body: unknown): CreateJobInput {
  refuseOpenAiOwnedFields(body);
  const parsed = createJobParamsSchema.safeParse(body ?? {});
  if (!parsed.success) throw invalidRequest(parsed.error, "see the OpenAI fine-tuning API (POST /v1/fine_tuning/jobs) or GET /openapi.json");
  const params: FineTuningJobCreateParams & { integrations?: unknown } = parsed.data;
  const methodType = params.method?.type ?? "supervised";
  const fromMethod = methodType === "dpo" ? params.method?.dpo?.hyperparameters : params.method?.supervised?.hyperparameters;
  const legacy = params.hyperparameters;
  if (legacy && fromMethod) {
    throw new TunekitError("pass hyperparameters either in `hyperparameters` or in `method`, not both", {
      kind: "usage",
      code: "invalid_request",
      field: "hyperparameters",
      fix: `move them to \`method.${methodType}.hyperparameters\``,
    });
  }
  if (params.method?.type === "supervised" && params.method.dpo) {
    throw new TunekitError("`method.dpo` is set but `method.type` is `supervised`", {
      kind: "usage",
      code: "invalid_request",
      field: "method.dpo",
      fix: "set `method.type` to `dpo` or remove `method.dpo`",
    });
  }
  const chosen = (fromMethod ?? legacy ?? {}) as SupervisedHyperparameters & { beta?: "auto" | number };
  return {
    model: params.model,
    trainingFile: params.training_file,
    validationFile: params.validation_file ?? null,
    methodType,
    hyperparameters: {
      batch_size: chosen.batch_size ?? "auto",
      learning_rate_multiplier: chosen.learning_rate_multiplier ?? "auto",
      n_epochs: chosen.n_epochs ?? "auto",
      ...(methodType === "dpo" ? { beta: chosen.beta ?? "auto" } : {}),
    },
    suffix: params.suffix ?? null,
    seed: params.seed ?? null,
    metadata: params.metadata ?? null,
    integrations: (parsed.data.integrations as Array<Record<string, unknown>> | null | undefined) ?? null,
    options: presentOptions(body, parsed.data.tunekit),
  };
}

/** `tunekit.training.epochs` and friends: OpenAI's own parameters carry them. */
function refuseOpenAiOwnedFields(body: unknown): void {
  const training = (body as { tunekit?: { training?: Record<string, unknown> } } | null)?.tunekit?.training;
  if (!training || typeof training !== "object") return;
  const owned = Object.keys(training).filter((key): key is keyof typeof OPENAI_OWNED_TRAINING_FIELDS => key in OPENAI_OWNED_TRAINING_FIELDS);
  if (owned.length === 0) return;
  const key = owned[0] as keyof typeof OPENAI_OWNED_TRAINING_FIELDS;
  throw new TunekitError(`\`tunekit.training.${key}\` is set through OpenAI's parameter \`${OPENAI_OWNED_TRAINING_FIELDS[key]}\``, {
    kind: "usage",
    code: "invalid_request",
    field: `tunekit.training.${key}`,
    fix: `move it to \`${OPENAI_OWNED_TRAINING_FIELDS[key]}\``,
  });
}

/** The parsed extension with only the fields the request gave (zod fills defaults; the server's config fills those instead). */
function presentOptions(body: unknown, parsed: z.output<typeof jobOptionsSchema> | undefined): JobOptions {
  const raw = (body as { tunekit?: { training?: Record<string, unknown>; data?: Record<string, unknown> } } | null)?.tunekit;
  const options: JobOptions = {
    training: pickPresent(parsed?.training, raw?.training) as JobOptions["training"],
    data: pickPresent(parsed?.data, raw?.data) as JobOptions["data"],
  };
  if (parsed?.execution?.backend) options.execution = { backend: parsed.execution.backend };
  return options;
}

function pickPresent(parsed: unknown, raw: unknown): Record<string, unknown> {
  if (!parsed || typeof parsed !== "object" || !raw || typeof raw !== "object") return {};
  const result: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    const value = (parsed as Record<string, unknown>)[key];
    const given = (raw as Record<string, unknown>)[key];
    result[key] = value && typeof value === "object" && !Array.isArray(value) && given && typeof given === "object" && !Array.isArray(given) ? pickPresent(value, given) : value;
  }
  return result;
}

/** The `tunekit` extension a job was created with (empty for plain OpenAI requests). */
export function jobOptionsOf(job: { options: string | null }): JobOptions {
  return job.options ? (JSON.parse(job.options) as JobOptions) : { training: {}, data: {} };
}
