import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TunekitConfig } from "../core/config-schema.js";
import type { FineTuneProvider } from "../spec/fine-tune-provider.js";
import type { FileObject, FineTuningJob, FineTuningJobCreateParams, FineTuningJobEvent } from "../spec/openai-wire.js";

/** What `tunekit train` sends to a hosted provider (or a Tunekit server) for one job. */
export interface HostedJobRequest {
  config: TunekitConfig;
  /** base model the provider fine-tunes, e.g. `gpt-4o-mini-2024-07-18` */
  model: string;
  trainPath: string;
  validationPath: string | null;
}

export interface SubmittedJob {
  trainingFile: FileObject;
  validationFile: FileObject | null;
  job: FineTuningJob;
}

/** OpenAI's job parameters from the run config: epochs, batch size, learning-rate multiplier, method, suffix, seed. */
export function hostedJobParams(config: TunekitConfig, model: string, trainingFile: string, validationFile: string | null): FineTuningJobCreateParams {
  const { training } = config;
  const hyperparameters = { n_epochs: training.epochs, batch_size: training.batch_size, learning_rate_multiplier: training.learning_rate_multiplier };
  return {
    model,
    training_file: trainingFile,
    ...(validationFile !== null && { validation_file: validationFile }),
    ...(config.output.suffix !== null && { suffix: config.output.suffix }),
    seed: training.seed,
    method: training.method === "dpo" ? { type: "dpo", dpo: { hyperparameters } } : { type: "supervised", supervised: { hyperparameters } },
  } as FineTuningJobCreateParams;
}

/** Upload the training (and validation) file, then create the job. */
export async function submitHostedJob(provider: FineTuneProvider, request: HostedJobRequest, onFile?: (file: FileObject) => void): Promise<SubmittedJob> {
  const upload = async (path: string) => {
    const file = await provider.uploadFile({ filename: basename(path), purpose: "fine-tune", content: await readFile(path) });
    onFile?.(file);
    return file;
  };
  const trainingFile = await upload(request.trainPath);
  const validationFile = request.validationPath === null ? null : await upload(request.validationPath);
  const job = await provider.createJob(hostedJobParams(request.config, request.model, trainingFile.id, validationFile?.id ?? null));
  return { trainingFile, validationFile, job };
}

const FINAL = new Set(["succeeded", "failed", "cancelled"]);

export type HostedUpdate = { type: "event"; event: FineTuningJobEvent } | { type: "status"; job: FineTuningJob };

/**
 * Follow a job by polling (the one way every provider supports): new events oldest first, and
 * the job whenever its status changes; ends after the job reaches a final status and its last
 * events were read, or when `signal` aborts.
 */
export async function* followHostedJob(
  provider: FineTuneProvider,
  jobId: string,
  options: { pollMs: number; signal?: AbortSignal },
): AsyncGenerator<HostedUpdate, FineTuningJob | null> {
  const seen = new Set<string>();
  let newestSeen: string | null = null;
  let lastStatus: string | null = null;
  // events come newest first: read pages until the newest one seen before
  const freshEvents = async (): Promise<FineTuningJobEvent[]> => {
    const fresh: FineTuningJobEvent[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await provider.listEvents(jobId, { limit: 100, ...(after !== undefined && { after }) });
      const stop = page.data.findIndex((event) => event.id === newestSeen);
      fresh.push(...(stop >= 0 ? page.data.slice(0, stop) : page.data));
      if (stop >= 0 || !page.has_more || page.data.length === 0) break;
      after = page.data.at(-1)?.id;
    }
    const ordered = fresh.reverse().filter((event) => !seen.has(event.id));
    for (const event of ordered) seen.add(event.id);
    if (ordered.length > 0) newestSeen = ordered.at(-1)!.id;
    return ordered;
  };
  while (!options.signal?.aborted) {
    const job = await provider.getJob(jobId);
    for (const event of await freshEvents()) yield { type: "event", event };
    if (job.status !== lastStatus) {
      lastStatus = job.status;
      yield { type: "status", job };
    }
    if (FINAL.has(job.status)) {
      // a provider may write its closing events just after the status: read them once more
      await sleep(1000);
      for (const event of await freshEvents()) yield { type: "event", event };
      return job;
    }
    await sleep(options.pollMs, undefined, { signal: options.signal }).catch(() => undefined); // an abort ends the wait
  }
  return null;
}
