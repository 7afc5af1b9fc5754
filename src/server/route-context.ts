import type {} from "@fastify/multipart";
import type {} from "@fastify/swagger";
import type { FastifyRequest } from "fastify";
import { TunekitError } from "../core/errors.js";
import type { ApiKeyStore, Project } from "../jobs/api-key-store.js";
import type { FileStore } from "../jobs/file-store.js";
import type { FileWorkbench } from "../jobs/file-workbench.js";
import type { HostedJobs } from "../jobs/hosted-jobs.js";
import type { JobInsight } from "../jobs/job-insight.js";
import type { JobService } from "../jobs/job-service.js";
import type { TrainingEstimator } from "../jobs/training-estimate.js";
import type { ChatService } from "../serve/chat-service.js";

/** The services routes call. */
export interface Services {
  keys: ApiKeyStore;
  files: FileStore;
  jobs: JobService;
  /** the dataset toolkit on uploaded files */
  workbench: FileWorkbench;
  /** jobs table views, job detail and worker logs */
  insight: JobInsight;
  /** what a job would do before it is made */
  estimator: TrainingEstimator;
  /** fine-tuning and chat on hosted providers (none unless the server is started with them) */
  hosted: HostedJobs;
  /** chat completions over base and fine-tuned models (src/serve); absent = no inference routes */
  chat?: ChatService;
}

declare module "fastify" {
  interface FastifyRequest {
    project: Project | null;
  }
}

/** The project the auth hook attached to the request. */
export function projectOf(request: FastifyRequest): Project {
  if (!request.project) throw new TunekitError("request reached a route without a project", { kind: "internal" });
  return request.project;
}

/** Route generics (`app.get<Route>`): what Fastify's router and query parser give a route, before the services validate it. */
export type Query = Record<string, unknown>;
export type IdParams = { id: string };
/** `after` and `limit` of a list (parsePageParams checks them) */
export type PageQuery = { after?: string; limit?: string };
