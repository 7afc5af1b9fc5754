import { Option, type Command } from "commander";
import { convertDataset, type ConvertReport } from "../../data/convert/convert-dataset.js";
import { CONVERT_SOURCE_FORMATS } from "../../data/convert/source-format.js";
import { action, printJson, refuseToOverwrite } from "../output.js";

const PROBLEMS_SHOWN = 20;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerDataConvert(parent: Command): void {
  parent
    .command("convert")
    .description("convert csv, tsv, json, jsonl, parquet, Alpaca or ShareGPT data to chat JSONL ({\"messages\": [...]} a line)")
    .argument("<in>", "source file")
    .argument("<out>", "chat JSONL file to write")
    .option("--from <format>", `source format: ${CONVERT_SOURCE_FORMATS.join(", ")} (default: from the extension of IN)`)
    .addOption(
      new Option(
        "--map <column=field>",
        "map a source column to a message field: user (or prompt), assistant (or completion), system; repeat it, e.g. --map question=user --map answer=assistant",
      )
        .argParser(collect)
        .default([], "the columns named prompt or user, completion or assistant, system"),
    )
    .option("--system <text>", "system message for every example that has none")
    .option("--force", "replace OUT when it exists", false)
    .option("--json", "print the report {written, skipped, problems} as JSON", false)
    .addHelpText(
      "after",
      `
Reading:
  csv, tsv   streamed (csv-parse); the first row is the header
  jsonl      streamed, one JSON object a line
  json       one top-level array of objects, parsed whole (JSON has no record boundaries to stream on);
             without --from, a .json file holding one object per line is read as jsonl
  parquet    one row group at a time (hyparquet), only the mapped columns
  alpaca     {instruction, input, output[, system, history]} records in a .json array or .jsonl
             (or csv/parquet); the user message is the instruction, a blank line, then the input
             (when not empty): the order of the Alpaca template's Instruction and Input sections
  sharegpt   {conversations: [{from, value}]} records; from human/user -> user, gpt/assistant -> assistant,
             system -> system, tool/observation -> tool

Rows that cannot convert are skipped and listed with their line (or row), column and fix.
Exit status: 0 all rows converted, 1 some rows skipped, 2 usage error.`,
    )
    .action(
      action(async (input: string, output: string, options: { from?: string; map: string[]; system?: string; force: boolean; json: boolean }) => {
        refuseToOverwrite([output], options.force);
        const report = await convertDataset({ input, output, from: options.from, map: options.map, system: options.system });
        if (options.json) printJson(report);
        else printReport(report);
        return report.skipped > 0 ? 1 : 0;
      }),
    );
}

function printReport(report: ConvertReport): void {
  const total = report.problems.length + report.problems_omitted;
  const shown = report.problems.slice(0, PROBLEMS_SHOWN);
  for (const problem of shown) process.stderr.write(`  - ${problem.message}\n    fix: ${problem.fix}\n`);
  if (total > shown.length) process.stderr.write(`  … and ${total - shown.length} more problems (use --json for the list)\n`);
  process.stdout.write(
    `wrote ${report.written} example${report.written === 1 ? "" : "s"} to ${report.output} (from ${report.from}${report.container !== report.from ? ` in ${report.container}` : ""})` +
      (report.skipped > 0 ? `; skipped ${report.skipped} row${report.skipped === 1 ? "" : "s"} that could not convert\n` : "\n"),
  );
}
