import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { freemem, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import type { TrainingConfig } from "../core/config-schema.js";
import { TunekitError } from "../core/errors.js";
import { estimateTraining } from "../data/estimate/estimate-training.js";
import { defaultPriceTable } from "../data/estimate/price-table.js";
import { TiktokenCounter } from "../data/tokens/tiktoken-counter.js";
import type { WorkerJobSpec } from "../core/worker-job-spec.js";
import { writeJobFile } from "../spec/run-folder.js";
import type { TrainingEstimateView } from "../spec/tunekit-wire.js";
import type { TrainingPlanner, WorkerPlan } from "../spec/worker-plan.js";
import { jobOptionsOf, parseCreateJobParams } from "./create-job-params.js";
import type { FileStore } from "./file-store.js";
import type { JobStore } from "./job-store.js";
import type { ModelCatalog } from "./model-catalog.js";
import { jobWorkerSpec } from "./worker-job-spec.js";

export interface TrainingEstimatorOptions {
  dataDir: string;
  trainingDefaults?: Partial<TrainingConfig>;
  maxSeqLen?: number;
}

/**
 * Estimates a job the way it would run: the job spec is built exactly as for a launch
 * (jobWorkerSpec, the one spec builder) and handed to the worker's `plan` command, which reads the data with the
 * model's tokenizer and resolves `auto` values with the run's own code. Time comes from measured
 * throughput only (never a guess); plans are cached by spec and file contents.
 */
export class TrainingEstimator {
  private readonly plans = new Map<string, Promise<WorkerPlan>>();

  constructor(
    private readonly files: FileStore,
    private readonly catalog: ModelCatalog,
    private readonly store: JobStore,
    private readonly planner: TrainingPlanner,
    private readonly options: TrainingEstimatorOptions,
  ) {}

  async estimate(projectId: string, body: unknown): Promise<TrainingEstimateView> {
    const input = parseCreateJobParams(body);
    const base = this.catalog.resolve(input.model);
    if (!base) {
      throw new TunekitError(`model \`${input.model}\` is not available for fine-tuning on this server`, {
        kind: "usage",
        code: "model_not_available",
        field: "model",
        fix: "pick one of GET /v1/tunekit/models",
      });
    }
    const training = await this.files.get(projectId, input.trainingFile, "training_file");
    await this.files.whenValidated(training.object.id);
    const validated = await this.files.get(projectId, input.trainingFile, "training_file");
    if (!validated.validation?.ok) {
      throw new TunekitError(`training file \`${training.object.id}\` has errors: fix them before estimating`, {
        kind: "usage",
        code: "invalid_training_file",
        field: "training_file",
        fix: "open the file in the Data screen (GET /v1/tunekit/files/{id}/report)",
      });
    }
    const validation = input.validationFile ? await this.files.get(projectId, input.validationFile, "validation_file") : null;
    const options = { training: input.options.training, data: input.options.data };
    const spec = jobWorkerSpec({
      runDir: join(this.options.dataDir, "plans"),
      modelSource: base.source,
      trainingPath: this.files.pathOf(training.object.id),
      validationPath: validation ? this.files.pathOf(validation.object.id) : null,
      trainingExamples: validated.validation.validExamples,
      methodType: input.methodType,
      hyperparameters: input.hyperparameters,
      seed: input.seed ?? 0,
      resumeFrom: null,
      trainingDefaults: this.options.trainingDefaults,
      maxSeqLen: this.options.maxSeqLen,
      jobOptions: options,
    });
    const key = createHash("sha256").update(JSON.stringify(spec)).digest("hex");
    let planned = this.plans.get(key);
    if (!planned) {
      planned = this.plan(spec);
      planned.catch(() => this.plans.delete(key));
      this.plans.set(key, planned);
    }
    const plan = await planned;
    const trainedTotal = plan.trained_tokens * (plan.total_steps / Math.max(1, plan.steps_per_epoch));
    const throughput = await this.throughput(input.model, plan.resolved.method);
    const available = plan.memory.available_bytes ?? totalmem();
    const hosted = await this.hostedComparison(this.files.pathOf(training.object.id), plan.epochs);
    return {
      model: input.model,
      method: plan.resolved.method,
      examples: plan.train_examples,
      valid_examples: plan.valid_examples,
      epochs: plan.max_steps ? Math.round((plan.total_steps / Math.max(1, plan.steps_per_epoch)) * 100) / 100 : plan.epochs,
      steps: plan.total_steps,
      steps_per_epoch: plan.steps_per_epoch,
      batch_size: plan.resolved.batch_size,
      micro_batch_size: plan.resolved.micro_batch_size,
      learning_rate: plan.resolved.learning_rate,
      parameters: plan.parameter_count,
      trainable_parameters: plan.trainable_parameter_count,
      tokens: {
        per_epoch: plan.train_tokens,
        trained_per_epoch: plan.trained_tokens,
        trained_total: Math.round(trainedTotal),
        truncated_examples: plan.truncated_examples,
        max_seq_len: plan.resolved.max_seq_len,
      },
      time: throughput
        ? {
            seconds: Math.round(trainedTotal / throughput.tokensPerSecond),
            tokens_per_second: Math.round(throughput.tokensPerSecond * 10) / 10,
            basis: `measured: ${Math.round(throughput.tokensPerSecond)} trained tokens/s in job ${throughput.jobId} (${plan.resolved.method}) on this server`,
          }
        : {
            seconds: null,
            tokens_per_second: null,
            basis: `no ${plan.resolved.method} training of \`${input.model}\` measured on this server yet: the first job's progress bar gives the time`,
          },
      memory: {
        device: plan.memory.device,
        peak_bytes: plan.memory.peak_bytes,
        available_bytes: available,
        fits: plan.memory.peak_bytes < available * 0.9,
        basis: `${plan.memory.basis}; available: ${plan.memory.available_bytes === null ? `this machine's memory (${Math.round(totalmem() / 2 ** 30)} GiB, ${Math.round(freemem() / 2 ** 30)} GiB free now)` : "free GPU memory"}`,
      },
      hosted,
    };
  }

  /** The planner reads the spec from a job.json of its own, in a folder removed after the plan. */
  private async plan(spec: WorkerJobSpec): Promise<WorkerPlan> {
    const folder = await mkdtemp(join(tmpdir(), "tunekit-plan-"));
    try {
      return await this.planner(writeJobFile(folder, spec));
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  }

  /** The newest throughput measured for this base model and method. */
  private async throughput(model: string, method: string): Promise<{ jobId: string; tokensPerSecond: number } | null> {
    for (const measured of await this.store.measuredThroughput(model)) {
      const jobMethod = jobOptionsOf(measured).training.method ?? this.options.trainingDefaults?.method ?? "lora";
      if (jobMethod === method || (method === "dpo" && measured.options === null)) return { jobId: measured.jobId, tokensPerSecond: measured.tokensPerSecond };
    }
    return null;
  }

  private async hostedComparison(file: string, epochs: number): Promise<TrainingEstimateView["hosted"]> {
    try {
      const model = "gpt-4.1-mini-2025-04-14";
      const estimate = await estimateTraining({ file, model, counter: new TiktokenCounter("o200k_base", null), epochs, prices: defaultPriceTable() });
      return estimate.hosted.map((entry) => ({ model: entry.model, cost: entry.cost, currency: entry.currency, billed_tokens: entry.billedTokens }));
    } catch {
      return [];
    }
  }
}
