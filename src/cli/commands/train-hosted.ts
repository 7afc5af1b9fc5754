import { SingleBar } from "cli-progress";
import type { LoadedConfig } from "../../core/config-load.js";
import { TunekitError } from "../../core/errors.js";
import { createAzureProvider } from "../../providers/azure/azure-fine-tune-provider.js";
import { followHostedJob, submitHostedJob } from "../../providers/hosted-training.js";
import { checkTrainingData, dataChecker } from "../../providers/local/data-check.js";
import { createOpenAIProvider } from "../../providers/openai/openai-fine-tune-provider.js";
import type { FineTuneProvider } from "../../spec/fine-tune-provider.js";
import type { FineTuningJob, FineTuningJobEvent } from "../../spec/openai-wire.js";

export interface HostedTrainOptions {
  /** a Tunekit server: the `openai` provider pointed at it */
  server?: string;
  apiKey?: string;
  detach: boolean;
  pollInterval?: string;
  json: boolean;
}

/** The provider `tunekit train` submits to: `--server URL`, else `provider:` of the config. */
function providerFor(loaded: LoadedConfig, options: HostedTrainOptions): { provider: FineTuneProvider; pollMs: number; where: string } {
  const { config } = loaded;
  if (options.server !== undefined) {
    const server = options.server.replace(/\/+$/, "");
    const baseURL = server.endsWith("/v1") ? server : `${server}/v1`;
    const apiKey = options.apiKey ?? process.env.TUNEKIT_API_KEY ?? "no-key";
    const provider = createOpenAIProvider(config, process.env, { baseURL, apiKey });
    return { provider, pollMs: pollMs(options, 1), where: `Tunekit server ${server}` };
  }
  if (config.provider === "openai")
    return { provider: createOpenAIProvider(config), pollMs: pollMs(options, config.openai.poll_interval_s), where: config.openai.base_url ?? "OpenAI" };
  if (config.provider === "azure") return { provider: createAzureProvider(config), pollMs: pollMs(options, config.azure.poll_interval_s), where: "Azure OpenAI" };
  throw new TunekitError("`provider: local` trains on this machine", { kind: "internal" });
}

function pollMs(options: HostedTrainOptions, defaultSeconds: number): number {
  if (options.pollInterval === undefined) return defaultSeconds * 1000;
  const seconds = Number(options.pollInterval);
  if (!(seconds > 0))
    throw new TunekitError(`\`--poll-interval\` must be a positive number of seconds, got \`${options.pollInterval}\``, {
      kind: "usage",
      code: "bad_option",
      field: "--poll-interval",
      fix: "pass e.g. --poll-interval 5",
    });
  return seconds * 1000;
}

/** Exit status by final job status (130: stopped following with Ctrl-C). */
const EXIT = { succeeded: 0, failed: 1, cancelled: 1 } as const;

/**
 * `tunekit train` for a hosted provider or a Tunekit server: validate the data here, upload it,
 * create the job, and follow its events until it ends. Ctrl-C stops following; the job goes on.
 */
export async function trainHosted(loaded: LoadedConfig, options: HostedTrainOptions): Promise<number> {
  const { config } = loaded;
  const { provider, pollMs: interval, where } = providerFor(loaded, options);
  // checked here, so that a file with problems is never uploaded
  const { train: trainPath, validation: validationPath, data } = await checkTrainingData(loaded, dataChecker(config.data.format), config.model);

  const emit = (record: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(record)}\n`);
  const say = (text: string) => process.stderr.write(`${text}\n`);
  if (!options.json)
    say(`data ok: ${data.trainExamples} training examples${data.validationExamples !== null ? `, ${data.validationExamples} validation examples` : ""}; submitting to ${where}`);
  const submitted = await submitHostedJob(provider, { config, model: config.model, trainPath, validationPath }, (file) =>
    options.json ? emit({ type: "file", file }) : say(`uploaded ${file.filename} as ${file.id} (${file.bytes} bytes)`),
  );
  const { job } = submitted;
  if (options.json) emit({ type: "job", job });
  else say(`created ${job.id} (${job.status}) for ${job.model}`);
  if (options.detach) {
    if (!options.json) process.stdout.write(`${job.id}\nfollow it with: tunekit jobs events ${job.id} --follow${options.server ? ` --server ${options.server}` : ""}\n`);
    return 0;
  }

  const aborter = new AbortController();
  const stop = () => aborter.abort();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const progress = new HostedProgress(options.json ? null : say);
  let final: FineTuningJob | null;
  try {
    const updates = followHostedJob(provider, job.id, { pollMs: interval, signal: aborter.signal });
    for (;;) {
      const next = await updates.next();
      if (next.done) {
        final = next.value;
        break;
      }
      const update = next.value;
      if (options.json) emit(update.type === "event" ? { type: "event", event: update.event } : { type: "status", status: update.job.status });
      else if (update.type === "event") progress.event(update.event);
    }
  } finally {
    progress.stop();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
  if (final === null) {
    const hint = `the job goes on: \`tunekit jobs show ${job.id}\`, \`tunekit jobs cancel ${job.id}\`${options.server ? ` (with --server ${options.server})` : ""}`;
    if (options.json) emit({ type: "result", status: "detached", job_id: job.id, message: hint });
    else say(`stopped following; ${hint}`);
    return 130;
  }
  if (options.json) emit({ type: "result", status: final.status, job: final });
  else if (final.status === "succeeded") process.stdout.write(`job ${final.id} succeeded: ${final.fine_tuned_model}\n  trained tokens: ${final.trained_tokens ?? "-"}\n`);
  else
    process.stderr.write(
      `job ${final.id} ${final.status}${final.error ? `: ${final.error.code}: ${final.error.message}${final.error.param ? ` (\`${final.error.param}\`)` : ""}` : ""}\n`,
    );
  return EXIT[final.status as keyof typeof EXIT] ?? 1;
}

/** Events for a person: a progress bar over metrics on a terminal, lines otherwise. */
class HostedProgress {
  private bar: SingleBar | null = null;
  private lastLineAt = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly say: ((text: string) => void) | null) {}

  event(event: FineTuningJobEvent): void {
    if (!this.say) return;
    const data = (event.data ?? {}) as { step?: number; total_steps?: number; train_loss?: number; valid_loss?: number };
    if (event.type === "metrics" && typeof data.step === "number" && typeof data.total_steps === "number") {
      const loss = typeof data.train_loss === "number" ? data.train_loss.toFixed(4) : "-";
      if (this.tty) {
        this.bar ??= new SingleBar({ format: "training [{bar}] {value}/{total} steps | loss {loss}", stream: process.stderr, hideCursor: true });
        if (this.bar.getTotal() !== data.total_steps) this.bar.start(data.total_steps, data.step, { loss });
        this.bar.update(data.step, { loss });
        return;
      }
      // without a terminal: a line at most every 10% of the steps, and the last step
      const every = Math.max(1, Math.round(data.total_steps / 10));
      if (data.step === data.total_steps || data.step - this.lastLineAt >= every) {
        this.lastLineAt = data.step;
        this.say(`step ${data.step}/${data.total_steps}  train_loss ${loss}${typeof data.valid_loss === "number" ? `  valid_loss ${data.valid_loss.toFixed(4)}` : ""}`);
      }
      return;
    }
    if (event.type === "metrics") return;
    this.bar?.stop();
    this.bar = null;
    this.say(`${event.level === "info" ? "" : `${event.level}: `}${event.message}`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
