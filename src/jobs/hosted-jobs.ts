import { createReadStream } from "node:fs";
import { TunekitError } from "../core/errors.js";
import { estimateTraining } from "../data/estimate/estimate-training.js";
import { defaultPriceTable } from "../data/estimate/price-table.js";
import { resolveEpochs } from "../data/estimate/resolve-epochs.js";
import { TiktokenCounter, openAiEncodingFor } from "../data/tokens/tiktoken-counter.js";
import type { HostedProvider } from "../spec/hosted-provider.js";
import type { FineTuningJob, FineTuningJobCheckpoint, FineTuningJobCreateParams, FineTuningJobEvent, ListPage } from "../spec/openai-wire.js";
import type { HostedEstimate, HostedProviderInfo } from "../spec/tunekit-wire.js";
import type { Project } from "./api-key-store.js";
import { parseCreateJobParams } from "./create-job-params.js";
import type { FileStore } from "./file-store.js";
import type { Page } from "./page-params.js";

/** The metadata key that says which project of this server a hosted job belongs to. */
export const PROJECT_METADATA_KEY = "tunekit_project";

/**
 * Fine-tuning on a hosted provider from this server: a job is made from files already uploaded and
 * validated here (they are uploaded to the provider once, on first use), and tagged with the
 * project in its metadata; every read and action checks that tag, so projects stay isolated
 * although they share the server's provider key. The provider keeps the job's state: nothing is
 * mirrored, so a restart of this server loses nothing.
 */
export class HostedJobs {
  private readonly uploads = new Map<string, Promise<string>>();

  constructor(
    private readonly files: FileStore,
    private readonly providers: readonly HostedProvider[],
  ) {}

  list(): HostedProviderInfo[] {
    return this.providers.map((hosted) => ({ name: hosted.name, label: hosted.label, models: hosted.models, chat: hosted.chat !== null }));
  }

  provider(name: string): HostedProvider {
    const found = this.providers.find((hosted) => hosted.name === name);
    if (!found) {
      const known = this.providers.map((hosted) => `\`${hosted.name}\``).join(", ");
      throw new TunekitError(`no hosted provider \`${name}\` on this server`, {
        kind: "not_found",
        code: "provider_not_found",
        field: "provider",
        fix: known ? `use ${known}` : "start the server with `--hosted openai` (or azure) to fine-tune on a hosted provider",
      });
    }
    return found;
  }

  /** Create a job on the provider from this project's files (ids of this server). */
  async create(project: Project, name: string, body: unknown): Promise<FineTuningJob> {
    const hosted = this.provider(name);
    if (body && typeof body === "object" && "tunekit" in body) {
      throw new TunekitError("`tunekit` settings (LoRA rank, max steps ...) do not apply to hosted fine-tuning", {
        kind: "usage",
        code: "invalid_request",
        field: "tunekit",
        fix: "send OpenAI's own parameters only (`method`, `suffix`, `seed`, `validation_file`)",
      });
    }
    const input = parseCreateJobParams(body);
    if (!hosted.models.includes(input.model)) {
      throw new TunekitError(`\`${input.model}\` is not a model ${hosted.label} fine-tunes here`, {
        kind: "usage",
        code: "model_not_available",
        field: "model",
        fix: `use one of ${hosted.models.map((model) => `\`${model}\``).join(", ")}`,
      });
    }
    const trainingFile = await this.remoteFile(project, hosted, input.trainingFile, "training_file");
    const validationFile = input.validationFile ? await this.remoteFile(project, hosted, input.validationFile, "validation_file") : null;
    const hyperparameters = input.hyperparameters;
    const params: FineTuningJobCreateParams = {
      model: input.model,
      training_file: trainingFile,
      ...(validationFile ? { validation_file: validationFile } : {}),
      ...(input.suffix ? { suffix: input.suffix } : {}),
      ...(input.seed !== null ? { seed: input.seed } : {}),
      method:
        input.methodType === "dpo"
          ? { type: "dpo", dpo: { hyperparameters } }
          : {
              type: "supervised",
              supervised: {
                hyperparameters: { batch_size: hyperparameters.batch_size, learning_rate_multiplier: hyperparameters.learning_rate_multiplier, n_epochs: hyperparameters.n_epochs },
              },
            },
      // the project (for isolation) and this server's file ids (a duplicate starts from them)
      metadata: {
        ...(input.metadata ?? {}),
        [PROJECT_METADATA_KEY]: project.id,
        tunekit_training_file: input.trainingFile,
        ...(input.validationFile ? { tunekit_validation_file: input.validationFile } : {}),
      },
    };
    return hosted.provider.createJob(params);
  }

  async listJobs(project: Project, name: string, page: Page): Promise<ListPage<FineTuningJob>> {
    return this.provider(name).provider.listJobs({ limit: page.limit, ...(page.after ? { after: page.after } : {}), metadata: { [PROJECT_METADATA_KEY]: project.id } });
  }

  async getJob(project: Project, name: string, jobId: string): Promise<FineTuningJob> {
    const job = await this.provider(name).provider.getJob(jobId);
    if (job.metadata?.[PROJECT_METADATA_KEY] !== project.id) throw notThisProject(jobId);
    return job;
  }

  async listEvents(project: Project, name: string, jobId: string, page: Page): Promise<ListPage<FineTuningJobEvent>> {
    await this.getJob(project, name, jobId);
    return this.provider(name).provider.listEvents(jobId, { limit: page.limit, ...(page.after ? { after: page.after } : {}) });
  }

  async listCheckpoints(project: Project, name: string, jobId: string, page: Page): Promise<ListPage<FineTuningJobCheckpoint>> {
    await this.getJob(project, name, jobId);
    return this.provider(name).provider.listCheckpoints(jobId, { limit: page.limit, ...(page.after ? { after: page.after } : {}) });
  }

  async act(project: Project, name: string, jobId: string, action: "cancel" | "pause" | "resume"): Promise<FineTuningJob> {
    await this.getJob(project, name, jobId);
    const provider = this.provider(name).provider;
    return action === "cancel" ? provider.cancelJob(jobId) : action === "pause" ? provider.pauseJob(jobId) : provider.resumeJob(jobId);
  }

  /** What the same job costs on the provider: billed tokens of this server's file with the model's encoding, and the price table. */
  async estimate(project: Project, name: string, body: unknown): Promise<HostedEstimate> {
    const hosted = this.provider(name);
    const input = parseCreateJobParams(body);
    const file = await this.files.get(project.id, input.trainingFile, "training_file");
    await this.files.whenValidated(file.object.id);
    const validated = await this.files.get(project.id, input.trainingFile, "training_file");
    const examples = validated.validation?.validExamples ?? 0;
    const epochs = resolveEpochs(Math.max(1, examples), input.hyperparameters.n_epochs);
    const encoding = openAiEncodingFor(input.model) ?? "o200k_base";
    const estimate = await estimateTraining({
      file: this.files.pathOf(file.object.id),
      model: input.model,
      counter: new TiktokenCounter(encoding, null),
      epochs,
      prices: defaultPriceTable(),
    });
    const price = estimate.hosted.find((entry) => entry.selected) ?? null;
    return {
      provider: hosted.name,
      model: input.model,
      examples,
      epochs,
      billed_tokens: price?.billedTokens ?? null,
      cost: price?.cost ?? null,
      currency: price?.currency ?? "USD",
      basis: price
        ? `${price.pricePerMillion} ${price.currency} per 1M training tokens (price table as of ${price.asOf}); the provider decides batch size and steps`
        : `no price for \`${input.model}\` in the price table: the provider's own price applies`,
    };
  }

  /**
   * Chat with a model of the provider: one of its base models, or a fine-tuned model (or
   * checkpoint) of this project's hosted jobs.
   */
  async chat(project: Project, name: string, body: Record<string, unknown>, signal: AbortSignal): Promise<Response> {
    const hosted = this.provider(name);
    if (!hosted.chat) throw new TunekitError(`${hosted.label} serves no chat models through this server`, { kind: "usage", code: "chat_not_available", field: "model" });
    const model = typeof body.model === "string" ? body.model : "";
    if (!hosted.models.includes(model) && !(await this.ownsModel(project, hosted, model))) {
      throw new TunekitError(`no model \`${model}\` of ${hosted.label} in this project`, {
        kind: "not_found",
        code: "model_not_found",
        field: "model",
        fix: "use a base model of the provider or a model of this project's hosted jobs",
      });
    }
    return hosted.chat(body, signal);
  }

  private async ownsModel(project: Project, hosted: HostedProvider, model: string): Promise<boolean> {
    let after: string | undefined;
    for (;;) {
      const page = await hosted.provider.listJobs({ limit: 100, ...(after ? { after } : {}), metadata: { [PROJECT_METADATA_KEY]: project.id } });
      for (const job of page.data) {
        if (job.fine_tuned_model === model) return true;
        if (job.fine_tuned_model && model.startsWith(`${job.fine_tuned_model}:ckpt-step-`)) return true;
      }
      if (!page.has_more || page.data.length === 0) return false;
      after = page.data.at(-1)?.id;
    }
  }

  /** The provider's id of one of this project's files, uploading it on first use. */
  private async remoteFile(project: Project, hosted: HostedProvider, fileId: string, field: string): Promise<string> {
    const file = await this.files.get(project.id, fileId, field);
    await this.files.whenValidated(file.object.id);
    const validated = await this.files.get(project.id, fileId, field);
    if (!validated.validation?.ok) {
      throw new TunekitError(`file \`${fileId}\` (${file.object.filename}) has errors: a hosted provider would refuse it too`, {
        kind: "usage",
        code: `invalid_${field}`,
        field,
        fix: "fix it in the Data screen (GET /v1/tunekit/files/{id}/report)",
      });
    }
    const key = `${hosted.name}:${fileId}`;
    let pending = this.uploads.get(key);
    if (!pending) {
      pending = hosted.provider
        .uploadFile({ filename: file.object.filename, purpose: "fine-tune", content: createReadStream(this.files.pathOf(fileId)) })
        .then((remote) => remote.id);
      pending.catch(() => this.uploads.delete(key));
      this.uploads.set(key, pending);
    }
    return pending;
  }
}

function notThisProject(jobId: string): TunekitError {
  return new TunekitError(`no hosted fine-tuning job \`${jobId}\` in this project`, {
    kind: "not_found",
    code: "job_not_found",
    field: "fine_tuning_job_id",
    fix: "list this project's hosted jobs (GET /v1/tunekit/hosted/{provider}/jobs)",
  });
}
