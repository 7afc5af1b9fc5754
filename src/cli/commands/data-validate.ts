import type { Command } from "commander";
import { TunekitError } from "../../core/errors.js";
import { PROBLEM_CODES, type ProblemCode, type ValidationProblem } from "../../data/validate/problem-codes.js";
import { ProblemSpill } from "../../data/validate/problem-spill.js";
import { validateFile, type ValidationReport } from "../../data/validate/validate-file.js";
import type { FileStats } from "../../data/validate/validation-state.js";
import type { DatasetFormat } from "../../spec/dataset.js";
import { action, repeatable } from "../output.js";
import { addReaderOptions, readerOptions, type ReaderCommandOptions } from "../reader-options.js";

interface ValidateCommandOptions extends ReaderCommandOptions {
  format: string;
  map: string[];
  model?: string;
  validationFile?: string;
  threads?: string;
  json?: boolean;
}

export function registerDataValidate(parent: Command): void {
  const command = parent
    .command("validate")
    .description("check a dataset example by example (OpenAI cookbook checks and more); exit 1 when it has errors")
    .argument("<file>", "dataset file or folder: JSONL (streamed: any size), CSV, TSV, JSON, Parquet, Arrow, gzip/zstd of them, a save_to_disk or split-files folder")
    .option("--format <format>", "auto | chat | prompt-completion | preference | text", "auto")
    .option(
      "--map <column=field>",
      "map a column to a message field (user/prompt, assistant/completion, system), as `data convert` does; repeat it, e.g. --map question=user --map answer=assistant",
      repeatable,
      [],
    )
    .option("--model <model>", "count tokens and check the context length with this model (OpenAI name, HF folder or .gguf)")
    .option("--validation-file <file>", "validate this file too and report prompts it shares with FILE")
    .option("--threads <n>", "worker threads (default: 2 for files over 8 MiB)")
    .option("--json", "print the report as JSON, with every problem (the text report lists the first of each code)");
  addReaderOptions(command)
    .addHelpText(
      "after",
      `
Problems carry the line of the source file (a CSV's own line numbers with --map; a record number
for JSON arrays, Parquet and Arrow). A table with no --map whose rows are no dataset format is
refused in one line (exit 2). The text report lists every error line up to a bound and shows each
warning kind once, with its count and first lines; --json lists every problem.

Exit status: 0 no errors, 1 errors found, 2 usage or input error.`,
    )
    .action(
      action(async (file: string, options: ValidateCommandOptions) => {
        if (options.threads !== undefined && !/^\d+$/.test(options.threads)) {
          throw new TunekitError(`\`--threads\` must be a whole number, got ${JSON.stringify(options.threads)}`, {
            kind: "usage",
            field: "--threads",
            fix: "pass e.g. --threads 2, or 0 to validate on the main thread",
          });
        }
        // --json lists every problem: they are spilled to disk as they are found (memory stays bounded)
        const spill = options.json ? new ProblemSpill() : null;
        try {
          const report = await validateFile(file, {
            format: options.format as DatasetFormat | "auto",
            anyFormat: true,
            reader: readerOptions(options),
            map: options.map,
            model: options.model,
            validationFile: options.validationFile,
            threads: options.threads === undefined ? undefined : Number(options.threads),
            onProblem: spill?.add,
          });
          if (spill) await spill.writeReport(report, process.stdout);
          else process.stdout.write(formatReport(report));
          return report.ok ? 0 : 1;
        } finally {
          spill?.remove();
        }
      }),
    );
}

const SHOWN_PER_CODE = 3;
const LINES_LISTED_PER_CODE = 10;

/** Human rendering: problems grouped by code with counts and their first lines, then a summary. */
export function formatReport(report: ValidationReport): string {
  const out: string[] = [];
  const files = report.stats.validation ? [report.stats, report.stats.validation] : [report.stats];
  for (const stats of files) out.push(describeFile(stats));
  out.push("");
  const sections: Array<[string, ValidationProblem[]]> = [
    ["errors", report.errors],
    ["warnings", report.warnings],
  ];
  for (const [title, problems] of sections) {
    if (problems.length === 0) continue;
    out.push(`${title}:`);
    for (const [group, groupProblems] of groupByCode(problems)) {
      const [code, file] = group.split("\u0000") as [ProblemCode, string];
      const stats = file ? report.stats.validation : report.stats;
      const count = stats?.codes[code] ?? groupProblems.length;
      if (title === "warnings" && count > 1) {
        // one line per warning kind: 26 missing_system_message lines would drown the warnings that matter
        out.push(`  ${code} (${count}x) ${PROBLEM_CODES[code].title}${file ? ` [in ${file}]` : ""}: ${linesOf(groupProblems, count)}`);
        out.push(`    fix: ${PROBLEM_CODES[code].fix}`);
        continue;
      }
      out.push(`  ${code} (${count}x) ${PROBLEM_CODES[code].title}${file ? ` [in ${file}]` : ""}`);
      for (const problem of groupProblems.slice(0, SHOWN_PER_CODE)) {
        out.push(`    ${problem.line === null ? "file" : `line ${problem.line}`}: ${problem.message}`);
      }
      const rest = groupProblems.slice(SHOWN_PER_CODE, SHOWN_PER_CODE + LINES_LISTED_PER_CODE).map((problem) => problem.line);
      if (count > SHOWN_PER_CODE) {
        const more = count - SHOWN_PER_CODE - rest.length;
        out.push(`    also line${rest.length === 1 ? "" : "s"} ${rest.join(", ")}${more > 0 ? ` and ${more} more (\`--json\` lists every one)` : ""}`);
      }
    }
    out.push("");
  }
  for (const stats of files) {
    const tokens = stats.tokens;
    if (tokens) {
      out.push(
        `tokens (${tokens.method})${files.length > 1 ? ` in ${stats.file}` : ""}: ${formatNumber(tokens.total)} total, ${formatNumber(tokens.trained)} trained, ` +
          `mean ${tokens.mean}, max ${formatNumber(tokens.max)} per example; ${tokens.over_context_length} over the context of ${tokens.context_length ?? "unknown"}`,
      );
    }
  }
  const stats = report.stats;
  out.push(`duplicates: ${stats.duplicates.exact} exact, ${stats.duplicates.near} near (${stats.duplicates.near_method})`);
  if (stats.validation_overlap !== undefined) out.push(`prompts shared with the validation file: ${stats.validation_overlap}`);
  const errors = stats.errors + (stats.validation?.errors ?? 0);
  const warnings = stats.warnings + (stats.validation?.warnings ?? 0);
  out.push(
    report.ok
      ? `OK: no errors${warnings > 0 ? `, ${warnings} warning${warnings === 1 ? "" : "s"} worth a look` : ""}`
      : `FAILED: ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}; fix the errors above and run again`,
  );
  return `${out.join("\n")}\n`;
}

function describeFile(stats: FileStats): string {
  return (
    `${stats.file}: ${stats.format ?? "unknown"} format (${stats.format_source}), ${formatNumber(stats.lines)} lines, ` +
    `${formatNumber(stats.examples)} examples (${formatNumber(stats.valid_examples)} valid), ${stats.blank_lines} blank, ${formatBytes(stats.bytes)}`
  );
}

const WARNING_LINES_LISTED = 5;

/** "lines 1, 2, 3, 4, 5 and 21 more (`--json` lists every one)" */
function linesOf(problems: ValidationProblem[], count: number): string {
  const lines = problems
    .filter((problem) => problem.line !== null)
    .slice(0, WARNING_LINES_LISTED)
    .map((problem) => problem.line);
  const files = problems.length - problems.filter((problem) => problem.line !== null).length;
  const more = count - lines.length - files;
  const listed = lines.length === 0 ? "the whole file" : `line${lines.length === 1 ? "" : "s"} ${lines.join(", ")}`;
  return `${listed}${more > 0 ? ` and ${more} more (\`--json\` lists every one)` : ""}`;
}

function groupByCode(problems: ValidationProblem[]): Map<string, ValidationProblem[]> {
  const groups = new Map<string, ValidationProblem[]>();
  for (const problem of problems) {
    const key = `${problem.code}\u0000${problem.file ?? ""}`;
    const group = groups.get(key);
    if (group) group.push(problem);
    else groups.set(key, [problem]);
  }
  return groups;
}

function formatNumber(value: number): string {
  return value.toLocaleString("en-US");
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
