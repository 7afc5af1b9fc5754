import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseConfig } from "../../../core/config-load.js";
import { renderStarterConfig } from "../../../core/config-template.js";
import { TunekitError, isTunekitError } from "../../../core/errors.js";
import { isoDay, modelLifecycle } from "../../../data/estimate/model-lifecycle.js";
import { defaultPriceTable, findHostedPrice } from "../../../data/estimate/price-table.js";
import { splitDataset } from "../../../data/split/split-dataset.js";
import { MIGRATION_RECORD, MIGRATION_RECORD_VERSION, type MigrationRecord } from "../../../spec/migration-record.js";
import type { FineTuningJob, FineTuningJobCreateParams } from "../../../spec/openai-wire.js";
import type { ModelInfo, TrainingEstimateView } from "../../../spec/tunekit-wire.js";
import { createOpenAIProvider, type OpenAIFineTuneProvider } from "../openai-fine-tune-provider.js";
import { formatChanges, mapJobSettings, type SettingChange } from "./map-job-settings.js";
import { openAiJobSettings, type OpenAiJobSettings } from "./openai-job-settings.js";
import { proposeBaseModel, type BaseModelProposal, type ModelCandidate } from "./propose-base-model.js";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const POLL_MS = 1000;

export interface MigrateOptions {
  /** ftjob ids; empty for every succeeded job (every job with `includeUnsucceeded`) */
  jobIds: string[];
  out: string;
  openai: { baseURL?: string; keyEnv: string };
  /** the Tunekit server that trains the new jobs; null writes a tunekit.yaml per job instead */
  server: { server?: string; apiKey?: string } | null;
  /** base model for every new job instead of the proposal */
  model: string | null;
  includeUnsucceeded: boolean;
  keepLearningRateMultiplier: boolean;
  dryRun: boolean;
  wait: boolean;
  /** writes each job's parity report once its new job succeeded (the eval room's, given by the caller) */
  parity: boolean;
  runParity?: (folder: string) => Promise<{ verdict: string; conclusion: string; report: string }>;
  /** share of the training file held out when a job has no validation file */
  heldOut: number;
  seed: number;
  neededUntil: string | null;
  environment?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface MigratedJob {
  jobId: string;
  folder: string;
  oldModel: string | null;
  baseModel: string;
  warnings: string[];
  proposal: BaseModelProposal | null;
  changes: SettingChange[];
  newJobId: string | null;
  newModel: string | null;
  newFineTunedModel: string | null;
  newStatus: string | null;
  localConfig: string | null;
  parity: { verdict: string; conclusion: string; report: string } | null;
  error: string | null;
}

export interface MigrationResult {
  source: string;
  target: string;
  out: string;
  jobs: MigratedJob[];
}

/** The Tunekit server as an OpenAI fine-tuning API (the same provider, pointed at it). */
function serverProvider(flags: { server?: string; apiKey?: string }, environment: NodeJS.ProcessEnv): OpenAIFineTuneProvider {
  const server = (flags.server || environment.TUNEKIT_SERVER || "http://127.0.0.1:8000").replace(/\/+$/, "");
  const baseURL = server.endsWith("/v1") ? server : `${server}/v1`;
  const config = parseConfig({ openai: { base_url: baseURL, api_key_env: "TUNEKIT_API_KEY" } }, "--server");
  return createOpenAIProvider(config, environment, { baseURL, apiKey: flags.apiKey || environment.TUNEKIT_API_KEY || "no-key" });
}

function sourceProvider(flags: MigrateOptions["openai"], environment: NodeJS.ProcessEnv): OpenAIFineTuneProvider {
  const config = parseConfig({ openai: { base_url: flags.baseURL ?? null, api_key_env: flags.keyEnv } }, "--openai-base-url");
  return createOpenAIProvider(config, environment);
}

async function listAllJobs(source: OpenAIFineTuneProvider): Promise<FineTuningJob[]> {
  const jobs: FineTuningJob[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await source.listJobs({ limit: 100, ...(after && { after }) });
    jobs.push(...page.data);
    if (!page.has_more || page.data.length === 0) return jobs;
    after = page.data[page.data.length - 1]!.id;
  }
}

async function download(source: OpenAIFineTuneProvider, fileId: string, to: string): Promise<{ file: string; filename: string; bytes: number }> {
  const [meta, bytes] = await Promise.all([source.getFile(fileId), source.downloadFile(fileId)]);
  await writeFile(to, bytes);
  return { file: to, filename: meta.filename, bytes: bytes.byteLength };
}

function message(error: unknown): string {
  if (isTunekitError(error)) return error.format();
  return error instanceof Error ? error.message : String(error);
}

async function writeRecord(folder: string, record: MigrationRecord): Promise<void> {
  await writeFile(path.join(folder, MIGRATION_RECORD), `${JSON.stringify(record, null, 2)}\n`);
}

/** Wait for a server job to end, logging each status change; returns the last retrieved job. */
export async function waitForJob(target: OpenAIFineTuneProvider, jobId: string, log: (line: string) => void): Promise<FineTuningJob> {
  let last = "";
  for (;;) {
    const job = await target.getJob(jobId);
    if (job.status !== last) {
      log(`  ${jobId}: ${job.status}${job.fine_tuned_model ? ` -> ${job.fine_tuned_model}` : ""}${job.error ? ` (${job.error.message})` : ""}`);
      last = job.status;
    }
    if (TERMINAL.has(job.status)) return job;
    await sleep(POLL_MS);
  }
}

async function candidatesFor(target: OpenAIFineTuneProvider, params: FineTuningJobCreateParams, only: string | null): Promise<ModelCandidate[]> {
  const catalogue = await target.client.get<{ data: ModelInfo[] }>("/tunekit/models");
  const models = only === null ? catalogue.data : catalogue.data.filter((model) => model.id === only);
  if (only !== null && models.length === 0) {
    throw new TunekitError(`the server offers no base model \`${only}\` (it offers: ${catalogue.data.map((model) => model.id).join(", ") || "none"})`, {
      kind: "usage",
      code: "model_not_found",
      field: "--model",
      fix: "pass one of the server's models (GET /v1/tunekit/models), or leave --model out for the proposal",
    });
  }
  const candidates: ModelCandidate[] = [];
  // one at a time: each estimate runs the worker's planner on the server
  for (const model of models) {
    try {
      candidates.push({ model, estimate: await target.client.post<TrainingEstimateView>("/tunekit/estimate", { body: { ...params, model: model.id } }) });
    } catch (error) {
      candidates.push({ model, estimate: null, error: error instanceof Error ? error.message : String(error) });
    }
  }
  return candidates;
}

interface PreparedData {
  training: string;
  validation: string | null;
  trainOn: string;
  heldOut: string | null;
  heldOutNote: string;
}

async function prepareData(source: OpenAIFineTuneProvider, settings: OpenAiJobSettings, folder: string, options: MigrateOptions): Promise<PreparedData> {
  const training = await download(source, settings.trainingFile, path.join(folder, "training.jsonl"));
  if (settings.validationFile !== null) {
    const validation = await download(source, settings.validationFile, path.join(folder, "validation.jsonl"));
    return {
      training: training.file,
      validation: validation.file,
      trainOn: training.file,
      heldOut: validation.file,
      heldOutNote: "The job's own validation file: neither model trained on it.",
    };
  }
  if (options.heldOut === 0) {
    return {
      training: training.file,
      validation: null,
      trainOn: training.file,
      heldOut: null,
      heldOutNote: "No validation file and --held-out 0: there is nothing held out to compare on.",
    };
  }
  const split = await splitDataset({ file: training.file, validation: options.heldOut, test: 0, seed: options.seed, outDir: folder });
  const heldOut = split.splits.validation;
  if (heldOut.file === null || heldOut.examples === 0) {
    return {
      training: training.file,
      validation: null,
      trainOn: training.file,
      heldOut: null,
      heldOutNote: `No validation file, and ${split.examples} examples are too few to hold ${options.heldOut} out.`,
    };
  }
  return {
    training: training.file,
    validation: null,
    trainOn: split.splits.train.file!,
    heldOut: heldOut.file,
    heldOutNote: `No validation file: ${heldOut.examples} of ${split.examples} training examples held out (seed ${options.seed}). The new model did not train on them; the old one did, which favours it.`,
  };
}

async function migrateOne(
  job: FineTuningJob,
  source: OpenAIFineTuneProvider,
  target: OpenAIFineTuneProvider | null,
  options: MigrateOptions,
  log: (line: string) => void,
): Promise<MigratedJob> {
  const settings = openAiJobSettings(job);
  const folder = path.resolve(options.out, job.id);
  await mkdir(folder, { recursive: true });
  const result: MigratedJob = {
    jobId: job.id,
    folder,
    oldModel: settings.fineTunedModel,
    baseModel: settings.baseModel,
    warnings: [],
    proposal: null,
    changes: [],
    newJobId: null,
    newModel: null,
    newFineTunedModel: null,
    newStatus: null,
    localConfig: null,
    parity: null,
    error: null,
  };
  await writeFile(path.join(folder, "openai-job.json"), `${JSON.stringify(job, null, 2)}\n`);
  const price = findHostedPrice(defaultPriceTable(), settings.baseModel);
  if (price) result.warnings = modelLifecycle(price, { today: isoDay(new Date()), neededUntil: options.neededUntil, name: settings.fineTunedModel ?? settings.baseModel }).warnings;
  for (const warning of result.warnings) log(`  warning: ${warning}`);

  log(`  downloading ${settings.trainingFile}${settings.validationFile ? ` and ${settings.validationFile}` : ""}`);
  const data = await prepareData(source, settings, folder, options);
  const record: MigrationRecord = {
    version: MIGRATION_RECORD_VERSION,
    createdAt: new Date().toISOString(),
    source: {
      provider: "openai",
      baseURL: source.client.baseURL,
      keyEnv: options.openai.keyEnv,
      jobId: job.id,
      baseModel: settings.baseModel,
      fineTunedModel: settings.fineTunedModel,
      settings: { ...settings },
    },
    files: {
      training: path.basename(data.training),
      validation: data.validation && path.basename(data.validation),
      trainOn: path.basename(data.trainOn),
      heldOut: data.heldOut && path.basename(data.heldOut),
      heldOutNote: data.heldOutNote,
    },
    warnings: result.warnings,
    proposal: null,
    changes: [],
    target: { kind: "dry-run", model: null, params: null },
    parity: null,
  };

  if (target === null) {
    const model = options.model!;
    const { changes } = mapJobSettings(settings, {
      model,
      trainingFile: data.trainOn,
      validationFile: data.heldOut,
      keepLearningRateMultiplier: options.keepLearningRateMultiplier,
      modelReason: "chosen with --model",
      heldOutNote: data.validation === null && data.heldOut !== null ? data.heldOutNote : null,
    });
    const config = path.join(folder, "tunekit.yaml");
    await writeFile(
      config,
      renderStarterConfig({
        model,
        data: { train: path.basename(data.trainOn), validation: data.heldOut && path.basename(data.heldOut) },
        training: {
          method: settings.method === "dpo" ? "dpo" : "lora",
          epochs: settings.nEpochs,
          batch_size: settings.batchSize,
          ...(settings.seed !== null && { seed: settings.seed }),
          ...(settings.method === "dpo" && typeof settings.beta === "number" && { dpo_beta: settings.beta }),
        },
        output: { suffix: settings.suffix },
      }),
    );
    Object.assign(result, { changes, newModel: model, localConfig: config });
    Object.assign(record, { changes, target: { kind: "local", config: "tunekit.yaml", model } });
    await writeRecord(folder, record);
    return result;
  }

  const upload = async (file: string) => (await target.uploadFile({ filename: path.basename(file), purpose: "fine-tune", content: await readFile(file) })).id;
  log(`  uploading to ${target.client.baseURL}`);
  const trainingFile = await upload(data.trainOn);
  const validationFile = data.heldOut === null ? null : await upload(data.heldOut);
  const draft = mapJobSettings(settings, {
    model: "",
    trainingFile,
    validationFile,
    keepLearningRateMultiplier: options.keepLearningRateMultiplier,
    modelReason: "",
    heldOutNote: null,
  }).params;
  log(`  estimating on the server's base models`);
  const candidates = await candidatesFor(target, draft, options.model);
  const proposal = proposeBaseModel(candidates, settings.baseModel);
  if (proposal === null) {
    throw new TunekitError(
      `no base model on ${target.client.baseURL} can train ${job.id}'s data: ${candidates.map((candidate) => `${candidate.model.id}: ${candidate.error ?? "does not fit memory"}`).join("; ")}`,
      {
        kind: "usage",
        code: "no_base_model",
        field: "--model",
        fix: "start the server with a model that fits (`tunekit server --model ...`), or lower the data's length",
      },
    );
  }
  const chosen = options.model ?? proposal.model;
  const reason = options.model ? `chosen with --model (${proposal.candidates.find((row) => row.model === chosen)?.reason ?? ""})` : proposal.reason;
  const mapped = mapJobSettings(settings, {
    model: chosen,
    trainingFile,
    validationFile,
    keepLearningRateMultiplier: options.keepLearningRateMultiplier,
    modelReason: reason,
    heldOutNote: data.validation === null && data.heldOut !== null ? data.heldOutNote : null,
  });
  Object.assign(result, { proposal, changes: mapped.changes, newModel: chosen });
  Object.assign(record, { proposal, changes: mapped.changes });
  log(`  base model: ${chosen}: ${reason}`);
  if (options.dryRun) {
    record.target = { kind: "dry-run", model: chosen, params: mapped.params as unknown as Record<string, unknown> };
    await writeRecord(folder, record);
    return result;
  }

  const created = await target.createJob(mapped.params);
  Object.assign(result, { newJobId: created.id, newStatus: created.status });
  const serverTarget = {
    kind: "server" as const,
    baseURL: target.client.baseURL,
    jobId: created.id,
    model: chosen,
    fineTunedModel: created.fine_tuned_model,
    status: created.status,
    params: mapped.params as unknown as Record<string, unknown>,
  };
  record.target = serverTarget;
  await writeRecord(folder, record);
  log(`  created ${created.id} on ${target.client.baseURL}`);
  if (!options.wait) return result;

  const ended = await waitForJob(target, created.id, log);
  Object.assign(result, { newStatus: ended.status, newFineTunedModel: ended.fine_tuned_model });
  Object.assign(serverTarget, { status: ended.status, fineTunedModel: ended.fine_tuned_model });
  await writeRecord(folder, record);
  if (ended.status !== "succeeded") {
    result.error = `the new job ${created.id} ended ${ended.status}${ended.error ? `: ${ended.error.message}` : ""}`;
    return result;
  }
  if (options.parity && options.runParity) {
    if (settings.fineTunedModel === null) log(`  no parity report: ${job.id} has no fine-tuned model to compare against`);
    else result.parity = await options.runParity(folder);
  }
  return result;
}

/**
 * Copy OpenAI fine-tuning jobs to Tunekit: for each one, download its files, record its settings,
 * propose the open base model from the server's catalogue (the server's own estimate decides
 * what fits), create the matching job, and optionally wait for it and write the parity report.
 * One job's failure is reported with it and does not stop the others.
 */
export async function migrateOpenAiJobs(options: MigrateOptions): Promise<MigrationResult> {
  const environment = options.environment ?? process.env;
  const log = options.log ?? (() => {});
  const source = sourceProvider(options.openai, environment);
  const target = options.server === null ? null : serverProvider(options.server, environment);
  let jobs: FineTuningJob[];
  if (options.jobIds.length > 0) {
    jobs = [];
    for (const id of options.jobIds) jobs.push(await source.getJob(id));
  } else {
    const all = await listAllJobs(source);
    jobs = options.includeUnsucceeded ? all : all.filter((job) => job.status === "succeeded");
    log(`${source.client.baseURL}: ${all.length} fine-tuning job(s), ${jobs.length} to migrate${options.includeUnsucceeded ? "" : " (succeeded; --all for the rest)"}`);
  }
  await mkdir(options.out, { recursive: true });
  const results: MigratedJob[] = [];
  for (const job of jobs) {
    log(`${job.id} (${job.model}${job.fine_tuned_model ? ` -> ${job.fine_tuned_model}` : ""}, ${job.status})`);
    try {
      results.push(await migrateOne(job, source, target, options, log));
    } catch (error) {
      log(`  failed: ${message(error)}`);
      results.push({
        jobId: job.id,
        folder: path.resolve(options.out, job.id),
        oldModel: job.fine_tuned_model,
        baseModel: job.model,
        warnings: [],
        proposal: null,
        changes: [],
        newJobId: null,
        newModel: null,
        newFineTunedModel: null,
        newStatus: null,
        localConfig: null,
        parity: null,
        error: message(error),
      });
    }
  }
  return { source: source.client.baseURL, target: target?.client.baseURL ?? "local", out: path.resolve(options.out), jobs: results };
}

/** What `tunekit migrate openai` prints. */
export function formatMigration(result: MigrationResult): string {
  if (result.jobs.length === 0) return `no fine-tuning job to migrate at ${result.source}`;
  const blocks = result.jobs.map((job) => {
    const lines = [`${job.jobId}: ${job.oldModel ?? job.baseModel}  ->  ${job.newFineTunedModel ?? job.newJobId ?? job.localConfig ?? "(dry run)"}`];
    for (const warning of job.warnings) lines.push(`  warning: ${warning}`);
    if (job.proposal) {
      lines.push("  base models on the server:");
      for (const row of job.proposal.candidates) lines.push(`  ${row.model === job.newModel ? "*" : " "} ${row.model}: ${row.reason}`);
    }
    if (job.changes.length)
      lines.push(
        "",
        ...formatChanges(job.changes)
          .split("\n")
          .map((line) => `  ${line}`),
        "  (* = changed)",
      );
    if (job.localConfig) lines.push("", `  train it: tunekit train -c ${job.localConfig}`);
    if (job.newJobId)
      lines.push("", `  new job: ${job.newJobId} (${job.newStatus})${job.newStatus === "succeeded" ? "" : `; follow it with \`tunekit jobs events ${job.newJobId} --follow\``}`);
    if (job.parity) lines.push(`  parity: ${job.parity.conclusion}`, `  report: ${job.parity.report}`);
    else if (job.newJobId && job.oldModel && !job.error) lines.push(`  compare: tunekit migrate parity ${job.folder}`);
    if (job.error) lines.push(`  error: ${job.error}`);
    lines.push(`  files: ${job.folder}`);
    return lines.join("\n");
  });
  return blocks.join("\n\n");
}
