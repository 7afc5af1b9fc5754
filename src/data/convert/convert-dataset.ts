import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { once } from "node:events";
import { TunekitError } from "../../core/errors.js";
import { openRecords, recordFormatFromPath, sniffJsonContainer, type RecordFileFormat } from "../read-records.js";
import { DEFAULT_COLUMNS, mappedColumns, parseColumnMapping, type ColumnMapping } from "./column-mapping.js";
import { convertAlpacaRecord, convertMappedRecord, convertSharegptRecord, type RecordConversion } from "./convert-record.js";
import { CONVERT_SOURCE_FORMATS, isConvertSourceFormat, sourceFormatFromPath, type ConvertSourceFormat } from "./source-format.js";

/**
 * `tunekit data convert`: streams a source file to chat JSONL (`{"messages": [...]}` a line).
 * Rows that cannot convert are skipped and reported with their row/line, column and fix; the rest
 * are written. The output appears whole or not at all (written to a temporary name, then renamed).
 */
export interface ConvertDatasetOptions {
  input: string;
  output: string;
  /** source format; defaults from the input's extension */
  from?: string;
  /** `column=field` entries (csv, tsv, json, jsonl, parquet) */
  map?: readonly string[];
  /** system message for examples that have none */
  system?: string;
  /** problems kept in the report (the count is always exact); default 1000 */
  maxProblems?: number;
}

export interface ConversionProblem {
  /** 1-based record number (data rows; a CSV header is not a row) */
  row: number;
  /** 1-based line where the record starts (CSV, TSV, JSONL) */
  line?: number;
  column?: string;
  field?: string;
  code: string;
  message: string;
  fix: string;
}

export interface ConvertReport {
  input: string;
  output: string;
  from: ConvertSourceFormat;
  /** how the file was read (alpaca and sharegpt live in json, jsonl, csv or parquet files) */
  container: RecordFileFormat;
  /** the --map mapping, or null when the default column names were used */
  mapping: ColumnMapping | null;
  written: number;
  skipped: number;
  problems: ConversionProblem[];
  /** problems found but left out of `problems` to keep the report bounded */
  problems_omitted: number;
}

const TABULAR: ReadonlySet<ConvertSourceFormat> = new Set(["csv", "tsv", "json", "jsonl", "parquet"]);

export async function convertDataset(options: ConvertDatasetOptions): Promise<ConvertReport> {
  let from = resolveSourceFormat(options.input, options.from);
  // a `.json` file often holds JSON Lines: without an explicit --from, look before parsing it whole
  if (options.from === undefined && from === "json") from = await sniffJsonContainer(options.input).catch(() => "json" as const);
  const mapping = parseColumnMapping(options.map ?? []);
  if (mapping !== null && !TABULAR.has(from)) {
    throw new TunekitError(`\`--map\` does not apply to --from ${from}: ${from} records name their own roles`, {
      kind: "usage",
      code: "map_not_applicable",
      field: "--map",
      fix: `drop --map, or convert with --from ${recordFormatFromPath(options.input) ?? "jsonl"} and map the columns`,
    });
  }
  if (resolve(options.input) === resolve(options.output)) {
    throw new TunekitError("the output file is the input file", {
      kind: "usage",
      code: "output_is_input",
      field: "OUT",
      fix: "write the chat JSONL to another path",
    });
  }
  const container = await resolveContainer(options.input, from);
  const reader = await openRecords(options.input, container, mapping === null ? {} : { columns: mappedColumns(mapping) });
  if (reader.columns !== null && TABULAR.has(from)) checkHeader(options.input, reader.columns, mapping);

  const convert: (value: unknown) => RecordConversion =
    from === "alpaca"
      ? (value) => convertAlpacaRecord(value, { system: options.system })
      : from === "sharegpt"
        ? (value) => convertSharegptRecord(value, { system: options.system })
        : (value) => convertMappedRecord(value, mapping, { system: options.system });

  const maxProblems = options.maxProblems ?? 1000;
  const report: ConvertReport = {
    input: options.input,
    output: options.output,
    from,
    container,
    mapping,
    written: 0,
    skipped: 0,
    problems: [],
    problems_omitted: 0,
  };
  const addProblem = (problem: ConversionProblem): void => {
    if (report.problems.length < maxProblems) report.problems.push(problem);
    else report.problems_omitted += 1;
  };

  await mkdir(dirname(resolve(options.output)), { recursive: true });
  const temporary = `${options.output}.partial-${process.pid}`;
  const stream = createWriteStream(temporary);
  try {
    for await (const record of reader.records) {
      const where = record.line !== undefined ? `line ${record.line}` : `row ${record.row}`;
      const position = { row: record.row, ...(record.line !== undefined && { line: record.line }) };
      if (record.problem !== undefined) {
        report.skipped += 1;
        addProblem({ ...position, code: record.problem.code, message: record.problem.message, fix: record.problem.fix });
        continue;
      }
      const result = convert(record.value);
      if (result.problems !== undefined) {
        report.skipped += 1;
        for (const problem of result.problems) {
          addProblem({
            ...position,
            ...(problem.column !== undefined && { column: problem.column }),
            ...(problem.field !== undefined && { field: problem.field }),
            code: problem.code,
            message: `${where}: ${problem.message}`,
            fix: problem.fix,
          });
        }
        continue;
      }
      await write(stream, `${JSON.stringify(result.example)}\n`);
      report.written += 1;
    }
    stream.end();
    await once(stream, "finish");
    await rename(temporary, options.output);
  } catch (error) {
    stream.destroy();
    await rm(temporary, { force: true });
    throw error;
  }
  return report;
}

async function write(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, "drain");
}

function resolveSourceFormat(input: string, from: string | undefined): ConvertSourceFormat {
  if (from !== undefined) {
    const normalised = from.toLowerCase();
    if (!isConvertSourceFormat(normalised)) {
      throw new TunekitError(`\`--from ${from}\` is not a format Tunekit converts`, {
        kind: "usage",
        code: "unknown_format",
        field: "--from",
        fix: `use one of ${CONVERT_SOURCE_FORMATS.join(", ")}`,
      });
    }
    return normalised;
  }
  const implied = sourceFormatFromPath(input);
  if (implied === null) {
    throw new TunekitError(`cannot tell the format of \`${input}\` from its extension`, {
      kind: "usage",
      code: "unknown_format",
      field: "--from",
      fix: `pass --from (${CONVERT_SOURCE_FORMATS.join(", ")})`,
    });
  }
  return implied;
}

async function resolveContainer(input: string, from: ConvertSourceFormat): Promise<RecordFileFormat> {
  if (TABULAR.has(from)) return from as RecordFileFormat;
  const byExtension = recordFormatFromPath(input);
  if (byExtension === null || byExtension === "json") return sniffJsonContainer(input);
  return byExtension;
}

/** A CSV header or Parquet schema that lacks a mapped column fails every row: say so once (exit 2). */
function checkHeader(input: string, columns: readonly string[], mapping: ColumnMapping | null): void {
  const available = columns.length > 0 ? columns.map((column) => `\`${column}\``).join(", ") : "none";
  if (mapping !== null) {
    const missing = mappedColumns(mapping).filter((column) => !columns.includes(column));
    if (missing.length === 0) return;
    throw new TunekitError(`\`--map\` names ${missing.map((column) => `\`${column}\``).join(", ")}, not in the columns of \`${input}\``, {
      kind: "usage",
      code: "unknown_column",
      field: "--map",
      fix: `map columns the file has: ${available}`,
    });
  }
  if (columns.includes("messages")) return;
  const missing = (["user", "assistant"] as const).filter((field) => !DEFAULT_COLUMNS[field].some((name) => columns.includes(name)));
  if (missing.length === 0) return;
  const alpaca = columns.includes("instruction") && columns.includes("output") ? "; this looks like Alpaca data: use --from alpaca" : "";
  throw new TunekitError(
    `\`${input}\` has no column for the ${missing.join(" and ")} message${missing.length > 1 ? "s" : ""} (columns: ${available})${alpaca}`,
    {
      kind: "usage",
      code: "unmapped_field",
      field: "--map",
      fix: `say which columns to use, e.g. --map ${columns[0] ?? "question"}=user --map ${columns[1] ?? "answer"}=assistant`,
    },
  );
}
