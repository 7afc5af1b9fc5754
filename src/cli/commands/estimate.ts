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

/** A YYYY-MM-DD option (the price table's lifecycle dates are UTC days). */
export function parseDayOption(value: string | undefined, flag: string): string | null {
  if (value === undefined) return null;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || Number.isNaN(Date.parse(`${value}T00:00:00Z`))) {
    throw new TunekitError(`\`${flag}\` must be a day as YYYY-MM-DD, got \`${value}\``, { kind: "usage", code: "invalid_date", field: flag, fix: `pass e.g. ${flag} 2027-06-30` });
  }
  return value;
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
    .option("--needed-until <date>", "warn when the model (and its fine-tunes) stops answering before this day, YYYY-MM-DD")
    .option("--json", "print the estimate as JSON", false)
    .action(
      action(
        async (
          file: string,
          options: { model: string; epochs: string; prices?: string; tokensPerSecond?: string; format: string; chatTemplate?: string; neededUntil?: string; json: boolean },
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
          const neededUntil = parseDayOption(options.neededUntil, "--needed-until");
          const estimate = await estimateTraining({ file, model: options.model, counter, epochs, prices, tokensPerSecond, format, neededUntil });
          if (options.json) printJson(estimate);
          else process.stdout.write(`${formatTrainingEstimate(estimate)}\n`);
          return 0;
        },
      ),
    );
}
