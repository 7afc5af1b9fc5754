import type { Command } from "commander";
import { TunekitError } from "../../core/errors.js";
import { loadPriceTable } from "../../data/estimate/price-table.js";
import { parseEpochsOption } from "../../data/estimate/resolve-epochs.js";
import { action, printJson } from "../output.js";
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

export function registerEstimate(program: Command): void {
  program
    .command("estimate")
    .description("epochs, billed tokens and price of fine-tuning on a dataset (hosted models), or tokens and time (local models)")
    .argument("<file>", "training file: JSONL, JSON array, CSV/TSV or Parquet")
    .requiredOption("-m, --model <model>", "OpenAI model name, .gguf file, or model folder with tokenizer.json")
    .option("--epochs <epochs>", "auto (the cookbook rule) or a whole number", "auto")
    .option("--prices <file>", "price table JSON overriding the shipped one (same shape as src/data/prices.json)")
    .option("--tokens-per-second <n>", "measured local training throughput, for a time estimate")
    .option("--format <format>", "dataset format: auto, chat, prompt-completion, preference, text", "auto")
    .option("--chat-template <file>", "Jinja chat template overriding the model's own")
    .option("--json", "print the estimate as JSON", false)
    .action(
      action(
        async (
          file: string,
          options: { model: string; epochs: string; prices?: string; tokensPerSecond?: string; format: string; chatTemplate?: string; json: boolean },
        ) => {
          const epochs = parseEpochsOption(options.epochs);
          const tokensPerSecond = parseTokensPerSecond(options.tokensPerSecond);
          const format = parseFormatOption(options.format);
          const prices = await loadPriceTable(options.prices);
          const [{ estimateTraining, formatTrainingEstimate }, { loadTokenCounter }] = await Promise.all([
            import("../../data/estimate/estimate-training.js"),
            import("../../data/tokens/load-token-counter.js"),
          ]);
          const counter = await loadTokenCounter(options.model, { chatTemplate: await readChatTemplateOption(options.chatTemplate) });
          const estimate = await estimateTraining({ file, model: options.model, counter, epochs, prices, tokensPerSecond, format });
          if (options.json) printJson(estimate);
          else process.stdout.write(`${formatTrainingEstimate(estimate)}\n`);
          return 0;
        },
      ),
    );
}
