import OpenAI, { toFile } from "openai";
import { TunekitError } from "../../core/errors.js";
import type { TunekitConfig } from "../../core/config-schema.js";
import { FINE_TUNE_PROVIDER_VERSION, type FineTuneProvider, type ListJobsParams, type PageParams, type UploadFileParams } from "../../spec/fine-tune-provider.js";
import type { FileObject, FineTuningJob, FineTuningJobCheckpoint, FineTuningJobCreateParams, FineTuningJobEvent, ListPage } from "../../spec/openai-wire.js";
import { providerError, type ProviderContext } from "./provider-error.js";

export const OPENAI_BASE_URL = "https://api.openai.com/v1";

/**
 * A FineTuneProvider over the official `openai` SDK. The SDK client decides where requests go:
 * `OpenAI` for api.openai.com or a Tunekit server, `AzureOpenAI` for Azure (see
 * ../azure/azure-fine-tune-provider.ts). The SDK retries 408/409/429/5xx and dropped connections
 * with exponential backoff and honours Retry-After; `maxRetries` comes from the config.
 */
export class OpenAIFineTuneProvider implements FineTuneProvider {
  readonly version = FINE_TUNE_PROVIDER_VERSION;
  readonly name: string;

  constructor(
    readonly client: OpenAI,
    private readonly context: ProviderContext,
  ) {
    this.name = context.name;
  }

  async uploadFile(params: UploadFileParams): Promise<FileObject> {
    // the SDK needs the bytes in hand to retry an upload, so a stream is read once here
    const content = params.content instanceof Uint8Array ? params.content : await collect(params.content);
    return this.call(async () => (await this.client.files.create({ file: await toFile(content, params.filename), purpose: params.purpose })) as FileObject);
  }

  /** a file's metadata (name, bytes, purpose) */
  getFile(fileId: string): Promise<FileObject> {
    return this.call(async () => (await this.client.files.retrieve(fileId)) as FileObject);
  }

  /** a file's bytes (GET /v1/files/{id}/content): how a migration takes its data along */
  downloadFile(fileId: string): Promise<Uint8Array> {
    return this.call(async () => new Uint8Array(await (await this.client.files.content(fileId)).arrayBuffer()));
  }

  /** every file, newest first (all pages) */
  listFiles(): Promise<FileObject[]> {
    return this.call(async () => {
      const files: FileObject[] = [];
      for await (const file of this.client.files.list()) files.push(file as FileObject);
      return files;
    });
  }

  /** a file's bytes as a stream (GET /v1/files/{id}/content) */
  openFile(fileId: string): Promise<Response> {
    return this.call(() => this.client.files.content(fileId));
  }

  deleteFile(fileId: string): Promise<{ id: string; object: string; deleted: boolean }> {
    return this.call(() => this.client.files.delete(fileId));
  }

  /** a request of the server's own (a Tunekit server's /v1/tunekit routes), with the provider's errors */
  request<T>(run: (client: OpenAI) => Promise<T>): Promise<T> {
    return this.call(() => run(this.client));
  }

  createJob(params: FineTuningJobCreateParams): Promise<FineTuningJob> {
    return this.call(async () => (await this.client.fineTuning.jobs.create(params as OpenAI.FineTuning.JobCreateParams)) as unknown as FineTuningJob);
  }

  getJob(jobId: string): Promise<FineTuningJob> {
    return this.call(async () => (await this.client.fineTuning.jobs.retrieve(jobId)) as unknown as FineTuningJob);
  }

  listJobs(params: ListJobsParams = {}): Promise<ListPage<FineTuningJob>> {
    return this.call(async () => page<FineTuningJob>(await this.client.fineTuning.jobs.list(params)));
  }

  listEvents(jobId: string, params: PageParams = {}): Promise<ListPage<FineTuningJobEvent>> {
    return this.call(async () => page<FineTuningJobEvent>(await this.client.fineTuning.jobs.listEvents(jobId, params)));
  }

  listCheckpoints(jobId: string, params: PageParams = {}): Promise<ListPage<FineTuningJobCheckpoint>> {
    return this.call(async () => page<FineTuningJobCheckpoint>(await this.client.fineTuning.jobs.checkpoints.list(jobId, params)));
  }

  cancelJob(jobId: string): Promise<FineTuningJob> {
    return this.call(async () => (await this.client.fineTuning.jobs.cancel(jobId)) as unknown as FineTuningJob);
  }

  pauseJob(jobId: string): Promise<FineTuningJob> {
    return this.call(async () => (await this.client.fineTuning.jobs.pause(jobId)) as unknown as FineTuningJob);
  }

  resumeJob(jobId: string): Promise<FineTuningJob> {
    return this.call(async () => (await this.client.fineTuning.jobs.resume(jobId)) as unknown as FineTuningJob);
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw providerError(error, this.context);
    }
  }
}

function page<T>(result: { data: unknown[]; has_more?: boolean; hasNextPage(): boolean }): ListPage<T> {
  return { object: "list", data: result.data as T[], has_more: result.has_more ?? result.hasNextPage() };
}

async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}

export interface OpenAIProviderOverrides {
  /** a Tunekit server or another OpenAI-compatible fine-tuning API, instead of `openai.base_url` */
  baseURL?: string;
  /** the key itself, instead of reading `openai.api_key_env` */
  apiKey?: string;
}

/** `provider: openai` from the run config (and `tunekit train --server URL`). */
export function createOpenAIProvider(config: TunekitConfig, environment: NodeJS.ProcessEnv = process.env, overrides: OpenAIProviderOverrides = {}): OpenAIFineTuneProvider {
  const settings = config.openai;
  const baseURL = (overrides.baseURL ?? settings.base_url ?? OPENAI_BASE_URL).replace(/\/+$/, "");
  const apiKey = overrides.apiKey ?? environment[settings.api_key_env];
  if (!apiKey) {
    throw new TunekitError(`no API key: \`${settings.api_key_env}\` is not set`, {
      kind: "usage",
      code: "missing_api_key",
      field: "openai.api_key_env",
      fix: `export ${settings.api_key_env}=<key>, or name another variable in \`openai.api_key_env\``,
    });
  }
  const client = new OpenAI({
    apiKey,
    baseURL,
    organization: settings.organization,
    maxRetries: settings.max_retries,
    timeout: Math.round(settings.timeout_s * 1000),
  });
  return new OpenAIFineTuneProvider(client, { name: "openai", baseURL, apiKeyEnv: overrides.apiKey ? undefined : settings.api_key_env });
}
