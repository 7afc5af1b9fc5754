import { z } from "zod";

/**
 * The run config (`tunekit.yaml`). This zod schema is the single source of truth: CLI flags
 * (`--set`), YAML files, API bodies, the JSON Schema for editors and the web form all come from
 * it. Every field has a description and a default.
 */

const auto = <T extends z.ZodType>(inner: T, description: string) =>
  z.union([z.literal("auto"), inner]).default("auto").describe(description);

export const providerSchema = z
  .enum(["local", "openai", "azure"])
  .default("local")
  .describe("Where training runs: `local` (Tunekit's PyTorch worker), `openai` or `azure` (hosted fine-tuning).");

export const dataFormatSchema = z
  .enum(["auto", "chat", "prompt-completion", "preference", "text"])
  .default("auto")
  .describe("Dataset format; `auto` detects it from the first example.");

export const dataSchema = z
  .strictObject({
    train: z.string().default("data/train.jsonl").describe("Training file (JSONL), relative to the config file."),
    validation: z
      .string()
      .nullable()
      .default(null)
      .describe("Validation file (JSONL); null to train without validation metrics."),
    test: z.string().nullable().default(null).describe("Held-out test file used by `tunekit eval`; null for none."),
    format: dataFormatSchema,
    chat_template: z
      .string()
      .nullable()
      .default(null)
      .describe("Jinja chat template overriding the model's own; null uses the tokenizer's template."),
    max_seq_len: z
      .number()
      .int()
      .min(16)
      .max(1_048_576)
      .default(1024)
      .describe("Maximum tokens per training sequence; longer examples are truncated (and reported)."),
  })
  .describe("The dataset.");

export const loraSchema = z
  .strictObject({
    r: z.number().int().min(1).max(1024).default(16).describe("LoRA rank."),
    alpha: z.number().positive().default(32).describe("LoRA alpha (scale = alpha / r)."),
    dropout: z.number().min(0).max(1).default(0.05).describe("Dropout on the LoRA input."),
    target_modules: z
      .union([z.literal("all-linear"), z.array(z.string().min(1)).min(1)])
      .default("all-linear")
      .describe("Modules that get adapters: `all-linear` or a list of module names such as [q_proj, v_proj]."),
  })
  .describe("LoRA / QLoRA adapter settings.");

export const trainingSchema = z
  .strictObject({
    method: z
      .enum(["lora", "qlora", "full", "dpo"])
      .default("lora")
      .describe("`lora` (default), `qlora` (4-bit base, CUDA only), `full` fine-tuning, or `dpo` on preference data."),
    epochs: auto(z.number().int().min(1).max(100), "Epochs, or `auto` for the dataset-size rule (target 3, keep examples x epochs in 100..25000)."),
    batch_size: auto(z.number().int().min(1).max(4096), "Global batch size in examples per optimizer step, or `auto` from model size and method."),
    micro_batch_size: auto(z.number().int().min(1).max(4096), "Examples per forward pass per device; the rest is gradient accumulation. `auto` picks from memory."),
    learning_rate: auto(z.number().positive().max(1), "Peak learning rate, or `auto` from model size and method."),
    lr_scheduler: z.enum(["cosine", "linear", "constant"]).default("cosine").describe("Learning-rate schedule after warmup."),
    warmup_ratio: z.number().min(0).max(0.5).default(0.03).describe("Fraction of steps spent warming up the learning rate."),
    weight_decay: z.number().min(0).max(1).default(0).describe("AdamW weight decay."),
    max_grad_norm: z.number().positive().default(1).describe("Gradient clipping norm."),
    max_steps: z.number().int().positive().nullable().default(null).describe("Stop after this many optimizer steps (overrides epochs); null to run all epochs."),
    packing: z.boolean().default(true).describe("Pack short examples into full sequences (no attention across examples)."),
    seed: z.number().int().min(0).default(42).describe("Random seed for data order, initialisation and dropout."),
    eval_every: z.number().int().positive().default(50).describe("Compute validation loss and accuracy every N optimizer steps (and at the end)."),
    checkpoint_every: z.number().int().positive().default(100).describe("Write a resumable checkpoint every N optimizer steps (and at each epoch end)."),
    lora: loraSchema.prefault({}),
    precision: z.enum(["auto", "fp32", "bf16", "fp16"]).default("auto").describe("`auto`: bf16 on GPU, fp32 on CPU."),
    device: z.enum(["auto", "cpu", "cuda"]).default("auto").describe("Where the worker trains; `auto` uses CUDA when present."),
    num_processes: z.number().int().min(1).max(1024).default(1).describe("Processes launched through torchrun (one per GPU; gloo on CPU)."),
    distributed: z.enum(["ddp", "fsdp"]).default("ddp").describe("Multi-process strategy: `ddp`, or `fsdp` for models that do not fit one device."),
    merge: z.boolean().default(false).describe("Also write merged weights (safetensors + tokenizer + config) after training."),
    trust_remote_code: z.boolean().default(false).describe("Allow model repositories to run their own Python code; off unless you trust the model."),
    threads: z.number().int().min(0).default(0).describe("CPU threads for PyTorch; 0 uses every core."),
  })
  .describe("Training hyperparameters.");

export const outputSchema = z
  .strictObject({
    dir: z.string().default("runs").describe("Folder that receives one sub-folder per run."),
    name: z.string().nullable().default(null).describe("Run folder name; null for `<model>-<timestamp>`."),
    suffix: z.string().max(64).nullable().default(null).describe("Suffix in the fine-tuned model id `ft:<base>:<suffix>:<id>`."),
  })
  .describe("Where runs are written.");

export const configSchema = z
  .strictObject({
    version: z.literal(1).default(1).describe("Config file version."),
    provider: providerSchema,
    model: z
      .string()
      .min(1)
      .default("HuggingFaceTB/SmolLM2-135M-Instruct")
      .describe("Base model: a local HF folder, a `.gguf` file, a hub id, or a hosted model name (gpt-4o-mini-2024-07-18)."),
    data: dataSchema.prefault({}),
    training: trainingSchema.prefault({}),
    output: outputSchema.prefault({}),
  })
  .describe("Tunekit run config (tunekit.yaml).");

export type TunekitConfig = z.output<typeof configSchema>;
export type TunekitConfigInput = z.input<typeof configSchema>;
export type TrainingConfig = TunekitConfig["training"];
export type DataConfig = TunekitConfig["data"];

/** JSON Schema (draft 2020-12) for editors, generated from the zod schema. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://tunekit.dev/schema/tunekit.schema.json",
    ...z.toJSONSchema(configSchema, { io: "input", target: "draft-2020-12" }),
  };
}

/** The config with every default filled in. */
export function defaultConfig(): TunekitConfig {
  return configSchema.parse({});
}
