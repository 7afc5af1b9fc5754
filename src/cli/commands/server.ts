import type { Command } from "commander";
import type { TrainingConfig } from "../../core/config-schema.js";
import { TunekitError } from "../../core/errors.js";
import { action, printJson } from "../output.js";

interface ServerCommandOptions {
  host: string;
  port: string;
  dataDir: string;
  auth: boolean;
  forkServer: boolean;
  maxUploadMb: string;
  model: string[];
  modelsDir?: string;
  maxConcurrentJobs: string;
  config?: string;
  set: string[];
  json: boolean;
  open: boolean;
  hosted: string[];
  hostedModel: string[];
}

function positiveNumber(value: string, flag: string, integer: boolean, minimum: number): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < minimum || (integer && !Number.isInteger(parsed))) {
    throw new TunekitError(`\`${flag}\` must be ${integer ? "a whole number" : "a number"} >= ${minimum}, got \`${value}\``, {
      kind: "usage",
      code: "invalid_option",
      field: flag,
      fix: `pass e.g. \`${flag} ${Math.max(minimum, 1)}\``,
    });
  }
  return parsed;
}

/** A TCP port, 0 for any free one. */
export function portNumber(value: string): number {
  const port = positiveNumber(value, "--port", true, 0);
  if (port > 65535)
    throw new TunekitError(`\`--port\` must be at most 65535 (a TCP port), got \`${value}\``, {
      kind: "usage",
      code: "invalid_option",
      field: "--port",
      fix: "pass e.g. --port 8000, or --port 0 for any free port",
    });
  return port;
}

export function registerServer(program: Command): void {
  program
    .command("server")
    .description("run the OpenAI-compatible fine-tuning API (files, fine_tuning/jobs, models, chat) and the web UI (at /) on this machine")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--port <port>", "port (0 picks a free one)", "8000")
    .option("--data-dir <dir>", "where the job store, uploaded files and runs live", ".tunekit")
    .option("--no-auth", "serve without API keys as project `default` (refused on non-loopback hosts)")
    .option("--max-upload-mb <n>", "largest accepted upload in MiB", "512")
    .option(
      "--model <id-or-path>",
      "a trainable base model: HF folder, .gguf file or hub id (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--models-dir <dir>", "folder whose model folders and .gguf files are trainable base models (default: <data-dir>/models)")
    .option("--max-concurrent-jobs <n>", "training jobs at a time (0 only queues)", "1")
    .option(
      "--config <tunekit.yaml>",
      "run config whose `training` settings (device, lora, checkpoint_every ...) and `data.max_seq_len` every job uses; API hyperparameters override epochs, batch size and learning rate",
    )
    .option("--set <path=value>", "override a config value, e.g. training.device=cpu (repeatable)", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option(
      "--hosted <provider>",
      "also fine-tune (and chat) on a hosted provider: openai or azure, with the key and endpoint of the config's `openai`/`azure` section (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option(
      "--hosted-model <id>",
      "a base model the hosted providers offer (repeatable) (default: the price table's models)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--no-fork-server", "start every training run in a Python process of its own (default: fork them from one worker fork server, torch imported once)")
    .option("--open", "open the web UI in the default browser once the server listens", false)
    .option("--json", "print the listening address as JSON", false)
    .action(
      action(async (options: ServerCommandOptions) => {
        // loaded on use: other commands do not pay for fastify and the store
        const { startServer } = await import("../../server/tunekit-server.js");
        let trainingDefaults: Partial<TrainingConfig> | undefined;
        let maxSeqLen: number | undefined;
        const { loadConfig } = await import("../../core/config-load.js");
        const { config } = loadConfig(options.config ?? null, options.set);
        if (options.config !== undefined || options.set.length > 0) {
          trainingDefaults = config.training;
          maxSeqLen = config.data.max_seq_len;
        }
        const { checkModelSource } = await import("../../core/model-source.js");
        for (const model of options.model) checkModelSource(model, { field: "--model" });
        const { createHostedProvider } = await import("../../providers/hosted-provider.js");
        const hosted = options.hosted.map((name) => createHostedProvider(name, config, process.env, options.hostedModel));
        const server = await startServer({
          host: options.host,
          port: portNumber(options.port),
          dataDir: options.dataDir,
          noAuth: !options.auth,
          maxUploadMb: positiveNumber(options.maxUploadMb, "--max-upload-mb", false, 0.001),
          models: options.model,
          modelsDir: options.modelsDir,
          maxConcurrentJobs: positiveNumber(options.maxConcurrentJobs, "--max-concurrent-jobs", true, 0),
          forkServer: options.forkServer,
          trainingDefaults,
          maxSeqLen,
          hosted,
          // execution.backend and the ray/slurm settings (their defaults without --config)
          execution: config.execution,
        });
        const baseModels = server.services.jobs.catalog.baseModels();
        const { recovered } = server;
        if (options.json) {
          printJson({ url: server.url, data_dir: options.dataDir, auth: options.auth, base_models: baseModels.map((model) => model.id), recovered });
        } else {
          process.stdout.write(`tunekit server listening on ${server.url} (web UI ${server.url}/, OpenAI base URL ${server.url}/v1, OpenAPI ${server.url}/openapi.json)\n`);
          process.stdout.write(
            baseModels.length > 0
              ? `base models: ${baseModels.map((model) => model.id).join(", ")}\n`
              : `no base models yet: pass \`--model <folder|.gguf|hub id>\` or put model folders and .gguf files in ${options.modelsDir ?? `${options.dataDir}/models`}\n`,
          );
          for (const provider of hosted) process.stdout.write(`hosted fine-tuning: ${provider.label}, ${provider.models.length} base model(s)\n`);
          if (config.execution.backend !== "local") {
            const where =
              config.execution.backend === "ray"
                ? `Ray Jobs API ${config.execution.ray.address}`
                : `Slurm${config.execution.slurm.ssh ? ` over ssh ${config.execution.slurm.ssh}` : ""}`;
            process.stdout.write(`jobs train on ${config.execution.backend} by default (${where}); \`tunekit.execution.backend\` picks another per job\n`);
          }
          process.stdout.write(
            options.auth
              ? "auth: every /v1 request needs `Authorization: Bearer <key>` (create one with `tunekit keys create`)\n"
              : "auth: OFF (--no-auth), every request acts as project `default`\n",
          );
          if (recovered.resumed.length + recovered.failed.length + recovered.completed.length + recovered.waiting.length > 0) {
            process.stdout.write(
              `recovered after a restart: ${recovered.resumed.length} job(s) queued to resume, ${recovered.completed.length} had finished training (marked succeeded), ` +
                `${recovered.waiting.length} waiting for their old worker to stop, ${recovered.failed.length} failed without a checkpoint\n`,
            );
          }
        }
        if (options.open) {
          const { default: open } = await import("open");
          await open(`${server.url}/`).catch((error: unknown) => process.stderr.write(`cannot open a browser (${(error as Error).message}): open ${server.url}/ yourself\n`));
        }
        await new Promise<void>((resolve) => {
          let stopping = false;
          const stop = (signal: string) => {
            if (stopping) {
              process.stderr.write(`${signal} again: exiting now\n`);
              process.exit(130);
            }
            stopping = true;
            process.stderr.write(`${signal}: stopping; running jobs write a checkpoint and resume at the next start\n`);
            void server.close().then(resolve);
          };
          process.on("SIGINT", () => stop("SIGINT"));
          process.on("SIGTERM", () => stop("SIGTERM"));
        });
      }),
    );
}
