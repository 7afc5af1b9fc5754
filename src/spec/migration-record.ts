/**
 * migration.json: what `tunekit migrate openai` wrote for one job, and what `tunekit migrate
 * parity` reads back. Version 1. Paths are relative to the job's folder.
 */
export const MIGRATION_RECORD_VERSION = 1;
/** its file name in the job's folder */
export const MIGRATION_RECORD = "migration.json";

export interface MigrationRecord {
  version: typeof MIGRATION_RECORD_VERSION;
  createdAt: string;
  source: {
    provider: "openai";
    baseURL: string;
    keyEnv: string;
    jobId: string;
    baseModel: string;
    /** the model being left; null for a job that did not succeed */
    fineTunedModel: string | null;
    settings: Record<string, unknown>;
  };
  files: {
    /** the training file as the provider holds it */
    training: string;
    validation: string | null;
    /** what the new job trains on (the training file, or its train split) */
    trainOn: string;
    /** what the new job validates on, and the parity report scores */
    heldOut: string | null;
    heldOutNote: string;
  };
  /** lifecycle warnings of the old model (fine-tuning end, shutdown) */
  warnings: string[];
  proposal: { model: string; reason: string; candidates: unknown[] } | null;
  changes: Array<{ setting: string; openai: string; tunekit: string; changed: boolean; note: string }>;
  target:
    | { kind: "server"; baseURL: string; jobId: string | null; model: string; fineTunedModel: string | null; status: string | null; params: Record<string, unknown> }
    | { kind: "local"; config: string; model: string }
    | { kind: "dry-run"; model: string | null; params: Record<string, unknown> | null };
  parity: { verdict: string; conclusion: string; report: string } | null;
}
