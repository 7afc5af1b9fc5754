import { createWriteStream, type WriteStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { once } from "node:events";
import { TunekitError } from "../../core/errors.js";
import { openRecords, recordFormatFromPath, sniffJsonContainer, type ReaderOptions, type RecordFileFormat, type SourceRecord } from "../read-records.js";
import type { ChatExample, PreferenceExample } from "../../spec/dataset.js";
import { isPairMapping, mappedColumns, parseColumnMapping, type ColumnMapping } from "./column-mapping.js";
import { convertMappedPair, convertPreferenceRecord, preferenceToChat } from "./convert-preference.js";
import { convertAlpacaRecord, convertMappedRecord, convertSharegptRecord, type FieldProblem } from "./convert-record.js";
import { LAYOUT_DESCRIPTIONS, detectLayout, suggestMap, type RecordLayout } from "./detect-layout.js";
import { CONVERT_FROM_FORMATS, CONVERT_TARGETS, isConvertFromFormat, sourceFormatFromPath, type ConvertFromFormat, type ConvertTarget } from "./source-format.js";

/**
 * `tunekit data convert`: streams a source file to chat JSONL (`{"messages": [...]}` a line) or
 * preference JSONL (`{"input", "preferred_output", "non_preferred_output"}`).
 * Without --map (and without --from alpaca|sharegpt|preference) the layout is detected from the
 * keys of the first records (or the header): Alpaca, ShareGPT, preference pairs, chat, or
 * prompt/completion columns; a file in none of them is refused in one error naming its columns
 * and the --map to write. Rows that cannot convert are skipped and reported with their row/line,
 * column and fix; the rest are written. The output appears whole or not at all (written to a
 * temporary name, then renamed); nothing is written when no row converts, or when a value holds
 * U+FFFD (bytes that were not UTF-8 upstream: the writer never passes it on silently).
 */
export interface ConvertDatasetOptions {
  input: string;
  output: string;
  /** source format; defaults from the input's extension */
  from?: string;
  /** what to write: chat or preference; default preference for pairs, else chat */
  to?: string;
  /** told the layout found when it was detected rather than given (the CLI says it on stderr) */
  onDetect?: (layout: RecordLayout, description: string) => void;
  /** `column=field` entries (csv, tsv, json, jsonl, parquet) */
  map?: readonly string[];
  /** system message for examples that have none */
  system?: string;
  /** --encoding, --json-key, --split, as every data command reads them */
  reader?: ReaderOptions;
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
  from: ConvertFromFormat;
  /** what was written: chat or preference JSONL */
  to: ConvertTarget;
  /** the layout found in the first records when no --from/--map said it (alpaca, sharegpt, preference, chat, columns), else null */
  detected: RecordLayout | null;
  /** false when nothing was written (no row converted): no output file is left behind */
  output_written: boolean;
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

const TABULAR: ReadonlySet<ConvertFromFormat> = new Set(["csv", "tsv", "json", "jsonl", "parquet"]);

/** records looked at to detect the layout */
const DETECT_RECORDS = 20;

type Converted = { example: ChatExample | PreferenceExample; problems?: undefined } | { example?: undefined; problems: FieldProblem[] };

export async function convertDataset(options: ConvertDatasetOptions): Promise<ConvertReport> {
  let from = resolveSourceFormat(options.input, options.from);
  // a `.json` file often holds JSON Lines: without an explicit --from, look before parsing it whole
  if (options.from === undefined && from === "json") from = await sniffJsonContainer(options.input, options.reader).catch(() => "json" as const);
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
  const container = await resolveContainer(options.input, from, options.reader ?? {});
  const reader = await openRecords(options.input, container, { ...options.reader, ...(mapping !== null && { columns: mappedColumns(mapping) }) });
  let records: AsyncIterable<SourceRecord> = reader.records;
  let detected: RecordLayout | null = null;
  if (mapping !== null) {
    if (reader.columns !== null) checkHeader(options.input, reader.columns, mapping);
  } else if (TABULAR.has(from)) {
    const peeked = await peek(reader.records, DETECT_RECORDS);
    records = peeked.records;
    const samples = reader.columns !== null ? [reader.columns] : peeked.objects.map((object) => Object.keys(object));
    detected = detectLayout(samples);
    if (detected === null && samples.length > 0) throw unknownLayout(options.input, options.output, samples);
    if (detected === "alpaca" || detected === "sharegpt" || detected === "preference") from = detected;
  }
  const pairs = from === "preference" || isPairMapping(mapping);
  const to = resolveTarget(options.to, pairs, detected ?? from);
  if (detected !== null) options.onDetect?.(detected, LAYOUT_DESCRIPTIONS[detected]);

  const system = { system: options.system };
  const convertSource: (value: unknown) => Converted =
    from === "alpaca"
      ? (value) => convertAlpacaRecord(value, system)
      : from === "sharegpt"
        ? (value) => convertSharegptRecord(value, system)
        : from === "preference"
          ? (value) => convertPreferenceRecord(value, system)
          : mapping !== null && isPairMapping(mapping)
            ? (value) => convertMappedPair(value, mapping, system)
            : (value) => convertMappedRecord(value, mapping, system);
  const convert = (value: unknown): Converted => {
    const result = convertSource(value);
    if (result.example === undefined || to === "preference" || !pairs) return result;
    return { example: preferenceToChat(result.example as PreferenceExample) };
  };

  const maxProblems = options.maxProblems ?? 1000;
  const report: ConvertReport = {
    input: options.input,
    output: options.output,
    from,
    to,
    detected,
    output_written: false,
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
    for await (const record of records) {
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
      const line = JSON.stringify(result.example);
      if (line.includes(REPLACEMENT)) throw replacementCharacter(options.input, record, where);
      await write(stream, `${line}\n`);
      report.written += 1;
    }
    stream.end();
    await once(stream, "finish");
    if (report.written > 0) {
      await rename(temporary, options.output);
      report.output_written = true;
    } else {
      await rm(temporary, { force: true });
    }
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

function resolveSourceFormat(input: string, from: string | undefined): ConvertFromFormat {
  if (from !== undefined) {
    const normalised = from.toLowerCase();
    if (!isConvertFromFormat(normalised)) {
      throw new TunekitError(`\`--from ${from}\` is not a format Tunekit converts`, {
        kind: "usage",
        code: "unknown_format",
        field: "--from",
        fix: `use one of ${CONVERT_FROM_FORMATS.join(", ")}`,
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
      fix: `pass --from (${CONVERT_FROM_FORMATS.join(", ")})`,
    });
  }
  return implied;
}

async function resolveContainer(input: string, from: ConvertFromFormat, reader: ReaderOptions): Promise<RecordFileFormat> {
  if (TABULAR.has(from)) return from as RecordFileFormat;
  const byExtension = recordFormatFromPath(input);
  if (byExtension === null || byExtension === "json") return sniffJsonContainer(input, reader);
  return byExtension;
}

/** A CSV header or Parquet schema that lacks a mapped column fails every row: say so once (exit 2). */
function checkHeader(input: string, columns: readonly string[], mapping: ColumnMapping): void {
  const available = columns.length > 0 ? columns.map((column) => `\`${column}\``).join(", ") : "none";
  const missing = mappedColumns(mapping).filter((column) => !columns.includes(column));
  if (missing.length === 0) return;
  throw new TunekitError(`\`--map\` names ${missing.map((column) => `\`${column}\``).join(", ")}, not in the columns of \`${input}\``, {
    kind: "usage",
    code: "unknown_column",
    field: "--map",
    fix: `map columns the file has: ${available}`,
  });
}

/** The first records, kept, and the iterable that yields them again followed by the rest. */
async function peek(source: AsyncIterable<SourceRecord>, count: number): Promise<{ objects: Record<string, unknown>[]; records: AsyncIterable<SourceRecord> }> {
  const iterator = source[Symbol.asyncIterator]();
  const buffered: SourceRecord[] = [];
  const objects: Record<string, unknown>[] = [];
  let done = false;
  while (objects.length < count) {
    const next = await iterator.next();
    if (next.done) {
      done = true;
      break;
    }
    buffered.push(next.value);
    const value = next.value.value;
    if (value !== null && typeof value === "object" && !Array.isArray(value)) objects.push(value as Record<string, unknown>);
  }
  async function* records(): AsyncGenerator<SourceRecord> {
    yield* buffered;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { objects, records: records() };
}

/** No mapping and no known layout: one error for the file, naming its columns and the --map to write. */
function unknownLayout(input: string, output: string, samples: readonly (readonly string[])[]): TunekitError {
  const columns = [...new Set(samples.flat())];
  const shown =
    columns
      .slice(0, 12)
      .map((column) => `\`${column}\``)
      .join(", ") + (columns.length > 12 ? `, … (${columns.length} in all)` : "");
  const map = suggestMap(columns);
  return new TunekitError(`\`${input}\` is in no layout Tunekit knows (columns: ${shown}): say which columns feed the messages with ${map}`, {
    kind: "usage",
    code: "unmapped_field",
    field: "--map",
    file: input,
    fix: `tunekit data convert ${input} ${output} ${map} (fields: user, assistant, system; chosen and rejected for preference pairs); known layouts without --map: Alpaca, ShareGPT, prompt/chosen/rejected, prompt/completion, messages`,
  });
}

function resolveTarget(to: string | undefined, pairs: boolean, layout: string): ConvertTarget {
  if (to === undefined) return pairs ? "preference" : "chat";
  const normalised = to.toLowerCase();
  if (!(CONVERT_TARGETS as readonly string[]).includes(normalised)) {
    throw new TunekitError(`\`--to ${to}\` is not a format Tunekit writes`, {
      kind: "usage",
      code: "unknown_target",
      field: "--to",
      fix: `use one of ${CONVERT_TARGETS.join(", ")}`,
    });
  }
  if (normalised === "preference" && !pairs) {
    throw new TunekitError(`\`--to preference\` needs two answers a row, chosen and rejected; these ${layout} records have one`, {
      kind: "usage",
      code: "no_preference_pairs",
      field: "--to",
      fix: "convert to chat (drop --to), or map a table's two answers: --map question=user --map good=chosen --map bad=rejected",
    });
  }
  return normalised as ConvertTarget;
}

const REPLACEMENT = "\uFFFD";

/** U+FFFD in a value to write: the bytes upstream were not UTF-8 (a Windows-1252 or Latin-1 export, most often). */
function replacementCharacter(input: string, record: SourceRecord, where: string): TunekitError {
  const value = record.value;
  let column: string | undefined;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    column = Object.keys(value).find((key) => JSON.stringify((value as Record<string, unknown>)[key] ?? "").includes(REPLACEMENT));
  }
  return new TunekitError(
    `\`${input}\` ${where}${column !== undefined ? `, column \`${column}\`` : ""}: holds U+FFFD (\uFFFD), the mark of bytes that are not UTF-8; the file is probably Windows-1252 or Latin-1, and writing it would turn "Café" into "Caf\uFFFD"; nothing was written`,
    {
      kind: "usage",
      code: "replacement_character",
      file: input,
      ...(record.line !== undefined && { line: record.line }),
      ...(column !== undefined && { field: column }),
      fix: "pass --encoding windows-1252 (or --encoding latin1) to read it in its real encoding, or re-save the file as UTF-8",
    },
  );
}
