import type { Command } from "commander";
import { TunekitError } from "../../core/errors.js";
import { splitDataset, splitOutputPathsFor, type SplitGrouping, type SplitReport } from "../../data/split/split-dataset.js";
import { action, printJson, refuseToOverwrite } from "../output.js";
import { addReaderOptions, readerOptions, type ReaderCommandOptions } from "../reader-options.js";

function fraction(flag: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed)) {
      throw new TunekitError(`\`${flag}\` must be a number; got \`${value}\``, { kind: "usage", code: "invalid_ratio", field: flag, fix: `pass e.g. ${flag} 0.1` });
    }
    return parsed;
  };
}

function wholeNumber(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed)) {
    throw new TunekitError(`\`--seed\` must be a whole number >= 0; got \`${value}\``, { kind: "usage", code: "invalid_seed", field: "--seed", fix: "pass e.g. --seed 42" });
  }
  return parsed;
}

export function registerDataSplit(parent: Command): void {
  const command = parent.command("split");
  addReaderOptions(command);
  command
    .description(
      "split a dataset into FILE.train/.validation/.test files (JSONL; a CSV or TSV into CSV or TSV files with the header): deterministic for a seed, no example in two splits",
    )
    .argument("<file>", "dataset file: JSONL, CSV, TSV, a JSON array or Parquet")
    .option("--validation <fraction>", "fraction of examples for validation (0 for none)", "0.1")
    .option("--test <fraction>", "fraction of examples for test (0 for none)", "0.1")
    .option("--seed <n>", "seed of the shuffle: the same seed and input give byte-identical files", "42")
    .option("--out-dir <dir>", "where to write the splits (default: the folder of FILE)")
    .option("--group-by <what>", "keep together examples with the same normalised whole `example` or, stricter, the same `prompt` (user side)", "example")
    .option("--force", "replace split files that exist", false)
    .option("--json", "print the report as JSON", false)
    .addHelpText(
      "after",
      `
Examples are grouped by a hash of their normalised text (lower case, whitespace collapsed), so
exact duplicates (and, with --group-by prompt, one question with two answers) land in one split.
Groups are ordered by their hash re-hashed with the seed and dealt to test, then validation, up to
round(examples * fraction) each; the rest is train. Two streaming passes: memory holds one small
entry per distinct group, not the examples. Lines keep their bytes and their input order.

A CSV or TSV is split as a table: each split file starts with the header row (and the BOM, when
the input has one) and holds whole records, byte for byte, quoted line breaks and commas included;
convert the splits with \`tunekit data convert\` and the same --map. A JSON array or Parquet file is
written as JSONL splits, one record a line. A line that is not UTF-8 stops the split (exit 2).`,
    )
    .action(
      action(
        async (
          file: string,
          options: { validation: string; test: string; seed: string; outDir?: string; groupBy: string; force: boolean; json: boolean } & ReaderCommandOptions,
        ) => {
          const reader = readerOptions(options);
          if (options.groupBy !== "prompt" && options.groupBy !== "example") {
            throw new TunekitError(`\`--group-by\` must be prompt or example; got \`${options.groupBy}\``, {
              kind: "usage",
              code: "invalid_group_by",
              field: "--group-by",
              fix: "pass --group-by example (default) or --group-by prompt",
            });
          }
          const validation = fraction("--validation")(options.validation);
          const test = fraction("--test")(options.test);
          const outputs = await splitOutputPathsFor(file, options.outDir, reader);
          refuseToOverwrite([outputs.train, ...(validation > 0 ? [outputs.validation] : []), ...(test > 0 ? [outputs.test] : [])], options.force);
          const report = await splitDataset({
            file,
            validation,
            test,
            seed: wholeNumber(options.seed),
            outDir: options.outDir,
            groupBy: options.groupBy as SplitGrouping,
            reader,
          });
          if (options.json) printJson(report);
          else printReport(report);
          return 0;
        },
      ),
    );
}

const WRITTEN_AS: Record<SplitReport["format"], string> = { jsonl: "JSONL", csv: "CSV", tsv: "TSV" };

function printReport(report: SplitReport): void {
  const noun = report.format === "jsonl" ? "examples" : "rows";
  const what =
    report.format !== "jsonl"
      ? `; each split is a ${WRITTEN_AS[report.format]} file with the header row of the input`
      : report.input_format !== "jsonl"
        ? `; the ${report.input_format === "json" ? "JSON array" : "Parquet"} records are written as JSONL, one a line`
        : "";
  const lines = [`split ${report.examples} ${noun} (${report.groups} distinct by ${report.group_by}) of ${report.input} with seed ${report.seed}${what}:`];
  for (const [name, split] of Object.entries(report.splits)) {
    if (split.file === null) continue;
    const share = report.examples > 0 ? ((100 * split.examples) / report.examples).toFixed(1) : "0.0";
    lines.push(`  ${name.padEnd(10)} ${String(split.examples).padStart(7)}  ${share.padStart(5)} %  ${split.file}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  for (const warning of report.warnings) process.stderr.write(`warning: ${warning}\n`);
}
