import type { Command } from "commander";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { TunekitError } from "../../core/errors.js";
import { RUN_FILES } from "../../spec/run-folder.js";
import { portNumber } from "./server.js";
import { action, printJson } from "../output.js";
import { runDataFormat, serveWarning } from "../untemplated-format.js";

interface ServeCommandOptions {
  adapter: string[];
  name?: string;
  engine: string;
  host: string;
  port: string;
  parallelism?: string;
  maxQueue: string;
  contextSize: string;
  vllmUrl?: string;
  apiKey?: string;
  cacheDir: string;
  json: boolean;
}

function whole(value: string, flag: string, minimum: number): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < minimum)
    throw new TunekitError(`\`${flag}\` must be a whole number >= ${minimum}, got \`${value}\``, {
      kind: "usage",
      code: "invalid_option",
      field: flag,
      fix: `pass e.g. \`${flag} ${Math.max(minimum, 1)}\``,
    });
  return parsed;
}

export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("serve one model (and its fine-tuned adapters) behind OpenAI's chat completions API")
    .argument("<model>", "a .gguf file, an HF model folder, or a finished run folder")
    .option(
      "--adapter <name=path>",
      "serve a run folder (or a GGUF LoRA file) as NAME on the same base (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--name <id>", "the id MODEL answers to (default: its file or folder name)")
    .option("--engine <engine>", "llama-cpp (in process, GGUF + LoRA), python (transformers + peft) or vllm", "llama-cpp")
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--port <port>", "port (0 picks a free one)", "8000")
    .option("--parallelism <n>", "requests per model generated at once (default: 4, or 1 with --engine python)")
    .option("--max-queue <n>", "requests per model that may wait before 429", "32")
    .option("--context-size <n>", "tokens per sequence, prompt and answer (llama-cpp)", "2048")
    .option("--vllm-url <url>", "a running `vllm serve --enable-lora` to use instead of starting one")
    .option("--api-key <key>", "require `Authorization: Bearer <key>` (default: env TUNEKIT_SERVE_API_KEY, else no key)")
    .option("--cache-dir <dir>", "where GGUF conversions of HF models are kept", join(".tunekit", "serve-cache"))
    .option("--json", "print the address and models as JSON", false)
    .action(
      action(async (model: string, options: ServeCommandOptions) => {
        if (!["llama-cpp", "python", "vllm"].includes(options.engine))
          throw new TunekitError(`unknown \`--engine\` ${options.engine}`, { kind: "usage", code: "invalid_option", field: "--engine", fix: "use llama-cpp, python or vllm" });
        const adapters = options.adapter.map((entry) => {
          const split = entry.indexOf("=");
          if (split <= 0)
            throw new TunekitError(`\`--adapter ${entry}\` is not NAME=PATH`, {
              kind: "usage",
              code: "invalid_option",
              field: "--adapter",
              fix: "pass e.g. `--adapter recipes=.tunekit/runs/ftjob-...`",
            });
          return { name: entry.slice(0, split), path: entry.slice(split + 1) };
        });
        const { checkModelSource } = await import("../../core/model-source.js");
        checkModelSource(model, { field: "<model>", allowRunDir: true });
        // runs trained without the chat template (prompt-completion, text) are served through it
        const warnings = [model, ...adapters.map((adapter) => adapter.path)]
          .map((path) => {
            const trained = existsSync(join(path, RUN_FILES.job)) || existsSync(join(path, RUN_FILES.summary)) ? runDataFormat(path) : null;
            return trained ? serveWarning(path, trained.format, trained.trainFile) : null;
          })
          .filter((warning) => warning !== null);
        for (const warning of warnings) process.stderr.write(`warning: ${warning.message}\n  fix: ${warning.fix}\n`);
        const engine = options.engine as "llama-cpp" | "python" | "vllm";
        const { createChatService } = await import("../../serve/create-chat-service.js");
        const { ModelRegistry } = await import("../../serve/model-registry.js");
        const { WorkerExporter } = await import("../../serve/worker-exporter.js");
        const { PythonWorkerBridge } = await import("../../providers/local/python-worker.js");
        const { standaloneModels } = await import("../../serve/standalone-models.js");
        const { buildStandaloneChatServer } = await import("../../server/build-standalone-chat-server.js");
        const worker = new PythonWorkerBridge();
        const exporter = new WorkerExporter(worker);
        const registry = new ModelRegistry({ engine, cacheDir: resolve(options.cacheDir), exporter });
        const fixed = await standaloneModels(registry, engine, model, adapters, options.name);
        const chat = createChatService({
          engine,
          worker,
          fixed,
          cacheDir: resolve(options.cacheDir),
          exporter,
          parallelism: options.parallelism === undefined ? undefined : whole(options.parallelism, "--parallelism", 1),
          maxQueue: whole(options.maxQueue, "--max-queue", 0),
          contextSize: whole(options.contextSize, "--context-size", 64),
          vllmUrl: options.vllmUrl,
        });
        if (engine === "vllm" && !options.vllmUrl) {
          const { assertVllmInstalled } = await import("../../serve/vllm-engine.js");
          assertVllmInstalled();
        }
        const app = await buildStandaloneChatServer({ chat, modelIds: fixed.map((entry) => entry.id), apiKey: options.apiKey ?? process.env.TUNEKIT_SERVE_API_KEY ?? null });
        await app.listen({ host: options.host, port: portNumber(options.port) });
        const address = app.server.address();
        const port = typeof address === "object" && address ? address.port : options.port;
        const url = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
        if (options.json) printJson({ url, engine, models: fixed, warnings });
        else {
          process.stdout.write(`tunekit serve listening on ${url} (OpenAI base URL ${url}/v1, engine ${engine})\n`);
          for (const entry of fixed) process.stdout.write(`  model ${entry.id}${entry.adapter ? ` (adapter ${entry.adapter})` : ""} on ${entry.base}\n`);
        }
        await new Promise<void>((done) => {
          const stop = () =>
            void app
              .close()
              .then(() => chat.close())
              .finally(done);
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      }),
    );
}
