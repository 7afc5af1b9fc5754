import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { TunekitError } from "../../core/errors.js";
import { DATASET_FORMATS, type DatasetFormat } from "../../spec/dataset.js";
import { noUsableExamples } from "../../data/stats/no-usable-examples.js";
import { CountProgress } from "../count-progress.js";
import { action, printJson, repeatable } from "../output.js";
import { addReaderOptions, readerOptions, type ReaderCommandOptions } from "../reader-options.js";

export function parseFormatOption(value: string | undefined): DatasetFormat | "auto" {
  if (value === undefined || value === "auto") return "auto";
  if ((DATASET_FORMATS as readonly string[]).includes(value)) return value as DatasetFormat;
  throw new TunekitError(`\`--format\` must be auto, ${DATASET_FORMATS.join(", ")}; got \`${value}\``, {
    kind: "usage",
    code: "invalid_format",
    field: "--format",
    fix: `Pass --format ${DATASET_FORMATS.join("|")}, or leave it out to detect the format of each line.`,
  });
}

export async function readChatTemplateOption(file: string | undefined): Promise<string | null> {
  if (file === undefined) return null;
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new TunekitError(`Cannot read the chat template \`${file}\``, {
      kind: "usage",
      code: "file_not_found",
      field: "--chat-template",
      fix: "Pass a file holding a Jinja chat template.",
      cause: error,
    });
  }
}

export function registerDataStats(parent: Command): void {
  const command = parent
    .command("stats")
    .description("token statistics of a dataset for a model: examples, messages, tokens, trained tokens, a histogram")
    .argument("<file>", "dataset file: JSONL, JSON array, CSV/TSV or Parquet")
    .requiredOption("-m, --model <model>", "OpenAI model name, .gguf file, or model folder with tokenizer.json")
    .option("--format <format>", `dataset format: auto, ${DATASET_FORMATS.join(", ")}`, "auto")
    .option("--chat-template <file>", "Jinja chat template overriding the model's own")
    .option("--json", "print the statistics as JSON", false)
    .option("--map <column=field>", "map a column to a message field (user, assistant, system), as `data convert` does; repeatable", repeatable, []);
  addReaderOptions(command).action(
    action(async (file: string, options: ReaderCommandOptions & { model: string; format: string; chatTemplate?: string; json: boolean; map: string[] }) => {
      const reader = { ...readerOptions(options), map: options.map };
      const format = parseFormatOption(options.format);
      // tokenizers load on use: `tunekit --help` and the other commands stay light
      const [{ computeDatasetStats, formatDatasetStats }, { loadTokenCounter }] = await Promise.all([
        import("../../data/stats/dataset-stats.js"),
        import("../../data/tokens/load-token-counter.js"),
      ]);
      const counter = await loadTokenCounter(options.model, { chatTemplate: await readChatTemplateOption(options.chatTemplate) });
      const { defaultPriceTable, unknownHostedModelWarning } = await import("../../data/estimate/price-table.js");
      const unknownModel = unknownHostedModelWarning(defaultPriceTable(), options.model);
      if (unknownModel) process.stderr.write(`warning: ${unknownModel}\n`);
      const progress = new CountProgress("data stats: counting tokens");
      let stats;
      try {
        stats = await computeDatasetStats(file, counter, { model: options.model, format, onProgress: progress.update, reader });
      } finally {
        progress.stop();
      }
      if (stats.examples === 0) throw noUsableExamples(file, stats.skipped);
      if (options.json) printJson(stats);
      else process.stdout.write(`${formatDatasetStats(stats)}\n`);
      return 0;
    }),
  );
}
