import type { FileObject, FineTuningJob, FineTuningJobCheckpoint, FineTuningJobCreateParams, FineTuningJobEvent, ListPage } from "./openai-wire.js";

/**
 * What every training backend offers (Tunekit's own job service, OpenAI, Azure OpenAI), in
 * OpenAI's wire shapes. Version 1. A conformance suite runs against each implementation.
 */
export const FINE_TUNE_PROVIDER_VERSION = 1;

export interface PageParams {
  /** id of the last item of the previous page */
  after?: string;
  /** page size, 1..100 (default 20) */
  limit?: number;
}

export interface ListJobsParams extends PageParams {
  /** only jobs whose metadata has these key/value pairs (OpenAI's `metadata[key]=value` filter) */
  metadata?: Record<string, string>;
}

export interface UploadFileParams {
  filename: string;
  purpose: "fine-tune";
  /** the file's bytes, streamed */
  content: AsyncIterable<Uint8Array> | Uint8Array;
}

export interface FineTuneProvider {
  readonly version: typeof FINE_TUNE_PROVIDER_VERSION;
  /** provider name, e.g. `local`, `openai`, `azure` */
  readonly name: string;
  uploadFile(params: UploadFileParams): Promise<FileObject>;
  createJob(params: FineTuningJobCreateParams): Promise<FineTuningJob>;
  getJob(jobId: string): Promise<FineTuningJob>;
  listJobs(params?: ListJobsParams): Promise<ListPage<FineTuningJob>>;
  listEvents(jobId: string, params?: PageParams): Promise<ListPage<FineTuningJobEvent>>;
  listCheckpoints(jobId: string, params?: PageParams): Promise<ListPage<FineTuningJobCheckpoint>>;
  cancelJob(jobId: string): Promise<FineTuningJob>;
  pauseJob(jobId: string): Promise<FineTuningJob>;
  resumeJob(jobId: string): Promise<FineTuningJob>;
}
