import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import OpenAI from "openai";
import { TunekitError } from "../core/errors.js";
import { MIGRATION_RECORD, MIGRATION_RECORD_VERSION, type MigrationRecord } from "../spec/migration-record.js";
import { runParity, writeParityReport, type ParityReport } from "./parity.js";

export interface MigrationParityOptions {
  /** a job's folder from `tunekit migrate openai` */
  folder: string;
  openai: { baseURL?: string; keyEnv: string };
  server: { server?: string; apiKey?: string };
  limit: number | null;
  metrics?: string[];
  maxTokens: number;
  tolerance: number;
  /** wait for the new job to end first */
  wait: boolean;
  environment?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** the variable the parity run reads the Tunekit server's key from (the eval room reads keys from the environment) */
const SERVER_KEY_ENV = "TUNEKIT_MIGRATE_SERVER_KEY";

export async function readMigrationRecord(folder: string): Promise<MigrationRecord> {
  const file = path.join(folder, MIGRATION_RECORD);
  let record: MigrationRecord;
  try {
    record = JSON.parse(await readFile(file, "utf8")) as MigrationRecord;
  } catch (error) {
    throw new TunekitError(`cannot read \`${file}\`: ${error instanceof Error ? error.message : String(error)}`, {
      kind: "usage",
      code: "not_a_migration",
      field: "folder",
      fix: "pass a job's folder written by `tunekit migrate openai` (<out>/<ftjob-id>)",
      cause: error,
    });
  }
  if (record.version !== MIGRATION_RECORD_VERSION) {
    throw new TunekitError(`\`${file}\` is version ${String(record.version)}; this Tunekit reads version ${MIGRATION_RECORD_VERSION}`, {
      kind: "usage",
      code: "not_a_migration",
      field: "folder",
      fix: "migrate the job again with this Tunekit",
    });
  }
  return record;
}

function usage(message: string, fix: string): TunekitError {
  return new TunekitError(message, { kind: "usage", code: "parity_not_ready", field: "folder", fix });
}

/**
 * The parity report of one migrated job: reads its migration.json, finds the new model (asking the
 * server, waiting with `wait`), runs the held-out examples through the old and the new model, and
 * writes <folder>/parity/report.{html,md,json}. The record gets the verdict.
 */
export async function migrationParity(options: MigrationParityOptions): Promise<{ report: ParityReport; files: { json: string; markdown: string; html: string } }> {
  const environment = options.environment ?? process.env;
  const log = options.log ?? (() => {});
  const folder = path.resolve(options.folder);
  const record = await readMigrationRecord(folder);
  const target = record.target;
  if (record.source.fineTunedModel === null)
    throw usage(`${record.source.jobId} has no fine-tuned model to compare against (it ended without one)`, "compare a job that succeeded on OpenAI");
  if (record.files.heldOut === null)
    throw usage(`${record.source.jobId} has no held-out examples: ${record.files.heldOutNote}`, "migrate it again with --held-out 0.1 (or give the OpenAI job a validation file)");
  if (target.kind !== "server" || target.jobId === null)
    throw usage(
      `${record.source.jobId} has no Tunekit server job (it was migrated with ${target.kind === "local" ? "--local" : "--dry-run"})`,
      target.kind === "local" ? "train it (`tunekit train -c tunekit.yaml`), serve it, then compare with `tunekit eval`" : "migrate it without --dry-run",
    );

  const serverURL = (options.server.server || environment.TUNEKIT_SERVER || target.baseURL).replace(/\/+$/, "");
  const baseURL = serverURL.endsWith("/v1") ? serverURL : `${serverURL}/v1`;
  const apiKey = options.server.apiKey || environment.TUNEKIT_API_KEY || "no-key";
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 2 });
  let job = await client.fineTuning.jobs.retrieve(target.jobId);
  while (options.wait && !["succeeded", "failed", "cancelled"].includes(job.status)) {
    await sleep(1000);
    job = await client.fineTuning.jobs.retrieve(target.jobId);
  }
  if (job.status !== "succeeded" || !job.fine_tuned_model) {
    throw usage(
      `the new job ${target.jobId} is ${job.status}, so there is no new model to compare yet`,
      job.status === "failed" || job.status === "cancelled" ? "migrate the job again" : "wait for it (`--wait`)",
    );
  }
  Object.assign(target, { status: job.status, fineTunedModel: job.fine_tuned_model });

  process.env[SERVER_KEY_ENV] = apiKey;
  const oldBase = options.openai.baseURL ?? record.source.baseURL;
  log(`parity: ${record.source.fineTunedModel} at ${oldBase} vs ${job.fine_tuned_model} at ${baseURL}`);
  const report = await runParity({
    old: { endpoint: { base_url: oldBase, api_key_env: options.openai.keyEnv }, model: record.source.fineTunedModel, label: "old (OpenAI)" },
    new: { endpoint: { base_url: baseURL, api_key_env: SERVER_KEY_ENV }, model: job.fine_tuned_model, label: "new (Tunekit)" },
    exampleFile: path.join(folder, record.files.heldOut),
    exampleNote: record.files.heldOutNote,
    trainFile: path.join(folder, record.files.trainOn),
    metrics: options.metrics,
    limit: options.limit,
    maxTokens: options.maxTokens,
    tolerance: options.tolerance,
    log,
  });
  const files = await writeParityReport(report, path.join(folder, "parity"));
  record.parity = { verdict: report.verdict, conclusion: report.conclusion, report: path.relative(folder, files.html) };
  await writeFile(path.join(folder, MIGRATION_RECORD), `${JSON.stringify(record, null, 2)}\n`);
  return { report, files };
}
