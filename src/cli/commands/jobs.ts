import type { Command } from "commander";
import { TunekitError, isTunekitError } from "../../core/errors.js";
import type { FineTuningJob, FineTuningJobCheckpoint, FineTuningJobEvent } from "../../spec/openai-wire.js";
import { action, printJson } from "../output.js";
import { fileReport, serverProvider, withClientOptions, type ClientFlags } from "./files.js";

function time(seconds: number | null): string {
  return seconds === null ? "-" : new Date(seconds * 1000).toISOString().slice(0, 19).replace("T", " ");
}

function jobLine(job: FineTuningJob): string {
  return `${job.id}  ${job.status.padEnd(16)}  ${job.model}  ${job.fine_tuned_model ?? ""}  created ${time(job.created_at)}`;
}

function jobDetails(job: FineTuningJob): string {
  const lines = [
    `${job.id}  ${job.status}`,
    `  model:            ${job.model}`,
    `  fine-tuned model: ${job.fine_tuned_model ?? "-"}`,
    `  training file:    ${job.training_file}`,
    `  validation file:  ${job.validation_file ?? "-"}`,
    `  method:           ${job.method.type}`,
    `  hyperparameters:  n_epochs=${job.hyperparameters.n_epochs} batch_size=${job.hyperparameters.batch_size} learning_rate_multiplier=${job.hyperparameters.learning_rate_multiplier}`,
    `  seed:             ${job.seed}`,
    `  trained tokens:   ${job.trained_tokens ?? "-"}`,
    `  backend:          ${job.execution?.backend ?? "-"}${job.execution?.nodes.length ? ` on ${job.execution.nodes.join(", ")}` : ""}`,
    `  created:          ${time(job.created_at)}`,
    `  finished:         ${time(job.finished_at)}`,
  ];
  if (job.estimated_finish) lines.push(`  estimated finish: ${time(job.estimated_finish)}`);
  if (job.error) lines.push(`  error:            ${job.error.code}: ${job.error.message}${job.error.param ? ` (\`${job.error.param}\`)` : ""}`);
  return lines.join("\n");
}

function eventLine(event: FineTuningJobEvent): string {
  return `${time(event.created_at)}  ${event.level.padEnd(5)}  ${event.message}`;
}

function checkpointLine(checkpoint: FineTuningJobCheckpoint): string {
  const metrics = Object.entries(checkpoint.metrics)
    .filter(([key]) => key !== "step")
    .map(([key, value]) => `${key}=${typeof value === "number" ? Math.round(value * 10_000) / 10_000 : value}`)
    .join(" ");
  return `${checkpoint.id}  step ${checkpoint.step_number}  ${checkpoint.fine_tuned_model_checkpoint}  ${metrics}`;
}

/** Follow a job's events over server-sent events until the server says [DONE]. */
async function followEvents(options: ClientFlags, jobId: string, onEvent: (event: FineTuningJobEvent) => void): Promise<void> {
  const { baseURL, apiKey } = await serverProvider(options);
  let response: Response;
  try {
    response = await fetch(`${baseURL}/fine_tuning/jobs/${encodeURIComponent(jobId)}/events?stream=true`, { headers: { authorization: `Bearer ${apiKey}` } });
  } catch (error) {
    throw new TunekitError(`cannot reach the Tunekit server at ${baseURL}: ${(error as Error).message}`, {
      kind: "environment",
      code: "server_unreachable",
      field: "--server",
      fix: "start it with `tunekit server`, or pass `--server URL`",
    });
  }
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => null)) as { error?: { message?: string; param?: string; code?: string } } | null;
    throw new TunekitError(body?.error?.message ?? `the server answered ${response.status}`, {
      kind: response.status === 404 ? "not_found" : "usage",
      code: body?.error?.code ?? `http_${response.status}`,
      field: body?.error?.param ?? undefined,
    });
  }
  const decoder = new TextDecoder();
  let buffer = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let boundary: number;
    while ((boundary = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      const data = block
        .split("\n")
        .filter((line) => line.startsWith("data: "))
        .map((line) => line.slice(6))
        .join("\n");
      if (data === "[DONE]") return;
      if (data) onEvent(JSON.parse(data) as FineTuningJobEvent);
    }
  }
}

/** `--limit`: a page size the API takes (1..100). */
function pageLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value.trim()) || limit < 1 || limit > 100) {
    throw new TunekitError(`\`--limit\` must be a whole number from 1 to 100, got \`${value}\``, {
      kind: "usage",
      code: "invalid_option",
      field: "--limit",
      fix: "pass e.g. --limit 20",
    });
  }
  return limit;
}

/** `--seed` and `--suffix` by the API's own rules (POST /v1/fine_tuning/jobs), named by their flags. */
function checkSeedAndSuffix(options: { seed?: string; suffix?: string; hosted?: string }): void {
  if (options.seed !== undefined && (!/^\d+$/.test(options.seed.trim()) || Number(options.seed) > 2_147_483_647)) {
    throw new TunekitError(`\`--seed\` must be a whole number from 0 to 2147483647, got \`${options.seed}\``, {
      kind: "usage",
      code: "invalid_option",
      field: "--seed",
      fix: "pass e.g. --seed 42 (the same seed and data train the same way)",
    });
  }
  if (options.suffix !== undefined) {
    const { suffix } = options;
    if (suffix.length === 0 || suffix.length > 64) {
      throw new TunekitError(`\`--suffix\` takes 1 to 64 characters, got ${suffix.length}`, {
        kind: "usage",
        code: "invalid_option",
        field: "--suffix",
        fix: `shorten it, e.g. --suffix ${suffix.slice(0, 64).replace(/[^A-Za-z0-9_.-]/g, "-") || "support-v1"} (it goes into the model id ft:<base>:<suffix>:<id>)`,
      });
    }
    // a Tunekit server's rule (the id is a path segment); a hosted provider checks its own
    if (!options.hosted && !/^[A-Za-z0-9_.-]+$/.test(suffix)) {
      throw new TunekitError(`\`--suffix ${suffix}\` may hold only letters, digits, \`-\`, \`_\` and \`.\``, {
        kind: "usage",
        code: "invalid_option",
        field: "--suffix",
        fix: `pass e.g. --suffix ${suffix.replace(/[^A-Za-z0-9_.-]/g, "-")}`,
      });
    }
  }
}

const REFUSED_PROBLEMS_LISTED = 50;

/**
 * The server refused a training or validation file its validation had marked `error`: list that
 * file's problems (every one the server keeps, with line and fix) and exit 1, problems found.
 */
async function refusedFile(error: unknown, options: ClientFlags & { trainingFile: string; validationFile?: string }): Promise<never> {
  if (!isTunekitError(error) || (error.code !== "invalid_training_file" && error.code !== "invalid_validation_file")) throw error;
  const training = error.code === "invalid_training_file";
  const fileId = training ? options.trainingFile : (options.validationFile ?? "");
  const flag = training ? "--training-file" : "--validation-file";
  const file = await (await serverProvider(options)).provider.getFile(fileId).catch(() => null);
  const report = file ? await fileReport(options, file).catch(() => null) : null;
  const errors = (report?.problems ?? []).filter((problem) => problem.severity === "error");
  const name = file ? ` (${file.filename})` : "";
  const count = errors.length + (report?.problems_omitted ?? 0);
  const listed = errors.slice(0, REFUSED_PROBLEMS_LISTED);
  const unlisted = count > listed.length ? `; the first ${listed.length} are listed, \`tunekit files show ${fileId} --json\` lists every one` : "";
  throw new TunekitError(
    report
      ? `\`${flag} ${fileId}\`${name} was refused: the server's validation found ${count} error${count === 1 ? "" : "s"} in it${unlisted}`
      : error.message.replace(/; fix: .*$/, ""),
    {
      kind: "data",
      code: error.code,
      field: flag,
      file: file?.filename,
      problems: listed.map((problem) => ({
        code: problem.code,
        message: problem.message,
        fix: problem.fix,
        ...(problem.line !== null && { line: problem.line }),
        ...(file && { file: file.filename }),
      })),
      fix: `fix the data (\`tunekit data fix ${file?.filename ?? "IN"} OUT\` writes a cleaned copy; \`tunekit files show ${fileId}\` shows this report), upload it with \`tunekit files upload\` and pass the new id to ${flag}`,
      cause: error,
    },
  );
}

export function registerJobs(program: Command): void {
  const jobs = program.command("jobs").description("fine-tuning jobs on a Tunekit server (OpenAI fine-tuning API)");

  withClientOptions(jobs.command("create").description("create a fine-tuning job; run-config settings (tunekit.yaml `training`, `data.max_seq_len`) go with `-c` or `--set`"))
    .requiredOption("--model <id>", "base model id (see GET /v1/models)")
    .requiredOption("--training-file <file-id>", "uploaded training file")
    .option("--validation-file <file-id>", "uploaded validation file (one example is enough); its loss is reported as valid_loss")
    .option("--suffix <suffix>", "added to the fine-tuned model id ft:<base>:<suffix>:<id>: up to 64 letters, digits, `-`, `_`, `.`")
    .option("--epochs <n>", "n_epochs, or auto", "auto")
    .option("--method <method>", "supervised (the server's default adapter method), lora, qlora, full or dpo", "supervised")
    .option("--batch-size <n>", "batch_size, or auto")
    .option("--learning-rate-multiplier <x>", "learning_rate_multiplier, or auto")
    .option("--beta <x>", "DPO beta (with --method dpo)")
    .option("--metadata <key=value>", "a metadata pair, as the API's `metadata` (repeatable)", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option("--seed <n>", "random seed, 0 to 2147483647 (default: the server draws one and reports it)")
    .option("-c, --config <tunekit.yaml>", "take `training` and `data.max_seq_len` from a run config")
    .option(
      "--set <path=value>",
      "a run-config value, e.g. training.lora.r=8 (repeatable; wins over -c)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--hosted <provider>", "make the job on the server's hosted provider (openai, azure) from files uploaded to the server")
    .action(
      action(
        async (
          options: ClientFlags & {
            model: string;
            trainingFile: string;
            validationFile?: string;
            suffix?: string;
            epochs: string;
            method: string;
            batchSize?: string;
            learningRateMultiplier?: string;
            beta?: string;
            metadata: string[];
            seed?: string;
            config?: string;
            set: string[];
            hosted?: string;
          },
        ) => {
          const METHODS = ["supervised", "dpo", "lora", "qlora", "full"];
          if (!METHODS.includes(options.method)) {
            throw new TunekitError(`unknown \`--method ${options.method}\``, {
              kind: "usage",
              code: "invalid_option",
              field: "--method",
              fix: `use one of ${METHODS.join(", ")} (supervised trains the server's default adapter method)`,
            });
          }
          if (options.beta !== undefined && options.method !== "dpo") {
            throw new TunekitError("`--beta` is DPO's: it needs `--method dpo`", {
              kind: "usage",
              code: "invalid_option",
              field: "--beta",
              fix: "add --method dpo, or drop --beta",
            });
          }
          checkSeedAndSuffix(options);
          const metadata: Record<string, string> = {};
          for (const pair of options.metadata) {
            const split = pair.indexOf("=");
            if (split <= 0)
              throw new TunekitError(`\`--metadata ${pair}\` is not KEY=VALUE`, {
                kind: "usage",
                code: "invalid_option",
                field: "--metadata",
                fix: "pass e.g. --metadata team=support",
              });
            metadata[pair.slice(0, split)] = pair.slice(split + 1);
          }
          const { readConfigObject, applyOverrides } = await import("../../core/config-load.js");
          const { checkJobConfig } = await import("../../jobs/job-request.js");
          const raw = options.config ? readConfigObject(options.config) : {};
          const flags = [`model=${options.model}`, `data.train=${options.trainingFile}`];
          if (options.validationFile) flags.push(`data.validation=${options.validationFile}`);
          if (options.suffix) flags.push(`output.suffix=${options.suffix}`);
          if (options.epochs !== "auto") flags.push(`training.epochs=${options.epochs}`);
          if (options.method !== "supervised") flags.push(`training.method=${options.method}`);
          if (options.seed !== undefined) flags.push(`training.seed=${options.seed}`);
          if (options.batchSize !== undefined) flags.push(`training.batch_size=${options.batchSize}`);
          if (options.learningRateMultiplier !== undefined) flags.push(`training.learning_rate_multiplier=${options.learningRateMultiplier}`);
          if (options.beta !== undefined) flags.push(`training.dpo_beta=${options.beta}`);
          if (options.hosted) flags.push(`provider=${options.hosted}`);
          applyOverrides(raw, [...flags, ...options.set]);
          const { provider, baseURL } = await serverProvider(options);
          const checked = checkJobConfig({ config: raw }, { url: baseURL.replace(/\/v1\/?$/, ""), hosted: options.hosted ? [options.hosted] : [] });
          if (!checked.ok || !checked.request) {
            const problems = checked.problems.filter((problem) => problem.severity === "error");
            throw new TunekitError(`the job has ${problems.length} problem${problems.length === 1 ? "" : "s"}`, {
              kind: "config",
              code: "invalid_config",
              problems,
              fix: "correct the flags or the config; `tunekit config schema` lists every field",
            });
          }
          for (const warning of checked.problems.filter((problem) => problem.severity === "warning")) process.stderr.write(`warning: ${warning.message}\n`);
          const request = Object.keys(metadata).length > 0 ? { ...checked.request, metadata } : checked.request;
          const created = options.hosted
            ? provider.request((client) => client.post<FineTuningJob>(checked.endpoint.replace(/^\/v1/, ""), { body: request }))
            : provider.createJob(request as never);
          const job = await created.catch((error: unknown) => refusedFile(error, options));
          if (options.json) return printJson(job);
          process.stdout.write(`${jobLine(job)}\nfollow it with: tunekit jobs events ${job.id} --follow\n`);
        },
      ),
    );

  withClientOptions(jobs.command("list").description("list jobs, newest first"))
    .option("--limit <n>", "how many", "20")
    .action(
      action(async (options: ClientFlags & { limit: string }) => {
        const { provider } = await serverProvider(options);
        const page = await provider.listJobs({ limit: pageLimit(options.limit) });
        const { data } = page;
        if (options.json) return printJson({ object: "list", data, has_more: page.has_more });
        process.stdout.write(data.length === 0 ? "no jobs\n" : `${data.map(jobLine).join("\n")}\n`);
      }),
    );

  withClientOptions(jobs.command("show").description("show one job").argument("<job-id>", "ftjob-...")).action(
    action(async (jobId: string, options: ClientFlags) => {
      const job = await (await serverProvider(options)).provider.getJob(jobId);
      if (options.json) return printJson(job);
      process.stdout.write(`${jobDetails(job)}\n`);
    }),
  );

  withClientOptions(jobs.command("events").description("a job's events, oldest first").argument("<job-id>", "ftjob-..."))
    .option("--limit <n>", "how many of the newest events", "100")
    .option("--follow", "keep printing new events until the job ends", false)
    .action(
      action(async (jobId: string, options: ClientFlags & { limit: string; follow: boolean }) => {
        if (options.follow) {
          await followEvents(options, jobId, (event) => process.stdout.write(options.json ? `${JSON.stringify(event)}\n` : `${eventLine(event)}\n`));
          return;
        }
        const { provider } = await serverProvider(options);
        const page = await provider.listEvents(jobId, { limit: pageLimit(options.limit) });
        const data = [...page.data].reverse();
        if (options.json) return printJson({ object: "list", data: page.data, has_more: page.has_more });
        process.stdout.write(`${data.map(eventLine).join("\n")}\n`);
      }),
    );

  for (const verb of ["cancel", "pause", "resume"] as const) {
    withClientOptions(jobs.command(verb).description(`${verb} a job`).argument("<job-id>", "ftjob-...")).action(
      action(async (jobId: string, options: ClientFlags) => {
        const { provider } = await serverProvider(options);
        const job = await (verb === "cancel" ? provider.cancelJob(jobId) : verb === "pause" ? provider.pauseJob(jobId) : provider.resumeJob(jobId));
        if (options.json) return printJson(job);
        process.stdout.write(`${jobLine(job)}\n`);
      }),
    );
  }

  withClientOptions(jobs.command("checkpoints").description("a job's checkpoints, newest first").argument("<job-id>", "ftjob-...")).action(
    action(async (jobId: string, options: ClientFlags) => {
      const page = await (await serverProvider(options)).provider.listCheckpoints(jobId, { limit: 100 });
      const { data } = page;
      if (options.json) return printJson({ object: "list", data, has_more: page.has_more });
      process.stdout.write(data.length === 0 ? "no checkpoints yet\n" : `${data.map(checkpointLine).join("\n")}\n`);
    }),
  );
}
