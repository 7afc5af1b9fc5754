/**
 * The wire types the UI reads, from the server's own zod schemas in src/spec (types only: nothing
 * of the server is bundled). The UI and scripts see the same contract.
 */
export type { FileObject, FineTuningJob, FineTuningJobCheckpoint, FineTuningJobEvent, ListPage, Model } from "../../spec/openai-wire.js";
export type {
  FileReportView,
  HostedEstimate,
  HostedProviderInfo,
  JobDetail,
  JobSummary,
  ModelInfo,
  ProblemView,
  RecordMapping,
  ServerInfo,
  TrainingEstimateView,
} from "../../spec/tunekit-wire.js";
import type { FineTuningJob } from "../../spec/openai-wire.js";
import type { JobSummary } from "../../spec/tunekit-wire.js";

export type JobRow = FineTuningJob & { tunekit: JobSummary };

export interface ConfigCheck {
  ok: boolean;
  problems: Array<{ code: string; severity: "error" | "warning"; message: string; field?: string; line?: number }>;
  config: Record<string, unknown>;
  request: Record<string, unknown> | null;
  endpoint: string;
  estimate_endpoint: string;
  commands: { cli: string; curl: string; node: string; python: string } | null;
}

export interface FileColumns {
  source_format: string;
  columns: string[];
  rows: Array<Record<string, unknown>>;
  suggested: import("../../spec/tunekit-wire.js").RecordMapping;
}

export interface MappingPreview {
  examples: Array<{ row: number; example: { messages: Array<{ role: string; content: unknown }> } | null; problems: Array<{ message: string; fix: string }> }>;
}

export type { DatasetStatsView as DatasetStats } from "../../spec/tunekit-wire.js";
