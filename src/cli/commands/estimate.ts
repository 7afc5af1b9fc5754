import { existsSync } from "node:fs";
import { relative } from "node:path";
import type { Command } from "commander";
import { loadConfig, resolveConfigPath, type LoadedConfig } from "../../core/config-load.js";
import { TunekitError } from "../../core/errors.js";
import { assertInputFile } from "../../core/input-file.js";
import { resolveModel } from "../../providers/local/local-training.js";
import { CountProgress } from "../count-progress.js";
import { loadPriceTable } from "../../data/estimate/price-table.js";
import { parseEpochsOption } from "../../data/estimate/resolve-epochs.js";
import { action, printJson, repeatable } from "../output.js";
import { addReaderOptions, readerOptions, type ReaderCommandOptions } from "../reader-options.js";
import { parseFormatOption, readChatTemplateOption } from "./data-stats.js";

function parseTokensPerSecond(value: string | undefined): number | null {
  if (value === undefined) return null;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) {
    throw new TunekitError(`\`--tokens-per-second\` must be a positive number, got \`${value}\``, {
      kind: "usage",
      code: "invalid_throughput",
      field: "--tokens-per-second",
      fix: "Pass the training throughput measured on this machine, e.g. --tokens-per-second 1500.",
    });
  }
  return parsed;
}

/** A YYYY-MM-DD option (the price table's lifecycle dates are UTC days). */
export function parseDayOption(value: string | undefined, flag: string): string | null {
  if (value === undefined) return null;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new TunekitError(`\`${flag}\` must be a day as YYYY-MM-DD, got \`${value}\``, { kind: "usage", code: "invalid_date", field: flag, fix: `pass e.g. ${flag} 2027-06-30` });
  }
  return value;
}

interface EstimateCommandOptions extends ReaderCommandOptions {
  map: string[];
  model?: string;
  config?: string;
  set: string[];
  epochs?: string;
  prices?: string;
  tokensPerSecond?: string;
  format?: string;
  chatTemplate?: string;
  neededUntil?: string;
  json: boolean;
}

/** The config `estimate` reads: `-c FILE`, else ./tunekit.yaml when there is one (as `train` does), else none. */
function estimateConfig(options: EstimateCommandOptions): LoadedConfig | null {
  const path = options.config ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : null);
  if (path === null) {
    if (options.set.length > 0) {
      throw new TunekitError("`--set` changes a config, and there is none here", {
        kind: "usage",
        code: "bad_option",
        field: "--set",
        fix: `pass the config with \`-c FILE\` (or create ./${DEFAULT_CONFIG} with \`tunekit init\`), or drop --set`,
      });
    }
    return null;
  }
  return loadConfig(path, options.set);
}

const DEFAULT_CONFIG = "tunekit.yaml";

export function registerEstimate(program: Command): void {
  const command = program
    .command("estimate")
    .description(
      "epochs, billed tokens and price of fine-tuning on a dataset (hosted models), or tokens, steps and time (local models); " +
        "reads the model, data and training settings of the config (-c, default ./tunekit.yaml when present), flags override them",
    )
    .argument("[file]", "training file: JSONL, JSON array, CSV/TSV or Parquet (default: `data.train` of the config)")
    .option("-m, --model <model>", "OpenAI model name, .gguf file, or model folder with tokenizer.json (default: `model` of the config; required without one)")
    .option(
      "-c, --config <file>",
      `run config: its model, data.train, data.format, data.max_seq_len, data.chat_template, training.method, epochs and batch_size are used (default: ./${DEFAULT_CONFIG} when present)`,
    )
    .option("--set <key=value>", "override a config field, e.g. --set data.max_seq_len=512 (repeatable)", repeatable, [] as string[])
    .option("--epochs <epochs>", "auto (the cookbook rule) or a whole number (default: `training.epochs` of the config, else auto)")
    .option("--prices <file>", "price table JSON overriding the shipped one (same shape as the prices.json shipped in the package)")
    .option("--tokens-per-second <n>", "measured local training throughput, for a time estimate")
    .option("--format <format>", "dataset format: auto, chat, prompt-completion, preference, text (default: `data.format` of the config, else auto)")
    .option("--chat-template <file>", "Jinja chat template overriding the model's own (default: `data.chat_template` of the config)")
    .option("--needed-until <date>", "warn when the model (and its fine-tunes) stops answering before this day, YYYY-MM-DD")
    .option("--json", "print the estimate as JSON", false)
    .option("--map <column=field>", "map a column to a message field (user, assistant, system), as `data convert` does; repeatable", repeatable, [] as string[]);
  addReaderOptions(command).action(
    action(async (fileArgument: string | undefined, options: EstimateCommandOptions) => {
      const loaded = estimateConfig(options);
      const config = loaded?.config ?? null;
      const configName = loaded?.path ? relative(process.cwd(), loaded.path) || loaded.path : null;
      const model = options.model ?? (loaded ? resolveModel(loaded, loaded.config.model) : null);
      if (model === null) {
        throw new TunekitError("`estimate` needs a model: `--model` was not given and there is no config", {
          kind: "usage",
          code: "missing_option",
          field: "--model",
          fix: `pass --model (e.g. --model gpt-4o-mini-2024-07-18 or --model ./models/my-model), or a config with \`-c FILE\` (./${DEFAULT_CONFIG} is read when present)`,
        });
      }
      let file: string;
      if (fileArgument !== undefined) file = fileArgument;
      else if (loaded) {
        file = resolveConfigPath(loaded, loaded.config.data.train);
        await assertInputFile(file, "data.train").catch((error: unknown) => {
          if (error instanceof TunekitError) {
            throw new TunekitError(`\`data.train\` of ${configName ?? "the config"}: ${error.message}`, {
              kind: error.kind,
              code: error.code,
              field: "data.train",
              file,
              fix: `${error.fix ?? "check the path"}; \`data.train\` is relative to the config file, or pass the training file as the argument`,
              cause: error,
            });
          }
          throw error;
        });
      } else {
        throw new TunekitError("`estimate` needs a training file: none was given and there is no config", {
          kind: "usage",
          code: "missing_argument",
          field: "<file>",
          fix: "pass the file, e.g. `tunekit estimate data/train.jsonl --model gpt-4o-mini-2024-07-18`, or a config with `-c FILE`",
        });
      }
      const fromConfig = (field: string) => `\`${field}\` of ${configName ?? "the config"}`;
      const epochs = options.epochs !== undefined ? parseEpochsOption(options.epochs) : (config?.training.epochs ?? "auto");
      const epochsSource = options.epochs !== undefined ? null : config ? fromConfig("training.epochs") : null;
      const tokensPerSecond = parseTokensPerSecond(options.tokensPerSecond);
      const format = options.format !== undefined ? parseFormatOption(options.format) : (config?.data.format ?? "auto");
      const prices = await loadPriceTable(options.prices);
      const [{ estimateTraining, formatTrainingEstimate }, { loadTokenCounter }] = await Promise.all([
        import("../../data/estimate/estimate-training.js"),
        import("../../data/tokens/load-token-counter.js"),
      ]);
      const chatTemplate = options.chatTemplate !== undefined ? await readChatTemplateOption(options.chatTemplate) : (config?.data.chat_template ?? null);
      const counter = await loadTokenCounter(model, { chatTemplate });
      const neededUntil = parseDayOption(options.neededUntil, "--needed-until");
      const reader = { ...readerOptions(options), map: options.map };
      const progress = new CountProgress("estimate: counting tokens");
      let estimate;
      try {
        estimate = await estimateTraining({
          file,
          model,
          counter,
          epochs,
          epochsSource,
          prices,
          tokensPerSecond,
          format,
          neededUntil,
          config: configName,
          maxSeqLen: config?.data.max_seq_len ?? null,
          trainingMethod: config?.training.method ?? null,
          batchSize: config?.training.batch_size ?? null,
          onProgress: progress.update,
          reader,
        });
      } finally {
        progress.stop();
      }
      if (options.json) printJson(estimate);
      else process.stdout.write(`${formatTrainingEstimate(estimate)}\n`);
      return 0;
    }),
  );
}
