import { Option, type Command } from "commander";
import { convertDataset, type ConvertReport } from "../../data/convert/convert-dataset.js";
import { CONVERT_FROM_FORMATS, CONVERT_TARGETS } from "../../data/convert/source-format.js";
import { action, printJson, refuseToOverwrite } from "../output.js";
import { TunekitError } from "../../core/errors.js";
import { addReaderOptions, readerOptions, type ReaderCommandOptions } from "../reader-options.js";

const PROBLEMS_SHOWN = 20;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerDataConvert(parent: Command): void {
  const command = parent.command("convert");
  addReaderOptions(command);
  command
    .description('convert csv, tsv, json, jsonl, parquet, Alpaca, ShareGPT or preference-pair data to chat JSONL ({"messages": [...]} a line) or preference JSONL')
    .argument("<in>", "source file")
    .argument("<out>", "JSONL file to write")
    .option("--from <format>", `source format: ${CONVERT_FROM_FORMATS.join(", ")} (default: the file type from the extension of IN, the layout detected from its first records)`)
    .option("--to <format>", `what to write: ${CONVERT_TARGETS.join(", ")} (default: preference for chosen/rejected pairs, else chat)`)
    .addOption(
      new Option(
        "--map <column=field>",
        "map a source column to a message field: user (or prompt), assistant (or completion), system, or a pair's chosen and rejected answers; repeat it, e.g. --map question=user --map answer=assistant",
      )
        .argParser(collect)
        .default([], "the columns named prompt or user, completion or assistant, system"),
    )
    .option("--system <text>", "system message for every example that has none")
    .option("--force", "replace OUT when it exists", false)
    .option("--max-problems <n>", "how many skipped rows to list in the report, 0 for every one (the count is always exact)", "1000")
    .option("--json", "print the report {written, skipped, problems, detected, to} as JSON", false)
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
  preference TRL's {prompt, chosen, rejected} (text or message lists; without prompt, the turns
             chosen and rejected share), LLaMA-Factory's {conversations | instruction+input,
             chosen, rejected}; written as {input: {messages}, preferred_output, non_preferred_output}
             (--to chat writes the prompt and the chosen answer instead)

Without --from or --map, the layout is detected from the first records (or the header) and named
on stderr: Alpaca, ShareGPT, preference pairs, chat (messages) or prompt/completion columns. Other
columns are refused at once (exit 2), naming the columns and the --map to write; no file is written.
A value holding U+FFFD (bytes that were not UTF-8) stops the conversion with its line: pass
--encoding or re-save the file as UTF-8.

Rows that cannot convert are skipped and listed with their line (or row), column and fix; when no
row converts, no output file is written.
Exit status: 0 all rows converted, 1 some rows skipped (or none converted), 2 usage or input error.`,
    )
    .action(
      action(
        async (
          input: string,
          output: string,
          options: { from?: string; to?: string; map: string[]; system?: string; force: boolean; maxProblems: string; json: boolean } & ReaderCommandOptions,
        ) => {
          const reader = readerOptions(options);
          const maxProblems = Number(options.maxProblems);
          if (!Number.isInteger(maxProblems) || maxProblems < 0) {
            throw new TunekitError(`\`--max-problems\` must be a whole number, 0 or more, got ${JSON.stringify(options.maxProblems)}`, {
              kind: "usage",
              code: "invalid_option",
              field: "--max-problems",
              fix: "pass e.g. --max-problems 100, or 0 to list every skipped row",
            });
          }
          refuseToOverwrite([output], options.force);
          const report = await convertDataset({
            input,
            output,
            from: options.from,
            to: options.to,
            map: options.map,
            system: options.system,
            reader,
            maxProblems: maxProblems === 0 ? Number.POSITIVE_INFINITY : maxProblems,
            onDetect: (layout, description) => {
              if (layout === "alpaca" || layout === "sharegpt" || layout === "preference") {
                process.stderr.write(
                  `detected ${description} in ${input}; converting them to ${options.to ?? (layout === "preference" ? "preference" : "chat")} JSONL (pass --from or --map to read them otherwise)\n`,
                );
              }
            },
          });
          if (options.json) printJson(report);
          else printReport(report);
          return report.skipped > 0 || report.written === 0 ? 1 : 0;
        },
      ),
    );
}

function printReport(report: ConvertReport): void {
  const total = report.problems.length + report.problems_omitted;
  const shown = report.problems.slice(0, PROBLEMS_SHOWN);
  for (const problem of shown) process.stderr.write(`  - ${problem.message}\n    fix: ${problem.fix}\n`);
  if (total > shown.length) {
    const listed = report.problems.length;
    process.stderr.write(
      `  … and ${total - shown.length} more problems (${report.problems_omitted > 0 ? `--json lists ${listed} of the ${total}; add --max-problems 0 to list every one` : "--json lists every one"})\n`,
    );
  }
  const source = `${report.from}${report.container !== report.from ? ` in ${report.container}` : ""}`;
  if (!report.output_written) {
    process.stderr.write(
      report.skipped > 0
        ? `error: none of the ${report.skipped} row${report.skipped === 1 ? "" : "s"} of ${report.input} converted (from ${source}); no file was written to ${report.output}\nfix: see the problems above\n`
        : `error: ${report.input} holds no records; no file was written to ${report.output}\n`,
    );
    return;
  }
  process.stdout.write(
    `wrote ${report.written} ${report.to === "preference" ? "preference pair" : "example"}${report.written === 1 ? "" : "s"} to ${report.output} (from ${source})` +
      (report.skipped > 0 ? `; skipped ${report.skipped} row${report.skipped === 1 ? "" : "s"} that could not convert\n` : "\n"),
  );
}
