import { Readable } from "node:stream";
import { FINE_TUNE_PROVIDER_VERSION, type FineTuneProvider, type ListJobsParams, type PageParams, type UploadFileParams } from "../spec/fine-tune-provider.js";
import type { FileObject, FineTuningJob, FineTuningJobCheckpoint, FineTuningJobCreateParams, FineTuningJobEvent, ListPage } from "../spec/openai-wire.js";
import type { Project } from "./api-key-store.js";
import type { FileStore } from "./file-store.js";
import type { JobService } from "./job-service.js";
import { parsePageParams } from "./page-params.js";

/**
 * Tunekit's own job service as a FineTuneProvider, acting for one project: what the server's
 * routes do, without HTTP (for in-process callers and the provider conformance suite). Named
 * `tunekit`, like the same service over HTTP (providers/openai/tunekit-server-provider.ts): its jobs
 * run on whatever execution backend the scheduler has, local or not.
 */
export class JobServiceProvider implements FineTuneProvider {
  readonly version = FINE_TUNE_PROVIDER_VERSION;
  readonly name = "tunekit";

  constructor(
    private readonly jobs: JobService,
    private readonly files: FileStore,
    private readonly project: Project,
  ) {}

  uploadFile(params: UploadFileParams): Promise<FileObject> {
    const content = params.content instanceof Uint8Array ? Readable.from([params.content]) : params.content;
    return this.files.upload(this.project.id, { filename: params.filename, purpose: params.purpose, content });
  }

  createJob(params: FineTuningJobCreateParams): Promise<FineTuningJob> {
    return this.jobs.create(this.project, params);
  }

  getJob(jobId: string): Promise<FineTuningJob> {
    return this.jobs.get(this.project, jobId);
  }

  listJobs(params: ListJobsParams = {}): Promise<ListPage<FineTuningJob>> {
    const { metadata, ...page } = params;
    return this.jobs.list(this.project, parsePageParams({ ...page }), metadata);
  }

  listEvents(jobId: string, params: PageParams = {}): Promise<ListPage<FineTuningJobEvent>> {
    return this.jobs.listEvents(this.project, jobId, parsePageParams({ ...params }));
  }

  listCheckpoints(jobId: string, params: PageParams = {}): Promise<ListPage<FineTuningJobCheckpoint>> {
    return this.jobs.listCheckpoints(this.project, jobId, parsePageParams({ ...params }, { limit: 10 }));
  }

  cancelJob(jobId: string): Promise<FineTuningJob> {
    return this.jobs.cancel(this.project, jobId);
  }

  pauseJob(jobId: string): Promise<FineTuningJob> {
    return this.jobs.pause(this.project, jobId);
  }

  resumeJob(jobId: string): Promise<FineTuningJob> {
    return this.jobs.resume(this.project, jobId);
  }
}
